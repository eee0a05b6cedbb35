//! The generator against in-process servers: every scenario completes with the numbers it
//! must have (no loss, no error, the right counts), and the echo answers carry the request's
//! arguments. This also checks the bench servers' handlers.

use std::net::SocketAddr;

use sio_bench_server::EchoMode;
use sio_loadgen::scenarios::{self, Frames, Options, Target, ECHO_TEXT};
use sio_loadgen::wire::text_frame;
use sio_tokio::{ServerOptions, SocketIo};
use tokio::net::TcpListener;

fn options() -> Options {
    Options {
        clients: 5,
        seconds: 0.3,
        warmup: 0.1,
        ticks: 20,
        interval_ms: 5,
        settle: 0.05,
        ..Options::default()
    }
}

fn target(addr: SocketAddr, server: &str) -> Target {
    Target {
        addr,
        path: "/socket.io/".into(),
        pid: std::process::id(),
        server: server.into(),
    }
}

async fn sio_server(mode: EchoMode) -> SocketAddr {
    let io = SocketIo::new(ServerOptions::default());
    sio_bench_server::install(&io, mode);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { io.serve(listener).await });
    addr
}

async fn floor_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(sio_bench_floor::serve(listener));
    addr
}

/// One echo by hand: the answer to `421["echo",{...}]`.
async fn one_echo(t: &Target) -> String {
    let frames = Frames::new();
    let mut ws = scenarios::sio_connect(t, None, &frames)
        .await
        .expect("connect");
    ws.send(&text_frame(ECHO_TEXT)).await.expect("send");
    String::from_utf8(ws.next_packet().await.expect("answer").to_vec()).expect("utf-8")
}

async fn check_websocket_scenarios(t: &Target) {
    let o = options();
    let e = scenarios::echo(t, &o).await.expect("echo");
    assert_eq!((e.connected, e.errors), (5, 0), "{e:?}");
    assert!(e.ops > 5, "{e:?}");
    assert!(e.p50_us.is_some() && e.p99_us >= e.p50_us, "{e:?}");
    assert!(e.rss_kib_after > 0);

    let b = scenarios::broadcast(t, &o).await.expect("broadcast");
    assert_eq!(b.lost, Some(0), "{b:?}");
    assert_eq!(b.duplicates, Some(0), "{b:?}");
    assert_eq!((b.ops, b.errors), (5 * 20, 0), "{b:?}");

    let c = scenarios::connect(
        t,
        &Options {
            clients: 40,
            concurrency: 8,
            ..o
        },
        "connect-40",
    )
    .await
    .expect("connect");
    assert_eq!((c.connected, c.ops, c.errors), (40, 40, 0), "{c:?}");
    assert!(c.ops_per_s > 0.0 && c.rss_kib_per_conn.is_some(), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sio_tokio_server_passes_every_scenario() {
    let t = target(sio_server(EchoMode::Raw).await, "sio");
    assert_eq!(one_echo(&t).await, r#"431[{"msg":"hello world","n":42}]"#);
    check_websocket_scenarios(&t).await;
    let p = scenarios::polling(&t, &options()).await.expect("polling");
    assert_eq!((p.connected, p.errors), (5, 0), "{p:?}");
    assert!(p.ops > 5, "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_echo_answers_the_same_argument() {
    let t = target(sio_server(EchoMode::Typed).await, "sio");
    assert_eq!(one_echo(&t).await, r#"431[{"msg":"hello world","n":42}]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_server_passes_the_websocket_scenarios() {
    let t = target(floor_server().await, "floor");
    assert_eq!(one_echo(&t).await, ECHO_TEXT);
    check_websocket_scenarios(&t).await;
    // The floor has no long-polling: the scenario reports the failure instead of hanging.
    let p = scenarios::polling(&t, &options())
        .await
        .expect("polling runs");
    assert_eq!(p.connected, 0);
    assert_eq!(p.errors, 5);
}
