#!/usr/bin/env bash
# Measures the gateway and writes bench/RESULTS.md for this machine and commit: one command.
#
#   scripts/bench.sh                 # everything: 1,000,000 persons, 10 M-record log/audit sets
#   PERSONS=100000 SECONDS_EACH=5 CONNECTIONS="1 16 64" SCALE_RECORDS=1000000 scripts/bench.sh
#   STAGES="e2e broker" scripts/bench.sh      # only some stages (components e2e broker scale)
#
# Stages, in order, each bounded in time:
# - components: the doelbinding decision at 10, 1,000 and 50,000 casbin rules
#   (benches/policy_decision.rs) and the disclosure log's group commit on SQLite and PostgreSQL
#   at 64 writers (benches/disclosure_log.rs);
# - e2e: a scratch PostgreSQL database, PERSONS synthetic persons (`doelpoort seed`), one
#   `doelpoort serve` with the real register (rate limits lifted in a copy, everything else as
#   shipped: doelbinding, minimisation, the disclosure log with group commit), driven over mTLS
#   with keep-alive by examples/loadgen (rustls client certificates, HDR histograms) at each of
#   CONNECTIONS for the main activities, then Haal Centraal and adresoverzicht at a fixed offered
#   loads (each of HC_PACED, ADRES_PACED requests/s over 64 connections, latency from the intended send
#   time); peak RSS; `doelpoort log verify` over what was written;
# - broker: client -> doelpoort (the RNI dataset in upstream mode: policy and log on) -> a
#   provider's HTTPS API (a second doelpoort serving the dataset), against client -> nginx
#   (Debian's package: mTLS, proxy_pass with keep-alive, access log on) -> the same provider,
#   in one run, and the ratio;
# - scale: `log verify` over SCALE_RECORDS records (benches/disclosure_verify.rs) and the audit
#   API's latencies among SCALE_RECORDS records (benches/audit_scale.rs), both on PostgreSQL.
# Loopback only; the scratch databases are dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# PostgreSQL: by default a cluster of the bench's own (initdb into a temporary folder, on
# PG_PORT), set up as a production server with this machine's memory would be (PG_SETTINGS);
# the machine's shared server keeps Debian's defaults (128 MB of shared buffers, made for a
# small machine), which the tests use. DOELPOORT_BENCH_POSTGRES_URL measures against another
# server instead, as it is configured.
PG_PORT="${PG_PORT:-54329}"
PG_SETTINGS="${PG_SETTINGS:-shared_buffers=2GB effective_cache_size=8GB max_wal_size=4GB checkpoint_timeout=15min checkpoint_completion_target=0.9}"
PG_ADMIN="${DOELPOORT_BENCH_POSTGRES_URL:-}"
PERSONS="${PERSONS:-1000000}"
SECONDS_EACH="${SECONDS_EACH:-10}"
CONNECTIONS="${CONNECTIONS:-1 16 64 256}"
SCALE_RECORDS="${SCALE_RECORDS:-10000000}"
# Offered loads (requests/s over 64 connections) for the paced rows of the e2e stage: the
# overview at several, to show up to which load its p99 holds.
HC_PACED="${HC_PACED:-3000}"
ADRES_PACED="${ADRES_PACED:-250 500 1000}"
STAGES="${STAGES:-components e2e broker scale}"
OUT="${OUT:-bench/RESULTS.md}"
stage() { [[ " $STAGES " == *" $1 "* ]]; }

PG_DIR=""
# `as_postgres CMD…`: a server binary, as the postgres user when run as root (PostgreSQL
# refuses to run as root).
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ -z "$PG_ADMIN" ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$PG_BIN/initdb" ] || {
    echo "scripts/bench.sh: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin;" >&2
    echo "  apt-get install postgresql, or set DOELPOORT_BENCH_POSTGRES_URL to a server to use" >&2
    exit 1
  }
  PG_DIR=$(mktemp -d /tmp/doelpoort-bench-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
  echo "== PostgreSQL of the bench's own in $PG_DIR, port $PG_PORT: $PG_SETTINGS"
  as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
  PG_OPTS="-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1"
  for setting in $PG_SETTINGS; do PG_OPTS+=" -c $setting"; done
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -t 60 -o "$PG_OPTS" -l "$PG_DIR/server.log" start >/dev/null || {
    tail -20 "$PG_DIR/server.log" >&2
    exit 1
  }
  PG_ADMIN="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  stop_private_pg() {
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -w -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  }
  trap stop_private_pg EXIT
