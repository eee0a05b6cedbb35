//! The checks of the fuzz targets, one public function per target.
//!
//! This file is shared: every target in `fuzz_targets/` includes it as a module
//! (`#[path = "../checks.rs"] mod checks;`), and so do the sio-core integration tests
//! `tests/fuzz_corpus.rs` (which replays the committed corpus on stable Rust) and
//! `tests/codec_props.rs` (which feeds it proptest inputs). A check panics when an invariant
//! is broken; decoding errors are expected and are not failures.
//!
//! # Input encodings
//!
//! - `eio_packet`: the bytes of one WebSocket message, tried both as a text and as a binary
//!   message.
//! - `eio_payload`: one HTTP long-polling body.
//! - `sio_packet`: the text of one Socket.IO packet, without the Engine.IO `4` prefix
//!   (invalid UTF-8 is replaced by U+FFFD so that the parser still runs).
//! - `sio_binary_reassembly` and `roundtrip`: a sequence of WebSocket messages. Records are
//!   separated by the byte `0xFF` (which never occurs in UTF-8 text). A record whose first
//!   byte is `b` is a binary message made of the rest of the record; any other first byte
//!   (conventionally `t`) makes the rest of the record a text message, i.e. a whole Engine.IO
//!   packet such as `451-["a",{"_placeholder":true,"num":0}]`. Empty records are skipped.
//!
//! Each check runs with [`Limits::DEFAULT`] and with [`SMALL`] limits, so that the limit
//! paths are reached by short inputs.
#![allow(dead_code)]

use sio_core::socket::DecodeError as SioError;
use sio_core::{engine, socket, ByteString, Bytes, Limits};

/// Small limits, to reach every "too large" path with short inputs.
pub const SMALL: Limits = Limits {
    max_payload: 64,
    max_attachments: 2,
    max_namespace_len: 8,
};

/// The limits every check runs with.
pub const LIMITS: [Limits; 2] = [Limits::DEFAULT, SMALL];

/// Separates the records of a message sequence.
pub const RECORD_SEPARATOR: u8 = 0xFF;

/// One WebSocket message of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (a whole Engine.IO packet, possibly invalid UTF-8).
    Text(&'a [u8]),
    /// A binary message.
    Binary(&'a [u8]),
}

/// Split a sequence input into its messages (see the module documentation).
pub fn messages(data: &[u8]) -> Vec<Message<'_>> {
    data.split(|&b| b == RECORD_SEPARATOR)
        .filter_map(|record| match record.split_first() {
            None => None,
            Some((b'b', rest)) => Some(Message::Binary(rest)),
            Some((_, rest)) => Some(Message::Text(rest)),
        })
        .collect()
}

/// Encode messages in the sequence format; the inverse of [`messages`] for binary messages
/// without `0xFF` bytes.
pub fn encode_messages(messages: &[Message<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        let (tag, body) = match m {
            Message::Text(t) => (b't', t),
            Message::Binary(b) => (b'b', b),
        };
        out.push(tag);
        out.extend_from_slice(body);
    }
    out
}

/// The same limits without a bound on the message size: re-encoding a decoded packet may
/// legitimately make it a little longer (padded base64, a namespace's missing `,`).
fn loose(limits: &Limits) -> Limits {
    Limits {
        max_payload: usize::MAX,
        ..*limits
    }
}

// ---------------------------------------------------------------------------------------
// eio_packet

/// Target `eio_packet`: one WebSocket message, as text and as binary.
pub fn eio_packet(data: &[u8]) {
    for limits in &LIMITS {
        eio_packet_with(data, limits);
    }
}

