//! The Socket.IO v5 client state machine (socket.io-client 4.8's `Manager` and `Socket`) on
//! top of the [Engine.IO client](crate::engine::client::EngineClient).
//!
//! One [`Client`] is one connection to a server (a socket.io-client `Manager`) multiplexing
//! any number of namespaces (its `Socket`s, named here by their namespace). The runtime
//! performs the [`Transmit`]s (HTTP requests, WebSockets), feeds their results back
//! (`handle_http_response`, `handle_http_error`, `handle_ws_opened`, `handle_ws_message`,
//! `handle_ws_closed`, `handle_timeout`) and application commands ([`Client::connect`],
//! [`Client::emit`], [`Client::emit_with_ack`], [`Client::ack`], [`Client::disconnect`],
//! [`Client::close`]), then drains [`Client::poll_output`] until it returns `None` and sleeps
//! until [`Client::poll_timeout`]. Every call takes `now` in milliseconds; the jitter of the
//! reconnection delays comes from [`ClientConfig::seed`].
//!
//! ```
//! use sio_core::client::{Client, ClientConfig, Event, Output, SocketOptions};
//! use sio_core::engine::client::Transmit;
//! use sio_core::server::Emit;
//!
//! let mut client = Client::new(ClientConfig::default());
//! client.connect(0, "/", SocketOptions::default()).unwrap();
//! // Offline: the emit waits in the send buffer until the namespace is connected.
//! client.emit(0, "/", &Emit::new(r#"["hello","world"]"#)).unwrap();
//! match client.poll_output() {
//!     Some(Output::Transmit(Transmit::Http { path_and_query, .. })) => {
//!         assert!(path_and_query.starts_with("/socket.io/?EIO=4&transport=polling"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(client.poll_output(), None);
//! assert_eq!(client.poll_timeout(), Some(20_000)); // the connect timeout
//! ```
//!
//! Behaviour, as socket.io-client 4.8:
//! - **Namespaces**: [`connect`](Client::connect) opens the connection if needed and sends
//!   CONNECT with the namespace's auth once it is open; the answer gives [`Event::Connect`]
//!   or [`Event::ConnectError`] (message and data). A refused namespace is no longer active
//!   (it does not reconnect); when no active namespace is left the connection closes.
//! - **Reconnection**: when the connection fails or closes (not by the application), it is
//!   reopened after a [`Backoff`] delay ([`Event::ReconnectAttempt`], then
//!   [`Event::Reconnect`] or [`Event::ReconnectError`], [`Event::ReconnectFailed`] after
//!   [`ClientConfig::reconnection_attempts`]); every active namespace then connects again.
//!   A namespace disconnected by the server (`io server disconnect`) or by the application
//!   is not reconnected.
//! - **Buffering**: emits while a namespace is not connected wait in its send buffer and
//!   leave in order on connect; volatile emits are dropped instead.
//! - **Acks**: [`emit_with_ack`](Client::emit_with_ack) gives an [`EmitId`]; its result is
//!   [`Event::AckReceived`] or [`Event::AckFailed`] (timeout, or disconnection). The server's
//!   ack requests arrive as [`Event::Message`] with `packet.id` set; answer with
//!   [`ack`](Client::ack).
//! - **Retries**: with [`SocketOptions::retries`], every non-volatile emit goes through a
//!   queue: one packet in flight at a time, each sent again when its ack times out or the
//!   connection fails, until acknowledged or `retries + 1` tries were made. Unlike
//!   socket.io-client, every try carries the same ack id: a server that remembers ack ids
//!   (this crate's, with connection state recovery) answers a repeat instead of delivering it
//!   twice, and a late answer to an earlier try counts.
//! - **Connection state recovery**: when the server offers it (a `pid` in its CONNECT
//!   answer), each namespace remembers its `pid` and the offset of the last event received,
//!   and reconnects with them (merged into its auth); [`Event::Connect`]'s `recovered` (and
//!   [`Client::is_recovered`]) tell whether the server took the session back and sent what
//!   was missed. The offset, the last argument of an event that does not ask for an ack, is
//!   taken off before the application sees the event — but only when it is one: this
//!   crate's server appends an offset to every such event, Node's only to those that are not
//!   volatile, so a last string argument counts as an offset only if it has the form of this
//!   crate's offsets (`<8-character prefix>.<hex seq>`, the session's prefix) or of Node's
//!   (`yeast()`: a base-64 millisecond timestamp, optionally `.counter`) and, for Node's,
//!   agrees in time with the offsets already seen in the session (the last one's timestamp,
//!   the local time elapsed since the least delayed one, a margin of minutes). Anything else
//!   is application data, delivered untouched and not recorded. Details and the cases that
//!   stay ambiguous (a string of such a form before the session's first offset) are in the
//!   `offset` module of this crate's source. socket.io-client does differently: it never
//!   takes the offset off (JavaScript handlers ignore an extra argument) and records any last
//!   string argument as the offset, a volatile event's data included. Here the application
//!   sees the same arguments with recovery on or off — Rust handlers decode their arguments
//!   by count and type — and only offsets are sent back on recovery.
//! - **Bounds**: send buffer and retry queue, receive buffer and pending acks per namespace,
//!   the engine's write buffer and decoder limits; server bytes that do not decode close the
//!   connection with `parse error` (then it reconnects).

mod backoff;
mod offset;
mod socket;

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use bytestring::ByteString;

pub use backoff::Backoff;
use socket::{AckOwner, AckWait, Queued, Sock};

use crate::engine::client::{self as engine, EngineClient, EngineClientConfig, SendError};
pub use crate::engine::client::{
    CloseReason, RequestId, Transmit, TransportError, TransportKind, WsId,
};
use crate::engine::Frame;
use crate::id::IdGenerator;
pub use crate::server::Emit;
use crate::socket::{Decoder, Packet, PacketType, RESERVED_EVENTS};
use crate::timers::{Millis, Timers};

