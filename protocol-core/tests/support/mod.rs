//! The in-memory wiring of client cores (`sio_core::client::Client`) and a server core
//! (`sio_core::server::Server`), shared by the simulation tests of this directory.
//!
//! The [`Sim`] routes every client [`Transmit`] (HTTP requests, WebSockets) to the server's
//! `handle_http` / `handle_ws_*` and every server transmit back, each after the link's
//! latency (WebSocket messages keep their order, as TCP does). The server application is a
//! [`ServerApp`] the test provides. Time always advances to the earliest pending delivery or
//! deadline. The link can refuse, blackhole, delay (jitter), and cut one peer's transports,
//! with or without either side noticing ([`Sim::cut`]), or take a peer off the network for a
//! while ([`Sim::outage`]).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use sio_core::client::{Client, ClientConfig, Event, Output};
use sio_core::engine::client::{RequestId, Transmit, WsId};
use sio_core::engine::{self, Frame, Method};
use sio_core::id::IdGenerator;
use sio_core::server::{self, Handshake, Server};
use sio_core::timers::Millis;
use sio_core::{ByteString, Bytes};

/// The server application of a simulation: it sees every server event and may command the
/// server at once.
pub trait ServerApp {
    /// Handle one server event at `now`.
    fn on_event(&mut self, server: &mut Server, now: Millis, event: server::Event);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMode {
    /// Everything is delivered after the latency.
    Up,
    /// The server is unreachable: requests and WebSocket opens fail at once.
    Refuse,
    /// Everything is silently lost, both ways.
    Blackhole,
    /// Only what the server sends is lost.
    DropToClient,
}

#[derive(Debug)]
pub enum Delivery {
    Http {
        peer: usize,
        req: RequestId,
        method: Method,
        path_and_query: String,
        body: Bytes,
    },
    HttpAbort {
        peer: usize,
        req: RequestId,
    },
    WsOpen {
        peer: usize,
        ws: WsId,
        path_and_query: String,
    },
    WsToServer {
        peer: usize,
        ws: WsId,
        frame: Frame,
    },
    WsClosedByClient {
        peer: usize,
        ws: WsId,
    },
    HttpResponse {
        peer: usize,
        req: RequestId,
        status: u16,
        body: Bytes,
    },
    HttpFailure {
        peer: usize,
        req: RequestId,
    },
    WsOpened {
        peer: usize,
        ws: WsId,
    },
    WsToClient {
        peer: usize,
        ws: WsId,
        frame: Frame,
    },
    WsClosedByServer {
        peer: usize,
        ws: WsId,
        error: bool,
    },
}

impl Delivery {
    /// The peer it concerns.
    pub fn peer(&self) -> usize {
        match self {
            Delivery::Http { peer, .. }
            | Delivery::HttpAbort { peer, .. }
            | Delivery::WsOpen { peer, .. }
            | Delivery::WsToServer { peer, .. }
            | Delivery::WsClosedByClient { peer, .. }
            | Delivery::HttpResponse { peer, .. }
            | Delivery::HttpFailure { peer, .. }
            | Delivery::WsOpened { peer, .. }
            | Delivery::WsToClient { peer, .. }
            | Delivery::WsClosedByServer { peer, .. } => *peer,
        }
    }

    /// The WebSocket it travels on (the client's name for it).
    pub fn ws(&self) -> Option<WsId> {
        match self {
            Delivery::WsOpen { ws, .. }
            | Delivery::WsToServer { ws, .. }
            | Delivery::WsClosedByClient { ws, .. }
            | Delivery::WsOpened { ws, .. }
            | Delivery::WsToClient { ws, .. }
            | Delivery::WsClosedByServer { ws, .. } => Some(*ws),
            _ => None,
        }
    }

    /// The HTTP request it belongs to (the client's name for it).
    pub fn req(&self) -> Option<RequestId> {
        match self {
            Delivery::Http { req, .. }
            | Delivery::HttpAbort { req, .. }
            | Delivery::HttpResponse { req, .. }
            | Delivery::HttpFailure { req, .. } => Some(*req),
            _ => None,
        }
    }

