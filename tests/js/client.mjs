// socket.io-client 4.8 against the sio-tokio test server (tests/src/node.rs).
//
//   node client.mjs <scenario> <url> [--transport=websocket|polling|upgrade] [--key=value...]

import { io, Manager } from "socket.io-client";
import {
  ack,
  bytes,
  connected,
  expect,
  expectEqual,
  log,
  main,
  once,
  report,
  sleep,
  transportOptions,
  within,
} from "./lib.mjs";

// ----- data: every kind of value, both ways, plus acks both ways ---------------------------

const CASES = [
  ["text", ["hello world"]],
  ["empty string", [""]],
  ["numbers", [0, 1, -1, 42, 3.14159, -2.5e-7, 1e21, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]],
  ["booleans and null", [true, false, null]],
  ["object", [{ a: 1, b: [true, false, null], c: { d: "e", f: [] }, g: {} }]],
  ["array", [[1, "two", [3, [4]], { five: 5 }]]],
  [
    "unicode",
    ["emoji 😀🎉👍🏽👨‍👩‍👧 cjk 中文字符 日本語のテキスト 한국어 accents éàü ∑∞ \"quotes\" \\ \n\t\u2028\u2029 \u0000"],
  ],
  ["unicode keys", [{ ключ: "значение", 键: "值", "🔑": "🔒" }]],
  ["binary", [Buffer.from([0, 1, 2, 3, 254, 255])]],
  ["empty binary", [Buffer.alloc(0)]],
  ["large binary", [bytes(100_000)]],
  [
    "nested binary",
    [{ file: Buffer.from("abc"), list: [Buffer.from([1, 2]), { deep: Buffer.from([3]) }], text: "x" }],
  ],
  ["binary in array", [[Buffer.from([9]), "mid", Buffer.from([8, 7])]]],
  ["several args", [1, "two", { three: 3 }, [4], Buffer.from([5]), null, true, "😀", { b: [Buffer.from([6])] }]],
  ["no args", []],
];

const SAMPLE = {
  text: "héllo 😀 中文 한국어",
  numbers: [1, 2.5, -3, 0.25],
  int: 41,
  flag: false,
  blob: Buffer.from([1, 2, 3, 4]),
  parts: [Buffer.from("ab"), Buffer.from("cde"), Buffer.alloc(0)],
  nested: { inner: bytes(300, 7) },
};

function expectedReply(s) {
  return {
    text_reversed: [...s.text].reverse().join(""),
    chars: [...s.text].length,
    sum: s.numbers.reduce((a, b) => a + b, 0),
    int_plus_one: s.int + 1,
    flag_not: !s.flag,
    blob_reversed: Buffer.from(s.blob).reverse(),
    parts_concat: Buffer.concat(s.parts),
    parts_lens: s.parts.map((p) => p.length),
    inner_len: s.nested.inner.length,
    nested: { list: [s.nested.inner.subarray(0, 1), Buffer.from([0xff, 0x00])] },
  };
}

const TABLE = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

async function roundTrips(socket, pass) {
  for (const [name, args] of CASES) {
    // client -> server -> client, as an event
    const got = once(socket, "echo", 3000, `echo of ${name} (${pass})`);
    socket.emit("echo", ...args);
    expectEqual(await got, args, `echo of ${name} (${pass})`);
    // client -> server -> client, as the server's ack of the client's event
    expectEqual(await ack(socket, "ack-echo", ...args), args, `ack-echo of ${name} (${pass})`);
  }
  // emitWithAck resolves with the ack's first argument.
  const first = await socket.timeout(3000).emitWithAck("ack-echo", { bin: Buffer.from([7, 7]) }, "ignored");
  expectEqual(first, { bin: Buffer.from([7, 7]) }, `emitWithAck (${pass})`);

  // The server decodes a typed value and answers with values (and binary) of its own.
  const [reply, table] = await ack(socket, "typed", SAMPLE);
  expectEqual(reply, expectedReply(SAMPLE), `typed reply (${pass})`);
  expectEqual(table, TABLE, `server-made binary (${pass})`);

  // The server asks (emit_with_ack) and the client answers, binary included.
  const answer = await ack(socket, "ask-me");
  expectEqual(answer, [{ answer: 42, question: "what is 6*7?" }, Buffer.from([2, 1, 0])], `ask-me (${pass})`);

  // A question the client does not answer times out on the server.
  const ignored = await socket.timeout(3000).emitWithAck("ask-ignored");
  expectEqual(ignored, { error: "operation has timed out" }, `ask-ignored (${pass})`);
}

