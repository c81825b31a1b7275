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
    Record {
        trace_id: rand::random(),
        operation_id: rand::random(),
        parent_operation_id: None,
        foreign_trace_id: None,
        foreign_operation_id: None,
        foreign_entity: None,
        name: "rni-telling/count".into(),
        start_time_ms: now_ms(),
        end_time_ms: now_ms(),
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
