//! `GET /audit/ui/`: the start page. Not signed in: the sign-in page. Signed in: who the
//! user is and what they see, the timeline of disclosures per day and activity in a period
//! (default: the last 30 days) and the period's totals, from `stats::count` with
//! `group_by=day-activity`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate};
use maud::html;

use super::sessie::{sign_in_page, NotSignedIn, Signed};
use super::tijdlijn::{self, Series};
use super::{
    form_query, given, page, period_field, problem_box, query_string, role_name, status_of, BASE,
};
use crate::audit::stats::{self, StatsQuery};
use crate::audit::{amsterdam, Audit};

/// Days the start page shows when no period is asked for.
const DEFAULT_DAYS: i64 = 30;

pub async fn overzicht(
    signed: Result<Signed, NotSignedIn>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> HttpResponse {
    let signed = match signed {
        Ok(s) => s,
        Err(NotSignedIn::Missing) => {
            let note = match req.query_string() {
                "aanmelding=afgemeld" => Some("U bent afgemeld."),
                "aanmelding=verlopen" => {
                    Some("Uw aanmelding is verlopen of niet meer geldig; meld u opnieuw aan.")
                }
                _ => None,
            };
            return sign_in_page(&audit, StatusCode::OK, None, note);
        }
        Err(e) => return actix_web::ResponseError::error_response(&e),
    };
    let (typed_in, q) = form_query::<StatsQuery>(&req);
    let today = amsterdam::local(crate::disclosure::now_ms()).date();
    let default_from = (today - Duration::days(DEFAULT_DAYS - 1)).to_string();
    let default_to = today.to_string();
    let from = Some(given(&typed_in, "from"))
        .filter(|v| !v.is_empty())
        .unwrap_or(&default_from)
        .to_owned();
    let to = Some(given(&typed_in, "to"))
        .filter(|v| !v.is_empty())
        .unwrap_or(&default_to)
        .to_owned();
    let result = match q {
        Ok(_) if typed_in.contains_key("group_by") => Err(crate::audit::invalid(
            "group_by",
            "De startpagina telt per dag en activiteit.",
        )),
        Ok(_) => {
            let q = StatsQuery {
                from: Some(from.clone()),
                to: Some(to.clone()),
                group_by: Some("day-activity".into()),
            };
            stats::count(&audit, &signed.who, &req, &q)
                .await
                .map(|(v, _)| v)
        }
        Err(p) => Err(p),
    };
    let ziet = match signed.who.role {
        crate::audit::token::Role::PrivacyOfficer => {
            "de verstrekkingen waarbij uw organisatie ontvanger of verstrekker was"
        }
        crate::audit::token::Role::Supervisor => "alle verstrekkingen van alle organisaties",
    };
    let form = html! {
        form.filters method="get" action=(format!("{BASE}/")) {
            fieldset {
                legend { "Periode" }
                (period_field("van", "from", "Van", &from))
                (period_field("tot", "to", "Tot en met", &to))
                button type="submit" { "Toon" }
            }
        }
    };
    let intro = html! {
        h1 { "Overzicht" }
        p {
            "U bent aangemeld voor " strong { (signed.who.organisation.name) } " als " (role_name(signed.who.role))
            ". U ziet " (ziet) ". Uw aanmelding verloopt om "
            (super::moment(signed.who.expires_at.min(i64::MAX as u64 / 1000) as i64 * 1000)) "."
        }
        (form)
    };
    let body = match result {
        Err(p) => {
            return page(
                status_of(&p),
                "Overzicht",
                Some(&signed),
                "/",
                html! { (intro) (problem_box(&p)) },
            );
        }
        Ok(v) => v,
    };
    let first = day_of(body["van"].as_str()).unwrap_or(today);
    let last = body["tot"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| amsterdam::local(t.timestamp_millis() - 1).date())
        .unwrap_or(today);
    let mut series = Series::new(first, last.max(first));
    for g in body["groepen"].as_array().into_iter().flatten() {
        if let (Some(day), Some(activity)) = (g["sleutel"].as_str(), g["activiteit"].as_str()) {
            if let Ok(day) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
                series.add(day, activity, g["verstrekkingen"].as_i64().unwrap_or(0));
            }
        }
    }
    let totaal = &body["totaal"];
    let n = |k: &str| totaal[k].as_i64().unwrap_or(0);
    let period = [("from", from.as_str()), ("to", to.as_str())];
    let search = |kind: &str| {
        format!(
            "{BASE}/zoeken?{}",
            query_string(period.iter().copied().chain([("kind", kind)]))
        )
    };
    let html = html! {
        (intro)
        section aria-labelledby="kop-tijdlijn" {
            h2 id="kop-tijdlijn" { "Verstrekkingen per dag" }
            p { "Elke balk is een dag; de kleuren zijn de verwerkingsactiviteiten waaronder gegevens werden verstrekt (een verzoek telt één keer, hoeveel personen het ook betrof)." }
            (tijdlijn::chart(&series))
        }
        section aria-labelledby="kop-totalen" {
            h2 id="kop-totalen" { "Totalen in deze periode" }
            dl.totalen {
                div { dt { "Verstrekkingen" } dd id="totaal-verstrekkingen" { a href=(search("verstrekking")) { (n("verstrekkingen")) } } }
                div { dt { "Personen over wie gegevens zijn verstrekt (records)" } dd { a href=(search("persoon")) { (n("personen")) } } }
                div { dt { "Weigeringen" } dd id="totaal-weigeringen" { a href=(search("weigering")) { (n("weigeringen")) } } }
                div { dt { "Raadplegingen van het logboek" } dd { a href=(search("raadpleging")) { (n("raadplegingen")) } } }
            }
        }
    };
    page(StatusCode::OK, "Overzicht", Some(&signed), "/", html)
}

/// The Dutch day of an RFC 3339 instant.
fn day_of(t: Option<&str>) -> Option<NaiveDate> {
    let t = chrono::DateTime::parse_from_rfc3339(t?).ok()?;
    Some(amsterdam::local(t.timestamp_millis()).date())
}
