//! The TLS listeners (data and audit): rustls in front of the HTTP service, with every failed
//! handshake counted by reason (`doelpoort_tls_handshake_failures_total{listener,reason}`).
//!
//! actix-web's `HttpServer::listen_rustls` drops a failed handshake without a word; this is the
//! same chain (rustls acceptor with a handshake timeout → ALPN → HTTP/1.1 or HTTP/2) with the
//! failure taken note of in between. A client certificate that does not verify is counted here
//! as `certificate`, and in detail by `tls::ReloadingVerifier`
//! (`doelpoort_tls_client_certificate_rejections_total{reason}`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, io};

use actix_http::{HttpService, Protocol, Request, Response};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_tls::accept::TlsError;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Extensions, Server, Service, ServiceFactory};
use actix_web::rt::net::TcpStream;
use rustls::{Error as TlsFault, PeerIncompatible};

use crate::metrics::Metrics;

/// Handshakes in progress per worker before the worker stops accepting (actix-tls's default
/// is 256: that many idle connections, each held for the handshake timeout, would keep every
/// other client out). A pending handshake costs a few kB.
pub const HANDSHAKES_PER_WORKER: usize = 4096;

/// The connection's TLS stream, as the HTTP service and `on_connect` see it.
pub type Connection = TlsStream<TcpStream>;

/// What one TLS listener is: where, with which rustls configuration, and its limits.
pub struct TlsListener {
    /// `data` or `audit` (metrics label, server name).
    pub name: &'static str,
    pub socket: std::net::TcpListener,
    pub tls: rustls::ServerConfig,
    pub workers: usize,
    pub handshake_timeout: Duration,
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
    /// Connections per worker (handshakes included) before new ones wait.
    pub max_connections: usize,
    pub shutdown_timeout_s: u64,
    /// Called once per connection after the handshake (e.g. to read the client certificate).
    pub on_connect: Option<fn(&Connection, &mut Extensions)>,
    pub metrics: Arc<Metrics>,
}

/// Runs `app` behind TLS on `l.socket`. The server is stopped through its handle, never by
/// signals (the caller listens for those).
pub fn serve<F, I, S, B>(l: TlsListener, app: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let TlsListener {
        name,
        socket,
        mut tls,
        workers,
        handshake_timeout,
        client_request_timeout,
        keep_alive,
        max_connections,
        shutdown_timeout_s,
        on_connect,
        metrics,
    } = l;
    actix_tls::accept::max_concurrent_tls_connect(HANDSHAKES_PER_WORKER);
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut acceptor = Acceptor::new(tls);
    acceptor.set_handshake_timeout(handshake_timeout);
    let builder = Server::build();
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder
        .workers(workers)
        .max_concurrent_connections(max_connections)
        .shutdown_timeout(shutdown_timeout_s)
        .disable_signals()
        .listen(name, socket, move || {
            let metrics = metrics.clone();
            let shutdown = shutdown.clone();
            let mut http = HttpService::<Connection, _, _>::build()
                .keep_alive(keep_alive)
                .client_request_timeout(client_request_timeout)
                .secure()
                .graceful_shutdown_signal(move || {
                    let signal = shutdown.clone();
                    async move { signal.notified().await }
                });
            if let Some(f) = on_connect {
                http = http.on_connect_ext(f);
            }
            let app = app().into_factory().map_err(|e| e.into().error_response());
            // A head the HTTP parser cannot frame (conflicting or double Content-Length,
            // Transfer-Encoding beside it, bytes not allowed in a header, too many or too
            // large headers) is answered by actix-http itself, 400 or 431 without a body,
            // and the connection closed: no route sees it.
            let http = http
                .finish(map_config(app, |_| AppConfig::default()))
                .map_err(|_| ());
            // Nagle's algorithm off on the accepted socket, before the handshake: the last TCP
            // segment of a handshake flight or an answer waited for the client's delayed ACK
            // (~40 ms) whenever nothing else was in flight. The overview at 500 req/s had p99
            // 41–44 ms with it on, 10 ms off (bench/RESULTS.md).
            fn_service(|io: TcpStream| async move {
                io.set_nodelay(true).ok();
                Ok::<_, TlsError<io::Error, Infallible>>(io)
            })
            .and_then(acceptor.clone())
            .map_init_err(|_| ())
            .map_err(move |e| failed(&metrics, name, &e))
            .and_then(fn_service(|io: Connection| async move {
                let h2 = io.get_ref().1.alpn_protocol() == Some(b"h2");
                let peer = io.get_ref().0.peer_addr().ok();
                let protocol = if h2 { Protocol::Http2 } else { Protocol::Http1 };
                Ok::<_, ()>((io, protocol, peer))
            }))
            .and_then(http)
        })?;
    Ok(builder.run())
}

/// Counts and logs one failed handshake.
fn failed(metrics: &Metrics, listener: &'static str, e: &TlsError<io::Error, Infallible>) {
    let reason = reason(e);
    metrics
        .tls_handshake_failures
        .with_label_values(&[listener, reason])
        .inc();
    tracing::info!(listener, reason, "TLS handshake refused");
}

/// The reason label of a failed handshake.
pub fn reason(e: &TlsError<io::Error, Infallible>) -> &'static str {
    let io = match e {
        TlsError::Timeout => return "timeout",
        TlsError::Tls(io) => io,
        TlsError::Service(never) => match *never {},
    };
    let Some(fault) = io.get_ref().and_then(|e| e.downcast_ref::<TlsFault>()) else {
        return match io.kind() {
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => "closed",
            _ => "io",
        };
    };
    match fault {
        TlsFault::NoCertificatesPresented => "no-certificate",
        TlsFault::InvalidCertificate(_) => "certificate",
        TlsFault::PeerIncompatible(
            PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::Tls13RequiredForQuic
            | PeerIncompatible::SupportedVersionsExtensionRequired,
        ) => "protocol-version",
        TlsFault::PeerIncompatible(_) => "incompatible",
        TlsFault::InvalidMessage(_)
        | TlsFault::InappropriateMessage { .. }
        | TlsFault::InappropriateHandshakeMessage { .. }
        | TlsFault::DecryptError => "malformed",
        TlsFault::PeerMisbehaved(_) => "misbehaved",
        TlsFault::AlertReceived(_) => "client-alert",
        _ => "other",
    }
}
