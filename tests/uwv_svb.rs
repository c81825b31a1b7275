//! The UWV and SVB exchanges over real mTLS, on both backends: each activity's requester gets
//! exactly its fields, every other organisation is refused, case references and the
//! own-inhabitants scope hold, an employer's relations are paged with one disclosure record
//! per person, no-hit answers are explicit, and bad parameters are refused without echoing them.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};

use common::{spawn_app_with, Backend, TestApp};
use diesel::prelude::*;
use doelpoort::minimise::FieldSet;
use doelpoort::organisations::Registry;
use doelpoort::policy::Policy;
use doelpoort::seed::uwv_svb::{A1Verklaring, Dienstverband, Ingezetene, SvbUitkering};
use doelpoort::storage::schema::disclosure_records::dsl as r;
use doelpoort::storage::schema::{
    ingezetenen, rni_personen, svb_a1_verklaringen, svb_uitkeringen, uwv_dienstverbanden,
    uwv_uitkeringen, uwv_werkgevers,
};
use serde_json::Value;

const ACT: &str = "x-processing-activity";
const CASE: &str = "x-case-reference";
const DIENSTVERBANDEN: &str = "uwv-dienstverbanden";
const WERK_INKOMEN: &str = "uwv-werk-inkomen";
const SVB: &str = "svb-uitkeringen";
/// `doelpoort::exchanges::uwv::PAGE`.
const PAGE: usize = doelpoort::exchanges::uwv::PAGE;

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |s| s.datasets.seed_persons = 3_000).await
}

struct Answer {
    status: u16,
    body: Value,
    id: Option<String>,
}

impl Answer {
    fn code(&self) -> Option<&str> {
        self.body["code"].as_str()
    }
}

async fn get(
    app: &TestApp,
    client: &str,
    activity: &str,
    case: Option<&str>,
    path: &str,
) -> Answer {
    let mut req = app
        .client(client)
        .get(app.data_url(path))
        .header(ACT, activity);
    if let Some(case) = case {
        req = req.header(CASE, case);
    }
    let (status, body, id) = common::answer(req.send().await.unwrap()).await;
    Answer { status, body, id }
}

/// The field set `alias` may receive under `activity`, and the dataset's own fields, from the
/// gateway's register.
fn register_fields(app: &TestApp, activity: &str, alias: &str) -> (FieldSet, FieldSet) {
    let dir = &app.settings.policies.dir;
    let registry = Registry::load(&dir.join("organisations.toml")).unwrap();
    let policy = Policy::load(dir, &registry, doelpoort::policy::today()).unwrap();
    let (_, a) = policy.register.get(activity).unwrap();
    let fields = a.fields_for(registry.find(alias).unwrap()).clone();
    (fields, policy.register.datasets[&a.dataset].clone())
}

/// The first segment of every path of `set`: the members a record may have at the top.
fn top_level(set: &FieldSet) -> BTreeSet<String> {
    set.paths()
        .map(|p| p.split('.').next().unwrap().to_owned())
        .collect()
}

/// The segments right under `member` among the dataset's paths (`dienstverbanden.uren` → `uren`).
fn under(set: &FieldSet, member: &str) -> BTreeSet<String> {
    let prefix = format!("{member}.");
    set.paths()
        .filter_map(|p| p.strip_prefix(&prefix))
        .map(|p| p.split('.').next().unwrap().to_owned())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// Every member path in `v` (arrays descended into), e.g. `werkgever.naam`.
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| paths(i, prefix, out)),
        Value::Object(members) => {
            for (k, child) in members {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(child, &p, out);
                out.push(p);
            }
        }
        _ => {}
    }
}

fn assert_within(record: &Value, allowed: &FieldSet) {
    let mut found = Vec::new();
    paths(record, "", &mut found);
    for p in found {
        assert!(allowed.allows(&p), "{p} is not an allowed field");
    }
}

/// The request record of a disclosure: how many subjects it names, how many subject records
/// hang under it, and its `fields`.
fn record_of(app: &TestApp, id: &str) -> (i32, i64, String) {
    let (trace, op) = id.split_once('-').unwrap();
    let (trace, op) = (hex::decode(trace).unwrap(), hex::decode(op).unwrap());
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    let (count, fields): (i32, String) = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::operation_id.eq(&op)))
        .select((r::record_count, r::fields))
        .first(&mut *conn)
        .unwrap();
    let children: i64 = r::disclosure_records
        .filter(r::trace_id.eq(&trace).and(r::parent_operation_id.eq(&op)))
        .filter(r::subject_pseudonym.is_not_null())
        .count()
        .get_result(&mut *conn)
        .unwrap();
    (count, children, fields)
}

