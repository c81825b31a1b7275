//! UWV's exchanges. Source: the local UWV dataset (polisadministratie and benefits).
//!
//! - `GET /api/v1/uwv/dienstverbanden?bsn=…` (`uwv-dienstverbanden`, read) — a person's
//!   employment relations, for the Arbeidsinspectie: "of en hoelang het mogelijk slachtoffer
//!   in dienst is en/of loon ontvangt".
//! - `GET /api/v1/uwv/dienstverbanden?loonheffingennummer=…[&volgende=…]` (same activity,
//!   search) — every relation with one employer, `PAGE` per page in the order UWV recorded
//!   them; `volgende` is the cursor for the next page (null on the last).
//! - `GET /api/v1/uwv/werk-inkomen?bsn=…` (`uwv-werk-inkomen`) — work and income of one of the
//!   gemeente's own inhabitants, for the Participatiewet.
//!
//! A relation: `werkgever {loonheffingennummer, naam}`, `datumAanvang`, `datumEinde` (null
//! while it runs), `uren` (hours per week), `svLoon` (SV wage of the last month, in euro
//! cents), `soortArbeidsrelatie` (`uitzendovereenkomst`, `bepaalde-tijd`, `onbepaalde-tijd`,
//! `oproepovereenkomst`). A benefit: `soort` (WW, ZW, WIA-WGA, WIA-IVA, Wajong),
//! `datumIngang`, `datumEinde`. Every answer is minimised to the requester's fields.
//!
//! Recorded subjects: the person asked about, also when UWV knows nothing of them (the
//! lookup itself is a processing of their BSN); for an employer, every person on the page.

use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::params::{self, BsnQuery};
use crate::domain::Bsn;
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::policy::{Operation, Scope};
use crate::problem::{Problem, ProblemCode};
use crate::seed::uwv_svb::{Dienstverband, UwvUitkering};
use crate::storage::schema::{ingezetenen, uwv_dienstverbanden, uwv_uitkeringen, uwv_werkgevers};
use crate::storage::Database;

/// One person's relations.
pub struct DienstverbandenPersoon;
impl Exchange for DienstverbandenPersoon {
    const DATASET: &'static str = "uwv-dienstverbanden";
    const OPERATION: Operation = Operation::Read;
}

/// An employer's relations.
pub struct DienstverbandenWerkgever;
impl Exchange for DienstverbandenWerkgever {
    const DATASET: &'static str = "uwv-dienstverbanden";
    const OPERATION: Operation = Operation::Search;
}

pub struct WerkEnInkomen;
impl Exchange for WerkEnInkomen {
    const DATASET: &'static str = "uwv-werk-inkomen";
    const OPERATION: Operation = Operation::Read;
}

/// Relations per page of an employer's (the largest agencies have tens of thousands).
pub const PAGE: usize = 500;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/uwv/dienstverbanden")
            .get(dienstverbanden)
            .default_service(web::to(crate::problem::method_not_allowed)),
    )
    .service(
        web::resource("/api/v1/uwv/werk-inkomen")
            .get(werk_inkomen)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

fn unavailable(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "UWV dataset unavailable");
    Problem::not_available()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DienstverbandenQuery {
    /// One person's relations (operation `read`); exactly one of `bsn` and `loonheffingennummer`.
    #[param(pattern = r"^[0-9]{9}$")]
    bsn: Option<String>,
    /// One employer's relations (operation `search`), 500 per page.
    #[param(pattern = r"^[0-9]{9}[Ll][0-9]{2}$")]
    loonheffingennummer: Option<String>,
    /// The next page's cursor, as the previous page gave it.
    volgende: Option<String>,
}

/// A relation as the source has it; minimisation keeps what the requester may receive.
fn dienstverband(d: &Dienstverband, werkgever_naam: &str) -> Value {
    json!({
        "burgerservicenummer": d.burgerservicenummer,
        "werkgever": { "loonheffingennummer": d.loonheffingennummer, "naam": werkgever_naam },
        "datumAanvang": d.datum_aanvang,
        "datumEinde": d.datum_einde,
        "uren": d.uren_per_week,
        "svLoon": d.sv_loon_per_maand_cent,
        "soortArbeidsrelatie": d.soort_arbeidsrelatie,
    })
}

/// `GET /api/v1/uwv/dienstverbanden`: exactly one of `bsn` and `loonheffingennummer`.
///
/// Which operation the request is (a read of one person, a search of an employer's) follows
/// from the parameter named, so the route asks for doelbinding itself, before it validates
/// anything: a caller the register does not allow learns nothing about its parameters.
#[utoipa::path(get, path = "/api/v1/uwv/dienstverbanden", tag = "uwv-svb", params(DienstverbandenQuery),
    responses((status = 200, description = "The employment relations (possibly none), `bronGeraadpleegd: true`", body = Object)))]
