//! The ops listener: liveness, readiness and Prometheus metrics, in plain HTTP for the
//! platform's probes and scraper. Bind it to loopback or a management network only.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::disclosure::DisclosureLog;
use crate::metrics::Metrics;
use crate::problem::Problem;
use crate::storage::Database;

/// Set when the gateway is shutting down, so that load balancers stop sending traffic.
#[derive(Default)]
pub struct Draining(pub AtomicBool);

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, route) in [
        ("/health", web::get().to(health)),
        ("/ready", web::get().to(ready)),
        ("/metrics", web::get().to(metrics)),
    ] {
        cfg.service(
            web::resource(path)
                .route(route)
                .default_service(web::to(crate::problem::method_not_allowed)),
        );
    }
}

/// The process is up and answering.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The gateway can serve: the database answers, the disclosure log's writer runs and it is
/// not shutting down.
async fn ready(
    db: web::Data<Database>,
    log: web::Data<DisclosureLog>,
    draining: web::Data<Draining>,
) -> Result<HttpResponse, Problem> {
    if draining.0.load(Ordering::Relaxed) {
        return Err(Problem::not_available().detail("De gateway wordt afgesloten."));
    }
    if !log.is_running() {
        tracing::error!("not ready: the disclosure writer has stopped");
        return Err(Problem::not_available()
            .detail("Het verstrekkingenlog neemt niets meer aan; herstart deze instantie."));
    }
    if let Err(e) = db.ping().await {
        tracing::warn!(error = %e, "not ready: database does not answer");
        return Err(Problem::not_available().detail("De database antwoordt niet."));
    }
    Ok(HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })))
}

async fn metrics(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
