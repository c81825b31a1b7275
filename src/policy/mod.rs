//! Doelbinding: the register of processing activities in force, and the decision whether an
//! organisation may do something under an activity.
//!
//! - `register`: the files in `policies/`, parsed and checked.
//! - `decision`: casbin, asked once per (organisation, activity, operation) per register
//!   version, then answered from a cache.
//! - `enforce`: the `Doelbinding<E>` extractor every data route takes, and the guard that
//!   fails closed when a route forgets it.
//! - `rate`: rate limits counted in Redis, shared by the instances of a fleet (one instance
//!   counts in the process: `Policy::check_rate`).
//!
//! `Policy` is one immutable version; `PolicyStore` holds the version in force and swaps in a
//! new one whole on reload. A request keeps the `Arc<Policy>` it started with.

pub mod decision;
pub mod enforce;
pub mod explain;
pub mod rate;
pub mod register;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::NaiveDate;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::organisations::{Organisation, Organisations, Registry};
use crate::problem::{Problem, ProblemCode};
pub use decision::Decider;
pub use register::{Activity, Operation, Party, Register, Scope};

pub const MODEL_FILE: &str = "model.conf";

/// One version of the register with its decision engine.
pub struct Policy {
    pub register: Register,
    pub decider: Decider,
    /// `sha256:` + the first 16 bytes (hex) of the hash over every policy file and the
    /// organisation registry's version: what a disclosure record names.
    pub version: String,
    limits: HashMap<usize, DefaultKeyedRateLimiter<u32>>,
    subjects: HashMap<String, u32>,
}

/// A request the register allows: which activity, which version.
#[derive(Debug, Clone)]
pub struct Authorisation {
    pub activity_index: usize,
    pub activity_id: String,
    pub version: String,
}

impl Policy {
    /// Reads `dir` (model.conf, verwerkingsactiviteiten.toml, datasets/) against `registry`.
    pub fn load(dir: &Path, registry: &Registry, today: NaiveDate) -> Result<Policy, String> {
        let model_path = dir.join(MODEL_FILE);
        let model = std::fs::read_to_string(&model_path)
            .map_err(|e| format!("{}: {e}", model_path.display()))?;
        let (register, sources) = Register::load(dir, registry, today)?;
        let decider = Decider::new(&model, &register, registry)?;
        let mut hash = Sha256::new();
        for (name, text) in std::iter::once(&(MODEL_FILE.to_owned(), model)).chain(&sources) {
            hash.update(name.rsplit('/').next().unwrap_or(name).as_bytes());
            hash.update([0]);
            hash.update(text.as_bytes());
            hash.update([0]);
        }
        hash.update(registry.version().as_bytes());
        let version = format!("sha256:{}", hex::encode(&hash.finalize()[..16]));
        let limits = register
            .activities
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let per_minute =
                    NonZeroU32::new(a.rate_limit_per_minute).expect("checked: at least 1");
                (i, RateLimiter::keyed(Quota::per_minute(per_minute)))
            })
            .collect();
        let subjects = registry
            .iter()
            .enumerate()
            .map(|(i, o)| (o.alias().to_owned(), i as u32))
            .collect();
        Ok(Policy {
            register,
            decider,
            version,
            limits,
            subjects,
        })
    }

    /// The decision for a request, in the order SPEC.md's codes imply: the activity exists,
    /// is in force today, casbin allows this organisation this operation on this dataset
    /// under it, and the case reference is there if needed. The rate limit comes after it
    /// (`check_rate` here, or `rate::SharedLimits` for a fleet).
    pub fn authorise(
        &self,
        requester: &Organisation,
        activity_id: &str,
        dataset: &str,
        operation: Operation,
        today: NaiveDate,
        case_reference: Option<&str>,
    ) -> Result<Authorisation, Problem> {
        let (index, activity) = self.register.get(activity_id).ok_or_else(|| {
            Problem::new(ProblemCode::UnknownProcessingActivity)
                .detail("Deze verwerkingsactiviteit staat niet in het register.")
        })?;
        if !activity.in_force_on(today) {
            return Err(
                Problem::new(ProblemCode::ActivityNotInForce).detail(format!(
                    "De verwerkingsactiviteit {} geldt {}.",
                    activity.id,
                    activity.validity()
                )),
            );
        }
        let allowed =
            activity.dataset == dataset && self.decider.allows(requester.alias(), index, operation);
        if !allowed {
            return Err(Problem::new(ProblemCode::NotPermitted).detail(format!(
                "Het register staat {} niet toe deze bevraging ({} op {}) te doen onder {}.",
                requester.alias(),
                operation.as_str(),
                dataset,
                activity.id
            )));
        }
        if activity.case_reference_required && case_reference.is_none() {
            return Err(
                Problem::new(ProblemCode::CaseReferenceRequired).detail(format!(
                    "Onder {} is een zaakkenmerk verplicht (X-Case-Reference).",
                    activity.id
                )),
            );
        }
        Ok(Authorisation {
            activity_index: index,
            activity_id: activity.id.clone(),
            version: self.version.clone(),
        })
    }

    /// The activity's rate limit for `requester`, counted in this process (one instance).
    pub fn check_rate(&self, index: usize, requester: &Organisation) -> Result<(), Problem> {
        let (Some(limiter), Some(key)) = (
            self.limits.get(&index),
            self.subjects.get(requester.alias()),
        ) else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            // The limiter's own clock: making a new one calibrates it (~40 µs per refusal).
            let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
            too_many_requests(wait.as_secs())
        })
    }

    pub fn activity(&self, index: usize) -> &Activity {
        &self.register.activities[index]
    }
}

