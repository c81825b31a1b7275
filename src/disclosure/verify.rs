//! `doelpoort log verify`: every instance's chain recomputed from its start, every checkpoint's
//! signature checked against the instance's trusted public key and against the chain.
//!
//! A long chain is read in a few stretches at once (on PostgreSQL each on a connection of its
//! own, with a binary COPY), each stretch checked on its own thread; the stretches are then
//! joined, each one's first record against the end of the one before it, so that the outcome
//! (the first fault: the lowest bad record) is that of one pass from the start.

mod copy_binary;
mod read;
mod stretch;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::prelude::*;

use self::stretch::{digest, join, Head, Stretch, StretchCheck};
use super::checkpoint::{self, Checkpoint};
use super::keys;
use crate::storage::schema::{disclosure_checkpoints, disclosure_records};
use crate::storage::{Database, DbConnection, StorageError};

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

/// How a chain is cut into stretches read at once.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// Stretches at most.
    readers: usize,
    /// Records per stretch at least (a stretch costs a thread and a connection of its own).
    min_stretch: i64,
}

impl Plan {
    /// One reader more than this machine has cores (at least 2, at most 8): each reader
    /// waits on its database part of the time, and on PostgreSQL every reader is also a
    /// server process. Measured on 2 (shared) cores, 10 M records on PostgreSQL: 1 reader
    /// 0.29 M records/s, 2 to 4 readers 0.38–0.40 M/s (benches/disclosure_verify.rs).
    fn for_this_machine() -> Plan {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Plan {
            readers: (cores + 1).clamp(2, 8),
            min_stretch: 200_000,
        }
    }
}

/// Verifies every chain. `progress` is told of each record verified.
pub fn verify(
    db: &Database,
    keys_dir: &Path,
    progress: impl FnMut(u64),
) -> Result<Report, StorageError> {
    verify_with(db, keys_dir, progress, Plan::for_this_machine())
}

fn verify_with(
    db: &Database,
    keys_dir: &Path,
    mut progress: impl FnMut(u64),
    plan: Plan,
) -> Result<Report, StorageError> {
    let mut conn = db.checkout()?;
    let mut instances: BTreeSet<String> = chains(&mut conn)?.into_iter().collect();
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
            plan,
        )? {
            report.fault = Some(fault);
            break;
        }
    }
    Ok(report)
}

/// The records to verify, for a progress bar: each chain from its first record present to
/// its last (for a whole chain, its number of records), found through the primary key. A
/// `count(*)` read the whole table: 0.53 s at 10 M records on PostgreSQL.
pub fn count(db: &Database) -> Result<u64, StorageError> {
    use diesel::dsl::{max, min};
    let mut conn = db.checkout()?;
    let mut n = 0;
    for instance in chains(&mut conn)? {
        let (first, last): (Option<i64>, Option<i64>) = disclosure_records::table
            .filter(disclosure_records::instance_id.eq(&instance))
            .select((min(disclosure_records::seq), max(disclosure_records::seq)))
            .first(&mut *conn)?;
        if let (Some(first), Some(last)) = (first, last) {
            n += (last - first + 1).max(0) as u64;
        }
    }
    Ok(n)
}

#[derive(QueryableByName)]
struct Chain {
    #[diesel(sql_type = diesel::sql_types::Text)]
    instance_id: String,
}

/// The instances with records, in order: one step through the primary key per instance (a
/// `DISTINCT` read all of it: 0.61 s of a 9.6 s verify at 10 M records on PostgreSQL).
fn chains(conn: &mut DbConnection) -> Result<Vec<String>, StorageError> {
    let rows: Vec<Chain> = diesel::sql_query(
        "WITH RECURSIVE chain(instance_id) AS ( \
           SELECT min(instance_id) FROM disclosure_records \
           UNION ALL \
           SELECT (SELECT min(r.instance_id) FROM disclosure_records r \
                   WHERE r.instance_id > chain.instance_id) \
           FROM chain WHERE chain.instance_id IS NOT NULL) \
         SELECT instance_id FROM chain WHERE instance_id IS NOT NULL",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|c| c.instance_id).collect())
}

