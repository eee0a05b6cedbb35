//! The wire format of `@socket.io/redis-adapter` 8.x, pure and bounded: channel names, and
//! [`AdapterMessage`]s to and from the bytes published on them.
//!
//! - Broadcasts go to `<key>#<nsp>#` (or `<key>#<nsp>#<room>#` when they target exactly one
//!   room) as the msgpack array `[uid, packet, {rooms, except, flags}]`, `packet` being
//!   `{type: 2, data: [event, ...args], nsp}` with binary values as msgpack `bin` (notepack's
//!   encoding of Buffers).
//! - Requests go to `<key>-request#<nsp>#` and answers to `<key>-response#<nsp>#` (or
//!   `<key>-response#<nsp>#<uid>#`) as JSON objects with a numeric `type`.
//!
//! Decoding never panics: bad bytes are a [`CodecError`]. Inside this crate the JSON of the
//! event data stays the core's text form (placeholders for binary values); converting
//! between it and msgpack is done here, once per message.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Value as Json};
use sio_core::server::{AdapterMessage, RemoteSocket, Request, Response, Selector};
use sio_core::ByteString;

/// Request types of the adapter.
mod kind {
    pub const SOCKETS: u64 = 0;
    pub const ALL_ROOMS: u64 = 1;
    pub const REMOTE_JOIN: u64 = 2;
    pub const REMOTE_LEAVE: u64 = 3;
    pub const REMOTE_DISCONNECT: u64 = 4;
    pub const REMOTE_FETCH: u64 = 5;
    pub const SERVER_SIDE_EMIT: u64 = 6;
    pub const BROADCAST: u64 = 7;
    pub const BROADCAST_CLIENT_COUNT: u64 = 8;
    pub const BROADCAST_ACK: u64 = 9;
}

/// Bounds on what the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and maps.
    pub max_depth: usize,
    /// Most binary values in one event.
    pub max_attachments: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 1_000_000,
            max_depth: 64,
            max_attachments: 64,
        }
    }
}

/// Why bytes from the bus were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// More bytes than [`Limits::max_bytes`].
    TooLarge(usize),
    /// A channel of another prefix or shape.
    UnknownChannel,
    /// Not msgpack, or nested deeper than allowed.
    Msgpack,
    /// Not JSON.
    Json,
    /// Well-formed, but not a message of the adapter (the field that is wrong).
    Shape(&'static str),
    /// More binary values than [`Limits::max_attachments`].
    TooManyAttachments,
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(n) => write!(f, "message of {n} bytes is too large"),
            Self::UnknownChannel => f.write_str("unknown channel"),
            Self::Msgpack => f.write_str("invalid msgpack"),
            Self::Json => f.write_str("invalid JSON"),
            Self::Shape(what) => write!(f, "unexpected message shape ({what})"),
            Self::TooManyAttachments => f.write_str("too many binary values"),
        }
    }
}

impl std::error::Error for CodecError {}

/// What one message from the bus is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A message for the core.
    Message(AdapterMessage),
    /// A valid message of a kind this implementation does not take part in (an
    /// acknowledged broadcast, the answers to one, the old single-socket requests): ignored,
    /// as Node ignores unknown request types. Carries the request type.
    Ignored(u64),
}

/// The channel names of one key prefix (Node's `key` option, `socket.io` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    prefix: String,
}

