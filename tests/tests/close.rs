//! Closing: a client `close` packet over polling and WebSocket, a server close, and frames
//! sent before a server close still delivered.

use sio_core::engine::{Packet, TransportKind};
use sio_core::server::{DisconnectReason, Emit, Event, SocketId, Target};
use sio_tests::{body_text, http_error, test_config, PeerId, PeerOptions, Sim};

fn disconnects(events: &[Event]) -> Vec<(SocketId, DisconnectReason)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect { socket, reason } => Some((*socket, *reason)),
            _ => None,
        })
        .collect()
}

fn polling(sim: &mut Sim) -> (PeerId, SocketId) {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    sim.take_sio(p);
    let s = sim.socket(p, "/");
    (p, s)
}

fn ws(sim: &mut Sim) -> (PeerId, SocketId) {
    let p = sim.add_ws_peer_with(PeerOptions::manual());
    let s = sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    (p, s)
}

#[test]
fn client_close_packet_over_polling() {
    let mut sim = Sim::new(test_config(1));
    let (other, other_socket) = ws(&mut sim);
    let (p, socket) = polling(&mut sim);
    sim.take_events();
    let parked = sim.poll(p);
    assert_eq!(body_text(&sim.post(p, "1")), "ok");
    assert_eq!(body_text(sim.response(parked).unwrap()), "6");
    assert_eq!(
        disconnects(&sim.take_events()),
        [(socket, DisconnectReason::TransportClose)]
    );
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
    assert!(!sim.peer(other).closed);
    assert_eq!(sim.server.namespace_sockets("/"), [other_socket]);
}

