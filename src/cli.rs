//! The `doelpoort` command line (SPEC.md names the commands).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::organisations::{self, Registry};

#[derive(Parser)]
#[command(
    name = "doelpoort",
    version,
    about = "Purpose-bound mTLS gateway for Dutch public agencies"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (data, audit and ops listeners).
    Serve {
        /// TOML configuration file; without one, the defaults serve a fresh clone.
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Apply the database migrations (SQLite or PostgreSQL, from database.url).
    Migrate {
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// The disclosure log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// The register of processing activities (policies/).
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Generate the synthetic datasets (deterministic: the same seed gives the same data).
    Seed {
        /// RNI persons to generate.
        #[arg(long)]
        persons: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generate anew when the dataset is not empty.
        #[arg(long)]
        replace: bool,
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Development certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Bearer tokens for the audit API (development only).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a JWT for the audit API signed with the dev key (tls.dev_certs must be on).
    Issue {
        /// The organisation: its OIN or alias (gemeente-0363, supervisor, …).
        #[arg(long)]
        oin: String,
        /// privacy-officer or supervisor
        #[arg(long)]
        role: String,
        /// Minutes the token is valid (1 to 1440).
        #[arg(long, default_value_t = 60)]
        ttl_min: u64,
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Recompute every instance's hash chain and check every signed checkpoint; exits
    /// non-zero naming the first bad record.
    Verify {
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Remove this instance's records past their retention (oldest first) and sign a purge
    /// checkpoint. The only way records ever leave the log.
    Purge {
        #[arg(long, env = "DOELPOORT_CONFIG")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate model.conf, verwerkingsactiviteiten.toml, datasets/ and organisations.toml.
    Check {
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
    /// Print the decision for one organisation, activity and operation, and the rule behind it.
    Explain {
        #[arg(long)]
        oin: String,
        #[arg(long)]
        activity: String,
        /// read, search, count or write
        #[arg(long)]
        operation: String,
        /// The dataset of the request (default: the activity's own).
        #[arg(long)]
        dataset: Option<String>,
        /// The day to decide for, YYYY-MM-DD (default: today).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
        #[arg(long, default_value = "policies")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Create a dev CA, a server certificate and the client certificates of the demo
    /// organisations (never overwrites existing files).
    Init {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// The folder with organisations.toml (the OINs of the client certificates).
        #[arg(long, default_value = "policies")]
        policies: PathBuf,
    },
    /// Revoke a client certificate of the dev PKI (adds it to certs/crl.pem; the running
    /// gateway reloads the CRL by itself).
    Revoke {
        /// The client, as in certs/clients/NAME.pem.
        name: String,
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(config.as_deref()),
        Command::Migrate { config } => migrate(config.as_deref()),
        Command::Seed {
            persons,
            seed,
            replace,
            config,
        } => seed_datasets(config.as_deref(), persons, seed, replace),
        Command::Log {
            command: LogCommand::Verify { config },
        } => log_verify(config.as_deref()),
        Command::Log {
            command: LogCommand::Purge { config },
        } => log_purge(config.as_deref()),
        Command::Policy {
            command: PolicyCommand::Check { dir },
        } => crate::policy::explain::check(&dir),
        Command::Policy {
            command:
                PolicyCommand::Explain {
                    oin,
                    activity,
                    operation,
                    dataset,
                    date,
                    dir,
                },
        } => crate::policy::explain::explain(
            &dir,
            &oin,
            &activity,
            &operation,
            dataset.as_deref(),
            date.unwrap_or_else(crate::policy::today),
        )
        .map(|text| print!("{text}")),
        Command::Certs {
            command: CertsCommand::Init { dir, policies },
        } => certs_init(&dir, &policies),
        Command::Token {
            command:
                TokenCommand::Issue {
                    oin,
                    role,
                    ttl_min,
                    config,
                },
        } => token_issue(config.as_deref(), &oin, &role, ttl_min),
        Command::Certs {
            command: CertsCommand::Revoke { name, dir },
        } => crate::pki::revoke(&dir, &name).map(|()| {
            println!(
                "revoked clients/{name}.pem; {} updated",
                dir.join("crl.pem").display()
            )
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("doelpoort: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    crate::telemetry::init(&settings.log)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("doelpoort-main")
        .build()?;
    runtime.block_on(async {
        let app = crate::startup::Application::build(settings).await?;
        eprintln!(
            "doelpoort: data (mTLS) https://{}  audit https://{}  ops http://{}",
            app.data_addr, app.audit_addr, app.ops_addr
        );
        app.run_until_stopped().await
    })
}

fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let db = crate::storage::Database::connect(&settings.database)?;
    let applied = db.migrate()?;
    if applied.is_empty() {
        println!("{}: up to date", db.url().redacted());
    } else {
        for m in &applied {
            println!("applied {m}");
        }
        println!(
            "{}: {} migration(s) applied",
            db.url().redacted(),
            applied.len()
        );
    }
    Ok(())
}

fn seed_datasets(
    config: Option<&Path>,
    persons: usize,
    seed: u64,
    replace: bool,
) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let db = crate::storage::Database::connect(&settings.database)?;
    db.migrate()?;
    let bar = indicatif::ProgressBar::new(crate::seed::persons_for(persons)).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} persons (RNI, residents) {pos}/{len} [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let written = crate::seed::seed(&db, persons, seed, replace, |n| bar.inc(n))?;
    bar.finish_and_clear();
    println!(
        "{}: {written} (seed {seed}) in {:.1} s",
        db.url().redacted(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn log_verify(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let db = crate::storage::Database::connect(&settings.database)?;
    let total = crate::disclosure::verify::count(&db)?;
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} verifying {pos}/{len} records [{bar:40}] {per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let report =
        crate::disclosure::verify::verify(&db, &settings.disclosure.keys_dir, |n| bar.inc(n))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    if let Some(fault) = &report.fault {
        anyhow::bail!(
            "TAMPERING OR DAMAGE FOUND: {fault}
{} record(s) verified before it",
            report.records
        );
    }
    println!(
        "verified {} records and {} signed checkpoints of {} instance(s) ({}) in {:.2} s ({:.0} records/s); {} record(s) after the last checkpoint are chained, not yet signed",
        report.records,
        report.checkpoints,
        report.instances.len(),
        report.instances.join(", "),
        seconds,
        report.records as f64 / seconds.max(1e-9),
        report.unsigned_tail
    );
    Ok(())
}

fn log_purge(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = Settings::load(config)?;
    let db = crate::storage::Database::connect(&settings.database)?;
    let instance = &settings.server.instance_id;
    let keys = crate::disclosure::Keys::load(&settings.disclosure.keys_dir, instance, false)
        .context("the purge checkpoint is signed with this instance's key (disclosure.keys_dir)")?;
    let report =
        crate::disclosure::purge::purge(&db, &keys, instance, crate::disclosure::now_ms())?;
    println!(
        "instance {instance}: {} record(s) past retention purged; the chain now starts at record {}",
        report.purged, report.first_seq
    );
    Ok(())
}

fn token_issue(config: Option<&Path>, oin: &str, role: &str, ttl_min: u64) -> anyhow::Result<()> {
    use crate::audit::token::{DevIssuer, Role};
    let settings = Settings::load(config)?;
    if !settings.tls.dev_certs {
        anyhow::bail!(
            "token issue is for development only (tls.dev_certs = true); in production the tokens come from the issuers in audit.issuers"
        );
    }
    let registry = Registry::load(&settings.policies.dir.join(organisations::FILE_NAME))?;
    let org = registry
        .find(oin)
        .with_context(|| format!("--oin {oin}: not an organisation in organisations.toml"))?;
    let role = Role::parse(role).context("--role: privacy-officer or supervisor")?;
    if role == Role::Supervisor && org.kind != organisations::OrganisationKind::Supervisor {
        anyhow::bail!("--role supervisor: only for an organisation of kind supervisor");
    }
    if !(1..=1440).contains(&ttl_min) {
        anyhow::bail!("--ttl-min: 1 to 1440 minutes");
    }
    let dev = DevIssuer::load(
        &settings.disclosure.keys_dir,
        settings.disclosure.create_keys,
    )?;
    println!(
        "{}",
        dev.issue(&org.oin, role, ttl_min, &settings.audit.audience)?
    );
    Ok(())
}

fn certs_init(dir: &Path, policies: &Path) -> anyhow::Result<()> {
    let registry = Registry::load(&policies.join(organisations::FILE_NAME))
        .context("the client certificates carry OINs from the organisation registry")?;
    let report = crate::pki::init(dir, &registry)?;
    for f in &report.created {
        println!("created {}", f.display());
    }
    println!(
        "{} file(s) created, {} existing kept (never overwritten)",
        report.created.len(),
        report.kept.len()
    );
    println!(
        "try: curl --cacert {d}/ca.pem --cert {d}/clients/gemeente-0363.pem --key {d}/clients/gemeente-0363-key.pem https://localhost:8443/api/v1/whoami",
        d = dir.display()
    );
    Ok(())
}
