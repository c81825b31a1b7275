//! The ABO experiment (Experimentbesluit gemeenten als aangewezen bestuursorgaan): five
//! gemeenten, 2023-10-01 … 2027-09-30, may see the contact details of RNI persons staying in
//! their territory (`rni-contactgegevens`) and update a person's temporary stay address
//! (`rni-verblijfsadres-wijziging`). Which gemeenten and which dates is the register's business;
//! this module only does the work.
//!
//! An update is a write to the source: it is validated, recorded as a disclosure *first* (so
//! that no change can exist without its record; a change that then fails leaves a record of
//! an attempt, never the reverse), then applied in one transaction that keeps the previous
//! address in `rni_verblijfsadres_historie`.

use actix_web::{web, HttpResponse};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::params::invalid;
use super::persoon::{persoon, tijdelijk_verblijfsadres};
use super::territory::{gemeente_of, require_postcode_in_scope, unavailable};
use crate::disclosure::now_ms;
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::domain::{Bsn, Postcode};
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::policy::Operation;
use crate::problem::{Problem, ProblemCode};
use crate::seed::RniPersoon;
use crate::storage::schema::rni_personen;
use crate::storage::Database;

pub struct Contactgegevens;
impl Exchange for Contactgegevens {
    const DATASET: &'static str = "rni-personen";
    const OPERATION: Operation = Operation::Search;
}

pub struct VerblijfsadresWijziging;
impl Exchange for VerblijfsadresWijziging {
    const DATASET: &'static str = "rni-personen";
    const OPERATION: Operation = Operation::Write;
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/rni/contactgegevens")
            .get(contactgegevens)
            .default_service(web::to(crate::problem::method_not_allowed)),
    )
    .service(
        web::resource("/api/v1/rni/personen/{bsn}/verblijfsadres")
            .put(wijzig_verblijfsadres)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

fn postcode(name: &str, value: &str) -> Result<Postcode, Problem> {
    Postcode::parse(value)
        .map_err(|_| invalid(name, "pattern", "Een postcode is 4 cijfers en 2 letters."))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ContactQuery {
    /// 1234AB, in the caller's gemeente.
    postcode: String,
    #[param(minimum = 1, maximum = 99999)]
    huisnummer: Option<i32>,
}

/// Contact details at one postcode (the shape for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct ContactOverzicht {
    postcode: String,
    huisnummer: Option<i32>,
    /// RNI persons: burgerservicenummer, naam, contactgegevens, tijdelijkVerblijfsadres.
    #[schema(value_type = Vec<Object>)]
    personen: Vec<Value>,
    bron_geraadpleegd: bool,
}

/// The answer to a stay-address update (the shape for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct VerblijfsadresGewijzigd {
    burgerservicenummer: String,
    #[schema(value_type = Object)]
    tijdelijk_verblijfsadres: Value,
}

/// Contact details of the RNI persons staying at a postcode in the caller's gemeente
///
/// rni-contactgegevens (experiment ABO): the persons who gave an address at this postcode as
/// their temporary stay address.
#[utoipa::path(get, path = "/api/v1/rni/contactgegevens", tag = "rni", params(ContactQuery),
    responses((status = 200, description = "The persons and their contact details", body = ContactOverzicht)))]
pub(crate) async fn contactgegevens(
    d: Doelbinding<Contactgegevens>,
    q: web::Query<ContactQuery>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let pc = postcode("postcode", &q.postcode)?;
    if q.huisnummer.is_some_and(|n| !(1..=99_999).contains(&n)) {
        return Err(invalid(
            "huisnummer",
            "maximum",
            "Een huisnummer is 1 tot en met 99999.",
        ));
    }
    require_postcode_in_scope(&d, &db, pc).await?;
    let (code, huisnummer) = (pc.as_str().to_owned(), q.huisnummer);
    let found: Vec<RniPersoon> = db
        .run(move |c| {
            use crate::storage::schema::rni_personen::dsl::*;
            let mut query = rni_personen
                .filter(verblijf_postcode.eq(code))
                .select(RniPersoon::as_select())
                .order((verblijf_huisnummer, burgerservicenummer))
                .into_boxed();
            if let Some(n) = huisnummer {
                query = query.filter(verblijf_huisnummer.eq(n));
            }
            query.load(c)
        })
        .await
        .map_err(unavailable)?;
    let today = crate::policy::today();
    let subjects: Vec<Bsn> = found
        .iter()
        .filter_map(|p| Bsn::parse(&p.burgerservicenummer).ok())
        .collect();
    let personen: Vec<Value> = found
        .iter()
        .map(|p| {
            let mut v = persoon(p, today);
            d.minimise(&mut v);
            v
        })
        .collect();
    let mut body = json!({
        "postcode": pc,
        "huisnummer": q.huisnummer,
        "bronGeraadpleegd": true,
    });
    body["personen"] = Value::Array(personen);
    let fields: Vec<&str> = d.fields().paths().collect();
    d.respond(&body, &subjects, &fields).await
}

