#!/usr/bin/env bash
# Soak: DURATION of steady mixed load on one gateway over PostgreSQL, its memory and file
# descriptors sampled all along, then a summary table; exits non-zero on any unintended error
# or a growth trend above the thresholds below.
#
#   scripts/soak.sh              # 30 minutes (the documented run)
#   scripts/soak.sh 2m           # what CI runs (scripts/ci/soak.sh)
#   BUILD=release scripts/soak.sh 30m
#
# The load (examples/loadgen, mTLS with the dev certificates, keep-alive, paced): every
# activity of the register — RNI tellingen and adresoverzicht (gemeente-0363), Haal Centraal
# raadplegen (nla) and zoeken (uwv), UWV dienstverbanden and SVB uitkeringen (nla), the ABO
# experiment's contactgegevens and verblijfsadres updates (gemeente-0606), signals sent
# (gemeente-0363 → nla), listed (nla's inbox) and read (by their sender) — about 5% requests
# that must be refused (notPermitted, outOfScope, caseReferenceRequired), and the audit API
# alongside (disclosures, stats, inzage; JWTs from `doelpoort token issue`). Each kind of
# request names the statuses it is meant to get; any other answer, and any transport error, is
# an unintended error. RSS (VmRSS) and open descriptors (/proc/PID/fd) are sampled every
# SAMPLE_EVERY seconds; the trend is the least-squares slope over the samples after the first
# WARMUP seconds (caches and pools filling up are not growth). At the end the gateway stops
# gracefully and `doelpoort log verify` checks the whole log.
#
# Loopback only; every loadgen run is bounded by DURATION; the scratch database and folder are
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION="${1:-30m}"
case "$DURATION" in
  *m) SECS=$(( ${DURATION%m} * 60 )) ;;
  *s) SECS=${DURATION%s} ;;
  *) SECS=$DURATION ;;
esac
[ "$SECS" -ge 30 ] && [ "$SECS" -le 3600 ] || { echo "soak: DURATION 30s … 60m" >&2; exit 2; }
BUILD="${BUILD:-debug}"
PG_ADMIN="${DOELPOORT_SOAK_POSTGRES_URL:-${DOELPOORT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
PERSONS="${PERSONS:-20000}"
SAMPLE_EVERY="${SAMPLE_EVERY:-10}"
WARMUP="${WARMUP:-$(( SECS / 4 ))}"
# Growth allowed after the warm-up: RSS in KiB per minute, descriptors per minute.
RSS_TREND_MAX="${RSS_TREND_MAX:-1024}"
FD_TREND_MAX="${FD_TREND_MAX:-0.5}"
# The share of requests meant to be refused must come out near 5%.
REFUSED_MIN_PCT=3
REFUSED_MAX_PCT=8

pg_isready -q -d "$PG_ADMIN" || {
  echo "soak: PostgreSQL is not reachable at $PG_ADMIN; start it with" >&2
  echo "  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  exit 1
}

echo "== soak: $SECS s, $BUILD build, $PERSONS persons, samples every $SAMPLE_EVERY s"
if [ "$BUILD" = release ]; then
  cargo build --release --locked --bin doelpoort --example loadgen
else
  cargo build --locked --bin doelpoort --example loadgen
fi
BIN="$ROOT/target/$BUILD/doelpoort"
LOADGEN="$ROOT/target/$BUILD/examples/loadgen"

WORK=$(mktemp -d /tmp/doelpoort-soak.XXXXXX)
DB="doelpoort_soak_$$"
SERVER=""
SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then echo "soak: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
psql -q "$PG_ADMIN" -c "CREATE DATABASE $DB" >/dev/null
URL="${PG_ADMIN%/*}/$DB"
PSQL=(psql -q -At "$URL")

cp -r policies "$WORK/policies"
# The load is paced; the register's per-organisation rate limits are not what is soaked.
sed -i 's/^rate_limit_per_minute = .*/rate_limit_per_minute = 1000000000/' "$WORK/policies/verwerkingsactiviteiten.toml"
cd "$WORK"
export DOELPOORT_DATABASE_URL="$URL" DOELPOORT_DATASETS_SEED_PERSONS=0 DOELPOORT_LOG_FILTER=info
export DOELPOORT_SERVER_DATA_LISTEN=127.0.0.1:0 DOELPOORT_SERVER_AUDIT_LISTEN=127.0.0.1:0 DOELPOORT_SERVER_OPS_LISTEN=127.0.0.1:0
"$BIN" certs init --dir certs >/dev/null
"$BIN" migrate >/dev/null
"$BIN" seed --persons "$PERSONS" --seed 1 > seed.log 2>&1 || { tail -5 seed.log; exit 1; }

