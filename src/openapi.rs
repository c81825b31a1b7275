//! `GET /openapi.json`: the OpenAPI 3.1 document of the data listener and of the audit API
//! (`/audit/v1/…`, on the audit listener), generated from the route handlers'
//! `#[utoipa::path]` annotations and the request types' `ToSchema`. What every data operation
//! shares (the doelbinding headers, `X-Disclosure-Id`, the problem responses, mutual TLS) and
//! what every audit operation shares (the bearer token, its problems, the audit record of
//! the query) is added here once, so a route's annotation says only what is its own.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::policy::enforce::NoPersonalData;
use crate::policy::{Policy, PolicyStore};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "doelpoort",
        description = "mTLS REST gateway through which Dutch public agencies exchange personal data only within a legal basis and for a registered purpose (doelbinding); every disclosure is recorded. Every data operation names its processing activity in X-Processing-Activity.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    paths(
        crate::identity::whoami::whoami,
        crate::exchanges::rni::tellingen,
        crate::exchanges::rni::adressen,
        crate::exchanges::abo::contactgegevens,
        crate::exchanges::abo::wijzig_verblijfsadres,
        crate::exchanges::haalcentraal::personen,
        crate::exchanges::uwv::dienstverbanden,
        crate::exchanges::uwv::werk_inkomen,
        crate::exchanges::svb::uitkeringen,
        crate::exchanges::signalen::lijst::lijst,
        crate::exchanges::signalen::versturen::versturen,
        crate::exchanges::signalen::inzien::inzien,
        crate::exchanges::signalen::status::wijzigen,
        openapi_json,
        crate::audit::search::disclosures,
        crate::audit::inzage::inzage,
        crate::audit::stats::stats,
        crate::audit::anomalieen::anomalieen,
        crate::audit::verify,
        crate::audit::export::export,
        crate::audit::sessie,
    ),
    tags(
        (name = "identiteit", description = "Wie de gateway in de aanroeper ziet"),
        (name = "rni", description = "RNI-gegevens voor gemeenten (tellingen, adresoverzicht, experiment ABO)"),
        (name = "haalcentraal", description = "Haal Centraal BRP Personen v2 over de RNI"),
        (name = "uwv-svb", description = "Dienstverbanden en uitkeringen (UWV, SVB)"),
        (name = "signalen", description = "Signalen tussen organisaties, met terugkoppeling"),
        (name = "audit", description = "Het logboek voor functionarissen gegevensbescherming en de toezichthouder (audit-listener, bearer-token)"),
    )
)]
struct Api;

