"""A python-socketio 5 server (its ASGI app on uvicorn) for the interoperability tests of the
Rust client.

tests/src/client_support.rs runs it; tests/js/server.mjs and the Rust test application there
have the same handlers.

    python server.py serve <host:port> [--pingInterval=ms] [--pingTimeout=ms]
                     [--transports=polling,websocket]

Port 0 picks a free port. Prints ``LISTENING <port>`` once it listens, then one
``SEEN {json}`` line for everything the test checks on the server side (connections with their
Engine.IO id, disconnections, the ``seq`` and ``retry`` events). It runs until it is killed.
python-engineio announces ``pingInterval`` in whole seconds, so that one must be a multiple of
1000 ms.

The ASGI driver, not the aiohttp one: python-engineio 4.15's aiohttp driver reads a polling
POST body with ``request.content.read(length)``, which returns only what has arrived so far,
so a body that comes in several reads (a large binary) is cut short.
"""

import asyncio
import importlib.metadata
import json
import socket
import sys

import socketio
import uvicorn
from engineio.payload import Payload

# python-engineio refuses a polling POST of more than 16 packets ("Too many packets in
# payload") and drops all of it; socket.io clients flush their whole offline buffer in one POST
# (engine.io-client bounds a POST by bytes only). Raised as python-engineio's maintainer
# advises (python-engineio issue #142).
Payload.max_decode_packets = 256

# The token the `/admin` connect handler accepts (`auth.token`).
TOKEN = "s3cret"


def fail(reason):
    print(f"FAIL: {reason}", file=sys.stderr, flush=True)
    sys.exit(1)


def seen(values):
    print("SEEN " + json.dumps(values), flush=True)


def parse_args(argv):
    if len(argv) < 2 or argv[0] != "serve":
        fail("usage: server.py serve <host:port> [--key=value...]")
    host, port = argv[1].rsplit(":", 1)
    options = {}
    for arg in argv[2:]:
        if not arg.startswith("--") or "=" not in arg:
            fail(f"bad option {arg}")
        key, value = arg[2:].split("=", 1)
        options[key] = value
    return host, int(port), options


def make_server(options):
    version = importlib.metadata.version("python-socketio")
    if not version.startswith("5."):
        fail(f"python-socketio {version} is installed, the tests target 5.x")
    ping_interval = int(options.get("pingInterval", "25000"))
    if ping_interval % 1000:
        fail("pingInterval must be whole seconds for python-engineio")
    return socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=ping_interval // 1000,
        ping_timeout=int(options.get("pingTimeout", "20000")) / 1000,
        transports=options.get("transports", "polling,websocket").split(","),
        max_http_buffer_size=10_000_000,
    )


def install(sio, name, tries, processed):
    """The handlers of namespace `name`."""

    def conn_of(sid):
        return sio.manager.eio_sid_from_sid(sid, name)

    async def connect(sid, environ, auth):
        if name == "/admin":
            token = (auth or {}).get("token")
            if token != TOKEN:
                data = (
                    {"code": 4000, "reason": "no token"}
                    if token is None
                    else {"code": 4001, "reason": "bad token"}
                )
                raise socketio.exceptions.ConnectionRefusedError("unauthorized", data)
        seen({
            "type": "connect",
            "nsp": name,
            "sid": sid,
            "conn": conn_of(sid),
            "transport": sio.transport(sid, name),
            "auth": auth if auth is not None else {},
        })

    async def disconnect(sid, reason):
        seen({"type": "disconnect", "nsp": name, "sid": sid, "reason": str(reason)})

    async def echo(sid, *args):
        await sio.emit("echo", tuple(args), to=sid, namespace=name)

    async def ack_echo(sid, *args):
        return tuple(args)

    async def whoami(sid, *_):
        return {"id": sid, "nsp": name, "conn": conn_of(sid), "transport": sio.transport(sid, name)}

    async def ask(sid, spec):
        answered = asyncio.get_running_loop().create_future()

        def callback(*answer):
            if not answered.done():
                answered.set_result(list(answer))

        await sio.emit(spec["event"], (spec["text"], spec["blob"]), to=sid, namespace=name,
                       callback=callback)
        try:
            answer = await asyncio.wait_for(answered, spec["timeout"] / 1000)
        except asyncio.TimeoutError:
            return {"error": "operation has timed out"}
        return {"answer": answer}

    async def disconnect_me(sid, spec=None):
        if not (spec or {}).get("close"):
            await sio.disconnect(sid, namespace=name)
            return
        # Node's `socket.disconnect(true)`: every namespace of the connection, then the
        # connection itself.
        eio_sid = conn_of(sid)
        for nsp in ("/", "/admin"):
            other = sio.manager.sid_from_eio_sid(eio_sid, nsp)
            if other is not None:
                await sio.disconnect(other, namespace=nsp)
        # Node closes the connection once its write buffer has drained; python-engineio closes
        # at once. Over polling, wait (bounded) until the client's GET has collected the
        # DISCONNECT packets, so that the close cannot overtake them.
        eio_socket = sio.eio.sockets.get(eio_sid)
        for _ in range(200):
            if eio_socket is None or eio_socket.queue.empty():
                break
            await asyncio.sleep(0.01)
        await sio.eio.disconnect(eio_sid)

    async def seq(sid, i, blob=None):
        seen({"type": "seq", "nsp": name, "i": i,
              "bin": blob.hex() if isinstance(blob, bytes) else None})

    async def retry(sid, spec):
        # Acknowledges only from try `ignore + 1` on; with `late`, an ignored first try is
        # answered after `late` ms (after the client gave up on it).
        n = tries[spec["id"]] = tries.get(spec["id"], 0) + 1
        seen({"type": "try", "id": spec["id"], "n": n})
        if n <= spec["ignore"]:
            if spec.get("late") and n == 1:
                await asyncio.sleep(spec["late"] / 1000)
                return {"id": spec["id"], "tries": n, "late": True}
            # python-socketio acknowledges whatever a handler returns, except this marker.
            return sio.not_handled
        if spec["id"] not in processed:
            processed.add(spec["id"])
            seen({"type": "processed", "id": spec["id"]})
        return {"id": spec["id"], "tries": n}

    for event, handler in [
        ("connect", connect), ("disconnect", disconnect), ("echo", echo),
        ("ack-echo", ack_echo), ("whoami", whoami), ("ask", ask),
        ("disconnect-me", disconnect_me), ("seq", seq), ("retry", retry),
    ]:
        sio.on(event, handler, namespace=name)


async def main():
    host, port, options = parse_args(sys.argv[1:])
    sio = make_server(options)
    tries, processed = {}, set()
    for name in ("/", "/admin"):
        install(sio, name, tries, processed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(socketio.ASGIApp(sio), lifespan="off", ws="wsproto",
                            log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
            fail("uvicorn stopped")
        await asyncio.sleep(0.01)
    print(f"LISTENING {sock.getsockname()[1]}", flush=True)
    await serving


if __name__ == "__main__":
    asyncio.run(main())
