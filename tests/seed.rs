//! `doelpoort seed`: the same persons, UWV and SVB data and residents on SQLite and
//! PostgreSQL, run after run.

mod common;

use std::process::Command;

use diesel::prelude::*;
use doelpoort::seed::uwv_svb::{
    A1Verklaring, Dienstverband, Ingezetene, SvbUitkering, UwvUitkering, Werkgever,
};
use doelpoort::seed::RniPersoon;
use doelpoort::storage::schema::{
    ingezetenen, postcodegebieden, rni_personen, svb_a1_verklaringen, svb_uitkeringen,
    uwv_dienstverbanden, uwv_uitkeringen, uwv_werkgevers,
};
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

/// A digest of every row of a table, in key order, and how many rows there are.
fn rows_digest<T: std::fmt::Debug>(rows: &[T]) -> (String, usize) {
    let mut h = sha2::Sha256::new();
    for r in rows {
        h.update(format!("{r:?}\n"));
    }
    (hex::encode(h.finalize()), rows.len())
}

/// A digest of every person, in BSN order, and the number of postcode areas; and a digest of
/// each UWV and SVB table and of the residents.
fn digest(url: &str) -> (String, i64, i64, Vec<(String, usize)>) {
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
    let (persons_digest, _) = rows_digest(&persons);
    let werkgevers: Vec<Werkgever> = uwv_werkgevers::table
        .order(uwv_werkgevers::loonheffingennummer)
        .select(Werkgever::as_select())
        .load(&mut *conn)
        .unwrap();
    let dienstverbanden: Vec<Dienstverband> = uwv_dienstverbanden::table
        .order(uwv_dienstverbanden::id)
        .select(Dienstverband::as_select())
        .load(&mut *conn)
        .unwrap();
    let uwv: Vec<UwvUitkering> = uwv_uitkeringen::table
        .order((
            uwv_uitkeringen::burgerservicenummer,
            uwv_uitkeringen::soort,
            uwv_uitkeringen::datum_ingang,
        ))
        .select(UwvUitkering::as_select())
        .load(&mut *conn)
        .unwrap();
    let svb: Vec<SvbUitkering> = svb_uitkeringen::table
        .order((
            svb_uitkeringen::burgerservicenummer,
            svb_uitkeringen::soort,
            svb_uitkeringen::datum_ingang,
        ))
        .select(SvbUitkering::as_select())
        .load(&mut *conn)
        .unwrap();
    let a1: Vec<A1Verklaring> = svb_a1_verklaringen::table
        .order((
            svb_a1_verklaringen::burgerservicenummer,
            svb_a1_verklaringen::datum_ingang,
        ))
        .select(A1Verklaring::as_select())
        .load(&mut *conn)
        .unwrap();
    let residents: Vec<Ingezetene> = ingezetenen::table
        .order(ingezetenen::burgerservicenummer)
        .select(Ingezetene::as_select())
        .load(&mut *conn)
        .unwrap();
    let tables = vec![
        rows_digest(&werkgevers),
        rows_digest(&dienstverbanden),
        rows_digest(&uwv),
        rows_digest(&svb),
        rows_digest(&a1),
        rows_digest(&residents),
    ];
    (persons_digest, persons.len() as i64, areas, tables)
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
        // 3000 persons: 75 employers, 300 residents, and rows in every UWV and SVB table.
        assert_eq!(first.3[0].1, 75);
        assert_eq!(first.3[5].1, 300);
        assert!(first.3.iter().all(|t| t.1 > 0), "{:?}", first.3);
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
        "SQLite and PostgreSQL hold different data"
    );
}
