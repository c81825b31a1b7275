//! Signals in the database: `signalen` (the signal and its current status),
//! `signaal_betrokkenen` (the persons it names) and `signaal_statussen` (the append-only
//! status history). Blocking diesel code; callers run it through `Database::run`.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::storage::schema::{signaal_betrokkenen, signaal_statussen, signalen};
use crate::storage::DbConnection;

/// A signal's own row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signalen)]
pub struct SignaalRij {
    pub id: String,
    /// The activity it was sent under; it is seen under that activity only.
    pub activiteit: String,
    pub soort: String,
    pub afzender_oin: String,
    pub ontvanger_oin: String,
    pub omschrijving: String,
    pub urgent: bool,
    pub adres_postcode: Option<String>,
    pub adres_huisnummer: Option<i32>,
    pub adres_huisletter: Option<String>,
    pub adres_huisnummertoevoeging: Option<String>,
    pub werkgever_loonheffingennummer: Option<String>,
    pub werkgever_kvk_nummer: Option<String>,
    pub werkgever_naam: Option<String>,
    pub aantal_inschrijvingen: Option<i32>,
    /// The newest history row's status and number.
    pub status: String,
    pub statusvolgnummer: i32,
    pub ontvangen_ms: i64,
}

/// One entry of the status history; never changed once written.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signaal_statussen)]
pub struct StatusRij {
    pub signaal_id: String,
    pub volgnummer: i32,
    pub status: String,
    pub reden: Option<String>,
    pub uitkomst: Option<String>,
    pub tijdstip_ms: i64,
    pub door_oin: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signaal_betrokkenen)]
struct BetrokkeneRij {
    signaal_id: String,
    volgnummer: i32,
    burgerservicenummer: String,
}

/// A signal with the BSNs it names (in the sender's order) and its history (oldest first).
#[derive(Debug, Clone)]
pub struct Signaal {
    pub rij: SignaalRij,
    pub burgerservicenummers: Vec<String>,
    pub historie: Vec<StatusRij>,
}

/// Stores a new signal with its first history entry, in one transaction.
pub fn opslaan(conn: &mut DbConnection, s: &Signaal) -> QueryResult<()> {
    let betrokkenen: Vec<BetrokkeneRij> = s
        .burgerservicenummers
        .iter()
        .enumerate()
        .map(|(i, bsn)| BetrokkeneRij {
            signaal_id: s.rij.id.clone(),
            volgnummer: i as i32 + 1,
            burgerservicenummer: bsn.clone(),
        })
        .collect();
    // Multi-row inserts need the concrete backend.
    macro_rules! insert {
        ($c:expr) => {
            $c.transaction::<_, diesel::result::Error, _>(|c| {
                diesel::insert_into(signalen::table)
                    .values(&s.rij)
                    .execute(c)?;
                if !betrokkenen.is_empty() {
                    diesel::insert_into(signaal_betrokkenen::table)
                        .values(&betrokkenen)
                        .execute(c)?;
                }
                diesel::insert_into(signaal_statussen::table)
                    .values(&s.historie)
                    .execute(c)?;
                Ok(())
            })
        };
    }
    match conn {
        DbConnection::Postgresql(c) => insert!(c),
        DbConnection::Sqlite(c) => insert!(c),
    }
}

/// The signal with this id, if there is one.
pub fn laden(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Signaal>> {
    let rij: Option<SignaalRij> = signalen::table
        .find(id)
        .select(SignaalRij::as_select())
        .first(conn)
        .optional()?;
    match rij {
        Some(rij) => Ok(aanvullen(conn, vec![rij])?.pop()),
        None => Ok(None),
    }
}

/// Which of the caller's signals a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// Signals addressed to the caller.
    Inbox,
    /// Signals the caller sent.
    Outbox,
}

/// Where a page starts: after the signal received at `ontvangen_ms` with id `id` (pages run
/// newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ontvangen_ms: i64,
    pub id: String,
}

/// Up to `aantal` of `oin`'s signals under `activiteit` in `map`, newest first, after
/// `na`, of status `status` if given.
pub fn pagina(
    conn: &mut DbConnection,
    map: Map,
    oin: &str,
    activiteit: &str,
    status: Option<&str>,
    na: Option<&Cursor>,
    aantal: i64,
) -> QueryResult<Vec<Signaal>> {
    let mut q = signalen::table
        .filter(signalen::activiteit.eq(activiteit))
        .select(SignaalRij::as_select())
        .order((signalen::ontvangen_ms.desc(), signalen::id.desc()))
        .limit(aantal)
        .into_boxed();
    q = match map {
        Map::Inbox => q.filter(signalen::ontvanger_oin.eq(oin)),
        Map::Outbox => q.filter(signalen::afzender_oin.eq(oin)),
    };
    if let Some(status) = status {
        q = q.filter(signalen::status.eq(status));
    }
    if let Some(c) = na {
        q = q.filter(
            signalen::ontvangen_ms
                .lt(c.ontvangen_ms)
                .or(signalen::ontvangen_ms
                    .eq(c.ontvangen_ms)
                    .and(signalen::id.lt(c.id.clone()))),
        );
    }
    let rijen: Vec<SignaalRij> = q.load(conn)?;
    aanvullen(conn, rijen)
}

/// Adds to each row its persons and history (two queries for the lot).
fn aanvullen(conn: &mut DbConnection, rijen: Vec<SignaalRij>) -> QueryResult<Vec<Signaal>> {
    if rijen.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rijen.iter().map(|r| r.id.clone()).collect();
    let mut personen: HashMap<String, Vec<String>> = HashMap::new();
    for b in signaal_betrokkenen::table
        .filter(signaal_betrokkenen::signaal_id.eq_any(&ids))
        .order((
            signaal_betrokkenen::signaal_id,
            signaal_betrokkenen::volgnummer,
        ))
        .select(BetrokkeneRij::as_select())
        .load(conn)?
    {
        personen
            .entry(b.signaal_id)
            .or_default()
            .push(b.burgerservicenummer);
    }
    let mut historie: HashMap<String, Vec<StatusRij>> = HashMap::new();
    for h in signaal_statussen::table
        .filter(signaal_statussen::signaal_id.eq_any(&ids))
        .order((signaal_statussen::signaal_id, signaal_statussen::volgnummer))
        .select(StatusRij::as_select())
        .load(conn)?
    {
        historie.entry(h.signaal_id.clone()).or_default().push(h);
    }
    Ok(rijen
        .into_iter()
        .map(|rij| Signaal {
            burgerservicenummers: personen.remove(&rij.id).unwrap_or_default(),
            historie: historie.remove(&rij.id).unwrap_or_default(),
            rij,
        })
        .collect())
}

/// Appends `nieuw` to the history and makes it the current status, only if the signal is
/// still at history entry `nieuw.volgnummer - 1` (nobody changed it since it was checked).
/// `false`: someone did; nothing was written.
pub fn status_toevoegen(conn: &mut DbConnection, nieuw: &StatusRij) -> QueryResult<bool> {
    conn.transaction(|c| {
        let changed = diesel::update(
            signalen::table
                .filter(signalen::id.eq(&nieuw.signaal_id))
                .filter(signalen::statusvolgnummer.eq(nieuw.volgnummer - 1)),
        )
        .set((
            signalen::status.eq(&nieuw.status),
            signalen::statusvolgnummer.eq(nieuw.volgnummer),
        ))
        .execute(c)?;
        if changed == 0 {
            return Ok(false);
        }
        diesel::insert_into(signaal_statussen::table)
            .values(nieuw)
            .execute(c)?;
        Ok(true)
    })
}
