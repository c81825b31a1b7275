//! RFC 9457 problem details: the one shape every error of the gateway takes.
//!
//! A `Problem` carries a `code` from SPEC.md's list. Handlers and middleware return it as an
//! error; `telemetry::request_context` adds the `instance` (the request id) and records the
//! refusal. Nothing internal (stack traces, SQL, file paths, BSNs) ever goes into `detail`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The `code` member: stable, machine-readable, named in SPEC.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ProblemCode {
    ParamsValidation,
    /// Haal Centraal's code for a missing mandatory parameter.
    ParamsCombination,
    UnauthorizedField,
    MissingProcessingActivity,
    UnknownProcessingActivity,
    NotPermitted,
    OutOfScope,
    ActivityNotInForce,
    CaseReferenceRequired,
    UnknownOrganisation,
    Authentication,
    NotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    TooManyRequests,
    PayloadTooLarge,
    NotAvailable,
    /// An upstream provider did not answer in time (504).
    GatewayTimeout,
    ServerError,
    /// The request contradicts the resource's current state (e.g. a status change a signal's
    /// state machine does not allow). Not in SPEC.md's list; added for signals.
    Conflict,
}

impl ProblemCode {
    pub fn status(self) -> StatusCode {
        use ProblemCode::*;
        match self {
            ParamsValidation
            | ParamsCombination
            | MissingProcessingActivity
            | CaseReferenceRequired => StatusCode::BAD_REQUEST,
            Authentication => StatusCode::UNAUTHORIZED,
            UnauthorizedField
            | UnknownProcessingActivity
            | NotPermitted
            | OutOfScope
            | ActivityNotInForce
            | UnknownOrganisation => StatusCode::FORBIDDEN,
            NotFound => StatusCode::NOT_FOUND,
            Conflict => StatusCode::CONFLICT,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            NotAvailable => StatusCode::SERVICE_UNAVAILABLE,
            GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The code as it appears on the wire (and in metrics labels).
    pub fn as_str(self) -> &'static str {
        use ProblemCode::*;
        match self {
            ParamsValidation => "paramsValidation",
            ParamsCombination => "paramsCombination",
            UnauthorizedField => "unauthorizedField",
            MissingProcessingActivity => "missingProcessingActivity",
            UnknownProcessingActivity => "unknownProcessingActivity",
            NotPermitted => "notPermitted",
            OutOfScope => "outOfScope",
            ActivityNotInForce => "activityNotInForce",
            CaseReferenceRequired => "caseReferenceRequired",
            UnknownOrganisation => "unknownOrganisation",
            Authentication => "authentication",
            NotFound => "notFound",
            MethodNotAllowed => "methodNotAllowed",
            UnsupportedMediaType => "unsupportedMediaType",
            TooManyRequests => "tooManyRequests",
            PayloadTooLarge => "payloadTooLarge",
            NotAvailable => "notAvailable",
            GatewayTimeout => "gatewayTimeout",
            ServerError => "serverError",
            Conflict => "conflict",
        }
    }

    /// A short Dutch title, as Haal Centraal APIs give them.
    fn title(self) -> &'static str {
        use ProblemCode::*;
        match self {
            ParamsValidation => "Een of meerdere parameters zijn niet correct.",
            ParamsCombination => "Minimale combinatie van parameters moet worden opgegeven.",
            UnauthorizedField => "U bent niet geautoriseerd voor een gevraagd veld.",
            MissingProcessingActivity => {
                "De verwerkingsactiviteit (X-Processing-Activity) ontbreekt."
            }
            UnknownProcessingActivity => "Deze verwerkingsactiviteit is niet bekend.",
            NotPermitted => "U bent niet geautoriseerd voor deze verwerkingsactiviteit.",
            OutOfScope => "Het gevraagde valt buiten uw werkgebied.",
            ActivityNotInForce => "Deze verwerkingsactiviteit is nu niet van kracht.",
            CaseReferenceRequired => "Een zaakkenmerk (X-Case-Reference) is verplicht.",
            UnknownOrganisation => "Uw organisatie is niet bekend bij doelpoort.",
            Authentication => "Niet correct geauthenticeerd.",
            NotFound => "Opgevraagde resource bestaat niet.",
            MethodNotAllowed => "Gebruikte HTTP-methode is niet toegestaan.",
            UnsupportedMediaType => "Het mediatype van de request wordt niet ondersteund.",
            TooManyRequests => "Te veel verzoeken.",
            PayloadTooLarge => "Het verzoek is te groot.",
            NotAvailable => "Bronservice is tijdelijk niet beschikbaar.",
            GatewayTimeout => "De bronservice antwoordde niet op tijd.",
            ServerError => "Interne serverfout.",
            Conflict => "Het verzoek past niet bij de huidige toestand van de resource.",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InvalidParam {
    pub name: String,
    pub code: String,
    pub reason: String,
}

/// A problem as it travels through the gateway; `type`, `title` and `status` follow from the
/// code and are added when it is rendered.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: ProblemCode,
    pub detail: Option<String>,
    pub instance: Option<String>,
    pub invalid_params: Vec<InvalidParam>,
    /// Seconds, for `Retry-After` on 429 and 503.
    pub retry_after: Option<u64>,
    /// For 401: the `WWW-Authenticate` challenge (RFC 6750), e.g. `Bearer realm="…"`.
    pub challenge: Option<String>,
}

/// The wire form (RFC 9457 plus Haal Centraal's `code` and `invalidParams`).
#[derive(Serialize)]
struct Rendered<'a> {
    #[serde(rename = "type")]
    type_uri: &'static str,
    title: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    code: ProblemCode,
    #[serde(rename = "invalidParams", skip_serializing_if = "<[_]>::is_empty")]
    invalid_params: &'a [InvalidParam],
}

impl Problem {
    pub fn new(code: ProblemCode) -> Self {
        Problem {
            detail: None,
            instance: None,
            code,
            invalid_params: Vec::new(),
            retry_after: None,
            challenge: None,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn invalid_param(
        mut self,
        name: impl Into<String>,
        code: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        self.invalid_params.push(InvalidParam {
            name: name.into(),
            code: code.into(),
            reason: reason.into(),
        });
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status().as_u16()
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The `WWW-Authenticate` challenge a 401 answers with.
    pub fn challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    pub fn not_found() -> Self {
        Problem::new(ProblemCode::NotFound)
    }

    /// For failures inside the gateway: the caller learns only that it is not available; the
    /// cause goes to the log (by the caller of this function), never into the response.
    pub fn not_available() -> Self {
        Problem::new(ProblemCode::NotAvailable)
            .detail(
                "De dienst kan dit verzoek nu niet veilig afhandelen; probeer het later opnieuw.",
            )
            .retry_after(5)
    }
}

/// The RFC 9110 section for the status, as Haal Centraal does for its `type`.
fn type_uri(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://www.rfc-editor.org/rfc/rfc9110#name-400-bad-request",
        401 => "https://www.rfc-editor.org/rfc/rfc9110#name-401-unauthorized",
        403 => "https://www.rfc-editor.org/rfc/rfc9110#name-403-forbidden",
        404 => "https://www.rfc-editor.org/rfc/rfc9110#name-404-not-found",
        405 => "https://www.rfc-editor.org/rfc/rfc9110#name-405-method-not-allowed",
        409 => "https://www.rfc-editor.org/rfc/rfc9110#name-409-conflict",
        413 => "https://www.rfc-editor.org/rfc/rfc9110#name-413-content-too-large",
        415 => "https://www.rfc-editor.org/rfc/rfc9110#name-415-unsupported-media-type",
        429 => "https://www.rfc-editor.org/rfc/rfc6585#section-4",
        503 => "https://www.rfc-editor.org/rfc/rfc9110#name-503-service-unavailable",
        504 => "https://www.rfc-editor.org/rfc/rfc9110#name-504-gateway-timeout",
        _ => "https://www.rfc-editor.org/rfc/rfc9110#name-500-internal-server-error",
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status(), self.code.as_str())
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        if let Some(seconds) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(challenge) = &self.challenge {
            res.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        let status = self.code.status();
        let rendered = Rendered {
            type_uri: type_uri(status),
            title: self.code.title(),
            status: status.as_u16(),
            detail: self.detail.as_deref(),
            instance: self.instance.as_deref(),
            code: self.code,
            invalid_params: &self.invalid_params,
        };
        res.body(serde_json::to_vec(&rendered).expect("a problem always serialises"))
    }
}

/// Default service: any path the gateway does not serve.
pub async fn not_found() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found())
}

/// Default service of a resource: the path exists, the method does not.
pub async fn method_not_allowed() -> Result<HttpResponse, Problem> {
    Err(Problem::new(ProblemCode::MethodNotAllowed))
}

/// Error handlers for actix's extractors, so that malformed JSON, query strings and paths
/// answer with problem+json too (and an oversized body with 413).
pub mod extractors {
    use super::{Problem, ProblemCode};
    use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
    use actix_web::{web, HttpRequest};

