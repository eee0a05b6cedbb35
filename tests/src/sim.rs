//! The deterministic simulator: a virtual [`Clock`], a [`Server`] and scripted [`Peer`]s in
//! memory.
//!
//! Every input goes to the server through the [`Sim`], which then drains
//! [`Server::poll_output`] until it is empty: HTTP responses and WebSocket frames are routed
//! to the peer that owns the request or the socket, events go to the [`App`] (and to the
//! event log the test reads). Peers may react on their own (answer pings, poll again after
//! a response); those reactions are fed back until everything is quiet. Time only moves
//! when the test says so, and always to the earliest deadline first.
//!
//! The simulator also checks the runtime-facing invariants of the core: a request is
//! answered at most once and never after it was aborted, nothing is written to a WebSocket
//! after it closed, and `handle_timeout(now)` leaves no deadline at or before `now`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use sio_core::engine::{
    self, payload, Frame, HttpResponse, Method, OpenPacket, RequestId, Transmit, TransportKind,
    WsId,
};
use sio_core::server::{Event, Handshake, Output, Server, ServerConfig, SocketId};
use sio_core::socket::{self, Packet as SioPacket, PacketType};
use sio_core::timers::Millis;
use sio_core::{ByteString, Bytes};

use crate::app::{self, App};

/// A configuration for tests: the timings of the official conformance suites (pingInterval
/// 300, pingTimeout 200, connectTimeout 1000), a 1000 ms upgrade timeout and ids from `seed`.
pub fn test_config(seed: u8) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.engine.ping_interval = 300;
    config.engine.ping_timeout = 200;
    config.engine.upgrade_timeout = 1000;
    config.engine.seed = [seed; 32];
    config.connect_timeout = 1000;
    config
}

/// Virtual time in milliseconds. It only moves forward.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    now: Millis,
}

impl Clock {
    /// The current time.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Move to `t`, which must not be in the past.
    pub fn advance_to(&mut self, t: Millis) {
        assert!(t >= self.now, "time goes backwards: {} -> {t}", self.now);
        self.now = t;
    }
}

/// A peer of the simulation (an index into [`Sim`]'s peers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerId(pub usize);

/// How a peer behaves on its own.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// Answer every ping with a pong at once.
    pub auto_pong: bool,
    /// Over polling, send a new GET as soon as the previous one is answered (as real
    /// clients do), so that a GET is parked at the server most of the time.
    pub auto_poll: bool,
    /// Extra query parameters for the handshake request (`a=1&b=2`).
    pub query: String,
    /// What the runtime knows of the handshake request (headers, address).
    pub handshake: Handshake,
}

impl Default for PeerOptions {
    fn default() -> Self {
        PeerOptions {
            auto_pong: true,
            auto_poll: true,
            query: String::new(),
            handshake: Handshake::default(),
        }
    }
}

impl PeerOptions {
    /// A peer that does nothing on its own: no pongs, no automatic polls.
    pub fn manual() -> Self {
        PeerOptions {
            auto_pong: false,
            auto_poll: false,
            ..Self::default()
        }
    }
}

/// A scripted Engine.IO / Socket.IO client. Everything it receives is kept, in order.
#[derive(Debug)]
pub struct Peer {
    /// Its behaviour.
    pub options: PeerOptions,
    /// The Engine.IO session id, once the handshake is done.
    pub sid: Option<String>,
    /// The handshake's open packet.
    pub open: Option<OpenPacket>,
    /// The transport in use.
    pub transport: TransportKind,
    /// The WebSocket in use (a WebSocket session, or after the upgrade).
    pub ws: Option<WsId>,
    /// The WebSocket being probed for an upgrade.
    pub probe: Option<WsId>,
    /// The GET waiting at the server for an answer.
    pub parked: Option<RequestId>,
    /// The peer saw its session end (a `close` packet, its WebSocket closed, or an HTTP
    /// error answering one of its polls or posts).
    pub closed: bool,
    /// Every Engine.IO packet received, with its arrival time.
    pub eio: Vec<(Millis, engine::Packet)>,
    eio_read: usize,
    /// Every complete Socket.IO packet received, with its arrival time.
    pub sio: Vec<(Millis, SioPacket)>,
    sio_read: usize,
    /// Every raw WebSocket frame received, with its socket (probe included).
    pub ws_frames: Vec<(WsId, Frame)>,
    /// The WebSockets the server closed.
    pub ws_closed: Vec<WsId>,
    /// Every answered HTTP request of this peer, in answer order.
    pub responses: Vec<(RequestId, HttpResponse)>,
    /// The socket id the server gave this peer in each namespace it joined.
    pub sids: BTreeMap<String, String>,
    decoder: socket::Decoder,
    upgrading: bool,
}

