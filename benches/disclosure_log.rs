//! Throughput and commit wait of the disclosure log's group commit, on SQLite and PostgreSQL.
//!
//!   cargo bench --bench disclosure_log            # 64 writers, 10 s per backend
//!   BENCH_WRITERS=16 BENCH_SECONDS=30 cargo bench --bench disclosure_log
//!
//! Each writer is a task that, like a request disclosing one person, appends 2 records (the
//! request record and the subject record) and waits until they are committed, then appends
//! again. Reported: records/s committed, and p50/p99/max of the wait for commit. PostgreSQL is
//! DOELPOORT_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test); a fresh
//! database is made and dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use doelpoort::config::{DatabaseSettings, DisclosureSettings};
use doelpoort::disclosure::{now_ms, DisclosureLog, Keys, Record, Status};
use doelpoort::domain::Bsn;
use doelpoort::metrics::Metrics;
use doelpoort::storage::Database;

fn record(log: &DisclosureLog, i: u64, parent: Option<[u8; 8]>) -> Record {
    let now = now_ms();
    Record {
        trace_id: rand::random(),
        operation_id: rand::random(),
        parent_operation_id: parent,
        foreign_trace_id: None,
        foreign_operation_id: None,
        foreign_entity: None,
        name: "rni-raadplegen/read".into(),
        start_time_ms: now,
        end_time_ms: now,
        status: Status::Ok,
        refusal_code: None,
        processing_activity_id: Some("rni-raadplegen".into()),
        register_version: Some("sha256:0123456789abcdef0123456789abcdef".into()),
        requester_oin: Some("99000000000000000004".into()),
        provider_oin: Some("99000000000000000001".into()),
        case_reference: Some(format!("NLA-{i}")),
        fields: "burgerservicenummer,geboorte,naam,verblijfplaats".into(),
        record_count: 1,
        subject_pseudonym: parent.map(|_| log.pseudonym(&Bsn::parse("999993653").unwrap())),
        retain_until_ms: now + 86_400_000,
    }
}

struct Outcome {
    records: u64,
    seconds: f64,
    hist: hdrhistogram::Histogram<u64>,
    /// `log verify` over what was written: records and seconds.
    verified: (u64, f64),
}

fn run(url: &str, writers: usize, seconds: u64) -> Outcome {
    let db = Database::connect(&DatabaseSettings {
        url: url.to_owned(),
        pool_size: 4,
        connect_timeout_ms: 5_000,
    })
    .unwrap();
    db.migrate().unwrap();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = Keys::load(keys_dir.path(), "bench", true).unwrap();
    let log = DisclosureLog::start(
        db.clone(),
        keys,
        "bench",
        &DisclosureSettings::default(),
        Arc::new(Metrics::new()),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let hists = rt.block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut hist =
                        hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                    let mut i = w as u64 * 1_000_000_000;
                    let mut n = 0u64;
                    while Instant::now() < until {
                        i += 1;
                        let parent = record(&log, i, None);
                        let child = record(&log, i, Some(parent.operation_id));
                        let t = Instant::now();
                        log.append(vec![parent, child]).await.expect("append");
                        hist.record(t.elapsed().as_micros().max(1) as u64).unwrap();
                        n += 2;
                    }
                    (n, hist)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let seconds = started.elapsed().as_secs_f64();
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut records = 0;
    for (n, h) in hists {
        records += n;
        hist.add(&h).unwrap();
    }
    drop(log);
    let t = Instant::now();
    let report = doelpoort::disclosure::verify::verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(report.fault.is_none(), "{:?}", report.fault);
    let verified = (report.records, t.elapsed().as_secs_f64());
    Outcome {
        records,
        seconds,
        hist,
        verified,
    }
}

fn print(backend: &str, writers: usize, o: &Outcome) {
    println!(
        "disclosure_log backend={backend} writers={writers} records={} seconds={:.1} records_per_s={:.0} commit_wait_ms p50={:.2} p99={:.2} max={:.2} | verify records={} records_per_s={:.0}",
        o.records,
        o.seconds,
        o.records as f64 / o.seconds,
        o.hist.value_at_quantile(0.5) as f64 / 1e3,
        o.hist.value_at_quantile(0.99) as f64 / 1e3,
        o.hist.max() as f64 / 1e3,
        o.verified.0,
        o.verified.0 as f64 / o.verified.1,
    );
}

fn main() {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let full = std::env::args().any(|a| a == "--bench");
    let writers = env("BENCH_WRITERS", 64) as usize;
    let seconds = if full { env("BENCH_SECONDS", 10) } else { 1 };

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    print("sqlite", writers, &run(&sqlite, writers, seconds));
    if !full {
        println!("disclosure_log: smoke run (use `cargo bench --bench disclosure_log`)");
        return;
    }

    let admin = std::env::var("DOELPOORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("doelpoort_bench_{}", std::process::id());
    let mut conn = PgConnection::establish(&admin).expect("PostgreSQL for the benchmark");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .unwrap();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let outcome = run(&format!("{base}/{name}"), writers, seconds);
    print("postgres", writers, &outcome);
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .unwrap();
}