/// Operations that disclose no personal data and take no processing activity.
const WITHOUT_ACTIVITY: &[&str] = &["/api/v1/whoami", "/openapi.json"];

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = serde_json::to_value(Api::openapi()).expect("the document serialises");
        shared_parts(&mut doc);
        doc
    })
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// Adds what every data operation has in common.
fn shared_parts(doc: &mut Value) {
    doc["openapi"] = json!("3.1.0");
    doc["components"]["securitySchemes"] = json!({
        "mtls": { "type": "mutualTLS", "description": "A client certificate chaining to a trusted CA (PKIoverheid), not revoked, with the organisation's OIN in the subject serialNumber." },
        "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A JWT from an issuer in audit.issuers (EdDSA or RS256; exp, nbf, iss and aud checked) with the claims oin (a registered organisation) and role (privacy-officer: records where that organisation is requester or provider; supervisor: all)." }
    });
    doc["security"] = json!([{ "mtls": [] }]);
    doc["components"]["schemas"]["Problem"] = json!({
        "type": "object",
        "description": "RFC 9457 problem details, as Haal Centraal gives them.",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": { "type": "string", "format": "uri" },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 100, "maximum": 599 },
            "detail": { "type": "string" },
            "instance": { "type": "string" },
            "code": { "type": "string", "description": "paramsValidation, paramsCombination, unauthorizedField, missingProcessingActivity, unknownProcessingActivity, notPermitted, outOfScope, activityNotInForce, caseReferenceRequired, unknownOrganisation, notFound, tooManyRequests, payloadTooLarge, notAvailable, …" },
            "invalidParams": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "code", "reason"],
                    "properties": { "name": { "type": "string" }, "code": { "type": "string" }, "reason": { "type": "string" } }
                }
            }
        }
    });
    doc["components"]["headers"] = json!({
        "X-Disclosure-Id": { "description": "The disclosure-log record written for this answer: <trace_id>-<operation_id> (hex).", "schema": { "type": "string", "pattern": "^[0-9a-f]{32}-[0-9a-f]{16}$" } },
        "traceparent": { "description": "W3C Trace Context of the gateway's own operation.", "schema": { "type": "string" } }
    });
    let activity = json!({ "name": "X-Processing-Activity", "in": "header", "required": true, "description": "The processing activity (verwerkingsactiviteit) of the register this request is made under: doelbinding.", "schema": { "type": "string", "pattern": "^[a-z0-9-]{1,64}$" } });
    let case_reference = json!({ "name": "X-Case-Reference", "in": "header", "required": false, "description": "The case reference (zaakkenmerk); required where the activity says so.", "schema": { "type": "string", "maxLength": 128 } });
    let traceparent = json!({ "name": "traceparent", "in": "header", "required": false, "description": "W3C Trace Context of the caller's operation; recorded as the foreign operation.", "schema": { "type": "string" } });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if path.starts_with(AUDIT_PREFIX) {
            audit_parts(path, item);
            continue;
        }
        let with_activity = !WITHOUT_ACTIVITY.contains(&path.as_str());
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (_, op) in item.iter_mut() {
            let mut params = op["parameters"].as_array().cloned().unwrap_or_default();
            params.push(traceparent.clone());
            if with_activity {
                params.push(activity.clone());
                params.push(case_reference.clone());
            }
            op["parameters"] = Value::Array(params);
            let responses = op["responses"]
                .as_object_mut()
                .expect("every operation names its responses");
            for (status, response) in responses.iter_mut() {
                if status.starts_with('2') && with_activity {
                    response["headers"] = json!({
                        "X-Disclosure-Id": { "$ref": "#/components/headers/X-Disclosure-Id" },
                        "traceparent": { "$ref": "#/components/headers/traceparent" }
                    });
                }
            }
            let mut add = |status: &str, description: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            };
            add("400", "The request is not valid (paramsValidation, paramsCombination, missingProcessingActivity, caseReferenceRequired).");
            add("403", "Refused: unknownOrganisation, unknownProcessingActivity, notPermitted, activityNotInForce, outOfScope or unauthorizedField.");
            add("404", "Not found.");
            add("405", "Method not allowed.");
            add("413", "The body is too large.");
            add(
                "429",
                "Too many requests under this activity (Retry-After).",
            );
            add("503", "Not available; in particular when the disclosure log cannot be written: no data is released.");
            if with_activity {
                add("415", "The body is not application/json.");
            }
        }
    }
}

const AUDIT_PREFIX: &str = "/audit/v1/";

/// What every audit operation shares: its listener, the bearer token, its problems, and the
/// `X-Disclosure-Id` of the audit record every answered query gets.
fn audit_parts(path: &str, item: &mut Value) {
    let Some(item) = item.as_object_mut() else {
        return;
    };
    for (_, op) in item.iter_mut() {
        op["security"] = json!([{ "bearer": [] }]);
        let responses = op["responses"]
            .as_object_mut()
            .expect("every operation names its responses");
        for (status, response) in responses.iter_mut() {
            if status.starts_with('2') {
                response["headers"] = json!({
                    "X-Disclosure-Id": { "$ref": "#/components/headers/X-Disclosure-Id" }
                });
            }
        }
        if path == "/audit/v1/inzage" {
            if let Some(ok) = responses.get_mut("200") {
                ok["content"]["text/csv"] = json!({ "schema": { "type": "string" } });
                ok["content"]["text/html"] = json!({ "schema": { "type": "string" } });
            }
        }
        let mut add = |status: &str, description: &str| {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| problem_response(description));
        };
        add(
            "400",
            "A parameter is not valid (paramsValidation, naming it).",
        );
        add("401", "No token, or one that is refused: unknown issuer, bad signature, another algorithm, expired, not yet valid, another audience (WWW-Authenticate: Bearer).");
        add("403", "The token's organisation is not registered (unknownOrganisation), or the role may not do this (notPermitted).");
        add(
            "429",
            "A verification of the log is already running (Retry-After).",
        );
        add("503", "Not available; in particular when the audit record of this query cannot be written: no answer is released.");
        if path == "/audit/v1/inzage" {
            add(
                "415",
                "The body is not application/json (unsupportedMediaType).",
            );
        }
    }
    item.insert(
        "servers".into(),
        json!([{ "url": "https://localhost:8444", "description": "The audit listener (server.audit_listen): TLS without client certificates" }]),
    );
}

