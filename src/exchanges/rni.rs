//! RNI extracts for gemeenten: counts per address (`rni-telling`) and the persons who gave an
//! address as their temporary stay address (`rni-adresoverzicht`), within the gemeente's own
//! territory. Source: the local RNI dataset.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::persoon::persoon_met;
use super::territory::{require_area_in_scope, require_postcode_in_scope, unavailable};
use crate::domain::{Bsn, Gemeentecode, Postcode};
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::policy::Operation;
use crate::problem::{Problem, ProblemCode};
use crate::seed::RniPersoon;
use crate::storage::Database;

pub struct Tellingen;
impl Exchange for Tellingen {
    const DATASET: &'static str = "rni-adrestellingen";
    const OPERATION: Operation = Operation::Count;
}

pub struct Adresoverzicht;
impl Exchange for Adresoverzicht {
    const DATASET: &'static str = "rni-personen";
    const OPERATION: Operation = Operation::Search;
}

/// A stay address as stored: postcode, huisnummer, huisletter, toevoeging.
type StayAddress = (Option<String>, Option<i32>, Option<String>, Option<String>);

/// Addresses per page of counts.
const PAGE: usize = 1_000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/rni/tellingen")
            .get(tellingen)
            .default_service(web::to(crate::problem::method_not_allowed)),
    )
    .service(
        web::resource("/api/v1/rni/adressen/{postcode}/{huisnummer}")
            .get(adressen)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

fn invalid(name: &str, reason: &str) -> Problem {
    super::params::invalid(name, "pattern", reason)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TellingenQuery {
    /// Only this postcode (1234AB), which must lie in the caller's gemeente.
    postcode: Option<String>,
    /// The cursor of the next page, as the previous page gave it in `volgende`.
    volgende: Option<String>,
}

#[derive(Serialize, PartialEq, Eq, PartialOrd, Ord, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct AdresTelling {
    postcode: String,
    huisnummer: i32,
    huisletter: Option<String>,
    huisnummertoevoeging: Option<String>,
    aantal: u32,
}

/// A page of counts (the shape for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct TellingenPagina {
    gemeentecode: String,
    adressen: Vec<AdresTelling>,
    /// The cursor of the next page; `null` on the last.
    volgende: Option<String>,
}

/// Per address in the caller's gemeente, how many RNI persons gave it as temporary stay address
///
/// No personal data (rni-telling). Paged by 1,000 addresses.
#[utoipa::path(get, path = "/api/v1/rni/tellingen", tag = "rni", params(TellingenQuery),
    responses((status = 200, description = "Counts per address", body = TellingenPagina)))]
