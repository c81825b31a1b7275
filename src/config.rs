//! Configuration: a TOML file (optional) under `DOELPOORT_*` environment overrides.
//!
//! Every key has a default that makes `doelpoort serve` work on a fresh clone. An environment
//! variable names its section and key joined by `_`: `DOELPOORT_DATABASE_URL` sets
//! `[database] url`, `DOELPOORT_SERVER_BODY_LIMIT_BYTES` sets `[server] body_limit_bytes`.
//! An unknown key, a value of the wrong type or an impossible combination stops startup with a
//! message that names the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The sections of the file; an environment key is split after its section name.
const SECTIONS: &[&str] = &[
    "server",
    "database",
    "tls",
    "policies",
    "disclosure",
    "datasets",
    "log",
    "audit",
    "rate_limit",
];

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub tls: TlsSettings,
    pub policies: PolicySettings,
    pub disclosure: DisclosureSettings,
    pub datasets: DatasetSettings,
    pub log: LogSettings,
    pub audit: AuditSettings,
    pub rate_limit: RateLimitSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// This gateway instance's name; each instance in a fleet needs its own.
    pub instance_id: String,
    /// The mTLS listener for agency systems.
    pub data_listen: SocketAddr,
    /// The TLS listener (no client certificate) for the audit API and UI.
    pub audit_listen: SocketAddr,
    /// Plain HTTP: health, readiness, metrics. Keep it on loopback or a management network.
    pub ops_listen: SocketAddr,
    /// Worker threads per listener; 0 means one per CPU core.
    pub workers: usize,
    /// Largest request body accepted (413 `payloadTooLarge` above it).
    pub body_limit_bytes: usize,
    /// Time a client has to send the request head after connecting (slowloris guard).
    pub client_request_timeout_ms: u64,
    /// Time allowed for the TLS handshake.
    pub tls_handshake_timeout_ms: u64,
    /// Idle keep-alive before the server closes a connection.
    pub keep_alive_s: u64,
    /// On SIGTERM, how long in-flight requests get to finish.
    pub shutdown_timeout_s: u64,
    /// Connections per worker before new ones wait.
    pub max_connections: usize,
}

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_ms: u64,
}

/// The URL can hold a password: `Debug` shows it redacted.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = crate::storage::DatabaseUrl::parse(&self.url)
            .map_or_else(|_| "(invalid)".to_owned(), |u| u.redacted());
        f.debug_struct("DatabaseSettings")
            .field("url", &url)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM bundle of the CA certificates client certificates must chain to.
    pub client_ca: PathBuf,
    /// PEM file with one or more CRLs of those CAs; absent means no revocation checking.
    pub crl: Option<PathBuf>,
    /// PEM chain of the server certificate, leaf first.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Create the development PKI in `dev_certs_dir` when the files above are missing.
    pub dev_certs: bool,
    pub dev_certs_dir: PathBuf,
    /// A client certificate whose issuer published no CRL: refuse (false) or accept (true).
    pub allow_unknown_revocation_status: bool,
    /// How often certificate, CRL and register files are checked for changes (SIGHUP reloads
    /// at once).
    pub reload_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// The folder with the registers (`organisations.toml`, …).
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DisclosureSettings {
    /// Holds `<instance_id>.ed25519` (checkpoint signing key, created if missing), its public
    /// half `<instance_id>.ed25519.pub` (the key `log verify` trusts; keep a copy elsewhere),
    /// and `pseudonym.key` (BSN pseudonyms; the same file on every instance of a fleet).
    pub keys_dir: PathBuf,
    /// Create missing keys (first start). Off in production once the keys are provisioned.
    pub create_keys: bool,
    /// Records per transaction at most (group commit).
    pub max_batch: usize,
    /// Requests waiting for the writer at most; beyond it requests get 503.
    pub queue: usize,
    /// A signed checkpoint after this many records ...
    pub checkpoint_every_records: u64,
    /// ... or this long, whichever comes first.
    pub checkpoint_every_ms: u64,
    /// Retention of refusal records that name no activity (days).
    pub refusal_retention_days: u32,
}

