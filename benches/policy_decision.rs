//! Cost of the doelbinding decision (`Policy::authorise`) at 10, 1,000 and 50,000 casbin rules.
//!
//!   cargo bench --bench policy_decision
//!
//! Each size gets a synthetic register in a temporary copy of `policies/` (real organisations,
//! model and datasets): activities on `rni-adrestellingen`, each allowing a list of gemeenten by
//! alias, so that the rule count is exact. Reported per size:
//! - the time to load the register version (casbin precomputes every decision then);
//! - criterion's estimate of one decision on the request path;
//! - p50/p99/max of 1,000,000 decisions over 1,000 (organisation, activity) pairs, about half
//!   of them refused, timed one by one (HDR histogram);
//! - `casbin_us`: one decision asked of casbin itself (the per-activity enforcer, as at load
//!   and by `policy explain`), which the request path never waits for.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use criterion::Criterion;
use doelpoort::organisations::{Organisation, OrganisationKind, Registry};
use doelpoort::policy::{Operation, Policy};

struct Setup {
    _dir: tempfile::TempDir,
    policy: Policy,
    pairs: Vec<(std::sync::Arc<Organisation>, String)>,
    rules: usize,
}

fn setup(rules: usize) -> Setup {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root.join("organisations.toml"),
        dir.path().join("organisations.toml"),
    )
    .unwrap();
    std::fs::copy(root.join("model.conf"), dir.path().join("model.conf")).unwrap();
    std::fs::create_dir(dir.path().join("datasets")).unwrap();
    for f in std::fs::read_dir(root.join("datasets")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join("datasets").join(f.file_name())).unwrap();
    }
    let registry = Registry::load(&dir.path().join("organisations.toml")).unwrap();
    let mut gemeenten: Vec<String> = registry
        .iter()
        .filter(|o| o.kind == OrganisationKind::Gemeente)
        .map(|o| o.alias().to_owned())
        .collect();
    gemeenten.sort();
    let per_activity = rules.min(200);
    let activities = rules / per_activity;
    let mut text = String::new();
    for a in 0..activities {
        let requesters: Vec<String> = (0..per_activity)
            .map(|i| format!("\"{}\"", gemeenten[(a * 7 + i) % gemeenten.len()]))
            .collect();
        text += &format!(
            "[[activiteit]]\nid = \"bench-{a}\"\nname = \"n\"\npurpose = \"p\"\nlegal_basis = {{ citation = \"c\" }}\n\
             provider = \"rvig\"\ndataset = \"rni-adrestellingen\"\noperations = [\"count\"]\nrequesters = [{}]\n\
             fields = [\"postcode\", \"aantal\"]\nscope = \"own-gemeente\"\ncase_reference_required = false\n\
             valid_from = 2020-01-01\nretention_days = 365\nrate_limit_per_minute = 4000000000\n\n",
            requesters.join(", ")
        );
    }
    std::fs::write(dir.path().join("verwerkingsactiviteiten.toml"), text).unwrap();
    let started = Instant::now();
    let policy = Policy::load(dir.path(), &registry, today()).unwrap();
    assert_eq!(policy.decider.rule_count, activities * per_activity);
    eprintln!(
        "{rules} rules: register loaded in {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let orgs: Vec<_> = gemeenten
        .iter()
        .map(|g| registry.find(g).unwrap().clone())
        .collect();
    // 1,000 pairs; a pseudo-random spread over organisations and activities.
    let pairs = (0..1000u64)
        .map(|i| {
            let x = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                >> 20;
            (
                orgs[(x % orgs.len() as u64) as usize].clone(),
                format!("bench-{}", (x / 7) % activities as u64),
            )
        })
        .collect();
    Setup {
        _dir: dir,
        policy,
        pairs,
        rules,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
}

fn decide(s: &Setup, i: usize) -> bool {
    let (org, activity) = &s.pairs[i % s.pairs.len()];
    s.policy
        .authorise(
            org,
            activity,
            "rni-adrestellingen",
            Operation::Count,
            today(),
            None,
        )
        .is_ok()
}

fn report(s: &Setup) {
    let allowed = (0..s.pairs.len()).filter(|&i| decide(s, i)).count();
    let mut hist = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
    for i in 0..1_000_000 {
        let t = Instant::now();
        black_box(decide(s, i));
        hist.record(t.elapsed().as_nanos().max(1) as u64).unwrap();
    }
    // casbin itself, as at load.
    let mut cold = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let samples = if s.rules > 10_000 { 20 } else { 200 };
    for (org, activity) in s.pairs.iter().take(samples) {
        let t = Instant::now();
        let (index, _) = s.policy.register.get(activity).unwrap();
        black_box(s.policy.decider.explain(
            org.alias(),
            index,
            activity,
            "rni-adrestellingen",
            Operation::Count,
        ));
        cold.record(t.elapsed().as_nanos().max(1) as u64).unwrap();
    }
    println!(
        "policy_decision rules={:>6} allowed={}/{} decision_ns p50={} p99={} p99.9={} max={} | casbin_us p50={:.1} p99={:.1}",
        s.rules,
        allowed,
        s.pairs.len(),
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.value_at_quantile(0.999),
        hist.max(),
        cold.value_at_quantile(0.5) as f64 / 1e3,
        cold.value_at_quantile(0.99) as f64 / 1e3,
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not: there, only check that
    // the benchmark works, on the smallest register.
    if !std::env::args().any(|a| a == "--bench") {
        let s = setup(10);
        assert!((0..s.pairs.len()).any(|i| decide(&s, i)));
        println!("policy_decision: smoke run (use `cargo bench --bench policy_decision`)");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    for rules in [10, 1_000, 50_000] {
        let s = setup(rules);
        report(&s);
        let mut i = 0;
        c.bench_function(&format!("authorise/{rules}_rules"), |b| {
            b.iter(|| {
                i += 1;
                decide(&s, i)
            })
        });
    }
    c.final_summary();
}
