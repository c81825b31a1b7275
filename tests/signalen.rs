//! Signals between organisations over real mTLS, on SQLite and PostgreSQL: sending, the
//! recipient's inbox, status changes with a recorded reason that the sender sees, who may see
//! and change what, the state machine, validation that changes nothing, LAA signals from RvIG
//! to the gemeente the address lies in, and the disclosure records every read writes.

mod common;

use std::collections::HashSet;
use std::path::Path;

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::disclosure::StoredRecord;
use doelpoort::organisations::Registry;
use doelpoort::storage::schema::disclosure_records::dsl as r;
use doelpoort::storage::schema::{
    postcodegebieden, signaal_betrokkenen, signaal_statussen, signalen,
};
use serde_json::{json, Value};

const ACT: &str = "x-processing-activity";
const MELDING: &str = "signaal-melding";
const LAA: &str = "laa-signaal";
/// Valid BSNs (elfproef), outside the seed's range (which starts with 9).
const BSN_A: &str = "111222333";
const BSN_B: &str = "123456782";
const BSN_C: &str = "200000007";

fn oin(alias: &str) -> String {
    let registry =
        Registry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/organisations.toml"))
            .unwrap();
    registry.find(alias).unwrap().oin.to_string()
}

#[derive(Debug)]
struct Antwoord {
    status: u16,
    body: Value,
    text: String,
    disclosure: Option<String>,
    location: Option<String>,
}

async fn call(
    app: &TestApp,
    who: &str,
    activity: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> Antwoord {
    let mut req = app
        .client(who)
        .request(method, app.data_url(path))
        .header(ACT, activity);
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (disclosure, location) = (header("x-disclosure-id"), header("location"));
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Antwoord {
        status,
        body,
        text,
        disclosure,
        location,
    }
}

async fn stuur(app: &TestApp, who: &str, activity: &str, body: &Value) -> Antwoord {
    call(
        app,
        who,
        activity,
        reqwest::Method::POST,
        "/api/v1/signalen",
        Some(body),
    )
    .await
}

async fn lees(app: &TestApp, who: &str, activity: &str, path: &str) -> Antwoord {
    call(app, who, activity, reqwest::Method::GET, path, None).await
}

async fn wijzig(app: &TestApp, who: &str, activity: &str, id: &str, body: &Value) -> Antwoord {
    call(
        app,
        who,
        activity,
        reqwest::Method::POST,
        &format!("/api/v1/signalen/{id}/status"),
        Some(body),
    )
    .await
}

fn code(a: &Antwoord) -> (u16, Option<&str>) {
    (a.status, a.body["code"].as_str())
}

fn melding(ontvanger: &str) -> Value {
    json!({
        "ontvanger": ontvanger,
        "soort": "melding",
        "omschrijving": "Twaalf arbeidskrachten op één adres; loon wordt ingehouden voor huisvesting.",
        "urgent": true,
        "adres": { "postcode": "1012AB", "huisnummer": 12, "huisletter": "a" },
        "burgerservicenummers": [BSN_A, BSN_B],
        "werkgever": { "loonheffingennummer": "123456782L01", "kvkNummer": "69599084", "naam": "Uitzendbureau De Schakel B.V." },
    })
}

/// Rows in signalen, signaal_betrokkenen, signaal_statussen.
fn rijen(app: &TestApp) -> (i64, i64, i64) {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    (
        signalen::table.count().get_result(&mut *c).unwrap(),
        signaal_betrokkenen::table
            .count()
            .get_result(&mut *c)
            .unwrap(),
        signaal_statussen::table
            .count()
            .get_result(&mut *c)
            .unwrap(),
    )
}

/// The records of one disclosure: the request's and its subjects'.
fn records(app: &TestApp, disclosure: &str) -> (StoredRecord, Vec<StoredRecord>) {
    let (trace, op) = disclosure.split_once('-').unwrap();
    let (trace, op) = (hex::decode(trace).unwrap(), hex::decode(op).unwrap());
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let parent: StoredRecord = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::operation_id.eq(&op)))
        .filter(r::status.eq("OK"))
        .select(StoredRecord::as_select())
        .first(&mut *c)
        .unwrap();
    let children: Vec<StoredRecord> = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::parent_operation_id.eq(&op)))
        .select(StoredRecord::as_select())
        .load(&mut *c)
        .unwrap();
    (parent, children)
}

/// Checks a disclosure: its name, who asked, who provided, and one record per person, each
/// naming `subject_provider`.
fn assert_disclosure(
    app: &TestApp,
    a: &Antwoord,
    name: &str,
    requester: &str,
    provider: Option<&str>,
    subjects: &[(usize, &str)],
) {
    let id = a.disclosure.as_deref().expect("X-Disclosure-Id");
    let (parent, children) = records(app, id);
    assert_eq!(parent.name, name);
    assert_eq!(parent.requester_oin.as_deref(), Some(requester));
    assert_eq!(parent.provider_oin.as_deref(), provider);
    let total: usize = subjects.iter().map(|(n, _)| n).sum();
    assert_eq!(parent.record_count as usize, total, "{name}");
    assert_eq!(children.len(), total, "one record per person: {name}");
    for (n, from) in subjects {
        assert_eq!(
            children
                .iter()
                .filter(|c| c.provider_oin.as_deref() == Some(*from))
                .count(),
            *n,
            "{name}: subjects provided by {from}"
        );
    }
    let pseudonyms: HashSet<_> = children
        .iter()
        .map(|c| c.subject_pseudonym.clone())
        .collect();
    assert!(children.iter().all(|c| c.subject_pseudonym.is_some()));
    assert_eq!(
        pseudonyms.len(),
        children.len(),
        "{name}: one record per person"
    );
}

