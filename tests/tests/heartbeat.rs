//! The heartbeat: the server pings every pingInterval (counted from the last pong), and a
//! client that does not answer within pingTimeout is closed with "ping timeout".

use sio_core::engine::{Packet, TransportKind};
use sio_core::server::{DisconnectReason, Event};
use sio_core::ByteString;
use sio_tests::{body_text, http_error, test_config, PeerId, PeerOptions, Sim};

fn ping_times(sim: &Sim, p: PeerId) -> Vec<u64> {
    sim.peer(p)
        .eio
        .iter()
        .filter(|(_, pk)| matches!(pk, Packet::Ping(d) if d.is_empty()))
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn pings_every_interval_while_pongs_come_back() {
    let mut sim = Sim::new(test_config(1));
    let polling = sim.add_polling_peer();
    let ws = sim.add_ws_peer();
    sim.connect(polling, "/", None).unwrap();
    sim.connect(ws, "/", None).unwrap();
    sim.run_until(3000);
    let expected: Vec<u64> = (1..=10).map(|i| i * 300).collect();
    assert_eq!(ping_times(&sim, polling), expected);
    assert_eq!(ping_times(&sim, ws), expected);
    assert_eq!(sim.server.engine().session_count(), 2);
    assert!(!sim
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Disconnect { .. })));
}

#[test]
fn next_ping_is_counted_from_the_pong() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer_with(PeerOptions::manual());
    let ws = sim.peer(p).ws.unwrap();
    sim.connect(p, "/", None).unwrap();
    sim.run_until(300);
    assert_eq!(ping_times(&sim, p), [300]);
    assert_eq!(sim.server.poll_timeout(), Some(500), "the pong deadline");
    sim.run_until(450);
    sim.ws_send_text(ws, "3");
    assert_eq!(sim.server.poll_timeout(), Some(750));
    sim.run_until(749);
    assert_eq!(ping_times(&sim, p), [300]);
    sim.run_until(750);
    assert_eq!(ping_times(&sim, p), [300, 750]);
    sim.ws_send_text(ws, "3");
    assert_eq!(sim.server.poll_timeout(), Some(1050));
    // A pong when no ping is outstanding changes nothing.
    sim.advance(10);
    sim.ws_send_text(ws, "3");
    assert_eq!(sim.server.poll_timeout(), Some(1050));
    sim.run_until(1050);
    assert_eq!(ping_times(&sim, p), [300, 750, 1050]);
}

#[test]
fn ping_timeout_closes_a_websocket() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer_with(PeerOptions::manual());
    let other = sim.add_ws_peer();
    sim.connect(p, "/", None).unwrap();
    sim.connect(other, "/", None).unwrap();
    let socket = sim.socket(p, "/");
    sim.take_events();
    sim.run_until(499);
    assert!(!sim.peer(p).closed);
    sim.run_until(500);
    assert!(sim.peer(p).closed, "closed at pingInterval + pingTimeout");
    let events = sim.take_events();
    assert_eq!(
        events.last(),
        Some(&Event::Disconnect {
            socket,
            reason: DisconnectReason::PingTimeout
        })
    );
    assert_eq!(DisconnectReason::PingTimeout.as_str(), "ping timeout");
    assert_eq!(sim.server.engine().session_count(), 1);
    sim.run_until(5000);
    assert!(!sim.peer(other).closed);
}

#[test]
fn ping_timeout_closes_a_polling_session() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    let socket = sim.socket(p, "/");
    sim.take_events();
    let req = sim.poll(p);
    sim.run_until(300);
    assert_eq!(body_text(sim.response(req).unwrap()), "2");
    // No pong; a new GET is parked and answered with `close` at the pong deadline.
    let req = sim.poll(p);
    sim.run_until(500);
    assert_eq!(body_text(sim.response(req).unwrap()), "1");
    assert_eq!(
        sim.take_events().last(),
        Some(&Event::Disconnect {
            socket,
            reason: DisconnectReason::PingTimeout
        })
    );
    // A late pong is refused: the session is gone.
    let r = sim.post(p, "3");
    assert_eq!(http_error(&r).1, 1);
}

#[test]
fn pong_over_polling_keeps_the_session() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    for round in 1..=5u64 {
        let req = sim.poll(p);
        sim.advance_to_next_deadline();
        assert_eq!(sim.now(), round * 300 + (round - 1) * 50);
        assert_eq!(body_text(sim.response(req).unwrap()), "2");
        sim.advance(50);
        assert_eq!(body_text(&sim.post(p, "3")), "ok");
    }
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn ping_timeout_without_any_get() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.run_until(500);
    assert_eq!(sim.server.engine().session_count(), 0);
    assert_eq!(sim.server.poll_timeout(), None, "no timer left behind");
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn heartbeat_continues_after_upgrade() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer();
    sim.connect(p, "/", None).unwrap();
    sim.run_until(400);
    sim.upgrade(p);
    assert_eq!(sim.peer(p).transport, TransportKind::WebSocket);
    sim.run_until(3000);
    assert_eq!(ping_times(&sim, p).len(), 10);
    let ws = sim.peer(p).ws.unwrap();
    let ws_pings = sim
        .peer(p)
        .ws_frames
        .iter()
        .filter(|(w, f)| *w == ws && f == &Packet::Ping(ByteString::new()).encode())
        .count();
    assert_eq!(
        ws_pings, 9,
        "after the upgrade, pings come on the WebSocket"
    );
    assert_eq!(sim.server.engine().session_count(), 1);
}
