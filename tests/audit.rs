//! The audit API over real TLS on the audit listener (no client certificate, bearer JWT):
//! every way a token is refused, tenant isolation on every endpoint and filter, stable paging
//! while records are written, the inzage in JSON, CSV and printable HTML with the legal basis
//! of the register version each record names, stats that add up to the records, anomaly
//! signals, log verification, the NDJSON export, and an audit record for every audit query.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::audit::token::{Claims, DevIssuer, Role, DEV_ISSUER};
use doelpoort::disclosure::{DisclosureLog, Keys, Record, Status};
use doelpoort::domain::{Bsn, Oin};
use doelpoort::storage::schema::disclosure_records::dsl as r;
use serde_json::{json, Value};

const ACT: &str = "x-processing-activity";
const AMSTERDAM: &str = "99000000000103630000";
const ROTTERDAM: &str = "99000000000105990000";
const RVIG: &str = "99000000000000000001";
const AP: &str = "99000000000000000005";
const AUDIENCE: &str = "doelpoort-audit";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.datasets.seed_persons = 3_000).await
}

fn dev(app: &TestApp) -> DevIssuer {
    DevIssuer::load(&app.settings.disclosure.keys_dir, false).unwrap()
}

fn token(app: &TestApp, oin: &str, role: Role) -> String {
    dev(app)
        .issue(&Oin::parse(oin).unwrap(), role, 10, AUDIENCE)
        .unwrap()
}

fn officer(app: &TestApp, oin: &str) -> String {
    token(app, oin, Role::PrivacyOfficer)
}

fn supervisor(app: &TestApp) -> String {
    token(app, AP, Role::Supervisor)
}

fn now_s() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

