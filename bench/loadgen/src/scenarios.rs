//! The four scenarios. Each is bounded in time and count, talks to one server on loopback, and
//! measures the server's CPU time and memory from `/proc` around its measured window.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::procfs::{self, Sample};
use crate::stats::percentile;
use crate::wire::{
    get_request, is_done, is_reply, open_sid, parse_tick, polling_packets, post_request,
    text_frame, HttpClient, WsClient,
};

/// The server under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its Engine.IO path, `/socket.io/`.
    pub path: String,
    /// Its process, for `/proc`.
    pub pid: u32,
    /// Its name in the results.
    pub server: String,
}

/// The result of one scenario run (one JSON line).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    /// Server name.
    pub server: String,
    /// Scenario label (`connect-1000`, `echo`, `broadcast`, `polling`, ...).
    pub scenario: String,
    /// Clients asked for.
    pub clients: usize,
    /// Clients that completed the Socket.IO handshake.
    pub connected: usize,
    /// Operations in the measured window: connects, acks or deliveries.
    pub ops: u64,
    /// Length of the measured window, s.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_s: f64,
    /// Median latency (connect, round trip or delivery), µs.
    pub p50_us: Option<f64>,
    /// 99th percentile latency, µs.
    pub p99_us: Option<f64>,
    /// Server CPU time (utime + stime from /proc/<pid>/stat) over the window, ms.
    pub cpu_ms: f64,
    /// Server CPU time per operation, µs.
    pub cpu_us_per_op: Option<f64>,
    /// Share of that CPU time spent in the kernel (stime), 0–1.
    pub sys_share: Option<f64>,
    /// Server CPU per operation from the threads' schedstat (ns precision), µs.
    pub sched_cpu_us_per_op: Option<f64>,
    /// Server RSS before, KiB.
    pub rss_kib_before: u64,
    /// Server RSS after, KiB.
    pub rss_kib_after: u64,
    /// (RSS after − before) / connections, KiB (connect scenarios).
    pub rss_kib_per_conn: Option<f64>,
    /// Messages that did not arrive (broadcast).
    pub lost: Option<u64>,
    /// Messages that arrived twice (broadcast).
    pub duplicates: Option<u64>,
    /// Connections that failed or broke, and unexpected packets.
    pub errors: u64,
    /// Connect: Engine.IO pings the idle clients received and answered.
    pub pings: Option<u64>,
    /// The first error seen, if any.
    pub first_error: Option<String>,
    /// The generator's own CPU time over the window divided by its length (1.0 = one core
    /// busy: the generator may be the bottleneck).
    pub generator_cpu_share: f64,
}

/// Options shared by the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    /// Clients.
    pub clients: usize,
    /// Measured seconds (echo, polling).
    pub seconds: f64,
    /// Warm-up seconds before the window (echo, polling).
    pub warmup: f64,
    /// Broadcast: ticks the server sends.
    pub ticks: u64,
    /// Broadcast: ms between ticks.
    pub interval_ms: u64,
    /// Connect: give up launching connections after this many seconds.
    pub max_seconds: f64,
    /// Handshakes in flight at once.
    pub concurrency: usize,
    /// Connections per loopback source address (127.0.0.1, .2, ...) once there are more
    /// clients than this; 0 = always 127.0.0.1.
    pub per_source_ip: usize,
    /// Connect: seconds to wait before reading the server's memory.
    pub settle: f64,
    /// Last byte of the first loopback source address (127.0.0.N): generators that run side
    /// by side against one port (`bench/cluster.sh`) each take their own addresses, so that
    /// together they may open more connections than one address has ports.
    pub source_base: u8,
    /// Connect: once connected and measured, print `ready N` on stderr and keep the
    /// connections open and idle (answering the server's pings) for this many seconds more,
    /// or until `until_file` exists if that comes first.
    pub hold: f64,
    /// Connect: a file whose creation ends the hold.
    pub until_file: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            clients: 100,
            seconds: 10.0,
            warmup: 1.0,
            ticks: 500,
            interval_ms: 10,
            max_seconds: 60.0,
            concurrency: 128,
            per_source_ip: 25_000,
            settle: 1.5,
            source_base: 1,
            hold: 0.0,
            until_file: None,
        }
    }
}

