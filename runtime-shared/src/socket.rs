//! The handles the application holds: a connected socket, a received event, an ack to send,
//! and broadcast operators.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_core::server::{DisconnectReason, Emit, SocketId, Target};
use sio_core::socket::Packet;
use sio_core::ByteString;
use tokio::sync::oneshot;

use crate::driver::Driver;
use crate::{AckError, EmitError};

pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
pub(crate) type EventHandler = Arc<dyn Fn(SocketRef, Message) -> BoxFuture + Send + Sync>;
pub(crate) type PacketMiddleware =
    Arc<dyn Fn(&SocketRef, &Message) -> Result<(), String> + Send + Sync>;
pub(crate) type ErrorHandler = Arc<dyn Fn(&SocketRef, &str) + Send + Sync>;
pub(crate) type OutgoingObserver = Arc<dyn Fn(&str, &Emit) + Send + Sync>;
pub(crate) type DisconnectHandler =
    Arc<dyn Fn(SocketRef, DisconnectReason) -> BoxFuture + Send + Sync>;

/// What the runtime keeps of one socket: its ids and listeners.
pub(crate) struct SocketState {
    pub(crate) sid: ByteString,
    pub(crate) nsp: ByteString,
    /// It came back through connection state recovery.
    pub(crate) recovered: bool,
    pub(crate) handlers: Mutex<Listeners>,
    /// The events that came before the namespace's connect handler (which installs the
    /// listeners) finished, in order; `None` once it has.
    early: Mutex<Option<Vec<sio_core::server::Event>>>,
    /// `early` is `None`: events no longer wait (read without the lock).
    live: std::sync::atomic::AtomicBool,
}

impl SocketState {
    pub(crate) fn new(sid: ByteString, nsp: ByteString, recovered: bool) -> Self {
        SocketState {
            sid,
            nsp,
            recovered,
            handlers: Mutex::default(),
            early: Mutex::new(Some(Vec::new())),
            live: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Keep `event` while the connect handler has not finished; otherwise give it back.
    pub(crate) fn hold_early(
        &self,
        event: sio_core::server::Event,
    ) -> Option<sio_core::server::Event> {
        if self.live.load(std::sync::atomic::Ordering::Acquire) {
            return Some(event);
        }
        match self.early.lock().expect("early events lock").as_mut() {
            Some(early) => {
                early.push(event);
                None
            }
            None => Some(event),
        }
    }

    /// The events kept so far; once none is left, stop keeping them. Call until empty: events
    /// coming meanwhile are kept, after those returned.
    pub(crate) fn take_early(&self) -> Vec<sio_core::server::Event> {
        let mut early = self.early.lock().expect("early events lock");
        match early.as_mut() {
            Some(events) if !events.is_empty() => std::mem::take(events),
            _ => {
                *early = None;
                self.live.store(true, std::sync::atomic::Ordering::Release);
                Vec::new()
            }
        }
    }
}

/// Listeners of one kind, in order: shared with a dispatch that runs them (a clone is a
/// reference count), and no allocation at all while there are none (most sockets have no
/// listener of most kinds).
pub(crate) struct Shared<T>(Option<Arc<[T]>>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(None)
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.0.as_deref().unwrap_or(&[])
    }
}

impl<T: Clone> Shared<T> {
    /// Add one at the end (listeners are added rarely, run often: the list is rebuilt, one
    /// allocation of exactly its size).
    pub(crate) fn push(&mut self, item: T) {
        let at = self.len();
        self.insert(at, item);
    }

    /// Add one before the one at `at` (the list is rebuilt, as by [`Shared::push`]).
    fn insert(&mut self, at: usize, item: T) {
        let mut all: Vec<T> = Vec::with_capacity(self.len() + 1);
        all.extend(self.iter().take(at).cloned());
        all.push(item);
        all.extend(self.iter().skip(at).cloned());
        self.0 = Some(all.into());
    }
}

/// The listeners of named events: one list for all events, sorted by name, and in the
/// order added for one name. One allocation for a socket's event listeners however many
/// events it listens to (every socket has its own, so a map per socket would cost more
/// than the socket's protocol state); an event finds its listeners by a scan while there are
/// few, by binary search beyond. Names are shared: adding a listener rebuilds the list
/// without copying them.
#[derive(Default, Clone)]
pub(crate) struct EventListeners(Shared<(Arc<str>, EventHandler)>);

impl EventListeners {
    /// Add a listener of `event`, after those it already has.
    pub(crate) fn add(&mut self, event: &str, handler: EventHandler) {
        let at = self.0.partition_point(|(name, _)| &**name <= event);
        self.0.insert(at, (event.into(), handler));
    }

