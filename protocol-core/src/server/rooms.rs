//! Namespaces' membership: which sockets are in which rooms, and broadcast targets.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use bytestring::ByteString;

use super::vec_map::VecSet;
use super::SocketId;

/// Which sockets of a namespace a broadcast reaches: the members of any of `rooms` (every
/// socket of the namespace when empty), minus the members of `except_rooms`, minus
/// `except_sockets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The namespace.
    pub nsp: ByteString,
    /// Rooms whose members receive it (union); empty for the whole namespace.
    pub rooms: Vec<ByteString>,
    /// Rooms whose members do not receive it.
    pub except_rooms: Vec<ByteString>,
    /// Sockets that do not receive it (for example the sender, Node's `socket.broadcast`).
    pub except_sockets: Vec<SocketId>,
}

impl Target {
    /// Every socket of a namespace.
    pub fn namespace(nsp: &str) -> Self {
        Target {
            nsp: ByteString::from(nsp),
            rooms: Vec::new(),
            except_rooms: Vec::new(),
            except_sockets: Vec::new(),
        }
    }

    /// The members of one room of a namespace (a socket's id is a room of its own).
    pub fn room(nsp: &str, room: &str) -> Self {
        Self::namespace(nsp).to(room)
    }

    /// Also the members of `room`.
    pub fn to(mut self, room: &str) -> Self {
        self.rooms.push(ByteString::from(room));
        self
    }

    /// Not the members of `room`.
    pub fn except(mut self, room: &str) -> Self {
        self.except_rooms.push(ByteString::from(room));
        self
    }

    /// Not `socket`.
    pub fn except_socket(mut self, socket: SocketId) -> Self {
        self.except_sockets.push(socket);
        self
    }
}

/// The sockets and rooms of one namespace.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    sockets: BTreeSet<SocketId>,
    rooms: BTreeMap<ByteString, Members>,
}

/// The sockets in one room. A room of one socket needs no set (a set's first node is about
/// 100 bytes).
#[derive(Debug)]
enum Members {
    One(SocketId),
    Many(BTreeSet<SocketId>),
}

impl Members {
    fn insert(&mut self, socket: SocketId) {
        match self {
            Members::One(s) if *s == socket => {}
            Members::One(s) => *self = Members::Many(BTreeSet::from([*s, socket])),
            Members::Many(m) => {
                m.insert(socket);
            }
        }
    }

    /// Take `socket` out; whether the room is empty now.
    fn remove(&mut self, socket: SocketId) -> bool {
        match self {
            Members::One(s) => *s == socket,
            Members::Many(m) => {
                m.remove(&socket);
                m.is_empty()
            }
        }
    }

    fn contains(&self, socket: &SocketId) -> bool {
        match self {
            Members::One(s) => s == socket,
            Members::Many(m) => m.contains(socket),
        }
    }

    /// The sockets, in id order.
    fn iter(&self) -> impl Iterator<Item = &SocketId> {
        let (one, many) = match self {
            Members::One(s) => (Some(s), None),
            Members::Many(m) => (None, Some(m.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

impl Namespace {
    /// A socket arrives. The room named by its id is not kept here: [`Namespace::select`]
    /// is told of it (every socket has one, so keeping them would cost an entry each).
    pub(crate) fn add(&mut self, socket: SocketId) {
        self.sockets.insert(socket);
    }

    pub(crate) fn join(&mut self, socket: SocketId, room: ByteString) {
        match self.rooms.entry(room) {
            Entry::Vacant(e) => {
                e.insert(Members::One(socket));
            }
            Entry::Occupied(mut e) => e.get_mut().insert(socket),
        }
    }

    pub(crate) fn leave(&mut self, socket: SocketId, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            if members.remove(socket) {
                self.rooms.remove(room);
            }
        }
    }

    /// A socket leaves the namespace and all its rooms.
    pub(crate) fn remove(&mut self, socket: SocketId, rooms: &VecSet<ByteString>) {
        self.sockets.remove(&socket);
        for room in rooms {
            self.leave(socket, room);
        }
    }

    pub(crate) fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.sockets.iter().copied()
    }

    pub(crate) fn rooms(&self) -> impl Iterator<Item = &ByteString> {
        self.rooms.keys()
    }

    /// The sockets `target` selects, in id order, each once. `own_room` tells which
    /// socket of this namespace is in the room named by its own id, if any: those rooms are
    /// not kept here.
    pub(crate) fn select(
        &self,
        target: &Target,
        own_room: impl Fn(&str) -> Option<SocketId>,
    ) -> Vec<SocketId> {
        let excluded = |s: &SocketId| {
            target.except_sockets.contains(s)
                || target.except_rooms.iter().any(|r| {
                    self.rooms.get(r).is_some_and(|m| m.contains(s)) || own_room(r) == Some(*s)
                })
        };
        if target.rooms.is_empty() {
            return self
                .sockets
                .iter()
                .filter(|s| !excluded(s))
                .copied()
                .collect();
        }
        // The rooms' members one after the other, then in id order, each once: one room's
        // members come sorted already (most broadcasts), which the sort sees in one pass.
        let mut out = Vec::new();
        for room in &target.rooms {
            if let Some(members) = self.rooms.get(room) {
                out.extend(members.iter().filter(|s| !excluded(s)).copied());
            }
            out.extend(own_room(room).filter(|s| !excluded(s)));
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_is_union_minus_exceptions() {
        let mut ns = Namespace::default();
        for i in 0..5 {
            ns.add(SocketId(i));
        }
        // Own rooms "s0".."s4", s1 having left its own.
        let own = |room: &str| {
            let i: u64 = room.strip_prefix('s')?.parse().ok()?;
            (i < 5 && i != 1).then_some(SocketId(i))
        };
        ns.join(SocketId(0), "a".into());
        ns.join(SocketId(1), "a".into());
        ns.join(SocketId(1), "b".into());
        ns.join(SocketId(2), "b".into());
        ns.join(SocketId(3), "c".into());
        let sel = |t: Target| ns.select(&t, own);
        assert_eq!(sel(Target::namespace("/")).len(), 5);
        assert_eq!(
            sel(Target::room("/", "a").to("b")),
            [SocketId(0), SocketId(1), SocketId(2)]
        );
        assert_eq!(
            sel(Target::room("/", "a").to("b").except("b")),
            [SocketId(0)]
        );
        assert_eq!(
            sel(Target::namespace("/")
                .except("a")
                .except_socket(SocketId(4))),
            [SocketId(2), SocketId(3)]
        );
        assert_eq!(sel(Target::room("/", "s3")), [SocketId(3)]);
        assert_eq!(sel(Target::room("/", "s3").to("c")), [SocketId(3)]);
        assert_eq!(
            sel(Target::room("/", "s3").to("s0").to("s1")),
            [SocketId(0), SocketId(3)]
        );
        assert_eq!(
            sel(Target::namespace("/").except("s0").except("s1")),
            [SocketId(1), SocketId(2), SocketId(3), SocketId(4)]
        );
        assert!(sel(Target::room("/", "s3").except("c")).is_empty());
        assert!(sel(Target::room("/", "nobody")).is_empty());
        let mut rooms = VecSet::default();
        rooms.insert(ByteString::from("s1"));
        rooms.insert(ByteString::from("a"));
        rooms.insert(ByteString::from("b"));
        ns.remove(SocketId(1), &rooms);
        assert_eq!(
            ns.select(&Target::room("/", "a").to("b"), own),
            [SocketId(0), SocketId(2)]
        );
        assert!(!ns.rooms().any(|r| r == "s1"));
    }
}
