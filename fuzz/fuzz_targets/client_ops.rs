//! The Socket.IO client core (`sio_core::client::Client`) driven by arbitrary operations:
//! server bytes (well-formed templates and raw garbage) on HTTP responses and WebSocket
//! messages, transport failures, time passing, and application commands.
//!
//! Checked after every operation:
//! - no panic;
//! - bounded memory: send buffers, retry queues, receive buffers, pending acks and the
//!   Engine.IO write buffer within their configured limits, nothing left undrained;
//! - `handle_timeout(now)` leaves no deadline at or before `now`;
//! - every reconnection is scheduled within the backoff bounds of its attempt, and a
//!   connection that closes on its own (not by the application) always schedules one (or
//!   reports that attempts are exhausted);
//! - determinism: the same operations give the same outputs.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sio_core::client::{Client, ClientConfig, Event, Output, SocketOptions};
use sio_core::engine::client::{CloseReason, RequestId, Transmit, TransportKind, WsId};
use sio_core::engine::{Frame, Method};
use sio_core::server::Emit;
use sio_core::{ByteString, Bytes, Limits};

const NAMESPACES: [&str; 3] = ["/", "/a", "/b"];

/// Well-formed pieces of server traffic, to get deep into the state machine.
const TEMPLATES: [&str; 27] = [
    r#"0{"sid":"s","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":64}"#,
    r#"0{"sid":"s","upgrades":[],"pingInterval":50,"pingTimeout":20,"maxPayload":1000000}"#,
    "2",
    "3probe",
    "6",
    "1",
    "5",
    r#"40{"sid":"x"}"#,
    r#"40/a,{"sid":"y","pid":"p"}"#,
    r#"40/b,{"sid":"z"}"#,
    r#"44{"message":"no","data":{"a":1}}"#,
    r#"44/a,"old""#,
    "41",
    "41/b,",
    r#"42["e",1]"#,
    r#"42/a,["e","off"]"#,
    r#"421["q"]"#,
    r#"430[]"#,
    r#"431[1]"#,
    r#"432["r"]"#,
    r#"451-["b",{"_placeholder":true,"num":0}]"#,
    r#"461-/a,0[{"_placeholder":true,"num":0}]"#,
    "40",
    "4x",
    // Connection state recovery: offsets on events (binary ones too), an event that asks for
    // an ack (no offset), one with no argument to take.
    r#"451-/a,["b",{"_placeholder":true,"num":0},"off2"]"#,
    r#"42/a,7["q","not an offset"]"#,
    r#"42/a,["e"]"#,
];

#[derive(Arbitrary, Debug, Clone)]
enum Piece {
    Template(u8),
    Raw(Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Piece::Template(i) => TEMPLATES[*i as usize % TEMPLATES.len()].as_bytes().to_vec(),
            Piece::Raw(b) => b.clone(),
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Advance(u16),
    /// Jump to the next deadline.
    Timeout,
    /// Answer an outstanding request with a polling payload built from pieces.
    HttpResponse {
        pick: u8,
        status_ok: bool,
        body: Vec<Piece>,
    },
    HttpError {
        pick: u8,
    },
    /// Answer every outstanding POST with `ok`.
    AnswerPosts,
    /// Play a cooperative server for one round: open every WebSocket, answer probes with
    /// `3probe`, handshakes with an `open` packet offering the upgrade, other GETs with a
    /// noop and POSTs with `ok`.
    Cooperate,
    WsOpened {
        pick: u8,
    },
    /// A text message (a piece) or a binary one.
    WsMessage {
        pick: u8,
        binary: bool,
        piece: Piece,
    },
    WsClosed {
        pick: u8,
        error: bool,
    },
    Connect {
        nsp: u8,
        auth: bool,
    },
    Disconnect {
        nsp: u8,
    },
    Emit {
        nsp: u8,
        ack: bool,
        timeout: Option<u16>,
        volatile: bool,
        binary: bool,
    },
    Ack {
        nsp: u8,
        id: u8,
    },
    Close,
}

#[derive(Arbitrary, Debug, Clone)]
struct Input {
    transports: u8,
    seed: u64,
    retries: u8,
    ack_timeout: Option<u16>,
    reconnection: bool,
    attempts: Option<u8>,
    timeout: Option<u16>,
    ops: Vec<Op>,
}

fn config(input: &Input) -> ClientConfig {
    let mut c = ClientConfig::default();
    c.engine.transports = match input.transports % 4 {
        0 => vec![TransportKind::Polling],
        1 => vec![TransportKind::WebSocket],
        2 => vec![TransportKind::Polling, TransportKind::WebSocket],
        _ => vec![TransportKind::WebSocket, TransportKind::Polling],
    };
    c.engine.max_buffered_frames = 16;
    c.engine.limits = Limits {
        max_payload: 4096,
        max_attachments: 4,
        max_namespace_len: 64,
    };
    c.reconnection = input.reconnection;
    c.reconnection_attempts = input.attempts.map(u32::from);
    c.timeout = input.timeout.map(u64::from);
    c.max_send_buffer = 8;
    c.max_receive_buffer = 4;
    c.max_pending_acks = 8;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&input.seed.to_le_bytes());
    c.seed = seed;
    c
}

