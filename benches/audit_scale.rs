//! The audit API at scale on PostgreSQL: latency of a page of `/audit/v1/disclosures` and of
//! an inzage, over real TLS against the real gateway, among BENCH_RECORDS records (default
//! 3,000,000).
//!
//!   cargo bench --bench audit_scale
//!   BENCH_RECORDS=10000000 cargo bench --bench audit_scale
//!
//! The bulk of the records is generated inside PostgreSQL (generate_series, as in
//! benches/disclosure_scale.rs) under an instance of its own: 1 record in 10 a request, the
//! others one person each, requested by 20 gemeenten from RvIG over a year. Then 50 persons
//! get 20 disclosures each through the real disclosure log (second instance, the gateway's
//! pseudonym key), spread over the year, so that an inzage has something to find, and one
//! person gets 1,000 (the inzage target: ≤ 200 ms). Stats over one month (≈ 1/12 of the
//! records; target ≤ 1 s) are measured per activity, requester and day. Every audit query
//! measured also writes (and waits for) its own audit record, as in production. The database
//! is dropped afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use doelpoort::audit::token::{DevIssuer, Role};
use doelpoort::disclosure::{DisclosureLog, Keys, Record, Status};
use doelpoort::domain::{Bsn, Oin};
use hdrhistogram::Histogram;

const GEMEENTEN: [&str; 20] = [
    "0363", "0599", "0518", "0344", "0772", "0014", "0034", "0606", "0358", "0855", "0080", "0193",
    "0200", "0202", "0268", "0307", "0394", "0402", "0479", "0503",
];
const RVIG: &str = "99000000000000000001";
const AP: &str = "99000000000000000005";

fn oin(code: &str) -> String {
    format!("990000000001{code}0000")
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let records: i64 = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 3_000_000 } else { 20_000 });
    let admin = std::env::var("DOELPOORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("doelpoort_audit_scale_{}", std::process::id());
    let mut admin_conn = PgConnection::establish(&admin).expect("PostgreSQL for the benchmark");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin_conn)
        .unwrap();
    let url = format!(
        "{}/{name}",
        admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b)
    );
    let result = std::panic::catch_unwind(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run(&url, records, full))
    });
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin_conn)
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[derive(QueryableByName)]
struct Index {
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexname: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    indexdef: String,
}