echo "== request sets"
q() { "${PSQL[@]}" -c "$1"; }
q "SELECT burgerservicenummer FROM rni_personen ORDER BY md5(burgerservicenummer) LIMIT 2000" > bsns.txt
awk '{ printf "{\"type\":\"RaadpleegMetBurgerservicenummer\",\"burgerservicenummer\":[\"%s\"],\"fields\":[\"burgerservicenummer\",\"naam\",\"geboorte\",\"verblijfplaats\"]}\n", $1 }' bsns.txt > raadplegen.ndjson
q "SELECT DISTINCT verblijf_postcode, verblijf_huisnummer FROM rni_personen WHERE verblijf_gemeentecode = '0599' LIMIT 500" |
  awk -F'|' '{ printf "{\"type\":\"ZoekMetPostcodeEnHuisnummer\",\"postcode\":\"%s\",\"huisnummer\":%s,\"fields\":[\"burgerservicenummer\",\"naam\"]}\n", $1, $2 }' > zoeken.ndjson
q "SELECT DISTINCT verblijf_postcode, verblijf_huisnummer FROM rni_personen WHERE verblijf_gemeentecode = '0363' LIMIT 1000" |
  awk -F'|' '{ printf "/api/v1/rni/adressen/%s/%s\n", $1, $2 }' > adressen.txt
q "SELECT DISTINCT verblijf_postcode FROM rni_personen WHERE verblijf_gemeentecode = '0363' LIMIT 500" |
  awk '{ printf "/api/v1/rni/tellingen?postcode=%s\n", $1 }' > tellingen.txt
q "SELECT DISTINCT verblijf_postcode, verblijf_huisnummer FROM rni_personen WHERE verblijf_gemeentecode = '0599' LIMIT 200" |
  awk -F'|' '{ printf "/api/v1/rni/adressen/%s/%s\n", $1, $2 }' > adressen-elders.txt
awk '{ printf "/api/v1/uwv/dienstverbanden?bsn=%s\n", $1 }' bsns.txt > dienstverbanden.txt
awk '{ printf "/api/v1/svb/uitkeringen?bsn=%s\n", $1 }' bsns.txt > uitkeringen.txt
q "SELECT DISTINCT verblijf_postcode FROM rni_personen WHERE verblijf_gemeentecode = '0606' LIMIT 200" |
  awk '{ printf "/api/v1/rni/contactgegevens?postcode=%s\n", $1 }' > contactgegevens.txt
# ABO updates: persons staying in Schiedam move to another number of the same postcode.
q "SELECT burgerservicenummer, verblijf_postcode FROM rni_personen WHERE verblijf_gemeentecode = '0606' ORDER BY burgerservicenummer LIMIT 200" > abo.txt
awk -F'|' '{ printf "/api/v1/rni/personen/%s/verblijfsadres\n", $1 }' abo.txt > abo-paden.txt
awk -F'|' '{ printf "{\"straat\":\"Broersvest\",\"huisnummer\":%d,\"postcode\":\"%s\",\"woonplaats\":\"Schiedam\",\"datumAanvang\":\"2026-11-01\"}\n", NR % 90 + 1, $2 }' abo.txt > abo-adressen.ndjson
awk '{ printf "{\"ontvanger\":\"nla\",\"soort\":\"melding\",\"omschrijving\":\"Soak: signaal over een adres\",\"burgerservicenummers\":[\"%s\"]}\n", $1 }' bsns.txt > signalen.ndjson
awk 'NR <= 300 { printf "{\"burgerservicenummer\":\"%s\"}\n", $1 }' bsns.txt > inzage.ndjson
for f in raadplegen.ndjson zoeken.ndjson adressen.txt tellingen.txt adressen-elders.txt contactgegevens.txt abo-paden.txt; do
  [ -s "$f" ] || { echo "soak: no data for $f (PERSONS=$PERSONS too few?)" >&2; exit 1; }
