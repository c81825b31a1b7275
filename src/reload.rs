//! Reloading without restart: certificate, CRL and register files are polled for changes, and
//! SIGHUP reloads everything at once. A reload that fails leaves the old version in force and
//! says so loudly.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Something the gateway holds in memory and can load anew from its files.
pub trait Reloadable: Send + Sync {
    fn name(&self) -> &'static str;
    /// The files whose change triggers a reload.
    fn files(&self) -> Vec<PathBuf>;
    /// Load and validate everything, then swap it in whole; on error change nothing.
    fn reload(&self) -> anyhow::Result<()>;
}

/// What a file looked like when it was last seen: a change of either means "changed".
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &PathBuf) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Polls the files of each item every `interval` and reloads it when one changed; reloads all
/// of them on SIGHUP. Runs until the task is dropped.
pub async fn watch(
    items: Vec<Arc<dyn Reloadable>>,
    interval: Duration,
    metrics: Arc<crate::metrics::Metrics>,
) {
    let mut seen: HashMap<PathBuf, Stamp> = items
        .iter()
        .flat_map(|i| i.files())
        .map(|f| {
            let s = stamp(&f);
            (f, s)
        })
        .collect();
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; file polling still reloads");
            None
        }
    };
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
        };
        for item in &items {
            let mut changed = forced;
            for file in item.files() {
                let now = stamp(&file);
                if seen.get(&file) != Some(&now) {
                    changed = true;
                    seen.insert(file, now);
                }
            }
            if changed {
                // Loading may take a while (a large register is precomputed): off the runtime.
                let (item, metrics) = (item.clone(), metrics.clone());
                let _ =
                    tokio::task::spawn_blocking(move || reload_one(item.as_ref(), &metrics)).await;
            }
        }
    }
}

fn reload_one(item: &dyn Reloadable, metrics: &crate::metrics::Metrics) {
    match item.reload() {
        Ok(()) => {
            metrics
                .reloads
                .with_label_values(&[item.name(), "ok"])
                .inc();
        }
        Err(e) => {
            metrics
                .reloads
                .with_label_values(&[item.name(), "rejected"])
                .inc();
            tracing::error!(
                what = item.name(),
                error = format!("{e:#}"),
                "RELOAD REJECTED: the new files are invalid; the previous version stays in force"
            );
        }
    }
}
