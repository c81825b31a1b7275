//! Domain values that parse on construction: once one exists, it is valid.
//!
//! Each type guards one rule of the domain (the elfproef of a BSN, the 20 digits of an OIN, …),
//! so code past the edge of the gateway never has to check again.

mod bsn;
mod gemeentecode;
mod loonheffingennummer;
mod oin;
mod postcode;

pub use bsn::Bsn;
pub use gemeentecode::Gemeentecode;
pub use loonheffingennummer::Loonheffingennummer;
pub use oin::Oin;
pub use postcode::Postcode;

/// Why a value from outside was not accepted. The message never repeats the value itself,
/// because the value may be personal data (a BSN).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub &'static str);

/// Implements `Display`, `Serialize` and `Deserialize` (through `parse`) for a value type
/// that is stored as text.
macro_rules! text_value {
    ($ty:ident) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use text_value;

/// The Dutch month names, for dates in their long form ("4 mei 1990").
pub const MAANDEN: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
];

/// `s` as exactly `N` ASCII digits.
fn digits<const N: usize>(s: &str) -> Option<[u8; N]> {
    let bytes: [u8; N] = s.as_bytes().try_into().ok()?;
    bytes.iter().all(u8::is_ascii_digit).then_some(bytes)
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzzing::arb;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_text_makes_a_parser_panic(s in arb::text()) {
            crate::fuzzing::domain(s.as_bytes());
        }

        #[test]
        fn a_bsn_passing_the_elfproef_is_accepted_as_given(s in arb::bsn()) {
            let bsn = Bsn::parse(&s).unwrap();
            prop_assert_eq!(bsn.as_str(), s.as_str());
            prop_assert_eq!(bsn.to_string(), s.clone());
            let debug = format!("{bsn:?}");
            prop_assert!(!debug.contains(&s));
            let json = serde_json::to_string(&bsn).unwrap();
            prop_assert_eq!(serde_json::from_str::<Bsn>(&json).unwrap(), bsn);
        }

        #[test]
        fn one_wrong_digit_fails_the_elfproef(s in arb::bsn_failing_elfproef()) {
            prop_assert_eq!(
                Bsn::parse(&s).unwrap_err(),
                InvalidValue("burgerservicenummer fails the elfproef")
            );
        }

        #[test]
        fn what_is_not_nine_digits_is_no_bsn(s in "[0-9]{0,8}|[0-9]{10,12}|[0-9]{0,8}[^0-9][0-9]{0,8}") {
            prop_assert!(Bsn::parse(&s).is_err());
        }

        #[test]
        fn postcodes_parse_to_their_canonical_form(
            digits in "[1-9][0-9]{3}", space in proptest::bool::ANY, letters in "[a-zA-Z]{2}"
        ) {
            let given = format!("{digits}{}{letters}", if space { " " } else { "" });
            let p = Postcode::parse(&given).unwrap();
            prop_assert_eq!(p.as_str(), format!("{digits}{}", letters.to_ascii_uppercase()));
            prop_assert_eq!(Postcode::parse(p.as_str()).unwrap(), p);
        }

        #[test]
        fn whatever_postcode_is_accepted_is_canonical(s in arb::text()) {
            if let Ok(p) = Postcode::parse(&s) {
                let c = p.as_str().as_bytes();
                prop_assert!((b'1'..=b'9').contains(&c[0]));
                prop_assert!(c[1..4].iter().all(u8::is_ascii_digit));
                prop_assert!(c[4..].iter().all(u8::is_ascii_uppercase));
            }
        }

        #[test]
        fn oins_and_gemeentecodes_are_digits(oin in "[0-9]{20}", code in "[0-9]{4}", other in arb::text()) {
            let parsed = Oin::parse(&oin).unwrap();
            prop_assert_eq!(parsed.as_str(), oin.as_str());
            prop_assert_eq!(Gemeentecode::parse(&code).is_ok(), code != "0000");
            if other.len() != 20 {
                prop_assert!(Oin::parse(&other).is_err());
            }
        }

        #[test]
        fn a_loonheffingennummer_is_a_fiscal_number_l_and_two_digits(
            rsin in arb::bsn(), l in "[Ll]", sub in "[0-9]{2}", bad in arb::bsn_failing_elfproef()
        ) {
            let n = Loonheffingennummer::parse(&format!("{rsin}{l}{sub}")).unwrap();
            let canonical = format!("{rsin}L{sub}");
            prop_assert_eq!(n.as_str(), canonical.as_str());
            let debug = format!("{n:?}");
            prop_assert!(!debug.contains(&rsin));
            let failing = format!("{bad}L{sub}");
            prop_assert!(Loonheffingennummer::parse(&failing).is_err());
        }
    }
}
