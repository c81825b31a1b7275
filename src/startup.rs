//! Building the running gateway from its settings: the order in which things must be ready,
//! and the three listeners. `tests/` start the real thing through `Application::build` on
//! ephemeral ports.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;
use anyhow::Context;

use crate::app::{self, AppState};
use crate::audit::token::DevIssuer;
use crate::audit::Audit;
use crate::config::Settings;
use crate::disclosure::{DisclosureLog, Keys};
use crate::identity::{self, TlsIdentity};
use crate::metrics::Metrics;
use crate::ops::Draining;
use crate::organisations::{self, Organisations};
use crate::policy::PolicyStore;
use crate::reload::{self, Reloadable};
use crate::storage::{instances, Database};

pub struct Application {
    servers: Vec<(&'static str, Server)>,
    reloader: tokio::task::JoinHandle<()>,
    draining: Arc<Draining>,
    pub data_addr: SocketAddr,
    pub audit_addr: SocketAddr,
    pub ops_addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub database: Database,
    disclosure: DisclosureLog,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_routes(settings, app::exchanges).await
    }

    /// As `build`, with other data routes (tests mount routes of their own this way, behind
    /// the same pipeline).
    pub async fn build_with_routes(
        settings: Settings,
        routes: app::Routes,
    ) -> anyhow::Result<Application> {
        let metrics = Arc::new(Metrics::new());
        let organisations = Arc::new(
            Organisations::load(settings.policies.dir.join(organisations::FILE_NAME))
                .context("loading the organisation registry (policies.dir)")?,
        );
        let policy_dir = settings.policies.dir.clone();
        let orgs = organisations.clone();
        let policy = Arc::new(
            tokio::task::spawn_blocking(move || PolicyStore::load(policy_dir, orgs))
                .await?
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the register of processing activities (policies.dir) does not load:\n{e}"
                    )
                })?,
        );
        if settings.rate_limit.store == crate::config::RateLimitStore::Redis {
            policy.share_rate_limits(crate::policy::rate::SharedLimits::new(
                &settings.rate_limit,
            )?)?;
        }
        ensure_dev_certificates(&settings, &organisations)?;
        let tls = TlsIdentity::load(&settings.tls, metrics.clone())?;

        let db_settings = settings.database.clone();
        let datasets = settings.datasets.clone();
        let database = tokio::task::spawn_blocking(move || -> anyhow::Result<Database> {
            let db = Database::connect(&db_settings)
                .context("database.url: cannot connect (is the database running? see README)")?;
            let applied = db.migrate()?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
            if datasets.seed_persons > 0 && crate::seed::is_empty(&db)? {
                let n =
                    crate::seed::seed(&db, datasets.seed_persons, datasets.seed, false, |_| {})?;
                tracing::warn!(
                    persons = n.rni_personen,
                    residents = n.ingezetenen,
                    seed = datasets.seed,
                    "the RNI dataset was empty: filled with SYNTHETIC persons"
                );
            }
            Ok(db)
        })
        .await??;
        instances::register(&database, &settings.server.instance_id).await?;
        let keys = Keys::load(
            &settings.disclosure.keys_dir,
            &settings.server.instance_id,
            settings.disclosure.create_keys,
        )
        .context("disclosure.keys_dir: the disclosure log's keys")?;
        let disclosure = DisclosureLog::start(
            database.clone(),
            keys,
            &settings.server.instance_id,
            &settings.disclosure,
            metrics.clone(),
        );

        let dev_issuer = settings
            .tls
            .dev_certs
            .then(|| {
                DevIssuer::load(
                    &settings.disclosure.keys_dir,
                    settings.disclosure.create_keys,
                )
            })
            .transpose()
            .context("the audit API's dev token key (disclosure.keys_dir)")?;
        let no_dev_issuer = dev_issuer.is_none();
        let audit = Arc::new(
            Audit::new(
                &settings,
                organisations.clone(),
                database.clone(),
                disclosure.clone(),
                dev_issuer,
            )
            .context("audit: the token issuers")?,
        );
        if settings.audit.issuers.is_empty() && no_dev_issuer {
            tracing::warn!("audit.issuers is empty: the audit API refuses every request");
        }
        // Every register version is stored before it is in force (the inzage's legal basis).
        let (p, db) = (policy.clone(), database.clone());
        tokio::task::spawn_blocking(move || {
            p.on_new_version(Box::new(move |version| {
                crate::audit::versies::store(&db, version)
            }))
        })
        .await?
        .context("storing the register version (register_versies)")?;

        let draining = Arc::new(Draining::default());
        let state = AppState {
            organisations: organisations.clone(),
            policy: policy.clone(),
            disclosure: disclosure.clone(),
            refusal_retention_days: settings.disclosure.refusal_retention_days,
            metrics: metrics.clone(),
            database: database.clone(),
            draining: draining.clone(),
            body_limit: settings.server.body_limit_bytes,
            sources: crate::sources::Sources::new(&settings.datasets.upstream, metrics.clone())?,
            routes,
            audit,
        };
        let s = &settings.server;
        let workers = if s.workers == 0 {
            num_workers()
        } else {
            s.workers
        };
        let bind = |addr: SocketAddr, what: &str| {
            TcpListener::bind(addr)
                .with_context(|| format!("server.{what}: cannot listen on {addr}"))
        };
        let (data_l, audit_l, ops_l) = (
            bind(s.data_listen, "data_listen")?,
            bind(s.audit_listen, "audit_listen")?,
            bind(s.ops_listen, "ops_listen")?,
        );
        let (data_addr, audit_addr, ops_addr) = (
            data_l.local_addr()?,
            audit_l.local_addr()?,
            ops_l.local_addr()?,
        );

        let listener = |name, socket, tls, on_connect| identity::handshake::TlsListener {
            name,
            socket,
            tls,
            workers,
            handshake_timeout: Duration::from_millis(s.tls_handshake_timeout_ms),
            client_request_timeout: Duration::from_millis(s.client_request_timeout_ms),
            keep_alive: Duration::from_secs(s.keep_alive_s),
            max_connections: s.max_connections,
            shutdown_timeout_s: s.shutdown_timeout_s,
            on_connect,
            metrics: metrics.clone(),
        };
        let st = state.clone();
        let data = identity::handshake::serve(
            listener(
                "data",
                data_l,
                tls.mtls_server_config(),
                Some(identity::peer::on_connect),
            ),
            move || app::data_app(&st),
        )?;
        let st = state.clone();
        let audit = identity::handshake::serve(
            listener("audit", audit_l, tls.server_only_config(), None),
            move || app::audit_app(&st),
        )?;
        let st = state.clone();
        let ops = HttpServer::new(move || app::ops_app(&st))
            .workers(1)
            .client_request_timeout(Duration::from_millis(s.client_request_timeout_ms))
            .shutdown_timeout(s.shutdown_timeout_s)
            .disable_signals()
            .listen(ops_l)?
            .run();

        // Order matters: the register is rebuilt against the organisation registry in force.
        let watched: Vec<Arc<dyn Reloadable>> = vec![tls, organisations, policy];
        let reloader = tokio::spawn(reload::watch(
            watched,
            Duration::from_millis(settings.tls.reload_interval_ms),
            metrics.clone(),
        ));
        tracing::info!(%data_addr, %audit_addr, %ops_addr, instance = %s.instance_id, database = %database.url().redacted(), "doelpoort listening");
        Ok(Application {
            servers: vec![("data", data), ("audit", audit), ("ops", ops)],
            reloader,
            draining,
            data_addr,
            audit_addr,
            ops_addr,
            metrics,
            database,
            disclosure,
        })
    }

    /// A handle that stops the gateway gracefully (what SIGTERM does).
    pub fn stopper(&self) -> Stopper {
        let handle = |name: &str| {
            self.servers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.handle())
                .expect("every listener is built")
        };
        Stopper {
            traffic: vec![handle("data"), handle("audit")],
            ops: handle("ops"),
            draining: self.draining.clone(),
        }
    }

    /// Runs until SIGTERM or SIGINT (graceful: in-flight requests finish) or until stopped
    /// through a `Stopper`.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let stopper = self.stopper();
        let signals = tokio::spawn(async move {
            wait_for_shutdown_signal().await;
            tracing::info!("shutdown signal: finishing in-flight requests");
            stopper.stop().await;
        });
        let results = futures_util::future::join_all(self.servers.into_iter().map(
            |(name, server)| async move {
                server
                    .await
                    .with_context(|| format!("the {name} listener failed"))
            },
        ))
        .await;
        signals.abort();
        self.reloader.abort();
        // The apps (and their handles on the log) are gone: let the writer sign and end.
        let disclosure = self.disclosure;
        let _ =
            tokio::task::spawn_blocking(move || disclosure.finish(Duration::from_secs(10))).await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        tracing::info!("doelpoort stopped");
        Ok(())
    }
}