pub(crate) async fn tellingen(
    d: Doelbinding<Tellingen>,
    q: web::Query<TellingenQuery>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let gemeente = d.requester.gemeentecode.ok_or_else(|| {
        Problem::new(ProblemCode::OutOfScope)
            .detail("Tellingen gaan over het grondgebied van een gemeente.")
    })?;
    d.require_scope(gemeente)?;
    let postcode = match &q.postcode {
        Some(p) => {
            let p = Postcode::parse(p)
                .map_err(|_| invalid("postcode", "Een postcode is 4 cijfers en 2 letters."))?;
            require_postcode_in_scope(&d, &db, p).await?;
            Some(p)
        }
        None => None,
    };
    // The cursor: the first address of the page, as "<postcode>-<huisnummer>".
    let start = match &q.volgende {
        Some(c) => {
            let (pc, hn) = c
                .split_once('-')
                .ok_or_else(|| invalid("volgende", "Gebruik de waarde van 'volgende'."))?;
            let pc = Postcode::parse(pc)
                .map_err(|_| invalid("volgende", "Gebruik de waarde van 'volgende'."))?;
            let hn: i32 = hn
                .parse()
                .map_err(|_| invalid("volgende", "Gebruik de waarde van 'volgende'."))?;
            (pc.as_str().to_owned(), hn)
        }
        None => (String::new(), 0),
    };
    let (lo, hi) = match postcode {
        Some(p) => (p.as_str().to_owned(), p.as_str().to_owned()),
        None => (start.0.clone(), "ZZZZZZ".to_owned()),
    };
    let code = gemeente.as_str().to_owned();
    // Enough rows for a page of addresses; an address cut off at the end starts the next page.
    let limit = (PAGE * 25) as i64;
    let rows: Vec<StayAddress> = db
        .run(move |c| {
            use crate::storage::schema::rni_personen::dsl::*;
            rni_personen
                .select((
                    verblijf_postcode,
                    verblijf_huisnummer,
                    verblijf_huisletter,
                    verblijf_toevoeging,
                ))
                .filter(verblijf_gemeentecode.eq(code))
                .filter(verblijf_postcode.between(lo, hi))
                .filter(
                    verblijf_postcode.gt(start.0.clone()).or(verblijf_postcode
                        .eq(start.0)
                        .and(verblijf_huisnummer.ge(start.1))),
                )
                .order((verblijf_postcode, verblijf_huisnummer))
                .limit(limit)
                .load(c)
        })
        .await
        .map_err(unavailable)?;
    let truncated = rows.len() as i64 == limit;
    let mut counts: BTreeMap<(String, i32, Option<String>, Option<String>), u32> = BTreeMap::new();
    for (pc, hn, hl, tv) in rows {
        if let (Some(pc), Some(hn)) = (pc, hn) {
            *counts.entry((pc, hn, hl, tv)).or_default() += 1;
        }
    }
    let mut adressen: Vec<AdresTelling> = Vec::new();
    let mut volgende = None;
    let mut addresses_seen = Vec::<(String, i32)>::new();
    for ((pc, hn, hl, tv), aantal) in counts {
        if addresses_seen.last() != Some(&(pc.clone(), hn)) {
            addresses_seen.push((pc.clone(), hn));
        }
        if addresses_seen.len() > PAGE {
            volgende = Some(format!("{pc}-{hn}"));
            break;
        }
        adressen.push(AdresTelling {
            postcode: pc,
            huisnummer: hn,
            huisletter: hl,
            huisnummertoevoeging: tv,
            aantal,
        });
    }
    if volgende.is_none() && truncated {
        // The last address may be incomplete: leave it for the next page.
        if let Some((pc, hn)) = addresses_seen.last().cloned() {
            adressen.retain(|a| (a.postcode.as_str(), a.huisnummer) != (pc.as_str(), hn));
            volgende = Some(format!("{pc}-{hn}"));
        }
    }
    let mut records = serde_json::to_value(&adressen).expect("serialisable");
    d.minimise(&mut records);
    let mut body = json!({ "gemeentecode": gemeente, "volgende": volgende });
    // Moved in, not through `json!`: that would copy the whole list once more.
    body["adressen"] = records;
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond(&body, &[], &fields).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AdresQuery {
    /// One letter.
    huisletter: Option<String>,
    /// 1–4 letters or digits.
    toevoeging: Option<String>,
}

/// The persons at one address (the shape for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct AdresOverzicht {
    #[schema(value_type = Object)]
    adres: Value,
    /// RNI persons in the Haal Centraal shape, only the fields rni-adresoverzicht allows.
    #[schema(value_type = Vec<Object>)]
    personen: Vec<Value>,
    /// Always true: an empty list means the source was asked and knows no one there.
    bron_geraadpleegd: bool,
}

/// The RNI persons who gave this address in the caller's gemeente as temporary stay address
///
/// rni-adresoverzicht. No hits is an explicit empty list.
#[utoipa::path(get, path = "/api/v1/rni/adressen/{postcode}/{huisnummer}", tag = "rni",
    params(("postcode" = String, Path, description = "1234AB"), ("huisnummer" = i32, Path, minimum = 1, maximum = 99999), AdresQuery),
    responses((status = 200, description = "The persons at this address", body = AdresOverzicht)))]
