//! The server: [`sio_core::server::Server`] behind an opaque `SioServer *`.
//!
//! A runtime hands every HTTP request of the Socket.IO path and every WebSocket event to the
//! server (`sio_server_handle_*`), performs what [`sio_server_poll_output`] gives (answer a
//! request, write or close a WebSocket) and tells the application what happened (a
//! connect request, an event, an ack, a disconnection); the application answers with calls
//! (`sio_server_accept`, `sio_server_emit`, `sio_server_ack`, `sio_server_join`, ...).

use std::ffi::c_char;

use bytes::Bytes;
use sio_core::engine::server::{Method, RequestId, Transmit, WsId};
use sio_core::engine::Frame;
use sio_core::server::{
    BroadcastAckId, ConnectId, DisconnectReason, Emit, Event, Handshake, Output, RecoveryConfig,
    Server, ServerConfig, ServerError, SocketId, Target,
};
use sio_core::{ByteString, Limits};

use crate::{
    arg_array, arg_attachments, arg_bytes, arg_headers, arg_opt_str, arg_str, args_without_name,
    event_data, put, with, Error, Handle, Result, Scratch, SioBytes, SioHeader, SioSlice,
    SioStatus,
};

/// Settings of a server; [`sio_server_config_default`] fills in Node's defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioServerConfig {
    /// Milliseconds between pings (25 000).
    pub ping_interval: u64,
    /// Milliseconds to wait for a pong (20 000).
    pub ping_timeout: u64,
    /// Milliseconds a WebSocket upgrade may take (10 000).
    pub upgrade_timeout: u64,
    /// Milliseconds a connection may stay without a namespace (45 000).
    pub connect_timeout: u64,
    /// Largest polling body or WebSocket message, bytes (1 000 000; announced as maxPayload).
    pub max_payload: usize,
    /// Most attachments per packet (1000).
    pub max_attachments: usize,
    /// Most frames a polling session holds for its next GET (10 000).
    pub max_buffered_frames: usize,
    /// Accept HTTP long-polling (true).
    pub allow_polling: bool,
    /// Accept WebSocket (true).
    pub allow_websocket: bool,
    /// Offer upgrades from polling to WebSocket (true).
    pub allow_upgrades: bool,
    /// Hand connect requests for undeclared namespaces to the application (false).
    pub dynamic_namespaces: bool,
    /// Connection state recovery (false).
    pub recovery: bool,
    /// How long a disconnected socket's session is kept for recovery, ms (120 000).
    pub recovery_max_disconnection: u64,
    /// Seed of the id generator: take it from the OS.
    pub seed: [u8; 32],
}

impl Default for SioServerConfig {
    fn default() -> Self {
        let core = ServerConfig::default();
        let rec = RecoveryConfig::default();
        SioServerConfig {
            ping_interval: core.engine.ping_interval,
            ping_timeout: core.engine.ping_timeout,
            upgrade_timeout: core.engine.upgrade_timeout,
            connect_timeout: core.connect_timeout,
            max_payload: core.engine.limits.max_payload,
            max_attachments: core.engine.limits.max_attachments,
            max_buffered_frames: core.engine.max_buffered_frames,
            allow_polling: core.engine.allow_polling,
            allow_websocket: core.engine.allow_websocket,
            allow_upgrades: core.engine.allow_upgrades,
            dynamic_namespaces: core.dynamic_namespaces,
            recovery: false,
            recovery_max_disconnection: rec.max_disconnection_duration,
            seed: [0; 32],
        }
    }
}

