//! Connection state recovery (Node's `connectionStateRecovery`): what the server keeps so
//! that a client whose transport failed can come back as the same socket and receive what it
//! missed, exactly once and in order.
//!
//! Every event sent to a socket that is neither volatile nor waiting for an ack carries an
//! *offset* as its last argument (`<prefix>.<seq>`: a per-server random prefix and a
//! counter, so offsets are unique and ordered) and is kept in the socket's [`Journal`] until
//! the client has certainly received it: an answered ping that was written after it
//! (transports keep order) or, on recovery, the client's own last offset. When the
//! connection fails, the socket becomes an [`Away`] session (its id, `pid`, rooms and
//! journal) for `max_disconnection_duration`; the events sent meanwhile to its rooms or to
//! it are appended to its journal. A CONNECT whose auth carries that `pid` (and the last
//! offset the client saw) takes the session back: same socket id and rooms, and the journal's
//! events after the offset are sent again before anything else.
//!
//! Everything is bounded: a journal holds at most `max_packets` events and `max_bytes`
//! bytes (a live socket forgets its oldest events beyond that, and then refuses offsets older
//! than what it forgot; an away session is dropped), and at most `max_sessions` sessions are
//! kept (the one expiring first goes).
//!
//! Duplicates in the other direction: with recovery on, the server remembers the ack ids of
//! the client's events (and its answers) until the answer has certainly reached the client.
//! A client that sends an event again with the same ack id after a reconnection (as this
//! crate's client does for retried emits) gets the answer again instead of a second
//! delivery to the application.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use bytestring::ByteString;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::vec_map::VecSet;
use crate::socket::Encoded;
use crate::timers::Millis;

/// Settings of connection state recovery
/// ([`ServerConfig::connection_state_recovery`](super::ServerConfig::connection_state_recovery)).
/// The defaults are Node's where Node has one.
///
/// How it works: every event sent to a socket gets an *offset* as its last argument
/// (`<prefix>.<seq>`: a random per-server prefix and a counter, so offsets are unique and
/// ordered), volatile ones included. Events that are neither volatile nor waiting for an
/// ack are kept in the socket's journal until the client certainly has them: a ping
/// written after them was answered, or the client's own last offset says so on recovery.
/// When the connection fails (a [recoverable](super::DisconnectReason::is_recoverable)
/// reason), the socket's session (id, `pid`, rooms, journal) is kept for
/// `max_disconnection_duration`, and the events sent meanwhile to it or to its rooms are
/// added to its journal. A CONNECT whose auth has that `pid` (and the last offset the client
/// saw; without one, everything kept is sent) takes it back: the same socket, its rooms, and
/// the events after the offset, sent right after the CONNECT answer. A client may come back
/// before the server noticed its old connection died: the CONNECT ends that connection.
///
/// The server also remembers the ack ids of the client's events (and its answers) until
/// the answer has certainly reached the client: a repeat of an event (a retry after a
/// reconnection, with the same ack id, as this crate's client sends) is answered again
/// rather than delivered twice.
///
/// Bounds: a journal holds at most `max_packets` events and `max_bytes` bytes (a live
/// socket forgets its oldest beyond that, and then refuses offsets older than what it forgot;
/// a session that overflows is dropped: the client connects as a new socket), and at most
/// `max_sessions` sessions are kept (the one expiring first goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long a disconnected socket's session is kept, ms (Node: 120 000).
    pub max_disconnection_duration: Millis,
    /// Let a recovered socket in without the connect middlewares (Node: true). The core only
    /// reports it; the runtime applies it.
    pub skip_middlewares: bool,
    /// Most events kept for one socket (sent but not known to be received, or missed while
    /// away); default 1000.
    pub max_packets: usize,
    /// Most bytes of events kept for one socket, counted as encoded (text and attachments);
    /// default 1 000 000.
    pub max_bytes: usize,
    /// Most disconnected sessions kept at once; default 10 000.
    pub max_sessions: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: 120_000,
            skip_middlewares: true,
            max_packets: 1000,
            max_bytes: 1_000_000,
            max_sessions: 10_000,
        }
    }
}

/// Sizes of what recovery keeps, to watch memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Disconnected sessions kept.
    pub sessions: usize,
    /// Events kept in journals (live sockets and sessions).
    pub packets: usize,
    /// Bytes of those events, as counted against `max_bytes`.
    pub bytes: usize,
    /// Client ack ids remembered to drop repeated events.
    pub client_acks: usize,
}

