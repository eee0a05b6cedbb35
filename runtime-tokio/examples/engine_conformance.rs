//! The reference server of the official Engine.IO v4 test suite
//! (`docs/engine.io-protocol/v4-test-suite` in socketio/socket.io) on 127.0.0.1:3000; the
//! application is `examples/apps/engine_conformance.rs`, shared with sio-async-std.
//!
//! Run: `cargo run -p sio-tokio --example engine_conformance`

#[path = "apps/engine_conformance.rs"]
mod app;

use sio_tokio::{EngineIo, ServerOptions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineIo::new(ServerOptions::conformance());
    app::install(&engine);
    let listener = tokio::net::TcpListener::bind(app::ADDR).await?;
    println!(
        "engine.io conformance server on http://{}/engine.io/",
        app::ADDR
    );
    engine.serve(listener).await
}