/// [`eio_packet`] with the given limits.
pub fn eio_packet_with(data: &[u8], limits: &Limits) {
    let bytes = Bytes::copy_from_slice(data);

    match engine::Packet::decode_text_bytes(bytes.clone(), limits) {
        Ok(packet) => {
            assert!(
                data.len() <= limits.max_payload,
                "accepted beyond the limit"
            );
            assert!(std::str::from_utf8(data).is_ok(), "accepted invalid UTF-8");
            assert_eq!(Some(packet.packet_type().digit()), data.first().copied());
            let frame = packet.encode();
            match &packet {
                // The data is kept, so the encoding is the input itself.
                engine::Packet::Open(_)
                | engine::Packet::Ping(_)
                | engine::Packet::Pong(_)
                | engine::Packet::Message(_) => {
                    assert_eq!(frame, engine::Frame::Text(text(data)));
                }
                // Data after these types is ignored.
                engine::Packet::Close | engine::Packet::Upgrade | engine::Packet::Noop => {
                    assert_eq!(frame.len(), 1);
                }
                engine::Packet::Binary(_) => panic!("a text message decoded as binary"),
            }
            assert_eq!(frame.decode(limits).as_ref(), Ok(&packet));
        }
        Err(engine::DecodeError::TooLarge { len, max }) => {
            assert_eq!((len, max), (data.len(), limits.max_payload));
            assert!(len > max);
        }
        Err(engine::DecodeError::Empty) => assert!(data.is_empty()),
        Err(engine::DecodeError::UnknownType(b)) => {
            assert_eq!(data.first(), Some(&b));
            assert!(!(b'0'..=b'6').contains(&b));
        }
        Err(engine::DecodeError::InvalidUtf8) => assert!(std::str::from_utf8(data).is_err()),
        Err(e @ engine::DecodeError::InvalidBase64) => panic!("{e:?} for a single message"),
    }

    match engine::Packet::decode_binary(bytes.clone(), limits) {
        Ok(packet) => {
            assert!(
                data.len() <= limits.max_payload,
                "accepted beyond the limit"
            );
            assert_eq!(packet, engine::Packet::Binary(bytes.clone()));
            assert_eq!(packet.encode(), engine::Frame::Binary(bytes));
        }
        Err(e) => assert_eq!(
            e,
            engine::DecodeError::TooLarge {
                len: data.len(),
                max: limits.max_payload
            }
        ),
    }
}

fn text(data: &[u8]) -> ByteString {
    ByteString::from(std::str::from_utf8(data).expect("checked").to_owned())
}

// ---------------------------------------------------------------------------------------
// eio_payload

/// Target `eio_payload`: one polling body.
pub fn eio_payload(data: &[u8]) {
    for limits in &LIMITS {
        eio_payload_with(data, limits);
    }
}

/// [`eio_payload`] with the given limits.
pub fn eio_payload_with(data: &[u8], limits: &Limits) {
    let packets = match engine::payload::decode(Bytes::copy_from_slice(data), limits) {
        Ok(packets) => packets,
        Err(engine::DecodeError::TooLarge { len, max }) => {
            assert_eq!((len, max), (data.len(), limits.max_payload));
            assert!(len > max);
            return;
        }
        Err(engine::DecodeError::InvalidUtf8) => {
            assert!(std::str::from_utf8(data).is_err());
            return;
        }
        Err(_) => return,
    };
    assert!(
        data.len() <= limits.max_payload,
        "accepted beyond the limit"
    );
    assert!(!data.is_empty());
    let separators = data
        .iter()
        .filter(|&&b| b == engine::payload::SEPARATOR)
        .count();
    assert_eq!(packets.len(), separators + 1, "one packet per record");
    for p in &packets {
        if let engine::Packet::Binary(b) = p {
            assert!(b.len() <= data.len());
        }
    }
    check_payload_roundtrip(&packets, limits);
}

/// Encoding decoded packets as a payload and decoding it again gives the same packets.
fn check_payload_roundtrip(packets: &[engine::Packet], limits: &Limits) {
    let frames: Vec<engine::Frame> = packets.iter().map(engine::Packet::encode).collect();
    let body = engine::payload::encode(&frames);
    assert_eq!(body.len(), engine::payload::encoded_len(&frames));
    let again = engine::payload::decode(body, &loose(limits)).expect("re-encoded payload decodes");
    assert_eq!(again, packets);
}

// ---------------------------------------------------------------------------------------
// sio_packet

/// Target `sio_packet`: the text of one Socket.IO packet.
pub fn sio_packet(data: &[u8]) {
    let text = ByteString::from(String::from_utf8_lossy(data).into_owned());
    for limits in &LIMITS {
        sio_packet_with(&text, limits);
    }
}

/// [`sio_packet`] with the given limits.
pub fn sio_packet_with(text: &ByteString, limits: &Limits) {
    match socket::Packet::decode(text, limits) {
        Ok((packet, announced)) => {
            assert!(
                text.len() <= limits.max_payload,
                "accepted beyond the limit"
            );
            check_decoded_header(&packet, announced, limits);
        }
        Err(SioError::TooLarge { len, max }) => {
            assert_eq!((len, max), (text.len(), limits.max_payload));
            assert!(len > max);
        }
        Err(SioError::TooManyAttachments { count, max }) => {
            assert_eq!(max, limits.max_attachments);
            assert!(count > max);
        }
        Err(SioError::NamespaceTooLong { len, max }) => {
            assert_eq!(max, limits.max_namespace_len);
            assert!(len > max);
        }
        Err(SioError::Empty) => assert!(text.is_empty()),
        Err(e @ (SioError::UnexpectedBinary | SioError::UnexpectedText)) => {
            panic!("{e:?} from a single packet")
        }
        Err(_) => {}
    }
}