impl Channels {
    /// Channels under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Channels {
            prefix: prefix.to_owned(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Broadcasts of `nsp` (subscribe to this followed by `*`).
    pub fn broadcast(&self, nsp: &str) -> String {
        format!("{}#{}#", self.prefix, nsp)
    }

    /// Requests of `nsp`.
    pub fn request(&self, nsp: &str) -> String {
        format!("{}-request#{}#", self.prefix, nsp)
    }

    /// Answers of `nsp`.
    pub fn response(&self, nsp: &str) -> String {
        format!("{}-response#{}#", self.prefix, nsp)
    }

    /// Answers of `nsp` meant for server `uid`.
    pub fn specific_response(&self, nsp: &str, uid: &str) -> String {
        format!("{}-response#{}#{}#", self.prefix, nsp, uid)
    }

    /// The channel and bytes of `msg`.
    pub fn encode(&self, msg: &AdapterMessage) -> (String, Vec<u8>) {
        match msg {
            AdapterMessage::Broadcast {
                uid,
                nsp,
                data,
                attachments,
                opts,
                volatile,
            } => {
                let mut channel = self.broadcast(nsp);
                if let [room] = opts.rooms.as_slice() {
                    channel.push_str(room);
                    channel.push('#');
                }
                (
                    channel,
                    encode_broadcast(uid, nsp, data, attachments, opts, *volatile),
                )
            }
            AdapterMessage::Request { uid, nsp, request } => {
                (self.request(nsp), encode_request(uid, request))
            }
            AdapterMessage::Response {
                nsp,
                request_id,
                response,
            } => (self.response(nsp), encode_response(request_id, response)),
        }
    }

    /// What `payload`, received on `channel`, says.
    pub fn decode(
        &self,
        channel: &str,
        payload: &[u8],
        limits: &Limits,
    ) -> Result<Decoded, CodecError> {
        if payload.len() > limits.max_bytes {
            return Err(CodecError::TooLarge(payload.len()));
        }
        let rest = channel
            .strip_prefix(self.prefix.as_str())
            .ok_or(CodecError::UnknownChannel)?;
        if let Some(rest) = rest.strip_prefix('#') {
            let nsp = rest.split('#').next().unwrap_or_default();
            if !rest.contains('#') {
                return Err(CodecError::UnknownChannel);
            }
            decode_broadcast(nsp, payload, limits).map(Decoded::Message)
        } else if let Some(rest) = rest.strip_prefix("-request#") {
            let nsp = rest.strip_suffix('#').ok_or(CodecError::UnknownChannel)?;
            decode_request(nsp, payload, limits)
        } else if let Some(rest) = rest.strip_prefix("-response#") {
            let nsp = match rest.split_once('#') {
                Some((nsp, _)) => nsp,
                None => return Err(CodecError::UnknownChannel),
            };
            decode_response(nsp, payload, limits)
        } else {
            Err(CodecError::UnknownChannel)
        }
    }
}

// ----- broadcasts (msgpack) ---------------------------------------------------------------

fn strings(v: &[ByteString]) -> Mp {
    Mp::Array(v.iter().map(|s| Mp::from(&**s)).collect())
}

fn encode_broadcast(
    uid: &str,
    nsp: &str,
    data: &str,
    attachments: &[Bytes],
    opts: &Selector,
    volatile: bool,
) -> Vec<u8> {
    // The core checked the event data; should it not parse, it travels as null (and other
    // servers refuse it), rather than failing here.
    let json: Json = serde_json::from_str(data).unwrap_or(Json::Null);
    let packet = Mp::Map(vec![
        (Mp::from("type"), Mp::from(2)),
        (Mp::from("data"), json_to_mp(&json, attachments)),
        (Mp::from("nsp"), Mp::from(nsp)),
    ]);
    let mut flags = Vec::new();
    if volatile {
        flags.push((Mp::from("volatile"), Mp::Boolean(true)));
    }
    let opts = Mp::Map(vec![
        (Mp::from("rooms"), strings(&opts.rooms)),
        (Mp::from("except"), strings(&opts.except)),
        (Mp::from("flags"), Mp::Map(flags)),
    ]);
    let msg = Mp::Array(vec![Mp::from(uid), packet, opts]);
    let mut out = Vec::with_capacity(64 + data.len());
    rmpv::encode::write_value(&mut out, &msg).expect("writing to a Vec cannot fail");
    out
}

/// JSON (with placeholders) to msgpack (with `bin`).
fn json_to_mp(v: &Json, attachments: &[Bytes]) -> Mp {
    match v {
        Json::Null => Mp::Nil,
        Json::Bool(b) => Mp::Boolean(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else {
                Mp::F64(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Mp::from(s.as_str()),
        Json::Array(a) => Mp::Array(a.iter().map(|x| json_to_mp(x, attachments)).collect()),
        Json::Object(o) => {
            if o.len() == 2 && o.get("_placeholder") == Some(&Json::Bool(true)) {
                if let Some(b) = o
                    .get("num")
                    .and_then(Json::as_u64)
                    .and_then(|n| attachments.get(n as usize))
                {
                    return Mp::Binary(b.to_vec());
                }
            }
            Mp::Map(
                o.iter()
                    .map(|(k, x)| (Mp::from(k.as_str()), json_to_mp(x, attachments)))
                    .collect(),
            )
        }
    }
}

/// msgpack to JSON, binary values taken out as attachments with placeholders.
fn mp_to_json(v: Mp, attachments: &mut Vec<Bytes>, limits: &Limits) -> Result<Json, CodecError> {
    Ok(match v {
        Mp::Nil => Json::Null,
        Mp::Boolean(b) => Json::Bool(b),
        Mp::Integer(i) => {
            if let Some(u) = i.as_u64() {
                Json::from(u)
            } else if let Some(s) = i.as_i64() {
                Json::from(s)
            } else {
                Json::Null
            }
        }
        Mp::F32(f) => number(f as f64),
        Mp::F64(f) => number(f),
        Mp::String(s) => match s.into_str() {
            Some(s) => Json::String(s),
            None => return Err(CodecError::Shape("string is not UTF-8")),
        },
        Mp::Binary(b) => {
            if attachments.len() >= limits.max_attachments {
                return Err(CodecError::TooManyAttachments);
            }
            let num = attachments.len();
            attachments.push(Bytes::from(b));
            serde_json::json!({"_placeholder": true, "num": num})
        }
        Mp::Array(a) => Json::Array(
            a.into_iter()
                .map(|x| mp_to_json(x, attachments, limits))
                .collect::<Result<_, _>>()?,
        ),
        Mp::Map(m) => {
            let mut o = Map::new();
            for (k, x) in m {
                let key = match k {
                    Mp::String(s) => s.into_str().ok_or(CodecError::Shape("key is not UTF-8"))?,
                    Mp::Integer(i) => i.to_string(),
                    _ => return Err(CodecError::Shape("map key")),
                };
                o.insert(key, mp_to_json(x, attachments, limits)?);
            }
            Json::Object(o)
        }
        // notepack: `undefined` is fixext 1 of type 0; a Date is fixext 8 of type 0 (ms).
        Mp::Ext(0, d) if d.len() == 1 => Json::Null,
        Mp::Ext(0, d) if d.len() == 8 => number(f64::from_be_bytes(d.try_into().expect("8 bytes"))),
        Mp::Ext(..) => return Err(CodecError::Shape("msgpack extension")),
    })
}

fn number(f: f64) -> Json {
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

fn read_mp(payload: &[u8], limits: &Limits) -> Result<Mp, CodecError> {
    let mut rd = payload;
    let v = rmpv::decode::read_value_with_max_depth(&mut rd, limits.max_depth)
        .map_err(|_| CodecError::Msgpack)?;
    if !rd.is_empty() {
        return Err(CodecError::Msgpack);
    }
    Ok(v)
}

fn mp_get<'a>(m: &'a [(Mp, Mp)], key: &str) -> Option<&'a Mp> {
    m.iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

fn mp_strings(v: Option<&Mp>, what: &'static str) -> Result<Vec<ByteString>, CodecError> {
    match v {
        None | Some(Mp::Nil) => Ok(Vec::new()),
        Some(Mp::Array(a)) => a
            .iter()
            .map(|x| match x {
                Mp::String(s) => s
                    .as_str()
                    .map(ByteString::from)
                    .ok_or(CodecError::Shape(what)),
                // Node allows numeric rooms.
                Mp::Integer(i) => Ok(ByteString::from(i.to_string())),
                _ => Err(CodecError::Shape(what)),
            })
            .collect(),
        Some(_) => Err(CodecError::Shape(what)),
    }
}

fn decode_broadcast(
    channel_nsp: &str,
    payload: &[u8],
    limits: &Limits,
) -> Result<AdapterMessage, CodecError> {
    let Mp::Array(parts) = read_mp(payload, limits)? else {
        return Err(CodecError::Shape("not an array"));
    };
    let mut parts = parts.into_iter();
    let (Some(uid), Some(packet), Some(opts)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CodecError::Shape("not [uid, packet, opts]"));
    };
    let uid = match uid {
        Mp::String(s) => s.into_str().ok_or(CodecError::Shape("uid"))?,
        _ => return Err(CodecError::Shape("uid")),
    };
    let Mp::Map(packet) = packet else {
        return Err(CodecError::Shape("packet"));
    };
    let Mp::Map(opts) = opts else {
        return Err(CodecError::Shape("opts"));
    };
    match mp_get(&packet, "type").and_then(Mp::as_u64) {
        Some(2) | Some(5) => {}
        _ => return Err(CodecError::Shape("packet type")),
    }
    if mp_get(&packet, "id").is_some_and(|id| !id.is_nil()) {
        // An acknowledged broadcast travels as a request.
        return Err(CodecError::Shape("packet id"));
    }
    let nsp = match mp_get(&packet, "nsp") {
        None | Some(Mp::Nil) => "/",
        Some(Mp::String(s)) => s.as_str().ok_or(CodecError::Shape("nsp"))?,
        Some(_) => return Err(CodecError::Shape("nsp")),
    };
    if nsp != channel_nsp {
        return Err(CodecError::Shape("nsp differs from the channel's"));
    }
    let nsp = ByteString::from(nsp);
    let data = mp_get(&packet, "data").cloned().unwrap_or(Mp::Nil);
    if !matches!(data, Mp::Array(_)) {
        return Err(CodecError::Shape("data"));
    }
    let mut attachments = Vec::new();
    let json = mp_to_json(data, &mut attachments, limits)?;
    let volatile = match mp_get(&opts, "flags") {
        Some(Mp::Map(f)) => mp_get(f, "volatile").and_then(Mp::as_bool) == Some(true),
        _ => false,
    };
    Ok(AdapterMessage::Broadcast {
        uid: ByteString::from(uid),
        nsp,
        data: ByteString::from(json.to_string()),
        attachments,
        opts: Selector {
            rooms: mp_strings(mp_get(&opts, "rooms"), "rooms")?,
            except: mp_strings(mp_get(&opts, "except"), "except")?,
        },
        volatile,
    })
}

// ----- requests and responses (JSON) ------------------------------------------------------

fn json_strings(v: &[ByteString]) -> Json {
    Json::Array(v.iter().map(|s| Json::String(s.to_string())).collect())
}

fn json_selector(s: &Selector) -> Json {
    serde_json::json!({"rooms": json_strings(&s.rooms), "except": json_strings(&s.except)})
}

fn raw(text: &str) -> Json {
    serde_json::from_str(text).unwrap_or(Json::Null)
}

fn write_mp(v: &Mp) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, v).expect("writing to a Vec cannot fail");
    out
}

fn encode_request(uid: &str, request: &Request) -> Vec<u8> {
    if let Request::BroadcastWithAck {
        id,
        data,
        attachments,
        sel,
        timeout,
    } = request
    {
        // Node sends this one as msgpack (binary values may be in it).
        let json: Json = serde_json::from_str(data).unwrap_or(Json::Null);
        return write_mp(&Mp::Map(vec![
            (Mp::from("uid"), Mp::from(uid)),
            (Mp::from("requestId"), Mp::from(&**id)),
            (Mp::from("type"), Mp::from(kind::BROADCAST)),
            (
                Mp::from("packet"),
                Mp::Map(vec![
                    (Mp::from("type"), Mp::from(2)),
                    (Mp::from("data"), json_to_mp(&json, attachments)),
                ]),
            ),
            (
                Mp::from("opts"),
                Mp::Map(vec![
                    (Mp::from("rooms"), strings(&sel.rooms)),
                    (Mp::from("except"), strings(&sel.except)),
                    (
                        Mp::from("flags"),
                        Mp::Map(vec![(Mp::from("timeout"), Mp::from(*timeout))]),
                    ),
                ]),
            ),
        ]));
    }
    let mut o = Map::new();
    o.insert("uid".into(), Json::String(uid.to_owned()));
    let (t, id) = match request {
        Request::SocketIds { id, rooms } => {
            o.insert("rooms".into(), json_strings(rooms));
            (kind::SOCKETS, Some(id))
        }
        Request::AllRooms { id } => (kind::ALL_ROOMS, Some(id)),
        Request::Join { sel, rooms } => {
            o.insert("opts".into(), json_selector(sel));
            o.insert("rooms".into(), json_strings(rooms));
            (kind::REMOTE_JOIN, None)
        }
        Request::Leave { sel, rooms } => {
            o.insert("opts".into(), json_selector(sel));
            o.insert("rooms".into(), json_strings(rooms));
            (kind::REMOTE_LEAVE, None)
        }
        Request::Disconnect { sel, close } => {
            o.insert("opts".into(), json_selector(sel));
            o.insert("close".into(), Json::Bool(*close));
            (kind::REMOTE_DISCONNECT, None)
        }
        Request::Fetch { id, sel } => {
            o.insert("opts".into(), json_selector(sel));
            (kind::REMOTE_FETCH, Some(id))
        }
        Request::ServerSideEmit { id, data } => {
            o.insert("data".into(), raw(data));
            (kind::SERVER_SIDE_EMIT, id.as_ref())
        }
        Request::BroadcastWithAck { .. } => unreachable!("encoded above"),
    };
    if let Some(id) = id {
        o.insert("requestId".into(), Json::String(id.to_string()));
    }
    o.insert("type".into(), Json::from(t));
    Json::Object(o).to_string().into_bytes()
}

fn encode_response(request_id: &str, response: &Response) -> Vec<u8> {
    if let Response::BroadcastAck { value, attachments } = response {
        let json: Json = serde_json::from_str(value).unwrap_or(Json::Null);
        return write_mp(&Mp::Map(vec![
            (Mp::from("type"), Mp::from(kind::BROADCAST_ACK)),
            (Mp::from("requestId"), Mp::from(request_id)),
            (Mp::from("packet"), json_to_mp(&json, attachments)),
        ]));
    }
    let mut o = Map::new();
    o.insert("requestId".into(), Json::String(request_id.to_owned()));
    match response {
        Response::SocketIds(ids) => {
            o.insert("sockets".into(), json_strings(ids));
        }
        Response::Sockets(sockets) => {
            let list = sockets
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "id": s.id.to_string(),
                        "handshake": raw(&s.handshake),
                        "rooms": json_strings(&s.rooms),
                        "data": raw(&s.data),
                    })
                })
                .collect();
            o.insert("sockets".into(), Json::Array(list));
        }
        Response::Rooms(rooms) => {
            o.insert("rooms".into(), json_strings(rooms));
        }
        Response::ServerSideAck(v) => {
            o.insert("type".into(), Json::from(kind::SERVER_SIDE_EMIT));
            o.insert("data".into(), raw(v));
        }
        Response::ClientCount(n) => {
            o.insert("type".into(), Json::from(kind::BROADCAST_CLIENT_COUNT));
            o.insert("clientCount".into(), Json::from(*n));
        }
        Response::BroadcastAck { .. } => unreachable!("encoded above"),
    }
    Json::Object(o).to_string().into_bytes()
}

