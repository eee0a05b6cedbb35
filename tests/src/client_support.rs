//! Interoperability of the Rust client ([`sio_tokio::client`]) with three servers: Node's
//! `socket.io` 4.8 (`tests/js/server.mjs`), `python-socketio` 5 on aiohttp (`tests/py/server.py`)
//! and this project's own server ([`sio_tokio::SocketIo`], run in-process with the same
//! handlers, see [`install_app`]).
//!
//! One set of scenarios (the `pub async fn`s below) is parametrized by the [`Peer`] and the
//! transport [`Mode`]; [`client_interop_tests!`](crate::client_interop_tests) makes the test
//! matrix of one peer. Each scenario checks one feature of the client and fails without it.
//!
//! The servers report what they observe as `SEEN {json}` lines (in-process: the same JSON
//! values through a channel): connections with their Engine.IO id (`conn`), disconnections, the
//! `seq` and `retry` events. The client side is recorded by a [`Recorder`] with timestamps.
//!
//! The Node peer needs `npm ci` in `tests/js`; the Python peer needs the virtual environment
//! `tests/py/.venv` made from `tests/py/requirements.txt`. The README's test command
//! (`bash scripts/test.sh`) installs both; without them the tests fail and say so.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sio_runtime::client::{
    Client, ClientBuilder, EmitAckError, ManagerEvent, Message, Socket as ClientSocket,
};
use sio_runtime::rt::RuntimeKind;
use sio_runtime::SocketIo;
use sio_tokio::sio_core::client::{
    AckError, ConnectError, ConnectionState, DisconnectReason, TransportKind,
};
use sio_tokio::sio_core::server::Emit;
use sio_tokio::{ConnectRefusal, ConnectRequest, SocketRef};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::node::{js_dir, require_node_modules, Node, INSTALL_HINT};
use crate::runtime::{try_serve, Install, Rt, Served, TestRuntime};

/// The token the `/admin` namespace accepts (`auth.token`).
pub const TOKEN: &str = "s3cret";

/// How long to wait for something that should happen at once.
const WAIT: Duration = Duration::from_secs(5);

/// The limit of one scenario.
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(15);

/// Scheduling slack added to upper time bounds (two cores shared with the server peers).
const SLACK: Duration = Duration::from_millis(400);

// ---------------------------------------------------------------------------------------------
// Peers and modes
// ---------------------------------------------------------------------------------------------

/// The server the client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Node's `socket.io` 4.8 (`tests/js/server.mjs`).
    Node,
    /// `python-socketio` 5 on aiohttp (`tests/py/server.py`).
    Python,
    /// This project's [`SocketIo`], in-process.
    Own,
}

impl Peer {
    /// A ping interval and timeout short enough for the ping timeout scenario
    /// (python-engineio announces the interval in whole seconds).
    pub fn quick_heartbeat(self) -> (Duration, Duration) {
        match self {
            Peer::Python => (Duration::from_millis(1000), Duration::from_millis(500)),
            _ => (Duration::from_millis(300), Duration::from_millis(200)),
        }
    }

    /// Whether the server reports the real Engine.IO session id (`socket.conn.id`). The own
    /// server reports a fingerprint of the connection's handshake instead (see [`install_app`]).
    pub fn reports_engine_id(self) -> bool {
        self != Peer::Own
    }

    /// The server's reason when the client leaves a namespace, and when the server makes it
    /// leave.
    pub fn leave_reasons(self) -> (&'static str, &'static str) {
        match self {
            Peer::Python => ("client disconnect", "server disconnect"),
            _ => ("client namespace disconnect", "server namespace disconnect"),
        }
    }

    /// The server's `connect_error` message for a namespace it does not have.
    pub fn unknown_namespace_message(self) -> &'static str {
        match self {
            Peer::Python => "Unable to connect",
            _ => "Invalid namespace",
        }
    }
}

/// How the client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP long-polling only.
    Polling,
    /// WebSocket only.
    WebSocket,
    /// Polling, then the upgrade to WebSocket.
    Upgrade,
}

impl Mode {
    /// The client's transports.
    pub fn transports(self) -> &'static [TransportKind] {
        match self {
            Mode::Polling => &[TransportKind::Polling],
            Mode::WebSocket => &[TransportKind::WebSocket],
            Mode::Upgrade => &[TransportKind::Polling, TransportKind::WebSocket],
        }
    }

    /// The transport the connection ends up on.
    pub fn final_transport(self) -> TransportKind {
        match self {
            Mode::Polling => TransportKind::Polling,
            Mode::WebSocket | Mode::Upgrade => TransportKind::WebSocket,
        }
    }

    fn final_name(self) -> &'static str {
        match self.final_transport() {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// Server settings given on the peer's command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `pingInterval`.
    pub ping_interval: Duration,
    /// `pingTimeout`.
    pub ping_timeout: Duration,
    /// The transports the server accepts.
    pub transports: &'static [&'static str],
    /// Node's `connectionStateRecovery` (the other peers do not have it).
    pub recovery: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            transports: &["polling", "websocket"],
            recovery: false,
        }
    }
}

impl Settings {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--pingInterval={}", self.ping_interval.as_millis()),
            format!("--pingTimeout={}", self.ping_timeout.as_millis()),
            format!("--transports={}", self.transports.join(",")),
        ];
        if self.recovery {
            args.push("--recovery=on".into());
        }
        args
    }
}

// ---------------------------------------------------------------------------------------------
// The Python environment
// ---------------------------------------------------------------------------------------------

/// `tests/py`.
pub fn py_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py")
}

/// The interpreter of `tests/py/.venv`; panics with the install instruction when it is missing.
pub fn venv_python() -> PathBuf {
    let python = py_dir().join(".venv").join("bin").join("python");
    assert!(
        python.exists(),
        "{} is missing: the python-socketio interoperability tests need the virtual environment \
         tests/py/.venv made from tests/py/requirements.txt; run the README's test command \
         (`bash scripts/test.sh`, which creates it), or `python3 -m venv tests/py/.venv && \
         tests/py/.venv/bin/pip install -r tests/py/requirements.txt`, then \
         `cargo test -p sio-tests`",
        python.display()
    );
    python
}

