//! Interoperability: Node's `socket.io-client` 4.8 (and raw `ws` peers) against a sio-tokio
//! server running in this process. The Node side lives in `tests/js`; see
//! `sio_tests::node` for the server's test application and the runner.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

use std::time::Duration;

use serde_json::{json, Value};
use sio_tests::node::{run_node, Node, NodeOutput, Seen, TestServer, SECRET};
use sio_tests::runtime::Rt;
use sio_tokio::{DisconnectReason, ServerOptions};

const WAIT: Duration = Duration::from_secs(5);

async fn server(rt: Rt) -> TestServer {
    TestServer::start(rt, ServerOptions::default()).await
}

// ----- data and acks over each transport ------------------------------------------------------

async fn data(rt: Rt, transport: &str, final_transport: &str) -> NodeOutput {
    let mut s = server(rt).await;
    let out = run_node(
        "client.mjs",
        "data",
        &s.url(),
        &[&format!("--transport={transport}")],
    )
    .await;
    assert_eq!(out.report_str("final"), final_transport);
    assert_eq!(out.report_str("server_transport"), final_transport);
    let sid = out.report_str("sid").to_owned();
    let seen = s.history();
    assert!(
        seen.iter()
            .any(|e| matches!(e, Seen::Connect { nsp, sid: id, .. } if nsp == "/" && *id == sid)),
        "the server never saw socket {sid} connect: {seen:?}"
    );
    // The client answered the server's emit_with_ack, once per pass, with these values.
    let answers: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Seen::Answer(a) => Some(a.clone()),
            _ => None,
        })
        .collect();
    let passes = if transport == "upgrade" { 2 } else { 1 };
    assert_eq!(answers.len(), passes, "answers: {answers:?}");
    for a in answers {
        let (value, bytes) = a.expect("the client acknowledged");
        assert_eq!(value, json!({ "answer": 42, "question": "what is 6*7?" }));
        assert_eq!(bytes, vec![2, 1, 0]);
    }
    out
}

async fn data_and_acks_over_websocket(rt: Rt) {
    let out = data(rt, "websocket", "websocket").await;
    assert_eq!(out.report_str("initial"), "websocket");
}

async fn data_and_acks_over_polling(rt: Rt) {
    let out = data(rt, "polling", "polling").await;
    assert_eq!(out.report("upgraded"), &Value::Null);
}

async fn data_and_acks_across_an_upgrade(rt: Rt) {
    let out = data(rt, "upgrade", "websocket").await;
    // The client really started on polling and then upgraded.
    assert_eq!(out.report_str("initial"), "polling");
    assert_eq!(out.report_str("upgraded"), "websocket");
}

// ----- namespaces ---------------------------------------------------------------------------------

async fn two_namespaces_on_one_connection(rt: Rt) {
    let mut s = server(rt).await;
    let out = run_node("client.mjs", "namespaces", &s.url(), &[]).await;
    let root = out.report_str("root").to_owned();
    let custom1 = out.report_str("custom1").to_owned();
    let custom2 = out.report_str("custom2").to_owned();
    let (nsp, reason, left_at) = s.disconnect_of(&custom1, WAIT).await;
    assert_eq!(
        (nsp.as_str(), reason),
        ("/custom", DisconnectReason::ClientNamespaceDisconnect)
    );
    let (nsp, reason, dropped_at) = s.disconnect_of(&custom2, WAIT).await;
    assert_eq!(
        (nsp.as_str(), reason),
        ("/custom", DisconnectReason::ServerNamespaceDisconnect)
    );
    let (nsp, _, root_at) = s.disconnect_of(&root, WAIT).await;
    assert_eq!(nsp, "/");
    assert!(left_at < dropped_at && dropped_at < root_at);
}

// ----- auth through a middleware -------------------------------------------------------------------

