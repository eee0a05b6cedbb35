//! The Engine.IO v4 server: sessions over HTTP long-polling and WebSocket, the heartbeat and
//! the probe upgrade, without any IO.
//!
//! The runtime hands every HTTP request of the Engine.IO path and every WebSocket event to
//! [`EngineServer`], then drains [`EngineServer::poll_transmit`] (what to write),
//! [`EngineServer::poll_event`] (what happened) and [`EngineServer::poll_timeout`] (when to
//! call [`EngineServer::handle_timeout`]). Used alone it is a plain engine.io server; the
//! Socket.IO [`Server`](crate::server::Server) is built on it.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use bytestring::ByteString;

use super::handshake::{ErrorCode, OpenPacket};
use super::packet::{DecodeError, Frame, Packet};
use super::payload;
use crate::id::IdGenerator;
use crate::id_map::IdMap;
use crate::limits::Limits;
use crate::timers::{Millis, Timers};

/// Settings of the Engine.IO server. The defaults are Node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Milliseconds between pings (Node: 25 000).
    pub ping_interval: Millis,
    /// Milliseconds to wait for a pong (Node: 20 000).
    pub ping_timeout: Millis,
    /// Milliseconds a WebSocket probe may take to complete the upgrade (Node: 10 000).
    pub upgrade_timeout: Millis,
    /// Decoder limits; `max_payload` is announced to clients as `maxPayload`.
    pub limits: Limits,
    /// Accept the HTTP long-polling transport.
    pub allow_polling: bool,
    /// Accept the WebSocket transport.
    pub allow_websocket: bool,
    /// Offer and accept upgrades from polling to WebSocket.
    pub allow_upgrades: bool,
    /// Most frames a polling session may hold for its next GET; more closes the session with
    /// [`CloseReason::BufferFull`].
    pub max_buffered_frames: usize,
    /// Seed of the id generator. Take it from the OS in production.
    pub seed: [u8; 32],
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: 25_000,
            ping_timeout: 20_000,
            upgrade_timeout: 10_000,
            limits: Limits::DEFAULT,
            allow_polling: true,
            allow_websocket: true,
            allow_upgrades: true,
            max_buffered_frames: 10_000,
            seed: [0; 32],
        }
    }
}

/// An HTTP request, chosen by the runtime, unique among requests in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// A WebSocket connection, chosen by the runtime, unique among open connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WsId(pub u64);

/// An Engine.IO session of this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// The HTTP method of a polling request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET: receive.
    Get,
    /// POST: send.
    Post,
    /// Anything else (answered with an error).
    Other,
}

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn name(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }
}

/// Why a session closed. [`CloseReason::as_str`] gives Node's reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The transport failed (aborted request, overlapping polls, WebSocket error).
    TransportError,
    /// The client closed the transport or sent a `close` packet.
    TransportClose,
    /// The server closed the session.
    ForcedClose,
    /// No pong within `pingTimeout`.
    PingTimeout,
    /// The client sent something that does not decode.
    ParseError,
    /// The server is shutting down.
    ServerShutdown,
    /// The session's outgoing buffer overflowed.
    BufferFull,
    /// The client sent more than `maxPayload` in one message or body.
    PayloadTooLarge,
}

impl CloseReason {
    /// Node's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportError => "transport error",
            Self::TransportClose => "transport close",
            Self::ForcedClose => "forced close",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ServerShutdown => "server shutting down",
            Self::BufferFull => "transport buffer full",
            Self::PayloadTooLarge => "payload too large",
        }
    }
}

/// An HTTP response for a polling request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    fn payload(body: Bytes) -> Self {
        HttpResponse {
            status: 200,
            content_type: "text/plain; charset=UTF-8",
            body,
        }
    }

    fn ok() -> Self {
        HttpResponse {
            status: 200,
            content_type: "text/html",
            body: Bytes::from_static(b"ok"),
        }
    }

    /// The error response Node sends for `code`.
    pub fn error(code: ErrorCode) -> Self {
        HttpResponse {
            status: code.http_status(),
            content_type: "application/json",
            body: Bytes::from(code.body()),
        }
    }

    fn too_large() -> Self {
        HttpResponse {
            status: 413,
            content_type: "text/plain",
            body: Bytes::from_static(b"Payload Too Large"),
        }
    }
}

/// Something for the runtime to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Answer an HTTP request (possibly one parked earlier).
    Http {
        /// The request.
        req: RequestId,
        /// The response.
        response: HttpResponse,
    },
    /// Send one message on a WebSocket.
    Ws {
        /// The connection.
        ws: WsId,
        /// The message.
        frame: Frame,
    },
    /// Close a WebSocket (after writing what was queued before).
    WsClose {
        /// The connection.
        ws: WsId,
    },
}

/// What happened to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    /// A session opened.
    Open {
        /// The session.
        session: SessionId,
        /// Its public id.
        sid: ByteString,
        /// The transport of the handshake.
        transport: TransportKind,
    },
    /// A text message arrived.
    Message {
        /// The session.
        session: SessionId,
        /// The text.
        text: ByteString,
    },
    /// A binary message arrived.
    Binary {
        /// The session.
        session: SessionId,
        /// The data.
        data: Bytes,
    },
    /// The session completed its upgrade to WebSocket.
    Upgraded {
        /// The session.
        session: SessionId,
    },
    /// The session closed; its id is no longer valid.
    Close {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
}

