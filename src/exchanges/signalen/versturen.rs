//! `POST /api/v1/signalen`: send a signal. 201 with the signal as the sender sees it
//! (status `ontvangen`), `Location` and `X-Disclosure-Id`.

use actix_web::http::header::LOCATION;
use actix_web::{web, HttpResponse};

use super::invoer::SignaalVerzoek;
use super::opslag::{self, Signaal, SignaalRij, StatusRij};
use super::signaal::Status;
use super::weergave::weergave;
use super::{gebieden, pc4, unavailable, Kanaal, Versturen};
use crate::disclosure::now_ms;
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::domain::Bsn;
use crate::organisations::Organisations;
use crate::policy::enforce::Doelbinding;
use crate::policy::{Operation, Scope};
use crate::problem::{Problem, ProblemCode};
use crate::storage::Database;

fn ontvanger_fout(code: &'static str, reason: &str) -> Problem {
    Problem::new(ProblemCode::ParamsValidation)
        .detail("Niet correct: ontvanger.")
        .invalid_param("ontvanger", code, reason)
}

/// Sends a signal to another organisation
///
/// Under signaal-melding (melding, verzoek-gezamenlijke-interventie, informatie) or
/// laa-signaal (RvIG to the gemeente of the address).
#[utoipa::path(post, path = "/api/v1/signalen", tag = "signalen",
    request_body(content = super::invoer::SignaalVerzoek, content_type = "application/json"),
    responses((status = 201, description = "The signal as sent, with its id and status `ontvangen`", body = Object)))]
pub async fn versturen<K: Kanaal>(
    d: Doelbinding<Versturen<K>>,
    body: web::Json<SignaalVerzoek>,
    db: web::Data<Database>,
    organisations: web::Data<Organisations>,
) -> Result<HttpResponse, Problem> {
    // Under an activity with a fixed provider (RvIG for LAA signals) only the provider sends;
    // the others take part by reading and recording the outcome.
    let activity = d.activity();
    if activity.provider != "afzender" && activity.provider != d.requester.alias() {
        return Err(Problem::new(ProblemCode::NotPermitted).detail(format!(
            "Onder {} verstuurt alleen {} signalen; u ontvangt ze en legt de uitkomst vast.",
            activity.id, activity.provider
        )));
    }
    let nieuw = body.into_inner().valideer(K::LAA)?;
    let registry = arc_swap::Guard::into_inner(organisations.current());
    let ontvanger = match registry.find(&nieuw.ontvanger) {
        None => {
            return Err(ontvanger_fout(
                "unknown",
                "Geen organisatie in het register van doelpoort.",
            ))
        }
        Some(o) if o.oin == d.requester.oin => {
            return Err(ontvanger_fout(
                "self",
                "Een signaal gaat naar een andere organisatie.",
            ))
        }
        Some(o) if !d.permits(o, Operation::Read) => {
            return Err(ontvanger_fout(
                "notParticipating",
                &format!("Deze organisatie neemt niet deel aan {}.", activity.id),
            ))
        }
        Some(o) => o.clone(),
    };
    if activity.scope != Scope::None {
        // Own territory: the address lies in the gemeente the signal goes to.
        let Some(adres) = &nieuw.adres else {
            return Err(Problem::new(ProblemCode::ParamsValidation)
                .detail("Niet correct: adres.")
                .invalid_param(
                    "adres",
                    "required",
                    "Het signaal gaat over een adres in de gemeente die het ontvangt.",
                ));
        };
        let area = pc4(adres.postcode.as_str());
        let lies_in = gebieden(&db, vec![area.clone()]).await?.get(&area).copied();
        if lies_in.is_none() || lies_in != ontvanger.gemeentecode {
            return Err(Problem::new(ProblemCode::OutOfScope).detail(format!(
                "Onder {} gaat een signaal naar de gemeente waarin het adres ligt.",
                activity.id
            )));
        }
    }

    let now = now_ms();
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let afzender = d.requester.oin.to_string();
    let (werkgever_lhn, werkgever_kvk, werkgever_naam) = match &nieuw.werkgever {
        Some(w) => (
            w.loonheffingennummer.map(|l| l.as_str().to_owned()),
            w.kvk_nummer.map(|k| k.as_str().to_owned()),
            w.naam.clone(),
        ),
        None => (None, None, None),
    };
    let signaal = Signaal {
        rij: SignaalRij {
            id: id.clone(),
            activiteit: activity.id.clone(),
            soort: nieuw.soort.as_str().to_owned(),
            afzender_oin: afzender.clone(),
            ontvanger_oin: ontvanger.oin.to_string(),
            omschrijving: nieuw.omschrijving,
            urgent: nieuw.urgent,
            adres_postcode: nieuw.adres.as_ref().map(|a| a.postcode.as_str().to_owned()),
            adres_huisnummer: nieuw.adres.as_ref().map(|a| a.huisnummer),
            adres_huisletter: nieuw.adres.as_ref().and_then(|a| a.huisletter.clone()),
            adres_huisnummertoevoeging: nieuw
                .adres
                .as_ref()
                .and_then(|a| a.huisnummertoevoeging.clone()),
            werkgever_loonheffingennummer: werkgever_lhn,
            werkgever_kvk_nummer: werkgever_kvk,
            werkgever_naam,
            aantal_inschrijvingen: nieuw.aantal_inschrijvingen,
            status: Status::Ontvangen.as_str().to_owned(),
            statusvolgnummer: 1,
            ontvangen_ms: now,
        },
        burgerservicenummers: nieuw
            .burgerservicenummers
            .iter()
            .map(|b| b.as_str().to_owned())
            .collect(),
        historie: vec![StatusRij {
            signaal_id: id.clone(),
            volgnummer: 1,
            status: Status::Ontvangen.as_str().to_owned(),
            reden: None,
            uitkomst: None,
            tijdstip_ms: now,
            door_oin: afzender.clone(),
        }],
    };
    let mut answer = weergave(&signaal, &registry);
    d.minimise(&mut answer);
    let subjects: Vec<(Bsn, &str)> = nieuw
        .burgerservicenummers
        .iter()
        .map(|b| (*b, afzender.as_str()))
        .collect();
    let fields: Vec<&str> = d.fields().paths().collect();
    // Recorded first: a signal whose sending cannot be recorded is not sent.
    let disclosure = d
        .disclose_provided(Some(&afzender), &subjects, &fields)
        .await?;
    db.run(move |c| opslag::opslaan(c, &signaal))
        .await
        .map_err(unavailable)?;
    Ok(HttpResponse::Created()
        .insert_header((DISCLOSURE_ID.clone(), disclosure))
        .insert_header((LOCATION, format!("/api/v1/signalen/{id}")))
        .json(answer))
}