/// Settings of the client. The defaults are socket.io-client's.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The Engine.IO layer (path `/socket.io/`, transports, query, limits).
    pub engine: EngineClientConfig,
    /// Reconnect after the connection fails or closes (default true).
    pub reconnection: bool,
    /// Most reconnection attempts in a row before [`Event::ReconnectFailed`]; `None` for no
    /// limit (default).
    pub reconnection_attempts: Option<u32>,
    /// The first reconnection delay, ms (default 1000).
    pub reconnection_delay: Millis,
    /// The largest reconnection delay, ms (default 5000).
    pub reconnection_delay_max: Millis,
    /// The growth of the delay per attempt (default 2).
    pub reconnection_factor: f64,
    /// The relative jitter of each delay, in `(0, 1]`; other values mean none (default 0.5).
    pub randomization_factor: f64,
    /// How long the Engine.IO handshake may take, ms; `None` to wait forever (default
    /// 20 000).
    pub timeout: Option<Millis>,
    /// Seed of the random draws (reconnection jitter, cache-busting parameters). Take it from
    /// the OS in production.
    pub seed: [u8; 32],
    /// Most packets per namespace waiting in its send buffer and retry queue together; more
    /// emits fail with [`ClientError::BufferFull`].
    pub max_send_buffer: usize,
    /// Most events per namespace kept while it waits for its CONNECT answer; more are dropped.
    pub max_receive_buffer: usize,
    /// Most acknowledgements a namespace may wait for; more emits with ack fail with
    /// [`ClientError::TooManyPendingAcks`].
    pub max_pending_acks: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            engine: EngineClientConfig {
                path: "/socket.io/".to_owned(),
                ..EngineClientConfig::default()
            },
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: 1000,
            reconnection_delay_max: 5000,
            reconnection_factor: 2.0,
            randomization_factor: 0.5,
            timeout: Some(20_000),
            seed: [0; 32],
            max_send_buffer: 10_000,
            max_receive_buffer: 1000,
            max_pending_acks: 10_000,
        }
    }
}

/// Options of one namespace socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketOptions {
    /// The auth object (a JSON object text) sent with CONNECT.
    pub auth: Option<ByteString>,
    /// The default ack timeout of [`Client::emit_with_ack`] and of retried packets, ms.
    pub ack_timeout: Option<Millis>,
    /// With more than 0, every non-volatile emit goes through the retry queue and is tried up
    /// to `retries + 1` times (the server must acknowledge every event).
    pub retries: u32,
}

/// An emit waiting for its acknowledgement, as [`Client::emit_with_ack`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmitId(pub u64);

/// The state of the connection (socket.io-client's `Manager._readyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// No connection (maybe waiting to reconnect).
    Closed,
    /// The Engine.IO handshake is in progress.
    Opening,
    /// Connected.
    Open,
}

/// Why a namespace could not connect. [`ConnectError::message`] gives socket.io-client's
/// `Error.message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The server refused the namespace (CONNECT_ERROR).
    Refused {
        /// The reason given by the server (`Invalid namespace`, a middleware's message).
        message: String,
        /// The error's `data` (JSON), if any.
        data: Option<ByteString>,
    },
    /// The transport failed.
    Transport(TransportError),
    /// The Engine.IO handshake did not complete within [`ClientConfig::timeout`].
    Timeout,
    /// The server answered CONNECT without a session id (a Socket.IO v2 server).
    UnsupportedServer,
}

impl ConnectError {
    /// socket.io-client's message for this error.
    pub fn message(&self) -> &str {
        match self {
            Self::Refused { message, .. } => message,
            Self::Transport(e) => e.message(),
            Self::Timeout => "timeout",
            Self::UnsupportedServer => {
                "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, \
                 but they are not compatible"
            }
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ConnectError {}

/// Why a namespace disconnected. [`DisconnectReason::as_str`] gives socket.io-client's
/// reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server disconnected the namespace; it does not reconnect.
    IoServerDisconnect,
    /// The application disconnected the namespace; it does not reconnect.
    IoClientDisconnect,
    /// No ping from the server in time.
    PingTimeout,
    /// The server closed the transport.
    TransportClose,
    /// The transport failed.
    TransportError,
    /// The server sent bytes that do not decode.
    ParseError,
    /// The connection was closed by the client.
    ForcedClose,
    /// The write buffer overflowed.
    BufferFull,
}

impl DisconnectReason {
    /// socket.io-client's reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IoServerDisconnect => "io server disconnect",
            Self::IoClientDisconnect => "io client disconnect",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::BufferFull => "transport buffer full",
        }
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::TransportError => Self::TransportError,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::BufferFull => Self::BufferFull,
        }
    }
}

/// Why an acknowledgement will not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AckError {
    /// The timeout passed (after the last try, for a retried packet).
    Timeout,
    /// The namespace disconnected before the ack came.
    Disconnected,
}

impl AckError {
    /// socket.io-client's error message.
    pub fn message(self) -> &'static str {
        match self {
            Self::Timeout => "operation has timed out",
            Self::Disconnected => "socket has been disconnected",
        }
    }
}

