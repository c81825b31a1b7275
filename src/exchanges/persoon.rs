//! An RNI person in the shape of Haal Centraal BRP Personen v2 (`Persoon`), with doelpoort's
//! RNI extensions (`datumInschrijvingRni`, `tijdelijkVerblijfsadres`, `contactgegevens`).
//! This is everything the source knows; the routes select what was asked and `minimise`
//! removes what the activity does not allow.

use std::collections::HashMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use serde_json::{json, Map, Value};

use crate::seed::{omschrijving, RniPersoon};

/// Landelijke tabel 60 (RNI-deelnemers), from `policies/reference/` at build time.
const DEELNEMERS_CSV: &str = include_str!("../../policies/reference/rni-deelnemerstabel.csv");

/// The gemeente code every RNI person is registered under (landelijke tabel 33).
pub const GEMEENTE_RNI: &str = "1999";

/// The description of an RNI participant code (tabel 60), if the table knows it.
pub fn deelnemer_omschrijving(code: &str) -> Option<&'static str> {
    static TABEL: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    TABEL
        .get_or_init(|| {
            DEELNEMERS_CSV
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let mut cols = line.split("\",\"");
                    let code = cols.next()?.trim_start_matches('"');
                    let omschrijving = cols.next()?.trim_end_matches('"');
                    Some((code, omschrijving))
                })
                .collect()
        })
        .get(code)
        .copied()
}

/// A Haal Centraal `Datum` (`VolledigeDatum`) with its Dutch long form, or `DatumOnbekend`.
pub fn datum(iso: &str) -> Value {
    match NaiveDate::parse_from_str(iso, "%Y-%m-%d") {
        Ok(d) => json!({
            "type": "Datum",
            "datum": iso,
            "langFormaat": format!("{} {} {}", d.day(), crate::domain::MAANDEN[d.month0() as usize], d.year()),
        }),
        Err(_) => json!({ "type": "DatumOnbekend", "onbekend": true, "langFormaat": "onbekend" }),
    }
}

fn waarde(code: &str) -> Value {
    match omschrijving(code) {
        Some(o) => json!({ "code": code, "omschrijving": o }),
        None => json!({ "code": code }),
    }
}

/// Age in whole years on `today`.
fn leeftijd(geboren: &str, today: NaiveDate) -> Option<u32> {
    let born = NaiveDate::parse_from_str(geboren, "%Y-%m-%d").ok()?;
    today.years_since(born)
}

fn voorletters(voornamen: &str) -> String {
    voornamen
        .split_whitespace()
        .filter_map(|n| n.chars().next())
        .map(|c| format!("{c}."))
        .collect()
}

