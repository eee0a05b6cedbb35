//! One WebSocket connection, server or client: read messages into the core, write what its
//! outbox holds.
//!
//! The connection's own task reads, and writes the frames the core produces while handling
//! this connection's input right after, without a wake-up; all frames queued at once are
//! written with one flush. While the task waits, its stream is parked in the outbox, where
//! others write to it directly (see [`crate::outbox`]).

use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use std::task::Poll;

use futures_util::{FutureExt, SinkExt, StreamExt};
use sio_core::engine::server::WsId;
use sio_core::engine::Frame;
use sio_core::ByteString;
use std::pin::Pin;
use std::task::Context;
use tungstenite::error::{Error as WsError, ProtocolError};
use tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tungstenite::Message;

use crate::driver::Driver;
use crate::outbox::{Outbox, Written};
use crate::rt::{BoxWsStream, WsStream};

/// How a WebSocket's loop ended.
pub(crate) enum End {
    /// The outbox asked for the close, which was sent.
    Closed,
    /// The peer went away or broke the protocol (`error`: a protocol error, not a plain
    /// end of the connection).
    Lost { error: bool },
}

/// Run one WebSocket until it ends: write the outbox's frames (one flush for all that are
/// queued), hand every received frame to `on_frame`.
///
/// One task reads and writes, one after the other: no split halves (and no lock between them)
/// are needed. A future written by hand rather than an `async fn`: it holds the stream (boxed,
/// so that it can be parked in the outbox while the task waits) and its step, and nothing else
/// (frames not written yet stay in the outbox): an idle connection's task is this future.
pub(crate) fn pump<O, F>(stream: BoxWsStream, outbox: O, on_frame: F) -> Pump<O, F>
where
    O: Deref<Target = Outbox> + Unpin,
    F: FnMut(Frame) + Unpin,
{
    Pump {
        wire: Some(stream),
        outbox,
        on_frame,
        close: false,
        step: Step::Idle,
    }
}

/// The future of [`pump`].
pub(crate) struct Pump<O, F> {
    /// The stream, unless it is parked in the outbox (while the task waits, idle).
    wire: Option<BoxWsStream>,
    outbox: O,
    on_frame: F,
    /// Close the stream once what was written is flushed.
    close: bool,
    step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting for the outbox or a message.
    Idle,
    /// Waiting for the stream to take the frames left in the outbox.
    Writing,
    /// Flushing what was written.
    Flushing,
    /// Sending the close frame.
    Closing,
}

impl<O, F> Future for Pump<O, F>
where
    O: Deref<Target = Outbox> + Unpin,
    F: FnMut(Frame) + Unpin,
{
    type Output = End;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<End> {
        let this = self.get_mut();
        let Some(mut wire) = this.wire.take().or_else(|| this.outbox.unpark()) else {
            // Only this task parks the stream, and takes it back here.
            return Poll::Ready(End::Lost { error: false });
        };
        let r = this.step(cx, &mut *wire);
        if r.is_pending() && this.step == Step::Idle {
            this.outbox.park(wire);
        } else {
            this.wire = Some(wire);
        }
        r
    }
}

impl<O, F> Pump<O, F>
where
    O: Deref<Target = Outbox> + Unpin,
    F: FnMut(Frame) + Unpin,
{
    fn step(&mut self, cx: &mut Context<'_>, wire: &mut dyn WsStream) -> Poll<End> {
        loop {
            match self.step {
                Step::Idle => {
                    if self.outbox.is_ready() {
                        self.step = match self.outbox.write_queued(wire, cx) {
                            Written::Done { flush, close } => {
                                self.close = close;
                                if flush {
                                    Step::Flushing
                                } else if close {
                                    Step::Closing
                                } else {
                                    Step::Idle
                                }
                            }
                            Written::Blocked => Step::Writing,
                            Written::Failed(e) => return Poll::Ready(write_failed(&e)),
                        };
                        continue;
                    }
                    let msg = match wire.poll_next_unpin(cx) {
                        Poll::Ready(m) => m,
                        // About to wait: only now be woken for the outbox (it is looked at
                        // again after, so nothing queued meanwhile is missed).
                        Poll::Pending if self.outbox.poll_ready(cx).is_ready() => continue,
                        Poll::Pending => return Poll::Pending,
                    };
                    let frame = match msg {
                        Some(Ok(Message::Text(t))) => match ByteString::try_from(Bytes::from(t)) {
                            Ok(s) => Frame::Text(s),
                            Err(_) => return Poll::Ready(End::Lost { error: true }),
                        },
                        Some(Ok(Message::Binary(b))) => Frame::Binary(b),
                        Some(Ok(Message::Close(_))) | None => {
                            return Poll::Ready(End::Lost { error: false })
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "websocket read failed");
                            return Poll::Ready(lost(&e));
                        }
                    };
                    let on_frame = &mut self.on_frame;
                    crate::outbox::serving(&self.outbox, || on_frame(frame));
                }
                // Ready again: the outbox has the rest (it was handed back there).
                Step::Writing => match wire.poll_ready_unpin(cx) {
                    Poll::Ready(Ok(())) => self.step = Step::Idle,
                    Poll::Ready(Err(e)) => return Poll::Ready(write_failed(&e)),
                    Poll::Pending => return Poll::Pending,
                },
                Step::Flushing => match wire.poll_flush_unpin(cx) {
                    Poll::Ready(Ok(())) => {
                        self.step = if self.close {
                            Step::Closing
                        } else {
                            Step::Idle
                        };
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(write_failed(&e)),
                    Poll::Pending => return Poll::Pending,
                },
                Step::Closing => {
                    return match wire.poll_close_unpin(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(_) => Poll::Ready(End::Closed),
                    };
                }
            }
        }
    }
}

