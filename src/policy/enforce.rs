//! Enforcement on every data request. A data route takes `Doelbinding<E>`, where `E` names the
//! dataset and operation the route performs; the extractor refuses the request (with the code
//! SPEC.md gives) unless the register allows it. The `guard` layer of the data pipeline turns
//! any successful answer from a route that did not take `Doelbinding` (nor declared itself
//! free of personal data) into a 500: a new route cannot forget doelbinding and still leak.

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::{Activity, Authorisation, Operation, Policy, PolicyStore, Scope};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::disclosure::{now_ms, DisclosureLog, Record, Status};
use crate::domain::{Bsn, Gemeentecode};
use crate::identity::Requester;
use crate::minimise::FieldSet;
use crate::organisations::Organisation;
use crate::problem::{Problem, ProblemCode};
use crate::trace_context::RequestContext;

pub const ACTIVITY_HEADER: &str = "x-processing-activity";
pub const CASE_REFERENCE_HEADER: &str = "x-case-reference";

/// What a data route does: which dataset, which operation.
pub trait Exchange {
    const DATASET: &'static str;
    const OPERATION: Operation;
}

/// Proof that the register allows this request, and the means to keep the answer within it.
pub struct Doelbinding<E> {
    policy: Arc<Policy>,
    authorisation: Authorisation,
    pub requester: Requester,
    pub case_reference: Option<String>,
    provider_oin: Option<String>,
    context: RequestContext,
    log: DisclosureLog,
    _exchange: PhantomData<E>,
}

/// Marks a request that passed doelbinding (for the guard, telemetry and the disclosure log).
#[derive(Debug, Clone)]
pub struct Applied(pub Authorisation);

/// Marks a route that discloses no personal data (e.g. `whoami`), so the guard lets it pass.
#[derive(Debug, Clone, Copy)]
pub struct NoPersonalData;

impl FromRequest for NoPersonalData {
    type Error = Problem;
    type Future = Ready<Result<NoPersonalData, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        req.extensions_mut().insert(NoPersonalData);
        ready(Ok(NoPersonalData))
    }
}

impl<E: Exchange + 'static> FromRequest for Doelbinding<E> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Doelbinding<E>, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let authorised = authorise::<E>(req);
        let shared = req
            .app_data::<web::Data<PolicyStore>>()
            .and_then(|store| store.shared_limits());
        Box::pin(async move {
            let d = authorised?;
            match shared {
                // A fleet counts together (one round trip to Redis) ...
                Some(limits) => {
                    limits
                        .check(
                            &d.authorisation.activity_id,
                            d.requester.alias(),
                            d.activity().rate_limit_per_minute,
                        )
                        .await?
                }
                // ... one instance counts alone.
                None => d
                    .policy
                    .check_rate(d.authorisation.activity_index, &d.requester)?,
            }
            Ok(d)
        })
    }
}

fn authorise<E: Exchange>(req: &HttpRequest) -> Result<Doelbinding<E>, Problem> {
    let requester = req
        .extensions()
        .get::<Requester>()
        .cloned()
        .ok_or_else(|| Problem::new(ProblemCode::UnknownOrganisation))?;
    let activity = header(req, ACTIVITY_HEADER)?.ok_or_else(|| {
        Problem::new(ProblemCode::MissingProcessingActivity)
            .detail("Noem in de header X-Processing-Activity de verwerkingsactiviteit waarvoor u deze gegevens nodig hebt.")
    })?;
    let case_reference = header(req, CASE_REFERENCE_HEADER)?
        .map(parse_case_reference)
        .transpose()?;
    let store = req
        .app_data::<web::Data<PolicyStore>>()
        .expect("PolicyStore is registered on the data app");
    let policy = store.current();
    let context = req
        .extensions()
        .get::<RequestContext>()
        .cloned()
        .expect("request_context runs before every route");
    let log = req
        .app_data::<web::Data<DisclosureLog>>()
        .expect("the disclosure log is registered on the data app")
        .get_ref()
        .clone();
    let authorisation = policy.authorise(
        &requester,
        &activity,
        E::DATASET,
        E::OPERATION,
        super::today(),
        case_reference.as_deref(),
    )?;
    let span = tracing::Span::current();
    span.record("activity", authorisation.activity_id.as_str());
    span.record("register", authorisation.version.as_str());
    req.extensions_mut().insert(Applied(authorisation.clone()));
    let provider = &policy.activity(authorisation.activity_index).provider;
    let provider_oin = match provider.as_str() {
        "afzender" => Some(requester.oin.to_string()),
        alias => store
            .organisations()
            .current()
            .find(alias)
            .map(|o| o.oin.to_string()),
    };
    Ok(Doelbinding {
        policy,
        authorisation,
        requester,
        case_reference,
        provider_oin,
        context,
        log,
        _exchange: PhantomData,
    })
}

