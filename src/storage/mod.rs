//! The database: one connection type for SQLite (the embedded default) and PostgreSQL
//! (production), a pool, the embedded migrations, and `Database::run`, which does blocking
//! diesel work off the actix worker threads.

pub mod instances;
pub mod pg_reads;
pub mod plain;
pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

use crate::config::DatabaseSettings;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Held while migrating PostgreSQL, so that instances of a fleet starting together migrate
/// one at a time.
const MIGRATION_LOCK: i64 = 0x646f_656c_706f_6f72; // "doelpoor"

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is, parsed from `database.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path".into());
            }
            Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_owned()))
        } else {
            Err("database.url must start with sqlite:// or postgres://".into())
        }
    }

    /// For messages: the URL without any password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseUrl::Sqlite(p) => format!("sqlite://{}", p.display()),
            DatabaseUrl::Postgres(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    let userinfo = &url[scheme + 3..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Opens connections of the right kind and sets SQLite up for a gateway: WAL, full fsync on
/// commit (a disclosure record must survive a crash), a busy timeout instead of errors.
#[derive(Clone)]
pub struct Manager {
    /// Where it connects: for PostgreSQL the configured URL, or the one for a plain
    /// connection where `storage::plain` allows it and the server accepted it.
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url)
                .map(DbConnection::Postgresql)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(r2d2::Error::ConnectionError)?;
                // The WAL is checkpointed by a thread of its own (`Database::connect`), not
                // by whichever commit happens to cross the threshold: that commit would wait
                // for the database file's fsync, and a disclosure with it.
                // The busy timeout first: setting the journal mode takes a lock, and a
                // connection opened while another writes must wait for it, not fail.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 0;",
                )
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.ping().map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// The URL for plain connections to the server `url` names, where `storage::plain` allows
/// them and the server accepts one (tried once, now); `None`: connect with `url` as it is.
fn plain_if_accepted(url: &str) -> Option<String> {
    let plain = plain::url(url)?;
    match PgConnection::establish(&plain) {
        Ok(_) => Some(plain),
        Err(e) => {
            tracing::info!(error = %e, "no connection to PostgreSQL without TLS; connecting with the URL as configured");
            None
        }
    }
}

/// Marks `conn` broken, so that the pool drops it on return instead of handing it out again.
/// diesel notices a failure inside a transaction only; a connection whose server session
/// ended (a restart, `pg_terminate_backend`) fails its next statement, often a `BEGIN` or a
/// query outside any transaction, and would otherwise go back to the pool as good.
pub fn discard(conn: &mut DbConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Postgresql(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error()
        }
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error()
        }
    }
}

/// The WAL size from which the checkpointer restarts the WAL (see `spawn_wal_checkpointer`).
const WAL_RESTART_BYTES: u64 = 16 << 20;

/// Checkpoints the SQLite WAL into the database file every 250 ms, beside the writers (a
/// PASSIVE checkpoint never blocks them). A PASSIVE checkpoint cannot reset the WAL while
/// readers keep using it, so under steady read load the WAL only grows. When it has grown past
/// `WAL_RESTART_BYTES` since the last round, the checkpoint is a PASSIVE one and then a
/// RESTART: the RESTART waits (at most 100 ms) for the readers of the moment, holds new writers
/// back while it copies, and makes the next writer start the WAL from its beginning, so the
/// file stops growing (its space is reused); the PASSIVE one before it has copied all but the
/// last frames beside the writers, so that they are held back only briefly. Only when growing:
/// a RESTART at every round past the size cost SQLite's group commit a fifth of its
/// throughput and doubled its p99. After a failed checkpoint (a full disk) it is
/// a TRUNCATE, which also gives the space back. Without these, a WAL that had grown into space
/// freed after a full disk filled the disk again by itself (seen in
/// `faults::sqlite_disk_full_under_load` on a loaded machine). Stops when the database file
/// goes away.
fn spawn_wal_checkpointer(path: PathBuf) {
    let run = move || {
        let mut conn = match SqliteConnection::establish(&path.to_string_lossy()) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the SQLite WAL checkpointer; the WAL will grow");
                return;
            }
        };
        // How long a RESTART or TRUNCATE may hold new writers back waiting for readers
        // (PASSIVE never waits): short, so that a long reader costs a commit at most this, and
        // the checkpoint is tried again in 250 ms.
        let _ = conn.batch_execute("PRAGMA busy_timeout = 100;");
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        let mut failed = false;
        let mut last_len = 0;
        while path.exists() {
            std::thread::sleep(Duration::from_millis(250));
            let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
            // Growing: the WAL was not reset since the last round (a reset reuses the file
            // from its start, and its length stays).
            let growing = len > WAL_RESTART_BYTES && len > last_len;
            last_len = len;
            // Before a RESTART, a PASSIVE checkpoint copies what it can beside the writers,
            // so that the RESTART, which holds them back, has only the last frames to copy.
            let pragmas = match (failed, growing) {
                (true, _) => "PRAGMA wal_checkpoint(TRUNCATE);",
                (false, true) => "PRAGMA wal_checkpoint(PASSIVE); PRAGMA wal_checkpoint(RESTART);",
                (false, false) => "PRAGMA wal_checkpoint(PASSIVE);",
            };
            failed = match conn.batch_execute(pragmas) {
                Ok(()) => false,
                Err(e) => {
                    tracing::warn!(error = %e, pragmas, "SQLite WAL checkpoint failed; will retry");
                    true
                }
            };
        }
    };
    let _ = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(run);
}

#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<Manager>,
    /// What the pool connects with, for connections outside it (`connect_apart`).
    manager: Arc<Manager>,
    url: DatabaseUrl,
    /// As many as the pool has connections: `run` takes one before it starts a blocking
    /// thread, so that work waits for a connection as a task on its actix worker, not as a
    /// thread of tokio's blocking pool parked on the pool's lock (64 concurrent requests made
    /// 63 such threads, each wait two more context switches).
    permits: Arc<Semaphore>,
    /// How long `run` waits for a permit: the pool's own `connect_timeout_ms`, so that a
    /// request never waits in line longer than one checkout may.
    permit_timeout: Duration,
    /// Reads without a blocking thread, on PostgreSQL when it is reached without TLS.
    pg_reads: Option<Arc<pg_reads::PgReads>>,
}

impl Database {
    /// Opens the pool; fails (with the URL, password removed) when the database cannot be
    /// reached within `connect_timeout_ms`.
    pub fn connect(settings: &DatabaseSettings) -> Result<Database, StorageError> {
        let url = DatabaseUrl::parse(&settings.url).map_err(StorageError::Unavailable)?;
        if let DatabaseUrl::Sqlite(path) = &url {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StorageError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let timeout = Duration::from_millis(settings.connect_timeout_ms);
        let (connect_to, pg_reads) = match &url {
            DatabaseUrl::Postgres(u) => match plain_if_accepted(u) {
                Some(p) => {
                    let reads = pg_reads::PgReads::new(&p, timeout).map(Arc::new);
                    (DatabaseUrl::Postgres(p), reads)
                }
                None => (url.clone(), None),
            },
            DatabaseUrl::Sqlite(_) => (url.clone(), None),
        };
        let manager = Manager { url: connect_to };
        let pool = r2d2::Pool::builder()
            .max_size(settings.pool_size)
            .min_idle(Some(1))
            // No `SELECT 1` before every use (it doubled the round trips of every query); a
            // connection that failed is dropped on return (`has_broken`), and the next
            // checkout opens a fresh one.
            .test_on_check_out(false)
            .connection_timeout(timeout)
            .error_handler(Box::new(r2d2::LoggingErrorHandler))
            .build(manager.clone())
            .map_err(|e| StorageError::Unavailable(format!("{}: {e}", url.redacted())))?;
        if let DatabaseUrl::Sqlite(path) = &url {
            spawn_wal_checkpointer(path.clone());
        }
        Ok(Database {
            pool,
            manager: Arc::new(manager),
            url,
            pg_reads,
            permits: Arc::new(Semaphore::new(settings.pool_size as usize)),
            permit_timeout: timeout,
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// PostgreSQL's reads without a blocking thread (`storage::pg_reads`), where they can be.
    pub fn pg_reads(&self) -> Option<&pg_reads::PgReads> {
        self.pg_reads.as_deref()
    }

    /// Applies the pending migrations; returns the versions applied (empty when up to date).
    pub fn migrate(&self) -> Result<Vec<String>, StorageError> {
        let mut conn = self.checkout()?;
        let applied = match &mut *conn {
            DbConnection::Postgresql(pg) => {
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                    .execute(pg)?;
                let result = pg
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>());
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
                    .execute(pg)?;
                result
            }
            DbConnection::Sqlite(sqlite) => sqlite
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>()),
        };
        applied.map_err(|e| StorageError::Migration(e.to_string()))
    }

    /// A connection of its own, outside the pool, set up as the pool's are: for work that
    /// holds a connection long, or may leave it mid-statement (`log verify`'s readers).
    pub fn connect_apart(&self) -> Result<DbConnection, StorageError> {
        self.manager
            .connect()
            .map_err(|e| StorageError::Unavailable(format!("{}: {e}", self.url.redacted())))
    }

    /// A connection from the pool, on the calling thread (which may block).
    pub fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        self.pool
            .get()
            .map_err(|e| StorageError::Unavailable(e.to_string()))
    }

    /// Runs blocking database work on tokio's blocking pool, never on an actix worker, once
    /// a connection is free for it (at most `pool_size` at a time; the rest wait their turn,
    /// first come first served, up to `connect_timeout_ms`).
    pub async fn run<R, F>(&self, work: F) -> Result<R, StorageError>
    where
        F: FnOnce(&mut DbConnection) -> Result<R, diesel::result::Error> + Send + 'static,
        R: Send + 'static,
    {
        let permit =
            tokio::time::timeout(self.permit_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| {
                    StorageError::Unavailable(format!(
                        "no database connection free within {} ms",
                        self.permit_timeout.as_millis()
                    ))
                })?
                .map_err(|_| StorageError::Unavailable("the database pool is closed".into()))?;
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = db.checkout()?;
            Ok(work(&mut conn)?)
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Is the database answering? For `/ready`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run(|conn| conn.ping()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db").unwrap(),
            DatabaseUrl::Sqlite("data/x.db".into())
        );
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        let pg = DatabaseUrl::parse("postgres://app:s3cret@db:5432/doelpoort").unwrap();
        assert_eq!(pg.redacted(), "postgres://app@db:5432/doelpoort");
        assert!(!pg.redacted().contains("s3cret"));
    }
}
