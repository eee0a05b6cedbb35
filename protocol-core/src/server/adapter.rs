//! The adapter boundary: what several servers (Node's "adapter" nodes) tell each other so that
//! a broadcast, a remote join/leave/disconnect, a fetch of sockets or a server-side emit spans
//! the whole cluster. Still sans-IO: the core yields [`AdapterOutput::Publish`] with a typed
//! [`AdapterMessage`] and consumes what the bus delivers through [`Server::handle_adapter`].
//! Serializing (Redis channels, msgpack, JSON) is the bus's business (`sio-redis`); an
//! in-process bus passes the messages as they are.
//!
//! Local delivery never waits for the bus: the local sockets get a broadcast before it is
//! published. Requests that wait for answers (fetch sockets, all rooms, server-side emit with
//! ack) take ids from the core's seeded rng and time out in the core's timers; the caller tells
//! the core how many servers listen (Redis: `PUBSUB NUMSUB` of the request channel), this one
//! included.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use bytestring::ByteString;

use super::{BroadcastAckId, Emit, Event, Server, ServerError, SocketId, Target, TimerKey};
use crate::socket::Packet;
use crate::timers::Millis;

/// Settings of the adapter boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterConfig {
    /// How long a request waits for the other servers' answers (Node: 5000 ms).
    pub requests_timeout: Millis,
}

impl Default for AdapterConfig {
    fn default() -> Self {
        AdapterConfig {
            requests_timeout: 5000,
        }
    }
}

/// Which sockets of a namespace a remote operation selects (Node's `{rooms, except}`): the
/// members of any of `rooms` (all when empty) that are in none of `except`. Socket ids are
/// rooms, so excluding a socket is excluding its id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Rooms whose members are selected; empty for the whole namespace.
    pub rooms: Vec<ByteString>,
    /// Rooms whose members are not.
    pub except: Vec<ByteString>,
}

impl Selector {
    fn target(&self, nsp: &ByteString) -> Target {
        Target {
            nsp: nsp.clone(),
            rooms: self.rooms.clone(),
            except_rooms: self.except.clone(),
            except_sockets: Vec::new(),
        }
    }
}

/// One message between servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterMessage {
    /// An event for the selected sockets of every other server.
    Broadcast {
        /// The sending server (messages from this one are ignored).
        uid: ByteString,
        /// The namespace.
        nsp: ByteString,
        /// The event's JSON array, name first, with placeholders for the attachments.
        data: ByteString,
        /// The binary values.
        attachments: Vec<Bytes>,
        /// The recipients.
        opts: Selector,
        /// Drop it for recipients whose transport is busy.
        volatile: bool,
    },
    /// A request to every server.
    Request {
        /// The requesting server.
        uid: ByteString,
        /// The namespace.
        nsp: ByteString,
        /// What it asks.
        request: Request,
    },
    /// An answer to a request.
    Response {
        /// The namespace.
        nsp: ByteString,
        /// The request's id.
        request_id: ByteString,
        /// The answer.
        response: Response,
    },
}

/// A request between servers (Node's request types).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The ids of the sockets in any of `rooms` (type 0).
    SocketIds {
        /// The request id.
        id: ByteString,
        /// The rooms (all sockets when empty).
        rooms: Vec<ByteString>,
    },
    /// Every room (type 1).
    AllRooms {
        /// The request id.
        id: ByteString,
    },
    /// The selected sockets join `rooms` (type 2).
    Join {
        /// The sockets.
        sel: Selector,
        /// The rooms.
        rooms: Vec<ByteString>,
    },
    /// The selected sockets leave `rooms` (type 3).
    Leave {
        /// The sockets.
        sel: Selector,
        /// The rooms.
        rooms: Vec<ByteString>,
    },
    /// The selected sockets are disconnected (type 4).
    Disconnect {
        /// The sockets.
        sel: Selector,
        /// Close their whole connections.
        close: bool,
    },
    /// Describe the selected sockets (type 5).
    Fetch {
        /// The request id.
        id: ByteString,
        /// The sockets.
        sel: Selector,
    },
    /// An event for the selected sockets, whose acknowledgements go back to the requester
    /// (type 7; Node's `emitWithAck` across the cluster). Answered with
    /// [`Response::ClientCount`] at once and one [`Response::BroadcastAck`] per answer.
    BroadcastWithAck {
        /// The request id.
        id: ByteString,
        /// The event's JSON array, name first, with placeholders for the attachments.
        data: ByteString,
        /// The binary values.
        attachments: Vec<Bytes>,
        /// The recipients.
        sel: Selector,
        /// How long the requester waits, ms.
        timeout: Millis,
    },
    /// An event for the servers themselves (type 6), answered when `id` is set.
    ServerSideEmit {
        /// The request id, when an answer is wanted.
        id: Option<ByteString>,
        /// The JSON array, event name first.
        data: ByteString,
    },
}

