//! Scale-out: the hook a cluster bus plugs into ([`Bus`], [`AdapterHandle`]) and the
//! cluster-wide API (fetch sockets, remote join/leave/disconnect, server-side emits, room
//! listing, `local()` to stay on this server).
//!
//! The core decides what goes on the bus ([`AdapterOutput::Publish`]); the driver hands it to
//! the bus once its lock is released, after the local sockets got their frames, so local
//! delivery never waits for the bus. What the bus receives goes back into the core through
//! [`AdapterHandle::deliver`]. `sio-redis` is such a bus, speaking `@socket.io/redis-adapter`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_core::server::{
    AdapterConfig, AdapterMessage, AdapterOutput, AdapterRequestId, RemoteSocket, ServerError,
    Target,
};
use sio_core::ByteString;
use tokio::sync::oneshot;

use crate::driver::Driver;
use crate::rt::BoxFuture;
use crate::socket::BroadcastOperator;
use crate::{AckError, EmitError, SocketIo};

/// A cluster bus: it carries [`AdapterMessage`]s to the other servers.
pub trait Bus: Send + Sync + 'static {
    /// Put `msg` on the bus. Must not block; a bus that is down drops it (and says so).
    fn publish(&self, msg: AdapterMessage);
    /// How many servers listen to requests of namespace `nsp`, this one included (Redis:
    /// `PUBSUB NUMSUB` of the request channel). 1 when unknown.
    fn server_count(&self, nsp: &str) -> BoxFuture<usize>;
    /// The server now serves namespace `nsp` too (subscribe for it).
    fn namespace_added(&self, nsp: &str) {
        let _ = nsp;
    }
}

/// A namespace was added to the server.
pub(crate) fn namespace_added(driver: &Arc<Driver>, nsp: &str) {
    if let Some(bus) = driver.app.adapter.bus() {
        bus.namespace_added(nsp);
    }
}

type ServerSideHandler = Arc<dyn Fn(ServerSideMessage) + Send + Sync>;

/// The cluster state of a server's driver.
#[derive(Default)]
pub(crate) struct Slot {
    bus: RwLock<Option<Arc<dyn Bus>>>,
    waiters: Mutex<HashMap<AdapterRequestId, oneshot::Sender<AdapterOutput>>>,
    server_side: RwLock<Vec<ServerSideHandler>>,
}

impl Slot {
    fn bus(&self) -> Option<Arc<dyn Bus>> {
        self.bus.read().expect("adapter lock").clone()
    }
}

/// Perform the cluster outputs of one drain.
pub(crate) fn perform(driver: &Arc<Driver>, outputs: Vec<AdapterOutput>) {
    if outputs.is_empty() {
        return;
    }
    let slot = &driver.app.adapter;
    for o in outputs {
        match o {
            AdapterOutput::Publish(m) => {
                if let Some(bus) = slot.bus() {
                    bus.publish(m);
                }
            }
            AdapterOutput::ServerSideEmit { nsp, data, reply } => {
                let handlers = slot.server_side.read().expect("adapter lock").clone();
                if handlers.is_empty() {
                    tracing::debug!(nsp = %nsp, "no listener for a server-side emit");
                }
                for h in handlers {
                    h(ServerSideMessage {
                        nsp: nsp.clone(),
                        data: data.clone(),
                        reply: reply.clone().map(|id| ServerSideAck {
                            driver: driver.clone(),
                            nsp: nsp.clone(),
                            id,
                        }),
                    });
                }
            }
            AdapterOutput::Fetched { id, .. }
            | AdapterOutput::Rooms { id, .. }
            | AdapterOutput::ServerSideAcks { id, .. }
            | AdapterOutput::BroadcastAcks { id, .. } => {
                let tx = slot.waiters.lock().expect("adapter lock").remove(&id);
                if let Some(tx) = tx {
                    let _ = tx.send(o);
                }
            }
        }
    }
}

