//! `GET /audit/ui/zoeken`: the records of the user's tenant with the API's filters (period,
//! requester, provider, activity, status, refusal code, case reference, kind), newest first,
//! a page at a time (the API's cursor). With `kind=weigering` it is the list of refusals.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{Map, Value};

use super::sessie::Signed;
use super::{
    form_query, given, moment, page, party_name, period_field, problem_box, query_string,
    status_of, BASE,
};
use crate::audit::records::{Kind, RecordView};
use crate::audit::search::{self, DisclosureQuery};
use crate::audit::Audit;

/// Records per page in the UI.
const PAGE: &str = "50";

/// The filter fields, in the form's order (the period is drawn apart).
const TEXT_FIELDS: [(&str, &str, &str); 5] = [
    (
        "requester",
        "Verzoeker",
        "OIN of naam, zoals gemeente-0363 of nla",
    ),
    ("provider", "Verstrekker", "OIN of naam, zoals rvig of uwv"),
    (
        "activity",
        "Verwerkingsactiviteit",
        "zoals rni-adresoverzicht",
    ),
    (
        "refusal_code",
        "Weigeringscode",
        "zoals outOfScope of notPermitted",
    ),
    (
        "case_reference",
        "Zaakkenmerk",
        "het zaakkenmerk van de verzoeker",
    ),
];

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Verstrekking => "Verstrekking",
        Kind::Persoon => "Persoon",
        Kind::Weigering => "Weigering",
        Kind::Raadpleging => "Raadpleging",
    }
}

fn select(id: &str, name: &str, label: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        div.veld {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[*value == current] { (text) }
                }
            }
        }
    }
}

fn filters(q: &Map<String, Value>) -> Markup {
    html! {
        form.filters method="get" action=(format!("{BASE}/zoeken")) {
            fieldset {
                legend { "Filters" }
                (period_field("f-van", "from", "Van", given(q, "from")))
                (period_field("f-tot", "to", "Tot en met", given(q, "to")))
                @for (name, label, hint) in TEXT_FIELDS {
                    @let id = format!("f-{name}");
                    div.veld {
                        label for=(id) { (label) }
                        input id=(id) name=(name) type="text" value=(given(q, name)) placeholder=(hint) autocomplete="off";
                    }
                }
                (select("f-status", "status", "Status", given(q, "status"), &[("", "alle"), ("OK", "OK (verstrekt of geraadpleegd)"), ("ERROR", "ERROR (geweigerd of mislukt)"), ("UNKNOWN", "UNKNOWN")]))
                (select("f-kind", "kind", "Soort record", given(q, "kind"), &[("", "alle"), ("verstrekking", "verstrekking (een verzoek)"), ("persoon", "persoon (per betrokkene)"), ("weigering", "weigering"), ("raadpleging", "raadpleging van het logboek")]))
                div.knoppen {
                    button type="submit" { "Zoeken" }
                    a href=(format!("{BASE}/zoeken")) { "Filters wissen" }
                }
            }
        }
    }
}

fn outcome(r: &RecordView) -> String {
    match &r.refusal_code {
        Some(code) => format!("{} ({code})", r.status_code),
        None => r.status_code.clone(),
    }
}

fn table(records: &[RecordView]) -> Markup {
    html! {
        div.tabel role="region" aria-labelledby="kop-resultaten" tabindex="0" {
            table id="resultaten" {
                thead {
                    tr {
                        th scope="col" { "Tijdstip" }
                        th scope="col" { "Soort" }
                        th scope="col" { "Verzoeker" }
                        th scope="col" { "Verstrekker" }
                        th scope="col" { "Verwerkingsactiviteit" }
                        th scope="col" { "Uitkomst" }
                        th scope="col" { "Zaakkenmerk" }
                        th scope="col" { "Gegevens" }
                        th scope="col" { "Aantal" }
                        th scope="col" { "Kenmerk" }
                    }
                }
                tbody {
                    @for r in records {
                        tr {
                            td.tijd { (moment(r.start_time)) }
                            td { (kind_name(r.kind())) }
                            td { (party_name(r.requester.as_ref())) }
                            td { (party_name(r.provider.as_ref())) }
                            td { (r.processing_activity_id.as_deref().unwrap_or("—")) }
                            td { (outcome(r)) }
                            td { (r.case_reference.as_deref().unwrap_or("—")) }
                            td.gegevens { (r.fields.join(", ")) }
                            td.getal { (r.record_count) }
                            td.kenmerk { (r.id) }
                        }
                    }
                }
            }
        }
    }
}

pub async fn zoeken(signed: Signed, audit: web::Data<Audit>, req: HttpRequest) -> HttpResponse {
    let (mut typed, q) = form_query::<DisclosureQuery>(&req);
    let refusals = given(&typed, "kind") == "weigering";
    let (title, current) = if refusals {
        ("Weigeringen", "/zoeken?kind=weigering")
    } else {
        ("Zoeken in het logboek", "/zoeken")
    };
    let found = match q {
        Ok(mut q) => {
            q.limit = Some(q.limit.unwrap_or_else(|| PAGE.into()));
            search::search(&audit, &signed.who, &req, &q).await
        }
        Err(p) => Err(p),
    };
    typed.remove("limit");
    let cursor = typed.remove("cursor");
    let intro = html! {
        h1 { (title) }
        @if refusals {
            p { "Verzoeken die doelpoort weigerde: de gevraagde gegevens zijn niet verstrekt. De code zegt waarom (bijvoorbeeld " code { "outOfScope" } ": buiten het eigen gebied, " code { "notPermitted" } ": geen regel staat het toe)." }
        } @else {
            p { "Elke verstrekking, weigering en raadpleging staat in het logboek, de nieuwste eerst. Een verstrekking over meer personen heeft een record per persoon." }
        }
        (filters(&typed))
    };
    let page_result = match found {
        Err(p) => {
            return page(
                status_of(&p),
                title,
                Some(&signed),
                current,
                html! { (intro) (problem_box(&p)) },
            )
        }
        Ok(r) => r,
    };
    let filter_pairs: Vec<(&str, &str)> = typed
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        .collect();
    let next = page_result.volgende.as_ref().map(|c| {
        format!(
            "{BASE}/zoeken?{}",
            query_string(filter_pairs.iter().copied().chain([("cursor", c.as_str())]))
        )
    });
    let first = cursor.is_some().then(|| {
        format!(
            "{BASE}/zoeken?{}",
            query_string(filter_pairs.iter().copied())
        )
    });
    let body = html! {
        (intro)
        section aria-labelledby="kop-resultaten" {
            h2 id="kop-resultaten" {
                @if page_result.records.is_empty() { "Geen records gevonden" }
                @else if cursor.is_some() { "Records (volgende pagina): " (page_result.records.len()) }
                @else { "Records: " (page_result.records.len()) @if next.is_some() { " (eerste pagina)" } }
            }
            @if !page_result.records.is_empty() { (table(&page_result.records)) }
            nav.paginas aria-label="Pagina's" {
                @if let Some(f) = &first { a href=(f) { "Naar de eerste pagina" } }
                @if let Some(n) = &next { a href=(n) rel="next" { "Volgende pagina" } }
            }
        }
    };
    page(StatusCode::OK, title, Some(&signed), current, body)
}
