//! The request bodies of the signal routes, and their validation into domain values. Every
//! problem in a body is reported at once (one `invalidParams` entry each); no reason repeats
//! the submitted value, which may be a BSN.

use serde::Deserialize;

use super::signaal::{Adres, KvkNummer, Loonheffingennummer, Soort, Status, Uitkomst, Werkgever};
use crate::domain::{Bsn, Postcode};
use crate::problem::{Problem, ProblemCode};

/// At most this many persons in one signal.
pub const MAX_BURGERSERVICENUMMERS: usize = 100;
/// Characters (not bytes) of free text.
pub const MAX_OMSCHRIJVING: usize = 4_000;
pub const MAX_REDEN: usize = 2_000;
pub const MAX_WERKGEVER_NAAM: usize = 200;
const MAX_AANTAL_INSCHRIJVINGEN: i64 = 10_000;

/// `POST /api/v1/signalen`. Required members are `Option` here so that a missing one is
/// reported by name beside the other problems.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignaalVerzoek {
    ontvanger: Option<String>,
    soort: Option<String>,
    omschrijving: Option<String>,
    urgent: Option<bool>,
    adres: Option<AdresVerzoek>,
    burgerservicenummers: Option<Vec<String>>,
    werkgever: Option<WerkgeverVerzoek>,
    aantal_inschrijvingen: Option<i64>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct AdresVerzoek {
    postcode: Option<String>,
    huisnummer: Option<i64>,
    huisletter: Option<String>,
    huisnummertoevoeging: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WerkgeverVerzoek {
    loonheffingennummer: Option<String>,
    kvk_nummer: Option<String>,
    naam: Option<String>,
}

/// `POST /api/v1/signalen/{id}/status`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusVerzoek {
    status: Option<String>,
    reden: Option<String>,
    uitkomst: Option<String>,
}

/// A signal to send, valid in itself (the recipient is resolved against the registry later).
#[derive(Debug)]
pub struct NieuwSignaal {
    /// An alias (`nla`, `gemeente-0363`) or an OIN, as given.
    pub ontvanger: String,
    pub soort: Soort,
    pub omschrijving: String,
    pub urgent: bool,
    pub adres: Option<Adres>,
    pub burgerservicenummers: Vec<Bsn>,
    pub werkgever: Option<Werkgever>,
    pub aantal_inschrijvingen: Option<i32>,
}

/// A status change, valid in itself (whether the signal may make it is the state machine's).
#[derive(Debug)]
pub struct NieuweStatus {
    pub status: Status,
    pub reden: String,
    pub uitkomst: Option<Uitkomst>,
}