/// Misuse of the API (not a peer's fault).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// The session does not exist (any more).
    UnknownSession(SessionId),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownSession(s) => write!(f, "unknown engine.io session {}", s.0),
        }
    }
}

impl std::error::Error for EngineError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Send the next ping.
    Ping,
    /// The pong did not arrive.
    PongTimeout,
    /// The upgrade probe did not complete.
    Upgrade,
}

#[derive(Debug)]
struct Probe {
    ws: WsId,
    probed: bool,
    deadline: Millis,
}

#[derive(Debug)]
struct Session {
    sid: ByteString,
    transport: TransportKind,
    /// The WebSocket, once the session uses one.
    ws: Option<WsId>,
    /// The parked polling GET.
    parked: Option<RequestId>,
    /// Frames waiting for the next polling GET.
    queue: VecDeque<Frame>,
    probe: Option<Probe>,
    /// The heartbeat timer: next ping, or pong deadline.
    heartbeat: (Millis, TimerKind),
    /// Closed for the application; kept only to hand its last frames to the next GET.
    closing: bool,
    /// Closed by the client's `close` while no GET was parked: the next GET (sent before the
    /// client's `close` arrived, or at the same time) gets a `noop`, as a parked one would.
    closed_by_client: bool,
    /// Pings written so far.
    pings: u64,
    /// The pings answered: every frame written before ping number `confirmed` has reached
    /// the client (a transport keeps frames in order, and the pong came after them).
    confirmed: u64,
}

impl Session {
    /// Whether a frame written now goes out now (a polling session needs a parked GET, and
    /// no upgrade in progress).
    fn is_writable(&self) -> bool {
        match self.transport {
            TransportKind::WebSocket => true,
            TransportKind::Polling => self.parked.is_some() && self.probe.is_none(),
        }
    }
}

/// The Engine.IO server state machine. See the [module docs](self).
#[derive(Debug)]
pub struct EngineServer {
    config: EngineConfig,
    ids: IdGenerator,
    next_session: u64,
    sessions: IdMap<SessionId, Box<Session>>,
    by_sid: BTreeMap<ByteString, SessionId>,
    by_ws: IdMap<WsId, SessionId>,
    by_req: IdMap<RequestId, SessionId>,
    timers: Timers<(SessionId, TimerKind)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<EngineEvent>,
    /// Report answered pings through [`EngineServer::pop_confirmed`].
    track_confirmations: bool,
    /// Sessions whose latest ping was answered, in order, when tracked.
    confirmations: VecDeque<SessionId>,
}

/// The parts of the query string Engine.IO reads.
#[derive(Debug, Default)]
struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Self {
        let mut q = Query::default();
        let query = query.trim_start_matches('?');
        let b = query.as_bytes();
        let mut start = 0;
        // One pass over the bytes (cheaper than `split` and `split_once` for these short
        // strings); every cut is at an ASCII `&` or `=`, so at a char boundary.
        while start <= b.len() {
            let end = b[start..]
                .iter()
                .position(|&c| c == b'&')
                .map_or(b.len(), |i| start + i);
            let pair = &query[start..end];
            start = end + 1;
            let (k, v) = match pair.as_bytes().iter().position(|&c| c == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, ""),
            };
            match k {
                "EIO" if q.eio.is_none() => q.eio = Some(v),
                "transport" if q.transport.is_none() => q.transport = Some(v),
                "sid" if q.sid.is_none() => q.sid = Some(v),
                _ => {}
            }
        }
        q
    }
}

impl EngineServer {
    /// A server with `config`.
    pub fn new(config: EngineConfig) -> Self {
        EngineServer {
            ids: IdGenerator::new(config.seed),
            config,
            next_session: 0,
            sessions: IdMap::default(),
            by_sid: BTreeMap::new(),
            by_ws: IdMap::default(),
            by_req: IdMap::default(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            track_confirmations: false,
            confirmations: VecDeque::new(),
        }
    }

    /// Keep a list of the sessions whose ping was answered, for
    /// [`pop_confirmed`](Self::pop_confirmed) (the Socket.IO layer uses it to forget what a
    /// client has certainly received).
    pub(crate) fn track_confirmations(&mut self) {
        self.track_confirmations = true;
    }

    /// The next session whose latest ping was answered (see
    /// [`track_confirmations`](Self::track_confirmations)).
    pub(crate) fn pop_confirmed(&mut self) -> Option<SessionId> {
        self.confirmations.pop_front()
    }

    /// How many pings were written to a session so far, and how many of them were answered:
    /// a frame written while `pings` was `n` has reached the client once `confirmed > n`.
    pub(crate) fn heartbeat_counts(&self, session: SessionId) -> Option<(u64, u64)> {
        self.sessions.get(&session).map(|s| (s.pings, s.confirmed))
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.values().filter(|s| !s.closing).count()
    }

    /// The public id of a session.
    pub fn sid(&self, session: SessionId) -> Option<&ByteString> {
        self.sessions.get(&session).map(|s| &s.sid)
    }

    /// The transport a session uses now.
    pub fn transport(&self, session: SessionId) -> Option<TransportKind> {
        self.sessions.get(&session).map(|s| s.transport)
    }

    /// The id generator, shared with the layer above so that all ids come from one seed.
    pub fn ids_mut(&mut self) -> &mut IdGenerator {
        &mut self.ids
    }

    /// The next thing to write.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.timers.next()
    }