function answerQuestions(socket) {
  socket.on("question", (text, buf, callback) => {
    if (typeof callback !== "function") return;
    const b = Buffer.from(buf ?? []);
    callback({ answer: text === "what is 6*7?" ? 42 : -1, question: text }, Buffer.from(b).reverse());
  });
  socket.on("ignored-question", () => {});
}

async function data(url, { transport = "upgrade" }) {
  const socket = io(url, { ...transportOptions(transport), reconnection: false });
  answerQuestions(socket);
  let upgradedTo = null;
  const upgraded = new Promise((resolve) =>
    socket.io.engine.on("upgrade", (t) => {
      upgradedTo = t.name;
      resolve(t.name);
    }),
  );
  // The transport of the Engine.IO handshake (the upgrade may complete before the namespace
  // connects, so look at it when the connection opens).
  let initial = null;
  socket.io.on("open", () => {
    initial = socket.io.engine.transport.name;
  });
  await connected(socket);
  expect(
    initial === (transport === "websocket" ? "websocket" : "polling"),
    `opened over ${initial} with transport mode ${transport}`,
  );
  await roundTrips(socket, `first pass, connected over ${initial}`);
  if (transport === "upgrade") {
    const name = await within(upgraded, 5000, "upgrade to websocket");
    expect(name === "websocket", `upgraded to ${name}`);
    expect(socket.io.engine.transport.name === "websocket", "the engine's transport after the upgrade");
    await roundTrips(socket, "after the upgrade");
  }
  const [me] = await ack(socket, "whoami");
  expect(me.id === socket.id, `server-side id ${me.id} vs client-side ${socket.id}`);
  expect(me.nsp === "/", `server-side namespace ${me.nsp}`);
  const final = socket.io.engine.transport.name;
  expect(me.transport === final, `server-side transport ${me.transport}, client-side ${final}`);
  if (transport === "polling") expect(upgradedTo === null, "a polling-only client upgraded");
  report({ sid: socket.id, initial, final, server_transport: me.transport, upgraded: upgradedTo });
  socket.disconnect();
}

// ----- namespaces: / and /custom on one connection --------------------------------------------

async function sockets(via, nsp) {
  const [ids] = await ack(via, "sockets", nsp);
  return ids;
}

async function waitUntilGone(via, nsp, sid) {
  for (let i = 0; i < 100; i++) {
    if (!(await sockets(via, nsp)).includes(sid)) return;
    await sleep(20);
  }
  throw new Error(`the server still lists ${sid} in ${nsp}`);
}

async function echoCheck(socket, value, what) {
  const got = once(socket, "echo", 3000, what);
  socket.emit("echo", value);
  expectEqual(await got, [value], what);
}