/// The problems found in one body.
#[derive(Default)]
pub struct Fouten(Vec<(String, &'static str, String)>);

impl Fouten {
    pub fn add(&mut self, name: impl Into<String>, code: &'static str, reason: impl Into<String>) {
        self.0.push((name.into(), code, reason.into()));
    }

    /// 400 `paramsValidation` naming every problem; `Ok` when there are none.
    pub fn check(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.0.iter().map(|(n, _, _)| n.as_str()).collect();
        let mut p = Problem::new(ProblemCode::ParamsValidation)
            .detail(format!("Niet correct: {}.", names.join(", ")));
        for (name, code, reason) in self.0 {
            p = p.invalid_param(name, code, reason);
        }
        Err(p)
    }
}

/// Free text: trimmed, not empty, at most `max` characters, no control characters but line
/// breaks and tabs.
pub fn tekst(f: &mut Fouten, name: &str, value: Option<&str>, max: usize) -> Option<String> {
    let Some(value) = value else {
        f.add(name, "required", "Verplicht.");
        return None;
    };
    let value = value.trim();
    if value.is_empty() {
        f.add(name, "required", "Mag niet leeg zijn.");
        None
    } else if value.chars().count() > max {
        f.add(name, "maxLength", format!("Hoogstens {max} tekens."));
        None
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        f.add(name, "pattern", "Bevat stuurtekens.");
        None
    } else {
        Some(value.to_owned())
    }
}

impl SignaalVerzoek {
    /// The signal, or 400 naming every problem. `laa`: the activity is one of LAA signals,
    /// where `soort` is `laa-signaal`, an address is required and `aantalInschrijvingen` may
    /// be given; elsewhere `laa-signaal` is not a kind one may send.
    pub fn valideer(self, laa: bool) -> Result<NieuwSignaal, Problem> {
        let mut f = Fouten::default();
        let ontvanger = match self.ontvanger.as_deref().map(str::trim) {
            None | Some("") => {
                f.add(
                    "ontvanger",
                    "required",
                    "Verplicht: een organisatie (alias of OIN).",
                );
                None
            }
            Some(o)
                if o.len() > 64 || !o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                f.add(
                    "ontvanger",
                    "pattern",
                    "Een alias (zoals nla of gemeente-0363) of een OIN (20 cijfers).",
                );
                None
            }
            Some(o) => Some(o.to_owned()),
        };
        let soort = match self.soort.as_deref().map(Soort::parse) {
            None => {
                f.add("soort", "required", "Verplicht.");
                None
            }
            Some(None) => {
                f.add(
                    "soort",
                    "enum",
                    "Een van: melding, verzoek-gezamenlijke-interventie, laa-signaal, informatie.",
                );
                None
            }
            Some(Some(Soort::LaaSignaal)) if !laa => {
                f.add(
                    "soort",
                    "enum",
                    "Een laa-signaal wordt verstuurd onder de verwerkingsactiviteit laa-signaal.",
                );
                None
            }
            Some(Some(s)) if laa && s != Soort::LaaSignaal => {
                f.add(
                    "soort",
                    "enum",
                    "Onder deze verwerkingsactiviteit is de soort laa-signaal.",
                );
                None
            }
            Some(Some(s)) => Some(s),
        };
        let omschrijving = tekst(
            &mut f,
            "omschrijving",
            self.omschrijving.as_deref(),
            MAX_OMSCHRIJVING,
        );
        let adres = match self.adres {
            Some(a) => a.valideer(&mut f),
            None if laa => {
                f.add("adres", "required", "Een laa-signaal gaat over een adres.");
                None
            }
            None => None,
        };
        let mut burgerservicenummers: Vec<Bsn> = Vec::new();
        let given = self.burgerservicenummers.unwrap_or_default();
        if given.len() > MAX_BURGERSERVICENUMMERS {
            f.add(
                "burgerservicenummers",
                "maxItems",
                format!("Hoogstens {MAX_BURGERSERVICENUMMERS} personen per signaal."),
            );
        } else {
            for (i, s) in given.iter().enumerate() {
                let name = format!("burgerservicenummers[{i}]");
                match Bsn::parse(s) {
                    Ok(bsn) if burgerservicenummers.contains(&bsn) => f.add(
                        name,
                        "uniqueItems",
                        "Dit burgerservicenummer staat er al eerder in.",
                    ),
                    Ok(bsn) => burgerservicenummers.push(bsn),
                    Err(_) => f.add(
                        name,
                        "pattern",
                        "Een burgerservicenummer is 9 cijfers en voldoet aan de elfproef.",
                    ),
                }
            }
        }
        let werkgever = self.werkgever.and_then(|w| w.valideer(&mut f));
        let aantal_inschrijvingen = match self.aantal_inschrijvingen {
            Some(_) if !laa => {
                f.add(
                    "aantalInschrijvingen",
                    "notAllowed",
                    "Alleen bij een laa-signaal.",
                );
                None
            }
            Some(n) if !(1..=MAX_AANTAL_INSCHRIJVINGEN).contains(&n) => {
                f.add(
                    "aantalInschrijvingen",
                    "range",
                    format!("1 tot en met {MAX_AANTAL_INSCHRIJVINGEN}."),
                );
                None
            }
            Some(n) => Some(n as i32),
            None => None,
        };
        f.check()?;
        Ok(NieuwSignaal {
            ontvanger: ontvanger.expect("checked"),
            soort: soort.expect("checked"),
            omschrijving: omschrijving.expect("checked"),
            urgent: self.urgent.unwrap_or(false),
            adres,
            burgerservicenummers,
            werkgever,
            aantal_inschrijvingen,
        })
    }
}

impl AdresVerzoek {
    fn valideer(self, f: &mut Fouten) -> Option<Adres> {
        let before = f.0.len();
        let postcode = match self.postcode.as_deref().map(Postcode::parse) {
            None => {
                f.add("adres.postcode", "required", "Verplicht.");
                None
            }
            Some(Err(_)) => {
                f.add(
                    "adres.postcode",
                    "pattern",
                    "Een postcode is 4 cijfers en 2 letters.",
                );
                None
            }
            Some(Ok(p)) => Some(p),
        };
        let huisnummer = match self.huisnummer {
            None => {
                f.add("adres.huisnummer", "required", "Verplicht.");
                None
            }
            Some(n) if !(1..=99_999).contains(&n) => {
                f.add(
                    "adres.huisnummer",
                    "range",
                    "Een huisnummer is 1 tot en met 99999.",
                );
                None
            }
            Some(n) => Some(n as i32),
        };
        let huisletter = match self.huisletter {
            Some(l) if l.len() == 1 && l.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Some(l.to_ascii_uppercase())
            }
            Some(_) => {
                f.add(
                    "adres.huisletter",
                    "pattern",
                    "Een huisletter is één letter.",
                );
                None
            }
            None => None,
        };
        let huisnummertoevoeging = match self.huisnummertoevoeging {
            Some(t)
                if (1..=4).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(t)
            }
            Some(_) => {
                f.add(
                    "adres.huisnummertoevoeging",
                    "pattern",
                    "Een toevoeging is 1 tot 4 letters of cijfers.",
                );
                None
            }
            None => None,
        };
        if f.0.len() > before {
            return None;
        }
        Some(Adres {
            postcode: postcode?,
            huisnummer: huisnummer?,
            huisletter,
            huisnummertoevoeging,
        })
    }
}

