//! Socket.IO v5 packets: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`.
//!
//! A Socket.IO packet travels inside an Engine.IO `message` packet. Encoding writes the
//! Engine.IO `4` prefix too, so that one buffer is the whole WebSocket message and can be
//! shared by every recipient of a broadcast.

use std::borrow::Cow;

use bytes::Bytes;
use bytestring::ByteString;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::engine::Frame;
use crate::limits::Limits;

/// The seven Socket.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: connect to a namespace (client), or the namespace's acceptance (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: the acknowledgement of an event.
    Ack = 3,
    /// `4`: the server refused a connection to a namespace.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The packet type for a wire digit.
    pub fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this type.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }

    /// Whether packets of this type announce binary attachments.
    pub fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// Event names that a peer may not send: they are used by the library itself.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "/";

/// One Socket.IO packet.
///
/// `data` is kept as raw JSON text; [`value`](crate::value) converts it to and from user types.
/// For the binary types, `attachments` holds the binary values that replace the placeholders
/// of `data` (empty while a decoded packet is still waiting for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet type.
    pub kind: PacketType,
    /// The namespace, `/` by default.
    pub nsp: ByteString,
    /// The ack id of an event that wants an acknowledgement, or of an ack.
    pub id: Option<u64>,
    /// The JSON data, as text.
    pub data: Option<ByteString>,
    /// The binary attachments of a binary packet.
    pub attachments: Vec<Bytes>,
}

/// Why a Socket.IO packet could not be decoded. Each makes Node close the connection with
/// `parse error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet is empty.
    Empty,
    /// The text is larger than [`Limits::max_payload`].
    TooLarge {
        /// Size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first byte is not a packet type digit.
    UnknownType(u8),
    /// A binary packet without a valid `<n>-` attachment count.
    IllegalAttachments,
    /// More attachments announced than [`Limits::max_attachments`].
    TooManyAttachments {
        /// The announced count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The namespace is longer than [`Limits::max_namespace_len`].
    NamespaceTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The ack id does not fit in a `u64`.
    InvalidAckId,
    /// The data is not valid JSON.
    InvalidJson,
    /// The data is valid JSON but not what this packet type carries (for example an EVENT
    /// whose data is not a non-empty array starting with an event name).
    InvalidPayload,
    /// An EVENT or ACK without data.
    MissingData,
    /// The event name is reserved (`connect`, `disconnect`, ...).
    ReservedEvent,
    /// A binary message arrived while no binary packet was waiting for attachments.
    UnexpectedBinary,
    /// A text packet arrived while a binary packet was still waiting for attachments.
    UnexpectedText,
    /// A placeholder refers to an attachment that does not exist, or is malformed.
    InvalidPlaceholder,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty socket.io packet"),
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "socket.io packet of {len} bytes exceeds the limit of {max}"
                )
            }
            Self::UnknownType(b) => write!(f, "unknown socket.io packet type byte {b:#04x}"),
            Self::IllegalAttachments => f.write_str("illegal attachments"),
            Self::TooManyAttachments { count, max } => {
                write!(f, "{count} attachments exceed the limit of {max}")
            }
            Self::NamespaceTooLong { len, max } => {
                write!(f, "namespace of {len} bytes exceeds the limit of {max}")
            }
            Self::InvalidAckId => f.write_str("invalid ack id"),
            Self::InvalidJson => f.write_str("invalid JSON data"),
            Self::InvalidPayload => f.write_str("invalid payload"),
            Self::MissingData => f.write_str("missing data"),
            Self::ReservedEvent => f.write_str("reserved event name"),
            Self::UnexpectedBinary => {
                f.write_str("got binary data when not reconstructing a packet")
            }
            Self::UnexpectedText => f.write_str("got plaintext data when reconstructing a packet"),
            Self::InvalidPlaceholder => f.write_str("illegal attachments: bad placeholder"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// An encoded packet: the text message (with its Engine.IO `4` prefix) and the attachments
/// that follow it as binary messages. Cloning shares the buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The Engine.IO text message, `4` + the Socket.IO packet.
    pub text: ByteString,
    /// The binary attachments, one binary message each, in order.
    pub attachments: Vec<Bytes>,
}

