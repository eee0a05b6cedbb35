//! Volatile events are dropped for a recipient whose transport cannot take them at once (a
//! polling client without a parked GET, a connection in the middle of an upgrade) and
//! delivered otherwise.

use sio_core::server::{Emit, Event, Target};
use sio_tests::{body_text, test_config, PeerId, PeerOptions, Sim};

fn volatile(sim: &mut Sim, target: &Target, data: &str) -> usize {
    let e = Emit::new(data.to_owned()).volatile();
    sim.cmd(|s, now| s.emit(now, target, &e)).unwrap()
}

fn manual_polling(sim: &mut Sim) -> PeerId {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    sim.send_sio_text(p, "0");
    sim.poll(p);
    sim.take_sio(p);
    p
}

#[test]
fn dropped_for_polling_without_a_parked_get() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_polling(&mut sim);
    assert_eq!(
        volatile(&mut sim, &Target::namespace("/"), r#"["lost"]"#),
        0
    );
    // A regular emit still queues.
    let e = Emit::new(r#"["kept"]"#);
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap();
    let req = sim.poll(p);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["kept"]"#);
}

#[test]
fn delivered_to_polling_with_a_parked_get() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_polling(&mut sim);
    let req = sim.poll(p);
    assert_eq!(volatile(&mut sim, &Target::namespace("/"), r#"["now"]"#), 1);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["now"]"#);
    // The GET was used up: the next volatile emit is dropped.
    assert_eq!(
        volatile(&mut sim, &Target::namespace("/"), r#"["again"]"#),
        0
    );
}

#[test]
fn delivered_on_websocket() {
    let mut sim = Sim::new(test_config(1));
    let p = sim.add_ws_peer_with(PeerOptions::manual());
    sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    for i in 0..3 {
        assert_eq!(
            volatile(&mut sim, &Target::namespace("/"), &format!(r#"["v",{i}]"#)),
            1
        );
    }
    assert_eq!(
        sim.take_sio_text(p),
        [r#"2["v",0]"#, r#"2["v",1]"#, r#"2["v",2]"#]
    );
}

#[test]
fn mixed_recipients_get_what_their_transport_allows() {
    let mut sim = Sim::new(test_config(1));
    let ws = sim.add_ws_peer();
    sim.connect(ws, "/", None).unwrap();
    let idle = manual_polling(&mut sim);
    let waiting = manual_polling(&mut sim);
    let req = sim.poll(waiting);
    sim.take_sio(ws);
    assert_eq!(
        volatile(&mut sim, &Target::namespace("/"), r#"["tick"]"#),
        2
    );
    assert_eq!(sim.take_sio_text(ws), [r#"2["tick"]"#]);
    assert_eq!(body_text(sim.response(req).unwrap()), r#"42["tick"]"#);
    let req = sim.poll(idle);
    assert_eq!(
        sim.response(req),
        None,
        "nothing was queued for the idle poller"
    );
}

#[test]
fn dropped_during_an_upgrade_then_delivered_on_the_websocket() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_polling(&mut sim);
    sim.poll(p);
    sim.start_upgrade(p).unwrap();
    assert_eq!(volatile(&mut sim, &Target::namespace("/"), r#"["mid"]"#), 0);
    sim.send_probe(p);
    assert_eq!(
        volatile(&mut sim, &Target::namespace("/"), r#"["mid2"]"#),
        0
    );
    sim.finish_upgrade(p);
    assert_eq!(
        volatile(&mut sim, &Target::namespace("/"), r#"["after"]"#),
        1
    );
    assert_eq!(sim.take_sio_text(p), [r#"2["after"]"#]);
}

#[test]
fn volatile_emit_with_ack_that_is_dropped_times_out() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_polling(&mut sim);
    let socket = sim.socket(p, "/");
    sim.take_events();
    let e = Emit::new(r#"["q"]"#).volatile();
    let ack = sim
        .cmd(|s, now| s.emit_with_ack(now, socket, &e, 50))
        .unwrap();
    sim.advance(50);
    assert_eq!(sim.take_events(), [Event::AckTimedOut { socket, ack }]);
    // A volatile broadcast with ack does not wait for the socket that could not take it.
    let id = sim
        .cmd(|s, now| s.broadcast_with_ack(now, &Target::namespace("/"), &e, 1000))
        .unwrap();
    assert_eq!(
        sim.take_events(),
        [Event::BroadcastAck {
            id,
            responses: vec![],
            timed_out: false
        }]
    );
}
