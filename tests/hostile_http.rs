//! Hostile HTTP input against the real gateway over real mTLS: oversized and malformed bodies
//! (deep nesting, invalid UTF-8, duplicate member names), invalid UTF-8 and traversal in paths
//! and queries, SQL metacharacters in every string field of every endpoint, BSNs failing the
//! elfproef, header oddities (CR/LF, huge, many, `X-Processing-Activity` games) and request
//! smuggling over a raw TLS socket. Every answer is a 4xx: problem+json from the app (and
//! logged as a refusal with its request id), or, for a head the HTTP parser cannot frame,
//! actix-http's own bodiless 400/431 and a closed connection (no route reached). Never a 5xx;
//! the datasets are the same afterwards.

mod common;

use std::time::{Duration, Instant};

use common::{raw, spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::seed::RniPersoon;
use doelpoort::storage::schema as s;
use reqwest::Method;
use serde_json::{json, Value};

const ACT: &str = "x-processing-activity";
const CASE: &str = "x-case-reference";
/// Fails the elfproef (147 mod 11 = 4).
const BAD_BSN: &str = "123456789";

// --- the gateway -----------------------------------------------------------------------------

/// A gateway with a small synthetic dataset and the register's rate limits lifted (a test that
/// sends a thousand requests must meet the validation, not `tooManyRequests`).
async fn app(backend: Backend) -> TestApp {
    common::logs::capture("info");
    spawn_app_with(backend, |settings| {
        settings.datasets.seed_persons = 300;
        common::lift_rate_limits(settings);
    })
    .await
}

/// One request to the data listener.
struct Call {
    who: &'static str,
    /// `X-Processing-Activity` (not sent when empty).
    activity: String,
    method: Method,
    path: String,
    body: Option<Body>,
    headers: Vec<(String, String)>,
}

enum Body {
    Json(Value),
    Bytes(Vec<u8>, &'static str),
}

impl Call {
    fn new(who: &'static str, activity: &str, method: Method, path: &str) -> Call {
        Call {
            who,
            activity: activity.to_owned(),
            method,
            path: path.to_owned(),
            body: None,
            headers: Vec::new(),
        }
    }

    fn json(mut self, body: Value) -> Call {
        self.body = Some(Body::Json(body));
        self
    }

    fn bytes(mut self, body: Vec<u8>, content_type: &'static str) -> Call {
        self.body = Some(Body::Bytes(body, content_type));
        self
    }

    fn activity(mut self, activity: &str) -> Call {
        self.activity = activity.to_owned();
        self
    }

    fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    request_id: Option<String>,
    body: Value,
    text: String,
    elapsed: Duration,
}

async fn send(app: &TestApp, call: &Call) -> Answer {
    let mut req = app
        .client(call.who)
        .request(call.method.clone(), app.data_url(&call.path));
    if !call.activity.is_empty() {
        req = req.header(ACT, call.activity.as_str());
    }
    let needs_case = ["uwv-dienstverbanden", "svb-uitkeringen"].contains(&call.activity.as_str());
    if needs_case && !call.headers.iter().any(|(n, _)| n == CASE) {
        req = req.header(CASE, "NLA-2026-1");
    }
    for (name, value) in &call.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    match &call.body {
        Some(Body::Json(v)) => req = req.json(v),
        Some(Body::Bytes(b, ct)) => req = req.header("content-type", *ct).body(b.clone()),
        None => {}
    }
    answer(req).await
}

async fn answer(req: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (content_type, request_id) = (header("content-type"), header("x-request-id"));
    let text = res.text().await.unwrap();
    Answer {
        status,
        content_type,
        request_id,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        elapsed: started.elapsed(),
    }
}

/// A refusal as the contract says: 4xx, problem+json with its `code`, logged with its request id.
fn assert_refused(a: &Answer, case: &str) {
    assert!(
        (400..500).contains(&a.status),
        "{case}: {} {}",
        a.status,
        a.text
    );
    assert_eq!(
        a.content_type.as_deref(),
        Some("application/problem+json"),
        "{case}: {}",
        a.status
    );
    assert!(a.body["code"].is_string(), "{case}: {}", a.text);
    assert_eq!(a.body["status"], a.status, "{case}");
    let id = a
        .request_id
        .as_deref()
        .expect("every answer has X-Request-Id");
    let logged = common::logs::text()
        .lines()
        .any(|l| l.contains(id) && l.contains("request refused"));
    assert!(logged, "{case}: the refusal ({id}) was not logged");
}

/// Never a 5xx, and an error is problem+json.
fn assert_not_failed(a: &Answer, case: &str) {
    assert!(a.status < 500, "{case}: {} {}", a.status, a.text);
    if a.status >= 400 {
        assert_refused(a, case);
    }
}

// --- what the datasets hold ------------------------------------------------------------------

/// Everything a request could change outside the disclosure log: the number of rows of every
/// table, and every RNI person as a whole.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    rows: Vec<(&'static str, i64)>,
    personen: Vec<RniPersoon>,
}

/// Fails naming what differs (never printing the persons whole).
fn assert_same(after: &Fingerprint, before: &Fingerprint, what: &str) {
    assert_eq!(after.rows, before.rows, "{what}: row counts");
    let changed: Vec<&str> = after
        .personen
        .iter()
        .zip(&before.personen)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.burgerservicenummer.as_str())
        .collect();
    assert!(
        changed.is_empty(),
        "{what}: RNI persons changed: {changed:?}"
    );
}