impl Peer {
    fn new(options: PeerOptions) -> Self {
        Peer {
            options,
            sid: None,
            open: None,
            transport: TransportKind::Polling,
            ws: None,
            probe: None,
            parked: None,
            closed: false,
            eio: Vec::new(),
            eio_read: 0,
            sio: Vec::new(),
            sio_read: 0,
            ws_frames: Vec::new(),
            ws_closed: Vec::new(),
            responses: Vec::new(),
            sids: BTreeMap::new(),
            decoder: socket::Decoder::default(),
            upgrading: false,
        }
    }

    /// The query string of requests of an established session over `transport`.
    pub fn query(&self, transport: TransportKind) -> String {
        let sid = self.sid.as_deref().expect("handshake done");
        format!("EIO=4&transport={}&sid={sid}", transport.name())
    }
}

/// The text form of a Socket.IO packet as the spec writes it (no Engine.IO `4` prefix).
pub fn sio_text(p: &SioPacket) -> String {
    p.encode().text[1..].to_owned()
}

/// The body of an HTTP response as text.
pub fn body_text(r: &HttpResponse) -> String {
    String::from_utf8(r.body.to_vec()).expect("UTF-8 body")
}

/// The status, Engine.IO error code and message of an error response. Panics if the body is
/// not the JSON error body.
pub fn http_error(r: &HttpResponse) -> (u16, u8, String) {
    assert_eq!(r.content_type, "application/json", "{r:?}");
    let body: engine::ErrorBody = serde_json::from_slice(&r.body).expect("JSON error body");
    (r.status, body.code, body.message)
}

/// What an HTTP request was for, to know what its answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReqKind {
    Handshake,
    Poll,
    Post,
    Raw,
}

/// Something a peer does on its own, after the current outputs are drained.
#[derive(Debug)]
enum Reaction {
    Poll(PeerId),
    Send(PeerId, engine::Packet),
    WsClosed(WsId),
}

/// The simulation: a server, its application, peers and a virtual clock.
pub struct Sim {
    /// The server under test. Call commands through [`Sim::cmd`] so that outputs are
    /// routed.
    pub server: Server,
    app: App,
    clock: Clock,
    peers: Vec<Peer>,
    next_req: u64,
    next_ws: u64,
    requests: BTreeMap<RequestId, (Option<PeerId>, ReqKind)>,
    responses: BTreeMap<RequestId, HttpResponse>,
    aborted: BTreeSet<RequestId>,
    ws_owner: BTreeMap<WsId, PeerId>,
    ws_dead: BTreeSet<WsId>,
    reactions: VecDeque<Reaction>,
    events: Vec<(Millis, Event)>,
    events_read: usize,
    /// Every input and output, one line each, in order: two runs with the same inputs must
    /// produce the same log.
    pub log: Vec<String>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("now", &self.clock.now())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

/// Reactions fed back within one call before the simulator assumes a livelock.
const MAX_REACTIONS: usize = 1_000_000;

impl Sim {
    /// A simulation of a server with `config`, whose application accepts every CONNECT.
    pub fn new(config: ServerConfig) -> Self {
        Sim {
            server: Server::new(config),
            app: app::accept_all(),
            clock: Clock::default(),
            peers: Vec::new(),
            next_req: 0,
            next_ws: 0,
            requests: BTreeMap::new(),
            responses: BTreeMap::new(),
            aborted: BTreeSet::new(),
            ws_owner: BTreeMap::new(),
            ws_dead: BTreeSet::new(),
            reactions: VecDeque::new(),
            events: Vec::new(),
            events_read: 0,
            log: Vec::new(),
        }
    }

