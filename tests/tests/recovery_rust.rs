//! Connection state recovery end to end in Rust: the sio-tokio client against the sio-tokio
//! server with recovery on, through a proxy that cuts the connection. Both directions at
//! once: the server sends `tick`s to the socket and `room`s to its room, the client emits
//! `c` events with retries; after the cut, everything arrives exactly once, in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sio_runtime::client::ClientBuilder;
use sio_tests::recovery_support::{start_args, CutProxy, RecoveryServer, Start};
use sio_tests::runtime::TestRuntime;
use sio_tokio::sio_core::client::TransportKind;
use sio_tokio::sio_core::server::RecoveryConfig;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);

async fn both_ways<R: TestRuntime>(transports: &[TransportKind]) {
    let mut server = RecoveryServer::start(R::RT, RecoveryConfig::default()).await;
    let proxy = Arc::new(CutProxy::start(server.addr).await);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let connects = Arc::new(Mutex::new(Vec::new()));
    let (t1, t2, t3, c) = (tx.clone(), tx.clone(), tx, connects.clone());
    let client = ClientBuilder::<R>::new(&proxy.url())
        .transports(transports)
        .reconnection_delay(Duration::from_millis(100))
        .reconnection_delay_max(Duration::from_millis(300))
        .retries(100)
        .ack_timeout(Duration::from_secs(2))
        .auth(json!({ "name": "rust" }))
        .on("tick", move |_s, msg| {
            assert_eq!(
                msg.json(),
                format!(r#"["tick",{}]"#, msg.args::<u64>().unwrap()),
                "offset taken off"
            );
            let _ = t1.send(("tick", msg.args::<u64>().unwrap()));
            async {}
        })
        .on("room", move |_s, msg| {
            let _ = t2.send(("room", msg.args::<u64>().unwrap()));
            async {}
        })
        .on("done", move |_s, _msg| {
            let _ = t3.send(("done", 0));
            async {}
        })
        .on_connect(move |s| {
            c.lock()
                .unwrap()
                .push((s.id().unwrap_or_default(), s.recovered()));
        })
        .connect()
        .await
        .expect("connects");
    let first = server.connection(WAIT).await;
    let start = Start {
        count: 60,
        interval: 20,
    };
    client.emit("start", &start_args(start)).unwrap();
    let emits = 40u64;
    let sender = client.clone();
    let emitter = tokio::spawn(async move {
        for n in 0..emits {
            sender.emit("c", &n).unwrap();
            tokio::time::sleep(Duration::from_millis(15)).await;
        }
    });
    let (mut ticks, mut rooms, mut done) = (Vec::new(), Vec::new(), false);
    while !done || rooms.len() < start.count as usize {
        let (kind, n) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap_or_else(|_| panic!("stuck: ticks {ticks:?} rooms {rooms:?}"))
            .expect("the client runs");
        match kind {
            "tick" => ticks.push(n),
            "room" => rooms.push(n),
            _ => done = true,
        }
        if ticks.len() == 10 && kind == "tick" {
            proxy.cut_for(Duration::from_millis(400));
        }
    }
    emitter.await.unwrap();
    let expected: Vec<u64> = (0..start.count).collect();
    assert_eq!(ticks, expected, "ticks exactly once, in order");
    assert_eq!(rooms, expected, "room events exactly once, in order");
    let second = server.connection(WAIT).await;
    assert!(second.recovered, "{second:?}");
    assert_eq!(second.sid, first.sid);
    let mut received = Vec::new();
    while received.len() < emits as usize {
        let n = tokio::time::timeout(WAIT, server.received.recv())
            .await
            .unwrap_or_else(|_| panic!("the server received only {received:?}"))
            .unwrap();
        received.push(n);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    while let Ok(n) = server.received.try_recv() {
        received.push(n);
    }
    assert_eq!(
        received,
        (0..emits).collect::<Vec<_>>(),
        "client emits exactly once, in order"
    );
    let connects = connects.lock().unwrap().clone();
    assert_eq!(
        connects,
        vec![(first.sid.clone(), false), (first.sid.clone(), true)]
    );
    client.close();
}

async fn websocket_cut_both_ways<R: TestRuntime>() {
    both_ways::<R>(&[TransportKind::WebSocket]).await;
}

async fn polling_cut_both_ways<R: TestRuntime>() {
    both_ways::<R>(&[TransportKind::Polling]).await;
}

sio_tests::runtime_tests!(
    generic:
    websocket_cut_both_ways,
    polling_cut_both_ways,
);
