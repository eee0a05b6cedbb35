//! # sio-runtime
//!
//! The runtime-independent half of the sio runtimes: the loops that drive the [`sio_core`]
//! state machines (server and client), the HTTP service (long-polling, the WebSocket upgrade,
//! CORS) and every handle users hold: [`SocketIo`], [`SocketRef`], [`client::Client`], the
//! typed event maps of [`typed`]. It holds no protocol logic (that is the core's) and no
//! runtime: `sio-tokio` and `sio-async-std` implement [`rt::Runtime`] (spawning, timers,
//! sockets) and re-export this crate's API under their own names, so that both offer the same
//! API with the same types.
//!
//! Use it through one of them:
//!
//! ```no_run
//! use sio_tokio::{ServerOptions, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::new(ServerOptions::default());
//! io.ns("/", |socket, _req| {
//!     socket.on("chat", |socket, msg| async move {
//!         let text: String = msg.args().unwrap_or_default();
//!         let _ = socket.broadcast().emit("chat", &text);
//!     });
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! io.serve(listener).await
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod adapter;
pub mod client;
mod config;
mod driver;
mod engine_io;
mod io;
mod outbox;
pub mod rt;
mod service;
mod socket;
pub mod typed;
mod ws;

pub use config::{Cors, CorsOrigin, ServerOptions};
pub use engine_io::{EngineIo, EngineMessage, EngineSocket};
pub use io::{ConnectRefusal, ConnectRequest, NamespaceRef, SocketIo};
pub use service::{SocketIoLayer, SocketIoService};
pub use sio_core;
pub use sio_core::server::DisconnectReason;
pub use socket::{AckSender, BroadcastOperator, Message, SocketRef};

/// An emit or command that could not be carried out.
#[derive(Debug)]
pub enum EmitError {
    /// The arguments could not be serialized.
    Value(sio_core::value::ValueError),
    /// The core refused (the socket is gone, a namespace unknown, ...).
    Server(sio_core::server::ServerError),
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(e) => write!(f, "cannot serialize the arguments: {e:?}"),
            Self::Server(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for EmitError {}

impl From<sio_core::value::ValueError> for EmitError {
    fn from(e: sio_core::value::ValueError) -> Self {
        Self::Value(e)
    }
}

impl From<sio_core::server::ServerError> for EmitError {
    fn from(e: sio_core::server::ServerError) -> Self {
        Self::Server(e)
    }
}

/// Why an acknowledgement did not arrive.
#[derive(Debug)]
pub enum AckError {
    /// Not within the timeout.
    Timeout,
    /// The socket disconnected first, or the server stopped.
    Disconnected,
    /// The emit itself failed.
    Emit(EmitError),
    /// The ack's arguments do not fit the requested type.
    Value(sio_core::value::ValueError),
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("operation has timed out"),
            Self::Disconnected => f.write_str("socket has been disconnected"),
            Self::Emit(e) => write!(f, "{e}"),
            Self::Value(e) => write!(f, "unexpected ack arguments: {e:?}"),
        }
    }
}

impl std::error::Error for AckError {}

impl From<EmitError> for AckError {
    fn from(e: EmitError) -> Self {
        Self::Emit(e)
    }
}

impl From<sio_core::value::ValueError> for AckError {
    fn from(e: sio_core::value::ValueError) -> Self {
        Self::Value(e)
    }
}
