//! The audit API for privacy officers and supervisors, on the audit listener (TLS without
//! client certificates; people use a browser): who received which personal data, when, and
//! under which activity — read from the disclosure log.
//!
//! - `token`: bearer JWT from a configured issuer → `Auditor` (organisation and role);
//! - `tenant`: the WHERE clause every query gets from the token;
//! - `search`: `GET /audit/v1/disclosures` (filtered, keyset-paged);
//! - `inzage`: `POST /audit/v1/inzage` (one person's disclosures; JSON, CSV, printable HTML);
//! - `stats`: `GET /audit/v1/stats`; `anomalieen`: `GET /audit/v1/anomalieen`;
//! - `export`: `GET /audit/v1/export` (NDJSON, streamed);
//! - `GET /audit/v1/verify` (here): `disclosure::verify`, supervisors only;
//! - `GET /audit/v1/sessie` (here): who the token says the caller is (reads no records);
//! - `versies`: every register version loaded, for the legal basis of old records;
//! - `records`, `sql`, `amsterdam`: the record's JSON form, portable SQL, Dutch time;
//! - `ui`: the web UI under `/audit/ui/` (server-rendered HTML; signed in by a cookie holding
//!   the same bearer token), which answers through the same functions as the API.
//!
//! The audit is audited: every answered audit query is itself a record in the disclosure log
//! (`name` `audit/<endpoint>`; requester: the user's organisation; `fields`: the role and the
//! filter; `record_count`: how many records the answer was made from; for an inzage the
//! person as pseudonym), and the answer leaves only once that record is committed — 503
//! `notAvailable` otherwise, as on the data listener.

pub mod amsterdam;
pub mod anomalieen;
pub mod export;
pub mod inzage;
pub mod records;
pub mod search;
pub mod sql;
pub mod stats;
pub mod tenant;
pub mod token;
pub mod ui;
pub mod versies;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::json;

use crate::config::Settings;
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::disclosure::{now_ms, DisclosureLog, Record, Status};
use crate::organisations::{Organisations, Registry};
use crate::problem::{Problem, ProblemCode};
use crate::storage::Database;
use crate::trace_context::RequestContext;
use token::{Auditor, Role, TokenVerifier};

/// What the audit routes share.
pub struct Audit {
    pub verifier: TokenVerifier,
    pub organisations: Arc<Organisations>,
    pub database: Database,
    pub log: DisclosureLog,
    pub keys_dir: PathBuf,
    pub settings: crate::config::AuditSettings,
    /// Retention of the audit records (days): that of records naming no activity.
    pub retention_days: u32,
    /// One `verify` at a time: it reads the whole log.
    verifying: tokio::sync::Semaphore,
    /// The gateway's own development issuer (`tls.dev_certs`): the UI's dev login.
    pub dev_issuer: Option<token::DevIssuer>,
    /// The UI's key for its CSRF tokens (random per start).
    pub(crate) ui_key: [u8; 32],
}

impl Audit {
    pub fn new(
        settings: &Settings,
        organisations: Arc<Organisations>,
        database: Database,
        log: DisclosureLog,
        dev: Option<token::DevIssuer>,
    ) -> anyhow::Result<Audit> {
        Ok(Audit {
            verifier: TokenVerifier::new(&settings.audit, dev.as_ref())?,
            organisations,
            database,
            log,
            keys_dir: settings.disclosure.keys_dir.clone(),
            settings: settings.audit.clone(),
            retention_days: settings.disclosure.refusal_retention_days,
            verifying: tokio::sync::Semaphore::new(1),
            dev_issuer: dev,
            ui_key: rand::random(),
        })
    }

    /// Who `token` says the caller is, checked as `token` describes: the bearer header of
    /// the API and the cookie of the UI both end here.
    pub fn authenticate(&self, token: &str) -> Result<Auditor, Problem> {
        let auditor = self.verifier.verify(token, &self.organisations.current())?;
        tracing::Span::current().record("requester", auditor.organisation.oin.as_str());
        Ok(auditor)
    }

    pub fn registry(&self) -> Arc<Registry> {
        Arc::clone(&self.organisations.current())
    }

