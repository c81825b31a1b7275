//! A gateway whose RNI dataset is served by a provider's own HTTPS API: here a second, real
//! doelpoort (its own PKI, its own database and log) that the first reaches over mTLS with a
//! client certificate of the provider's PKI. The broker applies doelbinding, minimises what
//! comes back and records it; the provider records the broker's operation as the foreign one.
//! Provider gone: 503 at once once the circuit is open; provider silent: 504 within the timeout;
//! provider slow, then down, then back (through a proxy the test switches): 504, 503, the
//! circuit opens (a metric says so, and the provider is not called), and closes again by itself.

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

/// The first of the persons the provider seeded.
fn first_bsn(provider: &TestApp) -> String {
    let db = provider.database();
    let mut conn = db.checkout().unwrap();
    use doelpoort::storage::schema::rni_personen::dsl::*;
    rni_personen
        .select(burgerservicenummer)
        .order(burgerservicenummer)
        .first(&mut *conn)
        .unwrap()
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
    let bsn = first_bsn(&provider);
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

/// A TCP proxy in front of the provider that the test switches: `Up` forwards, `Down` accepts
/// and closes at once (the host is there, the service is not), `Slow(d)` holds each new
/// connection `d` before forwarding. A switch drops every connection in flight, so pooled
/// keep-alive connections meet the new behaviour at once.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Up,
    Down,
    Slow(Duration),
}

struct Proxy {
    port: u16,
    mode: tokio::sync::watch::Sender<Mode>,
    accepted: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, watch) = tokio::sync::watch::channel(Mode::Up);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut watch = watch.clone();
                let mode = *watch.borrow_and_update();
                tokio::spawn(async move {
                    let forward = async {
                        match mode {
                            Mode::Down => return,
                            Mode::Slow(d) => tokio::time::sleep(d).await,
                            Mode::Up => {}
                        }
                        if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    };
                    tokio::select! {
                        _ = forward => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            mode,
            accepted,
            task,
        }
    }

    /// Switches, and gives the client a moment to see its pooled connections closed.
    async fn switch(&self, mode: Mode) {
        self.mode.send_replace(mode);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn accepted(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn slow_then_down_provider_opens_the_circuit_and_it_closes_after_recovery() {
    let provider = spawn_app_with(Backend::Sqlite, |s| s.datasets.seed_persons = 300).await;
    let bsn = first_bsn(&provider);
    let proxy = Proxy::start(provider.data_addr).await;
    let mut upstream = upstream_to(
        &provider.certs(),
        format!("https://localhost:{}", proxy.port),
    );
    upstream.breaker_failures = 3;
    upstream.breaker_open_ms = 1_000;
    let gateway = broker(upstream).await;
    let circuit = r#"doelpoort_upstream_circuit_open{dataset="rni-personen"}"#;
    let calls = |o: &str| {
        format!(r#"doelpoort_upstream_requests_total{{dataset="rni-personen",outcome="{o}"}}"#)
    };
    // A refusal for the outage: problem+json, no person, no disclosure.
    let refused = |(status, body, id, took): (u16, Value, Option<String>, Duration),
                   want: (u16, &str)| {
        assert_eq!(
            (status, body["code"].as_str()),
            (want.0, Some(want.1)),
            "{body}"
        );
        assert!(
            body.get("personen").is_none() && id.is_none(),
            "no data, no disclosure: {body}"
        );
        took
    };

    let (status, body, _, _) = ask(&gateway, "uwv", &bsn, &["naam"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gateway.metric(circuit).await, 0.0);

    // Slow: the timeout (400 ms) bounds the wait, and the answer is 504.
    proxy.switch(Mode::Slow(Duration::from_secs(3))).await;
    let took = refused(
        ask(&gateway, "uwv", &bsn, &["naam"]).await,
        (504, "gatewayTimeout"),
    );
    assert!(
        took < Duration::from_millis(1_000),
        "bounded by the timeout ({took:?})"
    );
    assert_eq!(gateway.metric(&calls("timeout")).await, 1.0);

    // Down: 503; the third failure in a row opens the circuit.
    proxy.switch(Mode::Down).await;
    for _ in 0..2 {
        refused(
            ask(&gateway, "uwv", &bsn, &["naam"]).await,
            (503, "notAvailable"),
        );
    }
    assert_eq!(gateway.metric(circuit).await, 1.0, "the circuit is open");
    let called = proxy.accepted();
    let took = refused(
        ask(&gateway, "uwv", &bsn, &["naam"]).await,
        (503, "notAvailable"),
    );
    assert!(
        took < Duration::from_millis(150),
        "the open circuit answers at once ({took:?})"
    );
    assert_eq!(
        proxy.accepted(),
        called,
        "the open circuit does not call the provider"
    );
    assert_eq!(gateway.metric(&calls("circuit_open")).await, 1.0);

    // Back: once breaker_open_ms has passed, one request tries, succeeds, and closes it.
    proxy.switch(Mode::Up).await;
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(5) {
        if ask(&gateway, "uwv", &bsn, &["naam"]).await.0 == 200 {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("the circuit never closed after the provider came back");
    assert!(recovered < Duration::from_millis(2_000), "{recovered:?}");
    assert_eq!(gateway.metric(circuit).await, 0.0, "the circuit is closed");
    assert_eq!(ask(&gateway, "uwv", &bsn, &["naam"]).await.0, 200);
    assert_eq!(gateway.metric(&calls("ok")).await, 3.0);
    gateway.stop().await;
    provider.stop().await;
}