fn verify_instance(
    db: &Database,
    conn: &mut DbConnection,
    keys_dir: &Path,
    instance: &str,
    report: &mut Report,
    progress: &mut impl FnMut(u64),
    plan: Plan,
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
    let (start, start_prev) = checkpoints
        .iter()
        .filter(|c| c.kind == checkpoint::PURGE)
        .max_by_key(|c| c.seq)
        .map_or((1, Some([0u8; 32])), |c| {
            (c.first_seq, digest(&c.first_prev_hash))
        });
    // In (seq, kind) order, as loaded.
    let heads: Vec<Head> = checkpoints
        .iter()
        .filter(|c| c.seq >= start)
        .map(|c| Head {
            seq: c.seq,
            hash: &c.head_hash,
            kind: &c.kind,
        })
        .collect();
    let last_signed = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);

    let records = disclosure_records::table.filter(disclosure_records::instance_id.eq(instance));
    let below: i64 = records
        .filter(disclosure_records::seq.lt(start))
        .count()
        .get_result(conn)?;
    if below > 0 {
        return Ok(Err(fault(
            start - 1,
            format!("{below} record(s) before the chain's start (after a purge) are still present"),
        )));
    }
    let end: Option<i64> = records
        .select(diesel::dsl::max(disclosure_records::seq))
        .first(conn)?;
    let stretches = cut(start, end.unwrap_or(start), plan);
    let checked = read_stretches(db, instance, &heads, last_signed, &stretches, progress)?;
    let joined = join(start, start_prev, &checked);
    report.records += joined.records;
    report.unsigned_tail += joined.unsigned_tail;
    let next_seq = match joined.outcome {
        Ok(next) => next,
        Err((seq, what)) => return Ok(Err(fault(seq, what))),
    };
    // A signed head beyond the last record: records were removed from the end.
    if let Some(cp) = checkpoints
        .iter()
        .filter(|c| c.seq >= next_seq && c.kind == checkpoint::PERIODIC)
        .min_by_key(|c| c.seq)
    {
        return Ok(Err(fault(
            next_seq,
            format!(
                "missing: a signed checkpoint covers up to record {}",
                cp.seq
            ),
        )));
    }
    Ok(Ok(()))
}

/// `[start, end]` cut into stretches of at least `plan.min_stretch` records; the last one
/// open-ended, so that records appended meanwhile are verified too.
fn cut(start: i64, end: i64, plan: Plan) -> Vec<(i64, i64)> {
    let span = (end - start + 1).max(1);
    let n = (span / plan.min_stretch.max(1)).clamp(1, plan.readers.max(1) as i64);
    (0..n)
        .map(|k| {
            let from = start + span * k / n;
            let to = if k + 1 == n {
                i64::MAX
            } else {
                start + span * (k + 1) / n - 1
            };
            (from, to)
        })
        .collect()
}

enum Event {
    Progress(u64),
    /// A stretch read: what it found, or `None` when it stopped because a stretch before it
    /// found a fault (then nothing after that fault counts).
    Done(usize, Result<Option<Stretch>, StorageError>),
}

