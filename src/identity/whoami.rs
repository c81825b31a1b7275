use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::Requester;
use crate::domain::{Gemeentecode, Oin};
use crate::organisations::OrganisationKind;
use crate::policy::enforce::NoPersonalData;

/// The organisation as the registry knows it.
#[derive(Serialize, utoipa::ToSchema)]
struct WhoAmI<'a> {
    #[schema(value_type = String, pattern = r"^[0-9]{20}$")]
    oin: Oin,
    naam: &'a str,
    #[schema(value_type = String)]
    soort: OrganisationKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    gemeentecode: Option<Gemeentecode>,
    alias: &'a str,
}

/// The organisation the gateway takes the caller to be
///
/// Discloses no personal data; lets an agency check its certificate and registration.
#[utoipa::path(get, path = "/api/v1/whoami", tag = "identiteit",
    responses((status = 200, description = "The calling organisation", body = WhoAmI)))]
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
