//! Faults under load, against the real gateway over real TLS: its PostgreSQL server stopped
//! and started again, and the disk of its SQLite database full. In both: every answer during
//! the fault is `503 notAvailable` problem+json without personal data or disclosure id, no
//! `200` goes out without its records, the gateway recovers by itself when the fault is gone
//! (no restart), and the log verifies afterwards.
//!
//! Both need root (this is how CI runs): the PostgreSQL server is a private one made for the
//! test (`initdb` into a temporary folder owned by the `postgres` user, on a free port; the
//! shared server is never touched), and the small disk is a tmpfs mounted for the test. When
//! that is not possible the test fails, saying why.
//!
//! Beside them, on such a private server too: which connections go without TLS when the
//! server is on this machine, and that one taking TLS connections only is still reached.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::storage::schema::disclosure_records::dsl as r;
use serde_json::{json, Value};

const PATH: &str = "/haalcentraal/api/brp/personen";
/// How long the gateway may take to serve again once the fault is gone.
const RECOVERY: Duration = Duration::from_secs(15);

/// One answer the load got, when it got it.
#[derive(Debug, Clone)]
struct Answer {
    at: Instant,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// 200 with its disclosure id.
    Disclosed(String),
    /// 503 notAvailable problem+json, no data, no disclosure id.
    NotAvailable,
    /// Anything else: the test fails with it.
    Wrong(String),
}

/// Haal Centraal raadplegingen of seeded persons, back to back on `tasks` connections, until
/// stopped; every answer is classified as it comes.
struct Load {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(app: &TestApp, bsns: Vec<String>, tasks: usize) -> Load {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let bsns = Arc::new(bsns);
        let tasks = (0..tasks)
            .map(|t| {
                let (client, url) = (app.client("nla"), app.data_url(PATH));
                let (answers, stop, bsns) = (answers.clone(), stop.clone(), bsns.clone());
                tokio::spawn(async move {
                    let mut i = t;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        i += 1;
                        let bsn = &bsns[i % bsns.len()];
                        let outcome = ask(&client, &url, bsn).await;
                        answers.lock().unwrap().push(Answer {
                            at: Instant::now(),
                            outcome,
                        });
                    }
                })
            })
            .collect();
        Load {
            answers,
            stop,
            tasks,
        }
    }

    /// Waits until an answer after `since` is `want` (or `RECOVERY` passed): when it came.
    async fn first_after(&self, since: Instant, want: fn(&Outcome) -> bool) -> Option<Instant> {
        let deadline = Instant::now() + RECOVERY;
        while Instant::now() < deadline {
            let found = self
                .answers
                .lock()
                .unwrap()
                .iter()
                .find(|a| a.at > since && want(&a.outcome))
                .map(|a| a.at);
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let answers = self.answers.lock().unwrap().clone();
        answers
    }
}

fn disclosed(o: &Outcome) -> bool {
    matches!(o, Outcome::Disclosed(_))
}

fn not_available(o: &Outcome) -> bool {
    *o == Outcome::NotAvailable
}

async fn ask(client: &reqwest::Client, url: &str, bsn: &str) -> Outcome {
    let res = match client
        .post(url)
        .header("x-processing-activity", "rni-raadplegen")
        .json(&json!({ "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": ["naam", "geboorte"] }))
        .send()
        .await
    {
        Ok(res) => res,
        Err(e) => return Outcome::Wrong(format!("no answer: {e}")),
    };
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let id = res
        .headers()
        .get("x-disclosure-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = res.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match (status, id) {
        (200, Some(id)) if body["personen"][0]["naam"].is_object() => Outcome::Disclosed(id),
        (503, None)
            if kind == "application/problem+json"
                && body["code"] == "notAvailable"
                && !text.contains(bsn)
                && body.get("personen").is_none() =>
        {
            Outcome::NotAvailable
        }
        (status, id) => Outcome::Wrong(format!("{status} {kind} id={id:?} {text}")),
    }
}