    pub fn json_config(limit: usize) -> web::JsonConfig {
        web::JsonConfig::default()
            .limit(limit)
            .error_handler(move |err, _req: &HttpRequest| {
                let problem = match &err {
                    JsonPayloadError::OverflowKnownLength { .. }
                    | JsonPayloadError::Overflow { .. } => {
                        Problem::new(ProblemCode::PayloadTooLarge)
                            .detail(format!("De body mag hoogstens {limit} bytes zijn."))
                    }
                    JsonPayloadError::ContentType => {
                        Problem::new(ProblemCode::UnsupportedMediaType)
                            .detail("Gebruik Content-Type: application/json.")
                    }
                    JsonPayloadError::Deserialize(e) => Problem::new(ProblemCode::ParamsValidation)
                        .detail(format!(
                            "De body is geen geldig verzoek: {} (regel {}, kolom {}).",
                            safe_reason(&e.to_string()),
                            e.line(),
                            e.column()
                        )),
                    _ => Problem::new(ProblemCode::ParamsValidation)
                        .detail("De body kon niet gelezen worden."),
                };
                problem.into()
            })
    }

    pub fn query_config() -> web::QueryConfig {
        web::QueryConfig::default().error_handler(|err, _req| {
            let reason = match &err {
                QueryPayloadError::Deserialize(e) => safe_reason(&e.to_string()),
                _ => "ongeldige query".to_owned(),
            };
            Problem::new(ProblemCode::ParamsValidation)
                .detail(format!("De query-parameters zijn niet correct: {reason}"))
                .into()
        })
    }

