//! Whether a PostgreSQL server is reached without TLS, and the URL that says so to libpq.
//!
//! A server on this machine (`localhost`, a loopback address, a Unix socket) under libpq's
//! default `sslmode=prefer` is reached without TLS: its bytes never leave the machine, and
//! encrypting them cost both ends CPU for every byte (`log verify` over 10 M records: 0.85 M
//! records/s with TLS on loopback, 1.03 M without; benches/disclosure_verify.rs). So is any
//! server whose URL says `sslmode=disable`. Anything else (a server elsewhere, or `require`,
//! `verify-ca`, `verify-full`, here or in `PGSSLMODE` when the URL names no mode) keeps TLS.
//!
//! A plain connection is tried once when the database is opened (`Database::connect`); a
//! server that refuses it (a `pg_hba.conf` with `hostssl` lines only) is then reached with the
//! URL as configured, through libpq alone.

use tokio_postgres::config::{Host, SslMode};

/// The URL for a plain connection to the server `url` names (`sslmode=disable` in place of
/// any other mode), or `None` when that server is to be reached with TLS.
pub fn url(url: &str) -> Option<String> {
    let config: tokio_postgres::Config = url.parse().ok()?;
    let local = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1"),
        #[cfg(unix)]
        Host::Unix(_) => true,
    });
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let named = params.iter().any(|p| p.starts_with("sslmode="));
    let mode = match (named, std::env::var("PGSSLMODE")) {
        (false, Ok(env)) => env,
        _ => match config.get_ssl_mode() {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            _ => "require",
        }
        .to_owned(),
    };
    let plain = match mode.as_str() {
        "disable" => true,
        "allow" | "prefer" => local,
        _ => false,
    };
    if !plain {
        return None;
    }
    params.retain(|p| !p.starts_with("sslmode="));
    params.push("sslmode=disable");
    Some(format!("{base}?{}", params.join("&")))
}

#[cfg(test)]
mod tests {
    use super::url;

    #[test]
    fn a_server_on_this_machine_or_disable_only() {
        // PGSSLMODE would decide where the URL names no mode; these tests run without it.
        if std::env::var_os("PGSSLMODE").is_some() {
            panic!("unset PGSSLMODE to run this test: it decides where a URL names no mode");
        }
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432/test").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
        );
        assert_eq!(
            url("postgres://app@localhost/doelpoort?application_name=gw&sslmode=prefer").as_deref(),
            Some("postgres://app@localhost/doelpoort?application_name=gw&sslmode=disable")
        );
        assert!(url("postgres://app@db.example.nl/doelpoort?sslmode=disable").is_some());
        // libpq would encrypt to a server elsewhere (prefer) or must (require, verify-*).
        assert!(url("postgres://app@db.example.nl/doelpoort").is_none());
        assert!(url("postgres://app@127.0.0.1/doelpoort?sslmode=require").is_none());
        assert!(url("postgres://app@localhost/doelpoort?sslmode=verify-full").is_none());
        assert!(url("not a url").is_none());
    }
}
