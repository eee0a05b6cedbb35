"""The IO of :class:`sio_ffi.Server` on aiohttp: HTTP long-polling and WebSocket on one path.

Everything the protocol decides (handshakes, parked polls, heartbeats, upgrades, packets)
comes from the core; this module only moves bytes between aiohttp and the core.
"""

from __future__ import annotations

import asyncio

from aiohttp import WSMsgType, web

from . import _abi

_METHODS = {"GET": _abi.METHOD_GET, "POST": _abi.METHOD_POST}


def attach(server, app: web.Application, path: str = "/socket.io/") -> None:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _websocket(server, request)
        return await _polling(server, request)

    app.router.add_route("*", path, handle)
    if path.endswith("/"):
        app.router.add_route("*", path.rstrip("/"), handle)

    async def on_shutdown(_app):
        server.shutdown()

    app.on_shutdown.append(on_shutdown)


def _remote(request: web.Request):
    return request.remote or None


async def _polling(server, request: web.Request) -> web.StreamResponse:
    from . import _now

    method = _METHODS.get(request.method, _abi.METHOD_OTHER)
    body = await request.read() if method == _abi.METHOD_POST else b""
    req = server._id()
    fut = asyncio.get_running_loop().create_future()
    server._http[req] = fut
    headers = [(k.lower(), v) for k, v in request.headers.items()]
    server._core.handle_http(_now(), req, method, request.query_string, body, headers,
                             _remote(request))
    server._drain()
    try:
        status, content_type, data = await fut
    except asyncio.CancelledError:
        # The client went away before the answer (aiohttp cancels the handler).
        server._http.pop(req, None)
        server._core.handle_http_aborted(_now(), req)
        server._drain()
        raise
    resp = web.Response(status=status, body=data)
    resp.headers["Content-Type"] = content_type
    return resp


async def _websocket(server, request: web.Request) -> web.StreamResponse:
    from . import _now

    ws_id = server._id()
    queue: asyncio.Queue = asyncio.Queue()
    server._ws[ws_id] = queue
    refused = server._core.handle_ws_open(_now(), ws_id, request.query_string, _remote(request))
    if refused is not None:
        server._ws.pop(ws_id, None)
        status, content_type, body = refused
        resp = web.Response(status=status, body=body)
        resp.headers["Content-Type"] = content_type
        return resp
    ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
    await ws.prepare(request)
    server._drain()  # the handshake waits in the queue until now

    closed_by_core = False

    async def writer():
        nonlocal closed_by_core
        while True:
            frame = await queue.get()
            if frame is None:
                closed_by_core = True
                await ws.close()
                return
            if isinstance(frame, str):
                await ws.send_str(frame)
            else:
                await ws.send_bytes(frame)

    write_task = asyncio.ensure_future(writer())
    error = False
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                server._core.handle_ws_message(_now(), ws_id, False, msg.data.encode())
            elif msg.type == WSMsgType.BINARY:
                server._core.handle_ws_message(_now(), ws_id, True, msg.data)
            elif msg.type == WSMsgType.ERROR:
                error = True
                break
            server._drain()
    finally:
        if not closed_by_core:
            server._ws.pop(ws_id, None)
            server._core.handle_ws_closed(_now(), ws_id, error)
            server._drain()
            write_task.cancel()
        else:
            await write_task
    return ws
