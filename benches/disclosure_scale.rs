//! The disclosure log at scale on PostgreSQL: lookups of one person's records, and of one
//! requester's records in a period, among BENCH_RECORDS records (default 10,000,000).
//!
//!   cargo bench --bench disclosure_scale
//!   BENCH_RECORDS=1000000 cargo bench --bench disclosure_scale
//!
//! The records are generated inside PostgreSQL (generate_series) into a fresh database with the
//! gateway's own migrations and indexes: 1 record in 10 is a request record, the others name one
//! of BENCH_RECORDS/10 persons (pseudonyms), spread over 342 gemeenten as requesters and a
//! year of time. The chain hashes are placeholders: this measures the indexes, not `verify`
//! (see benches/disclosure_log.rs for that). The database is dropped afterwards.

use std::time::Instant;

use diesel::sql_types::{BigInt, Binary, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let records: i64 = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 20_000 });
    let persons = (records / 10).max(1);
    let admin = std::env::var("DOELPOORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("doelpoort_scale_{}", std::process::id());
    let mut admin_conn = PgConnection::establish(&admin).expect("PostgreSQL for the benchmark");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin_conn)
        .unwrap();
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    );
    let result = std::panic::catch_unwind(|| run(&url, records, persons, full));
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin_conn)
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(url: &str, records: i64, persons: i64, full: bool) {
    let db = doelpoort::storage::Database::connect(&doelpoort::config::DatabaseSettings {
        url: url.to_owned(),
        pool_size: 1,
        connect_timeout_ms: 5_000,
    })
    .unwrap();
    db.migrate().unwrap();
    drop(db);
    let mut conn = PgConnection::establish(url).unwrap();
    let year_ms: i64 = 365 * 86_400_000;
    let start_ms: i64 = 1_767_225_600_000; // 2026-01-01
    doelpoort::disclosure::partitions::ensure_span(
        &mut conn,
        "scale",
        start_ms,
        start_ms + year_ms,
    )
    .unwrap();
    let t = Instant::now();
    // Person k's pseudonym: sha256 of 'person-k' (32 bytes), as the gateway's HMAC would give.
    diesel::sql_query(format!(
        "INSERT INTO disclosure_records
         SELECT 'scale', g,
                substring(sha256(g::text::bytea) from 1 for 16),
                substring(sha256(('op' || g)::bytea) from 1 for 8),
                CASE WHEN g % 10 = 0 THEN NULL ELSE substring(sha256(('op' || (g - g % 10))::bytea) from 1 for 8) END,
                NULL, NULL, NULL,
                'rni-raadplegen/read',
                {start_ms} + (g * {year_ms} / {records}), {start_ms} + (g * {year_ms} / {records}) + 3,
                'OK', NULL, 'rni-raadplegen', 'sha256:0123456789abcdef0123456789abcdef',
                '990000000001' || lpad(((g / 10) % 342 + 1)::text, 4, '0') || '0000',
                '99000000000000000001', NULL, 'burgerservicenummer,naam',
                CASE WHEN g % 10 = 0 THEN 9 ELSE 1 END,
                CASE WHEN g % 10 = 0 THEN NULL ELSE sha256(('person-' || ((g * 7919) % {persons}))::bytea) END,
                {start_ms} + 7 * {year_ms},
                sha256(('prev' || g)::bytea), sha256(('hash' || g)::bytea)
         FROM generate_series(1::bigint, {records}::bigint) g"
    ))
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("ANALYZE disclosure_records")
        .execute(&mut conn)
        .unwrap();
    let loaded = t.elapsed().as_secs_f64();
    let Count { n } = diesel::sql_query("SELECT count(*) AS n FROM disclosure_records")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n, records);

    let samples = if full { 1000 } else { 50 };
    let mut subject = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let mut found = 0u64;
    for i in 0..samples {
        let k = (i * 104_729) % persons;
        let pseudonym = sha256(format!("person-{k}").as_bytes());
        let t = Instant::now();
        let Count { n } = diesel::sql_query(
            "SELECT count(*) AS n FROM (SELECT * FROM disclosure_records WHERE subject_pseudonym = $1 ORDER BY start_time_ms DESC LIMIT 1000) r",
        )
        .bind::<Binary, _>(pseudonym.to_vec())
        .get_result(&mut conn)
        .unwrap();
        subject
            .record(t.elapsed().as_micros().max(1) as u64)
            .unwrap();
        found += n as u64;
    }
    let mut requester = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for i in 0..samples {
        let oin = format!("990000000001{:04}0000", i % 342 + 1);
        let from = start_ms + (i * 86_400_000 * 7) % (year_ms - 30 * 86_400_000);
        let t = Instant::now();
        let Count { .. } = diesel::sql_query(
            "SELECT count(*) AS n FROM (SELECT * FROM disclosure_records WHERE requester_oin = $1 AND start_time_ms >= $2 AND start_time_ms < $3 ORDER BY start_time_ms LIMIT 100) r",
        )
        .bind::<Text, _>(oin)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(from + 30 * 86_400_000)
        .get_result(&mut conn)
        .unwrap();
        requester
            .record(t.elapsed().as_micros().max(1) as u64)
            .unwrap();
    }
    assert!(found > 0, "no person's records found");
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!(
        "disclosure_scale records={records} persons={persons} load_s={loaded:.0} | subject lookup ms p50={:.2} p99={:.2} max={:.2} (avg {:.1} records) | requester+30 days page ms p50={:.2} p99={:.2}",
        ms(&subject, 0.5),
        ms(&subject, 0.99),
        subject.max() as f64 / 1e3,
        found as f64 / samples as f64,
        ms(&requester, 0.5),
        ms(&requester, 0.99),
    );
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
