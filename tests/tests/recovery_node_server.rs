//! Connection state recovery, interop: this crate's Rust client (`sio_tokio::client`) against
//! Node's `socket.io` 4.8 server with `connectionStateRecovery` on
//! (`tests/js/recovery-server.mjs`), through a proxy that cuts the connection while the
//! server keeps sending to the socket and to its room.
//!
//! Node sends the missed events before its CONNECT answer; the client keeps them until then,
//! takes the offsets off every event, and reports the recovery. (Node recovers only a session
//! it already closed: the client stays away until Node's heartbeat noticed the cut.)
//!
//! After `maxDisconnectionDuration` (a short one, given to the script) Node refuses the
//! recovery: the client, which still sends its `pid` and last offset, connects as a new socket
//! (a new id, not recovered) and goes on working.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sio_runtime::client::ClientBuilder;
use sio_tests::node::{js_dir, require_node_modules, Node};
use sio_tests::recovery_support::{start_args, CutProxy, Start};
use sio_tests::runtime::TestRuntime;
use sio_tokio::sio_core::client::TransportKind;
use tokio::process::Command;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);

/// Start `recovery-server.mjs` and return it with the address it listens on.
async fn node_server(max_disconnection_duration: u64) -> (Node, std::net::SocketAddr) {
    require_node_modules();
    let mut command = Command::new("node");
    command
        .arg(js_dir().join("recovery-server.mjs"))
        .arg(format!(
            "--maxDisconnectionDuration={max_disconnection_duration}"
        ))
        .current_dir(js_dir());
    let mut node = Node::spawn_command("recovery-server.mjs", command)
        .unwrap_or_else(|e| panic!("cannot run `node` ({e}); Node 18+ must be on PATH"));
    let port: u16 = node
        .line("LISTENING", WAIT)
        .await
        .parse()
        .expect("a port number");
    (node, ([127, 0, 0, 1], port).into())
}

/// What the client received.
#[derive(Debug)]
enum Got {
    Tick(u64, String),
    Room(u64, String),
    Done,
}

