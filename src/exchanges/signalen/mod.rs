//! Signals between organisations, with feedback to the sender: the activities
//! `signaal-melding` (gemeenten, UWV, SVB and the Arbeidsinspectie send each other meldingen,
//! verzoeken tot gezamenlijke interventie and informatie) and `laa-signaal` (RvIG sends a
//! gemeente a signal of the Landelijke Aanpak Adreskwaliteit; the gemeente records the
//! outcome of its investigation). Seed 004's main finding is that reporters never hear back
//! and that reasons for closing are not recorded: here every status change carries a reason,
//! kept in an append-only history that the sender always sees.
//!
//! | route | step (file) | operation |
//! |---|---|---|
//! | `POST /api/v1/signalen` | `versturen` | write |
//! | `GET /api/v1/signalen?map=inbox\|outbox[&status=][&aantal=][&volgende=]` | `lijst` | search |
//! | `GET /api/v1/signalen/{id}` | `inzien` | read |
//! | `POST /api/v1/signalen/{id}/status` | `status` | write |
//!
//! - **Which activity.** `X-Processing-Activity`. Under an activity of dataset `laa-signalen`
//!   a signal is an LAA signal (soort `laa-signaal`, an address, an `uitkomst` when closed);
//!   under any other, a signal of dataset `signalen`. A signal is seen only under the activity
//!   it was sent under.
//! - **Who sees it.** Its sender and its recipient; to anyone else it does not exist (404).
//!   Only the recipient changes its status (`signaal::Status` has the state machine).
//! - **Who may send.** Under an activity whose provider is `afzender`, every requester;
//!   otherwise only the provider (RvIG under `laa-signaal`). The recipient must be a
//!   registered organisation that takes part in the activity, and not the sender.
//! - **Own territory.** Under an `own-gemeente` activity the address must lie in the
//!   recipient gemeente (table `postcodegebieden`), and a gemeente sees only signals about its
//!   own territory.
//! - **Disclosure records.** Every answer goes out through the disclosure log: one record for
//!   the request, one per person the signal(s) name. The provider of a signal's data is its
//!   sender, whoever reads it. Writes are recorded before they are stored, so a signal or a
//!   status change that could not be recorded is not made (503).

pub(crate) mod invoer;
pub(crate) mod inzien;
pub(crate) mod lijst;
mod opslag;
pub(crate) mod signaal;
pub(crate) mod status;
pub(crate) mod versturen;
mod weergave;

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;

use actix_web::guard::{self, GuardContext};
use actix_web::web;
use diesel::prelude::*;

use crate::domain::{Bsn, Gemeentecode};
use crate::policy::enforce::{Doelbinding, Exchange, ACTIVITY_HEADER};
use crate::policy::{Operation, PolicyStore, Scope};
use crate::problem::{Problem, ProblemCode};
use crate::storage::schema::postcodegebieden;
use crate::storage::Database;
use opslag::Signaal;

/// The two shapes of signal, by the dataset of the activity a request names.
pub trait Kanaal: 'static {
    const DATASET: &'static str;
    /// LAA signals: soort `laa-signaal`, an address, `aantalInschrijvingen`, an `uitkomst`.
    const LAA: bool;
}

/// Signals of dataset `signalen` (activity `signaal-melding`).
pub struct Algemeen;
impl Kanaal for Algemeen {
    const DATASET: &'static str = "signalen";
    const LAA: bool = false;
}

/// Signals of dataset `laa-signalen` (activity `laa-signaal`).
pub struct Laa;
impl Kanaal for Laa {
    const DATASET: &'static str = "laa-signalen";
    const LAA: bool = true;
}

/// Sending a signal.
pub struct Versturen<K>(PhantomData<K>);
impl<K: Kanaal> Exchange for Versturen<K> {
    const DATASET: &'static str = K::DATASET;
    const OPERATION: Operation = Operation::Write;
}

/// Listing one's own signals.
pub struct Lijst<K>(PhantomData<K>);
impl<K: Kanaal> Exchange for Lijst<K> {
    const DATASET: &'static str = K::DATASET;
    const OPERATION: Operation = Operation::Search;
}

/// Reading one signal.
pub struct Inzien<K>(PhantomData<K>);
impl<K: Kanaal> Exchange for Inzien<K> {
    const DATASET: &'static str = K::DATASET;
    const OPERATION: Operation = Operation::Read;
}

/// Changing a signal's status (the recipient).
pub struct StatusWijzigen<K>(PhantomData<K>);
impl<K: Kanaal> Exchange for StatusWijzigen<K> {
    const DATASET: &'static str = K::DATASET;
    const OPERATION: Operation = Operation::Write;
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let laa = || guard::fn_guard(onder_laa);
    cfg.service(
        web::resource("/api/v1/signalen")
            .route(web::post().guard(laa()).to(versturen::versturen::<Laa>))
            .route(web::post().to(versturen::versturen::<Algemeen>))
            .route(web::get().guard(laa()).to(lijst::lijst::<Laa>))
            .route(web::get().to(lijst::lijst::<Algemeen>))
            .default_service(web::to(crate::problem::method_not_allowed)),
    )
    .service(
        web::resource("/api/v1/signalen/{id}")
            .route(web::get().guard(laa()).to(inzien::inzien::<Laa>))
            .route(web::get().to(inzien::inzien::<Algemeen>))
            .default_service(web::to(crate::problem::method_not_allowed)),
    )
    .service(
        web::resource("/api/v1/signalen/{id}/status")
            .route(web::post().guard(laa()).to(status::wijzigen::<Laa>))
            .route(web::post().to(status::wijzigen::<Algemeen>))
            .default_service(web::to(crate::problem::method_not_allowed)),
    );
}