    fn validate(&self, q: &Query<'_>) -> Result<TransportKind, ErrorCode> {
        if q.eio != Some("4") {
            return Err(ErrorCode::UnsupportedProtocolVersion);
        }
        match q.transport {
            Some("polling") if self.config.allow_polling => Ok(TransportKind::Polling),
            Some("websocket") if self.config.allow_websocket => Ok(TransportKind::WebSocket),
            _ => Err(ErrorCode::UnknownTransport),
        }
    }

    /// An HTTP request on the Engine.IO path, with its raw query string and its whole body.
    ///
    /// The answer comes out of [`poll_transmit`](Self::poll_transmit), at once or, for a GET
    /// with nothing to send, later (the GET is parked).
    pub fn handle_http(
        &mut self,
        now: Millis,
        req: RequestId,
        method: Method,
        query: &str,
        body: Bytes,
    ) {
        let q = Query::parse(query);
        let transport = match self.validate(&q) {
            Ok(t) => t,
            Err(code) => return self.respond(req, HttpResponse::error(code)),
        };
        if transport != TransportKind::Polling {
            // A WebSocket transport on a plain HTTP request.
            return self.respond(req, HttpResponse::error(ErrorCode::BadRequest));
        }
        let Some(sid) = q.sid else {
            if method != Method::Get {
                return self.respond(req, HttpResponse::error(ErrorCode::BadHandshakeMethod));
            }
            let (_, open) = self.open_session(now, TransportKind::Polling, None);
            return self.respond(req, HttpResponse::payload(open.into_bytes()));
        };
        let Some(&id) = self.by_sid.get(sid) else {
            return self.respond(req, HttpResponse::error(ErrorCode::UnknownSid));
        };
        let session = self.sessions.get_mut(&id).expect("indexed session exists");
        if session.transport != TransportKind::Polling {
            return self.respond(req, HttpResponse::error(ErrorCode::BadRequest));
        }
        match method {
            Method::Get => self.on_poll(now, id, req),
            Method::Post => self.on_post(now, id, req, body),
            Method::Other => self.respond(req, HttpResponse::error(ErrorCode::BadRequest)),
        }
    }

    /// The client went away before a request was answered (only parked GETs matter).
    pub fn handle_http_aborted(&mut self, now: Millis, req: RequestId) {
        if let Some(id) = self.by_req.remove(&req) {
            if let Some(s) = self.sessions.get_mut(&id) {
                s.parked = None;
            }
            self.close(now, id, CloseReason::TransportError);
        }
    }

    fn on_poll(&mut self, now: Millis, id: SessionId, req: RequestId) {
        let session = self.sessions.get_mut(&id).expect("session exists");
        if let Some(parked) = session.parked {
            // Overlapping polls: the second is refused, the first gets `close`, the session ends.
            self.respond(req, HttpResponse::error(ErrorCode::BadRequest));
            self.by_req.remove(&parked);
            let session = self.sessions.get_mut(&id).expect("session exists");
            session.parked = None;
            session.queue.clear();
            self.respond(parked, close_payload());
            return self.close(now, id, CloseReason::TransportError);
        }
        if session.closing && session.closed_by_client {
            // The client closed it: answer the poll it had sent, as if it had been parked.
            self.respond(req, noop_payload());
            return self.remove(id);
        }
        if session.closing {
            // The session ended while frames were waiting: hand them over with `close`.
            session.queue.push_back(Packet::Close.encode());
            let body = payload::encode(session.queue.make_contiguous());
            self.respond(req, HttpResponse::payload(body));
            return self.remove(id);
        }
        if session.probe.as_ref().is_some_and(|p| p.probed) {
            // Upgrading: end this poll at once so that the client can complete the upgrade.
            return self.respond(req, noop_payload());
        }
        session.parked = Some(req);
        self.by_req.insert(req, id);
        self.flush_polling(id);
    }

    fn on_post(&mut self, now: Millis, id: SessionId, req: RequestId, body: Bytes) {
        if body.len() > self.config.limits.max_payload {
            self.respond(req, HttpResponse::too_large());
            return self.close(now, id, CloseReason::PayloadTooLarge);
        }
        if self.sessions[&id].closing {
            return self.respond(req, HttpResponse::error(ErrorCode::BadRequest));
        }
        match payload::decode(body, &self.config.limits) {
            Ok(packets) => {
                self.respond(req, HttpResponse::ok());
                for p in packets {
                    if !self.is_open(id) {
                        break;
                    }
                    self.on_packet(now, id, p);
                }
            }
            Err(_) => {
                self.respond(req, HttpResponse::error(ErrorCode::BadRequest));
                self.close(now, id, CloseReason::ParseError);
            }
        }
    }