/// What the application learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The connection opened (the Engine.IO handshake completed).
    Open {
        /// The Engine.IO session id.
        sid: ByteString,
        /// The transport of the handshake.
        transport: TransportKind,
    },
    /// The connection closed. Unless the application closed it (or no namespace is active),
    /// a reconnection follows.
    Close {
        /// Why.
        reason: CloseReason,
    },
    /// The server pinged.
    Ping,
    /// The connection upgraded to WebSocket.
    Upgrade,
    /// The upgrade failed; the connection goes on over polling.
    UpgradeError(TransportError),
    /// A reconnection attempt starts (counting from 1).
    ReconnectAttempt {
        /// The attempt number.
        attempt: u32,
    },
    /// A reconnection attempt succeeded; namespaces connect again.
    Reconnect {
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// A reconnection attempt failed; another follows unless attempts are exhausted.
    ReconnectError {
        /// Why.
        error: ConnectError,
    },
    /// Reconnection attempts are exhausted; the client stays closed.
    ReconnectFailed,
    /// A namespace connected.
    Connect {
        /// The namespace.
        nsp: ByteString,
        /// Its socket id (`socket.id`).
        sid: ByteString,
        /// The private session id for connection state recovery, if the server offers it.
        pid: Option<ByteString>,
        /// Whether the server recovered the previous session (same `pid`).
        recovered: bool,
    },
    /// A namespace could not connect (also sent to every namespace waiting to connect when
    /// the connection fails).
    ConnectError {
        /// The namespace.
        nsp: ByteString,
        /// Why.
        error: ConnectError,
    },
    /// A connected namespace disconnected.
    Disconnect {
        /// The namespace.
        nsp: ByteString,
        /// Why.
        reason: DisconnectReason,
    },
    /// An event from the server. When `packet.id` is set the server waits for an ack: answer
    /// with [`Client::ack`]. `packet.event_name()` and [`crate::value::read_args`] read it.
    Message {
        /// The namespace.
        nsp: ByteString,
        /// The EVENT or BINARY_EVENT packet.
        packet: Packet,
    },
    /// The server acknowledged an emit.
    AckReceived {
        /// The namespace.
        nsp: ByteString,
        /// The emit.
        emit: EmitId,
        /// The ACK or BINARY_ACK packet (its data is the JSON array of the ack's arguments).
        packet: Packet,
    },
    /// An emit will not be acknowledged.
    AckFailed {
        /// The namespace.
        nsp: ByteString,
        /// The emit.
        emit: EmitId,
        /// Why.
        error: AckError,
    },
}

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A transport action.
    Transmit(Transmit),
    /// Tell the application.
    Event(Event),
}

/// Misuse of the API, or back-pressure. The server never causes one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No socket for this namespace: call [`Client::connect`] first.
    UnknownNamespace(String),
    /// A namespace must start with `/` and fit the configured limit.
    InvalidNamespace(String),
    /// The auth is not a JSON object.
    InvalidAuth,
    /// The data of an event is not a JSON array starting with an event name.
    InvalidEventData,
    /// The event name is reserved (`connect`, `disconnect`, ...).
    ReservedEvent(String),
    /// The ack data is not a JSON array.
    InvalidAckData,
    /// The namespace is not connected (acks cannot be buffered).
    NotConnected(String),
    /// The namespace's send buffer, or the connection's write buffer, is full.
    BufferFull,
    /// The namespace waits for [`ClientConfig::max_pending_acks`] acks already.
    TooManyPendingAcks,
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownNamespace(n) => write!(f, "no socket for namespace {n}"),
            Self::InvalidNamespace(n) => write!(f, "invalid namespace {n:?}"),
            Self::InvalidAuth => f.write_str("auth must be a JSON object"),
            Self::InvalidEventData => {
                f.write_str("event data must be a JSON array starting with the event name")
            }
            Self::ReservedEvent(n) => write!(f, "\"{n}\" is a reserved event name"),
            Self::InvalidAckData => f.write_str("ack data must be a JSON array"),
            Self::NotConnected(n) => write!(f, "namespace {n} is not connected"),
            Self::BufferFull => f.write_str("send buffer is full"),
            Self::TooManyPendingAcks => f.write_str("too many acknowledgements pending"),
        }
    }
}

impl std::error::Error for ClientError {}

/// Sizes of the client's buffers, to watch memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Namespace sockets.
    pub sockets: usize,
    /// Packets in send buffers and retry queues.
    pub buffered_packets: usize,
    /// Events waiting for a CONNECT answer.
    pub received_buffered: usize,
    /// Acknowledgements waited for.
    pub pending_acks: usize,
    /// Frames in the Engine.IO write buffer.
    pub engine_frames: usize,
    /// Outputs not yet polled.
    pub queued_outputs: usize,
    /// Pending deadlines.
    pub timers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKey {
    /// The Engine.IO handshake must complete.
    Connect,
    /// Start the next reconnection attempt.
    Reconnect,
    /// An ack is due: socket key, wire ack id.
    Ack(u64, u64),
}

/// The Socket.IO client state machine. See the [module docs](self).
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    rng: IdGenerator,
    engine: EngineClient,
    decoder: Decoder,
    backoff: Backoff,
    state: ConnectionState,
    /// A reconnection attempt is scheduled or in progress.
    reconnecting: bool,
    /// Do not reconnect (the application closed the connection).
    skip_reconnect: bool,
    /// The current opening is a reconnection attempt.
    attempt_open: bool,
    connect_deadline: Option<Millis>,
    reconnect_deadline: Option<Millis>,
    sockets: BTreeMap<ByteString, Sock>,
    by_key: BTreeMap<u64, ByteString>,
    next_key: u64,
    next_emit: u64,
    timers: Timers<TimerKey>,
    events: VecDeque<Event>,
}

