//! The database layer on both backends: migrations from scratch and again, the gateway running
//! on each.

mod common;

use common::{spawn_app, Backend, PgTestDb};
use doelpoort::config::DatabaseSettings;
use doelpoort::storage::{instances, Database};

async fn migrations_apply_from_scratch_and_twice(url: &str) {
    let db = common::connect(url);
    let first = db.migrate().unwrap();
    assert!(!first.is_empty(), "nothing applied on an empty database");
    assert!(
        db.migrate().unwrap().is_empty(),
        "a second run applied something"
    );
    // And from a new pool, as a restarted gateway would.
    assert!(common::connect(url).migrate().unwrap().is_empty());

    instances::register(&db, "gw-a").await.unwrap();
    instances::register(&db, "gw-b").await.unwrap();
    let before = instances::list(&db).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    instances::register(&db, "gw-a").await.unwrap();
    let after = instances::list(&db).await.unwrap();
    assert_eq!(
        after.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(),
        ["gw-a", "gw-b"]
    );
    assert_eq!(after[0].2, before[0].2, "first start must not change");
    assert!(after[0].3 > before[0].3, "last start must move on");
}

#[tokio::test]
async fn sqlite_migrations_apply_from_scratch_and_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/doelpoort.db").display()
    );
    migrations_apply_from_scratch_and_twice(&url).await;
}

#[tokio::test]
async fn postgres_migrations_apply_from_scratch_and_twice() {
    let pg = PgTestDb::create();
    migrations_apply_from_scratch_and_twice(&pg.url).await;
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Sync {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    let dir = tempfile::tempdir().unwrap();
    let db = common::connect(&format!("sqlite://{}", dir.path().join("x.db").display()));
    let mut conn = db.checkout().unwrap();
    let doelpoort::storage::DbConnection::Sqlite(c) = &mut *conn else {
        panic!("not SQLite")
    };
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(c)
        .unwrap();
    let sync: Sync = diesel::sql_query("PRAGMA synchronous")
        .get_result(c)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    assert_eq!(sync.synchronous, 2, "synchronous must be FULL");
}

#[tokio::test]
async fn an_unreachable_database_stops_startup_with_a_clear_message() {
    let e = Database::connect(&DatabaseSettings {
        url: "postgres://nobody:secret@127.0.0.1:1/none".into(),
        pool_size: 1,
        connect_timeout_ms: 500,
    })
    .err()
    .expect("connected to nothing")
    .to_string();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    assert!(!e.contains("secret"), "password leaked: {e}");
}

/// The whole gateway on each backend: it migrates, registers itself and is ready.
async fn gateway_serves_on(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        reqwest::get(app.ops_url("/ready")).await.unwrap().status(),
        200
    );
    let res = app
        .client("gemeente-0599")
        .get(app.data_url("/api/v1/whoami"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let db = common::connect(&app.settings.database.url);
    let listed = instances::list(&db).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, app.settings.server.instance_id);
    app.stop().await;
}

on_both_backends!(gateway_serves_on);
