//! The reference server of the official Engine.IO v4 test suite
//! (`docs/engine.io-protocol/v4-test-suite` in socketio/socket.io): Engine.IO alone at
//! `/engine.io/` on 127.0.0.1:3000, pingInterval 300 ms, pingTimeout 200 ms, CORS `*`,
//! echoing every message.
//!
//! Run: `cargo run -p sio-tokio --example engine_conformance`

use sio_tokio::{EngineIo, EngineMessage, ServerOptions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineIo::new(ServerOptions::conformance());
    engine.on_message(|socket, msg| match msg {
        EngineMessage::Text(text) => {
            socket.send_text(&text);
        }
        EngineMessage::Binary(data) => {
            socket.send_binary(data);
        }
        EngineMessage::Close(_) => {}
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("engine.io conformance server on http://127.0.0.1:3000/engine.io/");
    engine.serve(listener).await
}