/// Panic unless Node's `socket.io` 4.8 is installed in `tests/js`.
fn require_node_server() {
    require_node_modules();
    let manifest = js_dir()
        .join("node_modules")
        .join("socket.io")
        .join("package.json");
    let text = std::fs::read_to_string(&manifest).unwrap_or_else(|_| {
        panic!(
            "{} is missing: the Rust client tests need Node's socket.io server; {INSTALL_HINT}",
            manifest.display()
        )
    });
    let v: Value = serde_json::from_str(&text).expect("package.json is JSON");
    let version = v["version"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("4.8."),
        "socket.io {version} is installed, the tests target 4.8.x; {INSTALL_HINT}"
    );
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

enum Backend {
    /// A Node or Python process.
    Process(Box<Node>),
    /// The in-process server.
    Own(OwnServer),
}

struct OwnServer {
    seen: mpsc::UnboundedReceiver<Value>,
    served: Served,
}

/// A test server of one [`Peer`] on `127.0.0.1`, on an ephemeral port kept across restarts.
pub struct Server {
    /// Which server.
    pub peer: Peer,
    /// The runtime of the own server (the client's).
    rt: Rt,
    settings: Settings,
    port: u16,
    backend: Option<Backend>,
    seen: Vec<Value>,
}

impl Server {
    /// Start a server with `settings` on a free port (the own server on runtime `R`).
    pub async fn start<R: TestRuntime>(peer: Peer, settings: Settings) -> Server {
        let mut server = Server {
            peer,
            rt: R::RT,
            settings,
            port: 0,
            backend: None,
            seen: Vec::new(),
        };
        server.launch().await;
        server
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    async fn launch(&mut self) {
        assert!(self.backend.is_none(), "the server is running");
        // A port just freed can be refused for a moment: try again a few times.
        for attempt in 1..=5 {
            match self.peer {
                Peer::Own => {
                    let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
                    let own = match start_own(self.rt, addr, &self.settings).await {
                        Ok(own) => own,
                        Err(e) if attempt < 5 => {
                            eprintln!("cannot listen on {addr} ({e}); trying again");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(e) => panic!("cannot listen on {addr}: {e}"),
                    };
                    self.port = own.served.addr.port();
                    self.backend = Some(Backend::Own(own));
                    return;
                }
                Peer::Node | Peer::Python => {
                    let listen = format!("127.0.0.1:{}", self.port);
                    let args = self.settings.args();
                    let (name, command) = if self.peer == Peer::Node {
                        require_node_server();
                        let mut c = Command::new("node");
                        c.arg(js_dir().join("server.mjs"))
                            .arg("serve")
                            .arg(&listen)
                            .args(&args)
                            .current_dir(js_dir());
                        ("server.mjs", c)
                    } else {
                        let mut c = Command::new(venv_python());
                        c.arg("-u")
                            .arg(py_dir().join("server.py"))
                            .arg("serve")
                            .arg(&listen)
                            .args(&args)
                            .current_dir(py_dir());
                        ("server.py", c)
                    };
                    let mut process = Node::spawn_command(name, command)
                        .unwrap_or_else(|e| panic!("cannot run the {name} peer: {e}"));
                    match process.try_line("LISTENING", Duration::from_secs(10)).await {
                        Some(port) => {
                            self.port = port.parse().expect("LISTENING <port>");
                            self.backend = Some(Backend::Process(Box::new(process)));
                            return;
                        }
                        None => {
                            let out = process.finish(Duration::from_secs(1)).await;
                            if attempt < 5 && self.port != 0 {
                                eprintln!("{name} did not start; trying again: {}", out.stderr);
                                tokio::time::sleep(Duration::from_millis(100)).await;
                                continue;
                            }
                            panic!(
                                "the {name} peer did not start listening on {listen}\n--- \
                                 stdout ---\n{}\n--- stderr ---\n{}",
                                out.stdout, out.stderr
                            );
                        }
                    }
                }
            }
        }
    }

    /// Stop the server: a Node or Python process is killed (SIGKILL: its connections drop
    /// without a goodbye), the own server shuts down. What it observed is kept.
    pub async fn kill(&mut self) {
        self.drain().await;
        match self.backend.take() {
            Some(Backend::Process(mut p)) => p.kill().await,
            Some(Backend::Own(mut own)) => {
                let _ = own.served.stop(WAIT).await;
            }
            None => {}
        }
    }

    /// Start it again on the same port, forgetting what the previous run observed.
    pub async fn start_again(&mut self) {
        self.seen.clear();
        self.launch().await;
    }

    /// Take the observations already reported.
    async fn drain(&mut self) {
        while let Some(v) = self.next_seen(Duration::ZERO).await {
            self.seen.push(v);
        }
    }

    async fn next_seen(&mut self, timeout: Duration) -> Option<Value> {
        match self.backend.as_mut()? {
            Backend::Process(p) => {
                let line = p.try_line("SEEN ", timeout).await?;
                Some(serde_json::from_str(&line).expect("SEEN lines are JSON"))
            }
            Backend::Own(own) => tokio::time::timeout(timeout, own.seen.recv())
                .await
                .unwrap_or_default(),
        }
    }

    /// Everything observed so far (since the last start).
    pub async fn seen(&mut self) -> &[Value] {
        self.drain().await;
        &self.seen
    }

    /// The observations of one `type`.
    pub async fn seen_of(&mut self, kind: &str) -> Vec<Value> {
        self.seen()
            .await
            .iter()
            .filter(|v| v["type"] == kind)
            .cloned()
            .collect()
    }

    /// Wait up to `timeout` until `f` finds what it wants in the observations.
    pub async fn wait_seen<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&[Value]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain().await;
            if let Some(t) = f(&self.seen) {
                return t;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let output = match &self.backend {
                    Some(Backend::Process(p)) => p.stdout_so_far(),
                    _ => String::new(),
                };
                panic!(
                    "the {:?} server did not observe {what} within {timeout:?}; it observed \
                     {:#?}\n--- its output ---\n{output}",
                    self.peer, self.seen
                );
            }
            if let Some(v) = self.next_seen(left.min(Duration::from_millis(50))).await {
                self.seen.push(v);
            }
        }
    }

    /// Wait for the first observation of `type` `kind` matching `f`.
    pub async fn wait_for(&mut self, kind: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
        self.wait_seen(WAIT, what, |seen| {
            seen.iter().find(|v| v["type"] == kind && f(v)).cloned()
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// The own server's application: the handlers of server.mjs and server.py
// ---------------------------------------------------------------------------------------------

/// The own server's application, for either runtime.
struct OwnApp(mpsc::UnboundedSender<Value>);

impl Install for OwnApp {
    fn install<R: 'static>(self, io: &SocketIo<R>) {
        install_app(io, self.0);
    }
}

async fn start_own(rt: Rt, addr: SocketAddr, settings: &Settings) -> std::io::Result<OwnServer> {
    let options = sio_tokio::ServerOptions {
        ping_interval: settings.ping_interval,
        ping_timeout: settings.ping_timeout,
        polling: settings.transports.contains(&"polling"),
        websocket: settings.transports.contains(&"websocket"),
        max_payload: 10_000_000,
        ..sio_tokio::ServerOptions::default()
    };
    let (tx, seen) = mpsc::unbounded_channel();
    let served = try_serve(rt, addr, options, OwnApp(tx)).await?;
    Ok(OwnServer { seen, served })
}

/// What `ask` asks: the server emits `event` with `(text, blob)` and waits `timeout` ms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AskSpec {
    /// The event the server emits to the client.
    pub event: String,
    /// Its first argument.
    pub text: String,
    /// Its second, binary, argument.
    pub blob: Bytes,
    /// The server's ack timeout, ms.
    pub timeout: u64,
}

/// The server's report of the client's answer to `ask`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AskReport {
    /// Every argument of the client's ack (the client answers a value and bytes).
    #[serde(default)]
    pub answer: Option<(Value, Bytes)>,
    /// Why there is no answer.
    #[serde(default)]
    pub error: Option<String>,
}

/// One packet of the retry scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetrySpec {
    /// Its id.
    pub id: String,
    /// How many tries the server ignores.
    pub ignore: u32,
    /// Answer the ignored first try anyway, this many ms later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
}

/// The server's ack of a `retry` try.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryAck {
    /// The packet's id.
    pub id: String,
    /// Which try was acknowledged.
    pub tries: u32,
    /// Whether this is the late answer to an ignored try.
    #[serde(default)]
    pub late: bool,
}

/// What `whoami` answers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhoAmI {
    /// `socket.id`.
    pub id: String,
    /// The namespace.
    pub nsp: String,
    /// The connection: `socket.conn.id`, or the own server's handshake fingerprint.
    pub conn: String,
    /// The transport the server sees.
    pub transport: String,
}

/// The own server's stand-in for `socket.conn.id`: the handshake of the socket's connection
/// (the first request's query with its random cache-busting parameter, the peer's address and
/// port, the time), the same for every namespace of one connection.
fn conn_of(socket: &SocketRef) -> String {
    socket
        .handshake()
        .map(|h| {
            format!(
                "{}|{}|{}",
                h.time,
                h.remote_addr.unwrap_or_default(),
                h.query
            )
        })
        .unwrap_or_default()
}

#[derive(Default)]
struct RetryState {
    tries: HashMap<String, u32>,
    processed: HashSet<String>,
    /// Where late answers wait: the test's tokio runtime, whatever runtime the server is on.
    pacer: Option<tokio::runtime::Handle>,
}

/// The handlers of `tests/js/server.mjs` on a [`SocketIo`]; observations go to `tx`. Call it
/// within the test's tokio runtime (late answers are timed there).
pub fn install_app<R: 'static>(io: &SocketIo<R>, tx: mpsc::UnboundedSender<Value>) {
    let retries = Arc::new(Mutex::new(RetryState {
        pacer: Some(tokio::runtime::Handle::current()),
        ..RetryState::default()
    }));
    for name in ["/", "/admin"] {
        let (tx2, retries) = (tx.clone(), retries.clone());
        let ns = io.ns(name, move |socket, req: ConnectRequest| {
            on_connect(&socket, &req, &tx2, &retries)
        });
        if name == "/admin" {
            ns.middleware(|req: ConnectRequest| async move {
                let auth: Value = req.auth().unwrap_or(Value::Null);
                match auth.get("token").and_then(Value::as_str) {
                    Some(TOKEN) => Ok(()),
                    None => Err(ConnectRefusal::new("unauthorized")
                        .with_data(json!({ "code": 4000, "reason": "no token" }))),
                    Some(_) => Err(ConnectRefusal::new("unauthorized")
                        .with_data(json!({ "code": 4001, "reason": "bad token" }))),
                }
            });
        }
    }
}