    /// Replace the application.
    pub fn set_app(&mut self, app: App) {
        self.app = app;
    }

    /// The current virtual time.
    pub fn now(&self) -> Millis {
        self.clock.now()
    }

    /// A peer.
    pub fn peer(&self, p: PeerId) -> &Peer {
        &self.peers[p.0]
    }

    /// A peer, to change its options.
    pub fn peer_mut(&mut self, p: PeerId) -> &mut Peer {
        &mut self.peers[p.0]
    }

    /// Every peer id, in creation order.
    pub fn peer_ids(&self) -> impl Iterator<Item = PeerId> {
        (0..self.peers.len()).map(PeerId)
    }

    // ----- time --------------------------------------------------------------------------

    /// Move to the earliest deadline of the server (or stay, if it is due already), handle
    /// it and route the outputs. Returns the new time, or `None` if nothing is scheduled.
    pub fn advance_to_next_deadline(&mut self) -> Option<Millis> {
        let at = self.server.poll_timeout()?;
        let now = at.max(self.clock.now());
        self.clock.advance_to(now);
        self.log.push(format!("{now} > timeout"));
        self.server.handle_timeout(now);
        if let Some(next) = self.server.poll_timeout() {
            assert!(
                next > now,
                "handle_timeout({now}) left a deadline due at {next}"
            );
        }
        self.drain();
        Some(now)
    }

    /// Handle every deadline up to and including `t`, earliest first, then move to `t`.
    pub fn run_until(&mut self, t: Millis) {
        while self.server.poll_timeout().is_some_and(|d| d <= t) {
            self.advance_to_next_deadline();
        }
        self.clock.advance_to(t);
    }

    /// [`run_until`](Self::run_until) `now + ms`.
    pub fn advance(&mut self, ms: Millis) {
        self.run_until(self.now() + ms);
    }

    // ----- peers -------------------------------------------------------------------------

    /// A new peer that has not sent anything yet.
    pub fn add_peer(&mut self, options: PeerOptions) -> PeerId {
        self.peers.push(Peer::new(options));
        PeerId(self.peers.len() - 1)
    }

    /// A new peer with default options, handshaken over polling (and, by default, polling).
    pub fn add_polling_peer(&mut self) -> PeerId {
        self.add_polling_peer_with(PeerOptions::default())
    }

    /// A new peer handshaken over polling.
    pub fn add_polling_peer_with(&mut self, options: PeerOptions) -> PeerId {
        let p = self.add_peer(options);
        self.handshake_polling(p);
        p
    }

    /// A new peer with default options, handshaken over a WebSocket.
    pub fn add_ws_peer(&mut self) -> PeerId {
        self.add_ws_peer_with(PeerOptions::default())
    }

    /// A new peer handshaken over a WebSocket.
    pub fn add_ws_peer_with(&mut self, options: PeerOptions) -> PeerId {
        let p = self.add_peer(options);
        self.handshake_ws(p);
        p
    }

    /// The polling handshake: a GET without sid. Panics if the server refuses it.
    pub fn handshake_polling(&mut self, p: PeerId) {
        let mut query = String::from("EIO=4&transport=polling");
        if !self.peers[p.0].options.query.is_empty() {
            query = format!("{query}&{}", self.peers[p.0].options.query);
        }
        let req = self.http_as(p, ReqKind::Handshake, Method::Get, &query, Bytes::new());
        let r = self.response(req).expect("handshake answered at once");
        assert_eq!(r.status, 200, "handshake refused: {r:?}");
        if self.peers[p.0].options.auto_poll {
            self.poll(p);
        }
    }

