//! The request body of `POST /personen` (`PersonenQuery`), validated as the Haal Centraal BRP
//! Personen v2 spec validates it: every fault is reported once in `invalidParams`, with the
//! spec's codes (`required`, `pattern`, `date`, `integer`, `minimum`, `maximum`, `minItems`,
//! `maxItems`, `array`, `boolean`, `unknownParam`, `value`, `fields`). A missing mandatory
//! parameter is `paramsCombination`, every other fault `paramsValidation`. A reason never
//! repeats the submitted value.

use std::sync::OnceLock;

use chrono::NaiveDate;
use regex::Regex;
use serde_json::{Map, Value};

use super::velden;
use crate::domain::{Bsn, Postcode};
use crate::minimise::FieldSet;
use crate::problem::extractors::is_plain_name;
use crate::problem::{InvalidParam, Problem, ProblemCode};

/// The search types doelpoort answers (the RNI has no BAG addresses, so the searches by
/// street, nummeraanduiding or adresseerbaar object do not apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoektype {
    RaadpleegMetBurgerservicenummer,
    ZoekMetGeslachtsnaamEnGeboortedatum,
    ZoekMetPostcodeEnHuisnummer,
}

impl Zoektype {
    pub fn as_str(self) -> &'static str {
        match self {
            Zoektype::RaadpleegMetBurgerservicenummer => "RaadpleegMetBurgerservicenummer",
            Zoektype::ZoekMetGeslachtsnaamEnGeboortedatum => "ZoekMetGeslachtsnaamEnGeboortedatum",
            Zoektype::ZoekMetPostcodeEnHuisnummer => "ZoekMetPostcodeEnHuisnummer",
        }
    }

    fn parse(s: &str) -> Option<Zoektype> {
        [
            Zoektype::RaadpleegMetBurgerservicenummer,
            Zoektype::ZoekMetGeslachtsnaamEnGeboortedatum,
            Zoektype::ZoekMetPostcodeEnHuisnummer,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// The parameters this type takes besides `type` and `fields`, and which are mandatory.
    fn parameters(self) -> &'static [(&'static str, bool)] {
        match self {
            Zoektype::RaadpleegMetBurgerservicenummer => &[
                ("burgerservicenummer", true),
                ("gemeenteVanInschrijving", false),
            ],
            Zoektype::ZoekMetGeslachtsnaamEnGeboortedatum => &[
                ("geslachtsnaam", true),
                ("geboortedatum", true),
                ("geslacht", false),
                ("voorvoegsel", false),
                ("voornamen", false),
                ("inclusiefOverledenPersonen", false),
                ("gemeenteVanInschrijving", false),
            ],
            Zoektype::ZoekMetPostcodeEnHuisnummer => &[
                ("postcode", true),
                ("huisnummer", true),
                ("huisletter", false),
                ("huisnummertoevoeging", false),
                ("geboortedatum", false),
                ("geslachtsnaam", false),
                ("inclusiefOverledenPersonen", false),
                ("gemeenteVanInschrijving", false),
            ],
        }
    }

    /// A raadpleging answers with `Persoon`, the searches with `PersoonBeperkt`.
    pub fn is_search(self) -> bool {
        self != Zoektype::RaadpleegMetBurgerservicenummer
    }
}

/// A name filter: case-insensitive, optionally a prefix (`Kowal*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naamfilter {
    lower: String,
    prefix: bool,
}

