use super::{text_value, InvalidValue};

/// A Dutch postcode in its canonical form `1234AB` (4 digits, the first not 0, and 2 capitals).
/// Parsing accepts the forms the Haal Centraal spec accepts: an optional space, either case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Postcode([u8; 6]);

impl Postcode {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let compact: Vec<u8> = match s.as_bytes() {
            [a, b, c, d, b' ', e, f] => vec![*a, *b, *c, *d, *e, *f],
            other => other.to_vec(),
        };
        let ok = compact.len() == 6
            && (b'1'..=b'9').contains(&compact[0])
            && compact[1..4].iter().all(u8::is_ascii_digit)
            && compact[4..].iter().all(u8::is_ascii_alphabetic);
        if !ok {
            return Err(InvalidValue(
                "a postcode is 4 digits and 2 letters, e.g. 1012AB",
            ));
        }
        let mut p = [0u8; 6];
        for (dst, src) in p.iter_mut().zip(&compact) {
            *dst = src.to_ascii_uppercase();
        }
        Ok(Postcode(p))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("postcode is ASCII")
    }
}

impl std::fmt::Debug for Postcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Postcode({})", self.as_str())
    }
}

text_value!(Postcode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form() {
        for (input, canonical) in [
            ("1012AB", "1012AB"),
            ("1012 ab", "1012AB"),
            ("9999zz", "9999ZZ"),
        ] {
            assert_eq!(Postcode::parse(input).unwrap().as_str(), canonical);
        }
        for bad in [
            "0123AB", "1012A", "1012ABC", "1012  AB", "AB1012", "1012A1", "",
        ] {
            assert!(Postcode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
