//! The sio bench server: `PORT` (default 3000) on 127.0.0.1, default options (Node's),
//! the handlers of [`sio_bench_server::install`].
//!
//! On sio-tokio by default: tokio's multi-thread runtime, one worker per core, or a
//! current-thread runtime with `BENCH_THREADS=1`. `BENCH_RUNTIME=async-std` runs it on
//! sio-async-std instead. `SIO_ECHO=typed` answers `echo` through a `serde_json::Value`
//! instead of the raw arguments. `BENCH_REUSEPORT=1` binds with `SO_REUSEPORT` (sio-tokio),
//! so that several processes share the port (`bench/cluster.sh`).
#![forbid(unsafe_code)]

use sio_bench_server::{install, EchoMode};
use sio_tokio::ServerOptions;

async fn serve_tokio(port: u16, mode: EchoMode) -> std::io::Result<()> {
    let io = sio_tokio::SocketIo::new(ServerOptions::default());
    install(&io, mode);
    let listener = if std::env::var("BENCH_REUSEPORT").as_deref() == Ok("1") {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseport(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        socket.listen(1024)?
    } else {
        tokio::net::TcpListener::bind(("127.0.0.1", port)).await?
    };
    println!("sio-tokio bench server on 127.0.0.1:{port}");
    io.serve(listener).await
}

async fn serve_async_std(port: u16, mode: EchoMode) -> std::io::Result<()> {
    let io = sio_async_std::SocketIo::new(ServerOptions::default());
    install(&io, mode);
    let listener = async_std::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("sio-async-std bench server on 127.0.0.1:{port}");
    io.serve(listener).await
}

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let mode = match std::env::var("SIO_ECHO").as_deref() {
        Ok("typed") => EchoMode::Typed,
        _ => EchoMode::Raw,
    };
    if std::env::var("BENCH_RUNTIME").as_deref() == Ok("async-std") {
        return async_std::task::block_on(serve_async_std(port, mode));
    }
    let mut rt = if std::env::var("BENCH_THREADS").as_deref() == Ok("1") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    rt.enable_all().build()?.block_on(serve_tokio(port, mode))
}
