//! Logs and the outermost layer of every listener: request context, problem details with an
//! `instance`, the `traceparent` answer, metrics and one log line per request.
//!
//! Only route *patterns* are logged and counted (`/api/v1/rni/personen/{bsn}/…`), never the
//! concrete path or query string: those may carry a BSN.

mod json_line;

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};
use crate::metrics::Metrics;
use crate::problem::{self, Problem, ProblemCode};
use crate::trace_context::RequestContext;

pub use json_line::{JsonLine, JsonMembers};

/// Installs the global `tracing` subscriber (JSON lines or human-readable). A second call is a
/// no-op, so tests may start several gateways.
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_new(&settings.filter).map_err(|e| anyhow::anyhow!("log.filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    Ok(())
}

/// Which listener an app serves, for metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct Listener(pub &'static str);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Marks a page for people (the audit UI, HTML): an error status on it is left as it is,
/// since the page itself says what went wrong, instead of being rewritten as problem+json.
#[derive(Debug, Clone, Copy)]
pub struct HumanPage;

/// The outermost middleware of every app.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let listener = req
        .app_data::<web::Data<Listener>>()
        .map_or("unknown", |l| l.0);
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let incoming = req
        .headers()
        .get(&TRACEPARENT)
        .and_then(|v| v.to_str().ok());
    let ctx = RequestContext::new(incoming);
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let method = req.method().clone();
    req.extensions_mut().insert(ctx.clone());

    let span = tracing::info_span!(
        "request",
        request_id = %ctx.request_id(),
        listener,
        method = %method,
        route = %route,
        requester = tracing::field::Empty,
        activity = tracing::field::Empty,
        register = tracing::field::Empty,
    );
    // The layers inside answer refusals as responses; an `Err` here comes from actix itself
    // and is rendered by its `ResponseError` (still problem+json when it is a `Problem`).
    let mut res = match next.call(req).instrument(span.clone()).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(err) => {
            span.in_scope(|| tracing::warn!(error = %err, "request failed inside the pipeline"));
            return Err(err);
        }
    };

    // Every error leaves as problem+json, with the request id as its instance.
    let status = res.status();
    let problem = match res.response().error().and_then(|e| e.as_error::<Problem>()) {
        Some(p) => Some(p.clone()),
        None if (status.is_client_error() || status.is_server_error())
            && res.response().extensions().get::<HumanPage>().is_none()
            && res
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes())
                != Some(problem::CONTENT_TYPE.as_bytes()) =>
        {
            Some(Problem::new(code_for_status(status.as_u16())))
        }
        None => None,
    };
    if let Some(mut p) = problem {
        p.instance = Some(format!("urn:uuid:{}", uuid::Uuid::from_bytes(ctx.trace_id)));
        if let Some(m) = &metrics {
            m.refusals.with_label_values(&[p.code.as_str()]).inc();
        }
        let _guard = span.enter();
        if p.status() >= 500 {
            tracing::error!(
                code = p.code.as_str(),
                status = p.status(),
                "request failed"
            );
        } else {
            tracing::info!(
                code = p.code.as_str(),
                status = p.status(),
                "request refused"
            );
        }
        drop(_guard);
        let (http_req, old) = res.into_parts();
        let mut rendered = p.error_response();
        // Keep what the layers inside added (X-Disclosure-Id, Retry-After, …).
        for (name, value) in old.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        res = ServiceResponse::new(http_req, rendered);
    }

    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&ctx.traceparent()) {
        headers.insert(TRACEPARENT.clone(), v);
    }
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id()) {
        headers.insert(REQUEST_ID.clone(), v);
    }
    let status = res.status();
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[listener, &route, method.as_str(), status.as_str()])
            .inc();
        m.request_duration
            .with_label_values(&[listener, &route, method.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    span.in_scope(|| {
        tracing::info!(
            status = status.as_u16(),
            duration_us = elapsed.as_micros() as u64,
            "request"
        )
    });
    Ok(res)
}

fn code_for_status(status: u16) -> ProblemCode {
    match status {
        401 => ProblemCode::Authentication,
        403 => ProblemCode::NotPermitted,
        404 => ProblemCode::NotFound,
        405 => ProblemCode::MethodNotAllowed,
        413 => ProblemCode::PayloadTooLarge,
        415 => ProblemCode::UnsupportedMediaType,
        429 => ProblemCode::TooManyRequests,
        400..=499 => ProblemCode::ParamsValidation,
        503 => ProblemCode::NotAvailable,
        _ => ProblemCode::ServerError,
    }
}