done

echo "== serve"
"$BIN" serve > serve.log 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do
  grep -q '^doelpoort: data (mTLS)' serve.log && break
  kill -0 "$SERVER" 2>/dev/null || { tail -20 serve.log; exit 1; }
  sleep 0.2
done
line=$(grep '^doelpoort: data (mTLS)' serve.log) || { tail -20 serve.log; exit 1; }
DATA=$(sed -E 's|.*data \(mTLS\) https://([^ ]+).*|\1|' <<<"$line")
AUDIT=$(sed -E 's|.*audit https://([^ ]+).*|\1|' <<<"$line")
OPS=$(sed -E 's|.*ops http://([^ ]+).*|\1|' <<<"$line")
curl -sf "http://$OPS/ready" >/dev/null || { tail -20 serve.log; exit 1; }
TTL=$(( SECS / 60 + 10 ))
SUPERVISOR=$("$BIN" token issue --oin supervisor --role supervisor --ttl-min "$TTL")
OFFICER=$("$BIN" token issue --oin gemeente-0363 --role privacy-officer --ttl-min "$TTL")
# Signals to read back: sent before the load, by gemeente-0363.
C=(--cacert certs/ca.pem --cert certs/clients/gemeente-0363.pem --key certs/clients/gemeente-0363-key.pem)
for i in $(seq 1 20); do
  curl -sf "${C[@]}" -H 'X-Processing-Activity: signaal-melding' -H 'content-type: application/json' \
    "https://localhost:${DATA##*:}/api/v1/signalen" --resolve "localhost:${DATA##*:}:127.0.0.1" \
    -d "$(sed -n "${i}p" signalen.ndjson)" | sed -E 's/.*"id":"([^"]+)".*/\/api\/v1\/signalen\/\1/'
  echo
done | grep . > signaal-paden.txt
[ "$(wc -l < signaal-paden.txt)" -eq 20 ] || { echo "soak: could not send the signals to read" >&2; cat signaal-paden.txt; exit 1; }

# The kinds: name | rate per second | expected statuses | intended refusal? | loadgen arguments.
KINDS=(
  "rni-telling|8|200|no|--client gemeente-0363 --paths tellingen.txt --header X-Processing-Activity:rni-telling"
  "rni-telling-gemeente|1|200|no|--client gemeente-0363 --path /api/v1/rni/tellingen --header X-Processing-Activity:rni-telling"
  "rni-adresoverzicht|10|200|no|--client gemeente-0363 --paths adressen.txt --header X-Processing-Activity:rni-adresoverzicht"
  "hc-raadplegen|15|200|no|--client nla --path /haalcentraal/api/brp/personen --bodies raadplegen.ndjson --header X-Processing-Activity:rni-raadplegen"
  "hc-zoeken|8|200|no|--client uwv --path /haalcentraal/api/brp/personen --bodies zoeken.ndjson --header X-Processing-Activity:rni-raadplegen"
  "uwv-dienstverbanden|8|200|no|--client nla --paths dienstverbanden.txt --header X-Processing-Activity:uwv-dienstverbanden --header X-Case-Reference:NLA-SOAK-1"
  "svb-uitkeringen|6|200|no|--client nla --paths uitkeringen.txt --header X-Processing-Activity:svb-uitkeringen --header X-Case-Reference:NLA-SOAK-1"
  "abo-contactgegevens|3|200|no|--client gemeente-0606 --paths contactgegevens.txt --header X-Processing-Activity:rni-contactgegevens"
  "abo-verblijfsadres|2|200|no|--client gemeente-0606 --method PUT --paths abo-paden.txt --bodies abo-adressen.ndjson --header X-Processing-Activity:rni-verblijfsadres-wijziging"
  "signaal-sturen|3|201|no|--client gemeente-0363 --path /api/v1/signalen --bodies signalen.ndjson --header X-Processing-Activity:signaal-melding"
  "signaal-inbox|3|200|no|--client nla --path /api/v1/signalen?aantal=10 --header X-Processing-Activity:signaal-melding"
  "signaal-lezen|3|200|no|--client gemeente-0363 --paths signaal-paden.txt --header X-Processing-Activity:signaal-melding"
  "audit-disclosures|1|200|no|--audit --path /audit/v1/disclosures?activity=rni-raadplegen --header Authorization:Bearer_$SUPERVISOR"
  "audit-stats|0.5|200|no|--audit --path /audit/v1/stats?group_by=activity --header Authorization:Bearer_$OFFICER"
  "audit-inzage|0.5|200|no|--audit --path /audit/v1/inzage --bodies inzage.ndjson --header Authorization:Bearer_$SUPERVISOR"
  "weigering-notPermitted|1.5|403|yes|--client gemeente-0363 --paths dienstverbanden.txt --header X-Processing-Activity:uwv-dienstverbanden"
  "weigering-outOfScope|1.5|403|yes|--client gemeente-0363 --paths adressen-elders.txt --header X-Processing-Activity:rni-adresoverzicht"
  "weigering-caseReference|1|400|yes|--client nla --paths uitkeringen.txt --header X-Processing-Activity:svb-uitkeringen"
)