/// Lifts the rate limits in this gateway's copy of the register (the load is the point).
fn without_rate_limits(policies: &Path) {
    let file = policies.join("verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let lifted: Vec<String> = text
        .lines()
        .map(|l| match l.starts_with("rate_limit_per_minute") {
            true => "rate_limit_per_minute = 100000000".to_owned(),
            false => l.to_owned(),
        })
        .collect();
    std::fs::write(&file, lifted.join("\n")).unwrap();
}

/// A gateway on `database_url` with 300 seeded persons and no rate limits; waiting for the
/// database at most 1 s per request.
async fn gateway(database_url: String) -> (TestApp, Vec<String>) {
    let app = spawn_app_with(Backend::Sqlite, move |s| {
        s.database.url = database_url;
        s.database.connect_timeout_ms = 1_000;
        s.datasets.seed_persons = 300;
        without_rate_limits(&s.policies.dir);
    })
    .await;
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    use doelpoort::storage::schema::rni_personen::dsl::*;
    let bsns: Vec<String> = rni_personen
        .select(burgerservicenummer)
        .order(burgerservicenummer)
        .limit(50)
        .load(&mut *conn)
        .unwrap();
    drop(conn);
    (app, bsns)
}

/// What every fault test asserts of the whole run: nothing but disclosures with an id and
/// clean 503s; every disclosure's request record is in the log; the log verifies.
async fn nothing_released_without_its_record(app: TestApp, answers: &[Answer]) {
    let wrong: Vec<&Answer> = answers
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Wrong(_)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} answers neither a disclosure nor a clean 503, e.g. {:?}",
        wrong.len(),
        wrong[0]
    );
    let settings = app.settings.clone();
    let dir = app.dir.path().to_owned();
    let mut app = app;
    app.stopper.stop().await;
    (&mut app.server).await.unwrap().unwrap();
    let db = doelpoort::storage::Database::connect(&settings.database).unwrap();
    let mut conn = db.checkout().unwrap();
    let mut ids = 0;
    for a in answers {
        let Outcome::Disclosed(id) = &a.outcome else {
            continue;
        };
        let (trace, op) = id.split_once('-').unwrap();
        let found: i64 = r::disclosure_records
            .filter(r::trace_id.eq(hex::decode(trace).unwrap()))
            .filter(r::operation_id.eq(hex::decode(op).unwrap()))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(
            found, 1,
            "the disclosure {id} was answered without its record"
        );
        ids += 1;
    }
    drop(conn);
    let out = Command::new(env!("CARGO_BIN_EXE_doelpoort"))
        .args(["log", "verify"])
        .current_dir(&dir)
        .env("DOELPOORT_DATABASE_URL", &settings.database.url)
        .env(
            "DOELPOORT_DISCLOSURE_KEYS_DIR",
            &settings.disclosure.keys_dir,
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "log verify: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verified: u64 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(verified >= 2 * ids, "{text}");
}

/// Counts of (disclosed, not available) among `answers` within `from..to`.
fn tally(answers: &[Answer], from: Instant, to: Instant) -> (usize, usize) {
    let within = answers.iter().filter(|a| a.at > from && a.at <= to);
    within.fold((0, 0), |(d, n), a| match a.outcome {
        Outcome::Disclosed(_) => (d + 1, n),
        Outcome::NotAvailable => (d, n + 1),
        Outcome::Wrong(_) => (d, n),
    })
}

/// Runs `command` and fails the test with its output when it does not succeed.
fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// A PostgreSQL server of this test's own: a cluster made by `initdb` in a temporary folder,
/// listening on a free port of 127.0.0.1 and a socket in that folder, trust auth. As root it
/// runs as the `postgres` user (PostgreSQL refuses to run as root). Stopped when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    data: PathBuf,
}

impl PrivatePostgres {
    fn start() -> PrivatePostgres {
        PrivatePostgres::start_with_data(None)
    }

    /// With the cluster's files in `data` (e.g. on a small disk) instead of the folder.
    fn start_with_data(data: Option<PathBuf>) -> PrivatePostgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .unwrap_or_else(|| {
                panic!(
                    "\n\n*** This test needs the PostgreSQL server binaries (initdb, pg_ctl) under \
                     /usr/lib/postgresql/<version>/bin: apt-get install postgresql\n"
                )
            });
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = data.unwrap_or_else(|| dir.path().join("data"));
        if is_root() {
            std::fs::create_dir_all(&data).unwrap();
            run(Command::new("chown").arg("postgres:postgres").arg(&data));
        }
        let pg = PrivatePostgres {
            bin,
            dir,
            port,
            data,
        };
        run(pg.command("initdb").arg("-D").arg(pg.data()).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        pg.pg_ctl("start");
        pg
    }

