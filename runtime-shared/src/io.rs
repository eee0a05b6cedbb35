//! The server handle: namespaces, connect middlewares, and the dispatch of core events to the
//! application's handlers.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_core::server::{ConnectId, Event, Server, Target};
use sio_core::ByteString;

use crate::config::ServerOptions;
use crate::driver::Driver;
use crate::rt::RuntimeKind;
use crate::socket::{BroadcastOperator, SocketRef, SocketState};
use crate::EmitError;

/// A CONNECT request as a middleware sees it.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The namespace.
    pub nsp: String,
    /// The auth object the client sent (JSON), if any.
    pub auth: Option<String>,
    /// The handshake data of the connection.
    pub handshake: sio_core::server::Handshake,
    /// The client presented the session of a socket that disconnected recently
    /// (connection state recovery). The middlewares do not run for it when
    /// [`RecoveryConfig::skip_middlewares`](sio_core::server::RecoveryConfig::skip_middlewares)
    /// is set; [`SocketRef::recovered`] tells whether the socket was indeed recovered.
    pub recovered: bool,
}

impl ConnectRequest {
    /// The auth object as user data.
    pub fn auth<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.auth.as_deref().unwrap_or("{}"))
    }
}

/// A middleware's refusal: the client's `connect_error` gets `message` and `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRefusal {
    /// The error message.
    pub message: String,
    /// Extra data (`err.data` on the client).
    pub data: Option<serde_json::Value>,
}

impl ConnectRefusal {
    /// A refusal with a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectRefusal {
            message: message.into(),
            data: None,
        }
    }

    /// With data.
    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).ok();
        self
    }
}

type MiddlewareFuture = Pin<Box<dyn Future<Output = Result<(), ConnectRefusal>> + Send>>;
type Middleware = Arc<dyn Fn(ConnectRequest) -> MiddlewareFuture + Send + Sync>;
type ConnectHandler = Arc<dyn Fn(SocketRef, ConnectRequest) + Send + Sync>;
type DynamicMatcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone)]
struct Namespace {
    middlewares: Vec<Middleware>,
    on_connect: ConnectHandler,
}

/// The application side of a server: namespaces and their handlers.
#[derive(Default)]
pub(crate) struct App {
    namespaces: RwLock<HashMap<String, Namespace>>,
    dynamic: RwLock<Vec<(DynamicMatcher, Namespace)>>,
    pub(crate) engine_handler: RwLock<Option<crate::engine_io::Handler>>,
    pub(crate) adapter: crate::adapter::Slot,
}

impl App {
    fn find(&self, nsp: &str) -> Option<Namespace> {
        if let Some(ns) = self.namespaces.read().expect("app lock").get(nsp) {
            return Some(ns.clone());
        }
        self.dynamic
            .read()
            .expect("app lock")
            .iter()
            .find(|(m, _)| m(nsp))
            .map(|(_, ns)| ns.clone())
    }
}

/// The Socket.IO server on runtime `Rt` (the runtime crates export it as `SocketIo`). Cheap
/// to clone; every clone drives the same server.
pub struct SocketIo<Rt> {
    pub(crate) driver: Arc<Driver>,
    pub(crate) options: Arc<ServerOptions>,
    _rt: PhantomData<fn() -> Rt>,
}

impl<Rt> Clone for SocketIo<Rt> {
    fn clone(&self) -> Self {
        SocketIo {
            driver: self.driver.clone(),
            options: self.options.clone(),
            _rt: PhantomData,
        }
    }
}

impl<Rt> std::fmt::Debug for SocketIo<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo")
            .field("path", &self.options.path)
            .finish()
    }
}

/// Handle to one namespace, to add middlewares.
pub struct NamespaceRef {
    driver: Arc<Driver>,
    name: String,
}

