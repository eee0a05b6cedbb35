//! The Socket.IO client: the [`sio_core::client::Client`] state machine attached to HTTP
//! long-polling and WebSocket through the runtime (hyper and tokio-tungstenite with
//! `sio-tokio`, hyper and async-tungstenite with `sio-async-std`).
//!
//! ```no_run
//! use std::time::Duration;
//! use sio_tokio::client::ClientBuilder;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = ClientBuilder::new("http://127.0.0.1:3000")
//!     .auth(serde_json::json!({ "token": "secret" }))
//!     .on("chat message", |_socket, msg| async move {
//!         println!("got {}", msg.json());
//!     })
//!     .connect()
//!     .await?;
//! client.emit("chat message", &serde_json::json!({ "name": "rust", "text": "hello" }))?;
//! let delivered: bool = client
//!     .emit_with_ack("chat message", &serde_json::json!({ "name": "rust", "text": "ack?" }), Duration::from_secs(5))
//!     .await?;
//! # let _ = delivered;
//! client.disconnect();
//! # Ok(())
//! # }
//! ```

pub(crate) mod driver;

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_core::client::{
    ClientConfig, ConnectError, ConnectionState, DisconnectReason, SocketOptions,
};
use sio_core::engine::client::TransportKind;
use sio_core::server::Emit;
use sio_core::socket::Packet;
use sio_core::ByteString;
use tokio::sync::oneshot;

use driver::ClientDriver;

use crate::rt::RuntimeKind;

pub use sio_core::client::AckError as CoreAckError;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type EventHandler = Arc<dyn Fn(Socket, Message) -> BoxFuture + Send + Sync>;
type ConnectHandler = Arc<dyn Fn(Socket) + Send + Sync>;
type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(Socket, ConnectError) + Send + Sync>;
type ManagerHandler = Arc<dyn Fn(ManagerEvent) + Send + Sync>;

/// Connection-level events (socket.io-client's `Manager` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerEvent {
    /// A reconnection attempt starts (counting from 1).
    ReconnectAttempt(u32),
    /// A reconnection attempt succeeded.
    Reconnect(u32),
    /// A reconnection attempt failed.
    ReconnectError(String),
    /// Reconnection attempts are exhausted.
    ReconnectFailed,
    /// The connection upgraded to WebSocket.
    Upgrade,
    /// The connection closed.
    Close(String),
}

/// Listeners of one namespace socket.
#[derive(Default)]
pub(crate) struct Listeners {
    events: HashMap<String, Vec<EventHandler>>,
    any: Vec<EventHandler>,
    connect: Vec<ConnectHandler>,
    disconnect: Vec<DisconnectHandler>,
    connect_error: Vec<ErrorHandler>,
}

/// Builds a [`Client`] on runtime `Rt` (the runtime crates export it as
/// `client::ClientBuilder`): the URL, path, namespaces and their auth, transports,
/// reconnection options, extra headers and query, and the listeners.
pub struct ClientBuilder<Rt> {
    url: String,
    config: ClientConfig,
    headers: Vec<(String, String)>,
    namespaces: Vec<(String, SocketOptions, Listeners)>,
    manager: Vec<ManagerHandler>,
    _rt: PhantomData<fn() -> Rt>,
}

impl<Rt> std::fmt::Debug for ClientBuilder<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .finish()
    }
}

impl<Rt: RuntimeKind> ClientBuilder<Rt> {
    /// A client of the server at `url` (`http://host:port`, optionally with a namespace path,
    /// as `io("http://host:port/admin")` in socket.io-client).
    pub fn new(url: &str) -> Self {
        let (origin, nsp) = split_url(url);
        let mut config = ClientConfig::default();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the OS provides randomness");
        config.seed = seed;
        ClientBuilder {
            url: origin,
            config,
            headers: Vec::new(),
            namespaces: vec![(nsp, SocketOptions::default(), Listeners::default())],
            manager: Vec::new(),
            _rt: PhantomData,
        }
    }

    fn main(&mut self) -> &mut (String, SocketOptions, Listeners) {
        &mut self.namespaces[0]
    }

    /// The server's path (default `/socket.io/`).
    pub fn path(mut self, path: &str) -> Self {
        let mut p = path.to_owned();
        if !p.ends_with('/') {
            p.push('/');
        }
        self.config.engine.path = p;
        self
    }

    /// The namespace of the main socket (default `/`).
    pub fn namespace(mut self, nsp: &str) -> Self {
        self.main().0 = nsp.to_owned();
        self
    }

    /// The auth object sent when the main socket connects.
    pub fn auth(mut self, auth: impl Serialize) -> Self {
        self.main().1.auth = serde_json::to_string(&auth).ok().map(ByteString::from);
        self
    }