impl WerkgeverVerzoek {
    fn valideer(self, f: &mut Fouten) -> Option<Werkgever> {
        if self.loonheffingennummer.is_none() && self.kvk_nummer.is_none() && self.naam.is_none() {
            f.add(
                "werkgever",
                "minProperties",
                "Noem ten minste een loonheffingennummer, KvK-nummer of naam.",
            );
            return None;
        }
        let before = f.0.len();
        let loonheffingennummer = self.loonheffingennummer.and_then(|l| {
            Loonheffingennummer::parse(&l)
                .map_err(|_| {
                    f.add(
                        "werkgever.loonheffingennummer",
                        "pattern",
                        "9 cijfers (met elfproef), L en 2 cijfers, zoals 123456782L01.",
                    )
                })
                .ok()
        });
        let kvk_nummer = self.kvk_nummer.and_then(|k| {
            KvkNummer::parse(&k)
                .map_err(|_| {
                    f.add(
                        "werkgever.kvkNummer",
                        "pattern",
                        "Een KvK-nummer is 8 cijfers.",
                    )
                })
                .ok()
        });
        let naam = match self.naam {
            Some(n) => tekst(f, "werkgever.naam", Some(&n), MAX_WERKGEVER_NAAM),
            None => None,
        };
        (f.0.len() == before).then_some(Werkgever {
            loonheffingennummer,
            kvk_nummer,
            naam,
        })
    }
}