    /// Where the listeners of `event` are, for [`EventListeners::at`].
    pub(crate) fn find(&self, event: &str) -> std::ops::Range<usize> {
        let all = &*self.0;
        // A few listeners (most sockets): a scan, which mostly compares lengths, is cheaper
        // than a binary search, which compares bytes.
        let from = if all.len() <= 8 {
            match all.iter().position(|(name, _)| **name == *event) {
                Some(i) => i,
                None => return 0..0,
            }
        } else {
            all.partition_point(|(name, _)| &**name < event)
        };
        let to = from
            + all[from..]
                .iter()
                .take_while(|(name, _)| **name == *event)
                .count();
        from..to
    }

    /// The listeners in `range` (of [`EventListeners::find`]), in the order added.
    pub(crate) fn at(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = &EventHandler> + Clone {
        self.0.get(range).unwrap_or(&[]).iter().map(|(_, h)| h)
    }
}

#[derive(Default)]
pub(crate) struct Listeners {
    pub(crate) events: EventListeners,
    pub(crate) any: Shared<EventHandler>,
    pub(crate) any_outgoing: Shared<OutgoingObserver>,
    pub(crate) packet_middlewares: Shared<PacketMiddleware>,
    pub(crate) error: Shared<ErrorHandler>,
    pub(crate) disconnecting: Vec<DisconnectHandler>,
    pub(crate) disconnect: Vec<DisconnectHandler>,
}

/// A connected socket: one client in one namespace. Cheap to clone.
#[derive(Clone)]
pub struct SocketRef {
    pub(crate) driver: Arc<Driver>,
    pub(crate) id: SocketId,
    pub(crate) state: Arc<SocketState>,
}

impl std::fmt::Debug for SocketRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketRef")
            .field("id", &self.state.sid)
            .field("nsp", &self.state.nsp)
            .finish()
    }
}

/// An event received from a client.
#[derive(Debug, Clone)]
pub struct Message {
    packet: Packet,
    ack: Option<AckSender>,
}

impl Message {
    pub(crate) fn new(packet: Packet, ack: Option<AckSender>) -> Self {
        Message { packet, ack }
    }

    /// The event name.
    pub fn event(&self) -> String {
        self.packet
            .event_name()
            .map(|n| n.into_owned())
            .unwrap_or_default()
    }

    /// The arguments as user data (see [`sio_core::value::read_args`]: a tuple takes several
    /// arguments, any other type the first one).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, sio_core::value::ValueError> {
        let data = self
            .packet
            .data
            .as_ref()
            .map(|d| d.as_bytes().as_ref())
            .unwrap_or(b"[]");
        sio_core::value::read_args(data, 1, &self.packet.attachments)
    }

    /// The arguments as they came, without the event name and without decoding them: to
    /// answer ([`AckSender::send_args`]) or forward them as they are.
    pub fn arguments(&self) -> sio_core::value::Args {
        sio_core::value::Args::of_event(&self.packet).unwrap_or_default()
    }

    /// The raw JSON array of the event, its name first.
    pub fn json(&self) -> &str {
        self.packet.data.as_deref().unwrap_or("[]")
    }

    /// The binary attachments.
    pub fn binary(&self) -> &[Bytes] {
        &self.packet.attachments
    }

    /// The ack the client asked for, if any. Take it to answer.
    pub fn ack(&mut self) -> Option<AckSender> {
        self.ack.take()
    }

    /// Whether the client asked for an ack.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }
}

/// Answers a client's event. Sending consumes it.
#[derive(Clone)]
pub struct AckSender {
    socket: SocketRef,
    id: u64,
}

impl std::fmt::Debug for AckSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckSender").field("id", &self.id).finish()
    }
}

impl AckSender {
    /// Acknowledge with `args` (a tuple for several arguments, `()` for none).
    pub fn send<T: ?Sized + Serialize>(self, args: &T) -> Result<(), EmitError> {
        self.send_args(sio_core::value::Args::new(args)?)
    }

    /// Acknowledge with arguments serde wrote or that came in an event
    /// ([`Message::arguments`]): they are not checked again.
    pub fn send_args(self, args: sio_core::value::Args) -> Result<(), EmitError> {
        let (socket, id) = (self.socket.id, self.id);
        self.socket
            .driver
            .run(|inner, now| inner.core.ack_args(now, socket, id, args))?;
        Ok(())
    }

