//! Unit tests of the client against a scripted server (WebSocket transport: one message per
//! packet keeps the scripts short). The simulation against the real server core is in
//! `tests/client_sim.rs`.

use super::*;
use crate::engine::client::Transmit;

const OPEN: &str =
    r#"0{"sid":"eio1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;

struct H {
    c: Client,
    now: Millis,
    ws: Option<WsId>,
    transmits: Vec<Transmit>,
    events: Vec<Event>,
}

fn config() -> ClientConfig {
    let mut c = ClientConfig::default();
    c.engine.transports = vec![TransportKind::WebSocket];
    c.seed = [9; 32];
    c
}

fn text(s: &str) -> Frame {
    Frame::Text(ByteString::from(s.to_owned()))
}

fn bs(s: &str) -> ByteString {
    ByteString::from(s.to_owned())
}

impl H {
    fn new(config: ClientConfig) -> Self {
        H {
            c: Client::new(config),
            now: 0,
            ws: None,
            transmits: Vec::new(),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(o) = self.c.poll_output() {
            match o {
                Output::Transmit(t) => {
                    if let Transmit::WsOpen { ws, .. } = &t {
                        self.ws = Some(*ws);
                    }
                    self.transmits.push(t)
                }
                Output::Event(e) => self.events.push(e),
            }
        }
    }

    fn events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    fn transmits(&mut self) -> Vec<Transmit> {
        self.drain();
        std::mem::take(&mut self.transmits)
    }

    /// The text frames written on the WebSocket since the last call.
    fn sent(&mut self) -> Vec<String> {
        self.transmits()
            .into_iter()
            .filter_map(|t| match t {
                Transmit::Ws {
                    frame: Frame::Text(s),
                    ..
                } => Some(s.to_string()),
                Transmit::Ws {
                    frame: Frame::Binary(b),
                    ..
                } => Some(format!("<{} bytes>", b.len())),
                _ => None,
            })
            .collect()
    }

    fn server(&mut self, s: &str) {
        let ws = self.ws.expect("a websocket");
        self.c.handle_ws_message(self.now, ws, text(s));
        self.drain();
    }

    fn advance(&mut self, to: Millis) {
        while let Some(t) = self.c.poll_timeout().filter(|&t| t <= to) {
            self.now = self.now.max(t);
            self.c.handle_timeout(self.now);
            self.drain();
        }
        self.now = to;
    }

    /// Complete the Engine.IO handshake on the pending WebSocket.
    fn open(&mut self) {
        self.drain();
        let ws = self.ws.expect("a websocket was asked for");
        self.c.handle_ws_opened(self.now, ws);
        self.server(OPEN);
    }

    /// Connect `/` and answer its CONNECT.
    fn connected(config: ClientConfig) -> Self {
        let mut h = H::new(config);
        h.c.connect(0, "/", SocketOptions::default()).unwrap();
        h.open();
        assert_eq!(h.sent(), vec!["40"]);
        h.server(r#"40{"sid":"s1"}"#);
        h.events.clear();
        h
    }
}

fn emit(data: &str) -> Emit {
    Emit::new(bs(data))
}

#[test]
fn connects_with_auth_and_flushes_buffered_emits_in_order() {
    let mut h = H::new(config());
    let auth = SocketOptions {
        auth: Some(bs(r#"{"token":"abc"}"#)),
        ..SocketOptions::default()
    };
    h.c.connect(0, "/", auth).unwrap();
    assert_eq!(h.c.emit(0, "/", &emit(r#"["a",1]"#)), Ok(true));
    assert_eq!(h.c.emit(0, "/", &emit(r#"["b",2]"#)), Ok(true));
    assert_eq!(h.c.emit(0, "/", &emit(r#"["v"]"#).volatile()), Ok(false));
    assert_eq!(h.c.state(), ConnectionState::Opening);
    h.open();
    assert_eq!(h.sent(), vec![r#"40{"token":"abc"}"#]);
    assert!(matches!(
        &h.events()[..],
        [Event::Open {
            transport: TransportKind::WebSocket,
            ..
        }]
    ));
    h.server(r#"40{"sid":"s1"}"#);
    assert_eq!(h.sent(), vec![r#"42["a",1]"#, r#"42["b",2]"#]);
    assert_eq!(
        h.events(),
        vec![Event::Connect {
            nsp: bs("/"),
            sid: bs("s1"),
            pid: None,
            recovered: false
        }]
    );
    assert!(h.c.is_connected("/"));
    assert_eq!(h.c.socket_id("/").map(|s| &**s), Some("s1"));
    // Connected: emits leave at once; volatile ones too.
    assert_eq!(h.c.emit(1, "/", &emit(r#"["v"]"#).volatile()), Ok(true));
    assert_eq!(h.sent(), vec![r#"42["v"]"#]);
}

#[test]
fn multiplexed_namespaces_share_the_connection() {
    let mut h = H::connected(config());
    h.c.connect(1, "/admin", SocketOptions::default()).unwrap();
    assert_eq!(h.sent(), vec!["40/admin,"]);
    assert_eq!(h.transmits().len(), 0, "no second connection");
    h.server(r#"40/admin,{"sid":"s2"}"#);
    h.server(r#"42/admin,["hi"]"#);
    h.server(r#"42["root"]"#);
    let e = h.events();
    assert!(matches!(&e[0], Event::Connect { nsp, sid, .. } if nsp == "/admin" && sid == "s2"));
    assert!(
        matches!(&e[1], Event::Message { nsp, packet } if nsp == "/admin" && packet.event_name().as_deref() == Some("hi"))
    );
    assert!(matches!(&e[2], Event::Message { nsp, .. } if nsp == "/"));
    h.c.emit(2, "/admin", &emit(r#"["x"]"#)).unwrap();
    assert_eq!(h.sent(), vec![r#"42/admin,["x"]"#]);
    // A refused namespace does not close the others' connection.
    h.c.connect(3, "/nope", SocketOptions::default()).unwrap();
    h.server(r#"44/nope,{"message":"Invalid namespace"}"#);
    assert_eq!(
        h.events(),
        vec![Event::ConnectError {
            nsp: bs("/nope"),
            error: ConnectError::Refused {
                message: "Invalid namespace".into(),
                data: None
            }
        }]
    );
    assert!(!h.c.is_active("/nope"));
    assert_eq!(h.c.state(), ConnectionState::Open);
}

#[test]
fn refused_last_namespace_closes_without_reconnecting() {
    let mut h = H::new(config());
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.open();
    h.events.clear();
    h.server(r#"44{"message":"unauthorized","data":{"code":401}}"#);
    let e = h.events();
    assert_eq!(
        e[0],
        Event::Close {
            reason: CloseReason::ForcedClose
        }
    );
    assert_eq!(
        e[1],
        Event::ConnectError {
            nsp: bs("/"),
            error: ConnectError::Refused {
                message: "unauthorized".into(),
                data: Some(bs(r#"{"code":401}"#))
            }
        }
    );
    assert!(h.transmits().contains(&Transmit::WsClose { ws: WsId(0) }));
    assert_eq!(h.c.poll_timeout(), None, "no reconnection");
    assert_eq!(h.c.state(), ConnectionState::Closed);
}

#[test]
fn failed_first_connection_reconnects_with_backoff() {
    let mut h = H::new(ClientConfig {
        reconnection_attempts: Some(3),
        ..config()
    });
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.drain();
    h.c.handle_ws_closed(0, h.ws.unwrap(), true);
    let e = h.events();
    assert_eq!(
        e,
        vec![Event::ConnectError {
            nsp: bs("/"),
            error: ConnectError::Transport(TransportError::WebSocket)
        }]
    );
    let mut at = 0;
    for attempt in 1..=3u32 {
        let (lo, hi) = h.c.backoff().bounds(attempt - 1);
        let d = h.c.reconnect_deadline().unwrap() - at;
        assert!(
            lo <= d && d <= hi,
            "attempt {attempt}: {d} not in [{lo}, {hi}]"
        );
        at = h.c.reconnect_deadline().unwrap();
        h.advance(at);
        let e = h.events();
        assert_eq!(e, vec![Event::ReconnectAttempt { attempt }]);
        assert!(h
            .transmits
            .iter()
            .any(|t| matches!(t, Transmit::WsOpen { .. })));
        h.transmits.clear();
        h.c.handle_ws_closed(at, h.ws.unwrap(), false);
        let e = h.events();
        let err = ConnectError::Transport(TransportError::WebSocketClosed);
        assert_eq!(
            e[0],
            Event::ConnectError {
                nsp: bs("/"),
                error: err.clone()
            }
        );
        if attempt < 3 {
            assert_eq!(e[1..], [Event::ReconnectError { error: err }]);
        } else {
            assert_eq!(
                e[1..],
                [Event::ReconnectFailed, Event::ReconnectError { error: err }]
            );
        }
    }
    assert_eq!(h.c.poll_timeout(), None);
    assert!(!h.c.is_reconnecting());
    // The application may try again.
    h.c.connect(h.now, "/", SocketOptions::default()).unwrap();
    assert_eq!(h.c.state(), ConnectionState::Opening);
}

#[test]
fn reconnects_after_an_error_and_namespaces_connect_again() {
    let mut h = H::connected(config());
    h.c.connect(0, "/admin", SocketOptions::default()).unwrap();
    h.server(r#"40/admin,{"sid":"s2"}"#);
    h.events.clear();
    h.transmits.clear();
    h.now = 100;
    h.c.handle_ws_closed(100, h.ws.unwrap(), true);
    let e = h.events();
    assert_eq!(
        e[0],
        Event::Close {
            reason: CloseReason::TransportError
        }
    );
    assert!(e.contains(&Event::Disconnect {
        nsp: bs("/"),
        reason: DisconnectReason::TransportError
    }));
    assert!(e.contains(&Event::Disconnect {
        nsp: bs("/admin"),
        reason: DisconnectReason::TransportError
    }));
    let at = h.c.reconnect_deadline().unwrap();
    assert!((600..=1600).contains(&at));
    h.advance(at);
    assert_eq!(h.events(), vec![Event::ReconnectAttempt { attempt: 1 }]);
    h.open();
    assert_eq!(h.sent(), vec!["40", "40/admin,"]);
    let e = h.events();
    assert!(matches!(e[0], Event::Open { .. }));
    assert_eq!(e[1], Event::Reconnect { attempt: 1 });
    assert_eq!(h.c.backoff().attempts(), 0);
}

#[test]
fn connect_timeout() {
    let mut h = H::new(config());
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.drain();
    assert_eq!(h.c.poll_timeout(), Some(20_000));
    h.advance(20_000);
    let e = h.events();
    assert_eq!(
        e,
        vec![Event::ConnectError {
            nsp: bs("/"),
            error: ConnectError::Timeout
        }]
    );
    assert!(h.transmits().contains(&Transmit::WsClose { ws: WsId(0) }));
    assert!(h.c.is_reconnecting());
    assert_eq!(ConnectError::Timeout.message(), "timeout");
}

#[test]
fn parse_error_closes_and_reconnects() {
    let mut h = H::connected(config());
    h.server("4x");
    let e = h.events();
    assert_eq!(
        e[0],
        Event::Close {
            reason: CloseReason::ParseError
        }
    );
    assert_eq!(
        e[1],
        Event::Disconnect {
            nsp: bs("/"),
            reason: DisconnectReason::ParseError
        }
    );
    assert!(h.transmits().contains(&Transmit::WsClose { ws: WsId(0) }));
    assert!(h.c.is_reconnecting());
    assert_eq!(DisconnectReason::ParseError.as_str(), "parse error");
}

#[test]
fn ping_timeout_closes_and_reconnects() {
    let mut h = H::connected(config());
    h.advance(400);
    h.server("2");
    assert_eq!(h.sent(), vec!["3"]);
    assert_eq!(h.events(), vec![Event::Ping]);
    h.advance(899);
    assert!(h.c.is_connected("/"));
    h.advance(900);
    let e = h.events();
    assert_eq!(
        e[0],
        Event::Close {
            reason: CloseReason::PingTimeout
        }
    );
    assert_eq!(
        e[1],
        Event::Disconnect {
            nsp: bs("/"),
            reason: DisconnectReason::PingTimeout
        }
    );
    assert!(h.c.is_reconnecting());
}

#[test]
fn emit_after_the_heartbeat_expired_is_buffered() {
    let mut h = H::connected(config());
    // No timeout handled yet, but the deadline (500) has passed: the emit is buffered and
    // the connection closed first.
    assert_eq!(h.c.emit(600, "/", &emit(r#"["late"]"#)), Ok(true));
    assert!(!h.sent().contains(&r#"42["late"]"#.to_string()));
    assert_eq!(h.c.stats().buffered_packets, 1);
    assert!(h.c.is_reconnecting());
}

#[test]
fn server_disconnect_does_not_reconnect() {
    let mut h = H::connected(config());
    h.server("41");
    let e = h.events();
    assert_eq!(
        e[0],
        Event::Close {
            reason: CloseReason::ForcedClose
        }
    );
    assert_eq!(
        e[1],
        Event::Disconnect {
            nsp: bs("/"),
            reason: DisconnectReason::IoServerDisconnect
        }
    );
    assert_eq!(h.c.poll_timeout(), None);
    assert!(!h.c.is_active("/"));
}

#[test]
fn client_disconnect_sends_disconnect_and_closes() {
    let mut h = H::connected(config());
    let id = h.c.emit_with_ack(0, "/", &emit(r#"["q"]"#), None).unwrap();
    h.sent();
    h.c.disconnect(1, "/").unwrap();
    let t = h.transmits();
    assert_eq!(
        t,
        vec![
            Transmit::Ws {
                ws: WsId(0),
                frame: text("41")
            },
            Transmit::WsClose { ws: WsId(0) }
        ]
    );
    assert_eq!(
        h.events(),
        vec![
            Event::Close {
                reason: CloseReason::ForcedClose
            },
            Event::Disconnect {
                nsp: bs("/"),
                reason: DisconnectReason::IoClientDisconnect
            },
            Event::AckFailed {
                nsp: bs("/"),
                emit: id,
                error: AckError::Disconnected
            }
        ]
    );
    assert_eq!(h.c.poll_timeout(), None);
    // Emits while disconnected wait for a later connect.
    h.c.emit(2, "/", &emit(r#"["later"]"#)).unwrap();
    h.c.connect(3, "/", SocketOptions::default()).unwrap();
    h.open();
    h.server(r#"40{"sid":"s3"}"#);
    assert_eq!(h.sent(), vec!["40", r#"42["later"]"#]);
}

#[test]
fn acks_both_ways_and_timeouts() {
    let mut h = H::connected(config());
    let a =
        h.c.emit_with_ack(0, "/", &emit(r#"["q",1]"#), None)
            .unwrap();
    let b =
        h.c.emit_with_ack(0, "/", &emit(r#"["q",2]"#), Some(100))
            .unwrap();
    assert_eq!(h.sent(), vec![r#"420["q",1]"#, r#"421["q",2]"#]);
    h.server(r#"430["r1"]"#);
    let e = h.events();
    assert!(
        matches!(&e[..], [Event::AckReceived { emit, packet, .. }] if *emit == a && packet.data.as_deref() == Some(r#"["r1"]"#))
    );
    h.advance(100);
    assert_eq!(
        h.events(),
        vec![Event::AckFailed {
            nsp: bs("/"),
            emit: b,
            error: AckError::Timeout
        }]
    );
    // A late ack is ignored.
    h.server(r#"431["late"]"#);
    assert_eq!(h.events(), vec![]);
    // The server asks for an ack.
    h.server(r#"427["ask",{"n":1}]"#);
    let e = h.events();
    assert!(matches!(&e[..], [Event::Message { packet, .. }] if packet.id == Some(7)));
    h.c.ack(101, "/", 7, bs(r#"["yes"]"#), vec![]).unwrap();
    assert_eq!(h.sent(), vec![r#"437["yes"]"#]);
    assert_eq!(
        h.c.ack(101, "/", 7, bs("{}"), vec![]),
        Err(ClientError::InvalidAckData)
    );
    // Ack timeout of a buffered emit removes it from the buffer.
    h.c.handle_ws_closed(102, WsId(0), false);
    h.events();
    let c =
        h.c.emit_with_ack(102, "/", &emit(r#"["buffered"]"#), Some(50))
            .unwrap();
    assert_eq!(h.c.stats().buffered_packets, 1);
    h.advance(152);
    assert_eq!(
        h.events(),
        vec![Event::AckFailed {
            nsp: bs("/"),
            emit: c,
            error: AckError::Timeout
        }]
    );
    assert_eq!(h.c.stats().buffered_packets, 0);
}

#[test]
fn binary_both_ways() {
    let mut h = H::connected(config());
    h.server(r#"451-["file",{"_placeholder":true,"num":0}]"#);
    assert!(h.events().is_empty(), "waiting for the attachment");
    h.c.handle_ws_message(0, WsId(0), Frame::Binary(Bytes::from_static(b"\x01\x02")));
    let e = h.events();
    let Event::Message { packet, .. } = &e[0] else {
        panic!("{e:?}")
    };
    assert_eq!(packet.kind, PacketType::BinaryEvent);
    assert_eq!(packet.attachments, vec![Bytes::from_static(b"\x01\x02")]);
    let mut up = emit(r#"["up",{"_placeholder":true,"num":0}]"#);
    up.attachments.push(Bytes::from_static(b"abc"));
    h.c.emit(1, "/", &up).unwrap();
    assert_eq!(
        h.sent(),
        vec![
            r#"451-["up",{"_placeholder":true,"num":0}]"#.to_string(),
            "<3 bytes>".to_string()
        ]
    );
    // Binary without a pending packet is a parse error.
    h.c.handle_ws_message(2, WsId(0), Frame::Binary(Bytes::from_static(b"?")));
    assert_eq!(
        h.events()[0],
        Event::Close {
            reason: CloseReason::ParseError
        }
    );
}

#[test]
fn retries_one_packet_at_a_time_until_acknowledged() {
    let opts = SocketOptions {
        retries: 2,
        ack_timeout: Some(100),
        ..SocketOptions::default()
    };
    let mut h = H::new(config());
    h.c.connect(0, "/", opts).unwrap();
    // Queued while offline.
    let a = h.c.emit_with_ack(0, "/", &emit(r#"["a"]"#), None).unwrap();
    assert!(h.c.emit(0, "/", &emit(r#"["b"]"#)).unwrap());
    h.open();
    h.server(r#"40{"sid":"s1"}"#);
    assert_eq!(h.sent(), vec!["40", r#"420["a"]"#]);
    h.events.clear();
    h.advance(100);
    assert_eq!(h.sent(), vec![r#"420["a"]"#], "second try, same ack id");
    h.advance(200);
    assert_eq!(h.sent(), vec![r#"420["a"]"#], "third try");
    h.advance(300);
    // 3 tries > 2 retries: given up; the next packet goes.
    assert_eq!(
        h.events(),
        vec![Event::AckFailed {
            nsp: bs("/"),
            emit: a,
            error: AckError::Timeout
        }]
    );
    assert_eq!(h.sent(), vec![r#"421["b"]"#]);
    // The server acks "a" too late: ignored. Then "b" is acknowledged.
    h.server(r#"430[]"#);
    h.server(r#"431[]"#);
    assert_eq!(h.events(), vec![]);
    assert_eq!(h.c.stats().buffered_packets, 0);
    // Success after one retry.
    let c =
        h.c.emit_with_ack(300, "/", &emit(r#"["c"]"#), Some(100))
            .unwrap();
    assert_eq!(h.sent(), vec![r#"422["c"]"#]);
    h.advance(400);
    assert_eq!(h.sent(), vec![r#"422["c"]"#]);
    h.server(r#"432["done"]"#);
    assert!(matches!(&h.events()[..], [Event::AckReceived { emit, .. }] if *emit == c));
}

#[test]
fn retried_packet_survives_a_reconnection() {
    let opts = SocketOptions {
        retries: 5,
        ..SocketOptions::default()
    };
    let mut h = H::connected(config());
    h.c.disconnect(0, "/").unwrap();
    h.c.connect(0, "/", opts).unwrap();
    h.open();
    h.server(r#"40{"sid":"s1"}"#);
    h.sent();
    let a = h.c.emit_with_ack(0, "/", &emit(r#"["a"]"#), None).unwrap();
    assert_eq!(h.sent(), vec![r#"420["a"]"#]);
    // Without an ack timeout, a disconnection is not a failed try: it is sent again.
    h.c.handle_ws_closed(10, h.ws.unwrap(), true);
    h.advance(h.c.reconnect_deadline().unwrap());
    h.open();
    h.server(r#"40{"sid":"s2"}"#);
    // The same ack id: a server that remembers it answers instead of delivering it twice.
    assert_eq!(h.sent(), vec!["40", r#"420["a"]"#]);
    h.events.clear();
    h.server(r#"430[1]"#);
    assert!(matches!(&h.events()[..], [Event::AckReceived { emit, .. }] if *emit == a));
}

#[test]
fn bounds_and_misuse_are_errors() {
    let mut h = H::new(ClientConfig {
        max_send_buffer: 2,
        max_pending_acks: 1,
        ..config()
    });
    assert_eq!(
        h.c.emit(0, "/", &emit(r#"["a"]"#)),
        Err(ClientError::UnknownNamespace("/".into()))
    );
    assert_eq!(
        h.c.connect(0, "nsp", SocketOptions::default()),
        Err(ClientError::InvalidNamespace("nsp".into()))
    );
    let bad_auth = SocketOptions {
        auth: Some(bs("[1]")),
        ..SocketOptions::default()
    };
    assert_eq!(h.c.connect(0, "/", bad_auth), Err(ClientError::InvalidAuth));
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    assert_eq!(
        h.c.emit(0, "/", &emit(r#"["connect"]"#)),
        Err(ClientError::ReservedEvent("connect".into()))
    );
    assert_eq!(
        h.c.emit(0, "/", &emit(r#"{}"#)),
        Err(ClientError::InvalidEventData)
    );
    h.c.emit_with_ack(0, "/", &emit(r#"["a"]"#), None).unwrap();
    assert_eq!(
        h.c.emit_with_ack(0, "/", &emit(r#"["a"]"#), None),
        Err(ClientError::TooManyPendingAcks)
    );
    h.c.emit(0, "/", &emit(r#"["b"]"#)).unwrap();
    assert_eq!(
        h.c.emit(0, "/", &emit(r#"["c"]"#)),
        Err(ClientError::BufferFull)
    );
    assert_eq!(
        h.c.ack(0, "/", 1, bs("[]"), vec![]),
        Err(ClientError::NotConnected("/".into()))
    );
    let st = h.c.stats();
    assert_eq!((st.buffered_packets, st.pending_acks), (2, 1));
}

#[test]
fn events_before_the_connect_answer_are_delivered_after_it() {
    let mut h = H::new(config());
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.open();
    h.events.clear();
    h.server(r#"42["early"]"#);
    assert!(h.events().is_empty());
    h.server(r#"40{"sid":"s1"}"#);
    let e = h.events();
    assert!(matches!(e[0], Event::Connect { .. }));
    assert!(
        matches!(&e[1], Event::Message { packet, .. } if packet.event_name().as_deref() == Some("early"))
    );
}

#[test]
fn recovery_state_is_kept_and_sent_back() {
    let mut h = H::new(config());
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.open();
    h.server(r#"40{"sid":"s1","pid":"p1"}"#);
    h.server(r#"42["ev","a","AbCd-_09.1"]"#);
    assert_eq!(
        h.c.recovery_state("/"),
        Some((&bs("p1"), Some(&bs("AbCd-_09.1"))))
    );
    h.c.handle_ws_closed(1, h.ws.unwrap(), true);
    h.advance(h.c.reconnect_deadline().unwrap());
    h.sent();
    h.open();
    let sent = h.sent();
    let v: serde_json::Value = serde_json::from_str(&sent[0][2..]).unwrap();
    assert_eq!(v, serde_json::json!({"pid":"p1","offset":"AbCd-_09.1"}));
    h.events.clear();
    h.server(r#"40{"sid":"s2","pid":"p1"}"#);
    assert!(matches!(
        &h.events()[..],
        [Event::Connect {
            recovered: true,
            ..
        }]
    ));
    assert!(h.c.is_recovered("/"));
}

/// The data of the messages among `events`.
fn message_data(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { packet, .. } => packet.data.as_deref().map(str::to_owned),
            _ => None,
        })
        .collect()
}

/// With a recovery session, a last string argument is taken off (and sent back on recovery)
/// only when it is an offset: Node's volatile events and other application strings stay; the
/// session's kind of offset and, for Node's, its clock decide; a new session starts afresh.
#[test]
fn only_real_offsets_are_taken_off() {
    use super::offset::yeast_encode as yeast;
    // 2026-12-01T21:00:00Z on the server; the client's clock starts at 0.
    const T: u64 = 1_796_158_800_000;
    let mut h = H::new(config());
    h.c.connect(0, "/", SocketOptions::default()).unwrap();
    h.open();
    // Without a recovery session nothing is taken off.
    h.server(r#"40{"sid":"s0"}"#);
    h.server(&format!(r#"42["a","{}"]"#, yeast(T)));
    assert_eq!(
        message_data(&h.events()),
        vec![format!(r#"["a","{}"]"#, yeast(T))]
    );
    h.c.handle_ws_closed(1, h.ws.unwrap(), true);
    h.advance(h.c.reconnect_deadline().unwrap());
    h.open();
    h.sent();
    h.server(r#"40{"sid":"s1","pid":"p1"}"#);
    h.events.clear();
    // A Node server: offsets on events that are not volatile.
    h.now = 10_000;
    h.server(&format!(r#"42["tock",1,"{}"]"#, yeast(T)));
    h.server(&format!(r#"42["tock",2,"{}.0"]"#, yeast(T)));
    h.server(r#"42["vtock","payload"]"#); // volatile: Node's form, decades off
    h.server(r#"42["vtock","hello"]"#); // no offset form
    h.server(r#"42["vtock","AbCd-_09.1"]"#); // this crate's form, from Node
    h.server(r#"42["vtock",{"a":1}]"#);
    h.server(&format!(r#"42["vtock","{}"]"#, yeast(T - 3_600_000))); // an hour earlier
    h.now = 10_100;
    h.server(&format!(r#"42["tock",3,"{}"]"#, yeast(T + 100)));
    h.server(&format!(r#"42["asks","{}"]"#, yeast(T + 100)).replace("42[", "427["));
    assert_eq!(
        message_data(&h.events()),
        vec![
            r#"["tock",1]"#.to_owned(),
            r#"["tock",2]"#.to_owned(),
            r#"["vtock","payload"]"#.to_owned(),
            r#"["vtock","hello"]"#.to_owned(),
            r#"["vtock","AbCd-_09.1"]"#.to_owned(),
            r#"["vtock",{"a":1}]"#.to_owned(),
            format!(r#"["vtock","{}"]"#, yeast(T - 3_600_000)),
            r#"["tock",3]"#.to_owned(),
            format!(r#"["asks","{}"]"#, yeast(T + 100)),
        ],
        "only the offsets are taken off; events with an ack id keep everything"
    );
    let last = yeast(T + 100);
    assert_eq!(h.c.recovery_state("/"), Some((&bs("p1"), Some(&bs(&last)))));
    // Away for a minute; the missed events come late (before the CONNECT answer, as Node
    // sends them) and pass.
    h.c.handle_ws_closed(10_200, h.ws.unwrap(), true);
    h.advance(70_000);
    h.open();
    let sent = h.sent();
    let v: serde_json::Value = serde_json::from_str(&sent[0][2..]).unwrap();
    assert_eq!(v, serde_json::json!({"pid":"p1","offset":last}));
    h.events.clear();
    h.server(&format!(r#"42["tock",4,"{}"]"#, yeast(T + 30_000)));
    h.server(&format!(r#"42["tock",5,"{}"]"#, yeast(T + 59_000)));
    h.server(r#"40{"sid":"s1","pid":"p1"}"#);
    let e = h.events();
    assert!(matches!(
        e[0],
        Event::Connect {
            recovered: true,
            ..
        }
    ));
    assert_eq!(message_data(&e), vec![r#"["tock",4]"#, r#"["tock",5]"#]);
    // A new session (another pid) starts afresh: this crate's server now.
    h.c.handle_ws_closed(70_100, h.ws.unwrap(), true);
    h.advance(80_000);
    h.open();
    h.sent();
    h.events.clear();
    h.server(r#"40{"sid":"s2","pid":"p2"}"#);
    h.server(r#"42["s",1,"AbCd-_09.1"]"#);
    h.server(r#"42["s",2,"Other-09.2"]"#); // another prefix: data
    h.server(r#"42["s",3,"AbCd-_09.3"]"#);
    h.server(&format!(r#"42["s",4,"{}"]"#, yeast(T + 80_000))); // Node's form: data
    let e = h.events();
    assert!(matches!(
        e[0],
        Event::Connect {
            recovered: false,
            ..
        }
    ));
    assert_eq!(
        message_data(&e),
        vec![
            r#"["s",1]"#.to_owned(),
            r#"["s",2,"Other-09.2"]"#.to_owned(),
            r#"["s",3]"#.to_owned(),
            format!(r#"["s",4,"{}"]"#, yeast(T + 80_000)),
        ]
    );
    assert_eq!(
        h.c.recovery_state("/"),
        Some((&bs("p2"), Some(&bs("AbCd-_09.3"))))
    );
}

#[test]
fn close_disconnects_every_namespace() {
    let mut h = H::connected(config());
    h.c.connect(0, "/b", SocketOptions::default()).unwrap();
    h.server(r#"40/b,{"sid":"s2"}"#);
    h.sent();
    h.events.clear();
    h.c.close(1);
    assert_eq!(h.sent(), vec!["41", "41/b,"]);
    let e = h.events();
    assert_eq!(
        e.iter()
            .filter(|e| matches!(
                e,
                Event::Disconnect {
                    reason: DisconnectReason::IoClientDisconnect,
                    ..
                }
            ))
            .count(),
        2
    );
    assert_eq!(h.c.state(), ConnectionState::Closed);
    assert_eq!(h.c.poll_timeout(), None);
}

#[test]
fn polling_transport_end_to_end_with_a_scripted_server() {
    let mut c = Client::new(ClientConfig {
        seed: [1; 32],
        ..ClientConfig::default()
    });
    c.connect(0, "/", SocketOptions::default()).unwrap();
    let mut out = Vec::new();
    while let Some(o) = c.poll_output() {
        out.push(o);
    }
    let Output::Transmit(Transmit::Http {
        req,
        method: crate::engine::Method::Get,
        ..
    }) = out[0]
    else {
        panic!("{out:?}")
    };
    let open = r#"0{"sid":"eio1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#;
    c.handle_http_response(1, req, 200, Bytes::from_static(open.as_bytes()));
    let mut posts = Vec::new();
    let mut kinds = Vec::new();
    while let Some(o) = c.poll_output() {
        match o {
            Output::Transmit(Transmit::Http {
                method: crate::engine::Method::Post,
                body,
                ..
            }) => posts.push(body),
            Output::Transmit(t) => kinds.push(t),
            Output::Event(_) => {}
        }
    }
    assert_eq!(posts, vec![Bytes::from_static(b"40")]);
    assert!(kinds.iter().any(|t| matches!(t, Transmit::WsOpen { path_and_query, .. } if path_and_query.contains("transport=websocket&sid=eio1"))));
    assert!(kinds.iter().any(|t| matches!(t, Transmit::Http { path_and_query, .. } if path_and_query.contains("transport=polling&sid=eio1"))));
}

#[test]
fn disconnect_while_waiting_to_reconnect_cancels_the_reconnection() {
    let mut h = H::connected(config());
    h.c.handle_ws_closed(10, h.ws.unwrap(), true);
    h.drain();
    assert!(h.c.is_reconnecting());
    assert!(h.c.reconnect_deadline().is_some());
    h.c.disconnect(20, "/").unwrap();
    assert!(!h.c.is_reconnecting());
    assert_eq!(h.c.reconnect_deadline(), None);
    assert_eq!(h.c.poll_timeout(), None);
    h.advance(60_000);
    assert!(!h
        .events()
        .iter()
        .any(|e| matches!(e, Event::ReconnectAttempt { .. })));
}

#[test]
fn reconnection_can_be_disabled() {
    let mut h = H::connected(ClientConfig {
        reconnection: false,
        ..config()
    });
    h.c.handle_ws_closed(10, h.ws.unwrap(), false);
    let e = h.events();
    assert_eq!(
        e[..2],
        [
            Event::Close {
                reason: CloseReason::TransportClose
            },
            Event::Disconnect {
                nsp: bs("/"),
                reason: DisconnectReason::TransportClose
            }
        ]
    );
    assert_eq!(h.c.poll_timeout(), None);
    // The namespace is still active: connecting again reopens the connection.
    assert!(h.c.is_active("/"));
    h.c.connect(20, "/", SocketOptions::default()).unwrap();
    assert_eq!(h.c.state(), ConnectionState::Opening);
}