    /// A WebSocket upgrade request on the Engine.IO path, with its raw query string.
    ///
    /// On `Err`, answer the upgrade request with [`HttpResponse::error`] instead of switching
    /// protocols. On `Ok`, complete the upgrade; frames for `ws` may already be queued.
    pub fn handle_ws_open(&mut self, now: Millis, ws: WsId, query: &str) -> Result<(), ErrorCode> {
        let q = Query::parse(query);
        if self.validate(&q)? != TransportKind::WebSocket {
            return Err(ErrorCode::BadRequest);
        }
        let Some(sid) = q.sid else {
            self.open_session(now, TransportKind::WebSocket, Some(ws));
            return Ok(());
        };
        let &id = self.by_sid.get(sid).ok_or(ErrorCode::UnknownSid)?;
        let session = self.sessions.get_mut(&id).expect("indexed session exists");
        if !self.config.allow_upgrades
            || session.closing
            || session.transport != TransportKind::Polling
            || session.probe.is_some()
        {
            // Node accepts the WebSocket and closes it at once ("transport has already been
            // upgraded"); the session goes on undisturbed.
            self.transmits.push_back(Transmit::WsClose { ws });
            return Ok(());
        }
        let deadline = now + self.config.upgrade_timeout;
        session.probe = Some(Probe {
            ws,
            probed: false,
            deadline,
        });
        self.by_ws.insert(ws, id);
        self.timers.insert(deadline, (id, TimerKind::Upgrade));
        Ok(())
    }

    /// A message arrived on a WebSocket.
    pub fn handle_ws_message(&mut self, now: Millis, ws: WsId, frame: Frame) {
        let Some(&id) = self.by_ws.get(&ws) else {
            return;
        };
        let packet = frame.decode(&self.config.limits);
        let session = self.sessions.get_mut(&id).expect("indexed session exists");
        if session.ws != Some(ws) {
            // The probe of an upgrade.
            return self.on_probe_packet(now, id, ws, packet);
        }
        match packet {
            Ok(p) => self.on_packet(now, id, p),
            Err(DecodeError::TooLarge { .. }) => self.close(now, id, CloseReason::PayloadTooLarge),
            Err(_) => self.close(now, id, CloseReason::ParseError),
        }
    }

    /// A WebSocket closed (`error`: it failed rather than closed cleanly).
    pub fn handle_ws_closed(&mut self, now: Millis, ws: WsId, error: bool) {
        let Some(id) = self.by_ws.remove(&ws) else {
            return;
        };
        let session = self.sessions.get_mut(&id).expect("indexed session exists");
        if session.ws == Some(ws) {
            session.ws = None;
            let reason = if error {
                CloseReason::TransportError
            } else {
                CloseReason::TransportClose
            };
            self.close(now, id, reason);
        } else if let Some(p) = session.probe.take() {
            self.timers.remove(p.deadline, (id, TimerKind::Upgrade));
        }
    }

    fn on_probe_packet(
        &mut self,
        _now: Millis,
        id: SessionId,
        ws: WsId,
        packet: Result<Packet, DecodeError>,
    ) {
        let session = self.sessions.get_mut(&id).expect("session exists");
        let probed = session.probe.as_ref().is_some_and(|p| p.probed);
        match packet {
            Ok(Packet::Ping(data)) if &*data == "probe" => {
                if let Some(p) = session.probe.as_mut() {
                    p.probed = true;
                }
                self.transmits.push_back(Transmit::Ws {
                    ws,
                    frame: Packet::Pong(data).encode(),
                });
                // End the parked poll so the client can pause polling and complete the upgrade.
                if let Some(req) = session.parked.take() {
                    self.by_req.remove(&req);
                    self.respond(req, noop_payload());
                }
            }
            Ok(Packet::Upgrade) if probed => {
                let probe = session.probe.take().expect("probed");
                self.timers.remove(probe.deadline, (id, TimerKind::Upgrade));
                session.transport = TransportKind::WebSocket;
                session.ws = Some(ws);
                let parked = session.parked.take();
                let queued: Vec<Frame> = session.queue.drain(..).collect();
                if let Some(req) = parked {
                    self.by_req.remove(&req);
                    self.respond(req, noop_payload());
                }
                self.transmits
                    .extend(queued.into_iter().map(|frame| Transmit::Ws { ws, frame }));
                self.events.push_back(EngineEvent::Upgraded { session: id });
            }
            _ => {
                // Anything else aborts the upgrade; the session goes on over polling.
                if let Some(p) = session.probe.take() {
                    self.timers.remove(p.deadline, (id, TimerKind::Upgrade));
                }
                self.by_ws.remove(&ws);
                self.transmits.push_back(Transmit::WsClose { ws });
            }
        }
    }