struct Harness {
    client: Client,
    config: ClientConfig,
    now: u64,
    requests: Vec<(RequestId, Method, bool)>,
    opened: Vec<WsId>,
    probes: Vec<WsId>,
    sockets: Vec<WsId>,
    log: Vec<Output>,
    last_deadline: Option<u64>,
}

impl Harness {
    fn drain(&mut self) {
        let mut closed_on_its_own = false;
        let mut failed = false;
        while let Some(o) = self.client.poll_output() {
            match &o {
                Output::Transmit(Transmit::Http {
                    req,
                    method,
                    path_and_query,
                    ..
                }) => self
                    .requests
                    .push((*req, *method, path_and_query.contains("sid="))),
                Output::Transmit(Transmit::Ws {
                    ws,
                    frame: Frame::Text(t),
                }) if &**t == "2probe" => self.probes.push(*ws),
                Output::Transmit(Transmit::HttpAbort { req }) => {
                    self.requests.retain(|(r, ..)| r != req)
                }
                Output::Transmit(Transmit::WsOpen { ws, .. }) => self.sockets.push(*ws),
                Output::Transmit(Transmit::WsClose { ws }) => self.sockets.retain(|w| w != ws),
                Output::Transmit(_) => {}
                Output::Event(Event::Close { reason }) => {
                    closed_on_its_own |= *reason != CloseReason::ForcedClose;
                }
                Output::Event(Event::ReconnectFailed) => failed = true,
                Output::Event(_) => {}
            }
            self.log.push(o);
            assert!(self.log.len() < 1_000_000, "unbounded output");
        }
        self.requests.truncate(64);
        self.sockets.truncate(64);
        if closed_on_its_own && self.config.reconnection {
            assert!(
                self.client.is_reconnecting() || failed,
                "a connection that closed on its own must reconnect"
            );
        }
        self.check();
    }

    fn check(&mut self) {
        let st = self.client.stats();
        let sockets = st.sockets;
        assert!(sockets <= NAMESPACES.len());
        assert!(st.buffered_packets <= sockets * self.config.max_send_buffer);
        assert!(st.received_buffered <= sockets * self.config.max_receive_buffer);
        assert!(st.pending_acks <= sockets * (self.config.max_pending_acks + 1));
        assert!(st.engine_frames <= self.config.engine.max_buffered_frames);
        assert_eq!(st.queued_outputs, 0);
        assert!(st.timers <= 3 + st.pending_acks);
        // Reconnection scheduled within the bounds of its attempt.
        let deadline = self.client.reconnect_deadline();
        if let Some(d) = deadline {
            if self.last_deadline != Some(d) {
                let attempts = self.client.backoff().attempts();
                assert!(attempts >= 1);
                let (lo, hi) = self.client.backoff().bounds(attempts - 1);
                let delay = d - self.now;
                assert!(
                    lo <= delay && delay <= hi,
                    "reconnection in {delay} ms, attempt {attempts}: not in [{lo}, {hi}]"
                );
                assert!(hi <= self.config.reconnection_delay_max);
            }
        }
        self.last_deadline = deadline;
    }

    fn pick_req(&self, pick: u8) -> RequestId {
        self.requests
            .get(pick as usize % self.requests.len().max(1))
            .map(|(r, ..)| *r)
            .unwrap_or(RequestId(u64::from(pick)))
    }

    fn pick_ws(&self, pick: u8) -> WsId {
        self.sockets
            .get(pick as usize % self.sockets.len().max(1))
            .copied()
            .unwrap_or(WsId(u64::from(pick)))
    }

