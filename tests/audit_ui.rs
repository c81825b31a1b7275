//! The audit web UI (`/audit/ui/`) against the real gateway over real TLS, with disclosures
//! made through the data API: its security (the cookie, CSRF, same-origin forms, the tenant
//! of the token, every page's query audited) over plain HTTPS, and the whole of it in a real
//! browser — Debian's headless Chromium driven by playwright-core (tests/ui/audit-ui.mjs):
//! sign in, search, paging, refusals, signals, an inzage printed to PDF, the integrity check,
//! with screenshots under target/audit-ui/.
//!
//! The browser test needs /usr/bin/chromium, node and tests/ui/node_modules
//! (scripts/ci/ui-deps.sh installs them); without them it fails, saying so.

mod common;

use std::path::Path;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::audit::token::{DevIssuer, Role};
use doelpoort::domain::Oin;
use doelpoort::storage::schema::disclosure_records::dsl as r;
use serde_json::Value;

const ACT: &str = "x-processing-activity";
const AMSTERDAM: &str = "99000000000103630000";
const COOKIE: &str = "__Secure-doelpoort-audit";

async fn app() -> TestApp {
    spawn_app_with(Backend::Sqlite, |s| {
        s.datasets.seed_persons = 3_000;
        // Two refusals in a day make a signal.
        s.audit.anomaly_refusals_floor = 2;
    })
    .await
}

fn officer(app: &TestApp, oin: &str) -> String {
    DevIssuer::load(&app.settings.disclosure.keys_dir, false)
        .unwrap()
        .issue(
            &Oin::parse(oin).unwrap(),
            Role::PrivacyOfficer,
            30,
            "doelpoort-audit",
        )
        .unwrap()
}

