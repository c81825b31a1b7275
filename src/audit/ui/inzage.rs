//! `GET /audit/ui/inzage`: the form; `POST /audit/ui/inzage`: the report of
//! `inzage::report` for one BSN, which is posted (never in a URL, never put back into the
//! page but for its last three digits). Shown in the page with a print stylesheet, so that
//! the browser's "print" or "save as PDF" gives the report alone; or as CSV.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::sessie::{check_form, Signed};
use super::{page, problem_box, status_of, BASE};
use crate::audit::inzage::{self, Format};
use crate::audit::Audit;
use crate::disclosure::refusals::DISCLOSURE_ID;

fn form(signed: &Signed) -> Markup {
    html! {
        h1 { "Inzage voor een persoon" }
        p { "Een overzicht van alle verstrekkingen van gegevens over één persoon (artikel 15 AVG): welke organisatie welke gegevens ontving, wanneer, van wie, waarvoor en op welke grondslag. U kunt het afdrukken of als PDF bewaren en aan de persoon geven." }
        form.blok method="post" action=(format!("{BASE}/inzage")) {
            input type="hidden" name="csrf" value=(signed.csrf);
            div.veld {
                label for="bsn" { "Burgerservicenummer" }
                input id="bsn" name="burgerservicenummer" type="text" inputmode="numeric" autocomplete="off"
                    required pattern="[0-9]{9}" maxlength="9" aria-describedby="bsn-uitleg";
                p.uitleg id="bsn-uitleg" { "Negen cijfers. Het nummer wordt niet bewaard en komt niet in het adres van de pagina; het logboek kent de persoon alleen onder een pseudoniem." }
            }
            div.knoppen {
                button type="submit" name="formaat" value="html" { "Toon het overzicht" }
                button.tweede type="submit" name="formaat" value="csv" { "Download als CSV" }
            }
        }
    }
}

pub async fn formulier(signed: Signed) -> HttpResponse {
    page(
        StatusCode::OK,
        "Inzage",
        Some(&signed),
        "/inzage",
        form(&signed),
    )
}

#[derive(Deserialize)]
pub struct InzageForm {
    csrf: String,
    burgerservicenummer: String,
    #[serde(default)]
    formaat: Option<String>,
}

pub async fn overzicht(
    signed: Signed,
    audit: web::Data<Audit>,
    req: HttpRequest,
    body: web::Form<InzageForm>,
) -> HttpResponse {
    let refused = |p: crate::problem::Problem| {
        page(
            status_of(&p),
            "Inzage",
            Some(&signed),
            "/inzage",
            html! { (form(&signed)) (problem_box(&p)) },
        )
    };
    if let Err(p) = check_form(&req, &signed, &body.csrf) {
        return refused(p);
    }
    let format = match body.formaat.as_deref() {
        Some("csv") => Format::Csv,
        _ => Format::Html,
    };
    let (report, id) =
        match inzage::report(&audit, &signed.who, &req, &body.burgerservicenummer, format).await {
            Ok(r) => r,
            Err(p) => return refused(p),
        };
    if format == Format::Csv {
        return HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"inzage.csv\"",
            ))
            .insert_header((DISCLOSURE_ID.clone(), id))
            .body(inzage::csv(&report));
    }
    let html = html! {
        div.niet-afdrukken.melding role="status" {
            p {
                "Dit overzicht is opgesteld en de raadpleging is vastgelegd (kenmerk " code { (id) } "). "
                "Om het af te drukken of als PDF te bewaren: kies " kbd { "Afdrukken" } " in uw browser (" kbd { "Ctrl" } "+" kbd { "P" } "); alleen het overzicht wordt afgedrukt."
            }
            p { a href=(format!("{BASE}/inzage")) { "Een ander overzicht opstellen" } }
        }
        // Built by the API's own report (every value escaped there).
        (PreEscaped(inzage::report_html(&report)))
    };
    let mut res = page(
        StatusCode::OK,
        "Overzicht van verstrekkingen",
        Some(&signed),
        "/inzage",
        html,
    );
    if let Ok(v) = header::HeaderValue::from_str(&id) {
        res.headers_mut().insert(DISCLOSURE_ID.clone(), v);
    }
    res
}
