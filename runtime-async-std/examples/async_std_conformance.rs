//! The reference server of the official Socket.IO v5 test suite
//! (`docs/socket.io-protocol/v5-test-suite` in socketio/socket.io) on 127.0.0.1:3000, on
//! async-std; the application is sio-tokio's `examples/apps/conformance.rs`.
//!
//! Run: `cargo run -p sio-async-std --example async_std_conformance`

#[path = "../../runtime-tokio/examples/apps/conformance.rs"]
mod app;

use sio_async_std::{ServerOptions, SocketIo};

#[async_std::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(ServerOptions::conformance());
    app::install(&io);
    let listener = async_std::net::TcpListener::bind(app::ADDR).await?;
    println!("conformance server on http://{}/socket.io/", app::ADDR);
    io.serve(listener).await
}