fn fingerprint(app: &TestApp) -> Fingerprint {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let c = &mut *c;
    macro_rules! count {
        ($($t:ident),+) => {
            vec![$((stringify!($t), s::$t::table.count().get_result::<i64>(c).unwrap())),+]
        };
    }
    let rows = count!(
        rni_personen,
        postcodegebieden,
        rni_verblijfsadres_historie,
        signalen,
        signaal_betrokkenen,
        signaal_statussen,
        uwv_werkgevers,
        uwv_dienstverbanden,
        uwv_uitkeringen,
        svb_uitkeringen,
        ingezetenen,
        gateway_instances
    );
    let personen = s::rni_personen::table
        .order(s::rni_personen::burgerservicenummer)
        .select(RniPersoon::as_select())
        .load(c)
        .unwrap();
    Fingerprint { rows, personen }
}

/// Facts about the seeded data the requests need.
struct Seeded {
    /// A postcode and house number with RNI persons in Amsterdam.
    ams_address: (String, i32),
    /// An RNI person staying in Aalsmeer (ABO gemeente) and an Aalsmeer postcode.
    aalsmeer_person: String,
    aalsmeer_postcode: String,
    /// An RNI person and an employer's loonheffingennummer.
    person: String,
    loonheffingennummer: String,
}

fn seeded(app: &TestApp) -> Seeded {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let c = &mut *c;
    use s::rni_personen::dsl as p;
    let (pc, hn): (Option<String>, Option<i32>) = p::rni_personen
        .filter(p::verblijf_gemeentecode.eq("0363"))
        .select((p::verblijf_postcode, p::verblijf_huisnummer))
        .first(c)
        .unwrap();
    let aalsmeer_person: String = p::rni_personen
        .filter(p::verblijf_gemeentecode.eq("0358"))
        .select(p::burgerservicenummer)
        .first(c)
        .unwrap();
    let aalsmeer_postcode: String = s::postcodegebieden::table
        .filter(s::postcodegebieden::gemeentecode.eq("0358"))
        .select(s::postcodegebieden::pc4)
        .first(c)
        .unwrap();
    let person: String = p::rni_personen
        .select(p::burgerservicenummer)
        .first(c)
        .unwrap();
    let loonheffingennummer: String = s::uwv_werkgevers::table
        .select(s::uwv_werkgevers::loonheffingennummer)
        .first(c)
        .unwrap();
    Seeded {
        ams_address: (pc.unwrap(), hn.unwrap()),
        aalsmeer_person,
        aalsmeer_postcode: format!("{aalsmeer_postcode}AB"),
        person,
        loonheffingennummer,
    }
}

/// A valid signal from Amsterdam to NLA.
fn melding() -> Value {
    json!({
        "ontvanger": "nla",
        "soort": "melding",
        "omschrijving": "Twaalf arbeidskrachten op één adres.",
        "urgent": false,
        "adres": { "postcode": "1012AB", "huisnummer": 12, "huisletter": "a", "huisnummertoevoeging": "2" },
        "burgerservicenummers": ["111222333"],
        "werkgever": { "loonheffingennummer": "123456782L01", "kvkNummer": "69599084", "naam": "De Schakel B.V." },
    })
}

fn verblijfsadres(postcode: &str) -> Value {
    json!({
        "straat": "Dorpsstraat", "huisnummer": 3, "huisletter": "b", "huisnummertoevoeging": "1",
        "postcode": postcode, "woonplaats": "Aalsmeer", "datumAanvang": "2026-01-01",
    })
}

fn zoek_naam() -> Value {
    json!({
        "type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": "Kowalski",
        "geboortedatum": "1990-01-01", "voornamen": "Jan", "voorvoegsel": "van",
        "fields": ["burgerservicenummer", "naam"],
    })
}

fn zoek_postcode(pc: &str, hn: i32) -> Value {
    json!({
        "type": "ZoekMetPostcodeEnHuisnummer", "postcode": pc, "huisnummer": hn,
        "huisletter": "a", "huisnummertoevoeging": "1", "fields": ["burgerservicenummer", "naam"],
    })
}

fn raadpleeg(bsn: &str) -> Value {
    json!({
        "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn],
        "fields": ["burgerservicenummer", "naam"],
    })
}

/// Sends a signal and returns its id.
async fn a_signal(app: &TestApp) -> String {
    let a = send(
        app,
        &Call::new(
            "gemeente-0363",
            "signaal-melding",
            Method::POST,
            "/api/v1/signalen",
        )
        .json(melding()),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.text);
    a.body["id"].as_str().unwrap().to_owned()
}

// --- bodies ----------------------------------------------------------------------------------

/// Every route that takes a body: (who, activity, method, path, a valid body).
fn body_routes(
    d: &Seeded,
    signal: &str,
) -> Vec<(&'static str, &'static str, Method, String, Value)> {
    vec![
        (
            "nla",
            "rni-raadplegen",
            Method::POST,
            "/haalcentraal/api/brp/personen".into(),
            raadpleeg(&d.person),
        ),
        (
            "gemeente-0358",
            "rni-verblijfsadres-wijziging",
            Method::PUT,
            format!("/api/v1/rni/personen/{}/verblijfsadres", d.aalsmeer_person),
            verblijfsadres(&d.aalsmeer_postcode),
        ),
        (
            "gemeente-0363",
            "signaal-melding",
            Method::POST,
            "/api/v1/signalen".into(),
            melding(),
        ),
        (
            "nla",
            "signaal-melding",
            Method::POST,
            format!("/api/v1/signalen/{signal}/status"),
            json!({"status": "in-behandeling", "reden": "Opgepakt."}),
        ),
    ]
}

