//! `GET /audit/v1/stats?from=&to=&group_by=activity|requester|day|day-activity`: how many
//! records the caller's tenant has in a period, per activity, requesting organisation, Dutch
//! day, or Dutch day and activity (the UI's timeline).
//!
//! Every record falls in exactly one of four kinds, so that the kinds add up to `records`:
//! `verstrekkingen` (a request that disclosed data: the record naming how many persons),
//! `personen` (one record per person disclosed, under such a request), `weigeringen`
//! (refused requests) and `raadplegingen` (audit queries like this one).

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::amsterdam::{self, HOUR_MS};
use super::records::Kind;
use super::search::period;
use super::sql::Sql;
use super::tenant::Tenant;
use super::token::Auditor;
use super::{invalid, unavailable, Audit};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::problem::Problem;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// From this instant (RFC 3339) or the start of this Dutch day.
    pub from: Option<String>,
    /// Until this instant, or to the end of this Dutch day.
    pub to: Option<String>,
    /// activity (default), requester, day or day-activity.
    pub group_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Activity,
    Requester,
    Day,
    /// Per Dutch day, and within it per activity.
    DayActivity,
}

#[derive(Debug, QueryableByName)]
struct Group {
    #[diesel(sql_type = Nullable<Text>)]
    sleutel: Option<String>,
    #[diesel(sql_type = BigInt)]
    uur: i64,
    #[diesel(sql_type = BigInt)]
    records: i64,
    #[diesel(sql_type = BigInt)]
    personen: i64,
    #[diesel(sql_type = BigInt)]
    weigeringen: i64,
    #[diesel(sql_type = BigInt)]
    raadplegingen: i64,
}

/// The counts of one group.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub records: i64,
    pub verstrekkingen: i64,
    pub personen: i64,
    pub weigeringen: i64,
    pub raadplegingen: i64,
}

impl Counts {
    fn add(&mut self, g: &Group) {
        self.records += g.records;
        self.personen += g.personen;
        self.weigeringen += g.weigeringen;
        self.raadplegingen += g.raadplegingen;
        self.verstrekkingen += g.records - g.personen - g.weigeringen - g.raadplegingen;
    }

    fn plus(&mut self, o: &Counts) {
        self.records += o.records;
        self.verstrekkingen += o.verstrekkingen;
        self.personen += o.personen;
        self.weigeringen += o.weigeringen;
        self.raadplegingen += o.raadplegingen;
    }
}

/// The kinds of record, as sums over a group.
fn kinds() -> String {
    let sum = |k: Kind| format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", k.predicate());
    format!(
        "COUNT(*) AS records, {} AS personen, {} AS weigeringen, {} AS raadplegingen",
        sum(Kind::Persoon),
        sum(Kind::Weigering),
        sum(Kind::Raadpleging)
    )
}

/// The counts `who` asked for with `q`, as the API answers them (`van`, `tot`, `group_by`,
/// `groepen`, `totaal`), recorded as an audit query; and that record's id. The API and the UI
/// both count through here.
pub async fn count(
    audit: &Audit,
    who: &Auditor,
    req: &HttpRequest,
    q: &StatsQuery,
) -> Result<(serde_json::Value, String), Problem> {
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let group_by = match q.group_by.as_deref().unwrap_or("activity") {
        "activity" => GroupBy::Activity,
        "requester" => GroupBy::Requester,
        "day" => GroupBy::Day,
        "day-activity" => GroupBy::DayActivity,
        _ => {
            return Err(invalid(
                "group_by",
                "activity, requester, day of day-activity.",
            ))
        }
    };
    let tenant = Tenant::of(who);
    let groups: Vec<Group> = audit
        .database
        .run(move |conn| {
            let (key, by) = match group_by {
                GroupBy::Activity => (
                    "processing_activity_id AS sleutel, CAST(0 AS BIGINT) AS uur",
                    "processing_activity_id",
                ),
                GroupBy::Requester => (
                    "requester_oin AS sleutel, CAST(0 AS BIGINT) AS uur",
                    "requester_oin",
                ),
                // Hours, folded into Dutch days below.
                GroupBy::Day => (
                    "CAST(NULL AS TEXT) AS sleutel, start_time_ms / 3600000 AS uur",
                    "start_time_ms / 3600000",
                ),
                GroupBy::DayActivity => (
                    "processing_activity_id AS sleutel, start_time_ms / 3600000 AS uur",
                    "processing_activity_id, start_time_ms / 3600000",
                ),
            };
            let mut sql = Sql::new(&format!(
                "SELECT {key}, {} FROM disclosure_records WHERE 1 = 1",
                kinds()
            ));
            if let Some(f) = from {
                sql.push(" AND start_time_ms >= ").int(f);
            }
            if let Some(t) = to {
                sql.push(" AND start_time_ms < ").int(t);
            }
            tenant.restrict(&mut sql);
            sql.push(&format!(" GROUP BY {by}"));
            sql.load(conn)
        })
        .await
        .map_err(unavailable)?;
    let registry = audit.registry();
    // (group, activity within a day)
    let mut by_key: BTreeMap<(Option<String>, Option<String>), Counts> = BTreeMap::new();
    let mut totaal = Counts::default();
    for g in &groups {
        let day = || Some(amsterdam::local(g.uur * HOUR_MS).date().to_string());
        let key = match group_by {
            GroupBy::Day => (day(), None),
            GroupBy::DayActivity => (day(), g.sleutel.clone()),
            _ => (g.sleutel.clone(), None),
        };
        by_key.entry(key).or_default().add(g);
    }
    let groepen: Vec<serde_json::Value> = by_key
        .iter()
        .map(|((key, activity), counts)| {
            totaal.plus(counts);
            let mut v = serde_json::to_value(counts).expect("serialisable");
            v["sleutel"] = json!(key);
            match group_by {
                GroupBy::Requester => {
                    v["naam"] = json!(key
                        .as_deref()
                        .and_then(|oin| registry.find(oin))
                        .map(|o| o.name.clone()));
                }
                GroupBy::DayActivity => v["activiteit"] = json!(activity),
                _ => {}
            }
            v
        })
        .collect();
    let group_name = q.group_by.as_deref().unwrap_or("activity");
    let described = format!(
        "group_by={group_name}{}{}",
        from.map(|f| format!("&from={}", super::encode(&amsterdam::rfc3339(f))))
            .unwrap_or_default(),
        to.map(|t| format!("&to={}", super::encode(&amsterdam::rfc3339(t))))
            .unwrap_or_default(),
    );
    let id = audit
        .record(who, req, "stats", &described, totaal.records as u64, None)
        .await?;
    Ok((
        json!({
            "van": from.map(amsterdam::rfc3339),
            "tot": to.map(amsterdam::rfc3339),
            "group_by": group_name,
            "groepen": groepen,
            "totaal": totaal,
        }),
        id,
    ))
}

/// Counts of your tenant's records per activity, requester, Dutch day, or day and activity
#[utoipa::path(get, path = "/audit/v1/stats", tag = "audit", params(StatsQuery),
    responses((status = 200, description = "`{van, tot, group_by, groepen: [{sleutel, records, verstrekkingen, personen, weigeringen, raadplegingen}], totaal}`", body = Object)))]
pub async fn stats(
    who: Auditor,
    q: web::Query<StatsQuery>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let (body, id) = count(&audit, &who, &req, &q).await?;
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), id))
        .json(body))
}
