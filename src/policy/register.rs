//! The register of processing activities (verwerkingsactiviteiten) and the datasets they draw
//! on, as read from `policies/`, and every check `doelpoort policy check` makes of them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::minimise::FieldSet;
use crate::organisations::{Organisation, OrganisationKind, Registry};

pub const REGISTER_FILE: &str = "verwerkingsactiviteiten.toml";
pub const DATASETS_DIR: &str = "datasets";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Read,
    Search,
    Count,
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::None => "none",
            Scope::OwnGemeente => "own-gemeente",
            Scope::OwnInhabitants => "own-inhabitants",
        }
    }
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Search => "search",
            Operation::Count => "count",
            Operation::Write => "write",
        }
    }

    pub fn parse(s: &str) -> Option<Operation> {
        [
            Operation::Read,
            Operation::Search,
            Operation::Count,
            Operation::Write,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// No territorial limit.
    None,
    /// Only data about the requesting gemeente's own territory.
    OwnGemeente,
    /// Only data about persons registered as the requesting gemeente's inhabitants.
    OwnInhabitants,
}

/// Who a rule names: every organisation of a kind, or one organisation by alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Party {
    Kind(OrganisationKind),
    Alias(String),
}

impl Party {
    fn parse(s: &str, registry: &Registry) -> Result<Party, String> {
        if let Some(kind) = s.strip_prefix("kind:") {
            let kind: OrganisationKind = serde_json::from_value(serde_json::Value::String(kind.into()))
                .map_err(|_| format!("unknown organisation kind '{kind}' (rvig, uwv, svb, nla, gemeente, supervisor)"))?;
            Ok(Party::Kind(kind))
        } else if registry.find(s).is_some() {
            Ok(Party::Alias(s.to_owned()))
        } else {
            Err(format!(
                "'{s}' is not an organisation in organisations.toml (nor kind:<kind>)"
            ))
        }
    }

    /// The casbin subject: the alias, or `kind:<kind>`.
    pub fn subject(&self) -> String {
        match self {
            Party::Kind(k) => format!("kind:{}", k.as_str()),
            Party::Alias(a) => a.clone(),
        }
    }