/// No BSN appears in clear in any column of any disclosure record.
fn assert_no_bsn_in_log(app: &TestApp, bsns: &[&str]) {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let all: Vec<StoredRecord> = r::disclosure_records
        .select(StoredRecord::as_select())
        .load(&mut *c)
        .unwrap();
    assert!(!all.is_empty());
    for rec in &all {
        let texts = [
            Some(rec.instance_id.as_str()),
            rec.foreign_entity.as_deref(),
            Some(rec.name.as_str()),
            Some(rec.status.as_str()),
            rec.refusal_code.as_deref(),
            rec.processing_activity_id.as_deref(),
            rec.register_version.as_deref(),
            rec.requester_oin.as_deref(),
            rec.provider_oin.as_deref(),
            rec.case_reference.as_deref(),
            Some(rec.fields.as_str()),
        ];
        let blobs = [
            Some(&rec.trace_id),
            Some(&rec.operation_id),
            rec.parent_operation_id.as_ref(),
            rec.foreign_trace_id.as_ref(),
            rec.foreign_operation_id.as_ref(),
            rec.subject_pseudonym.as_ref(),
            Some(&rec.prev_hash),
            Some(&rec.hash),
        ];
        for bsn in bsns {
            for t in texts.iter().flatten() {
                assert!(!t.contains(bsn), "a BSN in clear in a disclosure record");
            }
            for b in blobs.iter().flatten() {
                assert!(
                    !b.windows(9).any(|w| w == bsn.as_bytes()),
                    "a BSN in clear in a disclosure record"
                );
            }
        }
    }
}

// ------------------------------------------------------------- the exchange with feedback

