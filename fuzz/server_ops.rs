//! The `server_ops` fuzz target: a [`Server`] driven by an `arbitrary` sequence of
//! operations, with its invariants checked after each one.
//!
//! This file is shared: the fuzz target (`fuzz_targets/server_ops.rs`) includes it as a
//! module, and so does the sio-tests integration test `tests/fuzz_server_ops.rs`, which feeds
//! it seeded random inputs so that it also runs on stable Rust.
//!
//! # Operations
//!
//! Up to [`MAX_CONNS`] client connections (slots) speak to the server: polling and WebSocket
//! handshakes, GETs (parked or not), POSTs of structured packets or of any bytes, WebSocket
//! messages (structured or any bytes) on the main or the probe socket, upgrades, closes,
//! aborted GETs, raw HTTP requests with any query; time advances by any amount or to the next
//! deadline; the application accepts or refuses CONNECTs, emits (to rooms, with exceptions,
//! binary, volatile), emits with acks, broadcasts with acks, acknowledges, joins, leaves,
//! disconnects and shuts down. With connection state recovery on, CONNECTs may present a
//! `pid` and an `offset` the server gave some connection (or forged ones), to take a socket's
//! session back, from a closed connection or from one still open.
//!
//! # Invariants
//!
//! - No panic; time handling leaves no deadline at or before `now`.
//! - Runtime contract: a request is answered at most once and never after it was aborted;
//!   nothing is written to a WebSocket after it was closed (by either side); every output
//!   names a request or WebSocket the runtime handed in.
//! - The server only sends what a client can decode: every WebSocket frame and polling body
//!   decodes as Engine.IO, and the messages as Socket.IO packets (binary reassembly included).
//! - Events are consistent: `Disconnecting` then `Disconnect`, once per socket, only for
//!   sockets that were accepted; the reasons fit the operation (a peer's input, a command,
//!   a deadline, a shutdown).
//! - Isolation: input from one connection touches only that connection (answers, frames,
//!   closes, disconnects) and closes at most its own session; an application command only
//!   disconnects others through their own full buffers.
//! - Bounded: outputs of one operation are bounded by its size and the number of sessions;
//!   sessions never exceed the handshakes fed, sockets never exceed the accepts; what
//!   recovery keeps stays within its bounds.
//! - Recovery: a CONNECT that presents a live socket's `pid` may end that socket's connection
//!   (with `transport error`), and no other; a recovered socket comes back with its id.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use arbitrary::{Arbitrary, Unstructured};
use sio_core::engine::{payload, Frame, HttpResponse, Method, RequestId, Transmit, WsId};
use sio_core::server::{
    ConnectId, DisconnectReason, Emit, Event, Handshake, Output, RecoveryConfig, Server,
    ServerConfig, SocketId, Target,
};
use sio_core::socket::{Decoder, PacketType};
use sio_core::{ByteString, Bytes, Limits};

/// Connection slots of the simulated clients.
pub const MAX_CONNS: usize = 6;
/// Operations run per input at most.
pub const MAX_OPS: usize = 200;
const NAMESPACES: [&str; 3] = ["/", "/a", "/dyn"];
const ROOMS: [&str; 3] = ["r0", "r1", "r2"];

/// Settings the input chooses.
#[derive(Arbitrary, Debug)]
pub struct Config {
    pub dynamic_namespaces: bool,
    pub small_payload: bool,
    /// `max_buffered_frames` is 2 + this % 30. Its high bit turns connection state recovery
    /// on, with small bounds (kept in this byte so that the committed corpus decodes as
    /// before).
    pub buffered: u8,
    pub allow_upgrades: bool,
    /// Start from [`preamble`]: four clients connected and accepted in two namespaces.
    pub preamble: bool,
}

/// One Engine.IO message a client sends.
#[derive(Arbitrary, Debug, Clone)]
pub enum Msg {
    /// `2probe`
    Probe,
    /// `3probe`
    PongProbe,
    /// `5`
    Upgrade,
    /// `2`
    Ping,
    /// `3`
    Pong,
    /// `1`
    Close,
    /// `6`
    Noop,
    /// `40…`: with a token when `auth & 1`; with `auth >> 1` non-zero, also a recovery claim:
    /// a `pid` the server gave (or a forged one) and maybe an `offset` it sent (or a forged
    /// one).
    Connect { nsp: u8, auth: u8 },
    /// `41…`
    Disconnect { nsp: u8 },
    /// `42…`
    Event { nsp: u8, ack: Option<u8>, arg: u8 },
    /// `43…`
    Ack { nsp: u8, id: u16 },
    /// `45<n>-…` with `n` placeholders; the attachments are separate messages.
    BinaryEvent {
        nsp: u8,
        ack: Option<u8>,
        attachments: u8,
    },
    /// `46<n>-…`
    BinaryAck { nsp: u8, id: u16, attachments: u8 },
    /// A binary message.
    Attachment(Vec<u8>),
    /// Any text message.
    Text(String),
}

