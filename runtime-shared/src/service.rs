//! HTTP: the polling transport, the WebSocket upgrade, CORS, the client files; a tower
//! `Service`/`Layer` for axum and hyper applications, and a standalone `serve`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method as HttpMethod, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Either, Full};
use sio_core::engine::server::{HttpResponse, Method, RequestId, WsId};
use sio_core::server::Handshake;
use tokio::sync::oneshot;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::WebSocketConfig;

use crate::config::{Cors, CorsOrigin, ServerOptions};
use crate::driver::Driver;
use crate::io::SocketIo;
use crate::outbox::Outbox;
use crate::rt::RuntimeKind;
use crate::ws::ServerWs;

/// The peer address of a connection, put in request extensions by [`SocketIo::serve`].
#[derive(Debug, Clone, Copy)]
struct RemoteAddr(SocketAddr);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The HTTP side of one server: what its layer, its service and `serve` answer with.
#[derive(Clone)]
pub(crate) struct Http {
    driver: Arc<Driver>,
    options: Arc<ServerOptions>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("path", &self.options.path)
            .finish()
    }
}

/// A tower layer that serves Socket.IO on its path and passes other requests on.
#[derive(Clone, Debug)]
pub struct SocketIoLayer {
    io: Http,
}

impl SocketIoLayer {
    /// The layer of `io`.
    pub fn new<Rt>(io: SocketIo<Rt>) -> Self {
        SocketIoLayer { io: io.http() }
    }
}

impl<S> tower_layer::Layer<S> for SocketIoLayer {
    type Service = SocketIoService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SocketIoService {
            io: self.io.clone(),
            inner,
        }
    }
}

/// A tower service that serves Socket.IO on its path and passes other requests to `inner`.
#[derive(Clone, Debug)]
pub struct SocketIoService<S> {
    io: Http,
    inner: S,
}

impl<S, B, R> tower_service::Service<Request<B>> for SocketIoService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Either<Full<Bytes>, R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.io.matches(req.uri().path()) {
            let io = self.io.clone();
            Box::pin(async move { Ok(io.handle(req).await.map(Either::Left)) })
        } else {
            let fut = self.inner.call(req);
            Box::pin(async move { Ok(fut.await?.map(Either::Right)) })
        }
    }
}

impl<Rt> SocketIo<Rt> {
    /// The tower layer of this server, to mount it in an axum or hyper application.
    pub fn layer(&self) -> SocketIoLayer {
        SocketIoLayer::new(self.clone())
    }

    fn http(&self) -> Http {
        Http {
            driver: self.driver.clone(),
            options: self.options.clone(),
        }
    }
}

impl<Rt: RuntimeKind> SocketIo<Rt> {
    /// Serve HTTP/1.1 (keep-alive, upgrades) on `listener` until the listener fails. Requests
    /// outside the server's path get 404.
    pub async fn serve(&self, listener: Rt::Listener) -> std::io::Result<()> {
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// [`serve`](Self::serve) until `signal` completes, then shut down: stop accepting and
    /// close the listener (its port is free again when this returns), close every Engine.IO
    /// connection (sockets disconnect with `server shutting down`), and let the open HTTP
    /// connections finish their requests in flight before they close.
    pub async fn serve_with_shutdown<F>(
        &self,
        listener: Rt::Listener,
        signal: F,
    ) -> std::io::Result<()>
    where
        F: Future<Output = ()>,
    {
        use futures_util::future::{select, Either as Side};
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        // Set before `stop_tx` sends: a connection looks at its `stop_rx` again only then.
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut signal = std::pin::pin!(signal);
        let rt = self.driver.rt.clone();
        loop {
            let (stream, addr) = {
                let accept = std::pin::pin!(Rt::accept(&listener));
                match select(accept, signal.as_mut()).await {
                    Side::Left((accepted, _)) => accepted?,
                    Side::Right(_) => break,
                }
            };
            let io = self.http();
            let mut stop = stop_rx.clone();
            let stopping = stopping.clone();
            let span = tracing::debug_span!("sio.http", peer = %addr);
            let task = async move {
                let svc =
                    hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                        let io = io.clone();
                        // Only a request that opens a session needs the address (its
                        // handshake data); inserting the first extension allocates.
                        let has_sid = req
                            .uri()
                            .query()
                            .is_some_and(|q| q.starts_with("sid=") || q.contains("&sid="));
                        if !has_sid {
                            req.extensions_mut().insert(RemoteAddr(addr));
                        }
                        async move {
                            if io.matches(req.uri().path()) {
                                Ok::<_, Infallible>(io.handle(req).await)
                            } else {
                                Ok(plain(StatusCode::NOT_FOUND, "Not Found"))
                            }
                        }
                    });
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .writev(false)
                    .serve_connection(stream, svc)
                    .with_upgrades();
                let mut conn = std::pin::pin!(conn);
                // Only an explicit shutdown; a dropped sender (the listener failed) is not one.
                let mut stopped = std::pin::pin!(async move {
                    if stop.wait_for(|stop| *stop).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                });
                // The connection, until the shutdown signal. That signal is polled once to
                // register the task's waker, then only once `stopping` is set (or the waker
                // changed): polling it on every wake-up of a busy connection cost more than
                // 2 % of a polling request.
                let mut registered: Option<std::task::Waker> = None;
                let ended = std::future::poll_fn(|cx| {
                    if let Poll::Ready(r) = conn.as_mut().poll(cx) {
                        return Poll::Ready(Some(r));
                    }
                    let stale = !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
                    if stale || stopping.load(std::sync::atomic::Ordering::Acquire) {
                        registered = Some(cx.waker().clone());
                        if stopped.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                    }
                    Poll::Pending
                })
                .await;
                let result = match ended {
                    Some(r) => r,
                    None => {
                        conn.as_mut().graceful_shutdown();
                        conn.await
                    }
                };
                if let Err(e) = result {
                    tracing::debug!(error = %e, "http connection ended with an error");
                }
            };
            rt.spawn(Box::pin(tracing::Instrument::instrument(task, span)));
        }
        drop(listener);
        // Answer the parked polls and close the WebSockets before the HTTP connections are
        // told to finish, so that no request is left waiting.
        self.close();
        stopping.store(true, std::sync::atomic::Ordering::Release);
        let _ = stop_tx.send(true);
        Ok(())
    }
}

