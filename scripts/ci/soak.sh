#!/usr/bin/env bash
# CI's soak: 2 minutes of the mixed load of scripts/soak.sh (the documented run is 30 minutes),
# on the debug binaries that `cargo test` has just built.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "== soak (2 minutes; scripts/soak.sh 30m is the full run)"
exec nice scripts/soak.sh "${SOAK_DURATION:-2m}"
