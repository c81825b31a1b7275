//! `GET /audit/v1/export?from=&to=`: every record of the caller's tenant in a period, oldest
//! first, as NDJSON (one record per line, the shape of `/audit/v1/disclosures`), streamed.
//!
//! Memory stays constant whatever the size: a thread of its own reads keyset pages of
//! `PAGE` records and hands each page, serialised, to the response through a channel of a few
//! chunks; when the client reads slowly, the reading waits. The whole export reads one
//! snapshot (one read-only transaction, REPEATABLE READ on PostgreSQL), so the number of
//! records in its audit record (also in `X-Record-Count`) is the number of lines sent, and
//! records committed meanwhile are not half in it.

use std::sync::Arc;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::sql_types::BigInt;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::records::{Key, RecordView};
use super::search::{page, period, Filter, Order};
use super::sql::Sql;
use super::tenant::Tenant;
use super::token::Auditor;
use super::{unavailable, Audit};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::organisations::Registry;
use crate::problem::Problem;
use crate::storage::{Database, DbConnection};

/// Records per page read (and per chunk sent).
const PAGE: usize = 2_000;
/// Chunks waiting for the client at most.
const CHUNKS: usize = 4;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// From this instant (RFC 3339) or the start of this Dutch day.
    from: Option<String>,
    /// Until this instant, or to the end of this Dutch day.
    to: Option<String>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

type Chunk = Result<Bytes, std::io::Error>;

/// Every record of your tenant in a period, oldest first, as NDJSON (streamed)
#[utoipa::path(get, path = "/audit/v1/export", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "One record per line, the shape of /audit/v1/disclosures; X-Record-Count is the number of lines", content_type = "application/x-ndjson", body = String)))]
pub async fn export(
    who: Auditor,
    q: web::Query<ExportQuery>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let (from_ms, to_ms) = period(q.from.as_deref(), q.to.as_deref())?;
    let filter = Filter {
        from_ms,
        to_ms,
        ..Filter::default()
    };
    let (counted, count) = oneshot::channel::<Result<i64, String>>();
    let (go, start) = oneshot::channel::<()>();
    let (chunks, body) = mpsc::channel::<Chunk>(CHUNKS);
    let (db, registry, tenant, f) = (
        audit.database.clone(),
        audit.registry(),
        Tenant::of(&who),
        filter.clone(),
    );
    tokio::task::spawn_blocking(move || {
        if let Err(e) = read(&db, &tenant, &f, &registry, counted, start, &chunks) {
            tracing::error!(error = %e, "the export stopped: the client gets a truncated body");
            let _ = chunks.blocking_send(Err(std::io::Error::other("export failed")));
        }
    });
    let n = count.await.map_err(unavailable)?.map_err(unavailable)?;
    // The records are counted; the answer starts only once its audit record is committed.
    let id = audit
        .record(&who, &req, "export", &filter.describe(), n as u64, None)
        .await?;
    let _ = go.send(());
    let stream = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|chunk| (chunk, body))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((DISCLOSURE_ID.clone(), id))
        .insert_header(("x-record-count", n.to_string()))
        .streaming(stream))
}

/// In one snapshot: counts, waits for `start`, then sends every page.
fn read(
    db: &Database,
    tenant: &Tenant,
    filter: &Filter,
    registry: &Arc<Registry>,
    counted: oneshot::Sender<Result<i64, String>>,
    start: oneshot::Receiver<()>,
    chunks: &mpsc::Sender<Chunk>,
) -> Result<(), diesel::result::Error> {
    let mut conn = match db.checkout() {
        Ok(c) => c,
        Err(e) => {
            let _ = counted.send(Err(e.to_string()));
            return Ok(());
        }
    };
    let mut counted = Some(counted);
    let conn: &mut DbConnection = &mut conn;
    let result = conn.transaction::<_, diesel::result::Error, _>(|c: &mut DbConnection| {
        if let DbConnection::Postgresql(pg) = c {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(pg)?;
        }
        let mut sql = Sql::new("SELECT COUNT(*) AS n FROM disclosure_records WHERE 1 = 1");
        filter.apply(&mut sql);
        tenant.restrict(&mut sql);
        let n = sql.load::<Count>(c)?.first().map_or(0, |c| c.n);
        if counted.take().expect("once").send(Ok(n)).is_err() || start.blocking_recv().is_err() {
            return Ok(()); // the request ended (or its audit record failed): nothing to send
        }
        let mut after: Option<Key> = None;
        loop {
            let rows = page(c, tenant, filter, after.as_ref(), PAGE, Order::OldestFirst)?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = Some(last.key());
            let full = rows.len() == PAGE;
            let mut chunk = Vec::with_capacity(rows.len() * 640);
            for r in rows {
                serde_json::to_writer(&mut chunk, &RecordView::new(r, registry))
                    .expect("a record serialises");
                chunk.push(b'\n');
            }
            if chunks.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                return Ok(()); // the client went away
            }
            if !full {
                return Ok(());
            }
        }
    });
    if let Some(counted) = counted {
        if let Err(e) = &result {
            let _ = counted.send(Err(e.to_string()));
        }
    }
    result
}