/// One step.
#[derive(Arbitrary, Debug)]
pub enum Op {
    OpenPolling {
        conn: u8,
    },
    OpenWebSocket {
        conn: u8,
    },
    Get {
        conn: u8,
    },
    Post {
        conn: u8,
        msgs: Vec<Msg>,
    },
    PostRaw {
        conn: u8,
        body: Vec<u8>,
    },
    StartUpgrade {
        conn: u8,
    },
    Ws {
        conn: u8,
        probe: bool,
        msg: Msg,
    },
    WsRaw {
        conn: u8,
        probe: bool,
        text: bool,
        data: Vec<u8>,
    },
    WsClosed {
        conn: u8,
        probe: bool,
        error: bool,
    },
    Abort {
        conn: u8,
    },
    Http {
        method: u8,
        query: String,
        body: Vec<u8>,
    },
    Advance {
        ms: u16,
    },
    NextDeadline,
    Accept {
        n: u8,
    },
    Reject {
        n: u8,
    },
    Emit {
        nsp: u8,
        rooms: u8,
        except: u8,
        except_socket: Option<u8>,
        binary: bool,
        volatile: bool,
    },
    EmitRaw {
        nsp: u8,
        data: String,
    },
    EmitWithAck {
        socket: u8,
        timeout: u16,
        volatile: bool,
    },
    BroadcastWithAck {
        nsp: u8,
        rooms: u8,
        timeout: u16,
    },
    AckReply {
        n: u8,
        binary: bool,
    },
    AckRaw {
        n: u8,
        data: String,
    },
    Join {
        socket: u8,
        room: u8,
    },
    Leave {
        socket: u8,
        room: u8,
    },
    Disconnect {
        socket: u8,
        close: bool,
    },
    CloseAll,
}

/// The whole input.
#[derive(Arbitrary, Debug)]
pub struct Input {
    pub config: Config,
    pub ops: Vec<Op>,
}

/// Run the target on raw fuzzer bytes.
pub fn server_ops(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    run(input);
}

/// What a run went through, so that tests can check that they reached what they aim at.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Sockets accepted.
    pub accepted: usize,
    /// Sockets disconnected.
    pub disconnected: usize,
    /// Socket.IO packets the clients decoded from what the server sent.
    pub delivered: usize,
    /// Events from clients that reached the application.
    pub messages: usize,
    /// Sockets that came back through connection state recovery.
    pub recovered: usize,
}

/// Run the target on a decoded input.
pub fn run(input: Input) -> Summary {
    let mut f = Fuzz::new(&input.config);
    let start = if input.config.preamble {
        preamble()
    } else {
        Vec::new()
    };
    for op in start.into_iter().chain(input.ops.into_iter().take(MAX_OPS)) {
        f.step(op);
    }
    // The end: everything times out eventually, and the server stays consistent.
    for _ in 0..50 {
        if f.server.poll_timeout().is_none() {
            break;
        }
        f.step(Op::NextDeadline);
    }
    assert!(
        f.disconnecting.is_empty(),
        "Disconnecting without Disconnect"
    );
    Summary {
        accepted: f.accepted,
        disconnected: f.gone.len(),
        delivered: f.delivered,
        messages: f.messages,
        recovered: f.recovered,
    }
}

/// Two polling and two WebSocket clients, each connected to `/` and `/a`, accepted, and in
/// rooms: a deep state to start from.
pub fn preamble() -> Vec<Op> {
    let mut ops = vec![
        Op::OpenPolling { conn: 0 },
        Op::OpenPolling { conn: 1 },
        Op::OpenWebSocket { conn: 2 },
        Op::OpenWebSocket { conn: 3 },
        Op::Get { conn: 0 },
    ];
    for conn in 0..4u8 {
        let msgs = vec![
            Msg::Connect {
                nsp: 0,
                auth: u8::from(conn % 2 == 0),
            },
            Msg::Connect { nsp: 1, auth: 0 },
        ];
        if conn < 2 {
            ops.push(Op::Post { conn, msgs });
        } else {
            for msg in msgs {
                ops.push(Op::Ws {
                    conn,
                    probe: false,
                    msg,
                });
            }
        }
    }
    for _ in 0..8 {
        ops.push(Op::Accept { n: 0 });
    }
    for socket in 0..8 {
        ops.push(Op::Join {
            socket,
            room: socket % 3,
        });
    }
    ops
}

#[derive(Debug, Default)]
struct Conn {
    sid: Option<String>,
    polling: bool,
    ws: Option<WsId>,
    probe: Option<WsId>,
    parked: Option<RequestId>,
    /// Decodes what the server sends this connection, as its client would.
    decoder: Decoder,
}

/// What kind of operation is running, to judge its effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// Input from this client connection.
    Peer(usize),
    /// Input that may name any session.
    AnyPeer,
    /// An application command (`Some(conn)`: disconnecting that connection's sockets).
    Command(Option<usize>),
    Timeout,
    Shutdown,
}

