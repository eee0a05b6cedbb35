//! The client: [`sio_core::client::Client`] (socket.io-client's `Manager` and its namespace
//! sockets) behind an opaque `SioClient *`.
//!
//! The runtime performs the transport actions that [`sio_client_poll_output`] gives
//! (`HTTP_REQUEST`, `HTTP_ABORT`, `WS_OPEN`, `WS_TEXT`/`WS_BINARY`, `WS_CLOSE`) against
//! the server's origin and reports their results (`sio_client_handle_*`); the application
//! connects namespaces, emits and acks with calls and learns what happened from the event
//! outputs.

use std::ffi::c_char;

use bytes::Bytes;
use sio_core::client::{
    AckError, Client, ClientConfig, ClientError, ConnectError, DisconnectReason, EmitId, Event,
    Output, SocketOptions, Transmit, TransportKind,
};
use sio_core::engine::server::{Method, RequestId, WsId};
use sio_core::engine::Frame;
use sio_core::server::Emit;
use sio_core::ByteString;

use crate::{
    arg_attachments, arg_bytes, arg_opt_str, arg_str, args_without_name, event_data, put, with,
    Error, Handle, Result, Scratch, SioBytes, SioSlice, SioStatus,
};

/// Settings of a client; [`sio_client_config_default`] fills in socket.io-client's defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioClientConfig {
    /// The Socket.IO path, NUL-terminated, with its trailing slash; NULL for `/socket.io/`.
    pub path: *const c_char,
    /// Start with HTTP long-polling (true); false starts with WebSocket.
    pub polling: bool,
    /// Use WebSocket: as the upgrade target after polling, or alone (true).
    pub websocket: bool,
    /// Upgrade from polling to WebSocket when offered (true).
    pub upgrade: bool,
    /// Reconnect after the connection fails (true).
    pub reconnection: bool,
    /// Most reconnection attempts in a row; 0 for no limit (0).
    pub reconnection_attempts: u32,
    /// First reconnection delay, ms (1000).
    pub reconnection_delay: u64,
    /// Largest reconnection delay, ms (5000).
    pub reconnection_delay_max: u64,
    /// How long the Engine.IO handshake may take, ms; 0 to wait forever (20 000).
    pub timeout: u64,
    /// Add a cache-busting parameter to polling requests (true).
    pub timestamp_requests: bool,
    /// Seed of the random draws (reconnection jitter): take it from the OS.
    pub seed: [u8; 32],
}

impl Default for SioClientConfig {
    fn default() -> Self {
        let c = ClientConfig::default();
        SioClientConfig {
            path: std::ptr::null(),
            polling: true,
            websocket: true,
            upgrade: c.engine.upgrade,
            reconnection: c.reconnection,
            reconnection_attempts: 0,
            reconnection_delay: c.reconnection_delay,
            reconnection_delay_max: c.reconnection_delay_max,
            timeout: c.timeout.unwrap_or(0),
            timestamp_requests: c.engine.timestamp_requests,
            seed: [0; 32],
        }
    }
}

