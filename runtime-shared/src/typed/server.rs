//! The typed server handles: wrappers over [`SocketIo`], [`SocketRef`] and
//! [`BroadcastOperator`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Ack, DecodeError, EventMap, Maps};
use crate::{
    AckError, BroadcastOperator, ConnectRequest, DisconnectReason, EmitError, Message,
    NamespaceRef, SocketIo, SocketRef,
};

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type EventHandler<In, Out> = Arc<dyn Fn(TypedSocket<In, Out>, In) -> BoxFuture + Send + Sync>;
type FallbackHandler<In, Out> =
    Arc<dyn Fn(TypedSocket<In, Out>, DecodeError, Message) -> BoxFuture + Send + Sync>;

/// The typed listeners of one socket.
struct Slots<In, Out> {
    event: Mutex<Option<EventHandler<In, Out>>>,
    fallback: Mutex<Option<FallbackHandler<In, Out>>>,
}

impl<In, Out> Slots<In, Out> {
    fn clear(&self) {
        self.event.lock().expect("typed listeners lock").take();
        self.fallback.lock().expect("typed listeners lock").take();
    }
}

/// The typed server: a [`SocketIo`] whose namespaces hand out [`TypedSocket`]s that receive
/// `In` and send `Out` (a server's `<ClientToServer, ServerToClient>`). Cheap to clone.
pub struct TypedIo<In, Out, Rt> {
    io: SocketIo<Rt>,
    maps: Maps<In, Out>,
}

impl<In, Out, Rt> Clone for TypedIo<In, Out, Rt> {
    fn clone(&self) -> Self {
        TypedIo {
            io: self.io.clone(),
            maps: self.maps,
        }
    }
}

impl<In, Out, Rt> std::fmt::Debug for TypedIo<In, Out, Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedIo").field(&self.io).finish()
    }
}

impl<In: EventMap, Out: EventMap, Rt> TypedIo<In, Out, Rt> {
    /// Type the server `io`. Untyped namespaces and handlers may be used beside typed ones.
    pub fn new(io: SocketIo<Rt>) -> Self {
        TypedIo {
            io,
            maps: Maps::default(),
        }
    }

    /// The untyped server (to serve it, add untyped namespaces, list sockets and rooms ...).
    pub fn untyped(&self) -> &SocketIo<Rt> {
        &self.io
    }

    /// Serve namespace `name` (see [`SocketIo::ns`]): `on_connect` gets each socket that joins
    /// it, typed; register its handlers there.
    pub fn ns<F>(&self, name: &str, on_connect: F) -> NamespaceRef
    where
        F: Fn(TypedSocket<In, Out>, ConnectRequest) + Send + Sync + 'static,
    {
        self.io.ns(name, move |socket, req| {
            on_connect(TypedSocket::new(socket), req)
        })
    }

    /// A broadcast to every socket of namespace `nsp`.
    pub fn of(&self, nsp: &str) -> TypedBroadcast<Out> {
        TypedBroadcast::new(self.io.of(nsp))
    }

    /// A broadcast to the members of `room` in the default namespace.
    pub fn to(&self, room: &str) -> TypedBroadcast<Out> {
        TypedBroadcast::new(self.io.to(room))
    }

    /// Send `event` to every socket of the default namespace; returns how many it was sent to.
    ///
    /// # Errors
    ///
    /// When the event cannot be serialized or the core refuses it.
    pub fn emit(&self, event: &Out) -> Result<usize, EmitError> {
        self.of("/").emit(event)
    }
}

/// A connected socket that receives the events of map `In` and sends those of map `Out`
/// (a server's `<ClientToServer, ServerToClient>`). Cheap to clone: clones share the typed
/// handlers.
///
/// It wraps a [`SocketRef`] (see [`untyped`](Self::untyped)): untyped listeners and emits still
/// work beside the typed ones.
pub struct TypedSocket<In, Out> {
    socket: SocketRef,
    slots: Arc<Slots<In, Out>>,
}

impl<In, Out> Clone for TypedSocket<In, Out> {
    fn clone(&self) -> Self {
        TypedSocket {
            socket: self.socket.clone(),
            slots: self.slots.clone(),
        }
    }
}

impl<In, Out> std::fmt::Debug for TypedSocket<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedSocket").field(&self.socket).finish()
    }
}

