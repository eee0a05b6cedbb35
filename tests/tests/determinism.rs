//! Determinism: a long randomized scenario (many peers over both transports, upgrades,
//! rooms, acks, broadcasts, misbehaving peers, timeouts) driven by a seeded rng. The same
//! seed must give byte-identical logs of every input and output; another seed must give
//! other session ids.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use sio_core::engine::{Frame, TransportKind};
use sio_core::server::{Emit, Event, Server, SocketId, Target};
use sio_core::timers::Millis;
use sio_tests::{app, test_config, PeerId, PeerOptions, Sim};

const NAMESPACES: [&str; 2] = ["/", "/chat"];
const ROOMS: [&str; 4] = ["red", "green", "blue", "gold"];

/// A small chat application: `["join", room]`, `["leave", room]`, `["say", room, text]`
/// (to the room but the sender); events with an ack id are acknowledged; CONNECTs whose auth
/// says `deny` are refused.
fn chat_app() -> app::App {
    Box::new(
        |server: &mut Server, now: Millis, event: &Event| match event {
            Event::ConnectRequest { id, auth, .. } => {
                if auth.as_deref().is_some_and(|a| a.contains("deny")) {
                    server.reject(now, *id, "denied", None).unwrap();
                } else {
                    server.accept(now, *id).unwrap();
                }
            }
            Event::Message { socket, packet } => {
                let data = packet.data.as_deref().unwrap();
                let v: Vec<serde_json::Value> = match serde_json::from_str(data) {
                    Ok(v) => v,
                    Err(_) => return,
                };
                let nsp = server.socket_namespace(*socket).unwrap().clone();
                let room = v
                    .get(1)
                    .and_then(|r| r.as_str())
                    .unwrap_or("red")
                    .to_owned();
                match v[0].as_str() {
                    Some("join") => server.join(*socket, &room).unwrap(),
                    Some("leave") => server.leave(*socket, &room).unwrap(),
                    Some("say") => {
                        let target = Target::room(&nsp, &room).except_socket(*socket);
                        server
                            .emit(now, &target, &Emit::new(data.to_owned()))
                            .unwrap();
                    }
                    _ => {}
                }
                if let Some(ack) = packet.id {
                    server
                        .ack(now, *socket, ack, r#"["ok"]"#.into(), vec![])
                        .unwrap();
                }
            }
            _ => {}
        },
    )
}

struct Run {
    rng: ChaCha8Rng,
    sim: Sim,
    peers: Vec<PeerId>,
}

impl Run {
    fn pick(&mut self, n: usize) -> usize {
        (self.rng.next_u32() as usize) % n
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.rng.next_u32() % 100 < percent
    }

    /// A peer whose session is still usable from its side.
    fn live_peer(&mut self) -> Option<PeerId> {
        let live: Vec<PeerId> = self
            .peers
            .iter()
            .copied()
            .filter(|p| {
                let peer = self.sim.peer(*p);
                !peer.closed
                    && peer.sid.is_some()
                    && (peer.transport == TransportKind::Polling
                        || peer.ws.is_some_and(|w| self.sim.ws_is_open(w)))
            })
            .collect();
        if live.is_empty() {
            return None;
        }
        let i = self.pick(live.len());
        Some(live[i])
    }

    fn live_count(&self) -> usize {
        self.peers
            .iter()
            .filter(|p| !self.sim.peer(**p).closed)
            .count()
    }

    fn live_socket(&mut self) -> Option<SocketId> {
        let mut all = Vec::new();
        for n in NAMESPACES {
            all.extend(self.sim.server.namespace_sockets(n));
        }
        if all.is_empty() {
            return None;
        }
        let i = self.pick(all.len());
        Some(all[i])
    }

    fn step(&mut self) {
        let op = self.pick(100);
        match op {
            0..=7 => {
                if self.peers.len() < 1000 && self.live_count() < 25 {
                    let options = PeerOptions {
                        auto_pong: !self.chance(10),
                        auto_poll: !self.chance(10),
                        ..PeerOptions::default()
                    };
                    let p = if self.chance(50) {
                        self.sim.add_ws_peer_with(options)
                    } else {
                        self.sim.add_polling_peer_with(options)
                    };
                    self.peers.push(p);
                    if self.chance(80) {
                        self.sim.connect(p, "/", None);
                    }
                    if self.chance(40) {
                        self.sim.connect(p, "/chat", Some(r#"{"token":"ok"}"#));
                    }
                }
            }
            8..=19 => {
                if let Some(p) = self.live_peer() {
                    let nsp = NAMESPACES[self.pick(2)];
                    let auth = match self.pick(3) {
                        0 => None,
                        1 => Some(r#"{"token":"deny"}"#),
                        _ => Some(r#"{"token":"ok"}"#),
                    };
                    if self.sim.try_socket(p, nsp).is_none() {
                        self.sim.connect(p, nsp, auth);
                    }
                }
            }
            20..=49 => {
                if let Some(p) = self.live_peer() {
                    let nsp = NAMESPACES[self.pick(2)];
                    if self.sim.try_socket(p, nsp).is_some() {
                        let room = ROOMS[self.pick(ROOMS.len())];
                        let verb = ["join", "leave", "say", "say"][self.pick(4)];
                        let ack = if self.chance(30) {
                            format!("{}", self.pick(1000))
                        } else {
                            String::new()
                        };
                        let prefix = if nsp == "/" {
                            String::new()
                        } else {
                            format!("{nsp},")
                        };
                        let n = self.rng.next_u32();
                        self.sim
                            .send_sio_text(p, &format!(r#"2{prefix}{ack}["{verb}","{room}",{n}]"#));
                    }
                }
            }
            50..=59 => {
                let nsp = NAMESPACES[self.pick(2)];
                let mut target = Target::room(nsp, ROOMS[self.pick(ROOMS.len())]);
                if self.chance(50) {
                    target = target.to(ROOMS[self.pick(ROOMS.len())]);
                }
                if self.chance(30) {
                    target = target.except(ROOMS[self.pick(ROOMS.len())]);
                }
                let mut e = Emit::new(format!(r#"["news",{}]"#, self.rng.next_u32()));
                e.volatile = self.chance(20);
                if self.chance(20) {
                    let timeout = 50 + u64::from(self.rng.next_u32() % 500);
                    self.sim
                        .cmd(|s, now| s.broadcast_with_ack(now, &target, &e, timeout))
                        .unwrap();
                } else {
                    self.sim.cmd(|s, now| s.emit(now, &target, &e)).unwrap();
                }
            }
            60..=64 => {
                if let Some(s) = self.live_socket() {
                    let timeout = 50 + u64::from(self.rng.next_u32() % 500);
                    self.sim
                        .cmd(|srv, now| srv.emit_with_ack(now, s, &Emit::new(r#"["q"]"#), timeout))
                        .unwrap();
                }
            }
            65..=66 => {
                if let Some(s) = self.live_socket() {
                    let close = self.chance(50);
                    self.sim
                        .cmd(|srv, now| srv.disconnect(now, s, close))
                        .unwrap();
                }
            }
            67..=70 => {
                if let Some(p) = self.live_peer() {
                    let peer = self.sim.peer(p);
                    if peer.transport == TransportKind::Polling && peer.probe.is_none() {
                        match self.pick(3) {
                            0 => {
                                self.sim.try_upgrade(p);
                            }
                            1 => {
                                // Probe and leave it hanging: the upgrade times out.
                                if self.sim.start_upgrade(p).is_ok()
                                    && self.sim.peer(p).probe.is_some()
                                {
                                    self.sim.send_probe(p);
                                }
                            }
                            _ => {
                                let _ = self.sim.start_upgrade(p);
                            }
                        }
                    }
                }
            }
            71..=73 => {
                // Misbehaviour.
                if let Some(p) = self.live_peer() {
                    match self.pick(4) {
                        0 => {
                            self.sim.send_sio_text(p, "2{}");
                        }
                        1 => {
                            self.sim.send_sio_text(p, r#"2/nowhere,["x"]"#);
                        }
                        2 => {
                            if let Some(req) = self.sim.peer(p).parked {
                                self.sim.abort(req);
                            }
                        }
                        _ => {
                            if let Some(w) = self.sim.peer(p).ws {
                                self.sim.ws_send(w, Frame::Binary("?".into()));
                            } else {
                                self.sim.post(p, "x");
                            }
                        }
                    }
                }
            }
            74..=76 => {
                if let Some(p) = self.live_peer() {
                    match self.sim.peer(p).ws {
                        Some(w) => {
                            let error = self.chance(50);
                            self.sim.ws_close(w, error);
                        }
                        None => {
                            self.sim.send_eio(p, &[sio_core::engine::Packet::Close]);
                        }
                    }
                }
            }
            77..=79 => {
                if let Some(p) = self.live_peer() {
                    if self.sim.try_socket(p, "/chat").is_some() {
                        self.sim.send_sio_text(p, "1/chat,");
                    }
                }
            }
            80..=84 => {
                self.sim.advance_to_next_deadline();
            }
            85..=89 => {
                let ms = u64::from(self.rng.next_u32() % 400);
                self.sim.advance(ms);
            }
            _ => {
                // A peer answers the events that asked for an ack (most of them).
                if let Some(p) = self.live_peer() {
                    for packet in self.sim.take_sio(p) {
                        let Some(id) = packet.id else { continue };
                        if packet.kind == sio_core::socket::PacketType::Event && self.chance(70) {
                            let prefix = if &*packet.nsp == "/" {
                                String::new()
                            } else {
                                format!("{},", packet.nsp)
                            };
                            self.sim.send_sio_text(p, &format!(r#"3{prefix}{id}["a"]"#));
                            if self.sim.peer(p).closed {
                                break;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Run the scenario for `seed`; returns the log and the session ids handed out.
fn run(seed: u64) -> (Vec<String>, Vec<String>, Vec<(Millis, Event)>) {
    let mut config = test_config(0);
    config.engine.seed = {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&seed.to_le_bytes());
        s
    };
    config.engine.max_buffered_frames = 64;
    config.connect_timeout = 3000;
    let mut sim = Sim::new(config);
    sim.server.add_namespace("/chat");
    sim.set_app(chat_app());
    let mut run = Run {
        rng: ChaCha8Rng::seed_from_u64(seed),
        sim,
        peers: Vec::new(),
    };
    for _ in 0..4000 {
        run.step();
    }
    run.sim.run_until(run.sim.now() + 5000);
    let sids = run
        .peers
        .iter()
        .filter_map(|p| run.sim.peer(*p).sid.clone())
        .collect();
    let events = run.sim.all_events().to_vec();
    (run.sim.log, sids, events)
}

#[test]
fn same_seed_same_bytes_other_seed_other_sids() {
    let (log_a, sids_a, events) = run(7);
    let (log_b, sids_b, _) = run(7);
    assert_eq!(log_a.len(), log_b.len());
    for (i, (a, b)) in log_a.iter().zip(&log_b).enumerate() {
        assert_eq!(a, b, "logs diverge at line {i}");
    }

    // The scenario is not vacuous: it exercised what it claims to.
    assert!(sids_a.len() >= 20, "{} peers", sids_a.len());
    let count = |f: &dyn Fn(&Event) -> bool| events.iter().filter(|(_, e)| f(e)).count();
    assert!(count(&|e| matches!(e, Event::Message { .. })) > 300);
    assert!(count(&|e| matches!(e, Event::AckReceived { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::AckTimedOut { .. })) > 0);
    assert!(count(&|e| matches!(e, Event::BroadcastAck { .. })) > 0);
    let reasons: std::collections::BTreeSet<&str> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Disconnect { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert!(reasons.len() >= 6, "{reasons:?}");
    assert!(log_a
        .iter()
        .any(|l| l.contains("Upgraded") || l.contains("\"5\"")));

    let (log_c, sids_c, _) = run(8);
    assert_ne!(log_a, log_c);
    let common = sids_a.iter().filter(|s| sids_c.contains(s)).count();
    assert_eq!(common, 0, "another seed, other session ids");
    assert_eq!(sids_a, sids_b);
}
