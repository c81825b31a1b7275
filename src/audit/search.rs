//! `GET /audit/v1/disclosures`: the records of the caller's tenant, newest first, filtered,
//! paged with a keyset cursor.
//!
//! Order and cursor: (start_time_ms, instance_id, seq) descending — the start of the
//! processing, then the record's place in its instance's chain, which makes the order total.
//! `volgende` is the position of a page's last record; the next page is everything strictly
//! after it. Records committed while someone pages (they start later, so they sort before
//! the first page) never shift a page, nor appear twice; every record present when paging
//! began is on exactly one page.

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::QueryResult;
use serde::Deserialize;
use serde_json::json;

use super::amsterdam;
use super::records::{Key, Kind, RecordView, Row, COLUMNS};
use super::sql::Sql;
use super::tenant::Tenant;
use super::token::Auditor;
use super::{invalid, unavailable, Audit};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::domain::Oin;
use crate::organisations::Registry;
use crate::problem::Problem;
use crate::storage::DbConnection;

pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// The query parameters of a search; the names are the API's (and the UI form's).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DisclosureQuery {
    /// From this instant (RFC 3339) or the start of this Dutch day (2026-11-24).
    pub from: Option<String>,
    /// Until this instant, or to the end of this Dutch day.
    pub to: Option<String>,
    /// The requesting organisation: an OIN or an alias (gemeente-0363, nla).
    pub requester: Option<String>,
    /// The providing organisation: an OIN or an alias (rvig).
    pub provider: Option<String>,
    /// A processing activity id (rni-adresoverzicht).
    pub activity: Option<String>,
    /// OK, ERROR or UNKNOWN.
    pub status: Option<String>,
    /// A refusal's problem code (notPermitted, outOfScope, …).
    pub refusal_code: Option<String>,
    /// The requester's case reference.
    pub case_reference: Option<String>,
    /// verstrekking, persoon, weigering or raadpleging.
    pub kind: Option<String>,
    /// The `volgende` of the previous page.
    pub cursor: Option<String>,
    /// Records per page, 1–1000 (100).
    pub limit: Option<String>,
}

/// What a request filters on, checked. Each value becomes a bound parameter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub requester: Option<String>,
    pub provider: Option<String>,
    pub activity: Option<String>,
    pub status: Option<String>,
    pub refusal_code: Option<String>,
    pub case_reference: Option<String>,
    pub kind: Option<Kind>,
}

/// `from` (inclusive) and `to` (exclusive; a date includes its whole day).
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<(Option<i64>, Option<i64>), Problem> {
    let reason =
        "Een tijdstip volgens RFC 3339 (2026-11-24T10:00:00+01:00) of een datum (2026-11-24).";
    let from = from
        .map(|s| amsterdam::parse_bound(s, false).ok_or_else(|| invalid("from", reason)))
        .transpose()?;
    let to = to
        .map(|s| amsterdam::parse_bound(s, true).ok_or_else(|| invalid("to", reason)))
        .transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(invalid("to", "Het einde van de periode ligt na het begin."));
        }
    }
    Ok((from, to))
}

/// An organisation named by OIN or by alias (`gemeente-0599`, `nla`). An OIN the registry no
/// longer knows is still a valid filter: its records stay in the log.
fn organisation(name: &str, value: &str, registry: &Registry) -> Result<String, Problem> {
    if let Some(org) = registry.find(value) {
        return Ok(org.oin.to_string());
    }
    Oin::parse(value).map(|o| o.to_string()).map_err(|_| {
        invalid(
            name,
            "Een OIN (20 cijfers) of de naam van een organisatie (gemeente-0363).",
        )
    })
}

fn token(name: &str, value: &str, max: usize, reason: &str) -> Result<String, Problem> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| value.to_owned())
        .ok_or_else(|| invalid(name, reason))
}

impl Filter {
    pub fn parse(q: &DisclosureQuery, registry: &Registry) -> Result<Filter, Problem> {
        let (from_ms, to_ms) = period(q.from.as_deref(), q.to.as_deref())?;
        let status = q
            .status
            .as_deref()
            .map(|s| match s {
                "OK" | "ERROR" | "UNKNOWN" => Ok(s.to_owned()),
                _ => Err(invalid("status", "OK, ERROR of UNKNOWN.")),
            })
            .transpose()?;
        let case_reference = q
            .case_reference
            .as_deref()
            .map(|c| {
                let ok = !c.is_empty() && c.len() <= 128 && !c.chars().any(char::is_control);
                ok.then(|| c.to_owned())
                    .ok_or_else(|| invalid("case_reference", "1 tot 128 tekens, geen stuurtekens."))
            })
            .transpose()?;
        Ok(Filter {
            from_ms,
            to_ms,
            requester: q
                .requester
                .as_deref()
                .map(|v| organisation("requester", v, registry))
                .transpose()?,
            provider: q
                .provider
                .as_deref()
                .map(|v| organisation("provider", v, registry))
                .transpose()?,
            activity: q
                .activity
                .as_deref()
                .map(|v| token("activity", v, 64, "Het id van een verwerkingsactiviteit."))
                .transpose()?,
            status,
            refusal_code: q
                .refusal_code
                .as_deref()
                .map(|v| token("refusal_code", v, 64, "Een foutcode, zoals notPermitted."))
                .transpose()?,
            case_reference,
            kind: q
                .kind
                .as_deref()
                .map(|k| {
                    Kind::parse(k).ok_or_else(|| {
                        invalid("kind", "verstrekking, persoon, weigering of raadpleging.")
                    })
                })
                .transpose()?,
        })
    }

