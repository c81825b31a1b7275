//! Retention and several gateway instances on one database: purging from the oldest end keeps
//! every chain verifiable; each instance's chain stands on its own.

mod common;

use std::sync::Arc;

use common::PgTestDb;
use doelpoort::config::DisclosureSettings;
use doelpoort::disclosure::purge::purge;
use doelpoort::disclosure::verify::verify;
use doelpoort::disclosure::{now_ms, DisclosureLog, Keys, Record, Status};
use doelpoort::metrics::Metrics;
use doelpoort::storage::Database;

const DAY: i64 = 86_400_000;

fn record(retain_until_ms: i64) -> Record {
    record_at(now_ms(), retain_until_ms)
}

fn record_at(start_time_ms: i64, retain_until_ms: i64) -> Record {
    Record {
        trace_id: rand::random(),
        operation_id: rand::random(),
        parent_operation_id: None,
        foreign_trace_id: None,
        foreign_operation_id: None,
        foreign_entity: None,
        name: "rni-telling/count".into(),
        start_time_ms,
        end_time_ms: start_time_ms,
        status: Status::Ok,
        refusal_code: None,
        processing_activity_id: Some("rni-telling".into()),
        register_version: Some("sha256:test".into()),
        requester_oin: Some("99000000000103630000".into()),
        provider_oin: Some("99000000000000000001".into()),
        case_reference: None,
        fields: "aantal,postcode".into(),
        record_count: 0,
        subject_pseudonym: None,
        retain_until_ms,
    }
}

fn database(url: &str) -> Database {
    let db = common::connect(url);
    db.migrate().unwrap();
    db
}

fn start(db: &Database, keys_dir: &std::path::Path, instance: &str) -> DisclosureLog {
    let settings = DisclosureSettings {
        checkpoint_every_records: 4,
        ..DisclosureSettings::default()
    };
    let keys = Keys::load(keys_dir, instance, true).unwrap();
    DisclosureLog::start(
        db.clone(),
        keys,
        instance,
        &settings,
        Arc::new(Metrics::new()),
    )
}

async fn purging_keeps_the_chain_verifiable(url: &str) {
    let db = database(url);
    let keys_dir = tempfile::tempdir().unwrap();
    let log = start(&db, keys_dir.path(), "gw-a");
    let now = now_ms();
    // 5 past retention, 3 kept, 2 past retention behind the kept ones.
    for retain in [now - DAY; 5]
        .into_iter()
        .chain([now + DAY; 3])
        .chain([now - DAY; 2])
    {
        log.append(vec![record(retain)]).await.unwrap();
    }
    let keys = Keys::load(keys_dir.path(), "gw-a", false).unwrap();
    let report = purge(&db, &keys, "gw-a", now_ms()).unwrap();
    assert_eq!((report.purged, report.first_seq), (5, 6));
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(v.fault.is_none(), "{:?}", v.fault);
    assert_eq!(v.records, 5, "the expired records behind kept ones stay");

    // Nothing more may go yet; the database refuses to delete a kept record by hand.
    assert_eq!(purge(&db, &keys, "gw-a", now_ms()).unwrap().purged, 0);
    {
        use diesel::RunQueryDsl;
        let mut conn = db.checkout().unwrap();
        let e =
            diesel::sql_query("DELETE FROM disclosure_records WHERE seq = 6").execute(&mut *conn);
        assert!(e.unwrap_err().to_string().contains("append-only"));
    }
    // The chain goes on after the purge, from the same writer.
    log.append(vec![record(now + DAY), record(now + DAY)])
        .await
        .unwrap();
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(v.fault.is_none(), "{:?}", v.fault);
    assert_eq!(v.records, 7);
}

#[tokio::test]
async fn purging_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    purging_keeps_the_chain_verifiable(&format!("sqlite://{}", dir.path().join("r.db").display()))
        .await;
}

#[tokio::test]
async fn purging_on_postgres() {
    let pg = PgTestDb::create();
    purging_keeps_the_chain_verifiable(&pg.url).await;
}

#[tokio::test]
async fn every_instance_keeps_its_own_chain_on_one_postgres() {
    let pg = PgTestDb::create();
    let db = database(&pg.url);
    let keys_dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = ["gw-a", "gw-b", "gw-c"]
        .iter()
        .map(|i| start(&db, keys_dir.path(), i))
        .collect();
    let mut tasks = Vec::new();
    for log in &logs {
        for _ in 0..4 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..25 {
                    log.append(vec![record(now_ms() + DAY), record(now_ms() + DAY)])
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(v.fault.is_none(), "{:?}", v.fault);
    assert_eq!(v.instances, ["gw-a", "gw-b", "gw-c"]);
    assert_eq!(v.records, 3 * 4 * 25 * 2);
    assert!(
        v.checkpoints >= 3,
        "every instance signs its own checkpoints"
    );

    // An instance's key cannot vouch for another's chain.
    std::fs::copy(
        keys_dir.path().join("gw-a.ed25519.pub"),
        keys_dir.path().join("gw-b.ed25519.pub"),
    )
    .unwrap();
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    let fault = v.fault.expect("gw-b's checkpoints passed with gw-a's key");
    assert_eq!(fault.instance, "gw-b");
    assert!(fault.what.contains("signature"), "{fault}");
}

/// The leaves of the log's partitions: (instance, month start, table name).
fn leaves(db: &Database) -> Vec<(String, i64, String)> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(diesel::QueryableByName)]
    struct Leaf {
        #[diesel(sql_type = Text)]
        instance_id: String,
        #[diesel(sql_type = BigInt)]
        month_start_ms: i64,
        #[diesel(sql_type = Text)]
        table_name: String,
    }
    use diesel::RunQueryDsl;
    let mut conn = db.checkout().unwrap();
    let rows: Vec<Leaf> = diesel::sql_query(
        "SELECT instance_id, month_start_ms, table_name FROM disclosure_partitions ORDER BY 1, 2",
    )
    .load(&mut *conn)
    .unwrap();
    rows.into_iter()
        .map(|l| (l.instance_id, l.month_start_ms, l.table_name))
        .collect()
}

