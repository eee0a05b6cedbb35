//! Every disconnect reason, each announced by `Disconnecting` (with the socket's rooms) and
//! then `Disconnect`, with Node's reason strings.

use sio_core::server::{DisconnectReason, Event, SocketId};
use sio_core::ByteString;
use sio_tests::{test_config, PeerId, PeerOptions, Sim};

/// A connected client in `/` that joined the room `r1`.
fn client(sim: &mut Sim, websocket: bool) -> (PeerId, SocketId) {
    let p = if websocket {
        sim.add_ws_peer()
    } else {
        sim.add_polling_peer()
    };
    let s = sim.connect(p, "/", None).unwrap();
    sim.cmd(|srv, _| srv.join(s, "r1")).unwrap();
    sim.take_events();
    sim.take_sio(p);
    (p, s)
}

/// Check that the events are exactly `Disconnecting` (with the rooms) then `Disconnect`
/// for `socket` with `reason`.
fn assert_disconnected(sim: &mut Sim, socket: SocketId, rooms: &[ByteString], reason: &str) {
    let events = sim.take_events();
    let mut expected_rooms = rooms.to_vec();
    expected_rooms.sort();
    match &events[..] {
        [Event::Disconnecting {
            socket: s1,
            reason: r1,
            rooms: got,
        }, Event::Disconnect {
            socket: s2,
            reason: r2,
        }] => {
            assert_eq!((*s1, *s2), (socket, socket));
            assert_eq!(r1, r2);
            assert_eq!(r1.as_str(), reason);
            assert_eq!(got, &expected_rooms);
        }
        _ => panic!("expected a disconnect ({reason}) of {socket:?}, got {events:?}"),
    }
    assert!(
        sim.server.socket_sid(socket).is_none(),
        "the socket is gone"
    );
}

fn rooms_of(sim: &Sim, s: SocketId) -> Vec<ByteString> {
    sim.server.socket_rooms(s).unwrap().cloned().collect()
}

#[test]
fn client_namespace_disconnect() {
    for websocket in [false, true] {
        let mut sim = Sim::new(test_config(1));
        let (p, s) = client(&mut sim, websocket);
        let rooms = rooms_of(&sim, s);
        assert_eq!(rooms.len(), 2);
        sim.send_sio_text(p, "1");
        assert_disconnected(&mut sim, s, &rooms, "client namespace disconnect");
        assert!(!sim.peer(p).closed, "the connection itself stays");
    }
}

#[test]
fn server_namespace_disconnect() {
    let mut sim = Sim::new(test_config(1));
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    sim.cmd(|srv, now| srv.disconnect(now, s, false)).unwrap();
    assert_disconnected(&mut sim, s, &rooms, "server namespace disconnect");
    assert_eq!(sim.take_sio_text(p), ["1"]);
    assert!(sim.server.namespace_rooms("/").is_empty());
}

#[test]
fn transport_close() {
    // The WebSocket closed cleanly.
    let mut sim = Sim::new(test_config(1));
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    let w = sim.peer(p).ws.unwrap();
    sim.ws_close(w, false);
    assert_disconnected(&mut sim, s, &rooms, "transport close");
    // An Engine.IO close packet over polling.
    let (p, s) = client(&mut sim, false);
    let rooms = rooms_of(&sim, s);
    sim.send_eio(p, &[sio_core::engine::Packet::Close]);
    assert_disconnected(&mut sim, s, &rooms, "transport close");
}

#[test]
fn transport_error() {
    // A parked GET aborted by the client.
    let mut sim = Sim::new(test_config(1));
    let (p, s) = client(&mut sim, false);
    let rooms = rooms_of(&sim, s);
    let parked = sim.peer(p).parked.expect("the poller waits");
    sim.abort(parked);
    assert_disconnected(&mut sim, s, &rooms, "transport error");
    // A WebSocket that failed.
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    let w = sim.peer(p).ws.unwrap();
    sim.ws_close(w, true);
    assert_disconnected(&mut sim, s, &rooms, "transport error");
}