async fn feedback_to_the_sender(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (gemeente, nla) = (oin("gemeente-0363"), oin("nla"));

    // Amsterdam reports to the Arbeidsinspectie.
    let sent = stuur(&app, "gemeente-0363", MELDING, &melding("nla")).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "ids are UUIDs");
    assert_eq!(
        sent.location.as_deref(),
        Some(&*format!("/api/v1/signalen/{id}"))
    );
    assert_eq!(sent.body["status"], "ontvangen");
    assert_eq!(sent.body["afzender"]["oin"], gemeente.as_str());
    assert_eq!(sent.body["afzender"]["naam"], "Amsterdam");
    assert_eq!(sent.body["ontvanger"]["oin"], nla.as_str());
    assert_eq!(sent.body["adres"]["huisletter"], "A");
    assert_eq!(sent.body["werkgever"]["kvkNummer"], "69599084");
    assert_eq!(sent.body["burgerservicenummers"], json!([BSN_A, BSN_B]));
    assert_eq!(sent.body["statusHistorie"].as_array().unwrap().len(), 1);
    assert_eq!(
        sent.body["statusHistorie"][0]["door"]["oin"],
        gemeente.as_str()
    );
    assert!(
        sent.body.get("uitkomst").is_none(),
        "LAA members only on LAA signals"
    );
    assert_eq!(rijen(&app), (1, 2, 1));
    assert_disclosure(
        &app,
        &sent,
        "signaal-melding/write",
        &gemeente,
        Some(&gemeente),
        &[(2, &gemeente)],
    );

    // The Arbeidsinspectie finds it in its inbox (the default map) and reads it.
    let inbox = lees(&app, "nla", MELDING, "/api/v1/signalen").await;
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    assert_eq!(inbox.body["map"], "inbox");
    assert_eq!(inbox.body["bronGeraadpleegd"], true);
    let items = inbox.body["signalen"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["burgerservicenummers"], json!([BSN_A, BSN_B]));
    assert_disclosure(
        &app,
        &inbox,
        "signaal-melding/search",
        &nla,
        Some(&gemeente),
        &[(2, &gemeente)],
    );
    let read = lees(&app, "nla", MELDING, &format!("/api/v1/signalen/{id}")).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["omschrijving"], sent.body["omschrijving"]);
    assert_disclosure(
        &app,
        &read,
        "signaal-melding/read",
        &nla,
        Some(&gemeente),
        &[(2, &gemeente)],
    );

    // It takes the signal up, then closes it, each time with a reason.
    let picked = wijzig(
        &app,
        "nla",
        MELDING,
        &id,
        &json!({"status": "in-behandeling", "reden": "Verrijkt met polisadministratie; inspectie gepland."}),
    )
    .await;
    assert_eq!(picked.status, 200, "{}", picked.text);
    assert_eq!(picked.body["status"], "in-behandeling");
    assert_disclosure(
        &app,
        &picked,
        "signaal-melding/write",
        &nla,
        Some(&gemeente),
        &[(2, &gemeente)],
    );
    let reden =
        "Inspectie uitgevoerd: geen aanwijzingen voor arbeidsuitbuiting; loonbetaling op orde.";
    let closed = wijzig(
        &app,
        "nla",
        MELDING,
        &id,
        &json!({"status": "afgesloten", "reden": reden}),
    )
    .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(rijen(&app), (1, 2, 3));

    // The reporter hears back: the status, and every step with its reason, when and by whom.
    let seen = lees(
        &app,
        "gemeente-0363",
        MELDING,
        &format!("/api/v1/signalen/{id}"),
    )
    .await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["status"], "afgesloten");
    let historie = seen.body["statusHistorie"].as_array().unwrap();
    let steps: Vec<&str> = historie
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ontvangen", "in-behandeling", "afgesloten"]);
    assert_eq!(historie[2]["reden"], reden);
    assert_eq!(historie[2]["door"]["oin"], nla.as_str());
    assert_eq!(
        historie[2]["door"]["naam"],
        "Nederlandse Arbeidsinspectie (NLA)"
    );
    assert!(historie[0]["reden"].is_null());
    let times: Vec<&str> = historie
        .iter()
        .map(|h| h["tijdstip"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(chrono::DateTime::parse_from_rfc3339(times[2]).is_ok());
    assert_disclosure(
        &app,
        &seen,
        "signaal-melding/read",
        &gemeente,
        Some(&gemeente),
        &[(2, &gemeente)],
    );
    // Its outbox has it; the inspectorate's outbox is empty, and says so plainly.
    let outbox = lees(
        &app,
        "gemeente-0363",
        MELDING,
        "/api/v1/signalen?map=outbox",
    )
    .await;
    assert_eq!(outbox.body["signalen"][0]["status"], "afgesloten");
    let empty = lees(&app, "nla", MELDING, "/api/v1/signalen?map=outbox").await;
    assert_eq!(
        (
            empty.status,
            empty.body["signalen"].as_array().map(Vec::len)
        ),
        (200, Some(0))
    );
    assert_eq!(empty.body["bronGeraadpleegd"], true);
    assert!(empty.body["volgende"].is_null());
    // Closed is final.
    let again = wijzig(
        &app,
        "nla",
        MELDING,
        &id,
        &json!({"status": "in-behandeling", "reden": "Toch opnieuw bekijken."}),
    )
    .await;
    assert_eq!(code(&again), (409, Some("conflict")), "{}", again.text);
    assert_eq!(rijen(&app), (1, 2, 3));

    assert_no_bsn_in_log(&app, &[BSN_A, BSN_B]);
    app.stop().await;
}

on_both_backends!(feedback_to_the_sender);

// ------------------------------------------------------------- who may see and change what

async fn only_sender_and_recipient(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let sent = stuur(&app, "gemeente-0363", MELDING, &melding("nla")).await;
    assert_eq!(sent.status, 201);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/signalen/{id}");
    let unknown = format!("/api/v1/signalen/{}", uuid::Uuid::new_v4());

    // A third organisation: the signal does not exist for it, exactly as an unknown id.
    let third = lees(&app, "uwv", MELDING, &path).await;
    let none = lees(&app, "uwv", MELDING, &unknown).await;
    assert_eq!(code(&third), (404, Some("notFound")));
    assert_eq!(third.body["detail"], none.body["detail"]);
    assert_eq!(code(&none), (404, Some("notFound")));
    let not_an_id = lees(&app, "nla", MELDING, "/api/v1/signalen/123").await;
    assert_eq!(code(&not_an_id), (404, Some("notFound")));
    let change = json!({"status": "afgesloten", "reden": "Niet van ons."});
    let third = wijzig(&app, "uwv", MELDING, &id, &change).await;
    assert_eq!(code(&third), (404, Some("notFound")));
    let other_gemeente = wijzig(&app, "gemeente-0599", MELDING, &id, &change).await;
    assert_eq!(code(&other_gemeente), (404, Some("notFound")));
    // Nor is it in a third party's lists.
    let theirs = lees(&app, "uwv", MELDING, "/api/v1/signalen").await;
    assert_eq!(theirs.body["signalen"], json!([]));
    // The sender sees it but does not change its status.
    let sender = wijzig(&app, "gemeente-0363", MELDING, &id, &change).await;
    assert_eq!(code(&sender), (403, Some("notPermitted")));
    // Under another activity the signal is not there either.
    let elsewhere = lees(&app, "gemeente-0363", LAA, &path).await;
    assert_eq!(code(&elsewhere), (404, Some("notFound")));
    // Organisations the register does not admit to the activity.
    let supervisor = lees(&app, "supervisor", MELDING, "/api/v1/signalen").await;
    assert_eq!(code(&supervisor), (403, Some("notPermitted")));
    let rvig = stuur(&app, "rvig", MELDING, &melding("nla")).await;
    assert_eq!(code(&rvig), (403, Some("notPermitted")));
    let rvig = lees(&app, "rvig", MELDING, &path).await;
    assert_eq!(code(&rvig), (403, Some("notPermitted")));
    let no_activity = app
        .client("nla")
        .get(app.data_url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(no_activity.status(), 400);
    let wrong_activity = lees(&app, "nla", "rni-telling", &path).await;
    assert_eq!(code(&wrong_activity), (403, Some("notPermitted")));
    // Nothing changed, and every refusal is recorded.
    assert_eq!(rijen(&app), (1, 2, 1));
    assert!(third.disclosure.is_some() && sender.disclosure.is_some());
    let read = lees(&app, "nla", MELDING, &path).await;
    assert_eq!(read.body["status"], "ontvangen");
    app.stop().await;
}

on_both_backends!(only_sender_and_recipient);

// ------------------------------------------------------------- the state machine

async fn transitions(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let id = stuur(&app, "uwv", MELDING, &melding("nla")).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let step = |status: &str, reden: &str| json!({"status": status, "reden": reden});
    // (status, reden, expected HTTP status, expected code)
    let table: &[(&str, &str, u16, Option<&str>)] = &[
        ("ontvangen", "Terug naar af.", 400, Some("paramsValidation")),
        ("in-behandeling", "Opgepakt door Toezicht.", 200, None),
        ("in-behandeling", "Nog eens.", 409, Some("conflict")),
        ("doorverwezen", "Doorgezet naar Opsporing.", 200, None),
        ("doorverwezen", "Nog eens.", 409, Some("conflict")),
        ("in-behandeling", "Opsporing neemt het op.", 200, None),
        ("afgesloten", "", 400, Some("paramsValidation")),
        ("afgesloten", "   ", 400, Some("paramsValidation")),
        (
            "gesloten",
            "Onbekende status.",
            400,
            Some("paramsValidation"),
        ),
        (
            "afgesloten",
            "Melding omgezet in een opsporingsonderzoek.",
            200,
            None,
        ),
        ("afgesloten", "Nog eens.", 409, Some("conflict")),
        ("in-behandeling", "Heropenen.", 409, Some("conflict")),
        ("doorverwezen", "Doorzetten.", 409, Some("conflict")),
    ];
    let mut history = 1;
    for (status, reden, want, want_code) in table {
        let a = wijzig(&app, "nla", MELDING, &id, &step(status, reden)).await;
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (*want, *want_code),
            "{status} / {reden:?}: {}",
            a.text
        );
        if *want == 200 {
            history += 1;
            assert_eq!(a.body["status"], *status);
        }
        assert_eq!(rijen(&app).2, history, "history rows after {status}");
    }
    let conflict = wijzig(&app, "nla", MELDING, &id, &step("in-behandeling", "x")).await;
    assert!(conflict.body["detail"]
        .as_str()
        .unwrap()
        .contains("afgesloten"));
    // A reason is required; an unknown member is refused.
    for body in [
        json!({"status": "in-behandeling"}),
        json!({"status": "in-behandeling", "reden": "x", "prioriteit": 1}),
        json!({"status": "in-behandeling", "reden": "x", "uitkomst": "inschrijving-juist"}),
    ] {
        let id2 = stuur(&app, "svb", MELDING, &melding("nla")).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let before = rijen(&app);
        let a = wijzig(&app, "nla", MELDING, &id2, &body).await;
        assert_eq!(code(&a), (400, Some("paramsValidation")), "{body}");
        assert_eq!(rijen(&app), before);
    }
    // Straight from received to closed, with a reason.
    let id3 = stuur(&app, "gemeente-0363", MELDING, &melding("nla"))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = wijzig(
        &app,
        "nla",
        MELDING,
        &id3,
        &step("afgesloten", "Dubbel met een eerder signaal."),
    )
    .await;
    assert_eq!(a.status, 200);

    // Concurrent closings of one signal: exactly one wins, the others get 409.
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(
            stuur(&app, "gemeente-0363", MELDING, &melding("nla"))
                .await
                .body["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for id in &ids {
        let close = step("afgesloten", "Gelijktijdig afgesloten.");
        let attempts = (0..4).map(|_| wijzig(&app, "nla", MELDING, id, &close));
        let results = futures_util::future::join_all(attempts).await;
        let ok = results.iter().filter(|a| a.status == 200).count();
        let conflicts = results
            .iter()
            .filter(|a| code(a) == (409, Some("conflict")))
            .count();
        assert_eq!((ok, conflicts), (1, 3), "one closing per signal");
        let seen = lees(
            &app,
            "gemeente-0363",
            MELDING,
            &format!("/api/v1/signalen/{id}"),
        )
        .await;
        assert_eq!(seen.body["statusHistorie"].as_array().unwrap().len(), 2);
    }
    app.stop().await;
}

on_both_backends!(transitions);

// ------------------------------------------------------------- validation changes nothing

async fn validation(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let bad_bsn = "123456789"; // fails the elfproef
    let bad_lhn = "123456789L01";
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = melding("nla");
        f(&mut v);
        v
    };
    // (case, body, the invalid parameter named, or None when serde refuses the shape)
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "unknown member",
            with(&|v| v["prioriteit"] = json!("hoog")),
            None,
        ),
        (
            "BSN fails the elfproef",
            with(&|v| v["burgerservicenummers"] = json!([BSN_A, bad_bsn])),
            Some("burgerservicenummers[1]"),
        ),
        (
            "BSN of 8 digits",
            with(&|v| v["burgerservicenummers"] = json!(["11122233"])),
            Some("burgerservicenummers[0]"),
        ),
        (
            "BSN twice",
            with(&|v| v["burgerservicenummers"] = json!([BSN_A, BSN_A])),
            Some("burgerservicenummers[1]"),
        ),
        (
            "101 BSNs",
            with(&|v| v["burgerservicenummers"] = json!(vec![BSN_C; 101])),
            Some("burgerservicenummers"),
        ),
        (
            "postcode",
            with(&|v| v["adres"]["postcode"] = json!("12AB")),
            Some("adres.postcode"),
        ),
        (
            "huisnummer 0",
            with(&|v| v["adres"]["huisnummer"] = json!(0)),
            Some("adres.huisnummer"),
        ),
        (
            "huisletter of two letters",
            with(&|v| v["adres"]["huisletter"] = json!("AB")),
            Some("adres.huisletter"),
        ),
        (
            "adres without postcode",
            with(&|v| v["adres"] = json!({"huisnummer": 1})),
            Some("adres.postcode"),
        ),
        (
            "loonheffingennummer fails the elfproef",
            with(&|v| v["werkgever"]["loonheffingennummer"] = json!(bad_lhn)),
            Some("werkgever.loonheffingennummer"),
        ),
        (
            "loonheffingennummer without L",
            with(&|v| v["werkgever"]["loonheffingennummer"] = json!("123456782001")),
            Some("werkgever.loonheffingennummer"),
        ),
        (
            "KvK-nummer",
            with(&|v| v["werkgever"]["kvkNummer"] = json!("6959908")),
            Some("werkgever.kvkNummer"),
        ),
        (
            "empty werkgever",
            with(&|v| v["werkgever"] = json!({})),
            Some("werkgever"),
        ),
        (
            "unknown recipient",
            with(&|v| v["ontvanger"] = json!("belastingdienst")),
            Some("ontvanger"),
        ),
        (
            "unknown OIN",
            with(&|v| v["ontvanger"] = json!("99000000000000000099")),
            Some("ontvanger"),
        ),
        (
            "to itself",
            with(&|v| v["ontvanger"] = json!("gemeente-0363")),
            Some("ontvanger"),
        ),
        (
            "to itself by OIN",
            with(&|v| v["ontvanger"] = json!(oin("gemeente-0363"))),
            Some("ontvanger"),
        ),
        (
            "recipient outside the activity",
            with(&|v| v["ontvanger"] = json!("rvig")),
            Some("ontvanger"),
        ),
        (
            "the supervisor",
            with(&|v| v["ontvanger"] = json!("supervisor")),
            Some("ontvanger"),
        ),
        (
            "no recipient",
            with(&|v| {
                v.as_object_mut().unwrap().remove("ontvanger");
            }),
            Some("ontvanger"),
        ),
        (
            "empty omschrijving",
            with(&|v| v["omschrijving"] = json!("  ")),
            Some("omschrijving"),
        ),
        (
            "omschrijving too long",
            with(&|v| v["omschrijving"] = json!("x".repeat(4_001))),
            Some("omschrijving"),
        ),
        (
            "control character",
            with(&|v| v["omschrijving"] = json!("bel \u{7} hier")),
            Some("omschrijving"),
        ),
        (
            "unknown soort",
            with(&|v| v["soort"] = json!("klacht")),
            Some("soort"),
        ),
        (
            "laa-signaal under signaal-melding",
            with(&|v| v["soort"] = json!("laa-signaal")),
            Some("soort"),
        ),
        (
            "aantalInschrijvingen outside LAA",
            with(&|v| v["aantalInschrijvingen"] = json!(3)),
            Some("aantalInschrijvingen"),
        ),
        (
            "urgent is not a boolean",
            with(&|v| v["urgent"] = json!("ja")),
            None,
        ),
        (
            "huisnummer is not a number",
            with(&|v| v["adres"]["huisnummer"] = json!("12")),
            None,
        ),
    ];
    assert!(cases.len() >= 10);
    // One valid signal first, so that "nothing changed" compares against rows that exist.
    assert_eq!(
        stuur(&app, "gemeente-0363", MELDING, &melding("nla"))
            .await
            .status,
        201
    );
    let before = rijen(&app);
    for (case, body, param) in &cases {
        let a = stuur(&app, "gemeente-0363", MELDING, body).await;
        assert_eq!(
            code(&a),
            (400, Some("paramsValidation")),
            "{case}: {}",
            a.text
        );
        if let Some(param) = param {
            let names: Vec<&str> = a.body["invalidParams"]
                .as_array()
                .unwrap_or_else(|| panic!("{case}: no invalidParams in {}", a.text))
                .iter()
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, [*param], "{case}");
        }
        assert!(
            !a.text.contains(bad_bsn) && !a.text.contains("123456789L"),
            "{case}: the answer repeats a submitted value"
        );
        assert!(a.disclosure.is_some(), "{case}: the refusal is recorded");
        assert_eq!(rijen(&app), before, "{case} changed something");
    }
    // Several problems in one body are reported together.
    let many = stuur(
        &app,
        "gemeente-0363",
        MELDING,
        &json!({"ontvanger": "nla", "soort": "x", "omschrijving": "", "burgerservicenummers": [bad_bsn]}),
    )
    .await;
    assert_eq!(many.body["invalidParams"].as_array().unwrap().len(), 3);
    // Not JSON at all.
    let res = app
        .client("gemeente-0363")
        .post(app.data_url("/api/v1/signalen"))
        .header(ACT, MELDING)
        .header("content-type", "application/json")
        .body("{\"ontvanger\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // List parameters.
    for q in [
        "map=prullenbak",
        "status=weg",
        "aantal=0",
        "aantal=101",
        "aantal=tien",
        "volgende=xyz",
        "volgende=12-niet-een-id",
        "sorteer=oud",
    ] {
        let a = lees(&app, "nla", MELDING, &format!("/api/v1/signalen?{q}")).await;
        assert_eq!(code(&a), (400, Some("paramsValidation")), "{q}: {}", a.text);
    }
    assert_eq!(rijen(&app), before);
    assert_no_bsn_in_log(&app, &[BSN_A, BSN_B, bad_bsn]);
    app.stop().await;
}

