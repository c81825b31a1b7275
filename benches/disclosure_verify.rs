//! `doelpoort log verify` at scale on PostgreSQL: records/s over a valid chain of
//! BENCH_RECORDS records (default 10,000,000 with `--bench`, 20,000 as a smoke test).
//!
//!   cargo bench --bench disclosure_verify
//!   BENCH_RECORDS=1000000 BENCH_VERIFY_RUNS=3 cargo bench --bench disclosure_verify
//!
//! The chain is made here, not through the writer (which commits ~34k records/s): the records
//! are placed in the chain with the gateway's own `StoredRecord::chain` (so the hashes are the
//! real ones) and loaded with `COPY … FROM STDIN (FORMAT binary)` into a fresh database with
//! the gateway's migrations; the table's secondary indexes (for lookups; `verify` reads by the
//! primary key only) are dropped and the table made UNLOGGED first, which keeps the scratch
//! database small and the load quick. A periodic checkpoint every 10,000 records is signed
//! by a throwaway Ed25519 key whose public half is the trusted key in a temporary keys
//! folder. Two records in three are subject records (a parent operation and a pseudonym), one
//! in three a request record, as a disclosure of two persons writes them.
//!
//! SQLite, the embedded default, is measured too, over BENCH_SQLITE_RECORDS records (default
//! 1,000,000 with `--bench`; 0 leaves it out), loaded with batched INSERTs (its secondary
//! indexes dropped too).
//!
//! Where the time goes (10 M records, PostgreSQL 15 on the same 2 cores, 2026-12-04): the
//! server spends ~1.1 µs of CPU per record producing the binary COPY of 23 columns, this
//! process ~0.6 µs (SHA-256, decoding, receiving); together they fill both cores at ~1.1 M
//! records/s. TLS on loopback (libpq's `prefer`) cost the two ends together ~0.4 µs more
//! per record (0.85–0.88 M/s): the gateway reaches a server on this machine without TLS
//! (`storage::plain`), so does this bench. The instances are found by one step through the
//! primary key each (a `DISTINCT` read the whole table: 0.6 s of ~9.6 s).
//! Tried and left out: `PRAGMA mmap_size` for the SQLite readers (no gain), more readers
//! than cores + 1 (no gain; at 5 slower).
//!
//! The databases are dropped afterwards, unless BENCH_KEEP=1: then they are named after the
//! record count (PostgreSQL `doelpoort_verify_<n>`, SQLite `$TMPDIR/doelpoort_verify_<n>.db`),
//! kept, and used again by a next run with the same count (the signing key is fixed, so the
//! same trusted key verifies them). DOELPOORT_TEST_POSTGRES_URL is the server (default
//! postgres://postgres@127.0.0.1:5432/test).

use std::io::Write;
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::pg::CopyFormat;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use doelpoort::config::DatabaseSettings;
use doelpoort::disclosure::checkpoint::{self, Checkpoint};
use doelpoort::disclosure::{Record, Status, StoredRecord};
use doelpoort::storage::schema::{disclosure_checkpoints, disclosure_records};
use doelpoort::storage::Database;
use ed25519_dalek::SigningKey;

