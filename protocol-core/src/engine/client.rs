//! The Engine.IO v4 client: one session over HTTP long-polling, WebSocket, or polling then
//! upgraded to WebSocket, without any IO.
//!
//! The client chooses the ids of the requests and WebSockets it asks for. The runtime performs
//! every [`Transmit`] (an HTTP request, a WebSocket to open, a message to write, a socket to
//! close), feeds back what happens to them (`handle_http_response`, `handle_http_error`,
//! `handle_ws_opened`, `handle_ws_message`, `handle_ws_closed`), then drains
//! [`EngineClient::poll_transmit`] and [`EngineClient::poll_event`] until both are empty and
//! sleeps until [`EngineClient::poll_timeout`] (the heartbeat deadline).
//!
//! What it does, as engine.io-client 6 (socket.io-client 4.8) does:
//! - the handshake over the first configured transport (`GET ?EIO=4&transport=polling` or a
//!   WebSocket without `sid`); the `open` packet gives the session id and timings;
//! - over polling, one GET in flight at all times and one POST in flight at most; frames
//!   written while a POST is in flight wait and go together in the next POST, no larger than
//!   the server's `maxPayload` (a single larger frame is still sent alone);
//! - the probe upgrade: a WebSocket with the `sid`, `2probe` → `3probe`, then polling is paused
//!   (the GET and POST in flight are waited for, nothing new is sent), `5` is sent on the
//!   WebSocket and the frames written meanwhile follow on it;
//! - `3` (pong) for every `2` (ping), and the heartbeat watchdog: no ping within
//!   `pingInterval + pingTimeout` closes the session with [`CloseReason::PingTimeout`];
//! - a graceful [`close`](EngineClient::close): frames already written are sent first, then
//!   `1` over polling (or the WebSocket is closed).
//!
//! Every buffer is bounded ([`EngineClientConfig::max_buffered_frames`], the decoder
//! [`Limits`]); nothing a server sends makes it panic: bad bytes close the session with
//! [`CloseReason::ParseError`].

use std::collections::VecDeque;

use bytes::Bytes;
use bytestring::ByteString;

use super::handshake::OpenPacket;
use super::packet::{Frame, Packet};
use super::payload;
pub use super::server::{Method, RequestId, TransportKind, WsId};
use crate::id::IdGenerator;
use crate::limits::Limits;
use crate::timers::Millis;

/// Settings of the Engine.IO client. The defaults are engine.io-client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineClientConfig {
    /// The path of the Engine.IO endpoint, with its trailing slash (`/engine.io/`; the
    /// Socket.IO client uses `/socket.io/`).
    pub path: String,
    /// Extra query parameters sent with every request, in order (`EIO`, `transport`, `sid`
    /// and the timestamp parameter are set by the client and skipped here).
    pub query: Vec<(String, String)>,
    /// The transports to use, in order: the handshake uses the first; later ones are upgrade
    /// targets. Default: polling, then WebSocket.
    pub transports: Vec<TransportKind>,
    /// Try to upgrade from polling to WebSocket when the server offers it (default true).
    pub upgrade: bool,
    /// Add a random cache-busting parameter to every polling request (default true).
    pub timestamp_requests: bool,
    /// The name of that parameter (default `t`).
    pub timestamp_param: String,
    /// Bounds on what the server sends: largest polling body or WebSocket message accepted
    /// (default 16 MiB, since servers batch their backlog into one polling response), most
    /// attachments per packet, longest namespace.
    pub limits: Limits,
    /// Most frames waiting to be written (while a POST is in flight or during an upgrade).
    /// [`EngineClient::send`] refuses more with [`SendError::BufferFull`]; a pong that does
    /// not fit closes the session with [`CloseReason::BufferFull`].
    pub max_buffered_frames: usize,
}

impl Default for EngineClientConfig {
    fn default() -> Self {
        EngineClientConfig {
            path: "/engine.io/".to_owned(),
            query: Vec::new(),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            timestamp_requests: true,
            timestamp_param: "t".to_owned(),
            limits: Limits {
                max_payload: 16 * 1024 * 1024,
                ..Limits::DEFAULT
            },
            max_buffered_frames: 10_000,
        }
    }
}

/// Something for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Send an HTTP request to `origin + path_and_query`; answer with
    /// [`EngineClient::handle_http_response`] or [`EngineClient::handle_http_error`]. A POST
    /// body is a polling payload (`Content-Type: text/plain;charset=UTF-8`); a GET has none.
    Http {
        /// The request, chosen by the client.
        req: RequestId,
        /// GET (receive) or POST (send).
        method: Method,
        /// The path and the query string, `/engine.io/?EIO=4&transport=polling&...`.
        path_and_query: String,
        /// The body (empty for a GET).
        body: Bytes,
    },
    /// The client no longer waits for this request: cancel it if possible. Its answer, if
    /// one still comes, is ignored.
    HttpAbort {
        /// The request.
        req: RequestId,
    },
    /// Open a WebSocket to `origin + path_and_query` (with the `ws`/`wss` scheme); report
    /// with [`EngineClient::handle_ws_opened`] or [`EngineClient::handle_ws_closed`].
    WsOpen {
        /// The connection, chosen by the client.
        ws: WsId,
        /// The path and the query string.
        path_and_query: String,
    },
    /// Write one message on a WebSocket.
    Ws {
        /// The connection.
        ws: WsId,
        /// The message.
        frame: Frame,
    },
    /// Close a WebSocket (after the messages written before).
    WsClose {
        /// The connection.
        ws: WsId,
    },
}

/// How a transport failed. [`TransportError::message`] gives engine.io-client's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportError {
    /// A polling GET failed: an HTTP status other than 200, or no response at all (`None`).
    Poll {
        /// The status, if a response came.
        status: Option<u16>,
    },
    /// A polling POST failed: an HTTP status other than 200, or no response at all (`None`).
    Post {
        /// The status, if a response came.
        status: Option<u16>,
    },
    /// The WebSocket failed.
    WebSocket,
    /// The WebSocket closed before the handshake.
    WebSocketClosed,
    /// The server's first packet is not a valid `open` packet.
    Handshake,
    /// The upgrade probe failed (no `3probe`, or the probe WebSocket failed).
    Probe,
    /// [`EngineClientConfig::transports`] is empty.
    NoTransports,
}

