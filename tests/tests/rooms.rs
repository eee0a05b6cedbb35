//! Rooms and broadcast targets: join/leave, the union of rooms, excepted rooms and sockets,
//! everyone but the sender, the whole namespace, a socket's own room, leaving every room on
//! disconnect. Every recipient gets the packet exactly once, and a broadcast is encoded once:
//! all WebSocket recipients share one buffer.

use std::collections::BTreeSet;

use sio_core::engine::Frame;
use sio_core::server::{Emit, SocketId, Target};
use sio_tests::{test_config, PeerId, Sim};

struct Room {
    sim: Sim,
    peers: Vec<(PeerId, SocketId)>,
}

/// Six clients (WebSocket and polling alternately) in `/`, plus one in `/other`.
fn setup() -> Room {
    let mut sim = Sim::new(test_config(3));
    sim.server.add_namespace("/other");
    let mut peers = Vec::new();
    for i in 0..6 {
        let p = if i % 2 == 0 {
            sim.add_ws_peer()
        } else {
            sim.add_polling_peer()
        };
        let s = sim.connect(p, "/", None).unwrap();
        peers.push((p, s));
    }
    let o = sim.add_ws_peer();
    let os = sim.connect(o, "/other", None).unwrap();
    peers.push((o, os));
    for (p, _) in &peers {
        sim.take_sio(*p);
    }
    Room { sim, peers }
}

impl Room {
    fn join(&mut self, i: usize, room: &str) {
        let s = self.peers[i].1;
        self.sim.cmd(|srv, _| srv.join(s, room)).unwrap();
    }

    fn leave(&mut self, i: usize, room: &str) {
        let s = self.peers[i].1;
        self.sim.cmd(|srv, _| srv.leave(s, room)).unwrap();
    }

