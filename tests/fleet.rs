//! Three `doelpoort serve` processes on one PostgreSQL database behave as one gateway. A
//! client spreads its requests over them in turn; then: `log verify` passes with three chains,
//! the register's rate limit held across the three (counted in Redis), and a change of the
//! register reached all three. The instances share a working folder as a fleet shares its
//! deployment: policies/, the CA, and keys/ (each instance its own signing key, one
//! pseudonym key, every public key where `log verify` looks).

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::PgTestDb;

const BIN: &str = env!("CARGO_BIN_EXE_doelpoort");
const INSTANCES: [&str; 3] = ["gw-a", "gw-b", "gw-c"];
/// rni-telling's limit per requester per minute in this test's register.
const LIMIT: usize = 20;

struct Instance {
    child: Child,
    port: u16,
    log: std::thread::JoinHandle<Vec<String>>,
}

fn env<'a>(pg: &'a str, instance: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DOELPOORT_DATABASE_URL", pg),
        ("DOELPOORT_SERVER_INSTANCE_ID", instance),
        ("DOELPOORT_SERVER_WORKERS", "1"),
        ("DOELPOORT_RATE_LIMIT_STORE", "redis"),
        ("DOELPOORT_RATE_LIMIT_KEY_PREFIX", prefix),
        // A loaded test machine may be slow to answer; the 503 path has its own test below.
        ("DOELPOORT_RATE_LIMIT_TIMEOUT_MS", "5000"),
        ("DOELPOORT_DATASETS_SEED_PERSONS", "0"),
        ("DOELPOORT_TLS_RELOAD_INTERVAL_MS", "100"),
        ("DOELPOORT_DISCLOSURE_CHECKPOINT_EVERY_MS", "200"),
        ("DOELPOORT_DISCLOSURE_KEYS_DIR", "keys"),
        ("DOELPOORT_LOG_FILTER", "warn"),
    ]
}

/// `rni-telling` limited to `LIMIT` a minute, in `dir/policies`.
fn register_with_limit(dir: &Path) {
    let file = dir.join("policies/verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let (head, rest) = text.split_once("id = \"rni-telling\"").unwrap();
    let rest = rest.replacen(
        "rate_limit_per_minute = 600",
        &format!("rate_limit_per_minute = {LIMIT}"),
        1,
    );
    std::fs::write(&file, format!("{head}id = \"rni-telling\"{rest}")).unwrap();
}

fn stop(mut instance: Instance) -> Vec<String> {
    Command::new("kill")
        .args(["-TERM", &instance.child.id().to_string()])
        .status()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = instance.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < until,
            "an instance did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let log = instance.log.join().unwrap();
    assert!(exit.success(), "exit {exit:?}:\n{}", log.join("\n"));
    log
}

fn minute_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60
}

