//! Overlapping polls: a second GET while one is parked is refused with 400, the parked one
//! is answered with `close`, and the session ends with a transport error. Other sessions
//! are not affected.

use sio_core::engine::{Method, TransportKind};
use sio_core::server::{DisconnectReason, Emit, Event, Target};
use sio_core::Bytes;
use sio_tests::{body_text, http_error, test_config, PeerOptions, Sim};

#[test]
fn second_get_is_400_and_closes_the_session() {
    let mut sim = Sim::new(test_config(1));
    let bystander = sim.add_polling_peer();
    sim.connect(bystander, "/", None).unwrap();
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    let socket = sim.socket(p, "/");
    sim.take_events();

    let first = sim.poll(p);
    assert_eq!(sim.response(first), None);
    let second = sim.poll(p);
    assert_eq!(
        http_error(sim.response(second).unwrap()),
        (400, 3, "Bad request".into())
    );
    assert_eq!(body_text(sim.response(first).unwrap()), "1");
    assert!(sim.peer(p).closed);
    assert_eq!(
        sim.take_events(),
        [
            Event::Disconnecting {
                socket,
                reason: DisconnectReason::TransportError,
                rooms: vec![sim.peer(p).sids["/"].as_str().into()],
            },
            Event::Disconnect {
                socket,
                reason: DisconnectReason::TransportError
            }
        ]
    );
    // The session is gone.
    let q = sim.peer(p).query(TransportKind::Polling);
    let req = sim.http(p, Method::Get, &q, Bytes::new());
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);
    let req = sim.http(p, Method::Post, &q, Bytes::from_static(b"42[\"x\"]"));
    assert_eq!(http_error(sim.response(req).unwrap()).1, 1);

    // The other session goes on.
    assert_eq!(sim.server.engine().session_count(), 1);
    let n = sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &Emit::new(r#"["x"]"#)));
    assert_eq!(n, Ok(1));
    assert_eq!(sim.take_sio_text(bystander).last().unwrap(), r#"2["x"]"#);
}

#[test]
fn sequential_gets_are_fine() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    for i in 0..10 {
        let req = sim.poll(p);
        if i == 0 {
            assert!(sim.response(req).is_some(), "the CONNECT answer");
            continue;
        }
        assert_eq!(sim.response(req), None);
        sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &Emit::new(r#"["t"]"#)))
            .unwrap();
        assert_eq!(body_text(sim.response(req).unwrap()), r#"42["t"]"#);
    }
    assert_eq!(sim.server.engine().session_count(), 1);
}

#[test]
fn a_get_with_queued_data_answered_at_once_does_not_overlap() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    // Two GETs in a row, each answered before the next: no overlap.
    let a = sim.poll(p);
    assert!(sim.response(a).is_some());
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &Emit::new(r#"["t"]"#)))
        .unwrap();
    let b = sim.poll(p);
    assert_eq!(body_text(sim.response(b).unwrap()), r#"42["t"]"#);
    let c = sim.poll(p);
    assert_eq!(sim.response(c), None);
    assert_eq!(sim.server.engine().session_count(), 1);
}
