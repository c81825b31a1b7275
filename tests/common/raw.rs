//! Raw bytes over a real TLS connection to the data listener, for requests no HTTP client
//! would send (smuggling, CR/LF in headers, odd framing).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::TestApp;

/// Sends `request` as it is over a fresh mTLS connection presenting `clients/CERT.pem`, and
/// reads everything the gateway answers until it closes the connection (at most 10 s).
pub async fn exchange(app: &TestApp, cert: &str, request: &[u8]) -> String {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(app.tls_config(cert)));
    let tcp = tokio::net::TcpStream::connect(app.data_addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    // A gateway that refuses a request early (a 200 kB header gets 431 once actix-http's
    // header buffer is full) answers and closes while the rest is still being sent: the write
    // then fails with a broken pipe or a reset, and the answer already sent is still there to
    // be read.
    let sent = async {
        tls.write_all(request).await?;
        tls.flush().await
    };
    if let Err(e) = sent.await {
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ),
            "sending the request failed: {e}"
        );
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the gateway kept the connection open for 10 s"
    );
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status codes of every response in `answer` (several when a connection was kept open).
pub fn statuses(answer: &str) -> Vec<u16> {
    answer
        .match_indices("HTTP/1.1 ")
        .filter_map(|(i, _)| answer.get(i + 9..i + 12)?.parse().ok())
        .collect()
}
