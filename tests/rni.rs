//! RNI extracts for gemeenten over real mTLS: counts per address and the per-address overview,
//! own territory only, only the allowed fields, every disclosure recorded.

mod common;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::storage::schema::postcodegebieden;
use serde_json::Value;

const ACT: &str = "x-processing-activity";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.datasets.seed_persons = 3_000).await
}

async fn get(
    app: &TestApp,
    client: &str,
    activity: &str,
    path: &str,
) -> (u16, Value, Option<String>) {
    let res = app
        .client(client)
        .get(app.data_url(path))
        .header(ACT, activity)
        .send()
        .await
        .unwrap();
    common::answer(res).await
}

fn area_of(app: &TestApp, pc4: &str) -> String {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    postcodegebieden::table
        .find(pc4)
        .select(postcodegebieden::gemeentecode)
        .first(&mut *conn)
        .unwrap()
}

async fn counts_and_overview(backend: Backend) {
    let app = app(backend).await;
    let own = common::addresses(&app, "0363");
    assert!(
        own.len() > 10,
        "the seed gave Amsterdam too few addresses: {}",
        own.len()
    );
    let total: i64 = own.iter().map(|a| a.2).sum();

    // Counts: the whole gemeente, its own postcodes only, adding up to its persons.
    let (status, body, id) = get(
        &app,
        "gemeente-0363",
        "rni-telling",
        "/api/v1/rni/tellingen",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["gemeentecode"], "0363");
    assert!(body["volgende"].is_null());
    let rows = body["adressen"].as_array().unwrap();
    let sum: i64 = rows.iter().map(|a| a["aantal"].as_i64().unwrap()).sum();
    assert_eq!(sum, total);
    for a in rows {
        assert_eq!(area_of(&app, &a["postcode"].as_str().unwrap()[..4]), "0363");
        assert!(a.get("burgerservicenummers").is_none());
    }
    assert_eq!(
        {
            let d = common::disclosed(&app, &id.unwrap());
            (d.record_count, d.subjects)
        },
        (0, 0),
        "counts name no person"
    );

    // One postcode of its own; another gemeente's postcode is out of scope.
    let (pc, hn, n) = own[0].clone();
    let (status, body, _) = get(
        &app,
        "gemeente-0363",
        "rni-telling",
        &format!("/api/v1/rni/tellingen?postcode={pc}"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["adressen"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["postcode"] == pc.as_str()));
    let theirs = common::addresses(&app, "0599")[0].0.clone();
    let (status, body, id) = get(
        &app,
        "gemeente-0363",
        "rni-telling",
        &format!("/api/v1/rni/tellingen?postcode={theirs}"),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("outOfScope")));
    assert!(id.is_some(), "the refusal is recorded");
    for bad in [
        "postcode=12AB",
        "postcode=1012ABC",
        "volgende=xyz",
        "onbekend=1",
    ] {
        let (status, body, _) = get(
            &app,
            "gemeente-0363",
            "rni-telling",
            &format!("/api/v1/rni/tellingen?{bad}"),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("paramsValidation")),
            "{bad}: {body}"
        );
    }

    // The overview of the fullest address: every person, only the allowed fields, one record each.
    let (status, body, id) = get(
        &app,
        "gemeente-0363",
        "rni-adresoverzicht",
        &format!("/api/v1/rni/adressen/{pc}/{hn}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let personen = body["personen"].as_array().unwrap();
    assert_eq!(personen.len() as i64, n);
    for p in personen {
        let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        for k in &keys {
            assert!(
                [
                    "burgerservicenummer",
                    "naam",
                    "geboorte",
                    "nationaliteiten",
                    "datumInschrijvingRni",
                    "tijdelijkVerblijfsadres"
                ]
                .contains(k),
                "field {k} is not allowed under rni-adresoverzicht"
            );
        }
        assert!(p["geboorte"].get("plaats").is_none() && p["naam"].get("voornamen").is_some());
        assert_eq!(p["tijdelijkVerblijfsadres"]["postcode"], pc.as_str());
    }
    assert_eq!(
        {
            let d = common::disclosed(&app, &id.unwrap());
            (d.record_count, d.subjects)
        },
        (n as i32, n)
    );

    // No one there: an explicit empty answer, not an error. Someone else's address: refused.
    let (status, body, _) = get(
        &app,
        "gemeente-0363",
        "rni-adresoverzicht",
        &format!("/api/v1/rni/adressen/{pc}/99999"),
    )
    .await;
    assert_eq!(
        (
            status,
            body["personen"].as_array().map(Vec::len),
            body["bronGeraadpleegd"].as_bool()
        ),
        (200, Some(0), Some(true))
    );
    let (status, body, _) = get(
        &app,
        "gemeente-0363",
        "rni-adresoverzicht",
        &format!("/api/v1/rni/adressen/{theirs}/1"),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("outOfScope")));
    // Not for the Arbeidsinspectie under these activities.
    let (status, body, _) = get(&app, "nla", "rni-telling", "/api/v1/rni/tellingen").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("notPermitted")));
    app.stop().await;
}

on_both_backends!(counts_and_overview);