impl Encoded {
    /// The Engine.IO frames of this packet, in sending order.
    pub fn frames(&self) -> impl Iterator<Item = Frame> + '_ {
        std::iter::once(Frame::Text(self.text.clone()))
            .chain(self.attachments.iter().cloned().map(Frame::Binary))
    }

    /// The Engine.IO frames of this packet, in sending order, taking it apart (no copy).
    pub fn into_frames(self) -> impl Iterator<Item = Frame> {
        std::iter::once(Frame::Text(self.text))
            .chain(self.attachments.into_iter().map(Frame::Binary))
    }

    /// The number of frames (1 + attachments).
    pub fn frame_count(&self) -> usize {
        1 + self.attachments.len()
    }
}

impl Packet {
    /// A packet of `kind` on `nsp` with no id, data or attachments.
    pub fn new(kind: PacketType, nsp: impl Into<ByteString>) -> Self {
        Packet {
            kind,
            nsp: nsp.into(),
            id: None,
            data: None,
            attachments: Vec::new(),
        }
    }

    /// A CONNECT packet, with the client's auth object (JSON) or the server's `{"sid":..}`.
    pub fn connect(nsp: impl Into<ByteString>, data: Option<ByteString>) -> Self {
        Packet {
            data,
            ..Self::new(PacketType::Connect, nsp)
        }
    }

    /// A DISCONNECT packet.
    pub fn disconnect(nsp: impl Into<ByteString>) -> Self {
        Self::new(PacketType::Disconnect, nsp)
    }

    /// A CONNECT_ERROR packet with its JSON data (`{"message":..,"data":..}`).
    pub fn connect_error(nsp: impl Into<ByteString>, data: ByteString) -> Self {
        Packet {
            data: Some(data),
            ..Self::new(PacketType::ConnectError, nsp)
        }
    }

    /// An EVENT (or BINARY_EVENT when `attachments` is not empty) with its JSON array data.
    pub fn event(
        nsp: impl Into<ByteString>,
        data: ByteString,
        id: Option<u64>,
        attachments: Vec<Bytes>,
    ) -> Self {
        let kind = if attachments.is_empty() {
            PacketType::Event
        } else {
            PacketType::BinaryEvent
        };
        Packet {
            kind,
            nsp: nsp.into(),
            id,
            data: Some(data),
            attachments,
        }
    }

    /// An ACK (BINARY_ACK with attachments) with no data yet: its text is the head of the
    /// ack, to which its JSON is appended (see [`Packet::encode_into`]).
    pub(crate) fn ack_head(nsp: ByteString, id: u64, attachments: Vec<Bytes>) -> Self {
        let kind = if attachments.is_empty() {
            PacketType::Ack
        } else {
            PacketType::BinaryAck
        };
        Packet {
            kind,
            nsp,
            id: Some(id),
            data: None,
            attachments,
        }
    }

    /// An ACK (or BINARY_ACK when `attachments` is not empty) with its JSON array data.
    pub fn ack(
        nsp: impl Into<ByteString>,
        data: ByteString,
        id: u64,
        attachments: Vec<Bytes>,
    ) -> Self {
        Packet {
            data: Some(data),
            ..Packet::ack_head(nsp.into(), id, attachments)
        }
    }

