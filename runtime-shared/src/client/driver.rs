//! The loop around the client core: one mutex-guarded [`Client`] core fed by the HTTP request
//! tasks, the WebSocket task, the timer task and the application; every output performed
//! after the lock is released.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use std::time::Instant;

use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use http::{header, Request};
use http_body_util::Full;
use sio_core::client::{
    Client, ClientConfig, ClientError, ConnectError, ConnectionState, EmitId, Event, Output,
    SocketOptions,
};
use sio_core::engine::client::{Method, RequestId, Transmit, TransportKind, WsId};
use sio_core::server::Emit;
use sio_core::ByteString;
use tokio::sync::{oneshot, Notify};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;

use super::{message, AckWaiter, Listeners, ManagerEvent, ManagerHandler, Socket};
use crate::driver::Timed;
use crate::outbox::Outbox;
use crate::rt::Runtime;
use crate::ws::{pump, End};

struct Inner {
    core: Client,
    outboxes: HashMap<WsId, Arc<Outbox>>,
    requests: HashMap<RequestId, AbortHandle>,
    acks: HashMap<EmitId, AckWaiter>,
    sockets: HashMap<ByteString, Arc<Mutex<Listeners>>>,
    /// The options each namespace was opened with, for [`ClientDriver::reconnect_socket`].
    options: HashMap<ByteString, SocketOptions>,
    waiters: HashMap<ByteString, Vec<oneshot::Sender<Result<(), ConnectError>>>>,
    /// The last `connect_error` of each namespace since it last connected: what
    /// `wait_connected` answers when the namespace gave up before anyone waited.
    last_error: HashMap<ByteString, ConnectError>,
    timer_at: Option<u64>,
}

/// The shared driver of one client connection.
pub(crate) struct ClientDriver {
    inner: Mutex<Inner>,
    timer: Arc<Notify>,
    start: Instant,
    origin: String,
    headers: Vec<(String, String)>,
    rt: Arc<dyn Runtime>,
    manager: Vec<ManagerHandler>,
    max_payload: usize,
    me: Weak<ClientDriver>,
}

#[derive(Default)]
struct Dispatch {
    /// The core's events, performed first: their handlers start before any task that a
    /// transmit starts can report on it (`reconnect_attempt` before the attempt's failure)
    /// or deliver later events (the next poll's, before this poll's).
    events: Vec<Event>,
    /// Then its transmits, in order.
    transmits: Vec<Transmit>,
    timer_changed: bool,
}

