//! The state of one namespace socket of the client: connection flags, acknowledgements
//! waited for, the send buffer used while offline and the retry queue.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use bytestring::ByteString;
use serde::Deserialize;

use super::offset::{self, Anchor};
use super::{EmitId, SocketOptions};
use crate::socket::Packet;
use crate::timers::Millis;

/// Who waits for an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AckOwner {
    /// The application, through [`EmitId`].
    User(EmitId),
    /// The retry queue entry with this sequence number.
    Queue(u64),
}

/// An acknowledgement waited for, by wire ack id.
#[derive(Debug, Clone, Copy)]
pub(super) struct AckWait {
    pub(super) owner: AckOwner,
    /// The timeout deadline; `None` waits until the socket disconnects.
    pub(super) deadline: Option<Millis>,
}

/// An event of the retry queue (socket.io-client's `QueuedPacket`).
#[derive(Debug, Clone)]
pub(super) struct Queued {
    pub(super) seq: u64,
    /// The application's handle, when it wants the ack.
    pub(super) emit: Option<EmitId>,
    pub(super) data: ByteString,
    pub(super) attachments: Vec<Bytes>,
    /// Per-emit ack timeout, else the socket's.
    pub(super) timeout: Option<Millis>,
    pub(super) tries: u32,
    pub(super) pending: bool,
    /// The ack id of its tries, once sent.
    pub(super) wire_id: Option<u64>,
}

/// One namespace socket.
#[derive(Debug)]
pub(super) struct Sock {
    /// Its timer key.
    pub(super) key: u64,
    pub(super) opts: SocketOptions,
    /// Reconnects with the manager (socket.io-client's `active`).
    pub(super) active: bool,
    /// CONNECT sent on the current connection, no answer yet.
    pub(super) connecting: bool,
    pub(super) connected: bool,
    pub(super) sid: Option<ByteString>,
    pub(super) pid: Option<ByteString>,
    pub(super) last_offset: Option<ByteString>,
    /// What the session's offsets so far say about the next ones (see `offset`).
    pub(super) anchor: Option<Anchor>,
    pub(super) recovered: bool,
    pub(super) next_ack: u64,
    pub(super) acks: BTreeMap<u64, AckWait>,
    /// Packets emitted while not connected, sent on connect.
    pub(super) send_buffer: VecDeque<Packet>,
    /// Events received before the CONNECT answer.
    pub(super) receive_buffer: VecDeque<Packet>,
    pub(super) queue: VecDeque<Queued>,
    pub(super) next_seq: u64,
}

impl Sock {
    pub(super) fn new(key: u64, opts: SocketOptions) -> Self {
        Sock {
            key,
            opts,
            active: false,
            connecting: false,
            connected: false,
            sid: None,
            pid: None,
            last_offset: None,
            anchor: None,
            recovered: false,
            next_ack: 0,
            acks: BTreeMap::new(),
            send_buffer: VecDeque::new(),
            receive_buffer: VecDeque::new(),
            queue: VecDeque::new(),
            next_seq: 0,
        }
    }

    /// The next wire ack id.
    pub(super) fn next_ack_id(&mut self) -> u64 {
        let id = self.next_ack;
        self.next_ack = self.next_ack.wrapping_add(1);
        id
    }

    /// With a recovery session, take the offset off an event that does not ask for an ack
    /// (its last argument, a string that `offset::accept` recognizes as the session's next
    /// offset at `now`) and remember it as the last offset seen. Any other last argument is
    /// the application's and stays.
    pub(super) fn take_offset(&mut self, mut p: Packet, now: Millis) -> Packet {
        if self.pid.is_none() || p.id.is_some() {
            return p;
        }
        if let Some((rest, text)) = p.data.as_deref().and_then(split_offset) {
            if let Some(anchor) = offset::accept(self.anchor.as_ref(), &text, now) {
                self.anchor = Some(anchor);
                self.last_offset = Some(text);
                p.data = Some(rest);
            }
        }
        p
    }

    /// A new session (not a recovery): the old one's offsets mean nothing to it.
    pub(super) fn forget_offsets(&mut self) {
        self.last_offset = None;
        self.anchor = None;
    }

    /// The CONNECT data: the auth object, merged into `{pid, offset}` when recovering (auth
    /// keys win, as `Object.assign` does).
    pub(super) fn connect_data(&self) -> Option<ByteString> {
        let Some(pid) = &self.pid else {
            return self.opts.auth.clone();
        };
        let mut map = serde_json::Map::new();
        map.insert("pid".into(), serde_json::Value::String(pid.to_string()));
        if let Some(offset) = &self.last_offset {
            map.insert(
                "offset".into(),
                serde_json::Value::String(offset.to_string()),
            );
        }
        if let Some(auth) = &self.opts.auth {
            if let Ok(serde_json::Value::Object(a)) = serde_json::from_str(auth) {
                map.extend(a);
            }
        }
        let json = serde_json::to_string(&serde_json::Value::Object(map)).ok()?;
        Some(ByteString::from(json))
    }
}

