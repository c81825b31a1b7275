//! One entry point per parser the gateway owns, for the fuzz targets in `fuzz/` and the
//! property tests beside each parser. Each takes bytes as they arrive from outside, runs the
//! parser and panics when one of the gateway's promises about bad input breaks:
//!
//! - a refusal is the 4xx problem the route documents (never a 5xx), with the codes the
//!   parser is documented to give;
//! - no problem repeats a BSN (no run of 9 or more digits in `detail` or `invalidParams`);
//! - what is accepted is canonical: printing it and parsing again gives the same value.
//!
//! Not part of the gateway's interface (hidden from the docs; nothing in the gateway calls it).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use chrono::NaiveDate;

use crate::audit::token::{Claims, DevIssuer, Role, TokenVerifier};
use crate::config::AuditSettings;
use crate::domain::{Bsn, Gemeentecode, Loonheffingennummer, Oin, Postcode};
use crate::exchanges::haalcentraal::vraag::Zoekvraag;
use crate::exchanges::signalen::invoer::{SignaalVerzoek, StatusVerzoek};
use crate::minimise::FieldSet;
use crate::organisations::Registry;
use crate::policy::Register;
use crate::problem::{Problem, ProblemCode};
use crate::trace_context::TraceParent;

/// The example the gateway's own texts give of a loonheffingennummer (not an echo).
const OWN_EXAMPLE: &str = "123456782";

/// Everything a problem says in words.
fn texts(p: &Problem) -> String {
    let mut all = p.detail.clone().unwrap_or_default();
    for i in &p.invalid_params {
        for part in [&i.name, &i.code, &i.reason] {
            all.push('\n');
            all.push_str(part);
        }
    }
    all
}

/// Whether `text` holds a run of 9 or more ASCII digits: a BSN, or a number holding one.
pub fn holds_bsn(text: &str) -> bool {
    let mut run = 0;
    for b in text.replace(OWN_EXAMPLE, "").bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 9 {
            return true;
        }
    }
    false
}

/// Panics unless `p` is a 4xx with one of `codes` and repeats no BSN.
pub fn assert_safe_problem(p: &Problem, codes: &[ProblemCode]) {
    assert!(
        codes.contains(&p.code),
        "unexpected problem code {:?} (expected one of {codes:?})",
        p.code
    );
    assert!((400..500).contains(&p.status()), "status {}", p.status());
    let said = texts(p);
    assert!(!holds_bsn(&said), "the problem repeats a number: {said}");
}

/// The datasets `policies/datasets/` ships.
pub fn datasets() -> &'static BTreeMap<String, FieldSet> {
    static SETS: OnceLock<BTreeMap<String, FieldSet>> = OnceLock::new();
    SETS.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Dataset {
            fields: Vec<String>,
        }
        macro_rules! shipped {
            ($($name:literal),*) => {
                [$(($name, include_str!(concat!("../policies/datasets/", $name, ".toml")))),*]
            };
        }
        shipped!(
            "laa-signalen",
            "rni-adrestellingen",
            "rni-personen",
            "signalen",
            "svb-uitkeringen",
            "uwv-dienstverbanden",
            "uwv-werk-inkomen"
        )
        .into_iter()
        .map(|(name, text)| {
            let file: Dataset = toml::from_str(text).expect("the shipped dataset parses");
            (name.to_owned(), FieldSet::new(file.fields))
        })
        .collect()
    })
}

/// The `Persoon` paths of dataset `rni-personen`.
pub fn rni_personen() -> &'static FieldSet {
    &datasets()["rni-personen"]
}

/// The organisation registry `policies/` ships.
pub fn organisations() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        Registry::parse(include_str!("../policies/organisations.toml"))
            .expect("the shipped registry parses")
    })
}

/// `POST /haalcentraal/api/brp/personen`: the body.
pub fn haalcentraal_vraag(data: &[u8]) {
    match Zoekvraag::parse(data, rni_personen()) {
        Ok(v) => {
            assert!((1..=130).contains(&v.fields.len()));
            for f in &v.fields {
                assert!(rni_personen().contains(f), "accepted an unknown field");
            }
        }
        Err(p) => assert_safe_problem(
            &p,
            &[
                ProblemCode::ParamsValidation,
                ProblemCode::ParamsCombination,
            ],
        ),
    }
}

