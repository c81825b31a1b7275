//! The single writer: records of concurrent requests are committed together, in one
//! transaction per batch, and each request is answered when its batch is durable (group
//! commit). The chain head lives here; it only moves on after a commit, and is read back from
//! the database after any failure.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use tokio::sync::oneshot;

use super::checkpoint::{self, Checkpoint};
use super::partitions::Months;
use super::record::{Record, StoredRecord};
use super::{keys::Keys, LogError};
use crate::metrics::Metrics;
use crate::storage::schema::{disclosure_checkpoints, disclosure_records};
use crate::storage::{Database, DbConnection};

pub struct Submission {
    pub records: Vec<Record>,
    pub reply: oneshot::Sender<Result<(), LogError>>,
}

#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub instance: String,
    /// Records per transaction at most.
    pub max_batch: usize,
    pub checkpoint_every_records: u64,
    pub checkpoint_every: Duration,
}

/// Where the chain stands.
#[derive(Debug, Clone, Copy)]
struct Head {
    seq: i64,
    hash: [u8; 32],
    first_seq: i64,
    first_prev_hash: [u8; 32],
}

pub fn run(
    rx: Receiver<Submission>,
    db: Database,
    keys: Arc<Keys>,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
) {
    let mut head: Option<Head> = None;
    let mut months = Months::default();
    // This month's and the next month's partitions, before the first request (best effort:
    // every batch makes sure of its own).
    if let Ok(mut conn) = db.checkout() {
        if let DbConnection::Postgresql(c) = &mut *conn {
            let _ = months.ensure(c, &settings.instance, [], super::now_ms());
        }
    }
    let mut since_checkpoint: u64 = 0;
    let mut last_checkpoint = Instant::now();
    loop {
        let first = match rx.recv_timeout(settings.checkpoint_every) {
            Ok(s) => Some(s),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                // Shutting down: sign what is not signed yet, so the chain's tail is covered.
                if since_checkpoint > 0 {
                    if let Err(e) = write(
                        &db,
                        &keys,
                        &settings,
                        &mut head,
                        &mut months,
                        Vec::new(),
                        true,
                    ) {
                        tracing::error!(error = %e, "the closing checkpoint could not be written");
                    }
                }
                break;
            }
        };
        let mut batch = Vec::new();
        let mut count = 0;
        if let Some(s) = first {
            count += s.records.len();
            batch.push(s);
            while count < settings.max_batch {
                match rx.try_recv() {
                    Ok(s) => {
                        count += s.records.len();
                        batch.push(s);
                    }
                    Err(_) => break,
                }
            }
        }
        let pending = since_checkpoint + count as u64;
        let checkpoint = pending > 0
            && (pending >= settings.checkpoint_every_records
                || last_checkpoint.elapsed() >= settings.checkpoint_every);
        if batch.is_empty() && !checkpoint {
            continue;
        }
        let started = Instant::now();
        let records: Vec<Record> = batch
            .iter_mut()
            .flat_map(|s| std::mem::take(&mut s.records))
            .collect();
        let result = write(
            &db,
            &keys,
            &settings,
            &mut head,
            &mut months,
            records,
            checkpoint,
        );
        metrics
            .disclosure_commit
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(()) => {
                metrics.disclosure_records.inc_by(count as u64);
                if checkpoint {
                    since_checkpoint = 0;
                    last_checkpoint = Instant::now();
                } else {
                    since_checkpoint = pending;
                }
            }
            Err(e) => {
                metrics.disclosure_failures.inc();
                tracing::error!(error = %e, records = count, "disclosure log write failed; the requests get 503 and no data");
                head = None;
            }
        }
        for s in batch {
            let _ = s.reply.send(result.clone());
        }
    }
}

fn write(
    db: &Database,
    keys: &Keys,
    settings: &WriterSettings,
    head: &mut Option<Head>,
    months: &mut Months,
    records: Vec<Record>,
    checkpoint: bool,
) -> Result<(), LogError> {
    let mut conn = db
        .checkout()
        .map_err(|e| LogError::Unavailable(e.to_string()))?;
    let result = write_on(&mut conn, keys, settings, head, months, records, checkpoint);
    if result.is_err() {
        // Whatever failed, the next batch starts on a fresh connection.
        crate::storage::discard(&mut conn);
    }
    result
}