async function namespaces(url, { transport = "websocket" }) {
  const manager = new Manager(url, { ...transportOptions(transport), reconnection: false });
  const root = manager.socket("/");
  const custom = manager.socket("/custom");
  await Promise.all([connected(root), connected(custom)]);
  const engine = manager.engine;
  const engineId = engine.id;
  expect(typeof engineId === "string" && engineId.length > 0, "no engine id");
  expect(
    root.io.engine.id === engineId && custom.io.engine.id === engineId,
    `two engines: ${root.io.engine.id} and ${custom.io.engine.id}`,
  );
  const [meRoot] = await ack(root, "whoami");
  const [meCustom] = await ack(custom, "whoami");
  expectEqual([meRoot.id, meRoot.nsp], [root.id, "/"], "whoami on /");
  expectEqual([meCustom.id, meCustom.nsp], [custom.id, "/custom"], "whoami on /custom");
  expect(root.id !== custom.id, "both namespaces share a socket id");
  expect(
    meRoot.remote && meRoot.remote === meCustom.remote,
    `the server sees two connections: ${meRoot.remote} and ${meCustom.remote}`,
  );
  // Events stay in their namespace.
  let leaked = 0;
  root.on("echo", () => leaked++);
  await echoCheck(custom, "to custom only", "echo on /custom");
  await echoCheck(root, "to root", "echo on /");
  expect(leaked === 1, `/ got ${leaked} echoes, expected only its own`);
  root.off("echo");

  const custom1 = custom.id;
  custom.disconnect();
  await waitUntilGone(root, "/custom", custom1);
  await echoCheck(root, "root after /custom left", "echo on / after leaving /custom");
  expect(manager.engine === engine && engine.id === engineId, "the connection changed");
  expect(engine.readyState === "open", `the connection is ${engine.readyState}`);
  expect((await sockets(root, "/")).includes(root.id), "/ lost its socket");

  custom.connect();
  await connected(custom);
  const custom2 = custom.id;
  expect(custom2 !== custom1, "a new socket on /custom reuses the old id");
  expect(manager.engine.id === engineId, "rejoining /custom opened a new connection");
  const d = once(custom, "disconnect");
  custom.emit("disconnect-me");
  const [reason] = await d;
  expect(reason === "io server disconnect", `/custom disconnected with ${reason}`);
  await echoCheck(root, "root after the server dropped /custom", "echo on / after the server dropped /custom");
  expect(manager.engine.id === engineId && engine.readyState === "open", "the connection did not survive");
  report({ engine: engineId, root: root.id, custom1, custom2 });
  const rootGone = once(root, "disconnect");
  root.disconnect();
  await rootGone;
}

// ----- auth through a middleware ---------------------------------------------------------------

async function auth(url, { transport = "upgrade", token }) {
  const base = {
    ...transportOptions(transport),
    reconnection: false,
    forceNew: true,
    query: { via: "node-test", n: "1" },
    extraHeaders: { "x-sio-test": "header-value" },
  };
  const ok = io(`${url}/secure`, { ...base, auth: { token, user: "ana" } });
  const seen = once(ok, "seen", 3000);
  await connected(ok);
  const [s] = await seen;
  expectEqual(s.auth, { token, user: "ana" }, "auth seen by the server");
  const query = new URLSearchParams(s.query);
  expect(query.get("via") === "node-test" && query.get("n") === "1", `query seen: ${s.query}`);
  expect(query.get("EIO") === "4", `query seen: ${s.query}`);
  expect(s.socket_handshake_query === s.query, "socket.handshake() disagrees with the middleware");
  expect(s.header === "header-value", `header seen: ${s.header}`);
  await echoCheck(ok, "authorized", "echo on /secure");

  const bad = io(`${url}/secure`, { ...base, auth: { token: "wrong" } });
  const [err] = await once(bad, "connect_error", 3000);
  expect(err.message === "unauthorized", `connect_error message ${err.message}`);
  expectEqual(err.data, { reason: "bad token", code: 4001, token: "wrong" }, "connect_error data");
  expect(!bad.connected && bad.id === undefined, "a refused socket is connected");
  // The refusal is the namespace's: the connection itself stays usable.
  const other = bad.io.socket("/");
  await connected(other);
  await echoCheck(other, "same connection, other namespace", "echo on / after a refusal");

  const none = io(`${url}/secure`, base);
  const [err2] = await once(none, "connect_error", 3000);
  expect(err2.message === "unauthorized", `connect_error message ${err2.message}`);
  expectEqual(err2.data, { reason: "no token", code: 4000 }, "connect_error data without auth");
  report({ accepted: ok.id });
  for (const s of [ok, bad, other, none]) s.disconnect();
}

// ----- rooms and broadcasts ----------------------------------------------------------------------

