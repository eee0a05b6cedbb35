//! The Socket.IO v5 server state machine: namespaces, sockets, rooms, events and acks on top
//! of the [Engine.IO server](crate::engine::EngineServer).
//!
//! The runtime feeds transport input (`handle_http`, `handle_ws_*`, `handle_timeout`) and
//! application commands (`accept`, `reject`, `emit`, `emit_with_ack`, `ack`, `join`,
//! `leave`, `disconnect`), then drains [`Server::poll_output`] until it returns `None` and
//! sleeps until [`Server::poll_timeout`]. Every call takes `now` in milliseconds.
//!
//! With [`ServerConfig::connection_state_recovery`], a socket whose transport fails can come
//! back as the same socket and receive what it missed (see [`RecoveryConfig`]).

mod adapter;
mod headers;
mod recovery;
mod rooms;
mod vec_map;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;

use crate::engine::server::{
    CloseReason, EngineConfig, EngineEvent, EngineServer, HttpResponse, Method, RequestId,
    SessionId, Transmit, TransportKind, WsId,
};
use crate::id_map::IdMap;
use crate::socket::{Decoder, Encoded, Packet, PacketType, DEFAULT_NAMESPACE};
use crate::timers::{Millis, Timers};
pub use headers::{Headers, Iter as HeaderIter};
use vec_map::{VecMap, VecSet};

pub use adapter::{
    AdapterConfig, AdapterMessage, AdapterOutput, AdapterRequestId, RemoteSocket, Request,
    Response, Selector,
};
pub use recovery::{RecoveryConfig, RecoveryStats};
pub use rooms::Target;

/// Settings of the Socket.IO server. The defaults are Node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The Engine.IO layer.
    pub engine: EngineConfig,
    /// Milliseconds a connection may stay without any namespace before it is closed
    /// (Node: 45 000).
    pub connect_timeout: Millis,
    /// Hand CONNECT requests for namespaces that were not added to the application, which
    /// decides (Node's dynamic namespaces). When false, those get `Invalid namespace`.
    pub dynamic_namespaces: bool,
    /// Engine.IO alone, without the Socket.IO layer: every Engine.IO event reaches the
    /// application as [`Event::Engine`], which answers with [`Server::engine_send`].
    pub engine_only: bool,
    /// Connection state recovery (Node's `connectionStateRecovery`); off (`None`) by default.
    /// When on, CONNECT answers carry a `pid`, events carry an offset as their last argument,
    /// and a socket whose transport failed can come back within the configured time as the
    /// same socket, with its rooms, receiving the events it missed.
    pub connection_state_recovery: Option<RecoveryConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EngineConfig::default(),
            connect_timeout: 45_000,
            dynamic_namespaces: false,
            engine_only: false,
            connection_state_recovery: None,
        }
    }
}

/// A connected socket: one client in one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// A CONNECT request waiting for the application's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectId(pub u64);

/// A server-side broadcast with acknowledgements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BroadcastAckId(pub u64);

/// What the runtime knows of the HTTP request that opened a connection. The core keeps it and
/// hands it to the application with every CONNECT request (Node's `socket.handshake`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The raw query string.
    pub query: String,
    /// The request headers, names in lower case.
    pub headers: Headers,
    /// The peer's address, as the runtime renders it.
    pub remote_addr: Option<String>,
    /// When the connection opened.
    pub time: Millis,
}

/// Why a socket disconnected. [`DisconnectReason::as_str`] gives Node's reason strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The transport failed.
    TransportError,
    /// The client closed the transport.
    TransportClose,
    /// The connection was closed without a namespace disconnect (connect timeout, protocol
    /// misuse).
    ForcedClose,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent a packet that does not decode.
    ParseError,
    /// The server shut down.
    ServerShuttingDown,
    /// The application closed the whole connection.
    ForcedServerClose,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The application disconnected the socket.
    ServerNamespaceDisconnect,
    /// The connection's outgoing buffer overflowed.
    BufferFull,
    /// The client sent more than `maxPayload`.
    PayloadTooLarge,
}

impl DisconnectReason {
    /// Whether a socket that disconnected for this reason keeps its session for connection
    /// state recovery (Node's list: the transport failed or closed, the heartbeat stopped,
    /// the connection was closed by the server; not a namespace disconnect by either side,
    /// a parse error, an oversized payload or a full buffer).
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportError
                | Self::TransportClose
                | Self::ForcedClose
                | Self::PingTimeout
                | Self::ServerShuttingDown
                | Self::ForcedServerClose
        )
    }

    /// Node's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportError => "transport error",
            Self::TransportClose => "transport close",
            Self::ForcedClose => "forced close",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedServerClose => "forced server close",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::BufferFull => "transport buffer full",
            Self::PayloadTooLarge => "payload too large",
        }
    }

    fn from_engine(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportError => Self::TransportError,
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ServerShutdown => Self::ServerShuttingDown,
            CloseReason::BufferFull => Self::BufferFull,
            CloseReason::PayloadTooLarge => Self::PayloadTooLarge,
        }
    }
}

/// What the application learns from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// In [`ServerConfig::engine_only`] mode, an Engine.IO event.
    Engine(EngineEvent),
    /// A client asks to join a namespace; answer with [`Server::accept`] or
    /// [`Server::reject`].
    ConnectRequest {
        /// The request.
        id: ConnectId,
        /// The namespace.
        nsp: ByteString,
        /// The auth object (JSON), if the client sent one. With connection state recovery on,
        /// its `pid` and `offset` fields are taken out (`None` when nothing else is left).
        auth: Option<ByteString>,
        /// The client presented the session of a socket that disconnected recently (and may
        /// be let in without the middlewares, see [`RecoveryConfig::skip_middlewares`]). On
        /// [`Server::accept`] it becomes that socket again, unless the session was lost
        /// meanwhile: [`Server::socket_recovered`] tells.
        recovered: bool,
    },
    /// An event from a socket. `packet.id` is set when the client wants an ack (answer it
    /// with [`Server::ack`]); `packet.event_name()` and [`crate::value::read_args`] read it.
    Message {
        /// The socket.
        socket: SocketId,
        /// The EVENT or BINARY_EVENT packet.
        packet: Packet,
    },
    /// A socket acknowledged an event sent with [`Server::emit_with_ack`].
    AckReceived {
        /// The socket.
        socket: SocketId,
        /// The id returned by `emit_with_ack`.
        ack: u64,
        /// The ACK or BINARY_ACK packet.
        packet: Packet,
    },
    /// A socket did not acknowledge in time, or disconnected before it did (then this comes
    /// before its [`Event::Disconnect`]).
    AckTimedOut {
        /// The socket.
        socket: SocketId,
        /// The id returned by `emit_with_ack`.
        ack: u64,
    },
    /// A broadcast with acks completed: every recipient answered, or the timeout passed.
    BroadcastAck {
        /// The broadcast.
        id: BroadcastAckId,
        /// The answers received, by socket, in arrival order.
        responses: Vec<(SocketId, Packet)>,
        /// Whether some recipient did not answer in time.
        timed_out: bool,
    },
    /// A socket is disconnecting; `rooms` are the rooms it was in.
    Disconnecting {
        /// The socket.
        socket: SocketId,
        /// Why.
        reason: DisconnectReason,
        /// Its rooms at that moment.
        rooms: Vec<ByteString>,
    },
    /// A socket disconnected; its id is no longer valid.
    Disconnect {
        /// The socket.
        socket: SocketId,
        /// Why.
        reason: DisconnectReason,
    },
}

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Write to a transport.
    Transmit(Transmit),
    /// Tell the application.
    Event(Event),
}