impl NamespaceRef {
    /// Add a connect middleware: it runs for every CONNECT to this namespace, in the order
    /// added, and may refuse it.
    pub fn middleware<F, Fut>(self, f: F) -> Self
    where
        F: Fn(ConnectRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefusal>> + Send + 'static,
    {
        let mw: Middleware = Arc::new(move |r| Box::pin(f(r)));
        if let Some(ns) = self
            .driver
            .app
            .namespaces
            .write()
            .expect("app lock")
            .get_mut(&self.name)
        {
            ns.middlewares.push(mw);
        }
        self
    }
}

impl<Rt: RuntimeKind> SocketIo<Rt> {
    /// A server with `options`. Must be called inside the runtime (with tokio: within a tokio
    /// runtime).
    pub fn new(options: ServerOptions) -> Self {
        let core = Server::new(options.core_config());
        let driver = Driver::new(core, App::default(), Rt::runtime());
        SocketIo {
            driver,
            options: Arc::new(options),
            _rt: PhantomData,
        }
    }
}

impl<Rt> SocketIo<Rt> {
    /// Serve namespace `name`: `on_connect` runs for every socket that joins it, after the
    /// middlewares accepted it; register the socket's listeners there.
    pub fn ns<F>(&self, name: &str, on_connect: F) -> NamespaceRef
    where
        F: Fn(SocketRef, ConnectRequest) + Send + Sync + 'static,
    {
        self.driver.lock().core.add_namespace(name);
        crate::adapter::namespace_added(&self.driver, name);
        self.driver
            .app
            .namespaces
            .write()
            .expect("app lock")
            .insert(
                name.to_owned(),
                Namespace {
                    middlewares: Vec::new(),
                    on_connect: Arc::new(on_connect),
                },
            );
        NamespaceRef {
            driver: self.driver.clone(),
            name: name.to_owned(),
        }
    }

    /// Serve every namespace whose name `matches` (Node's dynamic namespaces). Requires
    /// [`ServerOptions::dynamic_namespaces`].
    pub fn dynamic_ns<M, F>(&self, matches: M, on_connect: F)
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(SocketRef, ConnectRequest) + Send + Sync + 'static,
    {
        self.driver.app.dynamic.write().expect("app lock").push((
            Arc::new(matches),
            Namespace {
                middlewares: Vec::new(),
                on_connect: Arc::new(on_connect),
            },
        ));
    }

    /// A broadcast to every socket of namespace `nsp`.
    pub fn of(&self, nsp: &str) -> BroadcastOperator {
        BroadcastOperator::new(self.driver.clone(), Target::namespace(nsp))
    }

    /// A broadcast to the members of `room` in the default namespace.
    pub fn to(&self, room: &str) -> BroadcastOperator {
        BroadcastOperator::new(self.driver.clone(), Target::room("/", room))
    }

    /// Send to every socket of the default namespace.
    pub fn emit<T: ?Sized + Serialize>(&self, event: &str, args: &T) -> Result<usize, EmitError> {
        self.of("/").emit(event, args)
    }

    /// The ids of the sockets of a namespace.
    pub fn sockets(&self, nsp: &str) -> Vec<String> {
        let inner = self.driver.lock();
        inner
            .core
            .namespace_sockets(nsp)
            .into_iter()
            .filter_map(|s| inner.core.socket_sid(s).map(|s| s.to_string()))
            .collect()
    }

    /// The rooms of a namespace.
    pub fn rooms(&self, nsp: &str) -> Vec<String> {
        self.driver
            .lock()
            .core
            .namespace_rooms(nsp)
            .into_iter()
            .map(|r| r.to_string())
            .collect()
    }

