#!/usr/bin/env bash
# Measures the gateway end to end and writes bench/RESULTS.md for this machine and commit.
#
#   scripts/bench.sh                 # 1,000,000 persons on PostgreSQL, 10 s per point
#   PERSONS=100000 SECONDS_EACH=5 CONNECTIONS="1 16 64" scripts/bench.sh
#
# What it does: builds release, creates a scratch PostgreSQL database, generates the synthetic
# datasets (`doelpoort seed`), starts `doelpoort serve` on it with the real register (rate
# limits lifted in a copy, everything else as shipped: doelbinding, minimisation, the
# disclosure log with group commit), and drives it over mTLS with keep-alive from
# examples/loadgen (rustls client certificates, HDR histograms) on the same machine. Loopback
# only; every run is bounded in time; the scratch database is dropped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PG_ADMIN="${DOELPOORT_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
PERSONS="${PERSONS:-1000000}"
SECONDS_EACH="${SECONDS_EACH:-10}"
CONNECTIONS="${CONNECTIONS:-1 16 64 256}"
OUT="${OUT:-bench/RESULTS.md}"

pg_isready -q -d "$PG_ADMIN" || {
  echo "scripts/bench.sh: PostgreSQL is not reachable at $PG_ADMIN; start it with" >&2
  echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== build (release)"
cargo build --release --locked --bin doelpoort --example loadgen
BIN="$ROOT/target/release/doelpoort"
LOADGEN="$ROOT/target/release/examples/loadgen"

WORK=$(mktemp -d /tmp/doelpoort-bench.XXXXXX)
DB="doelpoort_bench_$$"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
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

echo "== request sets"
"${PSQL[@]}" -c "SELECT burgerservicenummer FROM rni_personen ORDER BY md5(burgerservicenummer) LIMIT 20000" |
  awk '{ printf "{\"type\":\"RaadpleegMetBurgerservicenummer\",\"burgerservicenummer\":[\"%s\"],\"fields\":[\"burgerservicenummer\",\"naam\",\"geboorte\",\"verblijfplaats\"]}\n", $1 }' \
  > raadplegen.ndjson
"${PSQL[@]}" -c "SELECT DISTINCT verblijf_postcode, verblijf_huisnummer FROM rni_personen WHERE verblijf_gemeentecode = '0363' LIMIT 5000" |
  awk -F'|' '{ printf "/api/v1/rni/adressen/%s/%s\n", $1, $2 }' > adressen.txt
persons_per_address=$("${PSQL[@]}" -c "SELECT round(avg(n), 1) FROM (SELECT count(*) n FROM rni_personen WHERE verblijf_gemeentecode = '0363' GROUP BY verblijf_postcode, verblijf_huisnummer) a")

echo "== serve"
"$BIN" serve 2> serve.log &
SERVER=$!
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:9090/ready >/dev/null && break
  sleep 0.2
done
curl -sf http://127.0.0.1:9090/ready >/dev/null || { tail -20 serve.log; exit 1; }

# One measurement: a table row "| what | conns | rate | p50 | p99 | non-2xx |".
ROWS=""
measure() {
  local what="$1" conns="$2"
  shift 2
  local out
  out=$("$LOADGEN" --certs certs --connections "$conns" --seconds "$SECONDS_EACH" "$@")
  local rate p50 p99 non2xx errors
  rate=$(sed -n 's/.*rate=\([0-9]*\)\/s.*/\1/p' <<<"$out")
  p50=$(sed -n 's/.*p50=\([0-9.]*\).*/\1/p' <<<"$out")
  p99=$(sed -n 's/.* p99=\([0-9.]*\).*/\1/p' <<<"$out")
  non2xx=$(sed -n 's/.*non_2xx=\([0-9]*\).*/\1/p' <<<"$out")
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$out")
  echo "   $what, $conns connections: $rate req/s, p50 $p50 ms, p99 $p99 ms (non-2xx $non2xx, errors $errors)"
  ROWS+="| $what | $conns | $rate | $p50 | $p99 | $non2xx / $errors |"$'\n'
}

# Warm the caches (PostgreSQL's and the OS's) with each workload before measuring it: a cold
# 1M-person table measures the disk, not the gateway.
warm() { "$LOADGEN" --certs certs --connections 64 --seconds "$SECONDS_EACH" "$@" >/dev/null; }
echo "== warm-up"
"${PSQL[@]}" -c "SELECT count(*) FROM rni_personen WHERE burgerservicenummer > ''" >/dev/null
warm --client nla --path /haalcentraal/api/brp/personen \
  --header 'X-Processing-Activity: rni-raadplegen' --bodies raadplegen.ndjson
warm --client gemeente-0363 --paths adressen.txt --header 'X-Processing-Activity: rni-adresoverzicht'

echo "== load"
for c in $CONNECTIONS; do
  measure "Haal Centraal RaadpleegMetBurgerservicenummer (nla, rni-raadplegen; 1 person, 2 records)" "$c" \
    --client nla --path /haalcentraal/api/brp/personen \
    --header 'X-Processing-Activity: rni-raadplegen' --bodies raadplegen.ndjson
done
for c in $CONNECTIONS; do
  measure "RNI adresoverzicht (gemeente-0363, rni-adresoverzicht; ~$persons_per_address persons per address)" "$c" \
    --client gemeente-0363 --paths adressen.txt --header 'X-Processing-Activity: rni-adresoverzicht'
done
for c in $CONNECTIONS; do
  measure "whoami (identity only, no record)" "$c" --client gemeente-0363 --path /api/v1/whoami
done
rss_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVER/status")
records=$("${PSQL[@]}" -c "SELECT count(*) FROM disclosure_records")
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
SERVER=""

echo "== log verify"
verify_start=$(date +%s%N)
"$BIN" log verify 2>/dev/null | tail -1
verify_ms=$(( ($(date +%s%N) - verify_start) / 1000000 ))

cd "$ROOT"
mkdir -p "$(dirname "$OUT")"
{
  echo "# doelpoort benchmark results"
  echo
  echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$(git rev-parse --short HEAD)\`,"
  echo "$(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ { print $2 }') GiB,"
  echo "PostgreSQL $(psql -At "$PG_ADMIN" -c 'SHOW server_version'). Server and load generator share the machine;"
  echo "load average when the script started: $LOAD_BEFORE (well above 0 means other work competed)."
  echo
  echo "## End to end over mTLS (keep-alive, ${SECONDS_EACH} s per row)"
  echo
  echo "$PERSONS synthetic persons (seeded in ${seed_s} s), release build, one gateway with"
  echo "the shipped register (rate limits lifted), JSON request logging at info, the disclosure log"
  echo "on the same PostgreSQL: every answer waits for its records' commit."
  echo
  echo "| request | connections | requests/s | p50 ms | p99 ms | non-2xx / errors |"
  echo "|---|---|---|---|---|---|"
  printf "%s" "$ROWS"
  echo
  echo "Peak RSS of the gateway during the load: $((rss_kb / 1024)) MiB."
  echo
  echo "## Disclosure log"
  echo
  echo "\`doelpoort log verify\` over the $records records written above: ${verify_ms} ms."
} > "$OUT"
echo "== wrote $OUT"
