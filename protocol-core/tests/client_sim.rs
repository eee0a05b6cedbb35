//! Simulation: client cores (`sio_core::client::Client`) wired to the server core
//! (`sio_core::server::Server`) in memory, with virtual time and a link that can delay, drop
//! or refuse (the wiring is in `support/`).
//!
//! A small server application accepts CONNECTs (checking a token on `/private`), echoes
//! events and acknowledges them.

use std::collections::BTreeMap;

mod support;

use sio_core::client::{
    AckError, ClientConfig, ConnectError, ConnectionState, DisconnectReason, Event, SocketOptions,
};
use sio_core::engine::client::{CloseReason, Transmit, TransportKind};
use sio_core::engine::{Frame, Method};
use sio_core::id::IdGenerator;
use sio_core::server::{self, Emit, Server, ServerConfig, SocketId, Target};
use sio_core::socket::Packet;
use sio_core::timers::Millis;
use sio_core::{ByteString, Bytes};

use support::{LinkMode, ServerApp};

// ----- the server application ----------------------------------------------------------------

/// What the server application saw.
#[derive(Default)]
struct AppLog {
    events: Vec<(Millis, server::Event)>,
    /// Event data received, per namespace, in order.
    received: Vec<(String, String)>,
    /// How many times each event data was received (for `flaky`).
    receipts: BTreeMap<String, u32>,
}

impl ServerApp for AppLog {
    /// The server application.
    fn on_event(&mut self, server: &mut Server, now: Millis, e: server::Event) {
        self.events.push((now, e.clone()));
        match e {
            server::Event::ConnectRequest { id, nsp, auth, .. } => {
                let ok = &*nsp != "/private"
                    || auth
                        .as_deref()
                        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                        .is_some_and(|a| a["token"] == "secret");
                if ok {
                    server.accept(now, id).unwrap();
                } else {
                    let data =
                        serde_json::value::RawValue::from_string(r#"{"code":401}"#.into()).unwrap();
                    server.reject(now, id, "unauthorized", Some(&data)).unwrap();
                }
            }
            server::Event::Message { socket, packet } => {
                let nsp = server.socket_namespace(socket).unwrap().to_string();
                let data = packet.data.clone().unwrap();
                self.received.push((nsp.clone(), data.to_string()));
                let n = self.receipts.entry(data.to_string()).or_insert(0);
                *n += 1;
                let n = *n;
                let name = packet.event_name().unwrap().into_owned();
                let ack = |s: &mut Server, args: String, attachments: Vec<Bytes>| {
                    if let Some(id) = packet.id {
                        s.ack(now, socket, id, ByteString::from(args), attachments)
                            .unwrap();
                    }
                };
                match name.as_str() {
                    "echo" => {
                        let sid = server.socket_sid(socket).unwrap().to_string();
                        let emit =
                            Emit::new(data.clone()).with_attachments(packet.attachments.clone());
                        server.emit(now, &Target::room(&nsp, &sid), &emit).unwrap();
                        ack(
                            server,
                            sio_core::socket::event_args_of(&data).unwrap(),
                            packet.attachments.clone(),
                        );
                    }
                    "noack" => {}
                    // Acknowledged on every third receipt only.
                    "flaky" if !n.is_multiple_of(3) => {}
                    "kick" => server.disconnect(now, socket, false).unwrap(),
                    _ => ack(
                        server,
                        sio_core::socket::event_args_of(&data).unwrap(),
                        vec![],
                    ),
                }
            }
            _ => {}
        }
    }
}

type Sim = support::Sim<AppLog>;

fn server_config(seed: u8) -> ServerConfig {
    let mut c = ServerConfig::default();
    c.engine.ping_interval = 300;
    c.engine.ping_timeout = 200;
    c.engine.upgrade_timeout = 1000;
    c.engine.seed = [seed; 32];
    c.connect_timeout = 1000;
    c
}

fn new_server(config: ServerConfig) -> Server {
    let mut s = Server::new(config);
    s.add_namespace("/admin");
    s.add_namespace("/private");
    s
}

fn client_config(transports: &[TransportKind], seed: u64) -> ClientConfig {
    let mut c = ClientConfig::default();
    c.engine.transports = transports.to_vec();
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    c.seed = s;
    c
}

const POLLING: &[TransportKind] = &[TransportKind::Polling];
const WEBSOCKET: &[TransportKind] = &[TransportKind::WebSocket];
const UPGRADE: &[TransportKind] = &[TransportKind::Polling, TransportKind::WebSocket];

/// The arguments of an event's data, without its name, as a JSON array text.
impl Sim {
    fn new(config: ServerConfig) -> Self {
        support::Sim::with_app(new_server(config), AppLog::default())
    }