    /// The WebSocket handshake: a WebSocket without sid. Panics if the server refuses it.
    pub fn handshake_ws(&mut self, p: PeerId) -> WsId {
        let mut query = String::from("EIO=4&transport=websocket");
        if !self.peers[p.0].options.query.is_empty() {
            query = format!("{query}&{}", self.peers[p.0].options.query);
        }
        let ws = self.ws_open(p, &query).expect("websocket handshake");
        let peer = &mut self.peers[p.0];
        peer.transport = TransportKind::WebSocket;
        peer.ws = Some(ws);
        // The open packet went out with the upgrade; route it again now that `ws` is known.
        let open = peer.eio.iter().find_map(|(_, p)| match p {
            engine::Packet::Open(json) => Some(json.clone()),
            _ => None,
        });
        let open = OpenPacket::from_json(&open.expect("open packet on the WebSocket")).unwrap();
        peer.sid = Some(open.sid.clone());
        peer.open = Some(open);
        ws
    }

    // ----- HTTP --------------------------------------------------------------------------

    /// Send a raw HTTP request on behalf of `p` (its answer is kept, not interpreted).
    pub fn http(&mut self, p: PeerId, method: Method, query: &str, body: Bytes) -> RequestId {
        self.http_as(p, ReqKind::Raw, method, query, body)
    }

    /// A GET of `p`'s session: answered at once or parked. Its payload is delivered to `p`.
    pub fn poll(&mut self, p: PeerId) -> RequestId {
        let q = self.peers[p.0].query(TransportKind::Polling);
        self.http_as(p, ReqKind::Poll, Method::Get, &q, Bytes::new())
    }

    /// A POST of `body` in `p`'s session; returns the answer.
    pub fn post(&mut self, p: PeerId, body: impl Into<Bytes>) -> HttpResponse {
        let q = self.peers[p.0].query(TransportKind::Polling);
        let req = self.http_as(p, ReqKind::Post, Method::Post, &q, body.into());
        self.response(req).expect("POST answered at once").clone()
    }

    /// The client gave up on a request (closed the connection before the answer).
    pub fn abort(&mut self, req: RequestId) {
        let now = self.now();
        self.log.push(format!("{now} > abort {}", req.0));
        self.aborted.insert(req);
        if let Some((Some(p), _)) = self.requests.get(&req) {
            let peer = &mut self.peers[p.0];
            if peer.parked == Some(req) {
                peer.parked = None;
            }
        }
        self.server.handle_http_aborted(now, req);
        self.drain();
    }

    /// The answer to a request, if it was answered.
    pub fn response(&self, req: RequestId) -> Option<&HttpResponse> {
        self.responses.get(&req)
    }

    /// What a runtime tells the server about a request of `p`: its query string and the
    /// peer's headers and address.
    fn handshake_of(&self, p: PeerId, query: &str) -> Handshake {
        Handshake {
            query: query.to_owned(),
            ..self.peers[p.0].options.handshake.clone()
        }
    }

    fn http_as(
        &mut self,
        p: PeerId,
        kind: ReqKind,
        method: Method,
        query: &str,
        body: Bytes,
    ) -> RequestId {
        let req = RequestId(self.next_req);
        self.next_req += 1;
        self.requests.insert(req, (Some(p), kind));
        if kind == ReqKind::Poll {
            self.peers[p.0].parked = Some(req);
        }
        let now = self.now();
        self.log.push(format!(
            "{now} > http {} {method:?} {query} {body:?}",
            req.0
        ));
        let handshake = self.handshake_of(p, query);
        self.server
            .handle_http(now, req, method, query, body, move || handshake);
        self.drain();
        req
    }

    // ----- WebSocket ---------------------------------------------------------------------

    /// Open a WebSocket for `p` with `query`. `Err` is the HTTP answer of a refused upgrade.
    pub fn ws_open(&mut self, p: PeerId, query: &str) -> Result<WsId, HttpResponse> {
        let ws = WsId(self.next_ws);
        self.next_ws += 1;
        self.ws_owner.insert(ws, p);
        let now = self.now();
        self.log.push(format!("{now} > ws open {} {query}", ws.0));
        let handshake = self.handshake_of(p, query);
        let r = self
            .server
            .handle_ws_open(now, ws, query, move || handshake);
        self.log.push(format!("{now} < ws open {} {r:?}", ws.0));
        if r.is_err() {
            self.ws_dead.insert(ws);
        }
        self.drain();
        r.map(|()| ws)
    }

