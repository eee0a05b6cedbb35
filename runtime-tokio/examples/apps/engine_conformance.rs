//! The application of the Engine.IO conformance servers (`examples/engine_conformance.rs` of
//! sio-tokio and sio-async-std): what the official Engine.IO v4 test suite
//! (`docs/engine.io-protocol/v4-test-suite` in socketio/socket.io) expects, Engine.IO alone at
//! `/engine.io/` on 127.0.0.1:3000 (pingInterval 300 ms, pingTimeout 200 ms, CORS `*`),
//! echoing every message.

use sio_runtime::{EngineIo, EngineMessage};

/// Where the suite expects the server.
pub const ADDR: &str = "127.0.0.1:3000";

/// Echo every message of every session.
pub fn install<R>(engine: &EngineIo<R>) {
    engine.on_message(|socket, msg| match msg {
        EngineMessage::Text(text) => {
            socket.send_text(&text);
        }
        EngineMessage::Binary(data) => {
            socket.send_binary(data);
        }
        EngineMessage::Close(_) => {}
    });
}
