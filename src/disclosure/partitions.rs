//! On PostgreSQL the log is partitioned by month of `start_time_ms` (UTC), each month by
//! instance: one leaf table per (month, instance), listed in `disclosure_partitions`
//! (migration `…_fleet_log_partitions`). A record can only be written once its leaf exists, so
//! the writer makes the leaves of the months it writes, and this month's and the next one's
//! ahead of time; a purge drops a whole leaf once every record in it may go. SQLite keeps one
//! table and none of this applies.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{Datelike, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::PgConnection;

/// The first millisecond of the UTC month holding `ms`.
pub fn month_start(ms: i64) -> i64 {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now);
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .expect("the first of a month exists")
        .timestamp_millis()
}

/// The first millisecond of the UTC month after the one holding `ms`.
pub fn next_month_start(ms: i64) -> i64 {
    // 32 days past a month's first day is always in the next month.
    month_start(month_start(ms) + 32 * 86_400_000)
}

/// Makes `instance`'s leaf (and its month) for each month that `times` fall in, if missing.
pub fn ensure(
    conn: &mut PgConnection,
    instance: &str,
    times: impl IntoIterator<Item = i64>,
) -> QueryResult<()> {
    let months: BTreeSet<i64> = times.into_iter().map(month_start).collect();
    for month in months {
        diesel::sql_query("SELECT doelpoort_log_partition($1, $2)")
            .bind::<Text, _>(instance)
            .bind::<BigInt, _>(month)
            .execute(conn)?;
    }
    Ok(())
}

/// Makes `instance`'s leaves for every month from `from_ms` to `to_ms` (both included): for
/// records loaded in bulk, past the writer.
pub fn ensure_span(
    conn: &mut PgConnection,
    instance: &str,
    from_ms: i64,
    to_ms: i64,
) -> QueryResult<()> {
    let months = std::iter::successors(Some(month_start(from_ms)), |&m| {
        Some(next_month_start(m)).filter(|&n| n <= to_ms)
    });
    ensure(conn, instance, months.collect::<Vec<_>>())
}

/// The writer's memory of the leaves it made sure of.
#[derive(Debug, Default)]
pub struct Months {
    ensured: BTreeSet<i64>,
    /// When making next month's leaf ahead last failed (it is retried a minute later).
    ahead_failed: Option<Instant>,
}

impl Months {
    /// Makes sure of the leaves for `times` (an error means these records cannot be written)
    /// and, best effort, of this month's and the next month's (a failure there is logged
    /// and retried a minute later; the month has a month to go).
    pub fn ensure(
        &mut self,
        conn: &mut PgConnection,
        instance: &str,
        times: impl IntoIterator<Item = i64>,
        now_ms: i64,
    ) -> QueryResult<()> {
        let needed: BTreeSet<i64> = times
            .into_iter()
            .map(month_start)
            .filter(|m| !self.ensured.contains(m))
            .collect();
        ensure(conn, instance, needed.iter().copied())?;
        self.ensured.extend(needed);
        let ahead = [month_start(now_ms), next_month_start(now_ms)];
        let retry = self
            .ahead_failed
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if retry && ahead.iter().any(|m| !self.ensured.contains(m)) {
            match ensure(conn, instance, ahead) {
                Ok(()) => {
                    self.ensured.extend(ahead);
                    self.ahead_failed = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the disclosure log's partitions for this and next month could not be made yet; retrying in a minute");
                    self.ahead_failed = Some(Instant::now());
                }
            }
        }
        Ok(())
    }
}

/// One leaf of `instance`'s records.
#[derive(Debug, Clone, QueryableByName)]
pub struct Leaf {
    #[diesel(sql_type = Text)]
    pub table_name: String,
    #[diesel(sql_type = BigInt)]
    pub month_start_ms: i64,
    #[diesel(sql_type = BigInt)]
    pub month_end_ms: i64,
}

/// `instance`'s leaves, oldest month first.
pub fn leaves(conn: &mut PgConnection, instance: &str) -> QueryResult<Vec<Leaf>> {
    diesel::sql_query(
        "SELECT table_name, month_start_ms, month_end_ms FROM disclosure_partitions \
         WHERE instance_id = $1 ORDER BY month_start_ms",
    )
    .bind::<Text, _>(instance)
    .load(conn)
}

#[derive(QueryableByName)]
struct Max {
    #[diesel(sql_type = Nullable<BigInt>)]
    max: Option<i64>,
}

#[derive(QueryableByName)]
struct Dropped {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The highest sequence number in `leaf` (`None`: empty).
pub fn last_seq(conn: &mut PgConnection, leaf: &Leaf) -> QueryResult<Option<i64>> {
    // The name comes from disclosure_partitions, which only the migration's functions write.
    let q = format!(
        "SELECT max(seq) AS max FROM \"{}\"",
        leaf.table_name.replace('"', "")
    );
    Ok(diesel::sql_query(q).get_result::<Max>(conn)?.max)
}

/// Drops `leaf` (the database refuses if any record in it is not past retention by its own
/// clock); returns the records it held.
pub fn drop_leaf(conn: &mut PgConnection, leaf: &Leaf) -> QueryResult<u64> {
    let d: Dropped = diesel::sql_query("SELECT doelpoort_drop_log_partition($1) AS n")
        .bind::<Text, _>(&leaf.table_name)
        .get_result(conn)?;
    Ok(d.n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        let ms = |y, m, d, h| {
            Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(month_start(ms(2026, 12, 31, 23)), ms(2026, 12, 1, 0));
        assert_eq!(next_month_start(ms(2026, 12, 31, 23)), ms(2027, 1, 1, 0));
        assert_eq!(next_month_start(ms(2027, 1, 31, 0)), ms(2027, 2, 1, 0));
        assert_eq!(next_month_start(ms(2028, 2, 29, 0)), ms(2028, 3, 1, 0));
        assert_eq!(month_start(ms(2027, 3, 1, 0)), ms(2027, 3, 1, 0));
    }
}
