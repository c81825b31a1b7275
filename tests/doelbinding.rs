//! Doelbinding: the register's decisions, table-driven; its enforcement on data routes over
//! real TLS (test routes mounted behind the real pipeline); reload; rate limits; the guard.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use chrono::NaiveDate;
use common::routes::routes;
use common::{spawn_app_with_routes, Backend};
use doelpoort::organisations::Registry;
use doelpoort::policy::{Operation, Policy};
use doelpoort::problem::Problem;
use serde_json::{json, Value};

fn policies() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/policies"))
}

fn registry() -> Registry {
    Registry::load(&policies().join("organisations.toml")).unwrap()
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

// ---------------------------------------------------------------- decisions, table-driven

/// One organisation of every kind, and both an ABO gemeente and an ordinary one.
const REPRESENTATIVES: &[&str] = &[
    "rvig",
    "uwv",
    "svb",
    "nla",
    "supervisor",
    "gemeente-0363",
    "gemeente-0358",
];
const OPERATIONS: &[Operation] = &[
    Operation::Read,
    Operation::Search,
    Operation::Count,
    Operation::Write,
];

/// What DOMAIN.md's catalogue says, written out by hand (not derived from the register).
fn expected() -> Vec<(&'static str, &'static [Operation], &'static [&'static str])> {
    use Operation::*;
    let gemeenten: &[&str] = &["gemeente-0363", "gemeente-0358"];
    vec![
        ("rni-telling", &[Count], gemeenten),
        ("rni-adresoverzicht", &[Search], gemeenten),
        ("rni-contactgegevens", &[Read, Search], &["gemeente-0358"]),
        ("rni-verblijfsadres-wijziging", &[Write], &["gemeente-0358"]),
        (
            "rni-raadplegen",
            &[Read, Search],
            &["uwv", "svb", "nla", "gemeente-0363", "gemeente-0358"],
        ),
        ("uwv-dienstverbanden", &[Read, Search], &["nla"]),
        ("uwv-werk-inkomen", &[Read], gemeenten),
        (
            "svb-uitkeringen",
            &[Read],
            &["nla", "gemeente-0363", "gemeente-0358"],
        ),
        (
            "signaal-melding",
            &[Read, Search, Write],
            &["uwv", "svb", "nla", "gemeente-0363", "gemeente-0358"],
        ),
        (
            "laa-signaal",
            &[Read, Search, Write],
            &["rvig", "gemeente-0363", "gemeente-0358"],
        ),
    ]
}

