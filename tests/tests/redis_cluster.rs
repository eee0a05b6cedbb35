//! A cluster through a real redis-server: this project's server on tokio, on async-std, and a
//! Node socket.io 4.8 server with `@socket.io/redis-adapter` 8.x, with clients on each.
//! Broadcasts reach a room's clients on every node exactly once, `except` works across nodes,
//! cluster requests (fetch sockets, remote join/leave/disconnect, server-side emit with ack,
//! all rooms) work in both directions between Rust and Node, `@socket.io/redis-emitter`
//! emits into the cluster, and a node that loses Redis keeps serving its own clients.

mod redis_support;

use std::collections::BTreeSet;
use std::time::Duration;

use redis_support::{until, NodeNode, Rec, Redis, RustNode, WAIT};
use serde_json::{json, Value};
use sio_async_std::AsyncStd;
use sio_tokio::Tokio;

struct Cluster {
    redis: Redis,
    a: RustNode<Tokio>,
    b: RustNode<AsyncStd>,
    n: NodeNode,
}

async fn cluster() -> Cluster {
    let redis = Redis::start().await;
    let a = RustNode::<Tokio>::start(&redis, "A").await;
    let b = RustNode::<AsyncStd>::start(&redis, "B").await;
    let n = NodeNode::start(&redis.url()).await;
    Cluster { redis, a, b, n }
}

/// Let messages in flight land, then nothing more may arrive.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

