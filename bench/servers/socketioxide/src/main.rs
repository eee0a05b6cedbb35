//! The socketioxide bench server: `PORT` (default 3000) on 127.0.0.1, default configuration,
//! served by hyper's HTTP/1.1 connection directly (no axum). Handlers as in
//! `bench/servers/sio`:
//!
//! - `echo`: acknowledged with its argument (`Data<serde_json::Value>`);
//! - `join` (room): joins, then acknowledges;
//! - `start-broadcast` (room, interval ms, count): a timer task emits `tick` (seq, µs since
//!   the Unix epoch) to the room every interval, `count` times, then `done` (count);
//!   acknowledged.
//!
//! `BENCH_THREADS=1` runs it on a current-thread runtime.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper_util::rt::TokioIo;
use socketioxide::extract::{AckSender, Data, SocketRef};
use socketioxide::SocketIo;

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn ticker(io: SocketIo, room: String, interval_ms: u64, count: u64) {
    let mut every = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    for seq in 0..count {
        every.tick().await;
        let _ = io.to(room.clone()).emit("tick", &(seq, micros())).await;
    }
    let _ = io.to(room).emit("done", &count).await;
}

async fn serve(port: u16) -> std::io::Result<()> {
    let (svc, io) = SocketIo::new_svc();
    io.ns("/", async |socket: SocketRef| {
        socket.on(
            "echo",
            async |Data(v): Data<serde_json::Value>, ack: AckSender| {
                let _ = ack.send(&v);
            },
        );
        socket.on(
            "join",
            async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
                socket.join(room);
                let _ = ack.send(&());
            },
        );
        socket.on(
            "start-broadcast",
            async |io: SocketIo,
                   Data((room, interval, count)): Data<(String, u64, u64)>,
                   ack: AckSender| {
                tokio::spawn(ticker(io, room, interval, count));
                let _ = ack.send(&());
            },
        );
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("socketioxide bench server on 127.0.0.1:{port}");
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = svc.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .with_upgrades()
                .await;
        });
    }
}

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let mut rt = if std::env::var("BENCH_THREADS").as_deref() == Ok("1") {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    rt.enable_all().build()?.block_on(serve(port))
}
