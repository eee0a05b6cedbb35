//! # sio-redis
//!
//! A Redis adapter for the sio servers: several servers (this project's, on tokio or
//! async-std, and Node's with `@socket.io/redis-adapter` 8.x or `@socket.io/redis-emitter`)
//! share rooms, broadcasts and cluster requests through Redis pub/sub.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sio_tokio::{ServerOptions, SocketIo};
//! let io = SocketIo::new(ServerOptions::default());
//! io.ns("/", |_socket, _req| {});
//! let redis = sio_redis::RedisAdapter::attach(&io.adapter(), sio_redis::Config::new("redis://127.0.0.1/")).await?;
//! io.to("room").emit("hello", &1)?;                      // every node's members of "room"
//! io.local().emit("here", &())?;                         // this node only
//! let sockets = io.of("/").to("room").fetch_sockets().await?;
//! io.of("/").to("room").sockets_join(&["other"])?;
//! let answers: Vec<serde_json::Value> = io.server_side_emit_with_ack("ping", &()).await?;
//! # let _ = (redis, sockets, answers); Ok(()) }
//! ```
//!
//! What the cluster shares: broadcasts (rooms, except, volatile, binary), acknowledged
//! broadcasts (`emit_with_ack` on a broadcast operator, Node's `emitWithAck`), fetch sockets,
//! remote join/leave/disconnect, server-side emits with and without acks, the cluster's rooms.
//! Not shared: `SocketRef::emit` (a socket is on one node), the single-socket remote
//! requests of older adapter versions (ignored, as Node ignores unknown types), the sharded
//! adapter (`SSUBSCRIBE`).
//!
//! The wire format lives in [`codec`] (pure, bounded, fuzzable). The IO: one subscriber
//! connection (`PSUBSCRIBE <key>#<nsp>#*`, `SUBSCRIBE` to the request and response channels of
//! each namespace) and one publishing connection, each re-opened when Redis comes back. While
//! Redis is away the server keeps serving its own clients; what it would publish is dropped
//! and counted ([`Status`]), and the failure is logged.

pub mod codec;

/// The Redis client crate this adapter uses.
pub use redis;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use futures_util::StreamExt;
use sio_core::server::{AdapterConfig, AdapterMessage};
use sio_runtime::adapter::{AdapterHandle, Bus};
use sio_runtime::rt::BoxFuture;
use tokio::sync::mpsc;

pub use codec::{Channels, CodecError, Decoded, Limits};

/// Settings of the adapter.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Redis URL (`redis://host:port/`).
    pub url: String,
    /// The channels' prefix (Node's `key`, `socket.io` by default).
    pub key: String,
    /// How long cluster requests wait for answers (Node's `requestsTimeout`, 5 s).
    pub requests_timeout: Duration,
    /// What the decoder accepts.
    pub limits: Limits,
    /// Pause between attempts to reach Redis again.
    pub reconnect_delay: Duration,
    /// Messages waiting to be published before new ones are dropped.
    pub queue: usize,
}

impl Config {
    /// The defaults, with `url`.
    pub fn new(url: &str) -> Self {
        Config {
            url: url.to_owned(),
            key: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            limits: Limits::default(),
            reconnect_delay: Duration::from_millis(500),
            queue: 65_536,
        }
    }

    /// With the channels' prefix `key`.
    pub fn key(mut self, key: &str) -> Self {
        self.key = key.to_owned();
        self
    }
}

/// Counters and the state of the link to Redis.
#[derive(Debug, Default)]
pub struct Status {
    subscribed: AtomicBool,
    published: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    refused: AtomicU64,
    failures: AtomicU64,
}

impl Status {
    /// Whether the subscriber connection is up (cluster messages arrive).
    pub fn connected(&self) -> bool {
        self.subscribed.load(Ordering::Relaxed)
    }
    /// Messages published.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
    /// Messages dropped because Redis was unreachable or the queue full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Messages received from the bus and handed to the server.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
    /// Messages from the bus refused (bad bytes, bad event data).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
    /// Times the link to Redis failed.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

type Conn = redis::aio::MultiplexedConnection;

struct RedisBus {
    channels: Channels,
    tx: mpsc::Sender<(String, Vec<u8>)>,
    client: redis::Client,
    conn: Arc<futures_util::lock::Mutex<Option<Conn>>>,
    status: Arc<Status>,
    added: mpsc::UnboundedSender<String>,
}

async fn connection(
    client: &redis::Client,
    slot: &futures_util::lock::Mutex<Option<Conn>>,
) -> redis::RedisResult<Conn> {
    let mut slot = slot.lock().await;
    if let Some(c) = &*slot {
        return Ok(c.clone());
    }
    let c = client.get_multiplexed_async_connection().await?;
    *slot = Some(c.clone());
    Ok(c)
}

impl Bus for RedisBus {
    fn namespace_added(&self, nsp: &str) {
        let _ = self.added.send(nsp.to_owned());
    }

