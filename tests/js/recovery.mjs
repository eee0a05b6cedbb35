// socket.io-client 4.8 against a sio-tokio server with connection state recovery on
// (tests/src/recovery_support.rs), through a proxy that the Rust test cuts.
//
//   node recovery.mjs <scenario> <url> [--transport=websocket|polling|upgrade] [--count=N]
//                     [--interval=MS]
//
// Scenarios:
//   recover  the connection is cut while the server keeps sending `tick` (to this socket) and
//            `room` (to its room); after the reconnection the socket is recovered, keeps its
//            id, and every tick and room event arrives exactly once, in order.
//   expire   the client stays away longer than the server keeps sessions: it asks to recover
//            (it has a pid and an offset, reported as `claim`) but connects again as a new
//            socket (not recovered, a new id).
//   silent   the connection is cut before the socket received any event (once connected it
//            emits `c` 0, and the Rust test cuts when the server got it: the client has a pid
//            but no offset; Node's own server would refuse it): it recovers all the same, and
//            the server's `start` then reaches it, `room` events too (its rooms are back).
//
// The Rust test cuts the proxy once `cut_after` ticks were sent and reads the REPORT.

import { io } from "socket.io-client";
import { expect, expectEqual, main, once, report, sleep, transportOptions, within } from "./lib.mjs";

function connect(url, options) {
  return io(url, {
    ...transportOptions(options.transport ?? "websocket"),
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
    auth: { name: "node" },
  });
}

/** Collects the connections of `socket`: its id and `recovered` at each `connect`. */
function trackConnects(socket) {
  const connects = [];
  const waiters = [];
  socket.on("connect", () => {
    connects.push({ id: socket.id, recovered: socket.recovered });
    for (const w of waiters.splice(0)) w();
  });
  return {
    connects,
    /** Resolves once there were `n` connections. */
    until(n, ms, what) {
      if (connects.length >= n) return Promise.resolve();
      return within(
        new Promise((resolve) => {
          const check = () => (connects.length >= n ? resolve() : waiters.push(check));
          waiters.push(check);
        }),
        ms,
        what,
      );
    },
  };
}

async function start(socket, count, interval) {
  await within(
    new Promise((resolve) => socket.emit("start", { count, interval }, resolve)),
    3000,
    "start acknowledged",
  );
}

const scenarios = {
  async silent(url, options) {
    const socket = connect(url, options);
    const track = trackConnects(socket);
    const ticks = [];
    const rooms = [];
    socket.on("tick", (n) => ticks.push(n));
    socket.on("room", (n) => rooms.push(n));
    await track.until(1, 3000, "first connect");
    socket.emit("c", 0);
    await track.until(2, 6000, "the reconnection");
    const done = once(socket, "done", 3000, "done");
    await start(socket, 3, 10);
    await done;
    await sleep(100);
    expectEqual(ticks, [0, 1, 2], "ticks of the recovered socket");
    expectEqual(rooms, [0, 1, 2], "room events: the recovered socket is in its room");
    const [first, second] = track.connects;
    expect(second.recovered === true, "recovered without an offset");
    expect(second.id === first.id, "same socket id after recovery");
    report({ connects: track.connects });
    socket.close();
  },

  async recover(url, options) {
    const count = Number(options.count ?? 60);
    const interval = Number(options.interval ?? 20);
    const socket = connect(url, options);
    const track = trackConnects(socket);
    const ticks = [];
    const rooms = [];
    const offsets = [];
    socket.on("tick", (n, offset) => {
      ticks.push(n);
      offsets.push(offset);
    });
    socket.on("room", (n) => rooms.push(n));
    const done = once(socket, "done", 8000, "done");
    await track.until(1, 3000, "first connect");
    await start(socket, count, interval);
    await track.until(2, 6000, "the reconnection");
    await done;
    const expected = [...Array(count).keys()];
    expectEqual(ticks, expected, "ticks, exactly once and in order");
    expectEqual(rooms, expected, "room events, exactly once and in order");
    // The offsets the server appended: strings, all different.
    expect(offsets.every((o) => typeof o === "string"), "offsets are strings");
    expect(new Set(offsets).size === offsets.length, "offsets are unique");
    const [first, second] = track.connects;
    expect(first.recovered === false, "the first connection is not a recovery");
    expect(second.recovered === true, "the reconnection recovered the session");
    expect(second.id === first.id, "same socket id after recovery");
    report({ connects: track.connects, ticks: ticks.length, rooms: rooms.length });
    socket.close();
  },

  async expire(url, options) {
    const count = Number(options.count ?? 200);
    const interval = Number(options.interval ?? 20);
    const socket = connect(url, options);
    const track = trackConnects(socket);
    const ticks = [];
    socket.on("tick", (n) => ticks.push(n));
    // What the client will claim on reconnection (socket.io-client's private fields).
    let claim = null;
    socket.on("disconnect", () => {
      claim ??= { pid: typeof socket._pid, offset: typeof socket._lastOffset };
    });
    await track.until(1, 3000, "first connect");
    await start(socket, count, interval);
    await track.until(2, 8000, "the reconnection");
    const [first, second] = track.connects;
    expect(second.recovered === false, "an expired session is not recovered");
    expect(second.id !== first.id, "a new socket id");
    // The new socket is a fresh one: the ticks meant for the old one stopped.
    const seen = ticks.length;
    expect(seen < count, `ticks of the old socket stopped (${seen} of ${count})`);
    expectEqual(ticks, [...Array(seen).keys()], "ticks before the cut, in order");
    report({ connects: track.connects, ticks: seen, claim });
    socket.close();
  },
};

main(scenarios);
