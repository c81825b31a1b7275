//! Hostile TLS clients against the real gateway over real TLS (tests/mtls.rs has the dev PKI's
//! misfits; this file adds what an attacker crafts): certificates made here with rcgen (signed
//! by the dev CA, by a stranger, with odd key usages and subjects), old protocol versions,
//! garbage instead of a ClientHello, renegotiation, and idle handshakes by the hundred. Each
//! is refused, each refusal is counted on the ops listener's /metrics, and afterwards the
//! gateway still answers a normal request within a bound.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{spawn_app, spawn_app_with, Backend, TestApp};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Amsterdam's OIN (registered) and one no organisation has.
const AMSTERDAM: &str = "99000000000103630000";

fn handshake_failures(reason: &str) -> String {
    format!("doelpoort_tls_handshake_failures_total{{listener=\"data\",reason=\"{reason}\"}}")
}

/// The dev CA of this gateway (certificate and key), to issue certificates with.
fn dev_ca(app: &TestApp) -> (rcgen::Certificate, KeyPair) {
    let read = |f: &str| std::fs::read_to_string(app.certs().join(f)).unwrap();
    let key = KeyPair::from_pem(&read("ca-key.pem")).unwrap();
    let cert = CertificateParams::from_ca_cert_pem(&read("ca.pem"))
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert, key)
}

/// A client certificate as the dev PKI makes them (clientAuth, digitalSignature, valid now,
/// `serialNumber` = `oin`), then changed by `adjust`.
fn params(oin: Option<&str>, adjust: impl FnOnce(&mut CertificateParams)) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CountryName, "NL");
    p.distinguished_name
        .push(DnType::OrganizationName, "Aanvaller");
    p.distinguished_name.push(DnType::CommonName, "hostile");
    if let Some(oin) = oin {
        p.distinguished_name.push(
            DnType::CustomDnType(vec![2, 5, 4, 5]),
            DnValue::PrintableString(oin.try_into().unwrap()),
        );
    }
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(30);
    p.use_authority_key_identifier_extension = true;
    adjust(&mut p);
    p
}

/// Who signs a certificate made here.
enum Signer {
    DevCa,
    /// A CA with the dev CA's very name, but another key.
    Impostor,
    /// The certificate signs itself.
    Itself,
}

/// A rustls client presenting a certificate made from `params`, signed by `signer`.
fn client(app: &TestApp, params: CertificateParams, signer: Signer) -> rustls::ClientConfig {
    let key = KeyPair::generate().unwrap();
    let cert = match signer {
        Signer::DevCa => {
            let (ca, ca_key) = dev_ca(app);
            params.signed_by(&key, &ca, &ca_key).unwrap()
        }
        Signer::Impostor => {
            let impostor_key = KeyPair::generate().unwrap();
            let pem = std::fs::read_to_string(app.certs().join("ca.pem")).unwrap();
            let impostor = CertificateParams::from_ca_cert_pem(&pem)
                .unwrap()
                .self_signed(&impostor_key)
                .unwrap();
            params.signed_by(&key, &impostor, &impostor_key).unwrap()
        }
        Signer::Itself => params.self_signed(&key).unwrap(),
    };
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let base = common::no_client_cert_config(&app.certs().join("ca.pem"));
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(app))
        .with_client_auth_cert(chain, key)
        .map(|mut c| {
            c.alpn_protocols = base.alpn_protocols;
            c
        })
        .unwrap()
}

fn roots(app: &TestApp) -> rustls::RootCertStore {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(app.certs().join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    roots
}

/// The time a normal request takes (whoami over a fresh mTLS connection), and that it is 200.
async fn normal_request(app: &TestApp) -> Duration {
    let started = Instant::now();
    let status = tokio::time::timeout(
        Duration::from_secs(5),
        app.raw_request(Some("gemeente-0363"), None),
    )
    .await
    .expect("a normal request was not answered within 5 s")
    .expect("a normal request failed");
    assert_eq!(status, "HTTP/1.1 200 OK");
    started.elapsed()
}

/// The median of `n` normal requests.
async fn median_normal_request(app: &TestApp, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        times.push(normal_request(app).await);
    }
    times.sort();
    times[n / 2]
}

/// What a certificate made here must meet with.
enum Expect {
    /// Refused in the handshake with this alert, counted with this certificate reason
    /// (`doelpoort_tls_client_certificate_rejections_total`).
    Handshake(&'static str, &'static str),
    /// Through the handshake, then 403 `unknownOrganisation` (problem+json).
    UnknownOrganisation,
}