fi
pg_isready -q -d "$PG_ADMIN" || {
  echo "scripts/bench.sh: PostgreSQL is not reachable at $PG_ADMIN; start it with" >&2
  echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
}
if stage broker && ! command -v nginx >/dev/null; then
  echo "== nginx (Debian package, for the broker comparison)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx >/dev/null || {
    echo "scripts/bench.sh: could not install nginx; run without the broker stage:" >&2
    echo "  STAGES=\"components e2e scale\" scripts/bench.sh" >&2
    exit 1
  }
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== build (release)"
cargo build --release --locked --bin doelpoort --example loadgen
BIN="$ROOT/target/release/doelpoort"
LOADGEN="$ROOT/target/release/examples/loadgen"
export DOELPOORT_TEST_POSTGRES_URL="$PG_ADMIN"

WORK=$(mktemp -d /tmp/doelpoort-bench.XXXXXX)
# The gateways' and nginx's logs (a line per request, ~1 MB/s) go to memory (tmpfs) when the
# machine has one: on the database's own disk, their writeback held up PostgreSQL's WAL
# flushes (commits of 20–120 ms, six in 40 s against one with the log elsewhere, 2026-12-02),
# which is this one-disk machine's doing, not the gateway's: in production the database has a
# machine (and disk) of its own. The lines are still formatted and written.
LOGS=$WORK
if [ -d /dev/shm ] && [ -w /dev/shm ]; then LOGS=$(mktemp -d /dev/shm/doelpoort-bench-logs.XXXXXX); fi
DB="doelpoort_bench_$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$LOGS"
  [ -n "$PG_DIR" ] && stop_private_pg
  true
}
trap cleanup EXIT

# The sections of RESULTS.md, filled by the stages that run.
COMPONENTS="" E2E="" BROKER="" BROKER_ROWS="" SCALE="" RATIOS=""
# `bench NAME [ENV=VALUE…]`: a bench of benches/ in release; its summary lines (those that
# start with NAME) kept in $WORK/NAME.out.
bench() {
  local name="$1"
  shift
  env "$@" cargo bench --locked --bench "$name" 2>"$WORK/$name.err" | tee "$WORK/$name.log" |
    grep -E "^($name|  )" >"$WORK/$name.out" || {
    tail -20 "$WORK/$name.err" >&2
    exit 1
  }
  cat "$WORK/$name.out"
}

if stage components; then
  echo "== policy decision (benches/policy_decision.rs)"
  bench policy_decision
  echo "== disclosure log group commit, 64 writers (benches/disclosure_log.rs)"
  bench disclosure_log BENCH_WRITERS=64 BENCH_SECONDS="$SECONDS_EACH"
  COMPONENTS+="### Doelbinding decision (\`cargo bench --bench policy_decision\`)"$'\n\n'
  COMPONENTS+="One decision (\`Policy::authorise\`) on the request path, timed one by one over 1,000,000"$'\n'
  COMPONENTS+="decisions of 1,000 (organisation, activity) pairs, about half refused (HDR histogram, ns);"$'\n'
  COMPONENTS+="\`casbin\` is one decision asked of the casbin enforcer itself, which the request path never"$'\n'
  COMPONENTS+="waits for (casbin's answers are precomputed when a register version loads)."$'\n\n'
  COMPONENTS+="| casbin rules | decision p50 ns | p99 ns | p99.9 ns | max ns | casbin p50 µs | casbin p99 µs |"$'\n'
  COMPONENTS+="|---|---|---|---|---|---|---|"$'\n'
  COMPONENTS+=$(sed -nE 's/^policy_decision rules= *([0-9]+) .*p50=([0-9]+) p99=([0-9]+) p99\.9=([0-9]+) max=([0-9]+) \| casbin_us p50=([0-9.]+) p99=([0-9.]+).*/| \1 | \2 | \3 | \4 | \5 | \6 | \7 |/p' "$WORK/policy_decision.out")
  COMPONENTS+=$'\n\n'"### Disclosure log group commit (\`BENCH_WRITERS=64 cargo bench --bench disclosure_log\`)"$'\n\n'
  COMPONENTS+="64 writer tasks, each appending a disclosure of one person (2 records) and waiting for its"$'\n'
  COMPONENTS+="commit (fsync on SQLite, commit acknowledged on PostgreSQL), for ${SECONDS_EACH} s."$'\n\n'
  COMPONENTS+="| backend | records/s | commit wait p50 ms | p99 ms | max ms | log verify records/s |"$'\n'
  COMPONENTS+="|---|---|---|---|---|---|"$'\n'
  COMPONENTS+=$(sed -nE 's/^disclosure_log backend=([a-z]+) .*records_per_s=([0-9]+) commit_wait_ms p50=([0-9.]+) p99=([0-9.]+) max=([0-9.]+) \| verify .*records_per_s=([0-9]+).*/| \1 | \2 | \3 | \4 | \5 | \6 |/p' "$WORK/disclosure_log.out")
  COMPONENTS+=$'\n'