pub(crate) async fn dienstverbanden(
    req: HttpRequest,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let query = web::Query::<DienstverbandenQuery>::from_query(req.query_string());
    let by_employer = matches!(&query, Ok(q) if q.bsn.is_none() && q.loonheffingennummer.is_some());
    if by_employer {
        let d = Doelbinding::<DienstverbandenWerkgever>::extract(&req).await?;
        let q = query.expect("parsed above").into_inner();
        let lhn = q.loonheffingennummer.expect("checked above");
        return van_werkgever(d, &lhn, q.volgende.as_deref(), &db).await;
    }
    let d = Doelbinding::<DienstverbandenPersoon>::extract(&req).await?;
    let q = query.map_err(params::query)?.into_inner();
    let bsn = match (&q.bsn, &q.loonheffingennummer) {
        (Some(bsn), None) => bsn,
        _ => {
            return Err(Problem::new(ProblemCode::ParamsValidation)
                .detail("Vraag naar precies één van bsn en loonheffingennummer.")
                .invalid_param(
                    "bsn",
                    "exclusive",
                    "Geef bsn of loonheffingennummer, niet beide en niet geen van beide.",
                ))
        }
    };
    if q.volgende.is_some() {
        return Err(params::invalid(
            "volgende",
            "unexpected",
            "Alleen de dienstverbanden van een werkgever worden per pagina gegeven.",
        ));
    }
    let bsn = params::bsn("bsn", bsn)?;
    let rows = relaties_van(&db, bsn).await?;
    let mut records: Vec<Value> = rows
        .iter()
        .map(|(r, naam)| dienstverband(r, naam))
        .collect();
    for r in &mut records {
        d.minimise(r);
    }
    let mut body = json!({
        "volgende": null,
        // A lookup without hits is the absence of data, not a finding: the source was asked.
        "bronGeraadpleegd": true,
    });
    body["dienstverbanden"] = Value::Array(records);
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond(&body, &[bsn], &fields).await
}

/// A person's relations and their employers' names, oldest first.
async fn relaties_van(db: &Database, bsn: Bsn) -> Result<Vec<(Dienstverband, String)>, Problem> {
    let bsn = bsn.as_str().to_owned();
    db.run(move |c| {
        uwv_dienstverbanden::table
            .inner_join(uwv_werkgevers::table)
            .filter(uwv_dienstverbanden::burgerservicenummer.eq(bsn))
            .order((uwv_dienstverbanden::datum_aanvang, uwv_dienstverbanden::id))
            .select((Dienstverband::as_select(), uwv_werkgevers::naam))
            .load(c)
    })
    .await
    .map_err(unavailable)
}