impl SioServerConfig {
    fn to_core(self) -> ServerConfig {
        let mut c = ServerConfig::default();
        c.engine.ping_interval = self.ping_interval;
        c.engine.ping_timeout = self.ping_timeout;
        c.engine.upgrade_timeout = self.upgrade_timeout;
        c.engine.limits = Limits {
            max_payload: self.max_payload,
            max_attachments: self.max_attachments,
            ..Limits::DEFAULT
        };
        c.engine.max_buffered_frames = self.max_buffered_frames;
        c.engine.allow_polling = self.allow_polling;
        c.engine.allow_websocket = self.allow_websocket;
        c.engine.allow_upgrades = self.allow_upgrades;
        c.engine.seed = self.seed;
        c.connect_timeout = self.connect_timeout;
        c.dynamic_namespaces = self.dynamic_namespaces;
        c.connection_state_recovery = self.recovery.then(|| RecoveryConfig {
            max_disconnection_duration: self.recovery_max_disconnection,
            ..RecoveryConfig::default()
        });
        c
    }
}

/// The HTTP method of a polling request (pass it as a `uint32_t`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioMethod {
    /// GET.
    Get = 0,
    /// POST.
    Post = 1,
    /// Anything else (answered with an error).
    Other = 2,
}

/// Which sockets of a namespace an emit reaches: members of any of `rooms` (every socket
/// of the namespace when there are none), minus members of `except_rooms`, minus
/// `except_sockets`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioTarget {
    /// The namespace (NUL-terminated; NULL for `/`).
    pub nsp: *const c_char,
    /// Room names (NUL-terminated strings).
    pub rooms: *const *const c_char,
    /// How many rooms.
    pub rooms_len: usize,
    /// Rooms whose members are left out.
    pub except_rooms: *const *const c_char,
    /// How many.
    pub except_rooms_len: usize,
    /// Sockets left out.
    pub except_sockets: *const u64,
    /// How many.
    pub except_sockets_len: usize,
}

/// Why a socket disconnected (Node's reasons; the output's `name` has the string).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioDisconnectReason {
    /// Not a disconnection output.
    None = 0,
    /// `transport error`.
    TransportError,
    /// `transport close`.
    TransportClose,
    /// `forced close`.
    ForcedClose,
    /// `ping timeout`.
    PingTimeout,
    /// `parse error`.
    ParseError,
    /// `server shutting down`.
    ServerShuttingDown,
    /// `forced server close`.
    ForcedServerClose,
    /// `client namespace disconnect`.
    ClientNamespaceDisconnect,
    /// `server namespace disconnect`.
    ServerNamespaceDisconnect,
    /// `transport buffer full`.
    BufferFull,
    /// `payload too large`.
    PayloadTooLarge,
}

impl From<DisconnectReason> for SioDisconnectReason {
    fn from(r: DisconnectReason) -> Self {
        match r {
            DisconnectReason::TransportError => Self::TransportError,
            DisconnectReason::TransportClose => Self::TransportClose,
            DisconnectReason::ForcedClose => Self::ForcedClose,
            DisconnectReason::PingTimeout => Self::PingTimeout,
            DisconnectReason::ParseError => Self::ParseError,
            DisconnectReason::ServerShuttingDown => Self::ServerShuttingDown,
            DisconnectReason::ForcedServerClose => Self::ForcedServerClose,
            DisconnectReason::ClientNamespaceDisconnect => Self::ClientNamespaceDisconnect,
            DisconnectReason::ServerNamespaceDisconnect => Self::ServerNamespaceDisconnect,
            DisconnectReason::BufferFull => Self::BufferFull,
            DisconnectReason::PayloadTooLarge => Self::PayloadTooLarge,
        }
    }
}

