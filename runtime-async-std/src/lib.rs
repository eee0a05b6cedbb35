//! # sio-async-std
//!
//! The async-std runtime of the sio stack: it attaches the [`sio_core`] protocol core to real
//! sockets (hyper for HTTP long-polling, async-tungstenite for WebSocket) and holds no
//! protocol logic of its own. The API is [`sio_runtime`]'s, the same as `sio-tokio`'s, with
//! the same names and types; this crate adds the [`AsyncStd`] runtime and names the types
//! for it.
//!
//! It is written against futures-io and async-io (async-std's sockets and timers are
//! async-io's, and its tasks run on async-std's own executor), so it also serves
//! applications that run on smol: `smol::block_on(io.serve(listener))` works. async-std is
//! discontinued upstream; this crate stays thin so that moving it is easy.
//!
//! ```no_run
//! use sio_async_std::{ServerOptions, SocketIo};
//!
//! # async fn run() -> std::io::Result<()> {
//! let io = SocketIo::new(ServerOptions::default());
//! io.ns("/", |socket, _req| {
//!     socket.on("chat", |socket, msg| async move {
//!         let text: String = msg.args().unwrap_or_default();
//!         let _ = socket.broadcast().emit("chat", &text);
//!     });
//! });
//! let listener = async_std::net::TcpListener::bind("127.0.0.1:3000").await?;
//! io.serve(listener).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod runtime;

pub use runtime::AsyncStd;
pub use sio_core;
pub use sio_runtime::{
    event_map, AckError, AckSender, BroadcastOperator, ConnectRefusal, ConnectRequest, Cors,
    CorsOrigin, DisconnectReason, EmitError, EngineMessage, EngineSocket, Message, NamespaceRef,
    ServerOptions, SocketIoLayer, SocketIoService, SocketRef,
};

/// The Socket.IO server (see [`sio_runtime::SocketIo`]), on async-std: `serve` takes an
/// [`async_std::net::TcpListener`].
pub type SocketIo = sio_runtime::SocketIo<AsyncStd>;

/// An Engine.IO server (see [`sio_runtime::EngineIo`]), on async-std.
pub type EngineIo = sio_runtime::EngineIo<AsyncStd>;

/// The Socket.IO client on async-std (see [`sio_runtime::client`]).
pub mod client {
    pub use sio_runtime::client::*;

    /// Builds a [`Client`] on async-std (see [`sio_runtime::client::ClientBuilder`]).
    pub type ClientBuilder = sio_runtime::client::ClientBuilder<crate::AsyncStd>;
}

/// Typed event maps on async-std (see [`sio_runtime::typed`]).
pub mod typed {
    pub use sio_runtime::typed::*;

    /// The typed server on async-std (see [`sio_runtime::typed::TypedIo`]).
    pub type TypedIo<In, Out> = sio_runtime::typed::TypedIo<In, Out, crate::AsyncStd>;

    /// The typed client builder on async-std (see
    /// [`sio_runtime::typed::TypedClientBuilder`]).
    pub type TypedClientBuilder<In, Out> =
        sio_runtime::typed::TypedClientBuilder<In, Out, crate::AsyncStd>;
}
