#!/usr/bin/env bash
# Installs what the tests need (Chromium, Node and Python peers, cargo-fuzz) and runs every test:
# formatting, lints, unit/property/simulation/interop tests, the fuzz corpora, a fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium (Debian's package) for the browser test"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

echo "== installing the Node peers (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

echo "== installing the Python peer (tests/py/.venv)"
python3 -m venv tests/py/.venv
tests/py/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== fuzz smoke run (${FUZZ_SECONDS:=10} s per target)"
bash scripts/fuzz.sh "$FUZZ_SECONDS"
