//! The typed client handles: wrappers over [`ClientBuilder`], [`Client`] and [`Socket`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use sio_core::client::{ConnectError, DisconnectReason};

use super::{Ack, DecodeError, EventMap};
use crate::client::{Client, ClientBuilder, EmitAckError, EmitError, Message, Socket};
use crate::rt::RuntimeKind;

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type EventHandler<In, Out> = Arc<dyn Fn(TypedClientSocket<In, Out>, In) -> BoxFuture + Send + Sync>;
type FallbackHandler<In, Out> =
    Arc<dyn Fn(TypedClientSocket<In, Out>, DecodeError, Message) -> BoxFuture + Send + Sync>;

/// The typed listeners of the client's main socket.
struct Slots<In, Out> {
    event: Mutex<Option<EventHandler<In, Out>>>,
    fallback: Mutex<Option<FallbackHandler<In, Out>>>,
}

/// Builds a [`TypedClient`] that receives the events of map `In` and sends those of map `Out`
/// (a client's `<ServerToClient, ClientToServer>`) on the main socket of a [`ClientBuilder`].
pub struct TypedClientBuilder<In, Out, Rt> {
    builder: ClientBuilder<Rt>,
    slots: Arc<Slots<In, Out>>,
}

impl<In, Out, Rt> std::fmt::Debug for TypedClientBuilder<In, Out, Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedClientBuilder")
            .field(&self.builder)
            .finish()
    }
}

impl<In: EventMap, Out: EventMap, Rt: RuntimeKind> TypedClientBuilder<In, Out, Rt> {
    /// Type `builder` (set its URL, auth, transports ... first). Its untyped listeners stay;
    /// it gets one more, catch-all, that decodes every event for the typed handler.
    pub fn new(builder: ClientBuilder<Rt>) -> Self {
        let slots = Arc::new(Slots {
            event: Mutex::new(None),
            fallback: Mutex::new(None),
        });
        let dispatch = slots.clone();
        let builder = builder.on_any(move |socket, message| {
            let slots = dispatch.clone();
            async move { dispatch_event(TypedClientSocket { socket, slots }, message).await }
        });
        TypedClientBuilder { builder, slots }
    }

    /// Handle every event that decodes into `In` (see [`TypedClientSocket::on_event`]).
    pub fn on_event<F, Fut>(self, handler: F) -> Self
    where
        F: Fn(TypedClientSocket<In, Out>, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        set_event(&self.slots, handler);
        self
    }

    /// Handle the events that do not decode into `In` (see
    /// [`TypedClientSocket::on_fallback`]).
    pub fn on_fallback<F, Fut>(self, handler: F) -> Self
    where
        F: Fn(TypedClientSocket<In, Out>, DecodeError, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        set_fallback(&self.slots, handler);
        self
    }

    /// Run when the main socket connects (and reconnects).
    pub fn on_connect(
        self,
        f: impl Fn(TypedClientSocket<In, Out>) + Send + Sync + 'static,
    ) -> Self {
        let slots = self.slots.clone();
        let builder = self.builder.on_connect(move |socket| {
            f(TypedClientSocket {
                socket,
                slots: slots.clone(),
            })
        });
        TypedClientBuilder {
            builder,
            slots: self.slots,
        }
    }

    /// Run when the main socket disconnects, with socket.io-client's reason.
    pub fn on_disconnect(
        self,
        f: impl Fn(TypedClientSocket<In, Out>, DisconnectReason) + Send + Sync + 'static,
    ) -> Self {
        let slots = self.slots.clone();
        let builder = self.builder.on_disconnect(move |socket, reason| {
            f(
                TypedClientSocket {
                    socket,
                    slots: slots.clone(),
                },
                reason,
            )
        });
        TypedClientBuilder {
            builder,
            slots: self.slots,
        }
    }

    /// Start connecting and return at once (see [`ClientBuilder::build`]).
    pub fn build(self) -> TypedClient<In, Out> {
        let client = self.builder.build();
        let socket = TypedClientSocket {
            socket: client.socket().clone(),
            slots: self.slots,
        };
        TypedClient { client, socket }
    }

    /// Start connecting and wait until the main socket is connected, or failed to (see
    /// [`ClientBuilder::connect`]).
    ///
    /// # Errors
    ///
    /// When the server refused the namespace, or the connection timed out.
    pub async fn connect(self) -> Result<TypedClient<In, Out>, ConnectError> {
        let client = self.build();
        client.socket.socket.wait_connected().await?;
        Ok(client)
    }
}

fn set_event<In, Out, F, Fut>(slots: &Slots<In, Out>, handler: F)
where
    F: Fn(TypedClientSocket<In, Out>, In) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let h: EventHandler<In, Out> = Arc::new(move |s, e| Box::pin(handler(s, e)));
    *slots.event.lock().expect("typed listeners lock") = Some(h);
}

fn set_fallback<In, Out, F, Fut>(slots: &Slots<In, Out>, handler: F)
where
    F: Fn(TypedClientSocket<In, Out>, DecodeError, Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let h: FallbackHandler<In, Out> = Arc::new(move |s, e, m| Box::pin(handler(s, e, m)));
    *slots.fallback.lock().expect("typed listeners lock") = Some(h);
}