/// The new temporary stay address, as a gemeente submits it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NieuwVerblijfsadres {
    #[schema(min_length = 1, max_length = 80)]
    straat: String,
    #[schema(minimum = 1, maximum = 99999)]
    huisnummer: i32,
    #[schema(pattern = r"^[a-zA-Z]$")]
    huisletter: Option<String>,
    #[schema(pattern = r"^[a-zA-Z0-9 \-]{1,4}$")]
    huisnummertoevoeging: Option<String>,
    #[schema(pattern = r"^[1-9][0-9]{3} ?[A-Za-z]{2}$")]
    postcode: String,
    #[schema(min_length = 1, max_length = 80)]
    woonplaats: String,
    /// Not in the future.
    #[schema(format = Date)]
    datum_aanvang: String,
}

/// A validated stay address, ready to store.
struct Verblijfsadres {
    straat: String,
    huisnummer: i32,
    huisletter: Option<String>,
    toevoeging: Option<String>,
    postcode: Postcode,
    woonplaats: String,
    datum_aanvang: NaiveDate,
}

/// A street or place name: 1–80 letters (with diacritics), digits, spaces, `.`, `-`, `'`.
fn naam(name: &str, value: &str) -> Result<String, Problem> {
    let ok = !value.trim().is_empty()
        && value.chars().count() <= 80
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '-' | '\''));
    if ok {
        Ok(value.trim().to_owned())
    } else {
        Err(invalid(
            name,
            "pattern",
            "1 tot 80 letters, cijfers, spaties, punten, streepjes of apostrofs.",
        ))
    }
}

impl NieuwVerblijfsadres {
    fn validate(self, today: NaiveDate) -> Result<Verblijfsadres, Problem> {
        if !(1..=99_999).contains(&self.huisnummer) {
            return Err(invalid(
                "huisnummer",
                "maximum",
                "Een huisnummer is 1 tot en met 99999.",
            ));
        }
        let huisletter = match self.huisletter {
            Some(l) if l.len() == 1 && l.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(l.to_ascii_uppercase())
            }
            Some(_) => {
                return Err(invalid(
                    "huisletter",
                    "pattern",
                    "Een huisletter is één letter.",
                ))
            }
            None => None,
        };
        let toevoeging = match self.huisnummertoevoeging {
            Some(t)
                if (1..=4).contains(&t.len())
                    && t.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-') =>
            {
                Some(t)
            }
            Some(_) => {
                return Err(invalid(
                    "huisnummertoevoeging",
                    "pattern",
                    "Een toevoeging is 1 tot 4 letters, cijfers, spaties of streepjes.",
                ))
            }
            None => None,
        };
        let datum_aanvang = NaiveDate::parse_from_str(&self.datum_aanvang, "%Y-%m-%d")
            .ok()
            .filter(|d| self.datum_aanvang.len() == 10 && *d <= today)
            .ok_or_else(|| {
                invalid(
                    "datumAanvang",
                    "date",
                    "Een datum (JJJJ-MM-DD), niet in de toekomst.",
                )
            })?;
        Ok(Verblijfsadres {
            straat: naam("straat", &self.straat)?,
            huisnummer: self.huisnummer,
            huisletter,
            toevoeging,
            postcode: postcode("postcode", &self.postcode)?,
            woonplaats: naam("woonplaats", &self.woonplaats)?,
            datum_aanvang,
        })
    }
}

/// Records a new temporary stay address in the caller's own territory
///
/// rni-verblijfsadres-wijziging (experiment ABO). The previous address is kept as history;
/// the change is recorded in the disclosure log before it is applied.
#[utoipa::path(put, path = "/api/v1/rni/personen/{bsn}/verblijfsadres", tag = "rni",
    params(("bsn" = String, Path, description = "Burgerservicenummer (elfproef)", pattern = r"^[0-9]{9}$")),
    request_body(content = NieuwVerblijfsadres, content_type = "application/json"),
    responses((status = 200, description = "The address now recorded", body = VerblijfsadresGewijzigd)))]