#[tokio::test]
async fn three_instances_on_one_postgres_behave_as_one_gateway() {
    let pg = PgTestDb::create();
    let dir = tempfile::tempdir().unwrap();
    common::test_settings(dir.path(), &pg.url); // the registers, in dir/policies
    register_with_limit(dir.path());
    let prefix = format!("doelpoort-test-{}", uuid::Uuid::new_v4().simple());

    // One after the other: the first makes the CA and the pseudonym key the others use.
    let fleet: Vec<Instance> = INSTANCES
        .iter()
        .map(|id| {
            let (child, port, log) = common::serve_binary(dir.path(), &env(&pg.url, id, &prefix));
            Instance { child, port, log }
        })
        .collect();
    let certs = dir.path().join("certs");
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(
            doelpoort::identity::client::client_config(
                &certs.join("ca.pem"),
                &certs.join("clients/gemeente-0363.pem"),
                &certs.join("clients/gemeente-0363-key.pem"),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let ask = |port: u16| {
        client
            .get(format!("https://localhost:{port}/api/v1/rni/tellingen"))
            .header("X-Processing-Activity", "rni-telling")
            .send()
    };

    // 3 × LIMIT requests, round robin, 3 at a time.
    let first_minute = minute_now();
    let mut answers: Vec<(usize, u16)> = Vec::new();
    for round in 0..LIMIT {
        let batch = fleet.iter().enumerate().map(|(i, inst)| {
            let req = ask(inst.port);
            async move {
                let res = req.await.unwrap();
                let status = res.status().as_u16();
                if status == 429 {
                    assert!(
                        res.headers().contains_key("retry-after"),
                        "429 without Retry-After"
                    );
                }
                (i, status)
            }
        });
        answers.extend(futures_util::future::join_all(batch).await);
        assert_eq!(answers.len(), 3 * (round + 1));
    }
    let minutes = (minute_now() - first_minute + 1) as usize;
    let allowed = answers.iter().filter(|(_, s)| *s == 200).count();
    let limited = answers.iter().filter(|(_, s)| *s == 429).count();
    assert_eq!(allowed + limited, 3 * LIMIT, "other answers: {answers:?}");
    // Counted together, the fleet allows the limit once per minute (the requests took
    // `minutes` minute windows); counted apart it would have allowed all 3 × LIMIT.
    if minutes == 1 {
        assert_eq!(
            allowed, LIMIT,
            "allowed across three instances in one minute"
        );
    } else {
        assert!(
            allowed <= LIMIT * minutes,
            "{allowed} allowed in {minutes} minute windows"
        );
    }
    for (i, name) in INSTANCES.iter().enumerate() {
        assert!(
            answers.iter().any(|&(j, s)| j == i && s == 200)
                && answers.iter().any(|&(j, s)| j == i && s == 429),
            "instance {name} should have allowed and refused some: {answers:?}"
        );
    }

    // A register change (rni-telling ends yesterday) reaches every instance.
    let file = dir.path().join("policies/verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(2)).date_naive();
    let (head, rest) = text.split_once("id = \"rni-telling\"").unwrap();
    let rest = rest.replacen(
        "valid_from = 2022-10-01",
        &format!("valid_from = 2022-10-01\nvalid_until = {yesterday}"),
        1,
    );
    std::fs::write(&file, format!("{head}id = \"rni-telling\"{rest}")).unwrap();
    let changed = Instant::now();
    for (i, inst) in fleet.iter().enumerate() {
        loop {
            let res = ask(inst.port).await.unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            if status == 403 && body["code"] == "activityNotInForce" {
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(10),
                "instance {} still answers {status} {body} 10 s after the register changed",
                INSTANCES[i]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    eprintln!(
        "register change in force on all three instances after {} ms",
        changed.elapsed().as_millis()
    );

    for inst in fleet {
        stop(inst);
    }

    // Every answer and refusal is in the log, in three chains, and all of them verify.
    let out = Command::new(BIN)
        .args(["log", "verify"])
        .current_dir(dir.path())
        .env("DOELPOORT_DATABASE_URL", &pg.url)
        .env("DOELPOORT_DISCLOSURE_KEYS_DIR", "keys")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "log verify failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("of 3 instance(s) (gw-a, gw-b, gw-c)"),
        "{stdout}"
    );
    let records: i64 = {
        use diesel::prelude::*;
        use doelpoort::storage::schema::disclosure_records::dsl as r;
        let db = common::connect(&pg.url);
        let mut conn = db.checkout().unwrap();
        r::disclosure_records
            .count()
            .get_result(&mut *conn)
            .unwrap()
    };
    assert!(
        records >= (3 * LIMIT) as i64,
        "every request is recorded: {records}"
    );
    assert!(
        stdout.contains(&format!("verified {records} records")),
        "{stdout}"
    );
}

/// A Redis server of this test's own on a free port (so that it can be stopped).
fn redis_server(port: u16) -> Child {
    Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "\n*** redis-server (Debian package redis-server) is needed for this test: {e}\n"
            )
        })
}

async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis-server did not listen on {port}");
}

/// The shared limiter fails closed: while Redis is down a data request gets 503
/// `notAvailable` (problem+json, no data); once it is back, requests pass again.
#[tokio::test]
async fn without_its_redis_the_gateway_refuses_data_and_recovers() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = redis_server(port);
    wait_for_port(port).await;
    let app = common::spawn_app_with(common::Backend::Sqlite, |s| {
        s.rate_limit.store = doelpoort::config::RateLimitStore::Redis;
        s.rate_limit.redis_url = format!("redis://127.0.0.1:{port}");
    })
    .await;
    let client = app.client("gemeente-0363");
    let ask = || async {
        let res = client
            .get(app.data_url("/api/v1/rni/tellingen"))
            .header("X-Processing-Activity", "rni-telling")
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let kind = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: serde_json::Value = res.json().await.unwrap_or_default();
        (status, kind, body)
    };
    assert_eq!(ask().await.0, 200);

    redis.kill().unwrap();
    redis.wait().unwrap();
    let (status, kind, body) = ask().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    assert_eq!(body["code"], "notAvailable");
    assert!(body.get("adressen").is_none(), "data released: {body}");

    let mut redis = redis_server(port);
    wait_for_port(port).await;
    let back = Instant::now();
    loop {
        let (status, _, body) = ask().await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "still refused 5 s after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.stop().await;
    redis.kill().unwrap();
    redis.wait().unwrap();
}
