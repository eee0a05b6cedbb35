//! [`Tokio`]: the runtime services of `sio-runtime` on tokio, hyper-util and
//! tokio-tungstenite.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use futures_util::future::{Either, FutureExt};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HttpClient};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sio_runtime::rt::{BoxFuture, BoxWsStream, ReadAheadIo, Runtime, RuntimeKind, ServerWs};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::error::Error as WsError;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// The tokio runtime: tasks on the current tokio runtime, tokio timers and sockets.
#[derive(Debug, Default)]
pub struct Tokio {
    /// The polling client's connection pool, made on first use.
    http: OnceLock<HttpClient<HttpConnector, Full<Bytes>>>,
}

impl RuntimeKind for Tokio {
    type Listener = TcpListener;
    type Io = TokioIo<TcpStream>;

    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(Tokio::default())
    }

    async fn accept(listener: &TcpListener) -> std::io::Result<(Self::Io, SocketAddr)> {
        let (stream, addr) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((TokioIo::new(stream), addr))
    }
}

impl Runtime for Tokio {
    fn spawn(&self, task: BoxFuture<()>) {
        tokio::spawn(task);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn read_file(&self, path: PathBuf) -> BoxFuture<std::io::Result<Vec<u8>>> {
        Box::pin(tokio::fs::read(path))
    }

    fn serve_websocket(
        &self,
        upgraded: hyper::upgrade::Upgraded,
        config: WebSocketConfig,
        conn: ServerWs,
    ) {
        // Served by `SocketIo::serve`, the connection is a TCP stream of ours: take it back
        // (with what hyper read past the request) so that the WebSocket reads and writes the
        // socket itself (through `Socket`, whose writes a broadcast can make from its own task
        // to many connections). Mounted in another server, it is whatever that server gave
        // hyper.
        // (Combinators, not an `async` block: the task holds one WebSocket stream, not one
        // per `async` layer.)
        let task = match upgraded.downcast::<TokioIo<TcpStream>>() {
            Ok(parts) => {
                // Copy out what hyper read ahead and drop its buffer now: the bytes are a
                // view of hyper's whole read buffer (8 KiB), which would otherwise live as
                // long as the connection.
                let hyper::upgrade::Parts { io, read_buf, .. } = parts;
                let ahead = read_buf.to_vec();
                drop(read_buf);
                // Boxed while it makes the stream, so that the task is not as large as this
                // first step for the whole connection.
                Either::Left(
                    Box::pin(WebSocketStream::from_partially_read(
                        ReadAheadIo::new(crate::socket::Socket(io.into_inner())),
                        ahead,
                        Role::Server,
                        Some(config),
                    ))
                    .then(move |stream| conn.run(stream)),
                )
            }
            // Boxed too: inline, this first step would size the task of every connection.
            Err(upgraded) => Either::Right(
                Box::pin(WebSocketStream::from_raw_socket(
                    ReadAheadIo::new(TokioIo::new(upgraded)),
                    Role::Server,
                    Some(config),
                ))
                .then(move |stream| conn.run(stream)),
            ),
        };
        tokio::spawn(task);
    }

    fn http_request(
        &self,
        request: http::Request<Full<Bytes>>,
        max_body: usize,
    ) -> BoxFuture<Result<(u16, Bytes), ()>> {
        let client = self
            .http
            .get_or_init(|| HttpClient::builder(TokioExecutor::new()).build_http())
            .clone();
        Box::pin(async move {
            let resp = client.request(request).await.map_err(|e| {
                tracing::debug!(error = %e, "polling request failed");
            })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), max_body)
                .collect()
                .await
                .map_err(|_| ())?
                .to_bytes();
            Ok((status, body))
        })
    }

    fn connect_websocket(
        &self,
        request: http::Request<()>,
        config: WebSocketConfig,
    ) -> BoxFuture<Result<BoxWsStream, WsError>> {
        Box::pin(async move {
            let (stream, _) =
                tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
            Ok(Box::pin(stream) as BoxWsStream)
        })
    }
}