/// A query string as one of the routes reads it (their `Query` types, with the query error
/// handler's wording), and the shared parameter parsers; the first byte picks the route.
pub fn query(data: &[u8]) {
    use crate::exchanges::params;
    use actix_web::web::Query;
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let qs = String::from_utf8_lossy(rest);
    fn read<T: serde::de::DeserializeOwned>(qs: &str) -> Result<T, Problem> {
        Query::<T>::from_query(qs)
            .map(Query::into_inner)
            .map_err(params::query)
    }
    fn check<T>(outcome: Result<T, Problem>) {
        if let Err(p) = outcome {
            assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
        }
    }
    match which % 12 {
        0 => check(read::<params::BsnQuery>(&qs).and_then(|q| params::bsn("bsn", &q.bsn))),
        1 => check(read::<crate::exchanges::rni::TellingenQuery>(&qs)),
        2 => check(read::<crate::exchanges::rni::AdresQuery>(&qs)),
        3 => check(read::<crate::exchanges::abo::ContactQuery>(&qs)),
        4 => check(read::<crate::exchanges::uwv::DienstverbandenQuery>(&qs)),
        5 => check(read::<crate::exchanges::signalen::lijst::LijstQuery>(&qs)),
        6 => check(
            read::<crate::audit::search::DisclosureQuery>(&qs)
                .and_then(|q| crate::audit::search::Filter::parse(&q, organisations())),
        ),
        7 => check(read::<crate::audit::stats::StatsQuery>(&qs)),
        8 => check(read::<crate::audit::anomalieen::AnomalieQuery>(&qs)),
        9 => check(read::<crate::audit::export::ExportQuery>(&qs)),
        10 => check(params::bsn("bsn", &qs)),
        _ => check(params::loonheffingennummer("loonheffingennummer", &qs)),
    }
}

/// `POST /api/v1/signalen` (first byte even) and `POST /api/v1/signalen/{id}/status` (odd):
/// the JSON body, validated under a signal activity and under `laa-signaal`.
pub fn signaal(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let codes = [ProblemCode::ParamsValidation];
    let json_fault = |e: serde_json::Error| {
        // As the JSON extractor's error handler words it.
        let reason = crate::problem::extractors::safe_reason(&e.to_string());
        assert!(!holds_bsn(&reason), "the reason repeats a number: {reason}");
    };
    for laa in [false, true] {
        if which % 2 == 0 {
            match serde_json::from_slice::<SignaalVerzoek>(body) {
                Ok(v) => match v.valideer(laa) {
                    Ok(s) => {
                        assert!(!s.omschrijving.is_empty());
                        assert!(s.burgerservicenummers.len() <= 100);
                        if laa {
                            assert!(s.adres.is_some(), "an LAA signal has an address");
                        }
                    }
                    Err(p) => assert_safe_problem(&p, &codes),
                },
                Err(e) => json_fault(e),
            }
        } else {
            match serde_json::from_slice::<StatusVerzoek>(body) {
                Ok(v) => match v.valideer(laa) {
                    Ok(s) => assert!(!s.reden.is_empty()),
                    Err(p) => assert_safe_problem(&p, &codes),
                },
                Err(e) => json_fault(e),
            }
        }
    }
}

/// The `traceparent` header.
pub fn traceparent(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(tp) = TraceParent::parse(value) {
        let header = tp.to_header();
        assert_eq!(TraceParent::parse(&header), Some(tp), "round trip");
        if value.starts_with("00-") {
            assert_eq!(header, value, "version 00 is printed as given");
        }
    }
}

/// A verifier trusting a dev issuer of its own (key in a temporary directory), and the key.
fn verifier() -> &'static (TokenVerifier, jsonwebtoken::EncodingKey) {
    static VERIFIER: OnceLock<(TokenVerifier, jsonwebtoken::EncodingKey)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("doelpoort-fuzzing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let dev = DevIssuer::load(&dir, true).expect("a dev issuer");
        let pem = std::fs::read(&dev.path).expect("the dev key");
        let _ = std::fs::remove_dir_all(&dir);
        let verifier = TokenVerifier::new(&AuditSettings::default(), Some(&dev)).expect("verifier");
        let key = jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("an Ed25519 key");
        (verifier, key)
    })
}

/// A bearer token for the audit API. First byte even: the rest is the token as sent. Odd:
/// the rest is a claims payload, signed correctly by the trusted dev issuer, so that what
/// the gateway reads from the claims is fuzzed too.
pub fn token(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (verifier, key) = verifier();
    let token = if which % 2 == 0 {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let message = format!(
            "{}.{}",
            b64.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            b64.encode(rest)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), key, jsonwebtoken::Algorithm::EdDSA)
                .expect("signing");
        format!("{message}.{signature}")
    };
    match verifier.verify(&token, organisations()) {
        Ok(auditor) => {
            // Accepted: then the claims were whole and valid.
            let claims: Claims = serde_json::from_slice(rest).expect("accepted claims parse");
            assert_eq!(claims.aud, AuditSettings::default().audience);
            assert_eq!(Role::parse(&claims.role), Some(auditor.role));
            assert_eq!(auditor.organisation.oin.as_str(), claims.oin);
            let now = chrono::Utc::now().timestamp() as u64;
            assert!(claims.exp.saturating_add(AuditSettings::default().leeway_s) >= now);
        }
        Err(p) => {
            assert!(
                [
                    ProblemCode::Authentication,
                    ProblemCode::UnknownOrganisation,
                    ProblemCode::NotPermitted
                ]
                .contains(&p.code),
                "{:?}",
                p.code
            );
            assert!(!holds_bsn(&texts(&p)));
        }
    }
}