/// A socket of some server, as a fetch describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSocket {
    /// Its public id.
    pub id: ByteString,
    /// Its handshake, a JSON object (Node's `socket.handshake`).
    pub handshake: ByteString,
    /// Its rooms.
    pub rooms: Vec<ByteString>,
    /// Its application data, JSON (Node's `socket.data`).
    pub data: ByteString,
}

/// An answer between servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Socket ids ([`Request::SocketIds`]).
    SocketIds(Vec<ByteString>),
    /// Sockets ([`Request::Fetch`]).
    Sockets(Vec<RemoteSocket>),
    /// Rooms ([`Request::AllRooms`]).
    Rooms(Vec<ByteString>),
    /// A server-side emit's answer: one JSON value.
    ServerSideAck(ByteString),
    /// How many sockets an acknowledged broadcast reached on the answering server (type 8).
    ClientCount(u64),
    /// One socket's answer to an acknowledged broadcast (type 9): its first argument (JSON,
    /// with placeholders for the attachments).
    BroadcastAck {
        /// The argument.
        value: ByteString,
        /// Its binary values.
        attachments: Vec<Bytes>,
    },
}

/// A request of this server that waits for answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdapterRequestId(pub u64);

/// Something for the runtime to do about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterOutput {
    /// Put this message on the bus.
    Publish(AdapterMessage),
    /// Another server sent an event to the servers ([`Server::server_side_emit`]); with
    /// `reply`, answer it once with [`Server::server_side_ack`].
    ServerSideEmit {
        /// The namespace.
        nsp: ByteString,
        /// The JSON array, event name first.
        data: ByteString,
        /// The request id to answer.
        reply: Option<ByteString>,
    },
    /// A [`Server::fetch_sockets`] completed (this server's sockets first).
    Fetched {
        /// The request.
        id: AdapterRequestId,
        /// The sockets.
        sockets: Vec<RemoteSocket>,
        /// Some server did not answer in time.
        timed_out: bool,
    },
    /// A [`Server::all_rooms`] completed.
    Rooms {
        /// The request.
        id: AdapterRequestId,
        /// Every room of the cluster, once.
        rooms: Vec<ByteString>,
        /// Some server did not answer in time.
        timed_out: bool,
    },
    /// A [`Server::broadcast_with_ack_cluster`] completed: the answers of this server's
    /// sockets (with their ids) and of the other servers' (without: the wire does not carry
    /// them; their packets hold the one argument Node's adapters pass on).
    BroadcastAcks {
        /// The request.
        id: AdapterRequestId,
        /// The answers: the local socket, or `None` for a socket of another server.
        responses: Vec<(Option<SocketId>, Packet)>,
        /// Some socket or server did not answer in time.
        timed_out: bool,
    },
    /// A [`Server::server_side_emit_with_ack`] completed.
    ServerSideAcks {
        /// The request.
        id: AdapterRequestId,
        /// The answers (JSON values), in arrival order.
        responses: Vec<ByteString>,
        /// Some server did not answer in time.
        timed_out: bool,
    },
}

#[derive(Debug)]
enum Waiting {
    Fetch(Vec<RemoteSocket>),
    Rooms(BTreeSet<ByteString>),
    Acks(Vec<ByteString>),
    Broadcast {
        nsp: ByteString,
        /// The local part, once done: its answers and whether it timed out.
        local: Option<(Vec<(SocketId, Packet)>, bool)>,
        remote: Vec<Packet>,
        /// Answers the other servers announced (their client counts).
        expected: u64,
    },
}

#[derive(Debug)]
struct Pending {
    wire: ByteString,
    waiting: Waiting,
    missing: usize,
    deadline: Millis,
}

/// The adapter's state in a server.
#[derive(Debug)]
pub(super) struct State {
    uid: ByteString,
    config: AdapterConfig,
    next: u64,
    pending: BTreeMap<u64, Pending>,
    by_wire: BTreeMap<ByteString, u64>,
    out: VecDeque<AdapterOutput>,
    /// Acknowledged broadcasts run for other servers: namespace and request id.
    remote_acks: BTreeMap<BroadcastAckId, (ByteString, ByteString)>,
    /// The local parts of this server's cluster-wide acknowledged broadcasts.
    local_acks: BTreeMap<BroadcastAckId, u64>,
}