struct Fuzz {
    server: Server,
    now: u64,
    /// Every client connection ever made, by id; `slots` names the current one of each slot.
    conns: BTreeMap<usize, Conn>,
    slots: [usize; MAX_CONNS],
    next_conn: usize,
    next_req: u64,
    next_ws: u64,
    req_owner: BTreeMap<RequestId, Option<usize>>,
    handshakes: BTreeSet<RequestId>,
    answered: BTreeSet<RequestId>,
    aborted: BTreeSet<RequestId>,
    ws_owner: BTreeMap<WsId, usize>,
    ws_dead: BTreeSet<WsId>,
    pending_connects: Vec<ConnectId>,
    client_acks: Vec<(SocketId, u64)>,
    sockets_seen: Vec<SocketId>,
    socket_conn: BTreeMap<SocketId, Option<usize>>,
    disconnecting: BTreeSet<SocketId>,
    gone: BTreeSet<SocketId>,
    sessions_opened: usize,
    accepted: usize,
    delivered: usize,
    messages: usize,
    recovered: usize,
    /// Recovery, when on: its bounds, the `pid`s the server gave (with the connection that
    /// got each) and offsets it sent, latest last.
    recovery: Option<RecoveryConfig>,
    known: Known,
    /// Connections whose sockets the current operation may take over (by their `pid`).
    others: BTreeSet<usize>,
}

/// What the clients learned from the server, for recovery claims.
#[derive(Debug, Default)]
pub struct Known {
    pids: Vec<(String, usize)>,
    offsets: Vec<String>,
}