#[derive(Clone)]
pub struct Stopper {
    traffic: Vec<ServerHandle>,
    ops: ServerHandle,
    draining: Arc<Draining>,
}

impl Stopper {
    /// `/ready` turns 503, the data and audit listeners stop accepting and finish their
    /// in-flight requests (up to `server.shutdown_timeout_s`), then the ops listener stops.
    pub async fn stop(&self) {
        self.draining.0.store(true, Ordering::Relaxed);
        futures_util::future::join_all(self.traffic.iter().map(|h| h.stop(true))).await;
        self.ops.stop(true).await;
    }
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            tracing::error!("cannot listen for SIGTERM/SIGINT; stop the gateway with SIGKILL");
            std::future::pending::<()>().await
        }
    }
}

fn num_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// With `tls.dev_certs` on, makes the development PKI when any configured file is missing.
fn ensure_dev_certificates(
    settings: &Settings,
    organisations: &Organisations,
) -> anyhow::Result<()> {
    let t = &settings.tls;
    let mut needed = vec![&t.client_ca, &t.server_cert, &t.server_key];
    needed.extend(t.crl.as_ref());
    if needed.iter().all(|p| p.exists()) {
        return Ok(());
    }
    if !t.dev_certs {
        let missing: Vec<_> = needed
            .iter()
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
        anyhow::bail!(
            "tls: missing {}; configure the certificate files, or set tls.dev_certs = true for a development PKI",
            missing.join(", ")
        );
    }
    let report = crate::pki::init(&t.dev_certs_dir, &organisations.current())?;
    tracing::warn!(
        dir = %t.dev_certs_dir.display(),
        created = report.created.len(),
        "created a DEVELOPMENT PKI (not for production)"
    );
    Ok(())
}