async fn dispatch_event<In: EventMap, Out: EventMap>(
    socket: TypedClientSocket<In, Out>,
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
            None => tracing::debug!(event = %name, "no typed handler"),
        },
        Err(error) => match fallback {
            Some(f) => f(socket, error, message).await,
            None => tracing::debug!(%error, "event does not fit the typed map"),
        },
    }
}

/// A connected typed client: its main socket ([`TypedClientSocket`], which it dereferences
/// to) and the untyped [`Client`].
pub struct TypedClient<In, Out> {
    client: Client,
    socket: TypedClientSocket<In, Out>,
}

impl<In, Out> Clone for TypedClient<In, Out> {
    fn clone(&self) -> Self {
        TypedClient {
            client: self.client.clone(),
            socket: self.socket.clone(),
        }
    }
}

impl<In, Out> std::fmt::Debug for TypedClient<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedClient").field(&self.client).finish()
    }
}

impl<In, Out> std::ops::Deref for TypedClient<In, Out> {
    type Target = TypedClientSocket<In, Out>;

    fn deref(&self) -> &TypedClientSocket<In, Out> {
        &self.socket
    }
}

impl<In: EventMap, Out: EventMap> TypedClient<In, Out> {
    /// The typed main socket.
    pub fn socket(&self) -> &TypedClientSocket<In, Out> {
        &self.socket
    }

    /// The untyped client (other namespaces, connection state, transport ...).
    pub fn untyped(&self) -> &Client {
        &self.client
    }

    /// Close the connection and every socket; no reconnection follows.
    pub fn close(&self) {
        self.client.close();
    }
}

/// The main socket of a typed client: it receives the events of map `In` and sends those of
/// map `Out`. Cheap to clone: clones share the typed handlers.
pub struct TypedClientSocket<In, Out> {
    socket: Socket,
    slots: Arc<Slots<In, Out>>,
}

impl<In, Out> Clone for TypedClientSocket<In, Out> {
    fn clone(&self) -> Self {
        TypedClientSocket {
            socket: self.socket.clone(),
            slots: self.slots.clone(),
        }
    }
}

impl<In, Out> std::fmt::Debug for TypedClientSocket<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TypedClientSocket")
            .field(&self.socket)
            .finish()
    }
}

impl<In: EventMap, Out: EventMap> TypedClientSocket<In, Out> {
    /// The untyped socket.
    pub fn untyped(&self) -> &Socket {
        &self.socket
    }

    /// The socket id given by the server, while connected.
    pub fn id(&self) -> Option<String> {
        self.socket.id()
    }

    /// Whether the namespace is connected.
    pub fn connected(&self) -> bool {
        self.socket.connected()
    }

    /// Handle every incoming event that decodes into `In`: match on it; a variant declared
    /// with an answer carries its [`Ack`]. One handler: a later call replaces it.
    pub fn on_event<F, Fut>(&self, handler: F)
    where
        F: Fn(TypedClientSocket<In, Out>, In) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        set_event(&self.slots, handler);
    }

    /// Handle the incoming events that do not decode into `In` (an unknown name, arguments
    /// that do not fit): the error and the raw message, whose [`Message::ack`] can still
    /// answer. Without a fallback they are logged (`tracing`, debug level) and dropped. One
    /// fallback: a later call replaces it.
    pub fn on_fallback<F, Fut>(&self, handler: F)
    where
        F: Fn(TypedClientSocket<In, Out>, DecodeError, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        set_fallback(&self.slots, handler);
    }

    /// Send `event` (buffered while disconnected).
    ///
    /// # Errors
    ///
    /// When the event cannot be serialized or the client core refuses it.
    pub fn emit(&self, event: &Out) -> Result<(), EmitError> {
        self.socket.emit(event.name(), &event.args())
    }

    /// Send `event` unless it cannot leave now (socket.io-client's `volatile.emit`).
    ///
    /// # Errors
    ///
    /// When the event cannot be serialized or the client core refuses it.
    pub fn emit_volatile(&self, event: &Out) -> Result<(), EmitError> {
        self.socket.emit_volatile(event.name(), &event.args())
    }

    /// Send the event that `make` builds from an [`Ack<R>`] — the constructor of a variant
    /// declared with `=> R`, or a closure such as `|ack| Out::Command(cmd, ack)` — and wait up
    /// to `timeout` for the server's answer, an `R`.
    ///
    /// # Errors
    ///
    /// [`EmitAckError::Ack`] on timeout or disconnection, [`EmitAckError::Value`] when the
    /// event cannot be serialized or the answer is not an `R`.
    pub async fn emit_with_ack<R, F>(&self, make: F, timeout: Duration) -> Result<R, EmitAckError>
    where
        F: FnOnce(Ack<R>) -> Out,
        R: DeserializeOwned,
    {
        let event = make(Ack::detached());
        self.socket
            .emit_with_ack(event.name(), &event.args(), timeout)
            .await
    }

    /// Disconnect this namespace; it does not reconnect.
    pub fn disconnect(&self) {
        self.socket.disconnect();
    }

    /// Connect again after [`disconnect`](Self::disconnect).
    pub fn connect(&self) {
        self.socket.connect();
    }
}
