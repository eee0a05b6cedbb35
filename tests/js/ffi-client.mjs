// socket.io-client 4.8 against the servers built on the sio-ffi C ABI: the C example
// (protocol-ffi/examples/c/server.c, libwebsockets) and the Python package
// (protocol-ffi/python, aiohttp). Both run the same application; see the C file's header.
//
//   node ffi-client.mjs <scenario> <url> [--transport=websocket|polling|upgrade]
//
// Scenarios: data (events, acks both ways, binary), rooms (join/leave, room broadcasts with
// the sender excluded, namespace broadcast, mixed transports), namespaces (multiplexing,
// auth refusal with data, server disconnect).

import { io, Manager } from "socket.io-client";
import {
  ack,
  bytes,
  connected,
  expect,
  expectEqual,
  main,
  once,
  report,
  sleep,
  transportOptions,
  within,
} from "./lib.mjs";

const CASES = [
  ["text", ["hello world"]],
  ["numbers", [0, 1, -1, 3.5, 1e21]],
  ["unicode", ["emoji 😀 中文 \"quotes\" \\ \n"]],
  ["object", [{ a: 1, b: [true, false, null], c: { d: "e" } }]],
  ["binary", [Buffer.from([0, 1, 2, 254, 255])]],
  ["empty binary", [Buffer.alloc(0)]],
  ["large binary", [bytes(100_000)]],
  ["nested binary", [{ file: Buffer.from("abc"), list: [Buffer.from([1, 2]), { deep: Buffer.from([3]) }] }]],
  ["several args", [1, "two", Buffer.from([5]), null, { b: [Buffer.from([6])] }]],
  ["no args", []],
];

async function roundTrips(socket, pass) {
  for (const [name, args] of CASES) {
    const got = once(socket, "echo", 3000, `echo of ${name} (${pass})`);
    socket.emit("echo", ...args);
    expectEqual(await got, args, `echo of ${name} (${pass})`);
    expectEqual(await ack(socket, "ack-echo", ...args), args, `ack-echo of ${name} (${pass})`);
  }
  // The server asks with an ack; the client answers with a value and binary; the server
  // sends the answer back.
  const answer = once(socket, "answer", 3000, `answer (${pass})`);
  socket.emit("ask");
  expectEqual(await answer, [{ answer: 42 }, Buffer.from([4, 2])], `answer (${pass})`);
}

function answerQuestions(socket) {
  socket.on("question", (text, callback) => {
    callback({ answer: text === "what is 6*7?" ? 42 : -1 }, Buffer.from([4, 2]));
  });
}

async function data(url, { transport = "upgrade" }) {
  const socket = io(url, { ...transportOptions(transport), reconnection: false });
  answerQuestions(socket);
  let upgraded = null;
  const upgrade = new Promise((resolve) =>
    socket.io.engine.on("upgrade", (t) => {
      upgraded = t.name;
      resolve(t.name);
    }),
  );
  let initial = null;
  socket.io.on("open", () => {
    initial = socket.io.engine.transport.name;
  });
  await connected(socket);
  await roundTrips(socket, `over ${initial}`);
  if (transport === "upgrade") {
    expect((await within(upgrade, 5000, "upgrade")) === "websocket", "upgraded to websocket");
    await roundTrips(socket, "after the upgrade");
  }
  const [sid, nsp] = await ack(socket, "whoami");
  expect(sid === socket.id, `server-side id ${sid} vs ${socket.id}`);
  expect(nsp === "/", `namespace ${nsp}`);
  report({ sid: socket.id, initial, final: socket.io.engine.transport.name, upgraded });
  socket.disconnect();
}

function collect(socket, event) {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
}