impl Server {
    /// Join a cluster: from now on broadcasts ([`Server::broadcast`]) and cluster operations
    /// yield [`AdapterOutput`]s. Returns this server's uid (drawn from the seeded rng).
    pub fn enable_adapter(&mut self, config: AdapterConfig) -> ByteString {
        if let Some(a) = &self.adapter {
            return a.uid.clone();
        }
        let id = self.engine.ids_mut().next_id();
        let uid = ByteString::from(&id[..12]);
        self.adapter = Some(State {
            uid: uid.clone(),
            config,
            next: 0,
            pending: BTreeMap::new(),
            by_wire: BTreeMap::new(),
            out: VecDeque::new(),
            remote_acks: BTreeMap::new(),
            local_acks: BTreeMap::new(),
        });
        uid
    }

    /// The namespaces this server serves, in order.
    pub fn namespace_names(&self) -> Vec<ByteString> {
        self.namespaces.keys().cloned().collect()
    }

    /// This server's uid in the cluster, once [`enable_adapter`](Self::enable_adapter) ran.
    pub fn adapter_uid(&self) -> Option<&ByteString> {
        self.adapter.as_ref().map(|a| &a.uid)
    }

    /// The next output for the cluster. Drain it after every call, as
    /// [`poll_output`](Self::poll_output).
    pub fn poll_adapter_output(&mut self) -> Option<AdapterOutput> {
        self.adapter.as_mut()?.out.pop_front()
    }

    fn publish(&mut self, msg: impl FnOnce(&ByteString) -> AdapterMessage) {
        if let Some(a) = &mut self.adapter {
            let m = msg(&a.uid);
            a.out.push_back(AdapterOutput::Publish(m));
        }
    }

    /// Send an event to the sockets `target` selects on this server (at once) and, unless
    /// `local`, on every other server of the cluster. Returns how many local sockets got it.
    pub fn broadcast(
        &mut self,
        now: Millis,
        target: &Target,
        emit: &Emit,
        local: bool,
    ) -> Result<usize, ServerError> {
        let sent = self.emit(now, target, emit)?;
        if !local && self.adapter.is_some() {
            let opts = self.selector(target);
            self.publish(|uid| AdapterMessage::Broadcast {
                uid: uid.clone(),
                nsp: target.nsp.clone(),
                data: emit.data.clone(),
                attachments: emit.attachments.clone(),
                opts,
                volatile: emit.volatile,
            });
        }
        Ok(sent)
    }

    fn selector(&self, target: &Target) -> Selector {
        let mut except = target.except_rooms.clone();
        except.extend(
            target
                .except_sockets
                .iter()
                .filter_map(|s| self.socket_sid(*s).cloned()),
        );
        Selector {
            rooms: target.rooms.clone(),
            except,
        }
    }

    /// The selected sockets of the cluster join `rooms` (local ones at once).
    pub fn sockets_join(
        &mut self,
        target: &Target,
        rooms: &[ByteString],
        local: bool,
    ) -> Result<(), ServerError> {
        self.sockets_rooms(target, rooms, local, true)
    }

    /// The selected sockets of the cluster leave `rooms` (local ones at once).
    pub fn sockets_leave(
        &mut self,
        target: &Target,
        rooms: &[ByteString],
        local: bool,
    ) -> Result<(), ServerError> {
        self.sockets_rooms(target, rooms, local, false)
    }

    fn sockets_rooms(
        &mut self,
        target: &Target,
        rooms: &[ByteString],
        local: bool,
        join: bool,
    ) -> Result<(), ServerError> {
        for s in self.recipients(target)? {
            for r in rooms {
                if join {
                    self.join(s, r)?;
                } else {
                    self.leave(s, r)?;
                }
            }
        }
        if !local {
            let sel = self.selector(target);
            let rooms = rooms.to_vec();
            let request = if join {
                Request::Join { sel, rooms }
            } else {
                Request::Leave { sel, rooms }
            };
            self.publish(|uid| AdapterMessage::Request {
                uid: uid.clone(),
                nsp: target.nsp.clone(),
                request,
            });
        }
        Ok(())
    }

    /// Disconnect the selected sockets of the cluster (local ones at once).
    pub fn disconnect_sockets(
        &mut self,
        now: Millis,
        target: &Target,
        close: bool,
        local: bool,
    ) -> Result<(), ServerError> {
        let sel = self.selector(target);
        for s in self.recipients(target)? {
            // A socket may already be gone with an earlier one's connection.
            let _ = self.disconnect(now, s, close);
        }
        if !local {
            self.publish(|uid| AdapterMessage::Request {
                uid: uid.clone(),
                nsp: target.nsp.clone(),
                request: Request::Disconnect { sel, close },
            });
        }
        Ok(())
    }

