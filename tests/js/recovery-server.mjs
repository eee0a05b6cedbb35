// A Node socket.io 4.8 server with connection state recovery on, for the Rust client
// (tests/tests/recovery_node_server.rs).
//
//   node recovery-server.mjs [--maxDisconnectionDuration=ms]
//
// The option defaults to 120000 (Node's); the expiry test gives a short one. Prints
// `LISTENING <port>` once it listens on 127.0.0.1, then `SEEN {json}` for every connection:
// `{"kind":"connection","id":..,"recovered":..,"auth":..}` (`auth` is Node's
// `socket.handshake.auth`: what the client sent, `pid` and `offset` included). A new socket
// joins the room `group`. On `start` (`{count, interval}`, acknowledged) it sends `count`
// events `tick` to that socket and `room` to the room, `interval` ms apart, whatever the
// socket's connection state (Node keeps what a disconnected socket misses), then `done`. It
// exits after two minutes at most (the test kills it before).

import { createServer } from "node:http";
import { Server } from "socket.io";

const options = {};
for (const arg of process.argv.slice(2)) {
  const m = /^--([^=]+)=(.*)$/.exec(arg);
  if (!m) {
    console.error(`FAIL: bad option ${arg}`);
    process.exit(1);
  }
  options[m[1]] = m[2];
}
const maxDisconnectionDuration = Number(options.maxDisconnectionDuration ?? 120000);
const http = createServer();
const io = new Server(http, {
  // A polling client cut off is only noticed by the heartbeat: keep it short.
  pingInterval: 300,
  pingTimeout: 200,
  connectionStateRecovery: { maxDisconnectionDuration, skipMiddlewares: true },
});

const seen = (value) => console.log(`SEEN ${JSON.stringify(value)}`);

io.on("connection", (socket) => {
  if (!socket.recovered) socket.join("group");
  seen({ kind: "connection", id: socket.id, recovered: socket.recovered, auth: socket.handshake.auth });
  socket.on("disconnect", (reason) => seen({ kind: "disconnect", id: socket.id, reason }));
  socket.on("start", ({ count, interval }, ack) => {
    if (typeof ack === "function") ack();
    let n = 0;
    const timer = setInterval(() => {
      if (n === count) {
        clearInterval(timer);
        socket.emit("done", count);
        return;
      }
      socket.emit("tick", n);
      io.to("group").emit("room", n);
      n += 1;
      seen({ kind: "sent", n });
    }, interval);
  });
});

http.listen(0, "127.0.0.1", () => console.log(`LISTENING ${http.address().port}`));
setTimeout(() => process.exit(0), 120_000).unref();
