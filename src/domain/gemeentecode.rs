use super::{digits, text_value, InvalidValue};

/// The 4-digit CBS code of a gemeente, e.g. `0363` for Amsterdam.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gemeentecode([u8; 4]);

impl Gemeentecode {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        digits::<4>(s)
            .filter(|d| d != b"0000")
            .map(Gemeentecode)
            .ok_or(InvalidValue("a gemeentecode is 4 digits, e.g. 0363"))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("gemeentecode is ASCII")
    }
}

impl std::fmt::Debug for Gemeentecode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gemeentecode({})", self.as_str())
    }
}

text_value!(Gemeentecode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_digits_not_zero() {
        assert_eq!(Gemeentecode::parse("0363").unwrap().as_str(), "0363");
        for bad in ["363", "03630", "0000", "03a3", ""] {
            assert!(Gemeentecode::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