    /// Send an event to the other servers of the cluster (Node's `serverSideEmit`). `data`
    /// is the JSON array, event name first.
    pub fn server_side_emit(&mut self, nsp: &str, data: ByteString) {
        let nsp = ByteString::from(nsp);
        self.publish(|uid| AdapterMessage::Request {
            uid: uid.clone(),
            nsp,
            request: Request::ServerSideEmit { id: None, data },
        });
    }

    /// Answer a server-side emit ([`AdapterOutput::ServerSideEmit`] with `reply`) with one
    /// JSON value.
    pub fn server_side_ack(&mut self, nsp: &str, reply: ByteString, value: ByteString) {
        let nsp = ByteString::from(nsp);
        self.publish(|_| AdapterMessage::Response {
            nsp,
            request_id: reply,
            response: Response::ServerSideAck(value),
        });
    }

    fn start_request(
        &mut self,
        now: Millis,
        waiting: Waiting,
        missing: usize,
        request: impl FnOnce(ByteString) -> Request,
        nsp: &ByteString,
    ) -> AdapterRequestId {
        let wire = self.engine.ids_mut().next_id();
        let a = self.adapter.as_mut().expect("adapter on");
        let id = a.next;
        a.next += 1;
        let deadline = now + a.config.requests_timeout;
        a.pending.insert(
            id,
            Pending {
                wire: wire.clone(),
                waiting,
                missing,
                deadline,
            },
        );
        a.by_wire.insert(wire.clone(), id);
        let uid = a.uid.clone();
        a.out
            .push_back(AdapterOutput::Publish(AdapterMessage::Request {
                uid,
                nsp: nsp.clone(),
                request: request(wire),
            }));
        self.timers.insert(deadline, TimerKey::Adapter(id));
        AdapterRequestId(id)
    }

    fn finish_now(&mut self, waiting: Waiting) -> AdapterRequestId {
        let a = self.adapter.as_mut().expect("adapter on");
        let id = AdapterRequestId(a.next);
        a.next += 1;
        a.out.push_back(done(id, waiting, false));
        id
    }

    /// Describe the sockets `target` selects on every server; `servers` is how many servers
    /// listen to requests, this one included. Completes with [`AdapterOutput::Fetched`]
    /// (at once when alone or `local`). Requires [`enable_adapter`](Self::enable_adapter).
    pub fn fetch_sockets(
        &mut self,
        now: Millis,
        target: &Target,
        servers: usize,
        local: bool,
    ) -> Result<AdapterRequestId, ServerError> {
        self.require_adapter()?;
        let mine = self.local_sockets(&target.nsp, &self.selector(target))?;
        if local || servers <= 1 {
            return Ok(self.finish_now(Waiting::Fetch(mine)));
        }
        let sel = self.selector(target);
        Ok(self.start_request(
            now,
            Waiting::Fetch(mine),
            servers - 1,
            |id| Request::Fetch { id, sel },
            &target.nsp,
        ))
    }

    /// Send an event to the sockets `target` selects on every server and collect their
    /// acks until all answered or `timeout` ms passed ([`AdapterOutput::BroadcastAcks`]);
    /// `servers` counts this one too. Node's `emitWithAck` across a cluster.
    pub fn broadcast_with_ack_cluster(
        &mut self,
        now: Millis,
        target: &Target,
        emit: &Emit,
        timeout: Millis,
        servers: usize,
    ) -> Result<AdapterRequestId, ServerError> {
        self.require_adapter()?;
        let sel = self.selector(target);
        // Registered before the local part starts: it may complete at once.
        let local = BroadcastAckId(self.next_ack);
        let wire = self.engine.ids_mut().next_id();
        let a = self.adapter.as_mut().expect("adapter on");
        let id = a.next;
        a.next += 1;
        a.local_acks.insert(local, id);
        let deadline = now + timeout;
        a.pending.insert(
            id,
            Pending {
                wire: wire.clone(),
                waiting: Waiting::Broadcast {
                    nsp: target.nsp.clone(),
                    local: None,
                    remote: Vec::new(),
                    expected: 0,
                },
                missing: servers.saturating_sub(1),
                deadline,
            },
        );
        a.by_wire.insert(wire.clone(), id);
        self.timers.insert(deadline, TimerKey::Adapter(id));
        let started = self.broadcast_with_ack(now, target, emit, timeout);
        if let Err(e) = started {
            let a = self.adapter.as_mut().expect("adapter on");
            a.local_acks.remove(&local);
            a.pending.remove(&id);
            a.by_wire.remove(&wire);
            self.timers.remove(deadline, TimerKey::Adapter(id));
            return Err(e);
        }
        debug_assert_eq!(started, Ok(local));
        if servers > 1 {
            let (data, attachments) = (emit.data.clone(), emit.attachments.clone());
            self.publish(|uid| AdapterMessage::Request {
                uid: uid.clone(),
                nsp: target.nsp.clone(),
                request: Request::BroadcastWithAck {
                    id: wire,
                    data,
                    attachments,
                    sel,
                    timeout,
                },
            });
        }
        self.maybe_finish_broadcast(id);
        Ok(AdapterRequestId(id))
    }