fn on_connect(
    socket: &SocketRef,
    req: &ConnectRequest,
    tx: &mpsc::UnboundedSender<Value>,
    retries: &Arc<Mutex<RetryState>>,
) {
    let name = socket.ns().to_owned();
    let _ = tx.send(json!({
        "type": "connect",
        "nsp": name,
        "sid": socket.id(),
        "conn": conn_of(socket),
        "transport": socket.transport(),
        "auth": req.auth::<Value>().unwrap_or_else(|_| json!({})),
    }));
    let t = tx.clone();
    socket.on_disconnect(move |socket, reason| {
        let _ = t.send(json!({
            "type": "disconnect",
            "nsp": socket.ns(),
            "sid": socket.id(),
            "reason": reason.as_str(),
        }));
        async {}
    });

    // Listeners run as tasks, which may start out of order: what must be seen in arrival
    // order (`seq`, the tries of `retry`) is handled by a per-packet middleware, which runs in
    // order as each packet is dispatched.
    let (t, retries) = (tx.clone(), retries.clone());
    socket.use_middleware(move |socket, msg| {
        match msg.event().as_str() {
            "seq" => {
                let (i, blob) = msg
                    .args::<(u64, Option<Bytes>)>()
                    .unwrap_or((u64::MAX, None));
                let hex = blob.map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>());
                let _ = t.send(json!({ "type": "seq", "nsp": socket.ns(), "i": i, "bin": hex }));
            }
            "retry" => on_retry(&t, &retries, msg.clone()),
            _ => {}
        }
        Ok(())
    });

    socket.on("echo", |socket, msg| async move {
        let emit = Emit::new(msg.json().to_owned()).with_attachments(msg.binary().to_vec());
        let _ = socket.emit_raw("echo", emit);
    });
    socket.on("ack-echo", |_socket, mut msg| async move {
        if let Some(ack) = msg.ack() {
            let _ = ack.send_args(msg.arguments());
        }
    });
    socket.on("whoami", |socket, mut msg| async move {
        if let Some(ack) = msg.ack() {
            let _ = ack.send(&json!({
                "id": socket.id(),
                "nsp": socket.ns(),
                "conn": conn_of(&socket),
                "transport": socket.transport(),
            }));
        }
    });
    socket.on("ask", |socket, mut msg| async move {
        let Some(ack) = msg.ack() else { return };
        let report = match msg.args::<AskSpec>() {
            Ok(spec) => {
                let r = socket
                    .emit_with_ack::<_, (Value, Bytes)>(
                        &spec.event,
                        &(spec.text, spec.blob),
                        Duration::from_millis(spec.timeout),
                    )
                    .await;
                match r {
                    Ok(answer) => AskReport {
                        answer: Some(answer),
                        error: None,
                    },
                    Err(e) => AskReport {
                        answer: None,
                        error: Some(e.to_string()),
                    },
                }
            }
            Err(e) => AskReport {
                answer: None,
                error: Some(e.to_string()),
            },
        };
        let _ = ack.send(&report);
    });
    socket.on("disconnect-me", |socket, msg| async move {
        let close = msg
            .args::<Value>()
            .ok()
            .and_then(|v| v.get("close").and_then(Value::as_bool))
            .unwrap_or(false);
        let _ = socket.disconnect(close);
    });
}

fn on_retry(
    tx: &mpsc::UnboundedSender<Value>,
    state: &Arc<Mutex<RetryState>>,
    mut msg: sio_tokio::Message,
) {
    let Ok(spec) = msg.args::<RetrySpec>() else {
        return;
    };
    let (n, first) = {
        let mut st = state.lock().expect("retry state");
        let n = {
            let n = st.tries.entry(spec.id.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let first = n > spec.ignore && st.processed.insert(spec.id.clone());
        (n, first)
    };
    let _ = tx.send(json!({ "type": "try", "id": spec.id, "n": n }));
    let Some(ack) = msg.ack() else { return };
    if n <= spec.ignore {
        let pacer = state.lock().expect("retry state").pacer.clone();
        if let (Some(late), 1, Some(pacer)) = (spec.late, n, pacer) {
            pacer.spawn(async move {
                tokio::time::sleep(Duration::from_millis(late)).await;
                let _ = ack.send(&RetryAck {
                    id: spec.id,
                    tries: n,
                    late: true,
                });
            });
        }
        return;
    }
    if first {
        let _ = tx.send(json!({ "type": "processed", "id": spec.id }));
    }
    let _ = ack.send(&RetryAck {
        id: spec.id,
        tries: n,
        late: false,
    });
}

// ---------------------------------------------------------------------------------------------
// A proxy that can stop forwarding (a server that stops answering)
// ---------------------------------------------------------------------------------------------

/// A TCP proxy on `127.0.0.1` to a server port. [`freeze`](Self::freeze) stops it from
/// forwarding anything while keeping every connection open (as a server that hangs, or a
/// network that drops everything); [`thaw`](Self::thaw) closes the frozen connections and
/// forwards new ones again.
pub struct FreezeProxy {
    port: u16,
    frozen: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FreezeProxy {
    /// A proxy to `127.0.0.1:target`.
    pub async fn start(target: u16) -> FreezeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("bound").port();
        let (frozen, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(pipe(conn, target, rx.clone()));
            }
        });
        FreezeProxy { port, frozen, task }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stop forwarding.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }

    /// Drop the frozen connections and forward again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }
}

impl Drop for FreezeProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(mut client: TcpStream, target: u16, mut frozen: watch::Receiver<bool>) {
    let already_frozen = *frozen.borrow();
    if !already_frozen {
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", target)).await else {
            return;
        };
        let (mut cr, mut cw) = client.split();
        let (mut sr, mut sw) = server.split();
        let (mut up, mut down) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
        loop {
            tokio::select! {
                r = cr.read(&mut up) => match r {
                    Ok(n) if n > 0 => if sw.write_all(&up[..n]).await.is_err() { return },
                    _ => return,
                },
                r = sr.read(&mut down) => match r {
                    Ok(n) if n > 0 => if cw.write_all(&down[..n]).await.is_err() { return },
                    _ => return,
                },
                _ = async { frozen.wait_for(|f| *f).await.is_ok() } => break,
            }
        }
        // Frozen: hold both ends open without a byte either way until thawed.
        let _ = frozen.wait_for(|f| !*f).await;
        drop(server);
    } else {
        let _ = frozen.wait_for(|f| !*f).await;
    }
    drop(client);
}

// ---------------------------------------------------------------------------------------------
// The client side
// ---------------------------------------------------------------------------------------------

/// Something the client side observed.
#[derive(Debug, Clone)]
pub enum Ev {
    /// A namespace connected.
    Connect {
        /// The namespace.
        nsp: String,
        /// Its socket id.
        sid: Option<String>,
    },
    /// A namespace disconnected.
    Disconnect {
        /// The namespace.
        nsp: String,
        /// socket.io-client's reason.
        reason: DisconnectReason,
    },
    /// A namespace could not connect.
    ConnectError {
        /// The namespace.
        nsp: String,
        /// Why.
        error: ConnectError,
    },
    /// A connection-level event.
    Manager(ManagerEvent),
    /// An event from the server.
    Event {
        /// The namespace.
        nsp: String,
        /// The event.
        msg: Message,
    },
}

/// The client side's observations, timestamped when the client's listeners ran.
#[derive(Clone, Default)]
pub struct Recorder {
    log: Arc<Mutex<Vec<(Instant, Ev)>>>,
}

impl Recorder {
    fn push(&self, ev: Ev) {
        self.log
            .lock()
            .expect("recorder")
            .push((Instant::now(), ev));
    }

