//! Local time in the Netherlands (Europe/Amsterdam): CET (UTC+1), and CEST (UTC+2) from the
//! last Sunday of March 01:00 UTC to the last Sunday of October 01:00 UTC, the EU rule in force
//! since 1996. Days in the audit API (`group_by=day`, dates in `from`/`to`, the anomaly
//! signals) and office hours are Dutch days and hours.
//!
//! Both offsets are whole hours and the switches fall on whole UTC hours, so an hour of UTC
//! lies wholly in one local day and one local hour: the audit queries group by UTC hour and
//! fold the hours into local days here.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_of_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("a valid month");
    let last = first_of_next - Duration::days(1);
    last - Duration::days(i64::from(last.weekday().num_days_from_sunday()))
}

fn utc(ms: i64) -> NaiveDateTime {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .naive_utc()
}

/// The offset from UTC at the instant `ms` (milliseconds since the epoch).
pub fn offset_ms(ms: i64) -> i64 {
    let t = utc(ms);
    let year = t.year();
    let start = last_sunday(year, 3).and_hms_opt(1, 0, 0).expect("valid");
    let end = last_sunday(year, 10).and_hms_opt(1, 0, 0).expect("valid");
    if t >= start && t < end {
        2 * HOUR_MS
    } else {
        HOUR_MS
    }
}

/// The Dutch wall-clock time at the instant `ms`.
pub fn local(ms: i64) -> NaiveDateTime {
    utc(ms + offset_ms(ms))
}

/// The instant a Dutch day begins (local midnight is never inside a clock change).
pub fn day_start(day: NaiveDate) -> i64 {
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .expect("valid")
        .and_utc()
        .timestamp_millis();
    let guess = midnight - HOUR_MS;
    midnight - offset_ms(guess)
}

/// RFC 3339 with the Dutch offset, e.g. `2026-11-24T10:15:00.123+01:00`.
pub fn rfc3339(ms: i64) -> String {
    let offset = offset_ms(ms);
    format!(
        "{}+{:02}:00",
        local(ms).format("%Y-%m-%dT%H:%M:%S%.3f"),
        offset / HOUR_MS
    )
}

/// Office hours: Monday to Friday, 07:00 to 19:00 Dutch time (public holidays not excepted).
pub fn in_office_hours(ms: i64) -> bool {
    let t = local(ms);
    let weekday = !matches!(t.weekday(), Weekday::Sat | Weekday::Sun);
    weekday && (7..19).contains(&t.hour())
}

/// A bound of a period from a request: an RFC 3339 instant, or a date (a Dutch day: `from`
/// starts at its beginning, `to` includes it whole). `None` when it is neither.
pub fn parse_bound(s: &str, is_end: bool) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    if is_end {
        Some(day_start(day.succ_opt()?))
    } else {
        Some(day_start(day))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn the_clock_changes_on_the_last_sundays_of_march_and_october() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(offset_ms(ms("2026-03-29T00:59:59Z")), HOUR_MS);
        assert_eq!(offset_ms(ms("2026-03-29T01:00:00Z")), 2 * HOUR_MS);
        assert_eq!(offset_ms(ms("2026-10-25T00:59:59Z")), 2 * HOUR_MS);
        assert_eq!(offset_ms(ms("2026-10-25T01:00:00Z")), HOUR_MS);
        assert_eq!(
            local(ms("2026-07-01T12:00:00Z")).to_string(),
            "2026-07-01 14:00:00"
        );
        assert_eq!(
            rfc3339(ms("2026-11-24T09:30:00Z")),
            "2026-11-24T10:30:00.000+01:00"
        );
    }

    #[test]
    fn dutch_days_begin_at_local_midnight() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(day_start(d("2026-11-24")), ms("2026-11-23T23:00:00Z"));
        assert_eq!(day_start(d("2026-07-01")), ms("2026-06-30T22:00:00Z"));
        // The day of the switch to summer time has 23 hours.
        assert_eq!(
            day_start(d("2026-03-30")) - day_start(d("2026-03-29")),
            23 * HOUR_MS
        );
        assert_eq!(
            parse_bound("2026-11-24", true),
            Some(ms("2026-11-24T23:00:00Z"))
        );
        assert_eq!(
            parse_bound("2026-11-24T10:00:00+01:00", false),
            Some(ms("2026-11-24T09:00:00Z"))
        );
        assert_eq!(parse_bound("24-11-2026", false), None);
    }

    #[test]
    fn office_hours_are_weekdays_seven_to_seven() {
        // Tuesday 24 November 2026.
        assert!(in_office_hours(ms("2026-11-24T07:00:00+01:00")));
        assert!(in_office_hours(ms("2026-11-24T18:59:59+01:00")));
        assert!(!in_office_hours(ms("2026-11-24T19:00:00+01:00")));
        assert!(!in_office_hours(ms("2026-11-24T06:59:59+01:00")));
        // Saturday.
        assert!(!in_office_hours(ms("2026-11-28T12:00:00+01:00")));
        // Summer: 06:30 UTC is 08:30 in Amsterdam.
        assert!(in_office_hours(ms("2026-07-01T06:30:00Z")));
    }
}
