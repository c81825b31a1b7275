use super::{digits, text_value, InvalidValue};

/// Organisatie-identificatienummer: the 20-digit number that identifies a Dutch public
/// organisation, carried in the subject `serialNumber` of its PKIoverheid certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oin([u8; 20]);

impl Oin {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        digits::<20>(s)
            .map(Oin)
            .ok_or(InvalidValue("an OIN is exactly 20 digits"))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).expect("OIN is ASCII")
    }
}

impl std::fmt::Debug for Oin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oin({})", self.as_str())
    }
}

text_value!(Oin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_twenty_digits_only() {
        assert_eq!(
            Oin::parse("00000001002564440000").unwrap().as_str(),
            "00000001002564440000"
        );
        for bad in [
            "",
            "0000000100256444000",
            "000000010025644400000",
            "0000000100256444000x",
            "٠٠٠٠٠٠٠١٠٠٢٥٦٤٤٤٠٠٠",
        ] {
            assert!(Oin::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
