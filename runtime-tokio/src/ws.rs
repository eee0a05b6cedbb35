//! One WebSocket connection: read messages into the core, write what its outbox holds.
//!
//! Everything for one connection happens in its own task: the frames the core produces while
//! handling this connection's input are written by this task right after, without a wake-up,
//! and all frames queued at once are written with one flush.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sio_core::engine::server::WsId;
use sio_core::engine::Frame;
use sio_core::ByteString;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::driver::{Driver, Outbox};

pub(crate) async fn run<S>(
    driver: Arc<Driver>,
    ws: WsId,
    outbox: Arc<Outbox>,
    stream: WebSocketStream<S>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut source) = stream.split();
    let mut frames = Vec::new();
    let mut error = false;
    loop {
        let close = outbox.take(&mut frames);
        if !frames.is_empty() {
            let mut result = Ok(());
            for f in frames.drain(..) {
                result = sink.feed(to_message(f)).await;
                if result.is_err() {
                    break;
                }
            }
            if result.is_ok() {
                result = sink.flush().await;
            }
            if let Err(e) = result {
                tracing::debug!(error = %e, "websocket write failed");
                error = is_protocol_error(&e);
                break;
            }
        }
        if close {
            let _ = sink.close().await;
            return;
        }
        tokio::select! {
            biased;
            msg = source.next() => {
                let frame = match msg {
                    Some(Ok(Message::Text(t))) => match ByteString::try_from(Bytes::from(t)) {
                        Ok(s) => Frame::Text(s),
                        Err(_) => { error = true; break; }
                    },
                    Some(Ok(Message::Binary(b))) => Frame::Binary(b),
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket read failed");
                        error = is_protocol_error(&e);
                        break;
                    }
                };
                driver.run(|inner, now| inner.core.handle_ws_message(now, ws, frame));
            }
            _ = outbox.notify.notified() => {}
        }
    }
    driver.run(|inner, now| {
        inner.outboxes.remove(&ws);
        inner.core.handle_ws_closed(now, ws, error)
    });
}

/// Whether a WebSocket failure is the peer breaking the protocol (an oversized message, a bad
/// frame: `transport error`) rather than the connection going away (a reset, an end without a
/// close frame: `transport close`), as Node's `ws` tells them apart.
fn is_protocol_error(e: &WsError) -> bool {
    !matches!(
        e,
        WsError::ConnectionClosed
            | WsError::AlreadyClosed
            | WsError::Io(_)
            | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)
    )
}

fn to_message(f: Frame) -> Message {
    match f {
        Frame::Text(s) => {
            Message::Text(Utf8Bytes::try_from(s.into_bytes()).expect("a ByteString is UTF-8"))
        }
        Frame::Binary(b) => Message::Binary(b),
    }
}
