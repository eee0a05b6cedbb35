//! The API taste of the README, kept compiling.
//!
//! Run: `cargo run -p sio-tokio --example readme`

use sio_tokio::{ConnectRefusal, ServerOptions, SocketIo};
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(ServerOptions::default());

    io.ns("/", |socket, _req| {
        // Typed arguments with serde; binary values (bytes::Bytes) travel as attachments.
        socket.on("chat", |socket, mut msg| async move {
            let text: String = msg.args().unwrap_or_default();
            let _ = socket.broadcast().emit("chat", &text); // everyone but the sender
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&"delivered"); // answer the client's ack
            }
        });
        socket.on("join", |socket, msg| async move {
            let room: String = msg.args().unwrap_or_default();
            let _ = socket.join(&room);
            let _ = socket
                .to(&room)
                .except(socket.id())
                .emit("joined", &socket.id());
        });
        socket.on_disconnect(|socket, reason| async move {
            println!("{} left: {}", socket.id(), reason.as_str());
        });
        // Ask the client and wait for its answer.
        tokio::spawn(async move {
            let answer: Result<String, _> = socket
                .emit_with_ack("ping", &(), Duration::from_secs(5))
                .await;
            println!("client answered {answer:?}");
        });
    });

    // A namespace with an auth middleware: `connect_error` carries message and data.
    io.ns("/admin", |_socket, _req| {})
        .middleware(|req| async move {
            match req.auth::<serde_json::Value>() {
                Ok(a) if a["token"] == "secret" => Ok(()),
                _ => {
                    Err(ConnectRefusal::new("unauthorized")
                        .with_data(serde_json::json!({"code": 401})))
                }
            }
        });

    io.serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?)
        .await
}