    fn maybe_finish_broadcast(&mut self, id: u64) {
        let a = self.adapter.as_mut().expect("adapter on");
        let Some(p) = a.pending.get(&id) else { return };
        let Waiting::Broadcast {
            local: Some(_),
            remote,
            expected,
            ..
        } = &p.waiting
        else {
            return;
        };
        if p.missing > 0 || (remote.len() as u64) < *expected {
            return;
        }
        let p = a.pending.remove(&id).expect("present");
        a.by_wire.remove(&p.wire);
        let deadline = p.deadline;
        a.out
            .push_back(done(AdapterRequestId(id), p.waiting, false));
        self.timers.remove(deadline, TimerKey::Adapter(id));
    }

    /// Every room of namespace `nsp` on every server ([`AdapterOutput::Rooms`]).
    pub fn all_rooms(
        &mut self,
        now: Millis,
        nsp: &str,
        servers: usize,
    ) -> Result<AdapterRequestId, ServerError> {
        self.require_adapter()?;
        let mine: BTreeSet<ByteString> = self.namespace_rooms(nsp).into_iter().collect();
        if servers <= 1 {
            return Ok(self.finish_now(Waiting::Rooms(mine)));
        }
        Ok(self.start_request(
            now,
            Waiting::Rooms(mine),
            servers - 1,
            |id| Request::AllRooms { id },
            &ByteString::from(nsp),
        ))
    }

    /// Send an event to the other servers and collect one answer from each
    /// ([`AdapterOutput::ServerSideAcks`]); `servers` counts this one too.
    pub fn server_side_emit_with_ack(
        &mut self,
        now: Millis,
        nsp: &str,
        data: ByteString,
        servers: usize,
    ) -> Result<AdapterRequestId, ServerError> {
        self.require_adapter()?;
        if servers <= 1 {
            return Ok(self.finish_now(Waiting::Acks(Vec::new())));
        }
        Ok(self.start_request(
            now,
            Waiting::Acks(Vec::new()),
            servers - 1,
            |id| Request::ServerSideEmit { id: Some(id), data },
            &ByteString::from(nsp),
        ))
    }

    fn require_adapter(&self) -> Result<(), ServerError> {
        match self.adapter {
            Some(_) => Ok(()),
            None => Err(ServerError::UnknownNamespace(String::from(
                "(no adapter enabled)",
            ))),
        }
    }

    fn local_sockets(
        &self,
        nsp: &ByteString,
        sel: &Selector,
    ) -> Result<Vec<RemoteSocket>, ServerError> {
        let ids = self.recipients(&sel.target(nsp))?;
        Ok(ids
            .into_iter()
            .filter_map(|s| {
                let sock = self.sockets.get(&s)?;
                let hs = self.socket_handshake(s).cloned().unwrap_or_default();
                Some(RemoteSocket {
                    id: sock.sid.clone(),
                    handshake: ByteString::from(handshake_json(&hs)),
                    rooms: sock.rooms.iter().cloned().collect(),
                    data: ByteString::from_static("{}"),
                })
            })
            .collect())
    }

    /// A message from the bus. Messages of this server, or for namespaces it does not serve,
    /// are ignored; local sockets are affected only as the message says. Bad application data
    /// (an event the clients could not decode) is an `Err` and reaches nobody.
    pub fn handle_adapter(&mut self, now: Millis, msg: AdapterMessage) -> Result<(), ServerError> {
        let Some(a) = &self.adapter else {
            return Ok(());
        };
        match msg {
            AdapterMessage::Broadcast {
                uid,
                nsp,
                data,
                attachments,
                opts,
                volatile,
            } => {
                if uid == a.uid || !self.has_namespace(&nsp) {
                    return Ok(());
                }
                // From another server: checked again.
                let mut emit = Emit::new(data).with_attachments(attachments);
                emit.volatile = volatile;
                self.emit(now, &opts.target(&nsp), &emit)?;
            }
            AdapterMessage::Request { uid, nsp, request } => {
                if uid == a.uid || !self.has_namespace(&nsp) {
                    return Ok(());
                }
                self.on_request(now, nsp, request)?;
            }
            AdapterMessage::Response {
                nsp: _,
                request_id,
                response,
            } => self.on_response(request_id, response),
        }
        Ok(())
    }

