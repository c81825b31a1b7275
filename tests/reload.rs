//! Registers reload while the gateway runs; a broken file never replaces a good one.

mod common;

use std::time::Duration;

use common::{spawn_app, Backend};

async fn whoami_status(app: &common::TestApp, client: &reqwest::Client) -> u16 {
    client
        .get(app.data_url("/api/v1/whoami"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn eventually(app: &common::TestApp, client: &reqwest::Client, want: u16) {
    for _ in 0..50 {
        if whoami_status(app, client).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("status never became {want}");
}

#[tokio::test]
async fn the_organisation_registry_reloads_and_rejects_a_broken_file() {
    let app = spawn_app(Backend::Sqlite).await;
    let file = app.settings.policies.dir.join("organisations.toml");
    let original = std::fs::read_to_string(&file).unwrap();
    let amsterdam = app.client("gemeente-0363");
    assert_eq!(whoami_status(&app, &amsterdam).await, 200);

    // Amsterdam leaves the registry: refused without restart.
    let without = original.replace(
        "[[organisation]]\noin = \"99000000000103630000\"\nname = \"Amsterdam\"\nkind = \"gemeente\"\ngemeentecode = \"0363\"\n",
        "",
    );
    assert_ne!(without, original);
    std::fs::write(&file, &without).unwrap();
    eventually(&app, &amsterdam, 403).await;

    // A broken file: rejected, the registry in force stays (Amsterdam still refused, others fine).
    std::fs::write(
        &file,
        format!("{original}\n[[organisation]]\noin = \"not an oin\"\n"),
    )
    .unwrap();
    app.wait_for_metric(
        "doelpoort_reloads_total{outcome=\"rejected\",what=\"organisations\"}",
        1.0,
    )
    .await;
    assert_eq!(whoami_status(&app, &amsterdam).await, 403);
    assert_eq!(whoami_status(&app, &app.client("gemeente-0606")).await, 200);

    // Restored: Amsterdam is back.
    std::fs::write(&file, &original).unwrap();
    eventually(&app, &amsterdam, 200).await;
    app.stop().await;
}