impl StatusVerzoek {
    /// The change, or 400 naming every problem. `laa`: closing needs an `uitkomst` (the
    /// outcome of the address investigation); elsewhere `uitkomst` is not a member.
    pub fn valideer(self, laa: bool) -> Result<NieuweStatus, Problem> {
        let mut f = Fouten::default();
        let status = match self.status.as_deref().map(Status::parse) {
            None => {
                f.add("status", "required", "Verplicht.");
                None
            }
            Some(Some(Status::Ontvangen)) | Some(None) => {
                f.add(
                    "status",
                    "enum",
                    "Een van: in-behandeling, doorverwezen, afgesloten.",
                );
                None
            }
            Some(Some(s)) => Some(s),
        };
        let reden = tekst(&mut f, "reden", self.reden.as_deref(), MAX_REDEN);
        let uitkomst = match (self.uitkomst.as_deref(), laa) {
            (Some(_), false) => {
                f.add("uitkomst", "notAllowed", "Alleen bij een laa-signaal.");
                None
            }
            (Some(u), true) => match Uitkomst::parse(u) {
                Some(_) if status != Some(Status::Afgesloten) => {
                    f.add(
                        "uitkomst",
                        "notAllowed",
                        "Een uitkomst hoort bij het afsluiten.",
                    );
                    None
                }
                Some(u) => Some(u),
                None => {
                    let all: Vec<&str> = Uitkomst::ALL.iter().map(|u| u.as_str()).collect();
                    f.add("uitkomst", "enum", format!("Een van: {}.", all.join(", ")));
                    None
                }
            },
            (None, true) if status == Some(Status::Afgesloten) => {
                f.add(
                    "uitkomst",
                    "required",
                    "Wie een laa-signaal afsluit, legt de uitkomst van het onderzoek vast.",
                );
                None
            }
            (None, _) => None,
        };
        f.check()?;
        Ok(NieuweStatus {
            status: status.expect("checked"),
            reden: reden.expect("checked"),
            uitkomst,
        })
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzzing::{arb, assert_safe_problem};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// A member value: what a client might send, right or wrong.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            arb::text().prop_map(Value::from),
            arb::bsn().prop_map(Value::from),
            proptest::collection::vec(prop_oneof![arb::bsn(), arb::text()], 0..4)
                .prop_map(Value::from),
            (arb::text(), any::<i64>(), arb::text(), arb::text()).prop_map(|(p, h, l, t)| {
                json!({"postcode": p, "huisnummer": h, "huisletter": l, "huisnummertoevoeging": t})
            }),
            (arb::text(), arb::text(), arb::text()).prop_map(|(l, k, n)| {
                json!({"loonheffingennummer": l, "kvkNummer": k, "naam": n})
            }),
        ]
    }

    fn member() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => proptest::sample::select(vec![
                "ontvanger", "soort", "omschrijving", "urgent", "adres", "burgerservicenummers",
                "werkgever", "aantalInschrijvingen", "status", "reden", "uitkomst",
            ])
            .prop_map(str::to_owned),
            1 => arb::text(),
        ]
    }

    fn body() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::btree_map(member(), value(), 0..8).prop_map(|m| {
            Value::Object(m.into_iter().collect())
                .to_string()
                .into_bytes()
        })
    }

    proptest! {
        #[test]
        fn no_body_makes_validation_panic_or_echo(b in body(), status in any::<bool>()) {
            let mut data = vec![u8::from(status)];
            data.extend(b);
            crate::fuzzing::signaal(&data);
        }

        #[test]
        fn no_bytes_make_it_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            crate::fuzzing::signaal(&data);
        }

        #[test]
        fn a_valid_signal_is_accepted_as_given(
            ontvanger in "nla|uwv|svb|gemeente-[0-9]{4}|[0-9]{20}",
            soort in "melding|verzoek-gezamenlijke-interventie|informatie",
            omschrijving in "[a-zA-Z0-9 .,ëé\n]{0,50}[a-z]",
            bsns in proptest::collection::btree_set(arb::bsn(), 0..5),
            lhn in proptest::option::of(arb::bsn().prop_map(|b| format!("{b}L01"))),
        ) {
            let v: SignaalVerzoek = serde_json::from_value(json!({
                "ontvanger": ontvanger, "soort": soort, "omschrijving": omschrijving,
                "burgerservicenummers": bsns, "werkgever": {"loonheffingennummer": lhn, "naam": "Uitzendbureau"},
            })).unwrap();
            let s = v.valideer(false).unwrap();
            prop_assert_eq!(s.ontvanger, ontvanger);
            prop_assert_eq!(s.soort.as_str(), soort);
            prop_assert_eq!(s.omschrijving, omschrijving.trim());
            let got: Vec<&str> = s.burgerservicenummers.iter().map(Bsn::as_str).collect();
            prop_assert_eq!(got, bsns.iter().map(String::as_str).collect::<Vec<_>>());
            let w = s.werkgever.unwrap();
            prop_assert_eq!(w.loonheffingennummer.map(|l| l.as_str().to_owned()), lhn);
        }

        #[test]
        fn a_bsn_failing_the_elfproef_is_named_not_repeated(
            good in arb::bsn(), bad in arb::bsn_failing_elfproef(),
        ) {
            let v: SignaalVerzoek = serde_json::from_value(json!({
                "ontvanger": "nla", "soort": "melding", "omschrijving": "x",
                "burgerservicenummers": [good, bad],
            })).unwrap();
            let p = v.valideer(false).unwrap_err();
            assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
            prop_assert_eq!(p.invalid_params.len(), 1);
            prop_assert_eq!(p.invalid_params[0].name.as_str(), "burgerservicenummers[1]");
        }

        #[test]
        fn a_loonheffingennummer_of_any_twelve_bytes_is_checked(
            prefix in "[0-9]{0,9}", odd in "[^0-9Ll]", rest in "[0-9Ll]{0,4}",
        ) {
            // Multi-byte characters where the letter L belongs once made the parser panic.
            let s = format!("{prefix}{odd}{rest}");
            let _ = Loonheffingennummer::parse(&s);
        }

        #[test]
        fn a_status_change_needs_a_known_status_and_a_reason(
            status in prop_oneof![Just("in-behandeling".to_owned()), Just("afgesloten".to_owned()), arb::text()],
            reden in arb::text(),
        ) {
            let v: StatusVerzoek =
                serde_json::from_value(json!({"status": status, "reden": reden})).unwrap();
            match v.valideer(false) {
                Ok(s) => {
                    prop_assert_eq!(s.status.as_str(), status);
                    prop_assert_eq!(s.reden, reden.trim());
                }
                Err(p) => assert_safe_problem(&p, &[ProblemCode::ParamsValidation]),
            }
        }
    }

    #[test]
    fn a_multi_byte_character_before_the_letter_l_is_refused() {
        // 8 digits, 'é' (2 bytes) over byte 9, 2 digits: 12 bytes, no char boundary at 9.
        assert!(Loonheffingennummer::parse("12345678é01").is_err());
        assert!(Loonheffingennummer::parse("12345678€1").is_err());
    }
}
