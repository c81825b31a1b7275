//! A disclosure record (Logboek Dataverwerkingen) and its place in the hash chain.

use diesel::{Insertable, Queryable, Selectable};
use sha2::{Digest, Sha256};

use crate::storage::schema::disclosure_records;

/// Logboek's status_code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Error => "ERROR",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// What a request asks to have recorded. The writer gives it its place in the chain.
#[derive(Debug, Clone)]
pub struct Record {
    pub trace_id: [u8; 16],
    pub operation_id: [u8; 8],
    pub parent_operation_id: Option<[u8; 8]>,
    /// The caller's operation (its `traceparent`) and who the caller is (its OIN).
    pub foreign_trace_id: Option<[u8; 16]>,
    pub foreign_operation_id: Option<[u8; 8]>,
    pub foreign_entity: Option<String>,
    /// The operation: `<activity>/<operation>` or, for refusals, `<METHOD> <route>`.
    pub name: String,
    pub start_time_ms: i64,
    pub end_time_ms: i64,
    pub status: Status,
    pub refusal_code: Option<String>,
    pub processing_activity_id: Option<String>,
    pub register_version: Option<String>,
    pub requester_oin: Option<String>,
    pub provider_oin: Option<String>,
    pub case_reference: Option<String>,
    /// The field paths disclosed, sorted, comma-separated.
    pub fields: String,
    /// For a parent record, the number of subjects; for a subject record, 1; refusals 0.
    pub record_count: i32,
    /// HMAC-SHA-256 of the BSN under the gateway's pseudonymisation key; never the BSN.
    pub subject_pseudonym: Option<[u8; 32]>,
    pub retain_until_ms: i64,
}

/// A record as stored: with its instance, sequence number and chain hashes.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, Queryable, Selectable)]
#[diesel(table_name = disclosure_records, treat_none_as_default_value = false)]
pub struct StoredRecord {
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
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl StoredRecord {
    /// Places `r` in `instance`'s chain after `prev_hash` as number `seq`.
    pub fn chain(r: Record, instance: &str, seq: i64, prev_hash: [u8; 32]) -> StoredRecord {
        let mut s = StoredRecord {
            instance_id: instance.to_owned(),
            seq,
            trace_id: r.trace_id.to_vec(),
            operation_id: r.operation_id.to_vec(),
            parent_operation_id: r.parent_operation_id.map(|x| x.to_vec()),
            foreign_trace_id: r.foreign_trace_id.map(|x| x.to_vec()),
            foreign_operation_id: r.foreign_operation_id.map(|x| x.to_vec()),
            foreign_entity: r.foreign_entity,
            name: r.name,
            start_time_ms: r.start_time_ms,
            end_time_ms: r.end_time_ms,
            status: r.status.as_str().to_owned(),
            refusal_code: r.refusal_code,
            processing_activity_id: r.processing_activity_id,
            register_version: r.register_version,
            requester_oin: r.requester_oin,
            provider_oin: r.provider_oin,
            case_reference: r.case_reference,
            fields: r.fields,
            record_count: r.record_count,
            subject_pseudonym: r.subject_pseudonym.map(|x| x.to_vec()),
            retain_until_ms: r.retain_until_ms,
            prev_hash: prev_hash.to_vec(),
            hash: Vec::new(),
        };
        s.hash = s.compute_hash().to_vec();
        s
    }

    /// SHA-256 over the previous hash and every other column, each length-prefixed (absent
    /// values marked apart from empty ones), in a fixed order: see [`Columns::hash`].
    pub fn compute_hash(&self) -> [u8; 32] {
        self.columns().hash()
    }

    /// The columns the hash covers, borrowed.
    pub fn columns(&self) -> Columns<'_> {
        Columns {
            prev_hash: &self.prev_hash,
            instance_id: self.instance_id.as_bytes(),
            seq: self.seq,
            trace_id: &self.trace_id,
            operation_id: &self.operation_id,
            parent_operation_id: self.parent_operation_id.as_deref(),
            foreign_trace_id: self.foreign_trace_id.as_deref(),
            foreign_operation_id: self.foreign_operation_id.as_deref(),
            foreign_entity: self.foreign_entity.as_deref().map(str::as_bytes),
            name: self.name.as_bytes(),
            start_time_ms: self.start_time_ms,
            end_time_ms: self.end_time_ms,
            status: self.status.as_bytes(),
            refusal_code: self.refusal_code.as_deref().map(str::as_bytes),
            processing_activity_id: self.processing_activity_id.as_deref().map(str::as_bytes),
            register_version: self.register_version.as_deref().map(str::as_bytes),
            requester_oin: self.requester_oin.as_deref().map(str::as_bytes),
            provider_oin: self.provider_oin.as_deref().map(str::as_bytes),
            case_reference: self.case_reference.as_deref().map(str::as_bytes),
            fields: self.fields.as_bytes(),
            record_count: self.record_count,
            subject_pseudonym: self.subject_pseudonym.as_deref(),
            retain_until_ms: self.retain_until_ms,
        }
    }