impl Client {
    /// A client with `config`. Nothing happens until [`connect`](Self::connect) (or
    /// [`open`](Self::open)).
    pub fn new(config: ClientConfig) -> Self {
        let mut rng = IdGenerator::new(config.seed);
        let mut engine_seed = [0u8; 32];
        for chunk in engine_seed.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        let backoff = Backoff::new(
            config.reconnection_delay,
            config.reconnection_delay_max,
            config.reconnection_factor,
            config.randomization_factor,
        );
        Client {
            engine: EngineClient::new(config.engine.clone(), engine_seed),
            decoder: Decoder::new(config.engine.limits),
            rng,
            backoff,
            config,
            state: ConnectionState::Closed,
            reconnecting: false,
            skip_reconnect: false,
            attempt_open: false,
            connect_deadline: None,
            reconnect_deadline: None,
            sockets: BTreeMap::new(),
            by_key: BTreeMap::new(),
            next_key: 0,
            next_emit: 0,
            timers: Timers::default(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The Engine.IO layer (read-only).
    pub fn engine(&self) -> &EngineClient {
        &self.engine
    }

    /// The state of the connection.
    pub fn state(&self) -> ConnectionState {
        self.state
    }

    /// Whether a reconnection is scheduled or in progress.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// When the scheduled reconnection attempt starts.
    pub fn reconnect_deadline(&self) -> Option<Millis> {
        self.reconnect_deadline
    }

    /// The reconnection backoff (its [`Backoff::attempts`] and [`Backoff::bounds`]).
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// Whether a namespace is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.sockets.get(nsp).is_some_and(|s| s.connected)
    }

    /// Whether a namespace will connect (again) when the connection opens.
    pub fn is_active(&self, nsp: &str) -> bool {
        self.sockets.get(nsp).is_some_and(|s| s.active)
    }

    /// The socket id of a connected namespace.
    pub fn socket_id(&self, nsp: &str) -> Option<&ByteString> {
        self.sockets.get(nsp).and_then(|s| s.sid.as_ref())
    }

    /// The recovery session id and last offset of a namespace (kept across reconnections).
    pub fn recovery_state(&self, nsp: &str) -> Option<(&ByteString, Option<&ByteString>)> {
        let s = self.sockets.get(nsp)?;
        Some((s.pid.as_ref()?, s.last_offset.as_ref()))
    }

    /// Whether the last connection of a namespace recovered its previous session.
    pub fn is_recovered(&self, nsp: &str) -> bool {
        self.sockets.get(nsp).is_some_and(|s| s.recovered)
    }

    /// The namespaces that have a socket, in order.
    pub fn namespaces(&self) -> impl Iterator<Item = &ByteString> {
        self.sockets.keys()
    }

    /// Sizes of the buffers.
    pub fn stats(&self) -> Stats {
        let mut st = Stats {
            sockets: self.sockets.len(),
            engine_frames: self.engine.buffered_frames(),
            queued_outputs: self.events.len() + self.engine.queued_outputs(),
            timers: self.timers.len() + usize::from(self.engine.poll_timeout().is_some()),
            ..Stats::default()
        };
        for s in self.sockets.values() {
            st.buffered_packets += s.send_buffer.len() + s.queue.len();
            st.received_buffered += s.receive_buffer.len();
            st.pending_acks += s.acks.len();
        }
        st
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

    // ----- transport input -------------------------------------------------------------

    /// The response to an HTTP request.
    pub fn handle_http_response(&mut self, now: Millis, req: RequestId, status: u16, body: Bytes) {
        self.engine.handle_http_response(now, req, status, body);
        self.after(now);
    }

    /// An HTTP request failed without a response.
    pub fn handle_http_error(&mut self, now: Millis, req: RequestId) {
        self.engine.handle_http_error(now, req);
        self.after(now);
    }

    /// A WebSocket opened.
    pub fn handle_ws_opened(&mut self, now: Millis, ws: WsId) {
        self.engine.handle_ws_opened(now, ws);
        self.after(now);
    }

    /// A WebSocket message arrived.
    pub fn handle_ws_message(&mut self, now: Millis, ws: WsId, frame: Frame) {
        self.engine.handle_ws_message(now, ws, frame);
        self.after(now);
    }

    /// A WebSocket closed or failed (`error`), or could not be opened.
    pub fn handle_ws_closed(&mut self, now: Millis, ws: WsId, error: bool) {
        self.engine.handle_ws_closed(now, ws, error);
        self.after(now);
    }

    /// Handle every deadline due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.engine.handle_timeout(now);
        self.pump(now);
        while let Some((_, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Connect => {
                    self.connect_deadline = None;
                    if self.state == ConnectionState::Opening {
                        self.engine.close(now);
                        self.on_open_error(now, ConnectError::Timeout);
                    }
                }
                TimerKey::Reconnect => {
                    self.reconnect_deadline = None;
                    if !self.skip_reconnect && self.reconnecting {
                        self.events.push_back(Event::ReconnectAttempt {
                            attempt: self.backoff.attempts(),
                        });
                        self.open_connection(now, true);
                    }
                }
                TimerKey::Ack(key, id) => self.on_ack_timeout(now, key, id),
            }
            self.pump(now);
        }
        self.after(now);
    }

    // ----- application commands --------------------------------------------------------

    /// Open the connection without connecting a namespace (socket.io-client's `io.open()`).
    pub fn open(&mut self, now: Millis) {
        if !self.reconnecting {
            self.open_connection(now, false);
        }
        self.after(now);
    }

    /// Connect a namespace (creating its socket, or updating its options if not connected):
    /// opens the connection if needed and sends CONNECT with `opts.auth` once it is open.
    pub fn connect(
        &mut self,
        now: Millis,
        nsp: &str,
        opts: SocketOptions,
    ) -> Result<(), ClientError> {
        if !nsp.starts_with('/') || nsp.len() > self.config.engine.limits.max_namespace_len {
            return Err(ClientError::InvalidNamespace(nsp.to_owned()));
        }
        if let Some(auth) = &opts.auth {
            let is_object = matches!(
                serde_json::from_str::<serde_json::Value>(auth),
                Ok(serde_json::Value::Object(_))
            );
            if !is_object {
                return Err(ClientError::InvalidAuth);
            }
        }
        if !self.sockets.contains_key(nsp) {
            let key = self.next_key;
            self.next_key += 1;
            self.by_key.insert(key, ByteString::from(nsp));
            self.sockets
                .insert(ByteString::from(nsp), Sock::new(key, opts.clone()));
        }
        let sock = self.sockets.get_mut(nsp).expect("inserted above");
        if sock.connected {
            return Ok(());
        }
        sock.opts = opts;
        sock.active = true;
        if !self.reconnecting {
            self.open_connection(now, false);
        }
        if self.state == ConnectionState::Open {
            self.send_connect(now, nsp);
        }
        self.after(now);
        Ok(())
    }

    /// Disconnect a namespace (socket.io-client's `socket.disconnect()`): DISCONNECT is sent
    /// if it is connected, it will not reconnect, and when no active namespace is left the
    /// connection closes (no reconnection).
    pub fn disconnect(&mut self, now: Millis, nsp: &str) -> Result<(), ClientError> {
        let sock = self
            .sockets
            .get_mut(nsp)
            .ok_or_else(|| ClientError::UnknownNamespace(nsp.to_owned()))?;
        let nsp = ByteString::from(nsp);
        if sock.connected || sock.connecting {
            let frames: Vec<Frame> = Packet::disconnect(nsp.clone()).encode().frames().collect();
            let _ = self.engine.send(now, frames);
        }
        let sock = self.sockets.get_mut(&nsp).expect("checked above");
        let was_active = std::mem::replace(&mut sock.active, false);
        sock.connecting = false;
        let was_connected = sock.connected;
        if was_active {
            self.maybe_close_connection(now);
        }
        if was_connected {
            self.socket_closed(now, &nsp, DisconnectReason::IoClientDisconnect);
        }
        self.after(now);
        Ok(())
    }

    /// Disconnect every namespace and close the connection; no reconnection follows.
    pub fn close(&mut self, now: Millis) {
        let active: Vec<ByteString> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(n, _)| n.clone())
            .collect();
        for nsp in active {
            let _ = self.disconnect(now, &nsp);
        }
        if self.state != ConnectionState::Closed || self.reconnecting {
            self.close_connection(now);
        }
        self.after(now);
    }

    /// Send an event (`data` is the JSON array `["name", args...]`). Returns `false` when a
    /// volatile emit was dropped because the namespace or the transport was not ready.
    /// Otherwise it is sent now, or buffered until the namespace connects.
    pub fn emit(&mut self, now: Millis, nsp: &str, emit: &Emit) -> Result<bool, ClientError> {
        self.emit_inner(now, nsp, emit, None).map(|(sent, _)| sent)
    }

    /// Send an event and wait for its ack: [`Event::AckReceived`] or [`Event::AckFailed`]
    /// with the returned id follows. `timeout` (else [`SocketOptions::ack_timeout`]) bounds
    /// the wait; without one the ack is waited for until the namespace disconnects.
    pub fn emit_with_ack(
        &mut self,
        now: Millis,
        nsp: &str,
        emit: &Emit,
        timeout: Option<Millis>,
    ) -> Result<EmitId, ClientError> {
        let id = EmitId(self.next_emit);
        self.emit_inner(now, nsp, emit, Some((id, timeout)))?;
        self.next_emit += 1;
        Ok(id)
    }

    /// Acknowledge an event the server sent with ack id `id`; `data` is the JSON array of the
    /// ack's arguments.
    pub fn ack(
        &mut self,
        now: Millis,
        nsp: &str,
        id: u64,
        data: ByteString,
        attachments: Vec<Bytes>,
    ) -> Result<(), ClientError> {
        let sock = self
            .sockets
            .get(nsp)
            .ok_or_else(|| ClientError::UnknownNamespace(nsp.to_owned()))?;
        if !sock.connected {
            return Err(ClientError::NotConnected(nsp.to_owned()));
        }
        if !data.trim_start().starts_with('[') {
            return Err(ClientError::InvalidAckData);
        }
        let packet = Packet::ack(ByteString::from(nsp), data, id, attachments);
        let frames: Vec<Frame> = packet.encode().frames().collect();
        let r = self.engine.send(now, frames).map_err(|e| match e {
            SendError::BufferFull => ClientError::BufferFull,
            SendError::NotOpen => ClientError::NotConnected(nsp.to_owned()),
        });
        self.after(now);
        r
    }

    // ----- internals: the manager --------------------------------------------------------

    /// After every input: handle the engine's events, then send what waited for room.
    fn after(&mut self, now: Millis) {
        self.pump(now);
        self.flush_send_buffers(now);
        self.pump(now);
    }

    /// socket.io-client's `Manager.open`.
    fn open_connection(&mut self, now: Millis, attempt: bool) {
        if self.state != ConnectionState::Closed {
            return;
        }
        self.state = ConnectionState::Opening;
        self.skip_reconnect = false;
        self.attempt_open = attempt;
        self.decoder.reset();
        self.engine.open(now);
        if let Some(t) = self.config.timeout {
            let at = now.saturating_add(t);
            self.connect_deadline = Some(at);
            self.timers.insert(at, TimerKey::Connect);
        }
    }

    fn clear_connect_timer(&mut self) {
        if let Some(at) = self.connect_deadline.take() {
            self.timers.remove(at, TimerKey::Connect);
        }
    }

    fn clear_reconnect_timer(&mut self) {
        if let Some(at) = self.reconnect_deadline.take() {
            self.timers.remove(at, TimerKey::Reconnect);
        }
    }

    fn pump(&mut self, now: Millis) {
        while let Some(e) = self.engine.poll_event() {
            match e {
                engine::Event::Open {
                    handshake,
                    transport,
                } if self.state == ConnectionState::Opening => {
                    self.on_open(now, ByteString::from(handshake.sid), transport)
                }
                engine::Event::OpenFailed(err) if self.state == ConnectionState::Opening => {
                    self.on_open_error(now, ConnectError::Transport(err));
                }
                _ if self.state != ConnectionState::Open => {}
                engine::Event::Message(text) => {
                    let r = self.decoder.decode_text(&text);
                    self.on_decoded(now, r);
                }
                engine::Event::Binary(data) => {
                    let r = self.decoder.decode_binary(data);
                    self.on_decoded(now, r);
                }
                engine::Event::Ping => self.events.push_back(Event::Ping),
                engine::Event::Upgrade => self.events.push_back(Event::Upgrade),
                engine::Event::UpgradeError(e) => self.events.push_back(Event::UpgradeError(e)),
                engine::Event::Close { reason, error } => {
                    if let Some(err) = error {
                        self.connect_error_to_pending(&ConnectError::Transport(err));
                    }
                    self.on_close(now, reason);
                }
                engine::Event::Open { .. } | engine::Event::OpenFailed(_) => {}
            }
        }
    }

    /// socket.io-client's `Manager.onopen` (and `onreconnect` after an attempt).
    fn on_open(&mut self, now: Millis, sid: ByteString, transport: TransportKind) {
        self.clear_connect_timer();
        self.state = ConnectionState::Open;
        self.decoder.reset();
        self.events.push_back(Event::Open { sid, transport });
        let active: Vec<ByteString> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(n, _)| n.clone())
            .collect();
        for nsp in active {
            self.send_connect(now, &nsp);
        }
        if self.attempt_open {
            self.attempt_open = false;
            let attempt = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.events.push_back(Event::Reconnect { attempt });
        }
    }