/// What a bus holds of the server it serves.
#[derive(Clone)]
pub struct AdapterHandle {
    driver: Arc<Driver>,
}

impl std::fmt::Debug for AdapterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterHandle").finish()
    }
}

impl AdapterHandle {
    /// Join the cluster through `bus`; returns this server's uid.
    pub fn attach(&self, bus: Arc<dyn Bus>, config: AdapterConfig) -> String {
        *self.driver.app.adapter.bus.write().expect("adapter lock") = Some(bus);
        self.driver
            .run(|inner, _| inner.core.enable_adapter(config))
            .to_string()
    }

    /// This server's uid in the cluster, once attached.
    pub fn uid(&self) -> Option<String> {
        self.driver.lock().core.adapter_uid().map(|u| u.to_string())
    }

    /// The namespaces this server serves (a bus subscribes for each).
    pub fn namespaces(&self) -> Vec<String> {
        self.driver
            .lock()
            .core
            .namespace_names()
            .into_iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// A message from the bus. An `Err` means it was bad application data; it reached no
    /// socket.
    pub fn deliver(&self, msg: AdapterMessage) -> Result<(), ServerError> {
        self.driver
            .run(|inner, now| inner.core.handle_adapter(now, msg))
    }

    /// Several messages from the bus, in order, under one lock and with one dispatch (what
    /// arrived together is written together). Returns how many were refused.
    pub fn deliver_all(&self, msgs: Vec<AdapterMessage>) -> usize {
        self.driver.run(|inner, now| {
            msgs.into_iter()
                .map(|m| inner.core.handle_adapter(now, m))
                .filter(|r| r.is_err())
                .count()
        })
    }

    /// Run a task of the bus on the server's runtime.
    pub fn spawn(&self, task: BoxFuture<()>) {
        self.driver.rt.spawn(task);
    }

    /// Sleep on the server's runtime.
    pub fn sleep(&self, d: Duration) -> BoxFuture<()> {
        self.driver.rt.sleep_until(Instant::now() + d)
    }
}

/// An event another server sent to the servers (Node's `serverSideEmit`).
pub struct ServerSideMessage {
    nsp: ByteString,
    data: ByteString,
    reply: Option<ServerSideAck>,
}

impl std::fmt::Debug for ServerSideMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideMessage")
            .field("nsp", &self.nsp)
            .field("data", &self.data)
            .finish()
    }
}

impl ServerSideMessage {
    /// The namespace.
    pub fn ns(&self) -> &str {
        &self.nsp
    }

    /// The event name.
    pub fn event(&self) -> String {
        serde_json::from_str::<Vec<serde_json::Value>>(&self.data)
            .ok()
            .and_then(|v| v.first().and_then(|e| e.as_str().map(String::from)))
            .unwrap_or_default()
    }

    /// The arguments (a tuple for several).
    pub fn args<T: DeserializeOwned>(&self) -> Result<T, sio_core::value::ValueError> {
        sio_core::value::read_args(self.data.as_bytes(), 1, &[])
    }

    /// The raw JSON array, name first.
    pub fn json(&self) -> &str {
        &self.data
    }

    /// The answer the sender waits for, if any. Take it to answer.
    pub fn ack(&mut self) -> Option<ServerSideAck> {
        self.reply.take()
    }
}

/// Answers a server-side emit with one value.
pub struct ServerSideAck {
    driver: Arc<Driver>,
    nsp: ByteString,
    id: ByteString,
}

impl std::fmt::Debug for ServerSideAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideAck")
            .field("id", &self.id)
            .finish()
    }
}

impl ServerSideAck {
    /// Answer with `value`.
    pub fn send<T: ?Sized + Serialize>(self, value: &T) -> Result<(), EmitError> {
        let json = serde_json::to_string(value)
            .map_err(|_| EmitError::Server(ServerError::InvalidAckData))?;
        let (nsp, id) = (self.nsp, self.id);
        self.driver
            .run(|inner, _| inner.core.server_side_ack(&nsp, id, ByteString::from(json)));
        Ok(())
    }
}