async function broadcast(url, { clients = "60" }) {
  const n = Number(clients);
  const opts = { transports: ["websocket"], forceNew: true, reconnection: false };
  const peers = Array.from({ length: n }, (_, i) => {
    const socket = io(url, opts);
    const peer = { i, socket, news: new Map(), barriers: new Set() };
    socket.on("news", (tag) => peer.news.set(tag, (peer.news.get(tag) ?? 0) + 1));
    socket.on("barrier", (tag) => peer.barriers.add(tag));
    return peer;
  });
  await Promise.all(peers.map((p) => connected(p.socket, 5000)));

  // Rooms: r0/r1/r2 by i % 3, even/odd; peers 2 and 4 leave `even` again.
  const rooms = [];
  await Promise.all(
    peers.map(async (p) => {
      const join = [`r${p.i % 3}`, p.i % 2 === 0 ? "even" : "odd"];
      let [list] = await ack(p.socket, "rooms", { join });
      expectEqual(list, [...join, p.socket.id].sort(), `rooms of peer ${p.i}`);
      if (p.i === 2 || p.i === 4) {
        [list] = await ack(p.socket, "rooms", { leave: ["even"] });
        expectEqual(list, [join[0], p.socket.id].sort(), `rooms of peer ${p.i} after leaving`);
      }
      rooms[p.i] = new Set(list);
    }),
  );
  // Peer 9 leaves the room of its own id (Node allows it): what is sent there misses it.
  {
    const p = peers[9];
    const [list] = await ack(p.socket, "rooms", { leave: [p.socket.id] });
    const left = [...rooms[9]].filter((r) => r !== p.socket.id).sort();
    expectEqual(list, left, "rooms of peer 9 after leaving its own");
    rooms[9] = new Set(list);
  }
  const all = peers.map((p) => p.i);
  const inRoom = (r) => all.filter((i) => rooms[i].has(r));
  const union = (...sets) => [...new Set(sets.flat())].sort((a, b) => a - b);
  const minus = (a, b) => a.filter((i) => !b.includes(i));

  const cases = [
    { from: "io", to: ["r1"], expect: () => inRoom("r1") },
    { from: "io", to: ["r0", "r1"], expect: () => union(inRoom("r0"), inRoom("r1")) },
    { from: "io", to: ["even"], except: ["r0"], expect: () => minus(inRoom("even"), inRoom("r0")) },
    { from: "io", except: ["odd"], expect: () => minus(all, inRoom("odd")) },
    { from: "io", to: ["r1", "r2"], except: ["even", "r2"], expect: () => minus(inRoom("r1"), union(inRoom("even"), inRoom("r2"))) },
    { from: "broadcast", expect: (s) => minus(all, [s]) },
    { from: "broadcast", to: ["r0"], expect: (s) => minus(inRoom("r0"), [s]) },
    { from: "broadcast", except: ["odd"], expect: (s) => minus(minus(all, inRoom("odd")), [s]) },
    { from: "io", except: [peers[5].socket.id], expect: () => minus(all, [5]) },
    { from: "io", to: [peers[7].socket.id, peers[8].socket.id], expect: () => [7, 8] },
    { from: "io", to: [peers[8].socket.id, peers[9].socket.id], expect: () => [8] },
    { from: "io", except: [peers[9].socket.id], expect: () => all },
    // SocketRef::to (Node's socket.to): the room's members except the sender.
    { from: "socket", to: ["r2"], expect: (s) => minus(inRoom("r2"), [s]) },
    { from: "socket", to: ["even"], expect: (s) => minus(inRoom("even"), [s]) },
    // ... also when the sender is a member of the room.
    { from: "socket", to: (s) => [`r${s % 3}`], expect: (s) => minus(inRoom(`r${s % 3}`), [s]) },
    { from: "io", to: ["nobody"], expect: () => [] },
  ];
  let k = 0;
  for (const c of cases) {
    const sender = (k * 7) % n;
    const tag = `t${k++}`;
    const to = typeof c.to === "function" ? c.to(sender) : (c.to ?? []);
    const spec = { from: c.from, to, except: c.except ?? [], tag };
    const [res] = await ack(peers[sender].socket, "bcast", spec);
    expect(res.error === undefined, `bcast ${JSON.stringify(spec)}: ${res.error}`);
    // Every peer gets the barrier after the broadcast on its own connection.
    for (let waited = 0; !peers.every((p) => p.barriers.has(tag)); waited += 5) {
      if (waited > 3000) throw new Error(`barrier ${tag} did not reach every peer`);
      await sleep(5);
    }
    const expected = c.expect(sender);
    const twice = peers.filter((p) => (p.news.get(tag) ?? 0) > 1).map((p) => p.i);
    expect(twice.length === 0, `${JSON.stringify(spec)} from ${sender}: peers ${twice} got it more than once`);
    const got = peers.filter((p) => p.news.get(tag) === 1).map((p) => p.i);
    expectEqual(got, expected, `receivers of ${JSON.stringify(spec)} from peer ${sender}`);
    expect(res.count === expected.length, `server counted ${res.count} receivers, expected ${expected.length}`);
  }
  report({ peers: n, cases: cases.length });
  for (const p of peers) p.socket.disconnect();
}

