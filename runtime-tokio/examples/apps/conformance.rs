//! The application of the conformance servers (`examples/conformance.rs` of sio-tokio and
//! sio-async-std): what the official Socket.IO v5 test suite
//! (`docs/socket.io-protocol/v5-test-suite` in socketio/socket.io) expects of its reference
//! server. Namespaces `/` and `/custom` emit `auth` with the handshake's auth; on `/`,
//! `message` is echoed as `message-back` and `message-with-ack` is acknowledged with its own
//! arguments. The server runs with [`ServerOptions::conformance`](sio_runtime::ServerOptions::conformance)
//! (pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1 s, CORS `*`) on 127.0.0.1:3000.

use sio_runtime::sio_core::server::Emit;
use sio_runtime::{Message, SocketIo, SocketRef};

/// Where the suites expect the server.
pub const ADDR: &str = "127.0.0.1:3000";

fn echo(socket: &SocketRef, msg: &Message, event: &str) {
    let args = msg.arguments();
    let args = args.json();
    let sep = if args == "[]" { "" } else { "," };
    let data = format!(
        "[{}{}{}",
        serde_json::to_string(event).unwrap_or_default(),
        sep,
        &args[1..]
    );
    let emit = Emit::new(data).with_attachments(msg.binary().to_vec());
    let _ = socket.emit_raw(event, emit);
}

/// Register the suite's namespaces and handlers on `io`.
pub fn install<R: 'static>(io: &SocketIo<R>) {
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
                        let _ = ack.send_args(msg.arguments());
                    }
                });
            }
        });
    }
}