/// What a server's CONNECT packet carries.
#[derive(Deserialize)]
struct ConnectData {
    sid: Option<String>,
    pid: Option<String>,
}

/// The `sid` (and `pid`) of the server's CONNECT data; `None` if it has no string `sid`.
pub(super) fn parse_connect(data: Option<&str>) -> Option<(ByteString, Option<ByteString>)> {
    let d: ConnectData = serde_json::from_str(data?).ok()?;
    Some((ByteString::from(d.sid?), d.pid.map(ByteString::from)))
}

/// The message and data of a CONNECT_ERROR: `{"message":..,"data":..}`, or a plain string.
pub(super) fn parse_connect_error(data: Option<&str>) -> (String, Option<ByteString>) {
    let value = data.and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok());
    match value {
        Some(serde_json::Value::Object(mut o)) => {
            let message = match o.remove("message") {
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let data = o.remove("data").map(|v| ByteString::from(v.to_string()));
            (message, data)
        }
        Some(serde_json::Value::String(s)) => (s, None),
        Some(other) => (other.to_string(), None),
        None => (String::new(), None),
    }
}

/// An event's data without its last argument, and that argument, when it is a string (the
/// recovery offset) after the event name.
pub(super) fn split_offset(data: &str) -> Option<(ByteString, ByteString)> {
    let args: Vec<&serde_json::value::RawValue> = serde_json::from_str(data).ok()?;
    let (last, rest) = args.split_last()?;
    if rest.is_empty() || !last.get().starts_with('"') {
        return None;
    }
    let offset = serde_json::from_str::<String>(last.get()).ok()?;
    let mut out = String::with_capacity(data.len());
    out.push('[');
    for (i, a) in rest.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(a.get());
    }
    out.push(']');
    Some((ByteString::from(out), ByteString::from(offset)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_data_merges_recovery_fields() {
        let mut s = Sock::new(
            0,
            SocketOptions {
                auth: Some(ByteString::from_static(r#"{"token":"x","offset":"mine"}"#)),
                ..SocketOptions::default()
            },
        );
        assert_eq!(
            s.connect_data().as_deref(),
            Some(r#"{"token":"x","offset":"mine"}"#)
        );
        s.pid = Some(ByteString::from_static("p1"));
        s.last_offset = Some(ByteString::from_static("o9"));
        let v: serde_json::Value = serde_json::from_str(&s.connect_data().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"pid":"p1","offset":"mine","token":"x"})
        );
        s.opts.auth = None;
        let v: serde_json::Value = serde_json::from_str(&s.connect_data().unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"pid":"p1","offset":"o9"}));
    }

    #[test]
    fn parsing_server_packets() {
        assert_eq!(
            parse_connect(Some(r#"{"sid":"a","pid":"b"}"#)),
            Some((
                ByteString::from_static("a"),
                Some(ByteString::from_static("b"))
            ))
        );
        assert_eq!(parse_connect(Some(r#"{"sid":1}"#)), None);
        assert_eq!(parse_connect(None), None);
        assert_eq!(
            parse_connect_error(Some(r#"{"message":"nope","data":{"code":4}}"#)),
            (
                "nope".into(),
                Some(ByteString::from_static(r#"{"code":4}"#))
            )
        );
        assert_eq!(parse_connect_error(Some(r#""old""#)), ("old".into(), None));
        assert_eq!(parse_connect_error(Some("{}")), (String::new(), None));
        let split = |d: &str| split_offset(d).map(|(r, o)| (r.to_string(), o.to_string()));
        assert_eq!(
            split(r#"["ev",1,"off"]"#),
            Some((r#"["ev",1]"#.into(), "off".into()))
        );
        assert_eq!(
            split(r#"[ "ev" , {"a":[1]} , "o\u0041" ]"#),
            Some((r#"["ev",{"a":[1]}]"#.into(), "oA".into()))
        );
        assert_eq!(
            split(r#"["ev","off"]"#),
            Some((r#"["ev"]"#.into(), "off".into()))
        );
        assert_eq!(split(r#"["ev"]"#), None);
        assert_eq!(split(r#"["ev",{}]"#), None);
        assert_eq!(split("nope"), None);
    }
}
