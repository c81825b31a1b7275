//! The gateway's JSON log lines, written straight into the line as the fields come.
//!
//! One line per event: `{"timestamp":…,"level":…,"target":…,"fields":{…},"span":{"name":…,…}}`,
//! with the fields of the current span (the request's id, route, requester, activity, …).
//! tracing-subscriber's own JSON format keeps a span's fields as a JSON object in a string,
//! parses and re-writes it on every `Span::record` and parses it again for every line. Here a
//! span keeps its fields as ready-made JSON members (`,"name":value` each); recording a field
//! appends one, and a line copies them as they are. Request logging as a whole cost about 7%
//! of the gateway's CPU per overview request; this took about 1.5 points of it off
//! (bench/RESULTS.md, "Where a request's CPU goes").

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Fields as JSON members, each as `,"name":value`: how spans keep theirs.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonMembers;

impl<'w> FormatFields<'w> for JsonMembers {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut members = Members::new(&mut writer, false);
        fields.record(&mut members);
        members.result
    }

    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

/// One JSON object per line, with the current span's members.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonLine;

impl<S> FormatEvent<S, JsonMembers> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        write!(
            w,
            "{{\"timestamp\":\"{now}\",\"level\":\"{}\",\"target\":",
            meta.level()
        )?;
        string(&mut w, meta.target())?;
        w.write_str(",\"fields\":{")?;
        let mut members = Members::new(&mut w, true);
        event.record(&mut members);
        members.result?;
        w.write_char('}')?;
        if let Some(span) = ctx.lookup_current() {
            w.write_str(",\"span\":{\"name\":")?;
            string(&mut w, span.name())?;
            if let Some(fields) = span.extensions().get::<FormattedFields<JsonMembers>>() {
                w.write_str(fields)?;
            }
            w.write_char('}')?;
        }
        w.write_str("}\n")
    }
}

/// Writes each field it is shown as a JSON member.
struct Members<'a, 'w> {
    out: &'a mut Writer<'w>,
    /// No comma before the next member (the first of an object).
    first: bool,
    result: fmt::Result,
}

impl<'a, 'w> Members<'a, 'w> {
    fn new(out: &'a mut Writer<'w>, first: bool) -> Self {
        Members {
            out,
            first,
            result: Ok(()),
        }
    }

    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'w>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let out = &mut *self.out;
        self.result = (|| {
            if !std::mem::take(&mut self.first) {
                out.write_char(',')?;
            }
            string(out, field.name())?;
            out.write_char(':')?;
            value(out)
        })();
    }
}

impl Visit for Members<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| string(w, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| write!(w, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.member(field, |w| write!(w, "{value}"));
        } else {
            self.member(field, |w| string(w, &value.to_string()));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.member(field, |w| string(w, &value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `message` and `%value` fields come here too, their Debug being their Display.
        self.member(field, |w| string(w, &format!("{value:?}")));
    }
}

/// `s` as a JSON string.
fn string(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        w.write_str(&s[plain..i])?;
        if escaped.is_empty() {
            write!(w, "\\u{:04x}", c as u32)?;
        } else {
            w.write_str(escaped)?;
        }
        plain = i + c.len_utf8();
    }
    w.write_str(&s[plain..])?;
    w.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn strings_are_escaped_as_json() {
        let mut out = String::new();
        string(&mut out, "a\"b\\c\nd\u{1}é").unwrap();
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn each_line_is_a_json_object_with_its_span() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                route = "/api/v1/x",
                requester = tracing::field::Empty,
                activity = tracing::field::Empty,
            );
            let _in = span.enter();
            span.record("requester", "0000000001");
            span.record("activity", "rni-\"quoted\"");
            tracing::info!(status = 200u16, duration_us = 17u64, ok = true, "request");
            tracing::warn!(error = %"a\nb", ratio = 0.5, "second line");
            drop(_in);
            tracing::info!("outside");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["fields"]["message"], "request");
        assert_eq!(lines[0]["fields"]["status"], 200);
        assert_eq!(lines[0]["fields"]["ok"], true);
        assert_eq!(lines[0]["span"]["name"], "request");
        assert_eq!(lines[0]["span"]["route"], "/api/v1/x");
        assert_eq!(lines[0]["span"]["requester"], "0000000001");
        assert_eq!(lines[0]["span"]["activity"], "rni-\"quoted\"");
        assert_eq!(lines[1]["fields"]["error"], "a\nb");
        assert_eq!(lines[1]["fields"]["ratio"], 0.5);
        assert_eq!(lines[1]["level"], "WARN");
        assert!(lines[2].get("span").is_none(), "{}", lines[2]);
        assert!(lines[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
