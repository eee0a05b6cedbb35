// The Node socket.io bench server: PORT (default 3000) on 127.0.0.1, default options, the same
// handlers as bench/servers/sio:
//   echo            -> acknowledged with the same arguments
//   join(room)      -> joins the room, then acknowledges
//   start-broadcast(room, intervalMs, count)
//                   -> a timer emits tick(seq, µs since the Unix epoch) to the room every
//                      intervalMs, count times, then done(count); acknowledged
// `bufferutil` (ws's native masking helper, recommended by socket.io's performance guide) is
// used when it installed.
import { createServer } from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT ?? 3000);
const micros = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

const httpServer = createServer({ noDelay: true });
const io = new Server(httpServer);

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("start-broadcast", (room, intervalMs, count, ack) => {
    let seq = 0;
    const timer = setInterval(() => {
      io.to(room).emit("tick", seq, micros());
      seq += 1;
      if (seq >= count) {
        clearInterval(timer);
        io.to(room).emit("done", count);
      }
    }, intervalMs);
    if (typeof ack === "function") ack();
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`node socket.io bench server on 127.0.0.1:${port}`);
});