    pub fn path_config() -> web::PathConfig {
        web::PathConfig::default().error_handler(|err, _req| {
            let reason = match &err {
                PathError::Deserialize(e) => safe_reason(&e.to_string()),
                _ => "ongeldig pad".to_owned(),
            };
            Problem::new(ProblemCode::ParamsValidation)
                .detail(format!("Het pad is niet correct: {reason}"))
                .into()
        })
    }

    /// serde's messages often quote the offending value (`invalid type: string "…"`,
    /// ``integer `…` ``), which may be a BSN. Only the messages that name nothing but a field
    /// are passed on, and an unknown field only when its name is letters alone (a member
    /// named `999993653` is a BSN too); every other one becomes a generic reason.
    pub fn safe_reason(message: &str) -> String {
        let message = message.split(" at line ").next().unwrap_or(message);
        let field = message.split('`').nth(1).unwrap_or_default();
        let plain = is_plain_name(field);
        if message.starts_with("missing field") {
            message.to_owned()
        } else if message.starts_with("unknown field") && plain {
            format!("unknown field `{field}`")
        } else if message.starts_with("unknown field") {
            "an unknown field".to_owned()
        } else if message.starts_with("duplicate field") && plain {
            format!("duplicate field `{field}`")
        } else {
            "een waarde heeft een ongeldig type of formaat".to_owned()
        }
    }

    /// Whether a member name from a request may be repeated in a problem: ASCII letters and
    /// `_` only, so that it cannot hold a BSN or anything else numeric.
    pub fn is_plain_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn never_echoes_values() {
            let e = serde_json::from_str::<u8>("\"999993653\"").unwrap_err();
            assert!(!super::safe_reason(&e.to_string()).contains("999993653"));
            let e = serde_json::from_str::<String>("999993653").unwrap_err();
            assert!(!super::safe_reason(&e.to_string()).contains("999993653"));
            assert_eq!(
                super::safe_reason("missing field `fields` at line 1 column 2"),
                "missing field `fields`"
            );
            #[derive(Debug, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            #[allow(dead_code)]
            struct Body {
                naam: Option<String>,
            }
            let e = serde_json::from_str::<Body>(r#"{"999993653": 1}"#).unwrap_err();
            assert!(!super::safe_reason(&e.to_string()).contains("999993653"));
            let e = serde_json::from_str::<Body>(r#"{"voornaam": 1}"#).unwrap_err();
            assert_eq!(
                super::safe_reason(&e.to_string()),
                "unknown field `voornaam`"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn renders_rfc9457_with_code() {
        let problem = Problem::new(ProblemCode::ParamsValidation)
            .detail("x")
            .invalid_param("burgerservicenummer", "pattern", "9 cijfers");
        let res = problem.error_response();
        assert_eq!(res.status(), 400);
        assert_eq!(res.headers().get("content-type").unwrap(), CONTENT_TYPE);
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(res.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["code"], "paramsValidation");
        assert_eq!(body["status"], 400);
        assert_eq!(body["invalidParams"][0]["name"], "burgerservicenummer");
        assert!(body["type"].as_str().unwrap().starts_with("https://"));
    }

    #[test]
    fn every_code_has_its_status() {
        assert_eq!(ProblemCode::UnknownOrganisation.status(), 403);
        assert_eq!(ProblemCode::PayloadTooLarge.status(), 413);
        assert_eq!(ProblemCode::NotAvailable.status(), 503);
        assert_eq!(ProblemCode::CaseReferenceRequired.status(), 400);
        assert_eq!(ProblemCode::Conflict.status(), 409);
        assert_eq!(ProblemCode::Conflict.as_str(), "conflict");
        assert_eq!(
            serde_json::to_value(ProblemCode::TooManyRequests).unwrap(),
            ProblemCode::TooManyRequests.as_str()
        );
    }
}
