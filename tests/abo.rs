//! The ABO experiment over real mTLS: contact details and stay-address updates only for the
//! five gemeenten, only in their territory, only in the experiment's period; an update keeps
//! the previous address as history, is recorded, and bad input changes nothing.

mod common;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::seed::RniPersoon;
use doelpoort::storage::schema::{
    postcodegebieden, rni_personen, rni_verblijfsadres_historie as h,
};
use serde_json::{json, Value};

const ACT: &str = "x-processing-activity";
const WIJZIGING: &str = "rni-verblijfsadres-wijziging";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.datasets.seed_persons = 3_000).await
}

fn person(app: &TestApp, bsn: &str) -> RniPersoon {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    rni_personen::table
        .find(bsn)
        .select(RniPersoon::as_select())
        .first(&mut *conn)
        .unwrap()
}

/// A person staying in `gemeente`, and a postcode area of that gemeente.
fn staying_in(app: &TestApp, gemeente: &str) -> (RniPersoon, String) {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    let p: RniPersoon = rni_personen::table
        .filter(rni_personen::verblijf_gemeentecode.eq(gemeente))
        .order(rni_personen::burgerservicenummer)
        .select(RniPersoon::as_select())
        .first(&mut *conn)
        .unwrap();
    let pc4: String = postcodegebieden::table
        .filter(postcodegebieden::gemeentecode.eq(gemeente))
        .select(postcodegebieden::pc4)
        .order(postcodegebieden::pc4)
        .first(&mut *conn)
        .unwrap();
    (p, pc4)
}

fn history(app: &TestApp, bsn: &str) -> Vec<(i32, Option<String>, String)> {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    h::table
        .filter(h::burgerservicenummer.eq(bsn))
        .order(h::volgnummer)
        .select((h::volgnummer, h::verblijf_postcode, h::disclosure_id))
        .load(&mut *conn)
        .unwrap()
}

async fn send(activity: &str, req: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
    common::answer(req.header(ACT, activity).send().await.unwrap()).await
}

async fn put(app: &TestApp, client: &str, bsn: &str, body: &Value) -> (u16, Value, Option<String>) {
    let req = app
        .client(client)
        .put(app.data_url(&format!("/api/v1/rni/personen/{bsn}/verblijfsadres")))
        .json(body);
    send(WIJZIGING, req).await
}

async fn contact(app: &TestApp, client: &str, query: &str) -> (u16, Value, Option<String>) {
    let req = app
        .client(client)
        .get(app.data_url(&format!("/api/v1/rni/contactgegevens?{query}")));
    send("rni-contactgegevens", req).await
}

fn adres(postcode: &str, huisnummer: i32) -> Value {
    json!({
        "straat": "Broersvest",
        "huisnummer": huisnummer,
        "huisletter": "a",
        "postcode": postcode,
        "woonplaats": "Schiedam",
        "datumAanvang": "2026-11-01",
    })
}

