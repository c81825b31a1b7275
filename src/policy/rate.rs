//! Rate limits shared by every instance of a fleet (`rate_limit.store = "redis"`).
//!
//! The register's `rate_limit_per_minute` holds per (activity, requesting organisation). With
//! one instance (`local`, the default) the `Policy` keeps a token bucket in the process
//! (governor). With several instances behind one load balancer each would allow the whole
//! limit, so they count together in Redis: one counter per (activity, requester, minute since
//! the epoch), `INCR` plus `PEXPIRE` in one round trip; a request is allowed while the count
//! is within the limit. Exact within a minute across the fleet; like the local bucket
//! (whose burst is the whole minute's quota), up to twice the limit can pass in 60 s that
//! straddle two minutes. The instances' clocks must agree (NTP): a skew of s seconds moves
//! s/60 of a minute's requests into the neighbouring window.
//!
//! Fail-closed: when Redis does not answer within `rate_limit.timeout_ms` the request gets
//! 503 `notAvailable` (and no data) rather than an unlimited pass; the next attempt to
//! reach Redis is made half a second later, requests in between are refused at once.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::MultiplexedConnection;

use crate::config::RateLimitSettings;
use crate::problem::{Problem, ProblemCode};

const WINDOW_MS: u64 = 60_000;
/// A window's counter outlives the window by a minute (then Redis forgets it).
const KEEP_MS: u64 = 2 * WINDOW_MS;
/// After a failure, how long requests are refused without trying Redis again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);

pub struct SharedLimits {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    failed_at: Mutex<Option<Instant>>,
    timeout: Duration,
    prefix: String,
}

impl SharedLimits {
    /// Checks the URL; connects on first use (so that a gateway starts while Redis is down,
    /// refusing data requests until it is back).
    pub fn new(settings: &RateLimitSettings) -> anyhow::Result<SharedLimits> {
        let client = redis::Client::open(settings.redis_url.as_str()).map_err(|e| {
            anyhow::anyhow!("rate_limit.redis_url: {e} (e.g. redis://127.0.0.1:6379)")
        })?;
        Ok(SharedLimits {
            client,
            connection: tokio::sync::Mutex::new(None),
            failed_at: Mutex::new(None),
            timeout: Duration::from_millis(settings.timeout_ms),
            prefix: settings.key_prefix.clone(),
        })
    }

    /// Counts this request against `per_minute` for (`activity`, `requester`): 429 beyond it,
    /// 503 when the count cannot be had.
    pub async fn check(
        &self,
        activity: &str,
        requester: &str,
        per_minute: u32,
    ) -> Result<(), Problem> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let window = now / WINDOW_MS;
        let key = format!("{}:rl:{activity}:{requester}:{window}", self.prefix);
        let recently_failed = self
            .failed_at
            .lock()
            .expect("lock")
            .is_some_and(|t| t.elapsed() < RETRY_AFTER_FAILURE);
        let count = if recently_failed {
            Err("not reachable a moment ago".to_owned())
        } else {
            match tokio::time::timeout(self.timeout, self.count(&key)).await {
                Ok(Ok(n)) => Ok(n),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
            }
        };
        match count {
            Ok(n) => {
                if self.failed_at.lock().expect("lock").take().is_some() {
                    tracing::info!("the shared rate limiter (Redis) answers again");
                }
                if n <= i64::from(per_minute) {
                    Ok(())
                } else {
                    let wait_ms = (window + 1) * WINDOW_MS - now;
                    Err(super::too_many_requests(wait_ms.div_ceil(1000)))
                }
            }
            Err(why) => {
                if !recently_failed {
                    // Logged once per attempt (at most twice a second), not per request.
                    tracing::error!(error = %why, "the shared rate limiter (Redis) is not reachable: data requests get 503");
                    *self.connection.lock().await = None;
                    *self.failed_at.lock().expect("lock") = Some(Instant::now());
                }
                Err(Problem::new(ProblemCode::NotAvailable)
                    .detail("De teller van de verzoeklimieten is niet bereikbaar; er worden geen gegevens verstrekt.")
                    .retry_after(1))
            }
        }
    }

    /// `INCR key` and `PEXPIRE key`, pipelined: the count after this request.
    async fn count(&self, key: &str) -> redis::RedisResult<i64> {
        let mut connection = {
            let mut slot = self.connection.lock().await;
            match slot.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = self.client.get_multiplexed_async_connection().await?;
                    *slot = Some(c.clone());
                    c
                }
            }
        };
        let (n,): (i64,) = redis::pipe()
            .cmd("INCR")
            .arg(key)
            .cmd("PEXPIRE")
            .arg(key)
            .arg(KEEP_MS)
            .ignore()
            .query_async(&mut connection)
            .await?;
        Ok(n)
    }
}
