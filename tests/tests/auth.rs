//! CONNECT with auth: the auth object reaches the application together with the handshake
//! (query, headers, address); accepting answers `0{"sid":..}`, refusing answers
//! CONNECT_ERROR with the message and data.

use sio_core::server::{DisconnectReason, Event, Handshake, ServerError};
use sio_tests::{app, test_config, PeerOptions, Sim};

fn options() -> PeerOptions {
    PeerOptions {
        query: "token=q1&lang=fr".into(),
        handshake: Handshake {
            headers: [("user-agent", "sim/1"), ("cookie", "a=b")]
                .into_iter()
                .collect(),
            remote_addr: Some("10.0.0.7:5000".into()),
            ..Handshake::default()
        },
        ..PeerOptions::default()
    }
}

fn connect_request(sim: &mut Sim) -> (sio_core::server::ConnectId, String, Option<String>) {
    let events = sim.take_events();
    let [Event::ConnectRequest { id, nsp, auth, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    (*id, nsp.to_string(), auth.as_ref().map(|a| a.to_string()))
}

#[test]
fn auth_and_handshake_reach_the_app_over_polling_and_websocket() {
    for websocket in [false, true] {
        let mut sim = Sim::new(test_config(1));
        sim.set_app(app::manual());
        sim.advance(42);
        let p = if websocket {
            sim.add_ws_peer_with(options())
        } else {
            sim.add_polling_peer_with(options())
        };
        sim.advance(10);
        sim.send_sio_text(p, r#"0{"token":"abc","n":[1,2]}"#);
        let (id, nsp, auth) = connect_request(&mut sim);
        assert_eq!(nsp, "/");
        assert_eq!(auth.as_deref(), Some(r#"{"token":"abc","n":[1,2]}"#));
        let (nsp, auth, hs) = sim.server.connect_request(id).unwrap();
        assert_eq!(&**nsp, "/");
        assert_eq!(auth.map(|a| &**a), Some(r#"{"token":"abc","n":[1,2]}"#));
        let transport = if websocket { "websocket" } else { "polling" };
        assert_eq!(
            hs.query,
            format!("EIO=4&transport={transport}&token=q1&lang=fr")
        );
        assert_eq!(hs.headers, options().handshake.headers);
        assert_eq!(hs.remote_addr.as_deref(), Some("10.0.0.7:5000"));
        assert_eq!(hs.time, 42, "the time of the handshake, not of the CONNECT");

        let socket = sim.cmd(|s, now| s.accept(now, id)).unwrap();
        let sid = sim.server.socket_sid(socket).unwrap().to_string();
        assert_eq!(sid.len(), 20);
        assert_ne!(Some(&sid), sim.peer(p).sid.as_ref(), "not the engine sid");
        assert_eq!(sim.take_sio_text(p), [format!(r#"0{{"sid":"{sid}"}}"#)]);
        assert_eq!(
            sim.server.socket_handshake(socket).unwrap().query,
            hs_query(websocket)
        );
        // Answered: the request is gone.
        assert!(sim.server.connect_request(id).is_none());
        assert_eq!(
            sim.cmd(|s, now| s.accept(now, id)),
            Err(ServerError::UnknownConnect(id))
        );
    }
}

fn hs_query(websocket: bool) -> String {
    let t = if websocket { "websocket" } else { "polling" };
    format!("EIO=4&transport={t}&token=q1&lang=fr")
}

#[test]
fn later_requests_do_not_change_the_handshake() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::manual());
    let p = sim.add_polling_peer_with(PeerOptions {
        auto_poll: false,
        ..options()
    });
    sim.peer_mut(p).options.handshake.headers = [("user-agent", "other")].into_iter().collect();
    sim.poll(p);
    sim.send_sio_text(p, "0");
    let (id, _, auth) = connect_request(&mut sim);
    assert_eq!(auth, None);
    let hs = sim.server.connect_request(id).unwrap().2;
    assert_eq!(hs.headers, options().handshake.headers);
}

#[test]
fn reject_with_message_and_data() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::manual());
    let p = sim.add_ws_peer();
    sim.send_sio_text(p, r#"0{"token":"bad"}"#);
    let (id, _, _) = connect_request(&mut sim);
    let data =
        serde_json::value::RawValue::from_string(r#"{"code":42,"retry":false}"#.into()).unwrap();
    sim.cmd(|s, now| s.reject(now, id, "Not authorized", Some(&data)))
        .unwrap();
    assert_eq!(
        sim.take_sio_text(p),
        [r#"4{"message":"Not authorized","data":{"code":42,"retry":false}}"#]
    );
    assert_eq!(sim.try_socket(p, "/"), None);
    assert!(sim.server.namespace_sockets("/").is_empty());
    assert_eq!(
        sim.cmd(|s, now| s.reject(now, id, "again", None)),
        Err(ServerError::UnknownConnect(id))
    );
    // The connection stays; the client may try again and be accepted.
    sim.send_sio_text(p, r#"0{"token":"good"}"#);
    let (id, _, auth) = connect_request(&mut sim);
    assert_eq!(auth.as_deref(), Some(r#"{"token":"good"}"#));
    sim.cmd(|s, now| s.accept(now, id)).unwrap();
    assert!(sim.try_socket(p, "/").is_some());
}

#[test]
fn reject_without_data_and_in_a_namespace() {
    let mut sim = Sim::new(test_config(1));
    sim.server.add_namespace("/admin");
    sim.set_app(app::reject_all("nope \"quoted\"", None));
    let p = sim.add_ws_peer();
    assert_eq!(sim.connect(p, "/admin", Some(r#"{"x":1}"#)), None);
    assert_eq!(
        sim.take_sio_text(p),
        [r#"4/admin,{"message":"nope \"quoted\""}"#]
    );
}

#[test]
fn decision_may_come_later() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::manual());
    let p = sim.add_ws_peer();
    sim.send_sio_text(p, "0");
    let (id, _, _) = connect_request(&mut sim);
    sim.advance(500);
    assert!(sim.take_sio(p).is_empty(), "no answer before the decision");
    sim.cmd(|s, now| s.accept(now, id)).unwrap();
    assert_eq!(sim.take_sio(p).len(), 1);
}

#[test]
fn client_leaving_before_the_decision_cancels_it() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::manual());
    let p = sim.add_ws_peer();
    sim.send_sio_text(p, "0");
    let (id, _, _) = connect_request(&mut sim);
    sim.send_sio_text(p, "1");
    assert_eq!(
        sim.cmd(|s, now| s.accept(now, id)),
        Err(ServerError::UnknownConnect(id))
    );
    let w = sim.peer(p).ws.unwrap();
    sim.ws_close(w, false);
    assert!(sim.take_events().is_empty());
}

#[test]
fn auth_that_is_not_an_object_is_a_parse_error() {
    let mut sim = Sim::new(test_config(1));
    let ok = sim.add_ws_peer();
    let ok_socket = sim.connect(ok, "/", None).unwrap();
    sim.take_events();
    for bad in [r#"0"token""#, "0[1]", "0true", "0{", r#"0{"a":1}x"#] {
        let p = sim.add_ws_peer();
        sim.send_sio_text(p, bad);
        assert!(sim.peer(p).closed, "{bad}");
        assert!(
            !sim.take_events()
                .iter()
                .any(|e| matches!(e, Event::ConnectRequest { .. })),
            "{bad}"
        );
    }
    assert_eq!(sim.server.namespace_sockets("/"), [ok_socket]);
    assert_eq!(DisconnectReason::ParseError.as_str(), "parse error");
}