    /// Transports, in order (default polling then WebSocket; `[WebSocket]` for WebSocket only).
    pub fn transports(mut self, transports: &[TransportKind]) -> Self {
        self.config.engine.transports = transports.to_vec();
        self
    }

    /// Try to upgrade from polling to WebSocket (default true).
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.config.engine.upgrade = upgrade;
        self
    }

    /// Reconnect automatically (default true).
    pub fn reconnection(mut self, on: bool) -> Self {
        self.config.reconnection = on;
        self
    }

    /// Most reconnection attempts (default unlimited).
    pub fn reconnection_attempts(mut self, n: u32) -> Self {
        self.config.reconnection_attempts = Some(n);
        self
    }

    /// First reconnection delay (default 1 s).
    pub fn reconnection_delay(mut self, d: Duration) -> Self {
        self.config.reconnection_delay = d.as_millis() as u64;
        self
    }

    /// Largest reconnection delay (default 5 s).
    pub fn reconnection_delay_max(mut self, d: Duration) -> Self {
        self.config.reconnection_delay_max = d.as_millis() as u64;
        self
    }

    /// Jitter of reconnection delays, 0..=1 (default 0.5).
    pub fn randomization_factor(mut self, f: f64) -> Self {
        self.config.randomization_factor = f;
        self
    }

    /// How long the connection may take to open (default 20 s).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.config.timeout = Some(d.as_millis() as u64);
        self
    }

    /// Default ack timeout of the main socket, also the retry timeout.
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.main().1.ack_timeout = Some(d.as_millis() as u64);
        self
    }

    /// Retries of every emit of the main socket until acknowledged (socket.io-client's
    /// `retries`).
    pub fn retries(mut self, n: u32) -> Self {
        self.main().1.retries = n;
        self
    }

    /// An extra HTTP header on every request (polling and the WebSocket handshake).
    pub fn extra_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// An extra query parameter on every request.
    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.config
            .engine
            .query
            .push((key.to_owned(), value.to_owned()));
        self
    }

    /// The seed of the client's random draws (reconnection jitter); drawn from the OS by
    /// default.
    pub fn seed(mut self, seed: [u8; 32]) -> Self {
        self.config.seed = seed;
        self
    }

    /// Listen to an event of the main socket.
    pub fn on<F, Fut>(mut self, event: &str, handler: F) -> Self
    where
        F: Fn(Socket, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler = Arc::new(move |s, m| Box::pin(handler(s, m)));
        self.main()
            .2
            .events
            .entry(event.to_owned())
            .or_default()
            .push(h);
        self
    }

    /// Listen to every event of the main socket.
    pub fn on_any<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Socket, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler = Arc::new(move |s, m| Box::pin(handler(s, m)));
        self.main().2.any.push(h);
        self
    }

    /// Run when the main socket connects (and reconnects).
    pub fn on_connect(mut self, f: impl Fn(Socket) + Send + Sync + 'static) -> Self {
        self.main().2.connect.push(Arc::new(f));
        self
    }

    /// Run when the main socket disconnects, with socket.io-client's reason.
    pub fn on_disconnect(
        mut self,
        f: impl Fn(Socket, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        self.main().2.disconnect.push(Arc::new(f));
        self
    }

    /// Run when the main socket cannot connect (`connect_error`).
    pub fn on_connect_error(
        mut self,
        f: impl Fn(Socket, ConnectError) + Send + Sync + 'static,
    ) -> Self {
        self.main().2.connect_error.push(Arc::new(f));
        self
    }

    /// Listen to connection-level events (reconnection attempts, upgrade, close).
    pub fn on_manager(mut self, f: impl Fn(ManagerEvent) + Send + Sync + 'static) -> Self {
        self.manager.push(Arc::new(f));
        self
    }

    /// Start connecting and return at once, as `io(url)` does. Must be called inside the
    /// runtime (with tokio: within a tokio runtime).
    pub fn build(self) -> Client {
        let ClientBuilder {
            url,
            config,
            headers,
            namespaces,
            manager,
            ..
        } = self;
        let driver = ClientDriver::new(url, headers, config, manager, Rt::runtime());
        let mut first = None;
        for (nsp, opts, listeners) in namespaces {
            let socket = driver.add_socket(&nsp, opts, listeners);
            first.get_or_insert(socket);
        }
        Client {
            main: first.expect("the main socket exists"),
        }
    }

    /// Start connecting and wait until the main socket is connected, or failed to (a refusal,
    /// or the connection timeout when reconnection is off).
    pub async fn connect(self) -> Result<Client, ConnectError> {
        let client = self.build();
        client.main.wait_connected().await?;
        Ok(client)
    }
}