impl Options {
    fn source(&self, i: usize) -> Option<IpAddr> {
        let spread = self.per_source_ip != 0 && self.clients > self.per_source_ip;
        if !spread && self.source_base == 1 {
            return None;
        }
        let k = if spread { i / self.per_source_ip } else { 0 } as u8;
        Some(IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            k.wrapping_add(self.source_base).max(1),
        )))
    }
}

/// The Socket.IO frames every client sends, encoded and masked once.
#[derive(Debug)]
pub struct Frames {
    /// `40`: CONNECT to `/`.
    pub connect: Vec<u8>,
    /// `421["echo",{...}]`: an event with ack id 1.
    pub echo: Vec<u8>,
    /// `420["join","bench"]`.
    pub join: Vec<u8>,
}

/// The echo event's payload.
pub const ECHO_TEXT: &str = r#"421["echo",{"msg":"hello world","n":42}]"#;

impl Frames {
    /// Build them.
    pub fn new() -> Arc<Self> {
        Arc::new(Frames {
            connect: text_frame("40"),
            echo: text_frame(ECHO_TEXT),
            join: text_frame(r#"420["join","bench"]"#),
        })
    }
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn micros_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The generator's own CPU time, µs.
fn own_cpu_us() -> u64 {
    procfs::sample(std::process::id())
        .map(|s| s.cpu_us)
        .unwrap_or(0)
}

/// Open a WebSocket and complete the Engine.IO and Socket.IO handshakes.
pub async fn sio_connect(t: &Target, src: Option<IpAddr>, frames: &Frames) -> io::Result<WsClient> {
    let path = format!("{}?EIO=4&transport=websocket", t.path);
    let mut ws = WsClient::connect(t.addr, src, &path).await?;
    let open = ws.next_packet().await?;
    if !open.starts_with(b"0") {
        return Err(other(format!(
            "expected an Engine.IO open packet, got {:?}",
            String::from_utf8_lossy(open)
        )));
    }
    ws.send(&frames.connect).await?;
    loop {
        let p = ws.next_packet().await?;
        if p.starts_with(b"40") {
            return Ok(ws);
        }
        if p.starts_with(b"44") {
            return Err(other(format!(
                "connect refused: {}",
                String::from_utf8_lossy(p)
            )));
        }
    }
}

/// Connect `n` clients, `concurrency` handshakes at a time, each within 10 s.
async fn connect_all(
    t: &Target,
    o: &Options,
    frames: &Arc<Frames>,
) -> (Vec<WsClient>, u64, Option<String>) {
    let sem = Arc::new(Semaphore::new(o.concurrency.max(1)));
    let mut handles = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        let Ok(permit) = sem.clone().acquire_owned().await else {
            break;
        };
        let (t, frames, src) = (t.clone(), frames.clone(), o.source(i));
        handles.push(tokio::spawn(async move {
            let r = timeout(Duration::from_secs(10), sio_connect(&t, src, &frames)).await;
            drop(permit);
            r.unwrap_or_else(|_| Err(other("handshake timed out")))
        }));
    }
    let mut clients = Vec::with_capacity(handles.len());
    let (mut errors, mut first) = (0, None);
    for h in handles {
        match h.await {
            Ok(Ok(c)) => clients.push(c),
            Ok(Err(e)) => {
                errors += 1;
                first.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                errors += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    (clients, errors, first)
}

/// Open and close a few connections so that one-time costs (lazy statics, JIT, allocator
/// arenas) are not counted.
async fn warm_up(t: &Target, frames: &Arc<Frames>) {
    let o = Options {
        clients: 20,
        concurrency: 20,
        ..Options::default()
    };
    let (clients, _, _) = connect_all(t, &o, frames).await;
    drop(clients);
    sleep(Duration::from_millis(300)).await;
}

struct Window {
    before: Sample,
    after: Sample,
    own_before: u64,
    own_after: u64,
    seconds: f64,
}

impl Window {
    fn fill(&self, out: &mut Outcome, ops: u64) {
        let cpu_us = self.after.cpu_us.saturating_sub(self.before.cpu_us);
        let user_us = self.after.user_us.saturating_sub(self.before.user_us);
        let sched_ns = self.after.sched_ns.saturating_sub(self.before.sched_ns);
        out.ops = ops;
        out.seconds = self.seconds;
        out.ops_per_s = if self.seconds > 0.0 {
            ops as f64 / self.seconds
        } else {
            0.0
        };
        out.cpu_ms = cpu_us as f64 / 1000.0;
        if ops > 0 {
            out.cpu_us_per_op = Some(cpu_us as f64 / ops as f64);
            if self.after.sched_ns > 0 {
                out.sched_cpu_us_per_op = Some(sched_ns as f64 / 1000.0 / ops as f64);
            }
        }
        if cpu_us > 0 {
            out.sys_share = Some(1.0 - user_us as f64 / cpu_us as f64);
        }
        out.rss_kib_before = self.before.rss_kib;
        out.rss_kib_after = self.after.rss_kib;
        if self.seconds > 0.0 {
            out.generator_cpu_share =
                self.own_after.saturating_sub(self.own_before) as f64 / 1e6 / self.seconds;
        }
    }
}

fn latencies(out: &mut Outcome, mut ns: Vec<u64>) {
    ns.sort_unstable();
    out.p50_us = percentile(&ns, 50.0).map(|v| v as f64 / 1000.0);
    out.p99_us = percentile(&ns, 99.0).map(|v| v as f64 / 1000.0);
}

fn base(t: &Target, scenario: &str, clients: usize) -> Outcome {
    Outcome {
        server: t.server.clone(),
        scenario: scenario.to_owned(),
        clients,
        ..Outcome::default()
    }
}

/// Scenario 1: connect `o.clients` WebSocket clients (giving up after `o.max_seconds`), keep
/// them open and idle (answering pings); connects/s, CPU per connect, RSS per connection.
pub async fn connect(t: &Target, o: &Options, label: &str) -> io::Result<Outcome> {
    let frames = Frames::new();
    warm_up(t, &frames).await;
    let mut out = base(t, label, o.clients);
    let before = procfs::sample(t.pid)?;
    let own_before = own_cpu_us();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs_f64(o.max_seconds);
    let sem = Arc::new(Semaphore::new(o.concurrency.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<u64, String>>();
    let dropped = Arc::new(AtomicU64::new(0));
    let pings = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        let permit = tokio::select! {
            p = sem.clone().acquire_owned() => p.map_err(|_| other("semaphore closed"))?,
            _ = sleep_until(deadline) => break,
        };
        let (t, frames, src) = (t.clone(), frames.clone(), o.source(i));
        let (done_tx, mut stop_rx) = (done_tx.clone(), stop_rx.clone());
        let (dropped, pings) = (dropped.clone(), pings.clone());
        handles.push(tokio::spawn(async move {
            let start = Instant::now();
            let left = deadline.saturating_duration_since(start);
            let limit = left.min(Duration::from_secs(10));
            let r = timeout(limit, sio_connect(&t, src, &frames)).await;
            drop(permit);
            let mut ws = match r {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => {
                    let _ = done_tx.send(Err(e.to_string()));
                    return;
                }
                Err(_) => {
                    let _ = done_tx.send(Err("handshake timed out".into()));
                    return;
                }
            };
            let _ = done_tx.send(Ok(start.elapsed().as_nanos() as u64));
            drop(done_tx);
            // Idle: answer pings until told to stop.
            loop {
                tokio::select! {
                    _ = stop_rx.changed() => break,
                    r = ws.next_packet() => if r.is_err() {
                        dropped.fetch_add(1, Ordering::Relaxed);
                        break;
                    },
                }
            }
            pings.fetch_add(ws.pings, Ordering::Relaxed);
        }));
    }
    drop(done_tx);
    let mut lat = Vec::with_capacity(handles.len());
    let mut last = t0;
    while let Some(r) = done_rx.recv().await {
        match r {
            Ok(ns) => {
                lat.push(ns);
                last = Instant::now();
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(e);
            }
        }
    }
    let seconds = (last - t0).as_secs_f64();
    let own_mid = own_cpu_us();
    let mid = procfs::sample(t.pid)?;
    // Let the server settle (allocator, GC) before reading its memory.
    sleep(Duration::from_secs_f64(o.settle)).await;
    let after = procfs::sample(t.pid)?;
    out.connected = lat.len();
    Window {
        before,
        after: Sample {
            rss_kib: after.rss_kib,
            ..mid
        },
        own_before,
        own_after: own_mid,
        seconds,
    }
    .fill(&mut out, lat.len() as u64);
    if out.connected > 0 {
        out.rss_kib_per_conn =
            Some(after.rss_kib.saturating_sub(before.rss_kib) as f64 / out.connected as f64);
    }
    latencies(&mut out, lat);
    if o.hold > 0.0 {
        eprintln!("ready {}", out.connected);
        let end = Instant::now() + Duration::from_secs_f64(o.hold);
        while Instant::now() < end && !o.until_file.as_ref().is_some_and(|f| f.exists()) {
            sleep(Duration::from_millis(200)).await;
        }
    }
    let _ = stop_tx.send(true);
    for h in handles {
        let _ = timeout(Duration::from_secs(5), h).await;
    }
    out.pings = Some(pings.load(Ordering::Relaxed));
    let d = dropped.load(Ordering::Relaxed);
    if d > 0 {
        out.errors += d;
        out.first_error
            .get_or_insert_with(|| format!("{d} idle connections were closed by the server"));
    }
    Ok(out)
}

/// Scenario 2: `o.clients` clients, each with one `emitWithAck("echo", ...)` in flight, for
/// `o.warmup` + `o.seconds`: acks/s, round-trip latency, CPU per ack.
pub async fn echo(t: &Target, o: &Options) -> io::Result<Outcome> {
    let frames = Frames::new();
    let mut out = base(t, "echo", o.clients);
    let (clients, errors, first) = connect_all(t, o, &frames).await;
    out.connected = clients.len();
    out.errors = errors;
    out.first_error = first;
    let start = Instant::now() + Duration::from_secs_f64(o.warmup);
    let end = start + Duration::from_secs_f64(o.seconds);
    let mut handles = Vec::with_capacity(clients.len());
    for mut ws in clients {
        let frames = frames.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(16 * 1024);
            let mut unexpected = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                ws.send(&frames.echo).await?;
                loop {
                    let p = ws.next_packet().await?;
                    if is_reply(p) {
                        break;
                    }
                    unexpected += 1;
                }
                if t0 >= start {
                    lat.push(t0.elapsed().as_nanos() as u64);
                }
            }
            Ok::<_, io::Error>((lat, unexpected))
        }));
    }
    sleep_until(start).await;
    let before = procfs::sample(t.pid)?;
    let own_before = own_cpu_us();
    sleep_until(end).await;
    let after = procfs::sample(t.pid)?;
    let own_after = own_cpu_us();
    let mut all = Vec::new();
    for h in handles {
        match timeout(Duration::from_secs(10), h).await {
            Ok(Ok(Ok((lat, unexpected)))) => {
                all.extend(lat);
                out.errors += unexpected;
                if unexpected > 0 {
                    out.first_error
                        .get_or_insert_with(|| "unexpected packets instead of acks".into());
                }
            }
            Ok(Ok(Err(e))) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| "an echo did not come back within 10 s".into());
            }
        }
    }
    Window {
        before,
        after,
        own_before,
        own_after,
        seconds: o.seconds,
    }
    .fill(&mut out, all.len() as u64);
    latencies(&mut out, all);
    Ok(out)
}

