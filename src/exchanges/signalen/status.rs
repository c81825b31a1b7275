//! `POST /api/v1/signalen/{id}/status`: the recipient moves a signal on (`signaal::Status`
//! has the state machine), always with a reason; closing an LAA signal also records the
//! outcome. 200 with the signal as it now stands; 409 `conflict` for a change the state
//! machine does not allow, or when another request changed the signal first.

use actix_web::{web, HttpResponse};

use super::invoer::StatusVerzoek;
use super::opslag::{self, StatusRij};
use super::signaal::Status;
use super::weergave::weergave;
use super::{
    betrokkenen, binnen_werkgebied, unavailable, werkgebied, zoek, Kanaal, Rol, StatusWijzigen,
};
use crate::disclosure::now_ms;
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::organisations::Organisations;
use crate::policy::enforce::Doelbinding;
use crate::problem::{Problem, ProblemCode};
use crate::storage::Database;

/// Moves a signal on (the recipient), with a recorded reason the sender sees
#[utoipa::path(post, path = "/api/v1/signalen/{id}/status", tag = "signalen",
    params(("id" = String, Path, description = "The signal's id (UUID)")),
    request_body(content = super::invoer::StatusVerzoek, content_type = "application/json"),
    responses((status = 200, description = "The signal with its new status", body = Object),
              (status = 409, description = "The state machine does not allow this change (conflict)")))]
pub async fn wijzigen<K: Kanaal>(
    d: Doelbinding<StatusWijzigen<K>>,
    path: web::Path<String>,
    body: web::Json<StatusVerzoek>,
    db: web::Data<Database>,
    organisations: web::Data<Organisations>,
) -> Result<HttpResponse, Problem> {
    let (mut signaal, rol) = zoek(&d, &db, &path).await?;
    if rol == Rol::Afzender {
        return Err(Problem::new(ProblemCode::NotPermitted).detail(
            "Alleen de ontvanger van een signaal wijzigt de status; u ziet de status en de reden.",
        ));
    }
    let nieuw = body.into_inner().valideer(K::LAA)?;
    let one = std::slice::from_ref(&signaal);
    binnen_werkgebied(&d, &signaal, rol, &werkgebied(&d, &db, one).await?)?;
    let huidig = Status::parse(&signaal.rij.status)
        .ok_or_else(|| unavailable("a stored signal has a status outside the state machine"))?;
    if !huidig.mag_naar(nieuw.status) {
        let vervolg = huidig.vervolg();
        let detail = if vervolg.is_empty() {
            format!(
                "Het signaal is {}; de status verandert niet meer.",
                huidig.as_str()
            )
        } else {
            format!(
                "Het signaal is {}; het kan naar: {}.",
                huidig.as_str(),
                vervolg.join(", ")
            )
        };
        return Err(Problem::new(ProblemCode::Conflict).detail(detail));
    }

    let entry = StatusRij {
        signaal_id: signaal.rij.id.clone(),
        volgnummer: signaal.rij.statusvolgnummer + 1,
        status: nieuw.status.as_str().to_owned(),
        reden: Some(nieuw.reden),
        uitkomst: nieuw.uitkomst.map(|u| u.as_str().to_owned()),
        tijdstip_ms: now_ms(),
        door_oin: d.requester.oin.to_string(),
    };
    signaal.rij.status = entry.status.clone();
    signaal.rij.statusvolgnummer = entry.volgnummer;
    signaal.historie.push(entry.clone());
    let registry = arc_swap::Guard::into_inner(organisations.current());
    let mut answer = weergave(&signaal, &registry);
    d.minimise(&mut answer);
    let fields: Vec<&str> = d.fields().paths().collect();
    // Recorded first: a change that cannot be recorded is not made.
    let disclosure = d
        .disclose_provided(
            Some(&signaal.rij.afzender_oin),
            &betrokkenen(std::slice::from_ref(&signaal)),
            &fields,
        )
        .await?;
    let stored = db
        .run(move |c| opslag::status_toevoegen(c, &entry))
        .await
        .map_err(unavailable)?;
    if !stored {
        return Err(Problem::new(ProblemCode::Conflict).detail(
            "Een ander verzoek heeft de status intussen gewijzigd; lees het signaal opnieuw.",
        ));
    }
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), disclosure))
        .json(answer))
}
