//! The chat demo: a chat room on http://127.0.0.1:3000 with its page.
//!
//! Run: `cargo run -p sio-tokio --example chat`, then open http://127.0.0.1:3000 in a browser
//! (or connect any `socket.io-client` to it).
//!
//! The page loads the Socket.IO browser client from a CDN. Set `SIO_CLIENT_DIR` to a copy of
//! `socket.io-client`'s `dist/` directory to serve it locally instead (as Node's
//! `serveClient` does), and `SIO_ADDR` to listen elsewhere.

use std::convert::Infallible;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use sio_tokio::{ServerOptions, SocketIo};
use tower_layer::Layer;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChatMessage {
    name: String,
    text: String,
}

const PAGE: &str = include_str!("chat/index.html");
const CDN: &str = "https://cdn.socket.io/4.8.1/socket.io.min.js";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let client_dir = std::env::var_os("SIO_CLIENT_DIR").map(PathBuf::from);
    let page = PAGE.replace(
        "__CLIENT_SRC__",
        if client_dir.is_some() {
            "/socket.io/socket.io.min.js"
        } else {
            CDN
        },
    );
    let io = SocketIo::new(ServerOptions {
        serve_client: client_dir,
        ..ServerOptions::default()
    });
    let online = io.clone();
    io.ns("/", move |socket, _req| {
        let count = online.sockets("/").len();
        let _ = socket.broadcast().emit("user joined", &count);
        let room = online.clone();
        socket.on("chat message", move |_socket, mut msg| {
            let room = room.clone();
            async move {
                // Everyone, the sender included, sees the message.
                let ok = match msg.args::<ChatMessage>() {
                    Ok(m) if !m.text.is_empty() && m.text.len() <= 2000 => {
                        room.emit("chat message", &m).is_ok()
                    }
                    _ => false,
                };
                if let Some(ack) = msg.ack() {
                    let _ = ack.send(&ok);
                }
            }
        });
        let online = online.clone();
        socket.on_disconnect(move |_socket, _reason| {
            let online = online.clone();
            async move {
                let count = online.sockets("/").len();
                let _ = online.emit("user left", &count);
            }
        });
    });

    let addr = std::env::var("SIO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("chat demo on http://{addr}");
    // Mount Socket.IO in front of a plain hyper service that serves the page.
    loop {
        let (stream, _) = listener.accept().await?;
        let page = Bytes::from(page.clone());
        let svc = io.layer().layer(tower::service_fn(
            move |req: Request<hyper::body::Incoming>| {
                let page = page.clone();
                async move {
                    let mut r = Response::new(Full::new(if req.uri().path() == "/" {
                        page
                    } else {
                        Bytes::from_static(b"Not Found")
                    }));
                    if req.uri().path() == "/" {
                        r.headers_mut().insert(
                            "content-type",
                            "text/html; charset=utf-8".parse().expect("valid"),
                        );
                    } else {
                        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
                    }
                    Ok::<_, Infallible>(r)
                }
            },
        ));
        tokio::spawn(async move {
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}