// A flood from the server, larger than the sockets' buffers (all but the first client stop
// reading meanwhile): every client gets every event, once and in order.
async function flood(url, { clients = "3", count = "200", size = "65536" }) {
  const opts = { transports: ["websocket"], forceNew: true, reconnection: false };
  const n = Number(clients);
  const total = Number(count);
  const peers = Array.from({ length: n }, () => {
    const socket = io(url, opts);
    const peer = { socket, next: 0, bad: null };
    socket.on("flood", (i, payload) => {
      if (peer.bad === null && (i !== peer.next || payload.length !== Number(size))) {
        peer.bad = `got event ${i} (${payload.length} bytes) where ${peer.next} was due`;
      }
      peer.next++;
    });
    return peer;
  });
  await Promise.all(peers.map((p) => connected(p.socket, 5000)));
  // The others stop reading their TCP sockets until the server has emitted everything: its
  // writes to them then find their buffers full.
  const raw = (p) => p.socket.io.engine.transport.ws._socket;
  for (const p of peers.slice(1)) raw(p).pause();
  const [sent] = await ack(peers[0].socket, "flood", total, Number(size));
  expectEqual(sent, total, "the events the server emitted");
  await sleep(100);
  for (const p of peers.slice(1)) raw(p).resume();
  for (let waited = 0; !peers.every((p) => p.next >= total); waited += 10) {
    if (waited > 20000) {
      throw new Error(`after 20 s the clients got ${peers.map((p) => p.next)} of ${total}`);
    }
    await sleep(10);
  }
  await sleep(50);
  for (const [k, p] of peers.entries()) {
    expect(p.bad === null, `client ${k}: ${p.bad}`);
    expectEqual(p.next, total, `events client ${k} got`);
  }
  report({ clients: n, each: total });
  for (const p of peers) p.socket.disconnect();
}

// ----- disconnections ------------------------------------------------------------------------------

async function disconnects(url, { transport = "websocket" }) {
  const opts = { ...transportOptions(transport), forceNew: true };
  const probe = io(url, opts);
  await connected(probe);

  const a = io(url, opts);
  await connected(a);
  const byServer = a.id;
  const da = once(a, "disconnect");
  a.emit("disconnect-me");
  const [reasonA] = await da;
  expect(reasonA === "io server disconnect", `disconnect reason ${reasonA}`);
  await waitUntilGone(probe, "/", byServer);
  await sleep(300);
  expect(!a.connected && !a.active, "the client reconnects after a server disconnect");

  const b = io(url, opts);
  await connected(b);
  const byClient = b.id;
  const db = once(b, "disconnect");
  b.disconnect();
  const [reasonB] = await db;
  expect(reasonB === "io client disconnect", `disconnect reason ${reasonB}`);
  await waitUntilGone(probe, "/", byClient);
  expect((await sockets(probe, "/")).includes(probe.id), "the probe was disconnected");
  report({ by_server: byServer, by_client: byClient, probe: probe.id });
  probe.disconnect();
}