    /// Records that `who` asked `endpoint` with `query` and got an answer made from `count`
    /// records (about `subject`, for an inzage); returns the record's id once committed, or
    /// 503: the answer must not be sent then.
    pub async fn record(
        &self,
        who: &Auditor,
        req: &HttpRequest,
        endpoint: &str,
        query: &str,
        count: u64,
        subject: Option<[u8; 32]>,
    ) -> Result<String, Problem> {
        let ctx = req
            .extensions()
            .get::<RequestContext>()
            .cloned()
            .expect("request_context runs before every route");
        let now = now_ms();
        let mut fields = format!("role={}", who.role.as_str());
        if !query.is_empty() {
            fields.push('&');
            fields.push_str(query);
        }
        let entity = match &who.subject {
            Some(sub) => format!("{}#{}", who.issuer, sub),
            None => who.issuer.clone(),
        };
        let record = Record {
            trace_id: ctx.trace_id,
            operation_id: ctx.operation_id,
            parent_operation_id: None,
            foreign_trace_id: ctx.foreign.map(|f| f.trace_id),
            foreign_operation_id: ctx.foreign.map(|f| f.parent_id),
            foreign_entity: Some(entity),
            name: format!("audit/{endpoint}"),
            start_time_ms: now - ctx.started.elapsed().as_millis() as i64,
            end_time_ms: now,
            status: Status::Ok,
            refusal_code: None,
            processing_activity_id: None,
            register_version: None,
            requester_oin: Some(who.organisation.oin.to_string()),
            provider_oin: None,
            case_reference: None,
            fields,
            record_count: count.min(i32::MAX as u64) as i32,
            subject_pseudonym: subject,
            retain_until_ms: now + i64::from(self.retention_days) * amsterdam::DAY_MS,
        };
        self.log.append(vec![record]).await.map_err(|e| {
            tracing::error!(error = %e, "audit query not recorded: no answer is released");
            Problem::not_available()
        })?;
        Ok(format!(
            "{}-{}",
            hex::encode(ctx.trace_id),
            hex::encode(ctx.operation_id)
        ))
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str| {
        web::resource(path.to_owned()).default_service(web::to(crate::problem::method_not_allowed))
    };
    cfg.service(resource("/audit/v1/disclosures").get(search::disclosures))
        .service(resource("/audit/v1/inzage").post(inzage::inzage))
        .service(resource("/audit/v1/stats").get(stats::stats))
        .service(resource("/audit/v1/anomalieen").get(anomalieen::anomalieen))
        .service(resource("/audit/v1/verify").get(verify))
        .service(resource("/audit/v1/sessie").get(sessie))
        .service(resource("/audit/v1/export").get(export::export));
    ui::routes(cfg);
}

/// 400 `paramsValidation` naming the parameter (never its value).
pub(crate) fn invalid(name: &str, reason: &str) -> Problem {
    Problem::new(ProblemCode::ParamsValidation)
        .detail(format!("De parameter {name} is niet correct."))
        .invalid_param(name, "invalid", reason)
}

pub(crate) fn unavailable(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "disclosure log unreadable for the audit API");
    Problem::not_available()
}

/// Percent-encodes what could break a `key=value&…` string.
pub(crate) fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `GET /audit/v1/sessie`: the organisation, role and expiry of the caller's token, so that a
/// user interface can show who is signed in and what they may do. It reads no records.
#[utoipa::path(get, path = "/audit/v1/sessie", tag = "audit",
    responses((status = 200, description = "`{organisatie: {oin, naam, soort}, rol, ziet, uitgever, verloopt}`", body = Object)))]
pub(crate) async fn sessie(who: Auditor) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "organisatie": {
            "oin": who.organisation.oin,
            "naam": who.organisation.name,
            "soort": who.organisation.kind.as_str(),
        },
        "rol": who.role.as_str(),
        "ziet": match who.role {
            Role::PrivacyOfficer => "de records waarin de eigen organisatie verzoeker of verstrekker is",
            Role::Supervisor => "alle records",
        },
        "uitgever": who.issuer,
        "verloopt": amsterdam::rfc3339(who.expires_at.min(i64::MAX as u64 / 1000) as i64 * 1000),
    }))
}

/// `GET /audit/v1/verify`: the integrity of the whole log (every instance's chain and
/// signed checkpoint), for supervisors.
#[utoipa::path(get, path = "/audit/v1/verify", tag = "audit",
    responses((status = 200, description = "`{intact, records, checkpoints, instances, ongetekend, fout, duur_s}`", body = Object)))]
pub(crate) async fn verify(
    who: Auditor,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let (body, id) = integrity(&audit, &who, &req).await?;
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), id))
        .json(body))
}

/// The integrity of the whole log as `GET /audit/v1/verify` answers it, recorded as an audit
/// query; and that record's id. Supervisors only. It reads every record, so it runs on a
/// thread of its own, one at a time (another request meanwhile gets 429). The API and the UI
/// both verify through here.
pub async fn integrity(
    audit: &Audit,
    who: &Auditor,
    req: &HttpRequest,
) -> Result<(serde_json::Value, String), Problem> {
    if who.role != Role::Supervisor {
        return Err(Problem::new(ProblemCode::NotPermitted).detail(
            "De integriteit van het hele logboek controleert de toezichthouder (rol supervisor).",
        ));
    }
    let _running = audit.verifying.try_acquire().map_err(|_| {
        Problem::new(ProblemCode::TooManyRequests)
            .detail("Er loopt al een controle van het logboek.")
            .retry_after(10)
    })?;
    let (db, keys_dir) = (audit.database.clone(), audit.keys_dir.clone());
    let started = std::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || {
        crate::disclosure::verify::verify(&db, &keys_dir, |_| {})
    })
    .await
    .map_err(unavailable)?
    .map_err(unavailable)?;
    let seconds = started.elapsed().as_secs_f64();
    let id = audit
        .record(who, req, "verify", "", report.records, None)
        .await?;
    let fout = report
        .fault
        .as_ref()
        .map(|f| json!({ "instance": f.instance, "seq": f.seq, "wat": f.what }));
    Ok((
        json!({
            "intact": report.fault.is_none(),
            "records": report.records,
            "checkpoints": report.checkpoints,
            "instances": report.instances,
            "ongetekend": report.unsigned_tail,
            "fout": fout,
            "duur_s": seconds,
        }),
        id,
    ))
}