const INSTANCE: &str = "bench-verify";
const CHECKPOINT_EVERY: i64 = 10_000;
/// A fixed throwaway key, so that a kept database verifies again in a later run.
const SEED: [u8; 32] = [42; 32];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let env = |k: &str, d: i64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let postgres = env("BENCH_RECORDS", if full { 10_000_000 } else { 20_000 });
    let sqlite = env(
        "BENCH_SQLITE_RECORDS",
        if full { 1_000_000 } else { 20_000 },
    );
    let runs = env("BENCH_VERIFY_RUNS", 1).max(1);
    let keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
    let key = SigningKey::from_bytes(&SEED);
    let keys_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        doelpoort::disclosure::keys::public_key_path(keys_dir.path(), INSTANCE),
        hex::encode(key.verifying_key().as_bytes()),
    )
    .unwrap();
    if sqlite > 0 {
        let dir = tempfile::tempdir().unwrap();
        let path = if keep {
            std::env::temp_dir().join(format!("doelpoort_verify_{sqlite}.db"))
        } else {
            dir.path().join("verify.db")
        };
        let url = format!("sqlite://{}", path.display());
        let db = database(&url);
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        // The gateway's WAL checkpointer (started by `database`) holds writers back briefly:
        // wait for it as the gateway's own connections do, not fail ("database is locked").
        conn.batch_execute("PRAGMA busy_timeout = 5000;").unwrap();
        if count(&mut conn) == 0 {
            let t = Instant::now();
            let secondary: Vec<Name> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'disclosure_records' AND sql IS NOT NULL",
            )
            .load(&mut conn)
            .unwrap();
            drop_indexes(&mut conn, secondary);
            load_sqlite(&mut conn, &key, sqlite);
            println!(
                "disclosure_verify backend=sqlite loaded {sqlite} records in {:.0} s",
                t.elapsed().as_secs_f64()
            );
        }
        measure("sqlite", &db, keys_dir.path(), sqlite, runs);
    }
    if postgres > 0 {
        let admin = std::env::var("DOELPOORT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = if keep {
            format!("doelpoort_verify_{postgres}")
        } else {
            format!("doelpoort_verify_{}", std::process::id())
        };
        let mut admin_conn = PgConnection::establish(&admin).expect("PostgreSQL for the benchmark");
        let exists = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
        ))
        .get_result::<Count>(&mut admin_conn)
        .unwrap()
        .n;
        if exists == 0 {
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut admin_conn)
                .unwrap();
        }
        let url = format!(
            "{}/{name}",
            admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
        );
        let result = std::panic::catch_unwind(|| {
            let db = database(&url);
            let mut conn = PgConnection::establish(&url).unwrap();
            if count(&mut conn) == 0 {
                let t = Instant::now();
                let secondary: Vec<Name> = diesel::sql_query(
                    "SELECT indexrelid::regclass::text AS name FROM pg_index \
                     WHERE indrelid = 'disclosure_records'::regclass AND NOT indisprimary",
                )
                .load(&mut conn)
                .unwrap();
                drop_indexes(&mut conn, secondary);
                load_postgres(&mut conn, &key, postgres);
                diesel::sql_query("VACUUM ANALYZE disclosure_records")
                    .execute(&mut conn)
                    .unwrap();
                println!(
                    "disclosure_verify backend=postgres loaded {postgres} records in {:.0} s",
                    t.elapsed().as_secs_f64()
                );
            }
            drop(conn);
            measure("postgres", &db, keys_dir.path(), postgres, runs);
        });
        if !keep || result.is_err() {
            diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin_conn)
                .unwrap();
        }
        if let Err(e) = result {
            std::panic::resume_unwind(e);
        }
    }
    if !full {
        println!("disclosure_verify: smoke run (use `cargo bench --bench disclosure_verify`)");
    }
}

fn database(url: &str) -> Database {
    let db = Database::connect(&DatabaseSettings {
        url: url.to_owned(),
        pool_size: 8,
        connect_timeout_ms: 5_000,
    })
    .unwrap();
    db.migrate().unwrap();
    db
}

