//! The server and the client of sio-async-std on a smol executor: everything here is polled by
//! `smol::block_on` and `smol::spawn`, nothing by async-std's `block_on`. A client connects
//! over each transport mode, emits with an ack that the server answers, and gets a broadcast.

use std::time::Duration;

use sio_async_std::client::ClientBuilder;
use sio_async_std::sio_core::engine::client::TransportKind;
use sio_async_std::{ServerOptions, SocketIo};

async fn echo_over(transports: &[TransportKind], upgrade: bool) {
    let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let io = SocketIo::new(ServerOptions::default());
    io.ns("/", |socket, _req| {
        socket.on("echo", |socket, mut msg| async move {
            let text: (String,) = msg.args().expect("a string");
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&(format!("{} back", text.0),));
            }
            let _ = socket.emit("told", &(text.0.len(),));
        });
    });
    let server = io.clone();
    let (stop_tx, stop_rx) = async_std::channel::bounded::<()>(1);
    let serving = smol::spawn(async move {
        server
            .serve_with_shutdown(listener, async move {
                let _ = stop_rx.recv().await;
            })
            .await
    });

    let (told_tx, told_rx) = async_std::channel::bounded::<usize>(1);
    let client = ClientBuilder::new(&url)
        .transports(transports)
        .upgrade(upgrade)
        .on("told", move |_socket, msg| {
            let told_tx = told_tx.clone();
            async move {
                let (n,): (usize,) = msg.args().expect("a number");
                let _ = told_tx.send(n).await;
            }
        })
        .connect()
        .await
        .expect("the client connects");
    let answer: String = client
        .emit_with_ack("echo", &("hello smol",), Duration::from_secs(5))
        .await
        .expect("the server answers");
    assert_eq!(answer, "hello smol back");
    let told = smol::future::or(async { told_rx.recv().await.ok() }, async {
        async_io::Timer::after(Duration::from_secs(5)).await;
        None
    })
    .await;
    assert_eq!(told, Some(10));
    client.close();
    let _ = stop_tx.send(()).await;
    serving.await.expect("the server stops cleanly");
}

#[test]
fn server_and_client_run_on_smol() {
    smol::block_on(async {
        echo_over(&[TransportKind::WebSocket], false).await;
        echo_over(&[TransportKind::Polling], false).await;
        echo_over(&[TransportKind::Polling, TransportKind::WebSocket], true).await;
    });
}
