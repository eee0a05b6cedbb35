"""The example application of sio-ffi in Python (the same as examples/c/server.c):

    python example.py <port> [<ping interval ms> <ping timeout ms>]
                                  prints "LISTENING <port>"; SIGINT/SIGTERM stop it.

Namespaces "/", "/custom" and "/admin" (which wants the auth {"token": "secret"}); events:
echo, ack-echo, join, leave, to-room, broadcast, ask, whoami, disconnect-me.
"""

import asyncio
import signal
import sys

from aiohttp import web

import sio_ffi

_heartbeat = (
    {"ping_interval": int(sys.argv[2]), "ping_timeout": int(sys.argv[3])}
    if len(sys.argv) > 3
    else {}
)
sio = sio_ffi.Server(namespaces=["/custom", "/admin"], **_heartbeat)


@sio.middleware("/admin")
def admin_auth(auth):
    if not auth or auth.get("token") != "secret":
        raise sio_ffi.Reject("unauthorized", {"code": 401})


@sio.on("echo")
def echo(socket, *args):
    socket.emit("echo", *args)


@sio.on("ack-echo")
def ack_echo(socket, *args):
    return args  # the ack's arguments: the same, binary included


@sio.on("join")
def join(socket, room):
    socket.join(room)
    return room


@sio.on("leave")
def leave(socket, room):
    socket.leave(room)
    return room


@sio.on("to-room")
def to_room(socket, room, *rest):
    socket.to(room).emit("to-room", room, *rest)  # the room, without the sender


@sio.on("broadcast")
def broadcast(socket, *args):
    sio.of(socket.namespace).emit("broadcast", *args)  # everyone, the sender too


@sio.on("ask")
async def ask(socket):
    try:
        answer = await socket.call("question", "what is 6*7?", timeout=3)
    except sio_ffi.AckTimeout:
        answer = ["timeout"]
    socket.emit("answer", *answer)


@sio.on("whoami")
def whoami(socket):
    return socket.id, socket.namespace


@sio.on("disconnect-me")
def disconnect_me(socket):
    socket.disconnect()


async def main(port: int) -> None:
    # handler_cancellation: a poll whose client went away is reported to the core as aborted.
    runner = web.AppRunner(sio.attach(web.Application()), handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"LISTENING {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    print("STOPPED", flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