/// `policies/verwerkingsactiviteiten.toml` (first byte even) or `policies/organisations.toml`
/// (odd), as `policy check` and a reload read them.
pub fn register(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if which % 2 == 1 {
        if let Ok(r) = Registry::parse(text) {
            for org in r.iter() {
                assert_eq!(r.find(org.alias()).map(|o| o.oin), Some(org.oin));
            }
        }
        return;
    }
    let today = NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
    match Register::parse(text, datasets().clone(), organisations(), today) {
        Ok(register) => {
            for a in &register.activities {
                assert!(!a.id.is_empty() && register.get(&a.id).is_some());
                assert!(!a.requesters.is_empty() && !a.operations.is_empty());
                assert!(a.valid_until.is_none_or(|u| u >= a.valid_from));
            }
        }
        Err(errors) => assert!(!errors.is_empty(), "refused without saying why"),
    }
}

/// The domain values, each from the same text.
pub fn domain(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = Bsn::parse(s) {
        assert_eq!(v.as_str(), s);
        assert!(!format!("{v:?}").contains(s));
    }
    if let Ok(v) = Oin::parse(s) {
        assert_eq!(v.as_str(), s);
    }
    if let Ok(v) = Gemeentecode::parse(s) {
        assert_eq!(v.as_str(), s);
    }
    if let Ok(v) = Postcode::parse(s) {
        assert_eq!(Postcode::parse(v.as_str()), Ok(v), "canonical");
        assert!(s.eq_ignore_ascii_case(v.as_str()) || s.len() == 7);
    }
    if let Ok(v) = Loonheffingennummer::parse(s) {
        assert_eq!(Loonheffingennummer::parse(v.as_str()), Ok(v), "canonical");
        assert!(!format!("{v:?}").contains(&s[..9]));
    }
    {
        use crate::exchanges::signalen::signaal::{KvkNummer, Loonheffingennummer, Soort, Status};
        if let Ok(v) = KvkNummer::parse(s) {
            assert_eq!(v.as_str(), s);
        }
        if let Ok(v) = Loonheffingennummer::parse(s) {
            assert!(v.as_str().eq_ignore_ascii_case(s));
        }
        if let Some(v) = Soort::parse(s) {
            assert_eq!(v.as_str(), s);
        }
        if let Some(v) = Status::parse(s) {
            assert_eq!(v.as_str(), s);
        }
    }
}

/// Generators for the property tests.
#[cfg(test)]
pub(crate) mod arb {
    use proptest::prelude::*;

    /// The elfproef sum of the first eight digits and the check digit that completes it.
    fn check_digit(d: &[u8; 8]) -> Option<u8> {
        let sum: u32 = d
            .iter()
            .zip((2..=9).rev())
            .map(|(v, w)| u32::from(*v) * w)
            .sum();
        let check = (sum % 11) as u8;
        (check <= 9 && sum != u32::from(check)).then_some(check)
    }

    /// A burgerservicenummer passing the elfproef, as text.
    pub fn bsn() -> impl Strategy<Value = String> {
        proptest::array::uniform8(0u8..10).prop_filter_map("no check digit", |d| {
            let check = check_digit(&d)?;
            Some(
                d.iter()
                    .chain(std::iter::once(&check))
                    .map(|v| char::from(b'0' + v))
                    .collect(),
            )
        })
    }

    /// Nine digits failing the elfproef: a valid BSN with one digit changed.
    pub fn bsn_failing_elfproef() -> impl Strategy<Value = String> {
        (bsn(), 0usize..9, 1u8..10).prop_map(|(b, i, delta)| {
            let mut d = b.into_bytes();
            d[i] = b'0' + (d[i] - b'0' + delta) % 10;
            String::from_utf8(d).expect("digits")
        })
    }

    /// Any text, weighted towards what parsers meet: JSON punctuation, digits, non-ASCII.
    pub fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[0-9A-Za-z \\-\\.\\*'\"{}\\[\\]:,ÀéśŁ]{0,40}",
        ]
    }
}
