#!/usr/bin/env bash
# Where a server's CPU goes in one bench scenario: syscalls, context switches and wake-ups per
# operation (perf stat on tracepoints) and a sampled profile (perf record, cpu-clock) grouped
# by component. Needs `perf` (Debian: linux-perf) with tracepoints readable.
#
#   bash bench/profile.sh [server] [scenario] [seconds]
#     server:   sio (default), sio-1thread, floor, socketioxide, node
#     scenario: echo (default), broadcast, polling, connect
#   SIO_BIN=path/to/sio-bench-server profiles another build of the sio server (an experiment).
#
# Rust servers are rebuilt with frame pointers and line tables into bench/target-prof (the
# code is the same as in release); output goes to bench/results/profile-<server>-<scenario>.*
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER="${1:-sio}"
SCENARIO="${2:-echo}"
SECS="${3:-6}"
PORT=3990
OUT="bench/results/profile-$SERVER-$SCENARIO"
mkdir -p bench/results
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if ! perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
  echo "perf with tracepoints is needed (apt-get install -y linux-perf)" >&2
  exit 1
fi

PROF=bench/target-prof/release
echo "== building with frame pointers (bench/target-prof)"
CARGO_TARGET_DIR=bench/target-prof RUSTFLAGS="-C force-frame-pointers=yes" \
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release -q -p sio-bench-server -p sio-bench-floor -p sio-loadgen
case "$SERVER" in
  socketioxide) (cd bench/servers/socketioxide && RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release -q) ;;
  node) (cd bench/servers/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ;;
esac

case "$SERVER" in
  sio) PORT=$PORT "${SIO_BIN:-$PROF/sio-bench-server}" >/dev/null & ;;
  sio-1thread) BENCH_THREADS=1 PORT=$PORT "$PROF/sio-bench-server" >/dev/null & ;;
  floor) PORT=$PORT "$PROF/sio-bench-floor" >/dev/null & ;;
  socketioxide) PORT=$PORT bench/servers/socketioxide/target/release/socketioxide-bench-server >/dev/null & ;;
  node) PORT=$PORT node --perf-basic-prof bench/servers/node/server.mjs >/dev/null & ;;
  *) echo "unknown server $SERVER" >&2; exit 2 ;;
esac
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
"$PROF/sio-loadgen" wait-port --addr 127.0.0.1:$PORT --seconds 20

case "$SCENARIO" in
  echo) ARGS="echo --clients 100 --warmup 2 --seconds $((SECS * 2 + 2))" ;;
  polling) ARGS="polling --clients 200 --warmup 2 --seconds $((SECS * 2 + 2))" ;;
  broadcast) ARGS="broadcast --clients 1000 --ticks $((SECS * 200 + 400)) --interval-ms 10" ;;
  connect) ARGS="connect --clients 10000 --concurrency 64" ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac

EVENTS="raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_writev"
EVENTS="$EVENTS,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait"
EVENTS="$EVENTS,syscalls:sys_enter_futex,sched:sched_switch,sched:sched_wakeup,page-faults,task-clock"

echo "== $SERVER / $SCENARIO: perf stat then perf record, $SECS s each, inside the measured window"
if [ "$SCENARIO" = connect ]; then
  # Connecting is over in seconds: count and sample the whole run, both at once.
  perf stat -x, -e "$EVENTS" -p $PID -o "$OUT.stat" &
  STAT=$!
  perf record -q -e cpu-clock -F 2999 -g -p $PID -o "$OUT.data" 2>/dev/null &
  REC=$!
  sleep 0.5
  "$PROF/sio-loadgen" run $ARGS --addr 127.0.0.1:$PORT --pid $PID --server "$SERVER" >"$OUT.json"
  kill -INT $STAT $REC
  wait $STAT $REC || true
  WINDOW=all
else
  "$PROF/sio-loadgen" run $ARGS --addr 127.0.0.1:$PORT --pid $PID --server "$SERVER" >"$OUT.json" &
  GEN=$!
  sleep 3
  perf stat -x, -e "$EVENTS" -p $PID -o "$OUT.stat" -- sleep "$SECS"
  perf record -q -e cpu-clock -F 2999 -g -p $PID -o "$OUT.data" -- sleep "$SECS" 2>/dev/null
  wait $GEN || true
  WINDOW="$SECS"
fi

node - "$OUT" "$WINDOW" <<'EOF'
const fs = require("fs");
const { execFileSync } = require("child_process");
const [out, secs] = process.argv.slice(2);
const res = JSON.parse(fs.readFileSync(`${out}.json`, "utf8"));
// Operations during the perf stat window: the scenario's rate times the window, or all of
// them when the window was the whole run.
const ops = secs === "all" ? res.ops : res.ops_per_s * Number(secs);
console.log(`scenario: ${res.ops} ops at ${res.ops_per_s.toFixed(0)}/s, server CPU ${res.cpu_us_per_op?.toFixed(2)} µs/op` +
  ` (${((res.sys_share ?? 0) * 100).toFixed(0)}% kernel), errors ${res.errors}`);
