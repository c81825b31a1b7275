//! `/openapi.json` over real mTLS: served to any registered organisation, an OpenAPI 3.1
//! document that the reference validator (openapi-spec-validator, installed by
//! scripts/test.sh) accepts, naming every data route and the audit API.

mod common;

use common::{spawn_app, Backend};
use serde_json::Value;

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .client("gemeente-0363")
        .get(app.data_url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/haalcentraal/api/brp/personen",
        "/api/v1/rni/tellingen",
        "/api/v1/rni/personen/{bsn}/verblijfsadres",
        "/audit/v1/disclosures",
        "/audit/v1/inzage",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    // Without a client certificate there is no document on the data listener.
    assert!(app
        .anonymous_client()
        .get(app.data_url("/openapi.json"))
        .send()
        .await
        .is_err());

    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !said.contains("No module named"),
        "\n\n*** openapi-spec-validator is REQUIRED for this test: scripts/test.sh installs it \
         (python3 -m pip install -r scripts/requirements-test.txt).\n{said}"
    );
    assert!(
        out.status.success(),
        "the document is not valid OpenAPI:\n{said}"
    );
    app.stop().await;
}
