//! The raadpleging of one BSN on PostgreSQL, the request path's most frequent question,
//! read through `PgReads` (no blocking thread) when the database allows it. The same question
//! as `zoek`'s diesel query for one BSN, the same columns in the same order (a test holds
//! them together).

use tokio_postgres::Row;

use crate::seed::RniPersoon;
use crate::storage::pg_reads::PgReads;
use crate::storage::StorageError;

const OP_BSN: &str =
    "SELECT burgerservicenummer, voornamen, voorvoegsel, geslachtsnaam, geslacht, \
     geboortedatum, geboorteplaats, geboorteland_code, nationaliteit_code, \
     buitenland_adresregel1, buitenland_adresregel2, buitenland_land_code, verblijf_straat, \
     verblijf_huisnummer, verblijf_huisletter, verblijf_toevoeging, verblijf_postcode, \
     verblijf_woonplaats, verblijf_gemeentecode, verblijf_datum_aanvang, telefoonnummer, \
     emailadres, datum_inschrijving, rni_deelnemer_code \
     FROM rni_personen WHERE burgerservicenummer = $1";

/// The RNI person with `bsn`, if there is one.
pub async fn op_bsn(pg: &PgReads, bsn: &str) -> Result<Vec<RniPersoon>, StorageError> {
    let rows = pg.query(OP_BSN, &[&bsn]).await?;
    rows.iter()
        .map(persoon)
        .collect::<Result<_, _>>()
        .map_err(|e| StorageError::Unavailable(format!("an rni_personen row: {e}")))
}

fn persoon(r: &Row) -> Result<RniPersoon, tokio_postgres::Error> {
    Ok(RniPersoon {
        burgerservicenummer: r.try_get(0)?,
        voornamen: r.try_get(1)?,
        voorvoegsel: r.try_get(2)?,
        geslachtsnaam: r.try_get(3)?,
        geslacht: r.try_get(4)?,
        geboortedatum: r.try_get(5)?,
        geboorteplaats: r.try_get(6)?,
        geboorteland_code: r.try_get(7)?,
        nationaliteit_code: r.try_get(8)?,
        buitenland_adresregel1: r.try_get(9)?,
        buitenland_adresregel2: r.try_get(10)?,
        buitenland_land_code: r.try_get(11)?,
        verblijf_straat: r.try_get(12)?,
        verblijf_huisnummer: r.try_get(13)?,
        verblijf_huisletter: r.try_get(14)?,
        verblijf_toevoeging: r.try_get(15)?,
        verblijf_postcode: r.try_get(16)?,
        verblijf_woonplaats: r.try_get(17)?,
        verblijf_gemeentecode: r.try_get(18)?,
        verblijf_datum_aanvang: r.try_get(19)?,
        telefoonnummer: r.try_get(20)?,
        emailadres: r.try_get(21)?,
        datum_inschrijving: r.try_get(22)?,
        rni_deelnemer_code: r.try_get(23)?,
    })
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    /// The column names a SELECT lists, without quotes or table names.
    fn columns(select: &str) -> Vec<String> {
        let list = select
            .strip_prefix("SELECT ")
            .and_then(|s| s.split(" FROM ").next())
            .expect("a SELECT … FROM");
        list.split(',')
            .map(|c| c.trim().replace('"', "").replace("rni_personen.", ""))
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
    }
}
