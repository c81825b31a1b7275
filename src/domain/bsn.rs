use super::{digits, text_value, InvalidValue};

/// Burgerservicenummer: 9 digits that pass the elfproef.
///
/// A BSN is personal data: its `Debug` form is redacted so that it cannot reach a log line by
/// accident. `as_str` and `Display` give the number itself, for the places that must have it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bsn([u8; 9]);

impl Bsn {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let d = digits::<9>(s).ok_or(InvalidValue("a burgerservicenummer is 9 digits"))?;
        if Self::elfproef(&d) {
            Ok(Bsn(d))
        } else {
            Err(InvalidValue("burgerservicenummer fails the elfproef"))
        }
    }

    /// 9·d1 + 8·d2 + … + 2·d8 − 1·d9 must be a multiple of 11, and not 0. The RSIN (the
    /// fiscal number in a loonheffingennummer) passes the same test.
    pub(super) fn elfproef(d: &[u8; 9]) -> bool {
        let sum: i32 = d
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = i32::from(c - b'0');
                if i == 8 {
                    -v
                } else {
                    v * (9 - i as i32)
                }
            })
            .sum();
        sum != 0 && sum % 11 == 0
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("BSN is ASCII")
    }
}

impl std::fmt::Debug for Bsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bsn(<redacted>)")
    }
}

text_value!(Bsn);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elfproef() {
        // 999993653 and 111222333 are well-known test numbers that pass the elfproef.
        for good in ["999993653", "111222333", "123456782"] {
            assert!(Bsn::parse(good).is_ok(), "{good} refused");
        }
        for bad in [
            "999993654",
            "123456789",
            "000000000",
            "12345678",
            "1234567890",
            "12345678a",
        ] {
            assert!(Bsn::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let bsn = Bsn::parse("999993653").unwrap();
        assert!(!format!("{bsn:?}").contains("999993653"));
    }
}