    pub fn includes(&self, org: &Organisation) -> bool {
        match self {
            Party::Kind(k) => org.kind == *k,
            Party::Alias(a) => org.alias() == a,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LegalBasis {
    pub citation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldsForFile {
    requesters: Vec<String>,
    fields: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityFile {
    id: String,
    name: String,
    purpose: String,
    legal_basis: LegalBasis,
    provider: String,
    dataset: String,
    operations: Vec<Operation>,
    requesters: Vec<String>,
    #[serde(default)]
    deny: Vec<String>,
    fields: Vec<String>,
    #[serde(default)]
    fields_for: Vec<FieldsForFile>,
    scope: Scope,
    case_reference_required: bool,
    valid_from: toml::value::Datetime,
    #[serde(default)]
    valid_until: Option<toml::value::Datetime>,
    retention_days: u32,
    rate_limit_per_minute: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    #[serde(default)]
    activiteit: Vec<ActivityFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetFile {
    description: String,
    fields: Vec<String>,
}

/// One processing activity, checked.
#[derive(Debug)]
pub struct Activity {
    pub id: String,
    pub name: String,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    /// An organisation alias, or "afzender" (the requester provides, as with signals).
    pub provider: String,
    pub dataset: String,
    pub operations: Vec<Operation>,
    pub requesters: Vec<Party>,
    pub deny: Vec<Party>,
    pub fields: FieldSet,
    /// Narrower field sets for some requesters; the most specific match wins.
    pub fields_for: Vec<(Vec<Party>, FieldSet)>,
    pub scope: Scope,
    pub case_reference_required: bool,
    pub valid_from: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub retention_days: u32,
    pub rate_limit_per_minute: u32,
}

impl Activity {
    pub fn in_force_on(&self, day: NaiveDate) -> bool {
        day >= self.valid_from && self.valid_until.is_none_or(|until| day <= until)
    }

    /// The fields `org` may receive under this activity.
    pub fn fields_for(&self, org: &Organisation) -> &FieldSet {
        let by_alias = self.fields_for.iter().find(|(parties, _)| {
            parties
                .iter()
                .any(|p| matches!(p, Party::Alias(a) if a == org.alias()))
        });
        let by_kind = || {
            self.fields_for.iter().find(|(parties, _)| {
                parties
                    .iter()
                    .any(|p| matches!(p, Party::Kind(k) if *k == org.kind))
            })
        };
        by_alias.or_else(by_kind).map_or(&self.fields, |(_, f)| f)
    }

    pub fn validity(&self) -> String {
        match self.valid_until {
            Some(until) => format!("{} t/m {}", self.valid_from, until),
            None => format!("vanaf {}", self.valid_from),
        }
    }
}

/// The register and the datasets, checked against each other and the organisation registry.
#[derive(Debug)]
pub struct Register {
    pub activities: Vec<Activity>,
    by_id: HashMap<String, usize>,
    pub datasets: BTreeMap<String, FieldSet>,
    /// Things worth knowing that do not stop the register from loading (expired activities).
    pub warnings: Vec<String>,
}

impl Register {
    pub fn get(&self, id: &str) -> Option<(usize, &Activity)> {
        self.by_id.get(id).map(|&i| (i, &self.activities[i]))
    }

    /// Reads and checks `dir/verwerkingsactiviteiten.toml` and `dir/datasets/*.toml`. Every
    /// problem found is reported, one per line, each naming the activity and the key.
    pub fn load(
        dir: &Path,
        registry: &Registry,
        today: NaiveDate,
    ) -> Result<(Register, Vec<(String, String)>), String> {
        let mut sources = Vec::new();
        let datasets_dir = dir.join(DATASETS_DIR);
        let mut datasets = BTreeMap::new();
        let mut entries: Vec<_> = std::fs::read_dir(&datasets_dir)
            .map_err(|e| format!("{}: {e}", datasets_dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        entries.sort();
        for path in entries {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: DatasetFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if file.description.trim().is_empty() || file.fields.is_empty() {
                return Err(format!(
                    "{}: description and fields must not be empty",
                    path.display()
                ));
            }
            let unique: HashSet<_> = file.fields.iter().collect();
            if unique.len() != file.fields.len() {
                return Err(format!("{}: a field is listed twice", path.display()));
            }
            datasets.insert(name, FieldSet::new(file.fields));
            sources.push((path.display().to_string(), text));
        }
        let path = dir.join(REGISTER_FILE);
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let register = Register::parse(&text, datasets, registry, today).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {e}", path.display()))
                .collect::<Vec<_>>()
                .join("\n")
        })?;
        sources.push((path.display().to_string(), text));
        Ok((register, sources))
    }

    pub fn parse(
        text: &str,
        datasets: BTreeMap<String, FieldSet>,
        registry: &Registry,
        today: NaiveDate,
    ) -> Result<Register, Vec<String>> {
        let file: RegisterFile = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut activities = Vec::new();
        let mut by_id = HashMap::new();
        for a in file.activiteit {
            let mut err = |key: &str, msg: String| {
                errors.push(format!("activiteit '{}', {key}: {msg}", a.id))
            };
            if a.id.is_empty()
                || !a
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                err("id", "use lowercase letters, digits and '-'".into());
            }
            if by_id.contains_key(&a.id) {
                err("id", "listed twice".into());
            }
            for (key, value) in [
                ("name", &a.name),
                ("purpose", &a.purpose),
                ("legal_basis.citation", &a.legal_basis.citation),
            ] {
                if value.trim().is_empty() {
                    err(key, "must not be empty".into());
                }
            }
            if a.provider != "afzender" && registry.find(&a.provider).is_none() {
                err(
                    "provider",
                    format!(
                        "'{}' is not an organisation in organisations.toml (nor \"afzender\")",
                        a.provider
                    ),
                );
            }
            let dataset = datasets.get(&a.dataset);
            if dataset.is_none() {
                err(
                    "dataset",
                    format!(
                        "'{}' is not in {DATASETS_DIR}/ (known: {})",
                        a.dataset,
                        datasets.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if a.operations.is_empty() {
                err(
                    "operations",
                    "name at least one of read, search, count, write".into(),
                );
            }
            if a.operations.iter().collect::<HashSet<_>>().len() != a.operations.len() {
                err("operations", "an operation is listed twice".into());
            }
            let parse_parties =
                |key: &str, names: &[String], err: &mut dyn FnMut(&str, String)| -> Vec<Party> {
                    let mut parties = Vec::new();
                    for name in names {
                        match Party::parse(name, registry) {
                            Ok(p) if parties.contains(&p) => {
                                err(key, format!("'{name}' is listed twice"))
                            }
                            Ok(p) => parties.push(p),
                            Err(e) => err(key, e),
                        }
                    }
                    parties
                };
            let requesters = parse_parties("requesters", &a.requesters, &mut err);
            let deny = parse_parties("deny", &a.deny, &mut err);
            if requesters.is_empty() {
                err("requesters", "name at least one requester".into());
            }
            // Overlap: an organisation named beside its own kind.
            for p in &requesters {
                if let Party::Alias(alias) = p {
                    let org = registry.find(alias).expect("checked above");
                    if requesters.contains(&Party::Kind(org.kind)) {
                        err(
                            "requesters",
                            format!(
                                "'{alias}' is already included by kind:{} (overlapping rules)",
                                org.kind.as_str()
                            ),
                        );
                    }
                }
            }
            for d in &deny {
                if requesters.contains(d) {
                    err(
                        "deny",
                        format!(
                            "'{}' is both allowed and denied (contradicting rules)",
                            d.subject()
                        ),
                    );
                }
                let covered = match d {
                    Party::Kind(k) => requesters
                        .iter()
                        .any(|r| matches!(r, Party::Kind(rk) if rk == k)),
                    Party::Alias(alias) => {
                        let org = registry.find(alias).expect("checked above");
                        requesters.iter().any(|r| r.includes(org))
                    }
                };
                if !covered {
                    err(
                        "deny",
                        format!(
                            "'{}' is not among the requesters; the deny would have no effect",
                            d.subject()
                        ),
                    );
                }
            }
            let fields = FieldSet::new(a.fields.iter().cloned());
            if a.fields.is_empty() {
                err("fields", "name at least one field".into());
            }
            if let Some(ds) = dataset {
                for f in &a.fields {
                    // A path of the dataset, or a parent of some (not merely beneath one:
                    // `naam.bestaatNiet` is a typo, not a field).
                    if !ds.contains(f) && !ds.paths().any(|p| p.starts_with(&format!("{f}."))) {
                        err(
                            "fields",
                            format!("'{f}' is not a field of dataset '{}'", a.dataset),
                        );
                    }
                }
            }
            let mut fields_for = Vec::new();
            for (i, ff) in a.fields_for.iter().enumerate() {
                let key = format!("fields_for[{i}]");
                let parties = parse_parties(&format!("{key}.requesters"), &ff.requesters, &mut err);
                for p in &parties {
                    let reachable = match p {
                        Party::Kind(k) => requesters.contains(&Party::Kind(*k)),
                        Party::Alias(alias) => registry
                            .find(alias)
                            .is_some_and(|o| requesters.iter().any(|r| r.includes(o))),
                    };
                    if !reachable {
                        err(
                            &key,
                            format!("'{}' is not among the requesters", p.subject()),
                        );
                    }
                    if fields_for
                        .iter()
                        .any(|(ps, _): &(Vec<Party>, FieldSet)| ps.contains(p))
                    {
                        err(&key, format!("'{}' has a field set already", p.subject()));
                    }
                }
                let narrower = FieldSet::new(ff.fields.iter().cloned());
                for f in &ff.fields {
                    if !fields.allows(f) {
                        err(&key, format!("'{f}' is not among the activity's fields (a field set may only narrow them)"));
                    }
                }
                fields_for.push((parties, narrower));
            }
            let date =
                |key: &str, d: &toml::value::Datetime, err: &mut dyn FnMut(&str, String)| match (
                    d.date, d.time,
                ) {
                    (Some(date), None) => NaiveDate::from_ymd_opt(
                        date.year.into(),
                        date.month.into(),
                        date.day.into(),
                    ),
                    _ => {
                        err(key, "give a date without time, e.g. 2023-10-01".into());
                        None
                    }
                };
            let valid_from = date("valid_from", &a.valid_from, &mut err);
            let valid_until = a
                .valid_until
                .as_ref()
                .and_then(|d| date("valid_until", d, &mut err));
            if let (Some(from), Some(until)) = (valid_from, valid_until) {
                if until < from {
                    err(
                        "valid_until",
                        format!("{until} is before valid_from {from}"),
                    );
                }
                if until < today {
                    warnings.push(format!(
                        "activiteit '{}' expired on {until}: every request under it is refused",
                        a.id
                    ));
                }
            }
            if a.retention_days == 0 {
                err("retention_days", "must be at least 1".into());
            }
            if a.rate_limit_per_minute == 0 {
                err("rate_limit_per_minute", "must be at least 1".into());
            }
            by_id.insert(a.id.clone(), activities.len());
            activities.push(Activity {
                id: a.id,
                name: a.name,
                purpose: a.purpose,
                legal_basis: a.legal_basis,
                provider: a.provider,
                dataset: a.dataset,
                operations: a.operations,
                requesters,
                deny,
                fields,
                fields_for,
                scope: a.scope,
                case_reference_required: a.case_reference_required,
                valid_from: valid_from.unwrap_or(NaiveDate::MIN),
                valid_until,
                retention_days: a.retention_days,
                rate_limit_per_minute: a.rate_limit_per_minute,
            });
        }
        if errors.is_empty() {
            Ok(Register {
                activities,
                by_id,
                datasets,
                warnings,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::fuzzing::{arb, datasets, organisations};
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }

    /// One activity as the file has it, with the parts a property varies.
    #[allow(clippy::too_many_arguments)]
    fn activity(
        id: &str,
        requesters: &[String],
        fields: &[&str],
        operations: &[&str],
        from: (u16, u8, u8),
        until: Option<(u16, u8, u8)>,
        retention: u32,
        rate: u32,
    ) -> String {
        let list = |items: Vec<String>| items.join(", ");
        let quoted = |v: &[&str]| list(v.iter().map(|s| format!("{s:?}")).collect());
        let until = until.map_or(String::new(), |(y, m, d)| {
            format!("valid_until = {y:04}-{m:02}-{d:02}\n")
        });
        format!(
            "[[activiteit]]\nid = {id:?}\nname = \"Naam\"\npurpose = \"Doel\"\n\
             legal_basis = {{ citation = \"Wet\" }}\nprovider = \"rvig\"\ndataset = \"rni-personen\"\n\
             operations = [{}]\nrequesters = [{}]\nfields = [{}]\nscope = \"none\"\n\
             case_reference_required = false\nvalid_from = {:04}-{:02}-{:02}\n{until}\
             retention_days = {retention}\nrate_limit_per_minute = {rate}\n",
            quoted(operations),
            list(requesters.iter().map(|s| format!("{s:?}")).collect()),
            quoted(fields),
            from.0,
            from.1,
            from.2,
        )
    }

    fn parse(text: &str) -> Result<Register, Vec<String>> {
        Register::parse(text, datasets().clone(), organisations(), today())
    }

    fn requester() -> impl Strategy<Value = String> {
        proptest::sample::select(vec![
            "kind:gemeente",
            "kind:nla",
            "kind:uwv",
            "nla",
            "uwv",
            "svb",
            "gemeente-0363",
            "gemeente-0599",
        ])
        .prop_map(str::to_owned)
    }

    fn date() -> impl Strategy<Value = (u16, u8, u8)> {
        (2000u16..2100, 1u8..=12, 1u8..=28)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn no_text_makes_it_panic(text in arb::text(), registry in any::<bool>()) {
            let mut data = vec![u8::from(registry)];
            data.extend(text.as_bytes());
            crate::fuzzing::register(&data);
        }

        #[test]
        fn a_valid_activity_is_read_as_written(
            id in "[a-z][a-z0-9-]{0,30}",
            requesters in proptest::collection::btree_set(requester(), 1..3),
            fields in proptest::sample::subsequence(vec!["burgerservicenummer", "naam", "naam.geslachtsnaam", "geboorte.datum", "verblijfplaats"], 1..=5),
            operations in proptest::sample::subsequence(vec!["read", "search", "count", "write"], 1..=4),
            from in date(), until in proptest::option::of(date()),
            retention in 1u32..10_000, rate in 1u32..100_000,
        ) {
            let requesters: Vec<String> = requesters.into_iter().collect();
            // Overlapping rules (an organisation beside its own kind) are refused: see below.
            let overlapping = requesters.iter().any(|r| {
                !r.starts_with("kind:") && requesters.contains(&format!("kind:{}", organisations().find(r).unwrap().kind.as_str()))
            });
            let until = until.filter(|u| u >= &from);
            let text = activity(&id, &requesters, &fields, &operations, from, until, retention, rate);
            match parse(&text) {
                Ok(register) => {
                    prop_assert!(!overlapping);
                    let (_, a) = register.get(&id).unwrap();
                    prop_assert_eq!(&a.id, &id);
                    prop_assert_eq!(a.operations.iter().map(|o| o.as_str()).collect::<Vec<_>>(), operations);
                    prop_assert_eq!(a.requesters.iter().map(Party::subject).collect::<Vec<_>>(), requesters);
                    prop_assert!(fields.iter().all(|f| a.fields.contains(f)));
                    let d = |(y, m, d): (u16, u8, u8)| NaiveDate::from_ymd_opt(y.into(), m.into(), d.into()).unwrap();
                    prop_assert_eq!(a.valid_from, d(from));
                    prop_assert_eq!(a.valid_until, until.map(d));
                    prop_assert_eq!((a.retention_days, a.rate_limit_per_minute), (retention, rate));
                }
                Err(errors) => {
                    prop_assert!(overlapping, "{errors:?}");
                    prop_assert!(errors.iter().all(|e| e.contains("requesters")), "{errors:?}");
                }
            }
        }

        #[test]
        fn an_invalid_activity_is_refused_naming_its_key(
            which in 0usize..6, id in "[a-z][a-z0-9-]{0,20}", junk in "[A-Z_ ]{1,8}",
        ) {
            let nla = vec!["nla".to_owned()];
            let (text, key) = match which {
                0 => (activity(&format!("{id}{junk}"), &nla, &["naam"], &["read"], (2024, 1, 1), None, 1, 1), "id"),
                1 => (activity(&id, &[format!("kind:{junk}")], &["naam"], &["read"], (2024, 1, 1), None, 1, 1), "requesters"),
                2 => (activity(&id, &nla, &[&format!("naam.{junk}")], &["read"], (2024, 1, 1), None, 1, 1), "fields"),
                3 => (activity(&id, &nla, &["naam"], &["read"], (2024, 1, 2), Some((2024, 1, 1)), 1, 1), "valid_until"),
                4 => (activity(&id, &nla, &["naam"], &["read"], (2024, 1, 1), None, 0, 1), "retention_days"),
                _ => (activity(&id, &nla, &["naam"], &["read", "read"], (2024, 1, 1), None, 1, 1), "operations"),
            };
            let errors = parse(&text).unwrap_err();
            prop_assert!(errors.iter().any(|e| e.contains("activiteit '") && e.contains(key)), "{errors:?}");
        }
    }

    #[test]
    fn the_shipped_register_parses() {
        let text = include_str!("../../policies/verwerkingsactiviteiten.toml");
        let register = parse(text).unwrap();
        assert!(register.get("rni-raadplegen").is_some());
    }
}
