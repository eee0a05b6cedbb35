//! Socket.IO mounted as a tower layer on a connection that is not a plain `TcpStream` (as
//! behind TLS or any other wrapper): the WebSocket runs over what hyper hands back after the
//! upgrade, read through the thread's buffer, and carries messages of every size.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use sio_core::engine::client::TransportKind;
use sio_tokio::client::ClientBuilder;
use sio_tokio::{ServerOptions, SocketIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_layer::Layer;

/// A TCP stream behind a type of its own: the runtime cannot take the socket back from hyper.
struct Wrapped(TcpStream);

impl AsyncRead for Wrapped {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wrapped {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_websocket_over_a_wrapped_connection_carries_small_and_large_messages() {
    let io = SocketIo::new(ServerOptions::default());
    io.ns("/", |socket, _req| {
        socket.on("echo", |_socket, mut msg| async move {
            if let Some(ack) = msg.ack() {
                let _ = ack.send_args(msg.arguments());
            }
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let layer = io.layer();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let svc = layer.layer(tower::service_fn(|_req| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                    bytes::Bytes::new(),
                )))
            }));
            tokio::spawn(async move {
                let svc = hyper_util::service::TowerToHyperService::new(svc);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(Wrapped(stream)), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    let client = ClientBuilder::new(&format!("http://{addr}"))
        .transports(&[TransportKind::WebSocket])
        .connect()
        .await
        .expect("connected");
    assert_eq!(client.transport(), Some(TransportKind::WebSocket));
    // Smaller and much larger than the WebSocket's read buffer and the thread's buffer.
    for len in [1, 300, 5_000, 200_000] {
        let text = "x".repeat(len);
        let back: String = client
            .emit_with_ack("echo", &(text.as_str(),), Duration::from_secs(5))
            .await
            .expect("answered");
        assert_eq!(back.len(), len);
        assert_eq!(back, text);
    }
    client.disconnect();
}