/// Reads and checks `stretches` at once, each on a thread of its own; this thread passes on
/// their progress. A stretch that finds a fault (or fails) stops the stretches after it.
fn read_stretches(
    db: &Database,
    instance: &str,
    heads: &[Head],
    last_signed: i64,
    stretches: &[(i64, i64)],
    progress: &mut impl FnMut(u64),
) -> Result<Vec<Stretch>, StorageError> {
    let stop = AtomicUsize::new(usize::MAX);
    let (events, received) = std::sync::mpsc::channel();
    let mut results: Vec<Option<Result<Option<Stretch>, StorageError>>> =
        (0..stretches.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for (i, &bounds) in stretches.iter().enumerate() {
            let events = events.clone();
            let stop = &stop;
            scope.spawn(move || {
                let mut check = StretchCheck::new(heads, last_signed);
                let mut tick = |n: u64| {
                    let _ = events.send(Event::Progress(n));
                    stop.load(Ordering::Relaxed) > i
                };
                let outcome = db.connect_apart().and_then(|mut conn| match &mut conn {
                    DbConnection::Postgresql(c) => {
                        read::postgres(c, instance, bounds, &mut check, &mut tick)
                    }
                    DbConnection::Sqlite(c) => {
                        read::sqlite(c, instance, bounds, &mut check, &mut tick)
                    }
                });
                let outcome = outcome
                    .map(|to_the_end| (to_the_end || check.found_fault()).then(|| check.finish()));
                if !matches!(&outcome, Ok(Some(s)) if s.fault.is_none()) {
                    stop.fetch_min(i, Ordering::Relaxed);
                }
                let _ = events.send(Event::Done(i, outcome));
            });
        }
        drop(events);
        for event in received {
            match event {
                Event::Progress(n) => progress(n),
                Event::Done(i, outcome) => results[i] = Some(outcome),
            }
        }
    });
    // In order, up to the first stretch that did not read to its end.
    let mut checked = Vec::new();
    for outcome in results {
        match outcome.expect("every reader reports") {
            Ok(Some(s)) => {
                let fault = s.fault.is_some();
                checked.push(s);
                if fault {
                    break;
                }
            }
            // Only a fault before it stops a stretch: never reached.
            Ok(None) => {
                return Err(StorageError::Unavailable(
                    "log verify: a stretch stopped with no fault before it".into(),
                ))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    //! The chain read in stretches gives what one pass gives, on both backends: the same
    //! first fault, at the same record, with the same counts. (tests/disclosure.rs has the
    //! tampering tests through the gateway and the command line.)

    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::config::DatabaseSettings;
    use crate::disclosure::record::{Record, Status, StoredRecord};
    use crate::disclosure::Keys;

    const N: i64 = 63;

    /// Records with every optional column present in some and absent (or empty) in others.
    fn record(k: i64) -> Record {
        let some = |s: &str| (k % 3 != 0).then(|| s.to_owned());
        Record {
            trace_id: [k as u8; 16],
            operation_id: [k as u8 ^ 0x55; 8],
            parent_operation_id: (k % 2 == 0).then_some([1; 8]),
            foreign_trace_id: (k % 4 == 1).then_some([2; 16]),
            foreign_operation_id: (k % 4 == 1).then_some([3; 8]),
            foreign_entity: some("99000000000000000004"),
            name: if k % 5 == 0 {
                "GET /api/v1/personen/{bsn}".into()
            } else {
                "rni-raadplegen/read".into()
            },
            start_time_ms: 1_767_225_600_000 + k,
            end_time_ms: 1_767_225_600_000 + 2 * k,
            status: if k % 5 == 0 {
                Status::Error
            } else {
                Status::Ok
            },
            refusal_code: (k % 5 == 0).then(|| "missingProcessingActivity".into()),
            processing_activity_id: some("rni-raadplegen"),
            register_version: some("sha256:ab"),
            requester_oin: some("99000000000103630000"),
            provider_oin: (k % 7 != 0).then(|| "99000000000000000001".into()),
            case_reference: (k % 6 == 0).then(String::new),
            fields: if k % 5 == 0 {
                String::new()
            } else {
                "naam,geboorte".into()
            },
            record_count: (k % 3) as i32,
            subject_pseudonym: (k % 2 == 0).then_some([k as u8; 32]),
            retain_until_ms: 1_767_225_600_000 + 86_400_000,
        }
    }

    /// `n` records of `instance`, a periodic checkpoint every 10.
    fn append(db: &Database, keys: &Keys, instance: &str, n: i64) {
        let mut prev = [0u8; 32];
        let mut rows = Vec::new();
        let mut cps = Vec::new();
        for seq in 1..=n {
            let r = StoredRecord::chain(record(seq), instance, seq, prev);
            prev = r.hash.as_slice().try_into().unwrap();
            rows.push(r);
            if seq % 10 == 0 {
                cps.push(Checkpoint::sign(
                    &keys.signing,
                    instance,
                    seq,
                    checkpoint::PERIODIC,
                    prev,
                    1,
                    [0; 32],
                    seq,
                ));
            }
        }
        let mut conn = db.checkout().unwrap();
        macro_rules! insert {
            ($c:expr) => {{
                diesel::insert_into(disclosure_records::table)
                    .values(&rows)
                    .execute($c)
                    .unwrap();
                diesel::insert_into(disclosure_checkpoints::table)
                    .values(&cps)
                    .execute($c)
                    .unwrap();
            }};
        }
        match &mut *conn {
            DbConnection::Postgresql(c) => {
                crate::disclosure::partitions::ensure(
                    c,
                    instance,
                    rows.iter().map(|r| r.start_time_ms),
                )
                .unwrap();
                insert!(c)
            }
            DbConnection::Sqlite(c) => insert!(c),
        }
    }

    struct Scratch {
        db: Database,
        keys: tempfile::TempDir,
        _dir: tempfile::TempDir,
        pg: Option<(String, String)>,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Some((admin, name)) = &self.pg {
                let mut conn = PgConnection::establish(admin).unwrap();
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .unwrap();
            }
        }
    }

    /// A fresh database with the chain of "gw" (`N` records) and of "gw-b" (12 records).
    fn scratch(postgres: bool) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = if postgres {
            let admin = std::env::var("DOELPOORT_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
            let name = format!("doelpoort_u_{}", uuid::Uuid::new_v4().simple());
            let mut conn = PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin}): {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .unwrap();
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            (format!("{base}/{name}"), Some((admin.clone(), name)))
        } else {
            (
                format!("sqlite://{}", dir.path().join("v.db").display()),
                None,
            )
        };
        let db = Database::connect(&DatabaseSettings {
            url,
            pool_size: 2,
            connect_timeout_ms: 5_000,
        })
        .unwrap();
        let scratch = Scratch {
            db,
            keys: tempfile::tempdir().unwrap(),
            _dir: dir,
            pg,
        };
        scratch.db.migrate().unwrap();
        for (instance, n) in [("gw", N), ("gw-b", 12)] {
            let keys = Keys::load(scratch.keys.path(), instance, true).unwrap();
            append(&scratch.db, &keys, instance, n);
        }
        scratch
    }

    fn tamper(s: &Scratch, sql: &[&str]) {
        let disable = if s.pg.is_some() {
            "ALTER TABLE disclosure_records DISABLE TRIGGER USER;"
        } else {
            "DROP TRIGGER disclosure_records_no_update; DROP TRIGGER disclosure_records_no_delete;"
        };
        let mut conn = s.db.checkout().unwrap();
        conn.batch_execute(disable).unwrap();
        for statement in sql {
            conn.batch_execute(statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    /// Verifies in one stretch and in four (cut after 15, 31 and 47): both must agree.
    fn verified(s: &Scratch) -> (u64, u64, Option<Fault>) {
        assert_eq!(
            cut(
                1,
                N,
                Plan {
                    readers: 4,
                    min_stretch: 1
                }
            ),
            [(1, 15), (16, 31), (32, 47), (48, i64::MAX)]
        );
        let run = |plan| {
            let mut told = 0;
            let r = verify_with(&s.db, s.keys.path(), |n| told += n, plan).unwrap();
            if r.fault.is_none() {
                assert_eq!(told, r.records, "progress told");
            }
            (r.records, r.unsigned_tail, r.fault)
        };
        let whole = run(Plan {
            readers: 1,
            min_stretch: 1,
        });
        let cut = run(Plan {
            readers: 4,
            min_stretch: 1,
        });
        assert_eq!(cut, whole, "four stretches and one disagree");
        whole
    }

    fn fault_at(s: &Scratch, instance: &str, seq: i64, what: &str) {
        let (_, _, fault) = verified(s);
        let fault = fault.expect("tampering went unnoticed");
        assert_eq!(
            (fault.instance.as_str(), fault.seq),
            (instance, seq),
            "{fault}"
        );
        assert!(fault.what.contains(what), "{fault}");
    }

    fn stretches_agree(postgres: bool) {
        let s = scratch(postgres);
        assert_eq!(verified(&s), (N as u64 + 12, 3 + 2, None));
        assert_eq!(
            count(&s.db).unwrap(),
            N as u64 + 12,
            "the progress bar's total"
        );

        let cases: &[(&[&str], i64, &str)] = &[
            // The first record of the second stretch, then the last of the second.
            (&["UPDATE disclosure_records SET fields = 'bsn' WHERE instance_id = 'gw' AND seq = 16"], 16, "modified"),
            (&["DELETE FROM disclosure_records WHERE instance_id = 'gw' AND seq = 32"], 32, "missing"),
            (&["DELETE FROM disclosure_records WHERE instance_id = 'gw' AND seq = 31"], 31, "missing (the next record present is 32)"),
            (&["DELETE FROM disclosure_records WHERE instance_id = 'gw' AND seq BETWEEN 14 AND 33"], 14, "missing (the next record present is 34)"),
            // Swapped across the first cut.
            (&[
                "UPDATE disclosure_records SET seq = 1000 WHERE instance_id = 'gw' AND seq = 15",
                "UPDATE disclosure_records SET seq = 15 WHERE instance_id = 'gw' AND seq = 16",
                "UPDATE disclosure_records SET seq = 16 WHERE instance_id = 'gw' AND seq = 1000",
            ], 15, "previous-hash"),
            // A copy of record 2 made the 64th.
            (&["INSERT INTO disclosure_records SELECT instance_id, 64, trace_id, operation_id, parent_operation_id, foreign_trace_id, foreign_operation_id, foreign_entity, name, start_time_ms, end_time_ms, status, refusal_code, processing_activity_id, register_version, requester_oin, provider_oin, case_reference, fields, record_count, subject_pseudonym, retain_until_ms, prev_hash, hash FROM disclosure_records WHERE instance_id = 'gw' AND seq = 2"], 64, "previous-hash"),
            // Two records changed: the lower one is the fault.
            (&[
                "UPDATE disclosure_records SET requester_oin = NULL WHERE instance_id = 'gw' AND seq = 40",
                "UPDATE disclosure_records SET case_reference = '' WHERE instance_id = 'gw' AND seq = 20",
            ], 20, "modified"),
            // The end cut off, past the last signed head.
            (&["DELETE FROM disclosure_records WHERE instance_id = 'gw' AND seq >= 58"], 58, "a signed checkpoint covers up to record 60"),
            // Another instance's chain.
            (&["UPDATE disclosure_records SET name = 'x' WHERE instance_id = 'gw-b' AND seq = 3"], 3, "modified"),
        ];
        drop(s);
        for (sql, seq, what) in cases {
            let s = scratch(postgres);
            tamper(&s, sql);
            let instance = if sql[0].contains("'gw-b'") {
                "gw-b"
            } else {
                "gw"
            };
            fault_at(&s, instance, *seq, what);
        }
        // Records after the last signed head removed: not a fault (the tail is not signed).
        let s = scratch(postgres);
        tamper(
            &s,
            &["DELETE FROM disclosure_records WHERE instance_id = 'gw' AND seq > 60"],
        );
        assert_eq!(verified(&s), (60 + 12, 2, None));
    }

    #[test]
    fn stretches_agree_with_one_pass_on_sqlite() {
        stretches_agree(false);
    }

    #[test]
    fn stretches_agree_with_one_pass_on_postgres() {
        stretches_agree(true);
    }

    #[test]
    fn a_chain_is_cut_into_whole_stretches() {
        let plan = Plan {
            readers: 4,
            min_stretch: 200_000,
        };
        assert_eq!(cut(1, 0, plan), [(1, i64::MAX)]);
        assert_eq!(cut(1, 399_999, plan), [(1, i64::MAX)]);
        assert_eq!(cut(1, 400_000, plan), [(1, 200_000), (200_001, i64::MAX)]);
        let c = cut(5, 10_000_004, plan);
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].0, 5);
        for w in c.windows(2) {
            assert_eq!(w[0].1 + 1, w[1].0);
        }
    }
}
