//! `GET /audit/v1/anomalieen?from=&to=`: signals worth a privacy officer's look, within the
//! caller's tenant, per Dutch day of the period (default: the last 7 days; at most 92):
//!
//! - `volume`: an organisation's requests under one activity on one day are more than
//!   `audit.anomaly_volume_factor` times its own median of the 14 days before (days without
//!   requests count as 0) and at least `audit.anomaly_volume_floor`;
//! - `weigeringen`: at least `audit.anomaly_refusals_floor` refused requests of one
//!   organisation on one day, by refusal code;
//! - `buiten-kantooruren`: at least `audit.anomaly_off_hours_floor` requests of one
//!   organisation on one day outside office hours — Monday to Friday 07:00–19:00
//!   Europe/Amsterdam; public holidays are not excepted;
//! - `zaakkenmerk`: one case reference of one organisation naming at least
//!   `audit.anomaly_case_subjects_floor` different persons in the period.
//!
//! Each signal names the organisation, the day (or case reference), the numbers behind it and
//! a link to the records (`records`: a query on `/audit/v1/disclosures`).

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate, Timelike};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde::Deserialize;
use serde_json::{json, Value};

use super::amsterdam::{self, DAY_MS, HOUR_MS};
use super::records::{Kind, Party};
use super::search::period;
use super::sql::Sql;
use super::tenant::Tenant;
use super::token::Auditor;
use super::{encode, invalid, unavailable, Audit};
use crate::disclosure::refusals::DISCLOSURE_ID;
use crate::organisations::Registry;
use crate::problem::Problem;

const BASELINE_DAYS: i64 = 14;
const MAX_DAYS: i64 = 92;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnomalieQuery {
    /// From this instant or Dutch day (default: 7 days before `to`; at most 92 days).
    pub from: Option<String>,
    /// Until this instant or to the end of this Dutch day (default: now).
    pub to: Option<String>,
}

/// A count per (a, b, UTC hour).
#[derive(Debug, QueryableByName)]
struct Bucket {
    #[diesel(sql_type = Nullable<Text>)]
    a: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    b: Option<String>,
    #[diesel(sql_type = BigInt)]
    uur: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[allow(clippy::too_many_arguments)]
fn buckets(
    conn: &mut crate::storage::DbConnection,
    select: &str,
    filter: &str,
    group: &str,
    tenant: &Tenant,
    from: i64,
    to: i64,
    having: Option<i64>,
) -> diesel::QueryResult<Vec<Bucket>> {
    let mut sql = Sql::new(&format!(
        "SELECT {select} FROM disclosure_records WHERE {filter} AND start_time_ms >= "
    ));
    sql.int(from).push(" AND start_time_ms < ").int(to);
    tenant.restrict(&mut sql);
    sql.push(&format!(" GROUP BY {group}"));
    if let Some(min) = having {
        sql.push(" HAVING COUNT(DISTINCT subject_pseudonym) >= ")
            .int(min);
    }
    sql.load(conn)
}

fn day_of(uur: i64) -> NaiveDate {
    amsterdam::local(uur * HOUR_MS).date()
}

fn median(mut v: Vec<i64>) -> f64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

fn records_link(oin: &str, extra: &str, day: Option<NaiveDate>) -> String {
    let mut link = format!("/audit/v1/disclosures?requester={}", encode(oin));
    if let Some(d) = day {
        link.push_str(&format!("&from={d}&to={d}"));
    }
    link.push_str(extra);
    link
}

fn party(oin: &Option<String>, registry: &Registry) -> Value {
    match oin {
        Some(o) => json!(Party::of(o, registry)),
        None => Value::Null,
    }
}

/// Anomaly signals in your tenant: volume, refusals, outside office hours, one case reference for many persons
#[utoipa::path(get, path = "/audit/v1/anomalieen", tag = "audit", params(AnomalieQuery),
    responses((status = 200, description = "`{van, tot, kantooruren, drempels, signalen: [{soort, organisatie, toelichting, records, …}]}`", body = Object)))]
pub async fn anomalieen(
    who: Auditor,
    q: web::Query<AnomalieQuery>,
    audit: web::Data<Audit>,
    req: HttpRequest,
) -> Result<HttpResponse, Problem> {
    let (body, id) = signals(&audit, &who, &req, &q).await?;
    Ok(HttpResponse::Ok()
        .insert_header((DISCLOSURE_ID.clone(), id))
        .json(body))
}