fn json_array<T: ?Sized + Serialize>(event: &str, args: &T) -> Result<ByteString, EmitError> {
    let mut json = Vec::new();
    let mut attachments = Vec::new();
    sio_core::value::write_args(&mut json, Some(event), args, &mut attachments)?;
    if !attachments.is_empty() {
        // Requests travel as JSON: no binary.
        return Err(EmitError::Server(ServerError::InvalidEventData));
    }
    Ok(ByteString::from(
        String::from_utf8(json).expect("JSON is UTF-8"),
    ))
}

async fn server_count(driver: &Arc<Driver>, nsp: &str) -> usize {
    match driver.app.adapter.bus() {
        Some(bus) => bus.server_count(nsp).await.max(1),
        None => 1,
    }
}

/// Start a request on the core and wait for its completion.
async fn request(
    driver: &Arc<Driver>,
    start: impl FnOnce(&mut sio_core::server::Server, u64) -> Result<AdapterRequestId, ServerError>,
) -> Result<AdapterOutput, AckError> {
    let (tx, rx) = oneshot::channel();
    let waiters = &driver.app.adapter.waiters;
    driver
        .run(|inner, now| -> Result<(), ServerError> {
            let id = start(&mut inner.core, now)?;
            waiters.lock().expect("adapter lock").insert(id, tx);
            Ok(())
        })
        .map_err(|e| AckError::Emit(EmitError::Server(e)))?;
    rx.await.map_err(|_| AckError::Disconnected)
}

impl<Rt> SocketIo<Rt> {
    /// The hook for a cluster bus (see [`Bus`]).
    pub fn adapter(&self) -> AdapterHandle {
        AdapterHandle {
            driver: self.driver.clone(),
        }
    }

    /// A broadcast to the default namespace on this server only (Node's `io.local`).
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Listen to the events other servers send with `server_side_emit`.
    pub fn on_server_side(&self, f: impl Fn(ServerSideMessage) + Send + Sync + 'static) {
        self.driver
            .app
            .adapter
            .server_side
            .write()
            .expect("adapter lock")
            .push(Arc::new(f));
    }

    /// Send an event to the other servers of the cluster (default namespace).
    pub fn server_side_emit<T: ?Sized + Serialize>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitError> {
        let data = json_array(event, args)?;
        self.driver
            .run(|inner, _| inner.core.server_side_emit("/", data));
        Ok(())
    }

    /// Send an event to the other servers and wait for one answer from each. A timeout is an
    /// error even if some answered.
    pub async fn server_side_emit_with_ack<T: ?Sized + Serialize, R: DeserializeOwned>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Vec<R>, AckError> {
        let data = json_array(event, args)?;
        let servers = server_count(&self.driver, "/").await;
        let out = request(&self.driver, |core, now| {
            core.server_side_emit_with_ack(now, "/", data, servers)
        })
        .await?;
        let AdapterOutput::ServerSideAcks {
            responses,
            timed_out,
            ..
        } = out
        else {
            return Err(AckError::Disconnected);
        };
        if timed_out {
            return Err(AckError::Timeout);
        }
        responses
            .iter()
            .map(|r| {
                serde_json::from_str(r)
                    .map_err(|e| AckError::Value(sio_core::value::ValueError::Json(e)))
            })
            .collect()
    }

    /// Every room of namespace `nsp` across the cluster.
    pub async fn all_rooms(&self, nsp: &str) -> Result<Vec<String>, AckError> {
        let servers = server_count(&self.driver, nsp).await;
        let out = request(&self.driver, |core, now| core.all_rooms(now, nsp, servers)).await?;
        let AdapterOutput::Rooms {
            rooms, timed_out, ..
        } = out
        else {
            return Err(AckError::Disconnected);
        };
        if timed_out {
            return Err(AckError::Timeout);
        }
        Ok(rooms.into_iter().map(|r| r.to_string()).collect())
    }
}