    /// Record the main socket's and the connection's events.
    pub fn attach<R: RuntimeKind>(&self, builder: ClientBuilder<R>) -> ClientBuilder<R> {
        let (a, b, c, d, e) = (
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
            self.clone(),
        );
        builder
            .on_connect(move |s| {
                a.push(Ev::Connect {
                    nsp: s.ns().to_owned(),
                    sid: s.id(),
                })
            })
            .on_disconnect(move |s, reason| {
                b.push(Ev::Disconnect {
                    nsp: s.ns().to_owned(),
                    reason,
                })
            })
            .on_connect_error(move |s, error| {
                c.push(Ev::ConnectError {
                    nsp: s.ns().to_owned(),
                    error,
                })
            })
            .on_manager(move |m| d.push(Ev::Manager(m)))
            .on_any(move |s, msg| {
                let e = e.clone();
                async move {
                    e.push(Ev::Event {
                        nsp: s.ns().to_owned(),
                        msg,
                    })
                }
            })
    }

    /// Record the events of another namespace's socket: its connection events and `events`.
    pub fn attach_socket(&self, socket: &ClientSocket, events: &[&str]) {
        let (a, b, c) = (self.clone(), self.clone(), self.clone());
        socket.on_connect(move |s| {
            a.push(Ev::Connect {
                nsp: s.ns().to_owned(),
                sid: s.id(),
            })
        });
        socket.on_disconnect(move |s, reason| {
            b.push(Ev::Disconnect {
                nsp: s.ns().to_owned(),
                reason,
            })
        });
        socket.on_connect_error(move |s, error| {
            c.push(Ev::ConnectError {
                nsp: s.ns().to_owned(),
                error,
            })
        });
        for event in events {
            let r = self.clone();
            socket.on(event, move |s, msg| {
                let r = r.clone();
                async move {
                    r.push(Ev::Event {
                        nsp: s.ns().to_owned(),
                        msg,
                    })
                }
            });
        }
    }

    /// Everything so far.
    pub fn events(&self) -> Vec<(Instant, Ev)> {
        self.log.lock().expect("recorder").clone()
    }

    /// Wait up to `timeout` until `f` finds what it wants (`f` runs under the recorder's lock:
    /// it must not call the recorder).
    pub async fn wait<T>(
        &self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&[(Instant, Ev)]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = f(&self.log.lock().expect("recorder")) {
                return t;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the client did not observe {what} within {timeout:?}; it observed {:#?}",
                    self.events()
                );
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The events named `event` received on `nsp`.
    pub fn messages(&self, nsp: &str, event: &str) -> Vec<Message> {
        messages_in(&self.events(), nsp, event)
    }

    /// Wait for the `n`-th (from 0) event named `event` on `nsp`.
    pub async fn message(&self, nsp: &str, event: &str, n: usize) -> Message {
        self.wait(WAIT, &format!("event `{event}` #{n} on {nsp}"), |log| {
            messages_in(log, nsp, event).into_iter().nth(n)
        })
        .await
    }

    /// Wait for a disconnection of `nsp`; its reason and time.
    pub async fn disconnect_of(&self, nsp: &str, timeout: Duration) -> (DisconnectReason, Instant) {
        self.wait(timeout, &format!("the disconnection of {nsp}"), |log| {
            log.iter().find_map(|(at, e)| match e {
                Ev::Disconnect { nsp: n, reason } if n == nsp => Some((*reason, *at)),
                _ => None,
            })
        })
        .await
    }

    /// The connects of `nsp` so far.
    pub fn connects(&self, nsp: &str) -> usize {
        self.events()
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Connect { nsp: n, .. } if n == nsp))
            .count()
    }

    /// The connection-level events so far, timestamped.
    pub fn manager_events(&self) -> Vec<(Instant, ManagerEvent)> {
        self.events()
            .into_iter()
            .filter_map(|(at, e)| match e {
                Ev::Manager(m) => Some((at, m)),
                _ => None,
            })
            .collect()
    }
}

