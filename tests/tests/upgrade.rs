//! The upgrade from polling to WebSocket: probe, `3probe`, noop to the parked GET, `6` to
//! GETs during the upgrade, `5` completes; afterwards polling is refused, a second WebSocket
//! too, and what was queued meanwhile is flushed on the WebSocket in order. An upgrade that
//! does not complete in time is abandoned and polling goes on.

use sio_core::engine::{Frame, Method, TransportKind};
use sio_core::server::{Emit, Event, Target};
use sio_core::{ByteString, Bytes};
use sio_tests::{body_text, http_error, test_config, PeerId, PeerOptions, Sim};

fn connected_manual_peer(sim: &mut Sim) -> PeerId {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    sim.take_sio(p);
    p
}

fn emit_all(sim: &mut Sim, data: &str) {
    let e = Emit::new(data.to_owned());
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap();
}

fn text(s: &str) -> Frame {
    Frame::Text(ByteString::from(s))
}

#[test]
fn full_upgrade_flow() {
    let mut sim = Sim::new(test_config(1));
    let p = connected_manual_peer(&mut sim);
    let socket = sim.socket(p, "/");
    let parked = sim.poll(p);
    assert_eq!(sim.response(parked), None);

    let ws = sim.start_upgrade(p).unwrap();
    assert!(sim.peer(p).ws_frames.is_empty(), "nothing before the probe");
    assert_eq!(sim.response(parked), None, "still parked before the probe");
    sim.send_probe(p);
    assert_eq!(sim.peer(p).ws_frames, [(ws, text("3probe"))]);
    assert_eq!(body_text(sim.response(parked).unwrap()), "6");

    // A GET during the upgrade is ended at once with a noop.
    let during = sim.poll(p);
    assert_eq!(body_text(sim.response(during).unwrap()), "6");

    // Packets for the client meanwhile wait for the WebSocket.
    emit_all(&mut sim, r#"["a"]"#);
    let bin = Emit::new(ByteString::from_static(
        r#"["b",{"_placeholder":true,"num":0}]"#,
    ))
    .with_attachments(vec![Bytes::from_static(b"\x01\x02")]);
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &bin))
        .unwrap();
    emit_all(&mut sim, r#"["c"]"#);
    assert_eq!(sim.peer(p).ws_frames.len(), 1);
    assert_eq!(
        sim.server.socket_transport(socket),
        Some(TransportKind::Polling)
    );

    sim.finish_upgrade(p);
    assert_eq!(
        sim.server.socket_transport(socket),
        Some(TransportKind::WebSocket)
    );
    let frames: Vec<Frame> = sim
        .peer(p)
        .ws_frames
        .iter()
        .map(|(_, f)| f.clone())
        .collect();
    assert_eq!(
        frames,
        [
            text("3probe"),
            text(r#"42["a"]"#),
            text(r#"451-["b",{"_placeholder":true,"num":0}]"#),
            Frame::Binary(Bytes::from_static(b"\x01\x02")),
            text(r#"42["c"]"#),
        ]
    );
    assert!(sim.peer(p).ws_frames.iter().all(|(w, _)| *w == ws));

    // Polling is over for this session.
    let q = sim.peer(p).query(TransportKind::Polling);
    for m in [Method::Get, Method::Post] {
        let req = sim.http(p, m, &q, Bytes::from_static(b"42[\"x\"]"));
        assert_eq!(
            http_error(sim.response(req).unwrap()),
            (400, 3, "Bad request".into())
        );
    }
    // A second WebSocket for the sid is closed at once (as Node does: "transport had
    // already been upgraded"); the session goes on undisturbed.
    let wq = sim.peer(p).query(TransportKind::WebSocket);
    let ws2 = sim.ws_open(p, &wq).unwrap();
    assert!(!sim.ws_is_open(ws2));
    assert_eq!(sim.peer(p).ws_closed, [ws2]);
    assert!(sim.peer(p).ws_frames.iter().all(|(w, _)| *w == ws));
    assert!(sim.ws_is_open(ws));

    // The WebSocket carries the traffic both ways.
    sim.take_events();
    sim.emit(p, "/", r#"["up"]"#);
    assert!(matches!(&sim.take_events()[..], [Event::Message { socket: s, .. }] if *s == socket));
    emit_all(&mut sim, r#"["down"]"#);
    assert_eq!(
        sim.peer(p).ws_frames.last().unwrap(),
        &(ws, text(r#"42["down"]"#))
    );
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn upgrade_of_an_automatic_peer() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(sio_tests::app::echo());
    let p = sim.add_polling_peer();
    sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    sim.upgrade(p);
    sim.emit(p, "/", r#"["hi",1]"#);
    assert_eq!(sim.take_sio_text(p), [r#"2["hi",1]"#]);
    sim.run_until(2000);
    assert!(!sim.peer(p).closed);
}

#[test]
fn upgrade_timeout_keeps_polling() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer();
    sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    // The WebSocket opens but the probe never comes.
    let ws = sim.start_upgrade(p).unwrap();
    // Until it sends the probe, the peer keeps polling.
    sim.run_until(999);
    assert!(sim.peer(p).ws_closed.is_empty());
    sim.run_until(1000);
    assert_eq!(
        sim.peer(p).ws_closed,
        [ws],
        "probe closed at upgradeTimeout"
    );
    assert_eq!(sim.peer(p).transport, TransportKind::Polling);
    emit_all(&mut sim, r#"["still polling"]"#);
    assert_eq!(sim.take_sio_text(p), [r#"2["still polling"]"#]);
    sim.run_until(3000);
    assert!(!sim.peer(p).closed);
    // The client may try again, and succeed.
    sim.upgrade(p);
    emit_all(&mut sim, r#"["ws"]"#);
    assert_eq!(sim.take_sio_text(p), [r#"2["ws"]"#]);
}

#[test]
fn probed_upgrade_that_never_completes_is_abandoned() {
    let mut config = test_config(1);
    config.engine.ping_interval = 60_000;
    config.engine.ping_timeout = 60_000;
    let mut sim = Sim::new(config);
    let p = connected_manual_peer(&mut sim);
    let parked = sim.poll(p);
    let ws = sim.start_upgrade(p).unwrap();
    sim.send_probe(p);
    assert_eq!(body_text(sim.response(parked).unwrap()), "6");
    emit_all(&mut sim, r#"["queued"]"#);
    sim.run_until(1000);
    assert_eq!(sim.peer(p).ws_closed, [ws]);
    // Polling resumes and collects what was queued during the attempt.
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["queued"]"#);
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn anything_but_the_probe_aborts_the_upgrade() {
    let mut sim = Sim::new(test_config(1));
    for bad in ["4hello", "5", "2", "3probe", "x"] {
        let p = connected_manual_peer(&mut sim);
        let ws = sim.start_upgrade(p).unwrap();
        sim.ws_send_text(ws, bad);
        assert_eq!(sim.peer(p).ws_closed, [ws], "{bad}");
        sim.take_events();
        // The session goes on over polling.
        emit_all(&mut sim, r#"["after"]"#);
        let req = sim.poll(p);
        assert_eq!(
            body_text(sim.response(req).unwrap()),
            r#"42["after"]"#,
            "{bad}"
        );
        assert!(
            !sim.take_events()
                .iter()
                .any(|e| matches!(e, Event::Disconnect { .. })),
            "{bad}"
        );
    }
}

#[test]
fn probe_websocket_closed_by_the_client_keeps_polling() {
    let mut sim = Sim::new(test_config(1));
    let p = connected_manual_peer(&mut sim);
    let ws = sim.start_upgrade(p).unwrap();
    sim.send_probe(p);
    sim.ws_close(ws, true);
    emit_all(&mut sim, r#"["x"]"#);
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["x"]"#);
    // And a new attempt is possible.
    sim.upgrade(p);
    assert_eq!(sim.peer(p).transport, TransportKind::WebSocket);
}

#[test]
fn second_probe_while_one_is_pending_is_refused() {
    let mut sim = Sim::new(test_config(1));
    let p = connected_manual_peer(&mut sim);
    let ws = sim.start_upgrade(p).unwrap();
    let q = sim.peer(p).query(TransportKind::WebSocket);
    let second = sim.ws_open(p, &q).unwrap();
    assert_eq!(sim.peer(p).ws_closed, [second], "closed at once");
    sim.send_probe(p);
    sim.finish_upgrade(p);
    assert_eq!(sim.peer(p).ws_closed, [second]);
    assert!(sim.ws_is_open(ws));
    assert_eq!(sim.peer(p).transport, TransportKind::WebSocket);
}

#[test]
fn upgrades_disabled() {
    let mut config = test_config(1);
    config.engine.allow_upgrades = false;
    let mut sim = Sim::new(config);
    let p = connected_manual_peer(&mut sim);
    assert!(sim.peer(p).open.as_ref().unwrap().upgrades.is_empty());
    let ws = sim.start_upgrade(p).unwrap();
    assert!(!sim.ws_is_open(ws), "accepted and closed at once");
    emit_all(&mut sim, r#"["polling"]"#);
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["polling"]"#);
}

#[test]
fn a_websocket_session_cannot_be_upgraded() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer();
    sim.connect(p, "/", None).unwrap();
    let q = sim.peer(p).query(TransportKind::WebSocket);
    let second = sim.ws_open(p, &q).unwrap();
    assert!(!sim.ws_is_open(second));
    assert!(!sim.peer(p).closed);
    emit_all(&mut sim, r#"["x"]"#);
    assert_eq!(sim.take_sio_text(p).last().unwrap(), r#"2["x"]"#);
}
