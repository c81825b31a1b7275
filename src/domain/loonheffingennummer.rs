use super::{digits, text_value, Bsn, InvalidValue};

/// Loonheffingennummer: the number under which an employer files its payroll returns
/// (loonaangifte), and the key of an employer in UWV's polisadministratie. It is the
/// employer's fiscal number (RSIN, 9 digits passing the elfproef), the letter `L` and a
/// 2-digit subnumber (`L01`, `L02`, … for separate payrolls), e.g. `123456782L01`.
///
/// Parsing accepts a lower-case `l`; the canonical form has `L`. For a sole proprietorship
/// the fiscal number is the owner's BSN, so `Debug` is redacted as `Bsn`'s is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Loonheffingennummer([u8; 12]);

impl Loonheffingennummer {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        const FORMAT: InvalidValue =
            InvalidValue("a loonheffingennummer is 9 digits, L and 2 digits, e.g. 123456782L01");
        let b = s.as_bytes();
        if b.len() != 12 || !matches!(b[9], b'L' | b'l') {
            return Err(FORMAT);
        }
        let rsin = digits::<9>(&s[..9]).ok_or(FORMAT)?;
        digits::<2>(&s[10..]).ok_or(FORMAT)?;
        if !Bsn::elfproef(&rsin) {
            return Err(InvalidValue(
                "the fiscal number in a loonheffingennummer fails the elfproef",
            ));
        }
        let mut n = [0u8; 12];
        n.copy_from_slice(b);
        n[9] = b'L';
        Ok(Loonheffingennummer(n))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("loonheffingennummer is ASCII")
    }
}

impl std::fmt::Debug for Loonheffingennummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loonheffingennummer(<redacted>)")
    }
}

text_value!(Loonheffingennummer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_number_l_subnumber() {
        for (input, canonical) in [
            ("123456782L01", "123456782L01"),
            ("123456782l02", "123456782L02"),
            ("999993653L10", "999993653L10"),
        ] {
            assert_eq!(
                Loonheffingennummer::parse(input).unwrap().as_str(),
                canonical
            );
        }
        for bad in [
            "123456789L01", // elfproef
            "123456782",
            "123456782L1",
            "123456782L001",
            "123456782X01",
            "12345678aL01",
            "123456782LAB",
            " 123456782L01",
            "",
        ] {
            assert!(Loonheffingennummer::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