/// What every packet returned by `socket::Packet::decode` satisfies.
fn check_decoded_header(packet: &socket::Packet, announced: usize, limits: &Limits) {
    use socket::PacketType::*;
    assert!(announced <= limits.max_attachments, "too many attachments");
    assert!(packet.kind.is_binary() || announced == 0);
    assert!(packet.attachments.is_empty());
    assert!(packet.nsp.starts_with('/'), "namespace {:?}", packet.nsp);
    assert!(!packet.nsp.contains(','));
    // The default namespace may be implicit; any other was in the text, within the limit.
    assert!(&*packet.nsp == "/" || packet.nsp.len() <= limits.max_namespace_len);
    // The decoder validated the JSON; check the top-level shape each kind carries.
    let first = packet
        .data
        .as_deref()
        .map(|d| d.trim_start_matches([' ', '\t', '\n', '\r']).as_bytes()[0]);
    match packet.kind {
        Event | BinaryEvent => {
            assert_eq!(first, Some(b'['), "an event carries an array");
            let name = packet.event_name().expect("an event has a name");
            assert!(
                !socket::RESERVED_EVENTS.contains(&&*name),
                "reserved {name}"
            );
        }
        Ack | BinaryAck => assert_eq!(first, Some(b'['), "an ack carries an array"),
        Connect => assert!(matches!(first, None | Some(b'{')), "{first:?}"),
        ConnectError => assert!(matches!(first, None | Some(b'{' | b'"')), "{first:?}"),
        Disconnect => assert_eq!(packet.data, None),
    }
}

// ---------------------------------------------------------------------------------------
// sio_binary_reassembly

/// Target `sio_binary_reassembly`: a sequence of messages into a `socket::Decoder`.
pub fn sio_binary_reassembly(data: &[u8]) {
    let messages = messages(data);
    for limits in &LIMITS {
        reassembly_with(&messages, limits, |_| {});
    }
}

/// The binary packet being reassembled, as the check models it.
struct Model {
    header: socket::Packet,
    announced: usize,
    attachments: Vec<Bytes>,
    bytes: usize,
}