/// Does the request name an activity (in the register in force) whose dataset is LAA
/// signals? Every other request, including one naming no or an unknown activity, takes the
/// general route, where `Doelbinding` refuses it as it should.
fn onder_laa(ctx: &GuardContext) -> bool {
    let Some(named) = ctx
        .head()
        .headers()
        .get(ACTIVITY_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    ctx.app_data::<web::Data<PolicyStore>>()
        .is_some_and(|store| {
            store
                .current()
                .register
                .get(named.trim())
                .is_some_and(|(_, a)| a.dataset == Laa::DATASET)
        })
}

fn unavailable(e: impl std::fmt::Display) -> Problem {
    tracing::error!(error = %e, "signal store unavailable");
    Problem::not_available()
}

fn niet_gevonden() -> Problem {
    Problem::not_found().detail("Er is geen signaal met dit id dat u kunt zien.")
}

/// The caller's part in a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rol {
    Afzender,
    Ontvanger,
}

/// The signal `id` and the caller's part in it. A signal sent under another activity, or one
/// the caller neither sent nor received, is not found: its existence is not revealed.
async fn zoek<E: Exchange>(
    d: &Doelbinding<E>,
    db: &Database,
    id: &str,
) -> Result<(Signaal, Rol), Problem> {
    // Ids are UUIDs; anything else names no signal.
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| niet_gevonden())?
        .hyphenated()
        .to_string();
    let signaal = db
        .run(move |c| opslag::laden(c, &id))
        .await
        .map_err(unavailable)?
        .ok_or_else(niet_gevonden)?;
    if signaal.rij.activiteit != d.activity().id {
        return Err(niet_gevonden());
    }
    let me = d.requester.oin.as_str();
    let rol = if signaal.rij.afzender_oin == me {
        Rol::Afzender
    } else if signaal.rij.ontvanger_oin == me {
        Rol::Ontvanger
    } else {
        return Err(niet_gevonden());
    };
    Ok((signaal, rol))
}

/// The gemeente of each 4-digit postcode area among `pc4s` that lies in one.
async fn gebieden(
    db: &Database,
    pc4s: Vec<String>,
) -> Result<HashMap<String, Gemeentecode>, Problem> {
    if pc4s.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, String)> = db
        .run(move |c| {
            postcodegebieden::table
                .filter(postcodegebieden::pc4.eq_any(pc4s))
                .select((postcodegebieden::pc4, postcodegebieden::gemeentecode))
                .load(c)
        })
        .await
        .map_err(unavailable)?;
    Ok(rows
        .into_iter()
        .filter_map(|(pc4, g)| Gemeentecode::parse(&g).ok().map(|g| (pc4, g)))
        .collect())
}

fn pc4(postcode: &str) -> String {
    postcode.chars().take(4).collect()
}

/// Where the addresses of `signalen` lie, when the activity limits a recipient to its own
/// territory (otherwise nothing is looked up).
async fn werkgebied<E: Exchange>(
    d: &Doelbinding<E>,
    db: &Database,
    signalen: &[Signaal],
) -> Result<HashMap<String, Gemeentecode>, Problem> {
    if d.activity().scope == Scope::None {
        return Ok(HashMap::new());
    }
    let mut areas: Vec<String> = signalen
        .iter()
        .filter_map(|s| s.rij.adres_postcode.as_deref().map(pc4))
        .collect();
    areas.sort_unstable();
    areas.dedup();
    gebieden(db, areas).await
}

/// Under an own-territory activity, the recipient (a gemeente) sees a signal only if its
/// address lies in its own territory (403 `outOfScope`). The sender sees what it sent.
fn binnen_werkgebied<E: Exchange>(
    d: &Doelbinding<E>,
    s: &Signaal,
    rol: Rol,
    gebieden: &HashMap<String, Gemeentecode>,
) -> Result<(), Problem> {
    if d.activity().scope == Scope::None || rol == Rol::Afzender {
        return Ok(());
    }
    match s
        .rij
        .adres_postcode
        .as_deref()
        .and_then(|p| gebieden.get(&pc4(p)))
    {
        Some(g) => d.require_scope(*g),
        None => Err(Problem::new(ProblemCode::OutOfScope)
            .detail("Dit signaal gaat niet over een adres in uw gemeente.")),
    }
}

/// The persons `signalen` name, as disclosure subjects with the provider of the data about
/// them (each signal's sender); once per person and sender.
fn betrokkenen(signalen: &[Signaal]) -> Vec<(Bsn, &str)> {
    let mut seen = HashSet::new();
    let mut subjects: Vec<(Bsn, &str)> = Vec::new();
    for s in signalen {
        for bsn in s
            .burgerservicenummers
            .iter()
            .filter_map(|b| Bsn::parse(b).ok())
        {
            let subject = (bsn, s.rij.afzender_oin.as_str());
            if seen.insert(subject) {
                subjects.push(subject);
            }
        }
    }
    subjects
}

/// The provider named on the request record: the sender, when all `signalen` have one.
fn verstrekker(signalen: &[Signaal]) -> Option<&str> {
    let first = signalen.first()?.rij.afzender_oin.as_str();
    signalen
        .iter()
        .all(|s| s.rij.afzender_oin == first)
        .then_some(first)
}
