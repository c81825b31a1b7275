//! Prometheus metrics, one registry per running gateway (so tests that start several gateways
//! in one process each see their own numbers).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    /// Requests by listener, route pattern (never the concrete path: it may hold a BSN), method
    /// and status.
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    /// Refusals by problem code.
    pub refusals: IntCounterVec,
    /// Client certificates refused during the TLS handshake, by reason.
    pub tls_rejections: IntCounterVec,
    /// Failed TLS handshakes, by listener and reason (`identity::handshake`).
    pub tls_handshake_failures: IntCounterVec,
    /// Reloads of certificates and registers, by what and outcome.
    pub reloads: IntCounterVec,
    /// Disclosure log: records committed, failed batches, time per batch commit.
    pub disclosure_records: prometheus::IntCounter,
    pub disclosure_failures: prometheus::IntCounter,
    pub disclosure_commit: prometheus::Histogram,
    /// Calls to upstream providers by dataset and outcome (`ok`, `refused`, `error`,
    /// `timeout`, `circuit_open`: answered 503 without calling), and whether each circuit is
    /// open now (1) or closed (0).
    pub upstream_requests: IntCounterVec,
    pub upstream_circuit_open: prometheus::IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("doelpoort".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["listener", "route", "method", "status"],
        )
        .unwrap();
        let request_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer a request")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
            &["listener", "route", "method"],
        )
        .unwrap();
        let refusals = IntCounterVec::new(
            Opts::new("refusals_total", "Requests refused, by problem code"),
            &["code"],
        )
        .unwrap();
        let tls_rejections = IntCounterVec::new(
            Opts::new(
                "tls_client_certificate_rejections_total",
                "Client certificates refused in the TLS handshake",
            ),
            &["reason"],
        )
        .unwrap();
        let tls_handshake_failures = IntCounterVec::new(
            Opts::new(
                "tls_handshake_failures_total",
                "TLS handshakes that failed, by listener and reason",
            ),
            &["listener", "reason"],
        )
        .unwrap();
        let reloads = IntCounterVec::new(
            Opts::new("reloads_total", "Reloads of certificates and registers"),
            &["what", "outcome"],
        )
        .unwrap();
        let disclosure_records = prometheus::IntCounter::new(
            "disclosure_records_total",
            "Disclosure log records committed",
        )
        .unwrap();
        let disclosure_failures = prometheus::IntCounter::new(
            "disclosure_write_failures_total",
            "Disclosure log batches that could not be committed (their requests got 503)",
        )
        .unwrap();
        let disclosure_commit = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "disclosure_commit_seconds",
                "Time to commit one batch of disclosure records",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
        )
        .unwrap();
        let upstream_requests = IntCounterVec::new(
            Opts::new(
                "upstream_requests_total",
                "Calls to upstream providers, by dataset and outcome",
            ),
            &["dataset", "outcome"],
        )
        .unwrap();
        let upstream_circuit_open = prometheus::IntGaugeVec::new(
            Opts::new(
                "upstream_circuit_open",
                "1 while the circuit breaker of an upstream provider is open",
            ),
            &["dataset"],
        )
        .unwrap();
        registry
            .register(Box::new(upstream_circuit_open.clone()))
            .unwrap();
        registry
            .register(Box::new(disclosure_records.clone()))
            .unwrap();
        registry
            .register(Box::new(disclosure_failures.clone()))
            .unwrap();
        registry
            .register(Box::new(disclosure_commit.clone()))
            .unwrap();
        for c in [
            &requests,
            &refusals,
            &tls_rejections,
            &tls_handshake_failures,
            &reloads,
            &upstream_requests,
        ] {
            registry.register(Box::new(c.clone())).unwrap();
        }
        registry
            .register(Box::new(request_duration.clone()))
            .unwrap();
        Metrics {
            registry,
            requests,
            request_duration,
            refusals,
            tls_rejections,
            tls_handshake_failures,
            reloads,
            disclosure_records,
            disclosure_failures,
            disclosure_commit,
            upstream_requests,
            upstream_circuit_open,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
