#!/usr/bin/env bash
# The side-by-side load bench: builds everything in release, runs every scenario against every
# server (each server a fresh process per run, the generator a separate process, loopback
# only), and writes the medians into bench/README.md (between the bench:results markers) and
# bench/results.svg.
#
#   bash bench/run.sh          # full: 3 runs of each cell, ~15 min
#   bash bench/run.sh quick    # 1 shorter run, ~3 min; writes bench/results/quick.{md,svg} only
#   bash bench/cluster.sh      # 100 000 connections over several processes (the full run ends with it)
#
# Overrides: REPS=n, SERVERS="floor sio sio-1thread sio-async-std socketioxide node", SCENARIOS="connect-1000 echo ...".
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-full}"
case "$MODE" in
  full | quick) ;;
  *) echo "usage: bash bench/run.sh [full|quick]" >&2; exit 2 ;;
esac

mkdir -p bench/results
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="bench/results/$MODE-$STAMP.jsonl"
META="bench/results/$MODE-$STAMP.meta.json"
LOG="bench/results/$MODE-$STAMP.log"
: >"$RESULTS"
: >"$LOG"

# Tens of thousands of sockets: raise the soft open-file limit to the hard one. Beyond ~28 000
# connections the generator spreads its source addresses over 127.0.0.x (see loadgen).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
if [ "$NOFILE" = unlimited ]; then NOFILE=1048576; fi
MAX_CONN=$((NOFILE - 200))
if [ "$MAX_CONN" -gt 100000 ]; then MAX_CONN=100000; fi

echo "== building (release)"
cargo build --release -q -p sio-loadgen -p sio-bench-server -p sio-bench-floor
(cd bench/servers/socketioxide && cargo build --release -q)
(cd bench/servers/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

LOADGEN=target/release/sio-loadgen

if [ "$MODE" = full ]; then
  REPS="${REPS:-3}"
  SCENARIOS="${SCENARIOS:-connect-1000 connect-10000 connect-max echo broadcast polling}"
  SECONDS_ECHO=10
  TICKS=500
else
  REPS="${REPS:-1}"
  SCENARIOS="${SCENARIOS:-connect-1000 connect-10000 echo broadcast polling}"
  SECONDS_ECHO=3
  TICKS=200
fi
SERVERS="${SERVERS:-floor sio sio-1thread sio-async-std socketioxide node}"

SERVER_PID=""
start_server() { # name port
  local name="$1" port="$2"
  case "$name" in
    floor) PORT="$port" target/release/sio-bench-floor >>"$LOG" 2>&1 & ;;
    sio) PORT="$port" target/release/sio-bench-server >>"$LOG" 2>&1 & ;;
    sio-1thread) BENCH_THREADS=1 PORT="$port" target/release/sio-bench-server >>"$LOG" 2>&1 & ;;
    sio-async-std) BENCH_RUNTIME=async-std PORT="$port" target/release/sio-bench-server >>"$LOG" 2>&1 & ;;
    socketioxide) PORT="$port" bench/servers/socketioxide/target/release/socketioxide-bench-server >>"$LOG" 2>&1 & ;;
    node) PORT="$port" node bench/servers/node/server.mjs >>"$LOG" 2>&1 & ;;
    *) echo "unknown server $name" >&2; return 1 ;;
  esac
  SERVER_PID=$!
  "$LOADGEN" wait-port --addr "127.0.0.1:$port" --seconds 20
}

stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
trap stop_server EXIT