impl TransportError {
    /// engine.io-client's message for this error.
    pub fn message(self) -> &'static str {
        match self {
            Self::Poll { .. } => "xhr poll error",
            Self::Post { .. } => "xhr post error",
            Self::WebSocket => "websocket error",
            Self::WebSocketClosed => "websocket closed",
            Self::Handshake => "invalid handshake",
            Self::Probe => "probe error",
            Self::NoTransports => "No transports available",
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Poll { status: Some(s) } | Self::Post { status: Some(s) } => {
                write!(f, "{} (HTTP {s})", self.message())
            }
            _ => f.write_str(self.message()),
        }
    }
}

impl std::error::Error for TransportError {}

/// Why an open session closed. [`CloseReason::as_str`] gives socket.io-client's reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The server closed the transport (a `close` packet, or the WebSocket closed).
    TransportClose,
    /// The transport failed (an HTTP error, a WebSocket error).
    TransportError,
    /// No ping from the server within `pingInterval + pingTimeout`.
    PingTimeout,
    /// The server sent bytes that do not decode.
    ParseError,
    /// The client closed the connection.
    ForcedClose,
    /// A frame the protocol requires (a pong) did not fit in the write buffer.
    BufferFull,
}

impl CloseReason {
    /// socket.io-client's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::BufferFull => "transport buffer full",
        }
    }
}

/// What happened to the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed: the session is open.
    Open {
        /// The server's `open` packet.
        handshake: OpenPacket,
        /// The transport of the handshake.
        transport: TransportKind,
    },
    /// A text message arrived.
    Message(ByteString),
    /// A binary message arrived.
    Binary(Bytes),
    /// The server pinged (the pong is already on its way).
    Ping,
    /// The session now uses a WebSocket.
    Upgrade,
    /// The upgrade failed; the session goes on over polling.
    UpgradeError(TransportError),
    /// The handshake failed; the client is closed (no [`Event::Close`] follows).
    OpenFailed(TransportError),
    /// The open session closed (not emitted for [`EngineClient::close`]).
    Close {
        /// Why.
        reason: CloseReason,
        /// The transport failure, for [`CloseReason::TransportError`].
        error: Option<TransportError>,
    },
}

/// Why [`EngineClient::send`] refused frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendError {
    /// The session is not open.
    NotOpen,
    /// The write buffer is full ([`EngineClientConfig::max_buffered_frames`]).
    BufferFull,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotOpen => f.write_str("engine.io session is not open"),
            Self::BufferFull => f.write_str("engine.io write buffer is full"),
        }
    }
}

impl std::error::Error for SendError {}

/// The client's state, as [`EngineClient::state`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No session.
    Closed,
    /// The handshake is in progress.
    Opening,
    /// The session is open.
    Open,
    /// [`EngineClient::close`] was called; the last frames and `close` are being sent.
    Closing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeStage {
    /// The probe WebSocket is being opened.
    Opening,
    /// `2probe` was sent.
    Probing,
    /// `3probe` came back: polling is paused, waiting for the GET and POST in flight.
    Pausing,
}

#[derive(Debug)]
struct Probe {
    ws: WsId,
    stage: ProbeStage,
}

#[derive(Debug)]
enum Opening {
    Polling(RequestId),
    WebSocket(WsId),
}

#[derive(Debug)]
struct Session {
    sid: ByteString,
    transport: TransportKind,
    max_payload: usize,
    /// `pingInterval + pingTimeout`.
    heartbeat_window: Millis,
    /// The heartbeat deadline.
    heartbeat: Millis,
    get: Option<RequestId>,
    post: Option<RequestId>,
    /// The WebSocket once the session uses one.
    ws: Option<WsId>,
    buffer: VecDeque<Frame>,
    probe: Option<Probe>,
}

#[derive(Debug)]
enum Inner {
    Closed,
    Opening(Opening),
    Open(Box<Session>),
    /// Closing over polling: the buffer and then `close` go out once the POST in flight is
    /// answered.
    Closing(Box<Session>),
}

/// The Engine.IO client state machine. See the [module docs](self).
#[derive(Debug)]
pub struct EngineClient {
    config: EngineClientConfig,
    rng: IdGenerator,
    next_req: u64,
    next_ws: u64,
    state: Inner,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

impl EngineClient {
    /// A closed client; [`open`](Self::open) starts a session. `seed` feeds the timestamp
    /// parameter of polling requests.
    pub fn new(config: EngineClientConfig, seed: [u8; 32]) -> Self {
        EngineClient {
            config,
            rng: IdGenerator::new(seed),
            next_req: 0,
            next_ws: 0,
            state: Inner::Closed,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineClientConfig {
        &self.config
    }

    /// Where the client is.
    pub fn state(&self) -> State {
        match self.state {
            Inner::Closed => State::Closed,
            Inner::Opening(_) => State::Opening,
            Inner::Open(_) => State::Open,
            Inner::Closing(_) => State::Closing,
        }
    }

    /// The session id, while open.
    pub fn sid(&self) -> Option<&ByteString> {
        match &self.state {
            Inner::Open(s) => Some(&s.sid),
            _ => None,
        }
    }

    /// The transport in use, while open.
    pub fn transport(&self) -> Option<TransportKind> {
        match &self.state {
            Inner::Open(s) => Some(s.transport),
            _ => None,
        }
    }

    /// Whether an upgrade probe is in progress.
    pub fn is_upgrading(&self) -> bool {
        matches!(&self.state, Inner::Open(s) if s.probe.is_some())
    }

    /// Whether a frame sent now leaves at once (engine.io-client's `transport.writable`): the
    /// session is open, not pausing for an upgrade, and over polling no POST is in flight.
    pub fn is_writable(&self) -> bool {
        match &self.state {
            Inner::Open(s) => {
                !s.probe
                    .as_ref()
                    .is_some_and(|p| p.stage == ProbeStage::Pausing)
                    && (s.transport == TransportKind::WebSocket || s.post.is_none())
            }
            _ => false,
        }
    }

    /// Whether the heartbeat deadline has passed at `now` (engine.io-client's
    /// `_hasPingExpired`); [`handle_timeout`](Self::handle_timeout) will close the session.
    pub fn ping_expired(&self, now: Millis) -> bool {
        matches!(&self.state, Inner::Open(s) if now >= s.heartbeat)
    }

    /// Frames written but not yet handed to the transport.
    pub fn buffered_frames(&self) -> usize {
        match &self.state {
            Inner::Open(s) | Inner::Closing(s) => s.buffer.len(),
            _ => 0,
        }
    }

    /// Room left in the write buffer, in frames.
    pub fn buffer_room(&self) -> usize {
        self.config
            .max_buffered_frames
            .saturating_sub(self.buffered_frames())
    }

    /// The next thing to do.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next: the heartbeat
    /// deadline of an open session.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match &self.state {
            Inner::Open(s) => Some(s.heartbeat),
            _ => None,
        }
    }

