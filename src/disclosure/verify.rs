//! `doelpoort log verify`: every instance's chain recomputed from its start, every checkpoint's
//! signature checked against the instance's trusted public key and against the chain.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use diesel::prelude::*;

use super::checkpoint::{self, Checkpoint};
use super::keys;
use super::record::StoredRecord;
use crate::storage::schema::{disclosure_checkpoints, disclosure_records};
use crate::storage::{Database, StorageError};

/// The first thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub instance: String,
    pub seq: i64,
    pub what: String,
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "instance {}, record {}: {}",
            self.instance, self.seq, self.what
        )
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub records: u64,
    pub checkpoints: u64,
    pub instances: Vec<String>,
    /// Records after the last checkpoint of their instance (chained, not yet signed).
    pub unsigned_tail: u64,
    pub fault: Option<Fault>,
}

const PAGE: i64 = 20_000;

/// Verifies every chain. `progress` is told of each record verified.
pub fn verify(
    db: &Database,
    keys_dir: &Path,
    mut progress: impl FnMut(u64),
) -> Result<Report, StorageError> {
    let mut conn = db.checkout()?;
    let mut instances: BTreeSet<String> = disclosure_records::table
        .select(disclosure_records::instance_id)
        .distinct()
        .load::<String>(&mut *conn)?
        .into_iter()
        .collect();
    instances.extend(
        disclosure_checkpoints::table
            .select(disclosure_checkpoints::instance_id)
            .distinct()
            .load::<String>(&mut *conn)?,
    );
    let mut report = Report::default();
    for instance in instances {
        report.instances.push(instance.clone());
        if let Err(fault) = verify_instance(
            db,
            &mut conn,
            keys_dir,
            &instance,
            &mut report,
            &mut progress,
        )? {
            report.fault = Some(fault);
            break;
        }
    }
    Ok(report)
}

/// Total records, for a progress bar.
pub fn count(db: &Database) -> Result<u64, StorageError> {
    let mut conn = db.checkout()?;
    let n: i64 = disclosure_records::table.count().get_result(&mut *conn)?;
    Ok(n as u64)
}

fn verify_instance(
    db: &Database,
    conn: &mut crate::storage::DbConnection,
    keys_dir: &Path,
    instance: &str,
    report: &mut Report,
    progress: &mut impl FnMut(u64),
) -> Result<Result<(), Fault>, StorageError> {
    let fault = |seq: i64, what: String| Fault {
        instance: instance.to_owned(),
        seq,
        what,
    };
    let trusted = match keys::trusted_public_key(keys_dir, instance) {
        Ok(k) => k,
        Err(e) => return Ok(Err(fault(0, format!("{e:#}")))),
    };
    let checkpoints: Vec<Checkpoint> = disclosure_checkpoints::table
        .filter(disclosure_checkpoints::instance_id.eq(instance))
        .order((
            disclosure_checkpoints::seq.asc(),
            disclosure_checkpoints::kind.asc(),
        ))
        .select(Checkpoint::as_select())
        .load(conn)?;
    for cp in &checkpoints {
        if !cp.verify(&trusted) {
            return Ok(Err(fault(
                cp.seq,
                format!(
                    "the {} checkpoint's signature is not valid with the trusted key",
                    cp.kind
                ),
            )));
        }
    }
    report.checkpoints += checkpoints.len() as u64;
    // The chain starts at 1, or where the latest purge checkpoint says.
    let (mut expect_seq, mut prev) = checkpoints
        .iter()
        .filter(|c| c.kind == checkpoint::PURGE)
        .max_by_key(|c| c.seq)
        .map_or((1, vec![0u8; 32]), |c| {
            (c.first_seq, c.first_prev_hash.clone())
        });
    let heads: HashMap<i64, &Checkpoint> = checkpoints
        .iter()
        .filter(|c| c.seq >= expect_seq)
        .map(|c| (c.seq, c))
        .collect();
    let last_signed = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);

    let below: i64 = disclosure_records::table
        .filter(disclosure_records::instance_id.eq(instance))
        .filter(disclosure_records::seq.lt(expect_seq))
        .count()
        .get_result(conn)?;
    if below > 0 {
        return Ok(Err(fault(
            expect_seq - 1,
            format!("{below} record(s) before the chain's start (after a purge) are still present"),
        )));
    }
    // One thread reads pages while this one hashes: reading and hashing overlap.
    let (pages, received) =
        std::sync::mpsc::sync_channel::<Result<Vec<StoredRecord>, StorageError>>(2);
    let first = expect_seq;
    let outcome = std::thread::scope(|scope| -> Result<Result<(), Fault>, StorageError> {
        scope.spawn(move || {
            let mut conn = match db.checkout() {
                Ok(c) => c,
                Err(e) => {
                    let _ = pages.send(Err(e));
                    return;
                }
            };
            let mut after = first - 1;
            loop {
                let page = disclosure_records::table
                    .filter(disclosure_records::instance_id.eq(instance))
                    .filter(disclosure_records::seq.gt(after))
                    .order(disclosure_records::seq.asc())
                    .limit(PAGE)
                    .select(StoredRecord::as_select())
                    .load(&mut *conn)
                    .map_err(StorageError::from);
                match page {
                    Ok(page) if page.is_empty() => return,
                    Ok(page) => {
                        after = page.last().expect("not empty").seq;
                        if pages.send(Ok(page)).is_err() {
                            return; // the verifier stopped at a fault
                        }
                    }
                    Err(e) => {
                        let _ = pages.send(Err(e));
                        return;
                    }
                }
            }
        });
        for page in received {
            let page = page?;
            for r in &page {
                if r.seq != expect_seq {
                    return Ok(Err(fault(
                        expect_seq,
                        format!("missing (the next record present is {})", r.seq),
                    )));
                }
                if r.prev_hash != prev {
                    return Ok(Err(fault(
                        r.seq,
                        "its previous-hash does not match the record before it".into(),
                    )));
                }
                if r.hash != r.compute_hash() {
                    return Ok(Err(fault(
                        r.seq,
                        "its content does not match its hash (modified)".into(),
                    )));
                }
                if let Some(cp) = heads.get(&r.seq) {
                    if cp.head_hash != r.hash {
                        return Ok(Err(fault(
                            r.seq,
                            format!(
                                "differs from the signed {} checkpoint at this position",
                                cp.kind
                            ),
                        )));
                    }
                }
                if r.seq > last_signed {
                    report.unsigned_tail += 1;
                }
                prev = r.hash.clone();
                expect_seq += 1;
                report.records += 1;
            }
            progress(page.len() as u64);
        }
        Ok(Ok(()))
    })?;
    if outcome.is_err() {
        return Ok(outcome);
    }
    // A signed head beyond the last record: records were removed from the end.
    if let Some(cp) = checkpoints
        .iter()
        .filter(|c| c.seq >= expect_seq && c.kind == checkpoint::PERIODIC)
        .min_by_key(|c| c.seq)
    {
        return Ok(Err(fault(
            expect_seq,
            format!(
                "missing: a signed checkpoint covers up to record {}",
                cp.seq
            ),
        )));
    }
    Ok(Ok(()))
}