    /// Whether it goes to the server.
    pub fn to_server(&self) -> bool {
        matches!(
            self,
            Delivery::Http { .. }
                | Delivery::HttpAbort { .. }
                | Delivery::WsOpen { .. }
                | Delivery::WsToServer { .. }
                | Delivery::WsClosedByClient { .. }
        )
    }
}

/// A client of the simulation.
pub struct Peer {
    /// Its core.
    pub client: Client,
    /// Every event, with its time.
    pub events: Vec<(Millis, Event)>,
    /// Every transmit, with its time (unless [`Sim::record_transmits`] is off).
    pub transmits: Vec<(Millis, Transmit)>,
    /// Answer the server's ack requests with `["ok"]`.
    pub auto_ack: bool,
}

/// The simulation: a server, its application, clients and the link between them.
pub struct Sim<A> {
    /// Virtual time.
    pub now: Millis,
    /// The server core.
    pub server: Server,
    /// The server application.
    pub app: A,
    /// The clients.
    pub peers: Vec<Peer>,
    /// The link's mode for everyone.
    pub mode: LinkMode,
    /// The link's latency, ms.
    pub latency: Millis,
    /// Extra random latency, up to this many ms (WebSocket messages keep their order).
    pub jitter: Millis,
    /// The link's randomness.
    pub rng: IdGenerator,
    /// Keep every client transmit in [`Peer::transmits`].
    pub record_transmits: bool,
    /// Per peer: nothing reaches it or leaves it before this time.
    outage_until: BTreeMap<usize, Millis>,
    /// Client requests not answered yet.
    open_reqs: BTreeSet<(usize, RequestId)>,
    queue: BTreeMap<(Millis, u64), Delivery>,
    seq: u64,
    next_sreq: u64,
    next_sws: u64,
    sreq: BTreeMap<u64, (usize, RequestId)>,
    creq: BTreeMap<(usize, RequestId), u64>,
    sws: BTreeMap<u64, (usize, WsId)>,
    cws: BTreeMap<(usize, WsId), u64>,
    /// Last delivery time per WebSocket and direction, to keep messages in order.
    ws_clock: BTreeMap<(usize, WsId, bool), Millis>,
}

fn split_query(path_and_query: &str) -> &str {
    path_and_query.split_once('?').map_or("", |(_, q)| q)
}

impl<A: ServerApp> Sim<A> {
    /// A simulation of `server` and `app`, with no client, the link up and 5 ms latency.
    pub fn with_app(server: Server, app: A) -> Self {
        Sim {
            now: 0,
            server,
            app,
            peers: Vec::new(),
            mode: LinkMode::Up,
            latency: 5,
            jitter: 0,
            rng: IdGenerator::new([42; 32]),
            record_transmits: true,
            outage_until: BTreeMap::new(),
            open_reqs: BTreeSet::new(),
            queue: BTreeMap::new(),
            seq: 0,
            next_sreq: 0,
            next_sws: 0,
            sreq: BTreeMap::new(),
            creq: BTreeMap::new(),
            sws: BTreeMap::new(),
            cws: BTreeMap::new(),
            ws_clock: BTreeMap::new(),
        }
    }

    pub fn add_client(&mut self, config: ClientConfig) -> usize {
        self.peers.push(Peer {
            client: Client::new(config),
            events: Vec::new(),
            transmits: Vec::new(),
            auto_ack: true,
        });
        self.peers.len() - 1
    }

    pub fn client(&mut self, p: usize) -> &mut Client {
        &mut self.peers[p].client
    }

    /// Run a command on a client, then route its outputs.
    pub fn with<R>(&mut self, p: usize, f: impl FnOnce(&mut Client, Millis) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.peers[p].client, now);
        self.drain_client(p);
        r
    }

    fn off_line(&self, peer: usize) -> bool {
        self.outage_until.get(&peer).is_some_and(|&t| self.now < t)
    }

    pub fn schedule(&mut self, d: Delivery) {
        if self.mode == LinkMode::Blackhole
            || (self.mode == LinkMode::DropToClient && !d.to_server())
            || self.off_line(d.peer())
        {
            return;
        }
        if self.mode == LinkMode::Refuse && d.to_server() {
            // Connection refused: the client learns at once.
            match d {
                Delivery::Http { peer, req, .. } => {
                    return self.push_at(self.now, Delivery::HttpFailure { peer, req })
                }
                Delivery::WsOpen { peer, ws, .. } => {
                    return self.push_at(
                        self.now,
                        Delivery::WsClosedByServer {
                            peer,
                            ws,
                            error: true,
                        },
                    )
                }
                _ => return,
            }
        }
        let extra = if self.jitter > 0 {
            self.rng.next_u64() % (self.jitter + 1)
        } else {
            0
        };
        let mut at = self.now + self.latency + extra;
        let ws_key = match &d {
            Delivery::WsToServer { peer, ws, .. } | Delivery::WsClosedByClient { peer, ws } => {
                Some((*peer, *ws, true))
            }
            Delivery::WsOpened { peer, ws }
            | Delivery::WsToClient { peer, ws, .. }
            | Delivery::WsClosedByServer { peer, ws, .. } => Some((*peer, *ws, false)),
            _ => None,
        };
        if let Some(k) = ws_key {
            let last = self.ws_clock.entry(k).or_insert(0);
            at = at.max(*last);
            *last = at;
        }
        self.push_at(at, d);
    }

