//! The `fields` parameter: which paths exist, which may not be asked for, and the selection of
//! the asked paths from a person.
//!
//! A raadpleging answers with the full `Persoon` (every path of the dataset
//! `rni-personen`); a search with `PersoonBeperkt`, a small subset fixed by the spec. Fields
//! the spec delivers automatically (`inOnderzoek`, `geheimhoudingPersoonsgegevens`,
//! `opschortingBijhouding`, `rni`, `verificatie`) may not be asked for. doelpoort's RNI
//! extensions (`datumInschrijvingRni`, `tijdelijkVerblijfsadres`, `contactgegevens`) may be
//! asked for in both.

use serde_json::Value;

use super::vraag::Zoektype;
use crate::minimise::FieldSet;

/// Delivered without being asked for; asking is a fault.
const AUTOMATISCH: &[&str] = &[
    "inOnderzoek",
    "geheimhoudingPersoonsgegevens",
    "opschortingBijhouding",
    "rni",
    "verificatie",
];

/// The paths of `PersoonBeperkt` (the answer to a search) that can be asked for.
pub const PERSOON_BEPERKT: &[&str] = &[
    "burgerservicenummer",
    "geboorte",
    "geboorte.datum",
    "geboorte.datum.type",
    "geboorte.datum.datum",
    "geboorte.datum.jaar",
    "geboorte.datum.maand",
    "geboorte.datum.onbekend",
    "geboorte.datum.langFormaat",
    "geslacht",
    "geslacht.code",
    "geslacht.omschrijving",
    "leeftijd",
    "naam",
    "naam.voornamen",
    "naam.adellijkeTitelPredicaat",
    "naam.adellijkeTitelPredicaat.code",
    "naam.adellijkeTitelPredicaat.omschrijving",
    "naam.adellijkeTitelPredicaat.soort",
    "naam.voorvoegsel",
    "naam.geslachtsnaam",
    "naam.voorletters",
    "naam.volledigeNaam",
    "adressering",
    "adressering.adresregel1",
    "adressering.adresregel2",
    "adressering.adresregel3",
    "adressering.land",
    "adressering.land.code",
    "adressering.land.omschrijving",
    "adressering.indicatieVastgesteldVerblijftNietOpAdres",
];

/// doelpoort's RNI extensions: not in the Haal Centraal spec, in the dataset.
const UITBREIDINGEN: &[&str] = &[
    "datumInschrijvingRni",
    "tijdelijkVerblijfsadres",
    "contactgegevens",
];

fn root(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// Whether `path` may be asked for in a request of type `t`; the reason when not.
pub fn check(path: &str, t: Zoektype, persoon: &FieldSet) -> Result<(), &'static str> {
    const NIET_BESTAAND: &str = "Parameter bevat een niet bestaande veldnaam.";
    if !persoon.contains(path) {
        return Err(NIET_BESTAAND);
    }
    if AUTOMATISCH.contains(&root(path)) || path.split('.').any(|s| s == "inOnderzoek") {
        return Err("Parameter bevat een niet toegestane veldnaam.");
    }
    if t.is_search() && !PERSOON_BEPERKT.contains(&path) && !UITBREIDINGEN.contains(&root(path)) {
        return Err(NIET_BESTAAND);
    }
    Ok(())
}

/// The selection for `fields`: the asked paths, plus the `type` of every polymorphic object
/// on the way (a client needs it to read the object), plus the automatically delivered `rni`
/// entries for the categories asked about.
pub fn selectie(fields: &[String]) -> FieldSet {
    let mut paths: Vec<String> = fields.to_vec();
    for f in fields {
        let mut end = 0;
        while let Some(dot) = f[end..].find('.') {
            end += dot;
            paths.push(format!("{}.type", &f[..end]));
            end += 1;
        }
        paths.push(format!("{f}.type"));
    }
    paths.push("rni".to_owned());
    FieldSet::new(paths)
}

/// Which RNI categories the asked fields come from (the `rni` entries delivered with them).
fn categorie(path: &str) -> &'static str {
    match root(path) {
        "nationaliteiten" => "Nationaliteit",
        "verblijfplaats" | "adressering" | "tijdelijkVerblijfsadres" => "Verblijfplaats",
        _ => "Persoon",
    }
}

/// Selects the asked fields from a full person and keeps only the `rni` entries of the
/// categories asked about.
pub fn selecteer(persoon: &mut Value, fields: &[String], selectie: &FieldSet) {
    selectie.minimise(persoon);
    let wanted: Vec<&str> = fields.iter().map(|f| categorie(f)).collect();
    if let Some(Value::Array(rni)) = persoon.get_mut("rni") {
        rni.retain(|e| {
            e.get("categorie")
                .and_then(Value::as_str)
                .is_some_and(|c| wanted.contains(&c))
        });
        if rni.is_empty() {
            persoon.as_object_mut().map(|o| o.remove("rni"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn automatic_and_unknown_fields_are_refused() {
        let persoon = FieldSet::new([
            "naam",
            "naam.inOnderzoek",
            "rni",
            "partners",
            "naam.voornamen",
        ]);
        let raadpleeg = Zoektype::RaadpleegMetBurgerservicenummer;
        let zoek = Zoektype::ZoekMetPostcodeEnHuisnummer;
        assert!(check("naam.voornamen", zoek, &persoon).is_ok());
        assert!(check("rni", raadpleeg, &persoon).is_err());
        assert!(check("naam.inOnderzoek", raadpleeg, &persoon).is_err());
        assert!(check("bestaatNiet", raadpleeg, &persoon).is_err());
        assert!(check("partners", raadpleeg, &persoon).is_ok());
        assert!(
            check("partners", zoek, &persoon).is_err(),
            "not in PersoonBeperkt"
        );
    }

    #[test]
    fn selection_keeps_types_and_the_rni_entries_asked_about() {
        let mut p = json!({
            "naam": {"voornamen": "Jan", "geslachtsnaam": "Nowak"},
            "verblijfplaats": {"type": "VerblijfplaatsBuitenland", "verblijfadres": {"regel1": "ul. X 1", "regel2": "Opole"}},
            "geboorte": {"datum": {"type": "Datum", "datum": "1990-01-01"}},
            "rni": [{"categorie": "Persoon"}, {"categorie": "Verblijfplaats"}, {"categorie": "Nationaliteit"}],
        });
        let fields = vec!["verblijfplaats.verblijfadres.regel1".to_owned()];
        selecteer(&mut p, &fields, &selectie(&fields));
        assert_eq!(
            p,
            json!({
                "verblijfplaats": {"type": "VerblijfplaatsBuitenland", "verblijfadres": {"regel1": "ul. X 1"}},
                "rni": [{"categorie": "Verblijfplaats"}],
            })
        );
    }
}