console.log(`\nper operation (${ops.toFixed(0)} ops in the perf stat window, ${secs === "all" ? "the whole run" : secs + " s"}):`);
for (const line of fs.readFileSync(`${out}.stat`, "utf8").split("\n")) {
  const f = line.split(",");
  if (f.length < 3 || isNaN(Number(f[0]))) continue;
  const name = f[2].replace("syscalls:sys_enter_", "").replace("raw_syscalls:sys_enter", "all syscalls");
  const v = Number(f[0]);
  const per = name === "task-clock" ? `${(v * 1000 / ops).toFixed(2)} µs CPU` : (v / ops).toFixed(3);
  console.log(`  ${name.padEnd(22)} ${per}`);
}
const report = execFileSync("perf", ["report", "-i", `${out}.data`, "--no-children", "--sort", "dso,symbol",
  "-g", "none", "--stdio", "--percent-limit", "0"], { encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "ignore"] });
const groups = [
  ["kernel: TCP/IP + loopback", (d, s) => d.includes("kernel") && /tcp|ip_|skb|sock|inet|net_|napi|loopback|dev_|sk_|copy_|datagram|bbr|csum|__netif|nf_|neigh|release_sock|lock_sock/.test(s)],
  ["kernel: scheduler, futex, epoll, wake-ups", (d, s) => d.includes("kernel") && /sched|switch|wake|futex|ep_|epoll|enqueue|dequeue|pick_|update_|task|idle|irq|raw_spin|hrtimer|timer|tick|rcu|select_/.test(s)],
  ["kernel: memory (page faults, zeroing)", (d, s) => d.includes("kernel") && /page|fault|clear_|alloc|free|mm_|vma|slab|kmem|memcg|folio|lru/.test(s)],
  ["kernel: syscall entry and other", (d) => d.includes("kernel")],
  ["memset (libc)", (d, s) => /memset/.test(s)],
  ["malloc/free/memcpy (libc)", (d, s) => d.startsWith("libc") && /malloc|free|realloc|memmove|memcpy|_int_|calloc|tcache/.test(s)],
  ["libc other (syscall wrappers)", (d) => d.startsWith("libc") || d.startsWith("ld-")],
  ["tokio runtime, mio, wakers, locks", (d, s) => /tokio::runtime|tokio::sync|mio::|parking_lot|atomic_waker|std::sync|futures_util::lock|tokio::io|tokio::net|tokio::time|OwnedTasks|Notify/.test(s)],
  ["tungstenite (WebSocket framing)", (d, s) => /tungstenite/.test(s)],
  ["hyper / http", (d, s) => /hyper|http::|httparse|h1::/.test(s)],
  ["sio-core (protocol state machines)", (d, s) => /sio_core/.test(s)],
  ["sio-tokio / sio-runtime (driver, dispatch, handlers)", (d, s) => /sio_tokio|sio_runtime|sio_async_std|sio_bench/.test(s)],
  ["serde_json", (d, s) => /serde/.test(s)],
  ["socketioxide / engineioxide", (d, s) => /socketioxide|engineioxide/.test(s)],
  ["node / V8", (d) => /node|v8|perf-|JIT/.test(d)],
  ["other", () => true],
];
const totals = new Map(groups.map(([g]) => [g, 0]));
const top = [];
for (const line of report.split("\n")) {
  const m = line.match(/^\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*?)\s*$/);
  if (!m) continue;
  const [_, pct, dso, sym] = m;
  const p = Number(pct);
  const g = groups.find(([, f]) => f(dso, sym))[0];
  totals.set(g, totals.get(g) + p);
  top.push([p, dso, sym]);
}
const cpuPerOp = res.cpu_us_per_op ?? 0;
console.log(`\nprofile by component (share of samples; µs per op at ${cpuPerOp.toFixed(2)} µs/op):`);
for (const [g, p] of [...totals].sort((a, b) => b[1] - a[1])) {
  if (p < 0.5) continue;
  console.log(`  ${p.toFixed(1).padStart(5)}%  ${(p / 100 * cpuPerOp).toFixed(2).padStart(6)} µs  ${g}`);
}
console.log("\ntop symbols:");
for (const [p, d, s] of top.sort((a, b) => b[0] - a[0]).slice(0, 25)) {
  console.log(`  ${p.toFixed(2).padStart(6)}%  ${d.padEnd(18).slice(0, 18)} ${s.slice(0, 110)}`);
}
EOF
echo "(perf data: $OUT.data; call graphs: perf report -i $OUT.data)"
