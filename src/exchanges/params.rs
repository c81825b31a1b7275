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

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzzing::{arb, assert_safe_problem};
    use proptest::prelude::*;

    /// A query string: pairs of known or odd names and values, some encoded.
    fn query_string() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            4 => proptest::sample::select(vec![
                "bsn", "postcode", "volgende", "huisletter", "toevoeging", "huisnummer",
                "loonheffingennummer", "map", "status", "aantal", "from", "to", "requester",
                "provider", "activity", "refusal_code", "case_reference", "kind", "cursor",
                "limit", "group_by",
            ])
            .prop_map(str::to_owned),
            1 => arb::text(),
            1 => arb::bsn(),
        ];
        let value = prop_oneof![arb::bsn(), arb::text(), "[0-9%+&=a-fA-F-]{0,20}"];
        proptest::collection::vec((name, value), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    proptest! {
        #[test]
        fn no_query_string_makes_a_route_panic_or_echo(route in any::<u8>(), qs in query_string()) {
            let mut data = vec![route];
            data.extend(qs.as_bytes());
            crate::fuzzing::query(&data);
        }

        #[test]
        fn a_valid_bsn_is_accepted(s in arb::bsn()) {
            let parsed = bsn("bsn", &s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }

        #[test]
        fn an_elfproef_failure_is_its_own_code(s in arb::bsn_failing_elfproef()) {
            let p = bsn("bsn", &s).unwrap_err();
            assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
            prop_assert_eq!(p.invalid_params[0].code.as_str(), "elfproef");
        }

        #[test]
        fn other_text_is_a_pattern_fault(s in arb::text()) {
            prop_assume!(!(s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit())));
            let p = bsn("bsn", &s).unwrap_err();
            assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
            prop_assert_eq!(p.invalid_params[0].code.as_str(), "pattern");
            let p = loonheffingennummer("loonheffingennummer", &s);
            if let Err(p) = p {
                assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
            }
        }

        #[test]
        fn a_bsn_twice_or_misnamed_is_not_repeated(s in arb::bsn()) {
            for qs in [format!("bsn={s}&bsn={s}"), format!("{s}={s}"), format!("bsn={s}&x={s}")] {
                let p = actix_web::web::Query::<BsnQuery>::from_query(&qs).map_err(query).err().unwrap();
                assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
            }
        }
    }
}