#[test]
fn client_close_packet_without_a_parked_get() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = polling(&mut sim);
    sim.take_events();
    // Packets before `close` in the same payload are delivered, those after it ignored.
    let r = sim.post(p, "42[\"before\"]\x1e1\x1e42[\"late\"]");
    assert_eq!(body_text(&r), "ok");
    let events = sim.take_events();
    let messages: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message { packet, .. } => packet.data.as_deref().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(messages, [r#"["before"]"#]);
    assert_eq!(
        disconnects(&events),
        [(socket, DisconnectReason::TransportClose)]
    );
    assert_eq!(sim.server.engine().session_count(), 0);
    // The GET the client may have sent meanwhile (the two requests can arrive in either
    // order) gets the `noop` a parked one would have got; then the session is gone, and no
    // timer is left.
    let get = sim.poll(p);
    assert_eq!(body_text(sim.response(get).unwrap()), "6");
    assert_eq!(sim.server.poll_timeout(), None, "no timer left");
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn client_close_packet_over_websocket() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = ws(&mut sim);
    sim.take_events();
    let w = sim.peer(p).ws.unwrap();
    sim.ws_send_text(w, "1");
    assert_eq!(
        disconnects(&sim.take_events()),
        [(socket, DisconnectReason::TransportClose)]
    );
    assert_eq!(sim.peer(p).ws_closed, [w]);
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn websocket_closed_by_the_client() {
    let mut sim = Sim::new(test_config(1));
    let (a, sa) = ws(&mut sim);
    let (b, sb) = ws(&mut sim);
    sim.take_events();
    let wa = sim.peer(a).ws.unwrap();
    let wb = sim.peer(b).ws.unwrap();
    sim.ws_close(wa, false);
    sim.ws_close(wb, true);
    assert_eq!(
        disconnects(&sim.take_events()),
        [
            (sa, DisconnectReason::TransportClose),
            (sb, DisconnectReason::TransportError)
        ]
    );
    assert!(
        sim.peer(a).ws_closed.is_empty(),
        "nothing to close any more"
    );
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn server_close_over_websocket_delivers_earlier_frames_first() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = ws(&mut sim);
    let (other, _) = ws(&mut sim);
    sim.take_events();
    for i in 0..3 {
        let e = Emit::new(format!(r#"["n",{i}]"#));
        sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
            .unwrap();
    }
    sim.cmd(|s, now| s.disconnect(now, socket, true)).unwrap();
    assert_eq!(
        sim.take_sio_text(p),
        [r#"2["n",0]"#, r#"2["n",1]"#, r#"2["n",2]"#, "1"]
    );
    let w = sim.peer(p).ws.unwrap();
    let last = sim.peer(p).ws_frames.last().unwrap().clone();
    assert_eq!(last.0, w);
    assert_eq!(sim.peer(p).ws_closed, [w], "closed after the frames");
    assert_eq!(
        disconnects(&sim.take_events()),
        [(socket, DisconnectReason::ServerNamespaceDisconnect)]
    );
    assert!(!sim.peer(other).closed);
    assert_eq!(sim.take_sio_text(other).len(), 3);
}

#[test]
fn server_close_over_polling_with_a_parked_get() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = polling(&mut sim);
    let parked = sim.poll(p);
    sim.cmd(|s, now| s.disconnect(now, socket, true)).unwrap();
    // The DISCONNECT answers the parked GET; the next GET collects the `close`.
    assert_eq!(body_text(sim.response(parked).unwrap()), "41");
    assert_eq!(sim.server.engine().session_count(), 0);
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), "1");
    assert!(sim.peer(p).closed);
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn engine_close_over_polling_without_a_get_sends_close_on_the_next_get() {
    let mut sim = Sim::new(test_config(1));
    let (p, _) = polling(&mut sim);
    let session = sio_core::engine::SessionId(0);
    sim.cmd(|s, now| s.engine_close(now, session));
    assert_eq!(sim.server.engine().session_count(), 0);
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), "1");
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn server_close_over_polling_hands_queued_frames_to_the_next_get() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = polling(&mut sim);
    sim.take_events();
    for i in 0..2 {
        let e = Emit::new(format!(r#"["n",{i}]"#));
        sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
            .unwrap();
    }
    sim.cmd(|s, now| s.disconnect(now, socket, true)).unwrap();
    // The application learns at once.
    assert_eq!(
        disconnects(&sim.take_events()),
        [(socket, DisconnectReason::ServerNamespaceDisconnect)]
    );
    assert_eq!(sim.server.engine().session_count(), 0);
    sim.advance(50);
    let req = sim.poll(p);
    assert_eq!(
        body_text(sim.response(req).unwrap()),
        "42[\"n\",0]\x1e42[\"n\",1]\x1e41\x1e1"
    );
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
    assert_eq!(sim.server.poll_timeout(), None, "nothing left behind");
}

#[test]
fn lingering_frames_are_dropped_after_the_pong_deadline() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = polling(&mut sim);
    sim.cmd(|s, now| s.disconnect(now, socket, true)).unwrap();
    assert!(sim.server.poll_timeout().is_some());
    sim.run_until(200);
    assert_eq!(sim.server.poll_timeout(), None);
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn server_shutdown_closes_everyone() {
    let mut sim = Sim::new(test_config(1));
    let (a, sa) = ws(&mut sim);
    let (b, sb) = polling(&mut sim);
    let parked = sim.poll(b);
    sim.take_events();
    sim.cmd(|s, now| s.close_all(now));
    let mut got = disconnects(&sim.take_events());
    got.sort_by_key(|(s, _)| *s);
    assert_eq!(
        got,
        [
            (sa, DisconnectReason::ServerShuttingDown),
            (sb, DisconnectReason::ServerShuttingDown)
        ]
    );
    assert_eq!(
        DisconnectReason::ServerShuttingDown.as_str(),
        "server shutting down"
    );
    assert!(sim.peer(a).closed);
    assert_eq!(body_text(sim.response(parked).unwrap()), "1");
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn close_of_an_upgraded_session_uses_the_websocket() {
    let mut sim = Sim::new(test_config(1));
    let (p, socket) = polling(&mut sim);
    let w = sim.upgrade(p);
    assert_eq!(sim.peer(p).transport, TransportKind::WebSocket);
    sim.cmd(|s, now| s.disconnect(now, socket, true)).unwrap();
    assert_eq!(sim.peer(p).ws_closed, [w]);
    assert_eq!(
        sim.take_eio(p).last(),
        Some(&Packet::Message("1".into())),
        "the DISCONNECT came before the close"
    );
}