/// The signals `who` asked for with `q`, as the API answers them, recorded as an audit
/// query; and that record's id. The API and the UI both look through here.
pub async fn signals(
    audit: &Audit,
    who: &Auditor,
    req: &HttpRequest,
    q: &AnomalieQuery,
) -> Result<(Value, String), Problem> {
    let (from, to) = period(q.from.as_deref(), q.to.as_deref())?;
    let to = to.unwrap_or_else(crate::disclosure::now_ms);
    let from = from.unwrap_or(to - 7 * DAY_MS);
    if to - from > MAX_DAYS * DAY_MS {
        return Err(invalid("from", "Een periode van hoogstens 92 dagen."));
    }
    if to <= from {
        return Err(invalid("to", "Het einde van de periode ligt na het begin."));
    }
    let first_day = amsterdam::local(from).date();
    let last_day = amsterdam::local(to - 1).date();
    let baseline_from = amsterdam::day_start(first_day - Duration::days(BASELINE_DAYS));
    let tenant = Tenant::of(who);
    let case_floor = audit.settings.anomaly_case_subjects_floor as i64;
    let (requests, refusals, cases) = audit
        .database
        .run(move |conn| {
            let requests = buckets(
                conn,
                "requester_oin AS a, processing_activity_id AS b, start_time_ms / 3600000 AS uur, COUNT(*) AS n",
                Kind::Verstrekking.predicate(),
                "requester_oin, processing_activity_id, start_time_ms / 3600000",
                &tenant,
                baseline_from,
                to,
                None,
            )?;
            let refusals = buckets(
                conn,
                "requester_oin AS a, refusal_code AS b, start_time_ms / 3600000 AS uur, COUNT(*) AS n",
                Kind::Weigering.predicate(),
                "requester_oin, refusal_code, start_time_ms / 3600000",
                &tenant,
                amsterdam::day_start(first_day),
                to,
                None,
            )?;
            let cases = buckets(
                conn,
                "requester_oin AS a, case_reference AS b, CAST(0 AS BIGINT) AS uur, COUNT(DISTINCT subject_pseudonym) AS n",
                "case_reference IS NOT NULL AND subject_pseudonym IS NOT NULL",
                "requester_oin, case_reference",
                &tenant,
                from,
                to,
                Some(case_floor),
            )?;
            Ok((requests, refusals, cases))
        })
        .await
        .map_err(unavailable)?;
    let registry = audit.registry();
    let s = &audit.settings;
    let in_period = |d: NaiveDate| d >= first_day && d <= last_day;
    let mut signalen = Vec::new();
    let mut counted: i64 = 0;

    // Volume: per (organisation, activity), requests per day against the 14 days before.
    let mut per_day: HashMap<(Option<String>, Option<String>), BTreeMap<NaiveDate, i64>> =
        HashMap::new();
    for b in &requests {
        *per_day
            .entry((b.a.clone(), b.b.clone()))
            .or_default()
            .entry(day_of(b.uur))
            .or_default() += b.n;
    }
    for ((oin, activity), days) in &per_day {
        for (&day, &n) in days.range(first_day..=last_day) {
            counted += n;
            let baseline: Vec<i64> = (1..=BASELINE_DAYS)
                .map(|k| *days.get(&(day - Duration::days(k))).unwrap_or(&0))
                .collect();
            let m = median(baseline);
            if n as u64 >= s.anomaly_volume_floor && n as f64 > s.anomaly_volume_factor * m {
                let activity = activity.clone().unwrap_or_default();
                signalen.push(json!({
                    "soort": "volume",
                    "organisatie": party(oin, &registry),
                    "activiteit": activity,
                    "dag": day.to_string(),
                    "aantal": n,
                    "mediaan_14_dagen": m,
                    "toelichting": format!(
                        "{n} verzoeken onder {activity} op {day}, tegen een mediaan van {m} per dag in de 14 dagen ervoor (drempel: meer dan {}× de mediaan en minstens {}).",
                        s.anomaly_volume_factor, s.anomaly_volume_floor
                    ),
                    "records": records_link(oin.as_deref().unwrap_or(""), &format!("&activity={}&kind=verstrekking", encode(&activity)), Some(day)),
                }));
            }
        }
    }

    // Outside office hours: per (organisation, day), by Dutch hour.
    let mut off: BTreeMap<(Option<String>, NaiveDate), BTreeMap<u32, i64>> = BTreeMap::new();
    for b in &requests {
        let start = b.uur * HOUR_MS;
        if start + HOUR_MS <= from || !in_period(day_of(b.uur)) || amsterdam::in_office_hours(start)
        {
            continue;
        }
        *off.entry((b.a.clone(), day_of(b.uur)))
            .or_default()
            .entry(amsterdam::local(start).hour())
            .or_default() += b.n;
    }
    for ((oin, day), hours) in &off {
        let n: i64 = hours.values().sum();
        if n as u64 >= s.anomaly_off_hours_floor {
            let uren: BTreeMap<String, i64> = hours
                .iter()
                .map(|(h, n)| (format!("{h:02}:00-{:02}:00", (h + 1) % 24), *n))
                .collect();
            signalen.push(json!({
                "soort": "buiten-kantooruren",
                "organisatie": party(oin, &registry),
                "dag": day.to_string(),
                "aantal": n,
                "uren": uren,
                "toelichting": format!(
                    "{n} verzoeken op {day} buiten kantooruren (maandag tot en met vrijdag 07:00-19:00, Nederlandse tijd; drempel {}).",
                    s.anomaly_off_hours_floor
                ),
                "records": records_link(oin.as_deref().unwrap_or(""), "&kind=verstrekking", Some(*day)),
            }));
        }
    }

    // Refusals: per (organisation, day), by code.
    let mut refused: BTreeMap<(Option<String>, NaiveDate), BTreeMap<String, i64>> = BTreeMap::new();
    for b in &refusals {
        counted += b.n;
        *refused
            .entry((b.a.clone(), day_of(b.uur)))
            .or_default()
            .entry(b.b.clone().unwrap_or_default())
            .or_default() += b.n;
    }
    for ((oin, day), codes) in &refused {
        let n: i64 = codes.values().sum();
        if n as u64 >= s.anomaly_refusals_floor {
            signalen.push(json!({
                "soort": "weigeringen",
                "organisatie": party(oin, &registry),
                "dag": day.to_string(),
                "aantal": n,
                "codes": codes,
                "toelichting": format!(
                    "{n} geweigerde verzoeken op {day} (drempel {}).",
                    s.anomaly_refusals_floor
                ),
                "records": records_link(oin.as_deref().unwrap_or(""), "&kind=weigering", Some(*day)),
            }));
        }
    }

    // One case reference, many persons.
    for b in &cases {
        counted += b.n;
        let reference = b.b.clone().unwrap_or_default();
        signalen.push(json!({
            "soort": "zaakkenmerk",
            "organisatie": party(&b.a, &registry),
            "zaakkenmerk": reference,
            "personen": b.n,
            "toelichting": format!(
                "Onder één zaakkenmerk zijn in deze periode gegevens over {} verschillende personen opgevraagd (drempel {}).",
                b.n, s.anomaly_case_subjects_floor
            ),
            "records": format!(
                "/audit/v1/disclosures?requester={}&case_reference={}&from={}&to={}",
                encode(b.a.as_deref().unwrap_or("")),
                encode(&reference),
                encode(&amsterdam::rfc3339(from)),
                encode(&amsterdam::rfc3339(to))
            ),
        }));
    }

    let described = format!(
        "from={}&to={}",
        encode(&amsterdam::rfc3339(from)),
        encode(&amsterdam::rfc3339(to))
    );
    let id = audit
        .record(
            who,
            req,
            "anomalieen",
            &described,
            counted.max(0) as u64,
            None,
        )
        .await?;
    Ok((
        json!({
            "van": amsterdam::rfc3339(from),
            "tot": amsterdam::rfc3339(to),
            "kantooruren": "maandag tot en met vrijdag 07:00-19:00 (Europe/Amsterdam)",
            "drempels": {
                "volume_factor": s.anomaly_volume_factor,
                "volume_minimum": s.anomaly_volume_floor,
                "weigeringen_minimum": s.anomaly_refusals_floor,
                "buiten_kantooruren_minimum": s.anomaly_off_hours_floor,
                "zaakkenmerk_personen_minimum": s.anomaly_case_subjects_floor,
            },
            "signalen": signalen,
        }),
        id,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_counts_quiet_days() {
        assert_eq!(median(vec![0, 0, 0, 10]), 0.0);
        assert_eq!(median(vec![3, 1, 2]), 2.0);
        assert_eq!(median(vec![4, 1, 2, 3]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