    /// A new server instance (no session of the old one survives).
    fn start_server(&mut self, config: ServerConfig) {
        self.restart_server(new_server(config));
    }

    /// Event data the server received on `nsp`, in order.
    fn received(&self, nsp: &str) -> Vec<&str> {
        self.app
            .received
            .iter()
            .filter(|(n, _)| n == nsp)
            .map(|(_, d)| d.as_str())
            .collect()
    }

    fn server_sockets(&self, nsp: &str) -> Vec<SocketId> {
        self.server.namespace_sockets(nsp)
    }
}

fn emit(data: &str) -> Emit {
    Emit::new(ByteString::from(data.to_owned()))
}

fn is_connect(nsp: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Connect { nsp: n, .. } if n == nsp)
}

fn ack_received(e: &Event) -> Option<(sio_core::client::EmitId, &Packet)> {
    match e {
        Event::AckReceived { emit, packet, .. } => Some((*emit, packet)),
        _ => None,
    }
}

/// A client connected to `/` over `transports`, with the link up.
fn connected(transports: &[TransportKind], seed: u64) -> (Sim, usize) {
    let mut sim = Sim::new(server_config(1));
    let p = sim.add_client(client_config(transports, seed));
    sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
        .unwrap();
    sim.run_until_event(p, 2000, is_connect("/"));
    (sim, p)
}

/// Echo round trip: an emit with ack comes back as an `echo` event and an ack.
fn echo_round_trip(sim: &mut Sim, p: usize, nsp: &str, data: &str) {
    let id = sim
        .with(p, |c, now| {
            c.emit_with_ack(now, nsp, &emit(data), Some(5000))
        })
        .unwrap();
    let start = sim.peers[p].events.len();
    sim.run_until_event(p, 5000, |e| ack_received(e).is_some_and(|(i, _)| i == id));
    let got_echo = sim.peers[p].events[start..].iter().any(|(_, e)| {
        matches!(e, Event::Message { nsp: n, packet } if n == nsp && packet.data.as_deref() == Some(data))
    });
    assert!(got_echo, "echo of {data} on {nsp}");
}

// ----- connecting over each transport -------------------------------------------------------