    /// Acknowledge with a raw JSON array and attachments.
    pub fn send_raw(self, json: ByteString, attachments: Vec<Bytes>) -> Result<(), EmitError> {
        let (socket, id) = (self.socket.id, self.id);
        self.socket
            .driver
            .run(|inner, now| inner.core.ack(now, socket, id, json, attachments))?;
        Ok(())
    }
}

impl SocketRef {
    pub(crate) fn from_state(driver: Arc<Driver>, id: SocketId, state: Arc<SocketState>) -> Self {
        SocketRef { driver, id, state }
    }

    pub(crate) fn message(&self, packet: Packet) -> Message {
        let ack = packet.id.map(|id| AckSender {
            socket: self.clone(),
            id,
        });
        Message::new(packet, ack)
    }

    /// The socket's id (`socket.id`), also the name of its own room.
    pub fn id(&self) -> &str {
        &self.state.sid
    }

    /// The namespace.
    pub fn ns(&self) -> &str {
        &self.state.nsp
    }

    /// Whether this socket came back through connection state recovery (Node's
    /// `socket.recovered`): the same id as before its transport failed, its rooms already
    /// restored, and the events it missed already sent to it again. The namespace's connect
    /// handler runs for it as for a new socket.
    pub fn recovered(&self) -> bool {
        self.state.recovered
    }

    /// Listen to an event. Several listeners of one event all run, in registration order.
    pub fn on<F, Fut>(&self, event: &str, handler: F)
    where
        F: Fn(SocketRef, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler = Arc::new(move |s, m| Box::pin(handler(s, m)));
        let mut listeners = self.state.handlers.lock().expect("listeners lock");
        listeners.events.add(event, h);
    }