    /// Number of transmits and events waiting to be polled.
    pub fn queued_outputs(&self) -> usize {
        self.transmits.len() + self.events.len()
    }

    // ----- commands --------------------------------------------------------------------

    /// Start a session (a no-op while opening or open). A [`close`](Self::close) still
    /// sending its last frames is abandoned.
    pub fn open(&mut self, _now: Millis) {
        match self.state {
            Inner::Opening(_) | Inner::Open(_) => return,
            Inner::Closing(_) | Inner::Closed => {}
        }
        self.state = Inner::Closed;
        let Some(&transport) = self.config.transports.first() else {
            self.events
                .push_back(Event::OpenFailed(TransportError::NoTransports));
            return;
        };
        match transport {
            TransportKind::Polling => {
                let req = self.next_req();
                let path_and_query = self.path_and_query(TransportKind::Polling, None);
                self.transmits.push_back(Transmit::Http {
                    req,
                    method: Method::Get,
                    path_and_query,
                    body: Bytes::new(),
                });
                self.state = Inner::Opening(Opening::Polling(req));
            }
            TransportKind::WebSocket => {
                let ws = self.next_ws();
                let path_and_query = self.path_and_query(TransportKind::WebSocket, None);
                self.transmits
                    .push_back(Transmit::WsOpen { ws, path_and_query });
                self.state = Inner::Opening(Opening::WebSocket(ws));
            }
        }
    }

    /// Write frames (all or none). Over polling they leave with the next POST; during an
    /// upgrade they wait for it to complete.
    pub fn send(
        &mut self,
        _now: Millis,
        frames: impl IntoIterator<Item = Frame>,
    ) -> Result<(), SendError> {
        let max = self.config.max_buffered_frames;
        let Inner::Open(s) = &mut self.state else {
            return Err(SendError::NotOpen);
        };
        let start = s.buffer.len();
        for f in frames {
            if s.buffer.len() >= max {
                s.buffer.truncate(start);
                return Err(SendError::BufferFull);
            }
            s.buffer.push_back(f);
        }
        self.flush();
        Ok(())
    }

    /// Close the session from the client side. Frames already written are sent first; over
    /// polling `close` follows them, a WebSocket is closed. No [`Event::Close`] is emitted:
    /// the caller knows. A handshake in progress is abandoned.
    pub fn close(&mut self, _now: Millis) {
        match std::mem::replace(&mut self.state, Inner::Closed) {
            Inner::Closed => {}
            Inner::Closing(s) => self.state = Inner::Closing(s),
            Inner::Opening(Opening::Polling(req)) => {
                self.transmits.push_back(Transmit::HttpAbort { req });
            }
            Inner::Opening(Opening::WebSocket(ws)) => {
                self.transmits.push_back(Transmit::WsClose { ws });
            }
            Inner::Open(mut s) => {
                if let Some(p) = s.probe.take() {
                    self.transmits.push_back(Transmit::WsClose { ws: p.ws });
                }
                match (s.transport, s.ws) {
                    (TransportKind::WebSocket, Some(ws)) => {
                        let frames: Vec<Frame> = s.buffer.drain(..).collect();
                        self.transmits
                            .extend(frames.into_iter().map(|frame| Transmit::Ws { ws, frame }));
                        self.transmits.push_back(Transmit::WsClose { ws });
                    }
                    _ => {
                        // The GET in flight is left to the server, which ends it on `close`.
                        s.get = None;
                        self.state = Inner::Closing(s);
                        self.flush_closing();
                    }
                }
            }
        }
    }

    // ----- transport input -------------------------------------------------------------

    /// The response to a request. `body` is the whole body.
    pub fn handle_http_response(&mut self, now: Millis, req: RequestId, status: u16, body: Bytes) {
        self.on_http(now, req, Some((status, body)));
    }

    /// A request failed without a response (connection refused or reset, timeout).
    pub fn handle_http_error(&mut self, now: Millis, req: RequestId) {
        self.on_http(now, req, None);
    }

    /// A WebSocket asked for with [`Transmit::WsOpen`] is open.
    pub fn handle_ws_opened(&mut self, _now: Millis, ws: WsId) {
        if let Inner::Open(s) = &mut self.state {
            if let Some(p) = s.probe.as_mut() {
                if p.ws == ws && p.stage == ProbeStage::Opening {
                    p.stage = ProbeStage::Probing;
                    self.transmits.push_back(Transmit::Ws {
                        ws,
                        frame: Packet::Ping(ByteString::from_static("probe")).encode(),
                    });
                }
            }
        }
    }

