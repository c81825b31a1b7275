//! Every refused request on the data listener is itself a record in the disclosure log.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};

use super::{now_ms, DisclosureLog, Record, Status};
use crate::identity::{ClientIdentity, Requester};
use crate::policy::enforce::{Applied, ACTIVITY_HEADER};
use crate::policy::PolicyStore;
use crate::problem::Problem;
use crate::trace_context::RequestContext;

pub static DISCLOSURE_ID: HeaderName = HeaderName::from_static("x-disclosure-id");

/// How long refusal records are kept when no activity says otherwise (days).
#[derive(Debug, Clone, Copy)]
pub struct RefusalRetention(pub u32);

/// Records a refusal (a 4xx answer) with its code, then answers it with `X-Disclosure-Id`.
pub async fn record_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if !res.status().is_client_error() {
        return Ok(res);
    }
    // Only refusals pay for what follows; an answered request goes straight through.
    let http = res.request();
    let Some(log) = http.app_data::<web::Data<DisclosureLog>>().cloned() else {
        return Ok(res);
    };
    let retention = http
        .app_data::<web::Data<RefusalRetention>>()
        .map_or(2557, |r| r.0);
    let name = format!(
        "refused: {} {}",
        http.method(),
        http.match_pattern().unwrap_or_else(|| "(unmatched)".into())
    );
    // The activity the caller named, only if the register knows it: the header is the
    // caller's own text and could hold anything, a BSN included.
    let asked_activity = http
        .headers()
        .get(ACTIVITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let policy = http.app_data::<web::Data<PolicyStore>>()?.current();
            policy.register.get(v.trim()).map(|(_, a)| a.id.clone())
        });
    let connection_oin = match http.conn_data::<ClientIdentity>() {
        Some(ClientIdentity::Oin(oin)) => Some(oin.to_string()),
        _ => None,
    };
    let code = res
        .response()
        .error()
        .and_then(|e| e.as_error::<Problem>())
        .map(|p| p.code.as_str().to_owned())
        .unwrap_or_else(|| res.status().as_str().to_owned());
    let record = {
        let ext = res.request().extensions();
        let Some(ctx) = ext.get::<RequestContext>() else {
            drop(ext);
            return Ok(res);
        };
        let applied = ext.get::<Applied>().map(|a| a.0.clone());
        let requester = ext
            .get::<Requester>()
            .map(|r| r.oin.to_string())
            .or(connection_oin);
        let now = now_ms();
        Record {
            trace_id: ctx.trace_id,
            operation_id: ctx.operation_id,
            parent_operation_id: None,
            foreign_trace_id: ctx.foreign.map(|f| f.trace_id),
            foreign_operation_id: ctx.foreign.map(|f| f.parent_id),
            foreign_entity: ctx.foreign.and(requester.clone()),
            name,
            start_time_ms: now - ctx.started.elapsed().as_millis() as i64,
            end_time_ms: now,
            status: Status::Error,
            refusal_code: Some(code),
            processing_activity_id: applied
                .as_ref()
                .map(|a| a.activity_id.clone())
                .or(asked_activity),
            register_version: applied.map(|a| a.version),
            requester_oin: requester,
            provider_oin: None,
            case_reference: None,
            fields: String::new(),
            record_count: 0,
            subject_pseudonym: None,
            retain_until_ms: now + i64::from(retention) * 86_400_000,
        }
    };
    let id = format!(
        "{}-{}",
        hex::encode(record.trace_id),
        hex::encode(record.operation_id)
    );
    match log.append(vec![record]).await {
        Ok(()) => {
            if let Ok(v) = HeaderValue::from_str(&id) {
                res.headers_mut().insert(DISCLOSURE_ID.clone(), v);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "a refusal could not be recorded in the disclosure log")
        }
    }
    Ok(res)
}
