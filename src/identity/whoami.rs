use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::Requester;
use crate::domain::{Gemeentecode, Oin};
use crate::organisations::OrganisationKind;
use crate::policy::enforce::NoPersonalData;

#[derive(Serialize)]
struct WhoAmI<'a> {
    oin: Oin,
    naam: &'a str,
    soort: OrganisationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    gemeentecode: Option<Gemeentecode>,
    alias: &'a str,
}

/// `GET /api/v1/whoami`: the organisation the gateway takes the caller to be. Discloses no
/// personal data; lets an agency check its certificate and registration.
pub async fn whoami(requester: Requester, _: NoPersonalData) -> HttpResponse {
    HttpResponse::Ok().json(WhoAmI {
        oin: requester.oin,
        naam: &requester.name,
        soort: requester.kind,
        gemeentecode: requester.gemeentecode,
        alias: requester.alias(),
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v1/whoami")
            .get(whoami)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}