fn count<C: Connection>(conn: &mut C) -> i64
where
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
{
    diesel::sql_query("SELECT count(*) AS n FROM disclosure_records")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

/// The secondary indexes serve lookups; `verify` reads by the primary key only.
fn drop_indexes<C: Connection>(conn: &mut C, indexes: Vec<Name>)
where
    diesel::query_builder::SqlQuery: diesel::query_dsl::methods::ExecuteDsl<C>,
{
    for Name { name } in indexes {
        diesel::sql_query(format!("DROP INDEX {name}"))
            .execute(conn)
            .unwrap();
    }
}

/// Times `verify` over the benchmark's chain of `records` records, `runs` times.
fn measure(backend: &str, db: &Database, keys_dir: &std::path::Path, records: i64, runs: i64) {
    for _ in 0..runs {
        let t = Instant::now();
        let report = doelpoort::disclosure::verify::verify(db, keys_dir, |_| {}).unwrap();
        let seconds = t.elapsed().as_secs_f64();
        assert!(report.fault.is_none(), "{:?}", report.fault);
        assert_eq!(report.records, records as u64);
        assert_eq!(report.checkpoints, (records / CHECKPOINT_EVERY) as u64);
        assert_eq!(report.unsigned_tail, (records % CHECKPOINT_EVERY) as u64);
        println!(
            "disclosure_verify backend={backend} records={records} seconds={seconds:.2} records_per_s={:.0}",
            records as f64 / seconds
        );
    }
}

/// Record `seq` of the benchmark's chain: a request record, or one of its two subject records.
fn record(seq: i64) -> Record {
    let request = seq % 3 == 1;
    let gemeente = (seq / 3) % 342 + 1;
    let start = 1_767_225_600_000 + seq * 3;
    let id = |salt: u64| -> u64 { (seq as u64 / 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ salt };
    let mut trace = [0u8; 16];
    trace[..8].copy_from_slice(&id(1).to_be_bytes());
    trace[8..].copy_from_slice(&id(2).to_be_bytes());
    let parent = id(3).to_be_bytes();
    let mut pseudonym = [0u8; 32];
    for (i, chunk) in pseudonym.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(seq as u64 ^ (i as u64) << 56).to_be_bytes());
    }
    Record {
        trace_id: trace,
        operation_id: if request {
            parent
        } else {
            (seq as u64).to_be_bytes()
        },
        parent_operation_id: (!request).then_some(parent),
        foreign_trace_id: Some(trace),
        foreign_operation_id: Some(id(4).to_be_bytes()),
        foreign_entity: Some(format!("990000000001{gemeente:04}0000")),
        name: "rni-raadplegen/read".into(),
        start_time_ms: start,
        end_time_ms: start + 2,
        status: Status::Ok,
        refusal_code: None,
        processing_activity_id: Some("rni-raadplegen".into()),
        register_version: Some(
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        ),
        requester_oin: Some(format!("990000000001{gemeente:04}0000")),
        provider_oin: Some("99000000000000000001".into()),
        case_reference: (seq % 5 == 0).then(|| format!("ZAAK-2026-{seq}")),
        fields: "burgerservicenummer,geboorte,naam,verblijfplaats".into(),
        record_count: if request { 2 } else { 1 },
        subject_pseudonym: (!request).then_some(pseudonym),
        retain_until_ms: start + 20 * 365 * 86_400_000,
    }
}

/// The benchmark's chain, record by record, with the head to sign after every
/// `CHECKPOINT_EVERY` records.
fn chain(records: i64) -> impl Iterator<Item = (StoredRecord, Option<[u8; 32]>)> {
    let mut prev = [0u8; 32];
    (1..=records).map(move |seq| {
        let r = StoredRecord::chain(record(seq), INSTANCE, seq, prev);
        prev = r.hash.as_slice().try_into().expect("32 bytes");
        (r, (seq % CHECKPOINT_EVERY == 0).then_some(prev))
    })
}

fn checkpoint(key: &SigningKey, seq: i64, head: [u8; 32]) -> Checkpoint {
    Checkpoint::sign(
        key,
        INSTANCE,
        seq,
        checkpoint::PERIODIC,
        head,
        1,
        [0; 32],
        1_767_225_600_000 + seq * 3,
    )
}