    /// The event name of an EVENT or BINARY_EVENT (a numeric name is given as its text).
    pub fn event_name(&self) -> Option<Cow<'_, str>> {
        if !matches!(self.kind, PacketType::Event | PacketType::BinaryEvent) {
            return None;
        }
        event_name_of(self.data.as_deref()?)
    }

    /// Encoded length of this packet's text message, `4` prefix included.
    pub fn encoded_len(&self) -> usize {
        let mut n = 2; // "4" + type digit
        if self.kind.is_binary() {
            n += decimal_len(self.attachments.len() as u64) + 1;
        }
        if &*self.nsp != DEFAULT_NAMESPACE {
            n += self.nsp.len() + 1;
        }
        if let Some(id) = self.id {
            n += decimal_len(id);
        }
        if let Some(d) = &self.data {
            n += d.len();
        }
        n
    }

    /// Encode as an Engine.IO text message plus binary attachments.
    pub fn encode(&self) -> Encoded {
        let mut s = String::with_capacity(self.encoded_len());
        self.encode_into(&mut s);
        Encoded {
            text: ByteString::from(s),
            attachments: self.attachments.clone(),
        }
    }

    /// Append the text message (with its `4` prefix) to `out`.
    pub fn encode_into(&self, out: &mut String) {
        out.push('4');
        out.push(char::from(self.kind.digit()));
        if self.kind.is_binary() {
            push_decimal(out, self.attachments.len() as u64);
            out.push('-');
        }
        if &*self.nsp != DEFAULT_NAMESPACE {
            out.push_str(&self.nsp);
            out.push(',');
        }
        if let Some(id) = self.id {
            push_decimal(out, id);
        }
        if let Some(d) = &self.data {
            out.push_str(d);
        }
    }

    /// Decode the text of a Socket.IO packet (the data of an Engine.IO message, without the
    /// `4`). Returns the packet and the number of attachments it announced; a binary packet
    /// is complete once that many binary messages have been added to `attachments` (see
    /// [`Decoder`](super::binary::Decoder), which does this).
    pub fn decode(text: &ByteString, limits: &Limits) -> Result<(Packet, usize), DecodeError> {
        let s = text.as_bytes();
        if s.len() > limits.max_payload {
            return Err(DecodeError::TooLarge {
                len: s.len(),
                max: limits.max_payload,
            });
        }
        let first = *s.first().ok_or(DecodeError::Empty)?;
        let kind = PacketType::from_digit(first).ok_or(DecodeError::UnknownType(first))?;
        let mut i = 1;

        let mut attachments = 0usize;
        if kind.is_binary() {
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            if i == start || i >= s.len() || s[i] != b'-' {
                return Err(DecodeError::IllegalAttachments);
            }
            attachments = parse_decimal(&s[start..i])
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(DecodeError::IllegalAttachments)?;
            if attachments > limits.max_attachments {
                return Err(DecodeError::TooManyAttachments {
                    count: attachments,
                    max: limits.max_attachments,
                });
            }
            i += 1;
        }

        let nsp = if s.get(i) == Some(&b'/') {
            let start = i;
            while i < s.len() && s[i] != b',' {
                i += 1;
            }
            let len = i - start;
            if len > limits.max_namespace_len {
                return Err(DecodeError::NamespaceTooLong {
                    len,
                    max: limits.max_namespace_len,
                });
            }
            // Both ends are at ASCII bytes (or the end), so they are char boundaries.
            let nsp = text.slice_ref(&text[start..i]);
            if i < s.len() {
                i += 1; // the ','
            }
            nsp
        } else {
            ByteString::from_static(DEFAULT_NAMESPACE)
        };

        let id = if s.get(i).is_some_and(u8::is_ascii_digit) {
            let start = i;
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            Some(parse_decimal(&s[start..i]).ok_or(DecodeError::InvalidAckId)?)
        } else {
            None
        };

        let data = if i < s.len() {
            let json = &text[i..];
            validate_data(kind, json)?;
            Some(text.slice_ref(json))
        } else {
            if matches!(
                kind,
                PacketType::Event
                    | PacketType::BinaryEvent
                    | PacketType::Ack
                    | PacketType::BinaryAck
            ) {
                return Err(DecodeError::MissingData);
            }
            None
        };

        Ok((
            Packet {
                kind,
                nsp,
                id,
                data,
                attachments: Vec::with_capacity(attachments),
            },
            attachments,
        ))
    }
}

/// The first element of an event's JSON array, when it is a string or a number.
pub fn event_name_of(json: &str) -> Option<Cow<'_, str>> {
    if let Some(end) = plain_name_end(json.as_bytes()) {
        return Some(Cow::Borrowed(&json[2..end]));
    }
    let mut de = serde_json::Deserializer::from_str(json);
    match de::Deserializer::deserialize_seq(&mut de, FirstElem) {
        Ok(Some(First::Name(n))) => Some(n),
        Ok(Some(First::Number(n))) => Some(Cow::Owned(n)),
        _ => None,
    }
}

/// Where the closing quote of the name is when `json` starts `["name"` with no escape and no
/// control character in the name (as every client sends it): the fast path of
/// [`event_name_of`] and [`event_args_of`].
fn plain_name_end(b: &[u8]) -> Option<usize> {
    if b.len() > 2 && b[0] == b'[' && b[1] == b'"' {
        return super::json_check::plain_string_end(b, 2);
    }
    None
}