fn messages_in(log: &[(Instant, Ev)], nsp: &str, event: &str) -> Vec<Message> {
    log.iter()
        .filter_map(|(_, e)| match e {
            Ev::Event { nsp: n, msg } if n == nsp && msg.event() == event => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

/// A client builder for `url` in `mode`, with quick reconnections.
pub fn builder<R: RuntimeKind>(url: &str, mode: Mode) -> ClientBuilder<R> {
    ClientBuilder::new(url)
        .transports(mode.transports())
        .upgrade(mode == Mode::Upgrade)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(400))
        .timeout(WAIT)
}

/// Connect with `builder` recorded by `rec`, and wait for the mode's final transport.
pub async fn connect<R: RuntimeKind>(
    builder: ClientBuilder<R>,
    rec: &Recorder,
    mode: Mode,
) -> Client {
    let client = tokio::time::timeout(WAIT, rec.attach(builder).connect())
        .await
        .expect("the client connects within 5 s")
        .unwrap_or_else(|e| panic!("the client could not connect: {e}"));
    wait_transport(&client, mode.final_transport()).await;
    client
}

/// Wait until the client's connection is on `kind`.
pub async fn wait_transport(client: &Client, kind: TransportKind) {
    let deadline = Instant::now() + WAIT;
    while client.transport() != Some(kind) {
        assert!(
            Instant::now() < deadline,
            "the client is on {:?}, not {kind:?}, after 5 s",
            client.transport()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Ask the server who this socket is.
pub async fn whoami(socket: &ClientSocket) -> WhoAmI {
    socket
        .emit_with_ack("whoami", &(), WAIT)
        .await
        .unwrap_or_else(|e| panic!("whoami on {}: {e}", socket.ns()))
}

/// Spawn `fut` after polling it once here: what it does before it first waits (an emit)
/// happens now, in program order.
pub async fn spawn_started<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut fut = Box::pin(fut);
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(out) => tokio::spawn(async move { out }),
        Poll::Pending => tokio::spawn(fut),
    }
}

/// Run `scenario(peer, mode)` within [`SCENARIO_LIMIT`].
pub async fn run<F, Fut>(peer: Peer, mode: Mode, scenario: F)
where
    F: FnOnce(Peer, Mode) -> Fut,
    Fut: Future<Output = ()>,
{
    if tokio::time::timeout(SCENARIO_LIMIT, scenario(peer, mode))
        .await
        .is_err()
    {
        panic!("the scenario did not finish within {SCENARIO_LIMIT:?} ({peer:?}, {mode:?})");
    }
}

/// The test matrix of one peer: every scenario of this module in every transport mode, with
/// the client on each runtime (`polling::on_tokio::retries`, `polling::on_async_std::retries`,
/// ...).
#[macro_export]
macro_rules! client_interop_tests {
    ($peer:expr) => {
        $crate::client_interop_tests!(@mode $peer, polling, Polling);
        $crate::client_interop_tests!(@mode $peer, websocket, WebSocket);
        $crate::client_interop_tests!(@mode $peer, upgrade, Upgrade);
    };
    (@mode $peer:expr, $module:ident, $mode:ident) => {
        mod $module {
            $crate::client_interop_tests!(@runtime $peer, $mode, on_tokio, sio_tokio::Tokio);
            $crate::client_interop_tests!(@runtime $peer, $mode, on_async_std, sio_async_std::AsyncStd);
        }
    };
    (@runtime $peer:expr, $mode:ident, $module:ident, $rt:ty) => {
        mod $module {
            $crate::client_interop_tests!(@tests $peer, $mode, $rt,
                transport_mode,
                events_and_binary,
                acks_both_ways,
                namespaces_multiplexed,
                auth_and_connect_errors,
                offline_buffering,
                retries,
                reconnection_backoff,
                ping_timeout,
                server_disconnect,
            );
        }
    };
    (@tests $peer:expr, $mode:ident, $rt:ty, $($scenario:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                $crate::client_support::run(
                    $peer,
                    $crate::client_support::Mode::$mode,
                    $crate::client_support::$scenario::<$rt>,
                )
                .await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

/// The transport of each mode is reached and used, on both sides: polling and WebSocket only
/// never change; with both, the connection starts on polling and upgrades (the `upgrade`
/// event) and the server then sees WebSocket.
pub async fn transport_mode<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;
    let me = whoami(&client).await;
    assert_eq!(me.transport, mode.final_name(), "the server's view");
    assert_eq!(me.id, client.id().expect("connected"));
    // Data flows on the final transport.
    client
        .emit("echo", &("over", mode.final_name()))
        .expect("emit");
    let echo = rec.message("/", "echo", 0).await;
    assert_eq!(
        echo.args::<(String, String)>().expect("echo args"),
        ("over".to_owned(), mode.final_name().to_owned())
    );
    // Stays there.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.transport(), Some(mode.final_transport()));
    let upgrades = rec
        .manager_events()
        .iter()
        .filter(|(_, e)| *e == ManagerEvent::Upgrade)
        .count();
    assert_eq!(
        upgrades,
        usize::from(mode == Mode::Upgrade),
        "upgrade events"
    );
    let connect = server.wait_for("connect", "the connection", |_| true).await;
    if mode != Mode::Upgrade {
        // Without an upgrade the socket joined on its only transport.
        assert_eq!(connect["transport"], mode.final_name());
    }
    assert_eq!(whoami(&client).await.transport, mode.final_name());
    if peer.reports_engine_id() {
        assert_eq!(Some(me.conn), client.engine_id());
    }
    client.close();
}

/// A value with binary parts at several depths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    text: String,
    n: i64,
    x: f64,
    flag: bool,
    none: Option<String>,
    blob: Bytes,
    list: Vec<Bytes>,
    deep: Deep,
}

/// The nested part of [`Doc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deep {
    inner: Bytes,
    tags: Vec<String>,
}

fn doc() -> Doc {
    Doc {
        text: "héllo 😀 中文".into(),
        n: -42,
        x: 2.5,
        flag: true,
        none: None,
        blob: Bytes::from_static(&[0, 1, 2, 253, 254, 255]),
        list: vec![
            Bytes::from_static(b"ab"),
            Bytes::new(),
            Bytes::from_static(b"\x00"),
        ],
        deep: Deep {
            inner: pattern(300, 7),
            tags: vec!["x".into(), "y".into()],
        },
    }
}

/// `n` deterministic bytes.
pub fn pattern(n: usize, seed: u32) -> Bytes {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345) & 0x7fff_ffff;
            (x >> 16) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// At most 300 characters of the debug form of `v`.
fn short<T: std::fmt::Debug + ?Sized>(v: &T) -> String {
    let s = format!("{v:?}");
    match s.char_indices().nth(300) {
        Some((i, _)) => format!("{}... ({} chars)", &s[..i], s.len()),
        None => s,
    }
}

/// Send `args` as `echo`; the server sends them back: check the value and the number of
/// binary attachments (binary stays binary, at any depth, both ways).
async fn echo_roundtrip<T>(client: &Client, rec: &Recorder, n: usize, args: &T, attachments: usize)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    client.emit("echo", args).expect("emit");
    let msg = rec.message("/", "echo", n).await;
    let back: T = msg
        .args()
        .unwrap_or_else(|e| panic!("echo #{n} does not decode: {e}; {}", short(&msg.json())));
    let lens: Vec<usize> = msg.binary().iter().map(Bytes::len).collect();
    assert!(
        &back == args,
        "echo #{n} differs: sent {}, got {} (attachments {lens:?}, JSON {})",
        short(args),
        short(&back),
        short(&msg.json())
    );
    assert_eq!(msg.binary().len(), attachments, "attachments of echo #{n}");
}

/// Events both ways with every kind of value, binary at any depth (the server sends back what
/// it received: the client encodes binary as attachments and decodes the server's).
pub async fn events_and_binary<R: TestRuntime>(peer: Peer, mode: Mode) {
    let server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;
    let mut n = 0;
    let mut next = || {
        n += 1;
        n - 1
    };
    echo_roundtrip(
        &client,
        &rec,
        next(),
        &("hello".to_owned(), 42i64, true, None::<i32>),
        0,
    )
    .await;
    echo_roundtrip(
        &client,
        &rec,
        next(),
        &("emoji 😀 👨‍👩‍👧 中文 \u{2028} \"q\" \\ \n\t".to_owned(),),
        0,
    )
    .await;
    echo_roundtrip(
        &client,
        &rec,
        next(),
        &(Bytes::from_static(&[0, 1, 255]),),
        1,
    )
    .await;
    echo_roundtrip(&client, &rec, next(), &(Bytes::new(),), 1).await;
    echo_roundtrip(&client, &rec, next(), &(doc(), 7u8, pattern(10, 3)), 6).await;
    echo_roundtrip(
        &client,
        &rec,
        next(),
        &(
            vec![pattern(5, 1), pattern(6, 2)],
            json!({ "k": [1, "2", null] }),
        ),
        2,
    )
    .await;
    echo_roundtrip(&client, &rec, next(), &(pattern(200_000, 9),), 1).await;
    // No arguments.
    client.emit("echo", &()).expect("emit");
    let msg = rec.message("/", "echo", next()).await;
    assert_eq!(msg.json().replace(' ', ""), r#"["echo"]"#);
    client.close();
}

/// Acks both ways: the client's `emit_with_ack` gets the server's ack (binary included) and
/// times out when the server does not answer; the server's emit with ack is answered by the
/// client's `AckSender` (binary included), and an event without a client listener is not
/// answered.
pub async fn acks_both_ways<R: TestRuntime>(peer: Peer, mode: Mode) {
    let server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let b = builder::<R>(&server.url(), mode).on("question", |_socket, mut msg| async move {
        let (text, blob): (String, Bytes) = msg.args().expect("question args");
        let mut reversed = blob.to_vec();
        reversed.reverse();
        let ack = msg.ack().expect("the server wants an ack");
        ack.send(&(json!({ "answer": 42, "echo": text }), Bytes::from(reversed)))
            .expect("ack");
    });
    let client = connect(b, &rec, mode).await;

    // This client asks, the server acks with the same arguments.
    let sent = ("ack me", doc(), pattern(1000, 5));
    let back: (String, Doc, Bytes) = client
        .emit_with_ack("ack-echo", &sent, WAIT)
        .await
        .expect("the server acks");
    assert_eq!(back, (sent.0.to_owned(), sent.1, sent.2));
    let back: (String,) = client
        .emit_with_ack("ack-echo", &("plain",), WAIT)
        .await
        .expect("the server acks");
    assert_eq!(back.0, "plain");

    // The server asks, this client answers (the server reports the answer as its ack).
    let question = AskSpec {
        event: "question".into(),
        text: "what is 6*7?".into(),
        blob: Bytes::from_static(&[1, 2, 3, 0]),
        timeout: 3000,
    };
    let report: AskReport = client
        .emit_with_ack("ask", &question, WAIT)
        .await
        .expect("the server reports");
    assert_eq!(
        report.answer,
        Some((
            json!({ "answer": 42, "echo": "what is 6*7?" }),
            Bytes::from_static(&[0, 3, 2, 1])
        )),
        "{report:?}"
    );
    // No listener on this client: no answer, the server's timeout fires.
    let unanswered = AskSpec {
        event: "nobody-listens".into(),
        timeout: 300,
        ..question
    };
    let report: AskReport = client
        .emit_with_ack("ask", &unanswered, WAIT)
        .await
        .expect("the server reports");
    assert_eq!(report.answer, None);
    assert!(report.error.is_some(), "{report:?}");

    // The server never answers `no-answer`: the ack times out, on time.
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let r = client
        .emit_with_ack::<_, Value>("no-answer", &(1,), timeout)
        .await;
    let took = start.elapsed();
    assert!(
        matches!(r, Err(EmitAckError::Ack(AckError::Timeout))),
        "{r:?}"
    );
    assert!(
        took >= timeout - Duration::from_millis(5) && took <= timeout + SLACK,
        "the ack timed out after {took:?}"
    );
    // The connection is fine after all that.
    assert_eq!(whoami(&client).await.id, client.id().expect("connected"));
    client.close();
}

/// Two namespaces multiplexed on one Engine.IO session: both sockets have their own id but the
/// server sees one connection (`socket.conn.id`, the client's Engine.IO id); events go to the
/// right namespace; leaving one leaves the other connected.
pub async fn namespaces_multiplexed<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;
    let admin = client.of("/admin", Some(json!({ "token": TOKEN })));
    rec.attach_socket(&admin, &["echo"]);
    admin.wait_connected().await.expect("/admin connects");

    let root_me = whoami(&client).await;
    let admin_me = whoami(&admin).await;
    assert_eq!(root_me.nsp, "/");
    assert_eq!(admin_me.nsp, "/admin");
    assert_eq!(Some(&root_me.id), client.id().as_ref());
    assert_eq!(Some(&admin_me.id), admin.id().as_ref());
    assert_ne!(root_me.id, admin_me.id);
    assert_eq!(root_me.conn, admin_me.conn, "one connection for both");
    if peer.reports_engine_id() {
        assert_eq!(client.engine_id(), Some(root_me.conn.clone()));
    }
    let conns: HashSet<String> = server
        .seen_of("connect")
        .await
        .iter()
        .map(|v| v["conn"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(conns.len(), 1, "the server saw one connection: {conns:?}");

    // Each namespace gets its own events.
    admin.emit("echo", &("to admin",)).expect("emit");
    client.emit("echo", &("to root",)).expect("emit");
    let a = rec.message("/admin", "echo", 0).await;
    let r = rec.message("/", "echo", 0).await;
    assert_eq!(a.args::<String>().expect("arg"), "to admin");
    assert_eq!(r.args::<String>().expect("arg"), "to root");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(rec.messages("/admin", "echo").len(), 1);
    assert_eq!(rec.messages("/", "echo").len(), 1);

    // Leaving /admin keeps / and the connection.
    admin.disconnect();
    let left = server
        .wait_for("disconnect", "/admin leaving", |v| v["nsp"] == "/admin")
        .await;
    assert_eq!(left["sid"], admin_me.id.as_str());
    assert_eq!(left["reason"], peer.leave_reasons().0);
    assert!(!admin.connected());
    assert!(client.connected());
    let again = whoami(&client).await;
    assert_eq!(again.conn, root_me.conn);
    assert_eq!(client.state(), ConnectionState::Open);
    client.close();
}

fn refused(r: Result<(), ConnectError>) -> (String, Option<Value>) {
    match r {
        Err(ConnectError::Refused { message, data }) => (
            message,
            data.map(|d| serde_json::from_str(&d).expect("data is JSON")),
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Auth: the server's middleware sees the auth object and lets a good token in; a bad or
/// missing token gives `connect_error` with the server's message and data; an unknown
/// namespace is refused; a namespace keeps its auth across `disconnect()` / `connect()`; a
/// client whose only namespace is refused closes its connection.
pub async fn auth_and_connect_errors<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;

    let admin = client.of("/admin", Some(json!({ "token": "wrong" })));
    rec.attach_socket(&admin, &[]);
    let (message, data) = refused(admin.wait_connected().await);
    assert_eq!(message, "unauthorized");
    assert_eq!(data, Some(json!({ "code": 4001, "reason": "bad token" })));

    let admin = client.of("/admin", None);
    let (message, data) = refused(admin.wait_connected().await);
    assert_eq!(message, "unauthorized");
    assert_eq!(data, Some(json!({ "code": 4000, "reason": "no token" })));
    // The listener saw both refusals.
    let errors: Vec<String> = rec
        .events()
        .iter()
        .filter_map(|(_, e)| match e {
            Ev::ConnectError { nsp, error } if nsp == "/admin" => Some(error.message().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(errors, vec!["unauthorized", "unauthorized"]);

    // A refusal that arrived before anyone waited is still the answer of `wait_connected`.
    let late = client.of("/admin", Some(json!({ "token": "late" })));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (message, _) = refused(
        tokio::time::timeout(WAIT, late.wait_connected())
            .await
            .expect("wait_connected answers at once after an earlier refusal"),
    );
    assert_eq!(message, "unauthorized");

    let auth = json!({ "token": TOKEN, "user": "ana" });
    let admin = client.of("/admin", Some(auth.clone()));
    admin.wait_connected().await.expect("a good token gets in");
    let joined = server
        .wait_for("connect", "/admin joining", |v| v["nsp"] == "/admin")
        .await;
    assert_eq!(joined["auth"], auth, "the server got the auth object");
    assert_eq!(whoami(&admin).await.nsp, "/admin");

    // disconnect() then connect() connects again with the same auth.
    admin.disconnect();
    server
        .wait_for("disconnect", "/admin leaving", |v| v["nsp"] == "/admin")
        .await;
    admin.connect();
    admin
        .wait_connected()
        .await
        .expect("connect() after disconnect() keeps the auth");
    let joins = server
        .wait_seen(WAIT, "/admin joining twice", |seen| {
            let joins: Vec<&Value> = seen
                .iter()
                .filter(|v| v["type"] == "connect" && v["nsp"] == "/admin")
                .collect();
            (joins.len() == 2).then(|| joins[1].clone())
        })
        .await;
    assert_eq!(joins["auth"], auth);

    let nope = client.of("/nope", None);
    let (message, _) = refused(nope.wait_connected().await);
    assert_eq!(message, peer.unknown_namespace_message());
    // The refusals did not disturb the main namespace.
    assert!(client.connected());
    assert_eq!(whoami(&client).await.nsp, "/");
    client.close();

    // A client whose only namespace is refused: connect() fails with the server's error and
    // the connection closes for good.
    let rec2 = Recorder::default();
    let lone = rec2
        .attach(
            builder::<R>(&server.url(), mode)
                .namespace("/admin")
                .auth(json!({ "token": "wrong" })),
        )
        .build();
    let (message, data) = refused(lone.wait_connected().await);
    assert_eq!(message, "unauthorized");
    assert_eq!(data, Some(json!({ "code": 4001, "reason": "bad token" })));
    rec2.wait(WAIT, "the connection closing", |log| {
        log.iter()
            .any(|(_, e)| matches!(e, Ev::Manager(ManagerEvent::Close(_))))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !rec2
            .manager_events()
            .iter()
            .any(|(_, e)| matches!(e, ManagerEvent::ReconnectAttempt(_))),
        "a refused client does not reconnect: {:?}",
        rec2.manager_events()
    );
    assert_eq!(lone.state(), ConnectionState::Closed);
}

/// Offline buffering: events emitted while the server is down (binary included) wait in the
/// client and reach the restarted server in order, exactly once; a volatile one is dropped; an
/// emit with ack made offline is acknowledged after the reconnection.
pub async fn offline_buffering<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;
    let first_sid = client.id().expect("connected");
    server.kill().await;
    rec.disconnect_of("/", WAIT).await;
    assert!(!client.connected());

    const N: u64 = 20;
    for i in 0..N {
        if i % 2 == 0 {
            client
                .emit("seq", &(i, pattern(3, i as u32)))
                .expect("buffered");
        } else {
            client.emit("seq", &(i,)).expect("buffered");
        }
        if i == N / 2 {
            client.emit_volatile("seq", &(999,)).expect("dropped");
        }
    }
    let acked = {
        let c = client.clone();
        spawn_started(async move {
            c.emit_with_ack::<_, (String,)>("ack-echo", &("buffered",), Duration::from_secs(10))
                .await
        })
        .await
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.start_again().await;

    let got = server
        .wait_seen(Duration::from_secs(8), "every buffered event", |seen| {
            let seqs: Vec<&Value> = seen.iter().filter(|v| v["type"] == "seq").collect();
            (seqs.len() >= N as usize).then(|| seqs.into_iter().cloned().collect::<Vec<_>>())
        })
        .await;
    let back = acked
        .await
        .expect("task")
        .expect("the buffered emit is acked");
    assert_eq!(back.0, "buffered");
    // Nothing more comes (no duplicates, no volatile event).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seqs = server.seen_of("seq").await;
    assert_eq!(seqs.len(), got.len(), "late duplicates: {seqs:#?}");
    let order: Vec<u64> = seqs.iter().map(|v| v["i"].as_u64().unwrap_or(0)).collect();
    assert_eq!(order, (0..N).collect::<Vec<_>>(), "in order, exactly once");
    for v in &seqs {
        let i = v["i"].as_u64().expect("i");
        let expected = (i % 2 == 0).then(|| {
            pattern(3, i as u32)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        });
        assert_eq!(
            v["bin"].as_str().map(str::to_owned),
            expected,
            "binary of {i}"
        );
    }
    assert!(client.connected());
    assert_ne!(client.id(), Some(first_sid), "a new session");
    wait_transport(&client, mode.final_transport()).await;
    client.close();
}

/// Retries (`ack_timeout` + `retries`), as socket.io-client: one packet in flight at a time,
/// each try sent again when its ack times out, until acknowledged or `retries + 1` tries; the
/// server sees each packet's tries in order before the next packet, each emit gets exactly one
/// result, and a late answer to an abandoned try is ignored.
pub async fn retries<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let timeout = Duration::from_millis(250);
    let b = builder::<R>(&server.url(), mode)
        .ack_timeout(timeout)
        .retries(3);
    let client = connect(b, &rec, mode).await;

    let spec = |id: &str, ignore, late| RetrySpec {
        id: id.into(),
        ignore,
        late,
    };
    let send = |s: RetrySpec| {
        let c = client.clone();
        spawn_started(async move { c.emit_with_ack::<_, RetryAck>("retry", &s, timeout).await })
    };
    // All queued at once, in this order.
    let a = send(spec("a", 2, None)).await;
    let b = send(spec("b", 0, None)).await;
    let c = send(spec("c", 9, None)).await;
    let d = send(spec("d", 1, Some(400))).await;
    client
        .emit("retry", &spec("e", 1, None))
        .expect("a plain emit goes through the queue too");
    let f = send(spec("f", 0, None)).await;

    let ok = |id: &str, tries| RetryAck {
        id: id.into(),
        tries,
        late: false,
    };
    let ra = a.await.expect("task");
    let rb = b.await.expect("task");
    let rc = c.await.expect("task");
    let rd = d.await.expect("task");
    let rf = f.await.expect("task");
    assert_eq!(ra.expect("a is acked"), ok("a", 3));
    assert_eq!(rb.expect("b is acked"), ok("b", 1));
    assert!(
        matches!(rc, Err(EmitAckError::Ack(AckError::Timeout))),
        "c fails after its last try: {rc:?}"
    );
    // d's first try is answered late, after the retry was acknowledged: that answer is ignored.
    assert_eq!(rd.expect("d is acked"), ok("d", 2));
    assert_eq!(rf.expect("f is acked"), ok("f", 1));

    let tries: Vec<(String, u64)> = server
        .wait_seen(WAIT, "every try", |seen| {
            let tries: Vec<(String, u64)> = seen
                .iter()
                .filter(|v| v["type"] == "try")
                .map(|v| {
                    (
                        v["id"].as_str().unwrap_or_default().to_owned(),
                        v["n"].as_u64().unwrap_or(0),
                    )
                })
                .collect();
            tries.iter().any(|(id, _)| id == "f").then_some(tries)
        })
        .await;
    let expected: Vec<(String, u64)> = [
        ("a", 1),
        ("a", 2),
        ("a", 3),
        ("b", 1),
        ("c", 1),
        ("c", 2),
        ("c", 3),
        ("c", 4),
        ("d", 1),
        ("d", 2),
        ("e", 1),
        ("e", 2),
        ("f", 1),
    ]
    .iter()
    .map(|(id, n)| (id.to_string(), *n))
    .collect();
    assert_eq!(tries, expected, "one packet in flight at a time, in order");
    let processed: Vec<String> = server
        .seen_of("processed")
        .await
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        processed,
        vec!["a", "b", "d", "e", "f"],
        "each processed once"
    );
    // Nothing is left in flight.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.seen_of("try").await.len(), expected.len());
    client.close();
}

/// The lower and upper bound of the `attempt`-th reconnection delay (from 0), as
/// socket.io-client's backoff: `min · 2^attempt`, ± `jitter` of it, capped at `max`.
fn delay_bounds(attempt: u32, min: Duration, max: Duration, jitter: f64) -> (Duration, Duration) {
    let base = min.as_millis() as f64 * 2f64.powi(attempt as i32);
    let spread = (base * jitter).floor();
    let cap = |ms: f64| Duration::from_millis(ms.min(max.as_millis() as f64) as u64);
    (cap(base - spread), cap(base + spread))
}

/// Reconnection after a server restart: attempts follow the backoff (each delay within
/// `reconnection_delay · 2^n` ± the jitter, capped at `reconnection_delay_max`, measured from
/// the close or the previous failure), then the client reconnects with a new session once the
/// server is back.
pub async fn reconnection_backoff<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let (min, max, jitter) = (Duration::from_millis(100), Duration::from_millis(400), 0.5);
    let b = builder::<R>(&server.url(), mode)
        .reconnection_delay(min)
        .reconnection_delay_max(max)
        .randomization_factor(jitter);
    let client = connect(b, &rec, mode).await;
    let first_sid = client.id().expect("connected");
    server.kill().await;
    const FAILURES: usize = 5;
    rec.wait(Duration::from_secs(6), "five failed attempts", |log| {
        let n = log
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Manager(ManagerEvent::ReconnectError(_))))
            .count();
        (n >= FAILURES).then_some(())
    })
    .await;
    server.start_again().await;
    let attempt = rec
        .wait(Duration::from_secs(5), "the reconnection", |log| {
            log.iter().find_map(|(_, e)| match e {
                Ev::Manager(ManagerEvent::Reconnect(n)) => Some(*n),
                _ => None,
            })
        })
        .await;
    rec.wait(WAIT, "the second connect", |log| {
        (log.iter()
            .filter(|(_, e)| matches!(e, Ev::Connect { nsp, .. } if nsp == "/"))
            .count()
            >= 2)
            .then_some(())
    })
    .await;

    // The delays: from the close to attempt 1, from each failure to the next attempt.
    let events = rec.manager_events();
    let close_at = events
        .iter()
        .find_map(|(at, e)| matches!(e, ManagerEvent::Close(_)).then_some(*at))
        .expect("a close");
    let mut since = close_at;
    let mut checked = 0;
    let mut attempts = 0;
    for (at, e) in &events {
        match e {
            ManagerEvent::ReconnectAttempt(n) => {
                attempts += 1;
                assert_eq!(*n as usize, attempts, "attempts count from 1");
                let (lo, hi) = delay_bounds(*n - 1, min, max, jitter);
                let delay = *at - since;
                assert!(
                    delay + Duration::from_millis(10) >= lo && delay <= hi + SLACK,
                    "attempt {n} came {delay:?} after the previous failure, not within \
                     [{lo:?}, {hi:?}]; events: {events:#?}"
                );
                checked += 1;
            }
            ManagerEvent::ReconnectError(_) => since = *at,
            _ => {}
        }
    }
    assert!(checked > FAILURES, "{checked} delays checked");
    assert_eq!(attempt as usize, attempts, "the last attempt reconnected");
    // The delays of attempts 4 and later were capped at the maximum.
    assert_eq!(delay_bounds(3, min, max, jitter), (max, max));
    let new_sid = client.id().expect("connected again");
    assert_ne!(new_sid, first_sid);
    let joined = server
        .wait_for("connect", "the reconnection", |_| true)
        .await;
    assert_eq!(joined["sid"], new_sid.as_str());
    wait_transport(&client, mode.final_transport()).await;
    client.close();
}

/// Ping timeout: when the server stops answering (a proxy in between stops forwarding, the
/// connections staying open), the client notices within `pingInterval + pingTimeout` (plus
/// slack) with the reason `ping timeout`, and reconnects once the server answers again. Before
/// that, pings and pongs keep the connection up.
pub async fn ping_timeout<R: TestRuntime>(peer: Peer, mode: Mode) {
    let (interval, timeout) = peer.quick_heartbeat();
    let server = Server::start::<R>(
        peer,
        Settings {
            ping_interval: interval,
            ping_timeout: timeout,
            ..Settings::default()
        },
    )
    .await;
    let proxy = FreezeProxy::start(server.port()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&proxy.url(), mode), &rec, mode).await;
    // Several heartbeats pass without trouble.
    tokio::time::sleep(interval * 2 + timeout).await;
    assert!(
        !rec.events()
            .iter()
            .any(|(_, e)| matches!(e, Ev::Disconnect { .. })),
        "the connection dropped while the server answered: {:#?}",
        rec.events()
    );
    assert_eq!(whoami(&client).await.transport, mode.final_name());

    proxy.freeze();
    let frozen_at = Instant::now();
    let (reason, at) = rec
        .disconnect_of("/", interval + timeout + Duration::from_secs(3))
        .await;
    assert_eq!(reason, DisconnectReason::PingTimeout);
    assert_eq!(reason.as_str(), "ping timeout");
    let after = at - frozen_at;
    assert!(
        after + Duration::from_millis(50) >= timeout && after <= interval + timeout + SLACK,
        "ping timeout noticed {after:?} after the server stopped (interval {interval:?}, \
         timeout {timeout:?})"
    );
    proxy.thaw();
    rec.wait(WAIT, "the reconnection", |log| {
        log.iter()
            .any(|(_, e)| matches!(e, Ev::Manager(ManagerEvent::Reconnect(_))))
            .then_some(())
    })
    .await;
    client.wait_connected().await.expect("connected again");
    client.close();
}

/// The server disconnects: a namespace alone (`disconnect()`: `io server disconnect` there,
/// the other namespace stays), then the whole connection (`disconnect(true)`: every namespace
/// gets `io server disconnect` and the client does not reconnect).
pub async fn server_disconnect<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(peer, Settings::default()).await;
    let rec = Recorder::default();
    let client = connect(builder::<R>(&server.url(), mode), &rec, mode).await;
    let admin = client.of("/admin", Some(json!({ "token": TOKEN })));
    rec.attach_socket(&admin, &[]);
    admin.wait_connected().await.expect("/admin connects");

    admin
        .emit("disconnect-me", &json!({ "close": false }))
        .expect("emit");
    let (reason, _) = rec.disconnect_of("/admin", WAIT).await;
    assert_eq!(reason, DisconnectReason::IoServerDisconnect);
    assert!(client.connected());
    assert_eq!(whoami(&client).await.nsp, "/");

    let admin = client.of("/admin", Some(json!({ "token": TOKEN })));
    admin.wait_connected().await.expect("/admin connects again");
    client
        .emit("disconnect-me", &json!({ "close": true }))
        .expect("emit");
    let (reason, _) = rec.disconnect_of("/", WAIT).await;
    assert_eq!(reason, DisconnectReason::IoServerDisconnect);
    let second_admin = rec
        .wait(WAIT, "/admin disconnecting again", |log| {
            let reasons: Vec<DisconnectReason> = log
                .iter()
                .filter_map(|(_, e)| match e {
                    Ev::Disconnect { nsp, reason } if nsp == "/admin" => Some(*reason),
                    _ => None,
                })
                .collect();
            (reasons.len() == 2).then(|| reasons[1])
        })
        .await;
    assert_eq!(second_admin, DisconnectReason::IoServerDisconnect);
    // No reconnection follows.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(client.state(), ConnectionState::Closed);
    assert!(
        !rec.manager_events()
            .iter()
            .any(|(_, e)| matches!(e, ManagerEvent::ReconnectAttempt(_))),
        "{:?}",
        rec.manager_events()
    );
    assert_eq!(rec.connects("/"), 1);
    assert_eq!(server.seen_of("connect").await.len(), 3);
    let reasons: Vec<String> = server
        .seen_of("disconnect")
        .await
        .iter()
        .map(|v| v["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r == peer.leave_reasons().1),
        "{reasons:?}"
    );
}

/// Connection state recovery (a server with it on; the Node peer's `--recovery=on`): the
/// server's events carry an offset as their last argument, which the client takes off and
/// keeps; after the server drops the transport, the client reconnects with its session id and
/// last offset, gets the same socket id back ([`ClientSocket::recovered`]) and receives,
/// exactly once, what was emitted to it meanwhile.
pub async fn recovery<R: TestRuntime>(peer: Peer, mode: Mode) {
    let mut server = Server::start::<R>(
        peer,
        Settings {
            recovery: true,
            ..Settings::default()
        },
    )
    .await;
    let rec = Recorder::default();
    let b = builder::<R>(&server.url(), mode)
        .reconnection_delay(Duration::from_millis(300))
        .randomization_factor(0.0);
    let client = connect(b, &rec, mode).await;
    let sid = client.id().expect("connected");
    assert!(!client.recovered());
    client.emit("tick", &(1,)).expect("emit");
    let tock = rec.message("/", "tock", 0).await;
    assert_eq!(
        tock.json().replace(' ', ""),
        r#"["tock",1]"#,
        "the offset is taken off"
    );

    client.emit("drop-transport", &()).expect("emit");
    let (reason, _) = rec.disconnect_of("/", WAIT).await;
    assert_eq!(reason, DisconnectReason::TransportClose);
    rec.wait(WAIT, "the reconnection", |log| {
        let connects = log
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Connect { nsp, .. } if nsp == "/"))
            .count();
        (connects >= 2).then_some(())
    })
    .await;
    assert_eq!(client.id(), Some(sid.clone()), "the same socket id");
    assert!(client.recovered());
    let missed = rec.message("/", "missed", 0).await;
    assert_eq!(missed.json().replace(' ', ""), r#"["missed","whileaway"]"#);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.messages("/", "missed").len(), 1, "replayed once");
    let back = server
        .wait_seen(WAIT, "the recovered connection", |seen| {
            let connects: Vec<&Value> = seen.iter().filter(|v| v["type"] == "connect").collect();
            (connects.len() == 2).then(|| connects[1].clone())
        })
        .await;
    assert_eq!(back["sid"], sid.as_str());
    assert_eq!(back["recovered"], true);
    client.close();
}

/// With a recovery session, a volatile event keeps its arguments: the server appends offsets
/// only to events that are neither volatile nor waiting for an ack (socket.io 4.8's
/// `SessionAwareAdapter.broadcast`), so the client must not take a last string argument off a
/// volatile event, nor send it back as its offset: the offsets around it are still taken off,
/// and the session still recovers after a transport loss (Node recovers only from an offset
/// it issued).
pub async fn recovery_volatile_event<R: TestRuntime>(peer: Peer, mode: Mode) {
    let server = Server::start::<R>(
        peer,
        Settings {
            recovery: true,
            ..Settings::default()
        },
    )
    .await;
    let rec = Recorder::default();
    let b = builder::<R>(&server.url(), mode)
        .reconnection_delay(Duration::from_millis(300))
        .randomization_factor(0.0);
    let client = connect(b, &rec, mode).await;
    let sid = client.id().expect("connected");
    client.emit("tick", &(1,)).expect("emit");
    let tock = rec.message("/", "tock", 0).await;
    assert_eq!(tock.json().replace(' ', ""), r#"["tock",1]"#);
    // Node drops a volatile packet that the transport cannot take at once: over polling,
    // when no GET is waiting. The client asks again right after each answer; give that GET
    // time to arrive before the server answers with the volatile event (on a loaded machine
    // the POST can overtake it).
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.emit("vtick", &("payload",)).expect("emit");
    let vtock = rec.message("/", "vtock", 0).await;
    assert_eq!(vtock.json().replace(' ', ""), r#"["vtock","payload"]"#);
    client.emit("tick", &(2,)).expect("emit");
    let tock = rec.message("/", "tock", 1).await;
    assert_eq!(
        tock.json().replace(' ', ""),
        r#"["tock",2]"#,
        "offsets after the volatile event are still taken off"
    );

    client.emit("drop-transport", &()).expect("emit");
    rec.wait(WAIT, "the reconnection", |log| {
        let connects = log
            .iter()
            .filter(|(_, e)| matches!(e, Ev::Connect { nsp, .. } if nsp == "/"))
            .count();
        (connects >= 2).then_some(())
    })
    .await;
    assert!(
        client.recovered(),
        "the offset sent back was the real one, not the volatile event's argument"
    );
    assert_eq!(client.id(), Some(sid));
    let missed = rec.message("/", "missed", 0).await;
    assert_eq!(missed.json().replace(' ', ""), r#"["missed","whileaway"]"#);
    client.close();
}