fn sql(db: &Database, q: &str) -> Result<usize, String> {
    use diesel::RunQueryDsl;
    let mut conn = db.checkout().unwrap();
    diesel::sql_query(q)
        .execute(&mut *conn)
        .map_err(|e| e.to_string())
}

/// On PostgreSQL the log is partitioned by month and instance: a purge drops the months
/// wholly past retention (with their purge checkpoint, so the rest verifies), leaves other
/// instances' months alone, and a query over one month reads only that month's tables.
#[tokio::test]
async fn whole_months_past_retention_are_dropped_on_postgres() {
    use doelpoort::disclosure::partitions::{month_start, next_month_start};
    let pg = PgTestDb::create();
    let db = database(&pg.url);
    let keys_dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        start(&db, keys_dir.path(), "gw-a"),
        start(&db, keys_dir.path(), "gw-b"),
    );
    let now = now_ms();
    let this_month = month_start(now);
    let two_back = month_start(this_month - 40 * DAY);
    let three_back = month_start(two_back - DAY);
    let expired = now - DAY;
    // gw-a: three months back and two months back, all expired; then this month, kept.
    for t in [three_back + DAY; 3].into_iter().chain([two_back + DAY; 3]) {
        a.append(vec![record_at(t, expired)]).await.unwrap();
    }
    a.append(vec![record(now + DAY), record(now + DAY)])
        .await
        .unwrap();
    // gw-b: two months back, expired too (its own purge, with its own key, removes it).
    b.append(vec![record_at(two_back + DAY, expired)])
        .await
        .unwrap();
    let before = leaves(&db);
    for m in [three_back, two_back, this_month, next_month_start(now)] {
        assert!(
            before.iter().any(|(i, s, _)| i == "gw-a" && *s == m),
            "no gw-a partition for month {m}: {before:?}"
        );
    }

    let keys = Keys::load(keys_dir.path(), "gw-a", false).unwrap();
    let report = purge(&db, &keys, "gw-a", now_ms()).unwrap();
    assert_eq!((report.purged, report.first_seq), (6, 7));
    let after = leaves(&db);
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    assert_eq!(
        gone.iter()
            .map(|(i, s, _)| (i.as_str(), *s))
            .collect::<Vec<_>>(),
        [("gw-a", three_back), ("gw-a", two_back)],
        "exactly gw-a's two old months are dropped"
    );
    for (_, _, table) in &gone {
        let e = sql(&db, &format!("SELECT 1 FROM {table}")).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }
    assert!(after.iter().any(|(i, s, _)| i == "gw-b" && *s == two_back));
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(v.fault.is_none(), "{:?}", v.fault);
    assert_eq!(v.records, 2 + 1);

    // The database drops no month holding a record still kept, and refuses the gateway's
    // role anything but reading and appending (it may make a month's partition).
    let (_, _, current) = after
        .iter()
        .find(|(i, s, _)| i == "gw-a" && *s == this_month)
        .unwrap();
    let e = sql(
        &db,
        &format!("SELECT doelpoort_drop_log_partition('{current}')"),
    )
    .unwrap_err();
    assert!(e.contains("append-only"), "{e}");
    let mut writer = {
        use diesel::Connection;
        diesel::PgConnection::establish(&pg.url).unwrap()
    };
    let mut as_writer = |q: &str| {
        use diesel::connection::SimpleConnection;
        let r = writer
            .batch_execute(&format!(
                "BEGIN; SET LOCAL ROLE doelpoort_logwriter; {q}; COMMIT"
            ))
            .map_err(|e| e.to_string());
        let _ = writer.batch_execute("ROLLBACK");
        r
    };
    for q in [
        format!("DROP TABLE {current}"),
        "DELETE FROM disclosure_records WHERE instance_id = 'gw-b'".to_owned(),
        "UPDATE disclosure_records SET name = 'x'".to_owned(),
        format!("SELECT doelpoort_drop_log_partition('{current}')"),
    ] {
        let e = as_writer(&q).unwrap_err();
        assert!(
            e.contains("permission denied") || e.contains("must be owner"),
            "{q}: {e}"
        );
    }
    as_writer(&format!(
        "SELECT doelpoort_log_partition('gw-z', {})",
        next_month_start(now)
    ))
    .unwrap();

    // A query over this month reads this month's partitions only.
    let plan: Vec<String> = {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        let mut conn = db.checkout().unwrap();
        diesel::sql_query(format!(
            "EXPLAIN SELECT count(*) FROM disclosure_records \
             WHERE start_time_ms >= {this_month} AND start_time_ms < {}",
            next_month_start(now)
        ))
        .load::<Line>(&mut *conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect()
    };
    let plan = plan.join("\n");
    let month_tag = |m: i64| {
        let t = chrono::DateTime::from_timestamp_millis(m).unwrap();
        format!("disclosure_records_{}", t.format("%Ym%m"))
    };
    assert!(plan.contains(&month_tag(this_month)), "{plan}");
    for other in [two_back, next_month_start(now)] {
        assert!(!plan.contains(&month_tag(other)), "{plan}");
    }
    eprintln!("{plan}");

    // The chain goes on after the drop.
    a.append(vec![record(now + DAY)]).await.unwrap();
    let v = verify(&db, keys_dir.path(), |_| {}).unwrap();
    assert!(v.fault.is_none(), "{:?}", v.fault);
    assert_eq!(v.records, 4);
}
