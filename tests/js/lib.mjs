// Helpers shared by the Node peers of the interoperability tests.
//
// A peer runs one scenario: `node <script>.mjs <scenario> <url> [--key=value...]`. It prints
// `REPORT {json}` lines with values for the Rust test, exits 0 when the scenario passed, and
// otherwise prints `FAIL: <reason>` on stderr and exits 1. Every scenario is bounded: a peer
// still running after SCENARIO_LIMIT_MS fails.

import { isDeepStrictEqual, inspect } from "node:util";

export const SCENARIO_LIMIT_MS = 9000;

export function fail(reason) {
  console.error(`FAIL: ${reason}`);
  process.exit(1);
}

export function report(values) {
  console.log(`REPORT ${JSON.stringify(values)}`);
}

export function log(...args) {
  console.log(...args);
}

/** Parses `[scenario, url, --key=value...]` from the command line. */
export function parseArgs() {
  const [scenario, url, ...rest] = process.argv.slice(2);
  if (!scenario || !url) fail("usage: <script> <scenario> <url> [--key=value...]");
  const options = {};
  for (const arg of rest) {
    const m = /^--([^=]+)=(.*)$/.exec(arg);
    if (!m) fail(`bad option ${arg}`);
    options[m[1]] = m[2];
  }
  return { scenario, url, options };
}

/** Runs `scenarios[name]()`, exiting 0 when it resolves and 1 when it throws or hangs. */
export function main(scenarios) {
  const { scenario, url, options } = parseArgs();
  const run = scenarios[scenario];
  if (!run) fail(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  setTimeout(
    () => fail(`scenario ${scenario} did not finish within ${SCENARIO_LIMIT_MS} ms`),
    SCENARIO_LIMIT_MS,
  );
  process.on("unhandledRejection", (e) => fail(`unhandled rejection: ${e?.stack ?? e}`));
  Promise.resolve()
    .then(() => run(url, options))
    .then(
      () => process.exit(0),
      (e) => fail(e?.stack ?? String(e)),
    );
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the arguments of the next `event` of `emitter`, rejects after `ms`. */
export function once(emitter, event, ms = 3000, what = event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no ${what} within ${ms} ms`));
    }, ms);
    const listener = (...args) => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
}

/** Rejects with `what` if `promise` does not settle within `ms`. */
export function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Binary values of any kind (Buffer, ArrayBuffer, typed arrays) become Buffers, deeply. */
export function normalize(v) {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof ArrayBuffer) return Buffer.from(new Uint8Array(v));
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalize(x);
    return out;
  }
  return v;
}

/** Throws unless `actual` (binary normalized) deeply equals `expected`, bytes included. */
export function expectEqual(actual, expected, what) {
  const a = normalize(actual);
  if (!isDeepStrictEqual(a, expected)) {
    throw new Error(
      `${what}: expected ${inspect(expected, { depth: 6, maxArrayLength: 20 })}, ` +
        `got ${inspect(a, { depth: 6, maxArrayLength: 20 })}`,
    );
  }
}

export function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Socket.IO client options for a transport mode: websocket, polling or upgrade. */
export function transportOptions(mode) {
  switch (mode) {
    case "websocket":
      return { transports: ["websocket"] };
    case "polling":
      return { transports: ["polling"] };
    case "upgrade":
    case undefined:
      return { transports: ["polling", "websocket"], upgrade: true };
    default:
      fail(`unknown transport mode ${mode}`);
  }
}

/** Resolves when `socket` connects, rejects on `connect_error` or after `ms`. */
export function connected(socket, ms = 3000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket ${socket.nsp} did not connect within ${ms} ms`));
    }, ms);
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const onError = (err) => {
      cleanup();
      reject(new Error(`connect_error on ${socket.nsp}: ${err.message} ${JSON.stringify(err.data)}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Emits with an ack callback and a timeout; resolves with every argument of the ack. */
export function ack(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(3000).emit(event, ...args, (err, ...res) => {
      if (err) reject(new Error(`no ack for ${event}: ${err.message}`));
      else resolve(res);
    });
  });
}

/** `n` deterministic bytes. */
export function bytes(n, seed = 1) {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  return b;
}
