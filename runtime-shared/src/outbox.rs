//! The frames waiting to be written on one WebSocket, and who writes them.
//!
//! The connection's own task ([`crate::ws::pump`]) reads the socket and writes what is queued.
//! Frames queued while that task handles its own input (the answer to an event, a handler's
//! emit to its own socket) need no wake-up: the task looks at the outbox right after
//! ([`serving`]). Frames queued by others (a broadcast, a handler of another connection) are
//! written by whoever queued them, straight onto the socket, when the connection's task is
//! idle: an idle task parks its stream in the outbox, so that a broadcast to a thousand idle
//! sockets is a thousand writes from one task, not a thousand wake-ups. Whatever cannot be
//! written at once (a full socket buffer, a close, a stream in use) is left to the
//! connection's task, which is woken for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_util::task::AtomicWaker;
use smallvec::SmallVec;
use tungstenite::Message;

use futures_util::SinkExt;

use crate::rt::{BoxWsStream, WsStream};

/// The frames taken from an [`Outbox`] at once.
type Frames = SmallVec<[Message; 1]>;

/// What [`Outbox::write_queued`] came to.
#[derive(Debug)]
pub(crate) enum Written {
    /// Every queued frame went to the stream: `flush` when any did (or a flush was asked
    /// for), `close` when the close was asked for.
    Done { flush: bool, close: bool },
    /// The stream took no more; the rest is queued again.
    Blocked,
    /// The stream failed.
    Failed(tungstenite::Error),
}

/// What [`Outbox::take`] hands a writer: the frames to write, whether the stream holds
/// written frames that still need a flush, and whether to close after them.
#[derive(Debug, Default)]
struct Taken {
    frames: Frames,
    flush: bool,
    close: bool,
}

