//! Support of the connection state recovery interop tests (`tests/recovery_*.rs`): a TCP proxy
//! that cuts every connection through it (both transports die without any goodbye, as when a
//! network path breaks), a server of this project (either runtime) with recovery on and a small application, and the
//! Node server of `tests/js/recovery-server.mjs`.
//!
//! The application (ours, and the Node one alike): a new socket joins the room `group`; on
//! `start` (`{count, interval}`, acknowledged) the server sends `count` events `tick` to that
//! socket and `room` to the room, `interval` ms apart, whatever the socket's connection
//! state, then `done` to the socket. Each connection is reported with its socket id, whether
//! it was recovered, and the auth the application saw. (Ours also records the numbers of the
//! `c` events it receives and acknowledges them.)

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use sio_runtime::{ServerOptions, SocketIo};
use sio_tokio::sio_core::server::RecoveryConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::runtime::{serve, Install, Rt, Served};
use tokio::task::{AbortHandle, JoinHandle};

// ---------------------------------------------------------------------------------------------
// The cutting proxy
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct ProxyState {
    /// The forwarding tasks of the open connections.
    links: Mutex<Vec<AbortHandle>>,
    /// Close new connections at once.
    refusing: AtomicBool,
}

/// A TCP proxy on `127.0.0.1` to an upstream server. [`cut`](Self::cut) closes every
/// connection through it at once (no WebSocket close frame, no Engine.IO close packet: the
/// transports simply die), and [`refuse`](Self::refuse) keeps it closing new ones, so the
/// clients stay away for a while.
pub struct CutProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<ProxyState>,
    task: JoinHandle<()>,
}

impl CutProxy {
    /// A proxy to `upstream`.
    pub async fn start(upstream: SocketAddr) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let state = Arc::new(ProxyState::default());
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if st.refusing.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let link = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut links = st.links.lock().expect("proxy lock");
                links.retain(|l| !l.is_finished());
                links.push(link.abort_handle());
            }
        });
        CutProxy { addr, state, task }
    }

    /// The URL clients use (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Close every connection through the proxy now; both ends see their socket close.
    pub fn cut(&self) {
        for link in self.state.links.lock().expect("proxy lock").drain(..) {
            link.abort();
        }
    }

    /// Close new connections at once (`true`), or forward them again (`false`).
    pub fn refuse(&self, on: bool) {
        self.state.refusing.store(on, Ordering::SeqCst);
    }

    /// Cut every connection and refuse new ones for `away`, in the background.
    pub fn cut_for(self: &Arc<Self>, away: Duration) {
        self.refuse(true);
        self.cut();
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(away).await;
            me.refuse(false);
        });
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

// ---------------------------------------------------------------------------------------------
// Our server
// ---------------------------------------------------------------------------------------------

/// One connection of a socket, as the server application saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    /// The socket id.
    pub sid: String,
    /// `SocketRef::recovered`.
    pub recovered: bool,
    /// What the connect request said (`ConnectRequest::recovered`).
    pub requested: bool,
    /// The auth the application saw.
    pub auth: Option<Value>,
    /// The rooms of the socket when its connect handler ran.
    pub rooms: Vec<String>,
}

/// What `start` asks for.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Start {
    /// How many `tick` and `room` events.
    pub count: u64,
    /// Milliseconds between them.
    pub interval: u64,
}

/// A server of this project (on either runtime) with connection state recovery on, running
/// the application above (and a connect middleware on `/` that counts its runs and lets
/// everyone in).
pub struct RecoveryServer {
    /// How many times the connect middleware ran.
    pub middleware_runs: Arc<AtomicUsize>,
    /// Where it listens.
    pub addr: SocketAddr,
    connections: mpsc::UnboundedReceiver<Connection>,
    /// The numbers of the `c` events received, in order.
    pub received: mpsc::UnboundedReceiver<u64>,
    /// How many ticks were sent so far (all `start`s together).
    pub sent: watch::Receiver<u64>,
    _server: Served,
}