on_both_backends!(validation);

// ------------------------------------------------------------- lists: paging, filter, senders

async fn lists(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (gemeente, uwv, nla) = (oin("gemeente-0363"), oin("uwv"), oin("nla"));
    let mut sent = Vec::new();
    for (who, bsn) in [
        ("gemeente-0363", BSN_A),
        ("uwv", BSN_B),
        ("gemeente-0363", BSN_C),
        ("uwv", BSN_A),
    ] {
        let mut body = melding("nla");
        body["burgerservicenummers"] = json!([bsn]);
        let a = stuur(&app, who, MELDING, &body).await;
        assert_eq!(a.status, 201);
        sent.push(a.body["id"].as_str().unwrap().to_owned());
    }
    // Newest first, two per page, the cursor leading on; no signal twice, none left out.
    let first = lees(&app, "nla", MELDING, "/api/v1/signalen?map=inbox&aantal=2").await;
    let ids = |a: &Antwoord| -> Vec<String> {
        a.body["signalen"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), [sent[3].clone(), sent[2].clone()]);
    let cursor = first.body["volgende"].as_str().unwrap().to_owned();
    // The newest page holds signals of two senders: the request record names no single
    // provider, each person's record names the sender of the signal it came from.
    assert_disclosure(
        &app,
        &first,
        "signaal-melding/search",
        &nla,
        None,
        &[(1, &gemeente), (1, &uwv)],
    );
    let second = lees(
        &app,
        "nla",
        MELDING,
        &format!("/api/v1/signalen?aantal=2&volgende={cursor}"),
    )
    .await;
    assert_eq!(ids(&second), [sent[1].clone(), sent[0].clone()]);
    assert!(second.body["volgende"].is_null());
    // By status.
    let closed = wijzig(
        &app,
        "nla",
        MELDING,
        &sent[1],
        &json!({"status": "afgesloten", "reden": "Geen aanknopingspunten."}),
    )
    .await;
    assert_eq!(closed.status, 200);
    let afgesloten = lees(&app, "nla", MELDING, "/api/v1/signalen?status=afgesloten").await;
    assert_eq!(ids(&afgesloten), [sent[1].clone()]);
    let open = lees(&app, "nla", MELDING, "/api/v1/signalen?status=ontvangen").await;
    assert_eq!(ids(&open).len(), 3);
    // Each sender's outbox holds its own only.
    let outbox = lees(&app, "uwv", MELDING, "/api/v1/signalen?map=outbox").await;
    assert_eq!(ids(&outbox), [sent[3].clone(), sent[1].clone()]);
    assert_eq!(outbox.body["signalen"][1]["status"], "afgesloten");
    assert_disclosure(
        &app,
        &outbox,
        "signaal-melding/search",
        &uwv,
        Some(&uwv),
        &[(2, &uwv)],
    );
    // NLA sends to a gemeente too (NLA → gemeente is part of the activity).
    let back = stuur(&app, "nla", MELDING, &melding("gemeente-0599")).await;
    assert_eq!(back.status, 201, "{}", back.text);
    let rotterdam = lees(&app, "gemeente-0599", MELDING, "/api/v1/signalen").await;
    assert_eq!(
        ids(&rotterdam),
        [back.body["id"].as_str().unwrap().to_owned()]
    );
    app.stop().await;
}

