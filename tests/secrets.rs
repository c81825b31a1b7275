//! The gateway's secrets (TLS server key, disclosure-log signing key, pseudonym key, dev token
//! key): created owner-only, refused at startup when group or others may read them (the
//! message says which `chmod` to run), and never printed: not in the logs of a running
//! gateway at TRACE level, not in the `Debug` of its settings.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{spawn_app, Backend};
use doelpoort::startup::Application;

/// The secret files a dev gateway in `app` made, relative to its folder.
const SECRETS: [&str; 5] = [
    "certs/server-key.pem",
    "certs/ca-key.pem",
    "keys/pseudonym.key",
    "keys/doelpoort-1.ed25519",
    "keys/audit-dev-issuer.pem",
];

#[tokio::test]
async fn secrets_are_private_refused_when_readable_and_never_logged() {
    common::logs::capture("trace");

    let app = spawn_app(Backend::Sqlite).await;
    // Made owner-only.
    for file in SECRETS {
        let mode = std::fs::metadata(app.dir.path().join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    for name in doelpoort::pki::DEMO_CLIENTS {
        let key = app.certs().join(format!("clients/{name}-key.pem"));
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{name}");
    }
    // Some traffic, allowed and refused, on every listener.
    let c = app.client("gemeente-0363");
    let ok = c
        .get(app.data_url("/api/v1/rni/tellingen"))
        .header("x-processing-activity", "rni-telling")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = c
        .get(app.data_url("/api/v1/rni/tellingen"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let _ = app
        .anonymous_client()
        .get(app.audit_url("/audit/v1/disclosures"))
        .send()
        .await;
    let _ = reqwest::get(app.ops_url("/metrics")).await.unwrap();
    let settings = format!("{:?}", app.settings);
    // A copy of the gateway's folder (its own goes when it stops), to start again from.
    let kept = tempfile::tempdir().unwrap();
    let dir = kept.path().to_owned();
    for sub in ["certs", "keys"] {
        common::copy_dir(&app.dir.path().join(sub), &dir.join(sub));
    }
    let secrets: Vec<(String, String)> = SECRETS
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(dir.join(f)).unwrap()))
        .collect();
    app.stop().await;

    let logs = common::logs::text();
    assert!(logs.lines().count() > 20, "too little logged to judge");
    for (file, text) in &secrets {
        // Hex keys whole; PEM keys by every line of their base64 body.
        let parts: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() >= 16)
            .collect();
        assert!(!parts.is_empty(), "{file}");
        for part in parts {
            assert!(!logs.contains(part), "{file} is in the logs");
            assert!(!settings.contains(part), "{file} is in the settings' Debug");
        }
    }

    // A database password is not in the settings' Debug either.
    let mut s = doelpoort::config::Settings::default();
    s.database.url = "postgres://doelpoort:Geheim-Wachtwoord@db.example:5432/doelpoort".into();
    let shown = format!("{s:?}");
    assert!(!shown.contains("Geheim-Wachtwoord"), "{shown}");
    assert!(shown.contains("db.example"), "{shown}");

    // Each secret made readable by the group: the gateway refuses to start, naming the chmod.
    for file in SECRETS.iter().filter(|f| !f.ends_with("ca-key.pem")) {
        let path = dir.join(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let settings = common::test_settings(
            &dir,
            &format!("sqlite://{}", dir.join("doelpoort.db").display()),
        );
        let err = match Application::build(settings).await {
            Ok(_) => panic!("{file} readable by the group, and the gateway started"),
            Err(e) => format!("{e:#}"),
        };
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{file}: {err}"
        );
        println!("{file} mode 640: {err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}