    /// Close every connection.
    pub fn close(&self) {
        self.driver.run(|inner, now| inner.core.close_all(now));
    }
}

/// Act on one application event of the core.
pub(crate) fn on_event(driver: &Arc<Driver>, event: Event, state: Option<Arc<SocketState>>) {
    // A socket's events wait until its connect handler has installed the listeners: over
    // polling the client can learn it is connected (and send) before that handler ran.
    let event = match (&event, &state) {
        (
            Event::Message { .. } | Event::Disconnecting { .. } | Event::Disconnect { .. },
            Some(s),
        ) => match s.hold_early(event) {
            Some(event) => event,
            None => return,
        },
        _ => event,
    };
    run_handlers(driver, event, state);
}

/// Run the application's handlers of `event`.
fn run_handlers(driver: &Arc<Driver>, event: Event, state: Option<Arc<SocketState>>) {
    match event {
        Event::ConnectRequest {
            id,
            nsp,
            auth,
            recovered,
        } => on_connect_request(driver, id, nsp, auth, recovered),
        Event::Engine(e) => {
            let handler = driver.app.engine_handler.read().expect("app lock").clone();
            crate::engine_io::on_engine_event(driver, handler, e);
        }
        Event::Message { socket, packet } => {
            let Some(state) = state else { return };
            let (middlewares, on_error, any, events, found) = {
                let name = packet.event_name().unwrap_or_default();
                let l = state.handlers.lock().expect("listeners lock");
                // Each a reference count at most (an empty list is no allocation).
                (
                    l.packet_middlewares.clone(),
                    l.error.clone(),
                    l.any.clone(),
                    l.events.clone(),
                    l.events.find(&name),
                )
            };
            let s = SocketRef::from_state(driver.clone(), socket, state);
            let message = s.message(packet);
            // Per-packet middlewares (Node's `socket.use`): the first refusal drops the event
            // and reaches the socket's error listeners.
            if let Some(err) = middlewares.iter().find_map(|m| m(&s, &message).err()) {
                tracing::debug!(event = %message.event(), socket = %s.state.sid, error = %err, "event refused by a middleware");
                for h in on_error.iter() {
                    h(&s, &err);
                }
                return;
            }
            let mut all = any.iter().chain(events.at(found)).peekable();
            if all.peek().is_none() {
                tracing::debug!(event = %message.event(), socket = %s.state.sid, "no listener for event");
                return;
            }
            // The last listener gets the socket and the message themselves, the others copies.
            while let Some(h) = all.next() {
                if all.peek().is_some() {
                    crate::rt::start(&*driver.rt, h(s.clone(), message.clone()));
                } else {
                    crate::rt::start(&*driver.rt, h(s, message));
                    break;
                }
            }
        }
        Event::Disconnecting { socket, reason, .. } => {
            let Some(state) = state else { return };
            let handlers = state
                .handlers
                .lock()
                .expect("listeners lock")
                .disconnecting
                .clone();
            let s = SocketRef::from_state(driver.clone(), socket, state);
            for h in handlers {
                crate::rt::start(&*driver.rt, h(s.clone(), reason));
            }
        }
        Event::Disconnect { socket, reason } => {
            let Some(state) = state else { return };
            tracing::info!(socket = %state.sid, nsp = %state.nsp, reason = reason.as_str(), "socket disconnected");
            let handlers =
                std::mem::take(&mut *state.handlers.lock().expect("listeners lock")).disconnect;
            let s = SocketRef::from_state(driver.clone(), socket, state);
            for h in handlers {
                crate::rt::start(&*driver.rt, h(s.clone(), reason));
            }
        }
        _ => {}
    }
}

fn on_connect_request(
    driver: &Arc<Driver>,
    id: ConnectId,
    nsp: ByteString,
    auth: Option<ByteString>,
    recovered: bool,
) {
    tracing::debug!(nsp = %nsp, recovered, "connect request");
    let Some(ns) = driver.app.find(&nsp) else {
        tracing::info!(nsp = %nsp, "connect refused: invalid namespace");
        driver.run(|inner, now| inner.core.reject(now, id, "Invalid namespace", None).ok());
        return;
    };
    let (handshake, skip_middlewares) = {
        let inner = driver.lock();
        let handshake = inner
            .core
            .connect_request(id)
            .map(|(_, _, h)| h.clone())
            .unwrap_or_default();
        let skip = recovered
            && inner
                .core
                .config()
                .connection_state_recovery
                .as_ref()
                .is_some_and(|r| r.skip_middlewares);
        (handshake, skip)
    };
    let request = ConnectRequest {
        nsp: nsp.to_string(),
        auth: auth.map(|a| a.to_string()),
        handshake,
        recovered,
    };
    let middlewares = if skip_middlewares {
        Vec::new()
    } else {
        ns.middlewares.clone()
    };
    let rt = driver.rt.clone();
    let driver = driver.clone();
    let run = async move {
        for mw in &middlewares {
            if let Err(refusal) = mw(request.clone()).await {
                tracing::info!(nsp = %request.nsp, message = %refusal.message, "connect refused by a middleware");
                let data = refusal
                    .data
                    .as_ref()
                    .and_then(|d| serde_json::value::to_raw_value(d).ok());
                driver.run(|inner, now| {
                    inner
                        .core
                        .reject(now, id, &refusal.message, data.as_deref())
                        .ok()
                });
                return;
            }
        }
        let (accepted, mut dispatch) = driver.run_deferred(|inner, now| {
            let socket = inner.core.accept(now, id).ok()?;
            let sid = inner.core.socket_sid(socket)?.clone();
            let recovered = inner.core.socket_recovered(socket).unwrap_or(false);
            let state = Arc::new(SocketState::new(sid, nsp.clone(), recovered));
            inner.sockets.insert(socket, state.clone());
            Some((socket, state))
        });
        if let Some((socket, state)) = accepted {
            tracing::info!(socket = %state.sid, nsp = %state.nsp, recovered = state.recovered, "socket connected");
            let s = SocketRef::from_state(driver.clone(), socket, state.clone());
            // The events the client sent meanwhile wait until the listeners are in place,
            // then run in order.
            (ns.on_connect)(s, request);
            driver.perform(&mut dispatch);
            loop {
                let early = state.take_early();
                if early.is_empty() {
                    break;
                }
                for event in early {
                    run_handlers(&driver, event, Some(state.clone()));
                }
            }
        } else {
            driver.perform(&mut dispatch);
        }
    };
    rt.spawn(Box::pin(run));
}
