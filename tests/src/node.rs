//! Interoperability support: a real [`sio_tokio`] server with the test application, run
//! in-process on an ephemeral port, and the Node peers of `tests/js/*.mjs` run against it.
//!
//! The Node scripts take `<scenario> <url> [options]`, check what they receive themselves,
//! print `REPORT {json}` lines with the values the Rust test checks too (socket ids, reasons,
//! ...), and exit 0 only when the scenario passed. Everything the server side observes (the
//! sockets that connect and disconnect and why, what the middleware was shown, the clients'
//! acks) reaches the Rust test as [`Seen`] values through [`TestServer::seen`].
//!
//! The Node dependencies must be installed (the README's test command, `bash scripts/test.sh`,
//! runs `npm ci` in `tests/js`); without them every Node test fails with that instruction
//! rather than being skipped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sio_runtime::SocketIo;
use sio_tokio::sio_core::server::Emit;
use sio_tokio::{ConnectRefusal, ConnectRequest, DisconnectReason, ServerOptions, SocketRef};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime::{serve, Install, Rt, Served};

/// What to do when the Node dependencies are missing.
pub const INSTALL_HINT: &str = "run the README's test command (`bash scripts/test.sh`, which \
     installs them), or `npm ci` in tests/js and then `cargo test -p sio-tests`";

/// The token the `/secure` namespace's middleware accepts in the auth object.
pub const SECRET: &str = "open sesame";

/// Something the server side of a test observed.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A socket joined a namespace.
    Connect {
        /// The namespace.
        nsp: String,
        /// The socket's id.
        sid: String,
        /// When.
        at: Instant,
    },
    /// A socket left a namespace.
    Disconnect {
        /// The namespace.
        nsp: String,
        /// The socket's id.
        sid: String,
        /// Why.
        reason: DisconnectReason,
        /// When.
        at: Instant,
    },
    /// The `/secure` middleware ran.
    Middleware {
        /// The auth object the client sent, parsed.
        auth: Option<Value>,
        /// The raw query string of the handshake.
        query: String,
        /// The `x-sio-test` request header of the handshake.
        header: Option<String>,
        /// Whether it let the client in.
        accepted: bool,
    },
    /// The client answered the server's `emit_with_ack` (`question`): its arguments.
    Answer(Result<(Value, Vec<u8>), String>),
    /// The `big` event arrived with a string of this many bytes.
    Big(usize),
}

/// A server of this project running the test application on `127.0.0.1`, on one of the
/// runtimes.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    server: Served,
    seen: mpsc::UnboundedReceiver<Seen>,
    history: Vec<Seen>,
}

/// The test application, to install on a server of either runtime.
struct TestApp(Tx);

impl Install for TestApp {
    fn install<R: 'static>(self, io: &SocketIo<R>) {
        install_app(io, self.0);
    }
}

impl TestServer {
    /// Start a server on `rt` with `options` on an ephemeral port.
    pub async fn start(rt: Rt, options: ServerOptions) -> Self {
        Self::start_on(rt, "127.0.0.1:0".parse().expect("valid address"), options).await
    }

    /// Start a server on `rt` with `options` on `addr`.
    pub async fn start_on(rt: Rt, addr: SocketAddr, options: ServerOptions) -> Self {
        let (tx, seen) = mpsc::unbounded_channel();
        let server = serve(rt, addr, options, TestApp(tx)).await;
        TestServer {
            addr: server.addr,
            server,
            seen,
            history: Vec::new(),
        }
    }

    /// The server's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shut the server down (`serve_with_shutdown`) and wait until its port is free.
    pub async fn stop(&mut self) {
        self.server
            .stop(Duration::from_secs(5))
            .await
            .expect("the server stops within 5 s")
            .expect("the server ends without an I/O error");
    }

    /// Everything observed so far, in order.
    pub fn history(&mut self) -> &[Seen] {
        while let Ok(s) = self.seen.try_recv() {
            self.history.push(s);
        }
        &self.history
    }

