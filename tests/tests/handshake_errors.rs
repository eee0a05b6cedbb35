//! Refused Engine.IO requests: the exact HTTP status, error code and message for a bad
//! protocol version, transport, handshake method or session id.

use sio_core::engine::{HttpResponse, Method, TransportKind};
use sio_core::Bytes;
use sio_tests::{body_text, http_error, test_config, PeerOptions, Sim};

fn http(sim: &mut Sim, method: Method, query: &str) -> HttpResponse {
    let p = sim.add_peer(PeerOptions::manual());
    let req = sim.http(p, method, query, Bytes::new());
    sim.response(req).expect("answered at once").clone()
}

fn err(code: u8, message: &str) -> (u16, u8, String) {
    (400, code, message.to_owned())
}

#[test]
fn bad_protocol_version_is_code_5() {
    let mut sim = Sim::new(test_config(1));
    for q in [
        "transport=polling",
        "EIO=3&transport=polling",
        "EIO=5&transport=polling",
        "EIO=&transport=polling",
        "EIO=four&transport=polling",
    ] {
        let r = http(&mut sim, Method::Get, q);
        assert_eq!(
            http_error(&r),
            err(5, "Unsupported protocol version"),
            "{q}"
        );
    }
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn unknown_transport_is_code_0() {
    let mut sim = Sim::new(test_config(1));
    for q in ["EIO=4", "EIO=4&transport=", "EIO=4&transport=flashsocket"] {
        let r = http(&mut sim, Method::Get, q);
        assert_eq!(http_error(&r), err(0, "Transport unknown"), "{q}");
    }
}

#[test]
fn disabled_transport_is_unknown() {
    let mut config = test_config(1);
    config.engine.allow_polling = false;
    let mut sim = Sim::new(config);
    let r = http(&mut sim, Method::Get, "EIO=4&transport=polling");
    assert_eq!(http_error(&r), err(0, "Transport unknown"));
    // The WebSocket transport still works.
    let p = sim.add_ws_peer();
    assert!(sim.peer(p).sid.is_some());

    let mut config = test_config(1);
    config.engine.allow_websocket = false;
    let mut sim = Sim::new(config);
    let p = sim.add_peer(PeerOptions::manual());
    let r = sim.ws_open(p, "EIO=4&transport=websocket").unwrap_err();
    assert_eq!(http_error(&r), err(0, "Transport unknown"));
    // Nothing to upgrade to: the handshake offers no upgrade.
    let p = sim.add_polling_peer();
    assert!(sim.peer(p).open.as_ref().unwrap().upgrades.is_empty());
}

#[test]
fn handshake_with_another_method_is_code_2() {
    let mut sim = Sim::new(test_config(1));
    for m in [Method::Post, Method::Other] {
        let r = http(&mut sim, m, "EIO=4&transport=polling");
        assert_eq!(http_error(&r), err(2, "Bad handshake method"), "{m:?}");
    }
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn unknown_sid_is_code_1() {
    let mut sim = Sim::new(test_config(1));
    for m in [Method::Get, Method::Post] {
        let r = http(
            &mut sim,
            m,
            "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA",
        );
        assert_eq!(http_error(&r), err(1, "Session ID unknown"), "{m:?}");
    }
    let p = sim.add_peer(PeerOptions::manual());
    let r = sim
        .ws_open(p, "EIO=4&transport=websocket&sid=AAAAAAAAAAAAAAAAAAAA")
        .unwrap_err();
    assert_eq!(http_error(&r), err(1, "Session ID unknown"));
}

#[test]
fn sid_of_a_closed_session_is_unknown() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    let q = sim.peer(p).query(TransportKind::Polling);
    assert_eq!(body_text(&sim.post(p, "1")), "ok");
    // The client's GET sent with its close still gets a `noop` (see tests/tests/close.rs);
    // after it, the sid is unknown.
    let r = http(&mut sim, Method::Get, &q);
    assert_eq!(body_text(&r), "6");
    let r = http(&mut sim, Method::Get, &q);
    assert_eq!(http_error(&r), err(1, "Session ID unknown"));
}

#[test]
fn websocket_transport_over_plain_http_is_code_3() {
    let mut sim = Sim::new(test_config(1));
    let r = http(&mut sim, Method::Get, "EIO=4&transport=websocket");
    assert_eq!(http_error(&r), err(3, "Bad request"));
    // Also with the sid of a polling session.
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    let q = sim.peer(p).query(TransportKind::WebSocket);
    let r = http(&mut sim, Method::Get, &q);
    assert_eq!(http_error(&r), err(3, "Bad request"));
}

#[test]
fn polling_transport_on_a_websocket_upgrade_is_code_3() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_peer(PeerOptions::manual());
    let r = sim.ws_open(p, "EIO=4&transport=polling").unwrap_err();
    assert_eq!(http_error(&r), err(3, "Bad request"));
    let r = sim.ws_open(p, "transport=websocket").unwrap_err();
    assert_eq!(http_error(&r), err(5, "Unsupported protocol version"));
}

#[test]
fn other_method_on_a_session_is_refused_and_keeps_it() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    let q = sim.peer(p).query(TransportKind::Polling);
    let r = http(&mut sim, Method::Other, &q);
    assert_eq!(http_error(&r), err(3, "Bad request"));
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn handshake_answer_is_the_open_packet_with_five_keys() {
    let mut sim = Sim::new(test_config(1));
    let r = http(&mut sim, Method::Get, "EIO=4&transport=polling&t=abc");
    assert_eq!(
        (r.status, r.content_type),
        (200, "text/plain; charset=UTF-8")
    );
    let body = body_text(&r);
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(body.strip_prefix('0').unwrap()).unwrap();
    let keys: Vec<&str> = json.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["pingInterval"], 300);
    assert_eq!(json["pingTimeout"], 200);
    assert_eq!(json["maxPayload"], 1_000_000);
    let sid = json["sid"].as_str().unwrap();
    assert_eq!(sid.len(), 20);
    assert!(sid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    // Over WebSocket, no upgrade is offered.
    let p = sim.add_ws_peer();
    assert!(sim.peer(p).open.as_ref().unwrap().upgrades.is_empty());
    assert_ne!(sim.peer(p).sid.as_deref(), Some(sid));
}

#[test]
fn a_refused_request_does_not_disturb_other_sessions() {
    let mut sim = Sim::new(test_config(1));
    let a = sim.add_polling_peer();
    sim.connect(a, "/", None).unwrap();
    for q in ["EIO=3&transport=polling", "EIO=4&transport=x", "EIO=4"] {
        http(&mut sim, Method::Get, q);
        http(&mut sim, Method::Post, q);
    }
    http(&mut sim, Method::Get, "EIO=4&transport=polling&sid=nope");
    assert_eq!(sim.server.engine().session_count(), 1);
    sim.emit(a, "/", r#"["still","here"]"#);
    assert!(sim
        .take_events()
        .iter()
        .any(|e| matches!(e, sio_core::server::Event::Message { .. })));
}
