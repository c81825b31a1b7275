use std::future::{ready, Ready};
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::ClientIdentity;
use crate::organisations::{Organisation, Organisations};
use crate::problem::{Problem, ProblemCode};

/// The organisation making this request, as the registry in force knows it.
#[derive(Debug, Clone)]
pub struct Requester(pub Arc<Organisation>);

impl std::ops::Deref for Requester {
    type Target = Organisation;
    fn deref(&self) -> &Organisation {
        &self.0
    }
}

/// Middleware for the data listener: admits a request only when its connection's client
/// certificate carries the OIN of a registered organisation, and puts that organisation in the
/// request as `Requester`. Everything behind it can rely on a known caller.
pub async fn require_identity(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let organisations = req
        .app_data::<web::Data<Organisations>>()
        .expect("Organisations is registered on the data app")
        .clone();
    let refusal = |detail: String| Problem::new(ProblemCode::UnknownOrganisation).detail(detail);
    let found = match req.conn_data::<ClientIdentity>() {
        Some(ClientIdentity::Oin(oin)) => match organisations.current().get(oin) {
            Some(org) => Ok(Requester(org.clone())),
            None => Err(refusal(format!(
                "Het OIN {oin} uit uw certificaat staat niet in het register van organisaties."
            ))),
        },
        Some(ClientIdentity::NoOin) => Err(refusal(
            "Uw certificaat heeft geen OIN (subject serialNumber).".into(),
        )),
        Some(ClientIdentity::NotAnOin) => Err(refusal(
            "Het subject serialNumber van uw certificaat is geen OIN (20 cijfers).".into(),
        )),
        Some(ClientIdentity::Anonymous) | None => {
            Err(refusal("Een clientcertificaat is vereist.".into()))
        }
    };
    let requester = match found {
        Ok(requester) => requester,
        Err(problem) => return Ok(req.error_response(problem).map_into_right_body()),
    };
    tracing::Span::current().record("requester", requester.oin.as_str());
    req.extensions_mut().insert(requester);
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

impl FromRequest for Requester {
    type Error = Problem;
    type Future = Ready<Result<Requester, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Present on every route behind `require_identity`; absent means a route was mounted
        // outside it, which must fail closed.
        ready(
            req.extensions()
                .get::<Requester>()
                .cloned()
                .ok_or_else(|| Problem::new(ProblemCode::UnknownOrganisation)),
        )
    }
}