async fn recover<R: TestRuntime>(transports: &[TransportKind]) {
    let (mut node, addr) = node_server(120_000).await;
    let proxy = Arc::new(CutProxy::start(addr).await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connects = Arc::new(Mutex::new(Vec::new()));
    let (t1, t2, t3, c) = (tx.clone(), tx.clone(), tx, connects.clone());
    let client = ClientBuilder::<R>::new(&proxy.url())
        .transports(transports)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .auth(json!({ "name": "rust" }))
        .on("tick", move |_s, msg| {
            let n = msg.args::<u64>().expect("a number");
            let _ = t1.send(Got::Tick(n, msg.json().to_owned()));
            async {}
        })
        .on("room", move |_s, msg| {
            let n = msg.args::<u64>().expect("a number");
            let _ = t2.send(Got::Room(n, msg.json().to_owned()));
            async {}
        })
        .on("done", move |_s, _msg| {
            let _ = t3.send(Got::Done);
            async {}
        })
        .on_connect(move |s| {
            c.lock()
                .unwrap()
                .push((s.id().unwrap_or_default(), s.recovered()));
        })
        .connect()
        .await
        .expect("connects to the Node server");
    let start = Start {
        count: 100,
        interval: 20,
    };
    client.emit("start", &start_args(start)).unwrap();
    let (mut ticks, mut rooms, mut cut) = (Vec::new(), Vec::new(), false);
    loop {
        let Ok(got) = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await else {
            while node
                .try_line("", Duration::from_millis(200))
                .await
                .is_some()
            {}
            panic!(
                "nothing for 10 s; ticks {ticks:?}, rooms {rooms:?}\n{}",
                node.stdout_so_far()
            );
        };
        let got = got.expect("the client runs");
        match got {
            Got::Tick(n, json) => {
                assert_eq!(json, format!(r#"["tick",{n}]"#), "offset taken off");
                ticks.push(n);
            }
            Got::Room(n, json) => {
                assert_eq!(json, format!(r#"["room",{n}]"#), "offset taken off");
                rooms.push(n);
            }
            Got::Done => break,
        }
        if ticks.len() == 10 && !cut {
            // Away long enough for Node to notice (its heartbeat is 300 + 200 ms): Node does
            // not notice a cut polling connection otherwise, and refuses a recovery while it
            // believes the old socket is connected.
            cut = true;
            proxy.cut_for(Duration::from_millis(1000));
        }
    }
    let expected: Vec<u64> = (0..start.count).collect();
    assert_eq!(ticks, expected, "ticks exactly once, in order");
    // `done` goes to the socket; the last room events may follow it.
    for _ in 0..20 {
        if rooms.len() == expected.len() {
            break;
        }
        if let Ok(Some(Got::Room(n, _))) =
            tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            rooms.push(n);
        }
    }
    assert_eq!(rooms, expected, "room events exactly once, in order");
    let connects = connects.lock().unwrap().clone();
    assert_eq!(connects.len(), 2, "{connects:?}");
    assert_eq!(connects[0].0, connects[1].0, "the same socket id");
    assert_eq!((connects[0].1, connects[1].1), (false, true), "recovered");
    assert!(client.recovered());
    // The Node server agrees.
    let mut recovered = Vec::new();
    while let Some(line) = node.try_line("SEEN", Duration::from_millis(500)).await {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "connection" {
            recovered.push((v["id"].as_str().unwrap().to_owned(), v["recovered"].clone()));
        }
    }
    assert_eq!(
        recovered,
        vec![
            (connects[0].0.clone(), json!(false)),
            (connects[0].0.clone(), json!(true)),
        ]
    );
    client.close();
    node.kill().await;
}

async fn the_rust_client_recovers_a_cut_websocket_from_node<R: TestRuntime>() {
    recover::<R>(&[TransportKind::WebSocket]).await;
}

async fn the_rust_client_recovers_a_cut_polling_connection_from_node<R: TestRuntime>() {
    recover::<R>(&[TransportKind::Polling]).await;
}

/// The connections the Node server reported so far (waiting up to `wait` for each line):
/// `(id, recovered, auth)`.
async fn node_connections(node: &mut Node, wait: Duration) -> Vec<(String, bool, Value)> {
    let mut out = Vec::new();
    while let Some(line) = node.try_line("SEEN", wait).await {
        let v: Value = serde_json::from_str(&line).unwrap();
        if v["kind"] == "connection" {
            out.push((
                v["id"].as_str().unwrap().to_owned(),
                v["recovered"].as_bool().unwrap(),
                v["auth"].clone(),
            ));
        }
    }
    out
}

/// The next `tick` the client received, checking that its offset was taken off.
async fn next_tick(rx: &mut mpsc::UnboundedReceiver<(u64, String)>) -> u64 {
    let (n, json) = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a tick within the timeout")
        .expect("the client runs");
    assert_eq!(json, format!(r#"["tick",{n}]"#), "offset taken off");
    n
}

async fn expire<R: TestRuntime>(transports: &[TransportKind]) {
    let (mut node, addr) = node_server(300).await;
    let proxy = Arc::new(CutProxy::start(addr).await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connects = Arc::new(Mutex::new(Vec::new()));
    let (t1, c) = (tx.clone(), connects.clone());
    let client = ClientBuilder::<R>::new(&proxy.url())
        .transports(transports)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .auth(json!({ "name": "rust" }))
        .on("tick", move |_s, msg| {
            let n = msg.args::<u64>().expect("a number");
            let _ = t1.send((n, msg.json().to_owned()));
            async {}
        })
        .on_connect(move |s| {
            c.lock()
                .unwrap()
                .push((s.id().unwrap_or_default(), s.recovered()));
        })
        .connect()
        .await
        .expect("connects to the Node server");
    let first_id = client.id().expect("connected");
    client
        .emit(
            "start",
            &start_args(Start {
                count: 20,
                interval: 20,
            }),
        )
        .unwrap();
    let mut before = Vec::new();
    while before.len() < 5 {
        before.push(next_tick(&mut rx).await);
    }
    // Away well beyond Node's 300 ms (its heartbeat of 300 + 200 ms notices a cut polling
    // connection; the session expires 300 ms after that), and the old socket's ticks end
    // meanwhile.
    proxy.cut_for(Duration::from_millis(1500));
    tokio::time::timeout(Duration::from_secs(10), async {
        while connects.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the client connects again");
    while let Ok(Some((n, _))) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
        before.push(n);
    }
    assert_eq!(
        before,
        (0..before.len() as u64).collect::<Vec<_>>(),
        "ticks of the old socket until the cut, in order"
    );
    assert!(
        before.len() < 20,
        "the old socket's ticks stopped: {before:?}"
    );
    let connects = connects.lock().unwrap().clone();
    assert_eq!(connects.len(), 2, "{connects:?}");
    assert_eq!(connects[0], (first_id.clone(), false));
    assert_ne!(connects[1].0, first_id, "a new socket id");
    assert!(!connects[1].1, "not recovered");
    assert!(!client.recovered());
    assert_eq!(client.id(), Some(connects[1].0.clone()));
    // Node saw the client try (its pid and last offset, Node's own) and refused.
    let seen = node_connections(&mut node, Duration::from_millis(300)).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((&seen[0].0, seen[0].1), (&first_id, false));
    assert_eq!((&seen[1].0, seen[1].1), (&connects[1].0, false));
    let auth = &seen[1].2;
    assert_eq!(auth["name"], "rust", "{auth}");
    assert!(
        auth["pid"].is_string() && auth["offset"].is_string(),
        "the client asked to recover: {auth}"
    );
    // The new socket works, offsets of its new session taken off.
    client
        .emit(
            "start",
            &start_args(Start {
                count: 5,
                interval: 10,
            }),
        )
        .unwrap();
    let mut after = Vec::new();
    while after.len() < 5 {
        after.push(next_tick(&mut rx).await);
    }
    assert_eq!(after, vec![0, 1, 2, 3, 4]);
    client.close();
    node.kill().await;
}

async fn after_the_maximum_disconnection_duration_node_refuses_and_the_client_is_new_websocket<
    R: TestRuntime,
>() {
    expire::<R>(&[TransportKind::WebSocket]).await;
}

async fn after_the_maximum_disconnection_duration_node_refuses_and_the_client_is_new_polling<
    R: TestRuntime,
>() {
    expire::<R>(&[TransportKind::Polling]).await;
}

sio_tests::runtime_tests!(
    generic:
    the_rust_client_recovers_a_cut_websocket_from_node,
    the_rust_client_recovers_a_cut_polling_connection_from_node,
    after_the_maximum_disconnection_duration_node_refuses_and_the_client_is_new_websocket,
    after_the_maximum_disconnection_duration_node_refuses_and_the_client_is_new_polling,
);
