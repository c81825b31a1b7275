//! The disclosure log: records for every disclosure and refusal, a chain that verifies, every
//! kind of tampering found at its record, fail-closed when the log cannot be written, and no
//! BSN in clear in the database.

mod common;

use std::time::Duration;

use common::routes::{routes, SUBJECTS};
use common::{spawn_app_with_routes, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::disclosure::verify::{verify, Report};
use doelpoort::disclosure::{Keys, StoredRecord};
use doelpoort::domain::Bsn;
use doelpoort::storage::schema::disclosure_records::dsl as r;
use serde_json::Value;

const ACT: &str = "x-processing-activity";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with_routes(backend, |s| s.database.connect_timeout_ms = 1_000, routes).await
}

/// One disclosure of the two test subjects by the NLA: (status, X-Disclosure-Id, body).
async fn dienstverbanden(app: &TestApp) -> (u16, Option<String>, Value) {
    let res = app
        .client("nla")
        .get(app.data_url("/test/dienstverbanden"))
        .header(ACT, "uwv-dienstverbanden")
        .header("x-case-reference", "NLA-2026-7")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let id = res
        .headers()
        .get("x-disclosure-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, id, res.json().await.unwrap_or(Value::Null))
}

/// 5 disclosures (a request record and 2 subject records each) and 3 refusals: 18 records.
async fn generate(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (status, id, _) = dienstverbanden(app).await;
        assert_eq!(status, 200);
        ids.push(id.expect("a disclosure without X-Disclosure-Id"));
    }
    for _ in 0..3 {
        let res = app
            .client("gemeente-0363")
            .get(app.data_url("/test/tellingen"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(
            res.headers().contains_key("x-disclosure-id"),
            "a refusal without X-Disclosure-Id"
        );
    }
    ids
}

fn verified(app: &TestApp) -> Report {
    verify(&app.database(), &app.settings.disclosure.keys_dir, |_| {}).unwrap()
}

async fn records_are_written_and_verify(backend: Backend) {
    // No timed checkpoint during the test: only the one written at a graceful stop.
    let app = spawn_app_with_routes(
        backend,
        |s| s.disclosure.checkpoint_every_ms = 600_000,
        routes,
    )
    .await;
    let ids = generate(&app).await;
    let report = verified(&app);
    assert!(report.fault.is_none(), "{:?}", report.fault);
    assert_eq!(report.records, 18);

    let db = app.database();
    let mut conn = db.checkout().unwrap();
    // The request record of a disclosure: found by its X-Disclosure-Id, with its subjects.
    let (trace, op) = ids[0].split_once('-').unwrap();
    let (trace, op) = (hex::decode(trace).unwrap(), hex::decode(op).unwrap());
    let parent: StoredRecord = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::operation_id.eq(&op)))
        .select(StoredRecord::as_select())
        .first(&mut *conn)
        .unwrap();
    assert_eq!(parent.record_count, 2);
    assert_eq!(parent.status, "OK");
    assert_eq!(
        parent.processing_activity_id.as_deref(),
        Some("uwv-dienstverbanden")
    );
    assert!(parent.register_version.unwrap().starts_with("sha256:"));
    assert_eq!(parent.case_reference.as_deref(), Some("NLA-2026-7"));
    assert_eq!(
        parent.requester_oin.as_deref(),
        Some("99000000000000000004")
    );
    assert_eq!(
        parent.provider_oin.as_deref(),
        Some("99000000000000000002"),
        "UWV provides"
    );
    assert_eq!(
        hex::encode(parent.foreign_trace_id.unwrap()),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(
        parent.foreign_entity.as_deref(),
        Some("99000000000000000004")
    );
    assert_eq!(parent.fields, "datumAanvang,werkgever");
    assert!(parent.subject_pseudonym.is_none());
    let children: Vec<Option<Vec<u8>>> = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::parent_operation_id.eq(&op)))
        .select(r::subject_pseudonym)
        .load(&mut *conn)
        .unwrap();
    let keys = Keys::load(
        &app.settings.disclosure.keys_dir,
        &app.settings.server.instance_id,
        false,
    )
    .unwrap();
    let mut expected: Vec<Vec<u8>> = SUBJECTS
        .iter()
        .map(|b| keys.pseudonym(&Bsn::parse(b).unwrap()).to_vec())
        .collect();
    let mut got: Vec<Vec<u8>> = children.into_iter().map(Option::unwrap).collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "one record per subject, by pseudonym");
    // Refusals carry their code.
    let refused: i64 = r::disclosure_records
        .filter(r::refusal_code.eq("missingProcessingActivity"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(refused, 3);
    drop(conn);
    // A graceful stop signs the chain's tail.
    let mut app = app;
    app.stopper.stop().await;
    (&mut app.server).await.unwrap().unwrap();
    let report = verified(&app);
    assert!(report.fault.is_none(), "{:?}", report.fault);
    assert_eq!(
        report.unsigned_tail, 0,
        "records left unsigned after a graceful stop"
    );
}

on_both_backends!(records_are_written_and_verify);

/// Runs `sql` on the stopped gateway's database with the append-only triggers out of the way
/// (as an attacker with file or superuser access would), then expects verify to name `seq`.
async fn tampering_is_found(backend: Backend, sql: &[&str], seq: i64, what: &str) {
    let app = app(backend).await;
    generate(&app).await;
    let settings = app.settings.clone();
    let keys_dir = settings.disclosure.keys_dir.clone();
    let pg = app.pg_database().map(str::to_owned);
    let dir = app.dir.path().to_owned();
    app.stopper.stop().await;
    let db = doelpoort::storage::Database::connect(&settings.database).unwrap();
    {
        let mut conn = db.checkout().unwrap();
        let disable: &[&str] = match pg {
            Some(_) => &["ALTER TABLE disclosure_records DISABLE TRIGGER USER"],
            None => &[
                "DROP TRIGGER disclosure_records_no_update",
                "DROP TRIGGER disclosure_records_no_delete",
            ],
        };
        for statement in disable.iter().chain(sql) {
            diesel::sql_query(*statement)
                .execute(&mut *conn)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
    let report = verify(&db, &keys_dir, |_| {}).unwrap();
    let fault = report.fault.expect("tampering went unnoticed");
    assert_eq!(fault.seq, seq, "{fault}");
    assert!(fault.what.contains(what), "{fault}");

    // The command line says the same, and fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doelpoort"))
        .args(["log", "verify"])
        .current_dir(&dir)
        .env("DOELPOORT_DATABASE_URL", &settings.database.url)
        .env("DOELPOORT_DISCLOSURE_KEYS_DIR", &keys_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("record {seq}:")), "{err}");
}

const EDIT: &[&str] =
    &["UPDATE disclosure_records SET requester_oin = '99000000000000000001' WHERE seq = 5"];
const DELETE: &[&str] = &["DELETE FROM disclosure_records WHERE seq = 4"];
const SWAP: &[&str] = &[
    "UPDATE disclosure_records SET seq = 1000003 WHERE seq = 3",
    "UPDATE disclosure_records SET seq = 3 WHERE seq = 4",
    "UPDATE disclosure_records SET seq = 4 WHERE seq = 1000003",
];
/// A forged record: a copy of record 2 made the 19th.
const INSERT_PG: &[&str] = &["INSERT INTO disclosure_records SELECT instance_id, 19, trace_id, operation_id, parent_operation_id, foreign_trace_id, foreign_operation_id, foreign_entity, name, start_time_ms, end_time_ms, status, refusal_code, processing_activity_id, register_version, requester_oin, provider_oin, case_reference, fields, record_count, subject_pseudonym, retain_until_ms, prev_hash, hash FROM disclosure_records WHERE seq = 2"];

#[tokio::test]
async fn an_edited_record_is_found_on_sqlite() {
    tampering_is_found(Backend::Sqlite, EDIT, 5, "modified").await;
}

#[tokio::test]
async fn an_edited_record_is_found_on_postgres() {
    tampering_is_found(Backend::Postgres, EDIT, 5, "modified").await;
}

#[tokio::test]
async fn a_deleted_record_is_found_on_sqlite() {
    tampering_is_found(Backend::Sqlite, DELETE, 4, "missing").await;
}

#[tokio::test]
async fn a_deleted_record_is_found_on_postgres() {
    tampering_is_found(Backend::Postgres, DELETE, 4, "missing").await;
}

#[tokio::test]
async fn swapped_records_are_found_on_sqlite() {
    tampering_is_found(Backend::Sqlite, SWAP, 3, "previous-hash").await;
}

#[tokio::test]
async fn swapped_records_are_found_on_postgres() {
    tampering_is_found(Backend::Postgres, SWAP, 3, "previous-hash").await;
}

#[tokio::test]
async fn an_inserted_record_is_found_on_sqlite() {
    tampering_is_found(Backend::Sqlite, INSERT_PG, 19, "previous-hash").await;
}

#[tokio::test]
async fn an_inserted_record_is_found_on_postgres() {
    tampering_is_found(Backend::Postgres, INSERT_PG, 19, "previous-hash").await;
}

async fn the_database_refuses_changes(backend: Backend) {
    let app = app(backend).await;
    generate(&app).await;
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    // Wait for the first signed checkpoint (every 200 ms in tests), so there is one to attack.
    use doelpoort::storage::schema::disclosure_checkpoints::dsl as c;
    for _ in 0..50 {
        let n: i64 = c::disclosure_checkpoints
            .count()
            .get_result(&mut *conn)
            .unwrap();
        if n > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for statement in [
        "UPDATE disclosure_records SET fields = '' WHERE seq = 2",
        "DELETE FROM disclosure_records WHERE seq = 2",
        "UPDATE disclosure_checkpoints SET seq = 0",
        "DELETE FROM disclosure_checkpoints",
    ] {
        let e = diesel::sql_query(statement)
            .execute(&mut *conn)
            .expect_err(statement)
            .to_string();
        assert!(e.contains("append-only"), "{statement}: {e}");
    }
    drop(conn);
    assert!(verified(&app).fault.is_none());
    app.stop().await;
}

#[tokio::test]
async fn sqlite_refuses_update_and_delete() {
    the_database_refuses_changes(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_refuses_update_and_delete() {
    the_database_refuses_changes(Backend::Postgres).await;
}

/// While the log cannot be written, a disclosure gets 503 and no data; afterwards the gateway
/// recovers by itself and the chain still verifies.
async fn fail_closed(app: TestApp, break_it: &[String], mend_it: &[String], admin: impl Fn(&str)) {
    let (status, _, _) = dienstverbanden(&app).await;
    assert_eq!(status, 200);
    for s in break_it {
        admin(s);
    }
    let (status, id, body) = dienstverbanden(&app).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("notAvailable")),
        "{body}"
    );
    assert!(id.is_none(), "a disclosure id for an unrecorded disclosure");
    assert!(
        body.get("zaak").is_none() && !body.to_string().contains("NLA-2026-7"),
        "data released: {body}"
    );
    for s in mend_it {
        admin(s);
    }
    let mut recovered = false;
    for _ in 0..50 {
        if dienstverbanden(&app).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "the gateway did not recover after the outage");
    let report = verified(&app);
    assert!(report.fault.is_none(), "{:?}", report.fault);
    app.stop().await;
}

#[tokio::test]
async fn postgres_outage_gives_503_and_no_data() {
    let app = app(Backend::Postgres).await;
    let name = app.pg_database().unwrap().to_owned();
    let admin = |sql: &str| {
        let mut conn = PgConnection::establish(&common::postgres_admin_url()).unwrap();
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    };
    fail_closed(
        app,
        &[
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
            format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"),
        ],
        &[format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")],
        admin,
    )
    .await;
}

#[tokio::test]
async fn sqlite_write_failure_gives_503_and_no_data() {
    let app = app(Backend::Sqlite).await;
    let db = app.database();
    let admin = move |sql: &str| {
        let mut conn = db.checkout().unwrap();
        diesel::sql_query(sql).execute(&mut *conn).unwrap();
    };
    fail_closed(
        app,
        &["CREATE TRIGGER simulated_full_disk BEFORE INSERT ON disclosure_records BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END".into()],
        &["DROP TRIGGER simulated_full_disk".into()],
        admin,
    )
    .await;
}

/// Requests that put BSNs where a caller can: they must not reach the log in clear.
async fn bsns_in_every_place_a_caller_can_put_them(app: &TestApp) {
    let nla = app.client("nla");
    for bsn in SUBJECTS {
        let requests = [
            nla.get(app.data_url(&format!("/test/tellingen?bsn={bsn}")))
                .header(ACT, format!("rni-{bsn}")),
            nla.get(app.data_url(&format!("/api/v1/personen/{bsn}")))
                .header(ACT, bsn),
        ];
        for r in requests {
            assert!(r.send().await.unwrap().status().is_client_error());
        }
    }
}

#[tokio::test]
async fn no_bsn_in_clear_in_the_sqlite_files() {
    let app = app(Backend::Sqlite).await;
    generate(&app).await;
    bsns_in_every_place_a_caller_can_put_them(&app).await;
    let dir = app.dir.path().to_owned();
    app.stopper.stop().await; // `app` (and its folder) stays
    let mut scanned = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("doelpoort.db")
        {
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // -wal and -shm go away when the last connection closes
            };
            for bsn in SUBJECTS {
                assert!(
                    !bytes.windows(9).any(|w| w == bsn.as_bytes()),
                    "{bsn} in clear in {}",
                    path.display()
                );
            }
            scanned += bytes.len();
        }
    }
    assert!(scanned > 0);
}

#[tokio::test]
async fn no_bsn_in_clear_in_postgres() {
    let app = app(Backend::Postgres).await;
    generate(&app).await;
    bsns_in_every_place_a_caller_can_put_them(&app).await;
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    #[derive(QueryableByName)]
    struct Dump {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    let dump: Dump = diesel::sql_query(
        "SELECT coalesce(string_agg(t::text, '|'), '') AS text FROM disclosure_records t",
    )
    .get_result(&mut *conn)
    .unwrap();
    assert!(dump.text.len() > 100);
    for bsn in SUBJECTS {
        assert!(!dump.text.contains(bsn), "{bsn} in clear");
        assert!(!dump.text.contains(&hex::encode(bsn)), "{bsn} in hex");
    }
    drop(conn);
    app.stop().await;
}
