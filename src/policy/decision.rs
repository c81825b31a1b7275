//! casbin as the decision engine, with a decision cache that lives and dies with one register
//! version (a reload builds a new `Decider`, so a cached answer can never outlive its rules).

use std::collections::HashMap;
use std::sync::RwLock;

use casbin::prelude::{CoreApi, DefaultModel, Enforcer, MemoryAdapter};

use super::register::{Operation, Party, Register};
use crate::organisations::Registry;

/// A rule as casbin holds it: `p, sub, act, obj, op, eft`.
pub type Rule = Vec<String>;

pub struct Decider {
    enforcer: Enforcer,
    /// Organisation alias → dense index, for the cache key.
    subjects: HashMap<String, u32>,
    cache: RwLock<HashMap<(u32, u32, Operation), bool>>,
    pub rule_count: usize,
    pub grouping_count: usize,
}

/// The casbin rules the register stands for: one allow per (requester, operation), one deny
/// per (denied party, operation); and the organisation → kind grouping.
pub fn rules(register: &Register, registry: &Registry) -> (Vec<Rule>, Vec<Rule>) {
    let mut p = Vec::new();
    for a in &register.activities {
        for op in &a.operations {
            for (parties, eft) in [(&a.requesters, "allow"), (&a.deny, "deny")] {
                for party in parties.iter() {
                    p.push(vec![
                        party.subject(),
                        a.id.clone(),
                        a.dataset.clone(),
                        op.as_str().to_owned(),
                        eft.to_owned(),
                    ]);
                }
            }
        }
    }
    let g = registry
        .iter()
        .map(|org| vec![org.alias().to_owned(), Party::Kind(org.kind).subject()])
        .collect();
    (p, g)
}

impl Decider {
    pub fn new(
        model: &str,
        p: Vec<Rule>,
        g: Vec<Rule>,
        registry: &Registry,
    ) -> Result<Decider, String> {
        let (rule_count, grouping_count) = (p.len(), g.len());
        let enforcer = futures_executor::block_on(async {
            let model = DefaultModel::from_str(model)
                .await
                .map_err(|e| format!("model.conf: {e}"))?;
            let mut e = Enforcer::new(model, MemoryAdapter::default())
                .await
                .map_err(|e| format!("casbin: {e}"))?;
            e.get_mut_model().add_policies("p", "p", p);
            e.get_mut_model().add_policies("g", "g", g);
            e.build_role_links().map_err(|e| format!("casbin: {e}"))?;
            Ok::<_, String>(e)
        })?;
        let subjects = registry
            .iter()
            .enumerate()
            .map(|(i, org)| (org.alias().to_owned(), i as u32))
            .collect();
        Ok(Decider {
            enforcer,
            subjects,
            cache: RwLock::new(HashMap::new()),
            rule_count,
            grouping_count,
        })
    }

    /// Does casbin allow `subject` (an organisation alias) `op` on `dataset` under activity
    /// `activity` (whose index in the register is `activity_index`)? Answered from the cache
    /// after the first time.
    pub fn allows(
        &self,
        subject: &str,
        activity_index: usize,
        activity: &str,
        dataset: &str,
        op: Operation,
    ) -> bool {
        let Some(&s) = self.subjects.get(subject) else {
            return self.ask(subject, activity, dataset, op);
        };
        let key = (s, activity_index as u32, op);
        if let Some(&answer) = self.cache.read().expect("cache lock").get(&key) {
            return answer;
        }
        let answer = self.ask(subject, activity, dataset, op);
        self.cache.write().expect("cache lock").insert(key, answer);
        answer
    }

    fn ask(&self, subject: &str, activity: &str, dataset: &str, op: Operation) -> bool {
        // A casbin error (a broken model) denies.
        self.enforcer
            .enforce((subject, activity, dataset, op.as_str()))
            .unwrap_or(false)
    }

    /// The decision and the rules that made it (the matching allow, or the deny that won).
    pub fn explain(
        &self,
        subject: &str,
        activity: &str,
        dataset: &str,
        op: Operation,
    ) -> (bool, Vec<Rule>) {
        self.enforcer
            .enforce_ex((subject, activity, dataset, op.as_str()))
            .unwrap_or((false, Vec::new()))
    }
}