/// The kind of a server output, and which fields of [`SioServerOutput`] it sets.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioServerOutputKind {
    /// Nothing more to do: wait for input or for the deadline of `sio_server_poll_timeout`.
    None = 0,
    /// Answer HTTP request `id` (perhaps one parked earlier): `status`, `name` (the
    /// Content-Type), `data` (the body).
    HttpResponse,
    /// Send a text message (`data`, UTF-8) on WebSocket `id`.
    WsText,
    /// Send a binary message (`data`) on WebSocket `id`.
    WsBinary,
    /// Close WebSocket `id` after the messages written before.
    WsClose,
    /// Connect request `id` for namespace `nsp`: answer with `sio_server_accept` or
    /// `sio_server_reject`. `data` is the auth object (JSON) when `has_data`; `flag` tells
    /// that it recovers a disconnected socket.
    ConnectRequest,
    /// Event `name` from socket `id` in `nsp`: `data` is the JSON array of its arguments,
    /// with `attachments`; when `has_ack`, the client waits for `sio_server_ack(.., ack, ..)`.
    Message,
    /// Socket `id` acknowledged the emit `ack` of `sio_server_emit_with_ack`: `data` (JSON
    /// array) and `attachments` are the ack's arguments.
    AckReceived,
    /// Socket `id` did not acknowledge emit `ack` in time (or disconnected first).
    AckTimedOut,
    /// The broadcast with acks `id` completed: `responses`; `flag` tells that some
    /// recipient did not answer in time.
    BroadcastAck,
    /// Socket `id` in `nsp` is disconnecting for `reason` (`name`); `rooms` are its rooms.
    Disconnecting,
    /// Socket `id` in `nsp` disconnected for `reason` (`name`); the id is no longer valid.
    Disconnect,
}

/// One answer of a broadcast with acks.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioAckResponse {
    /// The socket that answered.
    pub socket: u64,
    /// The JSON array of the ack's arguments (NUL-terminated).
    pub data: SioBytes,
    /// Its attachments.
    pub attachments: *const SioBytes,
    /// How many.
    pub attachments_len: usize,
}

/// One server output. Which fields are set depends on `kind`; the others are zero/NULL.
/// Every pointer stays valid until the next `sio_server_poll_output` (or
/// `sio_server_socket_sid`, a refused `sio_server_handle_ws_open`, `sio_server_free`) on the
/// same server: commands such as `sio_server_emit` and `sio_server_ack` may take them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioServerOutput {
    /// What this is.
    pub kind: SioServerOutputKind,
    /// The request, WebSocket, connect request, socket or broadcast it is about.
    pub id: u64,
    /// An ack id (see `has_ack` for `MESSAGE`).
    pub ack: u64,
    /// A `MESSAGE` waits for an acknowledgement with id `ack`.
    pub has_ack: bool,
    /// `HTTP_RESPONSE`: the status code.
    pub status: u16,
    /// `CONNECT_REQUEST`: a recovery; `BROADCAST_ACK`: timed out.
    pub flag: bool,
    /// `DISCONNECTING`, `DISCONNECT`: why.
    pub reason: SioDisconnectReason,
    /// The namespace (NUL-terminated).
    pub nsp: SioBytes,
    /// The event name, the Content-Type or the reason string (NUL-terminated).
    pub name: SioBytes,
    /// The HTTP body, the WebSocket message, the JSON arguments or the auth.
    pub data: SioBytes,
    /// Whether `data` is set (the auth of a `CONNECT_REQUEST` is optional).
    pub has_data: bool,
    /// Binary attachments (of `MESSAGE`, `ACK_RECEIVED`).
    pub attachments: *const SioBytes,
    /// How many.
    pub attachments_len: usize,
    /// Room names (`DISCONNECTING`), NUL-terminated each.
    pub rooms: *const SioBytes,
    /// How many.
    pub rooms_len: usize,
    /// The answers of a `BROADCAST_ACK`.
    pub responses: *const SioAckResponse,
    /// How many.
    pub responses_len: usize,
}

impl SioServerOutput {
    fn empty() -> Self {
        SioServerOutput {
            kind: SioServerOutputKind::None,
            id: 0,
            ack: 0,
            has_ack: false,
            status: 0,
            flag: false,
            reason: SioDisconnectReason::None,
            nsp: SioBytes::NULL,
            name: SioBytes::NULL,
            data: SioBytes::NULL,
            has_data: false,
            attachments: std::ptr::null(),
            attachments_len: 0,
            rooms: std::ptr::null(),
            rooms_len: 0,
            responses: std::ptr::null(),
            responses_len: 0,
        }
    }
}

