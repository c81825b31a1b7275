#!/usr/bin/env bash
# Contract test: schemathesis (scripts/requirements-test.txt) against the gateway's own
# /openapi.json, over mutual TLS with the dev certificates, on the real binary
# (target/debug/doelpoort, which `cargo test` builds; built here when missing) with a
# temporary configuration, data directory, SQLite database and free ports.
#
# Checks: no 5xx (not_a_server_error) and every response as documented
# (status_code_conformance, content_type_conformance, response_schema_conformance,
# response_headers_conformance). It runs once per client certificate in CLIENTS, so that each
# kind of organisation reaches the activities the register allows it; the document lists the
# register's activity ids for X-Processing-Activity, and schemathesis draws from them.
#
#   scripts/ci/contract.sh                      as CI runs it
#   EXAMPLES=200 scripts/ci/contract.sh         more examples per operation (default 20)
#   CLIENTS="nla" scripts/ci/contract.sh        one client only
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

examples=${EXAMPLES:-20}
clients=${CLIENTS:-"gemeente-0606 nla rvig"}
bin=$root/target/debug/doelpoort
[[ -x $bin ]] || cargo build --locked --bin doelpoort
command -v schemathesis >/dev/null || {
  echo "contract.sh: schemathesis is missing: python3 -m pip install -r scripts/requirements-test.txt" >&2
  exit 1
}

tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Three free ports on loopback.
read -r data_port audit_port ops_port < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
PY
)

cat >"$tmp/doelpoort.toml" <<TOML
[server]
data_listen = "127.0.0.1:$data_port"
audit_listen = "127.0.0.1:$audit_port"
ops_listen = "127.0.0.1:$ops_port"
workers = 2
[database]
url = "sqlite://$tmp/doelpoort.db"
[tls]
client_ca = "$tmp/certs/ca.pem"
crl = "$tmp/certs/crl.pem"
server_cert = "$tmp/certs/server.pem"
server_key = "$tmp/certs/server-key.pem"
dev_certs = true
dev_certs_dir = "$tmp/certs"
[policies]
dir = "$root/policies"
[log]
filter = "warn"
[disclosure]
keys_dir = "$tmp/keys"
[datasets]
seed_persons = 2000
TOML

"$bin" serve --config "$tmp/doelpoort.toml" >"$tmp/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$ops_port/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "contract.sh: the gateway exited:" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$ops_port/ready" >/dev/null || { echo "contract.sh: not ready after 120 s" >&2; tail -20 "$tmp/server.log" >&2; exit 1; }

# `contract URL ARGS…`: one schemathesis run against the document at URL. One worker: with two,
# hypothesis parses lambdas' source in two threads at once, which on this machine's CPython
# 3.11.7 can fail inside `ast.parse` ("AST constructor recursion depth mismatch", a CPython race
# fixed in later releases), seen once as a runtime error of the run, not of the gateway.
contract() {
  local url=$1
  shift
  schemathesis run "$tmp/openapi.json" --url "$url" "$@" --tls-verify "$tmp/certs/ca.pem" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --max-examples "$examples" --seed 1 --workers 1 --mode all --request-timeout 30 \
    --phases examples,coverage,fuzzing \
    --suppress-health-check all --no-color
}

status=0
for client in $clients; do
  cert=$tmp/certs/clients/$client.pem
  key=$tmp/certs/clients/$client-key.pem
  curl -fsS --cacert "$tmp/certs/ca.pem" --cert "$cert" --key "$key" \
    "https://127.0.0.1:$data_port/openapi.json" -o "$tmp/openapi.json"
  echo "== schemathesis as $client ($examples examples per operation)"
  set +e
  contract "https://127.0.0.1:$data_port" --exclude-path-regex '^/audit/' \
    --request-cert "$cert" --request-cert-key "$key"
  rc=$?
  set -e
  [[ $rc -eq 0 ]] || status=1
done
# The audit paths live on the audit listener (the document names it as their server): TLS
# without a client certificate, a supervisor's bearer token from the dev issuer.
token=$("$bin" token issue --config "$tmp/doelpoort.toml" --oin supervisor --role supervisor)
echo "== schemathesis on the audit listener as supervisor ($examples examples per operation)"
set +e
contract "https://127.0.0.1:$audit_port" --include-path-regex '^/audit/' \
  --header "Authorization: Bearer $token"
rc=$?
set -e
[[ $rc -eq 0 ]] || status=1
# Errors the gateway logged (actix-http's own lines about unparsable requests excepted: those
# requests were answered 400 before reaching the gateway).
errors=$(grep '"level":"ERROR"' "$tmp/server.log" | grep -v '"target":"actix_http::h1::dispatcher"' || true)
if [[ -n $errors ]]; then
  echo "contract.sh: the gateway logged errors:" >&2
  head -5 <<<"$errors" >&2
  status=1
fi
exit $status