/// One event kept for a socket.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// The counter part of its offset.
    pub(crate) seq: u64,
    /// The encoded packet, shared by every recipient.
    pub(crate) packet: Arc<Encoded>,
    /// The pings written to the connection before it (see
    /// `EngineServer::heartbeat_counts`); `u64::MAX` while away (not written anywhere).
    pub(crate) epoch: u64,
}

/// What the server did with a client event that asked for an ack.
#[derive(Debug, Clone)]
pub(crate) enum ClientAck {
    /// Delivered to the application, not answered yet.
    Pending,
    /// Answered with this packet, written while the connection had sent `epoch` pings.
    Answered { packet: Arc<Encoded>, epoch: u64 },
}

/// Why a journal refused to keep an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Overflow;

/// What recovery keeps for one socket.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// Events not known to be received, oldest first.
    pub(crate) entries: VecDeque<Logged>,
    /// Their size, as counted against `max_bytes`.
    pub(crate) bytes: usize,
    /// The highest seq forgotten before it was known to be received (0: none): a client whose
    /// offset is older cannot be given everything it missed.
    pub(crate) forgotten: u64,
    /// The client's ack ids seen, and the answers.
    pub(crate) client_acks: BTreeMap<u64, ClientAck>,
}

/// The size counted for an encoded packet.
pub(crate) fn packet_size(e: &Encoded) -> usize {
    e.text.len() + e.attachments.iter().map(|a| a.len()).sum::<usize>()
}

impl Journal {
    /// Keep an event sent to a live socket; beyond the bounds the oldest are forgotten.
    pub(crate) fn push_live(&mut self, entry: Logged, config: &RecoveryConfig) {
        self.bytes += packet_size(&entry.packet);
        self.entries.push_back(entry);
        while self.entries.len() > config.max_packets || self.bytes > config.max_bytes {
            let Some(old) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= packet_size(&old.packet);
            self.forgotten = self.forgotten.max(old.seq);
        }
    }

    /// Keep an event missed while away; `Err` when that exceeds the bounds.
    pub(crate) fn push_away(
        &mut self,
        entry: Logged,
        config: &RecoveryConfig,
    ) -> Result<(), Overflow> {
        let size = packet_size(&entry.packet);
        if self.entries.len() >= config.max_packets || self.bytes + size > config.max_bytes {
            return Err(Overflow);
        }
        self.bytes += size;
        self.entries.push_back(entry);
        Ok(())
    }

    /// Forget what the client has certainly received: events and answers written before
    /// ping number `confirmed` was written.
    pub(crate) fn confirm(&mut self, confirmed: u64) {
        while self.entries.front().is_some_and(|e| e.epoch < confirmed) {
            let e = self.entries.pop_front().expect("checked");
            self.bytes -= packet_size(&e.packet);
        }
        self.client_acks
            .retain(|_, a| !matches!(a, ClientAck::Answered { epoch, .. } if *epoch < confirmed));
    }

    /// Forget the events up to `seq` (the client has them) and return those after it, in
    /// order, for sending again.
    pub(crate) fn resume_after(&mut self, seq: u64) -> Vec<Arc<Encoded>> {
        while self.entries.front().is_some_and(|e| e.seq <= seq) {
            let e = self.entries.pop_front().expect("checked");
            self.bytes -= packet_size(&e.packet);
        }
        self.entries.iter().map(|e| e.packet.clone()).collect()
    }

    /// Whether a client that has everything up to `seq` can be given the rest.
    pub(crate) fn can_resume_after(&self, seq: u64) -> bool {
        seq >= self.forgotten
    }

    /// A client event with ack id `id` arrived. `None`: new, deliver it (it is remembered);
    /// `Some(None)`: already delivered and not answered, drop it; `Some(Some(p))`: already
    /// answered with `p`, send that again.
    pub(crate) fn client_event(
        &mut self,
        id: u64,
        config: &RecoveryConfig,
    ) -> Option<Option<Arc<Encoded>>> {
        match self.client_acks.get(&id) {
            Some(ClientAck::Pending) => Some(None),
            Some(ClientAck::Answered { packet, .. }) => Some(Some(packet.clone())),
            None => {
                self.client_acks.insert(id, ClientAck::Pending);
                while self.client_acks.len() > config.max_packets {
                    self.client_acks.pop_first();
                }
                None
            }
        }
    }