async fn run(url: &str, records: i64, full: bool) {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = doelpoort::config::Settings::default();
    s.server.data_listen = "127.0.0.1:0".parse().unwrap();
    s.server.audit_listen = "127.0.0.1:0".parse().unwrap();
    s.server.ops_listen = "127.0.0.1:0".parse().unwrap();
    s.server.workers = 2;
    s.database.url = url.to_owned();
    let certs = dir.path().join("certs");
    s.tls.client_ca = certs.join("ca.pem");
    s.tls.crl = Some(certs.join("crl.pem"));
    s.tls.server_cert = certs.join("server.pem");
    s.tls.server_key = certs.join("server-key.pem");
    s.tls.dev_certs_dir = certs.clone();
    s.policies.dir = root.join("policies");
    s.disclosure.keys_dir = dir.path().join("keys");
    s.datasets.seed_persons = 0;
    s.log.filter = "warn".into();
    let app = doelpoort::startup::Application::build(s.clone())
        .await
        .unwrap();
    let audit_port = app.audit_addr.port();
    let stopper = app.stopper();
    let server = tokio::spawn(app.run_until_stopped());

    // The bulk, inside PostgreSQL, with the secondary indexes built after it.
    let t = Instant::now();
    {
        let mut conn = PgConnection::establish(url).unwrap();
        let indexes: Vec<Index> = diesel::sql_query(
            "SELECT indexname::text AS indexname, indexdef FROM pg_indexes \
             WHERE tablename = 'disclosure_records' AND indexname <> 'disclosure_records_pkey'",
        )
        .load(&mut conn)
        .unwrap();
        for i in &indexes {
            diesel::sql_query(format!("DROP INDEX {}", i.indexname))
                .execute(&mut conn)
                .unwrap();
        }
        let oins: Vec<String> = GEMEENTEN.iter().map(|g| format!("'{}'", oin(g))).collect();
        let year_ms: i64 = 365 * 86_400_000;
        let start_ms: i64 = 1_767_225_600_000; // 2026-01-01
        let persons = (records / 10).max(1);
        doelpoort::disclosure::partitions::ensure_span(
            &mut conn,
            "bulk",
            start_ms,
            start_ms + year_ms,
        )
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO disclosure_records
             SELECT 'bulk', g,
                    substring(sha256(g::text::bytea) from 1 for 16),
                    substring(sha256(('op' || g)::bytea) from 1 for 8),
                    CASE WHEN g % 10 = 0 THEN NULL ELSE substring(sha256(('op' || (g - g % 10))::bytea) from 1 for 8) END,
                    NULL, NULL, NULL, 'rni-adresoverzicht/search',
                    {start_ms} + (g * {year_ms} / {records}), {start_ms} + (g * {year_ms} / {records}) + 3,
                    'OK', NULL, 'rni-adresoverzicht', 'sha256:0123456789abcdef0123456789abcdef',
                    (ARRAY[{}])[1 + ((g / 10) % 20)::int], '{RVIG}', NULL,
                    'burgerservicenummer,naam.geslachtsnaam',
                    CASE WHEN g % 10 = 0 THEN 9 ELSE 1 END,
                    CASE WHEN g % 10 = 0 THEN NULL ELSE sha256(('person-' || ((g * 7919) % {persons}))::bytea) END,
                    {start_ms} + 7 * {year_ms},
                    decode(repeat('00', 32), 'hex'), decode(repeat('11', 32), 'hex')
             FROM generate_series(1::bigint, {records}::bigint) g",
            oins.join(",")
        ))
        .execute(&mut conn)
        .unwrap();
        for i in &indexes {
            // On a partitioned table the definition reads `ON ONLY`, which would index the
            // parent alone.
            diesel::sql_query(i.indexdef.replace(" ON ONLY ", " ON "))
                .execute(&mut conn)
                .unwrap();
        }
        diesel::sql_query("ANALYZE disclosure_records")
            .execute(&mut conn)
            .unwrap();
    }
    let loaded = t.elapsed().as_secs_f64();

    // 50 persons with 20 disclosures each, through the real log and pseudonym key.
    let keys = Keys::load(&s.disclosure.keys_dir, "bench-persons", true).unwrap();
    let log = DisclosureLog::start(
        doelpoort::storage::Database::connect(&s.database).unwrap(),
        keys,
        "bench-persons",
        &s.disclosure,
        Arc::new(doelpoort::metrics::Metrics::new()),
    );
    let pseudonyms = Keys::load(&s.disclosure.keys_dir, "bench-persons", false).unwrap();
    let bsns: Vec<Bsn> = (100_000_000u32..)
        .filter_map(|n| Bsn::parse(&n.to_string()).ok())
        .take(50)
        .collect();
    // The person with 1,000 disclosures: the first BSN after the 50.
    let heavy = (100_000_000u32..)
        .filter_map(|n| Bsn::parse(&n.to_string()).ok())
        .nth(50)
        .unwrap();
    let mut batch = Vec::new();
    let plan = bsns
        .iter()
        .enumerate()
        .flat_map(|(p, bsn)| (0..20i64).map(move |k| (bsn, p as i64 * 20 + k, p + k as usize)))
        .chain((0..1000i64).map(|k| (&heavy, k, k as usize)));
    for (bsn, n, r) in plan {
        let start = 1_767_225_600_000 + ((n % 1000) * 31_536_000_000 / 1000);
        let requester = oin(GEMEENTEN[r % 2]);
        batch.push(Record {
            trace_id: rand::random(),
            operation_id: rand::random(),
            parent_operation_id: Some(rand::random()),
            foreign_trace_id: None,
            foreign_operation_id: None,
            foreign_entity: None,
            name: "rni-adresoverzicht/search".into(),
            start_time_ms: start,
            end_time_ms: start + 3,
            status: Status::Ok,
            refusal_code: None,
            processing_activity_id: Some("rni-adresoverzicht".into()),
            register_version: Some("sha256:0123456789abcdef0123456789abcdef".into()),
            requester_oin: Some(requester),
            provider_oin: Some(RVIG.into()),
            case_reference: None,
            fields: "burgerservicenummer,naam.geslachtsnaam".into(),
            record_count: 1,
            subject_pseudonym: Some(pseudonyms.pseudonym(bsn)),
            retain_until_ms: start + 3650 * 86_400_000,
        });
    }
    log.append(batch).await.unwrap();
    tokio::task::spawn_blocking(move || log.finish(Duration::from_secs(10)))
        .await
        .unwrap();

    let dev = DevIssuer::load(&s.disclosure.keys_dir, false).unwrap();
    let amsterdam = dev
        .issue(
            &Oin::parse(&oin("0363")).unwrap(),
            Role::PrivacyOfficer,
            60,
            "doelpoort-audit",
        )
        .unwrap();
    let supervisor = dev
        .issue(
            &Oin::parse(AP).unwrap(),
            Role::Supervisor,
            60,
            "doelpoort-audit",
        )
        .unwrap();
    let client = client(&certs.join("ca.pem"));
    let url = |path: &str| format!("https://localhost:{audit_port}{path}");
    let samples = if full { 200 } else { 20 };
    let histogram = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let timed = |h: &mut Histogram<u64>, t: Instant| {
        h.record(t.elapsed().as_micros().max(1) as u64).unwrap()
    };

    // Warm up connections and caches.
    for _ in 0..5 {
        let res = client
            .get(url("/audit/v1/disclosures"))
            .bearer_auth(&amsterdam)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap();
    }
    let mut results = Vec::new();
    for (label, token, path, pages) in [
        ("officer first page", &amsterdam, "/audit/v1/disclosures?limit=100", 1),
        ("officer 10 pages deep", &amsterdam, "/audit/v1/disclosures?limit=100", 10),
        (
            "officer filtered (requester+status+period)",
            &amsterdam,
            "/audit/v1/disclosures?limit=100&requester=gemeente-0363&status=OK&from=2026-03-01&to=2026-09-30",
            1,
        ),
        ("supervisor first page", &supervisor, "/audit/v1/disclosures?limit=100", 1),
        (
            "supervisor by activity",
            &supervisor,
            "/audit/v1/disclosures?limit=100&activity=rni-adresoverzicht",
            1,
        ),
    ] {
        let mut h = histogram();
        let mut rows = 0usize;
        for _ in 0..(samples / pages).max(5) {
            let mut next = path.to_owned();
            for _ in 0..pages {
                let t = Instant::now();
                let res = client.get(url(&next)).bearer_auth(token).send().await.unwrap();
                assert_eq!(res.status(), 200);
                let body: serde_json::Value = res.json().await.unwrap();
                timed(&mut h, t);
                rows += body["records"].as_array().unwrap().len();
                match body["volgende"].as_str() {
                    Some(c) => next = format!("{path}&cursor={c}"),
                    None => break,
                }
            }
        }
        assert!(rows > 0, "{label}: no records");
        results.push((label, h));
    }
    for (label, token, many) in [
        ("inzage officer (20 disclosures)", &amsterdam, false),
        ("inzage supervisor (20 disclosures)", &supervisor, false),
        ("inzage officer (1,000 disclosures)", &amsterdam, true),
        ("inzage supervisor (1,000 disclosures)", &supervisor, true),
    ] {
        let mut h = histogram();
        let mut found = 0;
        let n = if many { (samples / 4).max(10) } else { samples };
        for i in 0..n {
            let bsn = if many { &heavy } else { &bsns[i % bsns.len()] };
            let t = Instant::now();
            let res = client
                .post(url("/audit/v1/inzage"))
                .bearer_auth(token)
                .json(&serde_json::json!({ "burgerservicenummer": bsn.as_str() }))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body: serde_json::Value = res.json().await.unwrap();
            timed(&mut h, t);
            let got = body["verstrekkingen"].as_array().unwrap().len();
            if many && token == &supervisor {
                assert_eq!(got, 1000, "{label}: every disclosure of the person");
            }
            found += got;
        }
        assert!(found > 0, "{label}: nothing found");
        results.push((label, h));
    }
    for (label, token, group_by) in [
        (
            "stats month per activity, supervisor",
            &supervisor,
            "activity",
        ),
        (
            "stats month per requester, supervisor",
            &supervisor,
            "requester",
        ),
        ("stats month per day, supervisor", &supervisor, "day"),
        ("stats month per day, officer", &amsterdam, "day"),
    ] {
        let mut h = histogram();
        let mut total = 0;
        for _ in 0..(samples / 20).max(5) {
            let t = Instant::now();
            let res = client
                .get(url(&format!(
                    "/audit/v1/stats?from=2026-06-01&to=2026-06-30&group_by={group_by}"
                )))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let body: serde_json::Value = res.json().await.unwrap();
            timed(&mut h, t);
            total = body["totaal"]["records"].as_i64().unwrap();
        }
        assert!(total > 0, "{label}: nothing counted");
        results.push((label, h));
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!("audit_scale records={records} load_s={loaded:.0}");
    for (label, h) in &results {
        println!(
            "  {label:45} ms p50={:.2} p90={:.2} p99={:.2} max={:.2} (n={})",
            ms(h, 0.5),
            ms(h, 0.9),
            ms(h, 0.99),
            h.max() as f64 / 1e3,
            h.len()
        );
    }
    stopper.stop().await;
    server.await.unwrap().unwrap();
}

fn client(ca: &std::path::Path) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .unwrap()
}
