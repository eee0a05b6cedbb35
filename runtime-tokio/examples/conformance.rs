//! The reference server of the official Socket.IO v5 test suite
//! (`docs/socket.io-protocol/v5-test-suite` in socketio/socket.io) on 127.0.0.1:3000:
//! pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1 s, CORS `*`; namespaces `/` and
//! `/custom` emit `auth` with the handshake's auth; on `/`, `message` is echoed as
//! `message-back` and `message-with-ack` is acknowledged with its own arguments.
//!
//! Run: `cargo run -p sio-tokio --example conformance`

use serde_json::value::RawValue;
use sio_tokio::sio_core::server::Emit;
use sio_tokio::{Message, ServerOptions, SocketIo, SocketRef};

/// The arguments of an event (its JSON array without the event name), as a JSON array.
fn args_of(msg: &Message) -> String {
    let all: Vec<&RawValue> = serde_json::from_str(msg.json()).unwrap_or_default();
    let rest: Vec<&str> = all.iter().skip(1).map(|v| v.get()).collect();
    format!("[{}]", rest.join(","))
}

fn echo(socket: &SocketRef, msg: &Message, event: &str) {
    let args = args_of(msg);
    let sep = if args == "[]" { "" } else { "," };
    let data = format!(
        "[{}{}{}",
        serde_json::to_string(event).unwrap_or_default(),
        sep,
        &args[1..]
    );
    let emit = Emit {
        data: data.into(),
        attachments: msg.binary().to_vec(),
        volatile: false,
    };
    let _ = socket.emit_raw(event, emit);
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(ServerOptions::conformance());
    for nsp in ["/", "/custom"] {
        io.ns(nsp, move |socket, req| {
            let auth: serde_json::Value = req.auth().unwrap_or_else(|_| serde_json::json!({}));
            let _ = socket.emit("auth", &auth);
            if nsp == "/" {
                socket.on("message", |socket, msg| async move {
                    echo(&socket, &msg, "message-back");
                });
                socket.on("message-with-ack", |_socket, mut msg| async move {
                    if let Some(ack) = msg.ack() {
                        let _ = ack.send_raw(args_of(&msg).into(), msg.binary().to_vec());
                    }
                });
            }
        });
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("conformance server on http://127.0.0.1:3000/socket.io/");
    io.serve(listener).await
}