impl ClientDriver {
    pub(crate) fn new(
        origin: String,
        headers: Vec<(String, String)>,
        config: ClientConfig,
        manager: Vec<ManagerHandler>,
        rt: Arc<dyn Runtime>,
    ) -> Arc<Self> {
        let max_payload = config.engine.limits.max_payload;
        let driver = Arc::new_cyclic(|me| ClientDriver {
            inner: Mutex::new(Inner {
                core: Client::new(config),
                outboxes: HashMap::new(),
                requests: HashMap::new(),
                acks: HashMap::new(),
                sockets: HashMap::new(),
                options: HashMap::new(),
                waiters: HashMap::new(),
                last_error: HashMap::new(),
                timer_at: None,
            }),
            timer: Arc::new(Notify::new()),
            start: Instant::now(),
            origin,
            headers,
            rt,
            manager,
            max_payload,
            me: me.clone(),
        });
        driver
            .rt
            .spawn(Box::pin(crate::driver::timer_task(Arc::downgrade(&driver))));
        driver
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arc(&self) -> Arc<ClientDriver> {
        self.me.upgrade().expect("the driver is alive while in use")
    }

    /// Run `f` on the core, then perform every output.
    fn run<R>(&self, f: impl FnOnce(&mut Inner, u64) -> R) -> R {
        let now = self.now();
        let (r, d) = {
            let mut inner = self.lock();
            let r = f(&mut inner, now);
            let mut d = Dispatch::default();
            while let Some(out) = inner.core.poll_output() {
                match out {
                    Output::Transmit(t) => {
                        inner.prepare(&t);
                        d.transmits.push(t);
                    }
                    Output::Event(e) => {
                        match &e {
                            Event::ConnectError { nsp, error } => {
                                inner.last_error.insert(nsp.clone(), error.clone());
                            }
                            Event::Connect { nsp, .. } => {
                                inner.last_error.remove(nsp);
                            }
                            _ => {}
                        }
                        d.events.push(e);
                    }
                }
            }
            let next = inner.core.poll_timeout();
            if next != inner.timer_at {
                d.timer_changed =
                    next.is_some() && (inner.timer_at.is_none() || next < inner.timer_at);
                inner.timer_at = next;
            }
            (r, d)
        };
        self.perform(d);
        r
    }

    fn perform(&self, d: Dispatch) {
        if d.timer_changed {
            self.timer.notify_one();
        }
        for e in d.events {
            self.on_event(e);
        }
        for t in d.transmits {
            self.transmit(t);
        }
    }

    fn transmit(&self, t: Transmit) {
        match t {
            Transmit::Http {
                req,
                method,
                path_and_query,
                body,
            } => {
                let driver = self.arc();
                let (abort, registration) = AbortHandle::new_pair();
                // Recorded before the task starts: it cannot finish before its abort handle
                // is there to be removed.
                self.lock().requests.insert(req, abort);
                let task = async move {
                    let result = driver.request(method, &path_and_query, body).await;
                    driver.run(|inner, now| {
                        inner.requests.remove(&req);
                        match result {
                            Ok((status, body)) => {
                                inner.core.handle_http_response(now, req, status, body)
                            }
                            Err(()) => inner.core.handle_http_error(now, req),
                        }
                    });
                };
                self.rt.spawn(Box::pin(async move {
                    let _ = Abortable::new(task, registration).await;
                }));
            }
            Transmit::HttpAbort { req } => {
                if let Some(h) = self.lock().requests.remove(&req) {
                    h.abort();
                }
            }
            Transmit::WsOpen { ws, path_and_query } => {
                let outbox = self.lock().outboxes.get(&ws).cloned();
                if let Some(outbox) = outbox {
                    let driver = self.arc();
                    self.rt.spawn(Box::pin(async move {
                        driver.websocket(ws, path_and_query, outbox).await
                    }));
                }
            }
            Transmit::Ws { ws, .. } | Transmit::WsClose { ws } => {
                // Not under the lock: delivering may write to the socket.
                let outbox = self.lock().outboxes.get(&ws).cloned();
                if let Some(o) = outbox {
                    o.deliver();
                }
            }
        }
    }

    async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Bytes,
    ) -> Result<(u16, Bytes), ()> {
        let uri = format!("{}{}", self.origin, path_and_query);
        let mut builder = Request::builder().uri(uri);
        builder = match method {
            Method::Post => builder
                .method(http::Method::POST)
                .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8"),
            _ => builder.method(http::Method::GET),
        };
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let req = builder.body(Full::new(body)).map_err(|_| ())?;
        self.rt
            .http_request(req, self.max_payload.saturating_add(1))
            .await
    }