impl<In: EventMap, Out: EventMap> TypedSocket<In, Out> {
    /// Type `socket`. Make one per socket ([`TypedIo::ns`] does): each one listens to every
    /// incoming event (with [`SocketRef::on_any`]) to decode it for its handler.
    pub fn new(socket: SocketRef) -> Self {
        let slots = Arc::new(Slots {
            event: Mutex::new(None),
            fallback: Mutex::new(None),
        });
        let dispatch = slots.clone();
        socket.on_any(move |socket, message| {
            let slots = dispatch.clone();
            async move { dispatch_event(TypedSocket { socket, slots }, message).await }
        });
        // The handlers may hold this socket: drop them when it goes.
        let on_gone = slots.clone();
        socket.on_disconnect(move |_, _| {
            on_gone.clear();
            async {}
        });
        TypedSocket { socket, slots }
    }

    /// The untyped socket.
    pub fn untyped(&self) -> &SocketRef {
        &self.socket
    }

    /// The socket's id (`socket.id`), also the name of its own room.
    pub fn id(&self) -> &str {
        self.socket.id()
    }

    /// The namespace.
    pub fn ns(&self) -> &str {
        self.socket.ns()
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.socket.connected()
    }

    /// Whether the socket came back through connection state recovery (see
    /// [`SocketRef::recovered`]).
    pub fn recovered(&self) -> bool {
        self.socket.recovered()
    }

    /// Handle every incoming event that decodes into `In`: match on it; a variant declared
    /// with an answer carries its [`Ack`]. One handler per socket: a later call replaces it.
    /// Events run concurrently, each in its own task, as untyped listeners do.
    pub fn on_event<F, Fut>(&self, handler: F)
    where
        F: Fn(TypedSocket<In, Out>, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler<In, Out> = Arc::new(move |s, e| Box::pin(handler(s, e)));
        *self.slots.event.lock().expect("typed listeners lock") = Some(h);
    }

    /// Handle the incoming events that do not decode into `In` (an unknown name, arguments
    /// that do not fit): the error and the raw message, whose [`Message::ack`] can still
    /// answer. Without a fallback they are logged (`tracing`, debug level) and dropped. One
    /// fallback per socket: a later call replaces it.
    pub fn on_fallback<F, Fut>(&self, handler: F)
    where
        F: Fn(TypedSocket<In, Out>, DecodeError, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: FallbackHandler<In, Out> = Arc::new(move |s, e, m| Box::pin(handler(s, e, m)));
        *self.slots.fallback.lock().expect("typed listeners lock") = Some(h);
    }

    /// Run when the socket has disconnected (see [`SocketRef::on_disconnect`]).
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(TypedSocket<In, Out>, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let slots = self.slots.clone();
        self.socket.on_disconnect(move |socket, reason| {
            handler(
                TypedSocket {
                    socket,
                    slots: slots.clone(),
                },
                reason,
            )
        });
    }

    /// Send `event` to this socket.
    ///
    /// # Errors
    ///
    /// When the event cannot be serialized or the socket is gone.
    pub fn emit(&self, event: &Out) -> Result<(), EmitError> {
        self.socket.emit(event.name(), &event.args())
    }

    /// Send the event that `make` builds from an [`Ack<R>`] — the constructor of a variant
    /// declared with `=> R`, or a closure such as `|ack| Out::Command(cmd, ack)` — and wait up
    /// to `timeout` for the client's answer, an `R`.
    ///
    /// # Errors
    ///
    /// [`AckError::Timeout`], [`AckError::Disconnected`], [`AckError::Emit`] when the event
    /// cannot be sent, [`AckError::Value`] when the answer is not an `R`.
    pub async fn emit_with_ack<R, F>(&self, make: F, timeout: Duration) -> Result<R, AckError>
    where
        F: FnOnce(Ack<R>) -> Out,
        R: DeserializeOwned,
    {
        let event = make(Ack::detached());
        self.socket
            .emit_with_ack(event.name(), &event.args(), timeout)
            .await
    }

    /// A broadcast to the members of `room` in this socket's namespace, except this socket.
    pub fn to(&self, room: &str) -> TypedBroadcast<Out> {
        TypedBroadcast::new(self.socket.to(room))
    }

    /// A broadcast to every other socket of the namespace.
    pub fn broadcast(&self) -> TypedBroadcast<Out> {
        TypedBroadcast::new(self.socket.broadcast())
    }