echo "== load: ${#KINDS[@]} kinds for $SECS s (data $DATA, audit $AUDIT)"
mkdir -p out
for k in "${KINDS[@]}"; do
  IFS='|' read -r name rate expect _ args <<<"$k"
  read -ra argv <<<"$args"
  addr=$DATA
  cmd=()
  for a in "${argv[@]}"; do
    case "$a" in
      --audit) addr=$AUDIT; cmd+=(--client supervisor) ;;
      *) cmd+=("${a/Bearer_/Bearer }") ;; # (a header is one word here: Name:value)
    esac
  done
  nice "$LOADGEN" --addr "$addr" --certs certs --connections 1 --seconds "$SECS" \
    --rate "$rate" --expect "$expect" "${cmd[@]}" > "out/$name.out" 2> "out/$name.err" &
done

# Samples: seconds since start, VmRSS (KiB), open descriptors.
START=$(date +%s)
(
  while kill -0 "$SERVER" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$SERVER/status" 2>/dev/null) || break
    fds=$(ls "/proc/$SERVER/fd" 2>/dev/null | wc -l)
    echo "$(( $(date +%s) - START )) $rss $fds"
    sleep "$SAMPLE_EVERY"
  done
) > samples.txt &
SAMPLER=$!
for job in $(jobs -p); do
  [ "$job" = "$SERVER" ] || [ "$job" = "$SAMPLER" ] || wait "$job" || true
done
kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true
SAMPLER=""
METRICS=$(curl -sf "http://$OPS/metrics")
kill -TERM "$SERVER"
wait "$SERVER" || { echo "soak: the gateway did not stop cleanly" >&2; tail -20 serve.log; exit 1; }
SERVER=""

echo "== log verify"
verify_start=$(date +%s%N)
VERIFY=$("$BIN" log verify 2>&1) && verify_ok=yes || verify_ok=no
verify_ms=$(( ($(date +%s%N) - verify_start) / 1000000 ))
echo "$VERIFY" | tail -1

# The summary.
failures=0
total=0; refused=0; unintended=0
printf '\n%-24s %9s %7s  %-22s %10s %9s %9s\n' "kind" "requests" "req/s" "statuses" "unintended" "p50 ms" "p99 ms"
for k in "${KINDS[@]}"; do
  IFS='|' read -r name _ _ refusal _ <<<"$k"
  f="out/$name.out"
  n=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' "$f"); n=${n:-0}
  rate=$(sed -n 's/.*rate=\([0-9]*\)\/s.*/\1/p' "$f")
  statuses=$(sed -n 's/^statuses=\([^ ]*\).*/\1/p' "$f")
  bad=$(sed -n 's/.*unexpected=\([0-9]*\).*/\1/p' "$f"); bad=${bad:-0}
  errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' "$f"); errors=${errors:-0}
  p50=$(sed -n 's/.*p50=\([0-9.]*\).*/\1/p' "$f")
  p99=$(sed -n 's/.* p99=\([0-9.]*\).*/\1/p' "$f")
  printf '%-24s %9s %7s  %-22s %10s %9s %9s\n' "$name" "$n" "$rate" "${statuses:--}" "$(( bad + errors ))" "$p50" "$p99"
  total=$(( total + n ))
  unintended=$(( unintended + bad + errors ))
  [ "$refusal" = yes ] && refused=$(( refused + n - bad ))
  if [ "$n" -eq 0 ]; then echo "   ^ no request answered" >&2; failures=$(( failures + 1 )); fi
  if [ -s "out/$name.err" ]; then sed 's/^/   /' "out/$name.err" | head -3; fi