    /// The application answered the client event `id` with `packet`.
    pub(crate) fn answered(&mut self, id: u64, packet: Arc<Encoded>, epoch: u64) {
        if let Some(a) = self.client_acks.get_mut(&id) {
            *a = ClientAck::Answered { packet, epoch };
        }
    }

    /// Mark a resent answer as written again at `epoch`.
    pub(crate) fn answer_resent(&mut self, id: u64, epoch: u64) {
        if let Some(ClientAck::Answered { epoch: e, .. }) = self.client_acks.get_mut(&id) {
            *e = epoch;
        }
    }

    /// Everything was written to a new connection at `epoch`.
    pub(crate) fn rewritten(&mut self, epoch: u64) {
        for e in &mut self.entries {
            e.epoch = epoch;
        }
        for a in self.client_acks.values_mut() {
            if let ClientAck::Answered { epoch: e, .. } = a {
                *e = epoch;
            }
        }
    }
}

/// A disconnected socket whose session is kept for recovery.
#[derive(Debug)]
pub(crate) struct Away {
    pub(crate) sid: ByteString,
    pub(crate) pid: ByteString,
    pub(crate) nsp: ByteString,
    pub(crate) rooms: VecSet<ByteString>,
    pub(crate) journal: Journal,
    /// When it expires.
    pub(crate) deadline: Millis,
    /// A CONNECT is taking it back, waiting for the application's decision.
    pub(crate) claimed: bool,
}

/// The offsets of one server: `<prefix>.<seq in hex>`.
#[derive(Debug, Clone)]
pub(crate) struct Offsets {
    prefix: ByteString,
    last: u64,
}

impl Offsets {
    pub(crate) fn new(prefix: ByteString) -> Self {
        Offsets { prefix, last: 0 }
    }

    /// The next offset: its seq and its text.
    pub(crate) fn next(&mut self) -> (u64, String) {
        self.last += 1;
        (self.last, format!("{}.{:x}", self.prefix, self.last))
    }

    /// The seq of an offset this server issued.
    pub(crate) fn parse(&self, offset: &str) -> Option<u64> {
        let (prefix, seq) = offset.rsplit_once('.')?;
        if prefix != &*self.prefix || seq.is_empty() || seq.len() > 16 {
            return None;
        }
        let seq = u64::from_str_radix(seq, 16).ok()?;
        (seq >= 1 && seq <= self.last).then_some(seq)
    }
}

/// Append `offset` as the last element of the JSON array `data` (an event: never empty).
pub(crate) fn append_offset(data: &str, offset: &str) -> String {
    let trimmed = data.trim_end();
    let body = trimmed.strip_suffix(']').unwrap_or(trimmed);
    let mut out = String::with_capacity(data.len() + offset.len() + 3);
    out.push_str(body);
    out.push_str(",\"");
    out.push_str(offset);
    out.push_str("\"]");
    out
}

/// What a CONNECT's auth asks of recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) pid: String,
    pub(crate) offset: Option<String>,
}