/// 429 `tooManyRequests`, to try again after `wait_s` seconds (at least 1).
fn too_many_requests(wait_s: u64) -> Problem {
    Problem::new(ProblemCode::TooManyRequests)
        .detail(
            "Het maximum aantal verzoeken per minuut voor deze verwerkingsactiviteit is bereikt.",
        )
        .retry_after(wait_s.max(1))
}

/// Told of every new register version before it is put in force; an error keeps the
/// version in force (the audit API stores each version this way, see `audit::versies`).
pub type VersionHook = Box<dyn Fn(&Policy) -> anyhow::Result<()> + Send + Sync>;

/// The policy version in force.
pub struct PolicyStore {
    dir: PathBuf,
    organisations: Arc<Organisations>,
    current: ArcSwap<Policy>,
    on_new_version: std::sync::OnceLock<VersionHook>,
    shared_limits: std::sync::OnceLock<Arc<rate::SharedLimits>>,
}

pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

impl PolicyStore {
    pub fn load(dir: PathBuf, organisations: Arc<Organisations>) -> Result<PolicyStore, String> {
        let policy = Policy::load(&dir, &organisations.current(), today())?;
        for w in &policy.register.warnings {
            tracing::warn!(warning = %w, "register");
        }
        Ok(PolicyStore {
            dir,
            organisations,
            current: ArcSwap::from_pointee(policy),
            on_new_version: std::sync::OnceLock::new(),
            shared_limits: std::sync::OnceLock::new(),
        })
    }

    /// Calls `hook` with the version in force now and with every later one before it is put
    /// in force. Blocking (the hook may write to the database). Set once.
    pub fn on_new_version(&self, hook: VersionHook) -> anyhow::Result<()> {
        hook(&self.current())?;
        self.on_new_version
            .set(hook)
            .map_err(|_| anyhow::anyhow!("the register's version hook is set already"))
    }

    /// Counts rate limits in `limits`, shared with the other instances, from now on. Set once.
    pub fn share_rate_limits(&self, limits: rate::SharedLimits) -> anyhow::Result<()> {
        self.shared_limits
            .set(Arc::new(limits))
            .map_err(|_| anyhow::anyhow!("the shared rate limiter is set already"))
    }

    /// The shared rate limiter, if the limits are counted fleet-wide.
    pub fn shared_limits(&self) -> Option<Arc<rate::SharedLimits>> {
        self.shared_limits.get().cloned()
    }

    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }

    pub fn organisations(&self) -> &Organisations {
        &self.organisations
    }
}

impl crate::reload::Reloadable for PolicyStore {
    fn name(&self) -> &'static str {
        "register"
    }

    fn files(&self) -> Vec<PathBuf> {
        let mut files = vec![
            self.dir.join(MODEL_FILE),
            self.dir.join(register::REGISTER_FILE),
            self.dir.join(crate::organisations::FILE_NAME),
        ];
        if let Ok(entries) = std::fs::read_dir(self.dir.join(register::DATASETS_DIR)) {
            let mut datasets: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            datasets.sort();
            files.extend(datasets);
        }
        files
    }

    fn reload(&self) -> anyhow::Result<()> {
        let policy = Policy::load(&self.dir, &self.organisations.current(), today())
            .map_err(anyhow::Error::msg)?;
        if policy.version != self.current.load().version {
            if let Some(hook) = self.on_new_version.get() {
                hook(&policy)?;
            }
            tracing::info!(version = %policy.version, activities = policy.register.activities.len(), "register reloaded");
            self.current.store(Arc::new(policy));
        }
        Ok(())
    }
}