impl Known {
    /// The auth object of a CONNECT: a token when `auth & 1`, a recovery claim by `auth >> 1`.
    fn auth(&self, auth: u8) -> Option<String> {
        let mut fields = Vec::new();
        if auth & 1 == 1 {
            fields.push(r#""token":"x""#.to_owned());
        }
        let claim = auth >> 1;
        if claim != 0 {
            let pid = match self.pids.len() {
                0 => "forged".to_owned(),
                n if claim % 8 == 7 => format!("{}x", self.pids[claim as usize % n].0),
                n => self.pids[(n - 1).saturating_sub(claim as usize % 4)]
                    .0
                    .clone(),
            };
            fields.push(format!(r#""pid":"{pid}""#));
            match claim >> 3 {
                0 => {}
                1 => fields.push(r#""offset":"forged.1""#.to_owned()),
                2 => fields.push(r#""offset":7"#.to_owned()),
                k => {
                    if let Some(o) = self
                        .offsets
                        .len()
                        .checked_sub(1 + k as usize % 4)
                        .and_then(|i| self.offsets.get(i))
                    {
                        fields.push(format!(r#""offset":"{o}""#));
                    }
                }
            }
        }
        (!fields.is_empty()).then(|| format!("{{{}}}", fields.join(",")))
    }

    /// The connection that got `pid` last.
    fn owner(&self, pid: &str) -> Option<usize> {
        self.pids
            .iter()
            .rev()
            .find(|(p, _)| p == pid)
            .map(|(_, c)| *c)
    }

    fn remember(&mut self, c: usize, packet: &sio_core::socket::Packet) {
        let Some(data) = packet.data.as_deref() else {
            return;
        };
        match packet.kind {
            PacketType::Connect => {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(data) {
                    if let Some(pid) = v.get("pid").and_then(|p| p.as_str()) {
                        self.pids.push((pid.to_owned(), c));
                    }
                }
            }
            PacketType::Event | PacketType::BinaryEvent if packet.id.is_none() => {
                if let Ok(args) = serde_json::from_str::<Vec<serde_json::Value>>(data) {
                    if let Some(serde_json::Value::String(o)) = args.last() {
                        self.offsets.push(o.clone());
                    }
                }
            }
            _ => {}
        }
        if self.pids.len() > 32 {
            self.pids.drain(..16);
        }
        if self.offsets.len() > 32 {
            self.offsets.drain(..16);
        }
    }
}

fn nsp(i: u8) -> &'static str {
    NAMESPACES[i as usize % NAMESPACES.len()]
}

fn nsp_prefix(i: u8) -> String {
    match nsp(i) {
        "/" => String::new(),
        n => format!("{n},"),
    }
}

fn placeholders(n: usize) -> String {
    (0..n)
        .map(|i| format!(r#"{{"_placeholder":true,"num":{i}}}"#))
        .collect::<Vec<_>>()
        .join(",")
}

impl Msg {
    /// The `pid` this message presents, if any.
    fn claimed_pid(&self, known: &Known) -> Option<String> {
        let Msg::Connect { auth, .. } = self else {
            return None;
        };
        let auth = known.auth(*auth)?;
        let v: serde_json::Value = serde_json::from_str(&auth).ok()?;
        v.get("pid")?.as_str().map(str::to_owned)
    }

    fn frame(&self, known: &Known) -> Frame {
        let t = |s: String| Frame::Text(ByteString::from(s));
        match self {
            Msg::Probe => t("2probe".into()),
            Msg::PongProbe => t("3probe".into()),
            Msg::Upgrade => t("5".into()),
            Msg::Ping => t("2".into()),
            Msg::Pong => t("3".into()),
            Msg::Close => t("1".into()),
            Msg::Noop => t("6".into()),
            Msg::Connect { nsp, auth } => t(format!(
                "40{}{}",
                nsp_prefix(*nsp),
                known.auth(*auth).unwrap_or_default()
            )),
            Msg::Disconnect { nsp } => t(format!("41{}", nsp_prefix(*nsp))),
            Msg::Event { nsp, ack, arg } => t(format!(
                r#"42{}{}["e",{arg}]"#,
                nsp_prefix(*nsp),
                ack.map(|a| a.to_string()).unwrap_or_default()
            )),
            Msg::Ack { nsp, id } => t(format!(r#"43{}{id}["a"]"#, nsp_prefix(*nsp))),
            Msg::BinaryEvent {
                nsp,
                ack,
                attachments,
            } => {
                let n = *attachments as usize % 4;
                let sep = if n > 0 { "," } else { "" };
                t(format!(
                    r#"45{n}-{}{}["b"{sep}{}]"#,
                    nsp_prefix(*nsp),
                    ack.map(|a| a.to_string()).unwrap_or_default(),
                    placeholders(n)
                ))
            }
            Msg::BinaryAck {
                nsp,
                id,
                attachments,
            } => {
                let n = *attachments as usize % 4;
                t(format!(
                    "46{n}-{}{id}[{}]",
                    nsp_prefix(*nsp),
                    placeholders(n)
                ))
            }
            Msg::Attachment(b) => Frame::Binary(Bytes::from(b.clone())),
            Msg::Text(s) => t(s.clone()),
        }
    }
}

/// The `sid` of an open packet (`0{"sid":"…",…}`).
fn open_sid(text: &str) -> Option<String> {
    let rest = text.strip_prefix("0{\"sid\":\"")?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// The client connection a handshake query names (`c=<id>`).
fn slot_of(query: &str) -> Option<usize> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("c="))
        .and_then(|v| v.parse().ok())
}

impl Fuzz {
    fn new(c: &Config) -> Self {
        let mut config = ServerConfig::default();
        config.engine.ping_interval = 300;
        config.engine.ping_timeout = 200;
        config.engine.upgrade_timeout = 500;
        config.engine.allow_upgrades = c.allow_upgrades;
        config.engine.max_buffered_frames = 2 + c.buffered as usize % 30;
        if c.small_payload {
            config.engine.limits = Limits {
                max_payload: 64,
                max_attachments: 2,
                max_namespace_len: 8,
            };
        }
        config.connect_timeout = 1000;
        config.dynamic_namespaces = c.dynamic_namespaces;
        let recovery = (c.buffered & 0x80 != 0).then(|| RecoveryConfig {
            max_disconnection_duration: 1500,
            skip_middlewares: true,
            max_packets: 1 + (c.buffered as usize >> 4 & 7),
            max_bytes: 200,
            max_sessions: 3,
        });
        config.connection_state_recovery = recovery.clone();
        let mut server = Server::new(config);
        server.add_namespace("/a");
        Fuzz {
            server,
            now: 0,
            conns: (0..MAX_CONNS).map(|c| (c, Conn::default())).collect(),
            slots: std::array::from_fn(|c| c),
            next_conn: MAX_CONNS,
            next_req: 0,
            next_ws: 0,
            req_owner: BTreeMap::new(),
            handshakes: BTreeSet::new(),
            answered: BTreeSet::new(),
            aborted: BTreeSet::new(),
            ws_owner: BTreeMap::new(),
            ws_dead: BTreeSet::new(),
            pending_connects: Vec::new(),
            client_acks: Vec::new(),
            sockets_seen: Vec::new(),
            socket_conn: BTreeMap::new(),
            disconnecting: BTreeSet::new(),
            gone: BTreeSet::new(),
            sessions_opened: 0,
            accepted: 0,
            delivered: 0,
            messages: 0,
            recovered: 0,
            recovery,
            known: Known::default(),
            others: BTreeSet::new(),
        }
    }

    /// The current connection of slot `c`.
    fn slot(&self, c: u8) -> usize {
        self.slots[c as usize % MAX_CONNS]
    }

    /// A new connection in slot `c`, replacing the previous one (which lives on at the
    /// server until it times out).
    fn fresh(&mut self, c: u8) -> usize {
        let id = self.next_conn;
        self.next_conn += 1;
        self.slots[c as usize % MAX_CONNS] = id;
        self.conns.insert(id, Conn::default());
        id
    }

    fn conn(&mut self, c: usize) -> &mut Conn {
        self.conns.get_mut(&c).expect("known connection")
    }

    fn pick_socket(&self, i: u8) -> Option<SocketId> {
        if self.sockets_seen.is_empty() {
            return None;
        }
        Some(self.sockets_seen[i as usize % self.sockets_seen.len()])
    }

    fn target(&self, ns: u8, rooms: u8, except: u8) -> Target {
        let mut t = Target::namespace(nsp(ns));
        for (i, r) in ROOMS.iter().enumerate() {
            if rooms & (1 << i) != 0 {
                t = t.to(r);
            }
            if except & (1 << i) != 0 {
                t = t.except(r);
            }
        }
        t
    }

    fn new_req(&mut self, owner: Option<usize>) -> RequestId {
        let req = RequestId(self.next_req);
        self.next_req += 1;
        self.req_owner.insert(req, owner);
        req
    }

    fn new_ws(&mut self, owner: usize) -> WsId {
        let ws = WsId(self.next_ws);
        self.next_ws += 1;
        self.ws_owner.insert(ws, owner);
        ws
    }

    fn http(
        &mut self,
        owner: Option<usize>,
        method: Method,
        query: &str,
        body: Bytes,
    ) -> RequestId {
        let req = self.new_req(owner);
        let q = query.to_owned();
        self.server
            .handle_http(self.now, req, method, query, body, move || Handshake {
                query: q,
                ..Handshake::default()
            });
        req
    }

    /// A live WebSocket of slot `c` (the probe or the main one).
    fn ws_of(&self, c: usize, probe: bool) -> Option<WsId> {
        let conn = &self.conns[&c];
        let ws = if probe { conn.probe } else { conn.ws }?;
        (!self.ws_dead.contains(&ws)).then_some(ws)
    }

    fn send_ws(&mut self, c: usize, probe: bool, frame: Frame) {
        let Some(ws) = self.ws_of(c, probe) else {
            return;
        };
        let upgrade = probe && matches!(&frame, Frame::Text(t) if t.starts_with('5'));
        self.server.handle_ws_message(self.now, ws, frame);
        if upgrade {
            // The client switches to the WebSocket (if the server kept it open).
            let conn = self.conn(c);
            conn.probe = None;
            conn.ws = Some(ws);
            conn.polling = false;
            if let Some(req) = conn.parked.take() {
                // A client gives up its poll once upgraded; the server answered it already.
                let _ = req;
            }
        }
    }

    fn step(&mut self, op: Op) {
        let sessions_before = self.server.engine().session_count();
        let mut input_len = 16usize;
        let cause = match op {
            Op::OpenPolling { conn } => {
                let c = self.fresh(conn);
                self.sessions_opened += 1;
                let req = self.http(
                    Some(c),
                    Method::Get,
                    &format!("EIO=4&transport=polling&c={c}"),
                    Bytes::new(),
                );
                self.handshakes.insert(req);
                self.conn(c).polling = true;
                Cause::Peer(c)
            }
            Op::OpenWebSocket { conn } => {
                let c = self.fresh(conn);
                self.sessions_opened += 1;
                let ws = self.new_ws(c);
                let q = format!("EIO=4&transport=websocket&c={c}");
                let q2 = q.clone();
                let r = self
                    .server
                    .handle_ws_open(self.now, ws, &q, move || Handshake {
                        query: q2,
                        ..Handshake::default()
                    });
                match r {
                    Ok(()) => self.conn(c).ws = Some(ws),
                    Err(_) => {
                        self.ws_dead.insert(ws);
                    }
                }
                Cause::Peer(c)
            }
            Op::Get { conn } => {
                let c = self.slot(conn);
                if let Some(sid) = self.conn(c).sid.clone() {
                    let req = self.http(
                        Some(c),
                        Method::Get,
                        &format!("EIO=4&transport=polling&sid={sid}"),
                        Bytes::new(),
                    );
                    if !self.answered.contains(&req) {
                        self.conn(c).parked = Some(req);
                    }
                }
                Cause::Peer(c)
            }
            Op::Post { conn, msgs } => {
                let c = self.slot(conn);
                for m in &msgs {
                    self.note_claim(c, m);
                }
                let frames: Vec<Frame> = msgs.iter().map(|m| m.frame(&self.known)).collect();
                let body = payload::encode(&frames);
                input_len += body.len();
                if let Some(sid) = self.conn(c).sid.clone() {
                    self.http(
                        Some(c),
                        Method::Post,
                        &format!("EIO=4&transport=polling&sid={sid}"),
                        body,
                    );
                }
                Cause::Peer(c)
            }
            Op::PostRaw { conn, body } => {
                let c = self.slot(conn);
                input_len += body.len();
                if let Some(sid) = self.conn(c).sid.clone() {
                    self.http(
                        Some(c),
                        Method::Post,
                        &format!("EIO=4&transport=polling&sid={sid}"),
                        Bytes::from(body),
                    );
                }
                Cause::Peer(c)
            }
            Op::StartUpgrade { conn } => {
                let c = self.slot(conn);
                if let Some(sid) = self.conn(c).sid.clone() {
                    let ws = self.new_ws(c);
                    let q = format!("EIO=4&transport=websocket&sid={sid}");
                    match self
                        .server
                        .handle_ws_open(self.now, ws, &q, Handshake::default)
                    {
                        Ok(()) => {
                            if let Some(old) = self.conn(c).probe.replace(ws) {
                                // The client abandons its previous probe.
                                if !self.ws_dead.contains(&old) {
                                    self.ws_dead.insert(old);
                                    self.server.handle_ws_closed(self.now, old, false);
                                }
                            }
                        }
                        Err(_) => {
                            self.ws_dead.insert(ws);
                        }
                    }
                }
                Cause::Peer(c)
            }
            Op::Ws { conn, probe, msg } => {
                let c = self.slot(conn);
                if !probe {
                    self.note_claim(c, &msg);
                }
                let frame = msg.frame(&self.known);
                input_len += frame.len();
                self.send_ws(c, probe, frame);
                Cause::Peer(c)
            }
            Op::WsRaw {
                conn,
                probe,
                text,
                data,
            } => {
                let c = self.slot(conn);
                input_len += data.len();
                let frame = if text {
                    Frame::Text(ByteString::from(
                        String::from_utf8_lossy(&data).into_owned(),
                    ))
                } else {
                    Frame::Binary(Bytes::from(data))
                };
                self.send_ws(c, probe, frame);
                Cause::Peer(c)
            }
            Op::WsClosed { conn, probe, error } => {
                let c = self.slot(conn);
                if let Some(ws) = self.ws_of(c, probe) {
                    self.ws_dead.insert(ws);
                    self.server.handle_ws_closed(self.now, ws, error);
                }
                Cause::Peer(c)
            }
            Op::Abort { conn } => {
                let c = self.slot(conn);
                if let Some(req) = self.conn(c).parked.take() {
                    if !self.answered.contains(&req) {
                        self.aborted.insert(req);
                        self.server.handle_http_aborted(self.now, req);
                    }
                }
                Cause::Peer(c)
            }
            Op::Http {
                method,
                query,
                body,
            } => {
                input_len += body.len() + query.len();
                let method = match method % 3 {
                    0 => Method::Get,
                    1 => Method::Post,
                    _ => Method::Other,
                };
                self.sessions_opened += 1;
                self.http(None, method, &query, Bytes::from(body));
                Cause::AnyPeer
            }
            Op::Advance { ms } => {
                let until = self.now + u64::from(ms);
                while let Some(t) = self.server.poll_timeout().filter(|t| *t <= until) {
                    self.timeout(t);
                    self.drain(Cause::Timeout, 0);
                }
                self.now = until;
                Cause::Timeout
            }
            Op::NextDeadline => {
                if let Some(t) = self.server.poll_timeout() {
                    self.timeout(t);
                }
                Cause::Timeout
            }
            Op::Accept { n } => {
                if self.pending_connects.is_empty() {
                    return;
                }
                let id = self
                    .pending_connects
                    .remove(n as usize % self.pending_connects.len());
                let conn = self
                    .server
                    .connect_request(id)
                    .and_then(|(_, _, hs)| slot_of(&hs.query));
                if let Ok(s) = self.server.accept(self.now, id) {
                    self.accepted += 1;
                    if self.server.socket_recovered(s) == Some(true) {
                        // The same socket again.
                        self.recovered += 1;
                        assert!(self.gone.remove(&s), "{s:?} recovered while connected");
                    }
                    self.sockets_seen.push(s);
                    self.socket_conn.insert(s, conn);
                }
                Cause::Command(None)
            }
            Op::Reject { n } => {
                if self.pending_connects.is_empty() {
                    return;
                }
                let id = self
                    .pending_connects
                    .remove(n as usize % self.pending_connects.len());
                let _ = self.server.reject(self.now, id, "refused", None);
                Cause::Command(None)
            }
            Op::Emit {
                nsp: ns,
                rooms,
                except,
                except_socket,
                binary,
                volatile,
            } => {
                let mut target = self.target(ns, rooms, except);
                if let Some(s) = except_socket.and_then(|i| self.pick_socket(i)) {
                    target = target.except_socket(s);
                }
                let mut emit = if binary {
                    Emit::new(ByteString::from(format!(r#"["bin",{}]"#, placeholders(2))))
                        .with_attachments(vec![Bytes::from_static(b"\x00\x01"), Bytes::new()])
                } else {
                    Emit::new(r#"["e",{"k":[1,"two"]}]"#)
                };
                emit.volatile = volatile;
                let _ = self.server.emit(self.now, &target, &emit);
                Cause::Command(None)
            }
            Op::EmitRaw { nsp: ns, data } => {
                input_len += data.len();
                let _ = self
                    .server
                    .emit(self.now, &Target::namespace(nsp(ns)), &Emit::new(data));
                Cause::Command(None)
            }
            Op::EmitWithAck {
                socket,
                timeout,
                volatile,
            } => {
                if let Some(s) = self.pick_socket(socket) {
                    let mut emit = Emit::new(r#"["q"]"#);
                    emit.volatile = volatile;
                    let _ =
                        self.server
                            .emit_with_ack(self.now, s, &emit, u64::from(timeout % 2000));
                }
                Cause::Command(None)
            }
            Op::BroadcastWithAck {
                nsp: ns,
                rooms,
                timeout,
            } => {
                let target = self.target(ns, rooms, 0);
                let _ = self.server.broadcast_with_ack(
                    self.now,
                    &target,
                    &Emit::new(r#"["all"]"#),
                    u64::from(timeout % 2000),
                );
                Cause::Command(None)
            }
            Op::AckReply { n, binary } => {
                if self.client_acks.is_empty() {
                    return;
                }
                let (s, id) = self.client_acks[n as usize % self.client_acks.len()];
                let (data, attachments) = if binary {
                    (
                        ByteString::from(format!("[{}]", placeholders(1))),
                        vec![Bytes::from_static(b"ack")],
                    )
                } else {
                    (ByteString::from_static(r#"["ok"]"#), Vec::new())
                };
                let _ = self.server.ack(self.now, s, id, data, attachments);
                Cause::Command(None)
            }
            Op::AckRaw { n, data } => {
                input_len += data.len();
                if let Some(s) = self.pick_socket(n) {
                    let _ = self.server.ack(
                        self.now,
                        s,
                        u64::from(n),
                        ByteString::from(data),
                        Vec::new(),
                    );
                }
                Cause::Command(None)
            }
            Op::Join { socket, room } => {
                if let Some(s) = self.pick_socket(socket) {
                    let _ = self.server.join(s, ROOMS[room as usize % ROOMS.len()]);
                }
                Cause::Command(None)
            }
            Op::Leave { socket, room } => {
                if let Some(s) = self.pick_socket(socket) {
                    let _ = self.server.leave(s, ROOMS[room as usize % ROOMS.len()]);
                }
                Cause::Command(None)
            }
            Op::Disconnect { socket, close } => {
                let Some(s) = self.pick_socket(socket) else {
                    return;
                };
                let slot = self.socket_conn.get(&s).copied().flatten();
                let _ = self.server.disconnect(self.now, s, close);
                Cause::Command(slot)
            }
            Op::CloseAll => {
                self.server.close_all(self.now);
                Cause::Shutdown
            }
        };
        self.drain(cause, input_len);
        let took_over = !std::mem::take(&mut self.others).is_empty();
        let sessions = self.server.engine().session_count();
        assert!(
            sessions <= self.sessions_opened,
            "{sessions} sessions from {} handshakes",
            self.sessions_opened
        );
        if let Some(r) = &self.recovery {
            let st = self.server.recovery_stats();
            let live: usize = NAMESPACES
                .iter()
                .map(|n| self.server.namespace_sockets(n).len())
                .sum();
            assert!(st.sessions <= r.max_sessions, "{st:?}");
            let journals = live + st.sessions;
            assert!(st.packets <= journals * r.max_packets, "{st:?}");
            assert!(st.client_acks <= journals * r.max_packets, "{st:?}");
        }
        if let (Cause::Peer(_), false) = (cause, took_over) {
            assert!(
                sessions + 1 >= sessions_before,
                "one peer's input closed {} sessions",
                sessions_before - sessions
            );
        }
        let sockets: usize = NAMESPACES
            .iter()
            .map(|n| self.server.namespace_sockets(n).len())
            .sum();
        assert!(
            sockets <= self.accepted,
            "{sockets} sockets from {} accepts",
            self.accepted
        );
        // Keep the harness itself bounded.
        if self.client_acks.len() > 64 {
            self.client_acks.drain(..32);
        }
        if self.pending_connects.len() > 64 {
            self.pending_connects.drain(..32);
        }
        if self.sockets_seen.len() > 256 {
            self.sockets_seen.drain(..128);
        }
    }

    /// A CONNECT presenting the `pid` of a socket on another connection may end that one.
    fn note_claim(&mut self, c: usize, msg: &Msg) {
        if self.recovery.is_none() {
            return;
        }
        if let Some(owner) = msg
            .claimed_pid(&self.known)
            .and_then(|pid| self.known.owner(&pid))
        {
            if owner != c {
                self.others.insert(owner);
            }
        }
    }

    fn timeout(&mut self, t: u64) {
        self.now = self.now.max(t);
        self.server.handle_timeout(self.now);
        if let Some(next) = self.server.poll_timeout() {
            assert!(next > self.now, "handle_timeout({}) left {next}", self.now);
        }
    }

    /// Route every output, checking it against `cause`.
    fn drain(&mut self, cause: Cause, input_len: usize) {
        let sessions = self.server.engine().session_count().max(1);
        let bound = 64 + 8 * input_len + 16 * (sessions + self.sessions_opened.min(64));
        let mut outputs = 0usize;
        while let Some(out) = self.server.poll_output() {
            outputs += 1;
            assert!(
                outputs <= bound,
                "more than {bound} outputs for one operation ({cause:?})"
            );
            match out {
                Output::Transmit(t) => self.on_transmit(cause, t),
                Output::Event(e) => self.on_event(cause, e),
            }
        }
    }

    fn touch(&self, cause: Cause, owner: Option<usize>) {
        if let Cause::Peer(c) = cause {
            assert!(
                owner == Some(c) || owner.is_some_and(|o| self.others.contains(&o)),
                "input of slot {c} reached another connection ({owner:?})"
            );
        }
    }

    fn on_transmit(&mut self, cause: Cause, t: Transmit) {
        match t {
            Transmit::Http { req, response } => {
                let owner = *self
                    .req_owner
                    .get(&req)
                    .unwrap_or_else(|| panic!("answer to unknown {req:?}"));
                assert!(!self.aborted.contains(&req), "answer to aborted {req:?}");
                assert!(self.answered.insert(req), "{req:?} answered twice");
                self.touch(cause, owner);
                let Some(c) = owner else { return };
                if self.conn(c).parked == Some(req) {
                    self.conn(c).parked = None;
                }
                self.on_response(c, req, &response);
            }
            Transmit::Ws { ws, frame } => {
                let c = *self
                    .ws_owner
                    .get(&ws)
                    .unwrap_or_else(|| panic!("frame on unknown {ws:?}"));
                assert!(!self.ws_dead.contains(&ws), "frame on closed {ws:?}");
                self.touch(cause, Some(c));
                if let Frame::Text(text) = &frame {
                    if let Some(sid) = open_sid(text) {
                        self.conn(c).sid = Some(sid);
                    }
                }
                let packet = frame
                    .decode(&Limits::DEFAULT)
                    .expect("the server sends valid Engine.IO messages");
                self.client_decode(c, packet);
            }
            Transmit::WsClose { ws } => {
                let c = *self
                    .ws_owner
                    .get(&ws)
                    .unwrap_or_else(|| panic!("close of unknown {ws:?}"));
                assert!(self.ws_dead.insert(ws), "{ws:?} closed twice");
                self.touch(cause, Some(c));
                let conn = self.conn(c);
                if conn.ws == Some(ws) {
                    conn.ws = None;
                }
                if conn.probe == Some(ws) {
                    conn.probe = None;
                }
                // The runtime reports the closed socket; the server must not mind.
                self.server.handle_ws_closed(self.now, ws, false);
            }
        }
    }

    fn on_response(&mut self, c: usize, req: RequestId, r: &HttpResponse) {
        if self.handshakes.remove(&req) {
            if r.status == 200 {
                let text = std::str::from_utf8(&r.body).expect("UTF-8 open packet");
                self.conn(c).sid = Some(open_sid(text).expect("open packet"));
            }
            return;
        }
        if r.status != 200 || r.content_type != "text/plain; charset=UTF-8" {
            return;
        }
        let packets = payload::decode(r.body.clone(), &Limits::DEFAULT)
            .expect("the server sends valid payloads");
        for p in packets {
            self.client_decode(c, p);
        }
    }

    /// Decode a message the server sent, as the client of slot `c` would.
    fn client_decode(&mut self, c: usize, packet: sio_core::engine::Packet) {
        use sio_core::engine::Packet;
        let decoder = &mut self.conn(c).decoder;
        let r = match packet {
            Packet::Message(text) => decoder.decode_text(&text),
            Packet::Binary(data) => decoder.decode_binary(data),
            Packet::Open(_) => {
                decoder.reset();
                return;
            }
            _ => return,
        };
        match r {
            Ok(Some(p)) => {
                self.delivered += 1;
                self.known.remember(c, &p);
            }
            Ok(None) => {}
            Err(e) => panic!("the server sent a Socket.IO packet its client cannot decode: {e}"),
        }
    }

    fn on_event(&mut self, cause: Cause, e: Event) {
        match e {
            Event::ConnectRequest { id, .. } => self.pending_connects.push(id),
            Event::Message { socket, packet } => {
                // Events queue up: the socket may be gone by now, but its Disconnect comes
                // after its last message.
                assert!(
                    self.socket_conn.contains_key(&socket),
                    "message of an unknown socket"
                );
                assert!(!self.gone.contains(&socket), "message after the disconnect");
                self.messages += 1;
                if let Some(id) = packet.id {
                    self.client_acks.push((socket, id));
                }
            }
            Event::Disconnecting { socket, reason, .. } => {
                assert!(
                    self.socket_conn.contains_key(&socket),
                    "disconnect of a socket never accepted"
                );
                assert!(
                    !self.gone.contains(&socket),
                    "{socket:?} disconnected twice"
                );
                assert!(self.disconnecting.insert(socket), "Disconnecting twice");
                self.check_reason(cause, socket, reason);
            }
            Event::Disconnect { socket, reason } => {
                assert!(
                    self.disconnecting.remove(&socket),
                    "Disconnect without Disconnecting"
                );
                assert!(self.gone.insert(socket));
                self.check_reason(cause, socket, reason);
            }
            Event::AckReceived { socket, .. } | Event::AckTimedOut { socket, .. } => {
                assert!(self.socket_conn.contains_key(&socket));
            }
            Event::BroadcastAck { .. } | Event::Engine(_) => {}
        }
    }

    fn check_reason(&self, cause: Cause, socket: SocketId, reason: DisconnectReason) {
        use DisconnectReason as R;
        let slot = self.socket_conn.get(&socket).copied().flatten();
        let ok = match cause {
            Cause::Peer(c) => {
                (slot == Some(c)
                    && !matches!(
                        reason,
                        R::PingTimeout | R::ServerShuttingDown | R::ServerNamespaceDisconnect
                    ))
                    || (slot.is_some_and(|s| self.others.contains(&s))
                        && reason == R::TransportError)
            }
            Cause::AnyPeer => !matches!(reason, R::ServerShuttingDown | R::PingTimeout),
            Cause::Command(target) => {
                reason == R::BufferFull
                    || (reason == R::ServerNamespaceDisconnect
                        && target.is_some()
                        && slot == target)
            }
            Cause::Timeout => matches!(reason, R::PingTimeout | R::BufferFull),
            Cause::Shutdown => reason == R::ServerShuttingDown,
        };
        assert!(
            ok,
            "{socket:?} of slot {slot:?} disconnected with {reason:?} by {cause:?}"
        );
    }
}