fn read_json(payload: &[u8]) -> Result<Option<Map<String, Json>>, CodecError> {
    if payload.first() != Some(&b'{') {
        // Node sends msgpack here only for acknowledged broadcasts.
        return Ok(None);
    }
    match serde_json::from_slice(payload) {
        Ok(Json::Object(o)) => Ok(Some(o)),
        Ok(_) => Err(CodecError::Shape("not an object")),
        Err(_) => Err(CodecError::Json),
    }
}

fn str_field(o: &Map<String, Json>, key: &'static str) -> Result<ByteString, CodecError> {
    o.get(key)
        .and_then(Json::as_str)
        .map(ByteString::from)
        .ok_or(CodecError::Shape(key))
}

fn json_str_list(v: Option<&Json>, what: &'static str) -> Result<Vec<ByteString>, CodecError> {
    match v {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(Json::Array(a)) => a
            .iter()
            .map(|x| match x {
                Json::String(s) => Ok(ByteString::from(s.as_str())),
                Json::Number(n) => Ok(ByteString::from(n.to_string())),
                _ => Err(CodecError::Shape(what)),
            })
            .collect(),
        Some(_) => Err(CodecError::Shape(what)),
    }
}

fn json_selector_of(o: &Map<String, Json>) -> Result<Selector, CodecError> {
    let Some(Json::Object(opts)) = o.get("opts") else {
        return Err(CodecError::Shape("opts"));
    };
    Ok(Selector {
        rooms: json_str_list(opts.get("rooms"), "opts.rooms")?,
        except: json_str_list(opts.get("except"), "opts.except")?,
    })
}

