//! Starting the real gateway for black-box tests: a fresh dev PKI, a fresh database (SQLite
//! file or a new PostgreSQL database), ephemeral ports, real TLS.
#![allow(dead_code)] // each test binary uses its own part of this

pub mod logs;
pub mod raw;
pub mod routes;

/// Runs `async fn NAME(backend: Backend)` as two tests, `NAME::on_sqlite` and
/// `NAME::on_postgres`: every behaviour is tested on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn on_sqlite() {
                super::$name($crate::common::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn on_postgres() {
                super::$name($crate::common::Backend::Postgres).await;
            }
        }
    )+};
}

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use diesel::{Connection, PgConnection, RunQueryDsl};
use doelpoort::config::Settings;
use doelpoort::startup::{Application, Stopper};
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use. CI starts it (.ci/run); locally, start it with
/// `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.
pub fn postgres_admin_url() -> String {
    std::env::var("DOELPOORT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A connection pool on the database at `url` (SQLite or PostgreSQL).
pub fn connect(url: &str) -> doelpoort::storage::Database {
    doelpoort::storage::Database::connect(&doelpoort::config::DatabaseSettings {
        url: url.to_owned(),
        pool_size: 4,
        connect_timeout_ms: 5_000,
    })
    .unwrap()
}

/// A PostgreSQL database of its own for one test, dropped afterwards.
pub struct PgTestDb {
    pub url: String,
    pub name: String,
}

impl PgTestDb {
    pub fn create() -> PgTestDb {
        let admin = postgres_admin_url();
        let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
            panic!(
                "\n\n*** PostgreSQL IS REQUIRED for this test and was not reachable at {admin}: {e}\n\
                 *** Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                 *** or point DOELPOORT_TEST_POSTGRES_URL at a server (trust auth, may CREATE DATABASE).\n"
            )
        });
        let name = format!("doelpoort_t_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap();
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        PgTestDb {
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

pub struct TestApp {
    pub data_addr: SocketAddr,
    pub audit_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub dir: TempDir,
    pub stopper: Stopper,
    pub settings: Settings,
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    _pg: Option<PgTestDb>,
}

/// Settings for a gateway in `dir` on ephemeral ports, with its own copy of the registers.
pub fn test_settings(dir: &Path, database_url: &str) -> Settings {
    let policies = dir.join("policies");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"),
        &policies,
    );
    let certs = dir.join("certs");
    let mut s = Settings::default();
    s.server.data_listen = "127.0.0.1:0".parse().unwrap();
    s.server.audit_listen = "127.0.0.1:0".parse().unwrap();
    s.server.ops_listen = "127.0.0.1:0".parse().unwrap();
    s.server.workers = 1;
    s.server.client_request_timeout_ms = 1_000;
    s.server.shutdown_timeout_s = 5;
    s.database.url = database_url.to_owned();
    s.database.pool_size = 4;
    s.tls.client_ca = certs.join("ca.pem");
    s.tls.crl = Some(certs.join("crl.pem"));
    s.tls.server_cert = certs.join("server.pem");
    s.tls.server_key = certs.join("server-key.pem");
    s.tls.dev_certs_dir = certs;
    s.tls.reload_interval_ms = 100;
    s.policies.dir = policies;
    s.disclosure.keys_dir = dir.join("keys");
    s.datasets.seed_persons = 0;
    s.disclosure.checkpoint_every_ms = 200;
    s
}

/// Lifts every activity's rate limit in this gateway's copy of the register, for tests that
/// send many requests and must meet the rule under test, not `tooManyRequests`.
pub fn lift_rate_limits(settings: &Settings) {
    let register = settings.policies.dir.join("verwerkingsactiviteiten.toml");
    let text = std::fs::read_to_string(&register).unwrap();
    let lifted = regex::Regex::new(r"rate_limit_per_minute = \d+")
        .unwrap()
        .replace_all(&text, "rate_limit_per_minute = 1000000");
    std::fs::write(&register, lifted.as_ref()).unwrap();
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with_routes(backend, adjust, doelpoort::app::exchanges).await
}

/// A gateway whose data listener serves `routes` (behind the whole real pipeline).
pub async fn spawn_app_with_routes(
    backend: Backend,
    adjust: impl FnOnce(&mut Settings),
    routes: doelpoort::app::Routes,
) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = doelpoort::telemetry::init(&doelpoort::config::LogSettings {
            format: doelpoort::config::LogFormat::Pretty,
            filter: "debug".into(),
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let pg = (backend == Backend::Postgres).then(PgTestDb::create);
    let url = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", dir.path().join("doelpoort.db").display()),
    };
    let mut settings = test_settings(dir.path(), &url);
    adjust(&mut settings);
    let app = Application::build_with_routes(settings.clone(), routes)
        .await
        .expect("the gateway starts");
    TestApp {
        data_addr: app.data_addr,
        audit_addr: app.audit_addr,
        ops_addr: app.ops_addr,
        stopper: app.stopper(),
        server: tokio::spawn(app.run_until_stopped()),
        dir,
        settings,
        _pg: pg,
    }
}

impl TestApp {
    /// The name of this gateway's own PostgreSQL database, if it runs on PostgreSQL.
    pub fn pg_database(&self) -> Option<&str> {
        self._pg.as_ref().map(|p| p.name.as_str())
    }

    /// A connection pool on this gateway's database.
    pub fn database(&self) -> doelpoort::storage::Database {
        doelpoort::storage::Database::connect(&self.settings.database).unwrap()
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.path().join("certs")
    }

    /// The rustls client configuration presenting `clients/NAME.pem`, trusting the dev CA.
    pub fn tls_config(&self, name: &str) -> rustls::ClientConfig {
        let certs = self.certs();
        doelpoort::identity::client::client_config(
            &certs.join("ca.pem"),
            &certs.join(format!("clients/{name}.pem")),
            &certs.join(format!("clients/{name}-key.pem")),
        )
        .unwrap()
    }

    /// An HTTPS client presenting `clients/NAME.pem`, trusting the dev CA.
    pub fn client(&self, name: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(self.tls_config(name))
            .build()
            .unwrap()
    }

    /// Waits (up to 5 s) until the metric `series` reaches `at_least`; fails otherwise.
    pub async fn wait_for_metric(&self, series: &str, at_least: f64) {
        for _ in 0..50 {
            if self.metric(series).await >= at_least {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{series} never reached {at_least}");
    }

    /// An HTTPS client without a client certificate.
    pub fn anonymous_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .use_preconfigured_tls(no_client_cert_config(&self.certs().join("ca.pem")))
            .build()
            .unwrap()
    }

    pub fn data_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.data_addr.port())
    }

    pub fn audit_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.audit_addr.port())
    }

    pub fn ops_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ops_addr.port())
    }

    /// A metric's value from `/metrics` (0 when the series does not exist yet).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = reqwest::get(self.ops_url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or(0.0)
    }

    /// One raw request over a fresh TLS connection with `cert` (a client name or none):
    /// the status line, or the TLS error that ended it.
    pub async fn raw_request(
        &self,
        cert: Option<&str>,
        config: Option<rustls::ClientConfig>,
    ) -> Result<String, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let config = config.unwrap_or_else(|| match cert {
            Some(name) => self.tls_config(name),
            None => no_client_cert_config(&self.certs().join("ca.pem")),
        });
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(self.data_addr)
            .await
            .map_err(|e| e.to_string())?;
        let server_name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(
            b"GET /api/v1/whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        tls.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).to_string();
        Ok(text.lines().next().unwrap_or_default().to_owned())
    }

    pub async fn stop(self) {
        self.stopper.stop().await;
        self.server.await.unwrap().unwrap();
    }
}

