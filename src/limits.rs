//! Request size limits, applied before routing so that no route can forget them.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web;

use crate::problem::{Problem, ProblemCode};

/// The largest request body accepted, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Refuses a request whose declared `Content-Length` is over the limit before its body is
/// read. Bodies without a length (chunked) are held to the same limit by the extractors'
/// configuration (`problem::extractors`).
pub async fn body_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<BodyLimit>>()
        .map_or(usize::MAX, |l| l.0);
    if let Some(value) = req.headers().get(header::CONTENT_LENGTH) {
        let length = value.to_str().ok().and_then(|v| v.parse::<u64>().ok());
        let refusal = match length {
            None => Some(
                Problem::new(ProblemCode::ParamsValidation).detail("Content-Length is geen getal."),
            ),
            Some(n) if n > limit as u64 => Some(
                Problem::new(ProblemCode::PayloadTooLarge)
                    .detail(format!("De body mag hoogstens {limit} bytes zijn.")),
            ),
            Some(_) => None,
        };
        if let Some(problem) = refusal {
            return Ok(req.error_response(problem).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