/// Loads the chain into PostgreSQL with one binary COPY, then its signed checkpoints.
fn load_postgres(conn: &mut PgConnection, key: &SigningKey, records: i64) {
    // The log's monthly partitions for the records' times.
    doelpoort::disclosure::partitions::ensure_span(
        conn,
        INSTANCE,
        record(1).start_time_ms,
        record(records).start_time_ms,
    )
    .unwrap();
    // Partitioned, the tables that hold the rows are the leaves.
    diesel::sql_query(
        "DO $$ DECLARE t text; BEGIN FOR t IN SELECT table_name FROM disclosure_partitions LOOP \
         EXECUTE format('ALTER TABLE %I SET UNLOGGED', t); END LOOP; END $$",
    )
    .execute(conn)
    .unwrap();
    let heads = std::cell::RefCell::new(Vec::new());
    diesel::copy_from(disclosure_records::table)
        .from_raw_data(disclosure_records::table, |out| {
            let io = |e: std::io::Error| diesel::result::Error::SerializationError(Box::new(e));
            let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
            out.write_all(b"PGCOPY\n\xff\r\n\0").map_err(io)?;
            out.write_all(&[0; 8]).map_err(io)?; // flags, header extension length
            let mut row = Vec::new();
            for (r, head) in chain(records) {
                if let Some(head) = head {
                    heads.borrow_mut().push(checkpoint(key, r.seq, head));
                }
                row.clear();
                encode(&r, &mut row);
                out.write_all(&row).map_err(io)?;
            }
            out.write_all(&(-1i16).to_be_bytes()).map_err(io)?;
            out.flush().map_err(io)
        })
        .with_format(CopyFormat::Binary)
        .execute(conn)
        .unwrap();
    for chunk in heads.into_inner().chunks(1000) {
        diesel::insert_into(disclosure_checkpoints::table)
            .values(chunk)
            .execute(conn)
            .unwrap();
    }
}

/// Loads the chain into SQLite, 1,000 rows an INSERT, 100,000 a transaction.
fn load_sqlite(conn: &mut SqliteConnection, key: &SigningKey, records: i64) {
    let mut rows = chain(records).peekable();
    while rows.peek().is_some() {
        conn.transaction(|conn| {
            for _ in 0..100 {
                let mut batch = Vec::with_capacity(1000);
                let mut heads = Vec::new();
                for (r, head) in rows.by_ref().take(1000) {
                    if let Some(head) = head {
                        heads.push(checkpoint(key, r.seq, head));
                    }
                    batch.push(r);
                }
                if batch.is_empty() {
                    break;
                }
                diesel::insert_into(disclosure_records::table)
                    .values(&batch)
                    .execute(conn)?;
                diesel::insert_into(disclosure_checkpoints::table)
                    .values(&heads)
                    .execute(conn)?;
            }
            diesel::QueryResult::Ok(())
        })
        .unwrap();
    }
}

/// One tuple of the binary COPY format, in the table's column order.
fn encode(r: &StoredRecord, out: &mut Vec<u8>) {
    out.extend(24i16.to_be_bytes()); // fields
    let mut put = |v: Option<&[u8]>| match v {
        Some(b) => {
            out.extend((b.len() as i32).to_be_bytes());
            out.extend(b);
        }
        None => out.extend((-1i32).to_be_bytes()),
    };
    put(Some(r.instance_id.as_bytes()));
    put(Some(&r.seq.to_be_bytes()));
    put(Some(&r.trace_id));
    put(Some(&r.operation_id));
    put(r.parent_operation_id.as_deref());
    put(r.foreign_trace_id.as_deref());
    put(r.foreign_operation_id.as_deref());
    put(r.foreign_entity.as_deref().map(str::as_bytes));
    put(Some(r.name.as_bytes()));
    put(Some(&r.start_time_ms.to_be_bytes()));
    put(Some(&r.end_time_ms.to_be_bytes()));
    put(Some(r.status.as_bytes()));
    put(r.refusal_code.as_deref().map(str::as_bytes));
    put(r.processing_activity_id.as_deref().map(str::as_bytes));
    put(r.register_version.as_deref().map(str::as_bytes));
    put(r.requester_oin.as_deref().map(str::as_bytes));
    put(r.provider_oin.as_deref().map(str::as_bytes));
    put(r.case_reference.as_deref().map(str::as_bytes));
    put(Some(r.fields.as_bytes()));
    put(Some(&r.record_count.to_be_bytes()));
    put(r.subject_pseudonym.as_deref());
    put(Some(&r.retain_until_ms.to_be_bytes()));
    put(Some(&r.prev_hash));
    put(Some(&r.hash));
}