scenario_args() { # scenario -> loadgen arguments
  case "$1" in
    connect-1000) echo "connect --clients 1000 --label connect-1000" ;;
    connect-10000) echo "connect --clients 10000 --label connect-10000" ;;
    connect-max) echo "connect --clients $MAX_CONN --max-seconds 60 --label connect-max" ;;
    echo) echo "echo --clients 100 --seconds $SECONDS_ECHO --warmup 1" ;;
    broadcast) echo "broadcast --clients 1000 --ticks $TICKS --interval-ms 10" ;;
    polling) echo "polling --clients 200 --seconds $SECONDS_ECHO --warmup 1" ;;
    *) echo "unknown scenario $1" >&2; return 1 ;;
  esac
}

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
RUN=0
read -r -a SERVER_LIST <<<"$SERVERS"
for rep in $(seq 1 "$REPS"); do
  for scenario in $SCENARIOS; do
    # Rotate the server order from one repetition to the next.
    n=${#SERVER_LIST[@]}
    for i in $(seq 0 $((n - 1))); do
      server="${SERVER_LIST[$(((i + rep - 1) % n))]}"
      if [ "$server" = floor ] && [ "$scenario" = polling ]; then
        continue # the floor speaks WebSocket only
      fi
      RUN=$((RUN + 1))
      port=$((3800 + RUN % 100))
      printf '== run %d/%d  %-14s %-13s ' "$rep" "$REPS" "$scenario" "$server"
      start_server "$server" "$port"
      # shellcheck disable=SC2046
      if out="$(timeout 180 "$LOADGEN" run $(scenario_args "$scenario") \
        --addr "127.0.0.1:$port" --pid "$SERVER_PID" --server "$server" 2>>"$LOG")"; then
        echo "$out" >>"$RESULTS"
        echo "$out" | node -e '
          const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
          const f = (v, d = 1) => (v == null ? "-" : Number(v).toFixed(d));
          console.log(`${o.connected} conn, ${f(o.ops_per_s, 0)} op/s, cpu ${f(o.cpu_us_per_op, 2)} us/op, ` +
            `p50 ${f(o.p50_us)} p99 ${f(o.p99_us)} us, rss/conn ${f(o.rss_kib_per_conn)} KiB, ` +
            `lost ${o.lost ?? "-"}, errors ${o.errors}`);'
      else
        echo "FAILED (see $LOG)"
      fi
      stop_server
      sleep 0.5
    done
  done
done

# 100 000 connections need several processes here (one may open only $NOFILE files): the
# full run ends with bench/cluster.sh, whose result joins the targets (CLUSTER=0 skips it).
CLUSTER_JSON=null
if [ "$MODE" = full ] && [ "${CLUSTER:-1}" != 0 ] && [[ " $SERVERS " == *" sio "* ]]; then
  echo "== cluster: 100 000 connections over several sio processes (bench/cluster.sh)"
  if bash bench/cluster.sh >>"$LOG" 2>&1; then
    CLUSTER_JSON="$(cat bench/results/cluster.json)"
    echo "$CLUSTER_JSON"
  else
    echo "FAILED (see $LOG)"
  fi
fi

SOCKETIOXIDE_VERSION="$(grep -A1 '^name = "socketioxide"$' bench/servers/socketioxide/Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p')"
SOCKETIO_VERSION="$(node -p 'require("./bench/servers/node/node_modules/socket.io/package.json").version')"
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
BENCH_MODE="$MODE" BENCH_REPS="$REPS" BENCH_NOFILE="$NOFILE" BENCH_MAX_CONN="$MAX_CONN" \
BENCH_NPROC="$(nproc)" BENCH_CPU="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" \
BENCH_RAM="$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
BENCH_KERNEL="$(uname -r)" BENCH_RUSTC="$(rustc --version | cut -d' ' -f2)" \
BENCH_NODE="$(node --version)" BENCH_SOCKETIO="$SOCKETIO_VERSION" \
BENCH_SOCKETIOXIDE="$SOCKETIOXIDE_VERSION" BENCH_LOAD="$LOAD_BEFORE" \
BENCH_REV="$(git describe --always --dirty 2>/dev/null || echo unknown)" \
BENCH_CLUSTER="$CLUSTER_JSON" node -e '
    const e = process.env;
    console.log(JSON.stringify({
      date: e.BENCH_DATE, mode: e.BENCH_MODE, reps: Number(e.BENCH_REPS),
      nofile: Number(e.BENCH_NOFILE), max_connections: Number(e.BENCH_MAX_CONN),
      nproc: e.BENCH_NPROC, cpu: e.BENCH_CPU, ram: e.BENCH_RAM, kernel: e.BENCH_KERNEL,
      rustc: e.BENCH_RUSTC, node: e.BENCH_NODE, socketio: e.BENCH_SOCKETIO,
      socketioxide: e.BENCH_SOCKETIOXIDE, load: e.BENCH_LOAD, revision: e.BENCH_REV,
      cluster: JSON.parse(e.BENCH_CLUSTER || "null"),
    }));' >"$META"

echo "== report"
if [ "$MODE" = full ]; then
  "$LOADGEN" report --results "$RESULTS" --meta "$META" --readme bench/README.md \
    --svg bench/results.svg
else
  "$LOADGEN" report --results "$RESULTS" --meta "$META" --readme - \
    --svg bench/results/quick.svg --markdown bench/results/quick.md
fi
echo "== results: $RESULTS (log: $LOG)"
