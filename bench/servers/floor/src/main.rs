//! The floor server of the bench on a current-thread runtime: `PORT` (default 3000) on
//! 127.0.0.1. See the library for what it does.
#![forbid(unsafe_code)]

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            println!("floor (bare tokio-tungstenite) on 127.0.0.1:{port}");
            sio_bench_floor::serve(listener).await
        })
}