    fn on_request(
        &mut self,
        now: Millis,
        nsp: ByteString,
        request: Request,
    ) -> Result<(), ServerError> {
        let respond = |s: &mut Self, request_id: ByteString, response: Response| {
            s.publish(|_| AdapterMessage::Response {
                nsp: nsp.clone(),
                request_id,
                response,
            });
        };
        match request {
            Request::SocketIds { id, rooms } => {
                let sel = Selector {
                    rooms,
                    except: Vec::new(),
                };
                let ids = self
                    .local_sockets(&nsp, &sel)?
                    .into_iter()
                    .map(|s| s.id)
                    .collect();
                respond(self, id, Response::SocketIds(ids));
            }
            Request::AllRooms { id } => {
                let rooms = self.namespace_rooms(&nsp);
                respond(self, id, Response::Rooms(rooms));
            }
            Request::Join { sel, rooms } => {
                self.sockets_join(&sel.target(&nsp), &rooms, true)?;
            }
            Request::Leave { sel, rooms } => {
                self.sockets_leave(&sel.target(&nsp), &rooms, true)?;
            }
            Request::Disconnect { sel, close } => {
                self.disconnect_sockets(now, &sel.target(&nsp), close, true)?;
            }
            Request::Fetch { id, sel } => {
                let sockets = self.local_sockets(&nsp, &sel)?;
                respond(self, id, Response::Sockets(sockets));
            }
            Request::BroadcastWithAck {
                id,
                data,
                attachments,
                sel,
                timeout,
            } => {
                let emit = Emit::new(data).with_attachments(attachments);
                let bid = self.broadcast_with_ack(now, &sel.target(&nsp), &emit, timeout)?;
                let count = self.broadcasts.get(&bid).map_or(0, |b| b.waiting.len());
                respond(self, id.clone(), Response::ClientCount(count as u64));
                if self.broadcasts.contains_key(&bid) {
                    let a = self.adapter.as_mut().expect("adapter on");
                    a.remote_acks.insert(bid, (nsp.clone(), id));
                }
            }
            Request::ServerSideEmit { id, data } => {
                let a = self.adapter.as_mut().expect("adapter on");
                a.out.push_back(AdapterOutput::ServerSideEmit {
                    nsp: nsp.clone(),
                    data,
                    reply: id,
                });
            }
        }
        Ok(())
    }

    fn on_response(&mut self, request_id: ByteString, response: Response) {
        let a = self.adapter.as_mut().expect("adapter on");
        let Some(&id) = a.by_wire.get(&request_id) else {
            return;
        };
        let p = a.pending.get_mut(&id).expect("indexed");
        match (&mut p.waiting, response) {
            (Waiting::Fetch(v), Response::Sockets(s)) => v.extend(s),
            (Waiting::Rooms(v), Response::Rooms(r)) => v.extend(r),
            (Waiting::Acks(v), Response::ServerSideAck(x)) => v.push(x),
            (Waiting::Broadcast { expected, .. }, Response::ClientCount(n)) => {
                *expected += n;
                p.missing = p.missing.saturating_sub(1);
                self.maybe_finish_broadcast(id);
                return;
            }
            (
                Waiting::Broadcast { nsp, remote, .. },
                Response::BroadcastAck { value, attachments },
            ) => {
                let data = ByteString::from(format!("[{value}]"));
                remote.push(Packet::ack(nsp.clone(), data, 0, attachments));
                self.maybe_finish_broadcast(id);
                return;
            }
            // An answer of another kind: not for this request.
            _ => return,
        }
        p.missing = p.missing.saturating_sub(1);
        if p.missing == 0 {
            let p = a.pending.remove(&id).expect("present");
            a.by_wire.remove(&p.wire);
            a.out
                .push_back(done(AdapterRequestId(id), p.waiting, false));
            self.timers.remove(p.deadline, TimerKey::Adapter(id));
        }
    }

    /// An acknowledged broadcast completed: for the application, or, when another server
    /// asked for it, as answers on the bus.
    pub(super) fn broadcast_acked(
        &mut self,
        id: BroadcastAckId,
        responses: Vec<(SocketId, Packet)>,
        timed_out: bool,
    ) {
        let mine = self.adapter.as_mut().and_then(|a| a.local_acks.remove(&id));
        if let Some(req) = mine {
            let a = self.adapter.as_mut().expect("adapter on");
            if let Some(Pending {
                waiting: Waiting::Broadcast { local, .. },
                ..
            }) = a.pending.get_mut(&req)
            {
                *local = Some((responses, timed_out));
            }
            self.maybe_finish_broadcast(req);
            return;
        }
        let remote = self
            .adapter
            .as_mut()
            .and_then(|a| a.remote_acks.remove(&id));
        let Some((nsp, request_id)) = remote else {
            self.events.push_back(Event::BroadcastAck {
                id,
                responses,
                timed_out,
            });
            return;
        };
        for (_, packet) in responses {
            let (value, attachments) = first_argument(&packet);
            self.publish(|_| AdapterMessage::Response {
                nsp: nsp.clone(),
                request_id: request_id.clone(),
                response: Response::BroadcastAck { value, attachments },
            });
        }
    }