    fn publish(&self, msg: AdapterMessage) {
        // Encoded once, here, for every other server.
        let job = self.channels.encode(&msg);
        if self.tx.try_send(job).is_err() {
            self.status.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn server_count(&self, nsp: &str) -> BoxFuture<usize> {
        let channel = self.channels.request(nsp);
        let (client, slot) = (self.client.clone(), self.conn.clone());
        Box::pin(async move {
            let count = async {
                let mut c = connection(&client, &slot).await?;
                let (_, n): (String, usize) = redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&channel)
                    .query_async(&mut c)
                    .await?;
                Ok::<_, redis::RedisError>(n)
            };
            match count.await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "redis adapter: cannot count the servers");
                    *slot.lock().await = None;
                    1
                }
            }
        })
    }
}

/// A server's link to the Redis cluster. Dropping it does not detach the server.
#[derive(Clone)]
pub struct RedisAdapter {
    status: Arc<Status>,
    uid: String,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.uid)
            .finish()
    }
}

impl RedisAdapter {
    /// Join the cluster: subscribe for every namespace the server serves (and those it serves
    /// later), start the publisher. Returns once subscribed, or with the first connection's
    /// error (the server then stays on a bus that drops what it is given: attach again).
    pub async fn attach(handle: &AdapterHandle, config: Config) -> redis::RedisResult<Self> {
        let client = redis::Client::open(config.url.as_str())?;
        let channels = Channels::new(&config.key);
        let status = Arc::new(Status::default());
        // Connect once before joining, so that a wrong URL is an error here.
        let first = client.get_async_pubsub().await?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let conn = Arc::new(futures_util::lock::Mutex::new(None));
        let (added, added_rx) = mpsc::unbounded_channel();
        let bus = Arc::new(RedisBus {
            channels: channels.clone(),
            tx,
            client: client.clone(),
            conn: conn.clone(),
            status: status.clone(),
            added,
        });
        let uid = handle.attach(
            bus,
            AdapterConfig {
                requests_timeout: config.requests_timeout.as_millis() as u64,
            },
        );
        let namespaces = handle.namespaces();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        handle.spawn(Box::pin(subscriber(
            handle.clone(),
            client.clone(),
            Some(first),
            channels.clone(),
            namespaces,
            added_rx,
            uid.clone(),
            config.clone(),
            status.clone(),
            Mutex::new(Some(ready_tx)),
        )));
        handle.spawn(Box::pin(publisher(client, conn, rx, status.clone())));
        match ready_rx.await {
            Ok(Ok(())) => Ok(RedisAdapter { status, uid }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "subscriber stopped",
            ))),
        }
    }

    /// The link's state and counters.
    pub fn status(&self) -> &Arc<Status> {
        &self.status
    }

    /// This server's uid in the cluster.
    pub fn uid(&self) -> &str {
        &self.uid
    }
}

type Ready = Mutex<Option<tokio::sync::oneshot::Sender<redis::RedisResult<()>>>>;

