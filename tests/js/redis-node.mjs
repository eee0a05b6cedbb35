// A Node socket.io 4.8 server in a Redis cluster (@socket.io/redis-adapter 8.x), driven by the
// Rust tests through stdin: `node redis-node.mjs <redis-url> [key]`.
//
// It prints `REPORT {"ready": port}` once it listens and its adapter is subscribed, then reads
// one JSON command per line (`{"id": n, "op": ..., ...}`) and answers each with
// `REPORT {"id": n, "result": ...}` (or `"error"`). Clients joining it emit `join` (room, ack)
// to enter a room; server-side events `ask` are answered with `{from: "node", args}`; every
// server-side event received is reported as `REPORT {"serverSide": [...]}`.

import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { createClient } from "redis";

const [url, key = "socket.io"] = process.argv.slice(2);

function report(values) {
  console.log(`REPORT ${JSON.stringify(values)}`);
}

// Node's adapters open several sockets to Redis; none of them must bring the process down
// when Redis goes away.
function client() {
  const c = createClient({ url, socket: { reconnectStrategy: () => 200 } });
  c.on("error", () => {});
  return c;
}

const pub = client();
const sub = pub.duplicate();
sub.on("error", () => {});
const emitterClient = client();
await Promise.all([pub.connect(), sub.connect(), emitterClient.connect()]);

const http = createServer();
const io = new Server(http, { adapter: createAdapter(pub, sub, { key, requestsTimeout: 2000 }) });
const emitter = new Emitter(emitterClient, { key });

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(socket.id);
  });
});
io.on("ask", (...args) => {
  const ack = args.pop();
  ack({ from: "node", args });
});
io.on("tell", (...args) => report({ serverSide: args }));

function op(io, c) {
  let b = io;
  for (const r of c.to ?? []) b = b.to(r);
  for (const r of c.except ?? []) b = b.except(r);
  if (c.local) b = b.local;
  return b;
}

function args(c) {
  return (c.args ?? []).map((a) =>
    a && typeof a === "object" && a.$binary !== undefined ? Buffer.from(a.$binary, "hex") : a,
  );
}

const ops = {
  emit: (c) => {
    op(io, c).emit(c.event, ...args(c));
    return true;
  },
  emitter: (c) => {
    let b = emitter;
    for (const r of c.to ?? []) b = b.to(r);
    for (const r of c.except ?? []) b = b.except(r);
    b.emit(c.event, ...args(c));
    return true;
  },
  emitterJoin: (c) => {
    emitter.in(c.to ?? []).socketsJoin(c.rooms);
    return true;
  },
  emitWithAck: async (c) => {
    const answers = await op(io, c).timeout(c.timeout ?? 2000).emitWithAck(c.event, ...args(c));
    return answers.sort();
  },
  fetch: async (c) => {
    const sockets = await op(io, c).fetchSockets();
    return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] })).sort((a, b) => (a.id < b.id ? -1 : 1));
  },
  join: (c) => {
    op(io, c).socketsJoin(c.rooms);
    return true;
  },
  leave: (c) => {
    op(io, c).socketsLeave(c.rooms);
    return true;
  },
  disconnect: (c) => {
    op(io, c).disconnectSockets(!!c.close);
    return true;
  },
  rooms: async () => [...(await io.of("/").adapter.allRooms())].sort(),
  tell: (c) => {
    io.serverSideEmit(c.event, ...(c.args ?? []));
    return true;
  },
  ask: async (c) => {
    return await io.serverSideEmitWithAck(c.event, ...(c.args ?? []));
  },
  local: () => io.of("/").sockets.size,
};

http.listen(0, "127.0.0.1", () => {
  report({ ready: http.address().port });
});

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let c;
  try {
    c = JSON.parse(line);
  } catch {
    return;
  }
  try {
    const result = await ops[c.op](c);
    report({ id: c.id, result });
  } catch (e) {
    report({ id: c.id, error: String(e?.message ?? e) });
  }
});
rl.on("close", () => process.exit(0));