fi

# One load measurement: prints it and appends a row to the table in variable $1.
#   measure TABLE "what" CONNS loadgen-args…
measure() {
  local -n table="$1"
  local what="$2" conns="$3"
  shift 3
  local out rate p50 p99 non2xx errors
  out=$("$LOADGEN" --certs certs --connections "$conns" --seconds "$SECONDS_EACH" "$@")
  rate=$(sed -n 's/.*rate=\([0-9]*\)\/s.*/\1/p' <<<"$out")
  p50=$(sed -n 's/.*p50=\([0-9.]*\).*/\1/p' <<<"$out")
  p99=$(sed -n 's/.* p99=\([0-9.]*\).*/\1/p' <<<"$out")
  non2xx=$(sed -n 's/.*non_2xx=\([0-9]*\).*/\1/p' <<<"$out")
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
  echo "   $what, $conns connections: $rate req/s, p50 $p50 ms, p99 $p99 ms (non-2xx $non2xx, errors $errors)"
  table+="| $what | $conns | $rate | $p50 | $p99 | $non2xx / $errors |"$'\n'
  LAST_RATE=$rate LAST_P99=$p99
}
# Warm the caches (PostgreSQL's and the OS's) with a workload before measuring it: a cold
# 1M-person table measures the disk, not the gateway.
warm() { "$LOADGEN" --certs certs --connections 64 --seconds "$SECONDS_EACH" "$@" >/dev/null; }
# `serve_on NAME DATA AUDIT OPS [ENV=VALUE…]`: a gateway in the background, waited for.
serve_on() {
  local name="$1" data="$2" audit="$3" ops="$4"
  shift 4
  env DOELPOORT_SERVER_INSTANCE_ID="doelpoort-$name" DOELPOORT_SERVER_DATA_LISTEN="127.0.0.1:$data" \
    DOELPOORT_SERVER_AUDIT_LISTEN="127.0.0.1:$audit" DOELPOORT_SERVER_OPS_LISTEN="127.0.0.1:$ops" \
    "$@" "$BIN" serve 2>"$LOGS/$name.log" &
  PIDS+=($!)
  SERVED=$!
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:$ops/ready" >/dev/null && return
    sleep 0.2
  done
  tail -20 "$LOGS/$name.log" >&2
  exit 1
}
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  PIDS=()
}

if stage e2e || stage broker; then
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $DB" >/dev/null
  URL="${PG_ADMIN%/*}/$DB"
  PSQL=(psql -q -At "$URL")
  cp -r policies "$WORK/policies"
  sed -i 's/^rate_limit_per_minute = .*/rate_limit_per_minute = 1000000000/' "$WORK/policies/verwerkingsactiviteiten.toml"
  cd "$WORK"
  export DOELPOORT_DATABASE_URL="$URL" DOELPOORT_DATASETS_SEED_PERSONS=0 DOELPOORT_LOG_FILTER=info
  "$BIN" certs init --dir certs >/dev/null
  "$BIN" migrate >/dev/null

  echo "== seed $PERSONS persons"
  seed_start=$(date +%s%N)
  "$BIN" seed --persons "$PERSONS" --seed 1 2>/dev/null
  seed_s=$(( ($(date +%s%N) - seed_start) / 1000000000 ))
  # A freshly bulk-loaded table is not what a gateway serves from: set its hint bits and
  # visibility map now, and write the load's dirty pages out, instead of during the first rows.
  "${PSQL[@]}" -c "VACUUM (ANALYZE)" -c "CHECKPOINT"

  echo "== request sets"
  "${PSQL[@]}" -c "SELECT burgerservicenummer FROM rni_personen ORDER BY md5(burgerservicenummer) LIMIT 20000" >bsns.txt
  awk '{ printf "{\"type\":\"RaadpleegMetBurgerservicenummer\",\"burgerservicenummer\":[\"%s\"],\"fields\":[\"burgerservicenummer\",\"naam\",\"geboorte\",\"verblijfplaats\"]}\n", $1 }' \
    bsns.txt >raadplegen.ndjson
  awk '{ printf "/api/v1/uwv/dienstverbanden?bsn=%s\n", $1 }' bsns.txt >uwv.txt
  awk '{ printf "/api/v1/svb/uitkeringen?bsn=%s\n", $1 }' bsns.txt >svb.txt
  "${PSQL[@]}" -c "SELECT DISTINCT verblijf_postcode, verblijf_huisnummer FROM rni_personen WHERE verblijf_gemeentecode = '0363' LIMIT 5000" |
    awk -F'|' '{ printf "/api/v1/rni/adressen/%s/%s\n", $1, $2 }' >adressen.txt
  persons_per_address=$("${PSQL[@]}" -c "SELECT round(avg(n), 1) FROM (SELECT count(*) n FROM rni_personen WHERE verblijf_gemeentecode = '0363' GROUP BY verblijf_postcode, verblijf_huisnummer) a")
  HC=(--client nla --path /haalcentraal/api/brp/personen --header 'X-Processing-Activity: rni-raadplegen' --bodies raadplegen.ndjson)
