//! Isolation, as a generated matrix over the real gateway (mTLS data listener, JWT audit
//! listener), on both backends: every organisation with a certificate (gemeenten with and
//! without the ABO experiment, UWV, SVB, NLA, RvIG, the supervisor, an unregistered OIN) ×
//! every territory-bound data endpoint × parameters pointing at each other gemeente's
//! territory, persons and inhabitants, and at other organisations' signals × header variations
//! (another processing activity, spoofed identity and forwarding headers, which must change
//! nothing). Then every privacy officer × every audit endpoint and filter combination, plain
//! and with spoofed identity headers. Each answer must be a refusal, or hold only the caller's own data;
//! spoofed headers must not change the answer's status.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::audit::token::{DevIssuer, Role};
use doelpoort::domain::Oin;
use doelpoort::organisations::Registry;
use doelpoort::storage::schema as s;
use reqwest::Method;
use serde_json::{json, Value};

const ACT: &str = "x-processing-activity";
/// Gemeenten with a certificate: two outside the ABO experiment, two in it.
const GEMEENTEN: [&str; 4] = ["0363", "0599", "0606", "0358"];
/// Every client certificate of the dev PKI that passes the handshake.
const CALLERS: [&str; 10] = [
    "gemeente-0363",
    "gemeente-0599",
    "gemeente-0606",
    "gemeente-0358",
    "uwv",
    "svb",
    "nla",
    "rvig",
    "supervisor",
    "unknown-oin",
];

/// Headers a proxy or an attacker might add to claim another identity; the gateway takes
/// identity from the certificate only.
fn spoofs(victim_oin: &str, victim_code: &str) -> Vec<Vec<(&'static str, String)>> {
    vec![
        vec![],
        vec![
            ("x-forwarded-for", "10.0.0.1".into()),
            ("forwarded", format!("for=10.0.0.1;by={victim_oin}")),
            ("x-real-ip", "10.0.0.1".into()),
        ],
        vec![
            ("x-oin", victim_oin.into()),
            ("x-requester", victim_oin.into()),
            ("x-gemeentecode", victim_code.into()),
        ],
        vec![
            (
                "x-ssl-client-s-dn",
                format!("serialNumber={victim_oin},CN=spoof"),
            ),
            ("x-client-cert", format!("serialNumber={victim_oin}")),
            (
                "x-forwarded-client-cert",
                format!("Subject=\"serialNumber={victim_oin}\""),
            ),
        ],
    ]
}

fn registry() -> Registry {
    Registry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/organisations.toml"))
        .unwrap()
}

fn oin_of(alias: &str) -> String {
    if alias == "unknown-oin" {
        return doelpoort::pki::UNREGISTERED_OIN.into();
    }
    registry().find(alias).unwrap().oin.to_string()
}

fn gemeente_of(alias: &str) -> Option<&str> {
    alias.strip_prefix("gemeente-")
}

/// What the seed put in one gemeente.
struct Territory {
    code: &'static str,
    /// A stay address with RNI persons.
    address: (String, i32),
    pc4: BTreeSet<String>,
    /// An RNI person staying there.
    person: String,
    /// An inhabitant (ingezetene).
    inhabitant: Option<String>,
}

fn territory(app: &TestApp, code: &'static str) -> Territory {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let c = &mut *c;
    use s::rni_personen::dsl as p;
    let (person, pc, hn): (String, Option<String>, Option<i32>) = p::rni_personen
        .filter(p::verblijf_gemeentecode.eq(code))
        .order(p::burgerservicenummer)
        .select((
            p::burgerservicenummer,
            p::verblijf_postcode,
            p::verblijf_huisnummer,
        ))
        .first(c)
        .unwrap_or_else(|e| panic!("the seed gave {code} no RNI person: {e}"));
    let pc4 = s::postcodegebieden::table
        .filter(s::postcodegebieden::gemeentecode.eq(code))
        .select(s::postcodegebieden::pc4)
        .load::<String>(c)
        .unwrap()
        .into_iter()
        .collect();
    let inhabitant = s::ingezetenen::table
        .filter(s::ingezetenen::gemeentecode.eq(code))
        .select(s::ingezetenen::burgerservicenummer)
        .first::<String>(c)
        .ok();
    Territory {
        code,
        address: (pc.unwrap(), hn.unwrap()),
        pc4,
        person,
        inhabitant,
    }
}

