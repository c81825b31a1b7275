//! `GET /audit/ui/signalen`: the anomaly signals of `anomalieen::signals` in a period
//! (default the last 7 days), each with what it is based on and a link to its records.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use serde_json::Value;

use super::sessie::Signed;
use super::{form_query, given, page, period_field, problem_box, status_of, BASE};
use crate::audit::anomalieen::{self, AnomalieQuery};
use crate::audit::Audit;

fn soort(s: &str) -> &str {
    match s {
        "volume" => "Ongewoon veel verzoeken",
        "weigeringen" => "Veel weigeringen",
        "buiten-kantooruren" => "Verzoeken buiten kantooruren",
        "zaakkenmerk" => "Eén zaakkenmerk, veel personen",
        other => other,
    }
}

/// The API's link to the records, as a link to the UI's search.
fn records_link(api: &str) -> Option<String> {
    api.strip_prefix("/audit/v1/disclosures")
        .map(|rest| format!("{BASE}/zoeken{rest}"))
}

pub async fn signalen(signed: Signed, audit: web::Data<Audit>, req: HttpRequest) -> HttpResponse {
    let (typed, q) = form_query::<AnomalieQuery>(&req);
    let found = match q {
        Ok(q) => anomalieen::signals(&audit, &signed.who, &req, &q)
            .await
            .map(|(v, _)| v),
        Err(p) => Err(p),
    };
    let intro = html! {
        h1 { "Signalen" }
        p { "Patronen die een nadere blik waard kunnen zijn: een organisatie die ineens veel meer vraagt dan gewoonlijk, veel geweigerde verzoeken, verzoeken buiten kantooruren, of één zaakkenmerk voor heel veel personen. Een signaal is geen oordeel." }
        form.filters method="get" action=(format!("{BASE}/signalen")) {
            fieldset {
                legend { "Periode (standaard de laatste 7 dagen, hoogstens 92)" }
                (period_field("s-van", "from", "Van", given(&typed, "from")))
                (period_field("s-tot", "to", "Tot en met", given(&typed, "to")))
                button type="submit" { "Toon" }
            }
        }
    };
    let body = match found {
        Err(p) => {
            return page(
                status_of(&p),
                "Signalen",
                Some(&signed),
                "/signalen",
                html! { (intro) (problem_box(&p)) },
            )
        }
        Ok(v) => v,
    };
    let signals: Vec<&Value> = body["signalen"].as_array().into_iter().flatten().collect();
    let name = |v: &Value| {
        v["organisatie"]["naam"]
            .as_str()
            .or(v["organisatie"]["oin"].as_str())
            .unwrap_or("—")
            .to_owned()
    };
    let html = html! {
        (intro)
        section aria-labelledby="kop-signalen" {
            h2 id="kop-signalen" {
                @if signals.is_empty() { "Geen signalen in deze periode" } @else { "Signalen: " (signals.len()) }
            }
            p.uitleg { "Kantooruren: " (body["kantooruren"].as_str().unwrap_or("")) "." }
            @if !signals.is_empty() {
                div.tabel role="region" aria-labelledby="kop-signalen" tabindex="0" {
                    table id="signalen" {
                        thead { tr {
                            th scope="col" { "Signaal" } th scope="col" { "Organisatie" }
                            th scope="col" { "Dag of zaakkenmerk" } th scope="col" { "Toelichting" } th scope="col" { "Records" }
                        } }
                        tbody {
                            @for s in &signals {
                                tr {
                                    td { (soort(s["soort"].as_str().unwrap_or(""))) }
                                    td { (name(s)) }
                                    td { (s["dag"].as_str().or(s["zaakkenmerk"].as_str()).unwrap_or("—")) }
                                    td { (s["toelichting"].as_str().unwrap_or("")) }
                                    td {
                                        @if let Some(link) = s["records"].as_str().and_then(records_link) {
                                            a href=(link) { "Bekijk de records" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(StatusCode::OK, "Signalen", Some(&signed), "/signalen", html)
}