fi

if stage e2e; then
  echo "== serve"
  serve_on 1 8443 8444 9090
  echo "== warm-up"
  "${PSQL[@]}" -c "SELECT count(*) FROM rni_personen WHERE burgerservicenummer > ''" >/dev/null
  warm "${HC[@]}"
  warm --client gemeente-0363 --paths adressen.txt --header 'X-Processing-Activity: rni-adresoverzicht'
  warm --client nla --paths uwv.txt --header 'X-Processing-Activity: uwv-dienstverbanden' --header 'X-Case-Reference: BENCH-1'

  echo "== load"
  for c in $CONNECTIONS; do
    measure E2E "Haal Centraal RaadpleegMetBurgerservicenummer (nla, rni-raadplegen; 1 person, 2 records)" "$c" "${HC[@]}"
  done
  for c in $CONNECTIONS; do
    measure E2E "RNI adresoverzicht (gemeente-0363, rni-adresoverzicht; ~$persons_per_address persons per address)" "$c" \
      --client gemeente-0363 --paths adressen.txt --header 'X-Processing-Activity: rni-adresoverzicht'
  done
  for c in $CONNECTIONS; do
    measure E2E "UWV dienstverbanden by BSN (nla, uwv-dienstverbanden)" "$c" \
      --client nla --paths uwv.txt --header 'X-Processing-Activity: uwv-dienstverbanden' --header 'X-Case-Reference: BENCH-1'
  done
  for c in $CONNECTIONS; do
    measure E2E "SVB uitkeringen and A1 by BSN (nla, svb-uitkeringen)" "$c" \
      --client nla --paths svb.txt --header 'X-Processing-Activity: svb-uitkeringen' --header 'X-Case-Reference: BENCH-1'
  done
  for c in $CONNECTIONS; do
    measure E2E "whoami (identity only, no record)" "$c" --client gemeente-0363 --path /api/v1/whoami
  done
  # Latency at a fixed offered load: 64 connections, each sending on a fixed schedule
  # (loadgen --rate), every latency counted from the moment its request was due.
  PACED=""
  paced() {
    local what="$1" total="$2"
    shift 2
    measure PACED "$what, $total req/s offered" 64 --rate "$(awk -v t="$total" 'BEGIN { print t / 64 }')" "$@"
  }
  for r in $HC_PACED; do
    paced "Haal Centraal RaadpleegMetBurgerservicenummer" "$r" "${HC[@]}"
  done
  for r in $ADRES_PACED; do
    paced "RNI adresoverzicht" "$r" \
      --client gemeente-0363 --paths adressen.txt --header 'X-Processing-Activity: rni-adresoverzicht'
  done
  rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVED/status")
  stop_all
  records=$("${PSQL[@]}" -c "SELECT count(*) FROM disclosure_records")
  echo "== log verify"
  verify_start=$(date +%s%N)
  "$BIN" log verify 2>/dev/null | tail -1
  verify_ms=$(( ($(date +%s%N) - verify_start) / 1000000 ))
  E2E="$PERSONS synthetic persons (seeded on PostgreSQL in ${seed_s} s), release build, one gateway with"$'\n'"the shipped register (rate limits lifted), JSON request logging at info (to a file in memory, tmpfs), the disclosure log"$'\n'"on the same PostgreSQL: every answer waits for its records' commit. ${SECONDS_EACH} s per row,"$'\n'"after a ${SECONDS_EACH} s warm-up per workload at 64 connections."$'\n\n'"| request | connections | requests/s | p50 ms | p99 ms | non-2xx / errors |"$'\n'"|---|---|---|---|---|---|"$'\n'"$E2E"
  E2E+=$'\n'"At a fixed offered load instead of as fast as the connections go: 64 connections, each"$'\n'"sending on a fixed schedule (\`loadgen --rate\`), each latency counted from the moment its"$'\n'"request was due, so that a stall also counts for the requests it held back (as wrk2 does)."$'\n\n'"| request | connections | requests/s | p50 ms | p99 ms | non-2xx / errors |"$'\n'"|---|---|---|---|---|---|"$'\n'"$PACED"
  E2E+=$'\n'"Peak RSS (VmHWM) of the gateway over all of the above: $((rss_kb / 1024)) MiB."$'\n\n'
  E2E+="\`doelpoort log verify\` over the $records records written above (with the process start and"$'\n'"its key loading): ${verify_ms} ms."$'\n'