/// `body` with two bytes that are not UTF-8 at the start of its first string value.
fn invalid_utf8(body: &Value) -> Vec<u8> {
    let text = body.to_string();
    let at = text.find("\":\"").expect("a string member") + 3;
    let bytes = text.as_bytes();
    [&bytes[..at], &[0xff, 0xfe], &bytes[at..]].concat()
}

/// `body` with one member repeated (at the top and inside the first nested object).
fn with_duplicates(body: &Value) -> Vec<Vec<u8>> {
    let text = body.to_string();
    let Value::Object(map) = body else {
        unreachable!()
    };
    let (name, value) = map.iter().next().unwrap();
    let top = format!("{{\"{name}\":{value},{}", &text[1..]);
    let mut out = vec![top.into_bytes()];
    if let Some((nested, inner)) = map.iter().find(|(_, v)| v.is_object()) {
        let (iname, ivalue) = inner.as_object().unwrap().iter().next().unwrap();
        let inner_text = inner.to_string();
        let doubled = format!("{{\"{iname}\":{ivalue},{}", &inner_text[1..]);
        out.push(
            text.replacen(
                &format!("\"{nested}\":{inner_text}"),
                &format!("\"{nested}\":{doubled}"),
                1,
            )
            .into_bytes(),
        );
    }
    out
}

