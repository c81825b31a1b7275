//! casbin as the decision engine, indexed and precomputed per register version.
//!
//! casbin evaluates its matcher against every policy line, so one decision costs time in
//! proportion to the rules it must scan (about 0.9 µs per rule here). Two measures keep the
//! request path independent of the register's size:
//! - an index: one enforcer per activity, holding only that activity's rules;
//! - precomputation: when a register version loads, casbin decides every (organisation,
//!   activity, operation) that any rule can concern, into a dense table. A request reads one
//!   entry of that table; it never waits for casbin, and no decision outlives its version.

use std::collections::HashMap;

use casbin::prelude::{CoreApi, DefaultModel, Enforcer, MemoryAdapter};

use super::register::{Operation, Party, Register};
use crate::organisations::Registry;

/// A rule as casbin holds it: `p, sub, act, obj, op, eft` or `g, alias, kind:<kind>`.
pub type Rule = Vec<String>;

const OPERATIONS: [Operation; 4] = [
    Operation::Read,
    Operation::Search,
    Operation::Count,
    Operation::Write,
];

pub struct Decider {
    /// One per activity, by register index.
    enforcers: Vec<Enforcer>,
    /// `table[(subject * activities + activity) * 4 + op]`.
    table: Vec<bool>,
    subjects: HashMap<String, u32>,
    activities: usize,
    pub rule_count: usize,
    pub grouping_count: usize,
}

/// The casbin rules the register stands for, per activity: one allow per (requester,
/// operation), one deny per (denied party, operation).
pub fn rules_of(activity: &super::Activity) -> Vec<Rule> {
    let mut p = Vec::new();
    for op in &activity.operations {
        for (parties, eft) in [(&activity.requesters, "allow"), (&activity.deny, "deny")] {
            for party in parties.iter() {
                p.push(vec![
                    party.subject(),
                    activity.id.clone(),
                    activity.dataset.clone(),
                    op.as_str().to_owned(),
                    eft.to_owned(),
                ]);
            }
        }
    }
    p
}

/// The grouping: each organisation's alias belongs to its kind.
pub fn groupings(registry: &Registry) -> Vec<Rule> {
    registry
        .iter()
        .map(|org| vec![org.alias().to_owned(), Party::Kind(org.kind).subject()])
        .collect()
}

impl Decider {
    pub fn new(model: &str, register: &Register, registry: &Registry) -> Result<Decider, String> {
        let g = groupings(registry);
        let mut orgs: Vec<_> = registry.iter().cloned().collect();
        orgs.sort_by(|a, b| a.alias().cmp(b.alias()));
        let subjects: HashMap<String, u32> = orgs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.alias().to_owned(), i as u32))
            .collect();
        let activities = register.activities.len();
        let mut table = vec![false; orgs.len() * activities * OPERATIONS.len()];
        let mut enforcers = Vec::with_capacity(activities);
        let mut rule_count = 0;
        for (ai, activity) in register.activities.iter().enumerate() {
            let p = rules_of(activity);
            rule_count += p.len();
            let enforcer = futures_executor::block_on(async {
                let model = DefaultModel::from_str(model)
                    .await
                    .map_err(|e| format!("model.conf: {e}"))?;
                let mut e = Enforcer::new(model, MemoryAdapter::default())
                    .await
                    .map_err(|e| format!("casbin: {e}"))?;
                e.get_mut_model().add_policies("p", "p", p);
                e.get_mut_model().add_policies("g", "g", g.clone());
                e.build_role_links().map_err(|e| format!("casbin: {e}"))?;
                Ok::<_, String>(e)
            })?;
            // Only an organisation some rule names (by alias or kind) can be allowed or
            // denied; casbin decides each of those, for each operation the activity has.
            let parties: Vec<&Party> = activity.requesters.iter().chain(&activity.deny).collect();
            for (oi, org) in orgs.iter().enumerate() {
                if !parties.iter().any(|p| p.includes(org)) {
                    continue;
                }
                for op in &activity.operations {
                    let allowed = enforcer
                        .enforce((
                            org.alias(),
                            activity.id.as_str(),
                            activity.dataset.as_str(),
                            op.as_str(),
                        ))
                        .map_err(|e| format!("casbin, activiteit '{}': {e}", activity.id))?;
                    table[index(oi, ai, activities, *op)] = allowed;
                }
            }
            enforcers.push(enforcer);
        }
        Ok(Decider {
            enforcers,
            table,
            subjects,
            activities,
            rule_count,
            grouping_count: g.len(),
        })
    }

    /// casbin's decision for `subject` (an organisation alias), `op`, under the activity with
    /// register index `activity_index` (on its own dataset).
    pub fn allows(&self, subject: &str, activity_index: usize, op: Operation) -> bool {
        match self.subjects.get(subject) {
            Some(&s) if activity_index < self.activities => {
                self.table[index(s as usize, activity_index, self.activities, op)]
            }
            _ => false,
        }
    }

    /// The decision and the rules that made it (the matching allow, or the deny that won),
    /// asked of casbin afresh.
    pub fn explain(
        &self,
        subject: &str,
        activity_index: usize,
        activity: &str,
        dataset: &str,
        op: Operation,
    ) -> (bool, Vec<Rule>) {
        self.enforcers
            .get(activity_index)
            .and_then(|e| e.enforce_ex((subject, activity, dataset, op.as_str())).ok())
            .unwrap_or((false, Vec::new()))
    }
}

fn index(subject: usize, activity: usize, activities: usize, op: Operation) -> usize {
    let op = OPERATIONS
        .iter()
        .position(|o| *o == op)
        .expect("every operation is listed");
    (subject * activities + activity) * OPERATIONS.len() + op
}