/// Misuse of the API. A misbehaving peer never causes one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerError {
    /// The socket does not exist (any more).
    UnknownSocket(SocketId),
    /// The CONNECT request was already answered, or its connection is gone.
    UnknownConnect(ConnectId),
    /// The namespace was never added and dynamic namespaces are off.
    UnknownNamespace(String),
    /// The data of an event is not a JSON array starting with an event name that is not
    /// reserved, or its placeholders do not match its attachments.
    InvalidEventData,
    /// The ack data is not a JSON array, or its placeholders do not match its attachments.
    InvalidAckData,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownSocket(s) => write!(f, "unknown socket {}", s.0),
            Self::UnknownConnect(c) => write!(f, "unknown connect request {}", c.0),
            Self::UnknownNamespace(n) => write!(f, "unknown namespace {n}"),
            Self::InvalidEventData => {
                f.write_str("event data must be a JSON array starting with the event name")
            }
            Self::InvalidAckData => f.write_str("ack data must be a JSON array"),
        }
    }
}

impl std::error::Error for ServerError {}

/// An event to send: its JSON array (event name first) and binary attachments.
///
/// Built with [`Emit::new`] from JSON text, the core checks once per command that a client
/// can decode it (an `Err` instead of a packet that would disconnect its recipients); built
/// with [`Emit::from_args`], serde wrote it, so that check is skipped. Changing `data` of an
/// `Emit` from `from_args` is the caller's responsibility.
#[derive(Debug, Clone)]
pub struct Emit {
    /// `["event", args...]`, with placeholders for the attachments.
    pub data: ByteString,
    /// The binary values.
    pub attachments: Vec<Bytes>,
    /// Drop it for recipients whose transport cannot take it at once.
    pub volatile: bool,
    /// Written by [`crate::value::write_args`] with an event name that is not reserved.
    serialized: bool,
}

impl PartialEq for Emit {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
            && self.attachments == other.attachments
            && self.volatile == other.volatile
    }
}

impl Eq for Emit {}

impl Emit {
    /// An event from its JSON array text.
    pub fn new(data: impl Into<ByteString>) -> Self {
        Emit {
            data: data.into(),
            attachments: Vec::new(),
            volatile: false,
            serialized: false,
        }
    }

    /// With these binary attachments (the JSON has their placeholders).
    pub fn with_attachments(mut self, attachments: Vec<Bytes>) -> Self {
        self.attachments = attachments;
        self
    }

    /// Whether serde wrote it ([`Emit::from_args`]), so that the core does not check it again.
    pub fn is_serialized(&self) -> bool {
        self.serialized
    }

    /// Serialize `args` with serde (see [`crate::value::write_args`] for the rules).
    pub fn from_args<T: ?Sized + serde::Serialize>(
        event: &str,
        args: &T,
    ) -> Result<Self, crate::value::ValueError> {
        let mut json = Vec::new();
        let mut attachments = Vec::new();
        crate::value::write_args(&mut json, Some(event), args, &mut attachments)?;
        let data = String::from_utf8(json).expect("serde_json writes UTF-8");
        Ok(Emit {
            data: ByteString::from(data),
            attachments,
            volatile: false,
            // A reserved name is refused by the check, as for any other source.
            serialized: !crate::socket::RESERVED_EVENTS.contains(&event),
        })
    }

    /// Mark as volatile.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    Connect(SessionId),
    Ack(SocketId, u64),
    Broadcast(BroadcastAckId),
    /// A disconnected socket's session expires.
    Recovery(SocketId),
    /// A cluster request stops waiting.
    Adapter(u64),
}

#[derive(Debug)]
struct Conn {
    decoder: Decoder,
    sockets: VecMap<ByteString, SocketId>,
    pending: VecMap<ByteString, ConnectId>,
    connect_deadline: Option<Millis>,
    handshake: Handshake,
}

#[derive(Debug)]
struct Socket {
    sid: ByteString,
    nsp: ByteString,
    session: SessionId,
    rooms: VecSet<ByteString>,
    /// The private session id, with connection state recovery.
    pid: Option<ByteString>,
    /// It took back the session of a disconnected socket.
    recovered: bool,
    /// What recovery keeps for it.
    journal: recovery::Journal,
}

#[derive(Debug)]
struct PendingConnect {
    session: SessionId,
    nsp: ByteString,
    auth: Option<ByteString>,
    /// The disconnected socket it takes back, and the last offset the client has.
    recover: Option<(SocketId, u64)>,
}

#[derive(Debug)]
enum AckWait {
    Single { deadline: Millis },
    Broadcast(BroadcastAckId),
}

#[derive(Debug)]
struct BroadcastWait {
    waiting: BTreeSet<SocketId>,
    responses: Vec<(SocketId, Packet)>,
    deadline: Millis,
    ack: u64,
}

/// The Socket.IO server state machine. See the [module docs](self).
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    engine: EngineServer,
    conns: IdMap<SessionId, Box<Conn>>,
    sockets: IdMap<SocketId, Box<Socket>>,
    by_sid: BTreeMap<ByteString, SocketId>,
    namespaces: BTreeMap<ByteString, rooms::Namespace>,
    connects: IdMap<ConnectId, PendingConnect>,
    acks: BTreeMap<(SocketId, u64), AckWait>,
    broadcasts: BTreeMap<BroadcastAckId, BroadcastWait>,
    timers: Timers<TimerKey>,
    events: VecDeque<Event>,
    next_socket: u64,
    next_connect: u64,
    next_ack: u64,
    /// Handshake data of requests being handled, attached to sessions they open.
    current_handshake: Option<Handshake>,
    /// Connection state recovery: the offsets, when on.
    offsets: Option<recovery::Offsets>,
    /// Disconnected sockets whose session is kept.
    away: BTreeMap<SocketId, recovery::Away>,
    /// Their rooms, per namespace, to find those a broadcast reaches.
    away_index: BTreeMap<ByteString, rooms::Namespace>,
    /// Their expiry, in order.
    away_order: BTreeSet<(Millis, SocketId)>,
    /// Their public ids (not given to new sockets).
    away_sids: BTreeSet<ByteString>,
    /// Private session ids of live and away sockets.
    pids: BTreeMap<ByteString, SocketId>,
    /// The cluster, when [`Server::enable_adapter`] was called.
    adapter: Option<adapter::State>,
}