    fn run(&mut self, op: &Op, input: &Input) {
        let now = self.now;
        match op {
            Op::Advance(ms) => {
                self.now += u64::from(*ms);
                if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.client.handle_timeout(self.now);
                }
            }
            Op::Timeout => {
                if let Some(t) = self.client.poll_timeout() {
                    self.now = self.now.max(t);
                }
                self.client.handle_timeout(self.now);
            }
            Op::HttpResponse {
                pick,
                status_ok,
                body,
            } => {
                let req = self.pick_req(*pick);
                self.requests.retain(|(r, ..)| *r != req);
                let mut b = Vec::new();
                for (i, p) in body.iter().take(32).enumerate() {
                    if i > 0 {
                        b.push(0x1e);
                    }
                    b.extend(p.bytes());
                }
                let status = if *status_ok { 200 } else { 400 };
                self.client
                    .handle_http_response(now, req, status, Bytes::from(b));
            }
            Op::HttpError { pick } => {
                let req = self.pick_req(*pick);
                self.requests.retain(|(r, ..)| *r != req);
                self.client.handle_http_error(now, req);
            }
            Op::AnswerPosts => {
                let posts: Vec<RequestId> = self
                    .requests
                    .iter()
                    .filter(|(_, m, _)| *m == Method::Post)
                    .map(|(r, ..)| *r)
                    .collect();
                self.requests.retain(|(_, m, _)| *m != Method::Post);
                for req in posts {
                    self.client
                        .handle_http_response(now, req, 200, Bytes::from_static(b"ok"));
                }
            }
            Op::Cooperate => {
                let to_open: Vec<WsId> = self
                    .sockets
                    .iter()
                    .filter(|w| !self.opened.contains(w))
                    .copied()
                    .collect();
                for ws in to_open {
                    self.opened.push(ws);
                    self.client.handle_ws_opened(now, ws);
                }
                for ws in std::mem::take(&mut self.probes) {
                    self.client.handle_ws_message(
                        now,
                        ws,
                        Frame::Text(ByteString::from_static("3probe")),
                    );
                }
                for (req, method, has_sid) in std::mem::take(&mut self.requests) {
                    let body: &'static [u8] = match (method, has_sid) {
                        (Method::Post, _) => b"ok",
                        (_, false) => TEMPLATES[0].as_bytes(),
                        (_, true) => b"6",
                    };
                    self.client
                        .handle_http_response(now, req, 200, Bytes::from_static(body));
                }
                self.opened.truncate(64);
            }
            Op::WsOpened { pick } => {
                let ws = self.pick_ws(*pick);
                self.client.handle_ws_opened(now, ws);
            }
            Op::WsMessage {
                pick,
                binary,
                piece,
            } => {
                let ws = self.pick_ws(*pick);
                let bytes = piece.bytes();
                let frame = if *binary {
                    Frame::Binary(Bytes::from(bytes))
                } else {
                    match String::from_utf8(bytes) {
                        Ok(s) => Frame::Text(ByteString::from(s)),
                        Err(e) => Frame::Binary(Bytes::from(e.into_bytes())),
                    }
                };
                self.client.handle_ws_message(now, ws, frame);
            }
            Op::WsClosed { pick, error } => {
                let ws = self.pick_ws(*pick);
                self.sockets.retain(|w| *w != ws);
                self.client.handle_ws_closed(now, ws, *error);
            }
            Op::Connect { nsp, auth } => {
                let opts = SocketOptions {
                    auth: auth.then(|| ByteString::from_static(r#"{"token":"t"}"#)),
                    ack_timeout: input.ack_timeout.map(u64::from),
                    retries: u32::from(input.retries % 4),
                };
                let nsp = NAMESPACES[*nsp as usize % NAMESPACES.len()];
                self.client.connect(now, nsp, opts).unwrap();
            }
            Op::Disconnect { nsp } => {
                let nsp = NAMESPACES[*nsp as usize % NAMESPACES.len()];
                let _ = self.client.disconnect(now, nsp);
            }
            Op::Emit {
                nsp,
                ack,
                timeout,
                volatile,
                binary,
            } => {
                let nsp = NAMESPACES[*nsp as usize % NAMESPACES.len()];
                let mut e = if *binary {
                    let mut e = Emit::new(r#"["up",{"_placeholder":true,"num":0}]"#);
                    e.attachments.push(Bytes::from_static(b"\x00\x01"));
                    e
                } else {
                    Emit::new(r#"["up",1]"#)
                };
                e.volatile = *volatile;
                let _ = if *ack {
                    self.client
                        .emit_with_ack(now, nsp, &e, timeout.map(u64::from))
                        .map(|_| true)
                } else {
                    self.client.emit(now, nsp, &e)
                };
            }
            Op::Ack { nsp, id } => {
                let nsp = NAMESPACES[*nsp as usize % NAMESPACES.len()];
                let _ = self.client.ack(
                    now,
                    nsp,
                    u64::from(*id),
                    ByteString::from_static("[1]"),
                    Vec::new(),
                );
            }
            Op::Close => self.client.close(now),
        }
        if let Some(t) = self.client.poll_timeout() {
            // Only inputs at `now` were given: nothing due may be left behind by
            // `handle_timeout`.
            if matches!(op, Op::Timeout | Op::Advance(_)) {
                assert!(t > self.now, "deadline {t} left at or before {}", self.now);
            }
        }
        self.drain();
    }
}

fn run(input: &Input) -> Vec<Output> {
    let config = config(input);
    let mut h = Harness {
        client: Client::new(config.clone()),
        config,
        now: 0,
        requests: Vec::new(),
        opened: Vec::new(),
        probes: Vec::new(),
        sockets: Vec::new(),
        log: Vec::new(),
        last_deadline: None,
    };
    for op in input.ops.iter().take(512) {
        h.run(op, input);
    }
    h.log
}

fuzz_target!(|input: Input| {
    let first = run(&input);
    let second = run(&input);
    assert!(first == second, "not deterministic");
});
