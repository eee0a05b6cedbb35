//! Support of the Redis cluster tests (included by `redis_*.rs` as a module): a real
//! `redis-server` on a free loopback port, the Node cluster node of `tests/js/redis-node.mjs`,
//! this project's servers with `sio-redis`, and recording clients.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sio_runtime::SocketIo;
use sio_tests::runtime::{serve_io, Served, TestRuntime};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long anything may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// A `redis-server` of its own, stopped when dropped.
pub struct Redis {
    child: Option<std::process::Child>,
    /// Its port.
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Redis {
    /// Start one on a free port and wait until it answers.
    pub async fn start() -> Redis {
        let mut r = Redis {
            child: None,
            port: free_port(),
        };
        r.restart().await;
        r
    }

    /// The URL for clients.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Start it again (same port) after [`stop`](Self::stop).
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "redis-server must be installed (the README's test command installs Debian's \
                 redis-server package)",
            );
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await {
                s.write_all(b"PING\r\n").await.expect("write");
                let mut buf = [0u8; 7];
                if tokio::io::AsyncReadExt::read(&mut s, &mut buf)
                    .await
                    .unwrap_or(0)
                    > 0
                    && buf.starts_with(b"+PONG")
                {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kill it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Node cluster node (`tests/js/redis-node.mjs`).
pub struct NodeNode {
    child: Child,
    stdin: ChildStdin,
    reports: mpsc::UnboundedReceiver<Value>,
    next: u64,
    /// Server-side events it received (`tell`).
    pub server_side: Vec<Value>,
    /// Its port.
    pub port: u16,
}

/// The Node peers' directory.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

impl NodeNode {
    /// Start it against `redis_url`.
    pub async fn start(redis_url: &str) -> NodeNode {
        let dir = js_dir();
        assert!(
            dir.join("node_modules/@socket.io/redis-adapter").exists(),
            "{}",
            sio_tests::node::INSTALL_HINT
        );
        let mut child = Command::new("node")
            .arg(dir.join("redis-node.mjs"))
            .arg(redis_url)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, reports) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(r) = line.strip_prefix("REPORT ") {
                    if let Ok(v) = serde_json::from_str::<Value>(r) {
                        let _ = tx.send(v);
                    }
                }
            }
        });
        let mut n = NodeNode {
            child,
            stdin,
            reports,
            next: 0,
            server_side: Vec::new(),
            port: 0,
        };
        let ready = n.next_report(|v| v.get("ready").is_some()).await;
        n.port = ready["ready"].as_u64().expect("port") as u16;
        n
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn next_report(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = tokio::time::timeout_at(deadline, self.reports.recv())
                .await
                .expect("the Node node answers within 5 s")
                .expect("the Node node runs");
            if v.get("serverSide").is_some() {
                self.server_side.push(v["serverSide"].clone());
            }
            if f(&v) {
                return v;
            }
        }
    }

    /// Run a command (`{"op": ..}`) and return its result.
    pub async fn cmd(&mut self, c: Value) -> Value {
        let id = self.send(c).await;
        self.result(id).await
    }

    /// Send a command; its id.
    pub async fn send(&mut self, mut c: Value) -> u64 {
        self.next += 1;
        let id = self.next;
        c["id"] = json!(id);
        let line = format!("{c}\n");
        self.stdin.write_all(line.as_bytes()).await.expect("stdin");
        id
    }

    /// The result of command `id`.
    pub async fn result(&mut self, id: u64) -> Value {
        let v = self.next_report(|v| v["id"] == json!(id)).await;
        if let Some(e) = v.get("error") {
            panic!("Node command {id} failed: {e}");
        }
        v["result"].clone()
    }

    /// Wait for a server-side event it reports.
    pub async fn wait_server_side(&mut self, n: usize) -> Vec<Value> {
        while self.server_side.len() < n {
            self.next_report(|v| v.get("serverSide").is_some()).await;
        }
        self.server_side.clone()
    }

    /// Stop it.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// Server-side events a Rust node received (`tell`).
pub type Told = Arc<Mutex<Vec<Value>>>;

/// A Rust node: the same application as the Node node's, on runtime `R`, in the cluster.
pub struct RustNode<R> {
    /// The server.
    pub io: SocketIo<R>,
    /// Where it listens.
    pub served: Served,
    /// Its link to Redis.
    pub redis: sio_redis::RedisAdapter,
    /// The `tell` server-side events it got.
    pub told: Told,
}