#[test]
fn every_activity_against_every_kind_of_organisation() {
    let registry = registry();
    let today = day("2026-01-15");
    let policy = Policy::load(policies(), &registry, today).unwrap();
    assert_eq!(
        policy.register.activities.len(),
        expected().len(),
        "the register has other activities than the catalogue"
    );
    let mut checked = 0;
    for (activity, ops, allowed) in expected() {
        let dataset = policy.register.get(activity).unwrap().1.dataset.clone();
        for alias in REPRESENTATIVES {
            let org = registry.find(alias).unwrap();
            for op in OPERATIONS {
                let want = allowed.contains(alias) && ops.contains(op);
                let got = policy.authorise(org, activity, &dataset, *op, today, Some("zaak-1"));
                match (want, got) {
                    (true, Ok(a)) => assert_eq!(a.activity_id, activity),
                    (false, Err(p)) => {
                        assert_eq!(p.code.as_str(), "notPermitted", "{alias} {activity} {op:?}")
                    }
                    (want, got) => panic!(
                        "{alias} {op:?} under {activity}: expected allowed={want}, got {got:?}"
                    ),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 10 * 7 * 4);
}

#[test]
fn refusal_codes_in_their_order() {
    let registry = registry();
    let today = day("2026-01-15");
    let policy = Policy::load(policies(), &registry, today).unwrap();
    let nla = registry.find("nla").unwrap();
    let code = |r: Result<_, Problem>| r.unwrap_err().code.as_str();
    assert_eq!(
        code(policy.authorise(
            nla,
            "bestaat-niet",
            "uwv-dienstverbanden",
            Operation::Read,
            today,
            None
        )),
        "unknownProcessingActivity"
    );
    assert_eq!(
        code(policy.authorise(
            nla,
            "uwv-dienstverbanden",
            "uwv-dienstverbanden",
            Operation::Read,
            today,
            None
        )),
        "caseReferenceRequired"
    );
    // An activity used for another dataset than its own is not permitted.
    assert_eq!(
        code(policy.authorise(
            nla,
            "uwv-dienstverbanden",
            "svb-uitkeringen",
            Operation::Read,
            today,
            Some("z")
        )),
        "notPermitted"
    );
    // Before the activity existed.
    assert_eq!(
        code(policy.authorise(
            nla,
            "uwv-dienstverbanden",
            "uwv-dienstverbanden",
            Operation::Read,
            day("2018-12-31"),
            Some("z")
        )),
        "activityNotInForce"
    );
}

#[test]
fn the_abo_experiment_holds_from_its_first_to_its_last_day() {
    let registry = registry();
    let aalsmeer = registry.find("gemeente-0358").unwrap();
    for (date, allowed) in [
        ("2023-09-30", false),
        ("2023-10-01", true),
        ("2027-09-30", true),
        ("2027-10-01", false),
    ] {
        let today = day(date);
        let policy = Policy::load(policies(), &registry, today).unwrap();
        for activity in ["rni-contactgegevens", "rni-verblijfsadres-wijziging"] {
            let op = if activity.ends_with("wijziging") {
                Operation::Write
            } else {
                Operation::Read
            };
            let r = policy.authorise(aalsmeer, activity, "rni-personen", op, today, None);
            match allowed {
                true => assert!(r.is_ok(), "{activity} on {date}: {r:?}"),
                false => assert_eq!(
                    r.unwrap_err().code.as_str(),
                    "activityNotInForce",
                    "{activity} on {date}"
                ),
            }
        }
    }
    // The five gemeenten of the experiment, and no other.
    let policy = Policy::load(policies(), &registry, day("2025-01-01")).unwrap();
    let abo: BTreeSet<_> = registry
        .iter()
        .filter(|o| {
            policy
                .authorise(
                    o,
                    "rni-contactgegevens",
                    "rni-personen",
                    Operation::Read,
                    day("2025-01-01"),
                    None,
                )
                .is_ok()
        })
        .map(|o| o.name.clone())
        .collect();
    assert_eq!(
        abo,
        [
            "Aalsmeer",
            "Hollands Kroon",
            "Horst aan de Maas",
            "Peel en Maas",
            "Schiedam"
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn field_sets_narrow_per_requester() {
    let registry = registry();
    let policy = Policy::load(policies(), &registry, day("2026-01-15")).unwrap();
    let (_, raadplegen) = policy.register.get("rni-raadplegen").unwrap();
    let uwv = raadplegen.fields_for(registry.find("uwv").unwrap());
    let gemeente = raadplegen.fields_for(registry.find("gemeente-0606").unwrap());
    assert!(uwv.allows("rni.deelnemer.code") && !uwv.allows("nationaliteiten"));
    assert!(gemeente.allows("tijdelijkVerblijfsadres.postcode") && !gemeente.allows("rni"));
}

// ---------------------------------------------------------------- policy check

/// A copy of policies/ with the register text changed by `edit`.
fn variant(edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(policies(), dir.path());
    let file = dir.path().join("verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = edit(text.clone());
    assert_ne!(changed, text, "the edit changed nothing");
    std::fs::write(file, changed).unwrap();
    dir
}

fn load_error(edit: impl FnOnce(String) -> String) -> String {
    let dir = variant(edit);
    let registry = Registry::load(&dir.path().join("organisations.toml")).unwrap();
    match Policy::load(dir.path(), &registry, day("2026-01-15")) {
        Ok(_) => panic!("a broken register loaded"),
        Err(e) => e,
    }
}

#[test]
fn policy_check_names_what_is_wrong() {
    // (text in the register, replaced by, expected in the error)
    let cases = [
        (
            "requesters = [\"kind:gemeente\"]",
            "requesters = [\"kind:politie\"]",
            "unknown organisation kind 'politie'",
        ),
        (
            "requesters = [\"kind:gemeente\"]",
            "requesters = [\"kind:gemeente\", \"gemeente-0363\"]",
            "overlapping",
        ),
        (
            "requesters = [\"kind:gemeente\"]",
            "requesters = [\"kind:gemeente\"]\ndeny = [\"kind:gemeente\"]",
            "contradicting",
        ),
        (
            "requesters = [\"kind:gemeente\"]",
            "requesters = [\"kind:gemeente\"]\ndeny = [\"nla\"]",
            "no effect",
        ),
        (
            "\"huisnummertoevoeging\", \"aantal\"]",
            "\"huisnummertoevoeging\", \"aantal\", \"burgerservicenummer\"]",
            "'burgerservicenummer' is not a field of dataset 'rni-adrestellingen'",
        ),
        (
            "dataset = \"rni-adrestellingen\"",
            "dataset = \"bestaat-niet\"",
            "'bestaat-niet' is not in datasets/",
        ),
        (
            "provider = \"uwv\"",
            "provider = \"belastingdienst\"",
            "provider",
        ),
        (
            "valid_until = 2027-09-30",
            "valid_until = 2020-09-30",
            "before valid_from",
        ),
        (
            "{ requesters = [\"svb\"], fields = [\"burgerservicenummer\",",
            "{ requesters = [\"svb\"], fields = [\"contactgegevens\", \"burgerservicenummer\",",
            "may only narrow",
        ),
        (
            "id = \"laa-signaal\"",
            "id = \"rni-telling\"",
            "listed twice",
        ),
        (
            "rate_limit_per_minute = 600",
            "rate_limit_per_minute = 0",
            "rate_limit_per_minute",
        ),
    ];
    for (from, to, expected) in cases {
        let e = load_error(|t| t.replacen(from, to, 1));
        assert!(e.contains(expected), "expected '{expected}' in:\n{e}");
        assert!(
            e.contains("verwerkingsactiviteiten.toml") || e.contains("datasets"),
            "no file named in:\n{e}"
        );
    }
}

#[test]
fn an_expired_activity_is_a_warning() {
    let dir = variant(|t| t.replacen("valid_until = 2027-09-30", "valid_until = 2025-09-30", 1));
    let registry = Registry::load(&dir.path().join("organisations.toml")).unwrap();
    let policy = Policy::load(dir.path(), &registry, day("2026-01-15")).unwrap();
    assert!(policy
        .register
        .warnings
        .iter()
        .any(|w| w.contains("rni-contactgegevens") && w.contains("expired")));
}

#[test]
fn a_deny_overrides_an_allow() {
    let dir = variant(|t| {
        t.replacen(
            "requesters = [\"kind:gemeente\"]",
            "requesters = [\"kind:gemeente\"]\ndeny = [\"gemeente-0599\"]",
            1,
        )
    });
    let registry = Registry::load(&dir.path().join("organisations.toml")).unwrap();
    let today = day("2026-01-15");
    let policy = Policy::load(dir.path(), &registry, today).unwrap();
    let ask = |alias: &str| {
        policy.authorise(
            registry.find(alias).unwrap(),
            "rni-telling",
            "rni-adrestellingen",
            Operation::Count,
            today,
            None,
        )
    };
    assert_eq!(
        ask("gemeente-0599").unwrap_err().code.as_str(),
        "notPermitted"
    );
    assert!(ask("gemeente-0363").is_ok());
    let (index, _) = policy.register.get("rni-telling").unwrap();
    let (allowed, rules) = policy.decider.explain(
        "gemeente-0599",
        index,
        "rni-telling",
        "rni-adrestellingen",
        Operation::Count,
    );
    assert!(!allowed);
    assert!(
        rules.iter().any(|r| r.contains(&"deny".to_owned())),
        "{rules:?}"
    );
}

#[test]
fn the_cli_checks_and_explains() {
    let bin = env!("CARGO_BIN_EXE_doelpoort");
    let out = std::process::Command::new(bin)
        .args(["policy", "check", "--dir"])
        .arg(policies())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("10 activities") && text.contains("sha256:"),
        "{text}"
    );

    let broken = variant(|t| {
        t.replacen(
            "dataset = \"rni-adrestellingen\"",
            "dataset = \"bestaat-niet\"",
            1,
        )
    });
    let out = std::process::Command::new(bin)
        .args(["policy", "check", "--dir"])
        .arg(broken.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("activiteit 'rni-telling', dataset"));

    let out = std::process::Command::new(bin)
        .args([
            "policy",
            "explain",
            "--oin",
            "99000000000103580000",
            "--activity",
            "rni-contactgegevens",
            "--operation",
            "read",
            "--date",
            "2027-10-01",
            "--dir",
        ])
        .arg(policies())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DENY activityNotInForce"), "{text}");
    assert!(
        text.contains("p, gemeente-0358, rni-contactgegevens, rni-personen, read, allow"),
        "{text}"
    );
}

// ---------------------------------------------------------------- enforcement over TLS

async fn get(
    app: &common::TestApp,
    client: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = app.client(client).get(app.data_url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    if status >= 400 {
        assert_eq!(headers["content-type"], "application/problem+json");
    }
    (status, res.json().await.unwrap_or(Value::Null), headers)
}

const ACT: &str = "x-processing-activity";

#[tokio::test]
async fn every_refusal_has_its_code() {
    let app = spawn_app_with_routes(Backend::Sqlite, |_| {}, routes).await;
    // (client, path, headers, status, code)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "gemeente-0363",
            "/test/tellingen",
            vec![],
            400,
            "missingProcessingActivity",
        ),
        (
            "gemeente-0363",
            "/test/tellingen",
            vec![(ACT, "  ")],
            400,
            "missingProcessingActivity",
        ),
        (
            "gemeente-0363",
            "/test/tellingen",
            vec![(ACT, "bestaat-niet")],
            403,
            "unknownProcessingActivity",
        ),
        (
            "nla",
            "/test/tellingen",
            vec![(ACT, "rni-telling")],
            403,
            "notPermitted",
        ),
        (
            "gemeente-0363",
            "/test/tellingen",
            vec![(ACT, "rni-adresoverzicht")],
            403,
            "notPermitted",
        ),
        (
            "gemeente-0363",
            "/test/contactgegevens?fields=contactgegevens&gemeente=0363",
            vec![(ACT, "rni-contactgegevens")],
            403,
            "notPermitted",
        ),
        (
            "gemeente-0358",
            "/test/contactgegevens?fields=contactgegevens,geboorte.datum&gemeente=0358",
            vec![(ACT, "rni-contactgegevens")],
            403,
            "unauthorizedField",
        ),
        (
            "gemeente-0358",
            "/test/contactgegevens?fields=contactgegevens&gemeente=0363",
            vec![(ACT, "rni-contactgegevens")],
            403,
            "outOfScope",
        ),
        (
            "nla",
            "/test/dienstverbanden",
            vec![(ACT, "uwv-dienstverbanden")],
            400,
            "caseReferenceRequired",
        ),
        (
            "supervisor",
            "/test/dienstverbanden",
            vec![(ACT, "uwv-dienstverbanden"), ("x-case-reference", "z-1")],
            403,
            "notPermitted",
        ),
    ];
    for (client, path, headers, status, code) in cases {
        let (got, body, _) = get(&app, client, path, &headers).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{client} {path} {headers:?}: {body}"
        );
    }
    let (_, body, _) = get(
        &app,
        "gemeente-0358",
        "/test/contactgegevens?fields=contactgegevens,geboorte.datum&gemeente=0358",
        &[(ACT, "rni-contactgegevens")],
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("geboorte.datum"));
    assert_eq!(body["invalidParams"][0]["name"], "fields[1]");
    assert_eq!(
        app.metric("doelpoort_refusals_total{code=\"notPermitted\"}")
            .await,
        4.0
    );
    app.stop().await;
}

#[tokio::test]
async fn allowed_requests_get_only_the_allowed_fields() {
    let app = spawn_app_with_routes(Backend::Sqlite, |_| {}, routes).await;
    let (status, body, _) = get(
        &app,
        "gemeente-0363",
        "/test/tellingen",
        &[(ACT, "rni-telling")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["adressen"][0],
        json!({ "postcode": "1012AB", "huisnummer": 12, "aantal": 14 })
    );
    assert!(
        !body.to_string().contains("999993653"),
        "a BSN passed minimisation"
    );
    assert!(body["version"].as_str().unwrap().starts_with("sha256:"));

    let (status, body, _) = get(
        &app,
        "gemeente-0358",
        "/test/contactgegevens?fields=contactgegevens,naam.geslachtsnaam&gemeente=0358",
        &[(ACT, "rni-contactgegevens")],
    )
    .await;
    assert_eq!(
        (status, body["activity"].as_str()),
        (200, Some("rni-contactgegevens"))
    );
    let (status, body, _) = get(
        &app,
        "nla",
        "/test/dienstverbanden",
        &[
            (ACT, "uwv-dienstverbanden"),
            ("x-case-reference", "NLA-2026-0042"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["zaak"].as_str()),
        (200, Some("NLA-2026-0042"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_route_that_forgets_doelbinding_answers_nothing() {
    let app = spawn_app_with_routes(Backend::Sqlite, |_| {}, routes).await;
    let res = app
        .client("nla")
        .get(app.data_url("/test/forgot"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let text = res.text().await.unwrap();
    assert!(!text.contains("999993653"), "{text}");
    assert!(text.contains("serverError"));
    app.stop().await;
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after() {
    let app = spawn_app_with_routes(
        Backend::Sqlite,
        |s| {
            let file = s.policies.dir.join("verwerkingsactiviteiten.toml");
            let text = std::fs::read_to_string(&file).unwrap().replacen(
                "rate_limit_per_minute = 600",
                "rate_limit_per_minute = 3",
                1,
            );
            std::fs::write(file, text).unwrap();
        },
        routes,
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            get(
                &app,
                "gemeente-0606",
                "/test/tellingen",
                &[(ACT, "rni-telling")]
            )
            .await
            .0,
            200
        );
    }
    let (status, body, headers) = get(
        &app,
        "gemeente-0606",
        "/test/tellingen",
        &[(ACT, "rni-telling")],
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("tooManyRequests"))
    );
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    // The limit is per organisation: another gemeente is not held back.
    assert_eq!(
        get(
            &app,
            "gemeente-0363",
            "/test/tellingen",
            &[(ACT, "rni-telling")]
        )
        .await
        .0,
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn reloads_are_atomic_under_concurrent_requests_and_a_broken_register_is_rejected() {
    let app = spawn_app_with_routes(Backend::Sqlite, |_| {}, routes).await;
    let file = app
        .settings
        .policies
        .dir
        .join("verwerkingsactiviteiten.toml");
    let wide = std::fs::read_to_string(&file).unwrap();
    let narrow = wide.replacen(
        "fields = [\"postcode\", \"huisnummer\", \"huisletter\", \"huisnummertoevoeging\", \"aantal\"]",
        "fields = [\"postcode\", \"aantal\"]",
        1,
    );
    assert_ne!(wide, narrow);

    let writer = {
        let (file, wide, narrow) = (file.clone(), wide.clone(), narrow.clone());
        tokio::spawn(async move {
            for i in 0..8 {
                std::fs::write(&file, if i % 2 == 0 { &narrow } else { &wide }).unwrap();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.client("gemeente-0363");
        let url = app.data_url("/test/tellingen");
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..60 {
                let res = client
                    .get(&url)
                    .header(ACT, "rni-telling")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                let body: Value = res.json().await.unwrap();
                seen.push((
                    body["version"].as_str().unwrap().to_owned(),
                    body["fields"].to_string(),
                    body["adressen"][0].clone(),
                ));
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            seen
        }));
    }
    let mut by_version: HashMap<String, BTreeSet<String>> = HashMap::new();
    for t in tasks {
        for (version, fields, first) in t.await.unwrap() {
            // Within one answer, the fields named and the fields given agree.
            let named: Vec<String> = serde_json::from_str(&fields).unwrap();
            let given: BTreeSet<String> = first.as_object().unwrap().keys().cloned().collect();
            assert!(
                given.iter().all(|g| named.contains(g)),
                "{given:?} not within {named:?}"
            );
            by_version.entry(version).or_default().insert(fields);
        }
    }
    writer.await.unwrap();
    assert!(
        by_version.len() >= 2,
        "no reload was observed: {by_version:?}"
    );
    for (version, fields) in &by_version {
        assert_eq!(
            fields.len(),
            1,
            "version {version} answered with different field sets: {fields:?}"
        );
    }

    // A broken register: rejected, the one in force keeps answering.
    std::fs::write(&file, &wide).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, before, _) = get(
        &app,
        "gemeente-0363",
        "/test/tellingen",
        &[(ACT, "rni-telling")],
    )
    .await;
    std::fs::write(
        &file,
        wide.replacen(
            "dataset = \"rni-adrestellingen\"",
            "dataset = \"bestaat-niet\"",
            1,
        ),
    )
    .unwrap();
    app.wait_for_metric(
        "doelpoort_reloads_total{outcome=\"rejected\",what=\"register\"}",
        1.0,
    )
    .await;
    let (status, after, _) = get(
        &app,
        "gemeente-0363",
        "/test/tellingen",
        &[(ACT, "rni-telling")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(after["version"], before["version"]);
    app.stop().await;
}
