//! # sio-tokio
//!
//! The tokio runtime of the sio stack: it attaches the [`sio_core`] protocol core to real
//! sockets (hyper for HTTP long-polling, tokio-tungstenite for WebSocket) and holds no
//! protocol logic of its own. The API (servers, sockets, clients, typed event maps) is
//! [`sio_runtime`]'s, shared with `sio-async-std`; this crate adds the [`Tokio`] runtime and
//! names the types for it.
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

mod runtime;
mod socket;

pub use runtime::Tokio;
pub use sio_core;
pub use sio_runtime::{
    event_map, AckError, AckSender, BroadcastOperator, ConnectRefusal, ConnectRequest, Cors,
    CorsOrigin, DisconnectReason, EmitError, EngineMessage, EngineSocket, Message, NamespaceRef,
    ServerOptions, SocketIoLayer, SocketIoService, SocketRef,
};

/// The Socket.IO server (see [`sio_runtime::SocketIo`]), on tokio: `SocketIo::new` must be
/// called within a tokio runtime, and `serve` takes a [`tokio::net::TcpListener`].
pub type SocketIo = sio_runtime::SocketIo<Tokio>;

/// An Engine.IO server (see [`sio_runtime::EngineIo`]), on tokio.
pub type EngineIo = sio_runtime::EngineIo<Tokio>;

/// The Socket.IO client on tokio (see [`sio_runtime::client`]).
pub mod client {
    pub use sio_runtime::client::*;

    /// Builds a [`Client`] on tokio (see [`sio_runtime::client::ClientBuilder`]).
    pub type ClientBuilder = sio_runtime::client::ClientBuilder<crate::Tokio>;
}

/// Typed event maps on tokio (see [`sio_runtime::typed`]).
pub mod typed {
    pub use sio_runtime::typed::*;

    /// The typed server on tokio (see [`sio_runtime::typed::TypedIo`]).
    pub type TypedIo<In, Out> = sio_runtime::typed::TypedIo<In, Out, crate::Tokio>;

    /// The typed client builder on tokio (see [`sio_runtime::typed::TypedClientBuilder`]).
    pub type TypedClientBuilder<In, Out> =
        sio_runtime::typed::TypedClientBuilder<In, Out, crate::Tokio>;
}
