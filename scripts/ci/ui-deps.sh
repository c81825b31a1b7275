#!/usr/bin/env bash
# The tools of the audit UI browser test (tests/audit_ui.rs, tests/ui/): Debian's Chromium
# and the pinned npm packages of tests/ui (package-lock.json). Installs only what is missing;
# the test itself fails, saying why, when they are not there.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x /usr/bin/chromium ]; then
  echo "== chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "scripts/ci/ui-deps.sh: node (>= 20) and npm are required for tests/ui" >&2
  exit 1
fi
echo "== npm ci (tests/ui)"
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error)
