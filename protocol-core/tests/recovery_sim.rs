//! Connection state recovery and delivery guarantees, simulated: client cores and a server
//! core with recovery on, wired in memory (`support/`) over a link that delays (jitter),
//! drops (a silent cut: the transports die and the peer is off the network for a while) and
//! cuts (a reset both sides notice, or only the client: it comes back before the server
//! noticed).
//!
//! The property, over thousands of seeded runs: every event the server sends to a socket,
//! its rooms or its namespace (not volatile, no ack) reaches the client exactly once, in
//! order, offsets stripped, however its transports fail, as long as it comes back within
//! `max_disconnection_duration` (then it comes back as the same socket: `recovered`, same id);
//! and every emit of the client (with retries) is acknowledged and reaches the server
//! application exactly once, in order.
//!
//! Then the edges: expiry, overflow, bogus offsets, namespace disconnects, a client that
//! reconnects before the server noticed the old transport died, and a pid without offset.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sio_core::client::{ClientConfig, EmitId, Event, SocketOptions};
use sio_core::engine::client::TransportKind;
use sio_core::id::IdGenerator;
use sio_core::server::{self, Emit, RecoveryConfig, Server, ServerConfig, SocketId, Target};
use sio_core::timers::Millis;
use sio_core::ByteString;

use support::ServerApp;

const POLLING: &[TransportKind] = &[TransportKind::Polling];
const WEBSOCKET: &[TransportKind] = &[TransportKind::WebSocket];
const UPGRADE: &[TransportKind] = &[TransportKind::Polling, TransportKind::WebSocket];

/// The rooms a client joins on its first connection, by tag.
fn rooms_of(tag: u64) -> Vec<String> {
    let mut rooms = Vec::new();
    if tag.is_multiple_of(2) {
        rooms.push("even".to_owned());
    }
    if tag.is_multiple_of(3) {
        rooms.push("three".to_owned());
    }
    rooms
}

/// One connection of a client, as the server application saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Connected {
    tag: u64,
    socket: SocketId,
    sid: String,
    /// What the connect request said.
    requested: bool,
    /// What accepting it gave.
    recovered: bool,
    /// The auth the application saw.
    auth: Option<String>,
}

/// The server application: accepts everyone (the auth carries a `tag`), puts new sockets in
/// their rooms, records the `c` events and acknowledges them with their number.
#[derive(Default)]
struct App {
    connects: Vec<Connected>,
    /// The live or away socket of each tag.
    sockets: BTreeMap<u64, SocketId>,
    /// `c` numbers received, per tag, in order.
    received: BTreeMap<u64, Vec<u64>>,
    /// Events with an ack id left unanswered, to answer later (`slow` mode).
    unanswered: Vec<(SocketId, u64, u64)>,
    /// Answer `c` events only when told (see [`answer_all`]).
    slow: bool,
    disconnects: Vec<(SocketId, server::DisconnectReason)>,
}

impl ServerApp for App {
    fn on_event(&mut self, server: &mut Server, now: Millis, event: server::Event) {
        match event {
            server::Event::ConnectRequest {
                id,
                auth,
                recovered,
                ..
            } => {
                let tag = auth
                    .as_deref()
                    .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
                    .and_then(|v| v["tag"].as_u64())
                    .expect("clients send a tag");
                let socket = server.accept(now, id).unwrap();
                let got = server.socket_recovered(socket).unwrap();
                if !got {
                    for room in rooms_of(tag) {
                        server.join(socket, &room).unwrap();
                    }
                }
                self.sockets.insert(tag, socket);
                self.connects.push(Connected {
                    tag,
                    socket,
                    sid: server.socket_sid(socket).unwrap().to_string(),
                    requested: recovered,
                    recovered: got,
                    auth: auth.map(|a| a.to_string()),
                });
            }
            server::Event::Message { socket, packet } => {
                let (tag, n): (u64, u64) = sio_core::value::read_args(
                    packet.data.as_ref().unwrap().as_bytes(),
                    1,
                    &packet.attachments,
                )
                .unwrap();
                self.received.entry(tag).or_default().push(n);
                if let Some(id) = packet.id {
                    if self.slow {
                        self.unanswered.push((socket, id, n));
                    } else {
                        server
                            .ack(now, socket, id, ByteString::from(format!("[{n}]")), vec![])
                            .unwrap();
                    }
                }
            }
            server::Event::Disconnect { socket, reason } => {
                self.disconnects.push((socket, reason));
            }
            _ => {}
        }
    }
}