    pub(super) fn adapter_timeout(&mut self, id: u64) {
        let Some(a) = self.adapter.as_mut() else {
            return;
        };
        if let Some(p) = a.pending.remove(&id) {
            a.by_wire.remove(&p.wire);
            a.out.push_back(done(AdapterRequestId(id), p.waiting, true));
        }
    }
}

fn done(id: AdapterRequestId, waiting: Waiting, timed_out: bool) -> AdapterOutput {
    match waiting {
        Waiting::Fetch(sockets) => AdapterOutput::Fetched {
            id,
            sockets,
            timed_out,
        },
        Waiting::Rooms(rooms) => AdapterOutput::Rooms {
            id,
            rooms: rooms.into_iter().collect(),
            timed_out,
        },
        Waiting::Acks(responses) => AdapterOutput::ServerSideAcks {
            id,
            responses,
            timed_out,
        },
        Waiting::Broadcast { local, remote, .. } => {
            let (mine, local_timed_out) = local.unwrap_or((Vec::new(), true));
            let mut responses: Vec<(Option<SocketId>, Packet)> =
                mine.into_iter().map(|(s, p)| (Some(s), p)).collect();
            responses.extend(remote.into_iter().map(|p| (None, p)));
            AdapterOutput::BroadcastAcks {
                id,
                responses,
                timed_out: timed_out || local_timed_out,
            }
        }
    }
}

/// The first argument of an ACK packet, and the attachments it uses (renumbered).
fn first_argument(packet: &Packet) -> (ByteString, Vec<Bytes>) {
    let data = packet.data.as_deref().unwrap_or("[]");
    let first = serde_json::from_str::<Vec<serde_json::Value>>(data)
        .ok()
        .and_then(|v| v.into_iter().next())
        .unwrap_or(serde_json::Value::Null);
    let mut attachments = Vec::new();
    let value = renumber(first, &packet.attachments, &mut attachments);
    (ByteString::from(value.to_string()), attachments)
}

fn renumber(v: serde_json::Value, from: &[Bytes], to: &mut Vec<Bytes>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(o) if o.len() == 2 && o.get("_placeholder") == Some(&Value::Bool(true)) => {
            match o
                .get("num")
                .and_then(Value::as_u64)
                .and_then(|n| from.get(n as usize))
            {
                Some(b) => {
                    to.push(b.clone());
                    serde_json::json!({"_placeholder": true, "num": to.len() - 1})
                }
                None => Value::Object(o),
            }
        }
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (k, renumber(x, from, to)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| renumber(x, from, to)).collect()),
        other => other,
    }
}

