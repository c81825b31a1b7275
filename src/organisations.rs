//! The registry of organisations: who an OIN is.
//!
//! Loaded from `policies/organisations.toml`; a gemeente carries its CBS gemeentecode. The
//! registry is immutable once loaded; a reload builds a new one and swaps it in whole
//! (`Organisations`), so a request never sees a half-loaded registry.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{Gemeentecode, Oin};

pub const FILE_NAME: &str = "organisations.toml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganisationKind {
    Rvig,
    Uwv,
    Svb,
    Nla,
    Gemeente,
    Supervisor,
}

impl OrganisationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::Rvig => "rvig",
            OrganisationKind::Uwv => "uwv",
            OrganisationKind::Svb => "svb",
            OrganisationKind::Nla => "nla",
            OrganisationKind::Gemeente => "gemeente",
            OrganisationKind::Supervisor => "supervisor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub oin: Oin,
    pub name: String,
    pub kind: OrganisationKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gemeentecode: Option<Gemeentecode>,
    /// Worked out when loaded (see `alias`).
    #[serde(skip)]
    alias: String,
}

impl Organisation {
    /// The short name other organisations and the register address it by: `nla`,
    /// `gemeente-0363`, …
    pub fn alias(&self) -> &str {
        &self.alias
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(rename = "organisation", default)]
    organisations: Vec<Organisation>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One loaded version of the registry.
#[derive(Debug)]
pub struct Registry {
    by_oin: HashMap<Oin, Arc<Organisation>>,
    by_alias: HashMap<String, Arc<Organisation>>,
    /// SHA-256 of the file it was loaded from (hex): which version was in force.
    version: String,
}

impl Registry {
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
            path: path.to_owned(),
            source,
        })?;
        Registry::parse(&text).map_err(|message| RegistryError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    pub fn parse(text: &str) -> Result<Registry, String> {
        let file: RegistryFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut by_oin = HashMap::with_capacity(file.organisations.len());
        let mut by_alias = HashMap::with_capacity(file.organisations.len());
        for mut org in file.organisations {
            org.alias = match org.gemeentecode {
                Some(code) => format!("gemeente-{code}"),
                None => org.kind.as_str().to_owned(),
            };
            let label = format!("organisation {} ({})", org.oin, org.name);
            match (org.kind, org.gemeentecode) {
                (OrganisationKind::Gemeente, None) => {
                    return Err(format!("{label}: a gemeente needs its gemeentecode"))
                }
                (kind, Some(_)) if kind != OrganisationKind::Gemeente => {
                    return Err(format!("{label}: only a gemeente has a gemeentecode"))
                }
                _ => {}
            }
            if org.name.trim().is_empty() {
                return Err(format!("{label}: name is empty"));
            }
            let org = Arc::new(org);
            if by_alias.insert(org.alias.clone(), org.clone()).is_some() {
                return Err(format!(
                    "{label}: a second organisation answers to '{}' (one per national kind, one per gemeentecode)",
                    org.alias()
                ));
            }
            if by_oin.insert(org.oin, org.clone()).is_some() {
                return Err(format!("{label}: OIN is listed twice"));
            }
        }
        Ok(Registry {
            by_oin,
            by_alias,
            version: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    pub fn get(&self, oin: &Oin) -> Option<&Arc<Organisation>> {
        self.by_oin.get(oin)
    }

    /// By alias (`nla`, `gemeente-0363`) or by OIN.
    pub fn find(&self, name: &str) -> Option<&Arc<Organisation>> {
        self.by_alias
            .get(name)
            .or_else(|| Oin::parse(name).ok().and_then(|oin| self.by_oin.get(&oin)))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Organisation>> {
        self.by_oin.values()
    }

    pub fn len(&self) -> usize {
        self.by_oin.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_oin.is_empty()
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

/// The registry in force, swapped whole on reload.
pub struct Organisations {
    path: PathBuf,
    current: ArcSwap<Registry>,
}

impl Organisations {
    pub fn load(path: PathBuf) -> Result<Organisations, RegistryError> {
        let registry = Registry::load(&path)?;
        Ok(Organisations {
            path,
            current: ArcSwap::from_pointee(registry),
        })
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<Registry>> {
        self.current.load()
    }
}

impl crate::reload::Reloadable for Organisations {
    fn name(&self) -> &'static str {
        "organisations"
    }

    fn files(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn reload(&self) -> anyhow::Result<()> {
        let registry = Registry::load(&self.path)?;
        tracing::info!(
            organisations = registry.len(),
            version = registry.version(),
            "organisation registry reloaded"
        );
        self.current.store(Arc::new(registry));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_registry_has_every_gemeente_and_each_national_party() {
        let reg = Registry::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/organisations.toml"
        )))
        .unwrap();
        let gemeenten: Vec<_> = reg
            .iter()
            .filter(|o| o.kind == OrganisationKind::Gemeente)
            .collect();
        assert_eq!(gemeenten.len(), 342);
        let reference = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/reference/gemeenten.csv"
        ))
        .unwrap();
        for line in reference.lines().skip(1) {
            let code = line.split(',').next().unwrap();
            let org = reg
                .find(&format!("gemeente-{code}"))
                .unwrap_or_else(|| panic!("{code} missing"));
            assert!(
                line.contains(&format!("\"{}\"", org.name)),
                "{code}: name differs"
            );
        }
        for kind in ["rvig", "uwv", "svb", "nla", "supervisor"] {
            assert!(reg.find(kind).is_some(), "{kind} missing");
        }
        assert_eq!(reg.find("gemeente-0363").unwrap().name, "Amsterdam");
    }

    #[test]
    fn refuses_inconsistent_entries() {
        let one = |body: &str| Registry::parse(body).unwrap_err();
        let oin = "99000000000000000001";
        assert!(one(&format!(
            "[[organisation]]\noin = \"{oin}\"\nname = \"X\"\nkind = \"gemeente\"\n"
        ))
        .contains("gemeentecode"));
        assert!(one(&format!("[[organisation]]\noin = \"{oin}\"\nname = \"X\"\nkind = \"uwv\"\ngemeentecode = \"0363\"\n")).contains("only a gemeente"));
        assert!(one(&format!(
            "[[organisation]]\noin = \"{oin}\"\nname = \"X\"\nkind = \"politie\"\n"
        ))
        .contains("unknown variant"));
        assert!(
            one("[[organisation]]\noin = \"123\"\nname = \"X\"\nkind = \"uwv\"\n")
                .contains("20 digits")
        );
        let twice = format!("[[organisation]]\noin = \"{oin}\"\nname = \"X\"\nkind = \"uwv\"\n[[organisation]]\noin = \"{oin}\"\nname = \"Y\"\nkind = \"svb\"\n");
        assert!(one(&twice).contains("twice"));
    }

    #[test]
    fn version_follows_content() {
        let a = Registry::parse("").unwrap();
        let b = Registry::parse("# changed\n").unwrap();
        assert_ne!(a.version(), b.version());
        assert_eq!(a.version(), Registry::parse("").unwrap().version());
    }
}
