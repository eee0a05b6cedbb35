//! connectTimeout: a connection that has joined no namespace when it expires is closed.

use sio_core::server::{Event, ServerError};
use sio_tests::{app, body_text, http_error, test_config, PeerOptions, Sim};

#[test]
fn websocket_without_connect_is_closed_at_the_timeout() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer();
    sim.run_until(999);
    assert!(!sim.peer(p).closed);
    assert_eq!(sim.server.engine().session_count(), 1);
    sim.run_until(1000);
    assert!(sim.peer(p).closed);
    assert_eq!(sim.peer(p).ws_closed, [sim.peer(p).ws.unwrap()]);
    assert_eq!(sim.server.engine().session_count(), 0);
    assert!(
        sim.take_events().is_empty(),
        "no socket, no disconnect event"
    );
}

#[test]
fn polling_without_connect_gets_close_on_its_parked_get() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions {
        auto_poll: false,
        ..PeerOptions::default()
    });
    // Answer pings so that only the connect timeout can end the session.
    let mut parked = sim.poll(p);
    while sim.now() < 900 {
        sim.advance_to_next_deadline();
        if sim.response(parked).is_some() {
            parked = sim.poll(p);
        }
    }
    sim.run_until(1000);
    assert_eq!(body_text(sim.response(parked).unwrap()), "1");
    assert_eq!(sim.server.engine().session_count(), 0);
    let req = sim.poll(p);
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
}

#[test]
fn connected_in_time_stays_open() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer();
    sim.run_until(999);
    sim.connect(p, "/", None).unwrap();
    sim.run_until(5000);
    assert!(!sim.peer(p).closed);
}

#[test]
fn leaving_every_namespace_does_not_restart_the_timer() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer();
    sim.connect(p, "/", None).unwrap();
    sim.send_sio_text(p, "1");
    sim.run_until(5000);
    assert!(!sim.peer(p).closed, "as in Node, the timer only runs once");
}

#[test]
fn pending_connect_at_the_timeout_is_closed_and_forgotten() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::manual());
    let p = sim.add_ws_peer();
    sim.send_sio_text(p, "0");
    let events = sim.take_events();
    let [Event::ConnectRequest { id, .. }] = events[..] else {
        panic!("{events:?}")
    };
    sim.run_until(1000);
    assert!(sim.peer(p).closed);
    assert_eq!(
        sim.cmd(|s, now| s.accept(now, id)),
        Err(ServerError::UnknownConnect(id))
    );
}

#[test]
fn rejected_or_invalid_connects_do_not_stop_the_timer() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(app::reject_all("no", None));
    let a = sim.add_ws_peer();
    let b = sim.add_ws_peer();
    sim.run_until(500);
    assert_eq!(sim.connect(a, "/", None), None);
    assert_eq!(sim.connect(b, "/nope", None), None);
    assert_eq!(sim.take_sio_text(a), [r#"4{"message":"no"}"#]);
    assert_eq!(
        sim.take_sio_text(b),
        [r#"4/nope,{"message":"Invalid namespace"}"#]
    );
    sim.run_until(999);
    assert!(!sim.peer(a).closed && !sim.peer(b).closed);
    sim.run_until(1000);
    assert!(sim.peer(a).closed && sim.peer(b).closed);
}

#[test]
fn each_connection_has_its_own_deadline() {
    let mut sim = Sim::new(test_config(1));
    let early = sim.add_ws_peer();
    sim.run_until(400);
    let late = sim.add_ws_peer();
    sim.run_until(1000);
    assert!(sim.peer(early).closed);
    assert!(!sim.peer(late).closed);
    sim.run_until(1399);
    assert!(!sim.peer(late).closed);
    sim.run_until(1400);
    assert!(sim.peer(late).closed);
}