    /// The id a response carries in `X-Disclosure-Id`: trace id and operation id, in hex.
    pub fn disclosure_id(&self) -> String {
        format!(
            "{}-{}",
            hex::encode(&self.trace_id),
            hex::encode(&self.operation_id)
        )
    }
}

/// The columns of a stored record that its chain hash covers, borrowed: from a
/// [`StoredRecord`], or (in `log verify`) straight from the bytes the database sent, so that
/// every path hashes a record through this one function. Text columns are their UTF-8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns<'a> {
    pub prev_hash: &'a [u8],
    pub instance_id: &'a [u8],
    pub seq: i64,
    pub trace_id: &'a [u8],
    pub operation_id: &'a [u8],
    pub parent_operation_id: Option<&'a [u8]>,
    pub foreign_trace_id: Option<&'a [u8]>,
    pub foreign_operation_id: Option<&'a [u8]>,
    pub foreign_entity: Option<&'a [u8]>,
    pub name: &'a [u8],
    pub start_time_ms: i64,
    pub end_time_ms: i64,
    pub status: &'a [u8],
    pub refusal_code: Option<&'a [u8]>,
    pub processing_activity_id: Option<&'a [u8]>,
    pub register_version: Option<&'a [u8]>,
    pub requester_oin: Option<&'a [u8]>,
    pub provider_oin: Option<&'a [u8]>,
    pub case_reference: Option<&'a [u8]>,
    pub fields: &'a [u8],
    pub record_count: i32,
    pub subject_pseudonym: Option<&'a [u8]>,
    pub retain_until_ms: i64,
}

impl Columns<'_> {
    /// The record's chain hash: SHA-256 over a version tag, then the previous hash and every
    /// other column, each length-prefixed (a 4-byte big-endian length; an absent value is
    /// marked by length `u32::MAX`, apart from an empty one), integers big-endian, in this
    /// fixed order.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"doelpoort-record-v1");
        let mut put = |v: Option<&[u8]>| match v {
            Some(b) => {
                h.update((b.len() as u32).to_be_bytes());
                h.update(b);
            }
            None => h.update(u32::MAX.to_be_bytes()),
        };
        put(Some(self.prev_hash));
        put(Some(self.instance_id));
        put(Some(&self.seq.to_be_bytes()));
        put(Some(self.trace_id));
        put(Some(self.operation_id));
        put(self.parent_operation_id);
        put(self.foreign_trace_id);
        put(self.foreign_operation_id);
        put(self.foreign_entity);
        put(Some(self.name));
        put(Some(&self.start_time_ms.to_be_bytes()));
        put(Some(&self.end_time_ms.to_be_bytes()));
        put(Some(self.status));
        put(self.refusal_code);
        put(self.processing_activity_id);
        put(self.register_version);
        put(self.requester_oin);
        put(self.provider_oin);
        put(self.case_reference);
        put(Some(self.fields));
        put(Some(&self.record_count.to_be_bytes()));
        put(self.subject_pseudonym);
        put(Some(&self.retain_until_ms.to_be_bytes()));
        h.finalize().into()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Record {
        Record {
            trace_id: [1; 16],
            operation_id: [2; 8],
            parent_operation_id: None,
            foreign_trace_id: None,
            foreign_operation_id: None,
            foreign_entity: None,
            name: "rni-telling/count".into(),
            start_time_ms: 1,
            end_time_ms: 2,
            status: Status::Ok,
            refusal_code: None,
            processing_activity_id: Some("rni-telling".into()),
            register_version: Some("sha256:x".into()),
            requester_oin: Some("99000000000103630000".into()),
            provider_oin: None,
            case_reference: None,
            fields: "aantal,postcode".into(),
            record_count: 0,
            subject_pseudonym: None,
            retain_until_ms: 3,
        }
    }

    /// The hash of a fixed record, computed apart from this code (Python's hashlib over the
    /// documented layout): a change to the hashing order or framing breaks every stored chain.
    #[test]
    fn the_hash_of_a_known_record_stays_the_same() {
        let r = StoredRecord::chain(sample(), "gw", 1, [0; 32]);
        assert_eq!(
            hex::encode(&r.hash),
            "a8c32b626ab15df4ad60a9c763537769c0d31fce980a9d0cb45023a446ae6dba"
        );
    }

    #[test]
    fn every_column_is_covered_by_the_hash() {
        let base = StoredRecord::chain(sample(), "gw", 1, [0; 32]);
        assert_eq!(base.hash, base.compute_hash().to_vec());
        let mut changed = base.clone();
        changed.case_reference = Some(String::new());
        assert_ne!(
            changed.compute_hash().to_vec(),
            base.hash,
            "absent and empty must differ"
        );
        let mut changed = base.clone();
        changed.seq = 2;
        assert_ne!(changed.compute_hash().to_vec(), base.hash);
        let mut changed = base.clone();
        changed.prev_hash = vec![1; 32];
        assert_ne!(changed.compute_hash().to_vec(), base.hash);
        let mut changed = base.clone();
        changed.fields = "aantal,postcode,bsn".into();
        assert_ne!(changed.compute_hash().to_vec(), base.hash);
    }
}