fn decode_mp_request(nsp: &str, payload: &[u8], limits: &Limits) -> Result<Decoded, CodecError> {
    let Mp::Map(m) = read_mp(payload, limits)? else {
        return Err(CodecError::Shape("not a map"));
    };
    let t = mp_get(&m, "type")
        .and_then(Mp::as_u64)
        .ok_or(CodecError::Shape("type"))?;
    if t != kind::BROADCAST {
        return Ok(Decoded::Ignored(t));
    }
    let text = |key: &'static str| match mp_get(&m, key) {
        Some(Mp::String(s)) => s
            .as_str()
            .map(ByteString::from)
            .ok_or(CodecError::Shape(key)),
        _ => Err(CodecError::Shape(key)),
    };
    let (uid, id) = (text("uid")?, text("requestId")?);
    let Some(Mp::Map(packet)) = mp_get(&m, "packet") else {
        return Err(CodecError::Shape("packet"));
    };
    let Some(Mp::Map(opts)) = mp_get(&m, "opts") else {
        return Err(CodecError::Shape("opts"));
    };
    let data = mp_get(packet, "data").cloned().unwrap_or(Mp::Nil);
    if !matches!(data, Mp::Array(_)) {
        return Err(CodecError::Shape("data"));
    }
    let mut attachments = Vec::new();
    let json = mp_to_json(data, &mut attachments, limits)?;
    let timeout = match mp_get(opts, "flags") {
        Some(Mp::Map(f)) => mp_get(f, "timeout").and_then(Mp::as_u64),
        _ => None,
    }
    .unwrap_or(5000);
    Ok(Decoded::Message(AdapterMessage::Request {
        uid,
        nsp: ByteString::from(nsp),
        request: Request::BroadcastWithAck {
            id,
            data: ByteString::from(json.to_string()),
            attachments,
            sel: Selector {
                rooms: mp_strings(mp_get(opts, "rooms"), "rooms")?,
                except: mp_strings(mp_get(opts, "except"), "except")?,
            },
            timeout,
        },
    }))
}