fn split_url(url: &str) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let scheme = match scheme {
        "ws" => "http",
        "wss" => "https",
        s => s,
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let nsp = path.split('?').next().unwrap_or("/");
    let nsp = if nsp.is_empty() { "/" } else { nsp };
    (format!("{scheme}://{host}"), nsp.to_owned())
}

/// A connected client: its main socket, and the way to open others on the same connection.
#[derive(Clone)]
pub struct Client {
    main: Socket,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("nsp", &self.main.nsp)
            .finish()
    }
}

impl std::ops::Deref for Client {
    type Target = Socket;

    fn deref(&self) -> &Socket {
        &self.main
    }
}

impl Client {
    /// The main socket.
    pub fn socket(&self) -> &Socket {
        &self.main
    }

    /// Open (or return) the socket of another namespace on the same connection
    /// (multiplexing), with its own auth. Register its listeners with `on`, then it connects.
    pub fn of(&self, nsp: &str, auth: Option<serde_json::Value>) -> Socket {
        let opts = SocketOptions {
            auth: auth
                .and_then(|a| serde_json::to_string(&a).ok())
                .map(ByteString::from),
            ..SocketOptions::default()
        };
        self.main.driver.add_socket(nsp, opts, Listeners::default())
    }

    /// The connection's state.
    pub fn state(&self) -> ConnectionState {
        self.main.driver.state()
    }

    /// The Engine.IO session id while the connection is open (socket.io-client's
    /// `socket.io.engine.id`; the server's `socket.conn.id`). Every namespace of this client
    /// shares it.
    pub fn engine_id(&self) -> Option<String> {
        self.main.driver.engine_id()
    }

    /// The transport in use, if connected.
    pub fn transport(&self) -> Option<TransportKind> {
        self.main.driver.transport()
    }

    /// Close the connection and every socket; no reconnection follows.
    pub fn close(&self) {
        self.main.driver.close();
    }
}

/// One namespace of a client connection.
#[derive(Clone)]
pub struct Socket {
    pub(crate) driver: Arc<ClientDriver>,
    pub(crate) nsp: ByteString,
    pub(crate) listeners: Arc<Mutex<Listeners>>,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("nsp", &self.nsp).finish()
    }
}

/// Why an emit or ack could not be done.
pub type ClientError = sio_core::client::ClientError;

/// An error of `emit_with_ack`.
#[derive(Debug)]
pub enum EmitAckError {
    /// The emit could not be made.
    Client(ClientError),
    /// The arguments could not be serialized, or the ack's do not fit the type.
    Value(sio_core::value::ValueError),
    /// No ack: timeout or disconnection.
    Ack(CoreAckError),
    /// The client was dropped.
    Closed,
}

impl std::fmt::Display for EmitAckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(e) => write!(f, "{e}"),
            Self::Value(e) => write!(f, "{e}"),
            Self::Ack(e) => f.write_str(e.message()),
            Self::Closed => f.write_str("the client is closed"),
        }
    }
}

impl std::error::Error for EmitAckError {}

/// An emit that could not be made.
#[derive(Debug)]
pub enum EmitError {
    /// Refused by the client core (unknown namespace, buffer full, ...).
    Client(ClientError),
    /// The arguments could not be serialized.
    Value(sio_core::value::ValueError),
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Client(e) => write!(f, "{e}"),
            Self::Value(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EmitError {}

impl Socket {
    /// The namespace.
    pub fn ns(&self) -> &str {
        &self.nsp
    }

    /// The socket id given by the server, while connected.
    pub fn id(&self) -> Option<String> {
        self.driver.socket_id(&self.nsp)
    }

    /// Whether the namespace is connected.
    pub fn connected(&self) -> bool {
        self.driver.is_connected(&self.nsp)
    }

    /// Whether the last connection of this namespace recovered its previous session (a server
    /// with connection state recovery gave the same id back and replayed what was missed), as
    /// socket.io-client's `socket.recovered`.
    pub fn recovered(&self) -> bool {
        self.driver.is_recovered(&self.nsp)
    }

    /// Listen to an event. Several listeners of one event all run.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(Socket, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler = Arc::new(move |s, m| Box::pin(handler(s, m)));
        self.listeners
            .lock()
            .expect("listeners lock")
            .events
            .entry(event.to_owned())
            .or_default()
            .push(h);
    }

    /// Run on every connect of this namespace.
    pub fn on_connect(&self, f: impl Fn(Socket) + Send + Sync + 'static) {
        self.listeners
            .lock()
            .expect("listeners lock")
            .connect
            .push(Arc::new(f));
    }

    /// Run when this namespace disconnects.
    pub fn on_disconnect(&self, f: impl Fn(Socket, DisconnectReason) + Send + Sync + 'static) {
        self.listeners
            .lock()
            .expect("listeners lock")
            .disconnect
            .push(Arc::new(f));
    }

    /// Run when this namespace cannot connect.
    pub fn on_connect_error(&self, f: impl Fn(Socket, ConnectError) + Send + Sync + 'static) {
        self.listeners
            .lock()
            .expect("listeners lock")
            .connect_error
            .push(Arc::new(f));
    }

    /// Wait until the namespace is connected, or refused.
    pub async fn wait_connected(&self) -> Result<(), ConnectError> {
        self.driver.wait_connected(&self.nsp).await
    }

    /// Send an event (buffered while disconnected). `args`: a tuple for several arguments,
    /// `()` for none; `bytes::Bytes` values travel as binary attachments.
    pub fn emit<T: ?Sized + Serialize>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        let emit = Emit::from_args(event, args).map_err(EmitError::Value)?;
        self.driver
            .emit(&self.nsp, &emit)
            .map_err(EmitError::Client)
    }