impl Naamfilter {
    fn new(value: &str) -> Naamfilter {
        match value.strip_suffix('*') {
            Some(stem) => Naamfilter {
                lower: stem.to_lowercase(),
                prefix: true,
            },
            None => Naamfilter {
                lower: value.to_lowercase(),
                prefix: false,
            },
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_lowercase();
        if self.prefix {
            name.starts_with(&self.lower)
        } else {
            name == self.lower
        }
    }
}

/// What to look for.
#[derive(Debug, Clone)]
pub enum Criteria {
    Burgerservicenummers(Vec<Bsn>),
    NaamEnGeboortedatum {
        geslachtsnaam: Naamfilter,
        geboortedatum: NaiveDate,
        geslacht: Option<String>,
        voorvoegsel: Option<String>,
        voornamen: Option<Naamfilter>,
    },
    PostcodeEnHuisnummer {
        postcode: Postcode,
        huisnummer: i32,
        huisletter: Option<String>,
        huisnummertoevoeging: Option<String>,
        geboortedatum: Option<NaiveDate>,
        geslachtsnaam: Option<Naamfilter>,
    },
}

/// A validated `PersonenQuery`.
#[derive(Debug, Clone)]
pub struct Zoekvraag {
    pub zoektype: Zoektype,
    pub fields: Vec<String>,
    pub gemeente_van_inschrijving: Option<String>,
    pub criteria: Criteria,
}

const BSN_PATTERN: &str = r"^[0-9]{9}$";
const GEMEENTE_PATTERN: &str = r"^[0-9]{4}$";
const FIELD_PATTERN: &str = r"^[a-zA-Z0-9\._]{1,200}$";
const GESLACHTSNAAM_PATTERN: &str =
    r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$";
const VOORNAMEN_PATTERN: &str = r"^[a-zA-Z0-9À-ž \.\-\']{1,199}\*{0,1}$";
const VOORVOEGSEL_PATTERN: &str = r"^[a-zA-Z \']{1,10}$";
const GESLACHT_PATTERN: &str = r"^([Mm]|[Vv]|[Oo])$";
const POSTCODE_PATTERN: &str = r"^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$";
const HUISLETTER_PATTERN: &str = r"^[a-zA-Z]{1}$";
const TOEVOEGING_PATTERN: &str = r"^[a-zA-Z0-9 \-]{1,4}$";

fn pattern(p: &'static str) -> &'static Regex {
    static CACHE: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        [
            BSN_PATTERN,
            GEMEENTE_PATTERN,
            FIELD_PATTERN,
            GESLACHTSNAAM_PATTERN,
            VOORNAMEN_PATTERN,
            VOORVOEGSEL_PATTERN,
            GESLACHT_PATTERN,
            POSTCODE_PATTERN,
            HUISLETTER_PATTERN,
            TOEVOEGING_PATTERN,
        ]
        .into_iter()
        .map(|p| (p, Regex::new(p).expect("the spec's patterns compile")))
        .collect()
    });
    &all.iter()
        .find(|(k, _)| *k == p)
        .expect("pattern is listed")
        .1
}

/// The faults found so far.
#[derive(Default)]
struct Fouten {
    ontbrekend: Vec<InvalidParam>,
    ongeldig: Vec<InvalidParam>,
}

impl Fouten {
    fn add(&mut self, name: impl Into<String>, code: &str, reason: impl Into<String>) {
        self.ongeldig.push(InvalidParam {
            name: name.into(),
            code: code.to_owned(),
            reason: reason.into(),
        });
    }

    fn required(&mut self, name: &str) {
        self.ontbrekend.push(InvalidParam {
            name: name.to_owned(),
            code: "required".to_owned(),
            reason: "Parameter is verplicht.".to_owned(),
        });
    }

    fn into_problem(self) -> Option<Problem> {
        let (code, mut params) = if !self.ontbrekend.is_empty() {
            (ProblemCode::ParamsCombination, self.ontbrekend)
        } else if !self.ongeldig.is_empty() {
            (ProblemCode::ParamsValidation, self.ongeldig)
        } else {
            return None;
        };
        params.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let mut problem = Problem::new(code).detail(format!(
            "De foutieve parameter(s) zijn: {}.",
            names.join(", ")
        ));
        problem.invalid_params = params;
        Some(problem)
    }

    /// A string parameter that must match `p`; `None` (and a fault) when it does not.
    fn string<'a>(&mut self, name: &str, v: &'a Value, p: &'static str) -> Option<&'a str> {
        match v.as_str() {
            Some(s) if pattern(p).is_match(s) => Some(s),
            Some(_) => {
                self.add(
                    name,
                    "pattern",
                    format!("Waarde voldoet niet aan patroon {p}."),
                );
                None
            }
            None => {
                self.add(name, "string", "Waarde is geen geldige string.");
                None
            }
        }
    }

    fn date(&mut self, name: &str, v: &Value) -> Option<NaiveDate> {
        let parsed = v
            .as_str()
            .filter(|s| s.len() == 10)
            .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok());
        if parsed.is_none() {
            self.add(name, "date", "Waarde is geen geldige datum.");
        }
        parsed
    }
}

/// A member is absent when missing, `null`, an empty string or an empty array is *not* absent
/// (the spec reports `minItems` for that); an empty string counts as not given.
fn given<'a>(body: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    match body.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    }
}