/// The kind of a client output, and which fields of [`SioClientOutput`] it sets.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SioClientOutputKind {
    /// Nothing more to do: wait for input or for the deadline of `sio_client_poll_timeout`.
    None = 0,
    /// Send HTTP request `id` to the origin + `name` (path and query): `method` (a
    /// `SioMethod`), `data` the POST body (`text/plain;charset=UTF-8`). Answer with
    /// `sio_client_handle_http_response` or `sio_client_handle_http_error`.
    HttpRequest,
    /// Cancel HTTP request `id` if possible; its answer is ignored.
    HttpAbort,
    /// Open WebSocket `id` to the origin + `name` (ws/wss scheme); report with
    /// `sio_client_handle_ws_opened` or `sio_client_handle_ws_closed`.
    WsOpen,
    /// Send a text message (`data`) on WebSocket `id`.
    WsText,
    /// Send a binary message (`data`) on WebSocket `id`.
    WsBinary,
    /// Close WebSocket `id`.
    WsClose,
    /// The connection opened: `name` is the Engine.IO session id, `flag` true for WebSocket.
    Open,
    /// The connection closed (`name` the reason); a reconnection may follow.
    Close,
    /// The server pinged.
    Ping,
    /// The connection upgraded to WebSocket.
    Upgrade,
    /// The upgrade failed (`name` the message); polling goes on.
    UpgradeError,
    /// Reconnection attempt `id` starts.
    ReconnectAttempt,
    /// Reconnection attempt `id` succeeded.
    Reconnect,
    /// A reconnection attempt failed (`name` the message).
    ReconnectError,
    /// Reconnection attempts are exhausted.
    ReconnectFailed,
    /// Namespace `nsp` connected: `name` is its socket id, `data` its pid when `has_data`,
    /// `flag` whether the server recovered the session.
    Connect,
    /// Namespace `nsp` could not connect: `name` the message, `data` the error's data
    /// (JSON) when `has_data`.
    ConnectError,
    /// Namespace `nsp` disconnected (`name` the reason).
    Disconnect,
    /// Event `name` in `nsp`: `data` the JSON array of its arguments, with `attachments`;
    /// when `has_ack`, answer with `sio_client_ack(.., nsp, ack, ..)`.
    Message,
    /// The server acknowledged emit `id` in `nsp`: `data` (JSON array) and `attachments`.
    AckReceived,
    /// Emit `id` in `nsp` will not be acknowledged (`name` the message, `flag` true for a
    /// timeout, false for a disconnection).
    AckFailed,
}

/// One client output. Which fields are set depends on `kind`; the others are zero/NULL.
/// Every pointer stays valid until the next `sio_client_poll_output` (or `sio_client_free`)
/// on the same client: commands such as `sio_client_emit` and `sio_client_ack` may take them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SioClientOutput {
    /// What this is.
    pub kind: SioClientOutputKind,
    /// The request, WebSocket, emit or attempt number it is about.
    pub id: u64,
    /// The ack id of a `MESSAGE` with `has_ack`.
    pub ack: u64,
    /// A `MESSAGE` waits for an acknowledgement.
    pub has_ack: bool,
    /// `HTTP_REQUEST`: a `SioMethod`.
    pub method: u32,
    /// See the kinds.
    pub flag: bool,
    /// The namespace (NUL-terminated).
    pub nsp: SioBytes,
    /// The path and query, event name, id or message (NUL-terminated).
    pub name: SioBytes,
    /// The body, the message, the JSON arguments, the pid or the error data.
    pub data: SioBytes,
    /// Whether `data` is set.
    pub has_data: bool,
    /// Binary attachments.
    pub attachments: *const SioBytes,
    /// How many.
    pub attachments_len: usize,
}

impl SioClientOutput {
    fn empty() -> Self {
        SioClientOutput {
            kind: SioClientOutputKind::None,
            id: 0,
            ack: 0,
            has_ack: false,
            method: 0,
            flag: false,
            nsp: SioBytes::NULL,
            name: SioBytes::NULL,
            data: SioBytes::NULL,
            has_data: false,
            attachments: std::ptr::null(),
            attachments_len: 0,
        }
    }
}

/// A Socket.IO client (opaque).
#[derive(Debug)]
pub struct SioClient {
    core: Client,
    poisoned: bool,
    last_error: Vec<u8>,
    scratch: Scratch,
}

impl Handle for SioClient {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
    fn last_error(&mut self) -> &mut Vec<u8> {
        &mut self.last_error
    }
}