/// The application of [`RecoveryServer`], for either runtime.
struct RecoveryApp {
    connections: mpsc::UnboundedSender<Connection>,
    received: mpsc::UnboundedSender<u64>,
    sent: Arc<watch::Sender<u64>>,
    middleware_runs: Arc<AtomicUsize>,
    /// The test's tokio runtime: the ticks of `start` are paced there, whatever runtime the
    /// server runs on.
    pacer: tokio::runtime::Handle,
}

impl Install for RecoveryApp {
    fn install<R: 'static>(self, io: &SocketIo<R>) {
        let RecoveryApp {
            connections: tx,
            received: c_tx,
            sent: sent_tx,
            middleware_runs: runs,
            pacer,
        } = self;
        let io2 = io.clone();
        io.ns("/", move |socket, req| {
            if !socket.recovered() {
                let _ = socket.join("group");
            }
            let _ = tx.send(Connection {
                sid: socket.id().to_owned(),
                recovered: socket.recovered(),
                requested: req.recovered,
                auth: req
                    .auth
                    .as_deref()
                    .and_then(|a| serde_json::from_str(a).ok()),
                rooms: socket.rooms(),
            });
            let c_tx = c_tx.clone();
            socket.on("c", move |_socket, mut msg| {
                let c_tx = c_tx.clone();
                async move {
                    let Ok(n) = msg.args::<u64>() else { return };
                    let _ = c_tx.send(n);
                    if let Some(ack) = msg.ack() {
                        let _ = ack.send(&n);
                    }
                }
            });
            let (io, sent, pacer) = (io2.clone(), sent_tx.clone(), pacer.clone());
            socket.on("start", move |socket, mut msg| {
                let (io, sent, pacer) = (io.clone(), sent.clone(), pacer.clone());
                async move {
                    let Ok(start) = msg.args::<Start>() else {
                        return;
                    };
                    if let Some(ack) = msg.ack() {
                        let _ = ack.send(&());
                    }
                    // The socket handle is kept: while the socket is away, what is sent to
                    // it waits in its session.
                    pacer.spawn(async move {
                        for n in 0..start.count {
                            let _ = socket.emit("tick", &n);
                            let _ = io.to("group").emit("room", &n);
                            sent.send_modify(|s| *s += 1);
                            tokio::time::sleep(Duration::from_millis(start.interval)).await;
                        }
                        let _ = socket.emit("done", &start.count);
                    });
                }
            });
        })
        .middleware(move |_req| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Ok(()) }
        });
    }
}

impl RecoveryServer {
    /// Start a server on `rt` with `recovery` on an ephemeral port.
    pub async fn start(rt: Rt, recovery: RecoveryConfig) -> RecoveryServer {
        let options = ServerOptions {
            ping_interval: Duration::from_millis(500),
            ping_timeout: Duration::from_millis(400),
            connection_state_recovery: Some(recovery),
            ..ServerOptions::default()
        };
        let (tx, connections) = mpsc::unbounded_channel();
        let (c_tx, received) = mpsc::unbounded_channel();
        let (sent_tx, sent) = watch::channel(0u64);
        let middleware_runs = Arc::new(AtomicUsize::new(0));
        let app = RecoveryApp {
            connections: tx,
            received: c_tx,
            sent: Arc::new(sent_tx),
            middleware_runs: middleware_runs.clone(),
            pacer: tokio::runtime::Handle::current(),
        };
        let server = serve(rt, "127.0.0.1:0".parse().expect("valid"), options, app).await;
        RecoveryServer {
            middleware_runs,
            addr: server.addr,
            connections,
            received,
            sent,
            _server: server,
        }
    }

    /// The next connection the application saw, within `timeout`.
    pub async fn connection(&mut self, timeout: Duration) -> Connection {
        tokio::time::timeout(timeout, self.connections.recv())
            .await
            .expect("a connection within the timeout")
            .expect("the server runs")
    }

    /// Wait until at least `n` ticks were sent.
    pub async fn wait_sent(&mut self, n: u64, timeout: Duration) {
        tokio::time::timeout(timeout, self.sent.wait_for(|s| *s >= n))
            .await
            .expect("ticks sent within the timeout")
            .expect("the server runs");
    }
}

/// The JSON of `start`.
pub fn start_args(start: Start) -> Value {
    json!({ "count": start.count, "interval": start.interval })
}