/// The document as served: `X-Processing-Activity` lists the ids of the register in force
/// (any other id is refused with 403 `unknownProcessingActivity`).
pub fn document_for(policy: &Policy) -> Value {
    let ids: Vec<&str> = policy
        .register
        .activities
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    let mut doc = document().clone();
    for item in doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut())
    {
        // A path item holds its operations and also `servers`, `parameters`, …: only the
        // operations (objects) have parameters of their own.
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|i| i.values_mut())
            .filter_map(Value::as_object_mut)
        {
            let params = op.get_mut("parameters").and_then(Value::as_array_mut);
            for param in params.into_iter().flatten() {
                if param["name"] == "X-Processing-Activity" {
                    param["schema"]["enum"] = json!(ids);
                }
            }
        }
    }
    doc
}

/// `GET /openapi.json`: this document.
#[utoipa::path(get, path = "/openapi.json", tag = "identiteit",
    responses((status = 200, description = "The OpenAPI 3.1 document of the data listener", content_type = "application/json")))]
pub(crate) async fn openapi_json(_: NoPersonalData, store: web::Data<PolicyStore>) -> HttpResponse {
    HttpResponse::Ok().json(document_for(&store.current()))
}

/// Mounts `/openapi.json` (data listener: behind mTLS like every route there).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/openapi.json")
            .get(openapi_json)
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mounted_data_route_is_documented() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/whoami",
            "/api/v1/rni/tellingen",
            "/api/v1/rni/adressen/{postcode}/{huisnummer}",
            "/api/v1/rni/contactgegevens",
            "/api/v1/rni/personen/{bsn}/verblijfsadres",
            "/haalcentraal/api/brp/personen",
            "/api/v1/uwv/dienstverbanden",
            "/api/v1/uwv/werk-inkomen",
            "/api/v1/svb/uitkeringen",
            "/api/v1/signalen",
            "/api/v1/signalen/{id}",
            "/api/v1/signalen/{id}/status",
            "/openapi.json",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        let hc = &doc["paths"]["/haalcentraal/api/brp/personen"]["post"];
        let names: Vec<&str> = hc["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"X-Processing-Activity"));
        assert!(hc["responses"]["200"]["headers"]["X-Disclosure-Id"].is_object());
        assert!(hc["responses"]["403"].is_object());
    }

    #[test]
    fn the_audit_api_is_documented_with_its_bearer_token() {
        let doc = document();
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        for (path, method) in [
            ("/audit/v1/disclosures", "get"),
            ("/audit/v1/inzage", "post"),
            ("/audit/v1/stats", "get"),
            ("/audit/v1/anomalieen", "get"),
            ("/audit/v1/verify", "get"),
            ("/audit/v1/export", "get"),
            ("/audit/v1/sessie", "get"),
        ] {
            let op = &doc["paths"][path][method];
            assert_eq!(op["security"], json!([{ "bearer": [] }]), "{path}");
            assert!(op["responses"]["401"].is_object(), "{path}");
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            assert!(
                params.iter().all(|p| p["name"] != "X-Processing-Activity"),
                "{path} takes no processing activity"
            );
        }
        let search = &doc["paths"]["/audit/v1/disclosures"]["get"]["parameters"];
        let names: Vec<&str> = search
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in [
            "from",
            "to",
            "requester",
            "provider",
            "activity",
            "status",
            "refusal_code",
            "case_reference",
            "cursor",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let inzage = &doc["paths"]["/audit/v1/inzage"]["post"]["responses"]["200"]["content"];
        assert!(inzage["text/csv"].is_object() && inzage["text/html"].is_object());
    }

    #[test]
    fn the_activity_header_lists_the_register_in_force() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policy = Policy::load(
            &dir,
            crate::fuzzing::organisations(),
            crate::policy::today(),
        )
        .unwrap();
        let doc = document_for(&policy);
        let op = &doc["paths"]["/api/v1/rni/tellingen"]["get"];
        let header = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "X-Processing-Activity")
            .unwrap();
        let ids: Vec<&str> = header["schema"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), policy.register.activities.len());
        assert!(ids.contains(&"rni-telling") && ids.contains(&"laa-signaal"));
        // Operations without an activity do not get the header.
        let whoami = &doc["paths"]["/api/v1/whoami"]["get"]["parameters"];
        assert!(!whoami.to_string().contains("X-Processing-Activity"));
    }
}
