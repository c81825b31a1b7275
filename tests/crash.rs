//! kill -9 under load, then restart: every answer the client got carries a disclosure id whose
//! record is in the log, and the log verifies.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use doelpoort::storage::schema::disclosure_records::dsl as r;

const BIN: &str = env!("CARGO_BIN_EXE_doelpoort");

/// Starts `doelpoort serve` in `dir` on ephemeral ports; returns it and its data port.
fn serve(dir: &Path, database_url: &str) -> (Child, u16) {
    let env = [
        ("DOELPOORT_DATABASE_URL", database_url),
        ("DOELPOORT_LOG_FILTER", "warn"),
    ];
    let (child, port, _) = common::serve_binary(dir, &env);
    (child, port)
}

async fn killed_under_load_loses_nothing(database_url: &str) {
    let dir = tempfile::tempdir().unwrap();
    common::test_settings(dir.path(), database_url); // the registers
    let (mut child, port) = serve(dir.path(), database_url);
    let certs = dir.path().join("certs");
    let tls = doelpoort::identity::client::client_config(
        &certs.join("ca.pem"),
        &certs.join("clients/gemeente-0599.pem"),
        &certs.join("clients/gemeente-0599-key.pem"),
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let ids = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + Duration::from_secs(10);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, ids) = (client.clone(), ids.clone());
        tasks.push(tokio::spawn(async move {
            // Refused requests: each is recorded before it is answered.
            while Instant::now() < until {
                match client
                    .get(format!("https://localhost:{port}/api/v1/niet-bestaand"))
                    .send()
                    .await
                {
                    Ok(res) => {
                        assert_eq!(res.status(), 404);
                        let id = res
                            .headers()
                            .get("x-disclosure-id")
                            .expect("an answer without its record");
                        ids.lock().unwrap().push(id.to_str().unwrap().to_owned());
                    }
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let ids = ids.lock().unwrap().clone();
    assert!(
        ids.len() > 50,
        "too little load before the kill: {}",
        ids.len()
    );

    // Restart on the same database: it comes up, and everything answered is there.
    let (mut again, _) = serve(dir.path(), database_url);
    let db = common::connect(database_url);
    let mut conn = db.checkout().unwrap();
    for id in &ids {
        let (trace, op) = id.split_once('-').unwrap();
        let found: i64 = r::disclosure_records
            .filter(r::trace_id.eq(hex::decode(trace).unwrap()))
            .filter(r::operation_id.eq(hex::decode(op).unwrap()))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(found, 1, "the answer {id} has no record after the crash");
    }
    drop(conn);
    Command::new("kill")
        .args(["-TERM", &again.id().to_string()])
        .status()
        .unwrap();
    assert!(again.wait().unwrap().success());

    let out = Command::new(BIN)
        .args(["log", "verify"])
        .current_dir(dir.path())
        .env("DOELPOORT_DATABASE_URL", database_url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(verified >= ids.len() as u64, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    killed_under_load_loses_nothing(&format!(
        "sqlite://{}",
        dir.path().join("crash.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_on_postgres() {
    let pg = common::PgTestDb::create();
    killed_under_load_loses_nothing(&pg.url).await;
}