impl Zoekvraag {
    /// Parses and validates a request body; every fault in one problem.
    /// `persoon` is the dataset's catalogue of `Persoon` paths (policies/datasets/rni-personen.toml).
    pub fn parse(bytes: &[u8], persoon: &FieldSet) -> Result<Zoekvraag, Problem> {
        let body: Value = crate::json::from_slice(bytes).map_err(|_| {
            Problem::new(ProblemCode::ParamsValidation).detail(
                "De body is geen geldig JSON-object (elke naam hoogstens één keer per object).",
            )
        })?;
        let Value::Object(body) = body else {
            return Err(Problem::new(ProblemCode::ParamsValidation)
                .detail("De body is geen geldig JSON-object."));
        };
        let mut fouten = Fouten::default();
        let zoektype = match given(&body, "type") {
            None => {
                fouten.required("type");
                None
            }
            Some(v) => {
                let t = v.as_str().and_then(Zoektype::parse);
                if t.is_none() {
                    fouten.add("type", "value", "Waarde is geen geldig zoek type.");
                }
                t
            }
        };
        let fields = Self::fields(&body, zoektype, persoon, &mut fouten);
        let Some(zoektype) = zoektype else {
            return Err(fouten.into_problem().expect("a fault was recorded"));
        };
        for (name, mandatory) in zoektype.parameters() {
            if *mandatory && given(&body, name).is_none() {
                fouten.required(name);
            }
        }
        for name in body.keys() {
            let known = name == "type"
                || name == "fields"
                || zoektype.parameters().iter().any(|(p, _)| p == name);
            if known {
                continue;
            }
            // A member's name is repeated only when it cannot hold a BSN.
            if is_plain_name(name) {
                fouten.add(name.as_str(), "unknownParam", "Parameter is niet verwacht.");
            } else {
                fouten.add(
                    "(naam niet herhaald)",
                    "unknownParam",
                    "Parameter is niet verwacht; de naam bevat meer dan letters.",
                );
            }
        }
        let gemeente_van_inschrijving = given(&body, "gemeenteVanInschrijving")
            .and_then(|v| fouten.string("gemeenteVanInschrijving", v, GEMEENTE_PATTERN))
            .map(str::to_owned);
        if let Some(v) = given(&body, "inclusiefOverledenPersonen") {
            if !v.is_boolean() {
                fouten.add(
                    "inclusiefOverledenPersonen",
                    "boolean",
                    "Waarde is geen geldige boolean.",
                );
            }
        }
        let criteria = match zoektype {
            Zoektype::RaadpleegMetBurgerservicenummer => {
                Self::burgerservicenummers(&body, &mut fouten).map(Criteria::Burgerservicenummers)
            }
            Zoektype::ZoekMetGeslachtsnaamEnGeboortedatum => {
                let geslachtsnaam = Self::naam(&body, "geslachtsnaam", &mut fouten);
                let geboortedatum =
                    given(&body, "geboortedatum").and_then(|v| fouten.date("geboortedatum", v));
                let geslacht = given(&body, "geslacht")
                    .and_then(|v| fouten.string("geslacht", v, GESLACHT_PATTERN))
                    .map(str::to_ascii_uppercase);
                let voorvoegsel = given(&body, "voorvoegsel")
                    .and_then(|v| fouten.string("voorvoegsel", v, VOORVOEGSEL_PATTERN))
                    .map(str::to_lowercase);
                let voornamen = given(&body, "voornamen")
                    .and_then(|v| fouten.string("voornamen", v, VOORNAMEN_PATTERN))
                    .map(Naamfilter::new);
                match (geslachtsnaam, geboortedatum) {
                    (Some(geslachtsnaam), Some(geboortedatum)) => {
                        Some(Criteria::NaamEnGeboortedatum {
                            geslachtsnaam,
                            geboortedatum,
                            geslacht,
                            voorvoegsel,
                            voornamen,
                        })
                    }
                    _ => None,
                }
            }
            Zoektype::ZoekMetPostcodeEnHuisnummer => {
                let postcode = given(&body, "postcode")
                    .and_then(|v| fouten.string("postcode", v, POSTCODE_PATTERN))
                    .and_then(|s| Postcode::parse(s).ok());
                let huisnummer = given(&body, "huisnummer").and_then(|v| match v.as_i64() {
                    Some(n) if n < 1 => {
                        fouten.add("huisnummer", "minimum", "Waarde is lager dan minimum 1.");
                        None
                    }
                    Some(n) if n > 99_999 => {
                        fouten.add(
                            "huisnummer",
                            "maximum",
                            "Waarde is hoger dan maximum 99999.",
                        );
                        None
                    }
                    Some(n) => Some(n as i32),
                    None => {
                        fouten.add("huisnummer", "integer", "Waarde is geen geldig getal.");
                        None
                    }
                });
                let huisletter = given(&body, "huisletter")
                    .and_then(|v| fouten.string("huisletter", v, HUISLETTER_PATTERN))
                    .map(str::to_ascii_uppercase);
                let huisnummertoevoeging = given(&body, "huisnummertoevoeging")
                    .and_then(|v| fouten.string("huisnummertoevoeging", v, TOEVOEGING_PATTERN))
                    .map(str::to_owned);
                let geboortedatum =
                    given(&body, "geboortedatum").and_then(|v| fouten.date("geboortedatum", v));
                let geslachtsnaam = Self::naam(&body, "geslachtsnaam", &mut fouten);
                match (postcode, huisnummer) {
                    (Some(postcode), Some(huisnummer)) => Some(Criteria::PostcodeEnHuisnummer {
                        postcode,
                        huisnummer,
                        huisletter,
                        huisnummertoevoeging,
                        geboortedatum,
                        geslachtsnaam,
                    }),
                    _ => None,
                }
            }
        };
        if let Some(problem) = fouten.into_problem() {
            return Err(problem);
        }
        Ok(Zoekvraag {
            zoektype,
            fields: fields.expect("no faults, so fields were valid"),
            gemeente_van_inschrijving,
            criteria: criteria.expect("no faults, so the criteria were valid"),
        })
    }

