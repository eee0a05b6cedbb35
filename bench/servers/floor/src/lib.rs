//! The floor of the bench: the least a tokio-tungstenite server can do for the same traffic.
//!
//! No Engine.IO or Socket.IO: no session ids, no heartbeat, no packet parsing beyond a prefix
//! test, no per-socket state besides the WebSocket. What it does, so that the load generator's
//! clients run unchanged:
//!
//! - any path is upgraded to a WebSocket (`tokio_tungstenite::accept_async_with_config`, the
//!   default configuration but a 4 KiB read buffer, as socketioxide uses: tungstenite's default
//!   128 KiB buffer is zero-filled up to its capacity before every read, which costs a 128 KiB
//!   memset per read and makes all of it resident, so it is no floor; `FLOOR_READ_BUFFER`
//!   overrides the size); a fixed Engine.IO open packet is sent at once;
//! - `40` (Socket.IO CONNECT) is answered with a fixed `40{"sid":"floor"}`; `3` (pong) is
//!   ignored;
//! - an event named `join` (`42<id>["join",...`) puts the socket in the one broadcast set
//!   (room names are ignored) and is echoed, which the client takes as its ack;
//! - `42<id>["start-broadcast",<room>,<interval ms>,<count>]` is echoed (the ack) and starts a
//!   timer task that builds
//!   `42["tick",<seq>,<µs>]` once per tick and writes that one message to each socket of the
//!   set directly (no per-socket queue or task wake-up), `count` times, then `done`;
//! - every other message is written back as it came (the echo: `421["echo",...]` comes back
//!   as is, which the client counts as the reply).
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

type Sink = tokio::sync::Mutex<SplitSink<WebSocketStream<TcpStream>, Message>>;

/// The one broadcast set: (connection id, its write half).
#[derive(Default)]
struct Room {
    members: Mutex<Vec<(u64, Arc<Sink>)>>,
}

const OPEN: &str = r#"0{"sid":"floor","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
const CONNECTED: &str = r#"40{"sid":"floor"}"#;

/// Whether `text` is an event named `join` (with or without an ack id).
pub fn is_join(text: &[u8]) -> bool {
    let Some(rest) = text.strip_prefix(b"42") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    rest[digits..].starts_with(b"[\"join\"")
}

/// The interval (ms) and count of a `start-broadcast` event (with or without an ack id).
pub fn start_broadcast(text: &[u8]) -> Option<(u64, u64)> {
    let rest = text.strip_prefix(b"42")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest[digits..].strip_prefix(b"[\"start-broadcast\",")?;
    let rest = std::str::from_utf8(rest).ok()?;
    let mut numbers = rest
        .rsplit(',')
        .map(|s| s.trim_matches(|c: char| !c.is_ascii_digit()));
    let count = numbers.next()?.parse().ok()?;
    let interval = numbers.next()?.parse().ok()?;
    Some((interval, count))
}

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

async fn ticker(room: Arc<Room>, interval_ms: u64, count: u64) {
    let mut every = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    let send_all = |text: String| {
        let room = room.clone();
        async move {
            let msg = Message::Text(Utf8Bytes::from(text));
            let members: Vec<Arc<Sink>> = room
                .members
                .lock()
                .expect("room lock")
                .iter()
                .map(|(_, s)| s.clone())
                .collect();
            for s in members {
                let _ = s.lock().await.send(msg.clone()).await;
            }
        }
    };
    for seq in 0..count {
        every.tick().await;
        send_all(format!("42[\"tick\",{seq},{}]", micros())).await;
    }
    send_all(format!("42[\"done\",{count}]")).await;
}

async fn connection(stream: TcpStream, room: Arc<Room>, id: u64, read_buffer: usize) {
    let config = WebSocketConfig::default().read_buffer_size(read_buffer);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let (sink, mut source) = ws.split();
    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    if sink
        .lock()
        .await
        .send(Message::Text(Utf8Bytes::from_static(OPEN)))
        .await
        .is_err()
    {
        return;
    }
    while let Some(Ok(msg)) = source.next().await {
        let reply = match msg {
            Message::Text(t) => {
                let b = t.as_bytes();
                if b == b"40" {
                    Some(Message::Text(Utf8Bytes::from_static(CONNECTED)))
                } else if b == b"3" {
                    None
                } else if let Some((interval, count)) = start_broadcast(b) {
                    tokio::spawn(ticker(room.clone(), interval, count));
                    // Echoed: the client takes it as the ack.
                    Some(Message::Text(t))
                } else {
                    if is_join(b) {
                        room.members
                            .lock()
                            .expect("room lock")
                            .push((id, sink.clone()));
                    }
                    Some(Message::Text(t))
                }
            }
            Message::Binary(b) => Some(Message::Binary(b)),
            Message::Close(_) => break,
            _ => None,
        };
        if let Some(m) = reply {
            if sink.lock().await.send(m).await.is_err() {
                break;
            }
        }
    }
    room.members
        .lock()
        .expect("room lock")
        .retain(|(i, _)| *i != id);
}

/// The read buffer size of each WebSocket: `FLOOR_READ_BUFFER` or 4 KiB.
pub fn read_buffer_size() -> usize {
    std::env::var("FLOOR_READ_BUFFER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4096)
}

/// Accept connections on `listener` forever (accept errors such as running out of file
/// descriptors are waited out, not fatal).
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let read_buffer = read_buffer_size();
    let room = Arc::new(Room::default());
    let next = AtomicU64::new(0);
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let id = next.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(stream, room.clone(), id, read_buffer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_commands() {
        assert!(is_join(br#"420["join","bench"]"#));
        assert!(is_join(br#"42["join","bench"]"#));
        assert!(!is_join(br#"421["echo","join"]"#));
        assert!(!is_join(br#"43["join"]"#));
        assert_eq!(
            start_broadcast(br#"42["start-broadcast","bench",10,500]"#),
            Some((10, 500))
        );
        assert_eq!(
            start_broadcast(br#"421["start-broadcast","bench",5,20]"#),
            Some((5, 20))
        );
        assert_eq!(start_broadcast(br#"42["start-broadcast"]"#), None);
        assert_eq!(start_broadcast(br#"421["echo",1,2]"#), None);
    }
}
