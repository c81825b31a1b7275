//! A disclosure record as the audit API shows it: the Logboek Dataverwerkingen field names,
//! ids in hex, organisations with their names. Never the chain hashes, never a BSN (the data
//! subject only as its keyed pseudonym, in hex).

use diesel::QueryableByName;
use serde::Serialize;

use crate::organisations::Registry;
use crate::storage::schema::disclosure_records;

/// The columns every audit query reads, in `Row`'s order.
pub const COLUMNS: &str = "instance_id, seq, trace_id, operation_id, parent_operation_id, \
     foreign_trace_id, foreign_operation_id, foreign_entity, name, start_time_ms, end_time_ms, \
     status, refusal_code, processing_activity_id, register_version, requester_oin, provider_oin, \
     case_reference, fields, record_count, subject_pseudonym, retain_until_ms";

#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = disclosure_records)]
pub struct Row {
    pub instance_id: String,
    pub seq: i64,
    pub trace_id: Vec<u8>,
    pub operation_id: Vec<u8>,
    pub parent_operation_id: Option<Vec<u8>>,
    pub foreign_trace_id: Option<Vec<u8>>,
    pub foreign_operation_id: Option<Vec<u8>>,
    pub foreign_entity: Option<String>,
    pub name: String,
    pub start_time_ms: i64,
    pub end_time_ms: i64,
    pub status: String,
    pub refusal_code: Option<String>,
    pub processing_activity_id: Option<String>,
    pub register_version: Option<String>,
    pub requester_oin: Option<String>,
    pub provider_oin: Option<String>,
    pub case_reference: Option<String>,
    pub fields: String,
    pub record_count: i32,
    pub subject_pseudonym: Option<Vec<u8>>,
    pub retain_until_ms: i64,
}

impl Row {
    /// The position of this record in the audit API's order: (start time, instance, seq).
    pub fn key(&self) -> Key {
        Key {
            start_time_ms: self.start_time_ms,
            instance_id: self.instance_id.clone(),
            seq: self.seq,
        }
    }

    /// `<trace_id>-<operation_id>`, as `X-Disclosure-Id` gives it.
    pub fn id(&self) -> String {
        format!(
            "{}-{}",
            hex::encode(&self.trace_id),
            hex::encode(&self.operation_id)
        )
    }
}

/// The four kinds of record; every record is exactly one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request that disclosed data (the record naming how many persons).
    Verstrekking,
    /// One person disclosed, under such a request.
    Persoon,
    /// A refused request.
    Weigering,
    /// An audit query.
    Raadpleging,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "verstrekking" => Some(Kind::Verstrekking),
            "persoon" => Some(Kind::Persoon),
            "weigering" => Some(Kind::Weigering),
            "raadpleging" => Some(Kind::Raadpleging),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Verstrekking => "verstrekking",
            Kind::Persoon => "persoon",
            Kind::Weigering => "weigering",
            Kind::Raadpleging => "raadpleging",
        }
    }

    /// The SQL condition (on columns only) that selects this kind.
    pub fn predicate(self) -> &'static str {
        match self {
            Kind::Verstrekking => "(parent_operation_id IS NULL AND refusal_code IS NULL AND processing_activity_id IS NOT NULL)",
            Kind::Persoon => "(parent_operation_id IS NOT NULL)",
            Kind::Weigering => "(parent_operation_id IS NULL AND refusal_code IS NOT NULL)",
            Kind::Raadpleging => "(parent_operation_id IS NULL AND refusal_code IS NULL AND processing_activity_id IS NULL)",
        }
    }
}

/// A keyset position; its text form is the `cursor` a page hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub start_time_ms: i64,
    pub instance_id: String,
    pub seq: i64,
}

impl Key {
    /// `<start_time_ms>.<seq>.<instance_id>`
    pub fn to_cursor(&self) -> String {
        format!("{}.{}.{}", self.start_time_ms, self.seq, self.instance_id)
    }

