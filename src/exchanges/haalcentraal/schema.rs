//! The request and response shapes for the OpenAPI document, as the Haal Centraal BRP
//! Personen v2 spec gives them. `vraag` validates the same rules from the raw body (so that
//! every fault can be reported with the spec's codes); tests check both agree.
#![allow(dead_code)] // described, not constructed

use serde_json::Value;
use utoipa::ToSchema;

/// The request: one of the search types, told apart by `type`.
#[derive(ToSchema)]
#[serde(tag = "type")]
pub enum PersonenQuery {
    RaadpleegMetBurgerservicenummer(RaadpleegMetBurgerservicenummer),
    ZoekMetGeslachtsnaamEnGeboortedatum(ZoekMetGeslachtsnaamEnGeboortedatum),
    ZoekMetPostcodeEnHuisnummer(ZoekMetPostcodeEnHuisnummer),
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RaadpleegMetBurgerservicenummer {
    /// The field paths wanted, e.g. `naam.geslachtsnaam`.
    #[schema(min_items = 1, max_items = 130, inline)]
    fields: Vec<Field>,
    #[schema(min_items = 1, max_items = 20, inline)]
    burgerservicenummer: Vec<Burgerservicenummer>,
    #[schema(pattern = r"^[0-9]{4}$")]
    gemeente_van_inschrijving: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoekMetGeslachtsnaamEnGeboortedatum {
    #[schema(min_items = 1, max_items = 130, inline)]
    fields: Vec<Field>,
    /// Case-insensitive; a trailing `*` after at least 3 characters is a wildcard.
    #[schema(pattern = r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$")]
    geslachtsnaam: String,
    #[schema(format = Date)]
    geboortedatum: String,
    #[schema(pattern = r"^([Mm]|[Vv]|[Oo])$")]
    geslacht: Option<String>,
    #[schema(pattern = r"^[a-zA-Z \']{1,10}$")]
    voorvoegsel: Option<String>,
    #[schema(pattern = r"^[a-zA-Z0-9À-ž \.\-\']{1,199}\*{0,1}$")]
    voornamen: Option<String>,
    inclusief_overleden_personen: Option<bool>,
    #[schema(pattern = r"^[0-9]{4}$")]
    gemeente_van_inschrijving: Option<String>,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoekMetPostcodeEnHuisnummer {
    #[schema(min_items = 1, max_items = 130, inline)]
    fields: Vec<Field>,
    #[schema(pattern = r"^[1-9]{1}[0-9]{3}[ ]?[A-Za-z]{2}$")]
    postcode: String,
    #[schema(minimum = 1, maximum = 99999)]
    huisnummer: i32,
    #[schema(pattern = r"^[a-zA-Z]{1}$")]
    huisletter: Option<String>,
    #[schema(pattern = r"^[a-zA-Z0-9 \-]{1,4}$")]
    huisnummertoevoeging: Option<String>,
    #[schema(format = Date)]
    geboortedatum: Option<String>,
    #[schema(pattern = r"^[a-zA-Z0-9À-ž \.\-\']{1,200}$|^[a-zA-Z0-9À-ž \.\-\']{3,199}\*{1}$")]
    geslachtsnaam: Option<String>,
    inclusief_overleden_personen: Option<bool>,
    #[schema(pattern = r"^[0-9]{4}$")]
    gemeente_van_inschrijving: Option<String>,
}

/// A field path, dot-separated.
#[derive(ToSchema)]
#[schema(pattern = r"^[a-zA-Z0-9\._]{1,200}$")]
pub struct Field(String);

/// Nine digits that pass the elfproef.
#[derive(ToSchema)]
#[schema(pattern = r"^[0-9]{9}$")]
pub struct Burgerservicenummer(String);

/// The answer: the same `type`, and the persons found.
#[derive(ToSchema)]
pub struct PersonenQueryResponse {
    #[serde(rename = "type")]
    zoektype: String,
    /// `Persoon` (raadplegen) or `PersoonBeperkt` (zoeken) of Haal Centraal BRP Personen v2,
    /// with `rni` and doelpoort's RNI extensions; only the fields asked for and allowed.
    #[schema(value_type = Vec<Object>)]
    personen: Vec<Value>,
}