// Connects and waits to be killed.
async function hold(url, { transport = "websocket" }) {
  const socket = io(url, { ...transportOptions(transport), reconnection: false });
  await connected(socket);
  await ack(socket, "whoami");
  // Over polling, let the client park its next GET: a client killed between two polls is
  // only noticed by the heartbeat, as in Node.
  await sleep(200);
  log(`CONNECTED ${socket.id}`);
  await new Promise(() => {});
}

// ----- reconnection after a server restart --------------------------------------------------------

async function reconnect(url, { transport = "websocket" }) {
  const socket = io(url, {
    ...transportOptions(transport),
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    timeout: 2000,
  });
  await connected(socket);
  const first = socket.id;
  // Over polling, let the client park its next GET, which the shutdown answers with `close`
  // (without one, the next poll finds the port closed: a transport error, as with Node).
  await sleep(200);
  log(`CONNECTED ${first}`);
  const [reason] = await once(socket, "disconnect", 8000);
  log(`DISCONNECTED ${reason}`);
  expect(reason === "transport close", `disconnect reason ${reason}`);
  const [attempts] = await once(socket.io, "reconnect", 8000, "reconnection");
  await connected(socket);
  const second = socket.id;
  expect(second && second !== first, `socket id after reconnecting: ${second}`);
  await echoCheck(socket, { after: "restart", bin: Buffer.from([1, 2, 3]) }, "echo after reconnecting");
  report({ first, second, reason, attempts });
  socket.disconnect();
}

// ----- maxPayload -----------------------------------------------------------------------------------

async function maxPayload(url, { transport = "websocket", max }) {
  const limit = Number(max);
  const opts = { ...transportOptions(transport), forceNew: true, reconnection: false };
  const victim = io(url, opts);
  const bystander = io(url, opts);
  await Promise.all([connected(victim), connected(bystander)]);
  const victimId = victim.id;

  const under = limit - 100;
  const len = await victim.timeout(3000).emitWithAck("big", "u".repeat(under));
  expect(len === under, `the server read ${len} bytes of ${under}`);
  await echoCheck(victim, "still here", "echo after a large message");

  const over = limit + 100;
  const gone = once(victim, "disconnect", 5000, "disconnect after an oversized message");
  victim.emit("big", "o".repeat(over));
  const [reason] = await gone;
  await echoCheck(bystander, "unaffected", "echo of the other client");
  expect(bystander.connected, "the other client was disconnected");
  await waitUntilGone(bystander, "/", victimId);
  const left = await sockets(bystander, "/");
  expectEqual(left, [bystander.id], "the server's sockets after the oversized message");
  report({ victim: victimId, bystander: bystander.id, victim_reason: reason, under, over });
  bystander.disconnect();
}

// ----- per-packet middleware and catch-all listener -------------------------------------------

async function middlewares(url, { transport = "websocket" }) {
  const s = io(url, { ...transportOptions(transport), forceNew: true });
  await connected(s);
  let leaked = 0;
  s.on("should-not-happen", () => leaked++);
  const refused = once(s, "error-seen", 3000, "the middleware's error");
  s.emit("forbidden", 1, "two");
  const [message] = await refused;
  expectEqual(message, "forbidden event", "the error of the per-packet middleware");
  const seen = once(s, "any-seen", 3000, "the catch-all listener");
  s.emit("any-probe", { x: 1 });
  expectEqual(await seen, ["any-probe", [{ x: 1 }]], "what the catch-all listener saw");
  await echoCheck(s, "after", "echo after a refused event");
  expect(leaked === 0, "the refused event reached its listener");
  report({ refused: message });
  s.disconnect();
}

main({
  middlewares,
  data,
  namespaces,
  auth,
  broadcast,
  flood,
  disconnects,
  hold,
  reconnect,
  "max-payload": maxPayload,
});
