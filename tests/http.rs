//! HTTP behaviour of the gateway's listeners: problem+json everywhere, limits, trace context,
//! the ops and audit listeners, slow clients.

mod common;

use std::time::{Duration, Instant};

use common::{spawn_app, spawn_app_with, Backend};
use serde_json::Value;

async fn problem(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn errors_are_problem_json_with_their_code() {
    let app = spawn_app(Backend::Sqlite).await;
    let c = app.client("gemeente-0606");
    let (status, body) =
        problem(c.get(app.data_url("/api/v1/nowhere")).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("notFound")));
    let (status, body) = problem(
        c.delete(app.data_url("/api/v1/whoami"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("methodNotAllowed"))
    );
    for member in ["type", "title", "status", "instance", "code"] {
        assert!(
            body.get(member).is_some(),
            "problem without {member}: {body}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_before_it_is_read() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.server.body_limit_bytes = 4096).await;
    let c = app.client("nla");
    let (status, body) = problem(
        c.post(app.data_url("/api/v1/whoami"))
            .header("content-type", "application/json")
            .body(vec![b' '; 4097])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("payloadTooLarge"))
    );
    // At the limit it passes the size check (and this route then says the method is wrong).
    let res = c
        .post(app.data_url("/api/v1/whoami"))
        .body(vec![b' '; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    app.stop().await;
}

#[tokio::test]
async fn traceparent_is_taken_and_the_gateways_own_is_returned() {
    let app = spawn_app(Backend::Sqlite).await;
    let theirs = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let res = app
        .client("svb")
        .get(app.data_url("/api/v1/whoami"))
        .header("traceparent", theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ours = res.headers()["traceparent"].to_str().unwrap().to_owned();
    let parsed = doelpoort::trace_context::TraceParent::parse(&ours).expect("a valid traceparent");
    assert_ne!(ours, theirs);
    assert_eq!(
        res.headers()["x-request-id"].to_str().unwrap(),
        hex::encode(parsed.trace_id)
    );
    // A malformed one is ignored, not an error.
    let res = app
        .client("svb")
        .get(app.data_url("/api/v1/whoami"))
        .header("traceparent", "garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn ops_listener_needs_no_certificate_and_counts_requests() {
    let app = spawn_app(Backend::Sqlite).await;
    let health: Value = reqwest::get(app.ops_url("/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = reqwest::get(app.ops_url("/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);
    for _ in 0..3 {
        app.client("uwv")
            .get(app.data_url("/api/v1/whoami"))
            .send()
            .await
            .unwrap();
    }
    let served = app
        .metric("doelpoort_http_requests_total{listener=\"data\",method=\"GET\",route=\"/api/v1/whoami\",status=\"200\"}")
        .await;
    assert_eq!(served, 3.0);
    let text = reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("doelpoort_http_request_duration_seconds_bucket{listener=\"data\""));
    app.stop().await;
}

#[tokio::test]
async fn audit_listener_is_tls_without_client_certificate() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .anonymous_client()
        .get(app.audit_url("/audit/v1/disclosures"))
        .send()
        .await
        .unwrap();
    // Reached over TLS without a certificate; the audit API asks for a bearer token instead.
    let (status, body) = problem(res).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("authentication"))
    );
    let res = app
        .anonymous_client()
        .get(app.audit_url("/audit/v1/onbekend"))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(res).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("notFound")));
    // The data listener refuses the same client.
    assert!(app
        .anonymous_client()
        .get(app.data_url("/api/v1/whoami"))
        .send()
        .await
        .is_err());
    app.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_after_the_request_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app(Backend::Sqlite).await; // client_request_timeout_ms = 1000 in tests
    let config = app.tls_config("nla");
    let tcp = tokio::net::TcpStream::connect(app.data_addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let started = Instant::now();
    tls.write_all(b"GET /api/v1/whoami HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was held open for 10 s");
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "cut off only after {waited:?}"
    );
    let head = String::from_utf8_lossy(&buf);
    assert!(
        head.is_empty() || head.starts_with("HTTP/1.1 408"),
        "unexpected answer {head}"
    );
    app.stop().await;
}

#[tokio::test]
async fn stop_closes_every_listener_and_returns_cleanly() {
    let app = spawn_app(Backend::Sqlite).await;
    let ops = app.ops_url("/ready");
    assert_eq!(reqwest::get(&ops).await.unwrap().status(), 200);
    let stopper = app.stopper.clone();
    let data = app.data_url("/api/v1/whoami");
    let client = app.client("rvig");
    stopper.stop().await;
    assert!(
        client.get(&data).send().await.is_err(),
        "still serving after stop"
    );
    assert!(
        reqwest::get(&ops).await.is_err(),
        "ops still serving after stop"
    );
    app.server.await.unwrap().unwrap();
}
