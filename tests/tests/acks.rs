//! Acknowledgements: client events with an ack id answered by the application, server
//! `emit_with_ack` answered (AckReceived) or not (AckTimedOut), and binary acks.

use sio_core::server::{Emit, Event, ServerError, SocketId};
use sio_core::socket::PacketType;
use sio_core::{ByteString, Bytes};
use sio_tests::{app, test_config, PeerId, Sim};

fn setup(websocket: bool) -> (Sim, PeerId, SocketId) {
    let mut sim = Sim::new(test_config(1));
    sim.server.add_namespace("/admin");
    let p = if websocket {
        sim.add_ws_peer()
    } else {
        sim.add_polling_peer()
    };
    let s = sim.connect(p, "/", None).unwrap();
    sim.take_sio(p);
    sim.take_events();
    (sim, p, s)
}

#[test]
fn client_ack_ids_are_answered_by_the_app() {
    for websocket in [false, true] {
        let (mut sim, p, socket) = setup(websocket);
        sim.emit_with_ack(p, "/", 1, r#"["hello",1]"#);
        sim.send_sio_text(p, r#"2345["hello",2]"#);
        let events = sim.take_events();
        let ids: Vec<Option<u64>> = events
            .iter()
            .map(|e| match e {
                Event::Message { socket: s, packet } => {
                    assert_eq!(*s, socket);
                    packet.id
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [Some(1), Some(345)]);
        // Answered out of order.
        sim.cmd(|s, now| s.ack(now, socket, 345, r#"["second"]"#.into(), vec![]))
            .unwrap();
        sim.cmd(|s, now| s.ack(now, socket, 1, r#"["first",{"ok":true}]"#.into(), vec![]))
            .unwrap();
        assert_eq!(
            sim.take_sio_text(p),
            [r#"3345["second"]"#, r#"31["first",{"ok":true}]"#]
        );
    }
}

#[test]
fn acks_in_a_namespace_carry_it() {
    let (mut sim, p, _) = setup(true);
    let admin = sim.connect(p, "/admin", None).unwrap();
    sim.take_sio(p);
    sim.take_events();
    sim.send_sio_text(p, r#"2/admin,7["q"]"#);
    let events = sim.take_events();
    assert!(
        matches!(&events[..], [Event::Message { socket, packet }] if *socket == admin && packet.id == Some(7))
    );
    sim.cmd(|s, now| s.ack(now, admin, 7, "[]".into(), vec![]))
        .unwrap();
    assert_eq!(sim.take_sio_text(p), ["3/admin,7[]"]);
}

#[test]
fn echo_app_acks_with_the_event_arguments() {
    let (mut sim, p, _) = setup(false);
    sim.set_app(app::echo());
    sim.send_sio_text(p, r#"29["message-with-ack",1,"2",{"3":[4]}]"#);
    assert_eq!(sim.take_sio_text(p), [r#"39[1,"2",{"3":[4]}]"#]);
}

#[test]
fn ack_misuse_is_an_error() {
    let (mut sim, p, socket) = setup(true);
    assert_eq!(
        sim.cmd(|s, now| s.ack(now, socket, 1, r#"{"not":"array"}"#.into(), vec![])),
        Err(ServerError::InvalidAckData)
    );
    let ghost = SocketId(999);
    assert_eq!(
        sim.cmd(|s, now| s.ack(now, ghost, 1, "[]".into(), vec![])),
        Err(ServerError::UnknownSocket(ghost))
    );
    assert_eq!(
        sim.cmd(|s, now| s.emit_with_ack(now, ghost, &Emit::new(r#"["x"]"#), 100)),
        Err(ServerError::UnknownSocket(ghost))
    );
    assert_eq!(
        sim.cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new("[1,2"), 100)),
        Err(ServerError::InvalidEventData)
    );
    // What a client could not decode is refused here rather than sent.
    for bad in ["[1,", "[] x", r#"[{"_placeholder":true,"num":2}]"#] {
        let attachments = if bad.contains("placeholder") {
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        } else {
            vec![]
        };
        assert_eq!(
            sim.cmd(|s, now| s.ack(now, socket, 1, bad.into(), attachments)),
            Err(ServerError::InvalidAckData),
            "{bad}"
        );
    }
    assert!(sim.take_sio(p).is_empty(), "nothing was sent");
    assert!(!sim.peer(p).closed);
}

#[test]
fn server_emit_with_ack_is_answered() {
    for websocket in [false, true] {
        let (mut sim, p, socket) = setup(websocket);
        let a = sim
            .cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new(r#"["question",1]"#), 500))
            .unwrap();
        let b = sim
            .cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new(r#"["question",2]"#), 500))
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(
            sim.take_sio_text(p),
            [
                format!(r#"2{a}["question",1]"#),
                format!(r#"2{b}["question",2]"#)
            ]
        );
        sim.advance(100);
        sim.ack(p, "/", b, r#"["answer",2]"#);
        sim.ack(p, "/", a, r#"["answer",1]"#);
        let events = sim.take_events();
        let got: Vec<(u64, String)> = events
            .iter()
            .map(|e| match e {
                Event::AckReceived {
                    socket: s,
                    ack,
                    packet,
                } => {
                    assert_eq!(*s, socket);
                    assert_eq!(packet.kind, PacketType::Ack);
                    (*ack, packet.data.as_deref().unwrap().to_owned())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                (b, r#"["answer",2]"#.to_owned()),
                (a, r#"["answer",1]"#.to_owned())
            ]
        );
        // Nothing times out later, and a duplicate ack is ignored.
        sim.send_sio_text(p, &format!(r#"3{a}["again"]"#));
        sim.advance(1000);
        assert!(!sim
            .take_events()
            .iter()
            .any(|e| matches!(e, Event::AckTimedOut { .. } | Event::AckReceived { .. })));
    }
}

#[test]
fn server_emit_with_ack_times_out() {
    let (mut sim, p, socket) = setup(true);
    let a = sim
        .cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new(r#"["q"]"#), 250))
        .unwrap();
    sim.run_until(249);
    assert!(sim.take_events().is_empty());
    sim.run_until(250);
    assert_eq!(sim.take_events(), [Event::AckTimedOut { socket, ack: a }]);
    // A late answer is ignored.
    sim.send_sio_text(p, &format!(r#"3{a}["late"]"#));
    assert!(sim.take_events().is_empty());
    assert!(!sim.peer(p).closed);
}

#[test]
fn unknown_ack_ids_from_the_client_are_ignored() {
    let (mut sim, p, _) = setup(true);
    sim.send_sio_text(p, r#"3999["who?"]"#);
    sim.send_sio_text(p, r#"3["no id"]"#);
    assert!(sim.take_events().is_empty());
    assert!(!sim.peer(p).closed);
}

#[test]
fn pending_acks_end_before_the_disconnect() {
    let (mut sim, p, socket) = setup(true);
    let a = sim
        .cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new(r#"["q"]"#), 10_000))
        .unwrap();
    sim.send_sio_text(p, "1");
    let events = sim.take_events();
    assert!(matches!(events[0], Event::Disconnecting { .. }));
    assert_eq!(events[1], Event::AckTimedOut { socket, ack: a });
    assert!(matches!(events[2], Event::Disconnect { .. }));
    assert_eq!(events.len(), 3);
    sim.run_until(20_000);
    assert!(!sim
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::AckTimedOut { .. })));
}

#[test]
fn binary_acks_both_ways() {
    for websocket in [false, true] {
        let (mut sim, p, socket) = setup(websocket);
        // Server → client: an ack with an attachment.
        sim.send_sio_text(p, r#"24["upload"]"#);
        sim.take_events();
        let data = ByteString::from_static(r#"["stored",{"_placeholder":true,"num":0}]"#);
        sim.cmd(|s, now| {
            s.ack(
                now,
                socket,
                4,
                data.clone(),
                vec![Bytes::from_static(b"\x00\xffreceipt")],
            )
        })
        .unwrap();
        let got = sim.take_sio(p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, PacketType::BinaryAck);
        assert_eq!(got[0].id, Some(4));
        assert_eq!(got[0].data.as_ref(), Some(&data));
        assert_eq!(got[0].attachments, [Bytes::from_static(b"\x00\xffreceipt")]);

        // Client → server: a binary ack of an emit_with_ack.
        let a = sim
            .cmd(|s, now| s.emit_with_ack(now, socket, &Emit::new(r#"["send me bytes"]"#), 500))
            .unwrap();
        let packet = sio_core::socket::Packet::ack(
            "/",
            ByteString::from_static(
                r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
            ),
            a,
            vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")],
        );
        sim.send_sio(p, &packet);
        let events = sim.take_events();
        let [Event::AckReceived {
            ack, packet: got, ..
        }] = &events[..]
        else {
            panic!("{events:?}")
        };
        assert_eq!(*ack, a);
        assert_eq!(got.kind, PacketType::BinaryAck);
        assert_eq!(
            got.attachments,
            [Bytes::from_static(b"one"), Bytes::from_static(b"two")]
        );
    }
}

#[test]
fn client_binary_event_with_ack_id() {
    let (mut sim, p, socket) = setup(true);
    let packet = sio_core::socket::Packet::event(
        "/",
        ByteString::from_static(r#"["file",{"_placeholder":true,"num":0}]"#),
        Some(12),
        vec![Bytes::from_static(b"content")],
    );
    sim.send_sio(p, &packet);
    let events = sim.take_events();
    let [Event::Message { packet: got, .. }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(got.kind, PacketType::BinaryEvent);
    assert_eq!(got.id, Some(12));
    assert_eq!(got.attachments, [Bytes::from_static(b"content")]);
    sim.cmd(|s, now| s.ack(now, socket, 12, "[true]".into(), vec![]))
        .unwrap();
    assert_eq!(sim.take_sio_text(p), ["312[true]"]);
}

#[test]
fn arguments_of_an_event_answer_it_unchanged_binary_included() {
    let (mut sim, p, socket) = setup(true);
    let sent = sio_core::socket::Packet::event(
        "/",
        ByteString::from_static(r#"["up",{"_placeholder":true,"num":0},"x"]"#),
        Some(9),
        vec![Bytes::from_static(&[1, 2, 3])],
    );
    sim.send_sio(p, &sent);
    let packet = match sim.take_events().pop() {
        Some(Event::Message { packet, .. }) => packet,
        other => panic!("{other:?}"),
    };
    let args = sio_core::value::Args::of_event(&packet).unwrap();
    assert_eq!(args.json(), r#"[{"_placeholder":true,"num":0},"x"]"#);
    sim.cmd(|s, now| s.ack_args(now, socket, 9, args)).unwrap();
    let answer = sim.take_sio(p);
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].kind, PacketType::BinaryAck);
    assert_eq!(
        answer[0].data.as_deref(),
        Some(r#"[{"_placeholder":true,"num":0},"x"]"#)
    );
    assert_eq!(answer[0].attachments, [Bytes::from_static(&[1, 2, 3])]);
}

#[test]
fn serialized_data_skips_the_json_check_but_not_reserved_names_or_placeholders() {
    let (mut sim, p, socket) = setup(true);
    let sid = sim.server.socket_sid(socket).unwrap().clone();
    let to = sio_core::server::Target::room("/", &sid);
    // serde wrote it: sent.
    let ok = Emit::from_args("fine", &(1, "two")).unwrap();
    assert!(ok.is_serialized());
    assert_eq!(sim.cmd(|s, now| s.emit(now, &to, &ok)), Ok(1));
    // A reserved name is still refused.
    let reserved = Emit::from_args("connect", &()).unwrap();
    assert!(!reserved.is_serialized());
    assert_eq!(
        sim.cmd(|s, now| s.emit(now, &to, &reserved)),
        Err(ServerError::InvalidEventData)
    );
    // Application data that looks like a placeholder of an attachment that is not there.
    let fake = serde_json::json!({"_placeholder": true, "num": 3});
    let bad = Emit::from_args("bin", &(fake.clone(), Bytes::from_static(b"z"))).unwrap();
    assert_eq!(
        sim.cmd(|s, now| s.emit(now, &to, &bad)),
        Err(ServerError::InvalidEventData)
    );
    let bad_ack = sio_core::value::Args::new(&(fake, Bytes::from_static(b"z"))).unwrap();
    sim.send_sio_text(p, r#"24["q"]"#);
    assert_eq!(
        sim.cmd(|s, now| s.ack_args(now, socket, 4, bad_ack)),
        Err(ServerError::InvalidAckData)
    );
}