/// What the seeded datasets hold, read straight from the database.
struct Data {
    relations: Vec<Dienstverband>,
    werkgever_naam: HashMap<String, String>,
    uwv_benefits: HashSet<String>,
    svb: Vec<SvbUitkering>,
    a1: Vec<A1Verklaring>,
    residents: Vec<Ingezetene>,
    rni: Vec<String>,
}

fn data(app: &TestApp) -> Data {
    let db = app.database();
    let mut conn = db.checkout().unwrap();
    let relations: Vec<Dienstverband> = uwv_dienstverbanden::table
        .order(uwv_dienstverbanden::id)
        .select(Dienstverband::as_select())
        .load(&mut *conn)
        .unwrap();
    let werkgever_naam = uwv_werkgevers::table
        .select((uwv_werkgevers::loonheffingennummer, uwv_werkgevers::naam))
        .load::<(String, String)>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    let uwv_benefits = uwv_uitkeringen::table
        .select(uwv_uitkeringen::burgerservicenummer)
        .load::<String>(&mut *conn)
        .unwrap()
        .into_iter()
        .collect();
    let svb = svb_uitkeringen::table
        .order((
            svb_uitkeringen::burgerservicenummer,
            svb_uitkeringen::datum_ingang,
        ))
        .select(SvbUitkering::as_select())
        .load(&mut *conn)
        .unwrap();
    let a1 = svb_a1_verklaringen::table
        .select(A1Verklaring::as_select())
        .load(&mut *conn)
        .unwrap();
    let residents = ingezetenen::table
        .order(ingezetenen::burgerservicenummer)
        .select(Ingezetene::as_select())
        .load(&mut *conn)
        .unwrap();
    let rni = rni_personen::table
        .order(rni_personen::burgerservicenummer)
        .select(rni_personen::burgerservicenummer)
        .load(&mut *conn)
        .unwrap();
    Data {
        relations,
        werkgever_naam,
        uwv_benefits,
        svb,
        a1,
        residents,
        rni,
    }
}

impl Data {
    fn relations_of(&self, bsn: &str) -> Vec<&Dienstverband> {
        self.relations
            .iter()
            .filter(|d| d.burgerservicenummer == bsn)
            .collect()
    }

    /// A resident of `gemeente` with (or without) any UWV data.
    fn resident(&self, gemeente: &str, with_data: bool) -> Option<&str> {
        self.residents
            .iter()
            .filter(|i| i.gemeentecode == gemeente)
            .map(|i| i.burgerservicenummer.as_str())
            .find(|b| {
                let has = !self.relations_of(b).is_empty() || self.uwv_benefits.contains(*b);
                has == with_data
            })
    }
}

