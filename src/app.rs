//! The three apps, each a straight pipeline. Read a pipeline top to bottom: the first layer
//! named is the first a request passes (actix applies the *last* `wrap` first, so the code
//! lists them in reverse).
//!
//! data (mTLS, agency systems):
//!   TLS handshake (identity::tls: chain, CRL)      → refused in the handshake
//!   → telemetry::request_context                    request id, traceparent, metrics, problem+json
//!   → disclosure::refusals::record_refusals         every 4xx becomes a disclosure-log record
//!   → identity::require_identity                    OIN → registered organisation, else 403
//!   → limits::body_limit                            413 before the body is read
//!   → policy::enforce::guard                        withholds a 2xx that skipped doelbinding
//!   → route, taking policy::enforce::Doelbinding    register: activity, dates, casbin, case
//!                                                   reference, rate limit; then fields, scope,
//!                                                   minimisation of the answer, then
//!                                                   `Doelbinding::respond`: records committed
//!                                                   first (else 503, no data), then the answer
//!
//! audit (TLS without client certificates, people with a browser):
//!   → telemetry::request_context                    request id, traceparent, metrics, problem+json
//!   → limits::body_limit                            413 before the body is read
//!   → no-store / nosniff headers
//!   → route, taking audit::token::Auditor           bearer JWT: issuer, signature, exp/nbf, aud,
//!                                                   registered OIN, role (else 401/403); the
//!                                                   query is limited to the token's tenant; the
//!                                                   answer leaves once its own audit record is
//!                                                   committed (else 503)
//!
//! ops (plain HTTP, probes): request_context → route.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App};

use crate::disclosure::refusals::RefusalRetention;
use crate::disclosure::DisclosureLog;
use crate::limits::BodyLimit;
use crate::metrics::Metrics;
use crate::ops::Draining;
use crate::organisations::Organisations;
use crate::policy::PolicyStore;
use crate::storage::Database;
use crate::telemetry::Listener;
use crate::{disclosure, identity, limits, ops, policy, problem, telemetry};

/// What the apps share. Cloned into every worker; everything in it is behind an `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub organisations: Arc<Organisations>,
    pub policy: Arc<PolicyStore>,
    pub disclosure: DisclosureLog,
    pub refusal_retention_days: u32,
    pub metrics: Arc<Metrics>,
    pub database: Database,
    pub draining: Arc<Draining>,
    pub body_limit: usize,
    /// Which datasets an upstream provider serves.
    pub sources: crate::sources::Sources,
    /// The data routes (`exchanges` in production; tests may mount more).
    pub routes: Routes,
    /// The audit API's tokens, tenants and log.
    pub audit: Arc<crate::audit::Audit>,
}

/// Mounts data routes. Every data route takes `policy::enforce::Doelbinding` (or declares
/// `NoPersonalData`); the guard withholds the answer of one that does neither.
pub type Routes = fn(&mut web::ServiceConfig);

/// The data routes of the gateway.
pub fn exchanges(cfg: &mut web::ServiceConfig) {
    identity::whoami::routes(cfg);
    crate::exchanges::routes(cfg);
    crate::openapi::routes(cfg);
}

pub fn data_app(
    state: &AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    common(state, "data")
        .app_data(web::Data::from(state.organisations.clone()))
        .app_data(web::Data::from(state.policy.clone()))
        .app_data(web::Data::new(state.disclosure.clone()))
        .app_data(web::Data::new(RefusalRetention(
            state.refusal_retention_days,
        )))
        .app_data(web::Data::new(state.database.clone()))
        .app_data(web::Data::new(state.sources.clone()))
        .app_data(web::Data::new(BodyLimit(state.body_limit)))
        .app_data(web::PayloadConfig::new(state.body_limit))
        .app_data(problem::extractors::json_config(state.body_limit))
        .app_data(problem::extractors::query_config())
        .app_data(problem::extractors::path_config())
        .wrap(from_fn(policy::enforce::guard))
        .wrap(from_fn(limits::body_limit))
        .wrap(from_fn(identity::require_identity))
        .wrap(from_fn(disclosure::refusals::record_refusals))
        .wrap(from_fn(telemetry::request_context))
        .configure(state.routes)
        .default_service(web::to(problem::not_found))
}

/// The audit API (`/audit/v1/…`, see `audit`); every other path is 404 problem+json.
pub fn audit_app(
    state: &AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    common(state, "audit")
        .app_data(web::Data::from(state.audit.clone()))
        .app_data(web::Data::new(BodyLimit(state.body_limit)))
        .app_data(web::PayloadConfig::new(state.body_limit))
        .app_data(problem::extractors::json_config(state.body_limit))
        .app_data(problem::extractors::query_config())
        .wrap(
            actix_web::middleware::DefaultHeaders::new()
                .add(("cache-control", "no-store"))
                .add(("x-content-type-options", "nosniff"))
                .add(("referrer-policy", "no-referrer")),
        )
        .wrap(from_fn(limits::body_limit))
        .wrap(from_fn(telemetry::request_context))
        .configure(crate::audit::routes)
        .default_service(web::to(problem::not_found))
}

pub fn ops_app(
    state: &AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    common(state, "ops")
        .app_data(web::Data::new(state.database.clone()))
        .app_data(web::Data::new(state.disclosure.clone()))
        .app_data(web::Data::from(state.draining.clone()))
        .wrap(from_fn(telemetry::request_context))
        .configure(ops::routes)
        .default_service(web::to(problem::not_found))
}

fn common(
    state: &AppState,
    listener: &'static str,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<actix_web::body::BoxBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(Listener(listener)))
        .app_data(web::Data::from(state.metrics.clone()))
}