async fn auth(rt: Rt, transport: &str) {
    let mut s = server(rt).await;
    let out = run_node(
        "client.mjs",
        "auth",
        &s.url(),
        &[
            &format!("--transport={transport}"),
            &format!("--token={SECRET}"),
        ],
    )
    .await;
    let accepted = out.report_str("accepted").to_owned();
    let calls = s
        .wait_until(WAIT, "three middleware calls", |history| {
            let calls: Vec<_> = history
                .iter()
                .filter_map(|e| match e {
                    Seen::Middleware {
                        auth,
                        query,
                        header,
                        accepted,
                    } => Some((auth.clone(), query.clone(), header.clone(), *accepted)),
                    _ => None,
                })
                .collect();
            (calls.len() >= 3).then_some(calls)
        })
        .await;
    for (_, query, header, _) in &calls {
        assert!(query.contains("via=node-test"), "query {query}");
        assert!(query.contains("EIO=4"), "query {query}");
        assert_eq!(header.as_deref(), Some("header-value"));
    }
    let auths: Vec<(Option<Value>, bool)> =
        calls.into_iter().map(|(a, _, _, ok)| (a, ok)).collect();
    assert_eq!(
        auths,
        vec![
            (Some(json!({ "token": SECRET, "user": "ana" })), true),
            (Some(json!({ "token": "wrong" })), false),
            (None, false),
        ]
    );
    // Only the accepted client joined /secure.
    let secure: Vec<String> = s
        .history()
        .iter()
        .filter_map(|e| match e {
            Seen::Connect { nsp, sid, .. } if nsp == "/secure" => Some(sid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(secure, vec![accepted]);
}

async fn auth_middleware_over_websocket(rt: Rt) {
    auth(rt, "websocket").await;
}

async fn auth_middleware_over_polling(rt: Rt) {
    auth(rt, "polling").await;
}

// ----- rooms and broadcasts ----------------------------------------------------------------------

async fn rooms_and_broadcasts_to_sixty_clients(rt: Rt) {
    let mut s = server(rt).await;
    let out = run_node("client.mjs", "broadcast", &s.url(), &["--clients=60"]).await;
    assert_eq!(out.report("peers"), &json!(60));
    let connects = s
        .history()
        .iter()
        .filter(|e| matches!(e, Seen::Connect { .. }))
        .count();
    assert_eq!(connects, 60);
}

/// 200 events of 64 KiB to three clients from one handler call: far more than a socket's
/// buffer, so the emitting task's writes stop and each connection's task writes the rest.
async fn a_flood_larger_than_the_socket_buffers_arrives_whole_and_in_order(rt: Rt) {
    let s = server(rt).await;
    let out = run_node(
        "client.mjs",
        "flood",
        &s.url(),
        &["--clients=3", "--count=200", "--size=65536"],
    )
    .await;
    assert_eq!(out.report("each"), &json!(200));
}

// ----- disconnections ------------------------------------------------------------------------------

async fn disconnects(rt: Rt, transport: &str) {
    let mut s = server(rt).await;
    let out = run_node(
        "client.mjs",
        "disconnects",
        &s.url(),
        &[&format!("--transport={transport}")],
    )
    .await;
    let (_, reason, _) = s.disconnect_of(out.report_str("by_server"), WAIT).await;
    assert_eq!(reason, DisconnectReason::ServerNamespaceDisconnect);
    let (_, reason, _) = s.disconnect_of(out.report_str("by_client"), WAIT).await;
    assert_eq!(reason, DisconnectReason::ClientNamespaceDisconnect);
}

async fn disconnect_reasons_over_websocket(rt: Rt) {
    disconnects(rt, "websocket").await;
}

async fn disconnect_reasons_over_polling(rt: Rt) {
    disconnects(rt, "polling").await;
}

/// The client process dies: the server learns it from the transport.
async fn killed(rt: Rt, transport: &str, expected: DisconnectReason) {
    let mut s = server(rt).await;
    let mut node = Node::spawn(
        "client.mjs",
        "hold",
        &s.url(),
        &[&format!("--transport={transport}")],
    );
    let sid = node.line("CONNECTED", WAIT).await;
    node.kill().await;
    let (nsp, reason, _) = s.disconnect_of(&sid, WAIT).await;
    assert_eq!((nsp.as_str(), reason), ("/", expected));
}

async fn killed_client_over_websocket_is_a_transport_close(rt: Rt) {
    killed(rt, "websocket", DisconnectReason::TransportClose).await;
}

async fn killed_client_over_polling_is_a_transport_error(rt: Rt) {
    // Node: an aborted long-poll is "poll connection closed prematurely", a transport error.
    killed(rt, "polling", DisconnectReason::TransportError).await;
}

// ----- heartbeat ---------------------------------------------------------------------------------------

async fn ping_timeout_of_a_client_that_stops_answering(rt: Rt) {
    let mut s = TestServer::start(
        rt,
        ServerOptions {
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..ServerOptions::default()
        },
    )
    .await;
    let out = run_node("raw.mjs", "ping-timeout", &s.url(), &[]).await;
    assert_eq!(out.report("ping_interval"), &json!(300));
    assert_eq!(out.report("ping_timeout"), &json!(200));
    let quiet = out.report_str("quiet").to_owned();
    let lively = out.report_str("lively").to_owned();

    let connected = s.connected_at(&quiet);
    let (nsp, reason, gone) = s.disconnect_of(&quiet, WAIT).await;
    assert_eq!((nsp.as_str(), reason), ("/", DisconnectReason::PingTimeout));
    // One ping interval, then the ping timeout: about 500 ms.
    let after = gone - connected;
    assert!(
        after >= Duration::from_millis(450) && after <= Duration::from_millis(1500),
        "ping timeout after {after:?}"
    );
    let client_side = out.report("quiet_closed_after_ms").as_u64().unwrap_or(0);
    assert!(
        (400..=1600).contains(&client_side),
        "the quiet peer saw the close after {client_side} ms"
    );
    // The peer that answers pings was not timed out; it left on its own.
    let (nsp, reason, _) = s.disconnect_of(&lively, WAIT).await;
    assert_eq!(
        (nsp.as_str(), reason),
        ("/", DisconnectReason::ClientNamespaceDisconnect)
    );
}

// ----- server restart ----------------------------------------------------------------------------------

async fn restart(rt: Rt, transport: &str) {
    let mut first = server(rt).await;
    let addr = first.addr;
    let mut node = Node::spawn(
        "client.mjs",
        "reconnect",
        &first.url(),
        &[&format!("--transport={transport}")],
    );
    let sid = node.line("CONNECTED", WAIT).await;
    first.stop().await;
    let (_, reason, _) = first.disconnect_of(&sid, WAIT).await;
    assert_eq!(reason, DisconnectReason::ServerShuttingDown);
    let client_reason = node.line("DISCONNECTED", WAIT).await;
    assert_eq!(client_reason, "transport close");
    drop(first);

    let mut second = TestServer::start_on(rt, addr, ServerOptions::default()).await;
    let out = node.finish(Duration::from_secs(15)).await;
    out.assert_ok("reconnect");
    assert_eq!(out.report_str("first"), sid);
    let new_sid = out.report_str("second").to_owned();
    // The new server saw exactly that one client.
    let connected: Vec<String> = second
        .history()
        .iter()
        .filter_map(|e| match e {
            Seen::Connect { sid, .. } => Some(sid.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(connected, vec![new_sid]);
}

async fn client_reconnects_after_a_server_restart_over_websocket(rt: Rt) {
    restart(rt, "websocket").await;
}

async fn client_reconnects_after_a_server_restart_over_polling(rt: Rt) {
    restart(rt, "polling").await;
}

// ----- maxPayload ----------------------------------------------------------------------------------------

async fn max_payload(rt: Rt, transport: &str, expected: DisconnectReason) {
    let max = 10_000;
    let mut s = TestServer::start(
        rt,
        ServerOptions {
            max_payload: max,
            ..ServerOptions::default()
        },
    )
    .await;
    let out = run_node(
        "client.mjs",
        "max-payload",
        &s.url(),
        &[&format!("--transport={transport}"), &format!("--max={max}")],
    )
    .await;
    let victim = out.report_str("victim").to_owned();
    let bystander = out.report_str("bystander").to_owned();
    let (_, reason, _) = s.disconnect_of(&victim, WAIT).await;
    assert_eq!(reason, expected);
    // The message under the limit reached the application, the one over it did not.
    let bigs: Vec<usize> = s
        .history()
        .iter()
        .filter_map(|e| match e {
            Seen::Big(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(bigs, vec![max - 100]);
    // The other client was not dropped with it (the Node peer checked it was still listed
    // after the victim had gone).
    let dropped_too = s.history().iter().any(|e| {
        matches!(e, Seen::Disconnect { sid, reason, .. } if *sid == bystander && *reason == expected)
    });
    assert!(!dropped_too, "the other client was dropped too");
    // The client learns it from its transport (Node's client reports either).
    let seen_by_victim = out.report_str("victim_reason");
    assert!(
        matches!(seen_by_victim, "transport close" | "transport error"),
        "the victim saw `{seen_by_victim}`"
    );
}

async fn max_payload_over_websocket(rt: Rt) {
    max_payload(rt, "websocket", DisconnectReason::TransportError).await;
}

async fn max_payload_over_polling(rt: Rt) {
    max_payload(rt, "polling", DisconnectReason::PayloadTooLarge).await;
}

// ----- per-packet middleware and catch-all listeners -----------------------------------------

async fn per_packet_middleware_and_catch_all_listener(rt: Rt) {
    let s = server(rt).await;
    for transport in ["websocket", "polling"] {
        let out = run_node(
            "client.mjs",
            "middlewares",
            &s.url(),
            &[&format!("--transport={transport}")],
        )
        .await;
        assert_eq!(out.report_str("refused"), "forbidden event");
    }
}

sio_tests::runtime_tests!(
    data_and_acks_over_websocket,
    data_and_acks_over_polling,
    data_and_acks_across_an_upgrade,
    two_namespaces_on_one_connection,
    auth_middleware_over_websocket,
    auth_middleware_over_polling,
    rooms_and_broadcasts_to_sixty_clients,
    a_flood_larger_than_the_socket_buffers_arrives_whole_and_in_order,
    disconnect_reasons_over_websocket,
    disconnect_reasons_over_polling,
    killed_client_over_websocket_is_a_transport_close,
    killed_client_over_polling_is_a_transport_error,
    ping_timeout_of_a_client_that_stops_answering,
    client_reconnects_after_a_server_restart_over_websocket,
    client_reconnects_after_a_server_restart_over_polling,
    max_payload_over_websocket,
    max_payload_over_polling,
    per_packet_middleware_and_catch_all_listener,
);