    fn naam(body: &Map<String, Value>, name: &str, fouten: &mut Fouten) -> Option<Naamfilter> {
        given(body, name)
            .and_then(|v| fouten.string(name, v, GESLACHTSNAAM_PATTERN))
            .map(Naamfilter::new)
    }

    fn fields(
        body: &Map<String, Value>,
        zoektype: Option<Zoektype>,
        persoon: &FieldSet,
        fouten: &mut Fouten,
    ) -> Option<Vec<String>> {
        let items = match body.get("fields") {
            None | Some(Value::Null) => {
                fouten.add("fields", "minItems", "Array bevat minder dan 1 items.");
                return None;
            }
            Some(Value::Array(items)) => items,
            Some(_) => {
                fouten.add("fields", "array", "Parameter is geen array.");
                return None;
            }
        };
        if items.is_empty() {
            fouten.add("fields", "minItems", "Array bevat minder dan 1 items.");
            return None;
        }
        if items.len() > 130 {
            fouten.add("fields", "maxItems", "Array bevat meer dan 130 items.");
            return None;
        }
        let before = fouten.ongeldig.len();
        let mut fields = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let name = format!("fields[{i}]");
            let Some(path) = fouten.string(&name, item, FIELD_PATTERN) else {
                continue;
            };
            if let Some(t) = zoektype {
                if let Err(reason) = velden::check(path, t, persoon) {
                    fouten.add(name, "fields", reason);
                    continue;
                }
            }
            fields.push(path.to_owned());
        }
        (fouten.ongeldig.len() == before).then_some(fields)
    }

    fn burgerservicenummers(body: &Map<String, Value>, fouten: &mut Fouten) -> Option<Vec<Bsn>> {
        let items = match body.get("burgerservicenummer")? {
            Value::Array(items) => items,
            Value::Null => return None,
            _ => {
                fouten.add("burgerservicenummer", "array", "Parameter is geen array.");
                return None;
            }
        };
        if items.is_empty() {
            fouten.add(
                "burgerservicenummer",
                "minItems",
                "Array bevat minder dan 1 items.",
            );
            return None;
        }
        if items.len() > 20 {
            fouten.add(
                "burgerservicenummer",
                "maxItems",
                "Array bevat meer dan 20 items.",
            );
            return None;
        }
        let before = fouten.ongeldig.len();
        let mut bsns = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let name = format!("burgerservicenummer[{i}]");
            let Some(s) = fouten.string(&name, item, BSN_PATTERN) else {
                continue;
            };
            match Bsn::parse(s) {
                Ok(bsn) if !bsns.contains(&bsn) => bsns.push(bsn),
                Ok(_) => {}
                Err(_) => fouten.add(name, "elfproef", "Waarde voldoet niet aan de elfproef."),
            }
        }
        (fouten.ongeldig.len() == before).then_some(bsns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn persoon() -> FieldSet {
        FieldSet::new(["burgerservicenummer", "naam", "naam.geslachtsnaam", "rni"])
    }

    fn fault(body: Value) -> (String, Vec<(String, String)>) {
        let p = Zoekvraag::parse(body.to_string().as_bytes(), &persoon()).unwrap_err();
        (
            p.code.as_str().to_owned(),
            p.invalid_params
                .into_iter()
                .map(|i| (i.name, i.code))
                .collect(),
        )
    }

    #[test]
    fn a_valid_raadpleging() {
        let v = Zoekvraag::parse(
            json!({"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": ["999993653", "999993653"], "fields": ["naam.geslachtsnaam"]})
                .to_string()
                .as_bytes(),
            &persoon(),
        )
        .unwrap();
        match v.criteria {
            Criteria::Burgerservicenummers(b) => assert_eq!(b.len(), 1, "duplicates collapse"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wildcards_only_at_the_end_after_three_letters() {
        for (name, ok) in [
            ("Kow*", true),
            ("Ko*", false),
            ("*ski", false),
            ("Ko*w", false),
            ("Kow**", false),
            ("Kowalski", true),
            ("K", true),
            ("Wiśniewska", true),
        ] {
            let r = Zoekvraag::parse(
                json!({"type": "ZoekMetGeslachtsnaamEnGeboortedatum", "geslachtsnaam": name, "geboortedatum": "1990-01-01", "fields": ["burgerservicenummer"]})
                    .to_string()
                    .as_bytes(),
                &persoon(),
            );
            assert_eq!(r.is_ok(), ok, "{name}");
        }
        let f = Naamfilter::new("kow*");
        assert!(f.matches("Kowalski") && !f.matches("Nowak"));
        assert!(Naamfilter::new("NOWAK").matches("Nowak"));
    }

    #[test]
    fn missing_mandatory_parameters_are_a_combination_fault() {
        let (code, params) = fault(
            json!({"type": "ZoekMetPostcodeEnHuisnummer", "fields": ["burgerservicenummer"]}),
        );
        assert_eq!(code, "paramsCombination");
        assert_eq!(
            params,
            vec![
                ("huisnummer".to_owned(), "required".to_owned()),
                ("postcode".to_owned(), "required".to_owned())
            ]
        );
    }

    mod properties {
        use super::*;
        use crate::fuzzing::{arb, assert_safe_problem, haalcentraal_vraag, rni_personen};
        use proptest::prelude::*;

        /// Any JSON value, a few levels deep.
        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                arb::text().prop_map(Value::from),
                arb::bsn().prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 24, 6, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                    proptest::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A member name: one the parser knows, or anything.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => proptest::sample::select(vec![
                    "type", "fields", "burgerservicenummer", "gemeenteVanInschrijving",
                    "geslachtsnaam", "geboortedatum", "geslacht", "voorvoegsel", "voornamen",
                    "inclusiefOverledenPersonen", "postcode", "huisnummer", "huisletter",
                    "huisnummertoevoeging",
                ]).prop_map(str::to_owned),
                1 => arb::text(),
                1 => arb::bsn(),
            ]
        }

        fn parse(body: &Value) -> Result<Zoekvraag, Problem> {
            Zoekvraag::parse(body.to_string().as_bytes(), rni_personen())
        }

        fn codes() -> [ProblemCode; 2] {
            [
                ProblemCode::ParamsValidation,
                ProblemCode::ParamsCombination,
            ]
        }

        proptest! {
            #[test]
            fn no_bytes_make_it_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
                haalcentraal_vraag(&data);
            }

            #[test]
            fn no_object_makes_it_panic_or_echo(
                members in proptest::collection::btree_map(name(), value(), 0..8),
                zoektype in proptest::sample::select(vec![
                    "RaadpleegMetBurgerservicenummer", "ZoekMetGeslachtsnaamEnGeboortedatum",
                    "ZoekMetPostcodeEnHuisnummer", "ZoekMetIets",
                ]),
            ) {
                let mut body: serde_json::Map<String, Value> = members.into_iter().collect();
                body.entry("type").or_insert(zoektype.into());
                haalcentraal_vraag(Value::Object(body).to_string().as_bytes());
            }

            #[test]
            fn a_valid_raadpleging_is_accepted(
                bsns in proptest::collection::vec(arb::bsn(), 1..=20),
                fields in proptest::sample::subsequence(
                    vec!["burgerservicenummer", "naam", "naam.geslachtsnaam", "geboorte.datum", "nationaliteiten", "verblijfplaats"], 1..=6),
            ) {
                let v = parse(&serde_json::json!({
                    "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns, "fields": fields,
                })).unwrap();
                prop_assert_eq!(v.zoektype, Zoektype::RaadpleegMetBurgerservicenummer);
                prop_assert_eq!(&v.fields, &fields);
                let Criteria::Burgerservicenummers(got) = v.criteria else { panic!("criteria") };
                let mut want: Vec<&str> = Vec::new();
                for b in &bsns {
                    if !want.contains(&b.as_str()) {
                        want.push(b);
                    }
                }
                prop_assert_eq!(got.iter().map(Bsn::as_str).collect::<Vec<_>>(), want);
            }

            #[test]
            fn a_bsn_failing_the_elfproef_is_named_not_repeated(
                good in arb::bsn(), bad in arb::bsn_failing_elfproef(), at in 0usize..2,
            ) {
                let mut bsns = vec![good];
                bsns.insert(at, bad.clone());
                let p = parse(&serde_json::json!({
                    "type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": bsns, "fields": ["naam"],
                })).unwrap_err();
                assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
                prop_assert_eq!(p.invalid_params.len(), 1);
                prop_assert_eq!(&p.invalid_params[0].name, &format!("burgerservicenummer[{at}]"));
                prop_assert_eq!(p.invalid_params[0].code.as_str(), "elfproef");
            }

            #[test]
            fn a_member_named_like_a_bsn_is_not_repeated(key in arb::bsn()) {
                let p = parse(&serde_json::json!({
                    "type": "ZoekMetPostcodeEnHuisnummer", "postcode": "1399QN", "huisnummer": 13,
                    "fields": ["naam"], key.clone(): 1,
                })).unwrap_err();
                assert_safe_problem(&p, &codes());
                prop_assert_eq!(p.invalid_params[0].code.as_str(), "unknownParam");
            }

            #[test]
            fn a_valid_postcode_search_is_accepted(
                digits in "[1-9][0-9]{3}", space in any::<bool>(), letters in "[a-zA-Z]{2}",
                huisnummer in 1i64..=99_999, huisletter in proptest::option::of("[a-zA-Z]"),
                toevoeging in proptest::option::of("[a-zA-Z0-9 \\-]{1,4}"),
            ) {
                let postcode = format!("{digits}{}{letters}", if space { " " } else { "" });
                let mut body = serde_json::json!({
                    "type": "ZoekMetPostcodeEnHuisnummer", "postcode": postcode,
                    "huisnummer": huisnummer, "fields": ["burgerservicenummer", "naam"],
                });
                if let Some(l) = &huisletter { body["huisletter"] = l.clone().into(); }
                if let Some(t) = &toevoeging { body["huisnummertoevoeging"] = t.clone().into(); }
                let v = parse(&body).unwrap();
                let Criteria::PostcodeEnHuisnummer { postcode: pc, huisnummer: hn, huisletter: hl, .. } = v.criteria
                    else { panic!("criteria") };
                prop_assert_eq!(pc.as_str(), format!("{digits}{}", letters.to_ascii_uppercase()));
                prop_assert_eq!(i64::from(hn), huisnummer);
                prop_assert_eq!(hl, huisletter.map(|l| l.to_ascii_uppercase()));
            }

            #[test]
            fn a_huisnummer_out_of_range_is_its_bound(n in prop_oneof![i64::MIN..1, 100_000i64..]) {
                let p = parse(&serde_json::json!({
                    "type": "ZoekMetPostcodeEnHuisnummer", "postcode": "1399QN", "huisnummer": n, "fields": ["naam"],
                })).unwrap_err();
                assert_safe_problem(&p, &[ProblemCode::ParamsValidation]);
                let want = if n < 1 { "minimum" } else { "maximum" };
                prop_assert_eq!(p.invalid_params[0].code.as_str(), want);
            }
        }
    }
}
