//! The chat demo on async-std: a chat room on http://127.0.0.1:3000 with its page, Socket.IO
//! mounted as a tower layer in front of a plain hyper service. The room and the page are
//! sio-tokio's `examples/apps/chat.rs`.
//!
//! Run: `cargo run -p sio-async-std --example async_std_chat`, then open http://127.0.0.1:3000.
//! `SIO_CLIENT_DIR` serves a local copy of `socket.io-client`'s `dist/` instead of the CDN's,
//! `SIO_ADDR` listens elsewhere.

#[path = "../../runtime-tokio/examples/apps/chat.rs"]
mod app;

use sio_async_std::SocketIo;
use smol_hyper::rt::FuturesIo;
use tower_layer::Layer;
use tower_service::Service;

#[async_std::main]
async fn main() -> std::io::Result<()> {
    let (options, page, addr) = app::settings();
    let io = SocketIo::new(options);
    app::install(&io);
    let listener = async_std::net::TcpListener::bind(&addr).await?;
    println!("chat demo on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let page = page.clone();
        let svc = io.layer().layer(PageService(page));
        async_std::task::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let mut svc = svc.clone();
                async move { svc.call(req).await }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(FuturesIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

/// The page, as a tower service for the Socket.IO layer to wrap.
#[derive(Clone)]
struct PageService(bytes::Bytes);

impl Service<hyper::Request<hyper::body::Incoming>> for PageService {
    type Response = hyper::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: hyper::Request<hyper::body::Incoming>) -> Self::Future {
        Box::pin(app::page(self.0.clone(), req))
    }
}