    async fn websocket(self: Arc<Self>, ws: WsId, path_and_query: String, outbox: Arc<Outbox>) {
        let url = format!("{}{}", self.origin, path_and_query)
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        let mut request = match url.as_str().into_client_request() {
            Ok(r) => r,
            Err(_) => return self.run(|inner, now| inner.core.handle_ws_closed(now, ws, true)),
        };
        for (k, v) in &self.headers {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                request.headers_mut().insert(k, v);
            }
        }
        let config = WebSocketConfig::default().max_message_size(Some(self.max_payload));
        let stream = match self.rt.connect_websocket(request, config).await {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!(error = %e, "websocket connection failed");
                self.run(|inner, now| {
                    inner.outboxes.remove(&ws);
                    inner.core.handle_ws_closed(now, ws, true)
                });
                return;
            }
        };
        self.run(|inner, now| inner.core.handle_ws_opened(now, ws));
        let end = pump(stream, &*outbox, |frame| {
            self.run(|inner, now| inner.core.handle_ws_message(now, ws, frame));
        })
        .await;
        self.run(|inner, now| {
            inner.outboxes.remove(&ws);
            if let End::Lost { error } = end {
                inner.core.handle_ws_closed(now, ws, error)
            }
        });
    }

    fn socket(&self, nsp: &ByteString) -> Option<Socket> {
        let listeners = self.lock().sockets.get(nsp).cloned()?;
        Some(Socket {
            driver: self.arc(),
            nsp: nsp.clone(),
            listeners,
        })
    }

    fn on_event(&self, e: Event) {
        match e {
            // Listeners first, then the waiters of `wait_connected`: code resuming after the
            // wait sees what the listeners did, as with socket.io-client's synchronous
            // listeners.
            Event::Connect { nsp, .. } => {
                if let Some(s) = self.socket(&nsp) {
                    let hs = s.listeners.lock().expect("listeners lock").connect.clone();
                    for h in hs {
                        h(s.clone());
                    }
                }
                let waiters = self.lock().waiters.remove(&nsp).unwrap_or_default();
                for w in waiters {
                    let _ = w.send(Ok(()));
                }
            }
            Event::ConnectError { nsp, error } => {
                if let Some(s) = self.socket(&nsp) {
                    let hs = s
                        .listeners
                        .lock()
                        .expect("listeners lock")
                        .connect_error
                        .clone();
                    for h in hs {
                        h(s.clone(), error.clone());
                    }
                }
                let waiters = self.lock().waiters.remove(&nsp).unwrap_or_default();
                for w in waiters {
                    let _ = w.send(Err(error.clone()));
                }
            }
            Event::Disconnect { nsp, reason } => {
                if let Some(s) = self.socket(&nsp) {
                    let hs = s
                        .listeners
                        .lock()
                        .expect("listeners lock")
                        .disconnect
                        .clone();
                    for h in hs {
                        h(s.clone(), reason);
                    }
                }
            }
            Event::Message { nsp, packet } => {
                let Some(s) = self.socket(&nsp) else { return };
                let name = packet
                    .event_name()
                    .map(|n| n.into_owned())
                    .unwrap_or_default();
                let (any, handlers) = {
                    let l = s.listeners.lock().expect("listeners lock");
                    (
                        l.any.clone(),
                        l.events.get(&name).cloned().unwrap_or_default(),
                    )
                };
                let msg = message(&s, packet);
                for h in any.iter().chain(handlers.iter()) {
                    crate::rt::start(&*self.rt, h(s.clone(), msg.clone()));
                }
            }
            Event::AckReceived { emit, packet, .. } => {
                if let Some(w) = self.lock().acks.remove(&emit) {
                    let _ = w.send(Ok(packet));
                }
            }
            Event::AckFailed { emit, error, .. } => {
                if let Some(w) = self.lock().acks.remove(&emit) {
                    let _ = w.send(Err(error));
                }
            }
            Event::ReconnectAttempt { attempt } => {
                self.manager_event(ManagerEvent::ReconnectAttempt(attempt))
            }
            Event::Reconnect { attempt } => self.manager_event(ManagerEvent::Reconnect(attempt)),
            Event::ReconnectError { error } => {
                self.manager_event(ManagerEvent::ReconnectError(error.message().to_owned()))
            }
            Event::ReconnectFailed => self.manager_event(ManagerEvent::ReconnectFailed),
            Event::Upgrade => self.manager_event(ManagerEvent::Upgrade),
            Event::Close { reason } => {
                self.manager_event(ManagerEvent::Close(format!("{reason:?}")))
            }
            Event::Open { .. } | Event::Ping | Event::UpgradeError(_) => {}
        }
    }

    fn manager_event(&self, e: ManagerEvent) {
        for h in &self.manager {
            h(e.clone());
        }
    }

    // ----- the application's commands ------------------------------------------------------

    pub(crate) fn add_socket(
        &self,
        nsp: &str,
        opts: SocketOptions,
        listeners: Listeners,
    ) -> Socket {
        let key = ByteString::from(nsp);
        let listeners = {
            let mut inner = self.lock();
            inner.options.insert(key.clone(), opts.clone());
            inner
                .sockets
                .entry(key.clone())
                .or_insert_with(|| Arc::new(Mutex::new(listeners)))
                .clone()
        };
        let r = self.run(|inner, now| inner.core.connect(now, nsp, opts));
        if let Err(e) = r {
            tracing::warn!(nsp, error = %e, "cannot connect namespace");
        }
        Socket {
            driver: self.arc(),
            nsp: key,
            listeners,
        }
    }

    /// Connect a namespace again with the options (auth, ack timeout, retries) it was opened
    /// with, as socket.io-client's `socket.connect()` after `socket.disconnect()`.
    pub(crate) fn reconnect_socket(&self, nsp: &str) {
        let _ = self.run(|inner, now| {
            let opts = inner.options.get(nsp).cloned().unwrap_or_default();
            inner.core.connect(now, nsp, opts)
        });
    }

    pub(crate) async fn wait_connected(&self, nsp: &ByteString) -> Result<(), ConnectError> {
        let rx = {
            let mut inner = self.lock();
            if inner.core.is_connected(nsp) {
                return Ok(());
            }
            // Refused (or the connection closed for good) before this wait began: nothing
            // more will come, the last error is the answer.
            let given_up =
                !inner.core.is_active(nsp) || inner.core.state() == ConnectionState::Closed;
            if let (true, Some(error)) = (given_up, inner.last_error.get(nsp)) {
                return Err(error.clone());
            }
            let (tx, rx) = oneshot::channel();
            inner.waiters.entry(nsp.clone()).or_default().push(tx);
            rx
        };
        rx.await.unwrap_or(Err(ConnectError::Timeout))
    }

    pub(crate) fn state(&self) -> ConnectionState {
        self.lock().core.state()
    }

    pub(crate) fn transport(&self) -> Option<TransportKind> {
        self.lock().core.engine().transport()
    }

    pub(crate) fn engine_id(&self) -> Option<String> {
        let inner = self.lock();
        if inner.core.state() != ConnectionState::Open {
            return None;
        }
        inner.core.engine().sid().map(|s| s.to_string())
    }

    pub(crate) fn is_recovered(&self, nsp: &str) -> bool {
        self.lock().core.is_recovered(nsp)
    }

    pub(crate) fn socket_id(&self, nsp: &str) -> Option<String> {
        self.lock().core.socket_id(nsp).map(|s| s.to_string())
    }

    pub(crate) fn is_connected(&self, nsp: &str) -> bool {
        self.lock().core.is_connected(nsp)
    }

    pub(crate) fn emit(&self, nsp: &str, emit: &Emit) -> Result<(), ClientError> {
        self.run(|inner, now| inner.core.emit(now, nsp, emit))
            .map(|_| ())
    }

    pub(crate) fn emit_with_ack(
        &self,
        nsp: &str,
        emit: &Emit,
        timeout: Option<u64>,
    ) -> Result<oneshot::Receiver<super::AckResult>, ClientError> {
        let (tx, rx) = oneshot::channel();
        self.run(|inner, now| {
            let id = inner.core.emit_with_ack(now, nsp, emit, timeout)?;
            inner.acks.insert(id, tx);
            Ok(rx)
        })
    }

    pub(crate) fn ack(
        &self,
        nsp: &str,
        id: u64,
        json: ByteString,
        attachments: Vec<Bytes>,
    ) -> Result<(), ClientError> {
        self.run(|inner, now| inner.core.ack(now, nsp, id, json, attachments))
    }

    pub(crate) fn disconnect(&self, nsp: &str) {
        let _ = self.run(|inner, now| inner.core.disconnect(now, nsp));
    }

    pub(crate) fn close(&self) {
        self.run(|inner, now| inner.core.close(now));
    }
}