/// A header's value, trimmed; `None` when absent or empty; 400 when not visible ASCII, or
/// when it is sent more than once (which one would count is a guess an attacker could exploit
/// between two parsers).
fn header(req: &HttpRequest, name: &str) -> Result<Option<String>, Problem> {
    let mut values = req.headers().get_all(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(Problem::new(ProblemCode::ParamsValidation)
            .detail(format!("De header {name} mag maar één keer voorkomen.")));
    }
    match first {
        None => Ok(None),
        Some(v) => {
            let v = v.to_str().map_err(|_| {
                Problem::new(ProblemCode::ParamsValidation)
                    .detail(format!("De header {name} bevat ongeldige tekens."))
            })?;
            let v = v.trim();
            Ok((!v.is_empty()).then(|| v.to_owned()))
        }
    }
}

/// A zaakkenmerk: 1–128 visible characters, no control characters.
fn parse_case_reference(v: String) -> Result<String, Problem> {
    if v.len() > 128 || v.chars().any(char::is_control) {
        return Err(Problem::new(ProblemCode::ParamsValidation)
            .detail("X-Case-Reference is hoogstens 128 tekens zonder stuurtekens.")
            .invalid_param("X-Case-Reference", "maxLength", "Hoogstens 128 tekens."));
    }
    Ok(v)
}

impl<E: Exchange> Doelbinding<E> {
    pub fn activity(&self) -> &Activity {
        self.policy.activity(self.authorisation.activity_index)
    }

    pub fn authorisation(&self) -> &Authorisation {
        &self.authorisation
    }

    /// The gateway's own operation as W3C `traceparent`, for a call it makes on this request's
    /// behalf (an upstream provider records it as its foreign operation).
    pub fn traceparent(&self) -> String {
        self.context.traceparent()
    }

    /// The fields this requester may receive under this activity.
    pub fn fields(&self) -> &FieldSet {
        self.activity().fields_for(&self.requester)
    }

