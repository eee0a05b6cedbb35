//! The per-connection outgoing queue is bounded: a polling client that stops collecting its
//! frames is closed with "transport buffer full" once the bound is passed, and only it.

use sio_core::server::{DisconnectReason, Emit, Event, ServerConfig, SocketId, Target};
use sio_core::Bytes;
use sio_tests::{body_text, http_error, test_config, PeerId, PeerOptions, Sim};

const BOUND: usize = 5;

fn config() -> ServerConfig {
    let mut c = test_config(1);
    c.engine.max_buffered_frames = BOUND;
    // Keep the heartbeat out of the way: only emits fill the queue.
    c.engine.ping_interval = 60_000;
    c.engine.ping_timeout = 60_000;
    c.connect_timeout = 60_000;
    c
}

fn idle_poller(sim: &mut Sim) -> (PeerId, SocketId) {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    let s = sim.socket(p, "/");
    (p, s)
}

fn emit_all(sim: &mut Sim, i: usize) -> usize {
    let e = Emit::new(format!(r#"["n",{i}]"#));
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap()
}

fn overflowed(events: &[Event]) -> Vec<SocketId> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect {
                socket,
                reason: DisconnectReason::BufferFull,
            } => Some(*socket),
            _ => None,
        })
        .collect()
}

#[test]
fn only_the_slow_connection_is_closed() {
    let mut sim = Sim::new(config());
    let (slow, slow_socket) = idle_poller(&mut sim);
    let fast_poller = sim.add_polling_peer();
    sim.connect(fast_poller, "/", None).unwrap();
    let ws = sim.add_ws_peer();
    sim.connect(ws, "/", None).unwrap();
    sim.take_sio(fast_poller);
    sim.take_sio(ws);
    sim.take_events();

    for i in 0..BOUND {
        assert_eq!(emit_all(&mut sim, i), 3);
    }
    assert!(sim.take_events().is_empty(), "at the bound, not over it");
    assert_eq!(emit_all(&mut sim, BOUND), 2, "the slow one is dropped");
    let events = sim.take_events();
    assert_eq!(overflowed(&events), [slow_socket]);
    assert!(matches!(
        events[0],
        Event::Disconnecting {
            reason: DisconnectReason::BufferFull,
            ..
        }
    ));
    assert_eq!(
        DisconnectReason::BufferFull.as_str(),
        "transport buffer full"
    );

    for i in BOUND + 1..BOUND + 20 {
        assert_eq!(emit_all(&mut sim, i), 2);
    }
    assert_eq!(sim.take_sio(fast_poller).len(), BOUND + 20);
    assert_eq!(sim.take_sio(ws).len(), BOUND + 20);
    assert!(sim.take_events().is_empty());
    assert_eq!(sim.server.engine().session_count(), 2);

    // The slow client learns on its next request.
    let req = sim.poll(slow);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn collecting_in_time_keeps_the_connection() {
    let mut sim = Sim::new(config());
    let (p, _) = idle_poller(&mut sim);
    for round in 0..10 {
        for i in 0..BOUND {
            emit_all(&mut sim, round * 10 + i);
        }
        let req = sim.poll(p);
        assert_eq!(
            body_text(sim.response(req).unwrap()).split('\x1e').count(),
            BOUND
        );
    }
    assert!(overflowed(&sim.take_events()).is_empty());
}

#[test]
fn attachments_count_as_frames() {
    let mut sim = Sim::new(config());
    let (_, s) = idle_poller(&mut sim);
    sim.take_events();
    let e = Emit::new(r#"["b",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .with_attachments(vec![Bytes::from_static(b"1"), Bytes::from_static(b"2")]);
    // 3 frames, then 3 more: 6 > 5.
    assert_eq!(
        sim.cmd(|srv, now| srv.emit(now, &Target::namespace("/"), &e)),
        Ok(1)
    );
    assert_eq!(
        sim.cmd(|srv, now| srv.emit(now, &Target::namespace("/"), &e)),
        Ok(0)
    );
    assert_eq!(overflowed(&sim.take_events()), [s]);
}

#[test]
fn overflow_on_an_ack_ends_the_wait() {
    let mut sim = Sim::new(config());
    let (_, s) = idle_poller(&mut sim);
    for i in 0..BOUND {
        emit_all(&mut sim, i);
    }
    sim.take_events();
    let ack = sim
        .cmd(|srv, now| srv.emit_with_ack(now, s, &Emit::new(r#"["q"]"#), 1000))
        .unwrap();
    let events = sim.take_events();
    assert!(events.contains(&Event::AckTimedOut { socket: s, ack }));
    assert_eq!(overflowed(&events), [s]);
}

#[test]
fn overflow_while_disconnecting_every_namespace() {
    let mut config = config();
    config.engine.max_buffered_frames = 2;
    let mut sim = Sim::new(config);
    sim.server.add_namespace("/a");
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.post(p, "40\x1e40/a,");
    sim.poll(p);
    let root = sim.socket(p, "/");
    let a = sim.socket(p, "/a");
    sim.take_events();
    // The queue is full: the first DISCONNECT overflows it and the connection closes
    // while the other namespace is still to be told.
    emit_all(&mut sim, 0);
    emit_all(&mut sim, 1);
    sim.cmd(|srv, now| srv.disconnect(now, root, true)).unwrap();
    let events = sim.take_events();
    let gone: Vec<SocketId> = events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect { socket, .. } => Some(*socket),
            _ => None,
        })
        .collect();
    assert_eq!(gone.len(), 2, "{events:?}");
    assert!(gone.contains(&root) && gone.contains(&a));
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn many_idle_pollers_each_closed_alone() {
    let mut sim = Sim::new(config());
    let ws = sim.add_ws_peer();
    sim.connect(ws, "/", None).unwrap();
    let idle: Vec<SocketId> = (0..10).map(|_| idle_poller(&mut sim).1).collect();
    sim.take_events();
    for i in 0..=BOUND {
        emit_all(&mut sim, i);
    }
    let mut closed = overflowed(&sim.take_events());
    closed.sort();
    assert_eq!(closed, idle);
    assert_eq!(sim.server.namespace_sockets("/").len(), 1);
    assert!(!sim.peer(ws).closed);
}