impl Default for DisclosureSettings {
    fn default() -> Self {
        DisclosureSettings {
            keys_dir: "data/keys".into(),
            create_keys: true,
            max_batch: 1000,
            queue: 65_536,
            checkpoint_every_records: 10_000,
            checkpoint_every_ms: 10_000,
            refusal_retention_days: 2557,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetSettings {
    /// Synthetic RNI persons `serve` generates when the dataset is empty (0: none).
    pub seed_persons: usize,
    /// The generator's seed: the same seed gives the same persons.
    pub seed: u64,
    /// Datasets served by their provider's own HTTPS API instead of the local database, by
    /// dataset name (`[datasets.upstream.rni-personen]`). A dataset not named here is local.
    pub upstream: std::collections::BTreeMap<String, UpstreamSettings>,
}

impl Default for DatasetSettings {
    fn default() -> Self {
        DatasetSettings {
            seed_persons: 10_000,
            seed: 1,
            upstream: Default::default(),
        }
    }
}

/// A provider's HTTPS API, reached with the gateway's own client certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Base URL, e.g. `https://brp.rvig.example:443` (the dataset's API paths go under it).
    pub url: String,
    /// The CA certificates that issue the provider's server certificate.
    pub ca: PathBuf,
    /// The gateway's client certificate and key for this provider.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// Time for a whole request, connecting included.
    #[serde(default = "defaults::upstream_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "defaults::upstream_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Further attempts for a read that failed to connect or got a 502/503/504.
    #[serde(default = "defaults::upstream_retries")]
    pub retries: u32,
    /// Consecutive failures that open the circuit: requests are refused at once ...
    #[serde(default = "defaults::upstream_breaker_failures")]
    pub breaker_failures: u32,
    /// ... for this long, after which one request may try again.
    #[serde(default = "defaults::upstream_breaker_open_ms")]
    pub breaker_open_ms: u64,
    /// Idle keep-alive connections kept per provider.
    #[serde(default = "defaults::upstream_pool_idle")]
    pub pool_idle: usize,
}

mod defaults {
    pub fn upstream_timeout_ms() -> u64 {
        2_000
    }
    pub fn upstream_connect_timeout_ms() -> u64 {
        500
    }
    pub fn upstream_retries() -> u32 {
        1
    }
    pub fn upstream_breaker_failures() -> u32 {
        5
    }
    pub fn upstream_breaker_open_ms() -> u64 {
        10_000
    }
    pub fn upstream_pool_idle() -> usize {
        64
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `doelpoort=debug,actix_server=warn`.
    pub filter: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            instance_id: "doelpoort-1".into(),
            data_listen: ([127, 0, 0, 1], 8443).into(),
            audit_listen: ([127, 0, 0, 1], 8444).into(),
            ops_listen: ([127, 0, 0, 1], 9090).into(),
            workers: 0,
            body_limit_bytes: 256 * 1024,
            client_request_timeout_ms: 5_000,
            tls_handshake_timeout_ms: 3_000,
            keep_alive_s: 30,
            shutdown_timeout_s: 30,
            max_connections: 25_000,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://data/doelpoort.db".into(),
            pool_size: 8,
            connect_timeout_ms: 5_000,
        }
    }
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            client_ca: "certs/ca.pem".into(),
            crl: Some("certs/crl.pem".into()),
            server_cert: "certs/server.pem".into(),
            server_key: "certs/server-key.pem".into(),
            dev_certs: true,
            dev_certs_dir: "certs".into(),
            allow_unknown_revocation_status: false,
            reload_interval_ms: 2_000,
        }
    }
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            dir: "policies".into(),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Json,
            filter: "info".into(),
        }
    }
}

