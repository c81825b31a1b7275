//! Reads on PostgreSQL without a blocking thread, for the hottest questions of the request
//! path (`exchanges::rni_pg`: a raadpleging by BSN, the per-address overview). Each thread that asks (each actix worker) has a connection of
//! its own, driven by its own runtime, with its statements prepared once; the questions of
//! that worker's concurrent requests are pipelined on it. Through `Database::run` the same read
//! costs a hop to tokio's blocking pool and back and a libpq call that sleeps in `poll`: at
//! 2,000 req/s that thread spent 91 µs of CPU per request, most of it in the kernel (waking
//! and sleeping), against the worker's 120 µs for everything else.
//!
//! Only for a server reached without TLS (`storage::plain`: on this machine, or
//! `sslmode=disable`), as libpq reaches it too: the connection here has no TLS. Elsewhere
//! `Database::pg_reads` is `None` and the callers read through `Database::run`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::StorageError;

/// Where to connect, and how long a read may take in all (connecting included).
pub struct PgReads {
    id: u64,
    config: tokio_postgres::Config,
    timeout: Duration,
}

/// One thread's connection to one database.
struct Connection {
    client: Client,
    statements: RefCell<HashMap<&'static str, Statement>>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's connections, by `PgReads::id` (a process may serve several databases:
    /// the tests do).
    static CONNECTIONS: RefCell<HashMap<u64, Rc<Connection>>> = RefCell::new(HashMap::new());
}

impl PgReads {
    /// Reads on the server of `url`, a URL for a plain connection (`storage::plain::url`);
    /// `None` when tokio-postgres cannot parse it or it names neither host nor hostaddr
    /// (libpq then takes its default socket or `PGHOST`; tokio-postgres would not connect).
    pub fn new(url: &str, timeout: Duration) -> Option<PgReads> {
        let config: tokio_postgres::Config = url.parse().ok()?;
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            return None;
        }
        Some(PgReads {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            timeout,
        })
    }

    /// The rows `sql` gives for `params`, on this thread's connection (made when missing or
    /// broken). Any failure is `Unavailable`; the next read connects afresh.
    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StorageError> {
        match tokio::time::timeout(self.timeout, self.query_on(sql, params)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => {
                self.forget();
                Err(StorageError::Unavailable(format!("PostgreSQL read: {e}")))
            }
            Err(_) => {
                self.forget();
                Err(StorageError::Unavailable(format!(
                    "PostgreSQL read: no answer within {} ms",
                    self.timeout.as_millis()
                )))
            }
        }
    }

    async fn query_on(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let conn = self.connection().await?;
        let prepared = conn.statements.borrow().get(sql).cloned();
        let statement = match prepared {
            Some(s) => s,
            None => {
                let s = conn.client.prepare(sql).await?;
                conn.statements.borrow_mut().insert(sql, s.clone());
                s
            }
        };
        conn.client.query(&statement, params).await
    }

    async fn connection(&self) -> Result<Rc<Connection>, tokio_postgres::Error> {
        let open = CONNECTIONS.with_borrow(|c| c.get(&self.id).cloned());
        if let Some(conn) = open.filter(|c| !c.client.is_closed()) {
            return Ok(conn);
        }
        let (client, driver) = self.config.connect(NoTls).await?;
        // The connection is driven by the runtime of the thread that made it, the thread
        // that uses it.
        tokio::spawn(async move {
            if let Err(e) = driver.await {
                tracing::warn!(error = %e, "PostgreSQL read connection closed");
            }
        });
        let conn = Rc::new(Connection {
            client,
            statements: RefCell::new(HashMap::new()),
        });
        CONNECTIONS.with_borrow_mut(|c| c.insert(self.id, conn.clone()));
        Ok(conn)
    }

    fn forget(&self) {
        CONNECTIONS.with_borrow_mut(|c| c.remove(&self.id));
    }
}

impl Drop for PgReads {
    fn drop(&mut self) {
        // Only this thread's; another thread's goes with that thread.
        let _ = CONNECTIONS.try_with(|c| c.borrow_mut().remove(&self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_where_tokio_postgres_can_connect() {
        let t = Duration::from_secs(1);
        assert!(
            PgReads::new("postgres://postgres@127.0.0.1:5432/test?sslmode=disable", t).is_some()
        );
        assert!(PgReads::new(
            "postgres:///test?host=/var/run/postgresql&sslmode=disable",
            t
        )
        .is_some());
        assert!(PgReads::new("postgres:///test?hostaddr=127.0.0.1&sslmode=disable", t).is_some());
        assert!(PgReads::new("postgres:///test?sslmode=disable", t).is_none());
        assert!(PgReads::new("not a url", t).is_none());
    }
}