    /// Send an event that is dropped unless it can leave now (socket.io-client's
    /// `volatile.emit`).
    pub fn emit_volatile<T: ?Sized + Serialize>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitError> {
        let emit = Emit::from_args(event, args)
            .map_err(EmitError::Value)?
            .volatile();
        self.driver
            .emit(&self.nsp, &emit)
            .map_err(EmitError::Client)
    }

    /// Send an event and wait up to `timeout` for the server's ack; returns its arguments
    /// (a tuple type for several).
    pub async fn emit_with_ack<T: ?Sized + Serialize, R: DeserializeOwned>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> Result<R, EmitAckError> {
        let emit = Emit::from_args(event, args).map_err(EmitAckError::Value)?;
        let rx = self
            .driver
            .emit_with_ack(&self.nsp, &emit, Some(timeout.as_millis() as u64))
            .map_err(EmitAckError::Client)?;
        let packet = rx
            .await
            .map_err(|_| EmitAckError::Closed)?
            .map_err(EmitAckError::Ack)?;
        let data = packet
            .data
            .as_ref()
            .map(|d| d.as_bytes().as_ref())
            .unwrap_or(b"[]");
        sio_core::value::read_args(data, 0, &packet.attachments).map_err(EmitAckError::Value)
    }

    /// Disconnect this namespace; it does not reconnect. The connection closes when no
    /// namespace is left.
    pub fn disconnect(&self) {
        self.driver.disconnect(&self.nsp);
    }

    /// Connect again after [`disconnect`](Self::disconnect), with the same options (auth, ack
    /// timeout, retries).
    pub fn connect(&self) {
        self.driver.reconnect_socket(&self.nsp);
    }
}

/// An event received from the server.
#[derive(Debug, Clone)]
pub struct Message {
    packet: Packet,
    ack: Option<AckSender>,
}

impl Message {
    /// The event name.
    pub fn event(&self) -> String {
        self.packet
            .event_name()
            .map(|n| n.into_owned())
            .unwrap_or_default()
    }

    /// The arguments as user data (a tuple for several, any other type for the first).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, sio_core::value::ValueError> {
        let data = self
            .packet
            .data
            .as_ref()
            .map(|d| d.as_bytes().as_ref())
            .unwrap_or(b"[]");
        sio_core::value::read_args(data, 1, &self.packet.attachments)
    }

    /// The raw JSON array, its event name first.
    pub fn json(&self) -> &str {
        self.packet.data.as_deref().unwrap_or("[]")
    }

    /// The binary attachments.
    pub fn binary(&self) -> &[Bytes] {
        &self.packet.attachments
    }

    /// The ack the server waits for (the server's `emitWithAck`), if any.
    pub fn ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }
}

/// Answers the server's ack request.
#[derive(Clone)]
pub struct AckSender {
    socket: Socket,
    id: u64,
}

impl std::fmt::Debug for AckSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckSender").field("id", &self.id).finish()
    }
}

impl AckSender {
    /// Acknowledge with `args` (a tuple for several, `()` for none).
    pub fn send<T: ?Sized + Serialize>(self, args: &T) -> Result<(), EmitError> {
        let mut json = Vec::new();
        let mut attachments = Vec::new();
        sio_core::value::write_args(&mut json, None, args, &mut attachments)
            .map_err(EmitError::Value)?;
        let json = ByteString::from(String::from_utf8(json).expect("JSON is UTF-8"));
        self.socket
            .driver
            .ack(&self.socket.nsp, self.id, json, attachments)
            .map_err(EmitError::Client)
    }
}

pub(crate) fn message(socket: &Socket, packet: Packet) -> Message {
    let ack = packet.id.map(|id| AckSender {
        socket: socket.clone(),
        id,
    });
    Message { packet, ack }
}

pub(crate) type AckResult = Result<Packet, CoreAckError>;
pub(crate) type AckWaiter = oneshot::Sender<AckResult>;
