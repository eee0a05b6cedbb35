//! Cross-node broadcast latency and throughput through a real redis-server (for
//! bench/README.md). Ignored by default; run with
//!
//! ```sh
//! cargo test --release -p sio-tests --test redis_bench -- --ignored --nocapture
//! ```
//!
//! Two sio-tokio nodes in one cluster; `CLIENTS` WebSocket clients in one room on node B;
//! node A broadcasts to the room. Latency: A emits one event every 2 ms carrying its send
//! time, each client notes the arrival; the percentiles are over every (event, client).
//! Throughput: A emits `BURST` events back to back; the time until every client has all of
//! them gives cross-node broadcasts/s and deliveries/s.

mod redis_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_support::{Redis, RustNode, WAIT};
use sio_tokio::Tokio;

const CLIENTS: usize = 100;
const PACED: usize = 1000;
const BURST: usize = 10_000;

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --ignored --nocapture"]
async fn cross_node_broadcast() {
    let redis = Redis::start().await;
    let a = RustNode::<Tokio>::start(&redis, "A").await;
    let b = RustNode::<Tokio>::start(&redis, "B").await;
    let start = Instant::now();
    let lat: Arc<Mutex<Vec<u64>>> = Arc::default();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (lat, count) = (lat.clone(), count.clone());
        let c = sio_tokio::client::ClientBuilder::new(&b.url())
            .transports(&[sio_tokio::sio_core::engine::server::TransportKind::WebSocket])
            .timeout(WAIT)
            .on("t", move |_s, m| {
                let (lat, count) = (lat.clone(), count.clone());
                async move {
                    let sent: u64 = m.args().unwrap_or(0);
                    if sent > 0 {
                        let now = start.elapsed().as_micros() as u64;
                        lat.lock().unwrap().push(now - sent);
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
            .connect()
            .await
            .unwrap();
        let _: String = c
            .socket()
            .emit_with_ack("join", &"room", WAIT)
            .await
            .unwrap();
        clients.push(c);
    }

    // Paced: latency.
    for _ in 0..PACED {
        let sent = start.elapsed().as_micros() as u64;
        a.io.to("room").emit("t", &sent).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let want = PACED * CLIENTS;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(std::sync::atomic::Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut l = lat.lock().unwrap().clone();
    assert_eq!(l.len(), want, "every paced event reached every client");
    println!(
        "paced: {PACED} broadcasts x {CLIENTS} clients, cross-node delivery latency p50 {} µs, p99 {} µs, max {} µs",
        pct(&mut l, 0.5),
        pct(&mut l, 0.99),
        pct(&mut l, 1.0)
    );

    // The same, emitted on node B itself (local delivery): the latency baseline.
    lat.lock().unwrap().clear();
    count.store(0, std::sync::atomic::Ordering::Relaxed);
    for _ in 0..PACED {
        let sent = start.elapsed().as_micros() as u64;
        b.io.to("room").local().emit("t", &sent).unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(std::sync::atomic::Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut l = lat.lock().unwrap().clone();
    println!(
        "paced baseline (emitted on node B, local): latency p50 {} µs, p99 {} µs, max {} µs",
        pct(&mut l, 0.5),
        pct(&mut l, 0.99),
        pct(&mut l, 1.0)
    );

    // Burst: throughput.
    count.store(0, std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    for _ in 0..BURST {
        a.io.to("room").emit("t", &0u64).unwrap();
    }
    let emitted = t0.elapsed();
    let want = BURST * CLIENTS;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(std::sync::atomic::Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = t0.elapsed();
    let got = count.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "burst: {BURST} broadcasts emitted in {:.1} ms; {got} of {want} deliveries in {:.1} ms: {:.0} cross-node broadcasts/s, {:.0} deliveries/s; dropped {}",
        emitted.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e3,
        BURST as f64 / took.as_secs_f64(),
        got as f64 / took.as_secs_f64(),
        a.redis.status().dropped(),
    );
    assert_eq!(got, want);

    // The same burst from node B itself: local delivery, the baseline.
    count.store(0, std::sync::atomic::Ordering::Relaxed);
    let t0 = Instant::now();
    for _ in 0..BURST {
        b.io.to("room").local().emit("t", &0u64).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(std::sync::atomic::Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = t0.elapsed();
    println!(
        "baseline (same burst emitted on node B, local): {:.1} ms: {:.0} broadcasts/s, {:.0} deliveries/s",
        took.as_secs_f64() * 1e3,
        BURST as f64 / took.as_secs_f64(),
        count.load(std::sync::atomic::Ordering::Relaxed) as f64 / took.as_secs_f64(),
    );
}