/// The response to send instead of upgrading, when `sio_server_handle_ws_open` refuses.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioHttpResponse {
    /// The status code.
    pub status: u16,
    /// The Content-Type (NUL-terminated).
    pub content_type: SioBytes,
    /// The body.
    pub body: SioBytes,
}

/// A Socket.IO server (opaque).
#[derive(Debug)]
pub struct SioServer {
    core: Server,
    poisoned: bool,
    last_error: Vec<u8>,
    scratch: Scratch,
}

impl Handle for SioServer {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
    fn last_error(&mut self) -> &mut Vec<u8> {
        &mut self.last_error
    }
}

impl From<ServerError> for Error {
    fn from(e: ServerError) -> Self {
        let status = match &e {
            ServerError::UnknownSocket(_) => SioStatus::UnknownSocket,
            ServerError::UnknownConnect(_) => SioStatus::UnknownConnect,
            ServerError::UnknownNamespace(_) => SioStatus::UnknownNamespace,
            ServerError::InvalidEventData => SioStatus::InvalidEventData,
            ServerError::InvalidAckData => SioStatus::InvalidAckData,
        };
        Error::new(status, e.to_string())
    }
}

fn handshake(
    query: &str,
    headers: *const SioHeader,
    headers_len: usize,
    remote_addr: *const c_char,
) -> Result<Handshake> {
    Ok(Handshake {
        query: query.to_owned(),
        headers: arg_headers(headers, headers_len)?,
        remote_addr: arg_opt_str(remote_addr, "remote_addr")?.map(str::to_owned),
        time: 0,
    })
}

fn target(t: *const SioTarget) -> Result<Target> {
    let t = arg_array(t, 1, "target")?;
    let t = t[0];
    let nsp = arg_opt_str(t.nsp, "target nsp")?.unwrap_or("/");
    let mut target = Target::namespace(nsp);
    for &r in arg_array(t.rooms, t.rooms_len, "target rooms")? {
        target = target.to(arg_str(r, "a room")?);
    }
    for &r in arg_array(t.except_rooms, t.except_rooms_len, "target except_rooms")? {
        target = target.except(arg_str(r, "a room")?);
    }
    for &s in arg_array(t.except_sockets, t.except_sockets_len, "except_sockets")? {
        target = target.except_socket(SocketId(s));
    }
    Ok(target)
}

fn emit_of(
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    volatile: bool,
) -> Result<Emit> {
    let event = arg_str(event, "event")?;
    let data = event_data(event, arg_bytes(args, args_len, "args")?)?;
    let mut emit = Emit::new(data);
    emit.attachments = arg_attachments(attachments, attachments_len)?;
    emit.volatile = volatile;
    Ok(emit)
}

/// Fill `config` with the defaults (Node's). `config` must point to a writable
/// `SioServerConfig`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_config_default(config: *mut SioServerConfig) -> SioStatus {
    if config.is_null() {
        return SioStatus::NullPointer;
    }
    put(config, SioServerConfig::default());
    SioStatus::Ok
}

/// A new server with `config` (NULL for the defaults) and the namespace `/`. Returns NULL
/// if `config` is invalid (a zero `max_payload`) or the library panicked.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_new(config: *const SioServerConfig) -> *mut SioServer {
    let r = std::panic::catch_unwind(|| {
        let config = if config.is_null() {
            SioServerConfig::default()
        } else {
            arg_array(config, 1, "config").ok()?[0]
        };
        if config.max_payload == 0 {
            return None;
        }
        Some(Box::into_raw(Box::new(SioServer {
            core: Server::new(config.to_core()),
            poisoned: false,
            last_error: vec![0],
            scratch: Scratch::default(),
        })))
    });
    r.ok().flatten().unwrap_or(std::ptr::null_mut())
}

/// Free a server (NULL is ignored). Open connections are dropped without a goodbye: call
/// `sio_server_close_all` and drain first for a clean shutdown.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_free(server: *mut SioServer) {
    crate::free(server)
}