/// The real `doelpoort serve`, started in `dir` on ephemeral ports with `env` added: the child,
/// its data port, and a thread collecting the rest of its stderr (so it never blocks on a full
/// pipe) that ends when the process does.
pub fn serve_binary(
    dir: &Path,
    env: &[(&str, &str)],
) -> (
    std::process::Child,
    u16,
    std::thread::JoinHandle<Vec<String>>,
) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_doelpoort"))
        .arg("serve")
        .current_dir(dir)
        .env("DOELPOORT_SERVER_DATA_LISTEN", "127.0.0.1:0")
        .env("DOELPOORT_SERVER_AUDIT_LISTEN", "127.0.0.1:0")
        .env("DOELPOORT_SERVER_OPS_LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("doelpoort: data (mTLS) https://") {
            let addr = rest.split_whitespace().next().unwrap();
            break addr.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect());
    (child, port, rest)
}

/// A data response as the tests read it: status, JSON body (`Null` when there is none) and
/// `X-Disclosure-Id`.
pub async fn answer(res: reqwest::Response) -> (u16, serde_json::Value, Option<String>) {
    let status = res.status().as_u16();
    let id = res
        .headers()
        .get("x-disclosure-id")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        res.json().await.unwrap_or(serde_json::Value::Null),
        id,
    )
}