/// The audit API (privacy officers, supervisors): who may sign its bearer tokens, and when an
/// anomaly signal is raised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// The token issuers trusted, each with its public key (PEM: Ed25519 for EdDSA, RSA for
    /// RS256). With `tls.dev_certs` on, the gateway adds its own dev issuer `doelpoort-dev`.
    pub issuers: Vec<IssuerSettings>,
    /// The `aud` every token must carry.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf` (seconds, at most 60).
    pub leeway_s: u64,
    /// Volume signal: a day's requests above this many times the requester's median of the
    /// 14 days before ...
    pub anomaly_volume_factor: f64,
    /// ... and at least this many requests that day.
    pub anomaly_volume_floor: u64,
    /// Refusal signal: at least this many refused requests of one organisation in one day.
    pub anomaly_refusals_floor: u64,
    /// Office-hours signal: at least this many requests of one organisation outside office
    /// hours (Monday to Friday 07:00–19:00 Europe/Amsterdam) in one day.
    pub anomaly_off_hours_floor: u64,
    /// Case-reference signal: one case reference of one organisation naming at least this
    /// many persons in the period.
    pub anomaly_case_subjects_floor: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IssuerSettings {
    /// The `iss` claim of this issuer's tokens.
    pub iss: String,
    /// Its public key, PEM (SubjectPublicKeyInfo).
    pub public_key: PathBuf,
    /// The organisations (OINs) it may vouch for; empty: any registered organisation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub oins: Vec<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            issuers: Vec::new(),
            audience: "doelpoort-audit".into(),
            leeway_s: 30,
            anomaly_volume_factor: 3.0,
            anomaly_volume_floor: 50,
            anomaly_refusals_floor: 20,
            anomaly_off_hours_floor: 10,
            anomaly_case_subjects_floor: 100,
        }
    }
}

/// Where the register's rate limits are counted (see `policy::rate`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// `local`: in this process (one instance); `redis`: shared by every instance of a fleet.
    pub store: RateLimitStore,
    /// The Redis server of the shared counters (`redis://host:port[/db]`; no TLS: keep it on the private network).
    pub redis_url: String,
    /// How long a request waits for its count; then 503 `notAvailable`, no data.
    pub timeout_ms: u64,
    /// Prefix of the counters' keys: one Redis can serve several fleets.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitStore {
    Local,
    Redis,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            store: RateLimitStore::Local,
            redis_url: "redis://127.0.0.1:6379".into(),
            timeout_ms: 100,
            key_prefix: "doelpoort".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then the file (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, env)
    }

    /// As `load`, with the environment given (tests use this).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "the file {} does not exist; give an existing TOML file to --config (see config/doelpoort.example.toml)",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Values parse as figment does for its own Env provider: "8" → 8, "true" → true.
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("DOELPOORT_") else {
                continue;
            };
            // DOELPOORT_CONFIG names the file; DOELPOORT_TEST_* belong to the test suite.
            if rest == "CONFIG" || rest.starts_with("TEST_") {
                continue;
            }
            let lower = rest.to_ascii_lowercase();
            let path = SECTIONS.iter().find_map(|s| {
                let field = lower.strip_prefix(s)?.strip_prefix('_')?;
                Some(format!("{s}.{field}"))
            });
            let Some(path) = path else {
                return Err(ConfigError::Invalid(format!(
                    "environment variable {key}: no such section (known: {})",
                    SECTIONS.join(", ")
                )));
            };
            let value: figment::value::Value = value.parse().expect("figment parses any string");
            figment = figment.merge(Serialized::default(&path, value));
        }
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        if self.server.instance_id.is_empty()
            || !self
                .server
                .instance_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(
                "server.instance_id",
                "use letters, digits, '-' or '_' (not empty)",
            );
        }
        if self.server.body_limit_bytes < 1024 {
            return bad("server.body_limit_bytes", "must be at least 1024");
        }
        if self.server.client_request_timeout_ms == 0 || self.server.tls_handshake_timeout_ms == 0 {
            return bad(
                "server.client_request_timeout_ms / tls_handshake_timeout_ms",
                "must be more than 0 (a slow client could otherwise hold a worker)",
            );
        }
        let listens = [
            ("server.data_listen", self.server.data_listen),
            ("server.audit_listen", self.server.audit_listen),
            ("server.ops_listen", self.server.ops_listen),
        ];
        for (i, (k, a)) in listens.iter().enumerate() {
            for (k2, b) in &listens[i + 1..] {
                if a.port() != 0 && a == b {
                    return bad(k2, &format!("is the same address as {k}"));
                }
            }
        }
        if crate::storage::DatabaseUrl::parse(&self.database.url).is_err() {
            return bad(
                "database.url",
                "must start with sqlite:// or postgres:// (postgresql:// also works)",
            );
        }
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "must be at least 1");
        }
        let d = &self.disclosure;
        if d.max_batch == 0 || d.max_batch > 10_000 {
            return bad("disclosure.max_batch", "must be between 1 and 10000");
        }
        if d.queue == 0
            || d.checkpoint_every_records == 0
            || d.checkpoint_every_ms < 10
            || d.refusal_retention_days == 0
        {
            return bad(
                "disclosure.queue / checkpoint_every_records / checkpoint_every_ms / refusal_retention_days",
                "must be more than 0 (checkpoint_every_ms at least 10)",
            );
        }
        if self.tls.reload_interval_ms < 100 {
            return bad("tls.reload_interval_ms", "must be at least 100");
        }
        let a = &self.audit;
        if a.audience.trim().is_empty() {
            return bad("audit.audience", "must not be empty");
        }
        if a.leeway_s > 60 {
            return bad(
                "audit.leeway_s",
                "must be at most 60 (seconds of clock skew)",
            );
        }
        if !(a.anomaly_volume_factor > 1.0 && a.anomaly_volume_factor.is_finite()) {
            return bad("audit.anomaly_volume_factor", "must be more than 1");
        }
        let r = &self.rate_limit;
        if r.timeout_ms == 0 {
            return bad("rate_limit.timeout_ms", "must be more than 0");
        }
        if r.key_prefix.is_empty() || r.key_prefix.chars().any(|c| c.is_whitespace()) {
            return bad("rate_limit.key_prefix", "must not be empty nor hold spaces");
        }
        if !r.redis_url.starts_with("redis://") {
            return bad("rate_limit.redis_url", "must start with redis://");
        }
        for (i, issuer) in a.issuers.iter().enumerate() {
            if issuer.iss.trim().is_empty() {
                return bad(&format!("audit.issuers[{i}].iss"), "must not be empty");
            }
            if a.issuers[..i].iter().any(|o| o.iss == issuer.iss) {
                return bad(&format!("audit.issuers[{i}].iss"), "is listed twice");
            }
            if issuer
                .oins
                .iter()
                .any(|o| crate::domain::Oin::parse(o).is_err())
            {
                return bad(
                    &format!("audit.issuers[{i}].oins"),
                    "each entry must be an OIN of 20 digits",
                );
            }
        }
        Ok(())
    }
}