/// The description of the last error on this server (NUL-terminated, valid until the next
/// call; empty after a success).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_last_error(server: *mut SioServer) -> *const c_char {
    crate::last_error_of(server)
}

/// Declare a namespace: its connect requests reach the application.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_add_namespace(
    server: *mut SioServer,
    nsp: *const c_char,
) -> SioStatus {
    with(server, |s| {
        s.core.add_namespace(arg_str(nsp, "nsp")?);
        Ok(())
    })
}

/// An HTTP request on the Socket.IO path (`method` a [`SioMethod`]; `query` the raw query
/// string without `?`; `body` the POST body; `headers` and `remote_addr` (may be NULL) are
/// kept as the connection's handshake). Its answer comes as an `HTTP_RESPONSE` output for
/// `req`, now or later (a GET with nothing to send is parked).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_server_handle_http(
    server: *mut SioServer,
    now: u64,
    req: u64,
    method: u32,
    query: *const c_char,
    body: *const u8,
    body_len: usize,
    headers: *const SioHeader,
    headers_len: usize,
    remote_addr: *const c_char,
) -> SioStatus {
    with(server, |s| {
        let method = match method {
            0 => Method::Get,
            1 => Method::Post,
            2 => Method::Other,
            m => {
                return Err(Error::new(
                    SioStatus::InvalidArgument,
                    format!("unknown method {m}"),
                ))
            }
        };
        let query = arg_str(query, "query")?;
        let body = Bytes::copy_from_slice(arg_bytes(body, body_len, "body")?);
        let hs = handshake(query, headers, headers_len, remote_addr)?;
        s.core
            .handle_http(now, RequestId(req), method, query, body, || hs);
        Ok(())
    })
}

/// A polling request `req` ended (the client went away) before it was answered.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_handle_http_aborted(
    server: *mut SioServer,
    now: u64,
    req: u64,
) -> SioStatus {
    with(server, |s| {
        s.core.handle_http_aborted(now, RequestId(req));
        Ok(())
    })
}

/// A WebSocket upgrade request, named `ws` by the caller. On `WS_REFUSED`, `*refused` (when
/// not NULL) receives the HTTP response to send instead of upgrading (valid until the next
/// call). Otherwise upgrade; the handshake comes as a `WS_TEXT` output.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_handle_ws_open(
    server: *mut SioServer,
    now: u64,
    ws: u64,
    query: *const c_char,
    headers: *const SioHeader,
    headers_len: usize,
    remote_addr: *const c_char,
    refused: *mut SioHttpResponse,
) -> SioStatus {
    with(server, |s| {
        let query = arg_str(query, "query")?;
        let hs = handshake(query, headers, headers_len, remote_addr)?;
        match s.core.handle_ws_open(now, WsId(ws), query, || hs) {
            Ok(()) => Ok(()),
            Err(r) => {
                s.scratch.clear();
                let resp = SioHttpResponse {
                    status: r.status,
                    content_type: s.scratch.text(r.content_type.as_bytes()),
                    body: s.scratch.bytes(r.body),
                };
                put(refused, resp);
                Err(Error::new(SioStatus::WsRefused, "websocket refused"))
            }
        }
    })
}

/// A WebSocket message: text (`binary` false; must be UTF-8, else `INVALID_UTF8` and the
/// caller should close the WebSocket as failed) or binary.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_handle_ws_message(
    server: *mut SioServer,
    now: u64,
    ws: u64,
    binary: bool,
    data: *const u8,
    len: usize,
) -> SioStatus {
    with(server, |s| {
        let data = arg_bytes(data, len, "data")?;
        let frame = if binary {
            Frame::Binary(Bytes::copy_from_slice(data))
        } else {
            let text = std::str::from_utf8(data)
                .map_err(|_| Error::new(SioStatus::InvalidUtf8, "text message is not UTF-8"))?;
            Frame::Text(ByteString::from(text))
        };
        s.core.handle_ws_message(now, WsId(ws), frame);
        Ok(())
    })
}