    fn on_packet(&mut self, now: Millis, id: SessionId, packet: Packet) {
        match packet {
            Packet::Message(text) => self
                .events
                .push_back(EngineEvent::Message { session: id, text }),
            Packet::Binary(data) => self
                .events
                .push_back(EngineEvent::Binary { session: id, data }),
            Packet::Pong(_) => {
                let session = self.sessions.get_mut(&id).expect("session exists");
                if session.heartbeat.1 == TimerKind::PongTimeout {
                    let next = (now + self.config.ping_interval, TimerKind::Ping);
                    self.timers
                        .remove(session.heartbeat.0, (id, session.heartbeat.1));
                    self.timers.insert(next.0, (id, next.1));
                    session.heartbeat = next;
                    session.confirmed = session.pings;
                    if self.track_confirmations {
                        self.confirmations.push_back(id);
                    }
                }
            }
            Packet::Ping(data) => {
                // v4 clients do not ping; answer anyway, as Node does.
                self.write(now, id, [Packet::Pong(data).encode()], false);
            }
            Packet::Close => {
                let session = self.sessions.get_mut(&id).expect("session exists");
                if let Some(req) = session.parked.take() {
                    self.by_req.remove(&req);
                    self.respond(req, noop_payload());
                } else if session.transport == TransportKind::Polling {
                    // The client's GET may be on its way (a client polls while it posts, and
                    // the two requests can arrive in either order): it gets the `noop` too.
                    session.closed_by_client = true;
                }
                self.close(now, id, CloseReason::TransportClose);
            }
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    /// Handle every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        while let Some((_, (id, kind))) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Ping => {
                    let Some(session) = self.sessions.get_mut(&id) else {
                        continue;
                    };
                    let deadline = now + self.config.ping_timeout;
                    session.heartbeat = (deadline, TimerKind::PongTimeout);
                    session.pings += 1;
                    self.timers.insert(deadline, (id, TimerKind::PongTimeout));
                    self.write(now, id, [Packet::Ping(ByteString::new()).encode()], false);
                }
                TimerKind::PongTimeout => {
                    if let Some(s) = self.sessions.get(&id) {
                        if s.closing {
                            self.remove(id);
                        } else {
                            self.close(now, id, CloseReason::PingTimeout);
                        }
                    }
                }
                TimerKind::Upgrade => {
                    if let Some(probe) = self.sessions.get_mut(&id).and_then(|s| s.probe.take()) {
                        self.by_ws.remove(&probe.ws);
                        self.transmits.push_back(Transmit::WsClose { ws: probe.ws });
                    }
                }
            }
        }
    }

    /// Send frames to a session. A `volatile` send is dropped (returning `Ok(false)`) when the
    /// transport cannot take it at once: a polling session without a parked GET, or one in
    /// the middle of an upgrade.
    pub fn send(
        &mut self,
        now: Millis,
        session: SessionId,
        frames: impl IntoIterator<Item = Frame>,
        volatile: bool,
    ) -> Result<bool, EngineError> {
        self.write(now, session, frames, volatile)
            .ok_or(EngineError::UnknownSession(session))
    }

    /// Whether a volatile send to `session` would be delivered now.
    pub fn is_writable(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| !s.closing && s.is_writable())
    }

    fn is_open(&self, session: SessionId) -> bool {
        self.sessions.get(&session).is_some_and(|s| !s.closing)
    }

    /// Write `frames` to an open session (`None`: none is open with that id); whether they
    /// were written (a volatile write to a session that cannot take them now is dropped).
    /// One lookup of the session: every recipient of a broadcast comes here.
    fn write(
        &mut self,
        now: Millis,
        id: SessionId,
        frames: impl IntoIterator<Item = Frame>,
        volatile: bool,
    ) -> Option<bool> {
        let session = self.sessions.get_mut(&id).filter(|s| !s.closing)?;
        if volatile && !session.is_writable() {
            return Some(false);
        }
        match session.transport {
            TransportKind::WebSocket => {
                let ws = session.ws.expect("websocket session has a socket");
                self.transmits
                    .extend(frames.into_iter().map(|frame| Transmit::Ws { ws, frame }));
            }
            TransportKind::Polling => {
                session.queue.extend(frames);
                if session.queue.len() > self.config.max_buffered_frames {
                    session.queue.clear();
                    self.close(now, id, CloseReason::BufferFull);
                    return Some(false);
                }
                self.flush_polling(id);
            }
        }
        Some(true)
    }

    fn flush_polling(&mut self, id: SessionId) {
        let session = self.sessions.get_mut(&id).expect("session exists");
        if session.queue.is_empty() {
            return;
        }
        let Some(req) = session.parked.take() else {
            return;
        };
        self.by_req.remove(&req);
        let body = payload::encode(session.queue.make_contiguous());
        session.queue.clear();
        self.respond(req, HttpResponse::payload(body));
    }

    /// Close a session from the server side ([`CloseReason::ForcedClose`] for an application
    /// decision). Frames already sent to it are still delivered: a WebSocket is closed after
    /// them, a polling session hands them (and `close`) to its next GET.
    pub fn close(&mut self, _now: Millis, id: SessionId, reason: CloseReason) {
        let Some(session) = self.sessions.get_mut(&id) else {
            return;
        };
        if session.closing {
            return;
        }
        session.closing = true;
        if let Some(p) = session.probe.take() {
            self.timers.remove(p.deadline, (id, TimerKind::Upgrade));
            self.by_ws.remove(&p.ws);
            self.transmits.push_back(Transmit::WsClose { ws: p.ws });
        }
        self.events.push_back(EngineEvent::Close {
            session: id,
            reason,
        });
        let session = self.sessions.get_mut(&id).expect("session exists");
        // Without a parked GET, the client learns of the close on its next GET (with the
        // frames still queued), as Node does, rather than from a 400 "Session ID unknown".
        let lingers = session.transport == TransportKind::Polling
            && session.parked.is_none()
            && (session.closed_by_client
                || matches!(
                    reason,
                    CloseReason::ForcedClose | CloseReason::ServerShutdown
                ));
        if lingers {
            // Keep it until the next GET collects the frames and `close`, or the pong deadline
            // passes.
            self.timers
                .remove(session.heartbeat.0, (id, session.heartbeat.1));
            let deadline = _now + self.config.ping_timeout;
            session.heartbeat = (deadline, TimerKind::PongTimeout);
            self.timers.insert(deadline, (id, TimerKind::PongTimeout));
            return;
        }
        if let Some(req) = session.parked.take() {
            self.by_req.remove(&req);
            session.queue.push_back(Packet::Close.encode());
            let body = payload::encode(session.queue.make_contiguous());
            self.respond(req, HttpResponse::payload(body));
        }
        if let Some(ws) = self.sessions.get_mut(&id).and_then(|s| s.ws.take()) {
            self.by_ws.remove(&ws);
            self.transmits.push_back(Transmit::WsClose { ws });
        }
        self.remove(id);
    }

    /// Close every session ([`CloseReason::ServerShutdown`]).
    pub fn close_all(&mut self, now: Millis) {
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.close(now, id, CloseReason::ServerShutdown);
        }
    }

    fn remove(&mut self, id: SessionId) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.by_sid.remove(&s.sid);
        if let Some(ws) = s.ws {
            self.by_ws.remove(&ws);
        }
        if let Some(req) = s.parked {
            self.by_req.remove(&req);
        }
        self.timers.remove(s.heartbeat.0, (id, s.heartbeat.1));
        if let Some(p) = s.probe {
            self.timers.remove(p.deadline, (id, TimerKind::Upgrade));
            self.by_ws.remove(&p.ws);
        }
    }

    fn open_session(
        &mut self,
        now: Millis,
        transport: TransportKind,
        ws: Option<WsId>,
    ) -> (SessionId, ByteString) {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        let sid = loop {
            let sid = self.ids.next_id();
            if !self.by_sid.contains_key(&sid) {
                break sid;
            }
        };
        let upgrades = if transport == TransportKind::Polling
            && self.config.allow_upgrades
            && self.config.allow_websocket
        {
            vec!["websocket".to_owned()]
        } else {
            Vec::new()
        };
        let open = OpenPacket {
            sid: sid.to_string(),
            upgrades,
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
            max_payload: self.config.limits.max_payload as u64,
        };
        let open_frame = super::packet::text_frame(super::PacketType::Open, &open.to_json());
        let heartbeat = (now + self.config.ping_interval, TimerKind::Ping);
        self.timers.insert(heartbeat.0, (id, heartbeat.1));
        self.sessions.insert(
            id,
            Box::new(Session {
                sid: sid.clone(),
                transport,
                ws,
                parked: None,
                queue: VecDeque::new(),
                probe: None,
                heartbeat,
                closing: false,
                closed_by_client: false,
                pings: 0,
                confirmed: 0,
            }),
        );
        self.by_sid.insert(sid.clone(), id);
        if let Some(ws) = ws {
            self.by_ws.insert(ws, id);
            self.transmits.push_back(Transmit::Ws {
                ws,
                frame: Frame::Text(open_frame.clone()),
            });
        }
        self.events.push_back(EngineEvent::Open {
            session: id,
            sid,
            transport,
        });
        (id, open_frame)
    }

    fn respond(&mut self, req: RequestId, response: HttpResponse) {
        self.transmits.push_back(Transmit::Http { req, response });
    }
}