    /// ` AND …` for each filter given.
    pub fn apply(&self, sql: &mut Sql) {
        if let Some(v) = self.from_ms {
            sql.push(" AND start_time_ms >= ").int(v);
        }
        if let Some(v) = self.to_ms {
            sql.push(" AND start_time_ms < ").int(v);
        }
        let text = [
            ("requester_oin", &self.requester),
            ("provider_oin", &self.provider),
            ("processing_activity_id", &self.activity),
            ("status", &self.status),
            ("refusal_code", &self.refusal_code),
            ("case_reference", &self.case_reference),
        ];
        for (column, value) in text {
            if let Some(v) = value {
                sql.push(" AND ").push(column).push(" = ").text(v.clone());
            }
        }
        if let Some(k) = self.kind {
            sql.push(" AND ").push(k.predicate());
        }
    }

    /// The filter as a canonical query string, for the audit record of the query.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                parts.push(format!("{k}={}", super::encode(&v)));
            }
        };
        put("from", self.from_ms.map(amsterdam::rfc3339));
        put("to", self.to_ms.map(amsterdam::rfc3339));
        put("requester", self.requester.clone());
        put("provider", self.provider.clone());
        put("activity", self.activity.clone());
        put("status", self.status.clone());
        put("refusal_code", self.refusal_code.clone());
        put("case_reference", self.case_reference.clone());
        put("kind", self.kind.map(|k| k.as_str().to_owned()));
        parts.join("&")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    NewestFirst,
    OldestFirst,
}

/// Up to `limit` records of `tenant` matching `filter`, strictly after `after` in `order`.
pub fn page(
    conn: &mut DbConnection,
    tenant: &Tenant,
    filter: &Filter,
    after: Option<&Key>,
    limit: usize,
    order: Order,
) -> QueryResult<Vec<Row>> {
    let (dir, cmp, bound) = match order {
        Order::NewestFirst => ("DESC", "<", "<="),
        Order::OldestFirst => ("ASC", ">", ">="),
    };
    let order_by = format!(" ORDER BY start_time_ms {dir}, instance_id {dir}, seq {dir} LIMIT ");
    let mut sql = Sql::default();
    for (i, branch) in tenant.branches().iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!(
            "SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM disclosure_records WHERE "
        ))
        .append(branch);
        filter.apply(&mut sql);
        if let Some(k) = after {
            // The first comparison alone lets the time index bound the scan.
            sql.push(&format!(" AND start_time_ms {bound} "))
                .int(k.start_time_ms)
                .push(&format!(" AND (start_time_ms {cmp} "))
                .int(k.start_time_ms)
                .push(" OR (start_time_ms = ")
                .int(k.start_time_ms)
                .push(&format!(" AND (instance_id {cmp} "))
                .text(k.instance_id.clone())
                .push(" OR (instance_id = ")
                .text(k.instance_id.clone())
                .push(&format!(" AND seq {cmp} "))
                .int(k.seq)
                .push("))))");
        }
        sql.push(&order_by)
            .int(limit as i64)
            .push(&format!(") part{i}"));
    }
    sql.push(&order_by).int(limit as i64);
    let rows: Vec<Row> = sql.load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|r| {
            let ok = tenant.admits(r);
            if !ok {
                tracing::error!("an audit query returned a record outside the tenant; dropped");
            }
            ok
        })
        .collect())
}

/// A page of records, as the audit user may see it, and the id of the audit record of the
/// query that made it.
pub struct Page {
    pub records: Vec<RecordView>,
    /// The `cursor` of the next page, if there is one.
    pub volgende: Option<String>,
    pub id: String,
}

/// The records `who` asked for with `q` (filter, cursor, limit): checked, read within the
/// tenant and recorded as an audit query. The API and the UI both search through here.
pub async fn search(
    audit: &Audit,
    who: &Auditor,
    req: &HttpRequest,
    q: &DisclosureQuery,
) -> Result<Page, Problem> {
    let registry = audit.organisations.current().clone();
    let filter = Filter::parse(q, &registry)?;
    let cursor = q
        .cursor
        .as_deref()
        .map(|c| {
            Key::parse(c).ok_or_else(|| invalid("cursor", "Gebruik de waarde van 'volgende'."))
        })
        .transpose()?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| invalid("limit", "1 tot en met 1000."))?,
    };
    let tenant = Tenant::of(who);
    let (f, c) = (filter.clone(), cursor.clone());
    let mut rows = audit
        .database
        .run(move |conn| page(conn, &tenant, &f, c.as_ref(), limit + 1, Order::NewestFirst))
        .await
        .map_err(unavailable)?;
    let volgende = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        rows.last().expect("a full page").key().to_cursor()
    });
    let mut described = filter.describe();
    if let Some(c) = &cursor {
        described.push_str(&format!("&cursor={}", super::encode(&c.to_cursor())));
    }
    let id = audit
        .record(who, req, "disclosures", &described, rows.len() as u64, None)
        .await?;
    let records = rows
        .into_iter()
        .map(|r| RecordView::new(r, &registry))
        .collect();
    Ok(Page {
        records,
        volgende,
        id,
    })
}

/// Disclosure-log records of your tenant, newest first, filtered, keyset-paged
#[utoipa::path(get, path = "/audit/v1/disclosures", tag = "audit", params(DisclosureQuery),
    responses((status = 200, description = "`{records: [...], volgende: cursor or null}`: records with the Logboek Dataverwerkingen field names (never a BSN)", body = Object)))]
pub async fn disclosures(
    who: Auditor,
    q: web::Query<DisclosureQuery>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let page = search(&audit, &who, &req, &q).await?;
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), page.id))
        .json(json!({ "records": page.records, "volgende": page.volgende })))
}