impl From<ClientError> for Error {
    fn from(e: ClientError) -> Self {
        let status = match &e {
            ClientError::UnknownNamespace(_) => SioStatus::UnknownNamespace,
            ClientError::InvalidNamespace(_) => SioStatus::InvalidNamespace,
            ClientError::InvalidAuth => SioStatus::InvalidAuth,
            ClientError::InvalidEventData | ClientError::ReservedEvent(_) => {
                SioStatus::InvalidEventData
            }
            ClientError::InvalidAckData => SioStatus::InvalidAckData,
            ClientError::NotConnected(_) => SioStatus::NotConnected,
            ClientError::BufferFull => SioStatus::BufferFull,
            ClientError::TooManyPendingAcks => SioStatus::TooManyPendingAcks,
        };
        Error::new(status, e.to_string())
    }
}

/// Fill `config` with the defaults (socket.io-client's). `config` must point to a writable
/// `SioClientConfig`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_config_default(config: *mut SioClientConfig) -> SioStatus {
    if config.is_null() {
        return SioStatus::NullPointer;
    }
    put(config, SioClientConfig::default());
    SioStatus::Ok
}

fn core_config(c: &SioClientConfig) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::default();
    if let Some(p) = arg_opt_str(c.path, "path")? {
        cfg.engine.path = p.to_owned();
    }
    cfg.engine.transports = match (c.polling, c.websocket) {
        (true, true) => vec![TransportKind::Polling, TransportKind::WebSocket],
        (true, false) => vec![TransportKind::Polling],
        (false, true) => vec![TransportKind::WebSocket],
        (false, false) => {
            return Err(Error::new(
                SioStatus::InvalidArgument,
                "no transport enabled",
            ))
        }
    };
    cfg.engine.upgrade = c.upgrade;
    cfg.engine.timestamp_requests = c.timestamp_requests;
    cfg.reconnection = c.reconnection;
    cfg.reconnection_attempts = (c.reconnection_attempts > 0).then_some(c.reconnection_attempts);
    cfg.reconnection_delay = c.reconnection_delay;
    cfg.reconnection_delay_max = c.reconnection_delay_max;
    cfg.timeout = (c.timeout > 0).then_some(c.timeout);
    cfg.seed = c.seed;
    Ok(cfg)
}

/// A new client with `config` (NULL for the defaults). Nothing happens until a namespace is
/// connected (`sio_client_connect`) or `sio_client_open`. Returns NULL when `config` is
/// invalid (no transport, a path that is not UTF-8) or the library panicked.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_new(config: *const SioClientConfig) -> *mut SioClient {
    let r = std::panic::catch_unwind(|| {
        let c = if config.is_null() {
            SioClientConfig::default()
        } else {
            crate::arg_array(config, 1, "config").ok()?[0]
        };
        let cfg = core_config(&c).ok()?;
        Some(Box::into_raw(Box::new(SioClient {
            core: Client::new(cfg),
            poisoned: false,
            last_error: vec![0],
            scratch: Scratch::default(),
        })))
    });
    r.ok().flatten().unwrap_or(std::ptr::null_mut())
}

/// Free a client (NULL is ignored).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_free(client: *mut SioClient) {
    crate::free(client)
}

/// The description of the last error on this client (NUL-terminated, valid until the next
/// call).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_last_error(client: *mut SioClient) -> *const c_char {
    crate::last_error_of(client)
}

/// Open the connection without a namespace.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_open(client: *mut SioClient, now: u64) -> SioStatus {
    with(client, |c| {
        c.core.open(now);
        Ok(())
    })
}

/// Connect namespace `nsp` with `auth` (a JSON object text, or NULL), `ack_timeout` (ms, 0
/// for none) as the default ack timeout, and `retries` (0 for none).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_connect(
    client: *mut SioClient,
    now: u64,
    nsp: *const c_char,
    auth: *const c_char,
    ack_timeout: u64,
    retries: u32,
) -> SioStatus {
    with(client, |c| {
        let opts = SocketOptions {
            auth: arg_opt_str(auth, "auth")?.map(ByteString::from),
            ack_timeout: (ack_timeout > 0).then_some(ack_timeout),
            retries,
        };
        c.core.connect(now, arg_str(nsp, "nsp")?, opts)?;
        Ok(())
    })
}

