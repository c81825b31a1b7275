//! The real `doelpoort` binary: certs init, migrate, configuration errors, serve and SIGTERM.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_doelpoort");

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn with_policies() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::test_settings(dir.path(), "sqlite://unused.db");
    dir
}

#[test]
fn certs_init_makes_the_dev_pki_and_never_overwrites() {
    let dir = with_policies();
    let (ok, out) = run(dir.path(), &["certs", "init", "--dir", "certs"], &[]);
    assert!(ok, "{out}");
    let certs = dir.path().join("certs");
    let mut expected = vec![
        "ca.pem".to_owned(),
        "crl.pem".into(),
        "server.pem".into(),
        "server-key.pem".into(),
    ];
    for name in [
        "rvig",
        "uwv",
        "svb",
        "nla",
        "supervisor",
        "gemeente-0363",
        "gemeente-0599",
        "gemeente-0606",
        "gemeente-0358",
        "revoked",
        "expired",
        "other-ca",
        "no-oin",
        "unknown-oin",
    ] {
        expected.push(format!("clients/{name}.pem"));
        expected.push(format!("clients/{name}-key.pem"));
    }
    for f in &expected {
        assert!(certs.join(f).exists(), "{f} missing");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(certs.join("clients/nla-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "a private key is readable by others");
    let before: Vec<Vec<u8>> = expected
        .iter()
        .map(|f| std::fs::read(certs.join(f)).unwrap())
        .collect();

    // Again, with one client missing: only that one is made, nothing else changes.
    std::fs::remove_file(certs.join("clients/svb.pem")).unwrap();
    std::fs::remove_file(certs.join("clients/svb-key.pem")).unwrap();
    let (ok, out) = run(dir.path(), &["certs", "init", "--dir", "certs"], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("2 file(s) created"), "{out}");
    for (f, old) in expected.iter().zip(&before) {
        if !f.starts_with("clients/svb") {
            assert_eq!(
                &std::fs::read(certs.join(f)).unwrap(),
                old,
                "{f} was overwritten"
            );
        }
    }
    // A key without its certificate is an error that says what to do.
    std::fs::remove_file(certs.join("clients/uwv.pem")).unwrap();
    let (ok, out) = run(dir.path(), &["certs", "init", "--dir", "certs"], &[]);
    assert!(!ok);
    assert!(out.contains("uwv") && out.contains("remove"), "{out}");
}

#[test]
fn migrate_applies_once_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let pg = common::PgTestDb::create();
    for url in [
        format!("sqlite://{}", dir.path().join("m.db").display()),
        pg.url.clone(),
    ] {
        let (ok, out) = run(
            dir.path(),
            &["migrate"],
            &[("DOELPOORT_DATABASE_URL", &url)],
        );
        assert!(ok && out.contains("migration(s) applied"), "{url}: {out}");
        let (ok, out) = run(
            dir.path(),
            &["migrate"],
            &[("DOELPOORT_DATABASE_URL", &url)],
        );
        assert!(ok && out.contains("up to date"), "{url}: {out}");
    }
}

#[test]
fn invalid_configuration_names_the_key() {
    let dir = with_policies();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[server]\ndata_listen = \"not an address\"\n").unwrap();
    let (ok, out) = run(
        dir.path(),
        &["serve", "--config", file.to_str().unwrap()],
        &[],
    );
    assert!(!ok);
    assert!(out.contains("server.data_listen"), "{out}");
    let (ok, out) = run(
        dir.path(),
        &["serve"],
        &[("DOELPOORT_DATABASE_URL", "mysql://x")],
    );
    assert!(!ok);
    assert!(out.contains("database.url"), "{out}");
}

/// `serve` with defaults but ephemeral ports: creates its PKI and database, answers over mTLS,
/// and exits cleanly on SIGTERM.
#[test]
fn serve_starts_answers_and_stops_on_sigterm() {
    let dir = with_policies();
    let (mut child, port, drain) = common::serve_binary(dir.path(), &[]);
    assert!(
        dir.path().join("certs/clients/gemeente-0363.pem").exists(),
        "no dev PKI created"
    );
    assert!(
        dir.path().join("data/doelpoort.db").exists(),
        "no SQLite database under data/"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        let certs = dir.path().join("certs");
        let config = doelpoort::identity::client::client_config(
            &certs.join("ca.pem"),
            &certs.join("clients/gemeente-0363.pem"),
            &certs.join("clients/gemeente-0363-key.pem"),
        )
        .unwrap();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .build()
            .unwrap();
        client
            .get(format!("https://localhost:{port}/api/v1/whoami"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut waited = Duration::ZERO;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            waited < Duration::from_secs(15),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
        waited += Duration::from_millis(50);
    };
    let log = drain.join().unwrap().join("\n");
    assert!(exit.success(), "exit {exit:?}; log:\n{log}");
    assert!(log.contains("doelpoort stopped"), "{log}");
    // Logs are JSON lines by default and carry no private key material.
    assert!(
        log.lines().filter(|l| l.starts_with('{')).count() >= 2,
        "{log}"
    );
    assert!(!log.contains("PRIVATE KEY"));
}