/// The fields of a JSON object in order, values raw.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Take `pid` and `offset` out of a CONNECT's auth object. Returns the auth the application
/// sees (unchanged when it has neither; `None` when nothing else is left) and the claim, when
/// `pid` is a string (`offset` counts only as a string too).
pub(crate) fn take_claim(auth: Option<&ByteString>) -> (Option<ByteString>, Option<Claim>) {
    let Some(text) = auth else {
        return (None, None);
    };
    let Ok(Fields(fields)) = serde_json::from_str::<Fields<'_>>(text) else {
        return (Some(text.clone()), None);
    };
    if !fields.iter().any(|(k, _)| k == "pid" || k == "offset") {
        return (Some(text.clone()), None);
    }
    let string = |key: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| serde_json::from_str::<String>(v.get()).ok())
    };
    let claim = string("pid").map(|pid| Claim {
        pid,
        offset: string("offset"),
    });
    let rest: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k != "pid" && k != "offset")
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::to_string(k).expect("a string serializes"),
                v.get()
            )
        })
        .collect();
    let auth = (!rest.is_empty()).then(|| ByteString::from(format!("{{{}}}", rest.join(","))));
    (auth, claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_ordered_and_checked() {
        let mut o = Offsets::new(ByteString::from_static("Ab_-x"));
        let (s1, t1) = o.next();
        let (s2, t2) = o.next();
        assert_eq!((s1, t1.as_str()), (1, "Ab_-x.1"));
        assert_eq!(o.parse(&t2), Some(s2));
        assert_eq!(o.parse("Ab_-x.3"), None, "never issued");
        assert_eq!(o.parse("Ab_-x.0"), None);
        assert_eq!(o.parse("other.1"), None);
        assert_eq!(o.parse("Ab_-x."), None);
        assert_eq!(o.parse("Ab_-x.zz"), None);
        assert_eq!(o.parse("nodot"), None);
    }

    #[test]
    fn offset_goes_last() {
        assert_eq!(append_offset(r#"["a"]"#, "p.1"), r#"["a","p.1"]"#);
        assert_eq!(append_offset("[\"a\",1 ] \n", "p.2"), r#"["a",1 ,"p.2"]"#);
    }

    #[test]
    fn claims_leave_the_rest_of_the_auth_in_order() {
        let a = ByteString::from_static(r#"{"z":1,"pid":"P","a":{"x":[1]},"offset":"O"}"#);
        let (auth, claim) = take_claim(Some(&a));
        assert_eq!(auth.as_deref(), Some(r#"{"z":1,"a":{"x":[1]}}"#));
        assert_eq!(
            claim,
            Some(Claim {
                pid: "P".into(),
                offset: Some("O".into())
            })
        );
        let a = ByteString::from_static(r#"{"pid":"P"}"#);
        assert_eq!(
            take_claim(Some(&a)),
            (
                None,
                Some(Claim {
                    pid: "P".into(),
                    offset: None
                })
            )
        );
        let a = ByteString::from_static(r#"{"pid":3,"offset":"O","t":"x"}"#);
        assert_eq!(
            take_claim(Some(&a)),
            (Some(ByteString::from_static(r#"{"t":"x"}"#)), None)
        );
        let a = ByteString::from_static(r#"{ "token" : "x" }"#);
        assert_eq!(take_claim(Some(&a)), (Some(a.clone()), None));
        let a = ByteString::from_static("[1]");
        assert_eq!(take_claim(Some(&a)), (Some(a.clone()), None));
        assert_eq!(take_claim(None), (None, None));
    }

    fn entry(seq: u64, len: usize, epoch: u64) -> Logged {
        let text = ByteString::from("x".repeat(len));
        Logged {
            seq,
            packet: Arc::new(Encoded {
                text,
                attachments: Vec::new(),
            }),
            epoch,
        }
    }

    #[test]
    fn journals_are_bounded() {
        let config = RecoveryConfig {
            max_packets: 3,
            max_bytes: 100,
            ..RecoveryConfig::default()
        };
        let mut j = Journal::default();
        for seq in 1..=5 {
            j.push_live(entry(seq, 10, 0), &config);
        }
        assert_eq!(j.entries.len(), 3);
        assert_eq!(j.forgotten, 2);
        assert!(!j.can_resume_after(1));
        assert!(j.can_resume_after(2));
        j.push_live(entry(6, 95, 1), &config);
        assert_eq!(j.entries.len(), 1, "bytes bound");
        assert_eq!(j.forgotten, 5);
        j.confirm(1);
        assert_eq!(j.entries.len(), 1, "written after ping 1");
        j.confirm(2);
        assert!(j.entries.is_empty());
        assert_eq!(j.bytes, 0);
        assert!(j.push_away(entry(7, 60, u64::MAX), &config).is_ok());
        assert_eq!(j.push_away(entry(8, 60, u64::MAX), &config), Err(Overflow));
        assert_eq!(j.resume_after(5).len(), 1);
        assert_eq!(j.resume_after(7).len(), 0);
        assert_eq!(j.bytes, 0);
    }

    #[test]
    fn client_acks_are_remembered_until_confirmed() {
        let config = RecoveryConfig {
            max_packets: 2,
            ..RecoveryConfig::default()
        };
        let mut j = Journal::default();
        assert_eq!(j.client_event(1, &config), None);
        assert_eq!(j.client_event(1, &config), Some(None));
        let p = entry(0, 3, 0).packet;
        j.answered(1, p.clone(), 4);
        assert!(matches!(j.client_event(1, &config), Some(Some(_))));
        j.confirm(4);
        assert_eq!(j.client_acks.len(), 1);
        j.confirm(5);
        assert!(j.client_acks.is_empty());
        for id in 10..15 {
            assert_eq!(j.client_event(id, &config), None);
        }
        assert_eq!(j.client_acks.len(), 2, "bounded");
    }
}
