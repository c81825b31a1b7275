//! `GET /api/v1/signalen[?map=inbox|outbox][&status=][&aantal=][&volgende=]`: the caller's
//! own signals under the activity named, newest first, paged. `map` defaults to `inbox`
//! (signals addressed to the caller); `outbox` lists those it sent. An empty map is an empty
//! list with `"bronGeraadpleegd": true`.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::invoer::Fouten;
use super::opslag::{self, Cursor, Map};
use super::signaal::Status;
use super::weergave::weergave;
use super::{
    betrokkenen, binnen_werkgebied, unavailable, verstrekker, werkgebied, Kanaal, Lijst, Rol,
};
use crate::organisations::Organisations;
use crate::policy::enforce::Doelbinding;
use crate::problem::Problem;
use crate::storage::Database;

/// Signals per page unless `aantal` says otherwise (at most `MAX_PAGE`).
const PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LijstQuery {
    /// `inbox` (default: signals sent to you) or `outbox` (signals you sent).
    map: Option<String>,
    /// Only signals with this status.
    status: Option<String>,
    /// Signals per page, 1–100 (50).
    aantal: Option<String>,
    /// The next page's cursor, as the previous page gave it.
    volgende: Option<String>,
}

/// The cursor `volgende`: `<ontvangen_ms>-<id>` of the last signal of the previous page.
fn cursor(s: &str) -> Option<Cursor> {
    let (ms, id) = s.split_once('-')?;
    let ontvangen_ms: i64 = ms.parse().ok().filter(|ms| *ms >= 0)?;
    let id = uuid::Uuid::parse_str(id).ok()?.hyphenated().to_string();
    Some(Cursor { ontvangen_ms, id })
}

/// Your signals: the inbox or the outbox, newest first
#[utoipa::path(get, path = "/api/v1/signalen", tag = "signalen", params(LijstQuery),
    responses((status = 200, description = "A page of signals", body = Object)))]
pub async fn lijst<K: Kanaal>(
    d: Doelbinding<Lijst<K>>,
    q: web::Query<LijstQuery>,
    db: web::Data<Database>,
    organisations: web::Data<Organisations>,
) -> Result<HttpResponse, Problem> {
    let mut f = Fouten::default();
    let map = match q.map.as_deref() {
        None | Some("inbox") => Map::Inbox,
        Some("outbox") => Map::Outbox,
        Some(_) => {
            f.add("map", "enum", "inbox of outbox.");
            Map::Inbox
        }
    };
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => match Status::parse(s) {
            Some(s) => Some(s),
            None => {
                f.add(
                    "status",
                    "enum",
                    "Een van: ontvangen, in-behandeling, doorverwezen, afgesloten.",
                );
                None
            }
        },
    };
    let aantal = match q.aantal.as_deref() {
        None => PAGE,
        Some(a) => match a.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                f.add("aantal", "range", format!("1 tot en met {MAX_PAGE}."));
                PAGE
            }
        },
    };
    let na = match q.volgende.as_deref() {
        None => None,
        Some(c) => {
            let c = cursor(c);
            if c.is_none() {
                f.add("volgende", "pattern", "Gebruik de waarde van 'volgende'.");
            }
            c
        }
    };
    f.check()?;

    let oin = d.requester.oin.to_string();
    let activiteit = d.activity().id.clone();
    let mut signalen = db
        .run(move |c| {
            opslag::pagina(
                c,
                map,
                &oin,
                &activiteit,
                status.map(Status::as_str),
                na.as_ref(),
                aantal + 1,
            )
        })
        .await
        .map_err(unavailable)?;
    let volgende = if signalen.len() as i64 > aantal {
        signalen.truncate(aantal as usize);
        signalen
            .last()
            .map(|s| format!("{}-{}", s.rij.ontvangen_ms, s.rij.id))
    } else {
        None
    };
    let rol = match map {
        Map::Inbox => Rol::Ontvanger,
        Map::Outbox => Rol::Afzender,
    };
    let gebieden = werkgebied(&d, &db, &signalen).await?;
    signalen.retain(|s| binnen_werkgebied(&d, s, rol, &gebieden).is_ok());

    let registry = arc_swap::Guard::into_inner(organisations.current());
    let mut items: Vec<Value> = signalen.iter().map(|s| weergave(s, &registry)).collect();
    for item in &mut items {
        d.minimise(item);
    }
    let body = json!({
        "map": match map { Map::Inbox => "inbox", Map::Outbox => "outbox" },
        "signalen": items,
        "volgende": volgende,
        // No signals is the absence of signals, not a finding: the store was asked.
        "bronGeraadpleegd": true,
    });
    let fields: Vec<&str> = d.fields().paths().collect();
    let me = d.requester.oin.to_string();
    let provider = match map {
        Map::Outbox => Some(me.as_str()),
        Map::Inbox => verstrekker(&signalen),
    };
    d.respond_provided(&body, provider, &betrokkenen(&signalen), &fields)
        .await
}
