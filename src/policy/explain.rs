//! `doelpoort policy check` and `doelpoort policy explain`: the register as people read it.

use std::path::Path;

use anyhow::{anyhow, bail};
use chrono::NaiveDate;

use super::{Operation, Policy};
use crate::domain::Oin;
use crate::organisations::{self, Registry};

fn load(dir: &Path, today: NaiveDate) -> anyhow::Result<(Registry, Policy)> {
    let registry = Registry::load(&dir.join(organisations::FILE_NAME))?;
    let policy = Policy::load(dir, &registry, today)
        .map_err(|e| anyhow!("the register does not load:\n{e}"))?;
    Ok((registry, policy))
}

/// Loads and checks everything; prints a summary and the warnings. Errors (every one found,
/// each naming the file, activity and key) make the command fail.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    let (registry, policy) = load(dir, super::today())?;
    for w in &policy.register.warnings {
        println!("warning: {w}");
    }
    println!(
        "{}: register {} valid: {} activities, {} datasets, {} organisations, {} casbin rules, {} groupings",
        dir.display(),
        policy.version,
        policy.register.activities.len(),
        policy.register.datasets.len(),
        registry.len(),
        policy.decider.rule_count,
        policy.decider.grouping_count,
    );
    Ok(())
}

/// The decision for (organisation, activity, operation) on `day`, and why.
pub fn explain(
    dir: &Path,
    oin: &str,
    activity_id: &str,
    operation: &str,
    dataset: Option<&str>,
    day: NaiveDate,
) -> anyhow::Result<String> {
    let (registry, policy) = load(dir, day)?;
    let oin = Oin::parse(oin).map_err(|e| anyhow!("--oin: {e}"))?;
    let org = registry.get(&oin).ok_or_else(|| {
        anyhow!("--oin: {oin} is not in organisations.toml (decision: unknownOrganisation)")
    })?;
    let op = Operation::parse(operation)
        .ok_or_else(|| anyhow!("--operation: use read, search, count or write"))?;
    let Some((index, activity)) = policy.register.get(activity_id) else {
        bail!("--activity: '{activity_id}' is not in the register (decision: unknownProcessingActivity)");
    };
    let dataset = dataset.unwrap_or(&activity.dataset);
    let mut out = format!(
        "register {}\n{} ({}, {}) — {} {} on {} under {} on {}\n",
        policy.version,
        org.name,
        org.alias(),
        oin,
        if op == Operation::Write {
            "writes"
        } else {
            "asks"
        },
        op.as_str(),
        dataset,
        activity.id,
        day
    );
    let decision = match policy.authorise(org, activity_id, dataset, op, day, Some("explain")) {
        Ok(_) => "ALLOW".to_owned(),
        Err(p) => format!(
            "DENY {} ({})",
            p.code.as_str(),
            p.detail.unwrap_or_default()
        ),
    };
    out += &format!("decision: {decision}\n");
    let (allowed, rules) = policy
        .decider
        .explain(org.alias(), index, &activity.id, dataset, op);
    if rules.is_empty() {
        out += "casbin: no rule matches (deny by default)\n";
    } else {
        for rule in rules {
            out += &format!(
                "casbin: {} by rule p, {}\n",
                if allowed { "allow" } else { "deny" },
                rule.join(", ")
            );
        }
    }
    out += &format!(
        "activity: {} — {}\n  legal basis: {}{}\n  in force: {}; case reference {}; scope {}\n  fields for {}: {}\n",
        activity.id,
        activity.name,
        activity.legal_basis.citation,
        activity.legal_basis.reference.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        activity.validity(),
        if activity.case_reference_required { "required" } else { "not required" },
        activity.scope.as_str(),
        org.alias(),
        {
            let mut f: Vec<_> = activity.fields_for(org).paths().collect();
            f.sort();
            f.join(", ")
        }
    );
    Ok(out)
}