async fn malformed_bodies(backend: Backend) {
    let app = app(backend).await;
    let d = seeded(&app);
    let signal = a_signal(&app).await;
    // Each valid body is accepted: every refusal below is for what was changed in it.
    for (who, activity, method, path, valid) in body_routes(&d, &signal) {
        let call = Call::new(who, activity, method.clone(), &path).json(valid);
        let ok = send(&app, &call).await;
        assert!(
            ok.status < 300,
            "{method} {path}: the valid body: {}",
            ok.text
        );
    }
    let before = fingerprint(&app);
    let limit = app.settings.server.body_limit_bytes;
    let mut cases = 0;
    for (who, activity, method, path, valid) in body_routes(&d, &signal) {
        let json = "application/json";
        let mut bodies: Vec<(String, Vec<u8>, &str, u16)> = vec![
            ("over the limit".into(), vec![b' '; limit + 1], json, 413),
            ("not JSON".into(), b"{'type': 1".to_vec(), json, 400),
            ("empty".into(), Vec::new(), json, 400),
            ("an array".into(), b"[]".to_vec(), json, 400),
            ("a string".into(), b"\"x\"".to_vec(), json, 400),
            (
                "nested 100,000 deep".into(),
                format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
                json,
                400,
            ),
            (
                "objects nested 10,000 deep".into(),
                format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
                json,
                400,
            ),
            (
                "invalid UTF-8 in a string".into(),
                invalid_utf8(&valid),
                json,
                400,
            ),
            (
                "a lone surrogate escape".into(),
                valid
                    .to_string()
                    .replacen("\":\"", "\":\"\\ud800", 1)
                    .into_bytes(),
                json,
                400,
            ),
            (
                "form-encoded".into(),
                b"type=x".to_vec(),
                "application/x-www-form-urlencoded",
                415,
            ),
        ];
        for (i, dup) in with_duplicates(&valid).into_iter().enumerate() {
            bodies.push((format!("a member name twice (#{i})"), dup, json, 400));
        }
        for (case, bytes, content_type, expected) in bodies {
            let case = format!("{method} {path}: {case}");
            let a = send(
                &app,
                &Call::new(who, activity, method.clone(), &path).bytes(bytes, content_type),
            )
            .await;
            assert_refused(&a, &case);
            assert_eq!(a.status, expected, "{case}: {}", a.text);
            cases += 1;
        }
        // A chunked body over the limit (no Content-Length to refuse it by): still 413.
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: {activity}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        .into_bytes();
        for _ in 0..=limit / 4096 {
            request.extend(b"1000\r\n");
            request.extend([b' '; 4096]);
            request.extend(b"\r\n");
        }
        request.extend(b"0\r\n\r\n");
        let answer = raw::exchange(&app, who, &request).await;
        assert_eq!(
            raw::statuses(&answer),
            [413],
            "{path}: chunked over the limit: {answer}"
        );
        assert!(answer.contains("application/problem+json"), "{answer}");
        cases += 1;
    }
    // The audit API's one body (over HTTP/2: on HTTP/1.1 the gateway answers 413 and closes
    // while the client is still writing, which the client reports as a broken pipe).
    let token = audit_token(&app);
    let mut h2 = common::no_client_cert_config(&app.certs().join("ca.pem"));
    h2.alpn_protocols = vec![b"h2".to_vec()];
    let h2 = reqwest::Client::builder()
        .use_preconfigured_tls(h2)
        .build()
        .unwrap();
    for (bytes, expected) in [
        (vec![b' '; limit + 1], 413),
        (
            br#"{"burgerservicenummer":"999993653","burgerservicenummer":"111222333"}"#.to_vec(),
            400,
        ),
        (
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            400,
        ),
    ] {
        let a = answer(
            h2.post(app.audit_url("/audit/v1/inzage"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(bytes),
        )
        .await;
        assert!(a.status == expected, "inzage: {} {}", a.status, a.text);
        assert_eq!(a.content_type.as_deref(), Some("application/problem+json"));
        cases += 1;
    }
    assert_same(&fingerprint(&app), &before, "a refused body");
    println!("malformed bodies: {cases} cases refused, data unchanged");
    app.stop().await;
}

fn audit_token(app: &TestApp) -> String {
    doelpoort::audit::token::DevIssuer::load(&app.settings.disclosure.keys_dir, false)
        .unwrap()
        .issue(
            &doelpoort::domain::Oin::parse("99000000000103630000").unwrap(),
            doelpoort::audit::token::Role::PrivacyOfficer,
            10,
            "doelpoort-audit",
        )
        .unwrap()
}

on_both_backends!(malformed_bodies);

// --- paths, queries, BSNs --------------------------------------------------------------------

async fn paths_and_queries(backend: Backend) {
    let app = app(backend).await;
    let d = seeded(&app);
    let signal = a_signal(&app).await;
    let before = fingerprint(&app);
    let (pc, hn) = &d.ams_address;
    let ams = |activity, path: String| Call::new("gemeente-0363", activity, Method::GET, &path);
    let nla = |activity, path: String| Call::new("nla", activity, Method::GET, &path);
    let calls = vec![
        // Invalid UTF-8 (percent-encoded) in paths and queries.
        ams("rni-adresoverzicht", format!("/api/v1/rni/adressen/%ff%fe/{hn}")),
        ams("rni-adresoverzicht", format!("/api/v1/rni/adressen/{pc}/%c0%af")),
        ams("rni-adresoverzicht", format!("/api/v1/rni/adressen/{pc}/{hn}?huisletter=%ff")),
        ams("rni-telling", "/api/v1/rni/tellingen?postcode=%ed%a0%80".into()),
        ams("rni-telling", "/api/v1/rni/tellingen?volgende=%ff%ff".into()),
        ams("signaal-melding", "/api/v1/signalen/%ff".into()),
        ams("signaal-melding", "/api/v1/signalen?status=%c3%28".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=%ff%fe%fd".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?loonheffingennummer=%80".into()),
        nla("svb-uitkeringen", "/api/v1/svb/uitkeringen?bsn=%00".into()),
        ams("uwv-werk-inkomen", "/api/v1/uwv/werk-inkomen?bsn=99999%ff".into()),
        Call::new("gemeente-0358", "rni-contactgegevens", Method::GET, "/api/v1/rni/contactgegevens?postcode=%fe"),
        // Traversal, plain and encoded.
        ams("rni-telling", "/api/v1/rni/../../../etc/passwd".into()),
        ams("rni-telling", "/api/v1/rni/%2e%2e/%2e%2e/%2e%2e/etc/passwd".into()),
        ams("rni-telling", "/api/v1/rni/tellingen/..%2f..%2f..%2fetc%2fpasswd".into()),
        ams("rni-adresoverzicht", format!("/api/v1/rni/adressen/..%2f..%2fetc/{hn}")),
        ams("rni-adresoverzicht", "/api/v1/rni/adressen/%2e%2e/%2e%2e".into()),
        ams("signaal-melding", "/api/v1/signalen/..%2f..%2fopenapi.json".into()),
        ams("signaal-melding", format!("/api/v1/signalen/{signal}%2f..%2f..%2f")),
        ams("rni-telling", "/%2e%2e%5c%2e%2e%5cwindows%5cwin.ini".into()),
        ams("rni-telling", "/api/v1/rni/tellingen%00.json".into()),
        ams("rni-telling", "//api//v1//rni//tellingen".into()),
        // BSNs failing the elfproef, wherever a BSN goes.
        nla("uwv-dienstverbanden", format!("/api/v1/uwv/dienstverbanden?bsn={BAD_BSN}")),
        nla("svb-uitkeringen", format!("/api/v1/svb/uitkeringen?bsn={BAD_BSN}")),
        ams("uwv-werk-inkomen", format!("/api/v1/uwv/werk-inkomen?bsn={BAD_BSN}")),
        Call::new("gemeente-0358", "rni-verblijfsadres-wijziging", Method::PUT, &format!("/api/v1/rni/personen/{BAD_BSN}/verblijfsadres"))
            .json(verblijfsadres(&d.aalsmeer_postcode)),
        Call::new("nla", "rni-raadplegen", Method::POST, "/haalcentraal/api/brp/personen").json(raadpleeg(BAD_BSN)),
        Call::new("gemeente-0363", "signaal-melding", Method::POST, "/api/v1/signalen")
            .json({ let mut m = melding(); m["burgerservicenummers"] = json!(["111222333", BAD_BSN]); m }),
        // Other numbers that are not BSNs.
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=000000000".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=12345678".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=1234567890".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96%EF%BC%97%EF%BC%98%EF%BC%92".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=+11222333".into()),
        nla("uwv-dienstverbanden", "/api/v1/uwv/dienstverbanden?bsn=111222333&bsn=123456782".into()),
    ];
    let mut elfproef = 0;
    for call in &calls {
        let case = format!("{} {}", call.method, call.path);
        let a = send(&app, call).await;
        assert_refused(&a, &case);
        assert!(!a.text.contains("root:"), "{case}: a file was served");
        if call.path.contains(BAD_BSN)
            || matches!(&call.body, Some(Body::Json(b)) if b.to_string().contains(BAD_BSN))
        {
            assert_eq!(
                (a.status, a.body["code"].as_str()),
                (400, Some("paramsValidation")),
                "{case}"
            );
            assert!(!a.text.contains(BAD_BSN), "{case}: the BSN is echoed");
            elfproef += 1;
        }
    }
    // The audit API: a BSN failing the elfproef, odd filters.
    let token = audit_token(&app);
    let audit = |path: &str| {
        app.anonymous_client()
            .get(app.audit_url(path))
            .bearer_auth(&token)
    };
    for path in [
        "/audit/v1/disclosures?from=%ff",
        "/audit/v1/disclosures?requester=%c0%af",
        "/audit/v1/disclosures?cursor=..%2f..%2f",
        "/audit/v1/disclosures?limit=-1",
        "/audit/v1/disclosures?limit=99999999999999999999",
        "/audit/v1/stats?group_by=%ff",
        "/audit/v1/../../../etc/passwd",
        "/audit/ui/..%2f..%2f..%2fCargo.toml",
        "/audit/ui/%2e%2e/%2e%2e/src/main.rs",
    ] {
        let a = answer(audit(path)).await;
        assert!(
            (400..500).contains(&a.status),
            "{path}: {} {}",
            a.status,
            a.text
        );
        assert_eq!(
            a.content_type.as_deref(),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(
            !a.text.contains("[package]") && !a.text.contains("fn main"),
            "{path}"
        );
    }
    let a = answer(
        app.anonymous_client()
            .post(app.audit_url("/audit/v1/inzage"))
            .bearer_auth(&token)
            .json(&json!({ "burgerservicenummer": BAD_BSN })),
    )
    .await;
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("paramsValidation")),
        "{}",
        a.text
    );
    assert_same(&fingerprint(&app), &before, "a refused request");
    println!(
        "paths and queries: {} requests refused ({elfproef} failing the elfproef), data unchanged",
        calls.len() + 10
    );
    app.stop().await;
}

on_both_backends!(paths_and_queries);

// --- SQL metacharacters ----------------------------------------------------------------------

const SQL: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE rni_personen; --",
    "\" OR \"\"=\"",
    "0363' UNION SELECT burgerservicenummer FROM rni_personen --",
    "1 OR 1=1",
    "%",
    "_",
    "\\",
    "'||(SELECT pg_sleep(3))||'",
    "1); DELETE FROM signalen; --",
    "$1",
    "?",
    "*/ /*",
    "\u{0}",
];