/// Disconnect namespace `nsp` (it does not reconnect).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_disconnect(
    client: *mut SioClient,
    now: u64,
    nsp: *const c_char,
) -> SioStatus {
    with(client, |c| {
        c.core.disconnect(now, arg_str(nsp, "nsp")?)?;
        Ok(())
    })
}

/// Disconnect every namespace and close the connection (no reconnection).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_close(client: *mut SioClient, now: u64) -> SioStatus {
    with(client, |c| {
        c.core.close(now);
        Ok(())
    })
}

fn emit_of(
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    volatile: bool,
) -> Result<Emit> {
    let data = event_data(arg_str(event, "event")?, arg_bytes(args, args_len, "args")?)?;
    let mut e = Emit::new(data);
    e.attachments = arg_attachments(attachments, attachments_len)?;
    e.volatile = volatile;
    Ok(e)
}

/// Send event `event` with `args` (a JSON array, or empty) and `attachments` in `nsp`. Sent
/// now, or buffered until the namespace connects; `*sent` (when not NULL) is false when a
/// volatile emit was dropped.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_client_emit(
    client: *mut SioClient,
    now: u64,
    nsp: *const c_char,
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    volatile: bool,
    sent: *mut bool,
) -> SioStatus {
    with(client, |c| {
        let e = emit_of(
            event,
            args,
            args_len,
            attachments,
            attachments_len,
            volatile,
        )?;
        let s = c.core.emit(now, arg_str(nsp, "nsp")?, &e)?;
        put(sent, s);
        Ok(())
    })
}

/// Send an event and wait for its ack (`timeout` ms, 0 for the namespace's default):
/// `*emit` (when not NULL) receives the id that `ACK_RECEIVED` or `ACK_FAILED` will carry.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_client_emit_with_ack(
    client: *mut SioClient,
    now: u64,
    nsp: *const c_char,
    event: *const c_char,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
    timeout: u64,
    emit: *mut u64,
) -> SioStatus {
    with(client, |c| {
        let e = emit_of(event, args, args_len, attachments, attachments_len, false)?;
        let EmitId(id) = c.core.emit_with_ack(
            now,
            arg_str(nsp, "nsp")?,
            &e,
            (timeout > 0).then_some(timeout),
        )?;
        put(emit, id);
        Ok(())
    })
}

/// Acknowledge the server's event with ack id `ack` in `nsp`: `args` (a JSON array, or
/// empty) and `attachments`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn sio_client_ack(
    client: *mut SioClient,
    now: u64,
    nsp: *const c_char,
    ack: u64,
    args: *const u8,
    args_len: usize,
    attachments: *const SioSlice,
    attachments_len: usize,
) -> SioStatus {
    with(client, |c| {
        let data = crate::ack_data(arg_bytes(args, args_len, "args")?)?;
        let atts = arg_attachments(attachments, attachments_len)?;
        c.core
            .ack(now, arg_str(nsp, "nsp")?, ack, ByteString::from(data), atts)?;
        Ok(())
    })
}

/// The response (`status`, `body`) to HTTP request `req`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_http_response(
    client: *mut SioClient,
    now: u64,
    req: u64,
    status: u16,
    body: *const u8,
    body_len: usize,
) -> SioStatus {
    with(client, |c| {
        let body = Bytes::copy_from_slice(arg_bytes(body, body_len, "body")?);
        c.core
            .handle_http_response(now, RequestId(req), status, body);
        Ok(())
    })
}

/// HTTP request `req` failed without a response.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_http_error(
    client: *mut SioClient,
    now: u64,
    req: u64,
) -> SioStatus {
    with(client, |c| {
        c.core.handle_http_error(now, RequestId(req));
        Ok(())
    })
}

/// WebSocket `ws` opened.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_ws_opened(
    client: *mut SioClient,
    now: u64,
    ws: u64,
) -> SioStatus {
    with(client, |c| {
        c.core.handle_ws_opened(now, WsId(ws));
        Ok(())
    })
}