/// [`BroadcastOperator::emit_with_ack`] across the cluster: `None` when this server is in no
/// cluster or the operator is `local`.
pub(crate) async fn cluster_emit_with_ack<R: DeserializeOwned>(
    op: &BroadcastOperator,
    emit: &sio_core::server::Emit,
    timeout: Duration,
) -> Option<Result<Vec<(String, R)>, AckError>> {
    if op.local || op.driver.app.adapter.bus().is_none() {
        return None;
    }
    let servers = server_count(&op.driver, &op.target.nsp).await;
    let target = &op.target;
    let out = request(&op.driver, |core, now| {
        core.broadcast_with_ack_cluster(now, target, emit, timeout.as_millis() as u64, servers)
    })
    .await;
    let (responses, timed_out) = match out {
        Ok(AdapterOutput::BroadcastAcks {
            responses,
            timed_out,
            ..
        }) => (responses, timed_out),
        Ok(_) => return Some(Err(AckError::Disconnected)),
        Err(e) => return Some(Err(e)),
    };
    if timed_out {
        return Some(Err(AckError::Timeout));
    }
    let inner = op.driver.lock();
    let mut out = Vec::with_capacity(responses.len());
    for (socket, packet) in responses {
        let sid = socket
            .and_then(|s| inner.core.socket_sid(s))
            .map(|s| s.to_string())
            .unwrap_or_default();
        let data = packet
            .data
            .as_ref()
            .map(|d| d.as_bytes().as_ref())
            .unwrap_or(b"[]");
        match sio_core::value::read_args(data, 0, &packet.attachments) {
            Ok(v) => out.push((sid, v)),
            Err(e) => return Some(Err(AckError::Value(e))),
        }
    }
    Some(Ok(out))
}

impl BroadcastOperator {
    /// Only the sockets of this server, not the cluster's (Node's `.local`).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Describe the selected sockets of the cluster (this server's first).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, AckError> {
        let servers = if self.local {
            1
        } else {
            server_count(&self.driver, &self.target.nsp).await
        };
        let (target, local) = (&self.target, self.local);
        let out = request(&self.driver, |core, now| {
            core.fetch_sockets(now, target, servers, local)
        })
        .await?;
        let AdapterOutput::Fetched {
            sockets, timed_out, ..
        } = out
        else {
            return Err(AckError::Disconnected);
        };
        if timed_out {
            return Err(AckError::Timeout);
        }
        Ok(sockets)
    }

    /// The selected sockets of the cluster join `rooms`.
    pub fn sockets_join(&self, rooms: &[&str]) -> Result<(), EmitError> {
        let rooms: Vec<ByteString> = rooms.iter().map(|r| ByteString::from(*r)).collect();
        let (target, local) = (&self.target, self.local);
        Ok(self
            .driver
            .run(|inner, _| inner.core.sockets_join(target, &rooms, local))?)
    }

    /// The selected sockets of the cluster leave `rooms`.
    pub fn sockets_leave(&self, rooms: &[&str]) -> Result<(), EmitError> {
        let rooms: Vec<ByteString> = rooms.iter().map(|r| ByteString::from(*r)).collect();
        let (target, local) = (&self.target, self.local);
        Ok(self
            .driver
            .run(|inner, _| inner.core.sockets_leave(target, &rooms, local))?)
    }

    /// Disconnect the selected sockets of the cluster (`close`: their whole connections).
    pub fn disconnect_sockets(&self, close: bool) -> Result<(), EmitError> {
        let (target, local) = (&self.target, self.local);
        Ok(self
            .driver
            .run(|inner, now| inner.core.disconnect_sockets(now, target, close, local))?)
    }
}

/// The target of a broadcast operator (for buses and tests).
impl BroadcastOperator {
    /// What it selects.
    pub fn target(&self) -> &Target {
        &self.target
    }
}