pub(crate) async fn wijzig_verblijfsadres(
    d: Doelbinding<VerblijfsadresWijziging>,
    path: web::Path<String>,
    body: web::Json<NieuwVerblijfsadres>,
    db: web::Data<Database>,
) -> Result<HttpResponse, Problem> {
    let bsn = Bsn::parse(&path.into_inner()).map_err(|_| {
        invalid(
            "bsn",
            "elfproef",
            "Een burgerservicenummer is 9 cijfers die aan de elfproef voldoen.",
        )
    })?;
    let adres = body.into_inner().validate(crate::policy::today())?;
    require_postcode_in_scope(&d, &db, adres.postcode).await?;
    let gemeente = gemeente_of(&db, adres.postcode)
        .await?
        .ok_or_else(|| Problem::new(ProblemCode::OutOfScope))?;
    let nummer = bsn.as_str().to_owned();
    let exists: bool = db
        .run(move |c| {
            diesel::select(diesel::dsl::exists(
                rni_personen::table.filter(rni_personen::burgerservicenummer.eq(nummer)),
            ))
            .get_result(c)
        })
        .await
        .map_err(unavailable)?;
    if !exists {
        return Err(Problem::not_found()
            .detail("Er is geen RNI-ingeschrevene met dit burgerservicenummer."));
    }
    // The record first: a change can never exist without one.
    let disclosure_id = d
        .disclose(&[bsn], &["burgerservicenummer", "tijdelijkVerblijfsadres"])
        .await?;
    let door = d.requester.oin.to_string();
    let id = disclosure_id.clone();
    let nummer = bsn.as_str().to_owned();
    let nieuw = (
        adres.straat,
        adres.huisnummer,
        adres.huisletter,
        adres.toevoeging,
        adres.postcode.as_str().to_owned(),
        adres.woonplaats,
        gemeente.as_str().to_owned(),
        adres.datum_aanvang.format("%Y-%m-%d").to_string(),
    );
    let bijgewerkt: RniPersoon = db
        .run(move |c| apply(c, &nummer, &nieuw, &door, &id))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "stay address not changed after its disclosure record");
            Problem::not_available()
        })?;
    let mut answer = json!({
        "burgerservicenummer": bijgewerkt.burgerservicenummer,
        "tijdelijkVerblijfsadres": tijdelijk_verblijfsadres(&bijgewerkt),
    });
    d.minimise(&mut answer);
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), disclosure_id))
        .json(answer))
}

type NieuwAdres = (
    String,
    i32,
    Option<String>,
    Option<String>,
    String,
    String,
    String,
    String,
);

/// The current address to the history, numbered after the person's last change. Run after
/// the person's row is locked (see `apply`), so the number read is the last committed one.
/// The parameters appear in the text in their own order: SQLite numbers `$n` by first
/// appearance.
const TO_HISTORY: &str = "INSERT INTO rni_verblijfsadres_historie (burgerservicenummer, volgnummer, \
    verblijf_straat, verblijf_huisnummer, verblijf_huisletter, verblijf_toevoeging, verblijf_postcode, \
    verblijf_woonplaats, verblijf_gemeentecode, verblijf_datum_aanvang, gewijzigd_op_ms, \
    gewijzigd_door_oin, disclosure_id) \
    SELECT p.burgerservicenummer, COALESCE((SELECT MAX(h.volgnummer) FROM rni_verblijfsadres_historie h \
    WHERE h.burgerservicenummer = p.burgerservicenummer), 0) + 1, p.verblijf_straat, p.verblijf_huisnummer, \
    p.verblijf_huisletter, p.verblijf_toevoeging, p.verblijf_postcode, p.verblijf_woonplaats, \
    p.verblijf_gemeentecode, p.verblijf_datum_aanvang, $1, $2, $3 \
    FROM rni_personen p WHERE p.burgerservicenummer = $4";

/// In one transaction: the current address to the history, the new one in its place.
fn apply(
    c: &mut crate::storage::DbConnection,
    nummer: &str,
    nieuw: &NieuwAdres,
    door: &str,
    disclosure_id: &str,
) -> Result<RniPersoon, diesel::result::Error> {
    use diesel::sql_types::{BigInt, Text};
    c.transaction(|c| {
        // Lock the person first (a row lock on PostgreSQL, the write lock on SQLite): a
        // concurrent change of the same person waits here for this one to commit, and then
        // numbers its history after it, instead of claiming the same number.
        use crate::storage::schema::rni_personen::dsl as p;
        diesel::update(p::rni_personen.find(nummer))
            .set(p::verblijf_straat.eq(p::verblijf_straat))
            .execute(c)?;
        let moved = diesel::sql_query(TO_HISTORY)
            .bind::<BigInt, _>(now_ms())
            .bind::<Text, _>(door)
            .bind::<Text, _>(disclosure_id)
            .bind::<Text, _>(nummer)
            .execute(c)?;
        if moved != 1 {
            return Err(diesel::result::Error::NotFound);
        }
        let (straat, huisnummer, huisletter, toevoeging, postcode, woonplaats, gemeente, datum) =
            nieuw;
        diesel::update(p::rni_personen.find(nummer))
            .set((
                p::verblijf_straat.eq(Some(straat)),
                p::verblijf_huisnummer.eq(Some(*huisnummer)),
                p::verblijf_huisletter.eq(huisletter.as_ref()),
                p::verblijf_toevoeging.eq(toevoeging.as_ref()),
                p::verblijf_postcode.eq(Some(postcode)),
                p::verblijf_woonplaats.eq(Some(woonplaats)),
                p::verblijf_gemeentecode.eq(Some(gemeente)),
                p::verblijf_datum_aanvang.eq(Some(datum)),
            ))
            .execute(c)?;
        rni_personen::table
            .find(nummer)
            .select(RniPersoon::as_select())
            .first(c)
    })
}