    /// Emit to `target` and return the indexes of the peers that received it, checking
    /// that each got it exactly once.
    fn reach(&mut self, target: &Target) -> Vec<usize> {
        let e = Emit::new(r#"["r"]"#);
        let n = self.sim.cmd(|s, now| s.emit(now, target, &e)).unwrap();
        let mut got = Vec::new();
        for (i, (p, _)) in self.peers.clone().into_iter().enumerate() {
            let texts = self.sim.take_sio_text(p);
            let nsp_prefix = if &*target.nsp == "/" {
                String::new()
            } else {
                format!("{},", target.nsp)
            };
            match texts.len() {
                0 => {}
                1 => {
                    assert_eq!(texts[0], format!(r#"2{nsp_prefix}["r"]"#));
                    got.push(i);
                }
                _ => panic!("peer {i} got {texts:?}"),
            }
        }
        assert_eq!(n, got.len(), "emit counts its recipients");
        let expected: Vec<usize> = self
            .sim
            .server
            .recipients(target)
            .unwrap()
            .iter()
            .map(|s| self.peers.iter().position(|(_, x)| x == s).unwrap())
            .collect();
        assert_eq!(got, expected, "recipients() agrees with the delivery");
        got
    }

    fn sid(&self, i: usize) -> String {
        self.sim
            .server
            .socket_sid(self.peers[i].1)
            .unwrap()
            .to_string()
    }
}

#[test]
fn join_and_leave() {
    let mut r = setup();
    r.join(0, "a");
    r.join(2, "a");
    r.join(2, "a"); // twice is once
    assert_eq!(r.reach(&Target::room("/", "a")), [0, 2]);
    r.leave(2, "a");
    r.leave(2, "a"); // leaving a room one is not in is fine
    r.leave(4, "never");
    assert_eq!(r.reach(&Target::room("/", "a")), [0]);
    r.leave(0, "a");
    assert_eq!(r.reach(&Target::room("/", "a")), Vec::<usize>::new());
    assert!(!r.sim.server.namespace_rooms("/").iter().any(|x| x == "a"));
}

#[test]
fn socket_rooms_include_its_own_id() {
    let mut r = setup();
    r.join(1, "z");
    let rooms: Vec<String> = r
        .sim
        .server
        .socket_rooms(r.peers[1].1)
        .unwrap()
        .map(|x| x.to_string())
        .collect();
    let mut expected = vec![r.sid(1), "z".to_owned()];
    expected.sort();
    assert_eq!(rooms, expected);
    let sid = r.sid(3);
    assert_eq!(r.reach(&Target::room("/", &sid)), [3]);
}

#[test]
fn leaving_and_joining_the_own_room() {
    let mut r = setup();
    let sid = r.sid(3);
    let listed = |r: &Room, room: &str| r.sim.server.namespace_rooms("/").iter().any(|x| x == room);
    assert!(listed(&r, &sid));
    // Left (Node allows it), the room is gone: emitting to it reaches nobody, excepting it
    // excepts nobody.
    r.leave(3, &sid);
    assert_eq!(r.reach(&Target::room("/", &sid)), Vec::<usize>::new());
    assert_eq!(
        r.reach(&Target::namespace("/").except(&sid)),
        [0, 1, 2, 3, 4, 5]
    );
    assert!(!listed(&r, &sid));
    assert!(!r
        .sim
        .server
        .socket_rooms(r.peers[3].1)
        .unwrap()
        .any(|x| *x == *sid));
    // Another socket may join it; then it comes back to its own.
    r.join(1, &sid);
    assert_eq!(r.reach(&Target::room("/", &sid)), [1]);
    r.join(3, &sid);
    assert_eq!(r.reach(&Target::room("/", &sid)), [1, 3]);
    assert_eq!(r.reach(&Target::namespace("/").except(&sid)), [0, 2, 4, 5]);
    r.leave(1, &sid);
    assert_eq!(r.reach(&Target::room("/", &sid)), [3]);
    assert!(listed(&r, &sid));
    // A socket's own room is in its namespace only.
    assert_eq!(r.reach(&Target::room("/other", &sid)), Vec::<usize>::new());
    let other = r.sid(6);
    assert_eq!(r.reach(&Target::room("/", &other)), Vec::<usize>::new());
    assert_eq!(r.reach(&Target::room("/other", &other)), [6]);
}

#[test]
fn union_of_rooms_reaches_each_member_once() {
    let mut r = setup();
    for (i, room) in [(0, "a"), (1, "a"), (1, "b"), (2, "b"), (3, "c"), (1, "c")] {
        r.join(i, room);
    }
    assert_eq!(r.reach(&Target::room("/", "a").to("b")), [0, 1, 2]);
    assert_eq!(
        r.reach(&Target::room("/", "a").to("b").to("c")),
        [0, 1, 2, 3]
    );
    assert_eq!(r.reach(&Target::room("/", "a").to("a")), [0, 1]);
    assert_eq!(r.reach(&Target::room("/", "a").to("nobody")), [0, 1]);
}

#[test]
fn except_rooms_and_sockets() {
    let mut r = setup();
    for (i, room) in [(0, "a"), (1, "a"), (2, "a"), (1, "vip"), (4, "vip")] {
        r.join(i, room);
    }
    assert_eq!(r.reach(&Target::room("/", "a").except("vip")), [0, 2]);
    assert_eq!(r.reach(&Target::namespace("/").except("vip")), [0, 2, 3, 5]);
    assert_eq!(
        r.reach(&Target::namespace("/").except("a").except("vip")),
        [3, 5]
    );
    let s2 = r.peers[2].1;
    let s3 = r.peers[3].1;
    assert_eq!(r.reach(&Target::room("/", "a").except_socket(s2)), [0, 1]);
    assert_eq!(
        r.reach(
            &Target::namespace("/")
                .except("vip")
                .except_socket(s2)
                .except_socket(s3)
        ),
        [0, 5]
    );
    // Excepting a socket's own id room excepts that socket.
    let sid = r.sid(5);
    assert_eq!(
        r.reach(&Target::namespace("/").except(&sid)),
        [0, 1, 2, 3, 4]
    );
}

#[test]
fn everyone_but_the_sender() {
    let mut r = setup();
    let sender = r.peers[3].1;
    assert_eq!(
        r.reach(&Target::namespace("/").except_socket(sender)),
        [0, 1, 2, 4, 5]
    );
    r.join(3, "room");
    r.join(4, "room");
    assert_eq!(
        r.reach(&Target::room("/", "room").except_socket(sender)),
        [4]
    );
}

#[test]
fn whole_namespace_and_other_namespaces() {
    let mut r = setup();
    assert_eq!(r.reach(&Target::namespace("/")), [0, 1, 2, 3, 4, 5]);
    assert_eq!(r.reach(&Target::namespace("/other")), [6]);
    // Rooms are per namespace.
    r.join(6, "a");
    r.join(0, "a");
    assert_eq!(r.reach(&Target::room("/other", "a")), [6]);
    assert_eq!(r.reach(&Target::room("/", "a")), [0]);
    assert!(r
        .sim
        .server
        .recipients(&Target::namespace("/nope"))
        .is_err());
}

#[test]
fn disconnect_leaves_every_room() {
    let mut r = setup();
    for room in ["a", "b", "c"] {
        r.join(2, room);
        r.join(4, room);
    }
    let sid2 = r.sid(2);
    let s2 = r.peers[2].1;
    let ws = r.sim.peer(r.peers[2].0).ws.unwrap();
    r.sim.ws_close(ws, false);
    assert!(r.sim.server.socket_rooms(s2).is_none());
    for room in ["a", "b", "c"] {
        assert_eq!(r.reach(&Target::room("/", room)), [4]);
    }
    assert_eq!(r.reach(&Target::room("/", &sid2)), Vec::<usize>::new());
    assert!(!r
        .sim
        .server
        .namespace_rooms("/")
        .iter()
        .any(|x| **x == *sid2));
    // Rooms emptied by departures disappear.
    r.leave(4, "a");
    let rooms: BTreeSet<String> = r
        .sim
        .server
        .namespace_rooms("/")
        .iter()
        .map(|x| x.to_string())
        .collect();
    assert!(!rooms.contains("a"));
    assert!(rooms.contains("b"));
}

#[test]
fn broadcast_is_encoded_once_and_shared() {
    let mut r = setup();
    let e = Emit::new(r#"["shared",{"big":"payload"}]"#);
    r.sim
        .cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap();
    let ws_peers = [0usize, 2, 4];
    let ptrs: Vec<*const u8> = ws_peers
        .iter()
        .map(|i| {
            let p = r.peers[*i].0;
            let (_, frame) = r.sim.peer(p).ws_frames.last().unwrap().clone();
            let Frame::Text(text) = frame else {
                panic!("text frame expected")
            };
            assert_eq!(&*text, r#"42["shared",{"big":"payload"}]"#);
            text.as_ptr()
        })
        .collect();
    assert!(
        ptrs.iter().all(|p| *p == ptrs[0]),
        "every recipient shares one buffer: {ptrs:?}"
    );
    // A second broadcast is a new buffer.
    r.sim
        .cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap();
    let p = r.peers[0].0;
    let Frame::Text(again) = r.sim.peer(p).ws_frames.last().unwrap().1.clone() else {
        panic!()
    };
    assert_ne!(again.as_ptr(), ptrs[0]);
}

#[test]
fn binary_broadcast_shares_the_attachments_too() {
    let mut r = setup();
    let att = sio_core::Bytes::from(vec![9u8; 64]);
    let e =
        Emit::new(r#"["bin",{"_placeholder":true,"num":0}]"#).with_attachments(vec![att.clone()]);
    r.sim
        .cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .unwrap();
    for i in [0usize, 2, 4] {
        let p = r.peers[i].0;
        let frames = &r.sim.peer(p).ws_frames;
        let (_, Frame::Binary(b)) = &frames[frames.len() - 1] else {
            panic!("attachment last")
        };
        assert_eq!(b.as_ptr(), att.as_ptr(), "the attachment is not copied");
    }
}

#[test]
fn misuse_is_an_error() {
    let mut r = setup();
    let ghost = SocketId(12345);
    assert!(r.sim.server.join(ghost, "a").is_err());
    assert!(r.sim.server.leave(ghost, "a").is_err());
    // Data a client could not decode is refused, not sent to every recipient.
    let bad = [
        r#"{"not":"an array"}"#,
        "[]",
        r#"["x""#,
        r#"["x"] trailing"#,
        r#"["connect"]"#,
        r#"["disconnect",1]"#,
        r#"[true]"#,
    ];
    for data in bad {
        let e = Emit::new(data);
        assert_eq!(
            r.sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e)),
            Err(sio_core::server::ServerError::InvalidEventData),
            "{data}"
        );
    }
    let e = Emit::new(r#"["bin",{"_placeholder":true,"num":1}]"#)
        .with_attachments(vec![sio_core::Bytes::from_static(b"only one")]);
    assert!(r
        .sim
        .cmd(|s, now| s.emit(now, &Target::namespace("/"), &e))
        .is_err());
    for (p, _) in r.peers.clone() {
        assert!(r.sim.take_sio(p).is_empty(), "nothing was sent");
    }
    // A numeric event name is fine, as in Node.
    let e = Emit::new("[42,\"x\"]");
    assert_eq!(
        r.sim.cmd(|s, now| s.emit(now, &Target::namespace("/"), &e)),
        Ok(6)
    );
    let e = Emit::new(r#"["x"]"#);
    assert!(r
        .sim
        .cmd(|s, now| s.emit(now, &Target::namespace("/missing"), &e))
        .is_err());
}
