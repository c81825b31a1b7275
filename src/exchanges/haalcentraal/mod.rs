//! Haal Centraal BRP Personen v2 over the RNI: `POST /haalcentraal/api/brp/personen`, the
//! national person API's request and response shapes, so that a client built for that spec
//! works unchanged (apart from the certificate and `X-Processing-Activity`).
//!
//! In order: the body is validated as the spec does (`vraag`, 400 with `invalidParams`), the
//! activity is applied (`Doelbinding`: a raadpleging is the operation `read`, a search
//! `search`), every asked field must be allowed (403 `unauthorizedField`), the source is asked,
//! the asked fields are selected (`velden`) and whatever the activity does not allow removed,
//! and one disclosure record per person is committed before the answer leaves.

pub mod schema;
pub mod velden;
pub mod vraag;

use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use diesel::prelude::*;
use serde_json::{json, Value};

use super::persoon::{persoon_met, GEMEENTE_RNI};
use super::territory::{require_postcode_in_scope, unavailable};
use crate::domain::Bsn;
use crate::minimise::FieldSet;
use crate::policy::enforce::{Doelbinding, Exchange, ACTIVITY_HEADER};
use crate::policy::{Operation, PolicyStore, Scope};
use crate::problem::{Problem, ProblemCode};
use crate::seed::RniPersoon;
use crate::sources::{Sources, Upstream};
use crate::storage::Database;
use vraag::{Criteria, Zoekvraag};

const DATASET: &str = "rni-personen";
const PATH: &str = "/haalcentraal/api/brp/personen";

/// `RaadpleegMetBurgerservicenummer`: reading known persons.
pub struct Raadplegen;
impl Exchange for Raadplegen {
    const DATASET: &'static str = DATASET;
    const OPERATION: Operation = Operation::Read;
}

/// The `ZoekMet…` types: finding persons.
pub struct Zoeken;
impl Exchange for Zoeken {
    const DATASET: &'static str = DATASET;
    const OPERATION: Operation = Operation::Search;
}

/// Persons one search may return; more is a request to narrow the search down.
pub const MAX_ZOEKRESULTATEN: usize = 100;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(PATH)
            .post(personen)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

/// 415 unless the body is declared JSON (`application/json`, any parameters).
fn require_json(req: &HttpRequest) -> Result<(), Problem> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(Problem::new(ProblemCode::UnsupportedMediaType)
            .detail("Gebruik Content-Type: application/json."))
    }
}

/// Zoek of raadpleeg RNI-ingeschrevenen (Haal Centraal BRP Personen v2)
///
/// A raadpleging (RaadpleegMetBurgerservicenummer) answers with `Persoon`, the searches with
/// `PersoonBeperkt`; only the fields asked for in `fields` and allowed under the activity.
/// Fields that do not exist or are delivered automatically are a 400; fields the activity does
/// not allow a 403 `unauthorizedField`. Persons not found are simply absent.
#[utoipa::path(post, path = "/haalcentraal/api/brp/personen", tag = "haalcentraal",
    request_body(content = schema::PersonenQuery, content_type = "application/json"),
    responses((status = 200, description = "The persons found (possibly none)", body = schema::PersonenQueryResponse)))]
pub(crate) async fn personen(
    req: HttpRequest,
    body: web::Bytes,
    db: web::Data<Database>,
    store: web::Data<PolicyStore>,
    sources: web::Data<Sources>,
) -> Result<HttpResponse, Problem> {
    require_json(&req)?;
    let vraag = {
        let policy = store.current();
        let catalogus = policy.register.datasets.get(DATASET).ok_or_else(|| {
            tracing::error!("the register has no dataset {DATASET}");
            Problem::not_available()
        })?;
        Zoekvraag::parse(&body, catalogus)?
    };
    let bron = Bron {
        db: &db,
        upstream: sources.upstream(DATASET),
        body: &body,
    };
    if vraag.zoektype.is_search() {
        beantwoord(Doelbinding::<Zoeken>::extract(&req).await?, vraag, bron).await
    } else {
        beantwoord(Doelbinding::<Raadplegen>::extract(&req).await?, vraag, bron).await
    }
}

/// Where the persons come from: the local dataset, or the provider's Haal Centraal API.
struct Bron<'a> {
    db: &'a Database,
    upstream: Option<&'a Upstream>,
    /// The request as the client sent it (already validated), for forwarding.
    body: &'a [u8],
}

