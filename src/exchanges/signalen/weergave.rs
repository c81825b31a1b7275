//! A signal as its sender and its recipient see it (the same for both; the activity's field
//! set minimises it afterwards).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::opslag::Signaal;
use super::signaal::Soort;
use crate::domain::Oin;
use crate::organisations::Registry;

/// A moment as RFC 3339 in UTC with milliseconds.
pub fn tijdstip(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `{"oin", "naam"}` of an organisation (`naam` null if the registry no longer has it).
fn organisatie(registry: &Registry, oin: &str) -> Value {
    let naam = Oin::parse(oin)
        .ok()
        .and_then(|o| registry.get(&o))
        .map(|o| o.name.clone());
    json!({ "oin": oin, "naam": naam })
}

pub fn weergave(s: &Signaal, registry: &Registry) -> Value {
    let r = &s.rij;
    let laa = r.soort == Soort::LaaSignaal.as_str();
    let adres = r.adres_postcode.as_ref().map(|postcode| {
        json!({
            "postcode": postcode,
            "huisnummer": r.adres_huisnummer,
            "huisletter": r.adres_huisletter,
            "huisnummertoevoeging": r.adres_huisnummertoevoeging,
        })
    });
    let werkgever = (r.werkgever_loonheffingennummer.is_some()
        || r.werkgever_kvk_nummer.is_some()
        || r.werkgever_naam.is_some())
    .then(|| {
        json!({
            "loonheffingennummer": r.werkgever_loonheffingennummer,
            "kvkNummer": r.werkgever_kvk_nummer,
            "naam": r.werkgever_naam,
        })
    });
    let historie: Vec<Value> = s
        .historie
        .iter()
        .map(|h| {
            let mut e = json!({
                "status": h.status,
                "reden": h.reden,
                "tijdstip": tijdstip(h.tijdstip_ms),
                "door": organisatie(registry, &h.door_oin),
            });
            if laa {
                e["uitkomst"] = json!(h.uitkomst);
            }
            e
        })
        .collect();
    let mut v = Map::new();
    v.insert("id".into(), json!(r.id));
    v.insert("soort".into(), json!(r.soort));
    v.insert("afzender".into(), organisatie(registry, &r.afzender_oin));
    v.insert("ontvanger".into(), organisatie(registry, &r.ontvanger_oin));
    v.insert("omschrijving".into(), json!(r.omschrijving));
    v.insert("urgent".into(), json!(r.urgent));
    v.insert("adres".into(), json!(adres));
    if laa {
        v.insert(
            "aantalInschrijvingen".into(),
            json!(r.aantal_inschrijvingen),
        );
    }
    v.insert("burgerservicenummers".into(), json!(s.burgerservicenummers));
    if !laa {
        v.insert("werkgever".into(), json!(werkgever));
    }
    v.insert("status".into(), json!(r.status));
    if laa {
        // The outcome of the investigation and the reason of the current status, up front.
        let uitkomst = s.historie.iter().rev().find_map(|h| h.uitkomst.clone());
        let reden = s.historie.last().and_then(|h| h.reden.clone());
        v.insert("uitkomst".into(), json!(uitkomst));
        v.insert("reden".into(), json!(reden));
    }
    v.insert("statusHistorie".into(), Value::Array(historie));
    v.insert("ontvangen".into(), json!(tijdstip(r.ontvangen_ms)));
    Value::Object(v)
}