/// Removes every member whose value is `null`, at any depth: Haal Centraal leaves out what is
/// not there ("Gegevens die er niet zijn … krijg je niet terug").
fn without_nulls(v: &mut Value) {
    match v {
        Value::Object(members) => {
            members.retain(|_, m| !m.is_null());
            members.values_mut().for_each(without_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(without_nulls),
        _ => {}
    }
}

/// The RNI person as Haal Centraal's `Persoon`, complete (what is not known is left out).
pub fn persoon(p: &RniPersoon, today: NaiveDate) -> Value {
    persoon_met(p, today, |_| true)
}

/// The RNI person with only the top-level members that `wanted` names (the roots of the
/// fields asked or allowed): a route that selects a few fields does not build the rest.
pub fn persoon_met(p: &RniPersoon, today: NaiveDate, wanted: impl Fn(&str) -> bool) -> Value {
    let mut v = Value::Object(leden(p, today, wanted));
    without_nulls(&mut v);
    v
}

fn leden(p: &RniPersoon, today: NaiveDate, wanted: impl Fn(&str) -> bool) -> Map<String, Value> {
    let achternaam = match &p.voorvoegsel {
        Some(v) => format!("{v} {}", p.geslachtsnaam),
        None => p.geslachtsnaam.clone(),
    };
    let (geslacht, aanhef, lopend) = match p.geslacht.as_str() {
        "M" => ("man", "Geachte heer", "de heer"),
        "V" => ("vrouw", "Geachte mevrouw", "mevrouw"),
        _ => ("onbekend", "Geachte", ""),
    };
    let initialen = || voorletters(&p.voornamen);
    let rni = |categorie: &str| {
        json!({
            "deelnemer": {
                "code": p.rni_deelnemer_code,
                "omschrijving": deelnemer_omschrijving(&p.rni_deelnemer_code),
            },
            "categorie": categorie,
        })
    };
    let leden: [(&str, &dyn Fn() -> Value); 13] = [
        ("burgerservicenummer", &|| json!(p.burgerservicenummer)),
        (
            "geslacht",
            &|| json!({ "code": p.geslacht, "omschrijving": geslacht }),
        ),
        ("leeftijd", &|| json!(leeftijd(&p.geboortedatum, today))),
        ("naam", &|| {
            json!({
                "voornamen": p.voornamen,
                "voorvoegsel": p.voorvoegsel,
                "geslachtsnaam": p.geslachtsnaam,
                "voorletters": initialen(),
                "volledigeNaam": format!("{} {achternaam}", p.voornamen),
                "aanduidingNaamgebruik": { "code": "E", "omschrijving": "eigen geslachtsnaam" },
            })
        }),
        ("geboorte", &|| {
            json!({
                "datum": datum(&p.geboortedatum),
                "plaats": { "omschrijving": p.geboorteplaats },
                "land": waarde(&p.geboorteland_code),
            })
        }),
        (
            "nationaliteiten",
            &|| json!([{ "type": "Nationaliteit", "nationaliteit": waarde(&p.nationaliteit_code) }]),
        ),
        ("verblijfplaats", &|| {
            json!({
                "type": "VerblijfplaatsBuitenland",
                "verblijfadres": {
                    "regel1": p.buitenland_adresregel1,
                    "regel2": p.buitenland_adresregel2,
                    "land": waarde(&p.buitenland_land_code),
                },
            })
        }),
        (
            "gemeenteVanInschrijving",
            &|| json!({ "code": GEMEENTE_RNI, "omschrijving": "Registratie Niet Ingezetenen (RNI)" }),
        ),
        ("adressering", &|| {
            json!({
                "aanhef": format!("{aanhef} {}", capitalise(&achternaam)),
                "aanschrijfwijze": { "naam": format!("{} {achternaam}", initialen()) },
                "gebruikInLopendeTekst": format!("{lopend} {achternaam}").trim().to_owned(),
                "adresregel1": p.buitenland_adresregel1,
                "adresregel2": p.buitenland_adresregel2,
                "land": waarde(&p.buitenland_land_code),
            })
        }),
        ("rni", &|| {
            json!([rni("Persoon"), rni("Nationaliteit"), rni("Verblijfplaats")])
        }),
        ("datumInschrijvingRni", &|| json!(p.datum_inschrijving)),
        ("tijdelijkVerblijfsadres", &|| tijdelijk_verblijfsadres(p)),
        (
            "contactgegevens",
            &|| json!({ "telefoonnummer": p.telefoonnummer, "emailadres": p.emailadres }),
        ),
    ];
    leden
        .into_iter()
        .filter(|(naam, _)| wanted(naam))
        .map(|(naam, waarde)| (naam.to_owned(), waarde()))
        .collect()
}

/// The temporary Dutch stay address, or `null` when the person gave none.
pub fn tijdelijk_verblijfsadres(p: &RniPersoon) -> Value {
    if p.verblijf_postcode.is_none() {
        return Value::Null;
    }
    json!({
        "straat": p.verblijf_straat,
        "huisnummer": p.verblijf_huisnummer,
        "huisletter": p.verblijf_huisletter,
        "huisnummertoevoeging": p.verblijf_toevoeging,
        "postcode": p.verblijf_postcode,
        "woonplaats": p.verblijf_woonplaats,
        "gemeentecode": p.verblijf_gemeentecode,
        "datumAanvang": p.verblijf_datum_aanvang,
    })
}

/// "van der Berg" → "Van der Berg", as a salutation starts with a capital.
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_known_is_left_out() {
        let mut v =
            serde_json::json!({ "a": null, "b": { "c": null, "d": 1 }, "e": [{ "f": null }] });
        without_nulls(&mut v);
        assert_eq!(v, serde_json::json!({ "b": { "d": 1 }, "e": [{}] }));
    }

    #[test]
    fn a_selection_builds_only_the_members_asked_and_the_same_ones() {
        let s = |v: &str| v.to_owned();
        let p = RniPersoon {
            burgerservicenummer: s("999990019"),
            voornamen: s("Jan Piotr"),
            voorvoegsel: Some(s("van")),
            geslachtsnaam: s("Kowalski"),
            geslacht: s("M"),
            geboortedatum: s("1990-05-04"),
            geboorteplaats: s("Gdańsk"),
            geboorteland_code: s("7028"),
            nationaliteit_code: s("0072"),
            buitenland_adresregel1: s("ul. Długa 1"),
            buitenland_adresregel2: s("80-001 Gdańsk"),
            buitenland_land_code: s("7028"),
            verblijf_straat: Some(s("Dorpsstraat")),
            verblijf_huisnummer: Some(12),
            verblijf_huisletter: None,
            verblijf_toevoeging: None,
            verblijf_postcode: Some(s("1399QN")),
            verblijf_woonplaats: Some(s("Amsterdam")),
            verblijf_gemeentecode: Some(s("0363")),
            verblijf_datum_aanvang: Some(s("2024-01-01")),
            telefoonnummer: None,
            emailadres: Some(s("jan@example.org")),
            datum_inschrijving: s("2023-11-01"),
            rni_deelnemer_code: s("0201"),
        };
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let heel = persoon(&p, today);
        let deel = persoon_met(&p, today, |k| k == "naam" || k == "rni");
        let keys: Vec<&String> = deel.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["naam", "rni"]);
        assert_eq!(deel["naam"], heel["naam"]);
        assert_eq!(deel["rni"], heel["rni"]);
        assert!(heel.as_object().unwrap().len() >= 12, "{heel}");
    }

    #[test]
    fn tabel_60_is_read() {
        assert_eq!(
            deelnemer_omschrijving("0201"),
            Some("Sociale Verzekeringsbank (inzake AOW, Anw en AKW)")
        );
        assert_eq!(deelnemer_omschrijving("4242"), None);
    }

    #[test]
    fn dates_have_a_dutch_long_form() {
        assert_eq!(datum("1990-05-04")["langFormaat"], "4 mei 1990");
        assert_eq!(datum("??")["type"], "DatumOnbekend");
        let today = NaiveDate::from_ymd_opt(2026, 5, 3).unwrap();
        assert_eq!(leeftijd("1990-05-04", today), Some(35));
        assert_eq!(leeftijd("1990-05-03", today), Some(36));
        assert_eq!(voorletters("Jan  Piotr"), "J.P.");
    }
}
