//! Load generator for doelpoort: N keep-alive HTTP/1.1 connections over mTLS (rustls, a client
//! certificate of the dev PKI), each sending requests back to back for a fixed time; latencies
//! in an HDR histogram. The common tools cannot present client certificates, hence this.
//!
//!   cargo run --release --example loadgen -- --addr 127.0.0.1:8443 --connections 64 \
//!       --seconds 10 --client gemeente-0363 --path /api/v1/whoami
//!
//! With `--bodies FILE` it POSTs JSON instead, one body per line of FILE, each connection
//! taking the lines in turn (e.g. Haal Centraal raadplegingen of many different persons):
//!
//!   cargo run --release --example loadgen -- --client nla --path /haalcentraal/api/brp/personen \
//!       --header 'X-Processing-Activity: rni-raadplegen' --bodies raadplegingen.ndjson
//!
//! `--paths FILE` GETs the paths of FILE in turn in the same way; with `--bodies` too, line i
//! of one goes with line i of the other (e.g. `--method PUT` updates of many persons).
//!
//! For steady load instead of as much as possible (the soak, scripts/soak.sh, and the paced
//! rows of scripts/bench.sh): `--rate R` sends R requests per second per connection on a fixed
//! schedule, and the latency of each is measured from the moment the schedule meant to send it
//! (as wrk2 does): a request held back because the one before it was slow counts that wait,
//! so a stall is not hidden by the requests it kept from being sent ("coordinated omission").
//! `--expect 200,403` names the statuses this request is meant to get (default: any 2xx).
//! Every status is counted; the first unexpected answer is printed to stderr.
//! `--timeline MS` also prints, per MS milliseconds of the run (by the moment each request was
//! due or sent), how many requests there were and their slowest: a tail made of a few stalls
//! shows as a few bad slices, a tail spread evenly as none.
//!
//! It talks only to the address given (loopback in every documented use) and stops by itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

struct Args {
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    client: String,
    certs: PathBuf,
    path: String,
    headers: Vec<(String, String)>,
    /// POST bodies, taken in turn; empty for GET.
    bodies: Vec<Bytes>,
    /// GET paths, taken in turn (instead of `path`).
    paths: Vec<String>,
    /// The method; default GET, or POST with bodies.
    method: Option<String>,
    /// Requests per second per connection at most; 0 for as many as possible.
    rate: f64,
    /// The statuses meant; empty for any 2xx.
    expect: Vec<u16>,
    /// Slices of the run (ms) to tell the count and the slowest request of; 0 for none.
    timeline_ms: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:8443".parse().unwrap(),
        connections: 16,
        seconds: 10,
        client: "gemeente-0363".into(),
        certs: "certs".into(),
        path: "/api/v1/whoami".into(),
        headers: Vec::new(),
        bodies: Vec::new(),
        paths: Vec::new(),
        method: None,
        rate: 0.0,
        expect: Vec::new(),
        timeline_ms: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value().parse().expect("--addr host:port"),
            "--connections" => a.connections = value().parse().expect("--connections N"),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--client" => a.client = value(),
            "--certs" => a.certs = value().into(),
            "--path" => a.path = value(),
            "--header" => {
                let h = value();
                let (k, v) = h.split_once(':').expect("--header 'Name: value'");
                a.headers.push((k.trim().into(), v.trim().into()));
            }
            "--bodies" => {
                a.bodies = lines(&value()).into_iter().map(Bytes::from).collect();
            }
            "--paths" => a.paths = lines(&value()),
            "--method" => a.method = Some(value().to_uppercase()),
            "--rate" => {
                a.rate = value()
                    .parse()
                    .expect("--rate R (requests/s per connection)")
            }
            "--expect" => {
                a.expect = value()
                    .split(',')
                    .map(|s| s.trim().parse().expect("--expect 200,403"))
                    .collect()
            }
            "--timeline" => a.timeline_ms = value().parse().expect("--timeline MS"),
            other => panic!("unknown flag {other}; see the top of examples/loadgen.rs"),
        }
    }
    assert!(
        a.addr.ip().is_loopback(),
        "loadgen only targets loopback addresses"
    );
    assert!(a.seconds <= 3600, "at most an hour");
    a
}

