//! Request parameters shared by the exchanges, parsed into domain values. A value that does
//! not parse is a 400 `paramsValidation` naming the parameter, never repeating its value (it
//! may be a BSN).

use actix_web::error::QueryPayloadError;
use serde::Deserialize;

use crate::domain::{Bsn, Loonheffingennummer};
use crate::problem::extractors::safe_reason;
use crate::problem::{Problem, ProblemCode};

/// `?bsn=…`, and nothing else.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BsnQuery {
    /// Burgerservicenummer (elfproef).
    #[param(pattern = r"^[0-9]{9}$")]
    pub bsn: String,
}

pub fn invalid(name: &str, code: &str, reason: &str) -> Problem {
    Problem::new(ProblemCode::ParamsValidation)
        .detail(format!("De parameter {name} is niet correct."))
        .invalid_param(name, code, reason)
}

/// A query string that does not fit the route's parameters (for routes that read it
/// themselves rather than through the `Query` extractor).
pub fn query(e: QueryPayloadError) -> Problem {
    let reason = match &e {
        QueryPayloadError::Deserialize(e) => safe_reason(&e.to_string()),
        _ => "ongeldige query".to_owned(),
    };
    Problem::new(ProblemCode::ParamsValidation)
        .detail(format!("De query-parameters zijn niet correct: {reason}"))
}

pub fn bsn(name: &str, value: &str) -> Result<Bsn, Problem> {
    Bsn::parse(value).map_err(|_| {
        if value.len() == 9 && value.bytes().all(|b| b.is_ascii_digit()) {
            invalid(
                name,
                "elfproef",
                "Dit is geen geldig burgerservicenummer (elfproef).",
            )
        } else {
            invalid(name, "pattern", "Een burgerservicenummer is 9 cijfers.")
        }
    })
}

pub fn loonheffingennummer(name: &str, value: &str) -> Result<Loonheffingennummer, Problem> {
    Loonheffingennummer::parse(value).map_err(|_| {
        invalid(
            name,
            "pattern",
            "Een loonheffingennummer is een fiscaal nummer (9 cijfers, elfproef), de letter L en 2 cijfers, bijvoorbeeld 123456782L01.",
        )
    })
}
