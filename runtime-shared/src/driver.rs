//! The loop around the core: feed it, drain it, hand the outputs to whoever must act on them.
//!
//! One [`Server`] core lives behind one mutex. Whoever has input (a WebSocket task, an HTTP
//! request, the timer task, an application command) locks it, feeds the core, drains every
//! output into a [`Dispatch`] and unlocks; then it performs the dispatch: frames go to the
//! per-connection outboxes (the writer of the current connection writes them itself, without
//! a wake-up), HTTP answers complete their parked requests, events run the application's
//! handlers.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::task::AtomicWaker;

use sio_core::engine::server::{HttpResponse, RequestId, Transmit, WsId};
use sio_core::server::{BroadcastAckId, Event, Output, Server, SocketId};
use sio_core::socket::Packet;
use std::time::Instant;
use tungstenite::Message;

use tokio::sync::{oneshot, Notify};

use crate::io::App;
use crate::rt::Runtime;

/// Frames waiting to be written on one WebSocket.
///
/// The connection's own task writes them. Frames queued while that task handles its own
/// input (the answer to an event, a handler's emit to its own socket) need no wake-up: the
/// task looks at the outbox right after ([`serving`]); others wake it.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    /// Frames or the close were queued since the last [`Outbox::take`].
    ready: AtomicBool,
    waker: AtomicWaker,
}

#[derive(Debug, Default)]
struct OutboxState {
    /// One frame inline: a connection that has nothing to write holds no buffer for it, and
    /// one frame at a time (an answer, a broadcast) needs none.
    frames: Frames,
    close: bool,
}

/// The frames taken from an [`Outbox`] at once.
pub(crate) type Frames = SmallVec<[Message; 1]>;

impl Outbox {
    /// Queue a frame; true when the outbox was empty (then its task needs a wake-up; otherwise
    /// the frame before this one already arranged it).
    pub(crate) fn push(&self, msg: Message) -> bool {
        self.state.lock().expect("outbox lock").frames.push(msg);
        !self.ready.swap(true, Ordering::AcqRel)
    }

    /// Queue the close; true when the outbox was empty, as for [`Outbox::push`].
    pub(crate) fn close(&self) -> bool {
        self.state.lock().expect("outbox lock").close = true;
        !self.ready.swap(true, Ordering::AcqRel)
    }

    /// Wake the connection's task, unless it is the one running here (it will look).
    pub(crate) fn wake(&self) {
        let current = SERVING.with(|s| s.get());
        if !std::ptr::eq(current, self) {
            self.waker.wake();
        }
    }

    /// Take every queued frame, and whether the socket must be closed after them.
    pub(crate) fn take(&self) -> (Frames, bool) {
        if !self.ready.swap(false, Ordering::AcqRel) {
            return (Frames::new(), false);
        }
        let mut s = self.state.lock().expect("outbox lock");
        (std::mem::take(&mut s.frames), s.close)
    }

