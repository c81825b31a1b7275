//! What the rate limit costs a request: the in-process bucket (`rate_limit.store = "local"`)
//! against the fleet's shared counter in Redis (`"redis"`, one INCR + PEXPIRE round trip).
//!
//!   cargo bench --bench rate_limit          (REDIS_URL, default redis://127.0.0.1:6379)
//!
//! Reported: p50/p99/max of one check, timed one by one (HDR histogram), for the local bucket
//! and for Redis with 1 and with 16 requests at once, and the checks per second at 16 at once.
//! As a test (`cargo test`) it runs a few hundred checks, so that it keeps working.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use doelpoort::config::{RateLimitSettings, RateLimitStore};
use doelpoort::organisations::Organisations;
use doelpoort::policy::rate::SharedLimits;
use doelpoort::policy::PolicyStore;
use hdrhistogram::Histogram;

fn report(what: &str, h: &Histogram<u64>) {
    println!(
        "{what:<32} mean {:>7.1} µs  p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs  ({} checks)",
        h.mean() / 1000.0,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full { 200_000 } else { 300 };
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let orgs = Arc::new(Organisations::load(policies.join("organisations.toml")).unwrap());
    let store = PolicyStore::load(policies, orgs.clone()).unwrap();
    let policy = store.current();
    let requester = orgs.current().find("gemeente-0363").unwrap().clone();
    let (index, _) = policy.register.get("rni-telling").unwrap();

    let mut local = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        let t = Instant::now();
        let _ = std::hint::black_box(policy.check_rate(index, &requester));
        local.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    report("local (governor)", &local);

    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let limits = Arc::new(
        SharedLimits::new(&RateLimitSettings {
            store: RateLimitStore::Redis,
            redis_url: url.clone(),
            key_prefix: format!("doelpoort-bench-{}", uuid::Uuid::new_v4().simple()),
            // Measured, not limited: a slow answer counts in the figures instead of failing.
            timeout_ms: 10_000,
        })
        .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Connect first, and fail loudly without Redis.
        limits
            .check("rni-telling", "gemeente-0363", u32::MAX)
            .await
            .unwrap_or_else(|p| panic!("Redis at {url} is needed: {p:?}"));
        let mut one = Histogram::<u64>::new(3).unwrap();
        for _ in 0..n {
            let t = Instant::now();
            limits
                .check("rni-telling", "gemeente-0363", u32::MAX)
                .await
                .unwrap();
            one.record(t.elapsed().as_nanos() as u64).unwrap();
        }
        report("redis, 1 at a time", &one);

        let started = Instant::now();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let limits = limits.clone();
                tokio::spawn(async move {
                    let mut h = Histogram::<u64>::new(3).unwrap();
                    for _ in 0..n / 16 {
                        let t = Instant::now();
                        limits
                            .check("rni-telling", "gemeente-0363", u32::MAX)
                            .await
                            .unwrap();
                        h.record(t.elapsed().as_nanos() as u64).unwrap();
                    }
                    h
                })
            })
            .collect();
        let mut all = Histogram::<u64>::new(3).unwrap();
        for t in tasks {
            all.add(t.await.unwrap()).unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        report("redis, 16 at a time", &all);
        println!(
            "redis, 16 at a time: {:.0} checks/s",
            all.len() as f64 / secs
        );
    });
}
