"""ctypes declarations of the sio-ffi C ABI (include/sio.h) and a thin checked wrapper.

The library is found through the environment variable ``SIO_FFI_LIB`` (a path to
``libsio_ffi.so``), else in the workspace's ``target/release`` or ``target/debug``.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

# ----- enums (values as in sio.h) ------------------------------------------------------------

STATUS_OK = 0
STATUS_WS_REFUSED = 9

METHOD_GET, METHOD_POST, METHOD_OTHER = 0, 1, 2

(
    OUT_NONE,
    OUT_HTTP_RESPONSE,
    OUT_WS_TEXT,
    OUT_WS_BINARY,
    OUT_WS_CLOSE,
    OUT_CONNECT_REQUEST,
    OUT_MESSAGE,
    OUT_ACK_RECEIVED,
    OUT_ACK_TIMED_OUT,
    OUT_BROADCAST_ACK,
    OUT_DISCONNECTING,
    OUT_DISCONNECT,
) = range(12)

NO_DEADLINE = 2**64 - 1


# ----- structs -------------------------------------------------------------------------------


class SioBytes(Structure):
    _fields_ = [("ptr", POINTER(c_uint8)), ("len", c_size_t)]

    def get(self) -> bytes:
        if not self.ptr or self.len == 0:
            return b""
        return ctypes.string_at(self.ptr, self.len)


SioSlice = SioBytes  # same layout: const uint8_t *ptr; size_t len


class SioHeader(Structure):
    _fields_ = [("name", c_char_p), ("value", c_char_p)]


class SioServerConfig(Structure):
    _fields_ = [
        ("ping_interval", c_uint64),
        ("ping_timeout", c_uint64),
        ("upgrade_timeout", c_uint64),
        ("connect_timeout", c_uint64),
        ("max_payload", c_size_t),
        ("max_attachments", c_size_t),
        ("max_buffered_frames", c_size_t),
        ("allow_polling", c_bool),
        ("allow_websocket", c_bool),
        ("allow_upgrades", c_bool),
        ("dynamic_namespaces", c_bool),
        ("recovery", c_bool),
        ("recovery_max_disconnection", c_uint64),
        ("seed", c_uint8 * 32),
    ]


class SioTarget(Structure):
    _fields_ = [
        ("nsp", c_char_p),
        ("rooms", POINTER(c_char_p)),
        ("rooms_len", c_size_t),
        ("except_rooms", POINTER(c_char_p)),
        ("except_rooms_len", c_size_t),
        ("except_sockets", POINTER(c_uint64)),
        ("except_sockets_len", c_size_t),
    ]


class SioHttpResponse(Structure):
    _fields_ = [("status", c_uint16), ("content_type", SioBytes), ("body", SioBytes)]


class SioAckResponse(Structure):
    _fields_ = [
        ("socket", c_uint64),
        ("data", SioBytes),
        ("attachments", POINTER(SioBytes)),
        ("attachments_len", c_size_t),
    ]


class SioServerOutput(Structure):
    _fields_ = [
        ("kind", c_int),
        ("id", c_uint64),
        ("ack", c_uint64),
        ("has_ack", c_bool),
        ("status", c_uint16),
        ("flag", c_bool),
        ("reason", c_int),
        ("nsp", SioBytes),
        ("name", SioBytes),
        ("data", SioBytes),
        ("has_data", c_bool),
        ("attachments", POINTER(SioBytes)),
        ("attachments_len", c_size_t),
        ("rooms", POINTER(SioBytes)),
        ("rooms_len", c_size_t),
        ("responses", POINTER(SioAckResponse)),
        ("responses_len", c_size_t),
    ]


def _list(ptr, n) -> list[bytes]:
    return [ptr[i].get() for i in range(n)] if ptr else []


class Output:
    """A server output, copied out of the library (the C pointers die at the next call)."""

    __slots__ = (
        "kind", "id", "ack", "has_ack", "status", "flag", "reason", "nsp", "name", "data",
        "has_data", "attachments", "rooms", "responses",
    )

    def __init__(self, o: SioServerOutput):
        self.kind = o.kind
        self.id = o.id
        self.ack = o.ack
        self.has_ack = bool(o.has_ack)
        self.status = o.status
        self.flag = bool(o.flag)
        self.reason = o.reason
        self.nsp = o.nsp.get().decode()
        self.name = o.name.get().decode()
        self.data = o.data.get()
        self.has_data = bool(o.has_data)
        self.attachments = _list(o.attachments, o.attachments_len)
        self.rooms = [r.decode() for r in _list(o.rooms, o.rooms_len)]
        self.responses = [
            (r.socket, r.data.get(), _list(r.attachments, r.attachments_len))
            for r in (o.responses[i] for i in range(o.responses_len))
        ] if o.responses else []


# ----- loading -------------------------------------------------------------------------------


def _find_library() -> str:
    env = os.environ.get("SIO_FFI_LIB")
    if env:
        return env
    root = Path(__file__).resolve().parents[3]
    for profile in ("release", "debug"):
        p = root / "target" / profile / "libsio_ffi.so"
        if p.exists():
            return str(p)
    raise OSError("libsio_ffi.so not found: build it (cargo build -p sio-ffi) or set SIO_FFI_LIB")


_lib = ctypes.CDLL(_find_library())

_S = c_void_p  # SioServer *
_u8p = POINTER(c_uint8)


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


sio_status_str = _fn("sio_status_str", c_char_p, c_int)
sio_server_config_default = _fn("sio_server_config_default", c_int, POINTER(SioServerConfig))
sio_server_new = _fn("sio_server_new", c_void_p, POINTER(SioServerConfig))
sio_server_free = _fn("sio_server_free", None, _S)
sio_server_last_error = _fn("sio_server_last_error", c_char_p, _S)
sio_server_add_namespace = _fn("sio_server_add_namespace", c_int, _S, c_char_p)
sio_server_handle_http = _fn(
    "sio_server_handle_http", c_int, _S, c_uint64, c_uint64, c_uint32, c_char_p, _u8p, c_size_t,
    POINTER(SioHeader), c_size_t, c_char_p,
)
sio_server_handle_http_aborted = _fn("sio_server_handle_http_aborted", c_int, _S, c_uint64, c_uint64)
sio_server_handle_ws_open = _fn(
    "sio_server_handle_ws_open", c_int, _S, c_uint64, c_uint64, c_char_p, POINTER(SioHeader),
    c_size_t, c_char_p, POINTER(SioHttpResponse),
)
sio_server_handle_ws_message = _fn(
    "sio_server_handle_ws_message", c_int, _S, c_uint64, c_uint64, c_bool, _u8p, c_size_t
)
sio_server_handle_ws_closed = _fn("sio_server_handle_ws_closed", c_int, _S, c_uint64, c_uint64, c_bool)
sio_server_handle_timeout = _fn("sio_server_handle_timeout", c_int, _S, c_uint64)
sio_server_poll_timeout = _fn("sio_server_poll_timeout", c_int, _S, POINTER(c_uint64))
sio_server_poll_output = _fn("sio_server_poll_output", c_int, _S, POINTER(SioServerOutput))
sio_server_accept = _fn("sio_server_accept", c_int, _S, c_uint64, c_uint64, POINTER(c_uint64))
sio_server_reject = _fn("sio_server_reject", c_int, _S, c_uint64, c_uint64, c_char_p, c_char_p)
sio_server_emit = _fn(
    "sio_server_emit", c_int, _S, c_uint64, POINTER(SioTarget), c_char_p, _u8p, c_size_t,
    POINTER(SioSlice), c_size_t, c_bool, POINTER(c_size_t),
)
sio_server_emit_with_ack = _fn(
    "sio_server_emit_with_ack", c_int, _S, c_uint64, c_uint64, c_char_p, _u8p, c_size_t,
    POINTER(SioSlice), c_size_t, c_uint64, POINTER(c_uint64),
)
sio_server_broadcast_with_ack = _fn(
    "sio_server_broadcast_with_ack", c_int, _S, c_uint64, POINTER(SioTarget), c_char_p, _u8p,
    c_size_t, POINTER(SioSlice), c_size_t, c_uint64, POINTER(c_uint64),
)
sio_server_ack = _fn(
    "sio_server_ack", c_int, _S, c_uint64, c_uint64, c_uint64, _u8p, c_size_t, POINTER(SioSlice),
    c_size_t,
)
sio_server_join = _fn("sio_server_join", c_int, _S, c_uint64, c_char_p)
sio_server_leave = _fn("sio_server_leave", c_int, _S, c_uint64, c_char_p)
sio_server_disconnect = _fn("sio_server_disconnect", c_int, _S, c_uint64, c_uint64, c_bool)
sio_server_close_all = _fn("sio_server_close_all", c_int, _S, c_uint64)
sio_server_socket_sid = _fn("sio_server_socket_sid", c_int, _S, c_uint64, POINTER(SioBytes))


class SioError(Exception):
    """A call into the library failed: ``status`` is the SioStatus code."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{message} (status {status})")
        self.status = status


