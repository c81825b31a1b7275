//! `GET /audit/v1/stats?from=&to=&group_by=activity|requester|day`: how many records the
//! caller's tenant has in a period, per activity, requesting organisation or Dutch day.
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupBy {
    Activity,
    Requester,
    Day,
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

/// `GET /audit/v1/stats`
pub async fn stats(
    who: Auditor,
    q: web::Query<StatsQuery>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let group_by = match q.group_by.as_deref().unwrap_or("activity") {
        "activity" => GroupBy::Activity,
        "requester" => GroupBy::Requester,
        "day" => GroupBy::Day,
        _ => return Err(invalid("group_by", "activity, requester of day.")),
    };
    let tenant = Tenant::of(&who);
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
    let mut by_key: BTreeMap<Option<String>, Counts> = BTreeMap::new();
    let mut totaal = Counts::default();
    for g in &groups {
        let key = match group_by {
            GroupBy::Day => Some(amsterdam::local(g.uur * HOUR_MS).date().to_string()),
            _ => g.sleutel.clone(),
        };
        by_key.entry(key).or_default().add(g);
    }
    let groepen: Vec<serde_json::Value> = by_key
        .iter()
        .map(|(key, counts)| {
            totaal.plus(counts);
            let naam = match (group_by, key) {
                (GroupBy::Requester, Some(oin)) => registry.find(oin).map(|o| o.name.clone()),
                _ => None,
            };
            let mut v = serde_json::to_value(counts).expect("serialisable");
            v["sleutel"] = json!(key);
            if group_by == GroupBy::Requester {
                v["naam"] = json!(naam);
            }
            v
        })
        .collect();
    let described = format!(
        "group_by={}{}{}",
        q.group_by.as_deref().unwrap_or("activity"),
        from.map(|f| format!("&from={}", super::encode(&amsterdam::rfc3339(f))))
            .unwrap_or_default(),
        to.map(|t| format!("&to={}", super::encode(&amsterdam::rfc3339(t))))
            .unwrap_or_default(),
    );
    let id = audit
        .record(&who, &req, "stats", &described, totaal.records as u64, None)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), id))
        .json(json!({
            "van": from.map(amsterdam::rfc3339),
            "tot": to.map(amsterdam::rfc3339),
            "group_by": q.group_by.as_deref().unwrap_or("activity"),
            "groepen": groepen,
            "totaal": totaal,
        })))
}