/// A message on WebSocket `ws`: text (`binary` false, UTF-8) or binary.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_ws_message(
    client: *mut SioClient,
    now: u64,
    ws: u64,
    binary: bool,
    data: *const u8,
    len: usize,
) -> SioStatus {
    with(client, |c| {
        let data = arg_bytes(data, len, "data")?;
        let frame = if binary {
            Frame::Binary(Bytes::copy_from_slice(data))
        } else {
            let t = std::str::from_utf8(data)
                .map_err(|_| Error::new(SioStatus::InvalidUtf8, "text message is not UTF-8"))?;
            Frame::Text(ByteString::from(t))
        };
        c.core.handle_ws_message(now, WsId(ws), frame);
        Ok(())
    })
}

/// WebSocket `ws` closed, failed (`error`), or could not be opened.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_ws_closed(
    client: *mut SioClient,
    now: u64,
    ws: u64,
    error: bool,
) -> SioStatus {
    with(client, |c| {
        c.core.handle_ws_closed(now, WsId(ws), error);
        Ok(())
    })
}

/// Handle every deadline due at `now`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_handle_timeout(client: *mut SioClient, now: u64) -> SioStatus {
    with(client, |c| {
        c.core.handle_timeout(now);
        Ok(())
    })
}

/// The next deadline in `*at` (`UINT64_MAX` for none).
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_poll_timeout(client: *mut SioClient, at: *mut u64) -> SioStatus {
    with(client, |c| {
        if at.is_null() {
            return Err(SioStatus::NullPointer.into());
        }
        put(at, c.core.poll_timeout().unwrap_or(u64::MAX));
        Ok(())
    })
}

/// Whether namespace `nsp` is connected, into `*connected`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_is_connected(
    client: *mut SioClient,
    nsp: *const c_char,
    connected: *mut bool,
) -> SioStatus {
    with(client, |c| {
        put(connected, c.core.is_connected(arg_str(nsp, "nsp")?));
        Ok(())
    })
}

/// The next output into `*out` (kind `NONE` when there is none). Drain after every call.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_poll_output(
    client: *mut SioClient,
    out: *mut SioClientOutput,
) -> SioStatus {
    with(client, |c| {
        if out.is_null() {
            return Err(SioStatus::NullPointer.into());
        }
        c.scratch.clear();
        let mut o = SioClientOutput::empty();
        if let Some(output) = c.core.poll_output() {
            fill(&mut c.scratch, &mut o, output);
        }
        put(out, o);
        Ok(())
    })
}

fn connect_error_message(e: &ConnectError) -> (String, Option<ByteString>) {
    match e {
        ConnectError::Refused { message, data } => (message.clone(), data.clone()),
        other => (other.message().to_owned(), None),
    }
}

fn disconnect_str(r: DisconnectReason) -> &'static str {
    r.as_str()
}