#[allow(clippy::too_many_arguments)]
async fn subscriber(
    handle: AdapterHandle,
    client: redis::Client,
    mut first: Option<redis::aio::PubSub>,
    channels: Channels,
    mut namespaces: Vec<String>,
    mut added: mpsc::UnboundedReceiver<String>,
    uid: String,
    config: Config,
    status: Arc<Status>,
    ready: Ready,
) {
    let signal = |r: redis::RedisResult<()>| {
        if let Some(tx) = ready.lock().expect("ready lock").take() {
            let _ = tx.send(r);
        }
    };
    loop {
        let pubsub = match first.take() {
            Some(p) => Ok(p),
            None => client.get_async_pubsub().await,
        };
        let subscribed = async {
            let (mut sink, stream) = pubsub?.split();
            for nsp in &namespaces {
                subscribe(&mut sink, &channels, nsp, &uid).await?;
            }
            Ok::<_, redis::RedisError>((sink, stream))
        }
        .await;
        match subscribed {
            Ok((mut sink, stream)) => {
                if !status.subscribed.swap(true, Ordering::Relaxed) {
                    tracing::info!(uid = %uid, "redis adapter: subscribed");
                }
                signal(Ok(()));
                // What arrived together is handed to the server together: one lock, one
                // dispatch, one write per connection.
                let mut messages = stream.ready_chunks(256);
                let mut batch = Vec::new();
                loop {
                    let next = {
                        let namespace = added.recv();
                        futures_util::pin_mut!(namespace);
                        match futures_util::future::select(messages.next(), namespace).await {
                            Either::Left((m, _)) => Either::Left(m),
                            Either::Right((n, _)) => Either::Right(n),
                        }
                    };
                    let chunk = match next {
                        Either::Left(Some(chunk)) => chunk,
                        Either::Left(None) => break,
                        Either::Right(Some(nsp)) => {
                            if !namespaces.contains(&nsp) {
                                let r = subscribe(&mut sink, &channels, &nsp, &uid).await;
                                namespaces.push(nsp);
                                if r.is_err() {
                                    break;
                                }
                            }
                            continue;
                        }
                        // The server is gone.
                        Either::Right(None) => return,
                    };
                    for m in chunk {
                        let channel = m.get_channel_name();
                        match channels.decode(channel, m.get_payload_bytes(), &config.limits) {
                            Ok(Decoded::Message(msg)) => batch.push(msg),
                            Ok(Decoded::Ignored(t)) => {
                                tracing::trace!(channel, kind = t, "redis adapter: ignored");
                            }
                            Err(e) => {
                                status.refused.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(channel, error = %e, "redis adapter: bad message");
                            }
                        }
                    }
                    if !batch.is_empty() {
                        status
                            .received
                            .fetch_add(batch.len() as u64, Ordering::Relaxed);
                        let refused = handle.deliver_all(std::mem::take(&mut batch));
                        if refused > 0 {
                            status.refused.fetch_add(refused as u64, Ordering::Relaxed);
                            tracing::debug!(
                                refused,
                                "redis adapter: messages refused by the server"
                            );
                        }
                    }
                }
                status.subscribed.store(false, Ordering::Relaxed);
                status.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("redis adapter: lost the subscription, serving local clients only");
            }
            Err(e) => {
                if ready.lock().expect("ready lock").is_some() {
                    signal(Err(e));
                    return;
                }
                tracing::debug!(error = %e, "redis adapter: Redis still unreachable");
            }
        }
        handle.sleep(config.reconnect_delay).await;
    }
}

async fn subscribe(
    sink: &mut redis::aio::PubSubSink,
    channels: &Channels,
    nsp: &str,
    uid: &str,
) -> redis::RedisResult<()> {
    sink.psubscribe(format!("{}*", channels.broadcast(nsp)))
        .await?;
    sink.subscribe(channels.request(nsp)).await?;
    sink.subscribe(channels.response(nsp)).await?;
    sink.subscribe(channels.specific_response(nsp, uid)).await
}

async fn publisher(
    client: redis::Client,
    conn: Arc<futures_util::lock::Mutex<Option<Conn>>>,
    mut rx: mpsc::Receiver<(String, Vec<u8>)>,
    status: Arc<Status>,
) {
    // Opened here, on the server's runtime, before anyone needs it.
    let _ = connection(&client, &conn).await;
    let mut down_since_report = false;
    let mut jobs = Vec::new();
    // Whatever queued up meanwhile goes out in one pipeline: one round trip, in order.
    while rx.recv_many(&mut jobs, 512).await > 0 {
        let n = jobs.len() as u64;
        let mut pipe = redis::pipe();
        for (channel, bytes) in jobs.drain(..) {
            pipe.cmd("PUBLISH").arg(channel).arg(bytes).ignore();
        }
        let attempt = || async {
            let mut c = connection(&client, &conn).await?;
            pipe.query_async::<()>(&mut c).await
        };
        let sent = match attempt().await {
            Ok(()) => Ok(()),
            // The connection may be one Redis dropped while it was away: once more on a
            // fresh one.
            Err(_) => {
                *conn.lock().await = None;
                attempt().await
            }
        };
        match sent {
            Ok(()) => {
                status.published.fetch_add(n, Ordering::Relaxed);
                if down_since_report {
                    tracing::info!("redis adapter: publishing again");
                    down_since_report = false;
                }
            }
            Err(e) => {
                status.dropped.fetch_add(n, Ordering::Relaxed);
                *conn.lock().await = None;
                if !down_since_report {
                    status.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "redis adapter: cannot publish, cluster messages are dropped until Redis is back");
                    down_since_report = true;
                }
            }
        }
    }
}