    /// Send one frame on a WebSocket.
    pub fn ws_send(&mut self, ws: WsId, frame: Frame) {
        assert!(!self.ws_dead.contains(&ws), "sending on a closed WebSocket");
        let now = self.now();
        self.log.push(format!("{now} > ws {} {frame:?}", ws.0));
        self.server.handle_ws_message(now, ws, frame);
        self.drain();
    }

    /// Send a text frame on a WebSocket.
    pub fn ws_send_text(&mut self, ws: WsId, text: &str) {
        self.ws_send(ws, Frame::Text(ByteString::from(text)));
    }

    /// The peer closed a WebSocket (`error`: it failed rather than closed cleanly).
    pub fn ws_close(&mut self, ws: WsId, error: bool) {
        let now = self.now();
        self.log.push(format!("{now} > ws closed {} {error}", ws.0));
        self.ws_dead.insert(ws);
        if let Some(p) = self.ws_owner.get(&ws) {
            let peer = &mut self.peers[p.0];
            if peer.probe == Some(ws) {
                peer.probe = None;
                peer.upgrading = false;
            }
            if peer.ws == Some(ws) {
                peer.closed = true;
            }
        }
        self.server.handle_ws_closed(now, ws, error);
        self.drain();
    }

    /// Start the upgrade of a polling peer: open a WebSocket with its sid. `Err` is the
    /// answer of a refused upgrade request; a WebSocket that the server accepted and closed
    /// at once is returned (see [`Sim::ws_is_open`]) but is not a probe.
    pub fn start_upgrade(&mut self, p: PeerId) -> Result<WsId, HttpResponse> {
        let q = self.peers[p.0].query(TransportKind::WebSocket);
        let ws = self.ws_open(p, &q)?;
        if self.ws_is_open(ws) {
            self.peers[p.0].probe = Some(ws);
        }
        Ok(ws)
    }

    /// Whether a WebSocket is open (neither side closed it).
    pub fn ws_is_open(&self, ws: WsId) -> bool {
        self.ws_owner.contains_key(&ws) && !self.ws_dead.contains(&ws)
    }

    /// Send `2probe` on the probe WebSocket. From now on the peer stops polling on its own
    /// until the upgrade completes or fails, as clients pause polling during the upgrade.
    pub fn send_probe(&mut self, p: PeerId) {
        let ws = self.peers[p.0].probe.expect("upgrade started");
        self.peers[p.0].upgrading = true;
        self.ws_send_text(ws, "2probe");
    }

    /// Send `5` on the probe WebSocket: from now on the peer uses it.
    pub fn finish_upgrade(&mut self, p: PeerId) {
        let ws = self.peers[p.0].probe.expect("upgrade started");
        let peer = &mut self.peers[p.0];
        peer.transport = TransportKind::WebSocket;
        peer.ws = Some(ws);
        peer.probe = None;
        peer.upgrading = false;
        self.ws_send_text(ws, "5");
    }

    /// The whole upgrade of a polling peer: probe, check `3probe`, upgrade. Panics if the
    /// server does not go along.
    pub fn upgrade(&mut self, p: PeerId) -> WsId {
        self.try_upgrade(p).expect("upgrade completed")
    }

    /// The whole upgrade of a polling peer, giving up (as a client would) if the server
    /// refuses the WebSocket, closes it or does not answer the probe.
    pub fn try_upgrade(&mut self, p: PeerId) -> Option<WsId> {
        let ws = self.start_upgrade(p).ok()?;
        self.peers[p.0].probe?;
        self.send_probe(p);
        let answered = self.peers[p.0]
            .ws_frames
            .iter()
            .any(|(w, f)| *w == ws && *f == Frame::Text(ByteString::from_static("3probe")));
        if !answered || !self.ws_is_open(ws) {
            return None;
        }
        self.finish_upgrade(p);
        Some(ws)
    }

    // ----- Engine.IO / Socket.IO ---------------------------------------------------------