/// The non-empty lines of `file`.
fn lines(file: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "{file}: no lines");
    lines
}

#[derive(Default)]
struct Tally {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    /// Answers with a status not meant (`--expect`).
    unexpected: u64,
    statuses: std::collections::BTreeMap<u16, u64>,
    hist: Option<hdrhistogram::Histogram<u64>>,
    /// Per slice of `--timeline`: (requests, slowest µs).
    slices: Vec<(u64, u64)>,
}

impl Tally {
    fn slice(&mut self, at: Duration, micros: u64, slice_ms: u64) {
        if slice_ms == 0 {
            return;
        }
        let i = (at.as_millis() as u64 / slice_ms) as usize;
        if self.slices.len() <= i {
            self.slices.resize(i + 1, (0, 0));
        }
        let s = &mut self.slices[i];
        s.0 += 1;
        s.1 = s.1.max(micros);
    }
}

impl Args {
    fn expected(&self, status: hyper::StatusCode) -> bool {
        if self.expect.is_empty() {
            status.is_success()
        } else {
            self.expect.contains(&status.as_u16())
        }
    }
}

/// Tells the first unexpected answer (of the whole run) on stderr.
fn tell_unexpected(status: hyper::StatusCode, body: &[u8]) {
    static TOLD: std::sync::Once = std::sync::Once::new();
    TOLD.call_once(|| {
        let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
        eprintln!("loadgen: first unexpected answer: {status} {text}");
    });
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One keep-alive connection: TCP, the TLS handshake with the client certificate, HTTP/1.1.
async fn connect(args: &Args, tls: &Arc<rustls::ClientConfig>) -> Option<Sender> {
    let tcp = tokio::net::TcpStream::connect(args.addr).await.ok()?;
    tcp.set_nodelay(true).ok();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}

/// One connection's run. Every connection is set up first (`ready`): the run's clock starts
/// when all of them are, so that no request's latency includes the 64 TLS handshakes of the
/// start. Returns when this connection's run started, and what it counted.
async fn connection(
    args: Arc<Args>,
    tls: Arc<rustls::ClientConfig>,
    ready: Arc<tokio::sync::Barrier>,
    index: usize,
) -> (Instant, Tally) {
    // Where this connection starts in the request sets: apart from the others.
    let mut next = index * 7919;
    let mut tally = Tally {
        hist: Some(hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()),
        ..Tally::default()
    };
    // Every failed attempt to connect counts as one error, this first one too.
    let mut sender = connect(&args, &tls).await;
    if sender.is_none() {
        tally.errors += 1;
    }
    ready.wait().await;
    let run_start = Instant::now();
    let until = run_start + Duration::from_secs(args.seconds);
    let mut pace = (args.rate > 0.0).then(|| {
        // The connections' schedules spread evenly over one period: all of them due at the same
        // instant would be a burst of N requests each period, not a steady rate.
        let period = Duration::from_secs_f64(1.0 / args.rate);
        let phase = period.mul_f64(index as f64 / args.connections.max(1) as f64);
        let mut i = tokio::time::interval_at(tokio::time::Instant::now() + phase, period);
        // Late ticks fire at once, each with the instant it was due.
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        i
    });
    while Instant::now() < until {
        let send = match sender.take() {
            Some(s) => Some(s),
            None => connect(&args, &tls).await,
        };
        let Some(mut send) = send else {
            tally.errors += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        // Keep-alive: requests back to back on this connection until the time is up.
        while Instant::now() < until {
            let due = match pace.as_mut() {
                Some(pace) => Some(pace.tick().await.into_std()),
                None => None,
            };
            next += 1;
            let (method, body) = match args.bodies.len() {
                0 => ("GET", Bytes::new()),
                n => ("POST", args.bodies[next % n].clone()),
            };
            let method = args.method.as_deref().unwrap_or(method);
            let path = match args.paths.len() {
                0 => &args.path,
                n => &args.paths[next % n],
            };
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost");
            if !body.is_empty() {
                req = req.header("content-type", "application/json");
            }
            for (k, v) in &args.headers {
                req = req.header(k, v);
            }
            let req = req.body(Full::new(body)).unwrap();
            let started = due.unwrap_or_else(Instant::now);
            let res = match send.send_request(req).await {
                Ok(res) => res,
                Err(_) => {
                    tally.errors += 1;
                    break; // reconnect
                }
            };
            let status = res.status();
            let Ok(body) = res.into_body().collect().await else {
                tally.errors += 1;
                break;
            };
            let micros = started.elapsed().as_micros() as u64;
            tally.hist.as_mut().unwrap().record(micros.max(1)).ok();
            tally.slice(
                started.saturating_duration_since(run_start),
                micros,
                args.timeline_ms,
            );
            if status.is_success() {
                tally.ok += 1;
            } else {
                tally.non_2xx += 1;
            }
            *tally.statuses.entry(status.as_u16()).or_default() += 1;
            if !args.expected(status) {
                tally.unexpected += 1;
                tell_unexpected(status, &body.to_bytes());
            }
        }
    }
    (run_start, tally)
}

fn main() {
    let args = Arc::new(parse_args());
    let tls = Arc::new(
        doelpoort::identity::client::client_config(
            &args.certs.join("ca.pem"),
            &args.certs.join(format!("clients/{}.pem", args.client)),
            &args.certs.join(format!("clients/{}-key.pem", args.client)),
        )
        .expect("client certificate (run `doelpoort certs init` first)"),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ready = Arc::new(tokio::sync::Barrier::new(args.connections));
    let runs = rt.block_on(async {
        let tasks: Vec<_> = (0..args.connections)
            .map(|i| tokio::spawn(connection(args.clone(), tls.clone(), ready.clone(), i)))
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let started = runs.iter().map(|(s, _)| *s).min().expect("one connection");
    let elapsed = started.elapsed().as_secs_f64();
    let tallies: Vec<Tally> = runs.into_iter().map(|(_, t)| t).collect();
    let mut total = Tally {
        hist: Some(hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()),
        ..Tally::default()
    };
    for t in &tallies {
        total.ok += t.ok;
        total.non_2xx += t.non_2xx;
        total.errors += t.errors;
        total.unexpected += t.unexpected;
        for (status, n) in &t.statuses {
            *total.statuses.entry(*status).or_default() += n;
        }
        total
            .hist
            .as_mut()
            .unwrap()
            .add(t.hist.as_ref().unwrap())
            .unwrap();
        if total.slices.len() < t.slices.len() {
            total.slices.resize(t.slices.len(), (0, 0));
        }
        for (sum, s) in total.slices.iter_mut().zip(&t.slices) {
            sum.0 += s.0;
            sum.1 = sum.1.max(s.1);
        }
    }
    for (i, (n, max)) in total.slices.iter().enumerate() {
        println!(
            "timeline t_ms={} requests={} max_ms={:.3}",
            i as u64 * args.timeline_ms,
            n,
            *max as f64 / 1000.0
        );
    }
    let h = total.hist.unwrap();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "loadgen: {} {} connections={} seconds={:.1} client={}",
        args.addr, args.path, args.connections, elapsed, args.client
    );
    println!(
        "requests={} ok={} non_2xx={} errors={} rate={:.0}/s",
        total.ok + total.non_2xx,
        total.ok,
        total.non_2xx,
        total.errors,
        (total.ok + total.non_2xx) as f64 / elapsed
    );
    let statuses: Vec<String> = total
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}:{n}"))
        .collect();
    println!(
        "statuses={} unexpected={}",
        statuses.join(","),
        total.unexpected
    );
    println!(
        "latency_ms p50={:.3} p90={:.3} p99={:.3} p99.9={:.3} max={:.3}",
        ms(0.5),
        ms(0.9),
        ms(0.99),
        ms(0.999),
        h.max() as f64 / 1000.0
    );
}