/// Feed `messages` through the Engine.IO decoder into one `socket::Decoder`, checking it
/// against a model of the reassembly; `on_packet` receives every complete packet.
pub fn reassembly_with(
    messages: &[Message<'_>],
    limits: &Limits,
    mut on_packet: impl FnMut(&socket::Packet),
) {
    let mut decoder = socket::Decoder::new(*limits);
    let mut model: Option<Model> = None;
    for message in messages {
        match *message {
            Message::Text(t) => {
                let Ok(engine::Packet::Message(text)) =
                    engine::Packet::decode_text_bytes(Bytes::copy_from_slice(t), limits)
                else {
                    continue;
                };
                let got = decoder.decode_text(&text);
                if model.is_some() {
                    // Still waiting for attachments: text is refused, the state is kept.
                    assert_eq!(got, Err(SioError::UnexpectedText));
                } else {
                    let direct = socket::Packet::decode(&text, limits);
                    match (direct, got) {
                        (Err(a), Err(b)) => assert_eq!(a, b),
                        (Ok((header, announced)), Ok(None)) => {
                            assert!(header.kind.is_binary() && announced > 0);
                            model = Some(Model {
                                header,
                                announced,
                                attachments: Vec::new(),
                                bytes: text.len(),
                            });
                        }
                        (Ok((header, announced)), Ok(Some(packet))) => {
                            assert_eq!(announced, 0, "complete before its attachments");
                            assert_eq!(packet, header);
                            check_complete(&packet, text.len(), limits);
                            on_packet(&packet);
                        }
                        (Ok((header, announced)), Err(e)) => {
                            // Only the placeholder check of a packet without attachments.
                            assert!(header.kind.is_binary() && announced == 0, "{e:?}");
                            assert_eq!(e, SioError::InvalidPlaceholder);
                        }
                        (Err(e), Ok(p)) => panic!("decoder accepted {p:?}, parser said {e:?}"),
                    }
                }
            }
            Message::Binary(b) => {
                let Ok(engine::Packet::Binary(data)) =
                    engine::Packet::decode_binary(Bytes::copy_from_slice(b), limits)
                else {
                    continue;
                };
                let got = decoder.decode_binary(data.clone());
                match model.take() {
                    None => assert_eq!(got, Err(SioError::UnexpectedBinary)),
                    Some(mut m) => {
                        m.bytes += data.len();
                        m.attachments.push(data);
                        match got {
                            Ok(None) => {
                                assert!(m.attachments.len() < m.announced);
                                model = Some(m);
                            }
                            Ok(Some(packet)) => {
                                // Exactly the announced attachments, in order.
                                assert_eq!(m.attachments.len(), m.announced);
                                assert_eq!(
                                    packet,
                                    socket::Packet {
                                        attachments: m.attachments,
                                        ..m.header
                                    }
                                );
                                check_complete(&packet, m.bytes - total(&packet), limits);
                                on_packet(&packet);
                            }
                            Err(SioError::TooLarge { len, max }) => {
                                assert_eq!((len, max), (m.bytes, limits.max_payload));
                                assert!(len > max);
                            }
                            Err(SioError::InvalidPlaceholder) => {
                                assert_eq!(m.attachments.len(), m.announced);
                            }
                            Err(e) => panic!("unexpected {e:?} for an attachment"),
                        }
                    }
                }
            }
        }
        // The decoder's state is the model's.
        let pending = decoder.pending();
        assert_eq!(
            pending,
            model.as_ref().map(|m| m.announced - m.attachments.len())
        );
        if let Some(n) = pending {
            assert!(n >= 1 && n <= limits.max_attachments, "pending {n}");
        }
    }
}

fn total(packet: &socket::Packet) -> usize {
    packet.attachments.iter().map(Bytes::len).sum()
}

/// What every complete packet of the decoder satisfies. `text_len` is the length of the
/// Socket.IO text it was decoded from.
fn check_complete(packet: &socket::Packet, text_len: usize, limits: &Limits) {
    check_decoded_header(
        &socket::Packet {
            attachments: Vec::new(),
            ..packet.clone()
        },
        packet.attachments.len(),
        limits,
    );
    assert!(packet.attachments.len() <= limits.max_attachments);
    assert!(
        text_len + total(packet) <= limits.max_payload,
        "beyond the limit"
    );
}

// ---------------------------------------------------------------------------------------
// roundtrip

/// Target `roundtrip`: whatever decodes re-encodes to something that decodes to the same.
pub fn roundtrip(data: &[u8]) {
    let messages = messages(data);
    for limits in &LIMITS {
        for message in &messages {
            match *message {
                Message::Text(t) => {
                    let bytes = Bytes::copy_from_slice(t);
                    if let Ok(p) = engine::Packet::decode_text_bytes(bytes.clone(), limits) {
                        check_engine_roundtrip(&p, limits);
                    }
                    if let Ok(packets) = engine::payload::decode(bytes, limits) {
                        check_payload_roundtrip(&packets, limits);
                    }
                }
                Message::Binary(b) => {
                    let bytes = Bytes::copy_from_slice(b);
                    if let Ok(p) = engine::Packet::decode_binary(bytes, limits) {
                        check_engine_roundtrip(&p, limits);
                    }
                }
            }
        }
        reassembly_with(&messages, limits, |p| check_socket_roundtrip(p, limits));
    }
}

/// An Engine.IO packet encodes to a frame that decodes to the same packet.
pub fn check_engine_roundtrip(packet: &engine::Packet, limits: &Limits) {
    let frame = packet.encode();
    if let engine::Frame::Text(t) = &frame {
        assert_eq!(t.as_bytes().first(), Some(&packet.packet_type().digit()));
    }
    assert_eq!(frame.decode(&loose(limits)).as_ref(), Ok(packet));
}

/// A Socket.IO packet encodes to frames that, through the Engine.IO decoder and a fresh
/// `socket::Decoder`, give back the same packet at the last frame and only there.
pub fn check_socket_roundtrip(packet: &socket::Packet, limits: &Limits) {
    let encoded = packet.encode();
    assert_eq!(encoded.text.len(), packet.encoded_len());
    assert_eq!(encoded.frame_count(), 1 + packet.attachments.len());
    let limits = loose(limits);
    let mut decoder = socket::Decoder::new(limits);
    let count = encoded.frame_count();
    for (i, frame) in encoded.frames().enumerate() {
        let out = match frame.decode(&limits).expect("engine frame decodes") {
            engine::Packet::Message(text) => decoder.decode_text(&text),
            engine::Packet::Binary(data) => decoder.decode_binary(data),
            other => panic!("encoded as {other:?}"),
        }
        .unwrap_or_else(|e| panic!("re-encoded {:?} fails: {e:?}", encoded.text));
        if i + 1 < count {
            assert_eq!(out, None, "complete early");
            assert_eq!(decoder.pending(), Some(count - 1 - i));
        } else {
            assert_eq!(out.as_ref(), Some(packet), "from {:?}", encoded.text);
        }
    }
    assert_eq!(decoder.pending(), None);
}