    /// `tool` of the server's binaries, as the user that owns the cluster.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn data(&self) -> PathBuf {
        self.data.clone()
    }

    /// `pg_ctl start|stop` (stop: `-m fast`, as an operator's restart does), waiting for it.
    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        run(self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "30", "-m", "fast", "-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .arg(action));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Restarts the server with TLS on (a self-signed certificate); `only`: TCP connections
    /// without TLS are refused (`hostssl` lines alone in `pg_hba.conf`).
    fn with_tls(&self, only: bool) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let data = self.data();
        std::fs::write(data.join("server.crt"), cert.cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), cert.key_pair.serialize_pem()).unwrap();
        let tcp = if only { "hostssl" } else { "host" };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!("local all all trust\n{tcp} all all 127.0.0.1/32 trust\n"),
        )
        .unwrap();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        if !conf.contains("\nssl = on\n") {
            conf.push_str("\nssl = on\n");
            std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        }
        run(Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key")));
        if is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&data));
        }
        self.pg_ctl("restart");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let pg = PrivatePostgres::start();
    let (app, bsns) = gateway(pg.url()).await;
    let ready = app.ops_url("/ready");
    let load = Load::start(&app, bsns, 4);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let stopping = Instant::now();
    pg.pg_ctl("stop");
    let stopped = Instant::now();
    // Down for 3 s: every request in that time waits at most connect_timeout_ms for the pool.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        reqwest::get(&ready).await.unwrap().status(),
        503,
        "/ready while the database is down"
    );
    let starting = Instant::now();
    pg.pg_ctl("start");
    let started = Instant::now();
    let recovered = load.first_after(started, disclosed).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = Instant::now();
    let answers = load.finish().await;
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);

    let (before, refused_before) =
        tally(&answers, answers[0].at - Duration::from_secs(1), stopping);
    assert!(
        before > 10 && refused_before == 0,
        "before the outage: {before} disclosed, {refused_before} refused"
    );
    // (An answer to a request committed just before the stop may arrive just after it.)
    let (during, refused) = tally(&answers, stopped + Duration::from_millis(200), starting);
    assert_eq!(during, 0, "disclosures while the database was down");
    assert!(refused > 0, "no request was answered during the outage");
    let recovered = recovered
        .unwrap_or_else(|| panic!("no disclosure within {RECOVERY:?} of the database's return"));
    let (_, late) = tally(&answers, end - Duration::from_secs(1), end);
    assert_eq!(late, 0, "still failing a while after the recovery");
    println!(
        "postgres restart: {before} disclosed before, {refused} × 503 in the {:.1} s outage, \
         first disclosure {:.0} ms after the server was back, {} answers in all",
        (starting - stopped).as_secs_f64(),
        (recovered - started).as_secs_f64() * 1000.0,
        answers.len()
    );
    nothing_released_without_its_record(app, &answers).await;
}