fi

if stage broker; then
  echo "== broker comparison: provider, doelpoort broker, nginx"
  # The provider: a second doelpoort serving the dataset from the database.
  serve_on provider 8543 8544 9091
  # The broker: this gateway with the RNI dataset in upstream mode, presenting nla's certificate
  # to the provider (which knows it as the Arbeidsinspectie), as tests/upstream.rs does.
  cat >broker.toml <<EOF
[datasets.upstream.rni-personen]
url = "https://localhost:8543"
ca = "certs/ca.pem"
client_cert = "certs/clients/nla.pem"
client_key = "certs/clients/nla-key.pem"
timeout_ms = 5000
pool_idle = 256
EOF
  env DOELPOORT_SERVER_INSTANCE_ID=doelpoort-broker "$BIN" serve --config broker.toml 2>"$LOGS/broker.log" &
  PIDS+=($!)
  broker_pid=$!
  for _ in $(seq 1 150); do curl -sf http://127.0.0.1:9090/ready >/dev/null && break; sleep 0.2; done
  curl -sf http://127.0.0.1:9090/ready >/dev/null || { tail -20 "$LOGS/broker.log" >&2; exit 1; }
  # nginx as a plain mTLS reverse proxy in front of the same provider, with the same client
  # certificate upstream and keep-alive on both sides, one worker per core, access log on.
  cat >nginx.conf <<EOF
worker_processes auto;
pid $WORK/nginx.pid;
error_log $LOGS/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log $LOGS/nginx-access.log;
  client_body_temp_path $WORK/nginx-body;
  proxy_temp_path $WORK/nginx-proxy;
  upstream provider { server 127.0.0.1:8543; keepalive 256; }
  server {
    listen 127.0.0.1:8643 ssl;
    ssl_certificate $WORK/certs/server.pem;
    ssl_certificate_key $WORK/certs/server-key.pem;
    ssl_client_certificate $WORK/certs/ca.pem;
    ssl_crl $WORK/certs/crl.pem;
    ssl_verify_client on;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_requests 10000000;
    location / {
      proxy_pass https://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host localhost;
      proxy_ssl_certificate $WORK/certs/clients/nla.pem;
      proxy_ssl_certificate_key $WORK/certs/clients/nla-key.pem;
      proxy_ssl_trusted_certificate $WORK/certs/ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
  }
}
EOF
  mkdir -p nginx-body nginx-proxy
  nginx -t -c "$WORK/nginx.conf" 2>/dev/null || { nginx -t -c "$WORK/nginx.conf"; exit 1; }
  nginx -c "$WORK/nginx.conf"
  NGINX=(--addr 127.0.0.1:8643 "${HC[@]}")
  warm "${HC[@]}"
  warm "${NGINX[@]}"
  for c in 16 64; do
    measure BROKER_ROWS "client → doelpoort (upstream mode) → provider" "$c" "${HC[@]}"
    d_rate=$LAST_RATE d_p99=$LAST_P99
    measure BROKER_ROWS "client → nginx → provider" "$c" "${NGINX[@]}"
    RATIOS+="| $c | $(awk -v a="$d_rate" -v b="$LAST_RATE" 'BEGIN { printf "%.2f", a / b }') | $d_p99 | $LAST_P99 |"$'\n'
  done
  nginx_lines=$(wc -l <"$LOGS/nginx-access.log")
  kill "$(cat nginx.pid)"
  rm -f nginx.pid
  stop_all
  BROKER="Haal Centraal RaadpleegMetBurgerservicenummer of 20,000 different persons (nla's certificate),"$'\n'
  BROKER+="${SECONDS_EACH} s per row after a warm-up of each path. The provider is a second doelpoort serving"$'\n'
  BROKER+="the dataset from the same PostgreSQL (doelbinding and its own log on: it records the broker's"$'\n'
  BROKER+="operation as the foreign one). The doelpoort broker validates, applies doelbinding, forwards"$'\n'
  BROKER+="over a pooled mTLS connection, minimises the answer and commits its own records before"$'\n'
  BROKER+="answering; nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') checks the client certificate and CRL, proxies with"$'\n'
  BROKER+="keep-alive upstream and writes its access log ($nginx_lines lines). All of it shares 2 cores."$'\n\n'
  BROKER+="| path | connections | requests/s | p50 ms | p99 ms | non-2xx / errors |"$'\n'"|---|---|---|---|---|---|"$'\n'"$BROKER_ROWS"$'\n'
  BROKER+="| connections | doelpoort / nginx throughput | doelpoort p99 ms | nginx p99 ms |"$'\n'"|---|---|---|---|"$'\n'"$RATIOS"