    /// Send Engine.IO packets over `p`'s transport: one POST with all of them over polling,
    /// one frame each over WebSocket. Returns the POST's answer over polling.
    pub fn send_eio(&mut self, p: PeerId, packets: &[engine::Packet]) -> Option<HttpResponse> {
        let frames: Vec<Frame> = packets.iter().map(engine::Packet::encode).collect();
        self.send_frames(p, frames)
    }

    fn send_frames(&mut self, p: PeerId, frames: Vec<Frame>) -> Option<HttpResponse> {
        let peer = &self.peers[p.0];
        match peer.transport {
            TransportKind::Polling => Some(self.post(p, payload::encode(&frames))),
            TransportKind::WebSocket => {
                let ws = peer.ws.expect("websocket peer");
                for f in frames {
                    self.ws_send(ws, f);
                }
                None
            }
        }
    }

    /// Send a Socket.IO packet (with its attachments) over `p`'s transport.
    pub fn send_sio(&mut self, p: PeerId, packet: &SioPacket) -> Option<HttpResponse> {
        let frames: Vec<Frame> = packet.encode().frames().collect();
        self.send_frames(p, frames)
    }

    /// Send a Socket.IO packet given in text form (`2["x"]`, without the `4`).
    pub fn send_sio_text(&mut self, p: PeerId, text: &str) -> Option<HttpResponse> {
        let frame = Frame::Text(ByteString::from(format!("4{text}")));
        self.send_frames(p, vec![frame])
    }

    /// Ask to join `nsp` with an optional auth object; returns the socket if the server
    /// accepted at once (the application decides).
    pub fn connect(&mut self, p: PeerId, nsp: &str, auth: Option<&str>) -> Option<SocketId> {
        let packet = SioPacket::connect(nsp.to_owned(), auth.map(ByteString::from));
        self.send_sio(p, &packet);
        self.try_socket(p, nsp)
    }

    /// Send an event: `data` is the JSON array, event name first.
    pub fn emit(&mut self, p: PeerId, nsp: &str, data: &str) {
        let packet = SioPacket::event(nsp.to_owned(), ByteString::from(data), None, Vec::new());
        self.send_sio(p, &packet);
    }

    /// Send an event that asks for an ack with id `id`.
    pub fn emit_with_ack(&mut self, p: PeerId, nsp: &str, id: u64, data: &str) {
        let packet = SioPacket::event(nsp.to_owned(), ByteString::from(data), Some(id), Vec::new());
        self.send_sio(p, &packet);
    }

    /// Acknowledge the server's event `id`: `data` is the JSON array of the ack's arguments.
    pub fn ack(&mut self, p: PeerId, nsp: &str, id: u64, data: &str) {
        let packet = SioPacket::ack(nsp.to_owned(), ByteString::from(data), id, Vec::new());
        self.send_sio(p, &packet);
    }

    /// Leave a namespace (Socket.IO DISCONNECT).
    pub fn leave_namespace(&mut self, p: PeerId, nsp: &str) {
        self.send_sio(p, &SioPacket::disconnect(nsp.to_owned()));
    }

    /// The server-side socket of `p` in `nsp`, if it joined.
    pub fn try_socket(&self, p: PeerId, nsp: &str) -> Option<SocketId> {
        let sid = self.peers[p.0].sids.get(nsp)?;
        self.server.socket_by_sid(sid)
    }

    /// The server-side socket of `p` in `nsp`. Panics if it did not join.
    pub fn socket(&self, p: PeerId, nsp: &str) -> SocketId {
        self.try_socket(p, nsp)
            .unwrap_or_else(|| panic!("{p:?} has no socket in {nsp}"))
    }

    /// The Engine.IO packets `p` received since the last call.
    pub fn take_eio(&mut self, p: PeerId) -> Vec<engine::Packet> {
        let peer = &mut self.peers[p.0];
        let out = peer.eio[peer.eio_read..]
            .iter()
            .map(|(_, p)| p.clone())
            .collect();
        peer.eio_read = peer.eio.len();
        out
    }

    /// The Socket.IO packets `p` received since the last call.
    pub fn take_sio(&mut self, p: PeerId) -> Vec<SioPacket> {
        let peer = &mut self.peers[p.0];
        let out = peer.sio[peer.sio_read..]
            .iter()
            .map(|(_, p)| p.clone())
            .collect();
        peer.sio_read = peer.sio.len();
        out
    }