    /// Ready once something was queued (then [`Outbox::take`] it).
    pub(crate) fn poll_ready(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.ready.load(Ordering::Acquire) {
            return std::task::Poll::Ready(());
        }
        self.waker.register(cx.waker());
        if self.ready.load(Ordering::Acquire) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
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

/// The result of an ack wait.
pub(crate) type AckResult = Result<Packet, crate::AckError>;

/// Everything behind the lock.
pub(crate) struct Inner {
    pub(crate) core: Server,
    pub(crate) outboxes: FxHashMap<WsId, Arc<Outbox>>,
    pub(crate) http: FxHashMap<RequestId, oneshot::Sender<HttpResponse>>,
    pub(crate) acks: FxHashMap<(SocketId, u64), oneshot::Sender<AckResult>>,
    pub(crate) broadcast_acks: FxHashMap<BroadcastAckId, oneshot::Sender<BroadcastAckResult>>,
    pub(crate) sockets: FxHashMap<SocketId, Arc<crate::socket::SocketState>>,
    timer_at: Option<u64>,
}

/// The answers of a broadcast with acks.
pub(crate) type BroadcastAckResult = (Vec<(SocketId, Packet)>, bool);

/// What to do once the lock is released.
#[derive(Default)]
pub(crate) struct Dispatch {
    wake: SmallVec<[Arc<Outbox>; 2]>,
    http: SmallVec<[(oneshot::Sender<HttpResponse>, HttpResponse); 1]>,
    /// Responses to requests nobody waits for yet: the caller's own request, answered at
    /// once (see [`Driver::run_then`]).
    pub(crate) unclaimed: SmallVec<[(RequestId, HttpResponse); 1]>,
    events: SmallVec<[(Event, Option<Arc<crate::socket::SocketState>>); 1]>,
    acks: SmallVec<[(oneshot::Sender<AckResult>, AckResult); 1]>,
    broadcast_acks: Vec<(oneshot::Sender<BroadcastAckResult>, BroadcastAckResult)>,
    timer_changed: bool,
    /// Cluster outputs (see `crate::adapter`).
    adapter: Vec<sio_core::server::AdapterOutput>,
}

/// The shared driver of one server.
pub(crate) struct Driver {
    inner: Mutex<Inner>,
    timer: Arc<Notify>,
    start: Instant,
    next_id: AtomicU64,
    pub(crate) app: App,
    pub(crate) rt: Arc<dyn Runtime>,
}

impl Driver {
    pub(crate) fn new(core: Server, app: App, rt: Arc<dyn Runtime>) -> Arc<Self> {
        let driver = Arc::new(Driver {
            inner: Mutex::new(Inner {
                core,
                outboxes: FxHashMap::default(),
                http: FxHashMap::default(),
                acks: FxHashMap::default(),
                broadcast_acks: FxHashMap::default(),
                sockets: FxHashMap::default(),
                timer_at: None,
            }),
            timer: Arc::new(Notify::new()),
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            app,
            rt,
        });
        driver
            .rt
            .spawn(Box::pin(timer_task(Arc::downgrade(&driver))));
        driver
    }

    /// Milliseconds since the driver started: the core's clock.
    pub(crate) fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the core, drain its outputs and perform them.
    pub(crate) fn run<R>(self: &Arc<Self>, f: impl FnOnce(&mut Inner, u64) -> R) -> R {
        let (r, d) = self.run_deferred(f);
        self.perform(d);
        r
    }

    /// Run `f` on the core and drain, returning what to perform later.
    pub(crate) fn run_deferred<R>(&self, f: impl FnOnce(&mut Inner, u64) -> R) -> (R, Dispatch) {
        self.run_deferred_then(f, |_, _, r| r)
    }

    /// [`Driver::run_deferred`], then `then` with the lock still held.
    fn run_deferred_then<R, S>(
        &self,
        f: impl FnOnce(&mut Inner, u64) -> R,
        then: impl FnOnce(&mut Inner, &mut Dispatch, R) -> S,
    ) -> (S, Dispatch) {
        let now = self.now();
        let mut inner = self.lock();
        let r = f(&mut inner, now);
        let mut d = inner.drain();
        let s = then(&mut inner, &mut d, r);
        (s, d)
    }

    /// Perform a dispatch: wake writers, answer requests, run handlers.
    pub(crate) fn perform(self: &Arc<Self>, d: Dispatch) {
        if d.timer_changed {
            self.timer.notify_one();
        }
        for o in d.wake {
            o.wake();
        }
        for (tx, resp) in d.http {
            let _ = tx.send(resp);
        }
        for (tx, r) in d.acks {
            let _ = tx.send(r);
        }
        for (tx, r) in d.broadcast_acks {
            let _ = tx.send(r);
        }
        crate::adapter::perform(self, d.adapter);
        for (event, state) in d.events {
            crate::io::on_event(self, event, state);
        }
    }

    /// A fresh id for a WebSocket or an HTTP request (no lock).
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Run `f` on the core and drain, then `then` with the lock still held and the dispatch
    /// (to take from it what the caller answers itself), then perform the rest.
    pub(crate) fn run_then<R, S>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Inner, u64) -> R,
        then: impl FnOnce(&mut Inner, &mut Dispatch, R) -> S,
    ) -> S {
        let (s, d) = self.run_deferred_then(f, then);
        self.perform(d);
        s
    }
}