    /// A message arrived on a WebSocket.
    pub fn handle_ws_message(&mut self, now: Millis, ws: WsId, frame: Frame) {
        match &mut self.state {
            Inner::Opening(Opening::WebSocket(w)) if *w == ws => {
                let handshake = match frame.decode(&self.config.limits) {
                    Ok(Packet::Open(json)) => OpenPacket::from_json(&json).ok(),
                    _ => None,
                };
                match handshake {
                    Some(h) => self.on_open(now, TransportKind::WebSocket, Some(ws), h),
                    None => {
                        self.state = Inner::Closed;
                        self.transmits.push_back(Transmit::WsClose { ws });
                        self.events
                            .push_back(Event::OpenFailed(TransportError::Handshake));
                    }
                }
            }
            Inner::Open(s) if s.ws == Some(ws) => match frame.decode(&self.config.limits) {
                Ok(p) => self.on_packet(now, p),
                Err(_) => self.fail(CloseReason::ParseError, None),
            },
            Inner::Open(s) => {
                let Some(p) = s.probe.as_mut().filter(|p| p.ws == ws) else {
                    return;
                };
                let ok = p.stage == ProbeStage::Probing
                    && matches!(frame.decode(&self.config.limits),
                        Ok(Packet::Pong(d)) if &*d == "probe");
                if ok {
                    p.stage = ProbeStage::Pausing;
                    self.try_finish_upgrade();
                } else {
                    self.probe_failed(true);
                }
            }
            _ => {}
        }
    }

    /// A WebSocket closed (`error`: it failed rather than closed cleanly), or could not be
    /// opened.
    pub fn handle_ws_closed(&mut self, _now: Millis, ws: WsId, error: bool) {
        match &mut self.state {
            Inner::Opening(Opening::WebSocket(w)) if *w == ws => {
                self.state = Inner::Closed;
                let e = if error {
                    TransportError::WebSocket
                } else {
                    TransportError::WebSocketClosed
                };
                self.events.push_back(Event::OpenFailed(e));
            }
            Inner::Open(s) if s.ws == Some(ws) => {
                s.ws = None;
                if error {
                    self.fail(CloseReason::TransportError, Some(TransportError::WebSocket));
                } else {
                    self.fail(CloseReason::TransportClose, None);
                }
            }
            Inner::Open(s) if s.probe.as_ref().is_some_and(|p| p.ws == ws) => {
                self.probe_failed(false);
            }
            _ => {}
        }
    }

