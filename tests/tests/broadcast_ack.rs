//! Broadcast with acks: every reply is collected; the timeout reports what arrived; a
//! recipient that disconnects while the broadcast waits does not hold it up.

use sio_core::server::{BroadcastAckId, Emit, Event, SocketId, Target};
use sio_core::socket::Packet;
use sio_tests::{test_config, PeerId, Sim};

fn setup(n: usize) -> (Sim, Vec<(PeerId, SocketId)>) {
    let mut sim = Sim::new(test_config(1));
    let mut peers = Vec::new();
    for i in 0..n {
        let p = if i % 2 == 0 {
            sim.add_ws_peer()
        } else {
            sim.add_polling_peer()
        };
        let s = sim.connect(p, "/", None).unwrap();
        sim.take_sio(p);
        peers.push((p, s));
    }
    sim.take_events();
    (sim, peers)
}

/// The ack id each peer received with the broadcast event.
fn received_ack_id(sim: &mut Sim, p: PeerId) -> u64 {
    let got = sim.take_sio(p);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].data.as_deref(), Some(r#"["poll"]"#));
    got[0].id.expect("an ack id")
}

fn broadcast_ack(sim: &mut Sim, target: &Target, timeout: u64) -> BroadcastAckId {
    sim.cmd(|s, now| s.broadcast_with_ack(now, target, &Emit::new(r#"["poll"]"#), timeout))
        .unwrap()
}

fn reply(sim: &mut Sim, p: PeerId, ack: u64, answer: &str) {
    sim.send_sio_text(p, &format!("3{ack}[\"{answer}\"]"));
}

type Completion = (BroadcastAckId, Vec<(SocketId, String)>, bool);

fn completions(events: &[Event]) -> Vec<Completion> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::BroadcastAck {
                id,
                responses,
                timed_out,
            } => Some((
                *id,
                responses
                    .iter()
                    .map(|(s, p): &(SocketId, Packet)| (*s, p.data.as_deref().unwrap().to_owned()))
                    .collect(),
                *timed_out,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn collects_every_reply_and_completes_at_the_last() {
    let (mut sim, peers) = setup(3);
    let id = broadcast_ack(&mut sim, &Target::namespace("/"), 1000);
    let ids: Vec<u64> = peers
        .iter()
        .map(|(p, _)| received_ack_id(&mut sim, *p))
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one ack id for all");
    // Replies in another order than the sends.
    reply(&mut sim, peers[2].0, ids[0], "c");
    sim.advance(10);
    reply(&mut sim, peers[0].0, ids[0], "a");
    assert!(completions(&sim.take_events()).is_empty(), "one missing");
    sim.advance(10);
    reply(&mut sim, peers[1].0, ids[0], "b");
    assert_eq!(
        completions(&sim.take_events()),
        [(
            id,
            vec![
                (peers[2].1, r#"["c"]"#.to_owned()),
                (peers[0].1, r#"["a"]"#.to_owned()),
                (peers[1].1, r#"["b"]"#.to_owned()),
            ],
            false
        )]
    );
    // Completed: the timeout does not fire again, a late duplicate changes nothing.
    reply(&mut sim, peers[0].0, ids[0], "again");
    sim.advance(2000);
    assert!(completions(&sim.take_events()).is_empty());
}

#[test]
fn timeout_reports_the_partial_replies() {
    let (mut sim, peers) = setup(3);
    let id = broadcast_ack(&mut sim, &Target::namespace("/"), 250);
    let ack = received_ack_id(&mut sim, peers[1].0);
    reply(&mut sim, peers[1].0, ack, "only me");
    sim.run_until(249);
    assert!(completions(&sim.take_events()).is_empty());
    sim.run_until(250);
    assert_eq!(
        completions(&sim.take_events()),
        [(id, vec![(peers[1].1, r#"["only me"]"#.to_owned())], true)]
    );
    // Late replies are ignored.
    reply(&mut sim, peers[0].0, ack, "late");
    assert!(sim.take_events().is_empty());
    assert!(!sim.peer(peers[0].0).closed);
}

#[test]
fn a_recipient_disconnecting_does_not_block_completion() {
    let (mut sim, peers) = setup(3);
    let id = broadcast_ack(&mut sim, &Target::namespace("/"), 10_000);
    let ack = received_ack_id(&mut sim, peers[0].0);
    reply(&mut sim, peers[0].0, ack, "a");
    reply(&mut sim, peers[1].0, ack, "b");
    assert!(completions(&sim.take_events()).is_empty());
    sim.advance(100);
    // The last one leaves instead of answering.
    let w = sim.peer(peers[2].0).ws.unwrap();
    sim.ws_close(w, false);
    let events = sim.take_events();
    assert_eq!(
        completions(&events),
        [(
            id,
            vec![
                (peers[0].1, r#"["a"]"#.to_owned()),
                (peers[1].1, r#"["b"]"#.to_owned())
            ],
            false
        )]
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Disconnect { socket, .. } if *socket == peers[2].1)));
    assert_eq!(
        sim.now(),
        100,
        "completed at the disconnect, not the timeout"
    );
    sim.run_until(20_000);
    assert!(completions(&sim.take_events()).is_empty());
}

#[test]
fn everyone_leaving_completes_with_no_replies() {
    let (mut sim, peers) = setup(2);
    let id = broadcast_ack(&mut sim, &Target::namespace("/"), 10_000);
    for (_, s) in &peers {
        sim.cmd(|srv, now| srv.disconnect(now, *s, false)).unwrap();
    }
    assert_eq!(completions(&sim.take_events()), [(id, vec![], false)]);
}

#[test]
fn empty_target_completes_at_once() {
    let (mut sim, _) = setup(2);
    let id = broadcast_ack(&mut sim, &Target::room("/", "nobody"), 1000);
    assert_eq!(completions(&sim.take_events()), [(id, vec![], false)]);
    sim.run_until(2000);
    assert!(completions(&sim.take_events()).is_empty(), "completed once");
}

#[test]
fn only_the_targeted_sockets_are_waited_for() {
    let (mut sim, peers) = setup(4);
    sim.cmd(|s, _| s.join(peers[1].1, "team")).unwrap();
    sim.cmd(|s, _| s.join(peers[3].1, "team")).unwrap();
    let id = broadcast_ack(&mut sim, &Target::room("/", "team"), 1000);
    assert!(sim.take_sio(peers[0].0).is_empty());
    assert!(sim.take_sio(peers[2].0).is_empty());
    let ack = received_ack_id(&mut sim, peers[1].0);
    assert_eq!(received_ack_id(&mut sim, peers[3].0), ack);
    reply(&mut sim, peers[3].0, ack, "d");
    reply(&mut sim, peers[1].0, ack, "b");
    assert_eq!(
        completions(&sim.take_events()),
        [(
            id,
            vec![
                (peers[3].1, r#"["d"]"#.to_owned()),
                (peers[1].1, r#"["b"]"#.to_owned())
            ],
            false
        )]
    );
}

#[test]
fn broadcast_ack_and_single_acks_do_not_mix() {
    let (mut sim, peers) = setup(2);
    let single = sim
        .cmd(|s, now| s.emit_with_ack(now, peers[0].1, &Emit::new(r#"["single"]"#), 1000))
        .unwrap();
    sim.take_sio(peers[0].0);
    let id = broadcast_ack(&mut sim, &Target::namespace("/"), 1000);
    let ack = received_ack_id(&mut sim, peers[0].0);
    received_ack_id(&mut sim, peers[1].0);
    assert_ne!(ack, single);
    reply(&mut sim, peers[0].0, single, "s");
    let events = sim.take_events();
    assert!(matches!(&events[..], [Event::AckReceived { ack, .. }] if *ack == single));
    reply(&mut sim, peers[0].0, ack, "x");
    reply(&mut sim, peers[1].0, ack, "y");
    assert_eq!(completions(&sim.take_events())[0].0, id);
}