    /// Join a room.
    ///
    /// # Errors
    ///
    /// When the socket is gone.
    pub fn join(&self, room: &str) -> Result<(), EmitError> {
        self.socket.join(room)
    }

    /// Leave a room.
    ///
    /// # Errors
    ///
    /// When the socket is gone.
    pub fn leave(&self, room: &str) -> Result<(), EmitError> {
        self.socket.leave(room)
    }

    /// Disconnect this socket from its namespace (`close`: the whole connection).
    ///
    /// # Errors
    ///
    /// When the socket is already gone.
    pub fn disconnect(&self, close: bool) -> Result<(), EmitError> {
        self.socket.disconnect(close)
    }
}

async fn dispatch_event<In: EventMap, Out: EventMap>(
    socket: TypedSocket<In, Out>,
    message: Message,
) {
    let handler = socket
        .slots
        .event
        .lock()
        .expect("typed listeners lock")
        .clone();
    let fallback = socket
        .slots
        .fallback
        .lock()
        .expect("typed listeners lock")
        .clone();
    if handler.is_none() && fallback.is_none() {
        return;
    }
    let name = message.event();
    // The raw message keeps its ack for the fallback; the decoded event gets a copy.
    let ack = message.clone().ack();
    match In::read(&name, message.json().as_bytes(), message.binary(), ack) {
        Ok(event) => match handler {
            Some(h) => h(socket, event).await,
            None => tracing::debug!(event = %name, socket = %socket.id(), "no typed handler"),
        },
        Err(error) => match fallback {
            Some(f) => f(socket, error, message).await,
            None => {
                tracing::debug!(socket = %socket.id(), %error, "event does not fit the typed map")
            }
        },
    }
}

/// A typed broadcast: the events of map `Out` to the sockets selected with `to`, `except`
/// (see [`BroadcastOperator`]).
pub struct TypedBroadcast<Out> {
    op: BroadcastOperator,
    map: std::marker::PhantomData<fn(Out)>,
}

impl<Out> Clone for TypedBroadcast<Out> {
    fn clone(&self) -> Self {
        TypedBroadcast {
            op: self.op.clone(),
            map: self.map,
        }
    }
}

impl<Out> std::fmt::Debug for TypedBroadcast<Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedBroadcast").field(&self.op).finish()
    }
}

impl<Out: EventMap> TypedBroadcast<Out> {
    /// Type an untyped broadcast.
    pub fn new(op: BroadcastOperator) -> Self {
        TypedBroadcast {
            op,
            map: std::marker::PhantomData,
        }
    }

    /// The untyped broadcast.
    pub fn untyped(&self) -> &BroadcastOperator {
        &self.op
    }

    /// Also the members of `room`.
    pub fn to(self, room: &str) -> Self {
        Self::new(self.op.to(room))
    }

    /// Not the members of `room` (a socket id excludes that socket).
    pub fn except(self, room: &str) -> Self {
        Self::new(self.op.except(room))
    }

    /// Drop the event for recipients whose transport cannot take it at once.
    pub fn volatile(self) -> Self {
        Self::new(self.op.volatile())
    }

    /// Send `event` to every selected socket; returns how many it was sent to.
    ///
    /// # Errors
    ///
    /// When the event cannot be serialized or the core refuses it.
    pub fn emit(&self, event: &Out) -> Result<usize, EmitError> {
        self.op.emit(event.name(), &event.args())
    }

    /// Send the event that `make` builds from an [`Ack<R>`] to every selected socket and
    /// collect their answers (socket id, `R`) for up to `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastOperator::emit_with_ack`]: [`AckError::Timeout`] when some socket did not
    /// answer in time, [`AckError::Value`] when an answer is not an `R`.
    pub async fn emit_with_ack<R, F>(
        &self,
        make: F,
        timeout: Duration,
    ) -> Result<Vec<(String, R)>, AckError>
    where
        F: FnOnce(Ack<R>) -> Out,
        R: DeserializeOwned,
    {
        let event = make(Ack::detached());
        self.op
            .emit_with_ack(event.name(), &event.args(), timeout)
            .await
    }

    /// The ids of the selected sockets.
    pub fn socket_ids(&self) -> Vec<String> {
        self.op.socket_ids()
    }

    /// Disconnect every selected socket.
    ///
    /// # Errors
    ///
    /// When the core refuses (an unknown namespace).
    pub fn disconnect(&self, close: bool) -> Result<(), EmitError> {
        self.op.disconnect(close)
    }
}
