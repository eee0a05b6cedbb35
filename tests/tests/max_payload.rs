//! maxPayload: a message or body of exactly the limit is accepted; one byte more is refused
//! (413 for a POST, the WebSocket closed) and ends that connection alone.

use sio_core::engine::{Frame, TransportKind};
use sio_core::server::{DisconnectReason, Event, ServerConfig};
use sio_core::{ByteString, Bytes};
use sio_tests::{body_text, test_config, PeerId, PeerOptions, Sim};

const MAX: usize = 100;

fn config() -> ServerConfig {
    let mut c = test_config(1);
    c.engine.limits.max_payload = MAX;
    c
}

/// A POST body / WebSocket text of exactly `len` bytes: an event `["e","xxx…"]`.
fn event_of_len(len: usize) -> String {
    let fixed = r#"42["e",""]"#.len();
    format!(r#"42["e","{}"]"#, "x".repeat(len - fixed))
}

fn messages(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count()
}

fn polling(sim: &mut Sim) -> PeerId {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    p
}

#[test]
fn announced_in_the_handshake() {
    let mut sim = Sim::new(config());
    let p = polling(&mut sim);
    assert_eq!(sim.peer(p).open.as_ref().unwrap().max_payload, MAX as u64);
}

#[test]
fn post_at_the_limit_is_accepted_and_one_more_byte_is_413() {
    let mut sim = Sim::new(config());
    let bystander = polling(&mut sim);
    let p = polling(&mut sim);
    let socket = sim.socket(p, "/");
    sim.take_events();

    let body = event_of_len(MAX);
    assert_eq!(body.len(), MAX);
    assert_eq!(body_text(&sim.post(p, body)), "ok");
    assert_eq!(messages(&sim.take_events()), 1);

    let r = sim.post(p, event_of_len(MAX + 1));
    assert_eq!(r.status, 413);
    let events = sim.take_events();
    assert_eq!(
        events.last(),
        Some(&Event::Disconnect {
            socket,
            reason: DisconnectReason::PayloadTooLarge
        })
    );
    assert_eq!(messages(&events), 0, "the oversized event is not delivered");
    assert_eq!(sim.server.engine().session_count(), 1);
    // The other connection is fine.
    assert_eq!(body_text(&sim.post(bystander, event_of_len(MAX))), "ok");
    assert_eq!(messages(&sim.take_events()), 1);
}

#[test]
fn several_small_packets_count_together_in_one_post() {
    let mut sim = Sim::new(config());
    let p = polling(&mut sim);
    let one = event_of_len(50);
    let body = format!("{one}\x1e{one}");
    assert_eq!(body.len(), 101);
    assert_eq!(sim.post(p, body).status, 413);
    assert_eq!(messages(&sim.take_events()), 0);
}

#[test]
fn websocket_text_at_the_limit_is_accepted_and_one_more_byte_closes() {
    let mut sim = Sim::new(config());
    let bystander = sim.add_ws_peer();
    sim.connect(bystander, "/", None).unwrap();
    let p = sim.add_ws_peer();
    let socket = sim.connect(p, "/", None).unwrap();
    sim.take_events();
    let ws = sim.peer(p).ws.unwrap();

    sim.ws_send_text(ws, &event_of_len(MAX));
    assert_eq!(messages(&sim.take_events()), 1);
    assert!(sim.ws_is_open(ws));

    sim.ws_send_text(ws, &event_of_len(MAX + 1));
    let events = sim.take_events();
    assert_eq!(messages(&events), 0);
    assert_eq!(
        events.last(),
        Some(&Event::Disconnect {
            socket,
            reason: DisconnectReason::PayloadTooLarge
        })
    );
    assert_eq!(sim.peer(p).ws_closed, [ws]);
    assert!(!sim.peer(bystander).closed);
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn websocket_binary_over_the_limit_closes() {
    let mut sim = Sim::new(config());
    let p = sim.add_ws_peer();
    let socket = sim.connect(p, "/", None).unwrap();
    let ws = sim.peer(p).ws.unwrap();
    sim.take_events();
    sim.ws_send_text(ws, r#"451-["bin",{"_placeholder":true,"num":0}]"#);
    sim.ws_send(ws, Frame::Binary(Bytes::from(vec![7u8; MAX + 1])));
    let events = sim.take_events();
    assert_eq!(
        events.last(),
        Some(&Event::Disconnect {
            socket,
            reason: DisconnectReason::PayloadTooLarge
        })
    );
    assert_eq!(sim.peer(p).ws_closed, [ws]);
}

#[test]
fn websocket_binary_at_the_limit_is_accepted() {
    let mut sim = Sim::new(config());
    let p = sim.add_ws_peer();
    sim.connect(p, "/", None).unwrap();
    let ws = sim.peer(p).ws.unwrap();
    sim.take_events();
    let text = r#"451-["b",{"_placeholder":true,"num":0}]"#;
    sim.ws_send(ws, Frame::Text(ByteString::from(text)));
    // The attachments of a packet count against the limit together with its text.
    let room = MAX - (text.len() - 1);
    sim.ws_send(ws, Frame::Binary(Bytes::from(vec![7u8; room])));
    let events = sim.take_events();
    let [Event::Message { packet, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(packet.attachments[0].len(), room);
    assert!(sim.ws_is_open(ws));
}

#[test]
fn an_upgraded_session_is_bound_too() {
    let mut sim = Sim::new(config());
    let p = polling(&mut sim);
    let socket = sim.socket(p, "/");
    sim.upgrade(p);
    assert_eq!(sim.peer(p).transport, TransportKind::WebSocket);
    sim.take_events();
    let ws = sim.peer(p).ws.unwrap();
    sim.ws_send_text(ws, &event_of_len(MAX + 1));
    assert!(sim.take_events().contains(&Event::Disconnect {
        socket,
        reason: DisconnectReason::PayloadTooLarge
    }));
}
