// A socket.io 4.8 server for the interoperability tests of the Rust client
// (tests/src/client_support.rs; tests/py/server.py and the Rust test application there have the
// same handlers).
//
//   node server.mjs serve <host:port> [--pingInterval=ms] [--pingTimeout=ms]
//                   [--transports=polling,websocket] [--recovery=on|off]
//
// Port 0 picks a free port. Prints `LISTENING <port>` once it listens, then one
// `SEEN {json}` line for everything the test checks on the server side (connections with their
// Engine.IO id, disconnections with Node's reason, the `seq` and `retry` events). It runs until
// it is killed.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { parseArgs } from "./lib.mjs";

/** The token the `/admin` middleware accepts (`auth.token`). */
const TOKEN = "s3cret";

const { url: listen, options } = parseArgs();
const [host, port] = listen.split(":");

const io = new Server(createServer(), {
  pingInterval: Number(options.pingInterval ?? 25000),
  pingTimeout: Number(options.pingTimeout ?? 20000),
  transports: (options.transports ?? "polling,websocket").split(","),
  maxHttpBufferSize: 10_000_000,
  // On: events emitted to a socket carry an offset and a socket reconnecting after a transport
  // loss gets its session (id, rooms, missed events) back.
  connectionStateRecovery:
    options.recovery === "on" ? { maxDisconnectionDuration: 60_000, skipMiddlewares: true } : undefined,
});

function seen(values) {
  console.log(`SEEN ${JSON.stringify(values)}`);
}

// Tries of each `retry` id, and the ids processed once.
const tries = new Map();
const processed = new Set();

for (const name of ["/", "/admin"]) {
  const nsp = io.of(name);
  if (name === "/admin") {
    nsp.use((socket, next) => {
      const token = socket.handshake.auth?.token;
      if (token === TOKEN) return next();
      const err = new Error("unauthorized");
      err.data = token === undefined ? { code: 4000, reason: "no token" } : { code: 4001, reason: "bad token" };
      next(err);
    });
  }
  nsp.on("connection", (socket) => {
    seen({
      type: "connect",
      nsp: name,
      sid: socket.id,
      conn: socket.conn.id,
      transport: socket.conn.transport.name,
      auth: socket.handshake.auth,
      recovered: socket.recovered,
    });
    socket.on("disconnect", (reason) => seen({ type: "disconnect", nsp: name, sid: socket.id, reason }));

    // The same arguments back, binary included, as an event...
    socket.on("echo", (...args) => socket.emit("echo", ...args));
    // ... and as the ack.
    socket.on("ack-echo", (...args) => {
      const ack = args.pop();
      if (typeof ack === "function") ack(...args);
    });
    socket.on("whoami", (ack) =>
      ack({ id: socket.id, nsp: name, conn: socket.conn.id, transport: socket.conn.transport.name }),
    );
    // The server asks the client (emit with an ack and a timeout) and reports the answer, every
    // argument of it, as this event's ack.
    socket.on("ask", (spec, ack) => {
      socket.timeout(spec.timeout).emit(spec.event, spec.text, spec.blob, (err, ...answer) => {
        if (err) ack({ error: err.message });
        else ack({ answer });
      });
    });
    socket.on("disconnect-me", (spec) => socket.disconnect(spec?.close === true));
    // The transport goes away without a goodbye: the client reconnects (and recovers when on),
    // and meanwhile the socket is sent `missed`.
    socket.on("drop-transport", () => {
      const id = socket.id;
      socket.conn.close();
      setTimeout(() => io.of(name).to(id).emit("missed", "while away"), 50);
    });
    socket.on("tick", (n) => socket.emit("tock", n));
    // Volatile: no offset appended even with recovery on.
    socket.on("vtick", (s) => socket.volatile.emit("vtock", s));
    socket.on("seq", (i, bin) => {
      seen({ type: "seq", nsp: name, i, bin: Buffer.isBuffer(bin) ? bin.toString("hex") : null });
    });
    // Acknowledges only from try `ignore + 1` on; with `late`, an ignored first try is answered
    // after `late` ms (after the client gave up on it).
    socket.on("retry", (spec, ack) => {
      const n = (tries.get(spec.id) ?? 0) + 1;
      tries.set(spec.id, n);
      seen({ type: "try", id: spec.id, n });
      if (n <= spec.ignore) {
        if (spec.late && n === 1) setTimeout(() => ack({ id: spec.id, tries: n, late: true }), spec.late);
        return;
      }
      if (!processed.has(spec.id)) {
        processed.add(spec.id);
        seen({ type: "processed", id: spec.id });
      }
      ack({ id: spec.id, tries: n });
    });
  });
}

const http = io.httpServer;
http.listen(Number(port), host, () => console.log(`LISTENING ${http.address().port}`));
