//! The loop around the core: feed it, drain it, hand the outputs to whoever must act on them.
//!
//! One [`Server`] core lives behind one mutex. Whoever has input (a WebSocket task, an HTTP
//! request, the timer task, an application command) locks it, feeds the core, drains every
//! output into a [`Dispatch`] and unlocks; then it performs the dispatch: frames go to the
//! per-connection outboxes (see [`crate::outbox`]: written by the current connection's task,
//! or here onto an idle connection's stream, or by its task woken for them), HTTP answers
//! complete their parked requests, events run the application's handlers.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sio_core::engine::server::{HttpResponse, RequestId, Transmit, WsId};
use sio_core::server::{BroadcastAckId, Event, Output, Server, SocketId};
use sio_core::socket::Packet;
use std::time::Instant;

use tokio::sync::{oneshot, Notify};

use crate::io::App;
use crate::outbox::Outbox;
use crate::rt::Runtime;

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
///
/// Filled in place by the run that drained the core and performed by reference (see
/// [`Driver::run`]): never moved, so that the common dispatch (one event, or one outbox to
/// deliver) costs no copy of the whole. What most dispatches hold is inline; the rest is
/// behind one pointer, so that an empty dispatch is dropped with a look at three fields.
#[derive(Default)]
pub(crate) struct Dispatch {
    /// Outboxes that stopped being empty: their frames go out ([`Outbox::deliver`]).
    deliver: SmallVec<[Arc<Outbox>; 2]>,
    events: SmallVec<[(Event, Option<Arc<crate::socket::SocketState>>); 1]>,
    rare: Option<Box<Rare>>,
    timer_changed: bool,
}

/// The outputs of the core that most dispatches do not have.
#[derive(Default)]
pub(crate) struct Rare {
    http: Vec<(oneshot::Sender<HttpResponse>, HttpResponse)>,
    /// Responses to requests nobody waits for yet: the caller's own request, answered at
    /// once (see [`Driver::run_then`]).
    unclaimed: Vec<(RequestId, HttpResponse)>,
    acks: Vec<(oneshot::Sender<AckResult>, AckResult)>,
    broadcast_acks: Vec<(oneshot::Sender<BroadcastAckResult>, BroadcastAckResult)>,
    /// Cluster outputs (see `crate::adapter`).
    adapter: Vec<sio_core::server::AdapterOutput>,
}

impl Dispatch {
    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// Take the answer to request `id` if this dispatch has it.
    pub(crate) fn take_unclaimed(&mut self, id: RequestId) -> Option<HttpResponse> {
        let unclaimed = &mut self.rare.as_mut()?.unclaimed;
        let i = unclaimed.iter().position(|(r, _)| *r == id)?;
        Some(unclaimed.swap_remove(i).1)
    }
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
        let mut d = Dispatch::default();
        let r = self.run_into(&mut d, f, |_, _, r| r);
        self.perform(&mut d);
        r
    }

    /// Run `f` on the core and drain, returning what to perform later.
    pub(crate) fn run_deferred<R>(&self, f: impl FnOnce(&mut Inner, u64) -> R) -> (R, Dispatch) {
        let mut d = Dispatch::default();
        let r = self.run_into(&mut d, f, |_, _, r| r);
        (r, d)
    }

    /// Run `f` on the core and drain its outputs into `d`, then `then` with the lock still
    /// held.
    fn run_into<R, S>(
        &self,
        d: &mut Dispatch,
        f: impl FnOnce(&mut Inner, u64) -> R,
        then: impl FnOnce(&mut Inner, &mut Dispatch, R) -> S,
    ) -> S {
        let now = self.now();
        let mut inner = self.lock();
        let r = f(&mut inner, now);
        inner.drain(d);
        then(&mut inner, d, r)
    }

    /// Perform a dispatch (emptying it): deliver frames, answer requests, run handlers.
    pub(crate) fn perform(self: &Arc<Self>, d: &mut Dispatch) {
        if d.timer_changed {
            self.timer.notify_one();
        }
        for o in d.deliver.drain(..) {
            o.deliver();
        }
        if let Some(rare) = d.rare.take() {
            let Rare {
                http,
                unclaimed: _,
                acks,
                broadcast_acks,
                adapter,
            } = *rare;
            for (tx, resp) in http {
                let _ = tx.send(resp);
            }
            for (tx, r) in acks {
                let _ = tx.send(r);
            }
            for (tx, r) in broadcast_acks {
                let _ = tx.send(r);
            }
            crate::adapter::perform(self, adapter);
        }
        for (event, state) in d.events.drain(..) {
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
        let mut d = Dispatch::default();
        let s = self.run_into(&mut d, f, then);
        self.perform(&mut d);
        s
    }
}

impl Inner {
    /// Drain the core's outputs into `d`.
    fn drain(&mut self, d: &mut Dispatch) {
        while let Some(out) = self.core.poll_output() {
            match out {
                Output::Transmit(Transmit::Ws { ws, frame }) => {
                    if let Some(o) = self.outboxes.get(&ws) {
                        if o.push(crate::ws::message(frame)) {
                            d.deliver.push(o.clone());
                        }
                    }
                }
                Output::Transmit(Transmit::WsClose { ws }) => {
                    if let Some(o) = self.outboxes.remove(&ws) {
                        if o.close() {
                            d.deliver.push(o);
                        }
                    }
                }
                Output::Transmit(Transmit::Http { req, response }) => {
                    match self.http.remove(&req) {
                        Some(tx) => d.rare().http.push((tx, response)),
                        None => d.rare().unclaimed.push((req, response)),
                    }
                }
                Output::Event(Event::AckReceived {
                    socket,
                    ack,
                    packet,
                }) => {
                    if let Some(tx) = self.acks.remove(&(socket, ack)) {
                        d.rare().acks.push((tx, Ok(packet)));
                    }
                }
                Output::Event(Event::AckTimedOut { socket, ack }) => {
                    if let Some(tx) = self.acks.remove(&(socket, ack)) {
                        d.rare().acks.push((tx, Err(crate::AckError::Timeout)));
                    }
                }
                Output::Event(Event::BroadcastAck {
                    id,
                    responses,
                    timed_out,
                }) => {
                    if let Some(tx) = self.broadcast_acks.remove(&id) {
                        d.rare().broadcast_acks.push((tx, (responses, timed_out)));
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
            d.rare().adapter.push(o);
        }
        let next = self.core.poll_timeout();
        if next != self.timer_at {
            d.timer_changed = next.is_some() && (self.timer_at.is_none() || next < self.timer_at);
            self.timer_at = next;
        }
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