on_both_backends!(lists);

// ------------------------------------------------------------- LAA signals, own gemeente

/// A 4-digit postcode area of `gemeente` (the seed's synthetic territory).
fn area(app: &TestApp, gemeente: &str) -> String {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    postcodegebieden::table
        .filter(postcodegebieden::gemeentecode.eq(gemeente))
        .select(postcodegebieden::pc4)
        .order(postcodegebieden::pc4)
        .first(&mut *c)
        .unwrap()
}

/// A 4-digit area that lies in no gemeente.
fn nowhere(app: &TestApp) -> String {
    let db = app.database();
    let mut c = db.checkout().unwrap();
    let taken: HashSet<String> = postcodegebieden::table
        .select(postcodegebieden::pc4)
        .load(&mut *c)
        .unwrap()
        .into_iter()
        .collect();
    (1000..=9999)
        .map(|n| n.to_string())
        .find(|p| !taken.contains(p))
        .expect("a free area")
}

fn laa_signaal(ontvanger: &str, pc4: &str) -> Value {
    json!({
        "ontvanger": ontvanger,
        "soort": "laa-signaal",
        "omschrijving": "Veelverhuizers: negen verhuizingen naar dit adres in twaalf maanden.",
        "adres": { "postcode": format!("{pc4}XK"), "huisnummer": 7 },
        "burgerservicenummers": [BSN_A, BSN_C],
        "aantalInschrijvingen": 14,
    })
}