fn decode_request(nsp: &str, payload: &[u8], limits: &Limits) -> Result<Decoded, CodecError> {
    let Some(o) = read_json(payload)? else {
        // Only the acknowledged broadcast (type 7) is msgpack.
        return decode_mp_request(nsp, payload, limits);
    };
    let t = o
        .get("type")
        .and_then(Json::as_u64)
        .ok_or(CodecError::Shape("type"))?;
    // The emitter's requests carry no uid.
    let uid = match o.get("uid") {
        None => ByteString::new(),
        Some(_) => str_field(&o, "uid")?,
    };
    let id = || str_field(&o, "requestId");
    let request = match t {
        kind::SOCKETS => Request::SocketIds {
            id: id()?,
            rooms: json_str_list(o.get("rooms"), "rooms")?,
        },
        kind::ALL_ROOMS => Request::AllRooms { id: id()? },
        kind::REMOTE_JOIN | kind::REMOTE_LEAVE | kind::REMOTE_DISCONNECT
            if !o.contains_key("opts") =>
        {
            // The single-socket form of older versions.
            return Ok(Decoded::Ignored(t));
        }
        kind::REMOTE_JOIN => Request::Join {
            sel: json_selector_of(&o)?,
            rooms: json_str_list(o.get("rooms"), "rooms")?,
        },
        kind::REMOTE_LEAVE => Request::Leave {
            sel: json_selector_of(&o)?,
            rooms: json_str_list(o.get("rooms"), "rooms")?,
        },
        kind::REMOTE_DISCONNECT => Request::Disconnect {
            sel: json_selector_of(&o)?,
            close: o.get("close").and_then(Json::as_bool).unwrap_or(false),
        },
        kind::REMOTE_FETCH => Request::Fetch {
            id: id()?,
            sel: json_selector_of(&o)?,
        },
        kind::SERVER_SIDE_EMIT => {
            let data = match o.get("data") {
                Some(d @ Json::Array(a)) if a.first().is_some_and(Json::is_string) => d,
                _ => return Err(CodecError::Shape("data")),
            };
            Request::ServerSideEmit {
                id: o
                    .get("requestId")
                    .and_then(Json::as_str)
                    .map(ByteString::from),
                data: ByteString::from(data.to_string()),
            }
        }
        other => return Ok(Decoded::Ignored(other)),
    };
    Ok(Decoded::Message(AdapterMessage::Request {
        uid,
        nsp: ByteString::from(nsp),
        request,
    }))
}

