#!/usr/bin/env bash
# Fuzzes the gateway's parsers with cargo-fuzz (libFuzzer), one target at a time, at the
# lowest CPU priority:
#
#   scripts/fuzz.sh TARGET SECONDS     one target, e.g. scripts/fuzz.sh haalcentraal_vraag 60
#   scripts/fuzz.sh all 600            every target for 10 minutes each
#   scripts/fuzz.sh list               the targets
#
# Targets (fuzz/fuzz_targets/, each calling doelpoort::fuzzing::<target>): haalcentraal_vraag,
# query, traceparent, signaal, token, register, domain. Each run starts from the seed corpus
# fuzz/seeds/<target> (taken from the test fixtures and policies/) and keeps what it learns in
# fuzz/corpus/<target> (not committed). A crash leaves its input in fuzz/artifacts/<target>/;
# reproduce it with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/crash-…`.
# The last line of each run (executions, exec/s, cov, ft, corpus) is appended to
# fuzz/runs.log.
#
# Needs cargo-fuzz (`cargo install --locked cargo-fuzz`). cargo-fuzz uses nightly-only compiler
# flags; on a stable toolchain RUSTC_BOOTSTRAP=1 allows them. No sanitizer: the gateway is safe
# Rust, so the faults to find are panics (and aborts), which libFuzzer catches without one, at
# several times the speed. Debug assertions (overflow checks) are on.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

targets=(haalcentraal_vraag signaal query token register domain traceparent)
usage() { echo "usage: $0 TARGET|all SECONDS   (targets: ${targets[*]})" >&2; exit 2; }

if [[ "${1:-}" == list ]]; then printf '%s\n' "${targets[@]}"; exit 0; fi
[[ $# -eq 2 && "$2" =~ ^[0-9]+$ ]] || usage
if [[ "$1" == all ]]; then
  run=("${targets[@]}")
else
  [[ " ${targets[*]} " == *" $1 "* ]] || usage
  run=("$1")
fi
command -v cargo-fuzz >/dev/null || { echo "$0: install cargo-fuzz: cargo install --locked cargo-fuzz" >&2; exit 1; }

flags=(--sanitizer none --release --debug-assertions)
nice -n 19 cargo fuzz build "${flags[@]}"
status=0
for t in "${run[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log=$(mktemp)
  echo "== fuzz $t for $2 s"
  set +e
  nice -n 19 cargo fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$2" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  # The last status line ("#N DONE cov: … ft: … corp: … exec/s: …") and the final stats.
  done_line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo '?')
  crashes=$(find "artifacts/$t" -type f | wc -l)
  summary="$(date -u +%FT%TZ) $t ${2}s rc=$rc executions=$execs exec/s=$rate crashes_in_artifacts=$crashes | $done_line"
  echo "$summary" | tee -a runs.log
  if [[ $rc -ne 0 ]]; then
    status=1
    tail -40 "$log" >&2
  fi
  rm -f "$log"
done
exit $status
