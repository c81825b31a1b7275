//! The web UI for privacy officers and supervisors, under `/audit/ui/` on the audit listener:
//! server-rendered HTML (maud) with one stylesheet and no JavaScript, so every control is a
//! plain link, form field or button (keyboard operable, labelled, `lang="nl"`).
//!
//! - `sessie`: signing in (a pasted token; in development also a dev login), the cookie
//!   (HttpOnly, Secure, SameSite=Strict) that carries the token, the CSRF token of every form;
//! - `overzicht`: the start page: who is signed in, the timeline of disclosures per day and
//!   activity (`tijdlijn`: an SVG drawn here), the totals of the period;
//! - `zoeken`: search with the API's filters and cursor paging (also: the refusals);
//! - `signalen`: the anomaly signals;
//! - `inzage`: the report for one BSN (posted, never in a URL), printable as PDF;
//! - `integriteit`: the verification of the log (supervisors).
//!
//! Every page answers through the API's own functions (`search::search`, `stats::count`,
//! `anomalieen::signals`, `inzage::report`, `integrity`): the same checks, the same tenant
//! from the token, and the same audit record of every query. Neither the token nor a BSN is
//! ever put into a URL.

mod integriteit;
mod inzage;
mod overzicht;
pub mod sessie;
mod signalen;
mod tijdlijn;
mod zoeken;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::token::Role;
use crate::problem::Problem;
use crate::telemetry::HumanPage;
use sessie::Signed;

/// Where the UI lives.
pub const BASE: &str = "/audit/ui";

const STYLE: &str = include_str!("stijl.css");
const ICON: &str = include_str!("favicon.svg");
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| {
        web::resource(format!("{BASE}{path}"))
            .default_service(web::to(crate::problem::method_not_allowed))
    };
    cfg.service(resource("").get(|| async { see_other(&format!("{BASE}/")) }))
        .service(resource("/").get(overzicht::overzicht))
        .service(resource("/aanmelden").post(sessie::aanmelden))
        .service(resource("/aanmelden/dev").post(sessie::dev_aanmelden))
        .service(resource("/afmelden").post(sessie::afmelden))
        .service(resource("/zoeken").get(zoeken::zoeken))
        .service(resource("/signalen").get(signalen::signalen))
        .service(
            resource("/inzage")
                .get(inzage::formulier)
                .post(inzage::overzicht),
        )
        .service(
            resource("/integriteit")
                .get(integriteit::pagina)
                .post(integriteit::controleer),
        )
        .service(resource("/stijl.css").get(stylesheet))
        .service(resource("/favicon.svg").get(|| async {
            HttpResponse::Ok()
                .content_type("image/svg+xml")
                .insert_header((header::CACHE_CONTROL, "max-age=3600"))
                .body(ICON)
        }));
}

/// The UI's stylesheet and the inzage report's own (so that a report prints alike from the
/// API and from here).
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "max-age=3600"))
        .body(format!("{STYLE}\n{}", super::inzage::REPORT_STYLE))
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_owned()))
        .finish()
}

/// The menu: (path, label).
const MENU: [(&str, &str); 6] = [
    ("/", "Overzicht"),
    ("/zoeken", "Zoeken"),
    ("/zoeken?kind=weigering", "Weigeringen"),
    ("/signalen", "Signalen"),
    ("/inzage", "Inzage"),
    ("/integriteit", "Integriteit"),
];

pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::PrivacyOfficer => "functionaris gegevensbescherming",
        Role::Supervisor => "toezichthouder",
    }
}

