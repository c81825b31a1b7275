//! `GET /audit/ui/integriteit`: what the check is; `POST`: runs `integrity` (every chain and
//! signed checkpoint of the log; supervisors, one at a time) and shows its outcome.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::sessie::{check_form, Signed};
use super::{page, problem_box, status_of, BASE};
use crate::audit::token::Role;
use crate::audit::{integrity, Audit};

fn intro(signed: &Signed) -> Markup {
    html! {
        h1 { "Integriteit van het logboek" }
        p { "Elk record in het logboek bevat de hash van het record ervoor (een keten per gateway), en de gateway ondertekent de keten geregeld (Ed25519). De controle leest het hele logboek en rekent elke keten en elke handtekening na: is er een record veranderd, verwijderd of tussengevoegd, dan zegt de controle welk." }
        @if signed.who.role == Role::Supervisor {
            form.blok method="post" action=(format!("{BASE}/integriteit")) {
                input type="hidden" name="csrf" value=(signed.csrf);
                button type="submit" { "Controleer het logboek nu" }
            }
        } @else {
            p.melding role="status" { "Het hele logboek controleert de toezichthouder (rol supervisor); de controle leest ook de records van andere organisaties. Vraag de Autoriteit Persoonsgegevens of uw beheerder naar de uitkomst." }
        }
    }
}

pub async fn pagina(signed: Signed) -> HttpResponse {
    page(
        StatusCode::OK,
        "Integriteit",
        Some(&signed),
        "/integriteit",
        intro(&signed),
    )
}

#[derive(Deserialize)]
pub struct CheckForm {
    csrf: String,
}

fn outcome(v: &Value) -> Markup {
    let intact = v["intact"].as_bool().unwrap_or(false);
    html! {
        section id="uitkomst" aria-labelledby="kop-uitkomst" {
            h2 id="kop-uitkomst" { "Uitkomst" }
            @if intact {
                p.status.goed role="status" { "Het logboek is intact." }
            } @else {
                p.status.fout role="alert" { "Het logboek is NIET intact." }
            }
            dl.totalen {
                div { dt { "Records gecontroleerd" } dd id="gecontroleerd" { (v["records"]) } }
                div { dt { "Ondertekende checkpoints" } dd { (v["checkpoints"]) } }
                div { dt { "Gateways (ketens)" } dd { (v["instances"]) } }
                div { dt { "Records na het laatste checkpoint (nog niet ondertekend)" } dd { (v["ongetekend"]) } }
                div { dt { "Duur" } dd { (format!("{:.2} s", v["duur_s"].as_f64().unwrap_or(0.0))) } }
            }
            @if let Some(f) = v["fout"].as_object() {
                p { "Eerste fout: gateway " code { (f.get("instance").and_then(Value::as_str).unwrap_or("?")) } ", record " (f.get("seq").map(|s| s.to_string()).unwrap_or_default()) ": " (f.get("wat").and_then(Value::as_str).unwrap_or("")) }
            }
        }
    }
}

pub async fn controleer(
    signed: Signed,
    audit: web::Data<Audit>,
    req: HttpRequest,
    form: web::Form<CheckForm>,
) -> HttpResponse {
    let result = match check_form(&req, &signed, &form.csrf) {
        Ok(()) => integrity(&audit, &signed.who, &req).await.map(|(v, _)| v),
        Err(p) => Err(p),
    };
    let (status, extra) = match result {
        Ok(v) => (StatusCode::OK, outcome(&v)),
        Err(p) => (status_of(&p), problem_box(&p)),
    };
    page(
        status,
        "Integriteit",
        Some(&signed),
        "/integriteit",
        html! { (intro(&signed)) (extra) },
    )
}