    /// Wait up to `timeout` until `f` finds what it wants in the history of observations.
    pub async fn wait_until<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&[Seen]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(t) = f(self.history()) {
                return t;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.seen.recv()).await {
                Ok(Some(s)) => self.history.push(s),
                Ok(None) | Err(_) => panic!(
                    "the server did not observe {what} within {timeout:?}; it observed {:#?}",
                    self.history
                ),
            }
        }
    }

    /// Wait for the disconnection of socket `sid`: its namespace, reason and time.
    pub async fn disconnect_of(
        &mut self,
        sid: &str,
        timeout: Duration,
    ) -> (String, DisconnectReason, Instant) {
        let what = format!("the disconnection of socket {sid}");
        self.wait_until(timeout, &what, |history| {
            history.iter().find_map(|s| match s {
                Seen::Disconnect {
                    nsp,
                    sid: s,
                    reason,
                    at,
                } if s == sid => Some((nsp.clone(), *reason, *at)),
                _ => None,
            })
        })
        .await
    }

    /// When socket `sid` connected (it must have).
    pub fn connected_at(&mut self, sid: &str) -> Instant {
        self.history()
            .iter()
            .find_map(|s| match s {
                Seen::Connect { sid: s, at, .. } if s == sid => Some(*at),
                _ => None,
            })
            .unwrap_or_else(|| panic!("socket {sid} never connected"))
    }
}

// ---------------------------------------------------------------------------------------------
// The test application
// ---------------------------------------------------------------------------------------------

/// What the `typed` event carries: every kind of value, binary ones at several depths.
#[derive(Debug, Deserialize)]
struct Sample {
    text: String,
    numbers: Vec<f64>,
    int: i64,
    flag: bool,
    blob: Bytes,
    parts: Vec<Bytes>,
    nested: Nested,
}

#[derive(Debug, Deserialize)]
struct Nested {
    inner: Bytes,
}

/// The server's answer to `typed`, computed from the decoded [`Sample`].
#[derive(Debug, Serialize)]
struct SampleReply {
    text_reversed: String,
    chars: usize,
    sum: f64,
    int_plus_one: i64,
    flag_not: bool,
    blob_reversed: Bytes,
    parts_concat: Bytes,
    parts_lens: Vec<usize>,
    inner_len: usize,
    nested: NestedReply,
}

#[derive(Debug, Serialize)]
struct NestedReply {
    list: Vec<Bytes>,
}

/// The broadcast a client asks for with `bcast`.
#[derive(Debug, Deserialize)]
struct BroadcastSpec {
    /// `io` (the namespace), `socket` (`socket.to`), `broadcast` (`socket.broadcast()`).
    from: String,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    tag: String,
}

#[derive(Debug, Deserialize)]
struct RoomChange {
    #[serde(default)]
    join: Vec<String>,
    #[serde(default)]
    leave: Vec<String>,
}

type Tx = mpsc::UnboundedSender<Seen>;

fn install_app<R: 'static>(io: &SocketIo<R>, tx: Tx) {
    for nsp in ["/", "/custom"] {
        let (io2, tx2) = (io.clone(), tx.clone());
        io.ns(nsp, move |socket, _req| on_connect(&io2, &tx2, &socket));
    }
    let (io2, tx2) = (io.clone(), tx.clone());
    io.ns("/secure", move |socket, req: ConnectRequest| {
        on_connect(&io2, &tx2, &socket);
        let auth: Value = req.auth().unwrap_or(Value::Null);
        let seen = json!({
            "auth": auth,
            "query": req.handshake.query,
            "header": header(&req, "x-sio-test"),
            "socket_handshake_query": socket.handshake().map(|h| h.query),
        });
        let _ = socket.emit("seen", &seen);
    })
    .middleware(move |req: ConnectRequest| {
        let tx = tx.clone();
        async move {
            let auth: Option<Value> = req
                .auth
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok());
            let token = auth
                .as_ref()
                .and_then(|a| a.get("token"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let verdict = match token.as_deref() {
                Some(SECRET) => Ok(()),
                Some(other) => Err(ConnectRefusal::new("unauthorized").with_data(json!({
                    "reason": "bad token",
                    "code": 4001,
                    "token": other,
                }))),
                None => Err(ConnectRefusal::new("unauthorized").with_data(json!({
                    "reason": "no token",
                    "code": 4000,
                }))),
            };
            let _ = tx.send(Seen::Middleware {
                auth,
                query: req.handshake.query.clone(),
                header: header(&req, "x-sio-test"),
                accepted: verdict.is_ok(),
            });
            verdict
        }
    });
}

fn header(req: &ConnectRequest, name: &str) -> Option<String> {
    req.handshake.headers.get(name).map(str::to_owned)
}