/// A WebSocket closed (`error`: it failed rather than closed cleanly).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_handle_ws_closed(
    server: *mut SioServer,
    now: u64,
    ws: u64,
    error: bool,
) -> SioStatus {
    with(server, |s| {
        s.core.handle_ws_closed(now, WsId(ws), error);
        Ok(())
    })
}

/// Handle every deadline due at `now`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_handle_timeout(server: *mut SioServer, now: u64) -> SioStatus {
    with(server, |s| {
        s.core.handle_timeout(now);
        Ok(())
    })
}

/// The next deadline in `*at` (`UINT64_MAX` for none): call `sio_server_handle_timeout` then.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_poll_timeout(server: *mut SioServer, at: *mut u64) -> SioStatus {
    with(server, |s| {
        if at.is_null() {
            return Err(SioStatus::NullPointer.into());
        }
        put(at, s.core.poll_timeout().unwrap_or(u64::MAX));
        Ok(())
    })
}

/// The next output into `*out` (kind `NONE` when there is none). Drain after every call.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_poll_output(
    server: *mut SioServer,
    out: *mut SioServerOutput,
) -> SioStatus {
    with(server, |s| {
        if out.is_null() {
            return Err(SioStatus::NullPointer.into());
        }
        s.scratch.clear();
        let mut o = SioServerOutput::empty();
        // Skip what the ABI does not expose (Engine.IO-only mode is not offered).
        loop {
            match s.core.poll_output() {
                None => break,
                Some(Output::Event(Event::Engine(_))) => continue,
                Some(output) => {
                    fill(&mut s.scratch, &mut o, output);
                    break;
                }
            }
        }
        put(out, o);
        Ok(())
    })
}

fn fill(sc: &mut Scratch, o: &mut SioServerOutput, output: Output) {
    match output {
        Output::Transmit(Transmit::Http { req, response }) => {
            o.kind = SioServerOutputKind::HttpResponse;
            o.id = req.0;
            o.status = response.status;
            o.name = sc.text(response.content_type.as_bytes());
            o.data = sc.bytes(response.body);
            o.has_data = true;
        }
        Output::Transmit(Transmit::Ws { ws, frame }) => {
            o.id = ws.0;
            o.has_data = true;
            match frame {
                Frame::Text(t) => {
                    o.kind = SioServerOutputKind::WsText;
                    o.data = sc.bytes(t.into_bytes());
                }
                Frame::Binary(b) => {
                    o.kind = SioServerOutputKind::WsBinary;
                    o.data = sc.bytes(b);
                }
            }
        }
        Output::Transmit(Transmit::WsClose { ws }) => {
            o.kind = SioServerOutputKind::WsClose;
            o.id = ws.0;
        }
        Output::Event(e) => match e {
            Event::Engine(_) => {}
            Event::ConnectRequest {
                id,
                nsp,
                auth,
                recovered,
            } => {
                o.kind = SioServerOutputKind::ConnectRequest;
                o.id = id.0;
                o.nsp = sc.text(nsp.as_bytes());
                if let Some(a) = auth {
                    o.data = sc.text(a.as_bytes());
                    o.has_data = true;
                }
                o.flag = recovered;
            }
            Event::Message { socket, packet } => {
                o.kind = SioServerOutputKind::Message;
                o.id = socket.0;
                o.nsp = sc.text(packet.nsp.as_bytes());
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                o.name = sc.text(name.as_bytes());
                let args = args_without_name(packet.data.as_deref().unwrap_or("[]"));
                o.data = sc.text(args.as_bytes());
                o.has_data = true;
                if let Some(ack) = packet.id {
                    o.ack = ack;
                    o.has_ack = true;
                }
                (o.attachments, o.attachments_len) = sc.attachments(packet.attachments);
            }
            Event::AckReceived {
                socket,
                ack,
                packet,
            } => {
                o.kind = SioServerOutputKind::AckReceived;
                o.id = socket.0;
                o.ack = ack;
                o.nsp = sc.text(packet.nsp.as_bytes());
                o.data = sc.text(packet.data.as_deref().unwrap_or("[]").as_bytes());
                o.has_data = true;
                (o.attachments, o.attachments_len) = sc.attachments(packet.attachments);
            }
            Event::AckTimedOut { socket, ack } => {
                o.kind = SioServerOutputKind::AckTimedOut;
                o.id = socket.0;
                o.ack = ack;
            }
            Event::BroadcastAck {
                id,
                responses,
                timed_out,
            } => {
                o.kind = SioServerOutputKind::BroadcastAck;
                o.id = id.0;
                o.flag = timed_out;
                let list = responses
                    .into_iter()
                    .map(|(socket, packet)| {
                        let data = sc.text(packet.data.as_deref().unwrap_or("[]").as_bytes());
                        let (attachments, attachments_len) = sc.attachments(packet.attachments);
                        SioAckResponse {
                            socket: socket.0,
                            data,
                            attachments,
                            attachments_len,
                        }
                    })
                    .collect();
                (o.responses, o.responses_len) = sc.responses(list);
            }
            Event::Disconnecting {
                socket,
                reason,
                rooms,
            } => {
                o.kind = SioServerOutputKind::Disconnecting;
                o.id = socket.0;
                o.reason = reason.into();
                o.name = sc.text(reason.as_str().as_bytes());
                let list = rooms.iter().map(|r| sc.text(r.as_bytes())).collect();
                (o.rooms, o.rooms_len) = sc.list(list);
            }
            Event::Disconnect { socket, reason } => {
                o.kind = SioServerOutputKind::Disconnect;
                o.id = socket.0;
                o.reason = reason.into();
                o.name = sc.text(reason.as_str().as_bytes());
            }
        },
    }
}

