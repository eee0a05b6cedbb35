//! Server options, with Node's defaults.

use std::path::PathBuf;
use std::time::Duration;

use sio_core::engine::EngineConfig;
use sio_core::server::{RecoveryConfig, ServerConfig};
use sio_core::Limits;

/// Which origins CORS allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigin {
    /// `Access-Control-Allow-Origin: *`.
    Any,
    /// Echo the request's origin (any origin, credentials possible).
    Mirror,
    /// Only these origins.
    List(Vec<String>),
}

/// CORS settings, as Node's `cors` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Allowed origins.
    pub origin: CorsOrigin,
    /// Send `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Headers allowed in requests (`Access-Control-Allow-Headers`); empty echoes the
    /// preflight's request headers.
    pub allowed_headers: Vec<String>,
}

impl Cors {
    /// Any origin, no credentials.
    pub fn any() -> Self {
        Cors {
            origin: CorsOrigin::Any,
            credentials: false,
            allowed_headers: Vec::new(),
        }
    }
}

/// Options of a [`SocketIo`](crate::SocketIo) server. Defaults are Node's.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The path of the endpoint (Node: `/socket.io/`).
    pub path: String,
    /// Milliseconds between pings (Node: 25 s).
    pub ping_interval: Duration,
    /// How long to wait for a pong (Node: 20 s).
    pub ping_timeout: Duration,
    /// How long an upgrade may take (Node: 10 s).
    pub upgrade_timeout: Duration,
    /// How long a connection may stay without a namespace (Node: 45 s).
    pub connect_timeout: Duration,
    /// Largest message or polling body accepted, in bytes (Node's `maxHttpBufferSize`, 1 MB).
    pub max_payload: usize,
    /// Accept HTTP long-polling.
    pub polling: bool,
    /// Accept WebSocket.
    pub websocket: bool,
    /// Allow upgrades from polling to WebSocket.
    pub allow_upgrades: bool,
    /// Most frames a polling connection may have waiting.
    pub max_buffered_frames: usize,
    /// CORS, off by default as in Node.
    pub cors: Option<Cors>,
    /// Serve `socket.io.js` and friends from this directory (a copy of `socket.io-client`'s
    /// `dist/`), as Node's `serveClient` does.
    pub serve_client: Option<PathBuf>,
    /// Let [`SocketIo::dynamic_ns`](crate::SocketIo::dynamic_ns) namespaces connect.
    pub dynamic_namespaces: bool,
    /// Engine.IO only: no Socket.IO layer (see [`EngineIo`](crate::EngineIo)).
    pub engine_only: bool,
    /// Seed of the id generator; drawn from the OS when `None`.
    pub seed: Option<[u8; 32]>,
    /// Connection state recovery (Node's `connectionStateRecovery`), off by default: a socket
    /// whose transport failed may come back within
    /// [`max_disconnection_duration`](RecoveryConfig::max_disconnection_duration) as the same
    /// socket, with its rooms, and receive the events it missed
    /// ([`SocketRef::recovered`](crate::SocketRef::recovered) tells). Its connect middlewares
    /// are skipped when [`skip_middlewares`](RecoveryConfig::skip_middlewares) is set.
    pub connection_state_recovery: Option<RecoveryConfig>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            connect_timeout: Duration::from_millis(45_000),
            max_payload: 1_000_000,
            polling: true,
            websocket: true,
            allow_upgrades: true,
            max_buffered_frames: 10_000,
            cors: None,
            serve_client: None,
            dynamic_namespaces: false,
            engine_only: false,
            seed: None,
            connection_state_recovery: None,
        }
    }
}

impl ServerOptions {
    pub(crate) fn core_config(&self) -> ServerConfig {
        let seed = self.seed.unwrap_or_else(|| {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).expect("the OS provides randomness");
            seed
        });
        ServerConfig {
            engine: EngineConfig {
                ping_interval: self.ping_interval.as_millis() as u64,
                ping_timeout: self.ping_timeout.as_millis() as u64,
                upgrade_timeout: self.upgrade_timeout.as_millis() as u64,
                limits: Limits {
                    max_payload: self.max_payload,
                    ..Limits::DEFAULT
                },
                allow_polling: self.polling,
                allow_websocket: self.websocket,
                allow_upgrades: self.allow_upgrades,
                max_buffered_frames: self.max_buffered_frames,
                seed,
            },
            connect_timeout: self.connect_timeout.as_millis() as u64,
            dynamic_namespaces: self.dynamic_namespaces,
            engine_only: self.engine_only,
            connection_state_recovery: self.connection_state_recovery.clone(),
        }
    }
}
