#!/usr/bin/env bash
# Runs every cargo-fuzz target for the given number of seconds (default 60), starting from the
# committed corpora. Installs cargo-fuzz if needed. The stable toolchain is used with
# RUSTC_BOOTSTRAP=1, which cargo-fuzz's sanitizer flags need.
#   bash scripts/fuzz.sh 600          # ten minutes per target
#   bash scripts/fuzz.sh 60 sio_packet  # one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
  echo "-- fuzzing $t for ${seconds}s"
  # Run on a scratch copy so that a smoke run does not grow the committed corpus.
  work="$(mktemp -d)"
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  log="$(mktemp)"
  status=0
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$work" -- -max_total_time="$seconds" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|thread)" "$log" || true
  if [ "$status" -ne 0 ]; then tail -n 40 "$log"; fi
  rm -rf "$work" "$log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $t failed (see fuzz/artifacts/$t)"
    exit 1
  fi
done