/// A tmpfs of `size_mb` MiB mounted on a temporary folder; unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size_mb: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "\n\n*** This test mounts a {size_mb} MiB tmpfs for the SQLite database and cannot: {}\n\
             *** It needs root (or CAP_SYS_ADMIN), as CI runs it.\n",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The files on the disk and their sizes.
    fn usage(&self) -> Vec<(String, u64)> {
        std::fs::read_dir(self.path())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect()
    }

    /// Writes a file until the disk is full; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xa5u8; 64 << 10];
        loop {
            match f.write_all(&chunk) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // The last partial chunk may have left a few bytes; take them too.
        while f.write(&[0xa5]).is_ok_and(|n| n == 1) {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills `disk` under load, waits, frees it: the answers, after the checks of the phases.
async fn fill_and_free(app: &TestApp, disk: &SmallDisk, bsns: Vec<String>) -> Vec<Answer> {
    let load = Load::start(app, bsns, 4);
    tokio::time::sleep(Duration::from_millis(1_500)).await;

    let filling = Instant::now();
    let filler = disk.fill();
    let refused = load.first_after(filling, not_available).await;
    assert!(
        refused.is_some(),
        "the gateway went on answering for {RECOVERY:?} with its disk full"
    );
    // Full for 2 s more.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let freeing = Instant::now();
    std::fs::remove_file(&filler).unwrap();
    let recovered = load.first_after(freeing, disclosed).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let end = Instant::now();
    let answers = load.finish().await;

    let (before, _) = tally(&answers, answers[0].at - Duration::from_secs(1), filling);
    let (during_ok, during_refused) = tally(&answers, filling, freeing);
    assert!(
        before > 10,
        "too little load before the disk filled: {before}"
    );
    assert!(during_refused > 0);
    let recovered = recovered
        .unwrap_or_else(|| panic!("no disclosure within {RECOVERY:?} of freeing the disk"));
    let (_, late) = tally(&answers, end - Duration::from_secs(1), end);
    assert_eq!(
        late,
        0,
        "still failing a while after the disk was freed; on the disk: {:?}",
        disk.usage()
    );
    println!(
        "disk full: {before} disclosed before; while full {during_ok} disclosed (in space the \
         database already had) and {during_refused} × 503; first disclosure {:.0} ms after freeing",
        (recovered - freeing).as_secs_f64() * 1000.0
    );
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_under_load() {
    // Room enough that, once freed, the disk does not fill up again within the test: under
    // steady load SQLite's WAL is rarely reset and grows by whole pages (~3 MB/s here).
    let disk = SmallDisk::mount(64);
    let db_file = disk.path().join("doelpoort.db");
    let (app, bsns) = gateway(format!("sqlite://{}", db_file.display())).await;
    let answers = fill_and_free(&app, &disk, bsns).await;
    let url = app.settings.database.url.clone();
    nothing_released_without_its_record(app, &answers).await;

    // No corruption.
    let mut conn = SqliteConnection::establish(&db_file.to_string_lossy()).unwrap();
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .unwrap();
    let check: Vec<&str> = check.iter().map(|c| c.integrity_check.as_str()).collect();
    assert_eq!(check, ["ok"], "{url}");
}

/// The PostgreSQL server's disk full (as in the 30-minute soak, when the shared disk filled up):
/// its files on a small tmpfs, filled under load and freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_disk_full_under_load() {
    let disk = SmallDisk::mount(160);
    let pg = PrivatePostgres::start_with_data(Some(disk.path().join("pg")));
    let (app, bsns) = gateway(pg.url()).await;
    let answers = fill_and_free(&app, &disk, bsns).await;
    nothing_released_without_its_record(app, &answers).await;
    drop(pg);
}

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    ssl: bool,
}

/// Whether `conn`'s session with the server is encrypted.
fn encrypted(conn: &mut doelpoort::storage::DbConnection) -> bool {
    diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result::<Ssl>(conn)
        .unwrap()
        .ssl
}

/// A server on this machine is reached without TLS where it accepts that (`storage::plain`),
/// by the pool, by `log verify`'s readers and by the reads without a blocking thread; one
/// that takes TLS connections only is reached with TLS, and without those reads.
#[test]
fn postgres_here_is_reached_without_tls_unless_it_takes_tls_only() {
    let pg = PrivatePostgres::start();
    pg.with_tls(false);
    let db = common::connect(&pg.url());
    assert!(
        !encrypted(&mut db.checkout().unwrap()),
        "the pool's connection"
    );
    assert!(
        !encrypted(&mut db.connect_apart().unwrap()),
        "a reader's own"
    );
    assert!(db.pg_reads().is_some());
    // Asked for, TLS it is.
    let db = common::connect(&format!("{}?sslmode=require", pg.url()));
    assert!(encrypted(&mut db.checkout().unwrap()));
    assert!(db.pg_reads().is_none());

    pg.with_tls(true);
    let db = common::connect(&pg.url());
    assert!(
        encrypted(&mut db.checkout().unwrap()),
        "the pool's connection"
    );
    assert!(
        encrypted(&mut db.connect_apart().unwrap()),
        "a reader's own"
    );
    assert!(db.pg_reads().is_none(), "its reads go through libpq");
    db.migrate().expect("a database reached with TLS works");
}
