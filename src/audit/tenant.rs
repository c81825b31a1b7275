//! Whose records an audit user may see, as part of every audit query's WHERE clause. The
//! tenant comes from the verified token only, never from a request parameter: a privacy
//! officer sees the records in which its organisation is the requester or the provider, a
//! supervisor sees all.

use super::records::Row;
use super::sql::Sql;
use super::token::{Auditor, Role};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenant {
    /// The OIN of the privacy officer's organisation.
    Organisation(String),
    All,
}

impl Tenant {
    pub fn of(auditor: &Auditor) -> Tenant {
        match auditor.role {
            Role::PrivacyOfficer => Tenant::Organisation(auditor.organisation.oin.to_string()),
            Role::Supervisor => Tenant::All,
        }
    }

    /// ` AND (requester_oin = ? OR provider_oin = ?)`, or nothing for a supervisor: for
    /// queries that read the whole of a period anyway (aggregates, one person's records).
    pub fn restrict(&self, sql: &mut Sql) {
        if let Tenant::Organisation(oin) = self {
            sql.push(" AND (requester_oin = ")
                .text(oin.clone())
                .push(" OR provider_oin = ")
                .text(oin.clone())
                .push(")");
        }
    }

    /// The tenant as disjoint predicates whose union it is: the records the organisation
    /// requested, and those it provided to another. An ordered, limited query runs once per
    /// predicate, so that each part can walk an index of its own (requester_oin, start_time_ms
    /// or provider_oin, start_time_ms) instead of the whole period.
    pub fn branches(&self) -> Vec<Sql> {
        match self {
            Tenant::All => vec![Sql::new("1 = 1")],
            Tenant::Organisation(oin) => {
                let mut requested = Sql::new("requester_oin = ");
                requested.text(oin.clone());
                let mut provided = Sql::new("provider_oin = ");
                provided
                    .text(oin.clone())
                    .push(" AND (requester_oin IS NULL OR requester_oin <> ")
                    .text(oin.clone())
                    .push(")");
                vec![requested, provided]
            }
        }
    }

    /// Whether `row` belongs to the tenant: checked again on every row a query returned, so
    /// that a mistake in a query cannot show another organisation's record.
    pub fn admits(&self, row: &Row) -> bool {
        match self {
            Tenant::All => true,
            Tenant::Organisation(oin) => {
                row.requester_oin.as_deref() == Some(oin.as_str())
                    || row.provider_oin.as_deref() == Some(oin.as_str())
            }
        }
    }
}