def _buf(data: bytes):
    """A (pointer, length) pair for bytes handed in (kept alive by the caller's reference)."""
    if not data:
        return None, 0
    return ctypes.cast(ctypes.c_char_p(data), _u8p), len(data)


def _slices(attachments: list[bytes]):
    arr = (SioSlice * max(len(attachments), 1))()
    for i, a in enumerate(attachments):
        arr[i].ptr, arr[i].len = _buf(a)
    return arr, len(attachments)


class Core:
    """The server state machine: every call checked, outputs copied out."""

    def __init__(self, config: SioServerConfig):
        self._h = sio_server_new(ctypes.byref(config))
        if not self._h:
            raise SioError(-1, "sio_server_new failed")

    def close(self) -> None:
        if self._h:
            sio_server_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    def _check(self, status: int) -> None:
        if status != STATUS_OK:
            msg = sio_server_last_error(self._h) or b""
            raise SioError(status, msg.decode(errors="replace"))

    def add_namespace(self, nsp: str) -> None:
        self._check(sio_server_add_namespace(self._h, nsp.encode()))

    def handle_http(self, now, req, method, query, body, headers, remote):
        hs = (SioHeader * max(len(headers), 1))()
        keep = []
        for i, (k, v) in enumerate(headers):
            kb, vb = k.encode(), v.encode()
            keep += [kb, vb]
            hs[i].name, hs[i].value = kb, vb
        ptr, n = _buf(body)
        self._check(sio_server_handle_http(
            self._h, now, req, method, query.encode(), ptr, n, hs, len(headers),
            remote.encode() if remote else None,
        ))

    def handle_http_aborted(self, now, req):
        self._check(sio_server_handle_http_aborted(self._h, now, req))

    def handle_ws_open(self, now, ws, query, remote):
        """None when accepted, else (status, content_type, body) to answer instead."""
        refused = SioHttpResponse()
        st = sio_server_handle_ws_open(
            self._h, now, ws, query.encode(), None, 0, remote.encode() if remote else None,
            ctypes.byref(refused),
        )
        if st == STATUS_WS_REFUSED:
            return refused.status, refused.content_type.get().decode(), refused.body.get()
        self._check(st)
        return None

    def handle_ws_message(self, now, ws, binary, data):
        ptr, n = _buf(data)
        self._check(sio_server_handle_ws_message(self._h, now, ws, binary, ptr, n))

    def handle_ws_closed(self, now, ws, error):
        self._check(sio_server_handle_ws_closed(self._h, now, ws, error))

    def handle_timeout(self, now):
        self._check(sio_server_handle_timeout(self._h, now))

    def poll_timeout(self):
        at = c_uint64()
        self._check(sio_server_poll_timeout(self._h, ctypes.byref(at)))
        return None if at.value == NO_DEADLINE else at.value

    def poll_output(self):
        o = SioServerOutput()
        self._check(sio_server_poll_output(self._h, ctypes.byref(o)))
        return None if o.kind == OUT_NONE else Output(o)

    def accept(self, now, connect):
        s = c_uint64()
        self._check(sio_server_accept(self._h, now, connect, ctypes.byref(s)))
        return s.value

    def reject(self, now, connect, message, data_json):
        self._check(sio_server_reject(
            self._h, now, connect, message.encode(),
            data_json.encode() if data_json is not None else None,
        ))

    @staticmethod
    def _target(nsp, rooms, except_rooms, except_sockets):
        t = SioTarget()
        keep = [nsp.encode()] + [r.encode() for r in rooms] + [r.encode() for r in except_rooms]
        t.nsp = keep[0]
        if rooms:
            t.rooms = (c_char_p * len(rooms))(*keep[1:1 + len(rooms)])
            t.rooms_len = len(rooms)
        if except_rooms:
            t.except_rooms = (c_char_p * len(except_rooms))(*keep[1 + len(rooms):])
            t.except_rooms_len = len(except_rooms)
        if except_sockets:
            t.except_sockets = (c_uint64 * len(except_sockets))(*except_sockets)
            t.except_sockets_len = len(except_sockets)
        return t, keep

    def emit(self, now, nsp, rooms, except_rooms, except_sockets, event, args_json, attachments,
             volatile=False):
        t, _keep = self._target(nsp, rooms, except_rooms, except_sockets)
        ptr, n = _buf(args_json)
        atts, na = _slices(attachments)
        sent = c_size_t()
        self._check(sio_server_emit(
            self._h, now, ctypes.byref(t), event.encode(), ptr, n, atts, na, volatile,
            ctypes.byref(sent),
        ))
        return sent.value

    def emit_with_ack(self, now, socket, event, args_json, attachments, timeout_ms):
        ptr, n = _buf(args_json)
        atts, na = _slices(attachments)
        ack = c_uint64()
        self._check(sio_server_emit_with_ack(
            self._h, now, socket, event.encode(), ptr, n, atts, na, timeout_ms, ctypes.byref(ack)
        ))
        return ack.value

    def ack(self, now, socket, ack, args_json, attachments):
        ptr, n = _buf(args_json)
        atts, na = _slices(attachments)
        self._check(sio_server_ack(self._h, now, socket, ack, ptr, n, atts, na))

    def join(self, socket, room):
        self._check(sio_server_join(self._h, socket, room.encode()))

    def leave(self, socket, room):
        self._check(sio_server_leave(self._h, socket, room.encode()))

    def disconnect(self, now, socket, close_connection=False):
        self._check(sio_server_disconnect(self._h, now, socket, close_connection))

    def close_all(self, now):
        self._check(sio_server_close_all(self._h, now))

    def socket_sid(self, socket) -> str:
        b = SioBytes()
        self._check(sio_server_socket_sid(self._h, socket, ctypes.byref(b)))
        return b.get().decode()


def default_config() -> SioServerConfig:
    c = SioServerConfig()
    sio_server_config_default(ctypes.byref(c))
    return c
