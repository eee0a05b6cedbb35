//! The chat room of the demo (`examples/chat.rs` of sio-tokio and sio-async-std): the
//! Socket.IO handlers and the page, whichever runtime serves them.
//!
//! The page loads the Socket.IO browser client from a CDN. `SIO_CLIENT_DIR` names a copy of
//! `socket.io-client`'s `dist/` directory to serve it locally instead (as Node's
//! `serveClient` does), and `SIO_ADDR` another address than 127.0.0.1:3000.

use std::convert::Infallible;
use std::path::PathBuf;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use serde::{Deserialize, Serialize};
use sio_runtime::{ServerOptions, SocketIo};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChatMessage {
    name: String,
    text: String,
}

const PAGE: &str = include_str!("chat.html");
const CDN: &str = "https://cdn.socket.io/4.8.1/socket.io.min.js";

/// What the environment asks for: the server's options, the page, the address.
pub fn settings() -> (ServerOptions, Bytes, String) {
    let client_dir = std::env::var_os("SIO_CLIENT_DIR").map(PathBuf::from);
    let page = PAGE.replace(
        "__CLIENT_SRC__",
        if client_dir.is_some() {
            "/socket.io/socket.io.min.js"
        } else {
            CDN
        },
    );
    let options = ServerOptions {
        serve_client: client_dir,
        ..ServerOptions::default()
    };
    let addr = std::env::var("SIO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    (options, Bytes::from(page), addr)
}

/// The chat room: every message goes to everyone (its sender included) and is acknowledged
/// with whether it was accepted; arrivals and departures are announced with the count.
pub fn install<R: 'static>(io: &SocketIo<R>) {
    let online = io.clone();
    io.ns("/", move |socket, _req| {
        let count = online.sockets("/").len();
        let _ = socket.broadcast().emit("user joined", &count);
        let room = online.clone();
        socket.on("chat message", move |_socket, mut msg| {
            let room = room.clone();
            async move {
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
}

/// The plain HTTP service beside Socket.IO: the page at `/`, 404 elsewhere.
pub async fn page<B>(page: Bytes, req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let found = req.uri().path() == "/";
    let mut r = Response::new(Full::new(if found {
        page
    } else {
        Bytes::from_static(b"Not Found")
    }));
    if found {
        r.headers_mut().insert(
            "content-type",
            "text/html; charset=utf-8".parse().expect("valid"),
        );
    } else {
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
    }
    Ok(r)
}