/// Accept connect request `connect`: `*socket` (when not NULL) receives the new socket's id.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_accept(
    server: *mut SioServer,
    now: u64,
    connect: u64,
    socket: *mut u64,
) -> SioStatus {
    with(server, |s| {
        let id = s.core.accept(now, ConnectId(connect))?;
        put(socket, id.0);
        Ok(())
    })
}

/// Refuse connect request `connect`: the client receives `connect_error` with `message` and,
/// when `data` is not NULL, `data` (a JSON text).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_reject(
    server: *mut SioServer,
    now: u64,
    connect: u64,
    message: *const c_char,
    data: *const c_char,
) -> SioStatus {
    with(server, |s| {
        let message = arg_str(message, "message")?;
        let data = match arg_opt_str(data, "data")? {
            Some(d) => Some(
                serde_json::from_str::<&serde_json::value::RawValue>(d)
                    .map_err(|e| Error::new(SioStatus::InvalidArgument, format!("data: {e}")))?,
            ),
            None => None,
        };
        s.core.reject(now, ConnectId(connect), message, data)?;
        Ok(())
    })
}

/// Send event `event` with `args` (a JSON array, or empty for none) and `attachments` to
/// every socket `target` selects; `*sent` (when not NULL) receives how many it reached.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_server_emit(
    server: *mut SioServer,
    now: u64,
    target: *const SioTarget,
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    volatile: bool,
    sent: *mut usize,
) -> SioStatus {
    with(server, |s| {
        let t = crate::server::target(target)?;
        let e = emit_of(
            event,
            args,
            args_len,
            attachments,
            attachments_len,
            volatile,
        )?;
        let n = s.core.emit(now, &t, &e)?;
        put(sent, n);
        Ok(())
    })
}

