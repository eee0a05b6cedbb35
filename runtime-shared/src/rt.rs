//! What the shared code needs from an async runtime, and nothing more: spawning, timers,
//! sockets. `sio-tokio` and `sio-async-std` each implement these two traits; everything else
//! (the driver loops around the core, the handles users hold) is written once, here.
//!
//! [`Runtime`] is object-safe: the drivers hold an `Arc<dyn Runtime>`, so none of the handles
//! users touch ([`SocketRef`](crate::SocketRef), [`Message`](crate::Message),
//! [`client::Socket`](crate::client::Socket), ...) is generic. [`RuntimeKind`] names a
//! runtime as a type: it makes the `Runtime` of a new server or client and accepts
//! connections, so that `SocketIo<Tokio>` (exported by `sio-tokio` as `SocketIo`) can offer
//! `new` and `serve`.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{Sink, Stream};
use http_body_util::Full;
use tungstenite::error::Error as WsError;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::Message;

mod read_ahead;

pub use crate::ws::ServerWs;
pub use read_ahead::{ReadAhead, ReadAheadIo, SCRATCH_LEN, WS_READ_BUFFER};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A WebSocket as both runtimes' tungstenite bindings give it: a stream of messages and a
/// sink for them (tokio-tungstenite's and async-tungstenite's `WebSocketStream` both are).
pub trait WsStream:
    Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

impl<T> WsStream for T where
    T: Stream<Item = Result<Message, WsError>> + Sink<Message, Error = WsError> + Send + Unpin
{
}

/// A WebSocket of the client, boxed.
pub type BoxWsStream = Pin<Box<dyn WsStream>>;

/// The services of an async runtime that the drivers use.
pub trait Runtime: Send + Sync + 'static {
    /// Run `task` in the background, to completion.
    fn spawn(&self, task: BoxFuture<()>);

    /// A future that completes at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()>;

    /// Read a whole file (the browser client files the server may serve).
    fn read_file(&self, path: PathBuf) -> BoxFuture<io::Result<Vec<u8>>>;

    /// Take over an HTTP connection upgraded to WebSocket (the handshake is answered) and run
    /// the server side of it: build the runtime's WebSocket stream over `upgraded`, its reads
    /// through a [`ReadAheadIo`] (`config`'s read buffer is [`WS_READ_BUFFER`], sized for
    /// that), then `spawn(conn.run(stream))`.
    fn serve_websocket(
        &self,
        upgraded: hyper::upgrade::Upgraded,
        config: WebSocketConfig,
        conn: ServerWs,
    );

    /// One HTTP request of the polling client: the status and the body (at most `max_body`
    /// bytes, else an error). Connections may be kept alive and reused.
    fn http_request(
        &self,
        request: http::Request<Full<Bytes>>,
        max_body: usize,
    ) -> BoxFuture<Result<(u16, Bytes), ()>>;

    /// Open a client WebSocket (`ws://` or `wss://` URL in `request`).
    fn connect_websocket(
        &self,
        request: http::Request<()>,
        config: WebSocketConfig,
    ) -> BoxFuture<Result<BoxWsStream, WsError>>;
}

/// Run `task` here and now until it first waits, then leave the rest to the runtime. Handlers
/// of events start in the order the events arrived (as Node's listeners run, one after the
/// other), and a handler that never waits costs no task at all.
pub(crate) fn start(rt: &dyn Runtime, mut task: BoxFuture<()>) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        // The runtime polls it again at once, with a waker of its own.
        rt.spawn(task);
    }
}

/// A runtime named as a type (a marker such as `sio_tokio::Tokio`).
pub trait RuntimeKind: Send + Sync + 'static {
    /// The listener [`SocketIo::serve`](crate::SocketIo::serve) takes.
    type Listener: Send + Sync;
    /// An accepted connection, as hyper reads and writes it.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// The runtime services for a new server or client.
    fn runtime() -> Arc<dyn Runtime>;

    /// Accept the next connection (with `TCP_NODELAY` set).
    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}
