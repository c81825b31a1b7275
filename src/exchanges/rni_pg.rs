//! RNI persons read on PostgreSQL through `storage::pg_reads` (no blocking thread), when the
//! database allows it, for the two most frequent questions: the Haal Centraal raadpleging of
//! one BSN and the per-address overview. The same questions as their diesel queries, the same
//! columns in the same order (a test holds them together).

use tokio_postgres::Row;

use crate::seed::RniPersoon;
use crate::storage::pg_reads::PgReads;
use crate::storage::StorageError;

/// `rni_personen`'s columns (as `p`) in the order `RniPersoon` lists them, as `persoon` reads
/// them.
macro_rules! persoon_kolommen {
    () => {
        "p.burgerservicenummer, p.voornamen, p.voorvoegsel, p.geslachtsnaam, p.geslacht, \
         p.geboortedatum, p.geboorteplaats, p.geboorteland_code, p.nationaliteit_code, \
         p.buitenland_adresregel1, p.buitenland_adresregel2, p.buitenland_land_code, \
         p.verblijf_straat, p.verblijf_huisnummer, p.verblijf_huisletter, p.verblijf_toevoeging, \
         p.verblijf_postcode, p.verblijf_woonplaats, p.verblijf_gemeentecode, \
         p.verblijf_datum_aanvang, p.telefoonnummer, p.emailadres, p.datum_inschrijving, \
         p.rni_deelnemer_code"
    };
}

const OP_BSN: &str = concat!(
    "SELECT ",
    persoon_kolommen!(),
    " FROM rni_personen p WHERE p.burgerservicenummer = $1"
);

/// The postcode's area (its gemeente) and the persons staying at the address, as the
/// overview's diesel query asks them: no row for a postcode in no known area, one row without
/// a person for an address without RNI persons.
const OP_ADRES: &str = concat!(
    "SELECT g.gemeentecode, ",
    persoon_kolommen!(),
    " FROM postcodegebieden g LEFT JOIN rni_personen p \
     ON p.verblijf_postcode = $1 AND p.verblijf_huisnummer = $2 \
     WHERE g.pc4 = $3 ORDER BY p.burgerservicenummer"
);

/// The RNI person with `bsn`, if there is one.
pub async fn op_bsn(pg: &PgReads, bsn: &str) -> Result<Vec<RniPersoon>, StorageError> {
    let rows = pg.query(OP_BSN, &[&bsn]).await?;
    rows.iter()
        .map(|r| persoon(r, 0))
        .collect::<Result<_, _>>()
        .map_err(row_error)
}

/// For the overview: (the area's gemeentecode, a person at the address) per row, as the
/// diesel query gives them.
pub async fn op_adres(
    pg: &PgReads,
    postcode: &str,
    huisnummer: i32,
) -> Result<Vec<(String, Option<RniPersoon>)>, StorageError> {
    let rows = pg
        .query(OP_ADRES, &[&postcode, &huisnummer, &&postcode[..4]])
        .await?;
    rows.iter()
        .map(|r| {
            let gemeente: String = r.try_get(0)?;
            let bsn: Option<&str> = r.try_get(1)?;
            let persoon = bsn.map(|_| persoon(r, 1)).transpose()?;
            Ok((gemeente, persoon))
        })
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(row_error)
}

fn row_error(e: tokio_postgres::Error) -> StorageError {
    StorageError::Unavailable(format!("an rni_personen row: {e}"))
}

/// The person in the 24 columns from `at` on.
fn persoon(r: &Row, at: usize) -> Result<RniPersoon, tokio_postgres::Error> {
    Ok(RniPersoon {
        burgerservicenummer: r.try_get(at)?,
        voornamen: r.try_get(at + 1)?,
        voorvoegsel: r.try_get(at + 2)?,
        geslachtsnaam: r.try_get(at + 3)?,
        geslacht: r.try_get(at + 4)?,
        geboortedatum: r.try_get(at + 5)?,
        geboorteplaats: r.try_get(at + 6)?,
        geboorteland_code: r.try_get(at + 7)?,
        nationaliteit_code: r.try_get(at + 8)?,
        buitenland_adresregel1: r.try_get(at + 9)?,
        buitenland_adresregel2: r.try_get(at + 10)?,
        buitenland_land_code: r.try_get(at + 11)?,
        verblijf_straat: r.try_get(at + 12)?,
        verblijf_huisnummer: r.try_get(at + 13)?,
        verblijf_huisletter: r.try_get(at + 14)?,
        verblijf_toevoeging: r.try_get(at + 15)?,
        verblijf_postcode: r.try_get(at + 16)?,
        verblijf_woonplaats: r.try_get(at + 17)?,
        verblijf_gemeentecode: r.try_get(at + 18)?,
        verblijf_datum_aanvang: r.try_get(at + 19)?,
        telefoonnummer: r.try_get(at + 20)?,
        emailadres: r.try_get(at + 21)?,
        datum_inschrijving: r.try_get(at + 22)?,
        rni_deelnemer_code: r.try_get(at + 23)?,
    })
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    /// The column names a SELECT lists, without quotes and without `rni_personen.` or `p.`.
    fn columns(select: &str) -> Vec<String> {
        let list = select
            .strip_prefix("SELECT ")
            .and_then(|s| s.split(" FROM ").next())
            .expect("a SELECT … FROM");
        list.split(',')
            .map(|c| {
                let c = c.trim().replace('"', "");
                let c = c.strip_prefix("rni_personen.").unwrap_or(&c);
                c.strip_prefix("p.").unwrap_or(c).to_owned()
            })
            .collect()
    }

    #[test]
    fn the_columns_of_the_diesel_query() {
        use crate::seed::RniPersoon;
        use crate::storage::schema::rni_personen::dsl::*;
        let diesel = diesel::debug_query::<diesel::pg::Pg, _>(
            &rni_personen
                .select(RniPersoon::as_select())
                .filter(burgerservicenummer.eq("x")),
        )
        .to_string();
        assert_eq!(columns(super::OP_BSN), columns(&diesel));
        assert_eq!(columns(super::OP_BSN).len(), 24);
        let adres = columns(super::OP_ADRES);
        assert_eq!(adres[0], "g.gemeentecode");
        assert_eq!(adres[1..], columns(&diesel));
    }
}