    /// socket.io-client's `onError` of `Manager.open`: the handshake failed.
    fn on_open_error(&mut self, now: Millis, error: ConnectError) {
        self.clear_connect_timer();
        self.state = ConnectionState::Closed;
        self.decoder.reset();
        self.connect_error_to_pending(&error);
        if self.attempt_open {
            self.attempt_open = false;
            self.reconnecting = false;
            self.reconnect(now);
            self.events.push_back(Event::ReconnectError { error });
        } else if !self.reconnecting && self.config.reconnection && self.backoff.attempts() == 0 {
            self.reconnect(now);
        }
    }

    /// `connect_error` for every active namespace not connected (socket.io-client's
    /// `Socket.onerror`).
    fn connect_error_to_pending(&mut self, error: &ConnectError) {
        for (nsp, s) in &self.sockets {
            if s.active && !s.connected {
                self.events.push_back(Event::ConnectError {
                    nsp: nsp.clone(),
                    error: error.clone(),
                });
            }
        }
    }

    /// socket.io-client's `Manager.onclose`.
    fn on_close(&mut self, now: Millis, reason: CloseReason) {
        self.clear_connect_timer();
        self.clear_reconnect_timer();
        self.decoder.reset();
        self.engine.close(now);
        self.backoff.reset();
        self.state = ConnectionState::Closed;
        self.attempt_open = false;
        self.events.push_back(Event::Close { reason });
        let active: Vec<ByteString> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.active)
            .map(|(n, _)| n.clone())
            .collect();
        for nsp in active {
            if let Some(s) = self.sockets.get_mut(&nsp) {
                s.connecting = false;
            }
            self.socket_closed(now, &nsp, reason.into());
        }
        if self.config.reconnection && !self.skip_reconnect {
            self.reconnect(now);
        }
    }

    /// socket.io-client's `Manager.reconnect`: schedule the next attempt.
    fn reconnect(&mut self, now: Millis) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let limit = self.config.reconnection_attempts.unwrap_or(u32::MAX);
        if self.backoff.attempts() >= limit {
            self.backoff.reset();
            self.events.push_back(Event::ReconnectFailed);
            self.reconnecting = false;
        } else {
            let delay = self.backoff.duration(&mut self.rng);
            self.reconnecting = true;
            let at = now.saturating_add(delay);
            self.clear_reconnect_timer();
            self.reconnect_deadline = Some(at);
            self.timers.insert(at, TimerKey::Reconnect);
        }
    }

    /// socket.io-client's `Manager._close`: close for good.
    fn close_connection(&mut self, now: Millis) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.on_close(now, CloseReason::ForcedClose);
    }

    /// socket.io-client's `Manager._destroy`: close when no namespace is active.
    fn maybe_close_connection(&mut self, now: Millis) {
        if !self.sockets.values().any(|s| s.active) {
            self.close_connection(now);
        }
    }

    fn on_decoded(&mut self, now: Millis, r: Result<Option<Packet>, crate::socket::DecodeError>) {
        match r {
            Ok(Some(p)) => self.on_packet(now, p),
            Ok(None) => {}
            Err(_) => self.on_close(now, CloseReason::ParseError),
        }
    }

    // ----- internals: the namespaces -----------------------------------------------------

    fn send_connect(&mut self, now: Millis, nsp: &str) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        if sock.connecting || sock.connected {
            return;
        }
        let packet = Packet::connect(ByteString::from(nsp), sock.connect_data());
        let frames: Vec<Frame> = packet.encode().frames().collect();
        match self.engine.send(now, frames) {
            Ok(()) => sock.connecting = true,
            Err(SendError::BufferFull) => self.on_close(now, CloseReason::BufferFull),
            Err(SendError::NotOpen) => {}
        }
    }

    fn on_packet(&mut self, now: Millis, p: Packet) {
        let Some(sock) = self.sockets.get_mut(&p.nsp).filter(|s| s.active) else {
            return;
        };
        match p.kind {
            PacketType::Connect => {
                if sock.connected {
                    return;
                }
                match socket::parse_connect(p.data.as_deref()) {
                    Some((sid, pid)) => self.on_connect(now, p.nsp, sid, pid),
                    None => self.events.push_back(Event::ConnectError {
                        nsp: p.nsp,
                        error: ConnectError::UnsupportedServer,
                    }),
                }
            }
            PacketType::ConnectError => {
                let (message, data) = socket::parse_connect_error(p.data.as_deref());
                sock.active = false;
                sock.connecting = false;
                let was_connected = sock.connected;
                self.maybe_close_connection(now);
                if was_connected {
                    self.socket_closed(now, &p.nsp, DisconnectReason::IoServerDisconnect);
                }
                self.events.push_back(Event::ConnectError {
                    nsp: p.nsp,
                    error: ConnectError::Refused { message, data },
                });
            }
            PacketType::Disconnect => {
                sock.active = false;
                sock.connecting = false;
                let was_connected = sock.connected;
                self.maybe_close_connection(now);
                if was_connected {
                    self.socket_closed(now, &p.nsp, DisconnectReason::IoServerDisconnect);
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                if sock.connected {
                    let packet = sock.take_offset(p, now);
                    let nsp = packet.nsp.clone();
                    self.events.push_back(Event::Message { nsp, packet });
                } else if sock.receive_buffer.len() < self.config.max_receive_buffer {
                    sock.receive_buffer.push_back(p);
                }
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let Some(id) = p.id else { return };
                let Some(wait) = sock.acks.remove(&id) else {
                    return;
                };
                if let Some(at) = wait.deadline {
                    self.timers.remove(at, TimerKey::Ack(sock.key, id));
                }
                match wait.owner {
                    AckOwner::User(emit) => {
                        let nsp = p.nsp.clone();
                        self.events.push_back(Event::AckReceived {
                            nsp,
                            emit,
                            packet: p,
                        });
                    }
                    AckOwner::Queue(seq) => {
                        let nsp = p.nsp.clone();
                        self.queue_result(now, &nsp, seq, Ok(p));
                    }
                }
            }
        }
    }

    /// socket.io-client's `Socket.onconnect`.
    fn on_connect(
        &mut self,
        now: Millis,
        nsp: ByteString,
        sid: ByteString,
        pid: Option<ByteString>,
    ) {
        let sock = self.sockets.get_mut(&nsp).expect("caller checked");
        let recovered = pid.is_some() && sock.pid == pid;
        sock.recovered = recovered;
        if !recovered {
            sock.forget_offsets();
        }
        sock.pid = pid.clone();
        sock.sid = Some(sid.clone());
        sock.connected = true;
        sock.connecting = false;
        self.events.push_back(Event::Connect {
            nsp: nsp.clone(),
            sid,
            pid,
            recovered,
        });
        let received: Vec<Packet> = sock.receive_buffer.drain(..).collect();
        let received: Vec<Packet> = received
            .into_iter()
            .map(|p| sock.take_offset(p, now))
            .collect();
        for packet in received {
            self.events.push_back(Event::Message {
                nsp: nsp.clone(),
                packet,
            });
        }
        self.flush_send_buffer(now, &nsp);
        self.drain_queue(now, &nsp, true);
    }

    /// socket.io-client's `Socket.onclose`: the namespace is no longer connected; its acks
    /// fail (except those of packets still in the send buffer).
    fn socket_closed(&mut self, now: Millis, nsp: &ByteString, reason: DisconnectReason) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        let was_connected = sock.connected;
        sock.connected = false;
        sock.sid = None;
        if was_connected {
            self.events.push_back(Event::Disconnect {
                nsp: nsp.clone(),
                reason,
            });
        }
        self.clear_acks(now, nsp);
    }

    /// socket.io-client's `Socket._clearAcks`.
    fn clear_acks(&mut self, now: Millis, nsp: &ByteString) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        let buffered: Vec<u64> = sock.send_buffer.iter().filter_map(|p| p.id).collect();
        let ids: Vec<u64> = sock
            .acks
            .keys()
            .copied()
            .filter(|id| !buffered.contains(id))
            .collect();
        let mut failed_queue = Vec::new();
        for id in ids {
            let wait = sock.acks.remove(&id).expect("listed above");
            if let Some(at) = wait.deadline {
                self.timers.remove(at, TimerKey::Ack(sock.key, id));
            }
            match wait.owner {
                AckOwner::User(emit) => self.events.push_back(Event::AckFailed {
                    nsp: nsp.clone(),
                    emit,
                    error: AckError::Disconnected,
                }),
                // A retried packet with a timeout counts this as a failed try; without one it
                // is simply sent again on reconnection.
                AckOwner::Queue(seq) if wait.deadline.is_some() => failed_queue.push(seq),
                AckOwner::Queue(_) => {}
            }
        }
        for seq in failed_queue {
            self.queue_result(now, nsp, seq, Err(AckError::Disconnected));
        }
    }

    fn on_ack_timeout(&mut self, now: Millis, key: u64, id: u64) {
        let Some(nsp) = self.by_key.get(&key).cloned() else {
            return;
        };
        let Some(sock) = self.sockets.get_mut(&nsp) else {
            return;
        };
        let Some(wait) = sock.acks.remove(&id) else {
            return;
        };
        sock.send_buffer.retain(|p| p.id != Some(id));
        match wait.owner {
            AckOwner::User(emit) => self.events.push_back(Event::AckFailed {
                nsp,
                emit,
                error: AckError::Timeout,
            }),
            AckOwner::Queue(seq) => self.queue_result(now, &nsp, seq, Err(AckError::Timeout)),
        }
    }

    /// The result of one try of the retry queue's head (socket.io-client's queue callback).
    fn queue_result(
        &mut self,
        now: Millis,
        nsp: &ByteString,
        seq: u64,
        result: Result<Packet, AckError>,
    ) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        let Some(head) = sock.queue.front_mut() else {
            return;
        };
        if head.seq != seq {
            return; // already settled
        }
        head.pending = false;
        match result {
            Ok(packet) => {
                let head = sock.queue.pop_front().expect("checked above");
                if let Some(emit) = head.emit {
                    self.events.push_back(Event::AckReceived {
                        nsp: nsp.clone(),
                        emit,
                        packet,
                    });
                }
            }
            Err(error) => {
                if head.tries > sock.opts.retries {
                    let head = sock.queue.pop_front().expect("checked above");
                    if let Some(emit) = head.emit {
                        self.events.push_back(Event::AckFailed {
                            nsp: nsp.clone(),
                            emit,
                            error,
                        });
                    }
                }
            }
        }
        self.drain_queue(now, nsp, false);
    }

    /// socket.io-client's `_drainQueue`: send the queue's head if connected and not already
    /// waiting for its ack (or `force`).
    fn drain_queue(&mut self, now: Millis, nsp: &ByteString, force: bool) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        if !sock.connected {
            return;
        }
        let Some(head) = sock.queue.front() else {
            return;
        };
        if head.pending && !force {
            return;
        }
        let frames_needed = 1 + head.attachments.len();
        if self.engine.buffer_room() < frames_needed {
            // Tried again when the ack times out, or on the next connection.
            return;
        }
        let timeout = head.timeout.or(sock.opts.ack_timeout);
        // Every try of a packet carries the same ack id: a server that remembers ack ids
        // (this crate's, with connection state recovery) answers a repeat instead of
        // delivering it twice, and a late answer to an earlier try still counts.
        let id = match head.wire_id {
            Some(id) => id,
            None => sock.next_ack_id(),
        };
        let head = sock.queue.front_mut().expect("checked above");
        head.wire_id = Some(id);
        head.pending = true;
        head.tries = head.tries.saturating_add(1);
        let packet = Packet::event(
            nsp.clone(),
            head.data.clone(),
            Some(id),
            head.attachments.clone(),
        );
        let seq = head.seq;
        self.register_ack(now, nsp, id, AckOwner::Queue(seq), timeout);
        let frames: Vec<Frame> = packet.encode().frames().collect();
        let _ = self.engine.send(now, frames);
    }

    fn register_ack(
        &mut self,
        now: Millis,
        nsp: &ByteString,
        id: u64,
        owner: AckOwner,
        timeout: Option<Millis>,
    ) {
        let Some(sock) = self.sockets.get_mut(nsp) else {
            return;
        };
        let deadline = timeout.map(|t| now.saturating_add(t));
        if let Some(at) = deadline {
            self.timers.insert(at, TimerKey::Ack(sock.key, id));
        }
        sock.acks.insert(id, AckWait { owner, deadline });
    }

    fn emit_inner(
        &mut self,
        now: Millis,
        nsp: &str,
        emit: &Emit,
        ack: Option<(EmitId, Option<Millis>)>,
    ) -> Result<(bool, Option<EmitId>), ClientError> {
        // An expired heartbeat closes the connection first, so that the emit is buffered
        // (socket.io-client's `_hasPingExpired`).
        if self.poll_timeout().is_some_and(|t| t <= now) {
            self.handle_timeout(now);
        }
        let name = crate::socket::packet::event_name_of(&emit.data)
            .ok_or(ClientError::InvalidEventData)?;
        if RESERVED_EVENTS.contains(&&*name) {
            return Err(ClientError::ReservedEvent(name.into_owned()));
        }
        let max_send = self.config.max_send_buffer;
        let max_acks = self.config.max_pending_acks;
        let (nsp, sock) = self
            .sockets
            .get_key_value(nsp)
            .ok_or_else(|| ClientError::UnknownNamespace(nsp.to_owned()))?;
        let nsp = nsp.clone();
        let buffered = sock.send_buffer.len() + sock.queue.len();
        if sock.opts.retries > 0 && !emit.volatile {
            if buffered >= max_send {
                return Err(ClientError::BufferFull);
            }
            let sock = self.sockets.get_mut(&nsp).expect("found above");
            let seq = sock.next_seq;
            sock.next_seq += 1;
            sock.queue.push_back(Queued {
                seq,
                emit: ack.map(|(id, _)| id),
                data: emit.data.clone(),
                attachments: emit.attachments.clone(),
                timeout: ack.and_then(|(_, t)| t),
                tries: 0,
                pending: false,
                wire_id: None,
            });
            self.drain_queue(now, &nsp, false);
            self.after(now);
            return Ok((true, ack.map(|(id, _)| id)));
        }
        let frames_needed = 1 + emit.attachments.len();
        let connected = sock.connected;
        let writable = self.engine.is_writable();
        if ack.is_some() && sock.acks.len() >= max_acks {
            return Err(ClientError::TooManyPendingAcks);
        }
        let drop = emit.volatile && !(connected && writable);
        if !drop {
            if connected && self.engine.buffer_room() < frames_needed {
                return Err(ClientError::BufferFull);
            }
            if !connected && buffered >= max_send {
                return Err(ClientError::BufferFull);
            }
        }
        let sock = self.sockets.get_mut(&nsp).expect("found above");
        let wire_id = ack.map(|_| sock.next_ack_id());
        let timeout = ack.and_then(|(_, t)| t).or(sock.opts.ack_timeout);
        if let (Some((emit_id, _)), Some(id)) = (ack, wire_id) {
            self.register_ack(now, &nsp, id, AckOwner::User(emit_id), timeout);
        }
        let packet = Packet::event(
            nsp.clone(),
            emit.data.clone(),
            wire_id,
            emit.attachments.clone(),
        );
        if drop {
            return Ok((false, ack.map(|(id, _)| id)));
        }
        if connected {
            let frames: Vec<Frame> = packet.encode().frames().collect();
            let _ = self.engine.send(now, frames);
        } else {
            let sock = self.sockets.get_mut(&nsp).expect("found above");
            sock.send_buffer.push_back(packet);
        }
        self.after(now);
        Ok((true, ack.map(|(id, _)| id)))
    }

    /// Send what a connected namespace buffered while offline, as far as the write buffer
    /// has room.
    fn flush_send_buffer(&mut self, now: Millis, nsp: &ByteString) {
        loop {
            let Some(sock) = self.sockets.get_mut(nsp) else {
                return;
            };
            if !sock.connected {
                return;
            }
            let Some(p) = sock.send_buffer.front() else {
                return;
            };
            if self.engine.buffer_room() < 1 + p.attachments.len() {
                return;
            }
            let p = sock.send_buffer.pop_front().expect("checked above");
            let frames: Vec<Frame> = p.encode().frames().collect();
            if self.engine.send(now, frames).is_err() {
                return;
            }
        }
    }

    fn flush_send_buffers(&mut self, now: Millis) {
        if self.state != ConnectionState::Open {
            return;
        }
        let waiting: Vec<ByteString> = self
            .sockets
            .iter()
            .filter(|(_, s)| s.connected && !s.send_buffer.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        for nsp in waiting {
            self.flush_send_buffer(now, &nsp);
        }
    }
}

#[cfg(test)]
mod tests;