/// Where the arguments of an event's JSON array start when it begins `["name",` or is
/// `["name"]` (no spaces, no escape in the name, as every client writes it): the arguments as
/// a JSON array are `[` followed by `json[at..]`. `None` for any other form (then see
/// [`event_args_of`]).
pub(crate) fn event_args_tail(json: &str) -> Option<usize> {
    let b = json.as_bytes();
    let after = plain_name_end(b)? + 1;
    match b.get(after) {
        Some(b',') => Some(after + 1),
        Some(b']') if after + 1 == b.len() => Some(after),
        _ => None,
    }
}

/// The arguments of an event's JSON array, the elements after its name, as a JSON array of
/// their own: `["a",1,{}]` gives `[1,{}]`. `None` when `json` is not a JSON array with a first
/// element.
pub fn event_args_of(json: &str) -> Option<String> {
    // Fast path: `["name",` or `["name"]` without spaces, as every client sends it.
    if let Some(at) = event_args_tail(json) {
        let mut out = String::with_capacity(json.len() + 1 - at);
        out.push('[');
        out.push_str(&json[at..]);
        return Some(out);
    }
    let all: Vec<&serde_json::value::RawValue> = serde_json::from_str(json).ok()?;
    let (_, args) = all.split_first()?;
    let mut out = String::with_capacity(json.len());
    out.push('[');
    for (i, v) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(v.get());
    }
    out.push(']');
    Some(out)
}

enum First<'a> {
    Name(Cow<'a, str>),
    Number(String),
}

/// Visits an array, returning its first element if it is a string or a number and skipping
/// the rest.
struct FirstElem;

impl<'de> Visitor<'de> for FirstElem {
    type Value = Option<First<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element_seed(FirstSeed)?.flatten();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
}

struct FirstSeed;

impl<'de> DeserializeSeed<'de> for FirstSeed {
    type Value = Option<First<'de>>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstSeed {
    type Value = Option<First<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(First::Name(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(First::Name(Cow::Owned(v.to_owned()))))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(First::Number(v.to_string())))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(First::Number(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(First::Number(v.to_string())))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// The top-level shapes packet data may take.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Object,
    String,
    Other,
}

/// Visits any JSON value, telling its top-level shape and skipping its content.
struct ShapeOf;

impl<'de> Visitor<'de> for ShapeOf {
    type Value = Shape;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::String)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Shape::Object)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Other)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
}

/// Validate the JSON data of a packet of type `kind`, in one pass over it: the quick check
/// of [`super::json_check`] for the common forms, else serde_json.
fn validate_data(kind: PacketType, json: &str) -> Result<(), DecodeError> {
    match kind {
        PacketType::Event | PacketType::BinaryEvent => {
            if let Some(name) = super::json_check::event_name(json) {
                if RESERVED_EVENTS.contains(&name) {
                    return Err(DecodeError::ReservedEvent);
                }
                return Ok(());
            }
        }
        PacketType::Ack | PacketType::BinaryAck if super::json_check::is_array(json) => {
            return Ok(());
        }
        _ => {}
    }
    validate_data_serde(kind, json)
}

/// [`validate_data`] by serde_json alone: decides every form, and names the error.
pub(crate) fn validate_data_serde(kind: PacketType, json: &str) -> Result<(), DecodeError> {
    let mut de = serde_json::Deserializer::from_str(json); // UTF-8 already: not checked again
    match kind {
        PacketType::Event | PacketType::BinaryEvent => {
            let first = match de::Deserializer::deserialize_any(&mut de, ArrayCheck(FirstElem)) {
                Ok(Some(first)) => first,
                Ok(None) => return Err(DecodeError::InvalidPayload),
                Err(e) => return Err(json_error(&e)),
            };
            match first {
                Some(First::Name(name)) if RESERVED_EVENTS.contains(&&*name) => {
                    return Err(DecodeError::ReservedEvent)
                }
                Some(_) => {}
                None => return Err(DecodeError::InvalidPayload),
            }
        }
        PacketType::Ack | PacketType::BinaryAck => {
            match de::Deserializer::deserialize_any(&mut de, ArrayCheck(IgnoredAny)) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(DecodeError::InvalidPayload),
                Err(e) => return Err(json_error(&e)),
            }
        }
        PacketType::Connect | PacketType::ConnectError | PacketType::Disconnect => {
            let shape =
                de::Deserializer::deserialize_any(&mut de, ShapeOf).map_err(|e| json_error(&e))?;
            let ok = match kind {
                PacketType::Connect => shape == Shape::Object,
                PacketType::ConnectError => shape != Shape::Other,
                _ => false,
            };
            if !ok {
                return Err(DecodeError::InvalidPayload);
            }
        }
    }
    de.end().map_err(|_| DecodeError::InvalidJson)
}

