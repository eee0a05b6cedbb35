"""sio_ffi: a Socket.IO server for asyncio + aiohttp whose protocol work is done by the Rust
sans-IO core, through the sio-ffi C ABI (ctypes).

    import sio_ffi
    from aiohttp import web

    sio = sio_ffi.Server()

    @sio.on("chat")
    async def chat(socket, text):
        socket.broadcast.emit("chat", text)      # everyone in the namespace but the sender
        return "delivered"                       # the ack's argument, if the client asked

    web.run_app(sio.attach(web.Application()), port=3000)

Event arguments are JSON values; ``bytes`` anywhere in them travel as binary attachments and
come back as ``bytes``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import time
from typing import Any, Awaitable, Callable, Iterable

from . import _abi
from ._abi import SioError

__all__ = ["Server", "Socket", "Reject", "SioError", "AckTimeout"]


class Reject(Exception):
    """Raise from a connect handler to refuse the namespace: the client's ``connect_error``
    gets ``message`` and ``data``."""

    def __init__(self, message: str, data: Any = None):
        super().__init__(message)
        self.message = message
        self.data = data


class AckTimeout(TimeoutError):
    """The client did not acknowledge in time (or disconnected first)."""


# ----- binary values <-> placeholders ------------------------------------------------------------

def _deconstruct(value, attachments: list[bytes]):
    if isinstance(value, (bytes, bytearray, memoryview)):
        attachments.append(bytes(value))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(value, (list, tuple)):
        return [_deconstruct(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: _deconstruct(v, attachments) for k, v in value.items()}
    return value


def _reconstruct(value, attachments: list[bytes]):
    if isinstance(value, dict):
        if value.get("_placeholder") is True and isinstance(value.get("num"), int) and len(value) == 2:
            return attachments[value["num"]]
        return {k: _reconstruct(v, attachments) for k, v in value.items()}
    if isinstance(value, list):
        return [_reconstruct(v, attachments) for v in value]
    return value


def _encode(args) -> tuple[bytes, list[bytes]]:
    attachments: list[bytes] = []
    data = _deconstruct(list(args), attachments)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), attachments


def _decode(data: bytes, attachments: list[bytes]) -> list:
    return _reconstruct(json.loads(data) if data else [], attachments)


def _now() -> int:
    return int(time.monotonic() * 1000)


# ----- sockets and broadcasts ----------------------------------------------------------------------

class _Operator:
    """A broadcast being built: ``sio.to("room").except_(socket).emit(...)``."""

    def __init__(self, server: "Server", nsp: str, rooms=(), except_rooms=(), except_sockets=()):
        self._server, self._nsp = server, nsp
        self._rooms, self._except_rooms = list(rooms), list(except_rooms)
        self._except_sockets = list(except_sockets)

    def to(self, *rooms: str) -> "_Operator":
        return _Operator(self._server, self._nsp, self._rooms + list(rooms), self._except_rooms,
                         self._except_sockets)

    in_ = to

    def except_(self, *rooms_or_sockets) -> "_Operator":
        rooms = [r for r in rooms_or_sockets if isinstance(r, str)]
        sockets = [s._id for s in rooms_or_sockets if isinstance(s, Socket)]
        return _Operator(self._server, self._nsp, self._rooms, self._except_rooms + rooms,
                         self._except_sockets + sockets)

    def emit(self, event: str, *args, volatile: bool = False) -> int:
        """Send to every socket selected; returns how many."""
        data, atts = _encode(args)
        s = self._server
        n = s._core.emit(_now(), self._nsp, self._rooms, self._except_rooms, self._except_sockets,
                         event, data, atts, volatile)
        s._drain()
        return n


class Socket:
    """One client in one namespace (python-socketio's / Node's ``socket``)."""

    def __init__(self, server: "Server", id: int, sid: str, namespace: str, auth: Any):
        self._server, self._id = server, id
        self.id = sid                   # the public id, as the client's ``socket.id``
        self.namespace = namespace
        self.auth = auth
        self.rooms: set[str] = {sid}
        self.connected = True
        self.data: dict = {}            # free for the application

    def __repr__(self):
        return f"<Socket {self.id} {self.namespace}>"

    def emit(self, event: str, *args, volatile: bool = False) -> None:
        _Operator(self._server, self.namespace, [self.id]).emit(event, *args, volatile=volatile)

    async def call(self, event: str, *args, timeout: float = 5.0) -> list:
        """Emit and wait for the client's acknowledgement: its arguments, as a list."""
        s = self._server
        data, atts = _encode(args)
        ack = s._core.emit_with_ack(_now(), self._id, event, data, atts, int(timeout * 1000))
        fut = asyncio.get_running_loop().create_future()
        s._acks[(self._id, ack)] = fut
        s._drain()
        return await fut

    def join(self, *rooms: str) -> None:
        for r in rooms:
            self._server._core.join(self._id, r)
            self.rooms.add(r)

    def leave(self, *rooms: str) -> None:
        for r in rooms:
            self._server._core.leave(self._id, r)
            self.rooms.discard(r)

    def to(self, *rooms: str) -> _Operator:
        """A broadcast to rooms, without this socket."""
        return _Operator(self._server, self.namespace, rooms, (), [self._id])

    @property
    def broadcast(self) -> _Operator:
        """A broadcast to the whole namespace, without this socket."""
        return _Operator(self._server, self.namespace, (), (), [self._id])

    def disconnect(self, close_connection: bool = False) -> None:
        if self.connected:
            self._server._core.disconnect(_now(), self._id, close_connection)
            self._server._drain()


