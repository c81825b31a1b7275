//! Which gemeente a postcode lies in, and the scope check that follows from it: the truth is
//! the table `postcodegebieden` (4-digit postcode area → gemeente).

use diesel::prelude::*;

use crate::domain::{Gemeentecode, Postcode};
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::problem::{Problem, ProblemCode};
use crate::storage::schema::postcodegebieden;
use crate::storage::{Database, DbConnection};

/// A source that cannot be read: logged here, 503 to the caller (never the cause).
pub fn unavailable(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "dataset unavailable");
    Problem::not_available()
}

/// The gemeente whose territory a postcode lies in; `None` for a postcode in no known area.
pub async fn gemeente_of(
    db: &Database,
    postcode: Postcode,
) -> Result<Option<Gemeentecode>, Problem> {
    db.run(move |c| gemeente_in(c, postcode))
        .await
        .map_err(unavailable)
}

/// `gemeente_of` on a connection already in hand, for a handler that reads the area together
/// with its data in one round trip to the blocking pool.
pub fn gemeente_in(c: &mut DbConnection, postcode: Postcode) -> QueryResult<Option<Gemeentecode>> {
    let found: Option<String> = postcodegebieden::table
        .find(&postcode.as_str()[..4])
        .select(postcodegebieden::gemeentecode)
        .first(c)
        .optional()?;
    Ok(found.and_then(|g| Gemeentecode::parse(&g).ok()))
}

/// 403 `outOfScope` unless the activity lets the requester see data about this postcode: a
/// postcode in no known area is outside every gemeente's scope.
pub async fn require_postcode_in_scope<E: Exchange>(
    d: &Doelbinding<E>,
    db: &Database,
    postcode: Postcode,
) -> Result<(), Problem> {
    if d.activity().scope == crate::policy::Scope::None {
        return Ok(());
    }
    require_area_in_scope(d, gemeente_of(db, postcode).await?)
}

/// The check of `require_postcode_in_scope`, on the area's gemeente as `gemeente_in` found it.
pub fn require_area_in_scope<E: Exchange>(
    d: &Doelbinding<E>,
    gebied: Option<Gemeentecode>,
) -> Result<(), Problem> {
    match gebied {
        Some(g) => d.require_scope(g),
        None if d.activity().scope == crate::policy::Scope::None => Ok(()),
        None => {
            Err(Problem::new(ProblemCode::OutOfScope)
                .detail("Deze postcode ligt niet in uw gemeente."))
        }
    }
}