async fn experiment(backend: Backend) {
    let app = app(backend).await;
    let (p, pc4) = staying_in(&app, "0606");
    let (elders, elders_pc4) = staying_in(&app, "0358");
    let pc = p.verblijf_postcode.clone().unwrap();

    // Contact details: the ABO gemeente gets them for its own postcodes, with the allowed fields only.
    let (status, body, id) = contact(&app, "gemeente-0606", &format!("postcode={pc}")).await;
    assert_eq!(status, 200, "{body}");
    let personen = body["personen"].as_array().unwrap();
    assert!(personen
        .iter()
        .any(|x| x["burgerservicenummer"] == p.burgerservicenummer.as_str()));
    for x in personen {
        let keys: Vec<&str> = x.as_object().unwrap().keys().map(String::as_str).collect();
        assert!(
            keys.iter().all(|k| [
                "burgerservicenummer",
                "naam",
                "contactgegevens",
                "tijdelijkVerblijfsadres"
            ]
            .contains(k)),
            "{keys:?}"
        );
        assert!(x["contactgegevens"].is_object());
        assert_eq!(x["tijdelijkVerblijfsadres"]["postcode"], pc.as_str());
    }
    assert!(id.is_some());
    let (status, body, _) = contact(
        &app,
        "gemeente-0606",
        &format!("postcode={}", elders.verblijf_postcode.clone().unwrap()),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("outOfScope")));
    for other in ["gemeente-0363", "gemeente-0599", "nla", "uwv", "rvig"] {
        let (status, body, _) = contact(&app, other, &format!("postcode={pc}")).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("notPermitted")),
            "{other}"
        );
    }
    let (status, body, _) = contact(&app, "gemeente-0606", "postcode=12").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("paramsValidation"))
    );

    // An update: applied, answered with the new address, the old one in the history, recorded.
    let nieuw = format!("{pc4}XY");
    let (status, body, id) = put(
        &app,
        "gemeente-0606",
        &p.burgerservicenummer,
        &adres(&nieuw, 12),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tijdelijkVerblijfsadres"]["postcode"], nieuw.as_str());
    assert_eq!(body["tijdelijkVerblijfsadres"]["huisletter"], "A");
    let after = person(&app, &p.burgerservicenummer);
    assert_eq!(after.verblijf_postcode.as_deref(), Some(nieuw.as_str()));
    assert_eq!(after.verblijf_huisnummer, Some(12));
    assert_eq!(after.verblijf_gemeentecode.as_deref(), Some("0606"));
    assert_eq!(after.geslachtsnaam, p.geslachtsnaam, "nothing else changes");
    assert_eq!(
        history(&app, &p.burgerservicenummer),
        vec![(1, p.verblijf_postcode.clone(), id.clone().unwrap())]
    );
    // A second one: the first new address goes to the history as number 2.
    let (status, _, _) = put(
        &app,
        "gemeente-0606",
        &p.burgerservicenummer,
        &adres(&nieuw, 14),
    )
    .await;
    assert_eq!(status, 200);
    let hist = history(&app, &p.burgerservicenummer);
    assert_eq!(
        (hist.len(), hist[1].0, hist[1].1.as_deref()),
        (2, 2, Some(nieuw.as_str()))
    );

    // Refusals change nothing: another gemeente's territory, a non-ABO gemeente, bad input.
    let before = person(&app, &p.burgerservicenummer);
    let (status, body, _) = put(
        &app,
        "gemeente-0606",
        &p.burgerservicenummer,
        &adres(&format!("{elders_pc4}AA"), 1),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("outOfScope")));
    for other in ["gemeente-0363", "nla", "rvig", "supervisor"] {
        let (status, body, _) = put(&app, other, &p.burgerservicenummer, &adres(&nieuw, 1)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("notPermitted")),
            "{other}"
        );
    }
    let ok = adres(&nieuw, 3);
    let bad: Vec<(&str, Value)> = vec![
        ("huisnummer 0", json!({"huisnummer": 0})),
        ("huisnummer as text", json!({"huisnummer": "3"})),
        ("two huisletters", json!({"huisletter": "ab"})),
        (
            "toevoeging too long",
            json!({"huisnummertoevoeging": "12345"}),
        ),
        ("bad postcode", json!({"postcode": "0606AB"})),
        ("empty street", json!({"straat": " "})),
        ("script in the street", json!({"straat": "<script>"})),
        ("date in the future", json!({"datumAanvang": "2999-01-01"})),
        ("impossible date", json!({"datumAanvang": "2026-02-30"})),
        ("unknown member", json!({"bsn": "999993653"})),
        ("no woonplaats", json!({"woonplaats": null})),
    ];
    for (what, change) in bad {
        let mut body = ok.clone();
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        let (status, problem, _) = put(&app, "gemeente-0606", &p.burgerservicenummer, &body).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (400, Some("paramsValidation")),
            "{what}: {problem}"
        );
        assert!(!problem.to_string().contains("<script>"), "{what}");
    }
    let (status, body, _) = put(&app, "gemeente-0606", "123456780", &ok).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("paramsValidation")),
        "elfproef"
    );
    let (status, body, _) = put(&app, "gemeente-0606", "999990019", &ok).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("notFound")),
        "no such person"
    );
    assert_eq!(person(&app, &p.burgerservicenummer), before);
    assert_eq!(history(&app, &p.burgerservicenummer).len(), 2);

    // Concurrent updates of one person: every one applied, each keeping its predecessor.
    let updates = (0..12).map(|i| {
        let app = &app;
        let bsn = p.burgerservicenummer.clone();
        let body = adres(&nieuw, 100 + i);
        async move { put(app, "gemeente-0606", &bsn, &body).await.0 }
    });
    let statuses = futures_util::future::join_all(updates).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let numbers: Vec<i32> = history(&app, &p.burgerservicenummer)
        .iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(numbers, (1..=14).collect::<Vec<_>>());
    app.stop().await;
}

/// Outside the experiment's period the gemeente is refused, and nothing changes.
async fn outside_the_period(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.datasets.seed_persons = 500;
        let file = s.policies.dir.join("verwerkingsactiviteiten.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        let ended = text.replace("valid_until = 2027-09-30", "valid_until = 2024-06-30");
        assert_ne!(ended, text);
        std::fs::write(&file, ended).unwrap();
    })
    .await;
    let (p, pc4) = staying_in(&app, "0606");
    let (status, body, id) = put(
        &app,
        "gemeente-0606",
        &p.burgerservicenummer,
        &adres(&format!("{pc4}AB"), 1),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("activityNotInForce")),
        "{body}"
    );
    assert!(id.is_some(), "the refusal is recorded");
    let (status, body, _) = contact(&app, "gemeente-0606", &format!("postcode={pc4}AB")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("activityNotInForce"))
    );
    assert_eq!(person(&app, &p.burgerservicenummer), p);
    assert!(history(&app, &p.burgerservicenummer).is_empty());
    app.stop().await;
}

on_both_backends!(experiment);

on_both_backends!(outside_the_period);
