//! Data routes for tests, mounted behind the real pipeline: each takes `Doelbinding` the way
//! the exchanges do, over a fixed, over-sharing "source".

use actix_web::{web, HttpResponse};
use doelpoort::domain::{Bsn, Gemeentecode};
use doelpoort::policy::enforce::{Doelbinding, Exchange};
use doelpoort::policy::Operation;
use doelpoort::problem::Problem;
use serde_json::json;

/// The BSNs the test routes disclose (both pass the elfproef).
pub const SUBJECTS: [&str; 2] = ["999993653", "111222333"];

struct Tellingen;
impl Exchange for Tellingen {
    const DATASET: &'static str = "rni-adrestellingen";
    const OPERATION: Operation = Operation::Count;
}

struct Contactgegevens;
impl Exchange for Contactgegevens {
    const DATASET: &'static str = "rni-personen";
    const OPERATION: Operation = Operation::Read;
}

struct Dienstverbanden;
impl Exchange for Dienstverbanden {
    const DATASET: &'static str = "uwv-dienstverbanden";
    const OPERATION: Operation = Operation::Read;
}

/// A source that over-shares: every record carries BSNs and a field no activity allows.
async fn tellingen(d: Doelbinding<Tellingen>) -> Result<HttpResponse, Problem> {
    let mut records = json!([
        { "postcode": "1012AB", "huisnummer": 12, "aantal": 14, "burgerservicenummers": ["999993653"], "intern": "x" },
        { "postcode": "1012AC", "huisnummer": 1, "aantal": 2 }
    ]);
    d.minimise(&mut records);
    let mut fields: Vec<_> = d.fields().paths().collect();
    fields.sort();
    let body =
        json!({ "version": d.authorisation().version, "fields": fields, "adressen": records });
    d.respond(&body, &[], &fields).await
}

#[derive(serde::Deserialize)]
struct ContactQuery {
    fields: String,
    gemeente: String,
}

async fn contactgegevens(
    d: Doelbinding<Contactgegevens>,
    q: web::Query<ContactQuery>,
) -> Result<HttpResponse, Problem> {
    d.require_fields(q.fields.split(','))?;
    d.require_scope(Gemeentecode::parse(&q.gemeente).unwrap())?;
    let subject = Bsn::parse(SUBJECTS[0]).unwrap();
    d.respond(
        &json!({ "activity": d.activity().id }),
        &[subject],
        &q.fields.split(',').collect::<Vec<_>>(),
    )
    .await
}

async fn dienstverbanden(d: Doelbinding<Dienstverbanden>) -> Result<HttpResponse, Problem> {
    let subjects = SUBJECTS.map(|b| Bsn::parse(b).unwrap());
    d.respond(
        &json!({ "zaak": d.case_reference }),
        &subjects,
        &["werkgever", "datumAanvang"],
    )
    .await
}

/// A route that forgot doelbinding.
pub async fn forgot() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "burgerservicenummer": "999993653" }))
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    doelpoort::app::exchanges(cfg);
    cfg.route("/test/tellingen", web::get().to(tellingen))
        .route("/test/contactgegevens", web::get().to(contactgegevens))
        .route("/test/dienstverbanden", web::get().to(dienstverbanden))
        .route("/test/forgot", web::get().to(forgot));
}
