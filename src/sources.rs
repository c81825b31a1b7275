//! Where a provider's data comes from: the gateway's own database (`local`, the default) or
//! the provider's own HTTPS API (`upstream`), per dataset, by configuration
//! (`[datasets.upstream.<dataset>]`). The gateway brokers; what an upstream sends back is
//! minimised and recorded exactly as local data is.
//!
//! An upstream is called with the gateway's own client certificate over a pooled keep-alive
//! client, with a bounded time per request, a retry for reads that failed to connect or got
//! 502/503/504, and a circuit breaker: after `breaker_failures` consecutive failures the
//! provider is not called for `breaker_open_ms` (requests get 503 at once), then one request
//! may try again. Every call's outcome and each circuit's state are metrics
//! (`upstream_requests_total{dataset,outcome}`, `upstream_circuit_open{dataset}`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::config::UpstreamSettings;
use crate::metrics::Metrics;
use crate::problem::{Problem, ProblemCode};

/// The upstreams by dataset; a dataset not in it is served locally.
#[derive(Clone, Default)]
pub struct Sources {
    upstream: Arc<BTreeMap<String, Arc<Upstream>>>,
}

impl Sources {
    pub fn new(
        settings: &BTreeMap<String, UpstreamSettings>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Sources> {
        let mut upstream = BTreeMap::new();
        for (dataset, s) in settings {
            let u = Upstream::new(dataset, s, metrics.clone())
                .map_err(|e| e.context(format!("[datasets.upstream.{dataset}]")))?;
            upstream.insert(dataset.clone(), Arc::new(u));
        }
        Ok(Sources {
            upstream: Arc::new(upstream),
        })
    }

    /// The provider's API serving `dataset`, or `None` when it is local.
    pub fn upstream(&self, dataset: &str) -> Option<&Upstream> {
        self.upstream.get(dataset).map(Arc::as_ref)
    }
}

/// One provider's API.
pub struct Upstream {
    dataset: String,
    base: String,
    client: reqwest::Client,
    retries: u32,
    breaker_failures: u32,
    breaker_open_ms: i64,
    failures: AtomicU32,
    /// While the circuit is open: until when (ms since the epoch); 0 when closed.
    open_until_ms: AtomicI64,
    metrics: Arc<Metrics>,
}

/// What went wrong upstream, as the caller learns it.
fn unavailable(dataset: &str, why: &str) -> Problem {
    tracing::warn!(dataset, why, "upstream provider not available");
    Problem::new(ProblemCode::NotAvailable)
        .detail("De bronhouder is nu niet bereikbaar; probeer het later opnieuw.")
        .retry_after(5)
}

impl Upstream {
    fn new(dataset: &str, s: &UpstreamSettings, metrics: Arc<Metrics>) -> anyhow::Result<Upstream> {
        let tls = crate::identity::client::client_config(&s.ca, &s.client_cert, &s.client_key)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(Duration::from_millis(s.timeout_ms))
            .connect_timeout(Duration::from_millis(s.connect_timeout_ms))
            .pool_max_idle_per_host(s.pool_idle)
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        anyhow::ensure!(
            s.url.starts_with("https://"),
            "url must be https:// (the provider is reached over mTLS)"
        );
        metrics
            .upstream_circuit_open
            .with_label_values(&[dataset])
            .set(0);
        Ok(Upstream {
            dataset: dataset.to_owned(),
            base: s.url.trim_end_matches('/').to_owned(),
            client,
            retries: s.retries,
            breaker_failures: s.breaker_failures.max(1),
            breaker_open_ms: s.breaker_open_ms as i64,
            failures: AtomicU32::new(0),
            open_until_ms: AtomicI64::new(0),
            metrics,
        })
    }

    /// Counts one call by `outcome`, and moves the circuit: a success closes it, the
    /// `breaker_failures`th failure in a row opens it.
    fn record(&self, outcome: &str) {
        self.metrics
            .upstream_requests
            .with_label_values(&[&self.dataset, outcome])
            .inc();
        let circuit = self
            .metrics
            .upstream_circuit_open
            .with_label_values(&[&self.dataset]);
        if matches!(outcome, "ok" | "refused") {
            self.failures.store(0, Ordering::Relaxed);
            if self.open_until_ms.swap(0, Ordering::Relaxed) != 0 {
                tracing::info!(dataset = %self.dataset, "upstream circuit closed");
            }
            circuit.set(0);
        } else if self.failures.fetch_add(1, Ordering::Relaxed) + 1 >= self.breaker_failures {
            let until = crate::disclosure::now_ms() + self.breaker_open_ms;
            if self.open_until_ms.swap(until, Ordering::Relaxed) == 0 {
                tracing::error!(dataset = %self.dataset, "upstream circuit opened");
            }
            circuit.set(1);
        }
    }

    /// Is the circuit open now? When its time is up, one request is let through (and the
    /// circuit stays open for the others until that one succeeds).
    fn refuses(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Relaxed);
        if until == 0 {
            return false;
        }
        let now = crate::disclosure::now_ms();
        if now < until {
            return true;
        }
        // Half open: the first to move the deadline on tries; the rest wait for its result.
        self.open_until_ms
            .compare_exchange(
                until,
                now + self.breaker_open_ms,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_err()
    }

    /// POSTs `body` as JSON to `path` (a read: retried on connect errors and 502/503/504) with
    /// the activity and trace headers, and returns the JSON answer. An answer the provider
    /// refused (4xx) comes back as `Err` with the provider's status mapped to ours.
    pub async fn read(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, String)],
    ) -> Result<Value, Problem> {
        if self.refuses() {
            self.metrics
                .upstream_requests
                .with_label_values(&[&self.dataset, "circuit_open"])
                .inc();
            return Err(unavailable(&self.dataset, "circuit open"));
        }
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut req = self.client.post(&url).json(body);
            for (k, v) in headers {
                req = req.header(*k, v);
            }
            let retry = attempt <= self.retries;
            match req.send().await {
                Ok(res) if res.status().is_success() => {
                    return match res.json::<Value>().await {
                        Ok(v) => {
                            self.record("ok");
                            Ok(v)
                        }
                        Err(_) => {
                            self.record("error");
                            Err(unavailable(&self.dataset, "answer is not JSON"))
                        }
                    };
                }
                Ok(res) if matches!(res.status().as_u16(), 502..=504) && retry => continue,
                Ok(res) if res.status().is_server_error() => {
                    self.record("error");
                    return Err(unavailable(&self.dataset, "provider error"));
                }
                Ok(res) => {
                    // The provider refused the gateway: not a fault of the caller's request as
                    // such, and nothing the caller may see the details of.
                    self.record("refused");
                    tracing::warn!(dataset = %self.dataset, status = res.status().as_u16(), "upstream refused the request");
                    return Err(Problem::new(ProblemCode::NotAvailable)
                        .detail("De bronhouder heeft het verzoek van de gateway geweigerd."));
                }
                Err(e) if e.is_timeout() => {
                    self.record("timeout");
                    tracing::warn!(dataset = %self.dataset, "upstream timed out");
                    return Err(Problem::new(ProblemCode::GatewayTimeout)
                        .detail("De bronhouder antwoordde niet op tijd."));
                }
                Err(e) if e.is_connect() && retry => continue,
                Err(_) => {
                    self.record("error");
                    return Err(unavailable(&self.dataset, "cannot connect"));
                }
            }
        }
    }
}
