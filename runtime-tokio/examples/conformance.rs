//! The reference server of the official Socket.IO v5 test suite
//! (`docs/socket.io-protocol/v5-test-suite` in socketio/socket.io) on 127.0.0.1:3000; the
//! application is `examples/apps/conformance.rs`, shared with sio-async-std.
//!
//! Run: `cargo run -p sio-tokio --example conformance`

#[path = "apps/conformance.rs"]
mod app;

use sio_tokio::{ServerOptions, SocketIo};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new(ServerOptions::conformance());
    app::install(&io);
    let listener = tokio::net::TcpListener::bind(app::ADDR).await?;
    println!("conformance server on http://{}/socket.io/", app::ADDR);
    io.serve(listener).await
}