    /// Listen to every incoming event (Node's `onAny`), before the event's own listeners.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(SocketRef, Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: EventHandler = Arc::new(move |s, m| Box::pin(handler(s, m)));
        self.state
            .handlers
            .lock()
            .expect("listeners lock")
            .any
            .push(h);
    }

    /// Add a per-packet middleware (Node's `socket.use`): it sees every incoming event before
    /// the listeners; returning `Err` drops the event and calls the [`on_error`](Self::on_error)
    /// listeners with the message.
    pub fn use_middleware(
        &self,
        f: impl Fn(&SocketRef, &Message) -> Result<(), String> + Send + Sync + 'static,
    ) {
        let mut listeners = self.state.handlers.lock().expect("listeners lock");
        listeners.packet_middlewares.push(Arc::new(f));
    }

    /// Listen to errors of per-packet middlewares (Node's `socket.on("error")`).
    pub fn on_error(&self, f: impl Fn(&SocketRef, &str) + Send + Sync + 'static) {
        let mut listeners = self.state.handlers.lock().expect("listeners lock");
        listeners.error.push(Arc::new(f));
    }

    /// Observe every outgoing event of this socket (Node's `onAnyOutgoing`).
    pub fn on_any_outgoing(&self, f: impl Fn(&str, &Emit) + Send + Sync + 'static) {
        let mut listeners = self.state.handlers.lock().expect("listeners lock");
        listeners.any_outgoing.push(Arc::new(f));
    }

    /// Run when the socket is disconnecting, while it is still in its rooms.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(SocketRef, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.state
            .handlers
            .lock()
            .expect("listeners lock")
            .disconnecting
            .push(h);
    }

    /// Run when the socket has disconnected.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(SocketRef, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let h: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.state
            .handlers
            .lock()
            .expect("listeners lock")
            .disconnect
            .push(h);
    }

    fn outgoing(&self, event: &str, emit: &Emit) {
        let observers = self
            .state
            .handlers
            .lock()
            .expect("listeners lock")
            .any_outgoing
            .clone();
        for o in observers.iter() {
            o(event, emit);
        }
    }

    /// Send an event with `args` (a tuple for several arguments, `()` for none; binary values
    /// such as `bytes::Bytes` travel as attachments).
    pub fn emit<T: ?Sized + Serialize>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        let emit = Emit::from_args(event, args)?;
        self.emit_raw(event, emit)
    }

    /// Send a prepared event.
    pub fn emit_raw(&self, event: &str, emit: Emit) -> Result<(), EmitError> {
        self.outgoing(event, &emit);
        let target = Target::room(&self.state.nsp, &self.state.sid);
        self.driver
            .run(|inner, now| inner.core.emit(now, &target, &emit))?;
        Ok(())
    }

    /// Send an event and wait up to `timeout` for the client's ack; returns the ack's
    /// arguments.
    pub async fn emit_with_ack<T: ?Sized + Serialize, R: DeserializeOwned>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> Result<R, AckError> {
        let emit = Emit::from_args(event, args).map_err(EmitError::from)?;
        self.outgoing(event, &emit);
        let (tx, rx) = oneshot::channel();
        let socket = self.id;
        self.driver.run(|inner, now| -> Result<(), EmitError> {
            let id = inner
                .core
                .emit_with_ack(now, socket, &emit, timeout.as_millis() as u64)?;
            inner.acks.insert((socket, id), tx);
            Ok(())
        })?;
        let packet = rx.await.map_err(|_| AckError::Disconnected)??;
        let data = packet
            .data
            .as_ref()
            .map(|d| d.as_bytes().as_ref())
            .unwrap_or(b"[]");
        Ok(sio_core::value::read_args(data, 0, &packet.attachments)?)
    }

    /// Join a room.
    pub fn join(&self, room: &str) -> Result<(), EmitError> {
        let socket = self.id;
        self.driver.run(|inner, _| inner.core.join(socket, room))?;
        Ok(())
    }

    /// Leave a room.
    pub fn leave(&self, room: &str) -> Result<(), EmitError> {
        let socket = self.id;
        self.driver.run(|inner, _| inner.core.leave(socket, room))?;
        Ok(())
    }

    /// The rooms of this socket, its own id room included.
    pub fn rooms(&self) -> Vec<String> {
        let inner = self.driver.lock();
        inner
            .core
            .socket_rooms(self.id)
            .map(|r| r.map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    /// A broadcast to the members of `room` in this socket's namespace, except this socket
    /// (Node's `socket.to(room)`).
    pub fn to(&self, room: &str) -> BroadcastOperator {
        BroadcastOperator::new(
            self.driver.clone(),
            Target::room(&self.state.nsp, room).except_socket(self.id),
        )
    }

    /// A broadcast to every other socket of the namespace (Node's `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(
            self.driver.clone(),
            Target::namespace(&self.state.nsp).except_socket(self.id),
        )
    }

    /// The handshake data of this socket's connection.
    pub fn handshake(&self) -> Option<sio_core::server::Handshake> {
        self.driver.lock().core.socket_handshake(self.id).cloned()
    }

    /// The transport in use (`polling` or `websocket`).
    pub fn transport(&self) -> Option<&'static str> {
        self.driver
            .lock()
            .core
            .socket_transport(self.id)
            .map(|t| t.name())
    }

    /// Disconnect this socket from its namespace (`close`: the whole connection).
    pub fn disconnect(&self, close: bool) -> Result<(), EmitError> {
        let socket = self.id;
        self.driver
            .run(|inner, now| inner.core.disconnect(now, socket, close))?;
        Ok(())
    }

    /// Whether the socket is still connected.
    pub fn connected(&self) -> bool {
        self.driver.lock().core.socket_sid(self.id).is_some()
    }
}

/// Builds the target of a broadcast: `to`, `except`, then `emit`.
#[derive(Clone)]
pub struct BroadcastOperator {
    pub(crate) driver: Arc<Driver>,
    pub(crate) target: Target,
    volatile: bool,
    /// Only this server's sockets, not the cluster's.
    pub(crate) local: bool,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("target", &self.target)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(driver: Arc<Driver>, target: Target) -> Self {
        BroadcastOperator {
            driver,
            target,
            volatile: false,
            local: false,
        }
    }

    /// Also the members of `room`.
    pub fn to(mut self, room: &str) -> Self {
        self.target = self.target.to(room);
        self
    }

    /// Not the members of `room` (a socket id excludes that socket).
    pub fn except(mut self, room: &str) -> Self {
        self.target = self.target.except(room);
        self
    }

    /// Drop the event for recipients whose transport cannot take it at once.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Send to every selected socket; returns how many it was sent to.
    pub fn emit<T: ?Sized + Serialize>(&self, event: &str, args: &T) -> Result<usize, EmitError> {
        let mut emit = Emit::from_args(event, args)?;
        emit.volatile = self.volatile;
        let (target, local) = (&self.target, self.local);
        Ok(self
            .driver
            .run(|inner, now| inner.core.broadcast(now, target, &emit, local))?)
    }