/// Node's `socket.handshake` as far as the core knows it.
fn handshake_json(h: &super::Handshake) -> String {
    let mut headers = serde_json::Map::new();
    for (k, v) in &h.headers {
        headers.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
    }
    let mut query = serde_json::Map::new();
    for pair in h.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
    }
    serde_json::json!({
        "headers": headers,
        "time": "",
        "address": h.remote_addr.clone().unwrap_or_default(),
        "xdomain": false,
        "secure": false,
        "issued": h.time,
        "url": "",
        "query": query,
        "auth": {},
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerConfig;

    fn server() -> Server {
        let mut s = Server::new(ServerConfig::default());
        s.enable_adapter(AdapterConfig::default());
        s
    }

    fn drain(s: &mut Server) -> Vec<AdapterOutput> {
        std::iter::from_fn(|| s.poll_adapter_output()).collect()
    }

    #[test]
    fn broadcast_publishes_once_and_ignores_own_echo() {
        let mut s = server();
        let uid = s.adapter_uid().unwrap().clone();
        let target = Target::room("/", "r").except("x");
        s.broadcast(0, &target, &Emit::new(r#"["a",1]"#), false)
            .unwrap();
        let out = drain(&mut s);
        assert_eq!(out.len(), 1);
        let AdapterOutput::Publish(m) = &out[0] else {
            panic!("{out:?}")
        };
        match m {
            AdapterMessage::Broadcast { uid: u, opts, .. } => {
                assert_eq!(u, &uid);
                assert_eq!(opts.rooms, vec![ByteString::from("r")]);
                assert_eq!(opts.except, vec![ByteString::from("x")]);
            }
            other => panic!("{other:?}"),
        }
        s.handle_adapter(0, m.clone()).unwrap();
        assert!(drain(&mut s).is_empty());
        // Local: nothing published.
        s.broadcast(0, &target, &Emit::new(r#"["a",1]"#), true)
            .unwrap();
        assert!(drain(&mut s).is_empty());
    }

    #[test]
    fn bad_event_from_the_bus_is_an_error() {
        let mut s = server();
        let r = s.handle_adapter(
            0,
            AdapterMessage::Broadcast {
                uid: "other".into(),
                nsp: "/".into(),
                data: "{}".into(),
                attachments: vec![],
                opts: Selector::default(),
                volatile: false,
            },
        );
        assert_eq!(r, Err(ServerError::InvalidEventData));
    }

    #[test]
    fn requests_wait_for_every_server_then_time_out() {
        let mut s = server();
        let id = s.all_rooms(0, "/", 3).unwrap();
        let out = drain(&mut s);
        let AdapterOutput::Publish(AdapterMessage::Request {
            request: Request::AllRooms { id: wire },
            ..
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        s.handle_adapter(
            1,
            AdapterMessage::Response {
                nsp: "/".into(),
                request_id: wire.clone(),
                response: Response::Rooms(vec!["a".into()]),
            },
        )
        .unwrap();
        assert!(drain(&mut s).is_empty());
        s.handle_timeout(5000);
        assert_eq!(
            drain(&mut s),
            vec![AdapterOutput::Rooms {
                id,
                rooms: vec!["a".into()],
                timed_out: true
            }]
        );
        // Complete with two answers.
        let id = s
            .server_side_emit_with_ack(0, "/", r#"["q"]"#.into(), 3)
            .unwrap();
        let out = drain(&mut s);
        let AdapterOutput::Publish(AdapterMessage::Request {
            request: Request::ServerSideEmit { id: Some(wire), .. },
            ..
        }) = &out[0]
        else {
            panic!("{out:?}")
        };
        for v in ["1", "2"] {
            s.handle_adapter(
                1,
                AdapterMessage::Response {
                    nsp: "/".into(),
                    request_id: wire.clone(),
                    response: Response::ServerSideAck(v.into()),
                },
            )
            .unwrap();
        }
        assert_eq!(
            drain(&mut s),
            vec![AdapterOutput::ServerSideAcks {
                id,
                responses: vec!["1".into(), "2".into()],
                timed_out: false
            }]
        );
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn cluster_broadcast_with_ack_waits_for_counts_and_answers() {
        let mut s = server();
        let id = s
            .broadcast_with_ack_cluster(0, &Target::namespace("/"), &Emit::new(r#"["q"]"#), 1000, 3)
            .unwrap();
        let out = drain(&mut s);
        let [AdapterOutput::Publish(AdapterMessage::Request {
            request: Request::BroadcastWithAck { id: wire, .. },
            ..
        })] = out.as_slice()
        else {
            panic!("{out:?}")
        };
        let answer = |s: &mut Server, response| {
            s.handle_adapter(
                1,
                AdapterMessage::Response {
                    nsp: "/".into(),
                    request_id: wire.clone(),
                    response,
                },
            )
            .unwrap();
        };
        answer(&mut s, Response::ClientCount(1));
        answer(
            &mut s,
            Response::BroadcastAck {
                value: "\"x\"".into(),
                attachments: vec![],
            },
        );
        assert!(drain(&mut s).is_empty(), "a server has not counted yet");
        answer(&mut s, Response::ClientCount(0));
        let out = drain(&mut s);
        let [AdapterOutput::BroadcastAcks {
            id: done,
            responses,
            timed_out: false,
        }] = out.as_slice()
        else {
            panic!("{out:?}")
        };
        assert_eq!(*done, id);
        assert_eq!(responses.len(), 1);
        assert_eq!(responses[0].0, None);
        assert_eq!(responses[0].1.data.as_deref(), Some("[\"x\"]"));
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn requests_of_others_are_answered() {
        let mut s = server();
        s.handle_adapter(
            0,
            AdapterMessage::Request {
                uid: "other".into(),
                nsp: "/".into(),
                request: Request::Fetch {
                    id: "q1".into(),
                    sel: Selector::default(),
                },
            },
        )
        .unwrap();
        assert_eq!(
            drain(&mut s),
            vec![AdapterOutput::Publish(AdapterMessage::Response {
                nsp: "/".into(),
                request_id: "q1".into(),
                response: Response::Sockets(vec![]),
            })]
        );
    }
}