impl Inner {
    /// Bookkeeping that must happen under the lock, before the transmit is performed.
    fn prepare(&mut self, t: &Transmit) {
        match t {
            Transmit::WsOpen { ws, .. } => {
                self.outboxes.insert(*ws, Arc::new(Outbox::default()));
            }
            Transmit::Ws { ws, frame } => {
                if let Some(o) = self.outboxes.get(ws) {
                    o.push(crate::ws::message(frame.clone()));
                }
            }
            Transmit::WsClose { ws } => {
                if let Some(o) = self.outboxes.remove(ws) {
                    let _ = o.close();
                    // Keep it reachable for the delivery in `transmit`.
                    self.outboxes.insert(*ws, o);
                }
            }
            Transmit::Http { .. } | Transmit::HttpAbort { .. } => {}
        }
    }
}

impl Timed for ClientDriver {
    fn deadline(&self) -> Option<Instant> {
        let at = self.lock().timer_at?;
        Some(self.start + std::time::Duration::from_millis(at))
    }

    fn timer(&self) -> &Arc<Notify> {
        &self.timer
    }

    fn rt(&self) -> &Arc<dyn Runtime> {
        &self.rt
    }

    fn fire(self: Arc<Self>) {
        self.run(|inner, now| inner.core.handle_timeout(now));
    }
}