#[test]
fn aborting_an_answered_request_changes_nothing() {
    let mut sim = Sim::new(test_config(1));
    let (p, _) = client(&mut sim, false);
    let post = {
        sim.send_sio_text(p, r#"2["x"]"#);
        sim.peer(p).responses.last().unwrap().0
    };
    sim.take_events();
    sim.abort(post);
    assert!(sim.take_events().is_empty());
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn ping_timeout() {
    let mut sim = Sim::new(test_config(1));
    let (p, s) = client(&mut sim, true);
    sim.peer_mut(p).options.auto_pong = false;
    let rooms = rooms_of(&sim, s);
    sim.run_until(500);
    assert_disconnected(&mut sim, s, &rooms, "ping timeout");
}

#[test]
fn parse_error() {
    let bad_socket_io = [
        "2{}",
        r#"2abc["x"]"#,
        "2",
        r#"2["connect"]"#,
        "9",
        r#"2[1"#,
        r#"51-["x",{"_placeholder":true,"num":5}]"#,
        r#"2999999999999999999999["x"]"#,
    ];
    for websocket in [false, true] {
        for bad in bad_socket_io {
            let mut sim = Sim::new(test_config(1));
            let (_, other) = client(&mut sim, websocket);
            let (p, s) = client(&mut sim, websocket);
            let rooms = rooms_of(&sim, s);
            sim.send_sio_text(p, bad);
            if bad.starts_with("51-") {
                sim.send_eio(p, &[sio_core::engine::Packet::Binary("x".into())]);
            }
            assert_disconnected(&mut sim, s, &rooms, "parse error");
            assert!(sim.server.socket_sid(other).is_some(), "{bad}");
        }
    }
    // Not even an Engine.IO packet.
    let mut sim = Sim::new(test_config(1));
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    let w = sim.peer(p).ws.unwrap();
    sim.ws_send_text(w, "x");
    assert_disconnected(&mut sim, s, &rooms, "parse error");
    // An attachment nobody announced.
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    let w = sim.peer(p).ws.unwrap();
    sim.ws_send(w, sio_core::engine::Frame::Binary("x".into()));
    assert_disconnected(&mut sim, s, &rooms, "parse error");
}

#[test]
fn nothing_after_a_parse_error_in_the_same_payload_is_delivered() {
    let mut sim = Sim::new(test_config(1));
    sim.server.add_namespace("/admin");
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.post(p, "40");
    let s = sim.socket_after_poll(p);
    let rooms = rooms_of(&sim, s);
    sim.take_events();
    // A bad packet, then an event, a CONNECT and a close, all in one POST.
    sim.post(p, "42{}\x1e42[\"after\"]\x1e40/admin,\x1e1");
    assert_disconnected(&mut sim, s, &rooms, "parse error");
}

#[test]
fn forced_close() {
    // An event for a namespace the client did not join closes the whole connection.
    let mut sim = Sim::new(test_config(1));
    sim.server.add_namespace("/admin");
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    sim.emit(p, "/admin", r#"["x"]"#);
    assert_disconnected(&mut sim, s, &rooms, "forced close");
    assert!(sim.peer(p).closed);
    // So does a second CONNECT for a namespace already joined.
    let (p, s) = client(&mut sim, false);
    let rooms = rooms_of(&sim, s);
    sim.send_sio_text(p, "0");
    assert_disconnected(&mut sim, s, &rooms, "forced close");
    // And a CONNECT_ERROR from the client.
    let (p, s) = client(&mut sim, true);
    let rooms = rooms_of(&sim, s);
    sim.send_sio_text(p, r#"4{"message":"x"}"#);
    assert_disconnected(&mut sim, s, &rooms, "forced close");
}

#[test]
fn reason_strings_match_node() {
    let all = [
        (DisconnectReason::TransportError, "transport error"),
        (DisconnectReason::TransportClose, "transport close"),
        (DisconnectReason::ForcedClose, "forced close"),
        (DisconnectReason::PingTimeout, "ping timeout"),
        (DisconnectReason::ParseError, "parse error"),
        (DisconnectReason::ServerShuttingDown, "server shutting down"),
        (DisconnectReason::ForcedServerClose, "forced server close"),
        (
            DisconnectReason::ClientNamespaceDisconnect,
            "client namespace disconnect",
        ),
        (
            DisconnectReason::ServerNamespaceDisconnect,
            "server namespace disconnect",
        ),
    ];
    for (r, s) in all {
        assert_eq!(r.as_str(), s);
    }
}

/// Small helper: poll once and return the socket the CONNECT answer names.
trait PollSocket {
    fn socket_after_poll(&mut self, p: PeerId) -> SocketId;
}

impl PollSocket for Sim {
    fn socket_after_poll(&mut self, p: PeerId) -> SocketId {
        self.poll(p);
        self.socket(p, "/")
    }
}