fn claims(oin: &str, role: &str) -> Claims {
    let now = now_s();
    Claims {
        iss: DEV_ISSUER.into(),
        sub: Some("test".into()),
        aud: AUDIENCE.into(),
        exp: now + 300,
        nbf: Some(now),
        iat: Some(now),
        oin: oin.into(),
        role: role.into(),
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    accept: Option<&str>,
) -> Answer {
    let mut req = app.anonymous_client().request(method, app.audit_url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let res = req.send().await.unwrap();
    Answer {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        text: res.text().await.unwrap(),
    }
}

async fn get(app: &TestApp, path: &str, token: &str) -> Answer {
    call(app, reqwest::Method::GET, path, Some(token), None, None).await
}

async fn inzage(app: &TestApp, token: &str, bsn: &str, accept: Option<&str>) -> Answer {
    call(
        app,
        reqwest::Method::POST,
        "/audit/v1/inzage",
        Some(token),
        Some(json!({ "burgerservicenummer": bsn })),
        accept,
    )
    .await
}

/// A real disclosure: `client` (a gemeente) asks for the persons at its fullest address.
/// Returns the BSNs disclosed and the X-Disclosure-Id.
async fn disclose(app: &TestApp, client: &str, gemeente: &str) -> (Vec<String>, String) {
    let (pc, hn) = common::fullest_address(app, gemeente);
    let res = app
        .client(client)
        .get(app.data_url(&format!("/api/v1/rni/adressen/{pc}/{hn}")))
        .header(ACT, "rni-adresoverzicht")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res
        .headers()
        .get("x-disclosure-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    let bsns: Vec<String> = body["personen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["burgerservicenummer"].as_str().unwrap().to_owned())
        .collect();
    assert!(!bsns.is_empty());
    (bsns, id)
}

/// A refused request (another gemeente's address: 403 outOfScope, recorded).
async fn refuse(app: &TestApp, client: &str, other_gemeente: &str) {
    let (pc, hn) = common::fullest_address(app, other_gemeente);
    let res = app
        .client(client)
        .get(app.data_url(&format!("/api/v1/rni/adressen/{pc}/{hn}")))
        .header(ACT, "rni-adresoverzicht")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

/// The disclosure-log record with this X-Disclosure-Id.
fn record_by_id(app: &TestApp, id: &str) -> doelpoort::disclosure::StoredRecord {
    let (trace, op) = id.split_once('-').unwrap();
    let (trace, op) = (hex::decode(trace).unwrap(), hex::decode(op).unwrap());
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::operation_id.eq(&op)))
        .select(doelpoort::disclosure::StoredRecord::as_select())
        .first(&mut *conn)
        .unwrap()
}

/// Checks the audit record of an answer: who looked, which endpoint, how many records.
fn assert_audited(app: &TestApp, a: &Answer, endpoint: &str, oin: &str, role: &str) -> i32 {
    let id = a
        .header("x-disclosure-id")
        .expect("an audit answer names its record");
    let rec = record_by_id(app, id);
    assert_eq!(rec.name, format!("audit/{endpoint}"));
    assert_eq!(rec.requester_oin.as_deref(), Some(oin));
    assert!(
        rec.fields.starts_with(&format!("role={role}")),
        "{}",
        rec.fields
    );
    assert_eq!(rec.status, "OK");
    assert!(rec.processing_activity_id.is_none());
    rec.record_count
}

fn tenant_count(app: &TestApp, oin: Option<&str>) -> i64 {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    match oin {
        Some(o) => r::disclosure_records
            .filter(r::requester_oin.eq(o).or(r::provider_oin.eq(o)))
            .count()
            .get_result(&mut *conn)
            .unwrap(),
        None => r::disclosure_records
            .count()
            .get_result(&mut *conn)
            .unwrap(),
    }
}

fn audit_records(app: &TestApp) -> i64 {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    r::disclosure_records
        .filter(r::name.like("audit/%"))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn assert_401(a: &Answer, case: &str) {
    assert_eq!(a.status, 401, "{case}: {}", a.text);
    assert_eq!(a.json()["code"], "authentication", "{case}");
    assert_eq!(
        a.header("content-type"),
        Some("application/problem+json"),
        "{case}"
    );
    assert!(
        a.header("www-authenticate")
            .is_some_and(|c| c.starts_with("Bearer")),
        "{case}: {:?}",
        a.header("www-authenticate")
    );
}

// ---------------------------------------------------------------------------------------------

async fn tokens_are_checked(backend: Backend) {
    let app = app(backend).await;
    let dev = dev(&app);
    let path = "/audit/v1/disclosures";
    let good = officer(&app, AMSTERDAM);
    assert_eq!(get(&app, path, &good).await.status, 200);
    let a = get(&app, "/audit/v1/sessie", &good).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let me = a.json();
    assert_eq!(
        (me["organisatie"]["naam"].as_str(), me["rol"].as_str()),
        (Some("Amsterdam"), Some("privacy-officer"))
    );
    assert_eq!(
        get(&app, "/audit/v1/sessie", &supervisor(&app))
            .await
            .json()["rol"],
        "supervisor"
    );
    let audited_before = audit_records(&app);

    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let claims_json = serde_json::to_vec(&claims(AMSTERDAM, "privacy-officer")).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let stranger = DevIssuer::load(other_dir.path(), true).unwrap();
    let mut expired = claims(AMSTERDAM, "privacy-officer");
    expired.exp = now_s() - 120;
    expired.nbf = Some(now_s() - 600);
    let mut early = claims(AMSTERDAM, "privacy-officer");
    early.nbf = Some(now_s() + 120);
    let mut wrong_aud = claims(AMSTERDAM, "privacy-officer");
    wrong_aud.aud = "another-api".into();
    let mut unknown_iss = claims(AMSTERDAM, "privacy-officer");
    unknown_iss.iss = "https://idp.onbekend.example".into();
    let mut bad_role = claims(AMSTERDAM, "privacy-officer");
    bad_role.role = "admin".into();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(AMSTERDAM, "privacy-officer"),
        &jsonwebtoken::EncodingKey::from_secret(dev.public_key_pem().as_bytes()),
    )
    .unwrap();
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims_json)
    );
    let none_signed = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims_json),
        good.rsplit('.').next().unwrap()
    );
    // A signature changed in one place; a payload changed under the old signature.
    let mut sig: Vec<u8> = good.rsplit('.').next().unwrap().bytes().collect();
    sig[10] = if sig[10] == b'A' { b'B' } else { b'A' };
    let tampered_sig = format!(
        "{}.{}",
        good.rsplit_once('.').unwrap().0,
        String::from_utf8(sig).unwrap()
    );
    let parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        b64(&serde_json::to_vec(&claims(AP, "supervisor")).unwrap()),
        parts[2]
    );
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("expired", Some(dev.sign(&expired).unwrap())),
        ("not yet valid", Some(dev.sign(&early).unwrap())),
        ("wrong audience", Some(dev.sign(&wrong_aud).unwrap())),
        ("unknown issuer", Some(stranger.sign(&unknown_iss).unwrap())),
        (
            "dev issuer's name, another key",
            Some(
                stranger
                    .sign(&claims(AMSTERDAM, "privacy-officer"))
                    .unwrap(),
            ),
        ),
        ("alg none", Some(none)),
        ("alg none with a signature", Some(none_signed)),
        ("HS256 with the public key as secret", Some(hs256)),
        ("tampered signature", Some(tampered_sig)),
        ("tampered payload", Some(tampered_payload)),
        ("unknown role", Some(dev.sign(&bad_role).unwrap())),
        ("not a JWT", Some("abc".into())),
    ];
    for (case, t) in &cases {
        let a = call(&app, reqwest::Method::GET, path, t.as_deref(), None, None).await;
        assert_401(&a, case);
        assert!(!a.text.contains(AMSTERDAM), "{case}: echoes the token");
    }
    // Not bearer: Basic credentials.
    let a = app
        .anonymous_client()
        .get(app.audit_url(path))
        .basic_auth("fg", Some("geheim"))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    // Authentic, but not allowed: supervisor role for a gemeente, an unknown OIN.
    let a = get(&app, path, &token(&app, AMSTERDAM, Role::Supervisor)).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (403, json!("notPermitted"))
    );
    let a = get(&app, path, &officer(&app, "99000000000199990000")).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (403, json!("unknownOrganisation"))
    );
    // Every endpoint refuses without a token.
    for (method, p) in [
        (reqwest::Method::GET, "/audit/v1/stats"),
        (reqwest::Method::GET, "/audit/v1/anomalieen"),
        (reqwest::Method::GET, "/audit/v1/verify"),
        (reqwest::Method::GET, "/audit/v1/export"),
        (reqwest::Method::POST, "/audit/v1/inzage"),
        (reqwest::Method::GET, "/audit/v1/sessie"),
    ] {
        let body =
            (method == reqwest::Method::POST).then(|| json!({"burgerservicenummer": "999993653"}));
        assert_401(&call(&app, method, p, None, body, None).await, p);
    }
    assert_eq!(
        audit_records(&app),
        audited_before,
        "refused audit requests answer nothing, so record nothing"
    );
    app.stop().await;
}

