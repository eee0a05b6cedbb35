//! The handlers every server of the bench has, on sio-tokio or sio-async-std:
//!
//! - `echo`: acknowledged with the same arguments;
//! - `join` (room name): joins the room, then acknowledges (no arguments) if asked;
//! - `start-broadcast` (room, interval ms, count): the server's own timer emits
//!   `tick` (seq, send time in µs since the Unix epoch) to the room every interval, `count`
//!   times, then `done` (count); the event is acknowledged (no arguments) if asked.
#![forbid(unsafe_code)]

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sio_runtime::SocketIo;

/// What the handlers need of the runtime: a task for the broadcast timer, and its sleeps.
pub trait BenchRuntime: 'static {
    /// Run `task` in the background.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);
    /// Complete at `at`.
    fn sleep_until(at: Instant) -> impl Future<Output = ()> + Send;
}

impl BenchRuntime for sio_tokio::Tokio {
    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn sleep_until(at: Instant) -> impl Future<Output = ()> + Send {
        tokio::time::sleep_until(at.into())
    }
}

impl BenchRuntime for sio_async_std::AsyncStd {
    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(task);
    }

    async fn sleep_until(at: Instant) {
        async_io::Timer::at(at).await;
    }
}

/// How `echo` builds its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoMode {
    /// Answer with the arguments as they came (`Message::arguments`: no values built).
    Raw,
    /// Deserialize the first argument into a `serde_json::Value` and serialize it back (what
    /// a typed handler does; socketioxide's `Data<Value>` does the same).
    Typed,
}

/// Microseconds since the Unix epoch.
pub fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Emit `count` ticks to `room`, one every `interval_ms` (on a fixed schedule: a late tick
/// does not delay the next ones), then `done`.
pub async fn ticker<R: BenchRuntime>(io: SocketIo<R>, room: String, interval_ms: u64, count: u64) {
    let every = Duration::from_millis(interval_ms.max(1));
    let start = Instant::now();
    for seq in 0..count {
        R::sleep_until(start + every * seq as u32).await;
        let _ = io.to(&room).emit("tick", &(seq, micros()));
    }
    let _ = io.to(&room).emit("done", &count);
}

/// Register the bench's handlers on namespace `/` of `io`.
pub fn install<R: BenchRuntime>(io: &SocketIo<R>, mode: EchoMode) {
    let handle = io.clone();
    io.ns("/", move |socket, _req| {
        socket.on("echo", move |_socket, mut msg| async move {
            let Some(ack) = msg.ack() else { return };
            let _ = match mode {
                EchoMode::Raw => ack.send_args(msg.arguments()),
                EchoMode::Typed => {
                    let v: serde_json::Value = msg.args().unwrap_or_default();
                    ack.send(&v)
                }
            };
        });
        socket.on("join", |socket, mut msg| async move {
            let room: String = msg.args().unwrap_or_default();
            let _ = socket.join(&room);
            if let Some(ack) = msg.ack() {
                let _ = ack.send(&());
            }
        });
        let io = handle.clone();
        socket.on("start-broadcast", move |_socket, mut msg| {
            let io = io.clone();
            async move {
                if let Ok((room, interval, count)) = msg.args::<(String, u64, u64)>() {
                    R::spawn(ticker(io, room, interval, count));
                }
                if let Some(ack) = msg.ack() {
                    let _ = ack.send(&());
                }
            }
        });
    });
}
