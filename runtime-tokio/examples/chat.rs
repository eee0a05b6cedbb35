//! The chat demo: a chat room on http://127.0.0.1:3000 with its page, Socket.IO mounted as a
//! tower layer in front of a plain hyper service. The room and the page are
//! `examples/apps/chat.rs`, shared with sio-async-std.
//!
//! Run: `cargo run -p sio-tokio --example chat`, then open http://127.0.0.1:3000 in a browser
//! (or connect any `socket.io-client` to it). `SIO_CLIENT_DIR` serves a local copy of
//! `socket.io-client`'s `dist/` instead of the CDN's, `SIO_ADDR` listens elsewhere.

#[path = "apps/chat.rs"]
mod app;

use hyper_util::rt::TokioIo;
use sio_tokio::SocketIo;
use tower_layer::Layer;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let (options, page, addr) = app::settings();
    let io = SocketIo::new(options);
    app::install(&io);
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("chat demo on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let page = page.clone();
        let svc = io
            .layer()
            .layer(tower::service_fn(move |req| app::page(page.clone(), req)));
        tokio::spawn(async move {
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