fn json_error(e: &serde_json::Error) -> DecodeError {
    if e.is_data() {
        DecodeError::InvalidPayload
    } else {
        DecodeError::InvalidJson
    }
}

/// Accepts a JSON array, handing it to the inner visitor; any other value gives `None`.
struct ArrayCheck<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for ArrayCheck<V> {
    type Value = Option<V::Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(seq).map(Some)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Parse ASCII digits as a `u64`; `None` on overflow or empty input.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn decimal_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}

fn push_decimal(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bs(s: &str) -> ByteString {
        ByteString::from(s.to_owned())
    }

    fn dec(s: &str) -> Result<(Packet, usize), DecodeError> {
        Packet::decode(&bs(s), &Limits::DEFAULT)
    }

    fn packet(kind: PacketType, nsp: &str, id: Option<u64>, data: Option<&str>) -> Packet {
        Packet {
            kind,
            nsp: bs(nsp),
            id,
            data: data.map(bs),
            attachments: Vec::new(),
        }
    }

    /// Encode without the Engine.IO prefix, as the spec writes packets.
    fn enc(p: &Packet) -> String {
        p.encode().text[1..].to_owned()
    }

    // Every example packet of the Socket.IO v5 specification, in both directions.
    #[test]
    fn spec_examples_both_directions() {
        use PacketType::*;
        let cases = [
            ("0", packet(Connect, "/", None, None)),
            ("0/admin,", packet(Connect, "/admin", None, None)),
            (
                r#"0{"token":"123"}"#,
                packet(Connect, "/", None, Some(r#"{"token":"123"}"#)),
            ),
            (
                r#"0/admin,{"token":"123"}"#,
                packet(Connect, "/admin", None, Some(r#"{"token":"123"}"#)),
            ),
            (
                r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
                packet(
                    Connect,
                    "/",
                    None,
                    Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
                ),
            ),
            (
                r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
                packet(
                    Connect,
                    "/admin",
                    None,
                    Some(r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#),
                ),
            ),
            (
                r#"4{"message":"Not authorized"}"#,
                packet(
                    ConnectError,
                    "/",
                    None,
                    Some(r#"{"message":"Not authorized"}"#),
                ),
            ),
            (
                r#"4/admin,{"message":"Not authorized"}"#,
                packet(
                    ConnectError,
                    "/admin",
                    None,
                    Some(r#"{"message":"Not authorized"}"#),
                ),
            ),
            ("1", packet(Disconnect, "/", None, None)),
            ("1/admin,", packet(Disconnect, "/admin", None, None)),
            (r#"2["foo"]"#, packet(Event, "/", None, Some(r#"["foo"]"#))),
            (
                r#"2["hello",1]"#,
                packet(Event, "/", None, Some(r#"["hello",1]"#)),
            ),
            (
                r#"2/admin,["bar"]"#,
                packet(Event, "/admin", None, Some(r#"["bar"]"#)),
            ),
            (
                r#"2/admin,456["project:delete",123]"#,
                packet(
                    Event,
                    "/admin",
                    Some(456),
                    Some(r#"["project:delete",123]"#),
                ),
            ),
            (
                r#"212["foo"]"#,
                packet(Event, "/", Some(12), Some(r#"["foo"]"#)),
            ),
            (
                r#"312["bar"]"#,
                packet(Ack, "/", Some(12), Some(r#"["bar"]"#)),
            ),
            (
                r#"3/admin,456[]"#,
                packet(Ack, "/admin", Some(456), Some("[]")),
            ),
            (
                r#"4{"message":"Invalid namespace"}"#,
                packet(
                    ConnectError,
                    "/",
                    None,
                    Some(r#"{"message":"Invalid namespace"}"#),
                ),
            ),
            (
                r#"4/random,{"message":"Invalid namespace"}"#,
                packet(
                    ConnectError,
                    "/random",
                    None,
                    Some(r#"{"message":"Invalid namespace"}"#),
                ),
            ),
        ];
        for (wire, p) in cases {
            assert_eq!(dec(wire).unwrap(), (p.clone(), 0), "decode {wire}");
            assert_eq!(enc(&p), wire, "encode {wire}");
        }
    }

    #[test]
    fn spec_binary_examples_both_directions() {
        use PacketType::*;
        let att = || vec![Bytes::from_static(&[1, 2, 3])];
        let cases = [
            (
                r#"51-["baz",{"_placeholder":true,"num":0}]"#,
                Packet {
                    attachments: att(),
                    ..packet(
                        BinaryEvent,
                        "/",
                        None,
                        Some(r#"["baz",{"_placeholder":true,"num":0}]"#),
                    )
                },
            ),
            (
                r#"51-/admin,456["project:delete",{"_placeholder":true,"num":0}]"#,
                Packet {
                    attachments: att(),
                    ..packet(
                        BinaryEvent,
                        "/admin",
                        Some(456),
                        Some(r#"["project:delete",{"_placeholder":true,"num":0}]"#),
                    )
                },
            ),
            (
                r#"61-/admin,456[{"_placeholder":true,"num":0}]"#,
                Packet {
                    attachments: att(),
                    ..packet(
                        BinaryAck,
                        "/admin",
                        Some(456),
                        Some(r#"[{"_placeholder":true,"num":0}]"#),
                    )
                },
            ),
        ];
        for (wire, p) in cases {
            let (header, n) = dec(wire).unwrap();
            assert_eq!(n, 1);
            assert_eq!(
                Packet {
                    attachments: att(),
                    ..header
                },
                p,
                "decode {wire}"
            );
            let e = p.encode();
            assert_eq!(&e.text[1..], wire, "encode {wire}");
            assert_eq!(e.attachments, att());
            assert_eq!(e.frame_count(), 2);
        }
    }

    #[test]
    fn encoded_len_is_exact() {
        let p = packet(
            PacketType::Event,
            "/chat",
            Some(1234567),
            Some(r#"["a",1]"#),
        );
        assert_eq!(p.encode().text.len(), p.encoded_len());
        let e = p.encode();
        assert_eq!(&*e.text, r#"42/chat,1234567["a",1]"#);
    }

    #[test]
    fn invalid_packets_are_typed_errors() {
        use DecodeError::*;
        let cases: &[(&str, DecodeError)] = &[
            ("", Empty),
            ("9", UnknownType(b'9')),
            ("abc", UnknownType(b'a')),
            ("4abc", InvalidJson),
            (r#"2{}"#, InvalidPayload),
            (r#"2abc["a"]"#, InvalidJson),
            (r#"2[]"#, InvalidPayload),
            (r#"2[{}]"#, InvalidPayload),
            (r#"2[null]"#, InvalidPayload),
            (r#"2["connect"]"#, ReservedEvent),
            (r#"2["disconnecting",1]"#, ReservedEvent),
            (r#"2["a"] x"#, InvalidJson),
            (r#"2["a""#, InvalidJson),
            ("2", MissingData),
            ("3", MissingData),
            ("3/admin,1", MissingData),
            (r#"31{}"#, InvalidPayload),
            (r#"0[]"#, InvalidPayload),
            (r#"0"x""#, InvalidPayload),
            (r#"0null"#, InvalidPayload),
            (r#"1{}"#, InvalidPayload),
            (r#"4[]"#, InvalidPayload),
            (r#"299999999999999999999["a"]"#, InvalidAckId),
            (r#"5["a"]"#, IllegalAttachments),
            (r#"5-["a"]"#, IllegalAttachments),
            (r#"51["a"]"#, IllegalAttachments),
            (r#"599999999999999999999-["a"]"#, IllegalAttachments),
            (
                r#"51001-["a"]"#,
                TooManyAttachments {
                    count: 1001,
                    max: 1000,
                },
            ),
        ];
        for (wire, err) in cases {
            assert_eq!(dec(wire), Err(err.clone()), "{wire}");
        }
        let small = Limits {
            max_namespace_len: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Packet::decode(&bs("2/abcd,[\"a\"]"), &small),
            Err(NamespaceTooLong { len: 5, max: 3 })
        );
        let tiny = Limits {
            max_payload: 4,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Packet::decode(&bs("2[\"a\"]"), &tiny),
            Err(TooLarge { len: 6, max: 4 })
        );
    }

    // The invalid messages named by the issue, as whole Engine.IO messages.
    #[test]
    fn invalid_engine_messages() {
        use crate::engine;
        let sio = |wire: &'static str| match engine::Packet::decode_text(
            ByteString::from_static(wire),
            &Limits::DEFAULT,
        )
        .unwrap()
        {
            engine::Packet::Message(text) => Packet::decode(&text, &Limits::DEFAULT),
            other => panic!("{other:?}"),
        };
        assert_eq!(sio("4abc"), Err(DecodeError::UnknownType(b'a')));
        assert_eq!(sio("42{}"), Err(DecodeError::InvalidPayload));
        assert_eq!(sio(r#"42abc["a"]"#), Err(DecodeError::InvalidJson));
        assert_eq!(sio(r#"42x["a"]"#), Err(DecodeError::InvalidJson));
    }

    #[test]
    fn accepted_edge_cases() {
        // A namespace without a trailing comma, as Node accepts it.
        assert_eq!(
            dec("1/admin").unwrap().0,
            packet(PacketType::Disconnect, "/admin", None, None)
        );
        // Numeric event names, as Node's parser accepts them.
        let (p, _) = dec("2[42,1]").unwrap();
        assert_eq!(p.event_name().as_deref(), Some("42"));
        // The largest ack id.
        let (p, _) = dec(r#"218446744073709551615["a"]"#).unwrap();
        assert_eq!(p.id, Some(u64::MAX));
        // A string CONNECT_ERROR, as older servers send it.
        assert!(dec(r#"4"Not authorized""#).is_ok());
        // Whitespace inside JSON.
        assert!(dec(" 2").is_err());
        assert!(dec("2 [\"a\"] ").is_ok());
    }

    #[test]
    fn event_names() {
        let name = |s: &str| dec(s).unwrap().0.event_name().map(|n| n.into_owned());
        assert_eq!(name(r#"2["foo",1]"#).as_deref(), Some("foo"));
        assert_eq!(name(r#"2["f\"oo"]"#).as_deref(), Some("f\"oo"));
        assert_eq!(name(r#"2["h\u00e9llo"]"#).as_deref(), Some("héllo"));
        assert_eq!(name(r#"2[ "spaced" ]"#).as_deref(), Some("spaced"));
        assert_eq!(name(r#"3[1]"#), None);
    }

    #[test]
    fn decoding_shares_the_buffer() {
        let wire = bs(r#"2/chat,["a"]"#);
        let (p, _) = Packet::decode(&wire, &Limits::DEFAULT).unwrap();
        assert_eq!(p.nsp.as_bytes().as_ptr(), wire.as_bytes()[1..].as_ptr());
    }

    #[test]
    fn event_args_drop_the_name() {
        assert_eq!(
            event_args_of(r#"["a",1,{"b":[2]}]"#).as_deref(),
            Some(r#"[1,{"b":[2]}]"#)
        );
        assert_eq!(event_args_of(r#"["a"]"#).as_deref(), Some("[]"));
        // After a plain name the rest is kept as it came, spaces included.
        assert_eq!(
            event_args_of(r#"["x", 1, {"a":[2]}]"#).as_deref(),
            Some(r#"[ 1, {"a":[2]}]"#)
        );
        // Escapes, spaces and numeric names take the slow path, same answer.
        assert_eq!(
            event_args_of(r#"["a\"b", 1 ,"c"]"#).as_deref(),
            Some(r#"[1,"c"]"#)
        );
        assert_eq!(
            event_args_of(r#"[ "a" , true ]"#).as_deref(),
            Some("[true]")
        );
        assert_eq!(event_args_of(r#"[7,"x"]"#).as_deref(), Some(r#"["x"]"#));
        assert_eq!(event_args_of(r#"["a" ]"#).as_deref(), Some("[]"));
        assert_eq!(event_args_of("[]"), None);
        assert_eq!(event_args_of("{}"), None);
    }
}
