//! The reference server of the official Engine.IO v4 test suite
//! (`docs/engine.io-protocol/v4-test-suite` in socketio/socket.io) on 127.0.0.1:3000, on
//! async-std; the application is sio-tokio's `examples/apps/engine_conformance.rs`.
//!
//! Run: `cargo run -p sio-async-std --example async_std_engine_conformance`

#[path = "../../runtime-tokio/examples/apps/engine_conformance.rs"]
mod app;

use sio_async_std::{EngineIo, ServerOptions};

#[async_std::main]
async fn main() -> std::io::Result<()> {
    let engine = EngineIo::new(ServerOptions::conformance());
    app::install(&engine);
    let listener = async_std::net::TcpListener::bind(app::ADDR).await?;
    println!(
        "engine.io conformance server on http://{}/engine.io/",
        app::ADDR
    );
    engine.serve(listener).await
}