type Sim = support::Sim<App>;

fn recovery_config() -> RecoveryConfig {
    RecoveryConfig {
        max_disconnection_duration: 10_000,
        ..RecoveryConfig::default()
    }
}

fn server_config(seed: u8, recovery: RecoveryConfig) -> ServerConfig {
    let mut c = ServerConfig::default();
    c.engine.ping_interval = 300;
    c.engine.ping_timeout = 200;
    c.engine.upgrade_timeout = 1000;
    c.engine.seed = [seed; 32];
    c.connect_timeout = 1000;
    c.connection_state_recovery = Some(recovery);
    c
}

fn client_config(transports: &[TransportKind], seed: u64) -> ClientConfig {
    let mut c = ClientConfig::default();
    c.engine.transports = transports.to_vec();
    c.reconnection_delay = 100;
    c.reconnection_delay_max = 400;
    c.timeout = Some(1000);
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    c.seed = s;
    c
}

fn options(tag: u64, retries: u32) -> SocketOptions {
    SocketOptions {
        auth: Some(ByteString::from(format!(r#"{{"tag":{tag}}}"#))),
        ack_timeout: Some(1500),
        retries,
    }
}

fn new_sim(seed: u8, recovery: RecoveryConfig) -> Sim {
    support::Sim::with_app(Server::new(server_config(seed, recovery)), App::default())
}

/// Add a client with `tag` and connect it to `/`.
fn add(sim: &mut Sim, transports: &[TransportKind], seed: u64, tag: u64) -> usize {
    let p = sim.add_client(client_config(transports, seed));
    sim.with(p, |c, now| c.connect(now, "/", options(tag, 1000)))
        .unwrap();
    p
}

fn is_connect(e: &Event) -> bool {
    matches!(e, Event::Connect { .. })
}

/// The `s` numbers a client received, in order, checking that each event is exactly
/// `["s",n]` (no offset left).
fn received_s(sim: &Sim, p: usize) -> Vec<u64> {
    sim.events(p)
        .filter_map(|e| match e {
            Event::Message { packet, .. } if packet.event_name().as_deref() == Some("s") => {
                let data = packet.data.as_deref().unwrap();
                let (n,): (u64,) =
                    sio_core::value::read_args(data.as_bytes(), 1, &packet.attachments).unwrap();
                assert_eq!(data, format!(r#"["s",{n}]"#), "offset stripped");
                Some(n)
            }
            _ => None,
        })
        .collect()
}

/// The connects a client saw: (sid, recovered).
fn client_connects(sim: &Sim, p: usize) -> Vec<(String, bool)> {
    sim.events(p)
        .filter_map(|e| match e {
            Event::Connect { sid, recovered, .. } => Some((sid.to_string(), *recovered)),
            _ => None,
        })
        .collect()
}

fn emit_s(sim: &mut Sim, target: &Target, n: u64) {
    let now = sim.now;
    sim.server
        .emit(now, target, &Emit::new(format!(r#"["s",{n}]"#)))
        .unwrap();
    sim.drain_server();
}

/// A server emit of the property test, and who must get it.
#[derive(Debug, Clone, Copy)]
enum To {
    One(u64),
    Room(&'static str),
    All,
}

fn run_property(seed: u64) {
    let mut rng = IdGenerator::new({
        let mut s = [7u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        s
    });
    let mut roll = move |n: u64| rng.next_u64() % n;
    let mut sim = new_sim(seed as u8, recovery_config());
    sim.record_transmits = false;
    sim.jitter = roll(30);
    sim.rng = IdGenerator::new([seed as u8 ^ 0x5a; 32]);
    let clients = 2 + roll(2);
    let mut peers = Vec::new();
    for tag in 0..clients {
        let transports = [POLLING, WEBSOCKET, UPGRADE][roll(3) as usize];
        peers.push(add(&mut sim, transports, seed * 10 + tag, tag));
    }
    for &p in &peers {
        sim.run_until_seen(p, 3000, is_connect);
    }
    // Server emits, client emits and faults at random times, then a quiet period.
    let mut expected: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut emits: BTreeMap<u64, Vec<EmitId>> = BTreeMap::new();
    let mut next_c: BTreeMap<u64, u64> = BTreeMap::new();
    let end = sim.now + 2500;
    let mut n = 0;
    let mut faults = 0;
    while sim.now < end {
        let step = 10 + roll(60);
        sim.run_for(step);
        match roll(10) {
            0..=4 => {
                n += 1;
                let to = match roll(4) {
                    0 => To::One(roll(clients)),
                    1 => To::Room("even"),
                    2 => To::Room("three"),
                    _ => To::All,
                };
                let target = match to {
                    To::One(tag) => {
                        let socket = sim.app.sockets[&tag];
                        let sid = sim
                            .app
                            .connects
                            .iter()
                            .rev()
                            .find(|c| c.socket == socket)
                            .unwrap()
                            .sid
                            .clone();
                        Target::room("/", &sid)
                    }
                    To::Room(r) => Target::room("/", r),
                    To::All => Target::namespace("/"),
                };
                for tag in 0..clients {
                    let gets = match to {
                        To::One(t) => t == tag,
                        To::Room(r) => rooms_of(tag).iter().any(|x| x == r),
                        To::All => true,
                    };
                    if gets {
                        expected.entry(tag).or_default().push(n);
                    }
                }
                emit_s(&mut sim, &target, n);
            }
            5..=7 => {
                let tag = roll(clients);
                let p = peers[tag as usize];
                let c = next_c.entry(tag).or_insert(0);
                let data = format!(r#"["c",{tag},{c}]"#);
                *c += 1;
                let id = sim
                    .with(p, |cl, now| {
                        cl.emit_with_ack(now, "/", &Emit::new(data), None)
                    })
                    .unwrap();
                emits.entry(tag).or_default().push(id);
            }
            _ if faults < 4 => {
                faults += 1;
                let p = peers[roll(clients) as usize];
                match roll(3) {
                    0 => sim.cut(p, true),
                    // Only the client notices: it comes back before the server knows.
                    1 => sim.cut_client_side(p),
                    _ => {
                        sim.cut(p, false);
                        let until = sim.now + roll(1200);
                        sim.outage(p, until);
                    }
                }
            }
            _ => {}
        }
    }
    // Quiet until everything settled: every client back and idle, and the server holding
    // nothing (every event it sent was confirmed received), at most 8 s.
    for _ in 0..32 {
        sim.run_for(250);
        let idle = peers.iter().all(|&p| {
            let c = &sim.peers[p].client;
            let st = c.stats();
            c.is_connected("/") && st.buffered_packets == 0 && st.pending_acks == 0
        });
        let st = sim.server.recovery_stats();
        if idle && (st.sessions, st.packets, st.client_acks) == (0, 0, 0) {
            break;
        }
    }

    for tag in 0..clients {
        let p = peers[tag as usize];
        let ctx = format!("seed {seed}, client {tag}");
        // Server -> client: exactly once, in order.
        assert_eq!(
            received_s(&sim, p),
            expected.get(&tag).cloned().unwrap_or_default(),
            "{ctx}: server events"
        );
        // Always the same socket, recovered after the first connection.
        let connects = client_connects(&sim, p);
        assert!(!connects.is_empty(), "{ctx}");
        for (i, (sid, recovered)) in connects.iter().enumerate() {
            assert_eq!(sid, &connects[0].0, "{ctx}: same socket id");
            assert_eq!(*recovered, i > 0, "{ctx}: connect {i} recovered");
        }
        assert!(
            sim.client(p).is_connected("/"),
            "{ctx}: connected at the end"
        );
        // Client -> server: every emit acknowledged, delivered exactly once, in order.
        let sent = next_c.get(&tag).copied().unwrap_or(0);
        assert_eq!(
            sim.app.received.get(&tag).cloned().unwrap_or_default(),
            (0..sent).collect::<Vec<_>>(),
            "{ctx}: client emits at the server"
        );
        let acked: BTreeSet<EmitId> = sim
            .events(p)
            .filter_map(|e| match e {
                Event::AckReceived { emit, .. } => Some(*emit),
                _ => None,
            })
            .collect();
        for id in emits.get(&tag).into_iter().flatten() {
            assert!(acked.contains(id), "{ctx}: emit {id:?} acknowledged");
        }
        assert!(
            !sim.events(p).any(|e| matches!(e, Event::AckFailed { .. })),
            "{ctx}: no failed ack"
        );
    }
    // The server's connects agree with the clients'.
    for c in &sim.app.connects {
        assert_eq!(c.requested, c.recovered, "seed {seed}: {c:?}");
        let auth: serde_json::Value = serde_json::from_str(c.auth.as_deref().unwrap()).unwrap();
        assert_eq!(
            auth,
            serde_json::json!({ "tag": c.tag }),
            "seed {seed}: pid and offset are not shown to the application"
        );
    }
    // Nothing is left behind once everyone is back and the heartbeats confirmed delivery.
    let stats = sim.server.recovery_stats();
    assert_eq!(
        (stats.sessions, stats.packets, stats.client_acks),
        (0, 0, 0),
        "seed {seed}: {stats:?}"
    );
}

#[test]
fn nothing_is_lost_or_duplicated_over_a_faulty_link() {
    let seeds: u64 = std::env::var("RECOVERY_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                let mut seed = t;
                while seed < seeds {
                    run_property(seed);
                    seed += threads;
                }
            });
        }
    });
}

// ----- the edges ----------------------------------------------------------------------------

/// One client over `transports`, connected, with a server emit it received.
fn one_client(transports: &[TransportKind], recovery: RecoveryConfig) -> (Sim, usize) {
    let mut sim = new_sim(1, recovery);
    let p = add(&mut sim, transports, 1, 0);
    sim.run_until_seen(p, 3000, is_connect);
    emit_s(&mut sim, &Target::namespace("/"), 1);
    sim.run_for(100);
    assert_eq!(received_s(&sim, p), [1]);
    (sim, p)
}

/// Cut the client silently and keep it off the network for `away` ms; emit `["s",2]` to
/// its room and `["s",3]` to it meanwhile, then let it reconnect.
fn away_for(sim: &mut Sim, p: usize, away: Millis) {
    sim.cut(p, false);
    let until = sim.now + away;
    sim.outage(p, until);
    sim.run_for(50);
    emit_s(sim, &Target::room("/", "even"), 2);
    let sid = sim.app.connects[0].sid.clone();
    emit_s(sim, &Target::room("/", &sid), 3);
    sim.run_for(away + 3000);
}

#[test]
fn a_recovered_socket_keeps_its_id_and_rooms_and_gets_what_it_missed() {
    for transports in [POLLING, WEBSOCKET, UPGRADE] {
        let (mut sim, p) = one_client(transports, recovery_config());
        away_for(&mut sim, p, 2000);
        assert_eq!(received_s(&sim, p), [1, 2, 3]);
        let connects = client_connects(&sim, p);
        assert_eq!(connects.len(), 2);
        assert_eq!(connects[1], (connects[0].0.clone(), true));
        assert!(sim.client(p).is_recovered("/"));
        let socket = sim.app.sockets[&0];
        assert_eq!(sim.app.connects[1].socket, socket, "same SocketId");
        assert!(sim.app.connects[1].recovered);
        let rooms: Vec<String> = sim
            .server
            .socket_rooms(socket)
            .unwrap()
            .map(|r| r.to_string())
            .collect();
        assert!(rooms.contains(&"even".to_owned()), "{rooms:?}");
        assert!(rooms.contains(&"three".to_owned()), "{rooms:?}");
        // A new event after recovery arrives after the missed ones.
        emit_s(&mut sim, &Target::namespace("/"), 4);
        sim.run_for(100);
        assert_eq!(received_s(&sim, p), [1, 2, 3, 4]);
    }
}

#[test]
fn after_the_maximum_disconnection_duration_the_client_connects_as_new() {
    for transports in [POLLING, WEBSOCKET] {
        let recovery = RecoveryConfig {
            max_disconnection_duration: 1500,
            ..RecoveryConfig::default()
        };
        let (mut sim, p) = one_client(transports, recovery);
        let first_sid = sim.app.connects[0].sid.clone();
        away_for(&mut sim, p, 4000);
        // The session expired: a new socket, nothing replayed, no session left.
        assert_eq!(received_s(&sim, p), [1]);
        let connects = client_connects(&sim, p);
        assert_eq!(connects.len(), 2);
        assert!(!connects[1].1, "not recovered");
        assert_ne!(connects[1].0, first_sid, "a new socket id");
        assert!(!sim.client(p).is_recovered("/"));
        let last = sim.app.connects.last().unwrap();
        assert!(!last.requested && !last.recovered);
        assert_ne!(last.socket, sim.app.connects[0].socket);
        assert_eq!(sim.server.recovery_stats().sessions, 0);
        // The new session works: events flow, offsets stripped, and a later cut recovers.
        emit_s(&mut sim, &Target::namespace("/"), 5);
        sim.run_for(100);
        assert_eq!(received_s(&sim, p), [1, 5]);
        sim.cut(p, true);
        sim.run_for(50);
        emit_s(&mut sim, &Target::namespace("/"), 6);
        sim.run_for(2000);
        assert_eq!(received_s(&sim, p), [1, 5, 6]);
        assert!(client_connects(&sim, p).last().unwrap().1);
    }
}

#[test]
fn the_session_expires_on_its_own_timer() {
    let recovery = RecoveryConfig {
        max_disconnection_duration: 1500,
        ..RecoveryConfig::default()
    };
    let (mut sim, p) = one_client(WEBSOCKET, recovery);
    sim.cut(p, true);
    let t = sim.now;
    sim.outage(p, t + 10_000);
    sim.run_for(100);
    assert_eq!(sim.server.recovery_stats().sessions, 1);
    let expiry = sim.server.poll_timeout().unwrap();
    assert!(expiry <= t + 1500);
    sim.run_until(t + 1500);
    assert_eq!(sim.server.recovery_stats().sessions, 0);
    assert_eq!(sim.server.recovery_stats().packets, 0);
}

#[test]
fn too_many_missed_packets_drop_the_session_cleanly() {
    for (max_packets, max_bytes) in [(3, 1_000_000), (1000, 40)] {
        let recovery = RecoveryConfig {
            max_packets,
            max_bytes,
            ..recovery_config()
        };
        let (mut sim, p) = one_client(WEBSOCKET, recovery);
        sim.cut(p, true);
        sim.outage(p, sim.now + 500);
        sim.run_for(10);
        for n in 2..=6 {
            emit_s(&mut sim, &Target::namespace("/"), n);
        }
        assert_eq!(sim.server.recovery_stats().sessions, 0, "dropped at once");
        sim.run_for(3000);
        let connects = client_connects(&sim, p);
        assert_eq!(connects.len(), 2);
        assert!(!connects[1].1, "refused: connects as new");
        assert_eq!(received_s(&sim, p), [1]);
    }
}

#[test]
fn a_live_socket_forgets_beyond_its_bounds_and_then_refuses_older_offsets() {
    let recovery = RecoveryConfig {
        max_packets: 3,
        ..recovery_config()
    };
    let (mut sim, p) = one_client(WEBSOCKET, recovery);
    // The client goes silent (its transport died); the server keeps sending into the void
    // before it notices: more than it may keep.
    sim.cut(p, false);
    sim.outage(p, sim.now + 300);
    for n in 2..=6 {
        emit_s(&mut sim, &Target::namespace("/"), n);
    }
    sim.run_for(3000);
    let connects = client_connects(&sim, p);
    assert_eq!(connects.len(), 2);
    assert!(!connects[1].1, "older than what was forgotten: refused");
    assert_eq!(received_s(&sim, p), [1]);
}

#[test]
fn the_client_may_come_back_before_the_server_noticed() {
    // A long heartbeat on the server: the client notices first (it does not get pings) and
    // reconnects while the old connection still looks alive here.
    let mut config = server_config(3, recovery_config());
    config.engine.ping_interval = 300;
    config.engine.ping_timeout = 5000;
    let mut sim = support::Sim::with_app(Server::new(config), App::default());
    let p = add(&mut sim, WEBSOCKET, 3, 0);
    sim.run_until_seen(p, 3000, is_connect);
    emit_s(&mut sim, &Target::namespace("/"), 1);
    sim.run_for(100);
    // The client's side of the connection is reset; the server's is not.
    sim.cut_client_side(p);
    sim.run_for(10);
    emit_s(&mut sim, &Target::namespace("/"), 2);
    sim.run_for(1500);
    let connects = client_connects(&sim, p);
    assert_eq!(connects.len(), 2);
    assert!(
        connects[1].1,
        "recovered: the new CONNECT ends the old connection"
    );
    assert_eq!(received_s(&sim, p), [1, 2]);
    assert!(sim.app.disconnects.iter().any(|(_, r)| r.is_recoverable()));
}

#[test]
fn a_socket_that_received_nothing_still_recovers() {
    let mut sim = new_sim(4, recovery_config());
    let p = add(&mut sim, WEBSOCKET, 4, 0);
    sim.run_until_seen(p, 3000, is_connect);
    assert_eq!(
        sim.client(p).recovery_state("/").unwrap().1,
        None,
        "no offset"
    );
    sim.cut(p, true);
    sim.outage(p, sim.now + 300);
    sim.run_for(10);
    emit_s(&mut sim, &Target::namespace("/"), 1);
    sim.run_for(3000);
    assert_eq!(received_s(&sim, p), [1]);
    assert!(client_connects(&sim, p)[1].1);
}

#[test]
fn namespace_disconnects_are_not_recoverable() {
    let (mut sim, p) = one_client(WEBSOCKET, recovery_config());
    let socket = sim.app.sockets[&0];
    let now = sim.now;
    sim.server.disconnect(now, socket, false).unwrap();
    sim.drain_server();
    sim.run_for(100);
    assert_eq!(sim.server.recovery_stats().sessions, 0);
    // The client connects again by hand, with its pid: refused, a new socket.
    sim.with(p, |c, now| c.connect(now, "/", options(0, 1000)))
        .unwrap();
    sim.run_for(500);
    let connects = client_connects(&sim, p);
    assert_eq!(connects.len(), 2);
    assert!(!connects[1].1);
    // Same from the client side.
    sim.with(p, |c, now| c.disconnect(now, "/")).unwrap();
    sim.run_for(100);
    assert_eq!(sim.server.recovery_stats().sessions, 0);
}

#[test]
fn bogus_offsets_and_unknown_pids_connect_as_new() {
    for auth in [
        r#"{"tag":0,"pid":"nope"}"#,
        r#"{"tag":0,"pid":"PID","offset":"nope"}"#,
        r#"{"tag":0,"pid":"PID","offset":"PREFIX.ffffff"}"#,
    ] {
        let (mut sim, p) = one_client(WEBSOCKET, recovery_config());
        let (pid, offset) = sim.client(p).recovery_state("/").unwrap();
        let (pid, offset) = (pid.to_string(), offset.unwrap().to_string());
        let prefix = offset.rsplit_once('.').unwrap().0.to_owned();
        // Another client presents a forged recovery.
        let auth = auth.replace("PID", &pid).replace("PREFIX", &prefix);
        sim.cut(p, true);
        sim.outage(p, sim.now + 100_000);
        sim.run_for(10);
        let q = sim.add_client(client_config(WEBSOCKET, 9));
        let opts = SocketOptions {
            auth: Some(ByteString::from(auth.clone())),
            ..SocketOptions::default()
        };
        sim.with(q, |c, now| c.connect(now, "/", opts)).unwrap();
        sim.run_until_seen(q, 3000, is_connect);
        let last = sim.app.connects.last().unwrap();
        assert!(!last.requested && !last.recovered, "{auth}");
        assert_eq!(last.auth.as_deref(), Some(r#"{"tag":0}"#));
    }
}

#[test]
fn a_lost_ack_is_given_again_not_the_event() {
    // The server application answers late: the answer is written while the transport is
    // dead. The client's retry after recovery gets it; the event reaches the application once.
    for transports in [POLLING, WEBSOCKET] {
        let (mut sim, p) = one_client(transports, recovery_config());
        sim.app.slow = true;
        let id = sim
            .with(p, |c, now| {
                c.emit_with_ack(now, "/", &Emit::new(r#"["c",0,0]"#), None)
            })
            .unwrap();
        sim.run_for(100);
        assert_eq!(sim.app.received[&0], [0]);
        sim.cut(p, false);
        sim.outage(p, sim.now + 300);
        let (socket, ack, n) = sim.app.unanswered.pop().unwrap();
        let now = sim.now;
        sim.server
            .ack(now, socket, ack, ByteString::from(format!("[{n}]")), vec![])
            .unwrap();
        sim.drain_server();
        sim.app.slow = false;
        sim.run_for(4000);
        assert!(client_connects(&sim, p)[1].1);
        assert_eq!(sim.app.received[&0], [0], "delivered once");
        let acks: Vec<EmitId> = sim
            .events(p)
            .filter_map(|e| match e {
                Event::AckReceived { emit, .. } => Some(*emit),
                _ => None,
            })
            .collect();
        assert_eq!(acks, [id]);
    }
}

#[test]
fn commands_on_an_away_socket_apply_to_its_session() {
    let (mut sim, p) = one_client(WEBSOCKET, recovery_config());
    let socket = sim.app.sockets[&0];
    sim.cut(p, true);
    sim.outage(p, sim.now + 300);
    sim.run_for(10);
    assert!(sim.server.is_away(socket));
    sim.server.join(socket, "late").unwrap();
    sim.server.leave(socket, "even").unwrap();
    emit_s(&mut sim, &Target::room("/", "late"), 2);
    emit_s(&mut sim, &Target::room("/", "even"), 3);
    sim.run_for(3000);
    assert_eq!(received_s(&sim, p), [1, 2]);
    let rooms: BTreeSet<String> = sim
        .server
        .socket_rooms(socket)
        .unwrap()
        .map(|r| r.to_string())
        .collect();
    assert!(
        rooms.contains("late") && !rooms.contains("even"),
        "{rooms:?}"
    );
    // Disconnecting an away socket forgets its session.
    sim.cut(p, true);
    sim.outage(p, sim.now + 300);
    sim.run_for(10);
    let now = sim.now;
    sim.server.disconnect(now, socket, false).unwrap();
    assert_eq!(sim.server.recovery_stats().sessions, 0);
    sim.run_for(3000);
    assert!(!client_connects(&sim, p).last().unwrap().1);
}

#[test]
fn volatile_events_carry_an_offset_but_are_not_kept() {
    let (mut sim, p) = one_client(WEBSOCKET, recovery_config());
    let now = sim.now;
    sim.server
        .emit(
            now,
            &Target::namespace("/"),
            &Emit::new(r#"["v","x"]"#).volatile(),
        )
        .unwrap();
    sim.drain_server();
    sim.run_for(100);
    // The client strips it: the string argument of the volatile event is intact.
    let v: Vec<String> = sim
        .events(p)
        .filter_map(|e| match e {
            Event::Message { packet, .. } if packet.event_name().as_deref() == Some("v") => {
                packet.data.as_deref().map(str::to_owned)
            }
            _ => None,
        })
        .collect();
    assert_eq!(v, [r#"["v","x"]"#]);
    // Away: a volatile event is not kept for it.
    sim.cut(p, true);
    sim.outage(p, sim.now + 300);
    sim.run_for(10);
    let kept = sim.server.recovery_stats().packets;
    let now = sim.now;
    sim.server
        .emit(
            now,
            &Target::namespace("/"),
            &Emit::new(r#"["v","y"]"#).volatile(),
        )
        .unwrap();
    assert_eq!(sim.server.recovery_stats().packets, kept);
}

#[test]
fn every_namespace_of_a_connection_recovers() {
    for transports in [POLLING, WEBSOCKET] {
        let mut server = Server::new(server_config(5, recovery_config()));
        server.add_namespace("/admin");
        let mut sim = support::Sim::with_app(server, App::default());
        let p = sim.add_client(client_config(transports, 5));
        sim.with(p, |c, now| c.connect(now, "/", options(0, 1000)))
            .unwrap();
        sim.with(p, |c, now| c.connect(now, "/admin", options(1, 1000)))
            .unwrap();
        sim.run_for(500);
        assert_eq!(client_connects(&sim, p).len(), 2);
        emit_s(&mut sim, &Target::namespace("/admin"), 1);
        sim.run_for(50);
        sim.cut(p, false);
        sim.outage(p, sim.now + 600);
        emit_s(&mut sim, &Target::namespace("/"), 2);
        emit_s(&mut sim, &Target::namespace("/admin"), 3);
        sim.run_for(3000);
        let per_nsp = |nsp: &str| -> Vec<(String, bool)> {
            sim.events(p)
                .filter_map(|e| match e {
                    Event::Connect {
                        nsp: n,
                        sid,
                        recovered,
                        ..
                    } if n == nsp => Some((sid.to_string(), *recovered)),
                    _ => None,
                })
                .collect()
        };
        for nsp in ["/", "/admin"] {
            let c = per_nsp(nsp);
            assert_eq!(c.len(), 2, "{nsp}: {c:?}");
            assert_eq!(c[1], (c[0].0.clone(), true), "{nsp}");
        }
        let got: Vec<(String, u64)> = sim
            .events(p)
            .filter_map(|e| match e {
                Event::Message { nsp, packet } => {
                    let (n,): (u64,) = sio_core::value::read_args(
                        packet.data.as_deref().unwrap().as_bytes(),
                        1,
                        &packet.attachments,
                    )
                    .unwrap();
                    Some((nsp.to_string(), n))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [
                ("/admin".to_owned(), 1),
                ("/".to_owned(), 2),
                ("/admin".to_owned(), 3)
            ]
        );
    }
}