    /// Send to every selected socket and collect their acks for up to `timeout`. Returns the
    /// answers (socket id, arguments) and an error if some socket did not answer in time.
    /// In a cluster (see [`crate::adapter`]) the sockets of every server are asked, unless
    /// [`local`](Self::local); those of other servers answer without their id.
    pub async fn emit_with_ack<T: ?Sized + Serialize, R: DeserializeOwned>(
        &self,
        event: &str,
        args: &T,
        timeout: Duration,
    ) -> Result<Vec<(String, R)>, AckError> {
        let mut emit = Emit::from_args(event, args).map_err(EmitError::from)?;
        emit.volatile = self.volatile;
        if let Some(r) = crate::adapter::cluster_emit_with_ack(self, &emit, timeout).await {
            return r;
        }
        let (tx, rx) = oneshot::channel();
        let target = &self.target;
        self.driver.run(|inner, now| -> Result<(), EmitError> {
            let id =
                inner
                    .core
                    .broadcast_with_ack(now, target, &emit, timeout.as_millis() as u64)?;
            inner.broadcast_acks.insert(id, tx);
            Ok(())
        })?;
        let (responses, timed_out) = rx.await.map_err(|_| AckError::Disconnected)?;
        if timed_out {
            return Err(AckError::Timeout);
        }
        let inner = self.driver.lock();
        let mut out = Vec::with_capacity(responses.len());
        for (socket, packet) in responses {
            let sid = inner
                .core
                .socket_sid(socket)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let data = packet
                .data
                .as_ref()
                .map(|d| d.as_bytes().as_ref())
                .unwrap_or(b"[]");
            out.push((
                sid,
                sio_core::value::read_args(data, 0, &packet.attachments)?,
            ));
        }
        Ok(out)
    }

    /// The ids of the selected sockets.
    pub fn socket_ids(&self) -> Vec<String> {
        let inner = self.driver.lock();
        inner
            .core
            .recipients(&self.target)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| inner.core.socket_sid(s).map(|s| s.to_string()))
            .collect()
    }

    /// Disconnect every selected socket.
    pub fn disconnect(&self, close: bool) -> Result<(), EmitError> {
        let target = &self.target;
        self.driver.run(|inner, now| -> Result<(), EmitError> {
            for s in inner.core.recipients(target)? {
                // A socket may already be gone with an earlier one's connection.
                let _ = inner.core.disconnect(now, s, close);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler() -> EventHandler {
        Arc::new(|_, _| Box::pin(async {}))
    }

    fn found(l: &EventListeners, event: &str) -> Vec<EventHandler> {
        l.at(l.find(event)).cloned().collect()
    }

    #[test]
    fn event_listeners_by_name_in_the_order_added() {
        let mut l = EventListeners::default();
        assert!(found(&l, "a").is_empty());
        let (b1, a1, b2, c1, a2) = (handler(), handler(), handler(), handler(), handler());
        for (name, h) in [("b", &b1), ("a", &a1), ("b", &b2), ("c", &c1), ("a", &a2)] {
            l.add(name, h.clone());
        }
        let same = |got: Vec<EventHandler>, want: &[&EventHandler]| {
            got.len() == want.len() && got.iter().zip(want).all(|(g, w)| Arc::ptr_eq(g, w))
        };
        assert!(same(found(&l, "a"), &[&a1, &a2]));
        assert!(same(found(&l, "b"), &[&b1, &b2]));
        assert!(same(found(&l, "c"), &[&c1]));
        for absent in ["", "0", "aa", "bb", "d"] {
            assert!(found(&l, absent).is_empty(), "{absent}");
        }
        // A dispatch holds the list it found while listeners are added.
        let held = l.clone();
        let range = held.find("b");
        l.add("a", handler());
        assert!(same(held.at(range).cloned().collect(), &[&b1, &b2]));
        assert_eq!(found(&l, "a").len(), 3);
        // Past the few that are scanned, the binary search finds the same.
        let mut many = EventListeners::default();
        for i in (0..40).rev() {
            many.add(&format!("e{i}"), handler());
            many.add(&format!("e{i}"), handler());
        }
        for i in 0..40 {
            assert_eq!(found(&many, &format!("e{i}")).len(), 2);
        }
        assert!(found(&many, "e").is_empty());
        assert!(found(&many, "e40").is_empty());
    }
}