/// Where each RNI person stays.
fn stays(app: &TestApp) -> HashMap<String, Option<String>> {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    use s::rni_personen::dsl as p;
    p::rni_personen
        .select((p::burgerservicenummer, p::verblijf_gemeentecode))
        .load::<(String, Option<String>)>(&mut *c)
        .unwrap()
        .into_iter()
        .collect()
}

struct Answer {
    status: u16,
    body: Value,
}

async fn data(
    app: &TestApp,
    who: &str,
    activity: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(&'static str, String)],
) -> Answer {
    let mut req = app
        .client(who)
        .request(method, app.data_url(path))
        .header(ACT, activity)
        .header("x-case-reference", "ISO-1");
    for (n, v) in headers {
        req = req.header(*n, v.as_str());
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    if status >= 400 {
        assert_eq!(ct.as_deref(), Some("application/problem+json"), "{path}");
    }
    assert!(status < 500, "{who} {path}: {status} {body}");
    Answer { status, body }
}

/// One data request of the matrix: who asks what, and how to judge a 2xx answer.
struct Case {
    who: &'static str,
    activity: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
    /// The gemeente whose data it points at (for the spoofed gemeentecode).
    target: &'static str,
    judge: Judge,
}

#[derive(Clone, Copy)]
enum Judge {
    /// A 2xx must hold only the caller's own gemeente (tellingen shape).
    OwnCounts,
    /// A 2xx may only name persons staying in the caller's gemeente (`personen[]`).
    OwnPersons,
    /// Must be refused.
    Refused,
    /// A signal read or list: the caller must be its sender or recipient.
    OwnSignals,
}

async fn send_signal(app: &TestApp, from: &str, to: &str) -> String {
    let res = app
        .client(from)
        .post(app.data_url("/api/v1/signalen"))
        .header(ACT, "signaal-melding")
        .json(&json!({
            "ontvanger": to, "soort": "melding", "omschrijving": format!("{from} aan {to}"),
            "burgerservicenummers": ["111222333"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{from} → {to}");
    let body: Value = res.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

fn party(signal: &Value, oin: &str) -> bool {
    signal.to_string().contains(oin)
}

async fn isolation_matrix(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.datasets.seed_persons = 3_000;
        common::lift_rate_limits(s);
    })
    .await;
    let territories: Vec<Territory> = GEMEENTEN.iter().map(|g| territory(&app, g)).collect();
    let stays = stays(&app);
    // Signals between others: (id, sender, recipient).
    let mut signals = Vec::new();
    for (from, to) in [
        ("gemeente-0363", "nla"),
        ("gemeente-0599", "nla"),
        ("nla", "gemeente-0606"),
        ("uwv", "svb"),
        ("gemeente-0358", "uwv"),
    ] {
        signals.push((send_signal(&app, from, to).await, from, to));
    }

    let mut cases: Vec<Case> = Vec::new();
    for who in CALLERS {
        let own = gemeente_of(who);
        for t in &territories {
            let foreign = own != Some(t.code);
            let (pc, hn) = &t.address;
            let pc4 = &pc[..4];
            let judge_reads = if foreign {
                Judge::Refused
            } else {
                Judge::OwnPersons
            };
            let mut add = |activity, method: Method, path: String, body: Option<Value>, judge| {
                cases.push(Case {
                    who,
                    activity,
                    method,
                    path,
                    body,
                    target: t.code,
                    judge,
                })
            };
            add(
                "rni-telling",
                Method::GET,
                format!("/api/v1/rni/tellingen?postcode={pc}"),
                None,
                if foreign {
                    Judge::Refused
                } else {
                    Judge::OwnCounts
                },
            );
            add(
                "rni-telling",
                Method::GET,
                format!("/api/v1/rni/tellingen?postcode={pc4}"),
                None,
                if foreign {
                    Judge::Refused
                } else {
                    Judge::OwnCounts
                },
            );
            add(
                "rni-adresoverzicht",
                Method::GET,
                format!("/api/v1/rni/adressen/{pc}/{hn}"),
                None,
                judge_reads,
            );
            add(
                "rni-contactgegevens",
                Method::GET,
                format!("/api/v1/rni/contactgegevens?postcode={pc}"),
                None,
                judge_reads,
            );
            add(
                "rni-contactgegevens",
                Method::GET,
                format!("/api/v1/rni/contactgegevens?postcode={pc}&huisnummer={hn}"),
                None,
                judge_reads,
            );
            // Writes: another gemeente's person, or moving one's own person into another
            // gemeente's territory: always refused (own writes are tests/abo.rs's).
            let adres = json!({"straat": "Kerkstraat", "huisnummer": 1, "postcode": format!("{pc4}XX"),
                "woonplaats": "Elders", "datumAanvang": "2026-01-01"});
            if foreign {
                add(
                    "rni-verblijfsadres-wijziging",
                    Method::PUT,
                    format!("/api/v1/rni/personen/{}/verblijfsadres", t.person),
                    Some(adres.clone()),
                    Judge::Refused,
                );
                if let Some(mine) = territories.iter().find(|m| Some(m.code) == own) {
                    add(
                        "rni-verblijfsadres-wijziging",
                        Method::PUT,
                        format!("/api/v1/rni/personen/{}/verblijfsadres", mine.person),
                        Some(adres),
                        Judge::Refused,
                    );
                }
                if let Some(inhabitant) = &t.inhabitant {
                    add(
                        "uwv-werk-inkomen",
                        Method::GET,
                        format!("/api/v1/uwv/werk-inkomen?bsn={inhabitant}"),
                        None,
                        Judge::Refused,
                    );
                }
                // An LAA signal to this gemeente about an address elsewhere.
                for other in territories.iter().filter(|o| o.code != t.code) {
                    let (opc, ohn) = &other.address;
                    add(
                        "laa-signaal",
                        Method::POST,
                        "/api/v1/signalen".into(),
                        Some(json!({
                            "ontvanger": format!("gemeente-{}", t.code), "soort": "laa-signaal",
                            "omschrijving": "Veel inschrijvingen", "adres": {"postcode": opc, "huisnummer": ohn},
                        })),
                        Judge::Refused,
                    );
                }
            }
            // The same reads under another activity than the route's.
            add(
                "rni-adresoverzicht",
                Method::GET,
                format!("/api/v1/rni/tellingen?postcode={pc}"),
                None,
                Judge::Refused,
            );
            add(
                "rni-telling",
                Method::GET,
                format!("/api/v1/rni/adressen/{pc}/{hn}"),
                None,
                Judge::Refused,
            );
            add(
                "uwv-dienstverbanden",
                Method::GET,
                format!("/api/v1/rni/contactgegevens?postcode={pc}"),
                None,
                Judge::Refused,
            );
        }
        // The whole gemeente's counts, unfiltered: only one's own.
        cases.push(Case {
            who,
            activity: "rni-telling",
            method: Method::GET,
            path: "/api/v1/rni/tellingen".into(),
            body: None,
            target: "0599",
            judge: Judge::OwnCounts,
        });
        // Other organisations' signals: read, move on, list.
        let me = oin_of(who);
        for (id, from, to) in &signals {
            let mine = *from == who || *to == who;
            let judge = if mine {
                Judge::OwnSignals
            } else {
                Judge::Refused
            };
            for activity in ["signaal-melding", "laa-signaal"] {
                cases.push(Case {
                    who,
                    activity,
                    method: Method::GET,
                    path: format!("/api/v1/signalen/{id}"),
                    body: None,
                    target: "0363",
                    judge,
                });
                if !mine {
                    cases.push(Case {
                        who,
                        activity,
                        method: Method::POST,
                        path: format!("/api/v1/signalen/{id}/status"),
                        body: Some(json!({"status": "afgesloten", "reden": "Niet van mij."})),
                        target: "0363",
                        judge: Judge::Refused,
                    });
                }
            }
        }
        for q in [
            "",
            "?map=inbox",
            "?map=outbox",
            "?map=outbox&status=ontvangen",
            "?aantal=100",
        ] {
            for activity in ["signaal-melding", "laa-signaal"] {
                cases.push(Case {
                    who,
                    activity,
                    method: Method::GET,
                    path: format!("/api/v1/signalen{q}"),
                    body: None,
                    target: "0363",
                    judge: Judge::OwnSignals,
                });
            }
        }
        let _ = me;
    }

    let mut requests = 0;
    let mut answered = 0;
    let mut refused = 0;
    for case in &cases {
        let victim = territories.iter().find(|t| t.code == case.target).unwrap();
        let victim_oin = oin_of(&format!("gemeente-{}", victim.code));
        let me = oin_of(case.who);
        let mut baseline = None;
        for headers in spoofs(&victim_oin, victim.code) {
            let a = data(
                &app,
                case.who,
                case.activity,
                case.method.clone(),
                &case.path,
                case.body.as_ref(),
                &headers,
            )
            .await;
            requests += 1;
            let what = format!(
                "{} {} {} [{}] {headers:?}",
                case.who, case.method, case.path, case.activity
            );
            let b = *baseline.get_or_insert(a.status);
            assert_eq!(a.status, b, "{what}: a spoofed header changed the answer");
            if a.status >= 400 {
                refused += 1;
                continue;
            }
            answered += 1;
            let own = gemeente_of(case.who);
            match case.judge {
                Judge::Refused => panic!("{what}: answered {} {}", a.status, a.body),
                Judge::OwnCounts => {
                    let own = own.unwrap_or_else(|| panic!("{what}: counts for a non-gemeente"));
                    assert_eq!(a.body["gemeentecode"], own, "{what}");
                    let mine = &territories.iter().find(|t| t.code == own).unwrap().pc4;
                    for adres in a.body["adressen"].as_array().unwrap() {
                        let pc = adres["postcode"].as_str().unwrap();
                        assert!(mine.contains(&pc[..4]), "{what}: {pc} is not {own}'s");
                    }
                }
                Judge::OwnPersons => {
                    let own = own.unwrap_or_else(|| panic!("{what}: persons for a non-gemeente"));
                    for p in a.body["personen"].as_array().into_iter().flatten() {
                        let bsn = p["burgerservicenummer"].as_str().unwrap();
                        assert_eq!(
                            stays[bsn].as_deref(),
                            Some(own),
                            "{what}: {bsn} stays elsewhere"
                        );
                    }
                }
                Judge::OwnSignals => {
                    let list = match a.body["signalen"].as_array() {
                        Some(list) => list.clone(),
                        None => vec![a.body.clone()],
                    };
                    for s in &list {
                        assert!(party(s, &me), "{what}: a signal of others: {s}");
                    }
                }
            }
        }
    }

    // The audit API: every privacy officer, every endpoint and filter, with spoofed headers.
    let dev = DevIssuer::load(&app.settings.disclosure.keys_dir, false).unwrap();
    let oins: Vec<String> = CALLERS.iter().map(|c| oin_of(c)).collect();
    let persons: Vec<&str> = territories.iter().map(|t| t.person.as_str()).collect();
    let mut audit_requests = 0;
    for who in CALLERS.iter().filter(|c| **c != "unknown-oin") {
        let me = oin_of(who);
        let token = dev
            .issue(
                &Oin::parse(&me).unwrap(),
                Role::PrivacyOfficer,
                10,
                "doelpoort-audit",
            )
            .unwrap();
        let tenant_requesters = tenant_requesters(&app, &me);
        let mut paths = vec![
            "/audit/v1/disclosures?limit=1000".to_owned(),
            "/audit/v1/export".into(),
            "/audit/v1/anomalieen".into(),
        ];
        for other in &oins {
            for filter in ["requester", "provider"] {
                paths.push(format!("/audit/v1/disclosures?limit=1000&{filter}={other}"));
            }
        }
        for alias in CALLERS.iter().filter(|c| **c != "unknown-oin") {
            paths.push(format!(
                "/audit/v1/disclosures?limit=1000&requester={alias}&kind=persoon"
            ));
        }
        for activity in ["rni-adresoverzicht", "signaal-melding", "rni-telling"] {
            for status in ["OK", "ERROR"] {
                paths.push(format!(
                    "/audit/v1/disclosures?limit=1000&activity={activity}&status={status}"
                ));
            }
        }
        for kind in ["verstrekking", "persoon", "weigering", "raadpleging"] {
            paths.push(format!(
                "/audit/v1/disclosures?limit=1000&kind={kind}&from=2020-01-01&to=2099-12-31"
            ));
        }
        for group_by in ["activity", "requester", "day"] {
            paths.push(format!("/audit/v1/stats?group_by={group_by}"));
        }
        for path in &paths {
            for headers in spoofs(&oins[1], "0599").into_iter().step_by(2) {
                let mut req = app
                    .anonymous_client()
                    .get(app.audit_url(path))
                    .bearer_auth(&token);
                for (n, v) in &headers {
                    req = req.header(*n, v.as_str());
                }
                let res = req.send().await.unwrap();
                audit_requests += 1;
                let status = res.status().as_u16();
                let text = res.text().await.unwrap();
                let what = format!("officer of {who}: {path} {headers:?}");
                assert_eq!(status, 200, "{what}: {text}");
                let records: Vec<Value> = if path.starts_with("/audit/v1/export") {
                    text.lines()
                        .map(|l| serde_json::from_str(l).unwrap())
                        .collect()
                } else if path.starts_with("/audit/v1/disclosures") {
                    serde_json::from_str::<Value>(&text).unwrap()["records"]
                        .as_array()
                        .unwrap()
                        .clone()
                } else if path.contains("group_by=requester") {
                    let body: Value = serde_json::from_str(&text).unwrap();
                    for g in body["groepen"].as_array().unwrap() {
                        let key = g["sleutel"].as_str().unwrap_or_default();
                        assert!(
                            tenant_requesters.contains(key) || key == me,
                            "{what}: group {key}"
                        );
                    }
                    Vec::new()
                } else {
                    for other in &oins {
                        if other != &me && !tenant_requesters.contains(other) {
                            assert!(!text.contains(other.as_str()), "{what}: names {other}");
                        }
                    }
                    Vec::new()
                };
                for rec in &records {
                    assert!(
                        rec["requester"]["oin"] == me || rec["provider"]["oin"] == me,
                        "{what}: {rec}"
                    );
                }
            }
        }
        for bsn in &persons {
            for headers in spoofs(&oins[1], "0599").into_iter().step_by(2) {
                let mut req = app
                    .anonymous_client()
                    .post(app.audit_url("/audit/v1/inzage"))
                    .bearer_auth(&token)
                    .json(&json!({"burgerservicenummer": bsn}));
                for (n, v) in &headers {
                    req = req.header(*n, v.as_str());
                }
                let res = req.send().await.unwrap();
                audit_requests += 1;
                assert_eq!(res.status(), 200);
                let body: Value = res.json().await.unwrap();
                for v in body["verstrekkingen"].as_array().unwrap() {
                    assert!(
                        v["ontvanger"]["oin"] == me || v["verstrekker"]["oin"] == me,
                        "{who}: inzage {v}"
                    );
                }
                for r in body["raadplegingen"].as_array().into_iter().flatten() {
                    assert_eq!(r["door"]["oin"], me, "{who}: someone else's inzage");
                }
            }
        }
    }
    // An unregistered OIN with an authentic token sees nothing.
    let token = dev
        .issue(
            &Oin::parse(doelpoort::pki::UNREGISTERED_OIN).unwrap(),
            Role::PrivacyOfficer,
            10,
            "doelpoort-audit",
        )
        .unwrap();
    let res = app
        .anonymous_client()
        .get(app.audit_url("/audit/v1/disclosures"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    audit_requests += 1;

    let senders: HashSet<_> = signals.iter().map(|s| s.1).collect();
    println!(
        "isolation matrix: {} callers × {} territories × {} header variations: {requests} data requests ({refused} refused, {answered} answered with own data only; {} cases), {audit_requests} audit requests; {} signals from {} senders",
        CALLERS.len(), GEMEENTEN.len(), spoofs("x", "y").len(), cases.len(), signals.len(), senders.len()
    );
    assert!(answered > 0 && refused > 0);
    app.stop().await;
}

/// The requesters of the records the organisation `oin` took part in (its audit tenant).
fn tenant_requesters(app: &TestApp, oin: &str) -> HashSet<String> {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    use s::disclosure_records::dsl as r;
    r::disclosure_records
        .filter(r::requester_oin.eq(oin).or(r::provider_oin.eq(oin)))
        .select(r::requester_oin)
        .load::<Option<String>>(&mut *c)
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

on_both_backends!(isolation_matrix);