/// Whether a problem answer repeats `value` anywhere but in `instance` (the urn:uuid of the
/// request's random id, which holds a short hex string such as "abc" by chance: in about one
/// answer of 136).
pub fn repeats(problem: &serde_json::Value, value: &str) -> bool {
    let mut said = problem.clone();
    if let Some(members) = said.as_object_mut() {
        members.remove("instance");
    }
    said.to_string().contains(value)
}

/// What the disclosure log holds for one `X-Disclosure-Id`: the request record's count of
/// subjects and its fields, and how many subject records stand under it.
pub struct Disclosed {
    pub record_count: i32,
    pub fields: String,
    pub subjects: i64,
}

pub fn disclosed(app: &TestApp, id: &str) -> Disclosed {
    use diesel::prelude::*;
    use doelpoort::storage::schema::disclosure_records::dsl as r;
    let (trace, op) = id.split_once('-').unwrap();
    let (trace, op) = (hex::decode(trace).unwrap(), hex::decode(op).unwrap());
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    let (record_count, fields): (i32, String) = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::operation_id.eq(&op)))
        .select((r::record_count, r::fields))
        .first(&mut *conn)
        .unwrap();
    let subjects: i64 = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::parent_operation_id.eq(&op)))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    Disclosed {
        record_count,
        fields,
        subjects,
    }
}

/// A copy of `from` (files and folders) at `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub fn no_client_cert_config(ca: &Path) -> rustls::ClientConfig {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// (postcode, huisnummer, persons) of every stay address in `gemeente`, most persons first.
pub fn addresses(app: &TestApp, gemeente: &str) -> Vec<(String, i32, i64)> {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    use diesel::prelude::*;
    use doelpoort::storage::schema::rni_personen::dsl::*;
    let mut rows: Vec<(Option<String>, Option<i32>, i64)> = rni_personen
        .filter(verblijf_gemeentecode.eq(gemeente))
        .group_by((verblijf_postcode, verblijf_huisnummer))
        .select((
            verblijf_postcode,
            verblijf_huisnummer,
            diesel::dsl::count_star(),
        ))
        .load(&mut *conn)
        .unwrap();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    rows.into_iter()
        .map(|(p, h, n)| (p.unwrap(), h.unwrap(), n))
        .collect()
}

/// The fullest stay address in `gemeente`: (postcode, huisnummer).
pub fn fullest_address(app: &TestApp, gemeente: &str) -> (String, i32) {
    let (pc, hn, _) = addresses(app, gemeente)
        .into_iter()
        .next()
        .expect("the seed gave it persons");
    (pc, hn)
}
