//! Whether a PostgreSQL server is reached without TLS, and the URL that says so to libpq.
//!
//! A server on this machine (`localhost`, a loopback address, a Unix socket) under libpq's
//! default `sslmode=prefer` is reached without TLS: its bytes never leave the machine, and
//! encrypting them cost both ends CPU for every byte (`log verify` over 10 M records: 0.85 M
//! records/s with TLS on loopback, 1.03 M without; benches/disclosure_verify.rs). So is any
//! server whose URL says `sslmode=disable`. Anything else keeps TLS: a server elsewhere (also
//! where libpq's environment names one: `PGHOST`, `PGHOSTADDR`, a `PGSERVICE`), `require`,
//! `verify-ca` or `verify-full` (in the URL, or in `PGSSLMODE` when the URL names no mode), or
//! a URL with anything tokio-postgres cannot read.
//!
//! A plain connection is tried once when the database is opened (`Database::connect`); a
//! server that refuses it (a `pg_hba.conf` with `hostssl` lines only) is then reached with the
//! URL as configured, through libpq alone.

use tokio_postgres::config::{Host, SslMode};

/// The URL for a plain connection to the server `url` names (`sslmode=disable` in place of
/// any other mode), or `None` when that server is to be reached with TLS.
pub fn url(url: &str) -> Option<String> {
    url_in(url, |key| std::env::var(key).ok())
}

/// `url`, with libpq's environment as `env` tells it: where the URL is silent, libpq takes the
/// host (`PGHOST`, `PGHOSTADDR`), a service file (`PGSERVICE`) and the mode (`PGSSLMODE`) from
/// there, so those decide too.
fn url_in(url: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let config: tokio_postgres::Config = url.parse().ok()?;
    let here =
        |name: &str| matches!(name, "localhost" | "127.0.0.1" | "::1") || name.starts_with('/');
    let hosts_here = match config.get_hosts() {
        // No host: a socket, unless PGHOST names one.
        [] => env("PGHOST").is_none_or(|h| h.split(',').all(here)),
        hosts => hosts.iter().all(|h| match h {
            Host::Tcp(name) => here(name),
            #[cfg(unix)]
            Host::Unix(_) => true,
        }),
    };
    let addresses_here = match config.get_hostaddrs() {
        [] => env("PGHOSTADDR").is_none_or(|a| {
            a.split(',')
                .all(|a| a.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback()))
        }),
        addresses => addresses.iter().all(|a| a.is_loopback()),
    };
    let local = hosts_here && addresses_here && env("PGSERVICE").is_none();
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    let named = params.iter().any(|p| p.starts_with("sslmode="));
    let mode = match (named, env("PGSSLMODE")) {
        (false, Some(mode)) => mode,
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
    use super::url_in;

    fn plain(url: &str, env: &[(&str, &str)]) -> Option<String> {
        url_in(url, |key| {
            env.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn a_server_on_this_machine_or_disable_only() {
        assert_eq!(
            plain("postgres://postgres@127.0.0.1:5432/test", &[]).as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
        );
        assert_eq!(
            plain(
                "postgres://app@localhost/doelpoort?application_name=gw&sslmode=prefer",
                &[]
            )
            .as_deref(),
            Some("postgres://app@localhost/doelpoort?application_name=gw&sslmode=disable")
        );
        assert!(plain("postgres:///doelpoort?host=/var/run/postgresql", &[]).is_some());
        assert!(plain(
            "postgres://app@db.example.nl/doelpoort?sslmode=disable",
            &[]
        )
        .is_some());
        // libpq would encrypt to a server elsewhere (prefer) or must (require, verify-*).
        assert!(plain("postgres://app@db.example.nl/doelpoort", &[]).is_none());
        assert!(plain("postgres://app@127.0.0.1/doelpoort?sslmode=require", &[]).is_none());
        assert!(plain(
            "postgres://app@localhost/doelpoort?sslmode=verify-full",
            &[]
        )
        .is_none());
        assert!(plain("not a url", &[]).is_none());
    }

    #[test]
    fn libpq_environment_decides_where_the_url_is_silent() {
        let silent = "postgres://app@localhost/doelpoort";
        assert!(plain(silent, &[("PGSSLMODE", "require")]).is_none());
        assert!(plain(silent, &[("PGSSLMODE", "prefer")]).is_some());
        assert!(plain(
            "postgres://app@db.example.nl/d",
            &[("PGSSLMODE", "disable")]
        )
        .is_some());
        // The URL's own mode wins over PGSSLMODE, as in libpq.
        assert!(plain(
            &format!("{silent}?sslmode=prefer"),
            &[("PGSSLMODE", "require")]
        )
        .is_some());
        // No host in the URL: PGHOST or PGHOSTADDR says where libpq goes.
        let hostless = "postgres:///doelpoort";
        assert!(plain(hostless, &[]).is_some());
        assert!(plain(hostless, &[("PGHOST", "/run/postgresql")]).is_some());
        assert!(plain(hostless, &[("PGHOST", "db.example.nl")]).is_none());
        assert!(plain(hostless, &[("PGHOSTADDR", "10.0.0.5")]).is_none());
        // hostaddr is where libpq connects, whatever the host is called.
        assert!(plain(&format!("{silent}?hostaddr=10.0.0.5"), &[]).is_none());
        assert!(plain(&format!("{silent}?hostaddr=127.0.0.1"), &[]).is_some());
        // A service file may name any host.
        assert!(plain(silent, &[("PGSERVICE", "doelpoort")]).is_none());
    }
}