/// What one broadcast receiver saw.
struct Received {
    unique: u64,
    duplicates: u64,
    unexpected: u64,
    resent: u64,
    done: bool,
    last: Option<Instant>,
    latencies: Vec<u64>,
}

/// Scenario 3: `o.clients` clients join room `bench`; a separate controller connection asks
/// the server to emit `tick` (seq, send time) to the room every `o.interval_ms` ms,
/// `o.ticks` times, then `done`. Deliveries/s, delivery latency, lost messages, CPU per
/// delivery.
pub async fn broadcast(t: &Target, o: &Options) -> io::Result<Outcome> {
    let frames = Frames::new();
    let mut out = base(t, "broadcast", o.clients);
    let (clients, errors, first) = connect_all(t, o, &frames).await;
    out.connected = clients.len();
    out.errors = errors;
    out.first_error = first;
    let ticks = o.ticks;
    let run_for = Duration::from_millis(o.ticks * o.interval_ms) + Duration::from_secs(15);
    let (joined_tx, mut joined_rx) = mpsc::unbounded_channel::<bool>();
    let mut handles = Vec::with_capacity(clients.len());
    for mut ws in clients {
        let (frames, joined_tx) = (frames.clone(), joined_tx.clone());
        handles.push(tokio::spawn(async move {
            // Acknowledged; sent again (at most twice more) when the ack does not come within
            // 2 s: an event sent right after the CONNECT ack may find no listener yet on some
            // servers. Joining twice is harmless.
            let mut resent = 0;
            let mut ok = false;
            for _ in 0..3 {
                ws.send(&frames.join).await?;
                let ack = async {
                    loop {
                        if is_reply(ws.next_packet().await?) {
                            return Ok::<_, io::Error>(());
                        }
                    }
                };
                match timeout(Duration::from_secs(2), ack).await {
                    Ok(r) => {
                        ok = r.is_ok();
                        break;
                    }
                    Err(_) => resent += 1,
                }
            }
            let _ = joined_tx.send(ok);
            drop(joined_tx);
            if !ok {
                return Err(other("join was not acknowledged"));
            }
            let mut r = Received {
                unique: 0,
                duplicates: 0,
                unexpected: 0,
                resent,
                done: false,
                last: None,
                latencies: Vec::with_capacity(ticks as usize),
            };
            let mut seen = vec![false; ticks as usize];
            let receive = async {
                loop {
                    let p = ws.next_packet().await?;
                    if let Some((seq, sent)) = parse_tick(p) {
                        let now = micros_since_epoch();
                        r.last = Some(Instant::now());
                        match seen.get_mut(seq as usize) {
                            Some(s) if !*s => {
                                *s = true;
                                r.unique += 1;
                                r.latencies.push(now.saturating_sub(sent) * 1000);
                            }
                            Some(_) => r.duplicates += 1,
                            None => r.unexpected += 1,
                        }
                    } else if is_done(p) {
                        r.done = true;
                        return Ok::<_, io::Error>(());
                    } else {
                        r.unexpected += 1;
                    }
                }
            };
            let res = timeout(run_for, receive).await;
            match res {
                Ok(Err(e)) => Err(e),
                _ => Ok(r),
            }
        }));
    }
    drop(joined_tx);
    let mut joined = 0;
    let join_deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(Some(ok)) = timeout(
        join_deadline.saturating_duration_since(Instant::now()),
        joined_rx.recv(),
    )
    .await
    {
        if ok {
            joined += 1;
        }
    }
    // The controller is not in the room.
    let mut controller = sio_connect(t, None, &frames).await?;
    let before = procfs::sample(t.pid)?;
    let own_before = own_cpu_us();
    let start = Instant::now();
    let cmd = text_frame(&format!(
        r#"421["start-broadcast","bench",{},{}]"#,
        o.interval_ms, o.ticks
    ));
    // Acknowledged; sent again (at most twice more) if the ack does not come within 2 s: an
    // event sent right after the CONNECT ack may find no listener yet on some servers.
    let mut started = false;
    for attempt in 0..3 {
        if attempt > 0 {
            out.errors += 1;
            out.first_error
                .get_or_insert_with(|| "start-broadcast was not acknowledged at once".into());
        }
        controller.send(&cmd).await?;
        let ack = async {
            loop {
                if is_reply(controller.next_packet().await?) {
                    return Ok::<_, io::Error>(());
                }
            }
        };
        if let Ok(r) = timeout(Duration::from_secs(2), ack).await {
            r?;
            started = true;
            break;
        }
    }
    if !started {
        out.errors += 1;
        out.first_error
            .get_or_insert_with(|| "start-broadcast was never acknowledged".into());
    }
    let mut received = Vec::new();
    for h in handles {
        match h.await {
            Ok(Ok(r)) => received.push(r),
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let after = procfs::sample(t.pid)?;
    let own_after = own_cpu_us();
    let last = received
        .iter()
        .filter_map(|r| r.last)
        .max()
        .unwrap_or(start);
    let delivered: u64 = received.iter().map(|r| r.unique).sum();
    let not_done = received.iter().filter(|r| !r.done).count() as u64;
    let unexpected: u64 = received.iter().map(|r| r.unexpected).sum();
    out.duplicates = Some(received.iter().map(|r| r.duplicates).sum());
    out.lost = Some((ticks * joined as u64).saturating_sub(delivered));
    let resent: u64 = received.iter().map(|r| r.resent).sum();
    out.errors += unexpected + not_done + resent;
    if resent > 0 {
        out.first_error.get_or_insert_with(|| {
            format!("{resent} joins were not acknowledged within 2 s and were sent again")
        });
    }
    if joined < out.connected {
        out.errors += (out.connected - joined) as u64;
        out.first_error
            .get_or_insert_with(|| format!("{} joins not acknowledged", out.connected - joined));
    }
    if not_done > 0 {
        out.first_error
            .get_or_insert_with(|| format!("{not_done} clients did not get `done`"));
    }
    Window {
        before,
        after,
        own_before,
        own_after,
        seconds: (last - start).as_secs_f64(),
    }
    .fill(&mut out, delivered);
    let lat: Vec<u64> = received.into_iter().flat_map(|r| r.latencies).collect();
    latencies(&mut out, lat);
    drop(controller);
    Ok(out)
}

/// A connected long-polling client: a GET connection and a POST connection, as browsers use.
struct PollingClient {
    get: HttpClient,
    post: HttpClient,
    get_req: Vec<u8>,
    echo_req: Vec<u8>,
    pong_req: Vec<u8>,
}

async fn polling_connect(t: &Target, src: Option<IpAddr>) -> io::Result<PollingClient> {
    let base_path = format!("{}?EIO=4&transport=polling", t.path);
    let mut get = HttpClient::connect(t.addr, src).await?;
    let (status, body) = get.request(&get_request(t.addr, &base_path)).await?;
    let sid = polling_packets(&body)
        .next()
        .and_then(open_sid)
        .ok_or_else(|| {
            other(format!(
                "bad polling handshake ({status}): {:?}",
                String::from_utf8_lossy(&body)
            ))
        })?;
    let path = format!("{base_path}&sid={sid}");
    let mut post = HttpClient::connect(t.addr, src).await?;
    let (status, body) = post.request(&post_request(t.addr, &path, "40")).await?;
    if status != 200 {
        return Err(other(format!(
            "CONNECT POST refused ({status}): {:?}",
            String::from_utf8_lossy(&body)
        )));
    }
    let get_req = get_request(t.addr, &path);
    let mut connected = false;
    while !connected {
        let (status, body) = get.request(&get_req).await?;
        if status != 200 {
            return Err(other(format!("polling GET failed ({status})")));
        }
        for p in polling_packets(&body) {
            if p.starts_with(b"40") {
                connected = true;
            } else if p.starts_with(b"44") {
                return Err(other("connect refused"));
            }
        }
    }
    Ok(PollingClient {
        get,
        post,
        echo_req: post_request(t.addr, &path, ECHO_TEXT),
        pong_req: post_request(t.addr, &path, "3"),
        get_req,
    })
}

/// Scenario 4: `o.clients` polling-only clients doing echo with acks (one in flight each, a
/// long-poll GET always pending): acks/s, latency, CPU per ack.
pub async fn polling(t: &Target, o: &Options) -> io::Result<Outcome> {
    let mut out = base(t, "polling", o.clients);
    let sem = Arc::new(Semaphore::new(o.concurrency.clamp(1, 64)));
    let mut connecting = Vec::with_capacity(o.clients);
    for i in 0..o.clients {
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| other("semaphore closed"))?;
        let (t, src) = (t.clone(), o.source(i));
        connecting.push(tokio::spawn(async move {
            let r = timeout(Duration::from_secs(10), polling_connect(&t, src)).await;
            drop(permit);
            r.unwrap_or_else(|_| Err(other("polling handshake timed out")))
        }));
    }
    let mut clients = Vec::with_capacity(o.clients);
    for h in connecting {
        match h.await {
            Ok(Ok(c)) => clients.push(c),
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    out.connected = clients.len();
    let start = Instant::now() + Duration::from_secs_f64(o.warmup);
    let end = start + Duration::from_secs_f64(o.seconds);
    let mut handles = Vec::with_capacity(clients.len());
    for mut c in clients {
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut unexpected = 0u64;
            c.get.send(&c.get_req).await?;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let (status, body) = c.post.request(&c.echo_req).await?;
                if status != 200 || body != b"ok" {
                    return Err(other(format!("echo POST answered {status}")));
                }
                let mut acked = false;
                while !acked {
                    let (status, body) = c.get.response().await?;
                    if status != 200 {
                        return Err(other(format!("polling GET answered {status}")));
                    }
                    // The next long-poll is pending before the packets are looked at.
                    c.get.send(&c.get_req).await?;
                    let mut ping = false;
                    for p in polling_packets(&body) {
                        match p {
                            b"2" => ping = true,
                            b"6" => {}
                            _ if p.starts_with(b"43") => acked = true,
                            _ if p.starts_with(b"1") => {
                                return Err(other("the server closed the session"))
                            }
                            _ => unexpected += 1,
                        }
                    }
                    if ping {
                        c.post.request(&c.pong_req).await?;
                    }
                }
                if t0 >= start {
                    lat.push(t0.elapsed().as_nanos() as u64);
                }
            }
            Ok::<_, io::Error>((lat, unexpected))
        }));
    }
    sleep_until(start).await;
    let before = procfs::sample(t.pid)?;
    let own_before = own_cpu_us();
    sleep_until(end).await;
    let after = procfs::sample(t.pid)?;
    let own_after = own_cpu_us();
    let mut all = Vec::new();
    for h in handles {
        match timeout(Duration::from_secs(10), h).await {
            Ok(Ok(Ok((lat, unexpected)))) => {
                all.extend(lat);
                out.errors += unexpected;
            }
            Ok(Ok(Err(e))) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Ok(Err(e)) => {
                out.errors += 1;
                out.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(_) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert_with(|| "a polling echo did not come back within 10 s".into());
            }
        }
    }
    Window {
        before,
        after,
        own_before,
        own_after,
        seconds: o.seconds,
    }
    .fill(&mut out, all.len() as u64);
    latencies(&mut out, all);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
    }

    #[test]
    fn sources_spread_past_the_per_address_count() {
        let o = Options {
            clients: 60_000,
            per_source_ip: 25_000,
            ..Options::default()
        };
        assert_eq!(o.source(0), ip(1));
        assert_eq!(o.source(24_999), ip(1));
        assert_eq!(o.source(25_000), ip(2));
        assert_eq!(o.source(59_999), ip(3));
        // Few clients: the kernel picks the source.
        let few = Options {
            clients: 100,
            ..Options::default()
        };
        assert_eq!(few.source(7), None);
    }

    #[test]
    fn a_source_base_gives_each_generator_its_own_addresses() {
        let o = Options {
            clients: 100,
            source_base: 4,
            ..Options::default()
        };
        assert_eq!(o.source(0), ip(4));
        assert_eq!(o.source(99), ip(4));
        let many = Options {
            clients: 30_000,
            source_base: 4,
            ..Options::default()
        };
        assert_eq!(many.source(25_000), ip(5));
    }
}