impl Bron<'_> {
    /// Every person the source finds, complete as the source gives them, with their BSN.
    async fn personen<E: Exchange>(
        &self,
        d: &Doelbinding<E>,
        vraag: &Zoekvraag,
        selectie: &FieldSet,
        scoped: bool,
    ) -> Result<Vec<(Bsn, Value)>, Problem> {
        let Some(upstream) = self.upstream else {
            let today = crate::policy::today();
            let found = zoek(self.db, vraag.criteria.clone()).await?;
            // Only the members that the selection (the fields asked, and `rni`) touches, and
            // the one the scope check reads, not the whole person: `selecteer` picks from these.
            let wanted =
                |lid: &str| selectie.touches(lid) || (scoped && lid == "tijdelijkVerblijfsadres");
            return Ok(found
                .iter()
                .filter_map(|p| match Bsn::parse(&p.burgerservicenummer) {
                    Ok(bsn) => Some((bsn, persoon_met(p, today, wanted))),
                    Err(_) => {
                        tracing::error!(
                            "the RNI dataset holds a BSN that fails the elfproef; skipped"
                        );
                        None
                    }
                })
                .collect());
        };
        // Forward the same question, asking also for what the gateway itself needs: the BSN
        // (every person is recorded) and, under a territorial activity, the gemeente.
        let mut forwarded: Value = serde_json::from_slice(self.body).map_err(|_| {
            Problem::new(ProblemCode::ParamsValidation)
                .detail("De body is geen geldig JSON-object.")
        })?;
        let mut fields = vraag.fields.clone();
        fields.push("burgerservicenummer".to_owned());
        if scoped {
            fields.push("tijdelijkVerblijfsadres.gemeentecode".to_owned());
        }
        fields.sort();
        fields.dedup();
        forwarded["fields"] = json!(fields);
        let headers = [
            (ACTIVITY_HEADER, d.authorisation().activity_id.clone()),
            ("traceparent", d.traceparent()),
        ];
        let answer = upstream.read(PATH, &forwarded, &headers).await?;
        let personen = match answer.get("personen") {
            Some(Value::Array(p)) => p.clone(),
            _ => {
                tracing::error!("the upstream Haal Centraal answer has no personen");
                return Err(Problem::not_available());
            }
        };
        Ok(personen
            .into_iter()
            .filter_map(|p| {
                let bsn = p["burgerservicenummer"]
                    .as_str()
                    .and_then(|b| Bsn::parse(b).ok());
                if bsn.is_none() {
                    tracing::error!(
                        "the upstream sent a person without a valid BSN; not disclosed"
                    );
                }
                bsn.map(|b| (b, p))
            })
            .collect())
    }
}

async fn beantwoord<E: Exchange>(
    d: Doelbinding<E>,
    vraag: Zoekvraag,
    bron: Bron<'_>,
) -> Result<HttpResponse, Problem> {
    d.require_fields(vraag.fields.iter().map(String::as_str))?;
    // Under an activity limited to the requester's territory, only persons staying there.
    let territorium = match d.activity().scope {
        Scope::None => None,
        Scope::OwnGemeente | Scope::OwnInhabitants => {
            Some(d.requester.gemeentecode.ok_or_else(|| {
                Problem::new(ProblemCode::OutOfScope).detail(
                    "Deze verwerkingsactiviteit gaat over het grondgebied van een gemeente.",
                )
            })?)
        }
    };
    if let Criteria::PostcodeEnHuisnummer { postcode, .. } = &vraag.criteria {
        require_postcode_in_scope(&d, bron.db, *postcode).await?;
    }
    let selectie = velden::selectie(&vraag.fields);
    // Every RNI person is registered under gemeente 1999; another gemeente finds none.
    let gevonden = match vraag.gemeente_van_inschrijving.as_deref() {
        Some(g) if g != GEMEENTE_RNI => Vec::new(),
        _ => {
            bron.personen(&d, &vraag, &selectie, territorium.is_some())
                .await?
        }
    };
    let gevonden: Vec<(Bsn, Value)> = gevonden
        .into_iter()
        .filter(|(_, p)| {
            territorium.is_none_or(|g| p["tijdelijkVerblijfsadres"]["gemeentecode"] == g.as_str())
        })
        .collect();
    if vraag.zoektype.is_search() && gevonden.len() > MAX_ZOEKRESULTATEN {
        return Err(Problem::new(ProblemCode::ParamsValidation).detail(format!(
            "Deze zoekvraag levert meer dan {MAX_ZOEKRESULTATEN} personen op; maak hem specifieker."
        )));
    }
    let mut subjects = Vec::with_capacity(gevonden.len());
    let mut personen = Vec::with_capacity(gevonden.len());
    let mut rni_geleverd = false;
    for (bsn, mut v) in gevonden {
        velden::selecteer(&mut v, &vraag.fields, &selectie);
        d.minimise(&mut v);
        rni_geleverd |= v.get("rni").is_some();
        subjects.push(bsn);
        personen.push(v);
    }
    let mut fields: Vec<&str> = vraag.fields.iter().map(String::as_str).collect();
    if rni_geleverd {
        fields.push("rni");
    }
    let mut body = json!({ "type": vraag.zoektype.as_str() });
    // Moved in, not through `json!`: that would copy every person once more.
    body["personen"] = Value::Array(personen);
    d.respond(&body, &subjects, &fields).await
}