pub(crate) async fn adressen(
    d: Doelbinding<Adresoverzicht>,
    path: web::Path<(String, String)>,
    q: web::Query<AdresQuery>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let (postcode, huisnummer) = path.into_inner();
    let postcode = Postcode::parse(&postcode)
        .map_err(|_| invalid("postcode", "Een postcode is 4 cijfers en 2 letters."))?;
    let huisnummer: i32 = huisnummer
        .parse()
        .ok()
        .filter(|n| (1..=99_999).contains(n))
        .ok_or_else(|| invalid("huisnummer", "Een huisnummer is 1 tot en met 99999."))?;
    let huisletter = match &q.huisletter {
        Some(l) if l.len() == 1 && l.chars().all(|c| c.is_ascii_alphabetic()) => {
            Some(l.to_ascii_uppercase())
        }
        Some(_) => return Err(invalid("huisletter", "Een huisletter is één letter.")),
        None => None,
    };
    if q.toevoeging.as_ref().is_some_and(|t| {
        t.is_empty() || t.len() > 4 || !t.chars().all(|c| c.is_ascii_alphanumeric())
    }) {
        return Err(invalid(
            "toevoeging",
            "Een toevoeging is 1 tot 4 letters of cijfers.",
        ));
    }
    // The postcode's area and the persons in one statement (one round trip, one executor run:
    // this is the overview's only read); the scope is checked on the area before anything
    // about the persons is used. A postcode in no known area gives no row at all.
    let pc = postcode.as_str().to_owned();
    let rows = match db.pg_reads() {
        Some(pg) => super::rni_pg::op_adres(pg, &pc, huisnummer).await,
        None => {
            db.run(move |c| {
                use crate::storage::schema::{postcodegebieden, rni_personen};
                postcodegebieden::table
                    .left_join(
                        rni_personen::table.on(rni_personen::verblijf_postcode
                            .eq(&pc)
                            .and(rni_personen::verblijf_huisnummer.eq(huisnummer))),
                    )
                    .filter(postcodegebieden::pc4.eq(&pc[..4]))
                    .order(rni_personen::burgerservicenummer)
                    // The table's columns, in the order `RniPersoon` lists them (`Queryable`,
                    // by position); diesel's multi-backend connection cannot take a nullable
                    // `as_select()`.
                    .select((
                        postcodegebieden::gemeentecode,
                        rni_personen::all_columns.nullable(),
                    ))
                    .load::<(String, Option<RniPersoon>)>(c)
            })
            .await
        }
    }
    .map_err(unavailable)?;
    let gebied = rows.first().and_then(|(g, _)| Gemeentecode::parse(g).ok());
    let found: Vec<RniPersoon> = rows
        .into_iter()
        .filter_map(|(_, p)| p)
        .filter(|p| huisletter.is_none() || p.verblijf_huisletter == huisletter)
        .filter(|p| q.toevoeging.is_none() || p.verblijf_toevoeging == q.toevoeging)
        .collect();
    require_area_in_scope(&d, gebied)?;
    let subjects: Vec<Bsn> = found
        .iter()
        .filter_map(|p| Bsn::parse(&p.burgerservicenummer).ok())
        .collect();
    let today = crate::policy::today();
    // Only the members the activity allows fields under: `minimise` removes the rest anyway.
    let allowed = d.fields();
    let wanted = |lid: &str| allowed.touches(lid);
    let mut personen: Vec<Value> = found
        .iter()
        .map(|p| persoon_met(p, today, wanted))
        .collect();
    for p in &mut personen {
        d.minimise(p);
    }
    let mut body = json!({
        "adres": {
            "postcode": postcode,
            "huisnummer": huisnummer,
            "huisletter": huisletter,
            "huisnummertoevoeging": q.toevoeging,
        },
        // A lookup without hits is the absence of data, not a finding: the source was asked.
        "bronGeraadpleegd": true,
    });
    body["personen"] = Value::Array(personen);
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond(&body, &subjects, &fields).await
}
