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