/// Percent-encodes every byte but letters and digits.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `value` with the string at `pointer` replaced by `payload`.
fn set(value: &Value, pointer: &str, payload: &str) -> Value {
    let mut v = value.clone();
    *v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = json!(payload);
    v
}

/// Every string field of every data endpoint, each with `p` in it.
fn injections(d: &Seeded, signal: &str, p: &str) -> Vec<Call> {
    let e = enc(p);
    let (pc, hn) = &d.ams_address;
    let lhn = &d.loonheffingennummer;
    let ams = |activity, path: String| Call::new("gemeente-0363", activity, Method::GET, &path);
    let nla = |activity, path: String| Call::new("nla", activity, Method::GET, &path);
    let abo = |path: String| Call::new("gemeente-0358", "rni-contactgegevens", Method::GET, &path);
    let put = |path: &str, body: Value| {
        Call::new(
            "gemeente-0358",
            "rni-verblijfsadres-wijziging",
            Method::PUT,
            path,
        )
        .json(body)
    };
    let hc = |body: Value| {
        Call::new(
            "nla",
            "rni-raadplegen",
            Method::POST,
            "/haalcentraal/api/brp/personen",
        )
        .json(body)
    };
    let sig = |body: Value| {
        Call::new(
            "gemeente-0363",
            "signaal-melding",
            Method::POST,
            "/api/v1/signalen",
        )
        .json(body)
    };
    let status = |path: String, body: Value| {
        Call::new("nla", "signaal-melding", Method::POST, &path).json(body)
    };
    let person_path = format!("/api/v1/rni/personen/{}/verblijfsadres", d.aalsmeer_person);
    let adres = verblijfsadres(&d.aalsmeer_postcode);
    let mut calls = vec![
        ams("rni-telling", format!("/api/v1/rni/tellingen?postcode={e}")),
        ams("rni-telling", format!("/api/v1/rni/tellingen?volgende={e}")),
        ams(
            "rni-adresoverzicht",
            format!("/api/v1/rni/adressen/{e}/{hn}"),
        ),
        ams(
            "rni-adresoverzicht",
            format!("/api/v1/rni/adressen/{pc}/{e}"),
        ),
        ams(
            "rni-adresoverzicht",
            format!("/api/v1/rni/adressen/{pc}/{hn}?huisletter={e}"),
        ),
        ams(
            "rni-adresoverzicht",
            format!("/api/v1/rni/adressen/{pc}/{hn}?toevoeging={e}"),
        ),
        abo(format!("/api/v1/rni/contactgegevens?postcode={e}")),
        abo(format!(
            "/api/v1/rni/contactgegevens?postcode={}&huisnummer={e}",
            d.aalsmeer_postcode
        )),
        put(
            &format!("/api/v1/rni/personen/{e}/verblijfsadres"),
            adres.clone(),
        ),
        hc(set(&raadpleeg(&d.person), "/type", p)),
        hc(set(&raadpleeg(&d.person), "/burgerservicenummer/0", p)),
        hc(set(&raadpleeg(&d.person), "/fields/0", p)),
        hc(set(&zoek_postcode(pc, *hn), "/postcode", p)),
        hc(set(&zoek_postcode(pc, *hn), "/huisletter", p)),
        hc(set(&zoek_postcode(pc, *hn), "/huisnummertoevoeging", p)),
        hc(set(&zoek_naam(), "/geslachtsnaam", p)),
        hc(set(&zoek_naam(), "/geboortedatum", p)),
        hc(set(&zoek_naam(), "/voornamen", p)),
        hc(set(&zoek_naam(), "/voorvoegsel", p)),
        nla(
            "uwv-dienstverbanden",
            format!("/api/v1/uwv/dienstverbanden?bsn={e}"),
        ),
        nla(
            "uwv-dienstverbanden",
            format!("/api/v1/uwv/dienstverbanden?loonheffingennummer={e}"),
        ),
        nla(
            "uwv-dienstverbanden",
            format!("/api/v1/uwv/dienstverbanden?loonheffingennummer={lhn}&volgende={e}"),
        ),
        ams(
            "uwv-werk-inkomen",
            format!("/api/v1/uwv/werk-inkomen?bsn={e}"),
        ),
        nla(
            "svb-uitkeringen",
            format!("/api/v1/svb/uitkeringen?bsn={e}"),
        ),
        sig(set(&melding(), "/ontvanger", p)),
        sig(set(&melding(), "/soort", p)),
        sig(set(&melding(), "/adres/postcode", p)),
        sig(set(&melding(), "/adres/huisletter", p)),
        sig(set(&melding(), "/adres/huisnummertoevoeging", p)),
        sig(set(&melding(), "/burgerservicenummers/0", p)),
        sig(set(&melding(), "/werkgever/loonheffingennummer", p)),
        sig(set(&melding(), "/werkgever/kvkNummer", p)),
        ams("signaal-melding", format!("/api/v1/signalen?map={e}")),
        ams("signaal-melding", format!("/api/v1/signalen?status={e}")),
        ams("signaal-melding", format!("/api/v1/signalen?aantal={e}")),
        ams("signaal-melding", format!("/api/v1/signalen?volgende={e}")),
        ams("signaal-melding", format!("/api/v1/signalen/{e}")),
        status(
            format!("/api/v1/signalen/{e}/status"),
            json!({"status": "in-behandeling", "reden": "x"}),
        ),
        status(
            format!("/api/v1/signalen/{signal}/status"),
            json!({"status": p, "reden": "x"}),
        ),
        status(
            format!("/api/v1/signalen/{signal}/status"),
            json!({"status": "afgesloten", "reden": "x", "uitkomst": p}),
        ),
        status(
            format!("/api/v1/signalen/{signal}/status"),
            json!({"status": "in-behandeling", "reden": p}),
        ),
        // Free text: may be stored, as text.
        sig(set(&melding(), "/omschrijving", p)),
        sig(set(&melding(), "/werkgever/naam", p)),
        put(&person_path, set(&adres, "/straat", p)),
        put(&person_path, set(&adres, "/woonplaats", p)),
        put(&person_path, set(&adres, "/huisletter", p)),
        put(&person_path, set(&adres, "/huisnummertoevoeging", p)),
        put(&person_path, set(&adres, "/postcode", p)),
        put(&person_path, set(&adres, "/datumAanvang", p)),
    ];
    if !p.contains('\u{0}') {
        // Header values (NUL cannot be sent in one).
        calls.push(ams("rni-telling", "/api/v1/rni/tellingen".into()).activity(p));
        calls.push(
            nla(
                "uwv-dienstverbanden",
                format!("/api/v1/uwv/dienstverbanden?bsn={}", d.person),
            )
            .header(CASE, p),
        );
        calls.push(ams("rni-telling", "/api/v1/rni/tellingen".into()).header("traceparent", p));
    }
    calls
}

