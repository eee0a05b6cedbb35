//! [`AsyncStd`]: the runtime services of `sio-runtime` on async-std, async-io, hyper (through
//! smol-hyper's futures-io adapter) and async-tungstenite.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_std::net::{TcpListener, TcpStream};
use async_tungstenite::tungstenite::error::Error as WsError;
use async_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use async_tungstenite::WebSocketStream;
use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{HeaderValue, HOST};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use sio_runtime::rt::{BoxFuture, BoxWsStream, ReadAheadIo, Runtime, RuntimeKind, ServerWs};
use smol_hyper::rt::FuturesIo;

type Sender = SendRequest<Full<Bytes>>;

/// The async-std runtime: tasks on async-std's executor, async-io timers, async-std sockets.
#[derive(Debug, Default)]
pub struct AsyncStd {
    /// The polling client's idle keep-alive connections, by `host:port`.
    idle: Arc<Mutex<HashMap<String, Vec<Sender>>>>,
}

impl RuntimeKind for AsyncStd {
    type Listener = TcpListener;
    type Io = FuturesIo<TcpStream>;

    fn runtime() -> Arc<dyn Runtime> {
        Arc::new(AsyncStd::default())
    }

    async fn accept(listener: &TcpListener) -> std::io::Result<(Self::Io, SocketAddr)> {
        let (stream, addr) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        Ok((FuturesIo::new(stream), addr))
    }
}

impl Runtime for AsyncStd {
    fn spawn(&self, task: BoxFuture<()>) {
        // Dropping the handle detaches the task.
        async_std::task::spawn(task);
    }

    fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
        Box::pin(async move {
            async_io::Timer::at(deadline).await;
        })
    }

    fn read_file(&self, path: PathBuf) -> BoxFuture<std::io::Result<Vec<u8>>> {
        Box::pin(async_std::fs::read(path))
    }

    fn serve_websocket(
        &self,
        upgraded: hyper::upgrade::Upgraded,
        config: WebSocketConfig,
        conn: ServerWs,
    ) {
        // The connection is one that `SocketIo::serve` accepted: take the TCP stream back
        // from hyper, with what hyper read past the request, and run the WebSocket on it.
        // (Combinators, not an `async` block: the task holds one WebSocket stream, not one
        // per `async` layer.)
        match upgraded.downcast::<FuturesIo<TcpStream>>() {
            Ok(parts) => {
                // Copy out what hyper read ahead and drop its buffer now: the bytes are a
                // view of hyper's whole read buffer (8 KiB), which would otherwise live as
                // long as the connection.
                let hyper::upgrade::Parts { io, read_buf, .. } = parts;
                let ahead = read_buf.to_vec();
                drop(read_buf);
                // Boxed while it makes the stream, so that the task is not as large as this
                // first step for the whole connection.
                let task = Box::pin(WebSocketStream::from_partially_read(
                    ReadAheadIo::new(io.into_inner()),
                    ahead,
                    Role::Server,
                    Some(config),
                ))
                .then(move |stream| conn.run(stream));
                async_std::task::spawn(task);
            }
            Err(_) => {
                tracing::warn!("websocket upgrade of a connection not accepted by SocketIo::serve");
                conn.failed();
            }
        }
    }

    fn http_request(
        &self,
        mut request: http::Request<Full<Bytes>>,
        max_body: usize,
    ) -> BoxFuture<Result<(u16, Bytes), ()>> {
        let idle = self.idle.clone();
        Box::pin(async move {
            let uri_authority = request.uri().authority().ok_or(())?;
            let authority = format!(
                "{}:{}",
                uri_authority.host(),
                uri_authority.port_u16().unwrap_or(80)
            );
            let host = uri_authority.to_string();
            // HTTP/1.1 to the origin server: the path in the request line, the host apart.
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            *request.uri_mut() = path.parse().map_err(|_| ())?;
            if let Ok(host) = HeaderValue::from_str(&host) {
                request.headers_mut().entry(HOST).or_insert(host);
            }
            let mut sender = match take_idle(&idle, &authority) {
                Some(s) => s,
                None => connect(&authority).await?,
            };
            let resp = sender.send_request(request).await.map_err(|e| {
                tracing::debug!(error = %e, "polling request failed");
            })?;
            let status = resp.status().as_u16();
            let body = Limited::new(resp.into_body(), max_body)
                .collect()
                .await
                .map_err(|_| ())?
                .to_bytes();
            if !sender.is_closed() {
                idle.lock()
                    .expect("pool lock")
                    .entry(authority)
                    .or_default()
                    .push(sender);
            }
            Ok((status, body))
        })
    }

    fn connect_websocket(
        &self,
        request: http::Request<()>,
        config: WebSocketConfig,
    ) -> BoxFuture<Result<BoxWsStream, WsError>> {
        Box::pin(async move {
            let authority = request
                .uri()
                .authority()
                .map(|a| {
                    let port = a.port_u16().unwrap_or(80);
                    format!("{}:{port}", a.host())
                })
                .ok_or(WsError::Url(
                    async_tungstenite::tungstenite::error::UrlError::NoHostName,
                ))?;
            let tcp = TcpStream::connect(authority).await?;
            let _ = tcp.set_nodelay(true);
            let (stream, _) =
                async_tungstenite::client_async_with_config(request, tcp, Some(config)).await?;
            Ok(Box::pin(stream) as BoxWsStream)
        })
    }
}

/// An idle connection to `authority` that can take a request now.
fn take_idle(idle: &Mutex<HashMap<String, Vec<Sender>>>, authority: &str) -> Option<Sender> {
    let mut idle = idle.lock().expect("pool lock");
    let list = idle.get_mut(authority)?;
    while let Some(s) = list.pop() {
        if s.is_ready() {
            return Some(s);
        }
    }
    None
}

/// A new HTTP/1.1 connection to `authority`, its connection task spawned.
async fn connect(authority: &str) -> Result<Sender, ()> {
    let tcp = TcpStream::connect(authority).await.map_err(|e| {
        tracing::debug!(error = %e, "polling connection failed");
    })?;
    let _ = tcp.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(tcp))
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, "polling connection failed");
        })?;
    async_std::task::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "polling connection ended with an error");
        }
    });
    Ok(sender)
}
