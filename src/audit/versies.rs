//! Every register version the gateway has had in force, kept in `register_versies`: a
//! disclosure record names its register version, and an inzage explains the record with the
//! purpose and legal basis of *that* version, not of today's register.
//!
//! A version is stored when it is loaded (at start and on every reload) before it is put in
//! force; if it cannot be stored, it is not put in force (the reload is rejected, the start
//! fails), so that no record can name a version the log cannot explain.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::policy::register::LegalBasis;
use crate::policy::Policy;
use crate::storage::schema::register_versies;
use crate::storage::{Database, DbConnection};

/// What a register version said about one activity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActivityVersion {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    pub provider: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub retention_days: u32,
}

/// The activities of `policy`, as stored.
pub fn content(policy: &Policy) -> Vec<ActivityVersion> {
    policy
        .register
        .activities
        .iter()
        .map(|a| ActivityVersion {
            id: a.id.clone(),
            name: a.name.clone(),
            purpose: a.purpose.clone(),
            legal_basis: a.legal_basis.clone(),
            provider: a.provider.clone(),
            valid_from: a.valid_from.to_string(),
            valid_until: a.valid_until.map(|d| d.to_string()),
            retention_days: a.retention_days,
        })
        .collect()
}

/// Stores `policy`'s version unless it is there already (the first load time is kept).
/// Blocking.
pub fn store(db: &Database, policy: &Policy) -> anyhow::Result<()> {
    let row = (
        register_versies::version.eq(policy.version.clone()),
        register_versies::loaded_at_ms.eq(crate::disclosure::now_ms()),
        register_versies::content.eq(serde_json::to_string(&content(policy))?),
    );
    let mut conn = db.checkout()?;
    match &mut *conn {
        DbConnection::Postgresql(c) => diesel::insert_into(register_versies::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(register_versies::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(())
}

/// The stored versions among `versions`: version → its activities by id. A version missing
/// here predates the table (or the database was restored without it).
pub fn load(
    conn: &mut DbConnection,
    versions: Vec<String>,
) -> QueryResult<HashMap<String, HashMap<String, ActivityVersion>>> {
    let rows: Vec<(String, String)> = register_versies::table
        .filter(register_versies::version.eq_any(versions))
        .select((register_versies::version, register_versies::content))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(version, content)| {
            let activities: Vec<ActivityVersion> = match serde_json::from_str(&content) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(%version, error = %e, "a stored register version does not parse");
                    return None;
                }
            };
            Some((
                version,
                activities.into_iter().map(|a| (a.id.clone(), a)).collect(),
            ))
        })
        .collect())
}