/// Free-text fields that may legitimately take the payload: (route, field).
fn free_text(call: &Call) -> bool {
    if call.headers.iter().any(|(n, _)| n == CASE) {
        return true; // a zaakkenmerk is the caller's own text
    }
    if call.headers.iter().any(|(n, _)| n == "traceparent") {
        return true; // a malformed traceparent is ignored (a new trace is started)
    }
    let Some(Body::Json(b)) = &call.body else {
        return false;
    };
    let s = b.to_string();
    SQL.iter().any(|p| {
        let p = json!(p).to_string();
        s.contains(&format!("\"omschrijving\":{p}"))
            || s.contains(&format!("\"naam\":{p}"))
            || s.contains(&format!("\"straat\":{p}"))
            || s.contains(&format!("\"woonplaats\":{p}"))
            || s.contains(&format!("\"reden\":{p}"))
    })
}

async fn sql_metacharacters_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let d = seeded(&app);
    let signal = a_signal(&app).await;
    let before = fingerprint(&app);
    let mut sent = 0;
    let mut stored = 0;
    let mut slowest = Duration::ZERO;
    for p in SQL {
        for call in injections(&d, &signal, p) {
            let case = format!("{} {} with {p:?}", call.method, call.path);
            let a = send(&app, &call).await;
            sent += 1;
            slowest = slowest.max(a.elapsed);
            assert!(
                a.elapsed < Duration::from_secs(2),
                "{case}: took {:?}",
                a.elapsed
            );
            assert_not_failed(&a, &case);
            if a.status < 400 {
                assert!(free_text(&call), "{case}: accepted ({})", a.text);
                stored += 1;
                // Stored as the text it is.
                if call.path == "/api/v1/signalen" {
                    let id = a.body["id"].as_str().unwrap();
                    let read = send(
                        &app,
                        &Call::new(
                            "nla",
                            "signaal-melding",
                            Method::GET,
                            &format!("/api/v1/signalen/{id}"),
                        ),
                    )
                    .await;
                    assert_eq!(read.status, 200, "{}", read.text);
                    let Some(Body::Json(b)) = &call.body else {
                        unreachable!()
                    };
                    assert_eq!(read.body["omschrijving"], b["omschrijving"], "{case}");
                    assert_eq!(
                        read.body["werkgever"]["naam"], b["werkgever"]["naam"],
                        "{case}"
                    );
                }
            }
        }
    }
    // What may differ: the signals stored and the stay address written (with its history),
    // all of it the payload as text. Everything else is as it was.
    let after = fingerprint(&app);
    let others = |f: &Fingerprint| -> Vec<RniPersoon> {
        f.personen
            .iter()
            .filter(|p| p.burgerservicenummer != d.aalsmeer_person)
            .cloned()
            .collect()
    };
    assert!(others(&after) == others(&before), "an RNI person changed");
    for ((table, b), (_, a)) in before.rows.iter().zip(&after.rows) {
        match *table {
            "signalen"
            | "signaal_betrokkenen"
            | "signaal_statussen"
            | "rni_verblijfsadres_historie" => {
                assert!(a >= b, "{table}: rows went missing")
            }
            _ => assert_eq!(a, b, "{table}"),
        }
    }
    let original = before
        .personen
        .iter()
        .find(|p| p.burgerservicenummer == d.aalsmeer_person)
        .map(|p| [p.verblijf_straat.clone(), p.verblijf_woonplaats.clone()])
        .unwrap();
    let target = after
        .personen
        .iter()
        .find(|p| p.burgerservicenummer == d.aalsmeer_person)
        .unwrap();
    for written in [&target.verblijf_straat, &target.verblijf_woonplaats] {
        let written = written.as_deref().unwrap_or_default();
        assert!(
            ["Dorpsstraat", "Aalsmeer"].contains(&written)
                || SQL.contains(&written)
                || original.contains(&Some(written.to_owned())),
            "the stay address holds something else: {written:?}"
        );
    }
    println!(
        "SQL metacharacters: {sent} requests ({} payloads), {stored} stored as text, the rest refused; slowest {slowest:?}; data unchanged",
        SQL.len()
    );
    app.stop().await;
}