async fn dienstverbanden_of_a_person(app: &TestApp, data: &Data) {
    // A person with several relations, one of them ended.
    let bsn = data
        .rni
        .iter()
        .find(|b| {
            let rel = data.relations_of(b);
            rel.len() >= 2 && rel.iter().any(|d| d.datum_einde.is_some())
        })
        .expect("a person with several relations");
    let path = format!("/api/v1/uwv/dienstverbanden?bsn={bsn}");
    let a = get(app, "nla", DIENSTVERBANDEN, Some("NLA-2026-0042"), &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["bronGeraadpleegd"], true);
    assert!(a.body["volgende"].is_null());
    let (allowed, _) = register_fields(app, DIENSTVERBANDEN, "nla");
    let got = a.body["dienstverbanden"].as_array().unwrap();
    let want = data.relations_of(bsn);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            keys(g),
            top_level(&allowed),
            "exactly the activity's fields"
        );
        assert_within(g, &allowed);
        assert_eq!(g["burgerservicenummer"], bsn.as_str());
        assert_eq!(g["werkgever"]["loonheffingennummer"], w.loonheffingennummer);
        assert_eq!(
            g["werkgever"]["naam"],
            data.werkgever_naam[&w.loonheffingennummer]
        );
        assert_eq!(g["datumAanvang"], w.datum_aanvang);
        assert_eq!(g["datumEinde"].as_str(), w.datum_einde.as_deref());
        assert_eq!(g["uren"], w.uren_per_week);
        assert_eq!(g["svLoon"], w.sv_loon_per_maand_cent);
        assert_eq!(g["soortArbeidsrelatie"], w.soort_arbeidsrelatie);
    }
    let (count, children, fields) = record_of(app, &a.id.unwrap());
    assert_eq!((count, children), (1, 1), "one subject: the person");
    assert!(fields.contains("svLoon") && fields.contains("werkgever"));

    // No relations: an explicit empty answer, the person still recorded as looked up.
    let nobody = data
        .rni
        .iter()
        .find(|b| data.relations_of(b).is_empty())
        .unwrap();
    let a = get(
        app,
        "nla",
        DIENSTVERBANDEN,
        Some("NLA-2026-0042"),
        &format!("/api/v1/uwv/dienstverbanden?bsn={nobody}"),
    )
    .await;
    assert_eq!(
        (a.status, a.body["dienstverbanden"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    assert_eq!(a.body["bronGeraadpleegd"], true);
    assert_eq!(record_of(app, &a.id.unwrap()).0, 1);
}

async fn dienstverbanden_of_an_employer(app: &TestApp, data: &Data) {
    let mut per_employer: HashMap<&str, Vec<&Dienstverband>> = HashMap::new();
    for d in &data.relations {
        per_employer
            .entry(&d.loonheffingennummer)
            .or_default()
            .push(d);
    }
    let (lhn, rows) = per_employer
        .iter()
        .max_by_key(|(_, v)| v.len())
        .map(|(k, v)| (k.to_string(), v.clone()))
        .unwrap();
    assert!(
        rows.len() > PAGE,
        "the largest employer has {} relations: too few to page",
        rows.len()
    );
    let (allowed, _) = register_fields(app, DIENSTVERBANDEN, "nla");
    let mut seen = Vec::new();
    let mut path = format!("/api/v1/uwv/dienstverbanden?loonheffingennummer={lhn}");
    let mut pages = 0;
    loop {
        let a = get(app, "nla", DIENSTVERBANDEN, Some("NLA-2026-0043"), &path).await;
        assert_eq!(a.status, 200, "{}", a.body);
        pages += 1;
        let page = a.body["dienstverbanden"].as_array().unwrap();
        assert!(page.len() <= PAGE);
        let persons: HashSet<&str> = page
            .iter()
            .map(|d| d["burgerservicenummer"].as_str().unwrap())
            .collect();
        for d in page {
            assert_eq!(keys(d), top_level(&allowed));
            assert_eq!(d["werkgever"]["loonheffingennummer"], lhn.as_str());
            seen.push((
                d["burgerservicenummer"].as_str().unwrap().to_owned(),
                d["datumAanvang"].as_str().unwrap().to_owned(),
            ));
        }
        // One subject record per distinct person on the page.
        let (count, children, _) = record_of(app, &a.id.unwrap());
        assert_eq!(count as usize, persons.len());
        assert_eq!(children as usize, persons.len());
        match a.body["volgende"].as_str() {
            Some(next) => {
                assert_eq!(page.len(), PAGE, "only a full page has a next one");
                path = format!(
                    "/api/v1/uwv/dienstverbanden?loonheffingennummer={lhn}&volgende={next}"
                );
            }
            None => break,
        }
    }
    assert_eq!(pages, rows.len().div_ceil(PAGE));
    let want: Vec<(String, String)> = rows
        .iter()
        .map(|d| (d.burgerservicenummer.clone(), d.datum_aanvang.clone()))
        .collect();
    assert_eq!(seen, want, "every relation once, in order");

    // A lower-case l is the same number.
    let small = per_employer
        .iter()
        .filter(|(_, v)| v.len() <= PAGE)
        .map(|(k, v)| (k.to_string(), v.len()))
        .next()
        .unwrap();
    let a = get(
        app,
        "nla",
        DIENSTVERBANDEN,
        Some("NLA-2026-0043"),
        &format!(
            "/api/v1/uwv/dienstverbanden?loonheffingennummer={}",
            small.0.replace('L', "l")
        ),
    )
    .await;
    assert_eq!(a.body["dienstverbanden"].as_array().unwrap().len(), small.1);
    assert!(a.body["volgende"].is_null());

    // An employer UWV does not know: no relations, no one recorded.
    let a = get(
        app,
        "nla",
        DIENSTVERBANDEN,
        Some("NLA-2026-0043"),
        "/api/v1/uwv/dienstverbanden?loonheffingennummer=123456782L01",
    )
    .await;
    assert_eq!(
        (
            a.status,
            a.body["dienstverbanden"].as_array().map(Vec::len),
            a.body["bronGeraadpleegd"].as_bool()
        ),
        (200, Some(0), Some(true))
    );
    assert_eq!(record_of(app, &a.id.unwrap()).0, 0);
}

async fn werk_en_inkomen(app: &TestApp, data: &Data) {
    let (allowed, dataset) = register_fields(app, WERK_INKOMEN, "gemeente-0363");
    let own = data
        .resident("0363", true)
        .expect("a resident of 0363 with UWV data");
    let a = get(
        app,
        "gemeente-0363",
        WERK_INKOMEN,
        None,
        &format!("/api/v1/uwv/werk-inkomen?bsn={own}"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut record = a.body.clone();
    assert_eq!(record["bronGeraadpleegd"], true);
    record.as_object_mut().unwrap().remove("bronGeraadpleegd");
    assert_eq!(keys(&record), top_level(&allowed));
    assert_within(&record, &allowed);
    assert_eq!(record["burgerservicenummer"], own);
    let relations = record["dienstverbanden"].as_array().unwrap();
    assert_eq!(relations.len(), data.relations_of(own).len());
    for d in relations {
        assert_eq!(keys(d), under(&dataset, "dienstverbanden"));
        assert_eq!(
            keys(&d["werkgever"]),
            under(&dataset, "dienstverbanden.werkgever")
        );
    }
    for u in record["uitkeringen"].as_array().unwrap() {
        assert_eq!(keys(u), under(&dataset, "uitkeringen"));
    }
    assert!(
        !relations.is_empty() || !record["uitkeringen"].as_array().unwrap().is_empty(),
        "a resident with UWV data"
    );
    assert_eq!(record_of(app, &a.id.unwrap()).0, 1);

    // Somebody else's inhabitant, and a BSN the BRP does not know (an RNI person): the same
    // refusal, so that neither reveals where a person lives or that a BSN exists.
    let theirs = data
        .resident("0599", true)
        .expect("a resident of 0599 with UWV data");
    let elsewhere = get(
        app,
        "gemeente-0363",
        WERK_INKOMEN,
        None,
        &format!("/api/v1/uwv/werk-inkomen?bsn={theirs}"),
    )
    .await;
    assert_eq!(
        (elsewhere.status, elsewhere.code()),
        (403, Some("outOfScope"))
    );
    assert!(elsewhere.id.is_some(), "the refusal is recorded");
    let unknown = get(
        app,
        "gemeente-0363",
        WERK_INKOMEN,
        None,
        &format!("/api/v1/uwv/werk-inkomen?bsn={}", data.rni[0]),
    )
    .await;
    assert_eq!((unknown.status, unknown.code()), (403, Some("outOfScope")));
    assert_eq!(unknown.body["detail"], elsewhere.body["detail"]);
    assert!(!elsewhere.body.to_string().contains(theirs));
    // Their own gemeente may.
    let a = get(
        app,
        "gemeente-0599",
        WERK_INKOMEN,
        None,
        &format!("/api/v1/uwv/werk-inkomen?bsn={theirs}"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);

    // An inhabitant UWV knows nothing of: empty lists, not an error.
    let (gemeente, nothing) = ["0363", "0599", "0606", "0358"]
        .iter()
        .find_map(|g| data.resident(g, false).map(|b| (*g, b)))
        .expect("a demo gemeente has a resident without UWV data");
    let a = get(
        app,
        &format!("gemeente-{gemeente}"),
        WERK_INKOMEN,
        None,
        &format!("/api/v1/uwv/werk-inkomen?bsn={nothing}"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            a.body["dienstverbanden"].as_array().map(Vec::len),
            a.body["uitkeringen"].as_array().map(Vec::len),
            a.body["bronGeraadpleegd"].as_bool()
        ),
        (Some(0), Some(0), Some(true))
    );
}

async fn svb_uitkeringen(app: &TestApp, data: &Data) {
    // A posted worker with an SVB benefit if there is one, else any posted worker.
    let posted: HashSet<&str> = data
        .a1
        .iter()
        .map(|a| a.burgerservicenummer.as_str())
        .collect();
    let bsn = data
        .svb
        .iter()
        .map(|u| u.burgerservicenummer.as_str())
        .find(|b| posted.contains(b))
        .or_else(|| posted.iter().next().copied())
        .unwrap();
    let path = format!("/api/v1/svb/uitkeringen?bsn={bsn}");
    let want_a1 = data
        .a1
        .iter()
        .filter(|a| a.burgerservicenummer == bsn)
        .count();
    let want_svb = data
        .svb
        .iter()
        .filter(|u| u.burgerservicenummer == bsn)
        .count();

    let a = get(app, "nla", SVB, Some("NLA-2026-0044"), &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (allowed, _) = register_fields(app, SVB, "nla");
    let mut record = a.body.clone();
    record.as_object_mut().unwrap().remove("bronGeraadpleegd");
    assert_eq!(keys(&record), top_level(&allowed));
    assert_within(&record, &allowed);
    assert_eq!(record["a1Verklaringen"].as_array().unwrap().len(), want_a1);
    assert_eq!(record["uitkeringen"].as_array().unwrap().len(), want_svb);
    let a1 = &record["a1Verklaringen"][0];
    assert_eq!(a1["lidstaat"].as_str().unwrap().len(), 2);
    assert!(a1["werkgever"]["naam"].is_string() && a1["datumEinde"].is_string());

    // A gemeente: the benefits, no A1 statements (fields_for), and its record says so.
    let a = get(app, "gemeente-0363", SVB, Some("WIZ-77"), &path).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (allowed, _) = register_fields(app, SVB, "gemeente-0363");
    let mut record = a.body.clone();
    record.as_object_mut().unwrap().remove("bronGeraadpleegd");
    assert_eq!(keys(&record), top_level(&allowed));
    assert!(record.get("a1Verklaringen").is_none());
    assert_eq!(record["uitkeringen"].as_array().unwrap().len(), want_svb);
    let (count, _, fields) = record_of(app, &a.id.unwrap());
    assert_eq!(count, 1);
    assert!(!fields.contains("a1Verklaringen"), "{fields}");

    // Nothing known: empty lists.
    let nothing = data
        .rni
        .iter()
        .find(|b| {
            !posted.contains(b.as_str()) && !data.svb.iter().any(|u| &u.burgerservicenummer == *b)
        })
        .unwrap();
    let a = get(
        app,
        "nla",
        SVB,
        Some("NLA-2026-0044"),
        &format!("/api/v1/svb/uitkeringen?bsn={nothing}"),
    )
    .await;
    assert_eq!(
        (
            a.status,
            a.body["uitkeringen"].as_array().map(Vec::len),
            a.body["a1Verklaringen"].as_array().map(Vec::len),
            a.body["bronGeraadpleegd"].as_bool()
        ),
        (200, Some(0), Some(0), Some(true))
    );
}

async fn refusals(app: &TestApp, data: &Data) {
    let bsn = &data.rni[0];
    let lhn = &data.relations[0].loonheffingennummer;
    let resident = data
        .resident("0363", true)
        .expect("a resident of 0363 with UWV data");
    let routes: [(&str, String, &[&str]); 4] = [
        (
            DIENSTVERBANDEN,
            format!("/api/v1/uwv/dienstverbanden?bsn={bsn}"),
            &[
                "rvig",
                "uwv",
                "svb",
                "supervisor",
                "gemeente-0363",
                "gemeente-0599",
            ],
        ),
        (
            DIENSTVERBANDEN,
            format!("/api/v1/uwv/dienstverbanden?loonheffingennummer={lhn}"),
            &["rvig", "uwv", "svb", "supervisor", "gemeente-0363"],
        ),
        (
            WERK_INKOMEN,
            format!("/api/v1/uwv/werk-inkomen?bsn={resident}"),
            &["rvig", "uwv", "svb", "nla", "supervisor"],
        ),
        (
            SVB,
            format!("/api/v1/svb/uitkeringen?bsn={bsn}"),
            &["rvig", "uwv", "svb", "supervisor"],
        ),
    ];
    for (activity, path, refused) in &routes {
        for client in *refused {
            let a = get(app, client, activity, Some("zaak-1"), path).await;
            assert_eq!(
                (a.status, a.code()),
                (403, Some("notPermitted")),
                "{client} under {activity}"
            );
            assert!(a.id.is_some(), "the refusal is recorded");
        }
    }
    // Doelbinding comes first: a refused organisation learns nothing about its parameters.
    let a = get(
        app,
        "rvig",
        DIENSTVERBANDEN,
        Some("zaak-1"),
        "/api/v1/uwv/dienstverbanden?bsn=123456789",
    )
    .await;
    assert_eq!(a.code(), Some("notPermitted"));
    // An activity of another dataset does not open this route.
    let a = get(
        app,
        "nla",
        SVB,
        Some("zaak-1"),
        &format!("/api/v1/uwv/dienstverbanden?bsn={bsn}"),
    )
    .await;
    assert_eq!((a.status, a.code()), (403, Some("notPermitted")));

    // A case reference is required under uwv-dienstverbanden and svb-uitkeringen.
    for (client, activity, path) in [
        (
            "nla",
            DIENSTVERBANDEN,
            format!("/api/v1/uwv/dienstverbanden?bsn={bsn}"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            format!("/api/v1/uwv/dienstverbanden?loonheffingennummer={lhn}"),
        ),
        ("nla", SVB, format!("/api/v1/svb/uitkeringen?bsn={bsn}")),
        (
            "gemeente-0363",
            SVB,
            format!("/api/v1/svb/uitkeringen?bsn={bsn}"),
        ),
    ] {
        let a = get(app, client, activity, None, &path).await;
        assert_eq!(
            (a.status, a.code()),
            (400, Some("caseReferenceRequired")),
            "{client} {path}"
        );
    }
}

/// A bad request: client, activity, query, the parameter the answer names, a value it must
/// not repeat.
type Case<'a> = (&'a str, &'a str, String, Option<&'a str>, Option<&'a str>);

async fn validation(app: &TestApp, data: &Data) {
    let bsn = &data.rni[0];
    let lhn = &data.relations[0].loonheffingennummer;
    let cases: Vec<Case> = vec![
        (
            "nla",
            DIENSTVERBANDEN,
            "bsn=123456789".into(),
            Some("bsn"),
            Some("123456789"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            "bsn=1234567".into(),
            Some("bsn"),
            Some("1234567"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            "bsn=99999365X".into(),
            Some("bsn"),
            Some("99999365X"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            "loonheffingennummer=123456789L01".into(),
            Some("loonheffingennummer"),
            Some("123456789L01"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            "loonheffingennummer=123456782X01".into(),
            Some("loonheffingennummer"),
            Some("123456782X01"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            "loonheffingennummer=999993653".into(),
            Some("loonheffingennummer"),
            Some("999993653"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            format!("bsn={bsn}&loonheffingennummer={lhn}"),
            Some("bsn"),
            Some(bsn.as_str()),
        ),
        ("nla", DIENSTVERBANDEN, String::new(), Some("bsn"), None),
        (
            "nla",
            DIENSTVERBANDEN,
            format!("bsn={bsn}&volgende=5"),
            Some("volgende"),
            Some(bsn.as_str()),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            format!("loonheffingennummer={lhn}&volgende=abc"),
            Some("volgende"),
            Some("abc"),
        ),
        (
            "nla",
            DIENSTVERBANDEN,
            format!("bsn={bsn}&onbekend=1"),
            None,
            Some(bsn.as_str()),
        ),
        (
            "gemeente-0363",
            WERK_INKOMEN,
            "bsn=123456789".into(),
            Some("bsn"),
            Some("123456789"),
        ),
        ("gemeente-0363", WERK_INKOMEN, String::new(), None, None),
        (
            "nla",
            SVB,
            "bsn=123456789".into(),
            Some("bsn"),
            Some("123456789"),
        ),
        (
            "gemeente-0363",
            SVB,
            "bsn=01234567".into(),
            Some("bsn"),
            Some("01234567"),
        ),
    ];
    for (client, activity, query, param, value) in cases {
        let path = match activity {
            DIENSTVERBANDEN => format!("/api/v1/uwv/dienstverbanden?{query}"),
            WERK_INKOMEN => format!("/api/v1/uwv/werk-inkomen?{query}"),
            _ => format!("/api/v1/svb/uitkeringen?{query}"),
        };
        let a = get(app, client, activity, Some("zaak-2"), &path).await;
        assert_eq!(
            (a.status, a.code()),
            (400, Some("paramsValidation")),
            "{path}: {}",
            a.body
        );
        if let Some(param) = param {
            assert_eq!(a.body["invalidParams"][0]["name"], param, "{path}");
        }
        if let Some(value) = value {
            assert!(
                !common::repeats(&a.body, value),
                "{path}: the answer repeats the value: {}",
                a.body
            );
        }
    }
}

async fn uwv_and_svb(backend: Backend) {
    let app = app(backend).await;
    let data = data(&app);
    assert!(!data.relations.is_empty() && !data.residents.is_empty());
    dienstverbanden_of_a_person(&app, &data).await;
    dienstverbanden_of_an_employer(&app, &data).await;
    werk_en_inkomen(&app, &data).await;
    svb_uitkeringen(&app, &data).await;
    refusals(&app, &data).await;
    validation(&app, &data).await;
    app.stop().await;
}

on_both_backends!(uwv_and_svb);