fn on_connect<R: 'static>(io: &SocketIo<R>, tx: &Tx, socket: &SocketRef) {
    let _ = tx.send(Seen::Connect {
        nsp: socket.ns().to_owned(),
        sid: socket.id().to_owned(),
        at: Instant::now(),
    });
    let t = tx.clone();
    socket.on_disconnect(move |socket, reason| {
        let _ = t.send(Seen::Disconnect {
            nsp: socket.ns().to_owned(),
            sid: socket.id().to_owned(),
            reason,
            at: Instant::now(),
        });
        async {}
    });

    // Per-packet middleware: `forbidden` never reaches its listener; the refusal reaches the
    // socket's error listeners, which tell the client.
    socket.use_middleware(|_socket, msg| {
        if msg.event() == "forbidden" {
            Err("forbidden event".to_owned())
        } else {
            Ok(())
        }
    });
    socket.on_error(|socket, err| {
        let _ = socket.emit("error-seen", err);
    });
    socket.on("forbidden", |socket, _msg| async move {
        let _ = socket.emit("should-not-happen", &());
    });
    // A catch-all listener: reports what it saw of `any-probe`.
    socket.on_any(|socket, msg| async move {
        if msg.event() == "any-probe" {
            let args: Vec<Value> = msg
                .args::<(Value,)>()
                .map(|(v,)| vec![v])
                .unwrap_or_default();
            let _ = socket.emit("any-seen", &(msg.event(), args));
        }
    });

    // Sends the event back unchanged: same name, arguments and attachments.
    socket.on("echo", |socket, msg| async move {
        let emit = Emit::new(msg.json().to_owned()).with_attachments(msg.binary().to_vec());
        let _ = socket.emit_raw("echo", emit);
    });

    // Acknowledges with the event's own arguments.
    socket.on("ack-echo", |_socket, mut msg| async move {
        if let Some(ack) = msg.ack() {
            let _ = ack.send_args(msg.arguments());
        }
    });

    // Decodes a typed value (binary included) and acknowledges with values computed from it
    // plus a binary table made by the server.
    socket.on("typed", |_socket, mut msg| async move {
        let Some(ack) = msg.ack() else { return };
        let reply = match msg.args::<Sample>() {
            Ok(s) => {
                let mut blob = s.blob.to_vec();
                blob.reverse();
                let concat: Vec<u8> = s.parts.iter().flat_map(|p| p.iter().copied()).collect();
                Ok(SampleReply {
                    text_reversed: s.text.chars().rev().collect(),
                    chars: s.text.chars().count(),
                    sum: s.numbers.iter().sum(),
                    int_plus_one: s.int + 1,
                    flag_not: !s.flag,
                    blob_reversed: Bytes::from(blob),
                    parts_concat: Bytes::from(concat),
                    parts_lens: s.parts.iter().map(Bytes::len).collect(),
                    inner_len: s.nested.inner.len(),
                    nested: NestedReply {
                        list: vec![s.nested.inner.slice(..1), Bytes::from_static(b"\xff\x00")],
                    },
                })
            }
            Err(e) => Err(e.to_string()),
        };
        let table: Vec<u8> = (0..=255u8).collect();
        let _ = match reply {
            Ok(r) => ack.send(&(r, Bytes::from(table))),
            Err(e) => ack.send(&(json!({ "error": e }),)),
        };
    });

    // The server asks the client (emit_with_ack) and reports the answer, to the Rust test and
    // as this event's ack.
    let t = tx.clone();
    socket.on("ask-me", move |socket, mut msg| {
        let t = t.clone();
        async move {
            let question = ("what is 6*7?", Bytes::from_static(&[0, 1, 2]));
            let answer = socket
                .emit_with_ack::<_, (Value, Bytes)>("question", &question, Duration::from_secs(3))
                .await
                .map(|(v, b)| (v, b.to_vec()))
                .map_err(|e| e.to_string());
            let _ = t.send(Seen::Answer(answer.clone()));
            if let Some(ack) = msg.ack() {
                let _ = match answer {
                    Ok((v, b)) => ack.send(&(v, Bytes::from(b))),
                    Err(e) => ack.send(&(json!({ "error": e }),)),
                };
            }
        }
    });

    // The server asks with a short timeout a question the client ignores.
    socket.on("ask-ignored", |socket, mut msg| async move {
        let r = socket
            .emit_with_ack::<_, Value>("ignored-question", &(), Duration::from_millis(300))
            .await;
        if let Some(ack) = msg.ack() {
            let _ = ack.send(&match r {
                Ok(v) => json!({ "answered": v }),
                Err(e) => json!({ "error": e.to_string() }),
            });
        }
    });

    socket.on("whoami", |socket, mut msg| async move {
        let hs = socket.handshake();
        let me = json!({
            "id": socket.id(),
            "nsp": socket.ns(),
            "transport": socket.transport(),
            "remote": hs.as_ref().and_then(|h| h.remote_addr.clone()),
            "connected": socket.connected(),
        });
        if let Some(ack) = msg.ack() {
            let _ = ack.send(&me);
        }
    });

    socket.on("rooms", |socket, mut msg| async move {
        let change: RoomChange = msg.args().unwrap_or(RoomChange {
            join: Vec::new(),
            leave: Vec::new(),
        });
        for r in &change.join {
            let _ = socket.join(r);
        }
        for r in &change.leave {
            let _ = socket.leave(r);
        }
        let mut rooms = socket.rooms();
        rooms.sort();
        if let Some(ack) = msg.ack() {
            let _ = ack.send(&rooms);
        }
    });

    // A broadcast as described, then a `barrier` to the whole namespace: a client that got
    // the barrier has got the broadcast too if it was a recipient (one connection keeps order).
    let io2 = io.clone();
    socket.on("bcast", move |socket, mut msg| {
        let io = io2.clone();
        async move {
            let result = match msg.args::<BroadcastSpec>() {
                Ok(spec) => {
                    let mut rooms = spec.to.iter();
                    let op = match spec.from.as_str() {
                        "socket" => rooms.next().map(|r| socket.to(r)),
                        "broadcast" => Some(socket.broadcast()),
                        _ => Some(io.of(socket.ns())),
                    };
                    match op {
                        Some(mut op) => {
                            for r in rooms {
                                op = op.to(r);
                            }
                            for r in &spec.except {
                                op = op.except(r);
                            }
                            let n = op.emit("news", &spec.tag);
                            let _ = io.of(socket.ns()).emit("barrier", &spec.tag);
                            n.map_err(|e| e.to_string())
                        }
                        None => Err("`socket` needs a room".to_owned()),
                    }
                }
                Err(e) => Err(e.to_string()),
            };
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&match result {
                    Ok(n) => json!({ "count": n }),
                    Err(e) => json!({ "error": e }),
                });
            }
        }
    });

    // `count` events `flood` of `size` bytes each to the whole namespace, from one handler
    // call: more than the sockets' buffers take at once, so that what the emitting task
    // cannot write goes to each connection's own task, which must keep the order.
    let io2 = io.clone();
    socket.on("flood", move |socket, mut msg| {
        let io = io2.clone();
        async move {
            let (count, size) = msg.args::<(u64, usize)>().unwrap_or((0, 0));
            let payload = "f".repeat(size.min(1 << 20));
            let mut sent = 0;
            for i in 0..count.min(10_000) {
                if io.of(socket.ns()).emit("flood", &(i, &payload)).is_ok() {
                    sent += 1;
                }
            }
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&sent);
            }
        }
    });

    // The ids of the sockets of a namespace (this socket's by default).
    let io2 = io.clone();
    socket.on("sockets", move |socket, mut msg| {
        let nsp: Option<String> = msg.args().ok().flatten();
        let mut ids = io2.sockets(nsp.as_deref().unwrap_or(socket.ns()));
        ids.sort();
        async move {
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&ids);
            }
        }
    });

    socket.on("disconnect-me", |socket, _msg| async move {
        let _ = socket.disconnect(false);
    });

    let t = tx.clone();
    socket.on("big", move |_socket, mut msg| {
        let t = t.clone();
        async move {
            let len = msg.args::<String>().map(|s| s.len()).unwrap_or(0);
            let _ = t.send(Seen::Big(len));
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&len);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Node peers
// ---------------------------------------------------------------------------------------------

/// `tests/js`.
pub fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Panic unless the Node dependencies are installed, in the 4.8 line.
pub fn require_node_modules() {
    let dir = js_dir().join("node_modules");
    for pkg in ["socket.io-client", "ws"] {
        let manifest = dir.join(pkg).join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|_| {
            panic!(
                "{} is missing: the Node interoperability tests need it; {INSTALL_HINT}",
                manifest.display()
            )
        });
        if pkg == "socket.io-client" {
            let v: Value = serde_json::from_str(&text).expect("package.json is JSON");
            let version = v["version"].as_str().unwrap_or_default();
            assert!(
                version.starts_with("4.8."),
                "socket.io-client {version} is installed, the tests target 4.8.x; {INSTALL_HINT}"
            );
        }
    }
}

/// What a finished Node peer printed.
#[derive(Debug)]
pub struct NodeOutput {
    /// Its exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Its `REPORT` objects, merged.
    pub reports: serde_json::Map<String, Value>,
}

impl NodeOutput {
    /// Panic with the peer's output unless it exited with 0.
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert!(
            self.code == Some(0),
            "node scenario `{what}` failed (exit code {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// A reported value.
    pub fn report(&self, key: &str) -> &Value {
        self.reports.get(key).unwrap_or_else(|| {
            panic!(
                "the node peer did not report `{key}`\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// A reported string.
    pub fn report_str(&self, key: &str) -> &str {
        self.report(key)
            .as_str()
            .unwrap_or_else(|| panic!("the reported `{key}` is not a string"))
    }
}

/// A running Node peer.
pub struct Node {
    name: String,
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stdout: Vec<String>,
    stdout_task: JoinHandle<()>,
    stderr_task: JoinHandle<String>,
}

impl Node {
    /// Run `node tests/js/<script> <scenario> <url> <extra...>`.
    pub fn spawn(script: &str, scenario: &str, url: &str, extra: &[&str]) -> Node {
        require_node_modules();
        let mut command = Command::new("node");
        command
            .arg(js_dir().join(script))
            .arg(scenario)
            .arg(url)
            .args(extra)
            .current_dir(js_dir());
        Self::spawn_command(&format!("{script} {scenario}"), command)
            .unwrap_or_else(|e| panic!("cannot run `node` ({e}); Node 18+ must be on PATH"))
    }

    /// Run any peer process (`name` labels its output), with the same handling of its output
    /// as a Node peer: stdin closed, stdout read line by line, stderr collected, killed when
    /// dropped.
    pub fn spawn_command(name: &str, mut command: Command) -> std::io::Result<Node> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let (tx, lines) = mpsc::unbounded_channel();
        let out = child.stdout.take().expect("piped stdout");
        let stdout_task = tokio::spawn(async move {
            let mut out = BufReader::new(out).lines();
            while let Ok(Some(line)) = out.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr_task = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        Ok(Node {
            name: name.to_owned(),
            child,
            lines,
            stdout: Vec::new(),
            stdout_task,
            stderr_task,
        })
    }

    /// Wait up to `timeout` for an output line starting with `prefix`; returns the rest of it.
    pub async fn line(&mut self, prefix: &str, timeout: Duration) -> String {
        match self.try_line(prefix, timeout).await {
            Some(rest) => rest,
            None => {
                let _ = self.child.start_kill();
                let out = self.collect().await;
                panic!(
                    "node `{}` printed no `{prefix}` line within {timeout:?} (exit code \
                     {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.name, out.code, out.stdout, out.stderr
                );
            }
        }
    }

    /// Like [`line`](Self::line), but `None` when no such line came within `timeout` (or the
    /// process closed its output); the process is left alone. A zero `timeout` takes only a
    /// line already printed.
    pub async fn try_line(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.stdout.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Some(rest.trim().to_owned());
                    }
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// What the process printed on stdout so far (the lines already read).
    pub fn stdout_so_far(&self) -> String {
        self.stdout.join("\n")
    }

    /// Kill the process (SIGKILL): its connections drop without any goodbye.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Wait up to `timeout` for the process to exit, and collect its output. A process still
    /// running then is killed and reported as failed.
    pub async fn finish(mut self, timeout: Duration) -> NodeOutput {
        if tokio::time::timeout(timeout, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
            let mut out = self.collect().await;
            out.code = None;
            out.stderr
                .push_str(&format!("\n[killed: still running after {timeout:?}]"));
            return out;
        }
        self.collect().await
    }

    async fn collect(&mut self) -> NodeOutput {
        let code = match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => None,
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.stdout_task).await;
        while let Ok(line) = self.lines.try_recv() {
            self.stdout.push(line);
        }
        let stderr = tokio::time::timeout(Duration::from_secs(2), &mut self.stderr_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut reports = serde_json::Map::new();
        for line in &self.stdout {
            if let Some(json) = line.strip_prefix("REPORT ") {
                if let Ok(Value::Object(m)) = serde_json::from_str(json) {
                    reports.extend(m);
                }
            }
        }
        NodeOutput {
            code,
            stdout: self.stdout.join("\n"),
            stderr,
            reports,
        }
    }
}

/// Run a Node scenario to its end (at most 20 s) and check that it passed.
pub async fn run_node(script: &str, scenario: &str, url: &str, extra: &[&str]) -> NodeOutput {
    let node = Node::spawn(script, scenario, url, extra);
    let out = node.finish(Duration::from_secs(20)).await;
    out.assert_ok(&format!("{script} {scenario} {}", extra.join(" ")));
    out
}