done
refused_pct=$(awk -v r="$refused" -v t="$total" 'BEGIN { printf "%.1f", t ? 100 * r / t : 0 }')
server_5xx=$(awk '/^doelpoort_http_requests_total\{.*status="5[0-9][0-9]"/ { s += $2 } END { print s + 0 }' <<<"$METRICS")
log_failures=$(awk '/^doelpoort_disclosure_write_failures_total/ { print $2 }' <<<"$METRICS")
echo
echo "requests: $total; intended refusals: $refused ($refused_pct%); unintended errors: $unintended"
echo "gateway: 5xx answered $server_5xx, disclosure log write failures ${log_failures:-0}"

# Trends: least-squares slope per minute over the samples after the warm-up.
trend() { # column → "min max first last slope/min samples"
  awk -v col="$1" -v warm="$WARMUP" '
    { v = $col; if (NR == 1 || v < min) min = v; if (NR == 1 || v > max) max = v; if (NR == 1) first = v; last = v
      if ($1 >= warm) { n++; sx += $1; sy += v; sxx += $1 * $1; sxy += $1 * v } }
    END { slope = (n > 1 && n * sxx - sx * sx) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) * 60 : 0
          printf "%d %d %d %d %.2f %d", min, max, first, last, slope, n }' samples.txt
}
read -r rmin rmax rfirst rlast rslope rn <<<"$(trend 2)"
read -r fmin fmax ffirst flast fslope fn <<<"$(trend 3)"
echo
printf '%-18s %9s %9s %9s %9s %14s %10s\n' "sampled ($(wc -l < samples.txt)×)" "min" "max" "first" "last" "trend/min" "limit"
printf '%-18s %9s %9s %9s %9s %14s %10s\n' "RSS (KiB)" "$rmin" "$rmax" "$rfirst" "$rlast" "$rslope" "$RSS_TREND_MAX"
printf '%-18s %9s %9s %9s %9s %14s %10s\n' "open fds" "$fmin" "$fmax" "$ffirst" "$flast" "$fslope" "$FD_TREND_MAX"
echo "(trend: least-squares slope over the $rn samples after the first $WARMUP s)"
echo "log verify: $verify_ok, ${verify_ms} ms"

above() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
[ "$unintended" -eq 0 ] || { echo "soak: FAIL: $unintended unintended errors" >&2; failures=$(( failures + 1 )); }
[ "$server_5xx" -eq 0 ] || { echo "soak: FAIL: the gateway answered $server_5xx × 5xx" >&2; failures=$(( failures + 1 )); }
[ "${log_failures:-0}" = 0 ] || { echo "soak: FAIL: disclosure log write failures" >&2; failures=$(( failures + 1 )); }
[ "$verify_ok" = yes ] || { echo "soak: FAIL: log verify: $VERIFY" >&2; failures=$(( failures + 1 )); }
if above "$rslope" "$RSS_TREND_MAX"; then echo "soak: FAIL: RSS grows $rslope KiB/min (limit $RSS_TREND_MAX)" >&2; failures=$(( failures + 1 )); fi
if above "$fslope" "$FD_TREND_MAX"; then echo "soak: FAIL: descriptors grow $fslope/min (limit $FD_TREND_MAX)" >&2; failures=$(( failures + 1 )); fi
if above "$REFUSED_MIN_PCT" "$refused_pct" || above "$refused_pct" "$REFUSED_MAX_PCT"; then
  echo "soak: FAIL: $refused_pct% refused, meant $REFUSED_MIN_PCT–$REFUSED_MAX_PCT%" >&2; failures=$(( failures + 1 ))
fi
if [ "$failures" -gt 0 ]; then
  echo "soak: the gateway's first and last errors (serve.log; KEEP=1 keeps $WORK):" >&2
  { grep -iE 'error' serve.log | head -5; echo ...; grep -iE 'error' serve.log | tail -5; } | cut -c1-600 >&2
  echo "soak: FAILED ($failures)" >&2
  exit 1
fi
echo "soak: passed"