fn noop_payload() -> HttpResponse {
    HttpResponse::payload(Bytes::from_static(b"6"))
}

fn close_payload() -> HttpResponse {
    HttpResponse::payload(Bytes::from_static(b"1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> EngineServer {
        EngineServer::new(EngineConfig {
            ping_interval: 300,
            ping_timeout: 200,
            ..EngineConfig::default()
        })
    }

    fn drain(s: &mut EngineServer) -> Vec<Transmit> {
        std::iter::from_fn(|| s.poll_transmit()).collect()
    }

    fn body_of(t: &Transmit) -> (u16, String) {
        match t {
            Transmit::Http { response, .. } => (
                response.status,
                String::from_utf8(response.body.to_vec()).unwrap(),
            ),
            other => panic!("not http: {other:?}"),
        }
    }

    fn handshake(s: &mut EngineServer) -> String {
        s.handle_http(
            0,
            RequestId(0),
            Method::Get,
            "EIO=4&transport=polling",
            Bytes::new(),
        );
        let t = drain(s);
        let (status, body) = body_of(&t[0]);
        assert_eq!(status, 200);
        let open = OpenPacket::from_json(&body[1..]).unwrap();
        open.sid
    }

    #[test]
    fn polling_handshake_and_echo_flow() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        s.handle_http(1, RequestId(1), Method::Get, &q, Bytes::new());
        assert!(drain(&mut s).is_empty(), "GET parked");
        s.handle_http(
            2,
            RequestId(2),
            Method::Post,
            &q,
            Bytes::from_static(b"4hello"),
        );
        assert_eq!(body_of(&drain(&mut s)[0]), (200, "ok".into()));
        let mut session = None;
        while let Some(e) = s.poll_event() {
            if let EngineEvent::Message { session: id, text } = e {
                assert_eq!(&*text, "hello");
                session = Some(id);
            }
        }
        s.send(
            3,
            session.unwrap(),
            [Packet::Message("hello".into()).encode()],
            false,
        )
        .unwrap();
        let t = drain(&mut s);
        assert_eq!(t.len(), 1);
        assert!(matches!(
            &t[0],
            Transmit::Http {
                req: RequestId(1),
                ..
            }
        ));
        assert_eq!(body_of(&t[0]), (200, "4hello".into()));
    }

    /// What `Query::parse` must find: the first value of each key, split at the first `=`.
    fn query_by_split(query: &str) -> (Option<&str>, Option<&str>, Option<&str>) {
        let mut found = (None, None, None);
        for pair in query.trim_start_matches('?').split('&') {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match k {
                "EIO" => &mut found.0,
                "transport" => &mut found.1,
                "sid" => &mut found.2,
                _ => continue,
            };
            slot.get_or_insert(v);
        }
        found
    }

    proptest::proptest! {
        #[test]
        fn query_parse_finds_what_split_finds(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("EIO".to_owned()),
                    proptest::strategy::Just("sid".to_owned()),
                    proptest::strategy::Just("transport".to_owned()),
                    "[a-z=&?é]{0,4}",
                ],
                0..8,
            ),
            seps in proptest::collection::vec("[=&]", 8),
        ) {
            let mut query = String::new();
            for (p, sep) in parts.iter().zip(&seps) {
                query.push_str(p);
                query.push_str(sep);
            }
            let q = Query::parse(&query);
            proptest::prop_assert_eq!((q.eio, q.transport, q.sid), query_by_split(&query));
        }
    }

    #[test]
    fn query_parse_examples() {
        let q = Query::parse("?EIO=4&transport=polling&t=x&sid=a=b&sid=c");
        assert_eq!(
            (q.eio, q.transport, q.sid),
            (Some("4"), Some("polling"), Some("a=b"))
        );
        let q = Query::parse("EIO&sid=");
        assert_eq!((q.eio, q.transport, q.sid), (Some(""), None, Some("")));
        let q = Query::parse("");
        assert_eq!((q.eio, q.transport, q.sid), (None, None, None));
    }

    #[test]
    fn query_errors() {
        let mut s = server();
        let cases = [
            ("transport=polling", Method::Get, 400, 5),
            ("EIO=abc&transport=polling", Method::Get, 400, 5),
            ("EIO=4", Method::Get, 400, 0),
            ("EIO=4&transport=abc", Method::Get, 400, 0),
            ("EIO=4&transport=polling", Method::Post, 400, 2),
            ("EIO=4&transport=polling", Method::Other, 400, 2),
            ("EIO=4&transport=polling&sid=nope", Method::Get, 400, 1),
            ("EIO=4&transport=websocket", Method::Get, 400, 3),
        ];
        for (i, (q, m, status, code)) in cases.into_iter().enumerate() {
            s.handle_http(0, RequestId(i as u64), m, q, Bytes::new());
            let (st, body) = body_of(&drain(&mut s)[0]);
            assert_eq!(st, status, "{q}");
            let b: super::super::ErrorBody = serde_json::from_str(&body).unwrap();
            assert_eq!(b.code, code, "{q}");
        }
        assert_eq!(
            s.handle_ws_open(0, WsId(1), "transport=websocket"),
            Err(ErrorCode::UnsupportedProtocolVersion)
        );
        assert_eq!(
            s.handle_ws_open(0, WsId(1), "EIO=4&transport=abc"),
            Err(ErrorCode::UnknownTransport)
        );
    }

    #[test]
    fn duplicate_get_closes_the_session() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        s.handle_http(1, RequestId(1), Method::Get, &q, Bytes::new());
        s.handle_http(
            2,
            RequestId(2),
            Method::Get,
            &format!("{q}&t=burst"),
            Bytes::new(),
        );
        let t = drain(&mut s);
        assert_eq!(body_of(&t[0]).0, 400);
        assert_eq!(body_of(&t[1]), (200, "1".into()));
        s.handle_http(3, RequestId(3), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
    }

    #[test]
    fn heartbeat_and_ping_timeout() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        assert_eq!(s.poll_timeout(), Some(300));
        s.handle_timeout(300);
        s.handle_http(301, RequestId(1), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]), (200, "2".into()));
        s.handle_http(
            302,
            RequestId(2),
            Method::Post,
            &q,
            Bytes::from_static(b"3"),
        );
        drain(&mut s);
        assert_eq!(s.poll_timeout(), Some(602));
        s.handle_timeout(602);
        assert_eq!(s.poll_timeout(), Some(802));
        s.handle_timeout(802);
        let closed: Vec<_> = std::iter::from_fn(|| s.poll_event())
            .filter(|e| {
                matches!(
                    e,
                    EngineEvent::Close {
                        reason: CloseReason::PingTimeout,
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(closed.len(), 1);
        s.handle_http(803, RequestId(3), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
    }

    #[test]
    fn upgrade_flow() {
        let mut s = server();
        let sid = handshake(&mut s);
        let pq = format!("EIO=4&transport=polling&sid={sid}");
        let wq = format!("EIO=4&transport=websocket&sid={sid}");
        s.handle_http(1, RequestId(1), Method::Get, &pq, Bytes::new());
        s.handle_ws_open(2, WsId(9), &wq).unwrap();
        s.handle_ws_message(3, WsId(9), Frame::Text("2probe".into()));
        let t = drain(&mut s);
        assert_eq!(
            t[0],
            Transmit::Ws {
                ws: WsId(9),
                frame: Frame::Text("3probe".into())
            }
        );
        assert_eq!(body_of(&t[1]), (200, "6".into()));
        // A poll during the upgrade is ended at once.
        s.handle_http(4, RequestId(2), Method::Get, &pq, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]), (200, "6".into()));
        s.handle_ws_message(5, WsId(9), Frame::Text("5".into()));
        assert_eq!(s.transport(SessionId(0)), Some(TransportKind::WebSocket));
        s.handle_http(6, RequestId(3), Method::Get, &pq, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
        assert_eq!(s.handle_ws_open(7, WsId(10), &wq), Ok(()));
        assert_eq!(drain(&mut s), vec![Transmit::WsClose { ws: WsId(10) }]);
        s.handle_ws_message(8, WsId(9), Frame::Text("4hello".into()));
        assert!(std::iter::from_fn(|| s.poll_event())
            .any(|e| matches!(e, EngineEvent::Message { ref text, .. } if &**text == "hello")));
    }

    #[test]
    fn upgrade_timeout_keeps_polling() {
        let mut s = EngineServer::new(EngineConfig {
            ping_interval: 60_000,
            ..EngineConfig::default()
        });
        let sid = handshake(&mut s);
        s.handle_ws_open(1, WsId(9), &format!("EIO=4&transport=websocket&sid={sid}"))
            .unwrap();
        assert_eq!(s.poll_timeout(), Some(10_001));
        s.handle_timeout(10_001);
        assert_eq!(drain(&mut s), vec![Transmit::WsClose { ws: WsId(9) }]);
        assert_eq!(s.transport(SessionId(0)), Some(TransportKind::Polling));
        assert_eq!(s.session_count(), 1);
        // The client may try again.
        s.handle_ws_open(
            10_002,
            WsId(10),
            &format!("EIO=4&transport=websocket&sid={sid}"),
        )
        .unwrap();
    }

    #[test]
    fn client_close_answers_parked_get_with_noop() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        s.handle_http(1, RequestId(1), Method::Get, &q, Bytes::new());
        s.handle_http(2, RequestId(2), Method::Post, &q, Bytes::from_static(b"1"));
        let t = drain(&mut s);
        assert_eq!(body_of(&t[0]), (200, "ok".into()));
        assert_eq!(body_of(&t[1]), (200, "6".into()));
        s.handle_http(3, RequestId(3), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
    }

    #[test]
    fn client_close_before_its_get_arrives_answers_that_get_with_noop() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        // The client's close arrives first, its GET right after.
        s.handle_http(1, RequestId(1), Method::Post, &q, Bytes::from_static(b"1"));
        let t = drain(&mut s);
        assert_eq!(body_of(&t[0]), (200, "ok".into()));
        assert!(std::iter::from_fn(|| s.poll_event()).any(|e| matches!(
            e,
            EngineEvent::Close {
                reason: CloseReason::TransportClose,
                ..
            }
        )));
        // Closed for the application, but the GET still finds the session: a `noop`.
        s.handle_http(2, RequestId(2), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]), (200, "6".into()));
        // Then it is gone.
        s.handle_http(3, RequestId(3), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
        assert_eq!(s.session_count(), 0);
    }

    #[test]
    fn a_client_closed_session_no_get_collects_ends_at_the_pong_deadline() {
        let mut s = server();
        let sid = handshake(&mut s);
        let q = format!("EIO=4&transport=polling&sid={sid}");
        s.handle_http(1, RequestId(1), Method::Post, &q, Bytes::from_static(b"1"));
        drain(&mut s);
        // A POST to it is refused meanwhile.
        s.handle_http(2, RequestId(2), Method::Post, &q, Bytes::from_static(b"4x"));
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
        let deadline = s.poll_timeout().expect("a deadline");
        s.handle_timeout(deadline);
        assert_eq!(s.session_count(), 0);
        s.handle_http(3, RequestId(3), Method::Get, &q, Bytes::new());
        assert_eq!(body_of(&drain(&mut s)[0]).0, 400);
    }

    #[test]
    fn websocket_session_and_invalid_packet() {
        let mut s = server();
        s.handle_ws_open(0, WsId(1), "EIO=4&transport=websocket")
            .unwrap();
        let t = drain(&mut s);
        let Transmit::Ws {
            frame: Frame::Text(open),
            ..
        } = &t[0]
        else {
            panic!()
        };
        let open = OpenPacket::from_json(&open[1..]).unwrap();
        assert!(open.upgrades.is_empty());
        s.handle_ws_message(1, WsId(1), Frame::Text("abc".into()));
        assert_eq!(drain(&mut s), vec![Transmit::WsClose { ws: WsId(1) }]);
        assert_eq!(s.session_count(), 0);
    }
}
