//! Haal Centraal BRP Personen v2 over real mTLS: the spec's request validation (a table of
//! faulty bodies, each a 400 with the spec's `invalidParams`), the three search types, field
//! selection and authorisation per requester, scope, and one disclosure record per person.

mod common;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::seed::RniPersoon;
use serde_json::{json, Value};

const PATH: &str = "/haalcentraal/api/brp/personen";
const ACT: &str = "x-processing-activity";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.datasets.seed_persons = 2_000).await
}

async fn post(
    app: &TestApp,
    client: &str,
    activity: &str,
    body: &Value,
) -> (u16, Value, Option<String>) {
    let res = app
        .client(client)
        .post(app.data_url(PATH))
        .header(ACT, activity)
        .json(body)
        .send()
        .await
        .unwrap();
    common::answer(res).await
}

fn persons(app: &TestApp) -> Vec<RniPersoon> {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    use doelpoort::storage::schema::rni_personen::dsl::*;
    rni_personen
        .select(RniPersoon::as_select())
        .order(burgerservicenummer)
        .load(&mut *conn)
        .unwrap()
}

fn raadpleeg(bsns: &[&str], fields: &[&str]) -> Value {
    json!({ "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns, "fields": fields })
}

/// `base` with the members of `changes` set, or removed where they are `null`.
fn with(mut base: Value, changes: Value) -> Value {
    let members = base.as_object_mut().unwrap();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            members.remove(k);
        } else {
            members.insert(k.clone(), v.clone());
        }
    }
    base
}

