//! The floor server of the bench on a current-thread runtime: `PORT` (default 3000) on
//! 127.0.0.1. `BENCH_THREADS=multi` runs it on tokio's multi-thread runtime instead (what a
//! multi-threaded layout costs a server that does no protocol work). See the library for what
//! it does.
#![forbid(unsafe_code)]

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let mut rt = if std::env::var("BENCH_THREADS").as_deref() == Ok("multi") {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    rt.enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("floor (bare tokio-tungstenite) on 127.0.0.1:{port}");
        sio_bench_floor::serve(listener).await
    })
}
