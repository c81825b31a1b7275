#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, and every unit and integration test,
# against SQLite (embedded) and PostgreSQL (DOELPOORT_TEST_POSTGRES_URL, default
# postgres://postgres@127.0.0.1:5432/test). PostgreSQL tests never skip: without a server they
# fail, saying how to start one.
set -euo pipefail
cd "$(dirname "$0")/.."

export DOELPOORT_TEST_POSTGRES_URL="${DOELPOORT_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v pg_isready >/dev/null && ! pg_isready -q -d "$DOELPOORT_TEST_POSTGRES_URL"; then
  echo "scripts/test.sh: PostgreSQL is not reachable at $DOELPOORT_TEST_POSTGRES_URL." >&2
  echo "  Start it:  pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
  echo "  or set DOELPOORT_TEST_POSTGRES_URL to a server where the user may CREATE DATABASE." >&2
  exit 1
fi

echo "== test tools (PyPI: scripts/requirements-test.txt)"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  -r scripts/requirements-test.txt
scripts/ci/ui-deps.sh

echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
scripts/ci/deny.sh
echo "== cargo test (SQLite and PostgreSQL)"
log=$(mktemp)
set +e
cargo test --locked --all-targets --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" -ne 0 ] || scripts/ci/soak.sh || status=$?
# One closing line for the whole run (cargo prints one per test binary).
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{ s += $1 } END { print s + 0 }')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{ s += $1 } END { print s + 0 }')
rm -f "$log"
echo "summary: $passed passed, $failed failed"
scripts/ci/contract.sh || status=1
exit "$status"