#[tokio::test]
async fn crafted_certificates_are_refused_and_counted() {
    let app = spawn_app(Backend::Sqlite).await;
    let before = median_normal_request(&app, 9).await;
    let long_ago = OffsetDateTime::now_utc() - time::Duration::days(400);
    let soon = OffsetDateTime::now_utc() + time::Duration::days(1);
    let cases: Vec<(&str, CertificateParams, Signer, Expect)> = vec![
        (
            "self-signed, with a registered OIN",
            params(Some(AMSTERDAM), |_| {}),
            Signer::Itself,
            Expect::Handshake("UnknownCA", "unknown-issuer"),
        ),
        (
            "issued in the dev CA's name with another key",
            params(Some(AMSTERDAM), |_| {}),
            Signer::Impostor,
            Expect::Handshake("", "*"),
        ),
        (
            "expired a year ago",
            params(Some(AMSTERDAM), |p| {
                p.not_before = long_ago;
                p.not_after = long_ago + time::Duration::days(30);
            }),
            Signer::DevCa,
            Expect::Handshake("CertificateExpired", "expired"),
        ),
        (
            "valid from tomorrow",
            params(Some(AMSTERDAM), |p| {
                p.not_before = soon;
                p.not_after = soon + time::Duration::days(30);
            }),
            Signer::DevCa,
            Expect::Handshake("CertificateExpired", "not-yet-valid"),
        ),
        (
            "extended key usage serverAuth only",
            params(Some(AMSTERDAM), |p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]
            }),
            Signer::DevCa,
            Expect::Handshake("UnsupportedCertificate", "wrong-key-usage"),
        ),
        (
            "extended key usage e-mail protection only",
            params(Some(AMSTERDAM), |p| {
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection]
            }),
            Signer::DevCa,
            Expect::Handshake("UnsupportedCertificate", "wrong-key-usage"),
        ),
        (
            "no extended key usage at all",
            params(Some(AMSTERDAM), |p| p.extended_key_usages = vec![]),
            Signer::DevCa,
            Expect::Handshake("UnsupportedCertificate", "wrong-key-usage"),
        ),
        (
            "key usage without digitalSignature",
            params(Some(AMSTERDAM), |p| {
                p.key_usages = vec![KeyUsagePurpose::KeyEncipherment]
            }),
            Signer::DevCa,
            Expect::Handshake("UnsupportedCertificate", "wrong-key-usage"),
        ),
        (
            "a CA certificate used as a client certificate",
            params(Some(AMSTERDAM), |p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyCertSign,
                ];
            }),
            Signer::DevCa,
            Expect::Handshake("", "*"),
        ),
        (
            "no OIN (no subject serialNumber)",
            params(None, |_| {}),
            Signer::DevCa,
            Expect::UnknownOrganisation,
        ),
        (
            "the OIN in the common name instead of serialNumber",
            params(None, |p| {
                p.distinguished_name.push(DnType::CommonName, AMSTERDAM)
            }),
            Signer::DevCa,
            Expect::UnknownOrganisation,
        ),
        (
            "a serialNumber that is not an OIN",
            params(Some("0363"), |_| {}),
            Signer::DevCa,
            Expect::UnknownOrganisation,
        ),
        (
            "the OIN of an unregistered organisation",
            params(Some(doelpoort::pki::UNREGISTERED_OIN), |_| {}),
            Signer::DevCa,
            Expect::UnknownOrganisation,
        ),
    ];
    let mut unknown = 0.0;
    for (case, params, signer, expect) in cases {
        let config = client(&app, params, signer);
        match expect {
            Expect::Handshake(alert, reason) => {
                let rejections = |r: &str| {
                    format!("doelpoort_tls_client_certificate_rejections_total{{reason=\"{r}\"}}")
                };
                let counted = app.metric(&rejections(reason)).await;
                let failures = app.metric(&handshake_failures("certificate")).await;
                let err = match app.raw_request(None, Some(config)).await {
                    Ok(status) => panic!("{case}: let in ({status})"),
                    Err(e) => e,
                };
                assert!(err.contains(alert), "{case}: expected {alert}, got {err}");
                app.wait_for_metric(&handshake_failures("certificate"), failures + 1.0)
                    .await;
                if reason != "*" {
                    app.wait_for_metric(&rejections(reason), counted + 1.0)
                        .await;
                }
                println!("{case}: refused ({err})");
            }
            Expect::UnknownOrganisation => {
                let res = reqwest::Client::builder()
                    .use_preconfigured_tls(config)
                    .build()
                    .unwrap()
                    .get(app.data_url("/api/v1/whoami"))
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}"));
                assert_eq!(res.status(), 403, "{case}");
                assert_eq!(
                    res.headers()["content-type"],
                    "application/problem+json",
                    "{case}"
                );
                let body: serde_json::Value = res.json().await.unwrap();
                assert_eq!(body["code"], "unknownOrganisation", "{case}");
                unknown += 1.0;
                app.wait_for_metric(
                    "doelpoort_refusals_total{code=\"unknownOrganisation\"}",
                    unknown,
                )
                .await;
            }
        }
    }
    let after = median_normal_request(&app, 9).await;
    println!("crafted certificates: normal request median {before:?} before, {after:?} after");
    assert!(
        after < before * 5 + Duration::from_millis(50),
        "slower after the barrage: {before:?} -> {after:?}"
    );
    app.stop().await;
}

