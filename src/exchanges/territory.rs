//! Which gemeente a postcode lies in, and the scope check that follows from it: the truth is
//! the table `postcodegebieden` (4-digit postcode area → gemeente).

use diesel::prelude::*;

use crate::domain::{Gemeentecode, Postcode};
use crate::policy::enforce::{Doelbinding, Exchange};
use crate::problem::{Problem, ProblemCode};
use crate::storage::schema::postcodegebieden;
use crate::storage::Database;

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
    let pc4 = postcode.as_str()[..4].to_owned();
    let found: Option<String> = db
        .run(move |c| {
            postcodegebieden::table
                .find(pc4)
                .select(postcodegebieden::gemeentecode)
                .first(c)
                .optional()
        })
        .await
        .map_err(unavailable)?;
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
    match gemeente_of(db, postcode).await? {
        Some(g) => d.require_scope(g),
        None => {
            Err(Problem::new(ProblemCode::OutOfScope)
                .detail("Deze postcode ligt niet in uw gemeente."))
        }
    }
}