/// A whole page: `current` is the menu entry (path) it belongs to.
pub(crate) fn page(
    status: StatusCode,
    title: &str,
    signed: Option<&Signed>,
    current: &str,
    body: Markup,
) -> HttpResponse {
    let markup = html! {
        (DOCTYPE)
        html lang="nl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — doelpoort logboek" }
                link rel="stylesheet" href=(format!("{BASE}/stijl.css"));
                link rel="icon" type="image/svg+xml" href=(format!("{BASE}/favicon.svg"));
            }
            body {
                a.overslaan href="#inhoud" { "Direct naar de inhoud" }
                header.kop {
                    p.merk { a href=(format!("{BASE}/")) { "doelpoort" } span { " · logboek van verstrekkingen" } }
                    @if let Some(s) = signed {
                        nav aria-label="Hoofdmenu" {
                            ul {
                                @for (path, label) in MENU {
                                    li {
                                        a href=(format!("{BASE}{path}"))
                                          aria-current=[(path == current).then_some("page")] { (label) }
                                    }
                                }
                            }
                        }
                        div.sessie {
                            p {
                                "Aangemeld voor " strong { (s.who.organisation.name) }
                                " als " (role_name(s.who.role))
                            }
                            form method="post" action=(format!("{BASE}/afmelden")) {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button type="submit" { "Afmelden" }
                            }
                        }
                    }
                }
                main id="inhoud" tabindex="-1" { (body) }
                footer.voet {
                    p { "Elke raadpleging in deze omgeving wordt zelf ook vastgelegd in het logboek: wie keek, wanneer, en met welk filter." }
                }
            }
        }
    };
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .body(markup.into_string());
    res.extensions_mut().insert(HumanPage);
    res
}

/// What went wrong, as the API's problem says it.
pub(crate) fn problem_box(p: &Problem) -> Markup {
    html! {
        div.fout role="alert" {
            p { strong { "Dat lukte niet. " } (p.detail.as_deref().unwrap_or("Het verzoek kon niet worden uitgevoerd.")) }
            @if !p.invalid_params.is_empty() {
                ul {
                    @for i in &p.invalid_params {
                        li { (label_of(&i.name)) ": " (i.reason) }
                    }
                }
            }
        }
    }
}

/// The status of a page that shows `p`.
pub(crate) fn status_of(p: &Problem) -> StatusCode {
    StatusCode::from_u16(p.status()).unwrap_or(StatusCode::BAD_REQUEST)
}

/// The Dutch label of a query parameter, as the forms show it.
fn label_of(name: &str) -> &str {
    match name {
        "from" => "Van",
        "to" => "Tot en met",
        "requester" => "Verzoeker",
        "provider" => "Verstrekker",
        "activity" => "Verwerkingsactiviteit",
        "status" => "Status",
        "refusal_code" => "Weigeringscode",
        "case_reference" => "Zaakkenmerk",
        "kind" => "Soort record",
        "cursor" => "Pagina",
        "burgerservicenummer" => "Burgerservicenummer",
        other => other,
    }
}

/// The query of a page's GET form: the parameters given a value (a form sends its empty
/// fields as `name=`), as `T` for the API's functions and as they were typed, to fill the
/// form in again.
pub(crate) fn form_query<T: DeserializeOwned + Default>(
    req: &HttpRequest,
) -> (Map<String, Value>, Result<T, Problem>) {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let mut given = Map::new();
    for (k, v) in pairs {
        let v = v.trim();
        if !v.is_empty() {
            given.insert(k, Value::String(v.to_owned()));
        }
    }
    let parsed = serde_json::from_value::<T>(Value::Object(given.clone())).map_err(|_| {
        Problem::new(crate::problem::ProblemCode::ParamsValidation)
            .detail("Het adres van deze pagina bevat een onbekende parameter.")
    });
    (given, parsed)
}

/// A typed value back from `form_query`'s map.
pub(crate) fn given<'a>(map: &'a Map<String, Value>, name: &str) -> &'a str {
    map.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A `from`/`to` field: a date picker for a date (or nothing), plain text for an instant.
pub(crate) fn period_field(id: &str, name: &str, label: &str, value: &str) -> Markup {
    let is_date = value.is_empty() || chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok();
    html! {
        div.veld {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(if is_date { "date" } else { "text" }) value=(value);
        }
    }
}

/// An organisation as people know it: its name, else its OIN.
pub(crate) fn party_name(p: Option<&super::records::Party>) -> String {
    match p {
        Some(p) => p.naam.clone().unwrap_or_else(|| p.oin.clone()),
        None => "—".to_owned(),
    }
}

/// "24-11-2026 10:15:03", Dutch time.
pub(crate) fn moment(ms: i64) -> String {
    super::amsterdam::local(ms)
        .format("%d-%m-%Y %H:%M:%S")
        .to_string()
}

/// A query string from (name, value) pairs, each value percent-encoded.
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", super::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