impl Inner {
    fn drain(&mut self) -> Dispatch {
        let mut d = Dispatch::default();
        let mut messages = crate::ws::Messages::default();
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(Transmit::Ws { ws, frame }) => {
                    if let Some(o) = self.outboxes.get(&ws) {
                        if o.push(messages.convert(frame)) {
                            d.wake.push(o.clone());
                        }
                    }
                }
                Output::Transmit(Transmit::WsClose { ws }) => {
                    if let Some(o) = self.outboxes.remove(&ws) {
                        if o.close() {
                            d.wake.push(o);
                        }
                    }
                }
                Output::Transmit(Transmit::Http { req, response }) => {
                    match self.http.remove(&req) {
                        Some(tx) => d.http.push((tx, response)),
                        None => d.unclaimed.push((req, response)),
                    }
                }
                Output::Event(Event::AckReceived {
                    socket,
                    ack,
                    packet,
                }) => {
                    if let Some(tx) = self.acks.remove(&(socket, ack)) {
                        d.acks.push((tx, Ok(packet)));
                    }
                }
                Output::Event(Event::AckTimedOut { socket, ack }) => {
                    if let Some(tx) = self.acks.remove(&(socket, ack)) {
                        d.acks.push((tx, Err(crate::AckError::Timeout)));
                    }
                }
                Output::Event(Event::BroadcastAck {
                    id,
                    responses,
                    timed_out,
                }) => {
                    if let Some(tx) = self.broadcast_acks.remove(&id) {
                        d.broadcast_acks.push((tx, (responses, timed_out)));
                    }
                }
                Output::Event(e) => {
                    let state = match &e {
                        Event::Message { socket, .. } | Event::Disconnecting { socket, .. } => {
                            self.sockets.get(socket).cloned()
                        }
                        Event::Disconnect { socket, .. } => self.sockets.remove(socket),
                        _ => None,
                    };
                    d.events.push((e, state));
                }
            }
        }
        while let Some(o) = self.core.poll_adapter_output() {
            d.adapter.push(o);
        }
        let next = self.core.poll_timeout();
        if next != self.timer_at {
            d.timer_changed = next.is_some() && (self.timer_at.is_none() || next < self.timer_at);
            self.timer_at = next;
        }
        d
    }
}

/// A driver with one core whose deadlines a [`timer_task`] fires.
pub(crate) trait Timed: Send + Sync + 'static {
    /// The core's next deadline.
    fn deadline(&self) -> Option<Instant>;
    /// Notified when the deadline moved earlier.
    fn timer(&self) -> &Arc<Notify>;
    /// The runtime's timers.
    fn rt(&self) -> &Arc<dyn Runtime>;
    /// Run the core's timeouts.
    fn fire(self: Arc<Self>);
}

impl Timed for Driver {
    fn deadline(&self) -> Option<Instant> {
        let at = self.lock().timer_at?;
        Some(self.start + std::time::Duration::from_millis(at))
    }

    fn timer(&self) -> &Arc<Notify> {
        &self.timer
    }

    fn rt(&self) -> &Arc<dyn Runtime> {
        &self.rt
    }

    fn fire(self: Arc<Self>) {
        self.run(|inner, now| inner.core.handle_timeout(now));
    }
}

/// Sleeps until the core's next deadline and fires it. Holds the driver only while firing,
/// so that it ends once the server (or client) is dropped.
pub(crate) async fn timer_task<T: Timed>(driver: std::sync::Weak<T>) {
    use futures_util::future::{select, Either};
    loop {
        let (when, timer, rt) = {
            let Some(d) = driver.upgrade() else { return };
            (d.deadline(), d.timer().clone(), d.rt().clone())
        };
        let notified = std::pin::pin!(timer.notified_owned());
        // Without a deadline, wake up now and then to notice that the driver was dropped.
        let fire = when.is_some();
        let when = when.unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(1));
        if let Either::Left(_) = select(rt.sleep_until(when), notified).await {
            if fire {
                let Some(d) = driver.upgrade() else { return };
                d.fire();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn text(s: &'static str) -> Message {
        Message::Text(s.into())
    }

    #[test]
    fn an_outbox_asks_for_a_wake_up_only_when_it_stops_being_empty() {
        let o = Outbox::default();
        assert!(o.push(text("a")));
        assert!(!o.push(text("b")));
        let (got, close) = o.take();
        assert_eq!((&got[..], close), (&[text("a"), text("b")][..], false));
        // Nothing new: nothing taken.
        let (got, close) = o.take();
        assert!(got.is_empty() && !close);
        assert!(o.push(text("c")));
        assert!(!o.close());
        let (got, close) = o.take();
        assert_eq!((&got[..], close), (&[text("c")][..], true));
        // One frame is held inline, without a buffer of its own.
        assert!(!got.spilled());
    }

    #[test]
    fn the_task_serving_an_outbox_is_not_woken_for_it() {
        let o = Outbox::default();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert_eq!(o.poll_ready(&mut cx), Poll::Pending);
        serving(&o, || {
            assert!(o.push(text("own")));
            o.wake();
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
            o.wake();
        });
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