fi
cd "$ROOT"

if stage scale; then
  echo "== log verify over $SCALE_RECORDS records (benches/disclosure_verify.rs)"
  bench disclosure_verify BENCH_RECORDS="$SCALE_RECORDS" BENCH_SQLITE_RECORDS=1000000 BENCH_VERIFY_RUNS=2
  echo "== audit API among $SCALE_RECORDS records (benches/audit_scale.rs)"
  bench audit_scale BENCH_RECORDS="$SCALE_RECORDS"
  SCALE="### \`doelpoort log verify\` (\`BENCH_RECORDS=$SCALE_RECORDS cargo bench --bench disclosure_verify\`)"$'\n\n'
  SCALE+="A valid chain with the gateway's real hashes and a signed checkpoint every 10,000 records."$'\n\n'
  SCALE+="| backend | records | seconds | records/s |"$'\n'"|---|---|---|---|"$'\n'
  SCALE+=$(sed -nE 's/^disclosure_verify backend=([a-z]+) records=([0-9]+) seconds=([0-9.]+) records_per_s=([0-9]+).*/| \1 | \2 | \3 | \4 |/p' "$WORK/disclosure_verify.out")
  SCALE+=$'\n\n'"### Audit API (\`BENCH_RECORDS=$SCALE_RECORDS cargo bench --bench audit_scale\`)"$'\n\n'
  SCALE+="Over real TLS against the real gateway, each query also writing its own audit record."$'\n\n'"\`\`\`"$'\n'"$(cat "$WORK/audit_scale.out")"$'\n'"\`\`\`"$'\n'
fi

mkdir -p "$(dirname "$OUT")"
{
  echo "# doelpoort benchmark results"
  echo
  echo "Written by \`scripts/bench.sh\` (stages: $STAGES) on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$(git rev-parse --short HEAD)\`,"
  echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ { print $2 }') GiB,"
  if [ -n "$PG_DIR" ]; then
    echo "PostgreSQL $(psql -At "$PG_ADMIN" -c 'SHOW server_version') in a cluster of the bench's own, as a production server of this size would be set up"
    echo "(\`$PG_SETTINGS\`, everything else initdb's default: autovacuum on, synchronous commit, no TLS on loopback)."
  else
    echo "PostgreSQL $(psql -At "$PG_ADMIN" -c 'SHOW server_version') at DOELPOORT_BENCH_POSTGRES_URL, as configured there."
  fi
  echo "Server, database and load generator share the machine;"
  echo "load average when the script started: $LOAD_BEFORE (well above 0 means other work competed)."
  [ -n "$COMPONENTS" ] && printf '\n## Components\n\n%s' "$COMPONENTS"
  [ -n "$E2E" ] && printf '\n## End to end over mTLS (keep-alive)\n\n%s' "$E2E"
  [ -n "$BROKER" ] && printf '\n## Broker comparison: doelpoort and nginx in front of the same provider\n\n%s' "$BROKER"
  [ -n "$SCALE" ] && printf '\n## At scale (PostgreSQL)\n\n%s' "$SCALE"
  true
} >"$OUT"
echo "== wrote $OUT"