/// `client` asks for the persons at the fullest address of `gemeente` under
/// rni-adresoverzicht: their BSNs when it is its own gemeente (200), none when refused (403).
async fn ask(app: &TestApp, client: &str, gemeente: &str) -> Vec<String> {
    let (pc, hn) = common::fullest_address(app, gemeente);
    let res = app
        .client(client)
        .get(app.data_url(&format!("/api/v1/rni/adressen/{pc}/{hn}")))
        .header(ACT, "rni-adresoverzicht")
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    if status == 403 {
        assert_eq!(body["code"], "outOfScope");
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    body["personen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["burgerservicenummer"].as_str().unwrap().to_owned())
        .collect()
}

/// The audit records of the UI's queries by `oin`, per endpoint.
fn audited(app: &TestApp, oin: &str, endpoint: &str) -> i64 {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    r::disclosure_records
        .filter(r::name.eq(format!("audit/{endpoint}")))
        .filter(r::requester_oin.eq(oin))
        .count()
        .get_result(&mut *conn)
        .unwrap()
}

fn client(app: &TestApp) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(common::no_client_cert_config(&app.certs().join("ca.pem")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token in a page's forms.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + 32].to_owned()
}

#[tokio::test]
async fn the_ui_keeps_tokens_bsns_and_tenants_where_they_belong() {
    let app = app().await;
    let amsterdam_bsns = ask(&app, "gemeente-0363", "0363").await;
    let rotterdam_bsns = ask(&app, "gemeente-0599", "0599").await;
    let token = officer(&app, AMSTERDAM);
    let c = client(&app);
    let url = |p: &str| app.audit_url(p);

    // Not signed in: the pages send the browser to the sign-in page.
    let res = c.get(url("/audit/ui/zoeken")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/audit/ui/");
    let res = c.get(url("/audit/ui/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(res.text().await.unwrap().contains("<html lang=\"nl\">"));

    // A bad token: refused as the API refuses it, as a page (401), no cookie.
    let res = c
        .post(url("/audit/ui/aanmelden"))
        .form(&[("token", "not.a.jwt")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("set-cookie").is_none());
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));

    // Signing in from another site's page is refused.
    let res = c
        .post(url("/audit/ui/aanmelden"))
        .header("origin", "https://evil.example")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("set-cookie").is_none());

    // Signing in: the token goes into a cookie only the UI gets and no script reads.
    let res = c
        .post(url("/audit/ui/aanmelden"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/audit/ui/");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with(&format!("{COOKIE}={token};")), "{set}");
    for attr in [
        "Path=/audit/ui",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{attr} in {set}");
    }
    let cookie = format!("{COOKIE}={token}");
    let get = |path: &str| c.get(url(path)).header("cookie", cookie.clone()).send();

    // The API does not take the cookie: it stays bearer-only.
    let res = get("/audit/v1/disclosures").await.unwrap();
    assert_eq!(res.status(), 401);

    // Tenant isolation in the UI: Amsterdam's officer asking for Rotterdam's records by
    // filter finds none, and the page never shows a Rotterdam BSN's pseudonym... or anything.
    let before = audited(&app, AMSTERDAM, "disclosures");
    let res = get("/audit/ui/zoeken?requester=gemeente-0599&kind=persoon")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Geen records gevonden"), "{page}");
    assert_eq!(
        audited(&app, AMSTERDAM, "disclosures"),
        before + 1,
        "the UI's search is audited"
    );
    let page = get("/audit/ui/zoeken?kind=persoon")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches("<td>Persoon</td>").count(),
        amsterdam_bsns.len(),
        "exactly Amsterdam's person records"
    );
    assert!(
        !page.contains("Rotterdam"),
        "no Rotterdam record in Amsterdam's search"
    );

    // A filter the API refuses is refused in the page (400), with its reason.
    let res = get("/audit/ui/zoeken?status=MAYBE").await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("OK, ERROR of UNKNOWN."));

    // An inzage is a POST with the session's CSRF token; without it nothing is read or
    // recorded.
    let form = get("/audit/ui/inzage").await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&form);
    let inzage = |csrf: &str, bsn: &str, origin: Option<&str>| {
        let mut req = c
            .post(url("/audit/ui/inzage"))
            .header("cookie", cookie.clone())
            .form(&[
                ("csrf", csrf),
                ("burgerservicenummer", bsn),
                ("formaat", "html"),
            ]);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let before = audited(&app, AMSTERDAM, "inzage");
    let res = inzage(&"0".repeat(32), &amsterdam_bsns[0], None)
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = inzage(&csrf, &amsterdam_bsns[0], Some("https://evil.example"))
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        audited(&app, AMSTERDAM, "inzage"),
        before,
        "a refused form reads nothing"
    );
    let res = inzage(
        &csrf,
        &amsterdam_bsns[0],
        Some(&format!("https://localhost:{}", app.audit_addr.port())),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-disclosure-id").is_some());
    let report = res.text().await.unwrap();
    assert!(report.contains("Overzicht van verstrekkingen van uw persoonsgegevens"));
    assert!(
        !report.contains(&amsterdam_bsns[0]),
        "the BSN is not put back into the page"
    );
    assert!(report.contains(&format!("******{}", &amsterdam_bsns[0][6..])));
    assert_eq!(
        audited(&app, AMSTERDAM, "inzage"),
        before + 1,
        "the UI's inzage is audited"
    );
    // Rotterdam's person, through Amsterdam's officer: nothing of Rotterdam's.
    let report = inzage(&csrf, &rotterdam_bsns[0], None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        report.contains("In het logboek staan geen verstrekkingen"),
        "{report}"
    );
    // A BSN failing the elfproef: the form again, 400, and the number not echoed.
    let res = inzage(&csrf, "123456789", None).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.text().await.unwrap().contains("123456789"));

    // A privacy officer does not verify the whole log (as in the API).
    let res = c
        .post(url("/audit/ui/integriteit"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Signing out needs the CSRF token too, and clears the cookie.
    let res = c
        .post(url("/audit/ui/afmelden"))
        .header("cookie", cookie.clone())
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));

    // An expired or forged cookie is no session.
    let res = c
        .get(url("/audit/ui/zoeken"))
        .header("cookie", format!("{COOKIE}=x.y.z"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/audit/ui/?aanmelding=verlopen");
    app.stop().await;
}

/// Fails loudly when a tool the browser test needs is missing.
fn require(what: &str, ok: bool) {
    assert!(
        ok,
        "\n\n*** {what} is REQUIRED for the audit UI browser test and is missing.\n\
         *** Install the UI test tools: scripts/ci/ui-deps.sh (apt-get install -y chromium; npm ci in tests/ui).\n"
    );
}

#[tokio::test]
async fn the_ui_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ui = root.join("tests/ui");
    require("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists());
    require(
        "tests/ui/node_modules/playwright-core (npm ci)",
        ui.join("node_modules/playwright-core").exists(),
    );
    let node = std::process::Command::new("node").arg("--version").output();
    require("node (>= 20)", node.is_ok_and(|o| o.status.success()));

    let app = app().await;
    let amsterdam_bsns = ask(&app, "gemeente-0363", "0363").await;
    ask(&app, "gemeente-0363", "0363").await;
    let rotterdam_bsns = ask(&app, "gemeente-0599", "0599").await;
    // Two refusals (another gemeente's address) make a signal.
    for _ in 0..2 {
        assert!(ask(&app, "gemeente-0363", "0599").await.is_empty());
    }
    let other = rotterdam_bsns
        .iter()
        .find(|b| !amsterdam_bsns.contains(b))
        .expect("a person only Rotterdam asked about");
    let token = officer(&app, AMSTERDAM);
    let shots = root.join("target/audit-ui");
    let _ = std::fs::remove_dir_all(&shots);

    let app_url = format!("https://localhost:{}", app.audit_addr.port());
    // On a thread of its own: the gateway keeps serving on this test's runtime meanwhile.
    let (script, persons) = (ui.join("audit-ui.mjs"), (2 * amsterdam_bsns.len()).min(50));
    let (bsn, other, certs, dir) = (
        amsterdam_bsns[0].clone(),
        other.clone(),
        app.certs(),
        shots.clone(),
    );
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .current_dir(&ui)
            .env("AUDIT_URL", &app_url)
            .env("SERVER_CERT", certs.join("server.pem"))
            .env("TOKEN", &token)
            .env("ORG_NAME", "Amsterdam")
            .env("BSN", &bsn)
            .env("OTHER_BSN", &other)
            .env("ACTIVITY", "rni-adresoverzicht")
            .env("PERSONS", persons.to_string())
            .env("SUPERVISOR", "supervisor")
            .env("SCREENSHOTS", &dir)
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{said}");
    assert!(output.status.success(), "the browser test failed:\n{said}");
    assert!(said.contains("audit UI: every check passed"), "{said}");

    // The browser's queries went through the API's functions: each is an audit record.
    for endpoint in ["disclosures", "stats", "anomalieen", "inzage"] {
        assert!(
            audited(&app, AMSTERDAM, endpoint) > 0,
            "no audit record of the UI's {endpoint}"
        );
    }
    assert!(
        audited(&app, "99000000000000000005", "verify") > 0,
        "the supervisor's verify"
    );
    app.stop().await;
}