fn fill(sc: &mut Scratch, o: &mut SioClientOutput, output: Output) {
    use SioClientOutputKind as K;
    match output {
        Output::Transmit(t) => match t {
            Transmit::Http {
                req,
                method,
                path_and_query,
                body,
            } => {
                o.kind = K::HttpRequest;
                o.id = req.0;
                o.method = match method {
                    Method::Get => 0,
                    Method::Post => 1,
                    Method::Other => 2,
                };
                o.name = sc.text(path_and_query.as_bytes());
                o.data = sc.bytes(body);
                o.has_data = true;
            }
            Transmit::HttpAbort { req } => {
                o.kind = K::HttpAbort;
                o.id = req.0;
            }
            Transmit::WsOpen { ws, path_and_query } => {
                o.kind = K::WsOpen;
                o.id = ws.0;
                o.name = sc.text(path_and_query.as_bytes());
            }
            Transmit::Ws { ws, frame } => {
                o.id = ws.0;
                o.has_data = true;
                match frame {
                    Frame::Text(t) => {
                        o.kind = K::WsText;
                        o.data = sc.bytes(t.into_bytes());
                    }
                    Frame::Binary(b) => {
                        o.kind = K::WsBinary;
                        o.data = sc.bytes(b);
                    }
                }
            }
            Transmit::WsClose { ws } => {
                o.kind = K::WsClose;
                o.id = ws.0;
            }
        },
        Output::Event(e) => match e {
            Event::Open { sid, transport } => {
                o.kind = K::Open;
                o.name = sc.text(sid.as_bytes());
                o.flag = transport == TransportKind::WebSocket;
            }
            Event::Close { reason } => {
                o.kind = K::Close;
                o.name = sc.text(reason.as_str().as_bytes());
            }
            Event::Ping => o.kind = K::Ping,
            Event::Upgrade => o.kind = K::Upgrade,
            Event::UpgradeError(e) => {
                o.kind = K::UpgradeError;
                o.name = sc.text(e.message().as_bytes());
            }
            Event::ReconnectAttempt { attempt } => {
                o.kind = K::ReconnectAttempt;
                o.id = attempt.into();
            }
            Event::Reconnect { attempt } => {
                o.kind = K::Reconnect;
                o.id = attempt.into();
            }
            Event::ReconnectError { error } => {
                o.kind = K::ReconnectError;
                o.name = sc.text(error.message().as_bytes());
            }
            Event::ReconnectFailed => o.kind = K::ReconnectFailed,
            Event::Connect {
                nsp,
                sid,
                pid,
                recovered,
            } => {
                o.kind = K::Connect;
                o.nsp = sc.text(nsp.as_bytes());
                o.name = sc.text(sid.as_bytes());
                if let Some(pid) = pid {
                    o.data = sc.text(pid.as_bytes());
                    o.has_data = true;
                }
                o.flag = recovered;
            }
            Event::ConnectError { nsp, error } => {
                o.kind = K::ConnectError;
                o.nsp = sc.text(nsp.as_bytes());
                let (message, data) = connect_error_message(&error);
                o.name = sc.text(message.as_bytes());
                if let Some(d) = data {
                    o.data = sc.text(d.as_bytes());
                    o.has_data = true;
                }
            }
            Event::Disconnect { nsp, reason } => {
                o.kind = K::Disconnect;
                o.nsp = sc.text(nsp.as_bytes());
                o.name = sc.text(disconnect_str(reason).as_bytes());
            }
            Event::Message { nsp, packet } => {
                o.kind = K::Message;
                o.nsp = sc.text(nsp.as_bytes());
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                o.name = sc.text(name.as_bytes());
                let args = args_without_name(packet.data.as_deref().unwrap_or("[]"));
                o.data = sc.text(args.as_bytes());
                o.has_data = true;
                if let Some(id) = packet.id {
                    o.ack = id;
                    o.has_ack = true;
                }
                (o.attachments, o.attachments_len) = sc.attachments(packet.attachments);
            }
            Event::AckReceived { nsp, emit, packet } => {
                o.kind = K::AckReceived;
                o.nsp = sc.text(nsp.as_bytes());
                o.id = emit.0;
                o.data = sc.text(packet.data.as_deref().unwrap_or("[]").as_bytes());
                o.has_data = true;
                (o.attachments, o.attachments_len) = sc.attachments(packet.attachments);
            }
            Event::AckFailed { nsp, emit, error } => {
                o.kind = K::AckFailed;
                o.nsp = sc.text(nsp.as_bytes());
                o.id = emit.0;
                o.name = sc.text(error.message().as_bytes());
                o.flag = error == AckError::Timeout;
            }
        },
    }
}

/// Panic inside the library, to test poisoning: returns `PANIC`, and the client answers
/// every later call with `POISONED`.
#[allow(unsafe_code)] // no_mangle
#[no_mangle]
pub extern "C" fn sio_client_panic_for_tests(client: *mut SioClient) -> SioStatus {
    with(client, |_| panic!("sio_client_panic_for_tests"))
}