#[test]
fn connect_over_polling_only() {
    let (mut sim, p) = connected(POLLING, 1);
    assert_eq!(
        sim.client(p).engine().transport(),
        Some(TransportKind::Polling)
    );
    echo_round_trip(&mut sim, p, "/", r#"["echo",1,"two",{"three":3}]"#);
    // The connection stays up across many heartbeats (pongs go in POSTs).
    sim.run_for(5000);
    assert!(sim.client(p).is_connected("/"));
    assert_eq!(sim.count(p, |e| matches!(e, Event::Ping)), 16);
    let s = sim.server_sockets("/")[0];
    assert_eq!(sim.server.socket_transport(s), Some(TransportKind::Polling));
    // Every polling request carries EIO=4, the transport, the sid and a timestamp.
    let queries: Vec<&str> = sim.peers[p]
        .transmits
        .iter()
        .filter_map(|(_, t)| match t {
            Transmit::Http { path_and_query, .. } => Some(path_and_query.as_str()),
            _ => None,
        })
        .collect();
    assert!(queries[0].starts_with("/socket.io/?EIO=4&transport=polling&t="));
    assert!(queries[1..]
        .iter()
        .all(|q| q.contains("EIO=4&transport=polling&sid=") && q.contains("&t=")));
}

#[test]
fn connect_over_websocket_only() {
    let (mut sim, p) = connected(WEBSOCKET, 2);
    assert_eq!(
        sim.client(p).engine().transport(),
        Some(TransportKind::WebSocket)
    );
    assert!(!sim.peers[p]
        .transmits
        .iter()
        .any(|(_, t)| matches!(t, Transmit::Http { .. })));
    echo_round_trip(&mut sim, p, "/", r#"["echo","over ws"]"#);
    sim.run_for(3000);
    assert!(sim.client(p).is_connected("/"));
}

#[test]
fn connect_over_polling_then_upgrade_without_losing_messages() {
    let mut sim = Sim::new(server_config(3));
    let p = sim.add_client(client_config(UPGRADE, 3));
    sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
        .unwrap();
    // Emits made before and during the upgrade all arrive, in order.
    for i in 0..5 {
        sim.with(p, |c, now| {
            c.emit(now, "/", &emit(&format!(r#"["seq",{i}]"#)))
        })
        .unwrap();
    }
    sim.run_until_event(p, 2000, is_connect("/"));
    for i in 5..40 {
        sim.with(p, |c, now| {
            c.emit(now, "/", &emit(&format!(r#"["seq",{i}]"#)))
        })
        .unwrap();
        sim.run_for(3);
    }
    sim.run_until_seen(p, 2000, |e| matches!(e, Event::Upgrade));
    sim.run_for(1000);
    assert_eq!(
        sim.client(p).engine().transport(),
        Some(TransportKind::WebSocket)
    );
    let s = sim.server_sockets("/")[0];
    assert_eq!(
        sim.server.socket_transport(s),
        Some(TransportKind::WebSocket)
    );
    let expected: Vec<String> = (0..40).map(|i| format!(r#"["seq",{i}]"#)).collect();
    assert_eq!(sim.received("/"), expected);
    echo_round_trip(&mut sim, p, "/", r#"["echo","after upgrade"]"#);
    // The probe went 2probe/3probe then 5.
    let ws_frames: Vec<String> = sim.peers[p]
        .transmits
        .iter()
        .filter_map(|(_, t)| match t {
            Transmit::Ws {
                frame: Frame::Text(s),
                ..
            } => Some(s.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(&ws_frames[..2], ["2probe", "5"]);
}

#[test]
fn upgrade_with_a_jittery_link_keeps_order() {
    for seed in 0..20u64 {
        let mut sim = Sim::new(server_config(4));
        sim.jitter = 30;
        sim.rng = IdGenerator::new([seed as u8; 32]);
        let p = sim.add_client(client_config(UPGRADE, seed));
        sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
            .unwrap();
        for i in 0..60 {
            sim.with(p, |c, now| {
                c.emit(now, "/", &emit(&format!(r#"["seq",{i}]"#)))
            })
            .unwrap();
            sim.run_for(2);
        }
        sim.run_for(3000);
        let expected: Vec<String> = (0..60).map(|i| format!(r#"["seq",{i}]"#)).collect();
        assert_eq!(sim.received("/"), expected, "seed {seed}");
        assert_eq!(sim.count(p, |e| matches!(e, Event::Upgrade)), 1);
        assert_eq!(sim.count(p, |e| matches!(e, Event::Disconnect { .. })), 0);
    }
}

// ----- namespaces, auth --------------------------------------------------------------------

#[test]
fn multiplexed_namespaces_share_one_session() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 5);
        sim.with(p, |c, now| {
            c.connect(now, "/admin", SocketOptions::default())
        })
        .unwrap();
        sim.run_until_event(p, 2000, is_connect("/admin"));
        assert_eq!(sim.server.engine().session_count(), 1);
        let root = sim.client(p).socket_id("/").unwrap().clone();
        let admin = sim.client(p).socket_id("/admin").unwrap().clone();
        assert_ne!(root, admin);
        assert_eq!(
            sim.server
                .socket_namespace(sim.server.socket_by_sid(&admin).unwrap())
                .map(|n| &**n),
            Some("/admin")
        );
        echo_round_trip(&mut sim, p, "/admin", r#"["echo","admin"]"#);
        echo_round_trip(&mut sim, p, "/", r#"["echo","root"]"#);
        assert_eq!(sim.received("/admin"), vec![r#"["echo","admin"]"#]);
        // An unknown namespace is refused without disturbing the others.
        sim.with(p, |c, now| {
            c.connect(now, "/nope", SocketOptions::default())
        })
        .unwrap();
        let t = sim.run_until_event(p, 2000, |e| matches!(e, Event::ConnectError { .. }));
        let last = &sim.peers[p].events.last().unwrap().1;
        assert_eq!(
            last,
            &Event::ConnectError {
                nsp: ByteString::from_static("/nope"),
                error: ConnectError::Refused {
                    message: "Invalid namespace".into(),
                    data: None
                }
            }
        );
        assert!(t > 0);
        sim.run_for(1000);
        assert!(sim.client(p).is_connected("/") && sim.client(p).is_connected("/admin"));
        // Leaving one namespace keeps the connection for the other.
        sim.with(p, |c, now| c.disconnect(now, "/admin")).unwrap();
        sim.run_for(100);
        assert!(sim.server_sockets("/admin").is_empty());
        assert_eq!(sim.server_sockets("/").len(), 1);
        assert!(sim.app.events.iter().any(|(_, e)| matches!(
            e,
            server::Event::Disconnect {
                reason: server::DisconnectReason::ClientNamespaceDisconnect,
                ..
            }
        )));
        echo_round_trip(&mut sim, p, "/", r#"["echo","still here"]"#);
    }
}

#[test]
fn auth_and_connect_error() {
    let mut sim = Sim::new(server_config(6));
    let bad = sim.add_client(client_config(POLLING, 6));
    let good = sim.add_client(client_config(WEBSOCKET, 7));
    let opts = |token: &str| SocketOptions {
        auth: Some(ByteString::from(format!(r#"{{"token":"{token}"}}"#))),
        ..SocketOptions::default()
    };
    sim.with(bad, |c, now| c.connect(now, "/private", opts("wrong")))
        .unwrap();
    sim.with(good, |c, now| c.connect(now, "/private", opts("secret")))
        .unwrap();
    sim.run_until_seen(good, 2000, is_connect("/private"));
    sim.run_until_seen(bad, 2000, |e| matches!(e, Event::ConnectError { .. }));
    let err = sim
        .events(bad)
        .find_map(|e| match e {
            Event::ConnectError { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        err,
        ConnectError::Refused {
            message: "unauthorized".into(),
            data: Some(ByteString::from_static(r#"{"code":401}"#))
        }
    );
    // The refused client does not retry: its only namespace is inactive, the connection
    // closed for good.
    sim.run_for(30_000);
    assert_eq!(
        sim.count(bad, |e| matches!(e, Event::ReconnectAttempt { .. })),
        0
    );
    assert_eq!(sim.client(bad).state(), ConnectionState::Closed);
    assert_eq!(sim.client(bad).poll_timeout(), None);
    assert_eq!(sim.server.engine().session_count(), 1);
    // The server saw the auth of the good one.
    assert!(sim.app.events.iter().any(|(_, e)| matches!(
        e,
        server::Event::ConnectRequest { auth: Some(a), .. } if &**a == r#"{"token":"secret"}"#
    )));
    assert!(sim.client(good).is_connected("/private"));
    // Connecting again with the right token works.
    sim.with(bad, |c, now| c.connect(now, "/private", opts("secret")))
        .unwrap();
    sim.run_until_event(bad, 2000, is_connect("/private"));
}

// ----- acks, binary ------------------------------------------------------------------------

#[test]
fn acks_both_ways_with_timeouts() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 8);
        // Client → server, acknowledged with the event's arguments.
        let id = sim
            .with(p, |c, now| {
                c.emit_with_ack(now, "/", &emit(r#"["sum",1,2]"#), None)
            })
            .unwrap();
        sim.run_until_event(p, 2000, |e| ack_received(e).is_some_and(|(i, _)| i == id));
        let (_, packet) = sim.events(p).find_map(ack_received).unwrap();
        assert_eq!(packet.data.as_deref(), Some("[1,2]"));
        // Not acknowledged: the timeout fires exactly on time.
        let t0 = sim.now;
        let id = sim
            .with(p, |c, now| {
                c.emit_with_ack(now, "/", &emit(r#"["noack"]"#), Some(700))
            })
            .unwrap();
        let t = sim.run_until_event(p, 2000, |e| matches!(e, Event::AckFailed { .. }));
        assert_eq!(t, t0 + 700);
        assert!(sim.events(p).any(|e| *e
            == Event::AckFailed {
                nsp: ByteString::from_static("/"),
                emit: id,
                error: AckError::Timeout
            }));
        // Server → client: the client app answers, the server gets the ack.
        let s = sim.server_sockets("/")[0];
        let now = sim.now;
        let ack = sim
            .server
            .emit_with_ack(now, s, &emit(r#"["question",42]"#), 1000)
            .unwrap();
        sim.drain_server();
        sim.run_for(500);
        assert!(sim.app.events.iter().any(|(_, e)| matches!(
            e,
            server::Event::AckReceived { ack: a, packet, .. } if *a == ack && packet.data.as_deref() == Some(r#"["ok"]"#)
        )));
        // A client that does not answer makes the server time out.
        sim.peers[p].auto_ack = false;
        let now = sim.now;
        let ack = sim
            .server
            .emit_with_ack(now, s, &emit(r#"["question",43]"#), 1000)
            .unwrap();
        sim.drain_server();
        sim.run_for(1500);
        assert!(sim
            .app
            .events
            .iter()
            .any(|(_, e)| matches!(e, server::Event::AckTimedOut { ack: a, .. } if *a == ack)));
    }
}

#[test]
fn binary_both_ways() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 9);
        let blob: Vec<u8> = (0..=255).collect();
        let mut e = Emit::from_args(
            "echo",
            &(
                "file",
                Bytes::from(blob.clone()),
                Bytes::from_static(b"\0\x1e\n"),
            ),
        )
        .unwrap();
        e.volatile = false;
        let id = sim
            .with(p, |c, now| c.emit_with_ack(now, "/", &e, Some(3000)))
            .unwrap();
        sim.run_until_event(p, 3000, |e| ack_received(e).is_some_and(|(i, _)| i == id));
        // The echo came back as a binary event with both attachments.
        let packet = sim
            .events(p)
            .find_map(|e| match e {
                Event::Message { packet, .. } => Some(packet.clone()),
                _ => None,
            })
            .unwrap();
        let (name, data, small): (String, Bytes, Bytes) = sio_core::value::read_args(
            packet.data.as_ref().unwrap().as_bytes(),
            1,
            &packet.attachments,
        )
        .unwrap();
        assert_eq!(
            (name.as_str(), &data[..], &small[..]),
            ("file", &blob[..], &b"\0\x1e\n"[..])
        );
        // The ack is binary too.
        let (_, ack) = sim.events(p).find_map(ack_received).unwrap();
        assert_eq!(ack.attachments.len(), 2);
        assert_eq!(&ack.attachments[0][..], &blob[..]);
    }
}

// ----- reconnection -------------------------------------------------------------------------

#[test]
fn reconnection_delays_stay_within_the_backoff_bounds() {
    for seed in 0..100u64 {
        let mut sim = Sim::new(server_config(10));
        let mut config = client_config(if seed % 2 == 0 { POLLING } else { WEBSOCKET }, seed);
        config.reconnection_attempts = Some(6);
        let backoff = sio_core::client::Backoff::new(1000, 5000, 2.0, 0.5);
        let p = sim.add_client(config);
        sim.mode = LinkMode::Refuse;
        sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
            .unwrap();
        sim.run_for(60_000);
        let ev = &sim.peers[p].events;
        // The first failure, then attempt n starts within the bounds of draw n-1, measured
        // from the failure before it.
        let mut last_failure = ev
            .iter()
            .find(|(_, e)| matches!(e, Event::ConnectError { .. }))
            .map(|(t, _)| *t)
            .unwrap();
        let attempts: Vec<(Millis, u32)> = ev
            .iter()
            .filter_map(|(t, e)| match e {
                Event::ReconnectAttempt { attempt } => Some((*t, *attempt)),
                _ => None,
            })
            .collect();
        assert_eq!(attempts.len(), 6, "seed {seed}");
        for (i, &(t, attempt)) in attempts.iter().enumerate() {
            assert_eq!(attempt, i as u32 + 1);
            let (lo, hi) = backoff.bounds(i as u32);
            let d = t - last_failure;
            assert!(
                lo <= d && d <= hi,
                "seed {seed} attempt {attempt}: {d} not in [{lo}, {hi}]"
            );
            last_failure = ev
                .iter()
                .find(|(tt, e)| *tt >= t && matches!(e, Event::ReconnectError { .. }))
                .map(|(t, _)| *t)
                .unwrap();
        }
        assert_eq!(sim.count(p, |e| matches!(e, Event::ReconnectFailed)), 1);
        assert_eq!(
            sim.count(p, |e| matches!(e, Event::ReconnectError { .. })),
            6
        );
        // connect_error once for the first failure and once per attempt.
        assert_eq!(sim.count(p, |e| matches!(e, Event::ConnectError { .. })), 7);
        assert_eq!(sim.client(p).poll_timeout(), None);
    }
}

#[test]
fn unlimited_reconnection_reaches_a_server_that_comes_back() {
    let (mut sim, p) = connected(UPGRADE, 11);
    sim.with(p, |c, now| {
        c.connect(now, "/admin", SocketOptions::default())
    })
    .unwrap();
    sim.run_until_event(p, 2000, is_connect("/admin"));
    sim.run_until_seen(p, 3000, |e| matches!(e, Event::Upgrade));
    sim.kill_server();
    sim.run_for(20);
    assert!(sim.events(p).any(|e| *e
        == Event::Disconnect {
            nsp: ByteString::from_static("/"),
            reason: DisconnectReason::TransportError
        }));
    sim.run_for(40_000);
    let attempts = sim.count(p, |e| matches!(e, Event::ReconnectAttempt { .. }));
    assert!((8..=40).contains(&attempts), "{attempts}");
    sim.start_server(server_config(12));
    sim.run_until_event(p, 6000, |e| matches!(e, Event::Reconnect { .. }));
    sim.run_until_event(p, 2000, is_connect("/admin"));
    sim.run_for(200);
    assert!(sim.client(p).is_connected("/") && sim.client(p).is_connected("/admin"));
    echo_round_trip(&mut sim, p, "/admin", r#"["echo","back"]"#);
}

#[test]
fn server_restart_reconnects_every_namespace() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 13);
        sim.with(p, |c, now| {
            c.connect(now, "/admin", SocketOptions::default())
        })
        .unwrap();
        sim.run_until_event(p, 2000, is_connect("/admin"));
        sim.run_for(2000);
        let old_sid = sim.client(p).socket_id("/").unwrap().clone();
        // A new server instance replaces the old one at once.
        sim.kill_server();
        sim.start_server(server_config(14));
        let t0 = sim.now;
        let t = sim.run_until_event(p, 10_000, |e| matches!(e, Event::Reconnect { .. }));
        assert!(
            t - t0 <= 1500 + 20,
            "first attempt within its bounds: {}",
            t - t0
        );
        sim.run_until_event(p, 2000, is_connect("/admin"));
        sim.run_for(100);
        assert!(sim.client(p).is_connected("/"));
        assert_ne!(sim.client(p).socket_id("/"), Some(&old_sid));
        assert_eq!(sim.server_sockets("/").len(), 1);
        assert_eq!(sim.server_sockets("/admin").len(), 1);
        echo_round_trip(&mut sim, p, "/", r#"["echo","new server"]"#);
    }
}

#[test]
fn heartbeat_loss_is_a_ping_timeout_then_reconnection() {
    for transports in [POLLING, WEBSOCKET] {
        let (mut sim, p) = connected(transports, 15);
        sim.run_for(1000);
        let last_ping = sim.peers[p]
            .events
            .iter()
            .rev()
            .find(|(_, e)| matches!(e, Event::Ping))
            .map(|(t, _)| *t)
            .unwrap();
        // The server keeps pinging, but nothing reaches the client any more.
        sim.mode = LinkMode::DropToClient;
        let t = sim.run_until_event(p, 5000, |e| {
            matches!(
                e,
                Event::Close {
                    reason: CloseReason::PingTimeout
                }
            )
        });
        assert_eq!(
            t,
            last_ping + 300 + 200,
            "pingInterval + pingTimeout after the last ping"
        );
        assert!(sim.events(p).any(|e| *e
            == Event::Disconnect {
                nsp: ByteString::from_static("/"),
                reason: DisconnectReason::PingTimeout
            }));
        sim.mode = LinkMode::Up;
        sim.run_until_event(p, 3000, |e| matches!(e, Event::Reconnect { attempt: 1 }));
        sim.run_until_event(p, 1000, is_connect("/"));
        echo_round_trip(&mut sim, p, "/", r#"["echo","alive"]"#);
    }
}

#[test]
fn blackholed_server_times_out_the_handshake() {
    let mut sim = Sim::new(server_config(16));
    let p = sim.add_client(client_config(POLLING, 16));
    sim.mode = LinkMode::Blackhole;
    sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
        .unwrap();
    let t = sim.run_until_event(p, 30_000, |e| matches!(e, Event::ConnectError { .. }));
    assert_eq!(t, 20_000);
    assert!(sim.events(p).any(|e| matches!(
        e,
        Event::ConnectError {
            error: ConnectError::Timeout,
            ..
        }
    )));
    // The request is abandoned and an attempt follows within the first bounds.
    assert!(sim.peers[p]
        .transmits
        .iter()
        .any(|(t, tr)| *t == 20_000 && matches!(tr, Transmit::HttpAbort { .. })));
    let t = sim.run_until_event(p, 2000, |e| matches!(e, Event::ReconnectAttempt { .. }));
    assert!((20_500..=21_500).contains(&t));
    // The attempt in progress was lost too: it times out before the next one succeeds.
    sim.mode = LinkMode::Up;
    sim.run_until_event(p, 25_000, is_connect("/"));
}

#[test]
fn no_reconnection_after_server_or_client_disconnect() {
    // The server disconnects the namespace: `io server disconnect`, no reconnection.
    let (mut sim, p) = connected(WEBSOCKET, 17);
    sim.with(p, |c, now| c.emit(now, "/", &emit(r#"["kick"]"#)))
        .unwrap();
    sim.run_until_event(p, 1000, |e| matches!(e, Event::Disconnect { .. }));
    assert!(sim.events(p).any(|e| *e
        == Event::Disconnect {
            nsp: ByteString::from_static("/"),
            reason: DisconnectReason::IoServerDisconnect
        }));
    sim.run_for(20_000);
    assert_eq!(
        sim.count(p, |e| matches!(e, Event::ReconnectAttempt { .. })),
        0
    );
    assert_eq!(sim.server.engine().session_count(), 0);

    // The application disconnects: the server sees `client namespace disconnect`, the
    // connection closes, nothing reconnects.
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 18);
        sim.run_for(1500);
        sim.with(p, |c, now| c.disconnect(now, "/")).unwrap();
        sim.run_for(20_000);
        assert!(sim.app.events.iter().any(|(_, e)| matches!(
            e,
            server::Event::Disconnect {
                reason: server::DisconnectReason::ClientNamespaceDisconnect,
                ..
            }
        )));
        assert_eq!(sim.server.engine().session_count(), 0);
        assert_eq!(
            sim.count(p, |e| matches!(e, Event::ReconnectAttempt { .. })),
            0
        );
        assert_eq!(sim.client(p).poll_timeout(), None);
    }
}

// ----- buffering, retries ---------------------------------------------------------------------

#[test]
fn offline_emits_are_flushed_in_order_after_reconnection() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = connected(transports, 19);
        sim.with(p, |c, now| c.emit(now, "/", &emit(r#"["before"]"#)))
            .unwrap();
        sim.run_for(1000);
        sim.kill_server();
        sim.run_for(50);
        assert!(!sim.client(p).is_connected("/"));
        let mut ids = Vec::new();
        for i in 0..20 {
            let e = emit(&format!(r#"["offline",{i}]"#));
            if i % 5 == 0 {
                let id = sim
                    .with(p, |c, now| c.emit_with_ack(now, "/", &e, None))
                    .unwrap();
                ids.push(id);
            } else {
                assert_eq!(sim.with(p, |c, now| c.emit(now, "/", &e)), Ok(true));
            }
            // Volatile emits are dropped while offline.
            assert_eq!(
                sim.with(p, |c, now| c.emit(
                    now,
                    "/",
                    &emit(r#"["volatile"]"#).volatile()
                )),
                Ok(false)
            );
            sim.run_for(300);
        }
        assert_eq!(sim.client(p).stats().buffered_packets, 20);
        sim.start_server(server_config(20));
        sim.run_until_event(p, 10_000, is_connect("/"));
        sim.run_for(1000);
        let mut expected = vec![r#"["before"]"#.to_string()];
        expected.extend((0..20).map(|i| format!(r#"["offline",{i}]"#)));
        let received: Vec<String> = sim.app.received.iter().map(|(_, d)| d.clone()).collect();
        assert_eq!(received, expected);
        for id in ids {
            assert!(sim.events(p).filter_map(ack_received).any(|(i, _)| i == id));
        }
        assert_eq!(sim.client(p).stats().buffered_packets, 0);
    }
}

#[test]
fn retries_with_ack_timeout() {
    for transports in [POLLING, WEBSOCKET] {
        let mut sim = Sim::new(server_config(21));
        let p = sim.add_client(client_config(transports, 21));
        let opts = SocketOptions {
            retries: 3,
            ack_timeout: Some(400),
            ..SocketOptions::default()
        };
        sim.with(p, |c, now| c.connect(now, "/", opts)).unwrap();
        sim.run_until_event(p, 2000, is_connect("/"));
        // "flaky" is acknowledged on its third receipt; "noack" never; "ok" at once. They go
        // one at a time, in order.
        let a = sim
            .with(p, |c, now| {
                c.emit_with_ack(now, "/", &emit(r#"["flaky","a"]"#), None)
            })
            .unwrap();
        let b = sim
            .with(p, |c, now| {
                c.emit_with_ack(now, "/", &emit(r#"["noack","b"]"#), None)
            })
            .unwrap();
        sim.with(p, |c, now| c.emit(now, "/", &emit(r#"["plain","c"]"#)))
            .unwrap();
        let t0 = sim.now;
        sim.run_for(5000);
        let received: Vec<&str> = sim.received("/");
        assert_eq!(
            received,
            vec![
                r#"["flaky","a"]"#,
                r#"["flaky","a"]"#,
                r#"["flaky","a"]"#,
                r#"["noack","b"]"#,
                r#"["noack","b"]"#,
                r#"["noack","b"]"#,
                r#"["noack","b"]"#,
                r#"["plain","c"]"#,
            ]
        );
        let ev = &sim.peers[p].events;
        let (ta, _) = ev
            .iter()
            .find(|(_, e)| ack_received(e).is_some_and(|(i, _)| i == a))
            .unwrap();
        assert!(
            *ta > t0 + 800 && *ta < t0 + 900,
            "third try after two timeouts: {}",
            ta - t0
        );
        let (tb, _) = ev
            .iter()
            .find(|(_, e)| matches!(e, Event::AckFailed { emit, error: AckError::Timeout, .. } if *emit == b))
            .unwrap();
        assert_eq!(*tb, *ta + 4 * 400, "4 tries of 400 ms");
        assert_eq!(sim.client(p).stats().buffered_packets, 0);
        assert_eq!(sim.client(p).stats().pending_acks, 0);
    }
}

#[test]
fn retried_packets_survive_a_server_restart() {
    let mut sim = Sim::new(server_config(22));
    let p = sim.add_client(client_config(WEBSOCKET, 22));
    let opts = SocketOptions {
        retries: 10,
        ack_timeout: Some(2000),
        ..SocketOptions::default()
    };
    sim.with(p, |c, now| c.connect(now, "/", opts)).unwrap();
    sim.run_until_event(p, 2000, is_connect("/"));
    sim.kill_server();
    let ids: Vec<_> = (0..5)
        .map(|i| {
            sim.with(p, |c, now| {
                c.emit_with_ack(now, "/", &emit(&format!(r#"["q",{i}]"#)), None)
            })
            .unwrap()
        })
        .collect();
    sim.run_for(3000);
    sim.start_server(server_config(23));
    sim.run_for(15_000);
    let received = sim.received("/");
    let expected: Vec<String> = (0..5).map(|i| format!(r#"["q",{i}]"#)).collect();
    assert_eq!(received, expected);
    for id in ids {
        assert!(sim.events(p).filter_map(ack_received).any(|(i, _)| i == id));
    }
}

// ----- payload limits -----------------------------------------------------------------------

#[test]
fn posts_respect_the_server_max_payload() {
    let mut config = server_config(24);
    config.engine.limits.max_payload = 1000;
    // Pongs queue behind the backlog: leave the heartbeat room for it.
    config.engine.ping_interval = 3000;
    config.engine.ping_timeout = 2000;
    let mut sim = Sim::new(config);
    sim.latency = 40;
    let p = sim.add_client(client_config(POLLING, 24));
    sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
        .unwrap();
    sim.run_until_event(p, 2000, is_connect("/"));
    // 30 events of ~200 bytes, emitted at once: the first POST takes one, the rest wait and
    // go in POSTs of at most 1000 bytes.
    let filler = "x".repeat(190);
    for i in 0..30 {
        sim.with(p, |c, now| {
            c.emit(now, "/", &emit(&format!(r#"["big","{filler}",{i}]"#)))
        })
        .unwrap();
    }
    sim.run_for(5000);
    let posts: Vec<usize> = sim.peers[p]
        .transmits
        .iter()
        .filter_map(|(_, t)| match t {
            Transmit::Http {
                method: Method::Post,
                body,
                ..
            } => Some(body.len()),
            _ => None,
        })
        .collect();
    assert!(posts.iter().all(|&n| n <= 1000), "{posts:?}");
    assert!(
        posts.iter().filter(|&&n| n > 500).count() >= 5,
        "batched: {posts:?}"
    );
    assert_eq!(sim.received("/").len(), 30);
    assert!(sim.client(p).is_connected("/"));
}

// ----- several clients ------------------------------------------------------------------------

#[test]
fn many_clients_with_mixed_transports() {
    let mut sim = Sim::new(server_config(25));
    sim.jitter = 10;
    let peers: Vec<usize> = (0..12)
        .map(|i| {
            sim.add_client(client_config(
                [POLLING, WEBSOCKET, UPGRADE][i % 3],
                i as u64,
            ))
        })
        .collect();
    for &p in &peers {
        sim.with(p, |c, now| c.connect(now, "/", SocketOptions::default()))
            .unwrap();
        sim.with(p, |c, now| {
            c.connect(now, "/admin", SocketOptions::default())
        })
        .unwrap();
    }
    sim.run_for(3000);
    assert_eq!(sim.server_sockets("/").len(), 12);
    assert_eq!(sim.server_sockets("/admin").len(), 12);
    // A broadcast reaches everyone.
    let now = sim.now;
    sim.server
        .emit(now, &Target::namespace("/admin"), &emit(r#"["news",1]"#))
        .unwrap();
    sim.drain_server();
    sim.run_for(1000);
    for &p in &peers {
        assert_eq!(
            sim.count(
                p,
                |e| matches!(e, Event::Message { nsp, .. } if nsp == "/admin")
            ),
            1
        );
    }
    // Server restart: everyone comes back.
    sim.kill_server();
    sim.start_server(server_config(26));
    sim.run_for(10_000);
    assert_eq!(sim.server_sockets("/").len(), 12);
    assert_eq!(sim.server_sockets("/admin").len(), 12);
}