fn write_on(
    conn: &mut DbConnection,
    keys: &Keys,
    settings: &WriterSettings,
    head: &mut Option<Head>,
    months: &mut Months,
    records: Vec<Record>,
    checkpoint: bool,
) -> Result<(), LogError> {
    if let DbConnection::Postgresql(c) = &mut *conn {
        // Outside the batch's transaction: making a leaf locks the whole log for a moment.
        months
            .ensure(
                c,
                &settings.instance,
                records.iter().map(|r| r.start_time_ms),
                super::now_ms(),
            )
            .map_err(|e| LogError::Unavailable(format!("the log's partition: {e}")))?;
    }
    let current = match *head {
        Some(h) => h,
        None => load_head(conn, &settings.instance)?,
    };
    let mut next = current;
    let rows: Vec<StoredRecord> = records
        .into_iter()
        .map(|r| {
            next.seq += 1;
            let row = StoredRecord::chain(r, &settings.instance, next.seq, next.hash);
            next.hash = row.hash.as_slice().try_into().expect("32 bytes");
            row
        })
        .collect();
    let cp = checkpoint.then(|| {
        Checkpoint::sign(
            &keys.signing,
            &settings.instance,
            next.seq,
            checkpoint::PERIODIC,
            next.hash,
            next.first_seq,
            next.first_prev_hash,
            chrono::Utc::now().timestamp_millis(),
        )
    });
    // PostgreSQL takes the batch as one binary COPY: no statement to parse and plan per
    // batch size, and the rows go into the heap page by page. SQLite: one prepared INSERT, row by row
    // (parsing one multi-row INSERT per batch costs more there).
    macro_rules! insert_all {
        ($c:expr, $insert_records:expr) => {
            $c.transaction::<_, diesel::result::Error, _>(|c| {
                $insert_records(c)?;
                if let Some(cp) = &cp {
                    diesel::insert_into(disclosure_checkpoints::table)
                        .values(cp)
                        .execute(c)?;
                }
                Ok(())
            })
        };
    }
    let copy = |c: &mut diesel::PgConnection| {
        diesel::copy_from(disclosure_records::table)
            .from_insertable(&rows)
            .execute(c)
            .map(drop)
    };
    let result = match conn {
        // A COPY is a transaction of its own (all its rows or none, committed before
        // PostgreSQL answers): a batch without a checkpoint needs no BEGIN and COMMIT, two of
        // its four round trips to the database.
        DbConnection::Postgresql(c) if cp.is_none() => copy(c),
        DbConnection::Postgresql(c) => insert_all!(c, copy),
        DbConnection::Sqlite(c) => insert_all!(c, |c: &mut diesel::SqliteConnection| {
            for row in &rows {
                diesel::insert_into(disclosure_records::table)
                    .values(row)
                    .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        }),
    };
    result.map_err(|e| LogError::Unavailable(e.to_string()))?;
    *head = Some(next);
    Ok(())
}

/// The chain's head and start for `instance`, from the database.
fn load_head(conn: &mut DbConnection, instance: &str) -> Result<Head, LogError> {
    let err = |e: diesel::result::Error| LogError::Unavailable(e.to_string());
    let last: Option<(i64, Vec<u8>)> = disclosure_records::table
        .filter(disclosure_records::instance_id.eq(instance))
        .order(disclosure_records::seq.desc())
        .select((disclosure_records::seq, disclosure_records::hash))
        .first(conn)
        .optional()
        .map_err(err)?;
    let purge: Option<(i64, Vec<u8>, i64, Vec<u8>)> = disclosure_checkpoints::table
        .filter(disclosure_checkpoints::instance_id.eq(instance))
        .filter(disclosure_checkpoints::kind.eq(checkpoint::PURGE))
        .order(disclosure_checkpoints::seq.desc())
        .select((
            disclosure_checkpoints::first_seq,
            disclosure_checkpoints::first_prev_hash,
            disclosure_checkpoints::seq,
            disclosure_checkpoints::head_hash,
        ))
        .first(conn)
        .optional()
        .map_err(err)?;
    let hash32 = |v: Vec<u8>| -> Result<[u8; 32], LogError> {
        v.try_into()
            .map_err(|_| LogError::Unavailable("a stored hash is not 32 bytes".into()))
    };
    let (first_seq, first_prev_hash) = match &purge {
        Some((first, prev, _, _)) => (*first, hash32(prev.clone())?),
        None => (1, [0; 32]),
    };
    let (seq, hash) = match (last, purge) {
        (Some((seq, hash)), _) => (seq, hash32(hash)?),
        // Everything purged: the chain goes on from the purge checkpoint's head.
        (None, Some((_, _, seq, head))) => (seq, hash32(head)?),
        (None, None) => (0, [0; 32]),
    };
    Ok(Head {
        seq,
        hash,
        first_seq,
        first_prev_hash,
    })
}