impl Server {
    /// A server with `config` and the default namespace `/`.
    pub fn new(config: ServerConfig) -> Self {
        let mut engine = EngineServer::new(config.engine.clone());
        let offsets = config.connection_state_recovery.as_ref().map(|_| {
            engine.track_confirmations();
            let id = engine.ids_mut().next_id();
            recovery::Offsets::new(ByteString::from(&id[..8]))
        });
        let mut namespaces = BTreeMap::new();
        namespaces.insert(
            ByteString::from_static(DEFAULT_NAMESPACE),
            rooms::Namespace::default(),
        );
        Server {
            config,
            engine,
            conns: IdMap::default(),
            sockets: IdMap::default(),
            by_sid: BTreeMap::new(),
            namespaces,
            connects: IdMap::default(),
            acks: BTreeMap::new(),
            broadcasts: BTreeMap::new(),
            timers: Timers::default(),
            events: VecDeque::new(),
            next_socket: 0,
            next_connect: 0,
            next_ack: 0,
            current_handshake: None,
            offsets,
            away: BTreeMap::new(),
            away_index: BTreeMap::new(),
            away_order: BTreeSet::new(),
            away_sids: BTreeSet::new(),
            pids: BTreeMap::new(),
            adapter: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The Engine.IO layer (read-only).
    pub fn engine(&self) -> &EngineServer {
        &self.engine
    }

    /// Declare a namespace: CONNECT requests for it reach the application.
    pub fn add_namespace(&mut self, nsp: &str) {
        self.namespaces.entry(ByteString::from(nsp)).or_default();
    }

    /// Whether a namespace exists (declared, or created by an accepted dynamic CONNECT).
    pub fn has_namespace(&self, nsp: &str) -> bool {
        self.namespaces.contains_key(nsp)
    }

    // ----- transport input -------------------------------------------------------------

    /// An HTTP request on the Socket.IO path; see [`EngineServer::handle_http`].
    /// `handshake` is kept if the request opens a session.
    pub fn handle_http(
        &mut self,
        now: Millis,
        req: RequestId,
        method: Method,
        query: &str,
        body: Bytes,
        handshake: impl FnOnce() -> Handshake,
    ) {
        if !query.contains("sid=") {
            self.current_handshake = Some(Handshake {
                time: now,
                ..handshake()
            });
        }
        self.engine.handle_http(now, req, method, query, body);
        self.pump(now);
        self.current_handshake = None;
    }

    /// A polling request ended before it was answered.
    pub fn handle_http_aborted(&mut self, now: Millis, req: RequestId) {
        self.engine.handle_http_aborted(now, req);
        self.pump(now);
    }

    /// A WebSocket upgrade request; see [`EngineServer::handle_ws_open`]. On `Err`, answer the
    /// request with the response instead of upgrading.
    pub fn handle_ws_open(
        &mut self,
        now: Millis,
        ws: WsId,
        query: &str,
        handshake: impl FnOnce() -> Handshake,
    ) -> Result<(), HttpResponse> {
        if !query.contains("sid=") {
            self.current_handshake = Some(Handshake {
                time: now,
                ..handshake()
            });
        }
        let r = self.engine.handle_ws_open(now, ws, query);
        self.pump(now);
        self.current_handshake = None;
        r.map_err(HttpResponse::error)
    }

    /// A WebSocket message.
    pub fn handle_ws_message(&mut self, now: Millis, ws: WsId, frame: crate::engine::Frame) {
        self.engine.handle_ws_message(now, ws, frame);
        self.pump(now);
    }

    /// A WebSocket closed (`error`: it failed rather than closed cleanly).
    pub fn handle_ws_closed(&mut self, now: Millis, ws: WsId, error: bool) {
        self.engine.handle_ws_closed(now, ws, error);
        self.pump(now);
    }

    /// Handle every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.engine.handle_timeout(now);
        self.pump(now);
        while let Some((_, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Connect(session) => {
                    if let Some(conn) = self.conns.get_mut(&session) {
                        conn.connect_deadline = None;
                        if conn.sockets.is_empty() {
                            self.engine.close(now, session, CloseReason::ForcedClose);
                        }
                    }
                }
                TimerKey::Ack(socket, ack) => {
                    if self.acks.remove(&(socket, ack)).is_some() {
                        self.events.push_back(Event::AckTimedOut { socket, ack });
                    }
                }
                TimerKey::Recovery(socket) => {
                    // A session being taken back is left to the decision.
                    if self.away.get(&socket).is_some_and(|a| !a.claimed) {
                        self.drop_away(socket);
                    }
                }
                TimerKey::Adapter(id) => self.adapter_timeout(id),
                TimerKey::Broadcast(id) => {
                    if let Some(b) = self.broadcasts.remove(&id) {
                        for s in &b.waiting {
                            self.acks.remove(&(*s, b.ack));
                        }
                        self.broadcast_acked(id, b.responses, true);
                    }
                }
            }
            self.pump(now);
        }
    }

    /// The next output. Drain it after every call, until `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(t) = self.engine.poll_transmit() {
            return Some(Output::Transmit(t));
        }
        self.events.pop_front().map(Output::Event)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        match (self.engine.poll_timeout(), self.timers.next()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- engine events ---------------------------------------------------------------

    fn pump(&mut self, now: Millis) {
        while let Some(e) = self.engine.poll_event() {
            if self.config.engine_only {
                self.events.push_back(Event::Engine(e));
                continue;
            }
            match e {
                EngineEvent::Open { session, .. } => {
                    let deadline = now + self.config.connect_timeout;
                    self.timers.insert(deadline, TimerKey::Connect(session));
                    self.conns.insert(
                        session,
                        Box::new(Conn {
                            decoder: Decoder::new(self.config.engine.limits),
                            sockets: VecMap::default(),
                            pending: VecMap::default(),
                            connect_deadline: Some(deadline),
                            handshake: self.current_handshake.take().unwrap_or_default(),
                        }),
                    );
                }
                EngineEvent::Message { session, text } => {
                    let r = match self.conns.get_mut(&session) {
                        Some(c) => c.decoder.decode_text(&text),
                        None => continue,
                    };
                    self.on_decoded(now, session, r);
                }
                EngineEvent::Binary { session, data } => {
                    let r = match self.conns.get_mut(&session) {
                        Some(c) => c.decoder.decode_binary(data),
                        None => continue,
                    };
                    self.on_decoded(now, session, r);
                }
                EngineEvent::Upgraded { .. } => {}
                EngineEvent::Close { session, reason } => {
                    self.on_conn_closed(now, session, DisconnectReason::from_engine(reason));
                }
            }
        }
        while let Some(session) = self.engine.pop_confirmed() {
            let (Some(conn), Some((_, confirmed))) = (
                self.conns.get(&session),
                self.engine.heartbeat_counts(session),
            ) else {
                continue;
            };
            for socket in conn.sockets.values() {
                if let Some(s) = self.sockets.get_mut(socket) {
                    s.journal.confirm(confirmed);
                }
            }
        }
    }

    fn on_decoded(
        &mut self,
        now: Millis,
        session: SessionId,
        r: Result<Option<Packet>, crate::socket::DecodeError>,
    ) {
        match r {
            Ok(Some(p)) => self.on_packet(now, session, p),
            Ok(None) => {}
            Err(_) => self.close_conn(now, session, CloseReason::ParseError),
        }
    }

    fn on_packet(&mut self, now: Millis, session: SessionId, p: Packet) {
        let conn = self
            .conns
            .get_mut(&session)
            .expect("packet for a live connection");
        let socket = conn.sockets.get(&p.nsp).copied();
        match (p.kind, socket) {
            (PacketType::Connect, None) if !conn.pending.contains_key(&p.nsp) => {
                if !self.namespaces.contains_key(&p.nsp) && !self.config.dynamic_namespaces {
                    let e = Packet::connect_error(
                        p.nsp.clone(),
                        ByteString::from_static(r#"{"message":"Invalid namespace"}"#),
                    );
                    self.send_owned(now, session, e.encode(), false);
                    return;
                }
                let (auth, claim) = if self.offsets.is_some() {
                    recovery::take_claim(p.data.as_ref())
                } else {
                    (p.data.clone(), None)
                };
                let recover = claim.and_then(|c| self.claim(now, session, &p.nsp, &c));
                let Some(conn) = self.conns.get_mut(&session) else {
                    return;
                };
                let id = ConnectId(self.next_connect);
                self.next_connect += 1;
                conn.pending.insert(p.nsp.clone(), id);
                self.connects.insert(
                    id,
                    PendingConnect {
                        session,
                        nsp: p.nsp.clone(),
                        auth: auth.clone(),
                        recover,
                    },
                );
                self.events.push_back(Event::ConnectRequest {
                    id,
                    nsp: p.nsp,
                    auth,
                    recovered: recover.is_some(),
                });
            }
            (PacketType::Disconnect, None) => {
                if let Some(id) = conn.pending.remove(&p.nsp) {
                    if let Some(pc) = self.connects.remove(&id) {
                        self.release(now, pc.recover);
                    }
                }
            }
            (PacketType::Disconnect, Some(s)) => {
                self.remove_socket(now, s, DisconnectReason::ClientNamespaceDisconnect);
            }
            (PacketType::Event | PacketType::BinaryEvent, Some(socket)) => {
                if let (Some(id), Some(config)) = (p.id, &self.config.connection_state_recovery) {
                    let epoch = self
                        .engine
                        .heartbeat_counts(session)
                        .map_or(0, |(pings, _)| pings);
                    let s = self
                        .sockets
                        .get_mut(&socket)
                        .expect("socket of the connection");
                    match s.journal.client_event(id, config) {
                        None => {}
                        // A repeat (a retry after a reconnection): not delivered again.
                        Some(None) => return,
                        Some(Some(answer)) => {
                            s.journal.answer_resent(id, epoch);
                            self.send_packet(now, session, &answer, false);
                            return;
                        }
                    }
                }
                self.events.push_back(Event::Message { socket, packet: p });
            }
            (PacketType::Ack | PacketType::BinaryAck, Some(socket)) => {
                let Some(ack) = p.id else { return };
                match self.acks.remove(&(socket, ack)) {
                    Some(AckWait::Single { deadline }) => {
                        self.timers.remove(deadline, TimerKey::Ack(socket, ack));
                        self.events.push_back(Event::AckReceived {
                            socket,
                            ack,
                            packet: p,
                        });
                    }
                    Some(AckWait::Broadcast(id)) => {
                        if let Some(b) = self.broadcasts.get_mut(&id) {
                            b.waiting.remove(&socket);
                            b.responses.push((socket, p));
                        }
                        self.maybe_complete_broadcast(id);
                    }
                    None => {}
                }
            }
            _ => {
                // A packet that makes no sense in this state (an event for a namespace the
                // client did not join, a CONNECT_ERROR from a client, a second CONNECT):
                // Node closes the connection.
                self.close_conn(now, session, CloseReason::ForcedClose);
            }
        }
    }

    /// Close a connection because of what its peer sent. Its sockets go at once: packets that
    /// arrived after the offending one (later in the same payload) are not delivered.
    fn close_conn(&mut self, now: Millis, session: SessionId, reason: CloseReason) {
        self.engine.close(now, session, reason);
        self.on_conn_closed(now, session, DisconnectReason::from_engine(reason));
    }

    fn on_conn_closed(&mut self, now: Millis, session: SessionId, reason: DisconnectReason) {
        let Some(conn) = self.conns.remove(&session) else {
            return;
        };
        if let Some(d) = conn.connect_deadline {
            self.timers.remove(d, TimerKey::Connect(session));
        }
        for id in conn.pending.values() {
            if let Some(pc) = self.connects.remove(id) {
                self.release(now, pc.recover);
            }
        }
        for socket in conn.sockets.values() {
            self.drop_socket(now, *socket, reason);
        }
    }

    // ----- connection state recovery -----------------------------------------------------

    /// Pings written so far on a connection (0 once it is gone).
    fn pings(&self, session: SessionId) -> u64 {
        self.engine
            .heartbeat_counts(session)
            .map_or(0, |(pings, _)| pings)
    }

    /// A CONNECT on `session` presents `claim`: the socket whose session it takes back, and
    /// the last offset the client has, or `None` (it connects as a new socket).
    fn claim(
        &mut self,
        now: Millis,
        session: SessionId,
        nsp: &ByteString,
        claim: &recovery::Claim,
    ) -> Option<(SocketId, u64)> {
        let &socket = self.pids.get(claim.pid.as_str())?;
        if let Some(live) = self.sockets.get(&socket) {
            // Its old connection is still open here, but the client has a new one: the old
            // one is dead, its sockets become sessions to take back.
            if live.nsp != *nsp || live.session == session {
                return None;
            }
            let old = live.session;
            self.close_conn(now, old, CloseReason::TransportError);
        }
        let away = self.away.get_mut(&socket)?;
        if away.claimed || away.nsp != *nsp {
            return None;
        }
        if away.deadline <= now {
            self.drop_away(socket);
            return None;
        }
        let offsets = self.offsets.as_ref().expect("recovery is on");
        let seq = match &claim.offset {
            None => Some(0),
            Some(o) => offsets.parse(o),
        };
        match seq {
            Some(seq) if away.journal.can_resume_after(seq) => {
                away.claimed = true;
                Some((socket, seq))
            }
            _ => {
                // An offset this server never issued, or older than what it had to forget.
                self.drop_away(socket);
                None
            }
        }
    }

    /// A claim ends without the socket being taken back.
    fn release(&mut self, now: Millis, recover: Option<(SocketId, u64)>) {
        let Some((socket, _)) = recover else { return };
        let Some(away) = self.away.get_mut(&socket) else {
            return;
        };
        away.claimed = false;
        if away.deadline <= now {
            self.drop_away(socket);
        }
    }

    /// Keep the session of a socket that disconnected for a recoverable reason.
    fn persist(&mut self, now: Millis, socket: SocketId, s: Socket) {
        let Some(config) = &self.config.connection_state_recovery else {
            return;
        };
        let (max_sessions, duration) = (config.max_sessions, config.max_disconnection_duration);
        let Some(pid) = s.pid else { return };
        while self.away.len() >= max_sessions {
            let oldest = self
                .away_order
                .iter()
                .map(|&(_, s)| s)
                .find(|s| self.away.get(s).is_some_and(|a| !a.claimed));
            match oldest {
                Some(old) => {
                    self.drop_away(old);
                }
                None => break,
            }
        }
        if self.away.len() >= max_sessions {
            self.pids.remove(&pid);
            return;
        }
        let deadline = now.saturating_add(duration);
        // Its own room kept like any other while it is away: few are.
        let index = self.away_index.entry(s.nsp.clone()).or_default();
        index.add(socket);
        for room in &s.rooms {
            index.join(socket, room.clone());
        }
        self.timers.insert(deadline, TimerKey::Recovery(socket));
        self.away_order.insert((deadline, socket));
        self.away_sids.insert(s.sid.clone());
        self.away.insert(
            socket,
            recovery::Away {
                sid: s.sid,
                pid,
                nsp: s.nsp,
                rooms: s.rooms,
                journal: s.journal,
                deadline,
                claimed: false,
            },
        );
    }

    /// Forget a disconnected socket's session.
    fn drop_away(&mut self, socket: SocketId) -> Option<recovery::Away> {
        let away = self.away.remove(&socket)?;
        self.pids.remove(&away.pid);
        if let Some(index) = self.away_index.get_mut(&away.nsp) {
            index.remove(socket, &away.rooms);
            if index.sockets().next().is_none() {
                self.away_index.remove(&away.nsp);
            }
        }
        self.timers
            .remove(away.deadline, TimerKey::Recovery(socket));
        self.away_order.remove(&(away.deadline, socket));
        self.away_sids.remove(&away.sid);
        Some(away)
    }

    /// Whether a CONNECT answer was the recovery of a disconnected socket: same id, rooms,
    /// and the events it missed sent again. `None` for an unknown socket.
    pub fn socket_recovered(&self, socket: SocketId) -> Option<bool> {
        self.sockets.get(&socket).map(|s| s.recovered)
    }

    /// Whether `socket` is disconnected but its session is kept for recovery. Commands on it
    /// still work: emits to it (or its rooms) wait in its session, `join`/`leave` change the
    /// rooms it gets back, `ack` answers are given again if the client repeats the event,
    /// `disconnect` forgets the session.
    pub fn is_away(&self, socket: SocketId) -> bool {
        self.away.contains_key(&socket)
    }

    /// Sizes of what connection state recovery keeps.
    pub fn recovery_stats(&self) -> RecoveryStats {
        let journals = self
            .sockets
            .values()
            .map(|s| &s.journal)
            .chain(self.away.values().map(|a| &a.journal));
        let mut st = RecoveryStats {
            sessions: self.away.len(),
            ..RecoveryStats::default()
        };
        for j in journals {
            st.packets += j.entries.len();
            st.bytes += j.bytes;
            st.client_acks += j.client_acks.len();
        }
        st
    }

    // ----- application commands --------------------------------------------------------

    /// Accept a CONNECT request: the socket joins the namespace and its own room, and the
    /// client receives `{"sid":..}` (and `"pid"` with connection state recovery).
    ///
    /// When the request recovers a disconnected socket ([`Event::ConnectRequest`]'s
    /// `recovered`), that socket comes back: the same [`SocketId`] and public id, its rooms,
    /// and the events it missed, sent right after the CONNECT answer, in order, before
    /// anything else. If its session was lost meanwhile (expired, overflowed), it connects as
    /// a new socket; [`socket_recovered`](Self::socket_recovered) tells which.
    pub fn accept(&mut self, now: Millis, id: ConnectId) -> Result<SocketId, ServerError> {
        let pc = self
            .connects
            .remove(&id)
            .ok_or(ServerError::UnknownConnect(id))?;
        let conn = self
            .conns
            .get_mut(&pc.session)
            .expect("pending connect has a connection");
        conn.pending.remove(&pc.nsp);
        if let Some(d) = conn.connect_deadline.take() {
            self.timers.remove(d, TimerKey::Connect(pc.session));
        }
        let resumed = pc
            .recover
            .and_then(|(socket, seq)| Some((socket, seq, self.drop_away(socket)?)));
        let (socket, sid, rooms, pid, mut journal, replay) = match resumed {
            Some((socket, seq, mut away)) => {
                let replay = away.journal.resume_after(seq);
                // Its pid stays its own.
                self.pids.insert(away.pid.clone(), socket);
                (
                    socket,
                    away.sid,
                    away.rooms,
                    Some(away.pid),
                    away.journal,
                    Some(replay),
                )
            }
            None => {
                let socket = SocketId(self.next_socket);
                self.next_socket += 1;
                let sid = loop {
                    let sid = self.engine_ids_next();
                    if !self.by_sid.contains_key(&sid) && !self.away_sids.contains(&sid) {
                        break sid;
                    }
                };
                let mut rooms = VecSet::default();
                rooms.insert(sid.clone());
                let pid = self.offsets.is_some().then(|| loop {
                    let pid = self.engine_ids_next();
                    if !self.pids.contains_key(&pid) {
                        break pid;
                    }
                });
                if let Some(pid) = &pid {
                    self.pids.insert(pid.clone(), socket);
                }
                (socket, sid, rooms, pid, recovery::Journal::default(), None)
            }
        };
        if let Some(conn) = self.conns.get_mut(&pc.session) {
            conn.sockets.insert(pc.nsp.clone(), socket);
        }
        let ns = self.namespaces.entry(pc.nsp.clone()).or_default();
        ns.add(socket);
        for room in rooms.iter().filter(|r| **r != sid) {
            ns.join(socket, room.clone());
        }
        self.by_sid.insert(sid.clone(), socket);
        journal.rewritten(self.pings(pc.session));
        self.sockets.insert(
            socket,
            Box::new(Socket {
                sid: sid.clone(),
                nsp: pc.nsp.clone(),
                session: pc.session,
                rooms,
                pid: pid.clone(),
                recovered: replay.is_some(),
                journal,
            }),
        );
        let data = match &pid {
            Some(pid) => serde_json::json!({ "sid": &*sid, "pid": &**pid }),
            None => serde_json::json!({ "sid": &*sid }),
        };
        let data = serde_json::to_string(&data).expect("object serializes");
        let packet = Packet::connect(pc.nsp, Some(ByteString::from(data)));
        self.send_owned(now, pc.session, packet.encode(), false);
        for p in replay.unwrap_or_default() {
            if !self.sockets.contains_key(&socket) {
                break;
            }
            self.send_packet(now, pc.session, &p, false);
        }
        Ok(socket)
    }

    fn engine_ids_next(&mut self) -> ByteString {
        // The engine's generator: one seed for every id of this server.
        self.engine_ids().next_id()
    }

    fn engine_ids(&mut self) -> &mut crate::id::IdGenerator {
        self.engine.ids_mut()
    }

    /// Refuse a CONNECT request: the client receives CONNECT_ERROR with `message` and, when
    /// given, `data` (JSON).
    pub fn reject(
        &mut self,
        now: Millis,
        id: ConnectId,
        message: &str,
        data: Option<&serde_json::value::RawValue>,
    ) -> Result<(), ServerError> {
        let pc = self
            .connects
            .remove(&id)
            .ok_or(ServerError::UnknownConnect(id))?;
        if let Some(conn) = self.conns.get_mut(&pc.session) {
            conn.pending.remove(&pc.nsp);
        }
        self.release(now, pc.recover);
        #[derive(serde::Serialize)]
        struct ConnectError<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<&'a serde_json::value::RawValue>,
        }
        let json = serde_json::to_string(&ConnectError { message, data }).expect("serializes");
        let packet = Packet::connect_error(pc.nsp, ByteString::from(json));
        self.send_owned(now, pc.session, packet.encode(), false);
        Ok(())
    }

    /// The auth and handshake data of a pending CONNECT request.
    pub fn connect_request(
        &self,
        id: ConnectId,
    ) -> Option<(&ByteString, Option<&ByteString>, &Handshake)> {
        let pc = self.connects.get(&id)?;
        let conn = self.conns.get(&pc.session)?;
        Some((&pc.nsp, pc.auth.as_ref(), &conn.handshake))
    }

    /// Send an event to every socket `target` selects. Encoded once; returns how many
    /// sockets it was sent to (volatile sends dropped for a busy transport are not counted).
    ///
    /// With connection state recovery, the event gets an offset as its last argument; unless
    /// volatile, it is kept for each recipient until received, and disconnected sockets whose
    /// session is kept and whose rooms `target` selects get it when they come back.
    pub fn emit(
        &mut self,
        now: Millis,
        target: &Target,
        emit: &Emit,
    ) -> Result<usize, ServerError> {
        let offset = self.offsets.as_mut().map(|o| o.next());
        let data = match &offset {
            Some((_, text)) => ByteString::from(recovery::append_offset(&emit.data, text)),
            None => emit.data.clone(),
        };
        let encoded = self.encode_event(&target.nsp, data, emit, None)?;
        let recipients = self.recipients(target)?;
        let logged = match offset {
            Some((seq, _)) if !emit.volatile => Some((seq, Arc::new(encoded.clone()))),
            _ => None,
        };
        let mut sent = 0;
        for s in recipients {
            let Some(socket) = self.sockets.get(&s) else {
                // Gone with an earlier recipient's connection.
                continue;
            };
            let session = socket.session;
            if let Some((seq, packet)) = &logged {
                let epoch = self.pings(session);
                let config = self
                    .config
                    .connection_state_recovery
                    .as_ref()
                    .expect("recovery is on");
                let socket = self.sockets.get_mut(&s).expect("checked above");
                let entry = recovery::Logged {
                    seq: *seq,
                    packet: packet.clone(),
                    epoch,
                };
                socket.journal.push_live(entry, config);
            }
            if self.send_packet(now, session, &encoded, emit.volatile) {
                sent += 1;
            }
        }
        if let Some((seq, packet)) = logged {
            let missed = self
                .away_index
                .get(&target.nsp)
                .map(|index| index.select(target, |_| None))
                .unwrap_or_default();
            for s in missed {
                let config = self
                    .config
                    .connection_state_recovery
                    .as_ref()
                    .expect("recovery is on");
                let Some(away) = self.away.get_mut(&s) else {
                    continue;
                };
                let entry = recovery::Logged {
                    seq,
                    packet: packet.clone(),
                    epoch: u64::MAX,
                };
                if away.journal.push_away(entry, config).is_err() {
                    // More than it may keep: it will connect as a new socket.
                    self.drop_away(s);
                }
            }
        }
        Ok(sent)
    }

    /// Send an event to one socket and wait `timeout` ms for its ack. Returns the ack id that
    /// [`Event::AckReceived`] or [`Event::AckTimedOut`] will carry.
    pub fn emit_with_ack(
        &mut self,
        now: Millis,
        socket: SocketId,
        emit: &Emit,
        timeout: Millis,
    ) -> Result<u64, ServerError> {
        let s = self
            .sockets
            .get(&socket)
            .ok_or(ServerError::UnknownSocket(socket))?;
        let (nsp, session) = (s.nsp.clone(), s.session);
        let ack = self.next_ack;
        self.next_ack += 1;
        let encoded = self.encode_event(&nsp, emit.data.clone(), emit, Some(ack))?;
        let deadline = now + timeout;
        self.acks
            .insert((socket, ack), AckWait::Single { deadline });
        self.timers.insert(deadline, TimerKey::Ack(socket, ack));
        self.send_owned(now, session, encoded, emit.volatile);
        Ok(ack)
    }

    /// Send an event to every socket `target` selects and collect their acks until all
    /// answered or `timeout` ms passed ([`Event::BroadcastAck`]).
    pub fn broadcast_with_ack(
        &mut self,
        now: Millis,
        target: &Target,
        emit: &Emit,
        timeout: Millis,
    ) -> Result<BroadcastAckId, ServerError> {
        let ack = self.next_ack;
        self.next_ack += 1;
        let id = BroadcastAckId(ack);
        let encoded = self.encode_event(&target.nsp, emit.data.clone(), emit, Some(ack))?;
        let recipients = self.recipients(target)?;
        let deadline = now + timeout;
        let mut waiting = BTreeSet::new();
        for s in recipients {
            let session = self.sockets[&s].session;
            if self.send_packet(now, session, &encoded, emit.volatile) {
                waiting.insert(s);
                self.acks.insert((s, ack), AckWait::Broadcast(id));
            }
        }
        self.timers.insert(deadline, TimerKey::Broadcast(id));
        self.broadcasts.insert(
            id,
            BroadcastWait {
                waiting,
                responses: Vec::new(),
                deadline,
                ack,
            },
        );
        self.maybe_complete_broadcast(id);
        Ok(id)
    }

    fn maybe_complete_broadcast(&mut self, id: BroadcastAckId) {
        if self
            .broadcasts
            .get(&id)
            .is_some_and(|b| b.waiting.is_empty())
        {
            let b = self.broadcasts.remove(&id).expect("present");
            self.timers.remove(b.deadline, TimerKey::Broadcast(id));
            self.broadcast_acked(id, b.responses, false);
        }
    }

    /// Acknowledge an event a socket sent with ack id `id`. `data` is the JSON array of the
    /// ack's arguments.
    ///
    /// With connection state recovery, the answer is remembered until the client has it: a
    /// repeat of the event (a retry after a reconnection) gets it again instead of reaching
    /// the application twice. A socket that is away keeps it for that.
    pub fn ack(
        &mut self,
        now: Millis,
        socket: SocketId,
        id: u64,
        data: ByteString,
        attachments: Vec<Bytes>,
    ) -> Result<(), ServerError> {
        let data = AckData::Checked(data);
        self.send_ack(now, socket, id, data, attachments)
    }

    /// [`Server::ack`] with arguments serde wrote ([`crate::value::Args`]): they are not
    /// checked again.
    pub fn ack_args(
        &mut self,
        now: Millis,
        socket: SocketId,
        id: u64,
        mut args: crate::value::Args,
    ) -> Result<(), ServerError> {
        let attachments = args.take_attachments();
        self.send_ack(now, socket, id, AckData::Serialized(args), attachments)
    }

    fn send_ack(
        &mut self,
        now: Millis,
        socket: SocketId,
        id: u64,
        data: AckData,
        attachments: Vec<Bytes>,
    ) -> Result<(), ServerError> {
        let nsp = match (self.sockets.get(&socket), self.away.get(&socket)) {
            (Some(s), _) => s.nsp.clone(),
            (None, Some(a)) => a.nsp.clone(),
            (None, None) => return Err(ServerError::UnknownSocket(socket)),
        };
        // The packet without its data, which is written after its head.
        let head = Packet::ack_head(nsp, id, attachments);
        let mut text = String::with_capacity(head.encoded_len() + data.len());
        head.encode_into(&mut text);
        let json_at = text.len();
        match &data {
            AckData::Checked(json) => text.push_str(json),
            AckData::Serialized(args) => args.write_json(&mut text),
        }
        let encoded = Encoded {
            text: ByteString::from(text),
            attachments: head.attachments,
        };
        let decodes = match data {
            AckData::Serialized(_) => {
                serialized_decodes(Some(&encoded.text[json_at..]), encoded.attachments.len())
            }
            AckData::Checked(_) => client_decodes(&encoded),
        };
        if !decodes {
            return Err(ServerError::InvalidAckData);
        }
        if let Some(away) = self.away.get_mut(&socket) {
            away.journal.answered(id, Arc::new(encoded), u64::MAX);
            return Ok(());
        }
        let session = self.sockets[&socket].session;
        if self.offsets.is_some() {
            let epoch = self.pings(session);
            let s = self.sockets.get_mut(&socket).expect("checked above");
            s.journal.answered(id, Arc::new(encoded.clone()), epoch);
        }
        self.send_owned(now, session, encoded, false);
        Ok(())
    }

    /// Put a socket in a room (for a socket that is away, the rooms it gets back).
    pub fn join(&mut self, socket: SocketId, room: &str) -> Result<(), ServerError> {
        if let Some(away) = self.away.get_mut(&socket) {
            let room = ByteString::from(room);
            if away.rooms.insert(room.clone()) {
                self.away_index
                    .get_mut(&away.nsp)
                    .expect("an away socket is indexed")
                    .join(socket, room);
            }
            return Ok(());
        }
        let s = self
            .sockets
            .get_mut(&socket)
            .ok_or(ServerError::UnknownSocket(socket))?;
        let room = ByteString::from(room);
        // Its own room is known by its id (see `own_room`).
        if s.rooms.insert(room.clone()) && room != s.sid {
            self.namespaces
                .get_mut(&s.nsp)
                .expect("socket's namespace exists")
                .join(socket, room);
        }
        Ok(())
    }

    /// Take a socket out of a room (for a socket that is away, the rooms it gets back).
    pub fn leave(&mut self, socket: SocketId, room: &str) -> Result<(), ServerError> {
        if let Some(away) = self.away.get_mut(&socket) {
            if away.rooms.remove(room) {
                self.away_index
                    .get_mut(&away.nsp)
                    .expect("an away socket is indexed")
                    .leave(socket, room);
            }
            return Ok(());
        }
        let s = self
            .sockets
            .get_mut(&socket)
            .ok_or(ServerError::UnknownSocket(socket))?;
        if s.rooms.remove(room) {
            self.namespaces
                .get_mut(&s.nsp)
                .expect("socket's namespace exists")
                .leave(socket, room);
        }
        Ok(())
    }

    /// Disconnect a socket from its namespace (the client receives DISCONNECT). With
    /// `close_connection`, every socket of its connection is disconnected and the connection
    /// closed (Node's `socket.disconnect(true)`). A socket that is away loses its session.
    pub fn disconnect(
        &mut self,
        now: Millis,
        socket: SocketId,
        close_connection: bool,
    ) -> Result<(), ServerError> {
        if self.drop_away(socket).is_some() {
            return Ok(());
        }
        let s = self
            .sockets
            .get(&socket)
            .ok_or(ServerError::UnknownSocket(socket))?;
        let session = s.session;
        let targets: Vec<SocketId> = if close_connection {
            self.conns[&session].sockets.values().copied().collect()
        } else {
            vec![socket]
        };
        for t in targets {
            // Sending may overflow the connection's queue and close it, taking the remaining
            // sockets with it.
            let Some(nsp) = self.sockets.get(&t).map(|s| s.nsp.clone()) else {
                continue;
            };
            self.send_owned(now, session, Packet::disconnect(nsp).encode(), false);
            self.remove_socket(now, t, DisconnectReason::ServerNamespaceDisconnect);
        }
        if close_connection {
            self.engine.close(now, session, CloseReason::ForcedClose);
            self.pump(now);
        }
        Ok(())
    }

    /// Send Engine.IO frames to a session ([`ServerConfig::engine_only`] mode).
    pub fn engine_send(
        &mut self,
        now: Millis,
        session: SessionId,
        frames: impl IntoIterator<Item = crate::engine::Frame>,
        volatile: bool,
    ) -> Result<bool, crate::engine::EngineError> {
        let r = self.engine.send(now, session, frames, volatile);
        self.pump(now);
        r
    }

    /// Close an Engine.IO session ([`ServerConfig::engine_only`] mode).
    pub fn engine_close(&mut self, now: Millis, session: SessionId) {
        self.engine.close(now, session, CloseReason::ForcedClose);
        self.pump(now);
    }

    /// Close every connection (server shutdown).
    pub fn close_all(&mut self, now: Millis) {
        self.engine.close_all(now);
        self.pump(now);
    }

    // ----- queries ---------------------------------------------------------------------

    /// The public id (`socket.id`) of a socket.
    pub fn socket_sid(&self, socket: SocketId) -> Option<&ByteString> {
        self.sockets.get(&socket).map(|s| &s.sid)
    }

    /// The socket with public id `sid`.
    pub fn socket_by_sid(&self, sid: &str) -> Option<SocketId> {
        self.by_sid.get(sid).copied()
    }

    /// The namespace of a socket.
    pub fn socket_namespace(&self, socket: SocketId) -> Option<&ByteString> {
        self.sockets.get(&socket).map(|s| &s.nsp)
    }

    /// The rooms of a socket (its own id room included).
    pub fn socket_rooms(&self, socket: SocketId) -> Option<impl Iterator<Item = &ByteString>> {
        self.sockets.get(&socket).map(|s| s.rooms.iter())
    }

    /// The handshake data of a socket's connection.
    pub fn socket_handshake(&self, socket: SocketId) -> Option<&Handshake> {
        let s = self.sockets.get(&socket)?;
        self.conns.get(&s.session).map(|c| &c.handshake)
    }

    /// The transport of a socket's connection.
    pub fn socket_transport(&self, socket: SocketId) -> Option<TransportKind> {
        let s = self.sockets.get(&socket)?;
        self.engine.transport(s.session)
    }

    /// The sockets of a namespace, in id order.
    pub fn namespace_sockets(&self, nsp: &str) -> Vec<SocketId> {
        self.namespaces
            .get(nsp)
            .map(|n| n.sockets().collect())
            .unwrap_or_default()
    }

    /// The rooms of a namespace that have at least one member, in order.
    pub fn namespace_rooms(&self, nsp: &str) -> Vec<ByteString> {
        let Some(n) = self.namespaces.get(nsp) else {
            return Vec::new();
        };
        let own = n.sockets().filter_map(|id| {
            let s = self.sockets.get(&id)?;
            s.rooms.contains(&*s.sid).then(|| s.sid.clone())
        });
        let mut rooms: Vec<ByteString> = n.rooms().cloned().chain(own).collect();
        rooms.sort_unstable();
        rooms.dedup();
        rooms
    }

    /// The sockets `target` selects, in id order.
    pub fn recipients(&self, target: &Target) -> Result<Vec<SocketId>, ServerError> {
        let ns = self
            .namespaces
            .get(&target.nsp)
            .ok_or_else(|| ServerError::UnknownNamespace(target.nsp.to_string()))?;
        Ok(ns.select(target, |room| self.own_room(&target.nsp, room)))
    }

    /// The socket of namespace `nsp` in the room named by its own id `room`, if it has not
    /// left it. (The namespaces' room indexes do not keep these rooms: every socket has one.)
    fn own_room(&self, nsp: &str, room: &str) -> Option<SocketId> {
        let id = *self.by_sid.get(room)?;
        let s = self.sockets.get(&id)?;
        (*s.nsp == *nsp && s.rooms.contains(room)).then_some(id)
    }

    // ----- internals -------------------------------------------------------------------

    fn encode_event(
        &self,
        nsp: &ByteString,
        data: ByteString,
        emit: &Emit,
        ack: Option<u64>,
    ) -> Result<Encoded, ServerError> {
        let packet = Packet::event(nsp.clone(), data, ack, emit.attachments.clone());
        let encoded = packet.encode();
        let decodes = if emit.serialized {
            serialized_decodes(packet.data.as_deref(), packet.attachments.len())
        } else {
            client_decodes(&encoded)
        };
        if !decodes {
            return Err(ServerError::InvalidEventData);
        }
        Ok(encoded)
    }

    /// Send an encoded packet to a session; false if dropped (volatile) or the session is gone.
    fn send_packet(
        &mut self,
        now: Millis,
        session: SessionId,
        e: &Encoded,
        volatile: bool,
    ) -> bool {
        let r = self.engine.send(now, session, e.frames(), volatile);
        self.pump(now);
        matches!(r, Ok(true))
    }

    /// [`Server::send_packet`] for a packet sent to one session only.
    fn send_owned(&mut self, now: Millis, session: SessionId, e: Encoded, volatile: bool) -> bool {
        let r = self.engine.send(now, session, e.into_frames(), volatile);
        self.pump(now);
        matches!(r, Ok(true))
    }

    /// Remove a socket whose connection lives on.
    fn remove_socket(&mut self, now: Millis, socket: SocketId, reason: DisconnectReason) {
        if let Some(s) = self.sockets.get(&socket) {
            if let Some(c) = self.conns.get_mut(&s.session) {
                c.sockets.remove(&s.nsp);
            }
        }
        self.drop_socket(now, socket, reason);
    }

    fn drop_socket(&mut self, now: Millis, socket: SocketId, reason: DisconnectReason) {
        let Some(s) = self.sockets.remove(&socket) else {
            return;
        };
        self.events.push_back(Event::Disconnecting {
            socket,
            reason,
            rooms: s.rooms.iter().cloned().collect(),
        });
        if let Some(ns) = self.namespaces.get_mut(&s.nsp) {
            ns.remove(socket, &s.rooms);
        }
        self.by_sid.remove(&s.sid);
        // Pending acks of this socket end now; a broadcast stops waiting for it.
        let pending: Vec<(u64, AckWait)> = {
            let keys: Vec<(SocketId, u64)> = self
                .acks
                .range((socket, 0)..=(socket, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            keys.into_iter()
                .filter_map(|k| self.acks.remove(&k).map(|w| (k.1, w)))
                .collect()
        };
        for (ack, wait) in pending {
            match wait {
                AckWait::Single { deadline } => {
                    self.timers.remove(deadline, TimerKey::Ack(socket, ack));
                    self.events.push_back(Event::AckTimedOut { socket, ack });
                }
                AckWait::Broadcast(id) => {
                    if let Some(b) = self.broadcasts.get_mut(&id) {
                        b.waiting.remove(&socket);
                    }
                    self.maybe_complete_broadcast(id);
                }
            }
        }
        self.events.push_back(Event::Disconnect { socket, reason });
        if reason.is_recoverable() {
            self.persist(now, socket, *s);
        } else if let Some(pid) = &s.pid {
            self.pids.remove(pid);
        }
    }
}

/// Whether a client can decode a packet whose JSON serde wrote ([`Emit::from_args`],
/// [`crate::value::Args`]): only the placeholders of a binary packet remain to be checked (the
/// application's data could hold an object that looks like one): those of `json`, the
/// packet's data, for `count` attachments.
fn serialized_decodes(json: Option<&str>, count: usize) -> bool {
    count == 0
        || json.is_some_and(|d| crate::value::check_placeholders(d.as_bytes(), count).is_ok())
}

/// The data of an ack (see [`Server::send_ack`]).
enum AckData {
    /// A JSON array from the application, checked before it goes.
    Checked(ByteString),
    /// Arguments serde wrote, or an event's (which the core checked as they came).
    Serialized(crate::value::Args),
}

impl AckData {
    fn len(&self) -> usize {
        match self {
            AckData::Checked(json) => json.len(),
            AckData::Serialized(args) => args.json_len(),
        }
    }
}

/// Whether a client can decode `encoded` (its JSON, event name and placeholders), checked
/// once per command so that bad application data is an `Err` rather than a parse error that
/// disconnects every recipient.
fn client_decodes(encoded: &Encoded) -> bool {
    const UNBOUNDED: crate::limits::Limits = crate::limits::Limits {
        max_payload: usize::MAX,
        max_attachments: usize::MAX,
        max_namespace_len: usize::MAX,
    };
    // Skip the Engine.IO `4`.
    let text = encoded.text.slice_ref(&encoded.text[1..]);
    match Packet::decode(&text, &UNBOUNDED) {
        Ok((packet, count)) => {
            count == encoded.attachments.len()
                && (count == 0
                    || packet.data.as_ref().is_some_and(|d| {
                        crate::value::check_placeholders(d.as_bytes(), count).is_ok()
                    }))
        }
        Err(_) => false,
    }
}
