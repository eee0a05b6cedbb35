//! Namespaces: unknown ones are refused with `Invalid namespace`, dynamic ones reach the
//! application, several share one connection, and leaving one keeps the others.

use sio_core::server::{DisconnectReason, Emit, Event, SocketId, Target};
use sio_tests::{app, test_config, PeerId, Sim};

fn sim_with(namespaces: &[&str]) -> Sim {
    let mut sim = Sim::new(test_config(1));
    for n in namespaces {
        sim.server.add_namespace(n);
    }
    sim
}

fn emit_to(sim: &mut Sim, nsp: &str, data: &str) -> usize {
    let e = Emit::new(data.to_owned());
    sim.cmd(|s, now| s.emit(now, &Target::namespace(nsp), &e))
        .unwrap()
}

fn message_sockets(events: &[Event]) -> Vec<(SocketId, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { socket, packet } => {
                Some((*socket, packet.data.as_deref().unwrap().to_owned()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn unknown_namespace_is_refused_and_the_connection_stays() {
    let mut sim = sim_with(&[]);
    let p = sim.add_ws_peer();
    assert_eq!(sim.connect(p, "/random", Some(r#"{"a":1}"#)), None);
    assert_eq!(
        sim.take_sio_text(p),
        [r#"4/random,{"message":"Invalid namespace"}"#]
    );
    assert!(sim.take_events().is_empty(), "the app is not asked");
    assert!(!sim.server.has_namespace("/random"));
    // The default namespace works on the same connection.
    let s = sim.connect(p, "/", None).unwrap();
    assert_eq!(sim.server.namespace_sockets("/"), [s]);
    assert!(!sim.peer(p).closed);
}

#[test]
fn dynamic_namespaces_reach_the_app() {
    let mut config = test_config(1);
    config.dynamic_namespaces = true;
    let mut sim = Sim::new(config);
    // The app accepts `/dyn-*` and refuses the rest, as a Node regex namespace would.
    sim.set_app(Box::new(|server, now, event| {
        if let Event::ConnectRequest { id, nsp, .. } = event {
            if nsp.starts_with("/dyn-") {
                server.accept(now, *id).unwrap();
            } else {
                server.reject(now, *id, "Invalid namespace", None).unwrap();
            }
        }
    }));
    let p = sim.add_ws_peer();
    assert!(!sim.server.has_namespace("/dyn-1"));
    let s1 = sim.connect(p, "/dyn-1", None).unwrap();
    let s2 = sim.connect(p, "/dyn-2", None).unwrap();
    assert!(sim.server.has_namespace("/dyn-1") && sim.server.has_namespace("/dyn-2"));
    assert_eq!(sim.connect(p, "/other", None), None);
    assert!(!sim.server.has_namespace("/other"));
    let texts = sim.take_sio_text(p);
    assert!(texts[0].starts_with(r#"0/dyn-1,{"sid":""#));
    assert!(texts[1].starts_with(r#"0/dyn-2,{"sid":""#));
    assert_eq!(texts[2], r#"4/other,{"message":"Invalid namespace"}"#);
    assert_eq!(sim.server.namespace_sockets("/dyn-1"), [s1]);
    assert_eq!(sim.server.namespace_sockets("/dyn-2"), [s2]);
    assert_eq!(emit_to(&mut sim, "/dyn-2", r#"["hi"]"#), 1);
    assert_eq!(sim.take_sio_text(p), [r#"2/dyn-2,["hi"]"#]);
}

fn multiplexed(sim: &mut Sim, p: PeerId) -> [SocketId; 3] {
    let root = sim.connect(p, "/", None).unwrap();
    let admin = sim
        .connect(p, "/admin", Some(r#"{"role":"admin"}"#))
        .unwrap();
    let chat = sim.connect(p, "/chat", None).unwrap();
    sim.take_sio(p);
    sim.take_events();
    [root, admin, chat]
}

#[test]
fn several_namespaces_share_one_connection() {
    for websocket in [false, true] {
        let mut sim = sim_with(&["/admin", "/chat"]);
        let p = if websocket {
            sim.add_ws_peer()
        } else {
            sim.add_polling_peer()
        };
        let [root, admin, chat] = multiplexed(&mut sim, p);
        assert_eq!(sim.server.engine().session_count(), 1);
        let sids: Vec<&str> = [root, admin, chat]
            .iter()
            .map(|s| &**sim.server.socket_sid(*s).unwrap())
            .collect();
        assert!(sids[0] != sids[1] && sids[1] != sids[2] && sids[0] != sids[2]);

        // Client → server: each event reaches the socket of its namespace.
        sim.emit(p, "/chat", r#"["c"]"#);
        sim.emit(p, "/", r#"["r"]"#);
        sim.emit(p, "/admin", r#"["a"]"#);
        assert_eq!(
            message_sockets(&sim.take_events()),
            [
                (chat, r#"["c"]"#.into()),
                (root, r#"["r"]"#.into()),
                (admin, r#"["a"]"#.into())
            ]
        );
        // Server → client: tagged with the namespace.
        emit_to(&mut sim, "/admin", r#"["x"]"#);
        emit_to(&mut sim, "/", r#"["y"]"#);
        emit_to(&mut sim, "/chat", r#"["z"]"#);
        assert_eq!(
            sim.take_sio_text(p),
            [r#"2/admin,["x"]"#, r#"2["y"]"#, r#"2/chat,["z"]"#]
        );
    }
}

#[test]
fn client_leaving_one_namespace_keeps_the_others() {
    let mut sim = sim_with(&["/admin", "/chat"]);
    let p = sim.add_ws_peer();
    let [root, admin, chat] = multiplexed(&mut sim, p);
    sim.cmd(|s, _| s.join(admin, "staff")).unwrap();
    let admin_sid = sim.server.socket_sid(admin).unwrap().clone();
    let mut rooms = vec![admin_sid, "staff".into()];
    rooms.sort();
    sim.leave_namespace(p, "/admin");
    assert_eq!(
        sim.take_events(),
        [
            Event::Disconnecting {
                socket: admin,
                reason: DisconnectReason::ClientNamespaceDisconnect,
                rooms,
            },
            Event::Disconnect {
                socket: admin,
                reason: DisconnectReason::ClientNamespaceDisconnect
            }
        ]
    );
    assert!(sim.server.namespace_sockets("/admin").is_empty());
    assert_eq!(emit_to(&mut sim, "/admin", r#"["gone"]"#), 0);
    assert_eq!(emit_to(&mut sim, "/chat", r#"["still"]"#), 1);
    assert_eq!(emit_to(&mut sim, "/", r#"["here"]"#), 1);
    assert_eq!(
        sim.take_sio_text(p),
        [r#"2/chat,["still"]"#, r#"2["here"]"#]
    );
    sim.emit(p, "/chat", r#"["up"]"#);
    assert_eq!(
        message_sockets(&sim.take_events()),
        [(chat, r#"["up"]"#.into())]
    );
    assert_eq!(sim.server.namespace_sockets("/"), [root]);
    assert!(sim.server.namespace_rooms("/admin").is_empty());
    // And may join it again, as a new socket.
    let again = sim.connect(p, "/admin", None).unwrap();
    assert_ne!(again, admin);
}

#[test]
fn server_disconnecting_one_namespace_keeps_the_others() {
    let mut sim = sim_with(&["/admin", "/chat"]);
    let p = sim.add_polling_peer();
    let [root, admin, chat] = multiplexed(&mut sim, p);
    sim.cmd(|s, now| s.disconnect(now, chat, false)).unwrap();
    assert_eq!(sim.take_sio_text(p), ["1/chat,"]);
    let events = sim.take_events();
    assert_eq!(
        events.last(),
        Some(&Event::Disconnect {
            socket: chat,
            reason: DisconnectReason::ServerNamespaceDisconnect
        })
    );
    assert!(!sim.peer(p).closed);
    assert_eq!(emit_to(&mut sim, "/admin", r#"["x"]"#), 1);
    assert_eq!(sim.take_sio_text(p), [r#"2/admin,["x"]"#]);
    assert_eq!(sim.server.namespace_sockets("/"), [root]);
    assert_eq!(sim.server.namespace_sockets("/admin"), [admin]);
}

#[test]
fn server_disconnect_with_close_ends_every_namespace() {
    let mut sim = sim_with(&["/admin", "/chat"]);
    let p = sim.add_ws_peer();
    let sockets = multiplexed(&mut sim, p);
    sim.cmd(|s, now| s.disconnect(now, sockets[1], true))
        .unwrap();
    let mut texts = sim.take_sio_text(p);
    texts.sort();
    assert_eq!(texts, ["1", "1/admin,", "1/chat,"]);
    assert!(sim.peer(p).closed);
    let mut gone: Vec<SocketId> = sim
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect {
                socket,
                reason: DisconnectReason::ServerNamespaceDisconnect,
            } => Some(*socket),
            _ => None,
        })
        .collect();
    gone.sort();
    assert_eq!(gone, sockets);
}

#[test]
fn transport_close_ends_every_namespace_with_the_same_reason() {
    let mut sim = sim_with(&["/admin", "/chat"]);
    let p = sim.add_ws_peer();
    let sockets = multiplexed(&mut sim, p);
    let w = sim.peer(p).ws.unwrap();
    sim.ws_close(w, false);
    let mut gone: Vec<SocketId> = sim
        .take_events()
        .iter()
        .filter_map(|e| match e {
            Event::Disconnect {
                socket,
                reason: DisconnectReason::TransportClose,
            } => Some(*socket),
            _ => None,
        })
        .collect();
    gone.sort();
    assert_eq!(gone, sockets);
    for n in ["/", "/admin", "/chat"] {
        assert!(sim.server.namespace_sockets(n).is_empty());
    }
}

#[test]
fn namespaces_are_isolated_between_clients() {
    let mut sim = sim_with(&["/admin"]);
    sim.set_app(app::accept_all());
    let a = sim.add_ws_peer();
    let b = sim.add_ws_peer();
    sim.connect(a, "/admin", None).unwrap();
    sim.connect(b, "/", None).unwrap();
    sim.take_sio(a);
    sim.take_sio(b);
    emit_to(&mut sim, "/admin", r#"["only a"]"#);
    emit_to(&mut sim, "/", r#"["only b"]"#);
    assert_eq!(sim.take_sio_text(a), [r#"2/admin,["only a"]"#]);
    assert_eq!(sim.take_sio_text(b), [r#"2["only b"]"#]);
}
