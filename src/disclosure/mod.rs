//! The disclosure log (Logboek Dataverwerkingen): one record per disclosure per data subject
//! and one per refused request; append-only, hash-chained per gateway instance, with signed
//! checkpoints; BSNs only as keyed pseudonyms.
//!
//! - `record`: the record and its chain hash;
//! - `writer`: the single writer thread (group commit, checkpoints);
//! - `checkpoint`: signed chain heads;
//! - `keys`: signing and pseudonymisation keys, from private files;
//! - `verify`: `doelpoort log verify`;
//! - `purge`: `doelpoort log purge`, retention by date, from the oldest end;
//! - `partitions`: PostgreSQL's monthly partitions of the log (made ahead, dropped whole).
//!
//! A response that carries personal data is sent only after `DisclosureLog::append` returned
//! `Ok`: the records are committed. If they cannot be, the request gets 503 and no data.

pub mod checkpoint;
pub mod keys;
pub mod partitions;
pub mod purge;
pub mod record;
pub mod refusals;
pub mod verify;
pub mod writer;

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use crate::config::DisclosureSettings;
use crate::domain::Bsn;
use crate::metrics::Metrics;
use crate::storage::Database;
pub use keys::Keys;
pub use record::{Record, Status, StoredRecord};

#[derive(Debug, Clone, thiserror::Error)]
pub enum LogError {
    #[error("disclosure log unavailable: {0}")]
    Unavailable(String),
    #[error("disclosure log queue full")]
    Overloaded,
    #[error("disclosure log writer stopped")]
    Stopped,
}

/// The handle requests append through. Cheap to clone.
#[derive(Clone)]
pub struct DisclosureLog {
    tx: SyncSender<writer::Submission>,
    keys: Arc<Keys>,
    instance: Arc<str>,
    writer: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl DisclosureLog {
    /// Starts the writer thread for `instance`. The writer ends (after signing a closing
    /// checkpoint) when every clone of the returned handle is dropped.
    pub fn start(
        db: Database,
        keys: Keys,
        instance: &str,
        settings: &DisclosureSettings,
        metrics: Arc<Metrics>,
    ) -> DisclosureLog {
        let (tx, rx) = sync_channel(settings.queue);
        let keys = Arc::new(keys);
        let writer_settings = writer::WriterSettings {
            instance: instance.to_owned(),
            max_batch: settings.max_batch,
            checkpoint_every_records: settings.checkpoint_every_records,
            checkpoint_every: Duration::from_millis(settings.checkpoint_every_ms),
        };
        let k = keys.clone();
        let thread = std::thread::Builder::new()
            .name("disclosure-writer".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| {
                    writer::run(rx, db, k, writer_settings, metrics)
                });
                if std::panic::catch_unwind(run).is_err() {
                    // Every request now gets 503 and no data (its submission finds no
                    // writer); `/ready` says so, so that the platform restarts the instance.
                    tracing::error!("the disclosure writer stopped on a panic; nothing more is disclosed until a restart");
                }
            })
            .expect("a thread can be started");
        DisclosureLog {
            tx,
            keys,
            instance: instance.into(),
            writer: Arc::new(std::sync::Mutex::new(Some(thread))),
        }
    }

    /// Waits (at most `limit`) for the writer to finish once the last other handle is gone;
    /// called at shutdown so that the closing checkpoint is written before the process ends.
    pub fn finish(self, limit: Duration) {
        let writer = self.writer.clone();
        drop(self);
        let Some(thread) = writer.lock().expect("writer lock").take() else {
            return;
        };
        let deadline = std::time::Instant::now() + limit;
        while !thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("the disclosure writer did not finish in time; the chain's tail stays unsigned until the next start");
        }
    }

    /// Is the writer still taking records? False after it stopped (a panic, or shutdown).
    pub fn is_running(&self) -> bool {
        self.writer
            .lock()
            .expect("writer lock")
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Appends `records` and waits until they are committed.
    pub async fn append(&self, records: Vec<Record>) -> Result<(), LogError> {
        let (reply, done) = tokio::sync::oneshot::channel();
        self.tx
            .try_send(writer::Submission { records, reply })
            .map_err(|e| match e {
                TrySendError::Full(_) => LogError::Overloaded,
                TrySendError::Disconnected(_) => LogError::Stopped,
            })?;
        done.await.map_err(|_| LogError::Stopped)?
    }

    pub fn pseudonym(&self, bsn: &Bsn) -> [u8; 32] {
        self.keys.pseudonym(bsn)
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
