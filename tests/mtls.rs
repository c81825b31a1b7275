//! Identity by mTLS, over real TLS against the real gateway.

mod common;

use common::{spawn_app, Backend};
use serde_json::Value;

/// A handshake that the gateway refuses ends in a TLS alert; with TLS 1.3 the client sees it on
/// its first read. Returns the error text.
async fn refused(app: &common::TestApp, cert: Option<&str>) -> String {
    match app.raw_request(cert, None).await {
        Ok(status) => panic!("{cert:?} was let in: {status}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn certificates_that_must_not_pass_the_handshake() {
    let app = spawn_app(Backend::Sqlite).await;
    let cases = [
        (None, "CertificateRequired", "no client certificate"),
        (Some("other-ca"), "UnknownCA", "unknown-issuer"),
        (Some("expired"), "CertificateExpired", "expired"),
        (Some("not-yet-valid"), "CertificateExpired", "not-yet-valid"),
        (Some("revoked"), "CertificateRevoked", "revoked"),
        (
            Some("wrong-usage"),
            "UnsupportedCertificate",
            "wrong-key-usage",
        ),
    ];
    for (cert, alert, reason) in cases {
        let err = refused(&app, cert).await;
        assert!(
            err.contains(alert),
            "{cert:?}: expected alert {alert}, got {err}"
        );
        if cert.is_some() {
            let counted = app
                .metric(&format!(
                    "doelpoort_tls_client_certificate_rejections_total{{reason=\"{reason}\"}}"
                ))
                .await;
            assert!(counted >= 1.0, "{cert:?}: refusal not counted as {reason}");
        }
    }
    // The gateway is unharmed: a good certificate still gets through.
    assert_eq!(
        app.raw_request(Some("gemeente-0363"), None).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_registered_gemeente_is_resolved_from_its_certificate() {
    let app = spawn_app(Backend::Sqlite).await;
    for (client, oin, kind, code) in [
        (
            "gemeente-0363",
            "99000000000103630000",
            "gemeente",
            Some("0363"),
        ),
        (
            "gemeente-0606",
            "99000000000106060000",
            "gemeente",
            Some("0606"),
        ),
        ("nla", "99000000000000000004", "nla", None),
    ] {
        let res = app
            .client(client)
            .get(app.data_url("/api/v1/whoami"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{client}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["oin"], oin);
        assert_eq!(body["soort"], kind);
        assert_eq!(body["gemeentecode"].as_str(), code);
        assert_eq!(body["alias"], client);
    }
    app.stop().await;
}

async fn assert_unknown_organisation(app: &common::TestApp, client: &str, detail_part: &str) {
    let res = app
        .client(client)
        .get(app.data_url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "unknownOrganisation");
    assert!(
        body["detail"].as_str().unwrap().contains(detail_part),
        "{body}"
    );
    assert!(body["instance"].as_str().unwrap().starts_with("urn:uuid:"));
}

#[tokio::test]
async fn a_certificate_without_a_registered_oin_gets_403_unknown_organisation() {
    let app = spawn_app(Backend::Sqlite).await;
    assert_unknown_organisation(&app, "unknown-oin", "99000000000099990000").await;
    assert_unknown_organisation(&app, "no-oin", "geen OIN").await;
    assert_eq!(
        app.metric("doelpoort_refusals_total{code=\"unknownOrganisation\"}")
            .await,
        2.0
    );
    app.stop().await;
}

#[tokio::test]
async fn tls_13_is_chosen_and_tls_12_still_works() {
    let app = spawn_app(Backend::Sqlite).await;
    let certs = app.certs();
    let cfg = |versions: &[&'static rustls::SupportedProtocolVersion]| {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(certs.join("ca.pem")).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let chain = rustls::pki_types::CertificateDer::pem_file_iter(certs.join("clients/uwv.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_file(certs.join("clients/uwv-key.pem"))
                .unwrap();
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap()
    };
    // Only TLS 1.2 offered: accepted (agencies with older stacks).
    let only12 = cfg(&[&rustls::version::TLS12]);
    assert_eq!(
        app.raw_request(None, Some(only12)).await.unwrap(),
        "HTTP/1.1 200 OK"
    );

    // Both offered: the negotiated version is 1.3.
    let both = std::sync::Arc::new(cfg(&[&rustls::version::TLS12, &rustls::version::TLS13]));
    let tcp = tokio::net::TcpStream::connect(app.data_addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(both)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    app.stop().await;
}

#[tokio::test]
async fn a_certificate_revoked_while_running_is_refused_without_restart() {
    let app = spawn_app(Backend::Sqlite).await;
    assert_eq!(
        app.raw_request(Some("gemeente-0358"), None).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    doelpoort::pki::revoke(&app.certs(), "gemeente-0358").unwrap();
    // The reloader polls every 100 ms in tests; allow it a few rounds.
    let mut last = String::new();
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        match app.raw_request(Some("gemeente-0358"), None).await {
            Err(e) if e.contains("CertificateRevoked") => {
                // Revoking one certificate leaves the others (and the earlier revocation) as they were.
                assert_eq!(
                    app.raw_request(Some("gemeente-0363"), None).await.unwrap(),
                    "HTTP/1.1 200 OK"
                );
                assert!(app
                    .raw_request(Some("revoked"), None)
                    .await
                    .unwrap_err()
                    .contains("CertificateRevoked"));
                app.stop().await;
                return;
            }
            other => last = format!("{other:?}"),
        }
    }
    panic!("the new CRL was not picked up; last answer {last}");
}