on_both_backends!(tokens_are_checked);

// ---------------------------------------------------------------------------------------------

/// Every record in a disclosures answer.
fn records_of(a: &Answer) -> Vec<Value> {
    assert_eq!(a.status, 200, "{}", a.text);
    a.json()["records"].as_array().unwrap().clone()
}

fn involves(rec: &Value, oin: &str) -> bool {
    rec["requester"]["oin"] == oin || rec["provider"]["oin"] == oin
}

async fn tenants_are_isolated(backend: Backend) {
    let app = app(backend).await;
    let mut rotterdam_traces = HashSet::new();
    let (ams_bsns, _) = disclose(&app, "gemeente-0363", "0363").await;
    let (rdam_bsns, rdam_id) = disclose(&app, "gemeente-0599", "0599").await;
    rotterdam_traces.insert(rdam_id.split('-').next().unwrap().to_owned());
    refuse(&app, "gemeente-0363", "0599").await;
    refuse(&app, "gemeente-0599", "0363").await;
    let ams = officer(&app, AMSTERDAM);
    let rdam = officer(&app, ROTTERDAM);
    // Rotterdam looks too: its audit records are Rotterdam's, not Amsterdam's.
    assert_eq!(get(&app, "/audit/v1/disclosures", &rdam).await.status, 200);

    // Search: whatever the filter, only records Amsterdam took part in.
    let filters = [
        "",
        "requester=gemeente-0599",
        &format!("requester={ROTTERDAM}"),
        "provider=rvig",
        &format!("provider={RVIG}"),
        "activity=rni-adresoverzicht",
        "status=OK",
        "status=ERROR",
        "refusal_code=outOfScope",
        "case_reference=x",
        "kind=verstrekking",
        "kind=persoon",
        "kind=weigering",
        "kind=raadpleging&requester=gemeente-0599",
        "from=2020-01-01",
        "to=2099-12-31",
        "from=2020-01-01&to=2099-12-31&provider=rvig&activity=rni-adresoverzicht",
        "requester=gemeente-0599&provider=rvig&status=OK",
        "requester=gemeente-0599&status=ERROR&refusal_code=outOfScope",
        "limit=1000",
    ];
    let mut seen_own = 0;
    for f in filters {
        let mut path = format!("/audit/v1/disclosures?{f}&limit=3");
        if f.contains("limit") {
            path = format!("/audit/v1/disclosures?{f}");
        }
        // Every page of it.
        loop {
            let a = get(&app, &path, &ams).await;
            let page = records_of(&a);
            for rec in &page {
                assert!(involves(rec, AMSTERDAM), "{f}: {rec}");
                assert!(
                    !rotterdam_traces.contains(rec["trace_id"].as_str().unwrap()),
                    "{f}: Rotterdam's disclosure"
                );
                assert_ne!(rec["requester"]["oin"], ROTTERDAM, "{f}");
                assert!(
                    rec.get("burgerservicenummer").is_none()
                        && !rec.to_string().contains(&ams_bsns[0]),
                    "a BSN in a record"
                );
                seen_own += 1;
            }
            match a.json()["volgende"].as_str() {
                Some(c) => path = format!("/audit/v1/disclosures?{f}&limit=3&cursor={c}"),
                None => break,
            }
        }
    }
    assert!(seen_own > 0);
    // Rotterdam as filter gives Amsterdam nothing; a supervisor sees both; RvIG (the provider)
    // sees both gemeenten's requests to it.
    let a = get(&app, "/audit/v1/disclosures?requester=gemeente-0599", &ams).await;
    assert!(records_of(&a).is_empty());
    let all = records_of(&get(&app, "/audit/v1/disclosures?limit=1000", &supervisor(&app)).await);
    for oin in [AMSTERDAM, ROTTERDAM] {
        assert!(
            all.iter().any(|rec| rec["requester"]["oin"] == oin),
            "{oin}"
        );
    }
    let rvig = records_of(
        &get(
            &app,
            "/audit/v1/disclosures?limit=1000",
            &officer(&app, RVIG),
        )
        .await,
    );
    for oin in [AMSTERDAM, ROTTERDAM] {
        assert!(
            rvig.iter().any(|rec| rec["requester"]["oin"] == oin),
            "{oin}"
        );
    }
    assert!(rvig.iter().all(|rec| involves(rec, RVIG)));
    // Names come along with the OINs.
    let mine = records_of(
        &get(
            &app,
            "/audit/v1/disclosures?status=OK&activity=rni-adresoverzicht",
            &ams,
        )
        .await,
    );
    assert_eq!(mine[0]["requester"]["naam"], "Amsterdam");
    assert_eq!(mine[0]["provider"]["oin"], RVIG);
    assert!(mine[0]["register_version"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert!(mine.iter().any(|rec| rec["data_subject_pseudonym"]
        .as_str()
        .is_some_and(|p| p.len() == 64)));

    // Inzage: Rotterdam's person is not in Amsterdam's report, but in the supervisor's.
    let a = inzage(&app, &ams, &rdam_bsns[0], None).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    assert_eq!(body["verstrekkingen"], json!([]));
    assert_eq!(body["bronGeraadpleegd"], true);
    assert_eq!(body["reikwijdte"], "organisatie");
    let a = inzage(&app, &supervisor(&app), &rdam_bsns[0], None).await;
    let v = a.json()["verstrekkingen"].clone();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["ontvanger"]["oin"], ROTTERDAM);
    // Stats and anomalies: only Amsterdam's numbers.
    for group_by in ["activity", "requester", "day"] {
        let before = tenant_count(&app, Some(AMSTERDAM));
        let a = get(&app, &format!("/audit/v1/stats?group_by={group_by}"), &ams).await;
        assert_eq!(a.status, 200, "{}", a.text);
        let body = a.json();
        assert_eq!(body["totaal"]["records"], before, "{group_by}");
        if group_by == "requester" {
            for g in body["groepen"].as_array().unwrap() {
                assert_ne!(g["sleutel"], ROTTERDAM);
            }
        }
    }
    let a = get(&app, "/audit/v1/anomalieen", &ams).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(!a.text.contains(ROTTERDAM));
    // Export: every line Amsterdam's.
    let a = get(&app, "/audit/v1/export", &ams).await;
    assert_eq!(a.status, 200);
    let lines: Vec<Value> = a
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|rec| involves(rec, AMSTERDAM)));
    assert_eq!(
        a.header("x-record-count"),
        Some(lines.len().to_string().as_str())
    );
    // Verify is the supervisor's.
    let a = get(&app, "/audit/v1/verify", &ams).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (403, json!("notPermitted"))
    );
    app.stop().await;
}