impl Http {
    pub(crate) fn matches(&self, path: &str) -> bool {
        let base = self.options.path.trim_end_matches('/');
        path == base || path.starts_with(&self.options.path) || path == self.options.path
    }

    /// Handle one request of the server's path.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        // What CORS needs of the request, taken before the request is handed on (looked up
        // only when CORS is on).
        let cors = self.options.cors.as_ref().map(|cors| {
            let h = req.headers();
            let origin = h.get(header::ORIGIN).cloned();
            (
                cors,
                origin,
                h.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned(),
            )
        });
        let mut resp = if cors.is_some() && req.method() == HttpMethod::OPTIONS {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::NO_CONTENT;
            r.headers_mut().insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
            );
            r
        } else if let Some(r) = self.client_file(req.uri().path()).await {
            r
        } else {
            self.handle_engine(req).await
        };
        if let Some((cors, origin, preflight_headers)) = cors {
            add_cors(cors, origin, preflight_headers, resp.headers_mut());
        }
        resp
    }

    async fn client_file(&self, path: &str) -> Option<Response<Full<Bytes>>> {
        let dir = self.options.serve_client.as_ref()?;
        let name = path.strip_prefix(&self.options.path)?;
        let allowed = [
            "socket.io.js",
            "socket.io.min.js",
            "socket.io.esm.min.js",
            "socket.io.js.map",
            "socket.io.min.js.map",
            "socket.io.esm.min.js.map",
        ];
        if !allowed.contains(&name) {
            return None;
        }
        let data = self.driver.rt.read_file(dir.join(name)).await.ok()?;
        let ctype = if name.ends_with(".map") {
            "application/json"
        } else {
            "application/javascript; charset=utf-8"
        };
        let mut r = Response::new(Full::new(Bytes::from(data)));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        r.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        Some(r)
    }

    async fn handle_engine<B>(&self, mut req: Request<B>) -> Response<Full<Bytes>>
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let driver = self.driver.clone();
        // The URI's parts are shared bytes: a copy of it costs no allocation.
        let uri = req.uri().clone();
        let query = uri.query().unwrap_or("");
        // The handshake data is made only for the request that opens a session.
        let handshake = |headers: &HeaderMap, extensions: &http::Extensions| {
            let remote = extensions.get::<RemoteAddr>().map(|a| a.0.to_string());
            handshake_of(query, headers, remote)
        };
        if is_websocket_upgrade(req.headers()) {
            let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
                return plain(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
            };
            let ws = WsId(driver.next_id());
            let outbox = Arc::new(Outbox::default());
            let opened = driver.run(|inner, now| {
                inner.outboxes.insert(ws, outbox.clone());
                let r = inner.core.handle_ws_open(now, ws, query, || {
                    handshake(req.headers(), req.extensions())
                });
                if r.is_err() {
                    inner.outboxes.remove(&ws);
                }
                r
            });
            if let Err(e) = opened {
                return engine_response(e);
            }
            let on_upgrade = hyper::upgrade::on(&mut req);
            let max = self.options.max_payload;
            let rt = driver.rt.clone();
            let conn = ServerWs {
                driver: driver.clone(),
                ws,
                outbox,
            };
            driver.rt.spawn(Box::pin(async move {
                match on_upgrade.await {
                    Ok(upgraded) => {
                        // Small buffers: tungstenite's defaults (128 KiB each) would make every
                        // idle connection cost more than 100 KiB. The runtimes read the socket
                        // through the thread's buffer (`rt::ReadAheadIo`), so a burst is still
                        // one read; frames queued together are still written with one flush.
                        let config = WebSocketConfig::default()
                            .read_buffer_size(crate::rt::WS_READ_BUFFER)
                            .write_buffer_size(8192)
                            .max_message_size(Some(max))
                            .max_frame_size(Some(max));
                        rt.serve_websocket(upgraded, config, conn);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "websocket upgrade failed");
                        conn.failed();
                    }
                }
            }));
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let h = r.headers_mut();
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            let accept = derive_accept_key(key.as_bytes());
            h.insert(
                header::SEC_WEBSOCKET_ACCEPT,
                HeaderValue::from_str(&accept).expect("base64 is a valid header value"),
            );
            return r;
        }

        let method = match *req.method() {
            HttpMethod::GET => Method::Get,
            HttpMethod::POST => Method::Post,
            _ => Method::Other,
        };
        let (parts, body) = req.into_parts();
        let body = if method == Method::Post {
            match read_body(body, self.options.max_payload).await {
                Ok(b) => b,
                Err(()) => return plain(StatusCode::BAD_REQUEST, "bad body"),
            }
        } else {
            Bytes::new()
        };
        let id = RequestId(driver.next_id());
        // Most requests are answered at once (a POST, a GET with packets waiting, an error):
        // taken from this very dispatch; only a request the core parks waits on a channel,
        // registered under the same lock, so that no answer can slip in between.
        let answered = driver.run_then(
            |inner, now| {
                inner.core.handle_http(now, id, method, query, body, || {
                    handshake(&parts.headers, &parts.extensions)
                });
            },
            |inner, d, ()| match d.take_unclaimed(id) {
                Some(r) => Ok(r),
                None => {
                    let (tx, rx) = oneshot::channel();
                    inner.http.insert(id, tx);
                    Err(rx)
                }
            },
        );
        let rx = match answered {
            Ok(r) => return engine_response(r),
            Err(rx) => rx,
        };
        // Dropped before the answer (the client went away): the request was aborted.
        let guard = AbortGuard {
            driver: driver.clone(),
            id,
            armed: true,
        };
        let resp = rx.await;
        let mut guard = guard;
        guard.armed = false;
        match resp {
            Ok(r) => engine_response(r),
            Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "server closed"),
        }
    }
}