async function rooms(url) {
  const modes = ["websocket", "polling", "upgrade"];
  const [a, b, c] = modes.map((m) => io(url, { ...transportOptions(m), reconnection: false, forceNew: true }));
  await Promise.all([a, b, c].map((s) => connected(s)));
  const got = new Map([a, b, c].map((s) => [s, collect(s, "to-room")]));
  expectEqual(await ack(a, "join", "r1"), ["r1"], "a joins r1");
  expectEqual(await ack(b, "join", "r1"), ["r1"], "b joins r1");

  // c is not in r1: a and b get it, binary included.
  c.emit("to-room", "r1", "from c", Buffer.from([1, 2, 3]));
  await sleep(300);
  // a is in r1: b gets it, a (the sender) does not.
  a.emit("to-room", "r1", "from a");
  await sleep(300);
  expectEqual(await ack(a, "leave", "r1"), ["r1"], "a leaves r1");
  c.emit("to-room", "r1", "after a left");
  // A namespace broadcast reaches everyone, the sender too.
  const everyone = [a, b, c].map((s) => once(s, "broadcast", 3000, "broadcast"));
  b.emit("broadcast", { all: true }, Buffer.from([9]));
  for (const p of everyone) expectEqual(await p, [{ all: true }, Buffer.from([9])], "broadcast");
  await sleep(300);

  expectEqual(got.get(a), [["r1", "from c", Buffer.from([1, 2, 3])]], "a's room messages");
  expectEqual(
    got.get(b),
    [
      ["r1", "from c", Buffer.from([1, 2, 3])],
      ["r1", "from a"],
      ["r1", "after a left"],
    ],
    "b's room messages",
  );
  expectEqual(got.get(c), [], "c's room messages");
  report({ a: a.id, b: b.id, c: c.id });
  for (const s of [a, b, c]) s.disconnect();
}

async function namespaces(url, { transport = "upgrade" }) {
  const manager = new Manager(url, { ...transportOptions(transport), reconnection: false });
  const root = manager.socket("/");
  const custom = manager.socket("/custom");
  await Promise.all([connected(root), connected(custom)]);
  const got = once(custom, "echo", 3000, "echo on /custom");
  custom.emit("echo", "custom", Buffer.from([7]));
  expectEqual(await got, ["custom", Buffer.from([7])], "echo on /custom");
  const [sid, nsp] = await ack(custom, "whoami");
  expect(sid === custom.id && nsp === "/custom", `whoami on /custom: ${sid} ${nsp}`);

  // /admin refuses without the token, with the middleware's message and data.
  const refused = manager.socket("/admin");
  const [err] = await once(refused, "connect_error", 3000, "connect_error on /admin");
  expect(err.message === "unauthorized", `refusal message ${err.message}`);
  expectEqual(err.data, { code: 401 }, "refusal data");
  refused.disconnect();
  const admin = io(url, { ...transportOptions(transport), reconnection: false, forceNew: true, auth: { token: "secret" } });
  const adminSocket = admin.io.socket("/admin", { auth: { token: "secret" } });
  await connected(adminSocket);
  admin.disconnect();
  adminSocket.disconnect();

  // The server disconnects /custom; / stays connected.
  const reason = once(custom, "disconnect", 3000, "disconnect of /custom");
  custom.emit("disconnect-me");
  const [why] = await reason;
  expect(why === "io server disconnect", `disconnect reason ${why}`);
  expect(root.connected, "/ is still connected");
  const [rootSid] = await ack(root, "whoami");
  expect(rootSid === root.id, "whoami on / after /custom left");
  report({ root: root.id, custom: sid, reason: why });
  root.disconnect();
}

// The server pings every --interval ms: the client stays connected across several pings,
// answering them, and the connection still carries events afterwards.
async function heartbeat(url, { transport = "upgrade", interval = "300" }) {
  const socket = io(url, { ...transportOptions(transport), reconnection: false });
  await connected(socket);
  let pings = 0;
  socket.io.engine.on("ping", () => pings++);
  let dropped = null;
  socket.on("disconnect", (reason) => (dropped = reason));
  await sleep(Number(interval) * 6);
  expect(dropped === null, `disconnected: ${dropped}`);
  expect(pings >= 3, `only ${pings} pings in ${Number(interval) * 6} ms`);
  expectEqual(await ack(socket, "ack-echo", "still", Buffer.from([1])), ["still", Buffer.from([1])], "after pings");
  report({ pings, transport: socket.io.engine.transport.name });
  socket.disconnect();
}

main({ data, rooms, namespaces, heartbeat });
