//! `doelpoort seed`: the same persons on SQLite and PostgreSQL, run after run.

mod common;

use std::process::Command;

use diesel::prelude::*;
use doelpoort::seed::RniPersoon;
use doelpoort::storage::schema::{postcodegebieden, rni_personen};
use sha2::Digest;

fn seed(dir: &std::path::Path, url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_doelpoort"))
        .arg("seed")
        .args(args)
        .current_dir(dir)
        .env("DOELPOORT_DATABASE_URL", url)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A digest of every person, in BSN order, and the number of postcode areas.
fn digest(url: &str) -> (String, i64, i64) {
    let db = common::connect(url);
    let mut conn = db.checkout().unwrap();
    let persons: Vec<RniPersoon> = rni_personen::table
        .order(rni_personen::burgerservicenummer)
        .select(RniPersoon::as_select())
        .load(&mut *conn)
        .unwrap();
    let areas: i64 = postcodegebieden::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let mut h = sha2::Sha256::new();
    for p in &persons {
        h.update(format!("{p:?}\n"));
    }
    (hex::encode(h.finalize()), persons.len() as i64, areas)
}

#[test]
fn the_same_seed_gives_the_same_data_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let pg = common::PgTestDb::create();
    let sqlite = format!("sqlite://{}", dir.path().join("seed.db").display());
    let mut digests = Vec::new();
    for url in [&sqlite, &pg.url] {
        let (ok, out) = seed(dir.path(), url, &["--persons", "3000", "--seed", "5"]);
        assert!(ok && out.contains("3000 synthetic RNI persons"), "{out}");
        let (ok, out) = seed(dir.path(), url, &["--persons", "3000", "--seed", "5"]);
        assert!(
            !ok && out.contains("--replace"),
            "a filled dataset was seeded again: {out}"
        );
        let first = digest(url);
        assert_eq!(first.1, 3000);
        assert!(first.2 >= 8_000, "postcode areas: {}", first.2);
        let (ok, out) = seed(
            dir.path(),
            url,
            &["--persons", "3000", "--seed", "5", "--replace"],
        );
        assert!(ok, "{out}");
        assert_eq!(digest(url), first, "a second run differs");
        digests.push(first);
    }
    assert_eq!(
        digests[0], digests[1],
        "SQLite and PostgreSQL hold different persons"
    );
}
