//! What a signal is made of: its kind, its status and the state machine over it, the LAA
//! outcome, the address and the employer it may name. Values parse on construction.

use crate::domain::{InvalidValue, Postcode};

/// The kind of signal (`soort`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Soort {
    Melding,
    VerzoekGezamenlijkeInterventie,
    /// Only under an activity of dataset `laa-signalen`, and only that kind there.
    LaaSignaal,
    Informatie,
}

impl Soort {
    const ALL: [Soort; 4] = [
        Soort::Melding,
        Soort::VerzoekGezamenlijkeInterventie,
        Soort::LaaSignaal,
        Soort::Informatie,
    ];

    pub fn parse(s: &str) -> Option<Soort> {
        Soort::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Soort::Melding => "melding",
            Soort::VerzoekGezamenlijkeInterventie => "verzoek-gezamenlijke-interventie",
            Soort::LaaSignaal => "laa-signaal",
            Soort::Informatie => "informatie",
        }
    }
}

/// Where a signal stands. The state machine; only the recipient moves a signal, and always
/// with a reason:
///
/// ```text
///   from             may go to
///   ontvangen        in-behandeling, doorverwezen, afgesloten
///   in-behandeling   doorverwezen, afgesloten
///   doorverwezen     in-behandeling, afgesloten
///   afgesloten       nothing: final
/// ```
///
/// Every signal starts as `ontvangen` and never returns to it. `doorverwezen` (passed on to
/// another team or party) stays open, so that a signal passed on does not drop out of sight
/// (seed 004: signals "afgeboekt" once passed on). A change to the status a signal already
/// has is no change, and is refused too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ontvangen,
    InBehandeling,
    Doorverwezen,
    Afgesloten,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::Ontvangen,
        Status::InBehandeling,
        Status::Doorverwezen,
        Status::Afgesloten,
    ];

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ontvangen => "ontvangen",
            Status::InBehandeling => "in-behandeling",
            Status::Doorverwezen => "doorverwezen",
            Status::Afgesloten => "afgesloten",
        }
    }

    /// May a signal in this status be moved to `next`?
    pub fn mag_naar(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Ontvangen, InBehandeling | Doorverwezen | Afgesloten)
                | (InBehandeling, Doorverwezen | Afgesloten)
                | (Doorverwezen, InBehandeling | Afgesloten)
        )
    }

    /// The statuses a signal in this one may be moved to (for the 409's detail).
    pub fn vervolg(self) -> Vec<&'static str> {
        Status::ALL
            .into_iter()
            .filter(|n| self.mag_naar(*n))
            .map(Status::as_str)
            .collect()
    }
}

/// The outcome a gemeente records when it closes an LAA signal (the address investigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uitkomst {
    /// The registration at the address was right.
    InschrijvingJuist,
    /// The registration was corrected (persons moved to their actual address).
    InschrijvingGewijzigd,
    /// Persons were deregistered (e.g. departure to an unknown destination).
    Uitgeschreven,
    /// The gemeente did not investigate; the reason says why.
    GeenOnderzoek,
}

impl Uitkomst {
    pub const ALL: [Uitkomst; 4] = [
        Uitkomst::InschrijvingJuist,
        Uitkomst::InschrijvingGewijzigd,
        Uitkomst::Uitgeschreven,
        Uitkomst::GeenOnderzoek,
    ];

    pub fn parse(s: &str) -> Option<Uitkomst> {
        Uitkomst::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Uitkomst::InschrijvingJuist => "inschrijving-juist",
            Uitkomst::InschrijvingGewijzigd => "inschrijving-gewijzigd",
            Uitkomst::Uitgeschreven => "uitgeschreven",
            Uitkomst::GeenOnderzoek => "geen-onderzoek",
        }
    }
}

/// A Dutch address as a signal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adres {
    pub postcode: Postcode,
    /// 1 to 99999.
    pub huisnummer: i32,
    /// One letter, upper case.
    pub huisletter: Option<String>,
    /// 1 to 4 letters or digits.
    pub huisnummertoevoeging: Option<String>,
}

/// A loonheffingennummer: the employer's fiscal number (RSIN, or the BSN of a sole trader; 9
/// digits passing the elfproef), `L`, and a 2-digit sub-number (01–99), e.g. `123456782L01`.
/// It can hold a BSN, so its `Debug` is redacted like a BSN's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Loonheffingennummer([u8; 12]);

impl Loonheffingennummer {
    /// `domain::Loonheffingennummer`'s rules, and the sub-number is not `00`. (It once sliced
    /// the text at byte 9 itself, which panicked on a multi-byte character there.)
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let n = crate::domain::Loonheffingennummer::parse(s)?;
        if n.as_str().ends_with("L00") {
            return Err(InvalidValue(
                "a loonheffingennummer's sub-number is 01 to 99",
            ));
        }
        let mut canonical = [0u8; 12];
        canonical.copy_from_slice(n.as_str().as_bytes());
        Ok(Loonheffingennummer(canonical))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

impl std::fmt::Debug for Loonheffingennummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Loonheffingennummer(<redacted>)")
    }
}

/// A KvK-nummer: the 8 digits of the Handelsregister.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvkNummer([u8; 8]);

impl KvkNummer {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let bytes: [u8; 8] = s
            .as_bytes()
            .try_into()
            .map_err(|_| InvalidValue("a KvK-nummer is 8 digits"))?;
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(InvalidValue("a KvK-nummer is 8 digits"));
        }
        Ok(KvkNummer(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
}

/// The employer a signal is about; at least one of its parts is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Werkgever {
    pub loonheffingennummer: Option<Loonheffingennummer>,
    pub kvk_nummer: Option<KvkNummer>,
    pub naam: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine() {
        use Status::*;
        let allowed = [
            (Ontvangen, InBehandeling),
            (Ontvangen, Doorverwezen),
            (Ontvangen, Afgesloten),
            (InBehandeling, Doorverwezen),
            (InBehandeling, Afgesloten),
            (Doorverwezen, InBehandeling),
            (Doorverwezen, Afgesloten),
        ];
        for from in Status::ALL {
            for to in Status::ALL {
                assert_eq!(
                    from.mag_naar(to),
                    allowed.contains(&(from, to)),
                    "{from:?} → {to:?}"
                );
            }
        }
        assert!(Afgesloten.vervolg().is_empty());
        assert_eq!(Status::parse("in-behandeling"), Some(InBehandeling));
        assert_eq!(Status::parse("In-Behandeling"), None);
    }

    #[test]
    fn loonheffingennummer() {
        let l = Loonheffingennummer::parse("123456782l01").unwrap();
        assert_eq!(l.as_str(), "123456782L01");
        assert!(!format!("{l:?}").contains("123456782"));
        for bad in [
            "123456789L01",
            "123456782L00",
            "123456782X01",
            "123456782L1",
            "123456782L001",
            "12345678L01",
            "",
        ] {
            assert!(Loonheffingennummer::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn kvk_nummer() {
        assert_eq!(KvkNummer::parse("69599084").unwrap().as_str(), "69599084");
        for bad in ["6959908", "695990841", "6959908a", ""] {
            assert!(KvkNummer::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