on_both_backends!(sql_metacharacters_change_nothing);

// --- headers ---------------------------------------------------------------------------------

async fn header_oddities(backend: Backend) {
    let app = app(backend).await;
    let before = fingerprint(&app);
    let tellingen = || Call::new("gemeente-0363", "", Method::GET, "/api/v1/rni/tellingen");
    let cases: Vec<(&str, Call)> = vec![
        ("no activity", tellingen()),
        ("whitespace activity", tellingen().activity("   ")),
        (
            "another activity",
            tellingen().activity("rni-adresoverzicht"),
        ),
        (
            "an activity of another organisation",
            tellingen().activity("uwv-dienstverbanden"),
        ),
        ("upper case", tellingen().activity("RNI-TELLING")),
        (
            "two in one",
            tellingen().activity("rni-telling, rni-adresoverzicht"),
        ),
        ("a BSN", tellingen().activity("999993653")),
        ("8 kB", tellingen().activity(&"a".repeat(8192))),
        (
            "a register URI",
            tellingen().activity("https://doelpoort/register/rni-telling"),
        ),
        ("a path", tellingen().activity("../rni-telling")),
        (
            "the header twice, the right one first",
            tellingen()
                .activity("rni-telling")
                .header(ACT, "uwv-dienstverbanden"),
        ),
        (
            "the header twice, the right one last",
            tellingen()
                .activity("uwv-dienstverbanden")
                .header(ACT, "rni-telling"),
        ),
        (
            "the header twice, the same",
            tellingen()
                .activity("rni-telling")
                .header(ACT, "rni-telling"),
        ),
        (
            "a case reference of 10 kB",
            Call::new(
                "nla",
                "uwv-dienstverbanden",
                Method::GET,
                "/api/v1/uwv/dienstverbanden?bsn=111222333",
            )
            .header(CASE, &"x".repeat(10_000)),
        ),
        (
            "two case references",
            Call::new(
                "nla",
                "uwv-dienstverbanden",
                Method::GET,
                "/api/v1/uwv/dienstverbanden?bsn=111222333",
            )
            .header(CASE, "NLA-1")
            .header(CASE, "NLA-2"),
        ),
        (
            "a 60 kB header",
            tellingen().header("x-opvulling", &"y".repeat(60_000)),
        ),
    ];
    for (case, call) in cases {
        let a = send(&app, &call).await;
        if case == "a 60 kB header" {
            // No activity named either: refused for that, the header itself is fine.
            assert_eq!(a.body["code"], "missingProcessingActivity", "{case}");
        }
        if case.starts_with("the header twice") || case == "two case references" {
            assert_eq!(
                (a.status, a.body["code"].as_str()),
                (400, Some("paramsValidation")),
                "{case}"
            );
        }
        assert_refused(&a, case);
    }
    // Non-ASCII bytes in the activity (obs-text), CR/LF and other raw oddities.
    let raws: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "obs-text in the activity",
            b"GET /api/v1/rni/tellingen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: rni-t\xe9lling\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a bare CR inside a header value",
            b"GET /api/v1/rni/tellingen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: rni-telling\rX-Injected: 1\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a NUL in a header value",
            b"GET /api/v1/rni/tellingen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: rni\x00telling\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a header folded onto the next line",
            b"GET /api/v1/rni/tellingen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: rni-\r\n telling\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a space before the colon",
            b"GET /api/v1/rni/tellingen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity : rni-telling\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "CR/LF in the request target",
            b"GET /api/v1/rni/tellingen?x=1\r\nX-Processing-Activity: rni-telling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "200 headers",
            {
                let mut r = b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\n".to_vec();
                for i in 0..200 {
                    r.extend(format!("X-Veel-{i}: {i}\r\n").as_bytes());
                }
                r.extend(b"Connection: close\r\n\r\n");
                r
            },
            431,
        ),
        (
            "a 200 kB header",
            [
                &b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nX-Groot: "[..],
                &vec![b'z'; 200_000][..],
                &b"\r\nConnection: close\r\n\r\n"[..],
            ]
            .concat(),
            431,
        ),
    ];
    for (case, bytes, expected) in raws {
        let answer = raw::exchange(&app, "gemeente-0363", &bytes).await;
        let statuses = raw::statuses(&answer);
        assert!(!statuses.is_empty(), "{case}: no answer");
        assert!(
            statuses.iter().all(|s| (400..500).contains(s)),
            "{case}: {answer}"
        );
        if expected != 0 {
            assert_eq!(statuses[0], expected, "{case}: {answer}");
        }
        assert!(
            !answer.contains("X-Injected"),
            "{case}: a header was injected"
        );
    }
    assert_same(&fingerprint(&app), &before, "refused headers");
    app.stop().await;
}