fn remote_socket(v: &Json) -> Result<RemoteSocket, CodecError> {
    let Json::Object(o) = v else {
        return Err(CodecError::Shape("sockets"));
    };
    Ok(RemoteSocket {
        id: str_field(o, "id")?,
        handshake: ByteString::from(
            o.get("handshake")
                .cloned()
                .unwrap_or(Json::Null)
                .to_string(),
        ),
        rooms: json_str_list(o.get("rooms"), "rooms")?,
        data: ByteString::from(o.get("data").cloned().unwrap_or(Json::Null).to_string()),
    })
}

fn decode_response(nsp: &str, payload: &[u8], limits: &Limits) -> Result<Decoded, CodecError> {
    let Some(o) = read_json(payload)? else {
        // The answers to acknowledged broadcasts (type 9) are msgpack.
        let Mp::Map(m) = read_mp(payload, limits)? else {
            return Err(CodecError::Shape("not a map"));
        };
        let t = mp_get(&m, "type")
            .and_then(Mp::as_u64)
            .ok_or(CodecError::Shape("type"))?;
        if t != kind::BROADCAST_ACK {
            return Ok(Decoded::Ignored(t));
        }
        let request_id = match mp_get(&m, "requestId") {
            Some(Mp::String(s)) => s.as_str().map(ByteString::from),
            _ => None,
        }
        .ok_or(CodecError::Shape("requestId"))?;
        let mut attachments = Vec::new();
        let value = mp_to_json(
            mp_get(&m, "packet").cloned().unwrap_or(Mp::Nil),
            &mut attachments,
            limits,
        )?;
        return Ok(Decoded::Message(AdapterMessage::Response {
            nsp: ByteString::from(nsp),
            request_id,
            response: Response::BroadcastAck {
                value: ByteString::from(value.to_string()),
                attachments,
            },
        }));
    };
    let request_id = str_field(&o, "requestId")?;
    let response = match o.get("type").and_then(Json::as_u64) {
        Some(kind::SERVER_SIDE_EMIT) => Response::ServerSideAck(ByteString::from(
            o.get("data").cloned().unwrap_or(Json::Null).to_string(),
        )),
        Some(kind::BROADCAST_CLIENT_COUNT) => Response::ClientCount(
            o.get("clientCount")
                .and_then(Json::as_u64)
                .ok_or(CodecError::Shape("clientCount"))?,
        ),
        Some(t) => return Ok(Decoded::Ignored(t)),
        None => {
            if let Some(rooms) = o.get("rooms") {
                Response::Rooms(json_str_list(Some(rooms), "rooms")?)
            } else if let Some(Json::Array(sockets)) = o.get("sockets") {
                if sockets.iter().all(Json::is_string) && !sockets.is_empty() {
                    Response::SocketIds(json_str_list(o.get("sockets"), "sockets")?)
                } else {
                    Response::Sockets(
                        sockets
                            .iter()
                            .map(remote_socket)
                            .collect::<Result<_, _>>()?,
                    )
                }
            } else {
                // The answer of a single-socket join/leave/disconnect.
                return Ok(Decoded::Ignored(kind::REMOTE_JOIN));
            }
        }
    };
    Ok(Decoded::Message(AdapterMessage::Response {
        nsp: ByteString::from(nsp),
        request_id,
        response,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch() -> Channels {
        Channels::new("socket.io")
    }

    #[test]
    fn broadcast_round_trip_with_binary() {
        let msg = AdapterMessage::Broadcast {
            uid: "abc".into(),
            nsp: "/".into(),
            data: r#"["ev",{"_placeholder":true,"num":0},1.5,-3,"x"]"#.into(),
            attachments: vec![Bytes::from_static(b"\x01\x02")],
            opts: Selector {
                rooms: vec!["r".into()],
                except: vec!["s".into()],
            },
            volatile: true,
        };
        let (channel, bytes) = ch().encode(&msg);
        assert_eq!(channel, "socket.io#/#r#");
        assert_eq!(
            ch().decode(&channel, &bytes, &Limits::default()),
            Ok(Decoded::Message(msg))
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        let l = Limits::default();
        assert_eq!(
            ch().decode("socket.io#/#", b"\xdc\xff", &l),
            Err(CodecError::Msgpack)
        );
        assert_eq!(
            ch().decode("other#/#", b"\x90", &l),
            Err(CodecError::UnknownChannel)
        );
        assert_eq!(
            ch().decode("socket.io-request#/#", b"{", &l),
            Err(CodecError::Json)
        );
        let small = Limits { max_bytes: 2, ..l };
        assert_eq!(
            ch().decode("socket.io#/#", b"\x93\x01\x02", &small),
            Err(CodecError::TooLarge(3))
        );
    }

    #[test]
    fn requests_round_trip() {
        let c = ch();
        for request in [
            Request::AllRooms { id: "1".into() },
            Request::Join {
                sel: Selector {
                    rooms: vec!["a".into()],
                    except: vec![],
                },
                rooms: vec!["b".into()],
            },
            Request::Disconnect {
                sel: Selector::default(),
                close: true,
            },
            Request::Fetch {
                id: "2".into(),
                sel: Selector::default(),
            },
            Request::ServerSideEmit {
                id: Some("3".into()),
                data: r#"["hi",1]"#.into(),
            },
        ] {
            let msg = AdapterMessage::Request {
                uid: "u".into(),
                nsp: "/chat".into(),
                request,
            };
            let (channel, bytes) = c.encode(&msg);
            assert_eq!(channel, "socket.io-request#/chat#");
            assert_eq!(
                c.decode(&channel, &bytes, &Limits::default()),
                Ok(Decoded::Message(msg))
            );
        }
    }
}
