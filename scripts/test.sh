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

if ! pkg-config --exists libwebsockets 2>/dev/null || ! command -v valgrind >/dev/null 2>&1 \
  || ! command -v cc >/dev/null 2>&1; then
  echo "== installing libwebsockets-dev, pkg-config, valgrind and a C compiler (the sio-ffi C example)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq \
    libwebsockets-dev pkg-config valgrind gcc libc6-dev >/dev/null
fi

if ! command -v redis-server >/dev/null 2>&1; then
  # The redis_* tests start their own redis-server on a free loopback port and stop it.
  echo "== installing redis-server (Debian's package) for the Redis adapter tests"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq redis-server >/dev/null
fi

echo "== installing the Node peers (tests/js)"
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

echo "== installing the Python peer (tests/py/.venv)"
python3 -m venv tests/py/.venv
tests/py/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/py/requirements.txt

echo "== installing the sio-ffi Python package's dependencies (protocol-ffi/python/.venv)"
python3 -m venv protocol-ffi/python/.venv
protocol-ffi/python/.venv/bin/pip install --quiet --disable-pip-version-check \
  -r protocol-ffi/python/requirements.txt

# The Python server under valgrind runs on Debian's interpreter (pyenv's reports
# uninitialised values of its own), with Debian's /usr/lib/valgrind/python3.supp.
if ! /usr/bin/python3.11 -c 'import ensurepip' >/dev/null 2>&1 \
  || [ ! -f /usr/lib/valgrind/python3.supp ]; then
  echo "== installing Debian's python3.11 and its venv module (the sio-ffi Python server under valgrind)"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3 python3.11-venv >/dev/null
fi
echo "== the same with Debian's python3.11 (protocol-ffi/python/.venv-valgrind)"
/usr/bin/python3.11 -m venv protocol-ffi/python/.venv-valgrind
protocol-ffi/python/.venv-valgrind/bin/pip install --quiet --disable-pip-version-check \
  -r protocol-ffi/python/requirements.txt

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== fuzz smoke run (${FUZZ_SECONDS:=10} s per target)"
bash scripts/fuzz.sh "$FUZZ_SECONDS"
