//! A gateway whose RNI dataset is served by a provider's own HTTPS API: here a second, real
//! doelpoort (its own PKI, its own database and log) that the first reaches over mTLS with a
//! client certificate of the provider's PKI. The broker applies doelbinding, minimises what
//! comes back and records it; the provider records the broker's operation as the foreign one.
//! Provider gone: 503 at once once the circuit is open; provider silent: 504 within the timeout.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::config::UpstreamSettings;
use doelpoort::storage::schema::disclosure_records::dsl as r;
use serde_json::{json, Value};

const PATH: &str = "/haalcentraal/api/brp/personen";

fn upstream_to(provider_certs: &std::path::Path, url: String) -> UpstreamSettings {
    UpstreamSettings {
        url,
        ca: provider_certs.join("ca.pem"),
        // The provider knows the broker as one of its registered organisations.
        client_cert: provider_certs.join("clients/nla.pem"),
        client_key: provider_certs.join("clients/nla-key.pem"),
        timeout_ms: 400,
        connect_timeout_ms: 200,
        retries: 1,
        breaker_failures: 2,
        breaker_open_ms: 60_000,
        pool_idle: 8,
    }
}

async fn broker(upstream: UpstreamSettings) -> TestApp {
    spawn_app_with(Backend::Sqlite, move |s| {
        s.datasets.upstream.insert("rni-personen".into(), upstream);
    })
    .await
}

async fn ask(
    app: &TestApp,
    client: &str,
    bsn: &str,
    fields: &[&str],
) -> (u16, Value, Option<String>, Duration) {
    let started = Instant::now();
    let res = app
        .client(client)
        .post(app.data_url(PATH))
        .header("x-processing-activity", "rni-raadplegen")
        .json(&json!({ "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": fields }))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let (status, body, id) = common::answer(res).await;
    (status, body, id, took)
}

/// (foreign trace id, requester) of the provider's request records.
fn provider_records(app: &TestApp) -> Vec<(Option<Vec<u8>>, Option<String>)> {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    r::disclosure_records
        .filter(r::parent_operation_id.is_null())
        .filter(r::processing_activity_id.eq("rni-raadplegen"))
        .select((r::foreign_trace_id, r::requester_oin))
        .load(&mut *conn)
        .unwrap()
}

#[tokio::test]
async fn a_provider_api_serves_the_dataset_through_the_broker() {
    let provider = spawn_app_with(Backend::Postgres, |s| s.datasets.seed_persons = 300).await;
    let bsn: String = {
        let db = provider.database();
        let mut conn = db.checkout().unwrap();
        use doelpoort::storage::schema::rni_personen::dsl::*;
        rni_personen
            .select(burgerservicenummer)
            .order(burgerservicenummer)
            .first(&mut *conn)
            .unwrap()
    };
    let url = format!("https://localhost:{}", provider.data_addr.port());
    let gateway = broker(upstream_to(&provider.certs(), url)).await;

    // The broker holds no persons itself; the provider's answer comes through, minimised.
    let (status, body, id, _) = ask(
        &gateway,
        "gemeente-0363",
        &bsn,
        &["naam.geslachtsnaam", "geboorte.datum"],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let p = &body["personen"][0];
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["geboorte", "naam"],
        "the broker asked for the BSN for its log, but the gemeente did not ask for it: {p}"
    );
    assert!(p["naam"]["geslachtsnaam"].is_string());
    // The broker's log has the person; the provider's names the broker's operation.
    let id = id.unwrap();
    let (trace, _) = id.split_once('-').unwrap();
    let gdb = gateway.database();
    let mut conn = gdb.checkout().unwrap();
    let subjects: i64 = r::disclosure_records
        .filter(r::trace_id.eq(hex::decode(trace).unwrap()))
        .filter(r::subject_pseudonym.is_not_null())
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(subjects, 1);
    let seen = provider_records(&provider);
    assert!(
        seen.iter()
            .any(|(foreign, _)| foreign.as_deref() == Some(&hex::decode(trace).unwrap()[..])),
        "the provider recorded the broker's trace as the foreign operation"
    );
    // The broker's doelbinding still holds: not for this gemeente's field set.
    let (status, body, _, _) = ask(&gateway, "gemeente-0363", &bsn, &["nationaliteiten"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("unauthorizedField"))
    );
    let before = provider_records(&provider).len();
    let (status, _, _, _) = ask(&gateway, "rvig", &bsn, &["naam"]).await;
    assert_eq!(status, 403);
    assert_eq!(
        provider_records(&provider).len(),
        before,
        "a refused request never reaches the provider"
    );

    // The provider gone: 503, and after two failures the circuit answers at once.
    provider.stop().await;
    for _ in 0..2 {
        let (status, body, id, _) = ask(&gateway, "uwv", &bsn, &["naam"]).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("notAvailable")),
            "{body}"
        );
        assert!(
            body.get("personen").is_none() && id.is_none(),
            "no data, no disclosure"
        );
    }
    let (status, _, _, took) = ask(&gateway, "uwv", &bsn, &["naam"]).await;
    assert_eq!(status, 503);
    assert!(
        took < Duration::from_millis(150),
        "the open circuit answers at once ({took:?})"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_silent_provider_is_a_bounded_504() {
    // A TCP listener that accepts and never speaks: the handshake never completes.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let keep = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let pki = tempfile::tempdir().unwrap();
    let registry = doelpoort::organisations::Registry::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/organisations.toml"),
    )
    .unwrap();
    doelpoort::pki::init(pki.path(), &registry).unwrap();
    let gateway = broker(upstream_to(pki.path(), format!("https://localhost:{port}"))).await;
    let (status, body, _, took) = ask(&gateway, "uwv", "999993653", &["naam"]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (504, Some("gatewayTimeout")),
        "{body}"
    );
    assert!(
        took < Duration::from_millis(1_500),
        "bounded by the timeout ({took:?})"
    );
    gateway.stop().await;
    keep.abort();
}