/// figment's error, with the key path made plain (`default.server.workers` → `server.workers`).
fn describe(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.path.join("."))
            };
            format!("{key}{}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_serve_a_fresh_clone() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.database.url, "sqlite://data/doelpoort.db");
        assert_eq!(s.server.data_listen.port(), 8443);
        assert_eq!(s.server.audit_listen.port(), 8444);
        assert_eq!(s.server.ops_listen.port(), 9090);
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[server]\nworkers = 3\nbody_limit_bytes = 4096\n").unwrap();
        let s = Settings::load_from(
            Some(&file),
            env(&[
                (
                    "DOELPOORT_DATABASE_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                ),
                ("DOELPOORT_SERVER_BODY_LIMIT_BYTES", "8192"),
                ("DOELPOORT_TLS_DEV_CERTS", "false"),
                ("UNRELATED", "x"),
                ("DOELPOORT_TEST_POSTGRES_URL", "postgres://elsewhere/x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.workers, 3);
        assert_eq!(s.server.body_limit_bytes, 8192);
        assert_eq!(s.database.url, "postgres://postgres@127.0.0.1:5432/test");
        assert!(!s.tls.dev_certs);
    }

    #[test]
    fn errors_name_the_key() {
        let bad = |pairs: &[(&str, &str)]| {
            Settings::load_from(None, env(pairs))
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&[("DOELPOORT_SERVER_WORKERS", "many")]).contains("server.workers"));
        assert!(bad(&[("DOELPOORT_SERVER_DATA_LISTEN", "nowhere")]).contains("server.data_listen"));
        assert!(bad(&[("DOELPOORT_DATABASE_URL", "mysql://x")]).contains("database.url"));
        assert!(bad(&[("DOELPOORT_SERVR_WORKERS", "2")]).contains("DOELPOORT_SERVR_WORKERS"));
        assert!(bad(&[("DOELPOORT_SERVER_WORKRS", "2")]).contains("workrs"));
        assert!(
            bad(&[("DOELPOORT_SERVER_OPS_LISTEN", "127.0.0.1:8443")]).contains("server.ops_listen")
        );
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/doelpoort.example.toml");
        assert_eq!(
            Settings::load_from(Some(&file), env(&[])).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn missing_file_says_what_to_do() {
        let e = Settings::load_from(Some(Path::new("/nonexistent/doelpoort.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/nonexistent/doelpoort.toml") && e.contains("--config"),
            "{e}"
        );
    }
}