/// One page of an employer's relations, from the one after `volgende` on.
async fn van_werkgever(
    d: Doelbinding<DienstverbandenWerkgever>,
    loonheffingennummer: &str,
    volgende: Option<&str>,
    db: &Database,
) -> Result<HttpResponse, Problem> {
    let lhn = params::loonheffingennummer("loonheffingennummer", loonheffingennummer)?;
    let after: i64 = match volgende {
        None => 0,
        Some(v) => v.parse().ok().filter(|n| *n >= 0).ok_or_else(|| {
            params::invalid("volgende", "pattern", "Gebruik de waarde van 'volgende'.")
        })?,
    };
    let lhn = lhn.as_str().to_owned();
    let (naam, mut rows) = db
        .run(move |c| {
            let naam: Option<String> = uwv_werkgevers::table
                .find(&lhn)
                .select(uwv_werkgevers::naam)
                .first(c)
                .optional()?;
            let rows: Vec<Dienstverband> = uwv_dienstverbanden::table
                .filter(uwv_dienstverbanden::loonheffingennummer.eq(&lhn))
                .filter(uwv_dienstverbanden::id.gt(after))
                .order(uwv_dienstverbanden::id)
                .limit(PAGE as i64 + 1)
                .select(Dienstverband::as_select())
                .load(c)?;
            Ok((naam, rows))
        })
        .await
        .map_err(unavailable)?;
    let volgende = (rows.len() > PAGE).then(|| {
        rows.truncate(PAGE);
        rows[PAGE - 1].id.to_string()
    });
    let naam = naam.unwrap_or_default();
    let mut subjects: Vec<Bsn> = Vec::new();
    for r in &rows {
        if let Ok(bsn) = Bsn::parse(&r.burgerservicenummer) {
            if !subjects.contains(&bsn) {
                subjects.push(bsn);
            }
        }
    }
    let mut records: Vec<Value> = rows.iter().map(|r| dienstverband(r, &naam)).collect();
    for r in &mut records {
        d.minimise(r);
    }
    let mut body = json!({
        "volgende": volgende,
        "bronGeraadpleegd": true,
    });
    body["dienstverbanden"] = Value::Array(records);
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond(&body, &subjects, &fields).await
}

/// `GET /api/v1/uwv/werk-inkomen?bsn=…`: the relations and UWV benefits of one of the
/// gemeente's own inhabitants.
///
/// Own inhabitants: the BRP's `ingezetenen` must register the person in the requester's
/// gemeente. A person living elsewhere and a BSN the BRP does not know (an RNI person, a
/// mistyped number) get the same refusal, `outOfScope`: the gemeente cannot show the person
/// is theirs, and the two cases must not be told apart (that would reveal where someone lives,
/// or that a BSN exists).
#[utoipa::path(get, path = "/api/v1/uwv/werk-inkomen", tag = "uwv-svb", params(BsnQuery),
    responses((status = 200, description = "Relations and UWV benefits of an own inhabitant", body = Object)))]
pub(crate) async fn werk_inkomen(
    d: Doelbinding<WerkEnInkomen>,
    q: web::Query<BsnQuery>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let bsn = params::bsn("bsn", &q.bsn)?;
    if d.activity().scope != Scope::None {
        let b = bsn.as_str().to_owned();
        let woongemeente: Option<String> = db
            .run(move |c| {
                ingezetenen::table
                    .find(b)
                    .select(ingezetenen::gemeentecode)
                    .first(c)
                    .optional()
            })
            .await
            .map_err(unavailable)?;
        let own = matches!((woongemeente, d.requester.gemeentecode),
            (Some(w), Some(own)) if w == own.as_str());
        if !own {
            return Err(Problem::new(ProblemCode::OutOfScope).detail(format!(
                "Onder {} mag u alleen gegevens over uw eigen inwoners opvragen.",
                d.authorisation().activity_id
            )));
        }
    }
    // Only the parts the requester may receive are asked of the source.
    let fields = d.fields();
    let mut record = json!({ "burgerservicenummer": bsn });
    if fields.touches("dienstverbanden") {
        let rows = relaties_van(&db, bsn).await?;
        record["dienstverbanden"] = rows
            .iter()
            .map(|(r, naam)| {
                json!({
                    "werkgever": { "naam": naam },
                    "datumAanvang": r.datum_aanvang,
                    "datumEinde": r.datum_einde,
                    "uren": r.uren_per_week,
                })
            })
            .collect();
    }
    if fields.touches("uitkeringen") {
        let b = bsn.as_str().to_owned();
        let rows: Vec<UwvUitkering> = db
            .run(move |c| {
                uwv_uitkeringen::table
                    .filter(uwv_uitkeringen::burgerservicenummer.eq(b))
                    .order((uwv_uitkeringen::datum_ingang, uwv_uitkeringen::soort))
                    .select(UwvUitkering::as_select())
                    .load(c)
            })
            .await
            .map_err(unavailable)?;
        record["uitkeringen"] = rows
            .iter()
            .map(|u| {
                json!({ "soort": u.soort, "datumIngang": u.datum_ingang, "datumEinde": u.datum_einde })
            })
            .collect();
    }
    d.minimise(&mut record);
    record["bronGeraadpleegd"] = json!(true);
    let fields: Vec<&str> = fields.paths().collect();
    d.respond(&record, &[bsn], &fields).await
}