on_both_backends!(tenants_are_isolated);

// ---------------------------------------------------------------------------------------------

async fn inzage_explains_each_disclosure(backend: Backend) {
    let app = app(backend).await;
    let (bsns, id) = disclose(&app, "gemeente-0363", "0363").await;
    let bsn = &bsns[0];
    let ams = officer(&app, AMSTERDAM);
    let citation = "Wet BRP; Landelijke Aanpak Adreskwaliteit (art. 2.34 Wet BRP)";
    let keys = Keys::load(
        &app.settings.disclosure.keys_dir,
        &app.settings.server.instance_id,
        false,
    )
    .unwrap();
    let pseudonym = keys.pseudonym(&Bsn::parse(bsn).unwrap()).to_vec();

    // JSON: who, what, when, why, on which basis.
    let a = inzage(&app, &ams, bsn, Some("application/json")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    assert_eq!(body["burgerservicenummer"], format!("******{}", &bsn[6..]));
    assert!(!a.text.contains(bsn.as_str()), "the full BSN in the answer");
    let v = body["verstrekkingen"].as_array().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["ontvanger"]["naam"], "Amsterdam");
    assert_eq!(v[0]["verstrekker"]["oin"], RVIG);
    assert_eq!(v[0]["verwerkingsactiviteit"]["id"], "rni-adresoverzicht");
    assert_eq!(
        v[0]["verwerkingsactiviteit"]["grondslag"]["citation"],
        citation
    );
    assert!(v[0]["verwerkingsactiviteit"]["doel"]
        .as_str()
        .unwrap()
        .contains("Adreskwaliteit"));
    assert_eq!(v[0]["kenmerk"], id.as_str());
    assert!(v[0]["gegevens"]
        .as_array()
        .unwrap()
        .contains(&json!("burgerservicenummer")));
    // Its audit record names the person by pseudonym.
    let n = assert_audited(&app, &a, "inzage", AMSTERDAM, "privacy-officer");
    assert_eq!(n, 1);
    let rec = record_by_id(&app, a.header("x-disclosure-id").unwrap());
    assert_eq!(rec.subject_pseudonym.as_deref(), Some(pseudonym.as_slice()));

    // CSV.
    let a = inzage(&app, &ams, bsn, Some("text/csv")).await;
    assert_eq!(a.status, 200);
    assert!(a.header("content-type").unwrap().starts_with("text/csv"));
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(lines.len(), 2, "{}", a.text);
    assert!(lines[0].starts_with("tijdstip,ontvanger,"));
    assert!(lines[1].contains("rni-adresoverzicht") && lines[1].contains(&format!(",{citation},")));
    assert!(!a.text.contains(bsn.as_str()));

    // HTML: a printable report in Dutch, the BSN masked, the earlier look listed.
    let a = inzage(&app, &ams, bsn, Some("text/html")).await;
    assert_eq!(a.status, 200);
    assert!(a.header("content-type").unwrap().starts_with("text/html"));
    assert!(a
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    let html = &a.text;
    for expected in [
        "<title>Overzicht van verstrekkingen van uw persoonsgegevens</title>",
        &format!("******{}", &bsn[6..]),
        "Ontvangen door</th><td>Amsterdam",
        "Rijksdienst voor Identiteitsgegevens (RvIG)",
        citation,
        "Wat betekenen deze verwerkingsactiviteiten?",
        "Autoriteit Persoonsgegevens",
        "bezwaar",
        "Eerdere inzage in het logboek over u",
        "tijdelijk verblijfsadres in Nederland",
    ] {
        assert!(html.contains(expected), "missing {expected:?}");
    }
    assert!(!html.contains(bsn.as_str()));
    // Each of the three is its own audit record.
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    let looks: i64 = r::disclosure_records
        .filter(
            r::name
                .eq("audit/inzage")
                .and(r::subject_pseudonym.eq(&pseudonym)),
        )
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(looks, 3);
    drop(conn);

    // Not a BSN: 400, nothing echoed, nothing recorded.
    let before = audit_records(&app);
    for bad in ["999993654", "12345", "abcdefghi"] {
        let a = inzage(&app, &ams, bad, None).await;
        assert_eq!(
            (a.status, a.json()["code"].clone()),
            (400, json!("paramsValidation"))
        );
        assert!(!common::repeats(&a.json(), bad), "{}", a.text);
    }
    assert_eq!(audit_records(&app), before);
    // A person nobody asked about: the absence of data, not an error.
    let a = inzage(&app, &ams, "999993653", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["verstrekkingen"], json!([]));

    // The legal basis is that of the record's register version, not today's: change the
    // citation in the register, disclose again; the old record keeps the old basis.
    let register = app
        .settings
        .policies
        .dir
        .join("verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&register).unwrap();
    let new_citation = "Wet BRP, gewijzigd (test)";
    std::fs::write(&register, text.replacen(citation, new_citation, 1)).unwrap();
    let versions = |app: &TestApp| -> i64 {
        let db = app.database();
        let mut conn = db.checkout().unwrap();
        doelpoort::storage::schema::register_versies::table
            .count()
            .get_result(&mut *conn)
            .unwrap()
    };
    let mut waited = 0;
    while versions(&app) < 2 {
        assert!(
            waited < 100,
            "the reloaded register version was never stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    let (again, _) = disclose(&app, "gemeente-0363", "0363").await;
    assert!(again.contains(bsn));
    let a = inzage(&app, &ams, bsn, None).await;
    let v = a.json()["verstrekkingen"].clone();
    let citations: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["verwerkingsactiviteit"]["grondslag"]["citation"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(citations, vec![citation, new_citation]);
    assert_ne!(v[0]["registerversie"], v[1]["registerversie"]);
    app.stop().await;
}

on_both_backends!(inzage_explains_each_disclosure);

// ---------------------------------------------------------------------------------------------

async fn paging_is_stable_while_records_arrive(backend: Backend) {
    let app = Arc::new(app(backend).await);
    for _ in 0..3 {
        disclose(&app, "gemeente-0363", "0363").await;
        disclose(&app, "gemeente-0599", "0599").await;
    }
    let present: BTreeSet<String> = {
        let db = app.database();
        let mut conn = db.checkout().unwrap();
        r::disclosure_records
            .select((r::trace_id, r::operation_id))
            .load::<(Vec<u8>, Vec<u8>)>(&mut *conn)
            .unwrap()
            .into_iter()
            .map(|(t, o)| format!("{}-{}", hex::encode(t), hex::encode(o)))
            .collect()
    };
    // Records keep arriving while the supervisor pages.
    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for _ in 0..8 {
                disclose(&app, "gemeente-0363", "0363").await;
                disclose(&app, "gemeente-0599", "0599").await;
            }
        })
    };
    let sup = supervisor(&app);
    let mut seen = Vec::new();
    let mut keys = Vec::new();
    let mut path = "/audit/v1/disclosures?limit=4".to_owned();
    loop {
        let a = get(&app, &path, &sup).await;
        for rec in records_of(&a) {
            seen.push(rec["id"].as_str().unwrap().to_owned());
            keys.push((
                rec["start_time"].as_i64().unwrap(),
                rec["instance_id"].as_str().unwrap().to_owned(),
                rec["seq"].as_i64().unwrap(),
            ));
        }
        match a.json()["volgende"].as_str() {
            Some(c) => path = format!("/audit/v1/disclosures?limit=4&cursor={c}"),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "a record on two pages");
    for id in &present {
        assert!(
            unique.contains(id),
            "record {id} present before paging was skipped"
        );
    }
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "not strictly newest first"
    );
    // A cursor that is not one: 400.
    let a = get(&app, "/audit/v1/disclosures?cursor=1.2.x;y", &sup).await;
    assert_eq!(
        (a.status, a.json()["code"].clone()),
        (400, json!("paramsValidation"))
    );
    for bad in [
        "limit=0",
        "limit=1001",
        "status=ok",
        "from=gisteren",
        "requester=123",
        "kind=alles",
        "case_reference=a%0Ab",
        "onbekend=1",
        "from=2026-12-02&to=2026-12-01",
    ] {
        let a = get(&app, &format!("/audit/v1/disclosures?{bad}"), &sup).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.text);
    }
    Arc::into_inner(app).unwrap().stop().await;
}

on_both_backends!(paging_is_stable_while_records_arrive);

// ---------------------------------------------------------------------------------------------

/// Milliseconds of a Dutch wall-clock time in June 2026 (summer time: UTC+2).
fn june(day: u32, hour: u32, minute: u32) -> i64 {
    chrono::DateTime::parse_from_rfc3339(&format!(
        "2026-06-{day:02}T{hour:02}:{minute:02}:00+02:00"
    ))
    .unwrap()
    .timestamp_millis()
}

fn history_record(start: i64, requester: &str) -> Record {
    Record {
        trace_id: rand::random(),
        operation_id: rand::random(),
        parent_operation_id: None,
        foreign_trace_id: None,
        foreign_operation_id: None,
        foreign_entity: None,
        name: "rni-raadplegen/read".into(),
        start_time_ms: start,
        end_time_ms: start + 5,
        status: Status::Ok,
        refusal_code: None,
        processing_activity_id: Some("rni-raadplegen".into()),
        register_version: Some("sha256:00000000000000000000000000000000".into()),
        requester_oin: Some(requester.into()),
        provider_oin: Some(RVIG.into()),
        case_reference: None,
        fields: "burgerservicenummer,naam".into(),
        record_count: 1,
        subject_pseudonym: None,
        retain_until_ms: start + 3650 * 86_400_000,
    }
}

/// A history written through the real disclosure log by a second instance, `history`:
/// Amsterdam asks 5 times a day (10:00) from 27 May to 9 June 2026; on Wednesday 10 June it
/// asks 60 times at 02:xx, is refused 25 times, and one case reference names 120 persons.
async fn write_history(app: &TestApp) {
    let settings = &app.settings;
    let keys = Keys::load(&settings.disclosure.keys_dir, "history", true).unwrap();
    let log = DisclosureLog::start(
        app.database(),
        keys,
        "history",
        &settings.disclosure,
        Arc::new(doelpoort::metrics::Metrics::new()),
    );
    let mut records = Vec::new();
    for day in 0..14 {
        let start = june(10, 10, 0) - (14 - day) * 86_400_000;
        for i in 0..5 {
            records.push(history_record(start + i * 1000, AMSTERDAM));
        }
    }
    for i in 0..60 {
        records.push(history_record(june(10, 2, 0) + i * 30_000, AMSTERDAM));
    }
    for i in 0..25 {
        let mut refused = history_record(june(10, 11, 0) + i * 1000, AMSTERDAM);
        refused.status = Status::Error;
        refused.refusal_code = Some("notPermitted".into());
        refused.provider_oin = None;
        refused.record_count = 0;
        records.push(refused);
    }
    let mut case = history_record(june(10, 14, 0), AMSTERDAM);
    case.case_reference = Some("ZAAK-2026-1".into());
    case.record_count = 120;
    let parent = case.operation_id;
    records.push(case.clone());
    for k in 0..120u32 {
        let mut subject = case.clone();
        subject.operation_id = rand::random();
        subject.parent_operation_id = Some(parent);
        subject.record_count = 1;
        subject.subject_pseudonym = Some(sha256(&k.to_be_bytes()));
        records.push(subject);
    }
    log.append(records).await.unwrap();
    tokio::task::spawn_blocking(move || log.finish(Duration::from_secs(5)))
        .await
        .unwrap();
}

fn sha256(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

async fn stats_and_anomalies(backend: Backend) {
    let app = app(backend).await;
    write_history(&app).await;
    disclose(&app, "gemeente-0599", "0599").await;
    let sup = supervisor(&app);

    // Per day: the history as written (Dutch days).
    let a = get(
        &app,
        "/audit/v1/stats?group_by=day&from=2026-05-27&to=2026-06-10",
        &sup,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    let groepen = body["groepen"].as_array().unwrap();
    assert_eq!(groepen.len(), 15);
    assert_eq!(groepen[0]["sleutel"], "2026-05-27");
    assert_eq!(groepen[0]["records"], 5);
    let d = groepen
        .iter()
        .find(|g| g["sleutel"] == "2026-06-10")
        .unwrap();
    assert_eq!(
        (
            d["records"].as_i64(),
            d["verstrekkingen"].as_i64(),
            d["personen"].as_i64(),
            d["weigeringen"].as_i64()
        ),
        (Some(206), Some(61), Some(120), Some(25))
    );
    assert_eq!(body["totaal"]["records"], 14 * 5 + 206);
    let n = assert_audited(&app, &a, "stats", AP, "supervisor");
    assert_eq!(n, 14 * 5 + 206);

    // Every grouping adds up to the records (the supervisor: all of them).
    for group_by in ["activity", "requester", "day"] {
        let before = tenant_count(&app, None);
        let a = get(&app, &format!("/audit/v1/stats?group_by={group_by}"), &sup).await;
        let body = a.json();
        let sum: i64 = body["groepen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["records"].as_i64().unwrap())
            .sum();
        assert_eq!(
            (sum, body["totaal"]["records"].as_i64().unwrap()),
            (before, before),
            "{group_by}"
        );
        for g in body["groepen"].as_array().unwrap() {
            let parts: i64 = ["verstrekkingen", "personen", "weigeringen", "raadplegingen"]
                .iter()
                .map(|k| g[*k].as_i64().unwrap())
                .sum();
            assert_eq!(parts, g["records"].as_i64().unwrap());
        }
    }
    let a = get(&app, "/audit/v1/stats?group_by=requester", &sup).await;
    let ams = a.json()["groepen"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["sleutel"] == AMSTERDAM)
        .cloned()
        .unwrap();
    assert_eq!(ams["naam"], "Amsterdam");
    assert_eq!(
        get(&app, "/audit/v1/stats?group_by=week", &sup)
            .await
            .status,
        400
    );

    // Anomalies on 10 June: each of the four, with its numbers.
    for who in [sup.clone(), officer(&app, AMSTERDAM)] {
        let a = get(
            &app,
            "/audit/v1/anomalieen?from=2026-06-10&to=2026-06-10",
            &who,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.text);
        let signalen = a.json()["signalen"].as_array().unwrap().clone();
        let of = |soort: &str| signalen.iter().find(|s| s["soort"] == soort).cloned();
        let volume = of("volume").expect("volume signal");
        assert_eq!(volume["organisatie"]["oin"], AMSTERDAM);
        assert_eq!(volume["activiteit"], "rni-raadplegen");
        assert_eq!(
            (
                volume["aantal"].as_i64(),
                volume["mediaan_14_dagen"].as_f64()
            ),
            (Some(61), Some(5.0))
        );
        assert_eq!(volume["dag"], "2026-06-10");
        assert!(volume["records"]
            .as_str()
            .unwrap()
            .starts_with("/audit/v1/disclosures?requester="));
        let night = of("buiten-kantooruren").expect("office-hours signal");
        assert_eq!(night["aantal"], 60);
        assert_eq!(night["uren"]["02:00-03:00"], 60);
        let refused = of("weigeringen").expect("refusal signal");
        assert_eq!(
            (
                refused["aantal"].as_i64(),
                refused["codes"]["notPermitted"].as_i64()
            ),
            (Some(25), Some(25))
        );
        let case = of("zaakkenmerk").expect("case-reference signal");
        assert_eq!(
            (case["zaakkenmerk"].as_str(), case["personen"].as_i64()),
            (Some("ZAAK-2026-1"), Some(120))
        );
        assert_eq!(signalen.len(), 4, "{signalen:?}");
        // Each signal links to its records.
        for (signal, expected) in [(&case, 121), (&volume, 61), (&refused, 25)] {
            let link = signal["records"].as_str().unwrap();
            let a = get(&app, &format!("{link}&limit=1000"), &who).await;
            assert_eq!(records_of(&a).len(), expected, "{link}");
        }
    }
    // The day before: nothing stands out. Rotterdam: none of Amsterdam's signals.
    let a = get(
        &app,
        "/audit/v1/anomalieen?from=2026-06-09&to=2026-06-09",
        &sup,
    )
    .await;
    assert_eq!(a.json()["signalen"], json!([]));
    let a = get(
        &app,
        "/audit/v1/anomalieen?from=2026-06-10&to=2026-06-10",
        &officer(&app, ROTTERDAM),
    )
    .await;
    assert_eq!(a.json()["signalen"], json!([]));
    assert_audited(&app, &a, "anomalieen", ROTTERDAM, "privacy-officer");
    let a = get(
        &app,
        "/audit/v1/anomalieen?from=2026-01-01&to=2026-12-31",
        &sup,
    )
    .await;
    assert_eq!(a.status, 400, "more than 92 days");

    // Verify: the whole log, both instances, intact.
    let before = tenant_count(&app, None);
    let a = get(&app, "/audit/v1/verify", &sup).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let body = a.json();
    assert_eq!(body["intact"], true, "{body}");
    assert_eq!(body["records"], before);
    assert!(body["instances"]
        .as_array()
        .unwrap()
        .contains(&json!("history")));
    assert_eq!(
        assert_audited(&app, &a, "verify", AP, "supervisor") as i64,
        before
    );
    app.stop().await;
}

on_both_backends!(stats_and_anomalies);

// ---------------------------------------------------------------------------------------------

/// The export of `token`'s tenant: (lines, X-Record-Count, peak growth of this process's RSS).
async fn export_lines(app: &TestApp, token: &str, query: &str) -> (u64, u64, u64) {
    let mut res = app
        .anonymous_client()
        .get(app.audit_url(&format!("/audit/v1/export{query}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/x-ndjson"
    );
    let announced: u64 = res.headers()["x-record-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let rss = || -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    let base = rss();
    let mut peak = base;
    let (mut lines, mut chunks) = (0u64, 0u64);
    let mut last = b'\n';
    while let Some(chunk) = res.chunk().await.unwrap() {
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if let Some(b) = chunk.last() {
            last = *b;
        }
        chunks += 1;
        if chunks % 64 == 0 {
            peak = peak.max(rss());
        }
    }
    assert_eq!(last, b'\n', "the export ends inside a line");
    (lines, announced, (peak - base) / 1024)
}

async fn export_streams_everything(backend: Backend) {
    let app = app(backend).await;
    for _ in 0..3 {
        disclose(&app, "gemeente-0363", "0363").await;
        disclose(&app, "gemeente-0599", "0599").await;
    }
    let sup = supervisor(&app);
    let all = tenant_count(&app, None) as u64;
    let (lines, announced, _) = export_lines(&app, &sup, "").await;
    assert_eq!((lines, announced), (all, all));
    let ams = tenant_count(&app, Some(AMSTERDAM)) as u64;
    let (lines, announced, _) = export_lines(&app, &officer(&app, AMSTERDAM), "").await;
    assert_eq!((lines, announced), (ams, ams));
    let (lines, _, _) = export_lines(&app, &sup, "?from=2020-01-01&to=2020-12-31").await;
    assert_eq!(lines, 0);
    app.stop().await;
}

on_both_backends!(export_streams_everything);

/// A million records (made inside PostgreSQL, as benches/disclosure_scale.rs does, under an
/// instance of their own), exported whole and per tenant, in constant memory.
#[tokio::test]
async fn export_of_a_million_records_on_postgres() {
    let app = spawn_app_with(Backend::Postgres, |_| {}).await;
    let n: i64 = 1_000_000;
    let start_ms: i64 = 1_767_225_600_000; // 2026-01-01
    let t = std::time::Instant::now();
    {
        #[derive(QueryableByName)]
        struct Index {
            #[diesel(sql_type = diesel::sql_types::Text)]
            indexname: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            indexdef: String,
        }
        let mut conn = diesel::PgConnection::establish(&app.settings.database.url).unwrap();
        // Faster in bulk: the secondary indexes (as the migrations made them) are dropped for
        // the insert and built again after it.
        let indexes: Vec<Index> = diesel::sql_query(
            "SELECT indexname::text AS indexname, indexdef FROM pg_indexes \
             WHERE tablename = 'disclosure_records' AND indexname <> 'disclosure_records_pkey'",
        )
        .load(&mut conn)
        .unwrap();
        assert!(indexes.len() >= 7);
        for i in &indexes {
            diesel::sql_query(format!("DROP INDEX {}", i.indexname))
                .execute(&mut conn)
                .unwrap();
        }
        doelpoort::disclosure::partitions::ensure_span(
            &mut conn,
            "synthetic",
            start_ms,
            start_ms + n * 20,
        )
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO disclosure_records
             SELECT 'synthetic', g,
                    decode(lpad(to_hex(g), 32, '0'), 'hex'),
                    decode(lpad(to_hex(g), 16, '0'), 'hex'),
                    NULL, NULL, NULL, NULL, 'rni-raadplegen/read',
                    {start_ms} + g * 20, {start_ms} + g * 20 + 3, 'OK', NULL, 'rni-raadplegen',
                    'sha256:0123456789abcdef0123456789abcdef',
                    CASE WHEN g % 2 = 0 THEN '{AMSTERDAM}' ELSE '{ROTTERDAM}' END,
                    '{RVIG}', NULL, 'burgerservicenummer,naam', 0, NULL,
                    {start_ms} + 3650 * 86400000::bigint,
                    decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex')
             FROM generate_series(1::bigint, {n}::bigint) g"
        ))
        .execute(&mut conn)
        .unwrap();
        for i in &indexes {
            // On a partitioned table the definition reads `ON ONLY`, which would index the
            // parent alone.
            diesel::sql_query(i.indexdef.replace(" ON ONLY ", " ON "))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query("ANALYZE disclosure_records")
            .execute(&mut conn)
            .unwrap();
    }
    eprintln!("inserted {n} records in {:.1} s", t.elapsed().as_secs_f64());
    let all = tenant_count(&app, None) as u64;
    assert!(all >= n as u64);
    let t = std::time::Instant::now();
    let (lines, announced, grown_mb) = export_lines(&app, &supervisor(&app), "").await;
    eprintln!(
        "exported {lines} records in {:.1} s; RSS grew {grown_mb} MB",
        t.elapsed().as_secs_f64()
    );
    assert_eq!((lines, announced), (all, all));
    assert!(grown_mb < 200, "the export grew memory by {grown_mb} MB");
    // Amsterdam's half of the first hour of the records (a record every 20 ms: 90,000).
    let (lines, announced, _) = export_lines(
        &app,
        &officer(&app, AMSTERDAM),
        "?from=2026-01-01T01:00:00%2B01:00&to=2026-01-01T02:00:00%2B01:00",
    )
    .await;
    let expected = {
        let mut conn = diesel::PgConnection::establish(&app.settings.database.url).unwrap();
        let to = chrono::DateTime::parse_from_rfc3339("2026-01-01T02:00:00+01:00")
            .unwrap()
            .timestamp_millis();
        let from = chrono::DateTime::parse_from_rfc3339("2026-01-01T01:00:00+01:00")
            .unwrap()
            .timestamp_millis();
        r::disclosure_records
            .filter(
                r::requester_oin
                    .eq(AMSTERDAM)
                    .or(r::provider_oin.eq(AMSTERDAM)),
            )
            .filter(r::start_time_ms.ge(from).and(r::start_time_ms.lt(to)))
            .count()
            .get_result::<i64>(&mut conn)
            .unwrap() as u64
    };
    assert!(expected > 50_000, "{expected}");
    assert_eq!((lines, announced), (expected, expected));
    app.stop().await;
}

// ---------------------------------------------------------------------------------------------

/// `doelpoort token issue` prints a token the gateway accepts; it refuses what it must.
#[test]
fn token_issue_prints_a_dev_token() {
    let dir = tempfile::tempdir().unwrap();
    common::test_settings(dir.path(), "sqlite://unused.db");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_doelpoort"))
            .args(args)
            .current_dir(dir.path())
            .env("DOELPOORT_DISCLOSURE_KEYS_DIR", "keys")
            .output()
            .unwrap()
    };
    let out = run(&[
        "token",
        "issue",
        "--oin",
        "gemeente-0363",
        "--role",
        "privacy-officer",
        "--ttl-min",
        "5",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let dev = DevIssuer::load(&dir.path().join("keys"), false).unwrap();
    let settings = doelpoort::config::AuditSettings::default();
    let verifier = doelpoort::audit::token::TokenVerifier::new(&settings, Some(&dev)).unwrap();
    let registry =
        doelpoort::organisations::Registry::load(&dir.path().join("policies/organisations.toml"))
            .unwrap();
    let who = verifier.verify(&token, &registry).unwrap();
    assert_eq!(who.organisation.name, "Amsterdam");
    assert_eq!(who.role, Role::PrivacyOfficer);
    for bad in [
        vec![
            "token",
            "issue",
            "--oin",
            "gemeente-0363",
            "--role",
            "supervisor",
        ],
        vec![
            "token",
            "issue",
            "--oin",
            "gemeente-9999",
            "--role",
            "privacy-officer",
        ],
        vec!["token", "issue", "--oin", "supervisor", "--role", "admin"],
        vec![
            "token",
            "issue",
            "--oin",
            "supervisor",
            "--role",
            "supervisor",
            "--ttl-min",
            "0",
        ],
    ] {
        assert!(!run(&bad).status.success(), "{bad:?}");
    }
    let out = run(&["token", "issue", "--oin", AP, "--role", "supervisor"]);
    assert!(out.status.success());
}