fn write_failed(e: &WsError) -> End {
    tracing::debug!(error = %e, "websocket write failed");
    lost(e)
}

fn lost(e: &WsError) -> End {
    End::Lost {
        error: is_protocol_error(e),
    }
}

/// The server side of one accepted WebSocket, handed to the runtime by
/// [`Runtime::serve_websocket`](crate::rt::Runtime::serve_websocket): the runtime builds its
/// WebSocket stream and runs [`ServerWs::run`] on it.
pub struct ServerWs {
    pub(crate) driver: Arc<Driver>,
    pub(crate) ws: WsId,
    pub(crate) outbox: Arc<Outbox>,
}

impl std::fmt::Debug for ServerWs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerWs").field("ws", &self.ws.0).finish()
    }
}

impl ServerWs {
    /// Serve the connection over `stream` until it ends.
    ///
    /// The future is the pump's (the stream and about 120 bytes): built from it with a
    /// combinator, not as an `async` function of its own, whose arguments would be kept
    /// beside the pump's copy of them.
    pub fn run<S: WsStream + 'static>(self, stream: S) -> impl Future<Output = ()> + Send {
        let ServerWs { driver, ws, outbox } = self;
        let reader = driver.clone();
        let pumped = pump(Box::pin(stream), outbox, move |frame| {
            reader.run(|inner, now| inner.core.handle_ws_message(now, ws, frame));
        });
        pumped.map(move |end| {
            if let End::Lost { error } = end {
                driver.run(|inner, now| {
                    inner.outboxes.remove(&ws);
                    inner.core.handle_ws_closed(now, ws, error)
                });
            }
        })
    }

    /// The upgrade failed before a stream existed: the WebSocket is gone.
    pub fn failed(self) {
        let ServerWs { driver, ws, .. } = self;
        driver.run(|inner, now| {
            inner.outboxes.remove(&ws);
            inner.core.handle_ws_closed(now, ws, true)
        });
    }
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

/// A frame of the core as a WebSocket message.
///
/// A text goes as a raw text frame: its bytes are a [`ByteString`], UTF-8 already, and
/// tungstenite's `Message::Text` would have them checked again (per recipient of a broadcast,
/// which shares them). tungstenite writes the frame as it writes a text message (masked
/// when it is a client's).
pub(crate) fn message(f: Frame) -> Message {
    match f {
        Frame::Text(s) => Message::Frame(tungstenite::protocol::frame::Frame::message(
            s.into_bytes(),
            OpCode::Data(OpData::Text),
            true,
        )),
        Frame::Binary(b) => Message::Binary(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_becomes_a_text_frame_sharing_its_bytes() {
        let shared = ByteString::from("42[\"tick\",1]".to_owned());
        let Message::Frame(f) = message(Frame::Text(shared.clone())) else {
            panic!("not a frame")
        };
        assert_eq!(f.header().opcode, OpCode::Data(OpData::Text));
        assert!(f.header().is_final);
        assert_eq!(f.payload(), &b"42[\"tick\",1]"[..]);
        assert_eq!(f.payload().as_ptr(), shared.as_bytes().as_ptr());
        let bin = message(Frame::Binary(Bytes::from_static(b"\x01")));
        assert_eq!(bin, Message::Binary(Bytes::from_static(b"\x01")));
    }
}