    /// [`take_sio`](Self::take_sio) in text form (attachments left out).
    pub fn take_sio_text(&mut self, p: PeerId) -> Vec<String> {
        self.take_sio(p).iter().map(sio_text).collect()
    }

    // ----- application -------------------------------------------------------------------

    /// Run an application command on the server and route its outputs.
    pub fn cmd<R>(&mut self, f: impl FnOnce(&mut Server, Millis) -> R) -> R {
        let now = self.now();
        self.log.push(format!("{now} > command"));
        let r = f(&mut self.server, now);
        self.drain();
        r
    }

    /// The application events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        let out = self.events[self.events_read..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect();
        self.events_read = self.events.len();
        out
    }

    /// Every application event so far, with its time.
    pub fn all_events(&self) -> &[(Millis, Event)] {
        &self.events
    }

    // ----- routing -----------------------------------------------------------------------

    /// Route every output, then let peers react, until nothing is left.
    fn drain(&mut self) {
        let mut reactions = 0;
        loop {
            while let Some(out) = self.server.poll_output() {
                self.route(out);
            }
            let Some(r) = self.reactions.pop_front() else {
                break;
            };
            reactions += 1;
            assert!(reactions < MAX_REACTIONS, "peers and server livelock");
            self.react(r);
        }
    }

    fn react(&mut self, r: Reaction) {
        let now = self.now();
        match r {
            Reaction::Poll(p) => {
                let peer = &self.peers[p.0];
                if !peer.closed && peer.parked.is_none() && !peer.upgrading {
                    let q = peer.query(TransportKind::Polling);
                    let req = RequestId(self.next_req);
                    self.next_req += 1;
                    self.requests.insert(req, (Some(p), ReqKind::Poll));
                    self.peers[p.0].parked = Some(req);
                    self.log
                        .push(format!("{now} > http {} Get {q} b\"\"", req.0));
                    self.server.handle_http(
                        now,
                        req,
                        Method::Get,
                        &q,
                        Bytes::new(),
                        Handshake::default,
                    );
                }
            }
            Reaction::Send(p, packet) => {
                let peer = &self.peers[p.0];
                if peer.closed {
                    return;
                }
                let frame = packet.encode();
                match (peer.transport, peer.ws) {
                    (TransportKind::WebSocket, Some(ws)) => {
                        if !self.ws_dead.contains(&ws) {
                            self.log.push(format!("{now} > ws {} {frame:?}", ws.0));
                            self.server.handle_ws_message(now, ws, frame);
                        }
                    }
                    _ => {
                        let q = peer.query(TransportKind::Polling);
                        let req = RequestId(self.next_req);
                        self.next_req += 1;
                        self.requests.insert(req, (Some(p), ReqKind::Post));
                        let body = payload::encode(&[frame]);
                        self.log
                            .push(format!("{now} > http {} Post {q} {body:?}", req.0));
                        self.server.handle_http(
                            now,
                            req,
                            Method::Post,
                            &q,
                            body,
                            Handshake::default,
                        );
                    }
                }
            }
            Reaction::WsClosed(ws) => {
                self.log.push(format!("{now} > ws closed {} false", ws.0));
                self.server.handle_ws_closed(now, ws, false);
            }
        }
    }