async fn laa_signals(backend: Backend) {
    // A few persons, so that the seed lays out the gemeenten's postcode areas.
    let app = spawn_app_with(backend, |s| s.datasets.seed_persons = 20).await;
    let (rvig, amsterdam) = (oin("rvig"), oin("gemeente-0363"));
    let (own, rotterdams) = (area(&app, "0363"), area(&app, "0599"));

    // RvIG to the gemeente the address lies in.
    let sent = stuur(&app, "rvig", LAA, &laa_signaal("gemeente-0363", &own)).await;
    assert_eq!(sent.status, 201, "{}", sent.text);
    let id = sent.body["id"].as_str().unwrap().to_owned();
    assert_eq!(sent.body["soort"], "laa-signaal");
    assert_eq!(sent.body["aantalInschrijvingen"], 14);
    assert!(sent.body["uitkomst"].is_null());
    assert_disclosure(
        &app,
        &sent,
        "laa-signaal/write",
        &rvig,
        Some(&rvig),
        &[(2, &rvig)],
    );
    let before = rijen(&app);
    // Not to another gemeente, nor about an address in no gemeente.
    for (to, pc4) in [
        ("gemeente-0599", own.as_str()),
        ("gemeente-0363", rotterdams.as_str()),
    ] {
        let a = stuur(&app, "rvig", LAA, &laa_signaal(to, pc4)).await;
        assert_eq!(code(&a), (403, Some("outOfScope")), "{to}: {}", a.text);
    }
    let a = stuur(
        &app,
        "rvig",
        LAA,
        &laa_signaal("gemeente-0363", &nowhere(&app)),
    )
    .await;
    assert_eq!(code(&a), (403, Some("outOfScope")));
    // LAA rules: a gemeente as recipient, an address, the kind laa-signaal.
    let mut no_address = laa_signaal("gemeente-0363", &own);
    no_address.as_object_mut().unwrap().remove("adres");
    let mut wrong_kind = laa_signaal("gemeente-0363", &own);
    wrong_kind["soort"] = json!("melding");
    for (body, param) in [
        (laa_signaal("nla", &own), "ontvanger"),
        (no_address, "adres"),
        (wrong_kind, "soort"),
    ] {
        let a = stuur(&app, "rvig", LAA, &body).await;
        assert_eq!(
            code(&a),
            (400, Some("paramsValidation")),
            "{param}: {}",
            a.text
        );
        assert_eq!(a.body["invalidParams"][0]["name"], param);
    }
    // Only RvIG sends under laa-signaal.
    let a = stuur(
        &app,
        "gemeente-0363",
        LAA,
        &laa_signaal("gemeente-0599", &rotterdams),
    )
    .await;
    assert_eq!(code(&a), (403, Some("notPermitted")));
    let a = stuur(&app, "nla", LAA, &laa_signaal("gemeente-0363", &own)).await;
    assert_eq!(code(&a), (403, Some("notPermitted")));
    assert_eq!(rijen(&app), before, "refusals change nothing");

    // Amsterdam's inbox under laa-signaal has it, with the LAA fields only; under
    // signaal-melding it is not there.
    let inbox = lees(&app, "gemeente-0363", LAA, "/api/v1/signalen").await;
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    let item = &inbox.body["signalen"][0];
    assert_eq!(item["id"], id.as_str());
    let allowed = [
        "id",
        "soort",
        "afzender",
        "ontvanger",
        "omschrijving",
        "urgent",
        "adres",
        "aantalInschrijvingen",
        "burgerservicenummers",
        "status",
        "statusHistorie",
        "uitkomst",
        "reden",
        "ontvangen",
    ];
    for key in item.as_object().unwrap().keys() {
        assert!(allowed.contains(&key.as_str()), "{key} under laa-signaal");
    }
    assert!(item.get("werkgever").is_none());
    assert_disclosure(
        &app,
        &inbox,
        "laa-signaal/search",
        &amsterdam,
        Some(&rvig),
        &[(2, &rvig)],
    );
    let melding_inbox = lees(&app, "gemeente-0363", MELDING, "/api/v1/signalen").await;
    assert_eq!(melding_inbox.body["signalen"], json!([]));
    let path = format!("/api/v1/signalen/{id}");
    assert_eq!(
        code(&lees(&app, "gemeente-0363", MELDING, &path).await),
        (404, Some("notFound"))
    );
    assert_eq!(
        code(&lees(&app, "gemeente-0599", LAA, &path).await),
        (404, Some("notFound"))
    );

    // Amsterdam investigates and records the outcome; closing needs one.
    let a = wijzig(
        &app,
        "gemeente-0363",
        LAA,
        &id,
        &json!({"status": "afgesloten", "reden": "Onderzocht."}),
    )
    .await;
    assert_eq!(code(&a), (400, Some("paramsValidation")));
    assert_eq!(a.body["invalidParams"][0]["name"], "uitkomst");
    let a = wijzig(&app, "gemeente-0363", LAA, &id, &json!({"status": "in-behandeling", "reden": "Adresonderzoek gestart.", "uitkomst": "uitgeschreven"})).await;
    assert_eq!(code(&a), (400, Some("paramsValidation")));
    let a = wijzig(
        &app,
        "gemeente-0363",
        LAA,
        &id,
        &json!({"status": "afgesloten", "reden": "x", "uitkomst": "weet-niet"}),
    )
    .await;
    assert_eq!(code(&a), (400, Some("paramsValidation")));
    let a = wijzig(
        &app,
        "gemeente-0363",
        LAA,
        &id,
        &json!({"status": "in-behandeling", "reden": "Adresonderzoek gestart."}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let reden = "Huisbezoek: vier van de veertien ingeschrevenen wonen er; tien uitgeschreven.";
    let a = wijzig(
        &app,
        "gemeente-0363",
        LAA,
        &id,
        &json!({"status": "afgesloten", "reden": reden, "uitkomst": "uitgeschreven"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_disclosure(
        &app,
        &a,
        "laa-signaal/write",
        &amsterdam,
        Some(&rvig),
        &[(2, &rvig)],
    );
    // RvIG sees the outcome and the reason; it does not change the status itself.
    let seen = lees(&app, "rvig", LAA, &path).await;
    assert_eq!(seen.status, 200);
    assert_eq!(seen.body["status"], "afgesloten");
    assert_eq!(seen.body["uitkomst"], "uitgeschreven");
    assert_eq!(seen.body["reden"], reden);
    let last = seen.body["statusHistorie"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["uitkomst"].as_str(), last["door"]["oin"].as_str()),
        (Some("uitgeschreven"), Some(amsterdam.as_str()))
    );
    let a = wijzig(
        &app,
        "rvig",
        LAA,
        &id,
        &json!({"status": "in-behandeling", "reden": "x"}),
    )
    .await;
    assert_eq!(code(&a), (403, Some("notPermitted")));
    let outbox = lees(&app, "rvig", LAA, "/api/v1/signalen?map=outbox").await;
    assert_eq!(outbox.body["signalen"][0]["id"], id.as_str());

    // The territory is checked on every read: once the area belongs to another gemeente,
    // Amsterdam no longer sees the signal (RvIG, its sender, still does).
    {
        let db = app.database();
        let mut c = db.checkout().unwrap();
        diesel::update(postcodegebieden::table.find(&own))
            .set(postcodegebieden::gemeentecode.eq("0599"))
            .execute(&mut *c)
            .unwrap();
    }
    assert_eq!(
        code(&lees(&app, "gemeente-0363", LAA, &path).await),
        (403, Some("outOfScope"))
    );
    let inbox = lees(&app, "gemeente-0363", LAA, "/api/v1/signalen").await;
    assert_eq!(inbox.body["signalen"], json!([]));
    assert_eq!(lees(&app, "rvig", LAA, &path).await.status, 200);
    assert_no_bsn_in_log(&app, &[BSN_A, BSN_C]);
    app.stop().await;
}

on_both_backends!(laa_signals);

// ------------------------------------------------------------- the history is append-only

async fn history_is_append_only(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let id = stuur(&app, "gemeente-0363", MELDING, &melding("nla"))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = wijzig(
        &app,
        "nla",
        MELDING,
        &id,
        &json!({"status": "afgesloten", "reden": "Geen aanwijzingen."}),
    )
    .await;
    assert_eq!(a.status, 200);
    let db = app.database();
    let mut c = db.checkout().unwrap();
    for statement in [
        format!("UPDATE signaal_statussen SET reden = 'iets anders' WHERE signaal_id = '{id}'"),
        format!("DELETE FROM signaal_statussen WHERE signaal_id = '{id}' AND volgnummer = 2"),
        format!("UPDATE signalen SET omschrijving = 'iets anders' WHERE id = '{id}'"),
        format!("UPDATE signaal_betrokkenen SET burgerservicenummer = '{BSN_C}' WHERE signaal_id = '{id}'"),
        format!("INSERT INTO signaal_statussen (signaal_id, volgnummer, status, reden, uitkomst, tijdstip_ms, door_oin) VALUES ('{id}', 3, 'in-behandeling', '', NULL, 1, '{}')", oin("nla")),
    ] {
        assert!(
            diesel::sql_query(&statement).execute(&mut *c).is_err(),
            "allowed: {statement}"
        );
    }
    drop(c);
    let seen = lees(
        &app,
        "gemeente-0363",
        MELDING,
        &format!("/api/v1/signalen/{id}"),
    )
    .await;
    assert_eq!(
        seen.body["statusHistorie"][1]["reden"],
        "Geen aanwijzingen."
    );
    assert_eq!(rijen(&app), (1, 2, 2));
    // A signal as a whole can go (retention), its history with it.
    let mut c = db.checkout().unwrap();
    diesel::sql_query(format!("DELETE FROM signalen WHERE id = '{id}'"))
        .execute(&mut *c)
        .unwrap();
    drop(c);
    assert_eq!(rijen(&app), (0, 0, 0));
    app.stop().await;
}

on_both_backends!(history_is_append_only);