/// Asks the RNI dataset. Name and date filters beyond the indexed column run here, so that
/// case-insensitive and wildcard matching is the same on SQLite and PostgreSQL.
async fn zoek(db: &Database, criteria: Criteria) -> Result<Vec<RniPersoon>, Problem> {
    if let (Some(pg), Criteria::Burgerservicenummers(bsns)) = (db.pg_reads(), &criteria) {
        if let [bsn] = bsns.as_slice() {
            return super::rni_pg::op_bsn(pg, bsn.as_str())
                .await
                .map_err(unavailable);
        }
    }
    db.run(move |c| {
        use crate::storage::schema::rni_personen::dsl::*;
        let base = rni_personen.select(RniPersoon::as_select());
        let rows: Vec<RniPersoon> = match &criteria {
            // One BSN (a raadpleging, nearly always): `=`, a statement the connection keeps
            // prepared; `IN (…)` is parsed and planned anew on every call.
            Criteria::Burgerservicenummers(bsns) if bsns.len() == 1 => base
                .filter(burgerservicenummer.eq(bsns[0].as_str()))
                .load(c)?,
            Criteria::Burgerservicenummers(bsns) => base
                .filter(burgerservicenummer.eq_any(bsns.iter().map(|b| b.as_str().to_owned())))
                .order(burgerservicenummer)
                .load(c)?,
            Criteria::NaamEnGeboortedatum {
                geboortedatum: g, ..
            } => base
                .filter(geboortedatum.eq(g.format("%Y-%m-%d").to_string()))
                .order(burgerservicenummer)
                .load(c)?,
            Criteria::PostcodeEnHuisnummer {
                postcode,
                huisnummer,
                ..
            } => base
                .filter(verblijf_postcode.eq(postcode.as_str().to_owned()))
                .filter(verblijf_huisnummer.eq(*huisnummer))
                .order(burgerservicenummer)
                .load(c)?,
        };
        Ok(rows.into_iter().filter(|p| matches(&criteria, p)).collect())
    })
    .await
    .map_err(unavailable)
}

/// The filters of a search that the query did not apply.
fn matches(criteria: &Criteria, p: &RniPersoon) -> bool {
    match criteria {
        Criteria::Burgerservicenummers(_) => true,
        Criteria::NaamEnGeboortedatum {
            geslachtsnaam,
            geslacht,
            voorvoegsel,
            voornamen,
            ..
        } => {
            geslachtsnaam.matches(&p.geslachtsnaam)
                && geslacht.as_ref().is_none_or(|g| *g == p.geslacht)
                && voorvoegsel.as_ref().is_none_or(|v| {
                    p.voorvoegsel.as_deref().map(str::to_lowercase) == Some(v.clone())
                })
                && voornamen.as_ref().is_none_or(|v| v.matches(&p.voornamen))
        }
        Criteria::PostcodeEnHuisnummer {
            huisletter,
            huisnummertoevoeging,
            geboortedatum,
            geslachtsnaam,
            ..
        } => {
            huisletter.as_ref().is_none_or(|h| {
                p.verblijf_huisletter
                    .as_ref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(h))
            }) && huisnummertoevoeging.as_ref().is_none_or(|t| {
                p.verblijf_toevoeging
                    .as_ref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(t))
            }) && geboortedatum.is_none_or(|g| p.geboortedatum == g.format("%Y-%m-%d").to_string())
                && geslachtsnaam
                    .as_ref()
                    .is_none_or(|n| n.matches(&p.geslachtsnaam))
        }
    }
}
