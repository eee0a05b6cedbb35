//! HTTP long-polling: a GET waits (is parked) until there is something to send, a POST is
//! answered `ok`, a payload carries several packets joined by `\x1e`, binary data travels as
//! `b` + base64.

use sio_core::engine::{Packet, TransportKind};
use sio_core::server::{Emit, Event, Target};
use sio_core::{ByteString, Bytes};
use sio_tests::{body_text, test_config, PeerOptions, Sim};

fn manual_peer(sim: &mut Sim) -> sio_tests::PeerId {
    let p = sim.add_polling_peer_with(PeerOptions::manual());
    // CONNECT over a POST; the answer is waiting for the next GET.
    sim.send_sio_text(p, "0");
    let req = sim.poll(p);
    assert_eq!(sim.response(req).map(|r| r.status), Some(200));
    let sid = sim.peer(p).sids["/"].clone();
    assert_eq!(
        body_text(sim.response(req).unwrap()),
        format!(r#"40{{"sid":"{sid}"}}"#)
    );
    sim.take_events();
    sim.take_sio(p);
    p
}

#[test]
fn parked_get_is_answered_by_a_later_emit() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    let req = sim.poll(p);
    assert_eq!(
        sim.response(req),
        None,
        "nothing to send: the GET is parked"
    );
    sim.advance(100);
    assert_eq!(sim.response(req), None);
    let sent = sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &Emit::new(r#"["x",1]"#)));
    assert_eq!(sent, Ok(1));
    let r = sim.response(req).expect("answered by the emit");
    assert_eq!(
        (r.status, r.content_type),
        (200, "text/plain; charset=UTF-8")
    );
    assert_eq!(body_text(r), r#"42["x",1]"#);
    assert_eq!(sim.peer(p).parked, None);
}

#[test]
fn post_is_answered_ok_and_delivers_the_event() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    let socket = sim.socket(p, "/");
    let r = sim.send_sio_text(p, r#"2["hello","world"]"#).unwrap();
    assert_eq!((r.status, r.content_type), (200, "text/html"));
    assert_eq!(body_text(&r), "ok");
    let events = sim.take_events();
    assert_eq!(events.len(), 1);
    let Event::Message { socket: s, packet } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(*s, socket);
    assert_eq!(packet.event_name().as_deref(), Some("hello"));
    assert_eq!(packet.data.as_deref(), Some(r#"["hello","world"]"#));
    assert_eq!(packet.id, None);
}

#[test]
fn several_packets_in_one_post_arrive_in_order() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    let r = sim.post(p, "42[\"a\"]\x1e42[\"b\",1]\x1e3\x1e42[\"c\"]");
    assert_eq!(body_text(&r), "ok");
    let names: Vec<String> = sim
        .take_events()
        .iter()
        .map(|e| match e {
            Event::Message { packet, .. } => packet.event_name().unwrap().into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn packets_queued_without_a_get_come_in_one_payload() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    for i in 0..3 {
        sim.cmd(|s, now| {
            s.emit(
                now,
                &Target::namespace("/"),
                &Emit::new(format!(r#"["n",{i}]"#)),
            )
        })
        .unwrap();
    }
    let req = sim.poll(p);
    assert_eq!(
        body_text(sim.response(req).unwrap()),
        "42[\"n\",0]\x1e42[\"n\",1]\x1e42[\"n\",2]"
    );
    // The queue was emptied: the next GET is parked.
    let req = sim.poll(p);
    assert_eq!(sim.response(req), None);
}

#[test]
fn binary_from_the_server_is_base64_in_the_payload() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    let emit = Emit::new(ByteString::from_static(
        r#"["file",{"_placeholder":true,"num":0}]"#,
    ))
    .with_attachments(vec![Bytes::from_static(&[1, 2, 3, 4])]);
    sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &emit))
        .unwrap();
    let req = sim.poll(p);
    assert_eq!(
        body_text(sim.response(req).unwrap()),
        "451-[\"file\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA=="
    );
    let got = sim.take_sio(p);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attachments, [Bytes::from_static(&[1, 2, 3, 4])]);
}

#[test]
fn binary_from_the_client_is_decoded_from_base64() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    let body = "452-[\"up\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]\x1ebAQIDBA==\x1ebBQY";
    assert_eq!(body_text(&sim.post(p, body)), "ok");
    let events = sim.take_events();
    let [Event::Message { packet, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        packet.attachments,
        [
            Bytes::from_static(&[1, 2, 3, 4]),
            Bytes::from_static(&[5, 6])
        ]
    );
    // Attachments may also come in later POSTs.
    sim.post(p, "451-[\"up2\",{\"_placeholder\":true,\"num\":0}]");
    assert!(sim.take_events().is_empty(), "waiting for the attachment");
    sim.post(p, "bAA==");
    let events = sim.take_events();
    let [Event::Message { packet, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(packet.event_name().as_deref(), Some("up2"));
    assert_eq!(packet.attachments, [Bytes::from_static(&[0])]);
}

#[test]
fn echo_round_trip_with_an_automatic_poller() {
    let mut sim = Sim::new(test_config(1));
    sim.set_app(sio_tests::app::echo());
    let p = sim.add_polling_peer();
    sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    for i in 0..5 {
        sim.emit(p, "/", &format!(r#"["ping",{i}]"#));
        assert_eq!(sim.take_sio_text(p), [format!(r#"2["ping",{i}]"#)]);
    }
    assert_eq!(sim.peer(p).transport, TransportKind::Polling);
    assert!(sim.peer(p).parked.is_some(), "the poller waits again");
}

#[test]
fn malformed_payload_is_400_and_closes() {
    let mut sim = Sim::new(test_config(1));
    for body in [&b""[..], b"\x1e", b"4a\x1e", b"9", b"b!!", b"4\xff"] {
        let p = manual_peer(&mut sim);
        let socket = sim.socket(p, "/");
        let r = sim.post(p, Bytes::copy_from_slice(body));
        assert_eq!(
            sio_tests::http_error(&r),
            (400, 3, "Bad request".into()),
            "{body:?}"
        );
        let events = sim.take_events();
        assert!(
            events.contains(&Event::Disconnect {
                socket,
                reason: sio_core::server::DisconnectReason::ParseError
            }),
            "{body:?}: {events:?}"
        );
    }
    assert_eq!(sim.server.engine().session_count(), 0);
}

#[test]
fn client_ping_is_answered_with_pong() {
    let mut sim = Sim::new(test_config(1));
    let p = manual_peer(&mut sim);
    sim.send_eio(p, &[Packet::Ping(ByteString::from_static("x"))]);
    sim.poll(p);
    assert_eq!(
        sim.take_eio(p).last(),
        Some(&Packet::Pong(ByteString::from_static("x")))
    );
}