/// A TLS record holding a ClientHello that offers only `version` (0x0301 TLS 1.0, 0x0302 TLS
/// 1.1), with the ciphers such clients offered and no extensions.
fn old_client_hello(version: u16) -> Vec<u8> {
    let [major, minor] = version.to_be_bytes();
    let mut body = vec![major, minor];
    body.extend([0x5a; 32]); // random
    body.push(0); // no session id
                  // ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256, AES128-SHA, AES256-SHA
    body.extend([0x00, 0x08, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x2f, 0x00, 0x35]);
    body.extend([0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00];
    handshake.extend((body.len() as u16).to_be_bytes());
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends `bytes` on a fresh TCP connection to `addr` and reads what comes back until the
/// server closes (at most 5 s).
async fn send_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = tcp.write_all(bytes).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept the connection open");
    answer
}

#[tokio::test]
async fn tls_10_and_11_are_refused_in_the_handshake() {
    let app = spawn_app(Backend::Sqlite).await;
    for (n, version) in [(1.0, 0x0301), (2.0, 0x0302)] {
        let answer = send_raw(app.data_addr, &old_client_hello(version)).await;
        println!("TLS {version:x}: {answer:?}");
        // An alert record (21), fatal (2), handshake_failure (40) or protocol_version (70):
        // nothing negotiated.
        assert_eq!(answer.first(), Some(&21), "{version:x}: {answer:?}");
        let alert = &answer[answer.len() - 2..];
        assert!(
            alert == [2, 40] || alert == [2, 70],
            "{version:x}: {alert:?}"
        );
        wait_for_version_refusals(&app, n).await;
    }
    normal_request(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn tls_10_and_11_from_openssl_are_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    for flag in ["-tls1", "-tls1_1"] {
        let out = openssl(
            &app,
            &[flag, "-cipher", "DEFAULT:@SECLEVEL=0"],
            b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\n\r\n",
        )
        .await;
        assert!(!out.contains("HTTP/1.1 200"), "{flag}: served:\n{out}");
        assert!(
            out.contains("alert handshake failure") || out.contains("alert protocol version"),
            "{flag}: not refused in the handshake:\n{out}"
        );
        println!(
            "openssl s_client {flag}: {}",
            out.lines().next().unwrap_or_default()
        );
    }
    wait_for_version_refusals(&app, 2.0).await;
    normal_request(&app).await;
    app.stop().await;
}

/// Waits until `n` handshakes have been refused for what the client offered: its protocol
/// version, or (a TLS 1.0/1.1 client offering only the ciphers of its time) nothing in common.
async fn wait_for_version_refusals(app: &TestApp, n: f64) {
    let mut seen = (0.0, 0.0);
    for _ in 0..50 {
        seen = (
            app.metric(&handshake_failures("protocol-version")).await,
            app.metric(&handshake_failures("incompatible")).await,
        );
        if seen.0 + seen.1 >= n {
            println!(
                "refused: {} for the protocol version, {} incompatible",
                seen.0, seen.1
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{n} old-protocol handshakes not counted: {seen:?}");
}

/// Runs Debian's `openssl s_client` against the data listener with Amsterdam's certificate,
/// feeding it `input`; its stdout and stderr together.
async fn openssl(app: &TestApp, args: &[&str], input: &[u8]) -> String {
    let (certs, addr) = (app.certs(), app.data_addr.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let input = input.to_vec();
    tokio::task::spawn_blocking(move || openssl_blocking(&certs, &addr, &args, input))
        .await
        .unwrap()
}

fn openssl_blocking(
    certs: &std::path::Path,
    addr: &str,
    args: &[String],
    input: Vec<u8>,
) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(addr)
        .arg("-CAfile")
        .arg(certs.join("ca.pem"))
        .arg("-cert")
        .arg(certs.join("clients/gemeente-0363.pem"))
        .arg("-key")
        .arg(certs.join("clients/gemeente-0363-key.pem"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "openssl (Debian package openssl) is needed for this test: apt-get install openssl",
        );
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        for line in input.split_inclusive(|b| *b == b'\n') {
            let _ = stdin.write_all(line);
            let _ = stdin.flush();
            std::thread::sleep(Duration::from_millis(300));
        }
        std::thread::sleep(Duration::from_millis(1500));
        drop(stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn renegotiation_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    // TLS 1.2 (1.3 has no renegotiation); 'R' on a line of its own asks s_client to renegotiate.
    let out = openssl(&app, &["-tls1_2"], b"R\n").await;
    assert!(
        out.contains("RENEGOTIATING"),
        "no renegotiation attempted:\n{out}"
    );
    assert!(
        out.contains("no_renegotiation") || out.contains("no renegotiation"),
        "the gateway did not refuse the renegotiation:\n{out}"
    );
    // The gateway is unharmed, and a connection that renegotiates is not served afterwards
    // with a new identity: the request after 'R' gets no answer of a second handshake.
    normal_request(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn garbage_instead_of_a_client_hello_is_dropped_and_counted() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut random = vec![0u8; 4096];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
    random[0] = 0x42; // not a TLS content type
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        (
            "plain HTTP",
            b"GET /api/v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("random bytes", random),
        (
            "a handshake record of 16 MB",
            vec![0x16, 0x03, 0x03, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff],
        ),
        (
            "a ClientHello that lies about its length",
            [
                &[0x16, 0x03, 0x01, 0x00, 0x30, 0x01, 0x00, 0xff, 0xff][..],
                &[0; 0x2c],
            ]
            .concat(),
        ),
        (
            "an SSLv2 ClientHello",
            vec![
                0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0,
                0x05, 0x00, 0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00,
                0x80, 0x02, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            ],
        ),
        (
            "an alert before anything",
            vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
        ),
    ];
    let total = garbage.len();
    let mut counted = 0.0;
    for (case, bytes) in &garbage {
        let answer = send_raw(app.data_addr, bytes).await;
        assert!(
            !String::from_utf8_lossy(&answer).contains("HTTP/1.1"),
            "{case}: answered as HTTP"
        );
        let mut now = counted;
        for _ in 0..50 {
            now = all_failures(&app, "data").await;
            if now > counted {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(now > counted, "{case}: not counted");
        counted = now;
    }
    assert!(counted >= total as f64);
    // The audit listener counts as its own.
    send_raw(app.audit_addr, b"\x00\x01garbage").await;
    app.wait_for_metric(
        "doelpoort_tls_handshake_failures_total{listener=\"audit\",reason=\"malformed\"}",
        1.0,
    )
    .await;
    normal_request(&app).await;
    app.stop().await;
}

/// Failed handshakes on `listener`, whatever the reason.
async fn all_failures(app: &TestApp, listener: &str) -> f64 {
    let text = reqwest::get(app.ops_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("doelpoort_tls_handshake_failures_total{{listener=\"{listener}\"");
    text.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_handshakes_neither_starve_the_server_nor_stay() {
    const IDLE: usize = 300;
    let app = spawn_app_with(Backend::Sqlite, |s| {
        s.server.tls_handshake_timeout_ms = 2_000
    })
    .await;
    let before = median_normal_request(&app, 9).await;
    // Slowloris on the handshake: half say nothing, half send a ClientHello's first bytes.
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut tcp = tokio::net::TcpStream::connect(app.data_addr).await.unwrap();
        if i % 2 == 1 {
            tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .await
                .unwrap();
        }
        idle.push(tcp);
    }
    let opened = Instant::now();
    // While they hang, normal clients are served.
    let during = median_normal_request(&app, 9).await;
    assert!(
        opened.elapsed() < Duration::from_millis(1_500),
        "the normal requests waited for the idle handshakes to time out"
    );
    // The gateway closes every idle handshake when its timeout (2 s) passes.
    let closing = idle.into_iter().map(|mut tcp| async move {
        let mut buf = [0u8; 64];
        tokio::time::timeout(Duration::from_secs(6), async {
            loop {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    });
    let closed = futures_util::future::join_all(closing).await;
    let waited = opened.elapsed();
    assert!(
        closed.iter().all(|c| *c),
        "{} idle handshakes still open after {waited:?}",
        closed.iter().filter(|c| !**c).count()
    );
    app.wait_for_metric(&handshake_failures("timeout"), IDLE as f64)
        .await;
    let after = median_normal_request(&app, 9).await;
    println!(
        "{IDLE} idle handshakes: normal request median {before:?} before, {during:?} during, {after:?} after; all closed after {waited:?}"
    );
    assert!(
        during < before * 5 + Duration::from_millis(100),
        "{before:?} -> {during:?}"
    );
    assert!(
        after < before * 5 + Duration::from_millis(50),
        "{before:?} -> {after:?}"
    );
    app.stop().await;
}
