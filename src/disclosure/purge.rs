//! Retention: `doelpoort log purge` removes this instance's records whose retention has passed,
//! from the oldest end of its chain only, and signs a purge checkpoint saying where the chain
//! now starts, so that `log verify` verifies what remains. A record past its retention that
//! follows one still kept waits until everything before it may go too.
//!
//! The database itself refuses to delete a record before its retention date (a trigger), so
//! neither a wrong clock here nor a hand-written DELETE can shorten it.

use diesel::prelude::*;

use super::checkpoint::{self, Checkpoint};
use super::keys::Keys;
use crate::storage::schema::{disclosure_checkpoints, disclosure_records};
use crate::storage::{Database, StorageError};

/// Records removed per transaction (each transaction signs its own purge checkpoint).
const CHUNK: i64 = 50_000;

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
    loop {
        let step = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let start: i64 = disclosure_checkpoints::table
                .filter(disclosure_checkpoints::instance_id.eq(instance))
                .filter(disclosure_checkpoints::kind.eq(checkpoint::PURGE))
                .select(diesel::dsl::max(disclosure_checkpoints::first_seq))
                .first::<Option<i64>>(conn)?
                .unwrap_or(1);
            let records =
                disclosure_records::table.filter(disclosure_records::instance_id.eq(instance));
            let Some(head) = records
                .select(diesel::dsl::max(disclosure_records::seq))
                .first::<Option<i64>>(conn)?
            else {
                return Ok((0, start));
            };
            let first_kept: Option<i64> = records
                .filter(disclosure_records::seq.ge(start))
                .filter(disclosure_records::retain_until_ms.ge(now_ms))
                .select(diesel::dsl::min(disclosure_records::seq))
                .first(conn)?;
            let last = first_kept.map_or(head, |k| k - 1).min(start + CHUNK - 1);
            if last < start {
                return Ok((0, start));
            }
            let hash: Vec<u8> = records
                .filter(disclosure_records::seq.eq(last))
                .select(disclosure_records::hash)
                .first(conn)?;
            let purged = diesel::delete(
                disclosure_records::table
                    .filter(disclosure_records::instance_id.eq(instance))
                    .filter(disclosure_records::seq.le(last)),
            )
            .execute(conn)?;
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
                .execute(&mut *conn)?;
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
