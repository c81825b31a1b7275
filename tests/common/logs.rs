//! Every log line of a test binary, as the gateway writes it (JSON), captured in memory from
//! the first call of `capture` on: the tests that look for BSNs and secrets in the logs read
//! them back with `text`.
#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: OnceLock<Captured> = OnceLock::new();

/// Installs the capturing subscriber at `filter`, once per test binary, writing the gateway's
/// own JSON lines (`telemetry::JsonLine`); later calls keep the first filter.
pub fn capture(filter: &str) {
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .fmt_fields(doelpoort::telemetry::JsonMembers)
            .event_format(doelpoort::telemetry::JsonLine)
            .with_env_filter(filter)
            .with_writer(move || writer.clone())
            .init();
        captured
    });
}

/// Everything logged since `capture`.
pub fn text() -> String {
    let captured = LOGS.get().expect("common::logs::capture was called first");
    String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned()
}