on_both_backends!(header_oddities);

// --- smuggling -------------------------------------------------------------------------------

/// A request whose framing two parsers could read differently, with a second request hidden
/// in what one of them would take for the body. The gateway must answer one 400 and close.
#[tokio::test]
async fn request_smuggling_is_refused_by_the_parser() {
    let app = app(Backend::Sqlite).await;
    let before = fingerprint(&app);
    let hidden = "GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let head = "POST /api/v1/signalen HTTP/1.1\r\nHost: localhost\r\nX-Processing-Activity: signaal-melding\r\nContent-Type: application/json\r\n";
    let cases: Vec<(&str, String)> = vec![
        (
            "Content-Length and Transfer-Encoding (CL.TE)",
            format!("{head}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}"),
        ),
        (
            "Transfer-Encoding and Content-Length (TE.CL)",
            format!("{head}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n{hidden}\r\n0\r\n\r\n"),
        ),
        (
            "two different Content-Lengths",
            format!("{head}Content-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}", hidden.len()),
        ),
        (
            "two equal Content-Lengths",
            format!("{head}Content-Length: {0}\r\nContent-Length: {0}\r\n\r\n{hidden}", hidden.len()),
        ),
        (
            "a list in Content-Length",
            format!("{head}Content-Length: 0, {}\r\n\r\n{hidden}", hidden.len()),
        ),
        ("a signed Content-Length", format!("{head}Content-Length: +0\r\n\r\n{hidden}")),
        ("a Content-Length that is not a number", format!("{head}Content-Length: abc\r\n\r\n{hidden}")),
        (
            "Transfer-Encoding twice",
            format!("{head}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}"),
        ),
        (
            "Transfer-Encoding that is not chunked last",
            format!("{head}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{hidden}"),
        ),
        (
            "an obfuscated Transfer-Encoding",
            format!("{head}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{hidden}"),
        ),
        (
            "a tab before the Transfer-Encoding value",
            format!("{head}Content-Length: 0\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n{hidden}"),
        ),
        (
            "a chunk size that overflows",
            format!("{head}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff1\r\n{hidden}\r\n0\r\n\r\n"),
        ),
    ];
    let mut by_parser = 0;
    for (case, request) in &cases {
        let answer = raw::exchange(&app, "gemeente-0363", request.as_bytes()).await;
        let statuses = raw::statuses(&answer);
        assert!(
            !answer.contains("\"oin\""),
            "{case}: the hidden request was answered"
        );
        if statuses.is_empty() {
            // A head that parsed and a body that did not (a chunk size past u64): the
            // connection is closed unanswered, and the parser's refusal counted.
            assert!(case.contains("chunk size"), "{case}: no answer");
            by_parser += 1;
            continue;
        }
        assert_eq!(statuses.len(), 1, "{case}: {answer}");
        assert!((400..500).contains(&statuses[0]), "{case}: {answer}");
        if answer.contains("application/problem+json") {
            // Framed fine, refused by the app: logged with its request id.
            let id = answer
                .lines()
                .find_map(|l| l.strip_prefix("x-request-id: "))
                .unwrap_or_else(|| panic!("{case}: no request id: {answer}"));
            assert!(
                common::logs::text()
                    .lines()
                    .any(|l| l.contains(id.trim()) && l.contains("request refused")),
                "{case}: not logged"
            );
        } else {
            by_parser += 1;
        }
    }
    assert!(by_parser > 0, "the parser refused none");
    let status = raw::exchange(
        &app,
        "gemeente-0363",
        b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        raw::statuses(&status),
        [200],
        "the gateway after the smuggling: {status}"
    );
    println!(
        "smuggling: {} framings, each answered once with a 4xx or closed ({by_parser} by the HTTP parser, the rest problem+json); no hidden request answered",
        cases.len()
    );
    assert_same(&fingerprint(&app), &before, "refused headers");
    app.stop().await;
}