    fn route(&mut self, out: Output) {
        let now = self.now();
        self.log.push(format!("{now} < {out:?}"));
        match out {
            Output::Transmit(Transmit::Http { req, response }) => self.on_http(req, response),
            Output::Transmit(Transmit::Ws { ws, frame }) => {
                assert!(!self.ws_dead.contains(&ws), "frame on a closed {ws:?}");
                let p = *self
                    .ws_owner
                    .get(&ws)
                    .expect("frame on an unknown WebSocket");
                self.peers[p.0].ws_frames.push((ws, frame.clone()));
                let packet = frame
                    .decode(&sio_core::Limits::DEFAULT)
                    .expect("the server sends valid packets");
                self.deliver(p, packet);
            }
            Output::Transmit(Transmit::WsClose { ws }) => {
                assert!(!self.ws_dead.contains(&ws), "{ws:?} closed twice");
                self.ws_dead.insert(ws);
                let p = *self
                    .ws_owner
                    .get(&ws)
                    .expect("close of an unknown WebSocket");
                let peer = &mut self.peers[p.0];
                peer.ws_closed.push(ws);
                if peer.ws == Some(ws) {
                    peer.closed = true;
                }
                if peer.probe == Some(ws) {
                    // The upgrade failed: go on polling.
                    peer.probe = None;
                    peer.upgrading = false;
                    if peer.options.auto_poll {
                        self.reactions.push_back(Reaction::Poll(p));
                    }
                }
                self.reactions.push_back(Reaction::WsClosed(ws));
            }
            Output::Event(event) => {
                self.events.push((now, event.clone()));
                (self.app)(&mut self.server, now, &event);
            }
        }
    }

    fn on_http(&mut self, req: RequestId, response: HttpResponse) {
        assert!(
            !self.aborted.contains(&req),
            "answer to aborted request {req:?}"
        );
        assert!(
            !self.responses.contains_key(&req),
            "request {req:?} answered twice"
        );
        self.responses.insert(req, response.clone());
        let Some(&(owner, kind)) = self.requests.get(&req) else {
            panic!("answer to unknown request {req:?}");
        };
        let Some(p) = owner else { return };
        let peer = &mut self.peers[p.0];
        peer.responses.push((req, response.clone()));
        if peer.parked == Some(req) {
            peer.parked = None;
        }
        if matches!(kind, ReqKind::Poll | ReqKind::Post) && response.status != 200 {
            // A client gives up on a session whose requests fail.
            peer.closed = true;
        }
        match kind {
            ReqKind::Handshake if response.status == 200 => {
                let body = std::str::from_utf8(&response.body).expect("UTF-8 open packet");
                let json = body.strip_prefix('0').expect("open packet");
                let open = OpenPacket::from_json(json).expect("valid open packet");
                peer.sid = Some(open.sid.clone());
                peer.open = Some(open);
                peer.transport = TransportKind::Polling;
            }
            ReqKind::Poll if response.status == 200 => {
                let packets = payload::decode(response.body.clone(), &sio_core::Limits::DEFAULT)
                    .expect("the server sends valid payloads");
                for packet in packets {
                    self.deliver(p, packet);
                }
                let peer = &self.peers[p.0];
                if peer.options.auto_poll
                    && peer.transport == TransportKind::Polling
                    && !peer.closed
                    && !peer.upgrading
                {
                    self.reactions.push_back(Reaction::Poll(p));
                }
            }
            _ => {}
        }
    }

    fn deliver(&mut self, p: PeerId, packet: engine::Packet) {
        let now = self.now();
        let peer = &mut self.peers[p.0];
        peer.eio.push((now, packet.clone()));
        let decoded = match packet {
            engine::Packet::Ping(data) if data.is_empty() => {
                if peer.options.auto_pong {
                    self.reactions
                        .push_back(Reaction::Send(p, engine::Packet::Pong(data)));
                }
                return;
            }
            engine::Packet::Close => {
                peer.closed = true;
                return;
            }
            engine::Packet::Message(text) => peer.decoder.decode_text(&text),
            engine::Packet::Binary(data) => peer.decoder.decode_binary(data),
            _ => return,
        };
        let Some(sio) = decoded.expect("the server sends valid Socket.IO packets") else {
            return;
        };
        match sio.kind {
            PacketType::Connect => {
                let data = sio.data.as_deref().expect("CONNECT answer has data");
                let v: serde_json::Value = serde_json::from_str(data).expect("JSON");
                let sid = v["sid"].as_str().expect("sid in CONNECT answer");
                peer.sids.insert(sio.nsp.to_string(), sid.to_owned());
            }
            PacketType::Disconnect => {
                peer.sids.remove(&*sio.nsp);
            }
            _ => {}
        }
        peer.sio.push((now, sio));
    }
}