fn ids(v: &[&Rec]) -> BTreeSet<String> {
    v.iter().map(|r| r.sid.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_each_room_member_once_on_every_node() {
    let mut c = cluster().await;
    let (a1, a2) = (
        Rec::connect(&c.a.url()).await,
        Rec::connect(&c.a.url()).await,
    );
    let (b1, b2) = (
        Rec::connect(&c.b.url()).await,
        Rec::connect(&c.b.url()).await,
    );
    let (n1, n2) = (
        Rec::connect(&c.n.url()).await,
        Rec::connect(&c.n.url()).await,
    );
    for r in [&a1, &b1, &n1] {
        r.join("room").await;
    }
    n1.join("vip").await;
    a1.join("vip2").await;

    // From each node, to the room: every member once, nobody else.
    c.a.io.to("room").emit("r", &"A").unwrap();
    c.b.io.to("room").emit("r", &"B").unwrap();
    c.n.cmd(json!({"op": "emit", "to": ["room"], "event": "r", "args": ["N"]}))
        .await;
    for r in [&a1, &b1, &n1] {
        r.wait("r", 3).await;
    }
    settle().await;
    for r in [&a1, &b1, &n1] {
        let mut got: Vec<String> = r.got("r").iter().map(|v| v[0].to_string()).collect();
        got.sort();
        assert_eq!(got, ["\"A\"", "\"B\"", "\"N\""], "client {}", r.sid);
    }
    for r in [&a2, &b2, &n2] {
        assert!(r.got("r").is_empty(), "{} is not in the room", r.sid);
    }

    // Except a room (on another node) and except a socket id (on another node).
    c.a.io.to("room").except("vip").emit("e", &1).unwrap();
    c.b.io.to("room").except(&a1.sid).emit("e", &2).unwrap();
    c.n.cmd(json!({"op": "emit", "to": ["room"], "except": ["vip2"], "event": "e", "args": [3]}))
        .await;
    a1.wait("e", 1).await;
    b1.wait("e", 3).await;
    n1.wait("e", 2).await;
    settle().await;
    let sorted = |r: &Rec| {
        let mut v: Vec<i64> = r.got("e").iter().map(|x| x[0].as_i64().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&a1), [1]);
    assert_eq!(sorted(&b1), [1, 2, 3]);
    assert_eq!(sorted(&n1), [2, 3]);

    // The whole namespace, with binary, from Node and from Rust.
    c.n.cmd(json!({"op": "emit", "event": "all", "args": ["n", {"$binary": "00ff10"}]}))
        .await;
    c.b.io
        .emit("all", &("b", bytes::Bytes::from_static(b"\x01\x02")))
        .unwrap();
    for r in [&a1, &a2, &b1, &b2, &n1, &n2] {
        r.wait("all", 2).await;
    }
    settle().await;
    for r in [&a1, &a2, &b1, &b2, &n1, &n2] {
        let got = r.got("all");
        assert_eq!(got.len(), 2, "{}: {got:?}", r.sid);
        assert!(
            got.contains(&json!(["n", {"$binary": "00ff10"}])),
            "{got:?}"
        );
        assert!(got.contains(&json!(["b", {"$binary": "0102"}])), "{got:?}");
    }

    // local(): this node only.
    c.a.io.local().emit("loc", &()).unwrap();
    a1.wait("loc", 1).await;
    a2.wait("loc", 1).await;
    settle().await;
    for r in [&b1, &b2, &n1, &n2] {
        assert!(r.got("loc").is_empty());
    }
    c.n.kill().await;
    drop(c.redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_work_both_ways_between_rust_and_node() {
    let mut c = cluster().await;
    let a1 = Rec::connect(&c.a.url()).await;
    let b1 = Rec::connect(&c.b.url()).await;
    let n1 = Rec::connect(&c.n.url()).await;
    let (a2, b2, n2) = (
        Rec::connect(&c.a.url()).await,
        Rec::connect(&c.b.url()).await,
        Rec::connect(&c.n.url()).await,
    );
    for r in [&a1, &b1, &n1] {
        r.join("room").await;
    }
    let room = ids(&[&a1, &b1, &n1]);

    // Fetch from Rust and from Node.
    let fetched = c.a.io.to("room").fetch_sockets().await.unwrap();
    let got: BTreeSet<String> = fetched.iter().map(|s| s.id.to_string()).collect();
    assert_eq!(got, room);
    let from_node = c.n.cmd(json!({"op": "fetch", "to": ["room"]})).await;
    let got: BTreeSet<String> = from_node
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, room);
    let b_entry = from_node
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == json!(b1.sid))
        .unwrap();
    assert!(b_entry["rooms"]
        .as_array()
        .unwrap()
        .contains(&json!("room")));

    // Remote join from Rust, seen from Node; from Node, seen from Rust.
    c.a.io.to("room").sockets_join(&["rj"]).unwrap();
    let want = room.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = c.n.cmd(json!({"op": "fetch", "to": ["rj"]})).await;
        let got: BTreeSet<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect();
        if got == want {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "rj: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.n.cmd(json!({"op": "join", "to": ["room"], "rooms": ["nj"]}))
        .await;
    let io = c.b.io.clone();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got: BTreeSet<String> = io
            .to("nj")
            .fetch_sockets()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id.to_string())
            .collect();
        if got == want {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "nj: {got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Leave, from Node; then a broadcast to the room left reaches nobody.
    c.n.cmd(json!({"op": "leave", "to": ["room"], "rooms": ["nj"]}))
        .await;
    settle().await;
    assert!(c.a.io.to("nj").fetch_sockets().await.unwrap().is_empty());
    c.b.io.to("room").sockets_leave(&["rj"]).unwrap();
    settle().await;
    let v = c.n.cmd(json!({"op": "fetch", "to": ["rj"]})).await;
    assert_eq!(v, json!([]));

    // An acknowledged broadcast from Node reaches the room on every node and collects every
    // client's answer (the Rust nodes answer with a client count and one message per ack).
    let acks = c
        .n
        .cmd(json!({"op": "emitWithAck", "to": ["room"], "event": "q", "args": [1], "timeout": 3000}))
        .await;
    let got: BTreeSet<String> = acks
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, room);

    // And from Rust: the answers of every node's sockets (those of other nodes without id).
    let answers: Vec<(String, String)> =
        c.a.io
            .to("room")
            .emit_with_ack("q", &1, Duration::from_secs(3))
            .await
            .unwrap();
    let got: BTreeSet<String> = answers.iter().map(|(_, v)| v.clone()).collect();
    assert_eq!(got, room);
    assert_eq!(answers.len(), 3);
    for (id, v) in &answers {
        assert!(
            id.is_empty() || (id == v && *id == a1.sid),
            "{id} answered {v}"
        );
    }
    // A node whose sockets do not answer makes it time out.
    let r: Result<Vec<(String, String)>, _> =
        c.b.io
            .to("room")
            .emit_with_ack("no-answer", &1, Duration::from_millis(300))
            .await;
    assert!(matches!(r, Err(sio_runtime::AckError::Timeout)), "{r:?}");

    // Cluster-wide rooms.
    let rooms = c.a.io.all_rooms("/").await.unwrap();
    for r in ["room", &n1.sid, &b1.sid, &a1.sid] {
        assert!(rooms.iter().any(|x| x == r), "{r} in {rooms:?}");
    }

    // Server-side emits with acks, both ways.
    let mut answers: Vec<Value> =
        c.a.io
            .server_side_emit_with_ack("ask", &(7,))
            .await
            .unwrap();
    answers.sort_by_key(|v| v["from"].to_string());
    assert_eq!(
        answers,
        vec![
            json!({"from": "B", "args": [7]}),
            json!({"from": "node", "args": [7]})
        ]
    );
    let v =
        c.n.cmd(json!({"op": "ask", "event": "ask", "args": ["x"]}))
            .await;
    let mut got: Vec<Value> = v.as_array().unwrap().clone();
    got.sort_by_key(|v| v["from"].to_string());
    assert_eq!(
        got,
        vec![
            json!({"from": "A", "args": ["x"]}),
            json!({"from": "B", "args": ["x"]})
        ]
    );
    // Without ack.
    c.b.io.server_side_emit("tell", &(1, "two")).unwrap();
    c.n.cmd(json!({"op": "tell", "event": "tell", "args": [3]}))
        .await;
    assert_eq!(c.n.wait_server_side(1).await, vec![json!([1, "two"])]);
    until("A told twice", || c.a.told.lock().unwrap().len() == 2).await;
    until("B told once", || c.b.told.lock().unwrap().len() == 1).await;
    assert_eq!(*c.b.told.lock().unwrap(), vec![json!([3])]);

    // Remote disconnect, both ways.
    for r in [&a2, &b2, &n2] {
        r.join("dc").await;
    }
    c.n.cmd(json!({"op": "disconnect", "to": ["dc"], "except": [n2.sid]}))
        .await;
    until("a2 and b2 disconnected", || {
        !a2.client.socket().connected() && !b2.client.socket().connected()
    })
    .await;
    assert!(n2.client.socket().connected());
    c.a.io.to("dc").disconnect_sockets(false).unwrap();
    until("n2 disconnected", || !n2.client.socket().connected()).await;
    assert!(a1.client.socket().connected() && b1.client.socket().connected());
    c.n.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_emitter_reaches_every_node() {
    let mut c = cluster().await;
    let a1 = Rec::connect(&c.a.url()).await;
    let b1 = Rec::connect(&c.b.url()).await;
    let n1 = Rec::connect(&c.n.url()).await;
    let a2 = Rec::connect(&c.a.url()).await;
    for r in [&a1, &b1, &n1] {
        r.join("room").await;
    }
    c.n.cmd(json!({"op": "emitter", "to": ["room"], "event": "em", "args": ["hi", {"$binary": "abcd"}]}))
        .await;
    for r in [&a1, &b1, &n1] {
        assert_eq!(
            r.wait("em", 1).await,
            vec![json!(["hi", {"$binary": "abcd"}])]
        );
    }
    // The emitter's remote join.
    c.n.cmd(json!({"op": "emitterJoin", "to": ["room"], "rooms": ["viaEmitter"]}))
        .await;
    let want = ids(&[&a1, &b1, &n1]);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got: BTreeSet<String> =
            c.a.io
                .to("viaEmitter")
                .fetch_sockets()
                .await
                .unwrap()
                .iter()
                .map(|s| s.id.to_string())
                .collect();
        if got == want {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    settle().await;
    for r in [&a1, &b1, &n1] {
        assert_eq!(r.got("em").len(), 1);
    }
    assert!(a2.got("em").is_empty());
    c.n.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_redis_keeps_its_clients_and_comes_back() {
    let mut redis = Redis::start().await;
    let a = RustNode::<Tokio>::start(&redis, "A").await;
    let b = RustNode::<AsyncStd>::start(&redis, "B").await;
    let a1 = Rec::connect(&a.url()).await;
    let b1 = Rec::connect(&b.url()).await;
    a1.join("room").await;
    b1.join("room").await;
    a.io.to("room").emit("m", &1).unwrap();
    b1.wait("m", 1).await;

    redis.stop();
    until("A notices", || !a.redis.status().connected()).await;
    until("B notices", || !b.redis.status().connected()).await;
    assert!(a.redis.status().failures() >= 1);
    // Local delivery goes on; what would go to the cluster is dropped and counted.
    a.io.to("room").emit("m", &2).unwrap();
    assert_eq!(a1.wait("m", 2).await, vec![json!([1]), json!([2])]);
    until("the lost publish is counted", || {
        a.redis.status().dropped() >= 1
    })
    .await;
    // A fetch while Redis is away answers with the local sockets.
    let local = a.io.to("room").fetch_sockets().await.unwrap();
    assert_eq!(local.len(), 1);
    assert!(a1.client.socket().connected() && b1.client.socket().connected());

    redis.restart().await;
    until("A resubscribed", || a.redis.status().connected()).await;
    until("B resubscribed", || b.redis.status().connected()).await;
    a.io.to("room").emit("m", &3).unwrap();
    b.io.to("room").emit("m", &4).unwrap();
    // Local and cluster deliveries of two senders are not ordered with each other.
    let sorted = |v: Vec<Value>| {
        let mut v: Vec<i64> = v.iter().map(|x| x[0].as_i64().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(b1.wait("m", 3).await), [1, 3, 4]);
    assert_eq!(sorted(a1.wait("m", 4).await), [1, 2, 3, 4]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(b1.got("m").len(), 3);
    assert_eq!(a1.got("m").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_added_after_joining_the_cluster_are_shared() {
    let mut c = cluster().await;
    c.a.io.ns("/late", |_s, _r| {});
    c.b.io.ns("/late", |_s, _r| {});
    let b1 = Rec::connect_ns(&c.b.url(), "/late").await;
    // The subscription for the new namespace is asynchronous: retry until it took.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut n = 0;
    while b1.got("hello").is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing arrived on /late"
        );
        n += 1;
        c.a.io.of("/late").emit("hello", &n).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.n.kill().await;
}