/// Frames waiting to be written on one WebSocket (see the module's documentation).
#[derive(Default)]
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    /// Frames or the close were queued since the last [`Outbox::take`].
    ready: AtomicBool,
    waker: AtomicWaker,
    /// The stream, while the connection's task waits: others may write to it.
    parked: Mutex<Option<BoxWsStream>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("ready", &self.ready.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct OutboxState {
    /// One frame inline: a connection that has nothing to write holds no buffer for it, and
    /// one frame at a time (an answer, a broadcast) needs none.
    frames: Frames,
    flush: bool,
    close: bool,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Outbox {
    /// Queue a frame; true when the outbox was empty (then it needs [`Outbox::deliver`];
    /// otherwise the frame before this one already arranged it).
    pub(crate) fn push(&self, msg: Message) -> bool {
        relock(&self.state).frames.push(msg);
        !self.ready.swap(true, Ordering::AcqRel)
    }

    /// Queue the close; true when the outbox was empty, as for [`Outbox::push`].
    pub(crate) fn close(&self) -> bool {
        relock(&self.state).close = true;
        !self.ready.swap(true, Ordering::AcqRel)
    }

    /// Hand back to the connection's task what a writer could not finish: frames not
    /// written (before any queued since), a flush; and mark the outbox ready (a close asked
    /// for stays queued: [`Outbox::take`] does not clear it).
    fn defer(&self, unwritten: impl Iterator<Item = Message>, flush: bool) {
        let mut s = relock(&self.state);
        let newer = std::mem::take(&mut s.frames);
        s.frames.extend(unwritten);
        s.frames.extend(newer);
        s.flush |= flush;
        drop(s);
        self.ready.store(true, Ordering::Release);
    }

    /// Get what was queued onto the socket: written here when the connection's task is idle
    /// and the socket takes it at once, else by that task, woken for it. Nothing to do when
    /// that task is the one running here (it looks right after).
    pub(crate) fn deliver(&self) {
        let current = SERVING.with(|s| s.get());
        if std::ptr::eq(current, self) {
            return;
        }
        if let Ok(mut parked) = self.parked.try_lock() {
            if let Some(wire) = parked.as_mut() {
                if self.write_parked(&mut **wire) {
                    return;
                }
            }
        }
        self.waker.wake();
    }

    /// Write what is queued on the parked stream `wire`; false when the connection's task
    /// must finish (then what is left was handed back to it).
    fn write_parked(&self, wire: &mut dyn WsStream) -> bool {
        // The connection's task is parked and stays so: nobody may be woken for this.
        let mut cx = Context::from_waker(Waker::noop());
        match self.write_queued(wire, &mut cx) {
            Written::Done { flush, close } => {
                if flush && !matches!(wire.poll_flush_unpin(&mut cx), Poll::Ready(Ok(()))) {
                    self.defer(std::iter::empty(), true);
                    return false;
                }
                if close {
                    // Still queued: the task sends it.
                    self.defer(std::iter::empty(), false);
                    return false;
                }
                true
            }
            Written::Blocked => false,
            // The task finds the failure when it flushes.
            Written::Failed(_) => {
                self.defer(std::iter::empty(), true);
                false
            }
        }
    }

    /// Give the queued frames to `wire` (not flushed). What it is not ready for goes back to
    /// the front of the queue, to be taken again once it is (`cx` is woken then).
    pub(crate) fn write_queued(&self, wire: &mut dyn WsStream, cx: &mut Context<'_>) -> Written {
        let Taken {
            frames,
            flush,
            close,
        } = self.take();
        let flush = flush || !frames.is_empty();
        let mut frames = frames.into_iter();
        while let Some(frame) = frames.next() {
            match wire.poll_ready_unpin(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Written::Failed(e),
                Poll::Pending => {
                    self.defer(std::iter::once(frame).chain(frames), flush);
                    return Written::Blocked;
                }
            }
            if let Err(e) = wire.start_send_unpin(frame) {
                return Written::Failed(e);
            }
        }
        Written::Done { flush, close }
    }

    /// Take every queued frame, and whether to flush and close after them.
    fn take(&self) -> Taken {
        if !self.ready.swap(false, Ordering::AcqRel) {
            return Taken::default();
        }
        let mut s = relock(&self.state);
        Taken {
            frames: std::mem::take(&mut s.frames),
            flush: std::mem::take(&mut s.flush),
            close: s.close,
        }
    }

    /// Whether something was queued (then [`Outbox::take`] it); registers no waker (see
    /// [`Outbox::poll_ready`]).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Ready once something was queued (then [`Outbox::take`] it).
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_ready() {
            return Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// The connection's task waits: leave its stream here for others to write to.
    pub(crate) fn park(&self, wire: BoxWsStream) {
        *relock(&self.parked) = Some(wire);
    }

    /// The connection's task runs again: take its stream back (after a write in progress).
    pub(crate) fn unpark(&self) -> Option<BoxWsStream> {
        relock(&self.parked).take()
    }
}

thread_local! {
    /// The outbox whose connection task is handling its own input on this thread.
    static SERVING: std::cell::Cell<*const Outbox> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// Run `f` as the task of `outbox`'s connection handling its input: frames queued for it
/// meanwhile (on this thread) wake nobody, the caller takes them next.
pub(crate) fn serving<R>(outbox: &Outbox, f: impl FnOnce() -> R) -> R {
    struct Reset(*const Outbox);
    impl Drop for Reset {
        fn drop(&mut self) {
            SERVING.with(|s| s.set(self.0));
        }
    }
    let _reset = Reset(SERVING.with(|s| s.replace(outbox)));
    f()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::Wake;

    use futures_util::{Sink, Stream};
    use tungstenite::error::Error as WsError;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn text(s: &'static str) -> Message {
        Message::Text(s.into())
    }

    fn counted() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        (count, waker)
    }

    /// A stream that records what it is given; `room` frames fit before it would block,
    /// `flushes` flushes succeed before it would block.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<RecorderState>>);

    #[derive(Default)]
    struct RecorderState {
        sent: Vec<Message>,
        flushed: usize,
        room: usize,
        flushes: usize,
        fail: bool,
    }

    impl Stream for Recorder {
        type Item = Result<Message, WsError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    impl Sink<Message> for Recorder {
        type Error = WsError;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            let s = self.0.lock().unwrap();
            if s.room > s.sent.len() {
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn start_send(self: Pin<&mut Self>, m: Message) -> Result<(), WsError> {
            let mut s = self.0.lock().unwrap();
            if s.fail {
                return Err(WsError::ConnectionClosed);
            }
            s.sent.push(m);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            let mut s = self.0.lock().unwrap();
            if s.flushes > 0 {
                s.flushes -= 1;
                s.flushed = s.sent.len();
                Poll::Ready(Ok(()))
            } else {
                Poll::Pending
            }
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), WsError>> {
            Poll::Ready(Ok(()))
        }
    }

    fn recorder(room: usize, flushes: usize) -> Recorder {
        let r = Recorder::default();
        {
            let mut s = r.0.lock().unwrap();
            s.room = room;
            s.flushes = flushes;
        }
        r
    }

    /// An outbox whose task waits (its waker registered and counted), with `r` parked.
    fn parked(r: &Recorder) -> (Outbox, Arc<Count>, Waker) {
        let o = Outbox::default();
        let (count, waker) = counted();
        assert_eq!(
            o.poll_ready(&mut Context::from_waker(&waker)),
            Poll::Pending
        );
        o.park(Box::pin(r.clone()));
        (o, count, waker)
    }

    #[test]
    fn an_outbox_asks_for_delivery_only_when_it_stops_being_empty() {
        let o = Outbox::default();
        assert!(o.push(text("a")));
        assert!(!o.push(text("b")));
        let t = o.take();
        assert_eq!(&t.frames[..], &[text("a"), text("b")][..]);
        assert!(!t.close && !t.flush);
        // Nothing new: nothing taken.
        assert!(o.take().frames.is_empty());
        assert!(o.push(text("c")));
        assert!(!o.close());
        let t = o.take();
        assert_eq!((&t.frames[..], t.close), (&[text("c")][..], true));
        // One frame is held inline, without a buffer of its own.
        assert!(!t.frames.spilled());
    }

    #[test]
    fn the_task_serving_an_outbox_is_not_woken_for_it() {
        let o = Outbox::default();
        let (count, waker) = counted();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(o.poll_ready(&mut cx), Poll::Pending);
        serving(&o, || {
            assert!(o.push(text("own")));
            o.deliver();
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        // Ready all the same: the serving task looks right after.
        assert_eq!(o.poll_ready(&mut cx), Poll::Ready(()));
        o.take();
        // Another outbox served on this thread does not hide this one.
        let other = Outbox::default();
        assert_eq!(o.poll_ready(&mut cx), Poll::Pending);
        serving(&other, || {
            assert!(o.push(text("from elsewhere")));
            o.deliver();
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_parked_stream_is_written_by_the_deliverer_without_a_wake_up() {
        let r = recorder(10, 10);
        let (o, count, waker) = parked(&r);
        let mut cx = Context::from_waker(&waker);
        assert!(o.push(text("a")));
        assert!(!o.push(text("b")));
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert_eq!(r.0.lock().unwrap().sent, [text("a"), text("b")]);
        assert_eq!(r.0.lock().unwrap().flushed, 2);
        // Nothing is left for the task.
        assert_eq!(o.poll_ready(&mut cx), Poll::Pending);
        assert!(o.unpark().is_some());
        // Unparked (the task runs): the deliverer wakes it instead.
        assert!(o.push(text("c")));
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(r.0.lock().unwrap().sent.len(), 2);
        assert_eq!(&o.take().frames[..], &[text("c")][..]);
    }

    #[test]
    fn what_a_parked_stream_cannot_take_goes_back_to_the_task_in_order() {
        // Room for one frame.
        let r = recorder(1, 10);
        let (o, count, _waker) = parked(&r);
        o.push(text("a"));
        o.push(text("b"));
        o.push(text("c"));
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(r.0.lock().unwrap().sent, [text("a")]);
        // A frame queued after the hand-back comes after what was handed back.
        o.push(text("d"));
        let t = o.take();
        assert_eq!(&t.frames[..], &[text("b"), text("c"), text("d")][..]);
        assert!(t.flush && !t.close);
    }

    #[test]
    fn a_flush_that_would_block_or_a_close_is_left_to_the_task() {
        let r = recorder(10, 0);
        let (o, count, waker) = parked(&r);
        let mut cx = Context::from_waker(&waker);
        o.push(text("a"));
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        let t = o.take();
        assert!(t.frames.is_empty() && t.flush && !t.close);
        assert_eq!(r.0.lock().unwrap().sent, [text("a")]);

        r.0.lock().unwrap().flushes = 10;
        assert_eq!(o.poll_ready(&mut cx), Poll::Pending);
        o.push(text("b"));
        o.close();
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        let t = o.take();
        assert!(t.frames.is_empty() && t.close);
        assert_eq!(r.0.lock().unwrap().sent, [text("a"), text("b")]);
    }

    #[test]
    fn a_failed_write_is_left_to_the_task() {
        let r = recorder(10, 10);
        r.0.lock().unwrap().fail = true;
        let (o, count, _waker) = parked(&r);
        o.push(text("a"));
        o.push(text("b"));
        o.deliver();
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        let t = o.take();
        // The stream is broken: its task's flush reports the end (no frame can go anymore).
        assert!(t.frames.is_empty());
        assert!(t.flush);
    }
}
