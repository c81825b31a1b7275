//! Retention: `doelpoort log purge` removes this instance's records whose retention has passed,
//! from the oldest end of its chain only, and signs a purge checkpoint saying where the chain
//! now starts, so that `log verify` verifies what remains. A record past its retention that
//! follows one still kept waits until everything before it may go too.
//!
//! The database itself refuses to delete a record before its retention date (a trigger), so
//! neither a wrong clock here nor a hand-written DELETE can shorten it.
//!
//! On PostgreSQL (partitioned by month and instance, see `partitions`) the months of this
//! instance whose records may all go are dropped whole first, in one transaction with their
//! purge checkpoint (the database checks every record's date before it drops a leaf); the
//! rest goes record by record as on SQLite.

use diesel::prelude::*;

use super::checkpoint::{self, Checkpoint};
use super::keys::Keys;
use super::partitions;
use crate::storage::schema::{disclosure_checkpoints, disclosure_records};
use crate::storage::{Database, DbConnection, StorageError};

/// Records removed per transaction (each transaction signs its own purge checkpoint).
const CHUNK: i64 = 50_000;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    pub purged: u64,
    /// Where the chain starts now.
    pub first_seq: i64,
}

pub fn purge(
    db: &Database,
    keys: &Keys,
    instance: &str,
    now_ms: i64,
) -> Result<PurgeReport, StorageError> {
    let mut report = PurgeReport::default();
    let mut conn = db.checkout()?;
    if matches!(&*conn, DbConnection::Postgresql(_)) {
        report.purged +=
            conn.transaction(|conn| drop_whole_months(conn, keys, instance, now_ms))?;
    }
    loop {
        let step = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let Some((start, last)) = purgeable(conn, instance, now_ms)? else {
                return Ok((0, chain_start(conn, instance)?));
            };
            let last = last.min(start + CHUNK - 1);
            // Signed before the records go: the checkpoint names the last one's hash.
            sign_purge(conn, keys, instance, last)?;
            let purged = delete_through(conn, instance, last)?;
            Ok((purged as u64, last + 1))
        })?;
        report.first_seq = step.1;
        if step.0 == 0 {
            return Ok(report);
        }
        report.purged += step.0;
        tracing::info!(
            instance,
            purged = step.0,
            first_seq = step.1,
            "disclosure records past retention purged"
        );
    }
}

/// Where `instance`'s chain starts now: 1, or where its latest purge checkpoint says.
fn chain_start(conn: &mut DbConnection, instance: &str) -> QueryResult<i64> {
    Ok(disclosure_checkpoints::table
        .filter(disclosure_checkpoints::instance_id.eq(instance))
        .filter(disclosure_checkpoints::kind.eq(checkpoint::PURGE))
        .select(diesel::dsl::max(disclosure_checkpoints::first_seq))
        .first::<Option<i64>>(conn)?
        .unwrap_or(1))
}

/// The run of records past retention at the start of `instance`'s chain, `(first, last)`;
/// `None` when the first record must stay (or there is none).
fn purgeable(
    conn: &mut DbConnection,
    instance: &str,
    now_ms: i64,
) -> QueryResult<Option<(i64, i64)>> {
    let start = chain_start(conn, instance)?;
    let records = disclosure_records::table.filter(disclosure_records::instance_id.eq(instance));
    let Some(head) = records
        .select(diesel::dsl::max(disclosure_records::seq))
        .first::<Option<i64>>(conn)?
    else {
        return Ok(None);
    };
    // Along the primary key from the chain's start, up to the first record still kept: the
    // purge's cost is the run it removes, not the log's size.
    let first_kept: Option<i64> = records
        .filter(disclosure_records::seq.ge(start))
        .filter(disclosure_records::retain_until_ms.ge(now_ms))
        .order(disclosure_records::seq.asc())
        .select(disclosure_records::seq)
        .first(conn)
        .optional()?;
    let last = first_kept.map_or(head, |k| k - 1);
    Ok((last >= start).then_some((start, last)))
}

/// Deletes `instance`'s records up to `last` (the trigger checks each one's date).
fn delete_through(conn: &mut DbConnection, instance: &str, last: i64) -> QueryResult<usize> {
    diesel::delete(
        disclosure_records::table
            .filter(disclosure_records::instance_id.eq(instance))
            .filter(disclosure_records::seq.le(last)),
    )
    .execute(conn)
}

/// Signs the purge checkpoint saying that `instance`'s chain now starts after `last`.
fn sign_purge(conn: &mut DbConnection, keys: &Keys, instance: &str, last: i64) -> QueryResult<()> {
    let hash: Vec<u8> = disclosure_records::table
        .filter(disclosure_records::instance_id.eq(instance))
        .filter(disclosure_records::seq.eq(last))
        .select(disclosure_records::hash)
        .first(conn)?;
    let hash: [u8; 32] = hash
        .try_into()
        .map_err(|_| diesel::result::Error::RollbackTransaction)?;
    let cp = Checkpoint::sign(
        &keys.signing,
        instance,
        last,
        checkpoint::PURGE,
        hash,
        last + 1,
        hash,
        chrono::Utc::now().timestamp_millis(),
    );
    diesel::insert_into(disclosure_checkpoints::table)
        .values(&cp)
        .execute(conn)?;
    Ok(())
}

/// PostgreSQL: drops every leaf of `instance` whose records all lie in the purgeable run,
/// deletes the few records of that run beyond them (a request that started before midnight
/// may be committed after one that started after it, so a month's sequence numbers can reach
/// into the next month's leaf), and signs the purge checkpoint. Returns the records removed.
fn drop_whole_months(
    conn: &mut DbConnection,
    keys: &Keys,
    instance: &str,
    now_ms: i64,
) -> QueryResult<u64> {
    let run = purgeable(conn, instance, now_ms)?;
    let DbConnection::Postgresql(pg) = conn else {
        return Ok(0);
    };
    let mut droppable = Vec::new();
    let mut through = None;
    for leaf in partitions::leaves(pg, instance)? {
        // A day's grace after the month: a request that started in it may still be written.
        if leaf.month_end_ms + DAY_MS > now_ms {
            break;
        }
        match partitions::last_seq(pg, &leaf)? {
            // A month gone by without records of this instance.
            None => droppable.push(leaf),
            Some(last) if run.is_some_and(|(_, end)| last <= end) => {
                through = Some(last.max(through.unwrap_or(last)));
                droppable.push(leaf);
            }
            Some(_) => break,
        }
    }
    let Some(through) = through else {
        // Only empty months: nothing to sign for.
        for leaf in &droppable {
            partitions::drop_leaf(pg, leaf)?;
        }
        return Ok(0);
    };
    // Signed before the records go: the checkpoint names the hash of the last one.
    sign_purge(conn, keys, instance, through)?;
    let DbConnection::Postgresql(pg) = conn else {
        unreachable!("checked above")
    };
    let mut purged = 0;
    for leaf in &droppable {
        purged += partitions::drop_leaf(pg, leaf)?;
    }
    purged += delete_through(conn, instance, through)? as u64;
    tracing::info!(
        instance,
        months = droppable.len(),
        purged,
        first_seq = through + 1,
        "whole months of the disclosure log past retention dropped"
    );
    Ok(purged)
}