    pub fn push_at(&mut self, at: Millis, d: Delivery) {
        self.queue.insert((at, self.seq), d);
        self.seq += 1;
    }

    pub fn drain_client(&mut self, p: usize) {
        while let Some(o) = self.peers[p].client.poll_output() {
            match o {
                Output::Transmit(t) => {
                    if self.record_transmits {
                        self.peers[p].transmits.push((self.now, t.clone()));
                    }
                    if let Transmit::Http { req, .. } = &t {
                        self.open_reqs.insert((p, *req));
                    }
                    let d = match t {
                        Transmit::Http {
                            req,
                            method,
                            path_and_query,
                            body,
                        } => Delivery::Http {
                            peer: p,
                            req,
                            method,
                            path_and_query,
                            body,
                        },
                        Transmit::HttpAbort { req } => Delivery::HttpAbort { peer: p, req },
                        Transmit::WsOpen { ws, path_and_query } => Delivery::WsOpen {
                            peer: p,
                            ws,
                            path_and_query,
                        },
                        Transmit::Ws { ws, frame } => Delivery::WsToServer { peer: p, ws, frame },
                        Transmit::WsClose { ws } => Delivery::WsClosedByClient { peer: p, ws },
                    };
                    self.schedule(d);
                }
                Output::Event(e) => {
                    if let Event::Message { nsp, packet } = &e {
                        if let (Some(id), true) = (packet.id, self.peers[p].auto_ack) {
                            let now = self.now;
                            let nsp = nsp.clone();
                            self.peers[p]
                                .client
                                .ack(now, &nsp, id, ByteString::from_static(r#"["ok"]"#), vec![])
                                .unwrap();
                        }
                    }
                    self.peers[p].events.push((self.now, e));
                }
            }
        }
    }

    pub fn drain_server(&mut self) {
        while let Some(o) = self.server.poll_output() {
            match o {
                server::Output::Transmit(t) => match t {
                    engine::Transmit::Http { req, response } => {
                        if let Some((peer, creq)) = self.sreq.remove(&req.0) {
                            self.creq.remove(&(peer, creq));
                            self.schedule(Delivery::HttpResponse {
                                peer,
                                req: creq,
                                status: response.status,
                                body: response.body,
                            });
                        }
                    }
                    engine::Transmit::Ws { ws, frame } => {
                        if let Some(&(peer, cws)) = self.sws.get(&ws.0) {
                            self.schedule(Delivery::WsToClient {
                                peer,
                                ws: cws,
                                frame,
                            });
                        }
                    }
                    engine::Transmit::WsClose { ws } => {
                        if let Some((peer, cws)) = self.sws.remove(&ws.0) {
                            self.cws.remove(&(peer, cws));
                            self.schedule(Delivery::WsClosedByServer {
                                peer,
                                ws: cws,
                                error: false,
                            });
                        }
                    }
                },
                server::Output::Event(e) => {
                    self.app.on_event(&mut self.server, self.now, e);
                }
            }
        }
    }

    pub fn deliver(&mut self, d: Delivery) {
        let now = self.now;
        if self.mode == LinkMode::Blackhole
            || (self.mode == LinkMode::DropToClient && !d.to_server())
            || self.off_line(d.peer())
        {
            return;
        }
        if let Delivery::HttpResponse { peer, req, .. } | Delivery::HttpFailure { peer, req } = &d {
            self.open_reqs.remove(&(*peer, *req));
        }
        match d {
            Delivery::Http {
                peer,
                req,
                method,
                path_and_query,
                body,
            } => {
                let sreq = self.next_sreq;
                self.next_sreq += 1;
                self.sreq.insert(sreq, (peer, req));
                self.creq.insert((peer, req), sreq);
                self.server.handle_http(
                    now,
                    engine::RequestId(sreq),
                    method,
                    split_query(&path_and_query),
                    body,
                    Handshake::default,
                );
                self.drain_server();
            }
            Delivery::HttpAbort { peer, req } => {
                if let Some(sreq) = self.creq.remove(&(peer, req)) {
                    self.sreq.remove(&sreq);
                    self.server
                        .handle_http_aborted(now, engine::RequestId(sreq));
                    self.drain_server();
                }
            }
            Delivery::WsOpen {
                peer,
                ws,
                path_and_query,
            } => {
                let sws = self.next_sws;
                self.next_sws += 1;
                // Opened before anything the server writes on it.
                self.sws.insert(sws, (peer, ws));
                self.cws.insert((peer, ws), sws);
                self.schedule(Delivery::WsOpened { peer, ws });
                let r = self.server.handle_ws_open(
                    now,
                    engine::WsId(sws),
                    split_query(&path_and_query),
                    Handshake::default,
                );
                if r.is_err() {
                    self.sws.remove(&sws);
                    self.cws.remove(&(peer, ws));
                    self.schedule(Delivery::WsClosedByServer {
                        peer,
                        ws,
                        error: true,
                    });
                }
                self.drain_server();
            }
            Delivery::WsToServer { peer, ws, frame } => {
                if let Some(&sws) = self.cws.get(&(peer, ws)) {
                    self.server.handle_ws_message(now, engine::WsId(sws), frame);
                    self.drain_server();
                }
            }
            Delivery::WsClosedByClient { peer, ws } => {
                if let Some(sws) = self.cws.remove(&(peer, ws)) {
                    self.sws.remove(&sws);
                    self.server.handle_ws_closed(now, engine::WsId(sws), false);
                    self.drain_server();
                }
            }
            Delivery::HttpResponse {
                peer,
                req,
                status,
                body,
            } => {
                self.peers[peer]
                    .client
                    .handle_http_response(now, req, status, body);
                self.drain_client(peer);
            }
            Delivery::HttpFailure { peer, req } => {
                self.peers[peer].client.handle_http_error(now, req);
                self.drain_client(peer);
            }
            Delivery::WsOpened { peer, ws } => {
                self.peers[peer].client.handle_ws_opened(now, ws);
                self.drain_client(peer);
            }
            Delivery::WsToClient { peer, ws, frame } => {
                self.peers[peer].client.handle_ws_message(now, ws, frame);
                self.drain_client(peer);
            }
            Delivery::WsClosedByServer { peer, ws, error } => {
                self.peers[peer].client.handle_ws_closed(now, ws, error);
                self.drain_client(peer);
            }
        }
    }

    pub fn next_time(&self) -> Option<Millis> {
        let mut t = self.queue.keys().next().map(|k| k.0);
        let mut consider = |x: Option<Millis>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t: Millis| t.min(x)));
            }
        };
        consider(self.server.poll_timeout());
        for p in &self.peers {
            consider(p.client.poll_timeout());
        }
        t
    }

    /// Advance to `until`, handling everything due on the way, earliest first.
    pub fn run_until(&mut self, until: Millis) {
        while let Some(t) = self.next_time().filter(|&t| t <= until) {
            assert!(t >= self.now, "time goes backwards");
            self.now = t;
            if let Some((&key, _)) = self.queue.iter().next().filter(|(k, _)| k.0 <= t) {
                let d = self.queue.remove(&key).unwrap();
                self.deliver(d);
                continue;
            }
            if self.server.poll_timeout().is_some_and(|x| x <= t) {
                self.server.handle_timeout(t);
                self.drain_server();
                assert!(self.server.poll_timeout().is_none_or(|x| x > t));
            }
            for p in 0..self.peers.len() {
                if self.peers[p].client.poll_timeout().is_some_and(|x| x <= t) {
                    self.peers[p].client.handle_timeout(t);
                    self.drain_client(p);
                    assert!(
                        self.peers[p].client.poll_timeout().is_none_or(|x| x > t),
                        "a deadline left at or before now"
                    );
                }
            }
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, ms: Millis) {
        self.run_until(self.now + ms);
    }

    /// Run until `pred` holds for the peer's events (checked after each step), at most
    /// `limit` ms.
    pub fn run_until_event(
        &mut self,
        p: usize,
        limit: Millis,
        pred: impl Fn(&Event) -> bool,
    ) -> Millis {
        let end = self.now + limit;
        let start = self.peers[p].events.len();
        loop {
            if let Some((t, _)) = self.peers[p].events[start..].iter().find(|(_, e)| pred(e)) {
                return *t;
            }
            let Some(t) = self.next_time().filter(|&t| t <= end) else {
                panic!(
                    "no matching event within {limit} ms; events: {:?}",
                    &self.peers[p].events[start..]
                );
            };
            self.run_until(t);
        }
    }

    /// Run until `pred` holds for some event of the peer, past ones included.
    pub fn run_until_seen(&mut self, p: usize, limit: Millis, pred: impl Fn(&Event) -> bool) {
        if !self.events(p).any(&pred) {
            self.run_until_event(p, limit, pred);
        }
    }

    /// The server goes away: every WebSocket and request in progress fails, and new ones are
    /// refused until [`restart_server`](Self::restart_server).
    pub fn kill_server(&mut self) {
        let now = self.now;
        self.queue.retain(|_, d| !d.to_server());
        for (_, (peer, ws)) in std::mem::take(&mut self.sws) {
            self.push_at(
                now,
                Delivery::WsClosedByServer {
                    peer,
                    ws,
                    error: true,
                },
            );
        }
        self.cws.clear();
        for (_, (peer, req)) in std::mem::take(&mut self.sreq) {
            self.push_at(now, Delivery::HttpFailure { peer, req });
        }
        self.creq.clear();
        self.mode = LinkMode::Refuse;
    }

    pub fn events(&self, p: usize) -> impl Iterator<Item = &Event> {
        self.peers[p].events.iter().map(|(_, e)| e)
    }

    pub fn count(&self, p: usize, pred: impl Fn(&Event) -> bool) -> usize {
        self.events(p).filter(|e| pred(e)).count()
    }

    /// A new server instance takes over (no session of the old one survives); the link is up.
    pub fn restart_server(&mut self, server: Server) {
        self.server = server;
        self.mode = LinkMode::Up;
    }

    /// Take `peer` off the network until `until`: everything sent to it or by it meanwhile
    /// is lost (its transports stay as they are; see [`cut`](Self::cut)).
    pub fn outage(&mut self, peer: usize, until: Millis) {
        self.outage_until.insert(peer, until);
    }

    /// Cut every transport of `peer`: what is in flight on them is lost, and so is whatever
    /// either side sends on them later. With `reset`, both sides learn at once (a TCP reset:
    /// the WebSockets fail, the requests fail, the server sees its parked GETs aborted);
    /// without, neither does (a dead network path: only heartbeats will tell).
    pub fn cut(&mut self, peer: usize, reset: bool) {
        self.cut_with(peer, reset, reset);
    }

    /// Cut every transport of `peer` (see [`cut`](Self::cut)), telling only the client (its
    /// side of the connection was reset; the server still believes it is up).
    pub fn cut_client_side(&mut self, peer: usize) {
        self.cut_with(peer, true, false);
    }

    fn cut_with(&mut self, peer: usize, tell_client: bool, tell_server: bool) {
        let now = self.now;
        let wss: Vec<(WsId, u64)> = self
            .cws
            .iter()
            .filter(|((p, _), _)| *p == peer)
            .map(|((_, ws), s)| (*ws, *s))
            .collect();
        let reqs: Vec<RequestId> = self
            .open_reqs
            .iter()
            .filter(|(p, _)| *p == peer)
            .map(|(_, r)| *r)
            .collect();
        let opening: Vec<WsId> = self
            .queue
            .values()
            .filter_map(|d| match d {
                Delivery::WsOpen { peer: p, ws, .. } if *p == peer => Some(*ws),
                _ => None,
            })
            .collect();
        self.queue.retain(|_, d| {
            d.peer() != peer
                || !(d
                    .ws()
                    .is_some_and(|w| wss.iter().any(|(c, _)| *c == w) || opening.contains(&w))
                    || d.req().is_some_and(|r| reqs.contains(&r)))
        });
        for &(ws, sws) in &wss {
            self.cws.remove(&(peer, ws));
            self.sws.remove(&sws);
            self.ws_clock.remove(&(peer, ws, true));
            self.ws_clock.remove(&(peer, ws, false));
            if tell_server {
                self.server.handle_ws_closed(now, engine::WsId(sws), true);
                self.drain_server();
            }
        }
        for &req in &reqs {
            self.open_reqs.remove(&(peer, req));
            if let Some(sreq) = self.creq.remove(&(peer, req)) {
                self.sreq.remove(&sreq);
                if tell_server {
                    self.server
                        .handle_http_aborted(now, engine::RequestId(sreq));
                    self.drain_server();
                }
            }
        }
        if tell_client {
            for ws in wss.iter().map(|(ws, _)| *ws).chain(opening) {
                self.peers[peer].client.handle_ws_closed(now, ws, true);
                self.drain_client(peer);
            }
            for req in reqs {
                self.peers[peer].client.handle_http_error(now, req);
                self.drain_client(peer);
            }
        }
    }
}
