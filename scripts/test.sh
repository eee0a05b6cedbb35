#!/usr/bin/env bash
# Installs what the tests need (Node peers, cargo-fuzz) and runs every test:
# formatting, lints, unit/property/simulation/interop tests, the fuzz corpora, a fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== installing the Node peers (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== fuzz smoke run (${FUZZ_SECONDS:=10} s per target)"
bash scripts/fuzz.sh "$FUZZ_SECONDS"
