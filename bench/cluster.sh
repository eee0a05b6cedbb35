#!/usr/bin/env bash
# 100 000 idle WebSocket connections held at once on this machine by the sio bench server.
#
# One process may open only `ulimit -Hn` files (20 000 here, and the limit cannot be raised
# without CAP_SYS_RESOURCE), so one process cannot hold 100 000 sockets. Here PROCS processes
# of the sio bench server (sio-tokio, multi-thread runtime, default options) share one port
# with SO_REUSEPORT, the kernel spreading the connections among them, and as many generator
# processes connect TOTAL clients between them, each from its own loopback addresses. Once all
# are connected the servers' memory is read; then every connection is kept idle for HOLD s,
# longer than pingInterval + pingTimeout (25 + 20 s), so that each answers the server's
# heartbeat and a connection that missed one would have been closed (and counted).
#
#   bash bench/cluster.sh           # TOTAL=100000 HOLD=50; writes bench/results/cluster.json
#
# Overrides: TOTAL, HOLD, PROCS, PORT.
set -euo pipefail
cd "$(dirname "$0")/.."

TOTAL="${TOTAL:-100000}"
HOLD="${HOLD:-50}"
PORT="${PORT:-3700}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
if [ "$NOFILE" = unlimited ]; then NOFILE=1048576; fi
# SO_REUSEPORT spreads connections by a hash of their addresses: keep every process well
# below its limit.
PER=$((NOFILE * 85 / 100))
PROCS="${PROCS:-$(((TOTAL + PER - 1) / PER))}"
OUT=bench/results/cluster
mkdir -p bench/results
rm -f "$OUT".* "$OUT"-*

cargo build --release -q -p sio-loadgen -p sio-bench-server
LOADGEN=target/release/sio-loadgen

PIDS=()
GENS=()
cleanup() {
  kill "${GENS[@]}" "${PIDS[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

rss_kib() { # sum of the servers' VmRSS
  local sum=0 pid
  for pid in "${PIDS[@]}"; do
    sum=$((sum + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")))
  done
  echo "$sum"
}
established() { # server-side established connections on the port
  ss -Htn state established "( sport = :$PORT )" | wc -l
}

echo "== $PROCS server processes on 127.0.0.1:$PORT (SO_REUSEPORT), $TOTAL clients, hold $HOLD s"
for _ in $(seq 1 "$PROCS"); do
  BENCH_REUSEPORT=1 PORT="$PORT" target/release/sio-bench-server >>"$OUT.log" 2>&1 &
  PIDS+=($!)
done
"$LOADGEN" wait-port --addr "127.0.0.1:$PORT" --seconds 20
sleep 1
BEFORE="$(rss_kib)"

START="$(date +%s.%N)"
for k in $(seq 0 $((PROCS - 1))); do
  n=$((TOTAL / PROCS))
  if [ "$k" -eq $((PROCS - 1)) ]; then n=$((TOTAL - n * (PROCS - 1))); fi
  "$LOADGEN" run connect --clients "$n" --concurrency 64 --max-seconds 240 \
    --source-base $((10 + k)) --hold $((HOLD + 120)) --until-file "$OUT.done" \
    --addr "127.0.0.1:$PORT" --pid "${PIDS[$k]}" --server sio-cluster --label connect-cluster \
    >"$OUT-$k.json" 2>"$OUT-$k.err" &
  GENS+=($!)
done

# Wait until every generator has connected all it could.
while :; do
  ready=0
  for k in $(seq 0 $((PROCS - 1))); do
    if grep -q '^ready ' "$OUT-$k.err" 2>/dev/null; then ready=$((ready + 1)); fi
    if ! kill -0 "${GENS[$k]}" 2>/dev/null && ! grep -q '^ready ' "$OUT-$k.err"; then
      echo "generator $k ended early:" >&2
      cat "$OUT-$k.err" >&2
      exit 1
    fi
  done
  [ "$ready" -eq "$PROCS" ] && break
  sleep 1
done
CONNECT_SECONDS="$(awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')"
HELD="$(established)"
AFTER="$(rss_kib)"
PER_PROC=""
for pid in "${PIDS[@]}"; do
  PER_PROC="$PER_PROC $(($(ls "/proc/$pid/fd" | wc -l)))"
done
echo "   all connected after ${CONNECT_SECONDS} s: $HELD established, servers' RSS $((AFTER / 1024)) MiB" \
  "(before: $((BEFORE / 1024)) MiB), open files per process:$PER_PROC"

sleep "$HOLD"
HELD_AFTER="$(established)"
echo "   after $HOLD s idle: $HELD_AFTER established"
touch "$OUT.done"
for g in "${GENS[@]}"; do wait "$g"; done
GENS=()

TOTAL="$TOTAL" PROCS="$PROCS" HOLD="$HOLD" NOFILE="$NOFILE" BEFORE="$BEFORE" AFTER="$AFTER" \
HELD="$HELD" HELD_AFTER="$HELD_AFTER" CONNECT_SECONDS="$CONNECT_SECONDS" PER_PROC="$PER_PROC" \
OUT="$OUT" DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" \
REV="$(git describe --always --dirty 2>/dev/null || echo unknown)" node -e '
  const fs = require("fs");
  const e = process.env;
  const runs = [];
  for (let k = 0; k < Number(e.PROCS); k++) {
    runs.push(JSON.parse(fs.readFileSync(`${e.OUT}-${k}.json`, "utf8")));
  }
  const sum = (f) => runs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const connected = sum((r) => r.connected);
  const r = {
    clients: Number(e.TOTAL), processes: Number(e.PROCS), nofile: Number(e.NOFILE),
    connected, established: Number(e.HELD), established_after_hold: Number(e.HELD_AFTER),
    hold_s: Number(e.HOLD), connect_s: Number(Number(e.CONNECT_SECONDS).toFixed(1)),
    connects_per_s: Math.round(connected / Number(e.CONNECT_SECONDS)),
    rss_mib_before: Number((Number(e.BEFORE) / 1024).toFixed(1)),
    rss_mib_after: Number((Number(e.AFTER) / 1024).toFixed(1)),
    rss_kib_per_conn: Number(((Number(e.AFTER) - Number(e.BEFORE)) / connected).toFixed(2)),
    open_files_per_process: e.PER_PROC.trim().split(/\s+/).map(Number),
    pings: sum((r) => r.pings), errors: sum((r) => r.errors),
    first_error: runs.map((r) => r.first_error).find((x) => x) ?? null,
    date: e.DATE, revision: e.REV,
  };
  fs.writeFileSync(`${e.OUT}.json`, JSON.stringify(r) + "\n");
  console.log(JSON.stringify(r));'