    pub fn parse(cursor: &str) -> Option<Key> {
        let mut parts = cursor.splitn(3, '.');
        let start_time_ms = parts.next()?.parse().ok()?;
        let seq = parts.next()?.parse().ok()?;
        let instance_id = parts.next()?;
        let valid = !instance_id.is_empty()
            && instance_id.len() <= 128
            && instance_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        valid.then(|| Key {
            start_time_ms,
            instance_id: instance_id.to_owned(),
            seq,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct Party {
    pub oin: String,
    /// From the organisation registry in force; `null` for an OIN it no longer knows.
    pub naam: Option<String>,
}

impl Party {
    pub fn of(oin: &str, registry: &Registry) -> Party {
        Party {
            oin: oin.to_owned(),
            naam: registry.find(oin).map(|o| o.name.clone()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ForeignOperation {
    pub trace_id: Option<String>,
    pub operation_id: Option<String>,
    pub entity: Option<String>,
}

/// One record in the audit API's JSON (and NDJSON export).
#[derive(Debug, Serialize)]
pub struct RecordView {
    /// `<trace_id>-<operation_id>`: the `X-Disclosure-Id` of the answer it records.
    pub id: String,
    pub instance_id: String,
    pub seq: i64,
    pub trace_id: String,
    pub operation_id: String,
    pub parent_operation_id: Option<String>,
    pub foreign_operation: Option<ForeignOperation>,
    pub name: String,
    /// Milliseconds since the epoch.
    pub start_time: i64,
    pub end_time: i64,
    pub status_code: String,
    pub refusal_code: Option<String>,
    pub processing_activity_id: Option<String>,
    /// The register version the decision was made under (see `register_versies`).
    pub register_version: Option<String>,
    pub requester: Option<Party>,
    pub provider: Option<Party>,
    pub case_reference: Option<String>,
    pub fields: Vec<String>,
    pub record_count: i32,
    /// The data subject's keyed pseudonym (HMAC-SHA-256 of the BSN), hex.
    pub data_subject_pseudonym: Option<String>,
    pub retain_until: i64,
}

impl RecordView {
    /// Which of the four kinds of record this is (as `Kind::predicate` selects them).
    pub fn kind(&self) -> Kind {
        if self.parent_operation_id.is_some() {
            Kind::Persoon
        } else if self.refusal_code.is_some() {
            Kind::Weigering
        } else if self.processing_activity_id.is_some() {
            Kind::Verstrekking
        } else {
            Kind::Raadpleging
        }
    }

    pub fn new(r: Row, registry: &Registry) -> RecordView {
        let foreign = (r.foreign_trace_id.is_some() || r.foreign_entity.is_some()).then(|| {
            ForeignOperation {
                trace_id: r.foreign_trace_id.as_deref().map(hex::encode),
                operation_id: r.foreign_operation_id.as_deref().map(hex::encode),
                entity: r.foreign_entity.clone(),
            }
        });
        RecordView {
            id: r.id(),
            trace_id: hex::encode(&r.trace_id),
            operation_id: hex::encode(&r.operation_id),
            parent_operation_id: r.parent_operation_id.as_deref().map(hex::encode),
            foreign_operation: foreign,
            start_time: r.start_time_ms,
            end_time: r.end_time_ms,
            status_code: r.status,
            refusal_code: r.refusal_code,
            processing_activity_id: r.processing_activity_id,
            register_version: r.register_version,
            requester: r.requester_oin.as_deref().map(|o| Party::of(o, registry)),
            provider: r.provider_oin.as_deref().map(|o| Party::of(o, registry)),
            case_reference: r.case_reference,
            fields: r
                .fields
                .split(',')
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            record_count: r.record_count,
            data_subject_pseudonym: r.subject_pseudonym.as_deref().map(hex::encode),
            retain_until: r.retain_until_ms,
            name: r.name,
            instance_id: r.instance_id,
            seq: r.seq,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let k = Key {
            start_time_ms: 1_764_000_000_000,
            instance_id: "doelpoort-1".into(),
            seq: 42,
        };
        assert_eq!(Key::parse(&k.to_cursor()), Some(k));
        for bad in ["", "1.2", "x.2.gw", "1.x.gw", "1.2.g w", "1.2.gw;drop"] {
            assert_eq!(Key::parse(bad), None, "{bad}");
        }
    }
}