struct AbortGuard {
    driver: Arc<Driver>,
    id: RequestId,
    armed: bool,
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if self.armed {
            let id = self.id;
            self.driver.run(|inner, now| {
                inner.http.remove(&id);
                inner.core.handle_http_aborted(now, id)
            });
        }
    }
}

/// Read a body, stopping once it is larger than `max` (the core then refuses it).
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, ()>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(mut data) = frame.into_data() {
            while bytes::Buf::has_remaining(&data) {
                let chunk = bytes::Buf::chunk(&data);
                buf.extend_from_slice(chunk);
                let n = chunk.len();
                bytes::Buf::advance(&mut data, n);
            }
            if buf.len() > max {
                break;
            }
        }
    }
    Ok(buf.freeze())
}

fn is_websocket_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn handshake_of(query: &str, headers: &HeaderMap, remote: Option<String>) -> Handshake {
    Handshake {
        query: query.to_owned(),
        headers: {
            // Exactly the room they take: kept for the connection's life.
            fn text<'a>(
                (k, v): (&'a header::HeaderName, &'a HeaderValue),
            ) -> Option<(&'a str, &'a str)> {
                Some((k.as_str(), v.to_str().ok()?))
            }
            let (len, n) = headers
                .iter()
                .filter_map(text)
                .fold((0, 0), |(len, n), (k, v)| (len + k.len() + v.len(), n + 1));
            let mut h = sio_core::server::Headers::with_capacity(len, n);
            h.extend(headers.iter().filter_map(text));
            h
        },
        remote_addr: remote,
        time: 0,
    }
}

fn engine_response(r: HttpResponse) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(r.body));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(r.content_type),
    );
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r
}

fn add_cors(
    cors: &Cors,
    origin: Option<HeaderValue>,
    preflight_headers: Option<HeaderValue>,
    h: &mut HeaderMap,
) {
    let allow = match (&cors.origin, origin) {
        (CorsOrigin::Any, _) if !cors.credentials => Some(HeaderValue::from_static("*")),
        (CorsOrigin::Any | CorsOrigin::Mirror, Some(o)) => Some(o),
        (CorsOrigin::List(list), Some(o)) => o
            .to_str()
            .ok()
            .filter(|o| list.iter().any(|l| l == o))
            .map(|_| o.clone()),
        _ => None,
    };
    if let Some(allow) = allow {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    if cors.credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    if !cors.allowed_headers.is_empty() {
        if let Ok(v) = HeaderValue::from_str(&cors.allowed_headers.join(",")) {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
        }
    } else if let Some(v) = preflight_headers {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
    }
}

impl ServerOptions {
    /// Options for the official conformance suites: pingInterval 300 ms, pingTimeout 200 ms,
    /// connectTimeout 1 s, CORS `*`.
    pub fn conformance() -> Self {
        ServerOptions {
            ping_interval: std::time::Duration::from_millis(300),
            ping_timeout: std::time::Duration::from_millis(200),
            connect_timeout: std::time::Duration::from_millis(1000),
            cors: Some(Cors::any()),
            ..ServerOptions::default()
        }
    }
}
