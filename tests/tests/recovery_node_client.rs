//! Connection state recovery, interop: Node's `socket.io-client` 4.8 (`tests/js/recovery.mjs`)
//! against a sio-tokio server with recovery on (`sio_tests::recovery_support`), through a
//! proxy that cuts the connection (no close frame, no close packet: the transport dies)
//! while the server keeps sending to the socket and to its room.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sio_tests::node::Node;
use sio_tests::recovery_support::{CutProxy, RecoveryServer};
use sio_tests::runtime::Rt;
use sio_tokio::sio_core::server::RecoveryConfig;

const WAIT: Duration = Duration::from_secs(5);

async fn recover(rt: Rt, transport: &str, skip_middlewares: bool) {
    let mut server = RecoveryServer::start(
        rt,
        RecoveryConfig {
            skip_middlewares,
            ..RecoveryConfig::default()
        },
    )
    .await;
    let proxy = Arc::new(CutProxy::start(server.addr).await);
    let node = Node::spawn(
        "recovery.mjs",
        "recover",
        &proxy.url(),
        &[
            &format!("--transport={transport}"),
            "--count=60",
            "--interval=20",
        ],
    );
    let first = server.connection(WAIT).await;
    assert!(!first.recovered && !first.requested, "{first:?}");
    assert_eq!(first.auth, Some(json!({ "name": "node" })));
    // Cut while the ticks flow, and keep the client away for a while: what the server sends
    // meanwhile waits in the socket's session.
    server.wait_sent(10, WAIT).await;
    proxy.cut_for(Duration::from_millis(400));
    let second = server.connection(WAIT).await;
    assert!(second.recovered && second.requested, "{second:?}");
    assert_eq!(second.sid, first.sid, "the same socket");
    assert_eq!(
        second.auth,
        Some(json!({ "name": "node" })),
        "pid and offset are not shown to the application"
    );
    assert!(
        second.rooms.contains(&"group".to_owned()),
        "rooms restored before the connect handler: {:?}",
        second.rooms
    );
    let out = node.finish(Duration::from_secs(15)).await;
    out.assert_ok(&format!("recovery.mjs recover {transport}"));
    assert_eq!(
        out.report("connects"),
        &json!([
            { "id": first.sid, "recovered": false },
            { "id": first.sid, "recovered": true },
        ])
    );
    assert_eq!(out.report("ticks"), &json!(60));
    assert_eq!(out.report("rooms"), &json!(60));
    let runs = server.middleware_runs.load(Ordering::SeqCst);
    assert_eq!(
        runs,
        if skip_middlewares { 1 } else { 2 },
        "middleware runs"
    );
}

async fn a_cut_websocket_recovers_and_misses_nothing(rt: Rt) {
    recover(rt, "websocket", true).await;
}

async fn a_cut_polling_connection_recovers_and_misses_nothing(rt: Rt) {
    recover(rt, "polling", true).await;
}

async fn middlewares_run_again_on_recovery_unless_skipped(rt: Rt) {
    recover(rt, "websocket", false).await;
}

/// The client stays away `away` ms, longer than the server keeps its session (300 ms, counted
/// from when the server noticed the cut: at once, or through the heartbeat of 500 + 400 ms):
/// the server refuses the recovery and the client connects as a new socket.
async fn expire(rt: Rt, transport: &str, away: Duration) {
    let mut server = RecoveryServer::start(
        rt,
        RecoveryConfig {
            max_disconnection_duration: 300,
            ..RecoveryConfig::default()
        },
    )
    .await;
    let proxy = Arc::new(CutProxy::start(server.addr).await);
    let node = Node::spawn(
        "recovery.mjs",
        "expire",
        &proxy.url(),
        &[
            &format!("--transport={transport}"),
            "--count=200",
            "--interval=20",
        ],
    );
    let first = server.connection(WAIT).await;
    server.wait_sent(5, WAIT).await;
    proxy.cut_for(away);
    let second = server.connection(WAIT).await;
    assert!(!second.recovered && !second.requested, "{second:?}");
    assert_ne!(second.sid, first.sid);
    assert_eq!(second.auth, Some(json!({ "name": "node" })));
    let out = node.finish(Duration::from_secs(15)).await;
    out.assert_ok(&format!("recovery.mjs expire {transport}"));
    assert_eq!(
        out.report("claim"),
        &json!({ "pid": "string", "offset": "string" }),
        "the client asked to recover"
    );
    assert_eq!(
        out.report("connects"),
        &json!([
            { "id": first.sid, "recovered": false },
            { "id": second.sid, "recovered": false },
        ])
    );
}

async fn after_the_maximum_disconnection_duration_the_client_is_a_new_socket(rt: Rt) {
    expire(rt, "websocket", Duration::from_millis(1200)).await;
}

async fn after_the_maximum_disconnection_duration_a_polling_client_is_a_new_socket(rt: Rt) {
    expire(rt, "polling", Duration::from_millis(2000)).await;
}

/// Unlike Node's server, ours recovers a socket that received no event before the cut (the
/// client sends a `pid` without an offset): same id, recovered, its room back.
async fn a_socket_that_received_nothing_still_recovers(rt: Rt) {
    let mut server = RecoveryServer::start(rt, RecoveryConfig::default()).await;
    let proxy = Arc::new(CutProxy::start(server.addr).await);
    let node = Node::spawn(
        "recovery.mjs",
        "silent",
        &proxy.url(),
        &["--transport=websocket"],
    );
    let first = server.connection(WAIT).await;
    assert!(!first.recovered, "{first:?}");
    // The client says `c` 0 once connected (it has its pid then).
    let said = tokio::time::timeout(WAIT, server.received.recv()).await;
    assert_eq!(said.ok().flatten(), Some(0), "the client's `c`");
    proxy.cut_for(Duration::from_millis(300));
    let second = server.connection(WAIT).await;
    assert!(second.recovered && second.requested, "{second:?}");
    assert_eq!(second.sid, first.sid);
    assert!(second.rooms.contains(&"group".to_owned()), "{second:?}");
    let out = node.finish(Duration::from_secs(15)).await;
    out.assert_ok("recovery.mjs silent");
    assert_eq!(
        out.report("connects"),
        &json!([
            { "id": first.sid, "recovered": false },
            { "id": first.sid, "recovered": true },
        ])
    );
}

sio_tests::runtime_tests!(
    a_cut_websocket_recovers_and_misses_nothing,
    a_cut_polling_connection_recovers_and_misses_nothing,
    middlewares_run_again_on_recovery_unless_skipped,
    after_the_maximum_disconnection_duration_the_client_is_a_new_socket,
    after_the_maximum_disconnection_duration_a_polling_client_is_a_new_socket,
    a_socket_that_received_nothing_still_recovers,
);