Handler = Callable[..., Any]


class Server:
    """A Socket.IO server. Declare namespaces and handlers, then :meth:`attach` it to an
    aiohttp application (it serves ``/socket.io/``: long-polling and WebSocket).

    Keyword arguments are fields of ``SioServerConfig`` (``ping_interval``, ``ping_timeout``,
    ``connect_timeout``, ``max_payload``, ...; milliseconds and bytes)."""

    def __init__(self, namespaces: Iterable[str] = (), **config):
        c = _abi.default_config()
        for k, v in config.items():
            if not hasattr(c, k):
                raise TypeError(f"unknown config field {k}")
            setattr(c, k, v)
        seed = os.urandom(32)
        for i in range(32):
            c.seed[i] = seed[i]
        self._core = _abi.Core(c)
        self._handlers: dict[tuple[str, str], Handler] = {}
        self._connect: dict[str, Handler] = {}
        self._disconnect: dict[str, Handler] = {}
        self._sockets: dict[int, Socket] = {}
        self._acks: dict[tuple[int, int], asyncio.Future] = {}
        self._http: dict[int, asyncio.Future] = {}
        self._ws: dict[int, asyncio.Queue] = {}
        self._next_id = 0
        self._draining = False
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        for n in namespaces:
            self.namespace(n)

    # ----- declaring ------------------------------------------------------------------------

    def namespace(self, nsp: str) -> None:
        """Accept connections to ``nsp`` (``/`` always exists)."""
        self._core.add_namespace(nsp)

    def on(self, event: str, namespace: str | None = None):
        """Decorator: ``handler(socket, *args)`` (sync or async) for ``event``, in
        ``namespace`` or in every namespace. When the client asked for an ack, the return
        value is its argument (a tuple for several, None for none)."""
        def register(f: Handler) -> Handler:
            self._handlers[(namespace or "*", event)] = f
            return f
        return register

    def on_connect(self, namespace: str = "/"):
        """Decorator: ``handler(socket)`` (sync or async) runs once a socket connected to
        ``namespace`` (a :meth:`middleware` decides before)."""
        def register(f: Handler) -> Handler:
            self._connect[namespace] = f
            return f
        return register

    def middleware(self, namespace: str = "/"):
        """Decorator: ``handler(auth)`` (sync) decides a connect request; raise
        :class:`Reject` to refuse."""
        def register(f: Handler) -> Handler:
            self._connect["middleware:" + namespace] = f
            return f
        return register

    def on_disconnect(self, namespace: str = "/"):
        """Decorator: ``handler(socket, reason)`` runs when a socket disconnected."""
        def register(f: Handler) -> Handler:
            self._disconnect[namespace] = f
            return f
        return register

    def of(self, namespace: str) -> _Operator:
        """A broadcast to every socket of ``namespace``."""
        return _Operator(self, namespace)

    def to(self, *rooms: str, namespace: str = "/") -> _Operator:
        return _Operator(self, namespace, rooms)

    def emit(self, event: str, *args, namespace: str = "/") -> int:
        return _Operator(self, namespace).emit(event, *args)

    # ----- serving ----------------------------------------------------------------------------

    def attach(self, app, path: str = "/socket.io/"):
        """Add the Socket.IO routes to an aiohttp ``web.Application`` and return it."""
        from .aiohttp import attach
        attach(self, app, path)
        return app

    def shutdown(self) -> None:
        """Disconnect everyone (``server shutting down``) and stop the timer."""
        self._core.close_all(_now())
        self._drain()
        if self._timer:
            self._timer.cancel()
            self._timer = None

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ----- the drive loop ---------------------------------------------------------------------

    def _drain(self) -> None:
        """Drain every output, then arm the timer. Re-entrant calls are folded in."""
        if self._draining:
            return
        self._draining = True
        try:
            while (o := self._core.poll_output()) is not None:
                self._perform(o)
        finally:
            self._draining = False
        self._arm()

    def _arm(self) -> None:
        at = self._core.poll_timeout()
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if at is not None:
            loop = asyncio.get_event_loop()
            delay = max(0, at - _now()) / 1000
            self._timer = loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._core.handle_timeout(_now())
        self._drain()

    def _perform(self, o: _abi.Output) -> None:
        k = o.kind
        if k == _abi.OUT_HTTP_RESPONSE:
            fut = self._http.pop(o.id, None)
            if fut and not fut.done():
                fut.set_result((o.status, o.name, o.data))
        elif k in (_abi.OUT_WS_TEXT, _abi.OUT_WS_BINARY):
            q = self._ws.get(o.id)
            if q:
                q.put_nowait(o.data.decode() if k == _abi.OUT_WS_TEXT else o.data)
        elif k == _abi.OUT_WS_CLOSE:
            q = self._ws.pop(o.id, None)
            if q:
                q.put_nowait(None)
        elif k == _abi.OUT_CONNECT_REQUEST:
            self._on_connect_request(o)
        elif k == _abi.OUT_MESSAGE:
            self._on_message(o)
        elif k == _abi.OUT_ACK_RECEIVED:
            fut = self._acks.pop((o.id, o.ack), None)
            if fut and not fut.done():
                fut.set_result(_decode(o.data, o.attachments))
        elif k == _abi.OUT_ACK_TIMED_OUT:
            fut = self._acks.pop((o.id, o.ack), None)
            if fut and not fut.done():
                fut.set_exception(AckTimeout("operation has timed out"))
        elif k == _abi.OUT_DISCONNECT:
            sock = self._sockets.pop(o.id, None)
            if sock:
                sock.connected = False
                h = self._disconnect.get(sock.namespace)
                if h:
                    self._run(h, (sock, o.name), None)

    def _on_connect_request(self, o: _abi.Output) -> None:
        now = _now()
        auth = json.loads(o.data) if o.has_data else None
        mw = self._connect.get("middleware:" + o.nsp)
        if mw:
            try:
                mw(auth)
            except Reject as r:
                data = None if r.data is None else json.dumps(r.data)
                self._core.reject(now, o.id, r.message, data)
                return
        sid_int = self._core.accept(now, o.id)
        sock = Socket(self, sid_int, self._core.socket_sid(sid_int), o.nsp, auth)
        self._sockets[sid_int] = sock
        h = self._connect.get(o.nsp)
        if h:
            self._run(h, (sock,), None)

    def _on_message(self, o: _abi.Output) -> None:
        sock = self._sockets.get(o.id)
        h = self._handlers.get((o.nsp, o.name)) or self._handlers.get(("*", o.name))
        if not sock or not h:
            if o.has_ack and sock:
                self._core.ack(_now(), o.id, o.ack, b"[]", [])
            return
        args = _decode(o.data, o.attachments)
        self._run(h, (sock, *args), (o.id, o.ack) if o.has_ack else None)

    def _run(self, h: Handler, args: tuple, ack: tuple[int, int] | None) -> None:
        try:
            r = h(*args)
        except Exception as e:  # an application error must not stop the server
            print(f"sio_ffi: handler {h.__name__} failed: {e!r}", flush=True)
            return
        if inspect.isawaitable(r):
            task = asyncio.ensure_future(self._finish(r, ack))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._send_ack(ack, r)

    async def _finish(self, r: Awaitable, ack) -> None:
        try:
            value = await r
        except Exception as e:
            print(f"sio_ffi: handler failed: {e!r}", flush=True)
            return
        self._send_ack(ack, value)

    def _send_ack(self, ack, value) -> None:
        if ack is None:
            return
        socket, id = ack
        if socket not in self._sockets:
            return
        args = () if value is None else value if isinstance(value, tuple) else (value,)
        data, atts = _encode(args)
        self._core.ack(_now(), socket, id, data, atts)
        self._drain()