    /// Handle the heartbeat deadline if it is due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.ping_expired(now) {
            self.fail(CloseReason::PingTimeout, None);
        }
    }

    // ----- internals -------------------------------------------------------------------

    fn next_req(&mut self) -> RequestId {
        let r = RequestId(self.next_req);
        self.next_req += 1;
        r
    }

    fn next_ws(&mut self) -> WsId {
        let w = WsId(self.next_ws);
        self.next_ws += 1;
        w
    }

    /// `path?query` for a request on `transport`.
    fn path_and_query(&mut self, transport: TransportKind, sid: Option<&str>) -> String {
        let mut q = String::with_capacity(self.config.path.len() + 64);
        q.push_str(&self.config.path);
        q.push('?');
        let reserved = |k: &str| {
            matches!(k, "EIO" | "transport" | "sid")
                || (self.config.timestamp_requests && k == self.config.timestamp_param)
        };
        for (k, v) in &self.config.query {
            if reserved(k) {
                continue;
            }
            encode_component(&mut q, k);
            q.push('=');
            encode_component(&mut q, v);
            q.push('&');
        }
        q.push_str("EIO=4&transport=");
        q.push_str(transport.name());
        if let Some(sid) = sid {
            q.push_str("&sid=");
            encode_component(&mut q, sid);
        }
        if self.config.timestamp_requests && transport == TransportKind::Polling {
            q.push('&');
            encode_component(&mut q, &self.config.timestamp_param);
            q.push('=');
            push_base36(&mut q, self.rng.next_u64());
        }
        q
    }

    fn on_http(&mut self, now: Millis, req: RequestId, response: Option<(u16, Bytes)>) {
        let ok_body = |r: Option<(u16, Bytes)>| match r {
            Some((200, body)) => Ok(body),
            Some((status, _)) => Err(Some(status)),
            None => Err(None),
        };
        match &mut self.state {
            Inner::Opening(Opening::Polling(r)) if *r == req => {
                self.state = Inner::Closed;
                let body = match ok_body(response) {
                    Ok(b) => b,
                    Err(status) => {
                        self.events
                            .push_back(Event::OpenFailed(TransportError::Poll { status }));
                        return;
                    }
                };
                let packets = payload::decode(body, &self.config.limits);
                let mut packets = match packets {
                    Ok(p) => p.into_iter(),
                    Err(_) => {
                        self.events
                            .push_back(Event::OpenFailed(TransportError::Handshake));
                        return;
                    }
                };
                let handshake = match packets.next() {
                    Some(Packet::Open(json)) => OpenPacket::from_json(&json).ok(),
                    _ => None,
                };
                let Some(h) = handshake else {
                    self.events
                        .push_back(Event::OpenFailed(TransportError::Handshake));
                    return;
                };
                self.on_open(now, TransportKind::Polling, None, h);
                self.on_poll_packets(now, packets);
            }
            Inner::Open(s) if s.get == Some(req) => {
                s.get = None;
                match ok_body(response) {
                    Ok(body) => match payload::decode(body, &self.config.limits) {
                        Ok(packets) => self.on_poll_packets(now, packets.into_iter()),
                        Err(_) => self.fail(CloseReason::ParseError, None),
                    },
                    Err(status) => self.fail(
                        CloseReason::TransportError,
                        Some(TransportError::Poll { status }),
                    ),
                }
            }
            Inner::Open(s) if s.post == Some(req) => {
                s.post = None;
                match ok_body(response) {
                    Ok(_) => {
                        if !self.try_finish_upgrade() {
                            self.flush();
                        }
                    }
                    Err(status) => self.fail(
                        CloseReason::TransportError,
                        Some(TransportError::Post { status }),
                    ),
                }
            }
            Inner::Closing(s) if s.post == Some(req) => {
                s.post = None;
                if ok_body(response).is_ok() {
                    self.flush_closing();
                } else {
                    self.state = Inner::Closed;
                }
            }
            _ => {}
        }
    }

    /// The packets of a polling response; then the next GET (or the end of the pause).
    fn on_poll_packets(&mut self, now: Millis, packets: impl Iterator<Item = Packet>) {
        for p in packets {
            if !matches!(self.state, Inner::Open(_)) {
                return;
            }
            self.on_packet(now, p);
        }
        if !self.try_finish_upgrade() {
            self.poll();
        }
    }

    /// Issue the next GET if polling, open, not paused, and none is in flight.
    fn poll(&mut self) {
        let Inner::Open(s) = &self.state else { return };
        let paused = s
            .probe
            .as_ref()
            .is_some_and(|p| p.stage == ProbeStage::Pausing);
        if s.transport != TransportKind::Polling || s.get.is_some() || paused {
            return;
        }
        let sid = s.sid.clone();
        let req = self.next_req();
        let path_and_query = self.path_and_query(TransportKind::Polling, Some(&sid));
        self.transmits.push_back(Transmit::Http {
            req,
            method: Method::Get,
            path_and_query,
            body: Bytes::new(),
        });
        if let Inner::Open(s) = &mut self.state {
            s.get = Some(req);
        }
    }

    fn on_open(
        &mut self,
        now: Millis,
        transport: TransportKind,
        ws: Option<WsId>,
        handshake: OpenPacket,
    ) {
        let window = handshake
            .ping_interval
            .saturating_add(handshake.ping_timeout);
        let max_payload = usize::try_from(handshake.max_payload).unwrap_or(usize::MAX);
        let probe = transport == TransportKind::Polling
            && self.config.upgrade
            && self.config.transports.contains(&TransportKind::WebSocket)
            && handshake.upgrades.iter().any(|u| u == "websocket");
        let sid = ByteString::from(handshake.sid.as_str());
        self.state = Inner::Open(Box::new(Session {
            sid: sid.clone(),
            transport,
            max_payload,
            heartbeat_window: window,
            heartbeat: now.saturating_add(window),
            get: None,
            post: None,
            ws,
            buffer: VecDeque::new(),
            probe: None,
        }));
        self.events.push_back(Event::Open {
            handshake,
            transport,
        });
        if probe {
            let ws = self.next_ws();
            let path_and_query = self.path_and_query(TransportKind::WebSocket, Some(&sid));
            self.transmits
                .push_back(Transmit::WsOpen { ws, path_and_query });
            if let Inner::Open(s) = &mut self.state {
                s.probe = Some(Probe {
                    ws,
                    stage: ProbeStage::Opening,
                });
            }
        }
    }

    fn on_packet(&mut self, now: Millis, packet: Packet) {
        let max = self.config.max_buffered_frames;
        let Inner::Open(s) = &mut self.state else {
            return;
        };
        match packet {
            Packet::Message(text) => self.events.push_back(Event::Message(text)),
            Packet::Binary(data) => self.events.push_back(Event::Binary(data)),
            Packet::Ping(_) => {
                s.heartbeat = now.saturating_add(s.heartbeat_window);
                if s.buffer.len() >= max {
                    return self.fail(CloseReason::BufferFull, None);
                }
                s.buffer.push_back(Packet::Pong(ByteString::new()).encode());
                self.events.push_back(Event::Ping);
                self.flush();
            }
            Packet::Close => self.fail(CloseReason::TransportClose, None),
            Packet::Open(_) | Packet::Pong(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Hand buffered frames to the transport, if it can take them.
    fn flush(&mut self) {
        let Inner::Open(s) = &mut self.state else {
            return;
        };
        if s.buffer.is_empty()
            || s.probe
                .as_ref()
                .is_some_and(|p| p.stage == ProbeStage::Pausing)
        {
            return;
        }
        match (s.transport, s.ws) {
            (TransportKind::WebSocket, Some(ws)) => {
                let frames: Vec<Frame> = s.buffer.drain(..).collect();
                self.transmits
                    .extend(frames.into_iter().map(|frame| Transmit::Ws { ws, frame }));
            }
            _ => {
                if s.post.is_some() {
                    return;
                }
                let batch = take_batch(&mut s.buffer, s.max_payload);
                let sid = s.sid.clone();
                self.post(&sid, batch);
            }
        }
    }

    /// Send one POST with `frames`; records it as the POST in flight.
    fn post(&mut self, sid: &str, frames: Vec<Frame>) {
        let req = self.next_req();
        let path_and_query = self.path_and_query(TransportKind::Polling, Some(sid));
        self.transmits.push_back(Transmit::Http {
            req,
            method: Method::Post,
            path_and_query,
            body: payload::encode(&frames),
        });
        if let Inner::Open(s) | Inner::Closing(s) = &mut self.state {
            s.post = Some(req);
        }
    }

    /// While closing over polling: send the next batch; the last one ends with `close`.
    fn flush_closing(&mut self) {
        let Inner::Closing(s) = &mut self.state else {
            return;
        };
        if s.post.is_some() {
            return;
        }
        let mut batch = take_batch(&mut s.buffer, s.max_payload);
        let last = s.buffer.is_empty();
        if last {
            batch.push(Packet::Close.encode());
        }
        let sid = s.sid.clone();
        self.post(&sid, batch);
        if last {
            self.state = Inner::Closed;
        }
    }

    /// Complete the upgrade if the probe answered and polling is idle. Returns whether the
    /// probe is pausing polling (so that the caller does not poll again).
    fn try_finish_upgrade(&mut self) -> bool {
        let Inner::Open(s) = &mut self.state else {
            return false;
        };
        if !s
            .probe
            .as_ref()
            .is_some_and(|p| p.stage == ProbeStage::Pausing)
        {
            return false;
        }
        if s.get.is_some() || s.post.is_some() {
            return true;
        }
        let probe = s.probe.take().expect("checked above");
        s.transport = TransportKind::WebSocket;
        s.ws = Some(probe.ws);
        self.transmits.push_back(Transmit::Ws {
            ws: probe.ws,
            frame: Packet::Upgrade.encode(),
        });
        self.events.push_back(Event::Upgrade);
        self.flush();
        true
    }

    /// The probe failed; `close`: its WebSocket is still open and must be closed.
    fn probe_failed(&mut self, close: bool) {
        let Inner::Open(s) = &mut self.state else {
            return;
        };
        let Some(p) = s.probe.take() else { return };
        if close {
            self.transmits.push_back(Transmit::WsClose { ws: p.ws });
        }
        self.events
            .push_back(Event::UpgradeError(TransportError::Probe));
        if p.stage == ProbeStage::Pausing {
            self.poll();
            self.flush();
        }
    }

    /// The open session ends for `reason`: abandon every request and socket.
    fn fail(&mut self, reason: CloseReason, error: Option<TransportError>) {
        let Inner::Open(s) = std::mem::replace(&mut self.state, Inner::Closed) else {
            return;
        };
        if let Some(p) = s.probe {
            self.transmits.push_back(Transmit::WsClose { ws: p.ws });
        }
        if let Some(ws) = s.ws {
            self.transmits.push_back(Transmit::WsClose { ws });
        }
        if let Some(req) = s.get {
            self.transmits.push_back(Transmit::HttpAbort { req });
        }
        if let Some(req) = s.post {
            self.transmits.push_back(Transmit::HttpAbort { req });
        }
        let polling = s.transport == TransportKind::Polling;
        let tell_server = polling
            && s.post.is_none()
            && matches!(
                reason,
                CloseReason::PingTimeout | CloseReason::ParseError | CloseReason::BufferFull
            );
        if tell_server {
            // As engine.io-client does when it gives up on an open polling transport.
            let req = self.next_req();
            let path_and_query = self.path_and_query(TransportKind::Polling, Some(&s.sid));
            self.transmits.push_back(Transmit::Http {
                req,
                method: Method::Post,
                path_and_query,
                body: payload::encode(&[Packet::Close.encode()]),
            });
        }
        self.events.push_back(Event::Close { reason, error });
    }
}

/// Take the frames of the next POST: at least one, then as many as fit in `max_payload`
/// (0: no limit).
fn take_batch(buffer: &mut VecDeque<Frame>, max_payload: usize) -> Vec<Frame> {
    let mut size = 0usize;
    let mut n = 0usize;
    for f in buffer.iter() {
        let len = payload::encoded_len(std::slice::from_ref(f)) + usize::from(n > 0);
        if n > 0 && max_payload > 0 && size.saturating_add(len) > max_payload {
            break;
        }
        size = size.saturating_add(len);
        n += 1;
    }
    buffer.drain(..n).collect()
}

/// Append `s` percent-encoded as JavaScript's `encodeURIComponent` does.
pub fn encode_component(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

fn push_base36(out: &mut String, mut n: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buf = [0u8; 13];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.extend(buf[i..].iter().map(|&b| char::from(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_POLLING: &str = r#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":40}"#;
    const OPEN_WS: &str =
        r#"0{"sid":"abc","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

    fn config() -> EngineClientConfig {
        EngineClientConfig {
            timestamp_requests: false,
            ..EngineClientConfig::default()
        }
    }

    fn drain(c: &mut EngineClient) -> Vec<Transmit> {
        std::iter::from_fn(|| c.poll_transmit()).collect()
    }

    fn events(c: &mut EngineClient) -> Vec<Event> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    fn http(t: &Transmit) -> (RequestId, Method, &str, &[u8]) {
        match t {
            Transmit::Http {
                req,
                method,
                path_and_query,
                body,
            } => (*req, *method, path_and_query, body),
            other => panic!("not http: {other:?}"),
        }
    }

    fn text(s: &str) -> Frame {
        Frame::Text(ByteString::from(s.to_owned()))
    }

    /// A polling client after the handshake, with its first GET in flight.
    fn open_polling(upgrade: bool) -> (EngineClient, RequestId) {
        let mut c = EngineClient::new(
            EngineClientConfig {
                upgrade,
                ..config()
            },
            [1; 32],
        );
        c.open(0);
        let t = drain(&mut c);
        let (req, method, q, _) = http(&t[0]);
        assert_eq!(method, Method::Get);
        assert_eq!(q, "/engine.io/?EIO=4&transport=polling");
        c.handle_http_response(1, req, 200, Bytes::from_static(OPEN_POLLING.as_bytes()));
        let e = events(&mut c);
        assert!(
            matches!(&e[0], Event::Open { handshake, transport: TransportKind::Polling } if handshake.sid == "abc")
        );
        let t = drain(&mut c);
        let get = t
            .iter()
            .find_map(|t| match t {
                Transmit::Http {
                    req,
                    method: Method::Get,
                    path_and_query,
                    ..
                } => {
                    assert_eq!(
                        path_and_query,
                        "/engine.io/?EIO=4&transport=polling&sid=abc"
                    );
                    Some(*req)
                }
                _ => None,
            })
            .expect("a GET follows the handshake");
        assert_eq!(
            t.iter().any(|t| matches!(t, Transmit::WsOpen { .. })),
            upgrade
        );
        (c, get)
    }

    #[test]
    fn query_string_has_user_params_first_and_is_encoded() {
        let mut c = EngineClient::new(
            EngineClientConfig {
                query: vec![
                    ("token".into(), "a b&c=é".into()),
                    ("EIO".into(), "3".into()),
                ],
                path: "/socket.io/".into(),
                ..EngineClientConfig::default()
            },
            [0; 32],
        );
        c.open(0);
        let t = drain(&mut c);
        let (_, _, q, _) = http(&t[0]);
        assert!(
            q.starts_with("/socket.io/?token=a%20b%26c%3D%C3%A9&EIO=4&transport=polling&t="),
            "{q}"
        );
        let t = q.rsplit('=').next().unwrap();
        assert!(!t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn polling_loop_one_get_one_post_batched_by_max_payload() {
        let (mut c, get) = open_polling(false);
        // maxPayload is 40: three 15-byte frames need two POSTs after the first one.
        c.send(2, [text("4aaaaaaaaaaaaaa")]).unwrap();
        let t = drain(&mut c);
        assert_eq!(t.len(), 1);
        let (post1, m, _, body) = http(&t[0]);
        assert_eq!((m, body), (Method::Post, &b"4aaaaaaaaaaaaaa"[..]));
        assert!(!c.is_writable());
        c.send(3, [text("4bbbbbbbbbbbbbb"), text("4cccccccccccccc")])
            .unwrap();
        c.send(3, [text("4dddddddddddddd")]).unwrap();
        assert!(drain(&mut c).is_empty(), "one POST in flight");
        c.handle_http_response(4, post1, 200, Bytes::from_static(b"ok"));
        let t = drain(&mut c);
        let (post2, _, _, body) = http(&t[0]);
        assert_eq!(body, b"4bbbbbbbbbbbbbb\x1e4cccccccccccccc");
        c.handle_http_response(5, post2, 200, Bytes::from_static(b"ok"));
        let t = drain(&mut c);
        let (post3, _, _, body) = http(&t[0]);
        assert_eq!(body, b"4dddddddddddddd");
        c.handle_http_response(6, post3, 200, Bytes::from_static(b"ok"));
        assert!(drain(&mut c).is_empty());
        assert!(c.is_writable());
        // The GET returns a message, a binary message and a ping: pong, then a new GET.
        c.handle_http_response(7, get, 200, Bytes::from_static(b"4hello\x1ebAQID\x1e2"));
        assert_eq!(
            events(&mut c),
            vec![
                Event::Message(ByteString::from_static("hello")),
                Event::Binary(Bytes::from_static(&[1, 2, 3])),
                Event::Ping
            ]
        );
        let t = drain(&mut c);
        assert_eq!(t.len(), 2);
        assert_eq!(http(&t[0]).3, b"3");
        assert_eq!(http(&t[1]).1, Method::Get);
    }

    #[test]
    fn heartbeat_watchdog() {
        let (mut c, get) = open_polling(false);
        assert_eq!(c.poll_timeout(), Some(501));
        c.handle_http_response(300, get, 200, Bytes::from_static(b"2"));
        assert_eq!(c.poll_timeout(), Some(800));
        c.handle_timeout(799);
        assert_eq!(c.state(), State::Open);
        assert!(!c.ping_expired(799));
        assert!(c.ping_expired(800));
        c.handle_timeout(800);
        assert_eq!(c.state(), State::Closed);
        assert!(events(&mut c).contains(&Event::Close {
            reason: CloseReason::PingTimeout,
            error: None
        }));
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn errors_and_bad_bytes_close_the_session() {
        let (mut c, get) = open_polling(false);
        c.handle_http_response(1, get, 400, Bytes::from_static(b"{}"));
        assert!(events(&mut c).contains(&Event::Close {
            reason: CloseReason::TransportError,
            error: Some(TransportError::Poll { status: Some(400) })
        }));

        let (mut c, get) = open_polling(false);
        c.handle_http_response(1, get, 200, Bytes::from_static(b"4ok\x1e9"));
        // A payload decodes whole or not at all.
        assert_eq!(
            events(&mut c),
            vec![Event::Close {
                reason: CloseReason::ParseError,
                error: None
            }]
        );
        // The server is told, with a POST of `close`.
        assert!(drain(&mut c).iter().any(
            |t| matches!(t, Transmit::Http { method: Method::Post, body, .. } if &body[..] == b"1")
        ));

        let (mut c, get) = open_polling(false);
        c.handle_http_response(1, get, 200, Bytes::from_static(b"1"));
        assert!(events(&mut c).contains(&Event::Close {
            reason: CloseReason::TransportClose,
            error: None
        }));
        // Stale responses are ignored.
        c.handle_http_response(2, get, 200, Bytes::from_static(b"4late"));
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn failed_handshakes() {
        for (status, body, expected) in [
            (
                400,
                &br#"{"code":5}"#[..],
                TransportError::Poll { status: Some(400) },
            ),
            (200, b"4hello", TransportError::Handshake),
            (200, b"0{\"sid\":1}", TransportError::Handshake),
            (200, b"\xff", TransportError::Handshake),
        ] {
            let mut c = EngineClient::new(config(), [0; 32]);
            c.open(0);
            let (req, ..) = http(&drain(&mut c)[0]);
            c.handle_http_response(1, req, status, Bytes::from_static(body));
            assert_eq!(events(&mut c), vec![Event::OpenFailed(expected)]);
            assert_eq!(c.state(), State::Closed);
        }
        let mut c = EngineClient::new(config(), [0; 32]);
        c.open(0);
        let (req, ..) = http(&drain(&mut c)[0]);
        c.handle_http_error(1, req);
        assert_eq!(
            events(&mut c),
            vec![Event::OpenFailed(TransportError::Poll { status: None })]
        );
    }

    #[test]
    fn websocket_handshake_and_messages() {
        let mut c = EngineClient::new(
            EngineClientConfig {
                transports: vec![TransportKind::WebSocket],
                ..config()
            },
            [0; 32],
        );
        c.open(0);
        let t = drain(&mut c);
        let Transmit::WsOpen { ws, path_and_query } = &t[0] else {
            panic!()
        };
        assert_eq!(path_and_query, "/engine.io/?EIO=4&transport=websocket");
        let ws = *ws;
        c.handle_ws_opened(1, ws);
        c.handle_ws_message(2, ws, text(OPEN_WS));
        assert!(matches!(
            events(&mut c)[0],
            Event::Open {
                transport: TransportKind::WebSocket,
                ..
            }
        ));
        c.send(3, [text("4hi"), Frame::Binary(Bytes::from_static(b"x"))])
            .unwrap();
        assert_eq!(
            drain(&mut c),
            vec![
                Transmit::Ws {
                    ws,
                    frame: text("4hi")
                },
                Transmit::Ws {
                    ws,
                    frame: Frame::Binary(Bytes::from_static(b"x"))
                }
            ]
        );
        c.handle_ws_message(4, ws, text("2"));
        assert_eq!(
            drain(&mut c),
            vec![Transmit::Ws {
                ws,
                frame: text("3")
            }]
        );
        c.handle_ws_message(5, ws, Frame::Binary(Bytes::from_static(b"bin")));
        assert_eq!(
            events(&mut c),
            vec![Event::Ping, Event::Binary(Bytes::from_static(b"bin"))]
        );
        c.close(6);
        assert_eq!(drain(&mut c), vec![Transmit::WsClose { ws }]);
        assert_eq!(c.state(), State::Closed);
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn upgrade_pauses_polling_then_switches() {
        let (mut c, get) = open_polling(true);
        let ws = WsId(0);
        c.handle_ws_opened(2, ws);
        assert_eq!(
            drain(&mut c),
            vec![Transmit::Ws {
                ws,
                frame: text("2probe")
            }]
        );
        c.send(3, [text("4one")]).unwrap();
        let (post, ..) = http(&drain(&mut c)[0]);
        c.handle_ws_message(4, ws, text("3probe"));
        assert!(c.is_upgrading());
        assert!(!c.is_writable());
        c.send(5, [text("4two")]).unwrap();
        assert!(drain(&mut c).is_empty(), "paused: nothing sent");
        // The server ends the GET with a noop; the POST is still in flight.
        c.handle_http_response(6, get, 200, Bytes::from_static(b"6"));
        assert!(drain(&mut c).is_empty(), "no new GET while pausing");
        c.handle_http_response(7, post, 200, Bytes::from_static(b"ok"));
        assert_eq!(
            drain(&mut c),
            vec![
                Transmit::Ws {
                    ws,
                    frame: text("5")
                },
                Transmit::Ws {
                    ws,
                    frame: text("4two")
                }
            ]
        );
        assert_eq!(events(&mut c), vec![Event::Upgrade]);
        assert_eq!(c.transport(), Some(TransportKind::WebSocket));
        assert!(c.is_writable());
        c.handle_ws_message(8, ws, text("4over ws"));
        assert_eq!(
            events(&mut c),
            vec![Event::Message(ByteString::from_static("over ws"))]
        );
    }

    #[test]
    fn failed_probe_resumes_polling() {
        let (mut c, get) = open_polling(true);
        let ws = WsId(0);
        c.handle_ws_opened(2, ws);
        drain(&mut c);
        c.handle_ws_message(3, ws, text("3probe"));
        c.handle_http_response(4, get, 200, Bytes::from_static(b"6"));
        // Paused, GET returned: the upgrade completes at once.
        assert_eq!(events(&mut c), vec![Event::Upgrade]);

        let (mut c, _get) = open_polling(true);
        c.handle_ws_opened(2, ws);
        drain(&mut c);
        c.handle_ws_message(3, ws, text("3nope"));
        assert_eq!(
            events(&mut c),
            vec![Event::UpgradeError(TransportError::Probe)]
        );
        assert_eq!(drain(&mut c), vec![Transmit::WsClose { ws }]);
        assert_eq!(c.transport(), Some(TransportKind::Polling));

        let (mut c, get) = open_polling(true);
        c.handle_ws_opened(2, ws);
        drain(&mut c);
        c.handle_ws_message(3, ws, text("3probe"));
        c.handle_ws_closed(4, ws, true);
        assert!(
            drain(&mut c).is_empty(),
            "no close for a closed socket, no GET while one is in flight"
        );
        // Resumed: a GET is still in flight, so none is added; when it returns, another.
        c.handle_http_response(5, get, 200, Bytes::from_static(b"6"));
        let t = drain(&mut c);
        assert_eq!(http(&t[0]).1, Method::Get);
    }

    #[test]
    fn graceful_close_over_polling_waits_for_the_post_in_flight() {
        let (mut c, _get) = open_polling(false);
        c.send(1, [text("4a")]).unwrap();
        let (post, ..) = http(&drain(&mut c)[0]);
        c.send(2, [text("41")]).unwrap();
        c.close(3);
        assert_eq!(c.state(), State::Closing);
        assert!(drain(&mut c).is_empty());
        assert_eq!(c.send(3, [text("4x")]), Err(SendError::NotOpen));
        c.handle_http_response(4, post, 200, Bytes::from_static(b"ok"));
        let t = drain(&mut c);
        assert_eq!(http(&t[0]).3, b"41\x1e1");
        assert_eq!(c.state(), State::Closed);
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn write_buffer_is_bounded() {
        let mut c = EngineClient::new(
            EngineClientConfig {
                upgrade: false,
                max_buffered_frames: 3,
                ..config()
            },
            [0; 32],
        );
        c.open(0);
        let (req, ..) = http(&drain(&mut c)[0]);
        c.handle_http_response(1, req, 200, Bytes::from_static(OPEN_POLLING.as_bytes()));
        drain(&mut c);
        c.send(2, [text("4a")]).unwrap(); // leaves in a POST
        c.send(2, [text("4b"), text("4c")]).unwrap();
        assert_eq!(c.buffer_room(), 1);
        assert_eq!(
            c.send(2, [text("4d"), text("4e")]),
            Err(SendError::BufferFull)
        );
        assert_eq!(c.buffered_frames(), 2);
    }

    #[test]
    fn base36_and_encoding() {
        let mut s = String::new();
        push_base36(&mut s, 0);
        push_base36(&mut s, 35);
        push_base36(&mut s, u64::MAX);
        assert_eq!(s, "0z3w5e11264sgsf");
        let mut s = String::new();
        encode_component(&mut s, "aZ09-_.!~*'() /?");
        assert_eq!(s, "aZ09-_.!~*'()%20%2F%3F");
    }
}