/// The application of every Rust node.
pub fn install<R>(io: &SocketIo<R>, told: Told, name: &'static str) {
    io.ns("/", |socket, _req| {
        socket.on("join", |s, mut m| async move {
            let room: String = m.args().unwrap_or_default();
            let _ = s.join(&room);
            if let Some(a) = m.ack() {
                let _ = a.send(&s.id());
            }
        });
    });
    io.on_server_side(move |mut m| match m.event().as_str() {
        "ask" => {
            let args: Value = serde_json::from_str(m.json()).unwrap_or_default();
            let args = Value::Array(args.as_array().map(|a| a[1..].to_vec()).unwrap_or_default());
            if let Some(ack) = m.ack() {
                let _ = ack.send(&json!({"from": name, "args": args}));
            }
        }
        "tell" => {
            let v: Value = serde_json::from_str(m.json()).unwrap_or_default();
            let args = v.as_array().map(|a| a[1..].to_vec()).unwrap_or_default();
            told.lock().unwrap().push(Value::Array(args));
        }
        _ => {}
    });
}

impl<R: TestRuntime> RustNode<R>
where
    SocketIo<R>: Clone,
{
    /// Start one in the cluster of `redis`.
    pub async fn start(redis: &Redis, name: &'static str) -> RustNode<R> {
        Self::start_with(redis, name, |c| c).await
    }

    /// Start one with an adapter configuration.
    pub async fn start_with(
        redis: &Redis,
        name: &'static str,
        config: impl FnOnce(sio_redis::Config) -> sio_redis::Config,
    ) -> RustNode<R> {
        let io = SocketIo::<R>::new(sio_runtime::ServerOptions::default());
        let told = Told::default();
        install(&io, told.clone(), name);
        let mut c = sio_redis::Config::new(&redis.url());
        c.requests_timeout = Duration::from_secs(2);
        c.reconnect_delay = Duration::from_millis(100);
        let adapter = sio_redis::RedisAdapter::attach(&io.adapter(), config(c))
            .await
            .expect("the adapter connects");
        let served = serve_io(&io, "127.0.0.1:0".parse().unwrap()).await;
        RustNode {
            io,
            served,
            redis: adapter,
            told,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        self.served.url()
    }
}

/// A client that records every event it receives.
pub struct Rec {
    /// The client.
    pub client: sio_tokio::client::Client,
    /// Every event received: name, arguments.
    pub events: Arc<Mutex<Vec<(String, Value)>>>,
    /// Its socket id.
    pub sid: String,
}

impl Rec {
    /// Connect to `url` over WebSocket.
    pub async fn connect(url: &str) -> Rec {
        Self::connect_ns(url, "/").await
    }

    /// Connect to namespace `nsp` of `url` over WebSocket.
    pub async fn connect_ns(url: &str, nsp: &str) -> Rec {
        let events: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let e = events.clone();
        let client = sio_tokio::client::ClientBuilder::new(url)
            .transports(&[sio_tokio::sio_core::engine::server::TransportKind::WebSocket])
            .reconnection(false)
            .namespace(nsp)
            .timeout(WAIT)
            // Acknowledged broadcasts (`q`) are answered with the socket's id.
            .on("q", |s, mut m| async move {
                if let Some(ack) = m.ack() {
                    let _ = ack.send(&s.id());
                }
            })
            .on_any(move |_s, m| {
                let e = e.clone();
                async move {
                    let mut args: Value = serde_json::from_str(m.json()).unwrap_or_default();
                    // Binary values: their length, in place of the placeholder.
                    if let Some(a) = args.as_array_mut() {
                        for v in a.iter_mut() {
                            if v.get("_placeholder").is_some() {
                                let n = v["num"].as_u64().unwrap_or(0) as usize;
                                *v = json!({"$binary": hex(&m.binary()[n])});
                            }
                        }
                    }
                    let args = args.as_array().map(|a| a[1..].to_vec()).unwrap_or_default();
                    e.lock().unwrap().push((m.event(), Value::Array(args)));
                }
            })
            .connect()
            .await
            .unwrap_or_else(|e| panic!("client connects to {url}: {e}"));
        let sid = client.socket().id().expect("connected");
        Rec {
            client,
            events,
            sid,
        }
    }

    /// Join `room` through the server's `join` handler.
    pub async fn join(&self, room: &str) {
        let _: String = self
            .client
            .socket()
            .emit_with_ack("join", &room, WAIT)
            .await
            .expect("join acknowledged");
    }

    /// The arguments of every `event` received so far.
    pub fn got(&self, event: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, a)| a.clone())
            .collect()
    }

    /// Wait until `n` `event`s arrived.
    pub async fn wait(&self, event: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.got(event);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "client {} got {got:?} of {event}, wanted {n}",
                self.sid
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Wait until `f` holds.
pub async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