/// A faulty request: what it is, the body, the problem code, the expected invalidParams.
type Fault = (
    &'static str,
    Value,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// The faulty requests: (what, body, code, [(invalidParams name, code)]).
fn faulty_requests() -> Vec<Fault> {
    let bsn = "999993653";
    let r = |extra: Value| {
        with(
            json!({ "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn], "fields": ["burgerservicenummer"] }),
            extra,
        )
    };
    let n = |extra: Value| {
        with(
            json!({ "type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": "Nowak", "geboortedatum": "1990-01-01", "fields": ["burgerservicenummer"] }),
            extra,
        )
    };
    let p = |extra: Value| {
        with(
            json!({ "type": "ZoekMetPostcodeEnHuisnummer", "postcode": "1011AB", "huisnummer": 1, "fields": ["burgerservicenummer"] }),
            extra,
        )
    };
    let v = "paramsValidation";
    let c = "paramsCombination";
    let too_many: Vec<&str> = vec![bsn; 21];
    let fields_131: Vec<String> = (0..131).map(|_| "burgerservicenummer".to_owned()).collect();
    vec![
        (
            "no type",
            r(json!({"type": null})),
            c,
            vec![("type", "required")],
        ),
        (
            "unknown type",
            r(json!({"type": "ZoekMetIets"})),
            v,
            vec![("type", "value")],
        ),
        (
            "no fields",
            r(json!({"fields": null})),
            v,
            vec![("fields", "minItems")],
        ),
        (
            "empty fields",
            r(json!({"fields": []})),
            v,
            vec![("fields", "minItems")],
        ),
        (
            "fields not an array",
            r(json!({"fields": "naam"})),
            v,
            vec![("fields", "array")],
        ),
        (
            "131 fields",
            r(json!({"fields": fields_131})),
            v,
            vec![("fields", "maxItems")],
        ),
        (
            "field with a bad character",
            r(json!({"fields": ["naam/voornamen"]})),
            v,
            vec![("fields[0]", "pattern")],
        ),
        (
            "field that does not exist",
            r(json!({"fields": ["naam", "bestaatNiet"]})),
            v,
            vec![("fields[1]", "fields")],
        ),
        (
            "automatic field rni",
            r(json!({"fields": ["rni"]})),
            v,
            vec![("fields[0]", "fields")],
        ),
        (
            "automatic field inOnderzoek",
            r(json!({"fields": ["naam.inOnderzoek"]})),
            v,
            vec![("fields[0]", "fields")],
        ),
        (
            "automatic field verificatie",
            r(json!({"fields": ["verificatie.datum"]})),
            v,
            vec![("fields[0]", "fields")],
        ),
        (
            "no bsn",
            r(json!({"burgerservicenummer": null})),
            c,
            vec![("burgerservicenummer", "required")],
        ),
        (
            "empty bsn list",
            r(json!({"burgerservicenummer": []})),
            v,
            vec![("burgerservicenummer", "minItems")],
        ),
        (
            "bsn as a string",
            r(json!({"burgerservicenummer": "999993653,999993653"})),
            v,
            vec![("burgerservicenummer", "array")],
        ),
        (
            "21 bsns",
            r(json!({"burgerservicenummer": too_many})),
            v,
            vec![("burgerservicenummer", "maxItems")],
        ),
        (
            "8-digit bsn",
            r(json!({"burgerservicenummer": ["12345678"]})),
            v,
            vec![("burgerservicenummer[0]", "pattern")],
        ),
        (
            "script in bsn",
            r(json!({"burgerservicenummer": ["<script>123456789</script>"]})),
            v,
            vec![("burgerservicenummer[0]", "pattern")],
        ),
        (
            "two bad bsns",
            r(json!({"burgerservicenummer": ["1234567890", bsn, "x"]})),
            v,
            vec![
                ("burgerservicenummer[0]", "pattern"),
                ("burgerservicenummer[2]", "pattern"),
            ],
        ),
        (
            "bsn failing the elfproef",
            r(json!({"burgerservicenummer": ["123456780"]})),
            v,
            vec![("burgerservicenummer[0]", "elfproef")],
        ),
        (
            "gemeenteVanInschrijving of 3 digits",
            r(json!({"gemeenteVanInschrijving": "123"})),
            v,
            vec![("gemeenteVanInschrijving", "pattern")],
        ),
        (
            "parameter of another type",
            r(json!({"voornamen": "Pietje"})),
            v,
            vec![("voornamen", "unknownParam")],
        ),
        (
            "misspelt parameter",
            r(json!({"gemeenteVanInschijving": "0363"})),
            v,
            vec![("gemeenteVanInschijving", "unknownParam")],
        ),
        (
            "no name and date",
            n(json!({"geslachtsnaam": null, "geboortedatum": null})),
            c,
            vec![("geboortedatum", "required"), ("geslachtsnaam", "required")],
        ),
        (
            "empty name",
            n(json!({"geslachtsnaam": ""})),
            c,
            vec![("geslachtsnaam", "required")],
        ),
        (
            "date without dashes",
            n(json!({"geboortedatum": "19830526"})),
            v,
            vec![("geboortedatum", "date")],
        ),
        (
            "date in words",
            n(json!({"geboortedatum": "26 mei 1983"})),
            v,
            vec![("geboortedatum", "date")],
        ),
        (
            "impossible date",
            n(json!({"geboortedatum": "1983-02-30"})),
            v,
            vec![("geboortedatum", "date")],
        ),
        (
            "name of 201 characters",
            n(json!({"geslachtsnaam": "a".repeat(201)})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "script in name",
            n(json!({"geslachtsnaam": "<script>alert('x');</script>"})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "wildcard first",
            n(json!({"geslachtsnaam": "*sen"})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "two wildcards",
            n(json!({"geslachtsnaam": "gr**"})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "wildcard in the middle",
            n(json!({"geslachtsnaam": "gr*t"})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "wildcard after 2 letters",
            n(json!({"geslachtsnaam": "gr*"})),
            v,
            vec![("geslachtsnaam", "pattern")],
        ),
        (
            "bad geslacht",
            n(json!({"geslacht": "X"})),
            v,
            vec![("geslacht", "pattern")],
        ),
        (
            "voorvoegsel of 11 letters",
            n(json!({"voorvoegsel": "abcdefghijk"})),
            v,
            vec![("voorvoegsel", "pattern")],
        ),
        (
            "inclusiefOverledenPersonen not a boolean",
            n(json!({"inclusiefOverledenPersonen": "ja"})),
            v,
            vec![("inclusiefOverledenPersonen", "boolean")],
        ),
        (
            "search asks for a Persoon-only field",
            n(json!({"fields": ["nationaliteiten"]})),
            v,
            vec![("fields[0]", "fields")],
        ),
        (
            "no postcode and huisnummer",
            p(json!({"postcode": null, "huisnummer": null})),
            c,
            vec![("huisnummer", "required"), ("postcode", "required")],
        ),
        (
            "postcode starting with 0",
            p(json!({"postcode": "0123AB"})),
            v,
            vec![("postcode", "pattern")],
        ),
        (
            "postcode with two spaces",
            p(json!({"postcode": "1011  AB"})),
            v,
            vec![("postcode", "pattern")],
        ),
        (
            "huisnummer 0",
            p(json!({"huisnummer": 0})),
            v,
            vec![("huisnummer", "minimum")],
        ),
        (
            "huisnummer 100000",
            p(json!({"huisnummer": 100000})),
            v,
            vec![("huisnummer", "maximum")],
        ),
        (
            "huisnummer as text",
            p(json!({"huisnummer": "12"})),
            v,
            vec![("huisnummer", "integer")],
        ),
        (
            "two huisletters",
            p(json!({"huisletter": "AB"})),
            v,
            vec![("huisletter", "pattern")],
        ),
        (
            "toevoeging of 5",
            p(json!({"huisnummertoevoeging": "12345"})),
            v,
            vec![("huisnummertoevoeging", "pattern")],
        ),
        (
            "every fault at once",
            p(json!({"postcode": "x", "huisnummer": -1, "huisletter": "11", "onbekend": 1})),
            v,
            vec![
                ("huisletter", "pattern"),
                ("huisnummer", "minimum"),
                ("onbekend", "unknownParam"),
                ("postcode", "pattern"),
            ],
        ),
    ]
}

async fn validation(backend: Backend) {
    let app = app(backend).await;
    let cases = faulty_requests();
    assert!(cases.len() >= 30);
    for (what, body, code, params) in cases {
        let (status, problem, id) = post(&app, "uwv", "rni-raadplegen", &body).await;
        assert_eq!(status, 400, "{what}: {problem}");
        assert_eq!(problem["code"], code, "{what}: {problem}");
        let got: Vec<(String, String)> = problem["invalidParams"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no invalidParams in {problem}"))
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = params
            .iter()
            .map(|(n, c)| (n.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want, "{what}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .starts_with("De foutieve parameter(s) zijn: "),
            "{what}"
        );
        assert!(
            !problem.to_string().contains("<script>"),
            "{what}: a value was echoed"
        );
        assert!(id.is_some(), "{what}: the refusal is recorded");
    }
    // Not JSON, not an object, not declared JSON.
    for (content_type, body, status) in [
        ("application/json", "{", 400),
        ("application/json", "[1,2]", 400),
        (
            "text/plain",
            r#"{"type":"RaadpleegMetBurgerservicenummer"}"#,
            415,
        ),
    ] {
        let res = app
            .client("uwv")
            .post(app.data_url(PATH))
            .header(ACT, "rni-raadplegen")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{content_type} {body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
    let res = app
        .client("uwv")
        .get(app.data_url(PATH))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    app.stop().await;
}

async fn raadplegen_and_zoeken(backend: Backend) {
    let app = app(backend).await;
    let all = persons(&app);
    let a = &all[0];
    let b = &all[1];

    // Raadplegen: exactly the asked fields, plus the rni entries of their categories.
    let (status, body, id) = post(
        &app,
        "uwv",
        "rni-raadplegen",
        &raadpleeg(
            &[&a.burgerservicenummer, &b.burgerservicenummer, "999990019"],
            &["naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "RaadpleegMetBurgerservicenummer");
    let personen = body["personen"].as_array().unwrap();
    assert_eq!(personen.len(), 2, "the unknown BSN is simply absent");
    let p = personen
        .iter()
        .find(|p| p["naam"]["geslachtsnaam"] == a.geslachtsnaam.as_str())
        .unwrap();
    let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["geboorte", "naam", "rni", "verblijfplaats"], "{p}");
    assert_eq!(p["naam"].as_object().unwrap().len(), 1);
    assert_eq!(p["geboorte"]["datum"]["type"], "Datum");
    assert_eq!(p["geboorte"]["datum"]["datum"], a.geboortedatum.as_str());
    assert_eq!(p["verblijfplaats"]["type"], "VerblijfplaatsBuitenland");
    assert_eq!(
        p["verblijfplaats"]["verblijfadres"]["regel1"],
        a.buitenland_adresregel1.as_str()
    );
    let categories: Vec<&str> = p["rni"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["categorie"].as_str().unwrap())
        .collect();
    assert_eq!(categories, ["Persoon", "Verblijfplaats"]);
    assert_eq!(
        p["rni"][0]["deelnemer"]["code"],
        a.rni_deelnemer_code.as_str()
    );
    assert!(p["rni"][0]["deelnemer"]["omschrijving"].is_string());
    let common::Disclosed {
        subjects: children,
        fields,
        ..
    } = common::disclosed(&app, &id.unwrap());
    assert_eq!(children, 2, "one record per person");
    assert_eq!(
        fields,
        "geboorte.datum,naam.geslachtsnaam,rni,verblijfplaats"
    );

    // The same activity, a narrower field set for a gemeente: nationaliteiten is not for it.
    let (status, body, id) = post(
        &app,
        "gemeente-0363",
        "rni-raadplegen",
        &raadpleeg(&[&a.burgerservicenummer], &["naam", "nationaliteiten"]),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("unauthorizedField")),
        "{body}"
    );
    assert_eq!(body["invalidParams"][0]["name"], "fields[1]");
    assert!(id.is_some());
    // UWV may not have nationaliteiten either; SVB may.
    let (status, _, _) = post(
        &app,
        "uwv",
        "rni-raadplegen",
        &raadpleeg(&[&a.burgerservicenummer], &["nationaliteiten"]),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body, _) = post(
        &app,
        "svb",
        "rni-raadplegen",
        &raadpleeg(&[&a.burgerservicenummer], &["nationaliteiten"]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["personen"][0]["nationaliteiten"][0]["nationaliteit"]["code"],
        a.nationaliteit_code.as_str()
    );
    assert_eq!(
        body["personen"][0]["nationaliteiten"][0]["type"],
        "Nationaliteit"
    );
    // The gemeente does not get the rni entries: its activity does not allow them.
    let (status, body, _) = post(
        &app,
        "gemeente-0363",
        "rni-raadplegen",
        &raadpleeg(
            &[&a.burgerservicenummer],
            &["naam.voornamen", "adressering"],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["personen"][0].get("rni").is_none());
    assert!(body["personen"][0]["adressering"]["aanschrijfwijze"]["naam"].is_string());
    // Not under an activity that is not for this dataset, nor for an organisation without it.
    let (status, body, _) = post(
        &app,
        "rvig",
        "rni-raadplegen",
        &raadpleeg(&[&a.burgerservicenummer], &["naam"]),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("notPermitted")));
    let (status, body, _) = post(
        &app,
        "nla",
        "uwv-dienstverbanden",
        &raadpleeg(&[&a.burgerservicenummer], &["naam"]),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("notPermitted")),
        "{body}"
    );
    let (status, body, _) = post(
        &app,
        "uwv",
        "geen-activiteit",
        &raadpleeg(&[&a.burgerservicenummer], &["naam"]),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("unknownProcessingActivity"))
    );
    // Another gemeenteVanInschrijving than the RNI's: nobody.
    let mut q = raadpleeg(&[&a.burgerservicenummer], &["burgerservicenummer"]);
    q["gemeenteVanInschrijving"] = json!("0363");
    let (status, body, _) = post(&app, "uwv", "rni-raadplegen", &q).await;
    assert_eq!(
        (status, body["personen"].as_array().unwrap().len()),
        (200, 0)
    );
    q["gemeenteVanInschrijving"] = json!("1999");
    let (_, body, _) = post(&app, "uwv", "rni-raadplegen", &q).await;
    assert_eq!(body["personen"].as_array().unwrap().len(), 1);

    // ZoekMetGeslachtsnaamEnGeboortedatum: case-insensitive, with a prefix wildcard.
    let stem: String = a
        .geslachtsnaam
        .chars()
        .take(3)
        .collect::<String>()
        .to_uppercase()
        + "*";
    let (status, body, id) = post(
        &app,
        "nla",
        "rni-raadplegen",
        &json!({ "type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": stem, "geboortedatum": a.geboortedatum, "fields": ["burgerservicenummer", "naam.geslachtsnaam"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let expected: Vec<&str> = all
        .iter()
        .filter(|p| {
            p.geboortedatum == a.geboortedatum
                && p.geslachtsnaam
                    .to_lowercase()
                    .starts_with(&stem[..stem.len() - 1].to_lowercase())
        })
        .map(|p| p.burgerservicenummer.as_str())
        .collect();
    let got: Vec<&str> = body["personen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["burgerservicenummer"].as_str().unwrap())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        common::disclosed(&app, &id.unwrap()).subjects,
        expected.len() as i64
    );
    let (_, body, _) = post(
        &app,
        "nla",
        "rni-raadplegen",
        &json!({ "type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": a.geslachtsnaam.to_lowercase(), "geboortedatum": "1901-01-01", "fields": ["burgerservicenummer"] }),
    )
    .await;
    assert_eq!(body["personen"], json!([]), "no hit is an empty list");

    // ZoekMetPostcodeEnHuisnummer on a stay address: the fullest one, lower case with a space.
    let mut by_address = std::collections::BTreeMap::<(String, i32), usize>::new();
    for p in all.iter().filter(|p| p.verblijf_postcode.is_some()) {
        *by_address
            .entry((
                p.verblijf_postcode.clone().unwrap(),
                p.verblijf_huisnummer.unwrap(),
            ))
            .or_default() += 1;
    }
    let ((pc, hn), n) = by_address.iter().max_by_key(|(_, n)| **n).unwrap();
    let spaced = format!("{} {}", &pc[..4], pc[4..].to_lowercase());
    let (status, body, id) = post(
        &app,
        "nla",
        "rni-raadplegen",
        &json!({ "type": "ZoekMetPostcodeEnHuisnummer", "postcode": spaced, "huisnummer": hn, "fields": ["burgerservicenummer", "tijdelijkVerblijfsadres.postcode"] }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "ZoekMetPostcodeEnHuisnummer");
    let personen = body["personen"].as_array().unwrap();
    assert_eq!(personen.len(), *n);
    assert!(personen
        .iter()
        .all(|p| p["tijdelijkVerblijfsadres"]["postcode"] == pc.as_str()));
    assert_eq!(common::disclosed(&app, &id.unwrap()).subjects, *n as i64);
    app.stop().await;
}

on_both_backends!(validation);

on_both_backends!(raadplegen_and_zoeken);

/// On PostgreSQL one BSN is read another way than several (`storage::pg_reads`: tokio-postgres
/// on the worker, not diesel on a blocking thread): the same person must come back the same,
/// field for field, for every field an organisation may ask.
async fn one_bsn_as_several(backend: Backend) {
    let app = app(backend).await;
    let all = persons(&app);
    // One with every optional member of its stay address the seed fills (a huisletter for
    // one in ten), so that two columns swapped show.
    let a = all
        .iter()
        .find(|p| p.verblijf_huisletter.is_some() && p.verblijf_datum_aanvang.is_some())
        .expect("a seeded person with a huisletter");
    let b = all
        .iter()
        .find(|p| p.burgerservicenummer != a.burgerservicenummer)
        .unwrap();
    let bsn = a.burgerservicenummer.as_str();
    let asks: [(&str, &[&str]); 2] = [
        (
            "svb",
            &[
                "burgerservicenummer",
                "naam",
                "geboorte",
                "geslacht",
                "nationaliteiten",
                "verblijfplaats",
                "adressering",
            ],
        ),
        (
            "nla",
            &[
                "burgerservicenummer",
                "naam",
                "geboorte",
                "verblijfplaats",
                "datumInschrijvingRni",
                "tijdelijkVerblijfsadres",
            ],
        ),
    ];
    for (client, fields) in asks {
        let (s1, one, _) = post(&app, client, "rni-raadplegen", &raadpleeg(&[bsn], fields)).await;
        let (s2, two, _) = post(
            &app,
            client,
            "rni-raadplegen",
            &raadpleeg(&[bsn, &b.burgerservicenummer], fields),
        )
        .await;
        assert_eq!((s1, s2), (200, 200), "{one} {two}");
        let one = one["personen"].as_array().unwrap();
        assert_eq!(one.len(), 1, "{client}: {one:?}");
        assert_eq!(one[0]["burgerservicenummer"], bsn);
        assert_eq!(one[0]["naam"]["geslachtsnaam"], a.geslachtsnaam.as_str());
        let from_two = two["personen"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["burgerservicenummer"] == bsn)
            .unwrap();
        assert_eq!(&one[0], from_two, "{client}");
    }
    app.stop().await;
}

on_both_backends!(one_bsn_as_several);