/// Send an event to one socket and wait `timeout` ms for its ack: `*ack` (when not NULL)
/// receives the id that `ACK_RECEIVED` or `ACK_TIMED_OUT` will carry.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_server_emit_with_ack(
    server: *mut SioServer,
    now: u64,
    socket: u64,
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    timeout: u64,
    ack: *mut u64,
) -> SioStatus {
    with(server, |s| {
        let e = emit_of(event, args, args_len, attachments, attachments_len, false)?;
        let id = s.core.emit_with_ack(now, SocketId(socket), &e, timeout)?;
        put(ack, id);
        Ok(())
    })
}

/// Send an event to every socket `target` selects and collect their acks for `timeout` ms:
/// `*id` (when not NULL) receives the id that `BROADCAST_ACK` will carry.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_server_broadcast_with_ack(
    server: *mut SioServer,
    now: u64,
    target: *const SioTarget,
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    timeout: u64,
    id: *mut u64,
) -> SioStatus {
    with(server, |s| {
        let t = crate::server::target(target)?;
        let e = emit_of(event, args, args_len, attachments, attachments_len, false)?;
        let BroadcastAckId(b) = s.core.broadcast_with_ack(now, &t, &e, timeout)?;
        put(id, b);
        Ok(())
    })
}

/// Acknowledge the event a socket sent with ack id `ack`: `args` is the JSON array of the
/// ack's arguments (empty for none), with `attachments`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_server_ack(
    server: *mut SioServer,
    now: u64,
    socket: u64,
    ack: u64,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
) -> SioStatus {
    with(server, |s| {
        let data = crate::ack_data(arg_bytes(args, args_len, "args")?)?;
        let atts = arg_attachments(attachments, attachments_len)?;
        s.core
            .ack(now, SocketId(socket), ack, ByteString::from(data), atts)?;
        Ok(())
    })
}

/// Put a socket in a room.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_join(
    server: *mut SioServer,
    socket: u64,
    room: *const c_char,
) -> SioStatus {
    with(server, |s| {
        s.core.join(SocketId(socket), arg_str(room, "room")?)?;
        Ok(())
    })
}

/// Take a socket out of a room.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_leave(
    server: *mut SioServer,
    socket: u64,
    room: *const c_char,
) -> SioStatus {
    with(server, |s| {
        s.core.leave(SocketId(socket), arg_str(room, "room")?)?;
        Ok(())
    })
}

/// Disconnect a socket from its namespace; with `close_connection`, close its whole
/// connection (every namespace).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_disconnect(
    server: *mut SioServer,
    now: u64,
    socket: u64,
    close_connection: bool,
) -> SioStatus {
    with(server, |s| {
        s.core.disconnect(now, SocketId(socket), close_connection)?;
        Ok(())
    })
}

/// Close every connection (shutdown): sockets disconnect with `server shutting down`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_close_all(server: *mut SioServer, now: u64) -> SioStatus {
    with(server, |s| {
        s.core.close_all(now);
        Ok(())
    })
}

/// The public id (`socket.id`) of a socket into `*sid` (NUL-terminated, valid until the
/// next call).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_socket_sid(
    server: *mut SioServer,
    socket: u64,
    sid: *mut SioBytes,
) -> SioStatus {
    with(server, |s| {
        let id = s
            .core
            .socket_sid(SocketId(socket))
            .ok_or(SioStatus::UnknownSocket)?
            .clone();
        s.scratch.clear();
        put(sid, s.scratch.text(id.as_bytes()));
        Ok(())
    })
}

/// The socket whose public id is `sid`, into `*socket`; `NOT_FOUND` if none.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_socket_by_sid(
    server: *mut SioServer,
    sid: *const c_char,
    socket: *mut u64,
) -> SioStatus {
    with(server, |s| {
        let id = s
            .core
            .socket_by_sid(arg_str(sid, "sid")?)
            .ok_or(SioStatus::NotFound)?;
        put(socket, id.0);
        Ok(())
    })
}

/// Panic inside the library, to test poisoning: returns `PANIC`, and the server answers
/// every later call with `POISONED`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_server_panic_for_tests(server: *mut SioServer) -> SioStatus {
    with(server, |_| panic!("sio_server_panic_for_tests"))
}