    /// Refuses (403 `unauthorizedField`, naming it) the first requested field that is not allowed.
    pub fn require_fields<'a>(
        &self,
        requested: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), Problem> {
        let allowed = self.fields();
        for (i, field) in requested.into_iter().enumerate() {
            if !allowed.allows(field) {
                return Err(Problem::new(ProblemCode::UnauthorizedField)
                    .detail(format!(
                        "U bent niet geautoriseerd voor het veld '{field}' onder {}.",
                        self.authorisation.activity_id
                    ))
                    .invalid_param(
                        format!("fields[{i}]"),
                        "field",
                        format!("Niet geautoriseerd voor veld {field}."),
                    ));
            }
        }
        Ok(())
    }

    /// Refuses (403 `outOfScope`) data about another gemeente's territory when the activity is
    /// limited to the requester's own.
    pub fn require_scope(&self, subject_gemeente: Gemeentecode) -> Result<(), Problem> {
        match self.activity().scope {
            Scope::None => Ok(()),
            Scope::OwnGemeente | Scope::OwnInhabitants
                if self.requester.gemeentecode == Some(subject_gemeente) =>
            {
                Ok(())
            }
            Scope::OwnGemeente | Scope::OwnInhabitants => {
                Err(Problem::new(ProblemCode::OutOfScope).detail(format!(
                    "Onder {} mag u alleen gegevens over uw eigen gemeente opvragen.",
                    self.authorisation.activity_id
                )))
            }
        }
    }

    /// Records this disclosure: one record for the request (naming how many subjects) and one
    /// per data subject under it, BSNs as keyed pseudonyms. Returns the disclosure id once the
    /// records are committed; if they cannot be, 503 `notAvailable`, and the caller must not
    /// answer with data.
    pub async fn disclose(&self, subjects: &[Bsn], fields: &[&str]) -> Result<String, Problem> {
        let provider = self.provider_oin.as_deref();
        let subjects: Vec<(Bsn, Option<&str>)> = subjects.iter().map(|b| (*b, provider)).collect();
        self.record(provider, &subjects, fields).await
    }

    /// `disclose` for an exchange whose provider is not one organisation the register names
    /// but follows from the data (`provider = "afzender"`: a signal's data comes from the
    /// organisation that sent it, whoever reads it). `provider` goes on the request record
    /// (`None` when the subjects came from several); each subject names its own.
    pub async fn disclose_provided(
        &self,
        provider: Option<&str>,
        subjects: &[(Bsn, &str)],
        fields: &[&str],
    ) -> Result<String, Problem> {
        let subjects: Vec<(Bsn, Option<&str>)> =
            subjects.iter().map(|(b, p)| (*b, Some(*p))).collect();
        self.record(provider, &subjects, fields).await
    }

    /// `respond` with the providers of `disclose_provided`.
    pub async fn respond_provided(
        &self,
        body: &impl serde::Serialize,
        provider: Option<&str>,
        subjects: &[(Bsn, &str)],
        fields: &[&str],
    ) -> Result<HttpResponse, Problem> {
        let id = self.disclose_provided(provider, subjects, fields).await?;
        Ok(HttpResponse::Ok()
            .insert_header((DISCLOSURE_ID.clone(), id))
            .json(body))
    }

    /// Does the register version of this request let `org` do `operation` under this
    /// request's activity? (E.g. may the addressee of a signal take part in the exchange.)
    pub fn permits(&self, org: &Organisation, operation: Operation) -> bool {
        self.policy
            .decider
            .allows(org.alias(), self.authorisation.activity_index, operation)
    }

    async fn record(
        &self,
        provider: Option<&str>,
        subjects: &[(Bsn, Option<&str>)],
        fields: &[&str],
    ) -> Result<String, Problem> {
        let activity = self.activity();
        let ctx = &self.context;
        let now = now_ms();
        let mut fields: Vec<&str> = fields.to_vec();
        fields.sort_unstable();
        fields.dedup();
        let base = Record {
            trace_id: ctx.trace_id,
            operation_id: ctx.operation_id,
            parent_operation_id: None,
            foreign_trace_id: ctx.foreign.map(|f| f.trace_id),
            foreign_operation_id: ctx.foreign.map(|f| f.parent_id),
            foreign_entity: ctx.foreign.map(|_| self.requester.oin.to_string()),
            name: format!("{}/{}", activity.id, E::OPERATION.as_str()),
            start_time_ms: now - ctx.started.elapsed().as_millis() as i64,
            end_time_ms: now,
            status: Status::Ok,
            refusal_code: None,
            processing_activity_id: Some(activity.id.clone()),
            register_version: Some(self.authorisation.version.clone()),
            requester_oin: Some(self.requester.oin.to_string()),
            provider_oin: provider.map(str::to_owned),
            case_reference: self.case_reference.clone(),
            fields: fields.join(","),
            record_count: subjects.len() as i32,
            subject_pseudonym: None,
            retain_until_ms: now + i64::from(activity.retention_days) * 86_400_000,
        };
        let mut records = Vec::with_capacity(subjects.len() + 1);
        for (bsn, provider) in subjects {
            records.push(Record {
                operation_id: rand::random(),
                parent_operation_id: Some(ctx.operation_id),
                record_count: 1,
                provider_oin: provider.map(str::to_owned),
                subject_pseudonym: Some(self.log.pseudonym(bsn)),
                ..base.clone()
            });
        }
        records.insert(0, base);
        self.log.append(records).await.map_err(|e| {
            tracing::error!(error = %e, "disclosure not recorded: no data is released");
            Problem::not_available()
        })?;
        Ok(format!(
            "{}-{}",
            hex::encode(ctx.trace_id),
            hex::encode(ctx.operation_id)
        ))
    }

    /// Records the disclosure and, once committed, answers with `body` and `X-Disclosure-Id`.
    pub async fn respond(
        &self,
        body: &impl serde::Serialize,
        subjects: &[Bsn],
        fields: &[&str],
    ) -> Result<HttpResponse, Problem> {
        let id = self.disclose(subjects, fields).await?;
        Ok(HttpResponse::Ok()
            .insert_header((DISCLOSURE_ID.clone(), id))
            .json(body))
    }

    /// Removes from an answer every field this requester may not receive under this activity.
    pub fn minimise(&self, answer: &mut Value) {
        let removed = self.fields().minimise(answer);
        if removed > 0 {
            tracing::warn!(
                removed,
                activity = %self.authorisation.activity_id,
                "the source returned fields outside the activity; removed before answering"
            );
        }
    }
}

/// The data pipeline's last layer before the routes: a successful answer that passed neither
/// `Doelbinding` nor `NoPersonalData` is withheld.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    let cleared = {
        let ext = res.request().extensions();
        ext.get::<Applied>().is_some() || ext.get::<NoPersonalData>().is_some()
    };
    if res.status().is_success() && !cleared {
        tracing::error!("a data route answered without doelbinding; the answer is withheld");
        let (req, _) = res.into_parts();
        let withheld = actix_web::HttpResponse::from_error(Problem::new(ProblemCode::ServerError));
        return Ok(ServiceResponse::new(req, withheld).map_into_right_body());
    }
    Ok(res.map_into_left_body())
}
