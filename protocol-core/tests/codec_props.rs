//! Property tests of the codecs: generated packets round-trip through encode and decode, and
//! the decoders neither panic nor exceed their [`Limits`] on arbitrary input.
//!
//! The invariant checks on arbitrary input are the fuzz targets' (`fuzz/checks.rs`), fed
//! here with proptest inputs so that they also run on stable Rust.

#[path = "../../fuzz/checks.rs"]
mod checks;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};
use sio_core::socket::{PacketType, RESERVED_EVENTS};
use sio_core::{engine, socket, ByteString, Bytes, Limits};

// ---------------------------------------------------------------------------------------
// Strategies

/// Unicode text, control characters and newlines included.
fn unicode(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("(?s).{{0,{max}}}"))
        .expect("valid regex")
        .boxed()
}

/// Unicode text without the payload record separator `\x1e`.
fn unicode_no_separator(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("[^\\x1e]{{0,{max}}}"))
        .expect("valid regex")
        .boxed()
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> + Clone {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// Any of the eight Engine.IO packet variants, with the given text data.
fn eio_packet_with(
    text: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = engine::Packet> {
    let text = text.prop_map(ByteString::from);
    prop_oneof![
        text.clone().prop_map(engine::Packet::Open),
        Just(engine::Packet::Close),
        text.clone().prop_map(engine::Packet::Ping),
        text.clone().prop_map(engine::Packet::Pong),
        text.prop_map(engine::Packet::Message),
        bytes(64).prop_map(engine::Packet::Binary),
        Just(engine::Packet::Upgrade),
        Just(engine::Packet::Noop),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        unicode(12).prop_map(Value::String),
    ]
}

/// Nested JSON values: arrays and objects up to 4 levels deep.
fn json_value() -> impl Strategy<Value = Value> + Clone {
    json_leaf().prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((unicode(8), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> + Clone {
    vec((unicode(8), json_value()), 0..5)
        .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>()))
}

/// An argument of a binary packet: JSON in which placeholders may appear at any depth.
#[derive(Debug, Clone)]
enum Arg {
    Json(Value),
    /// A placeholder; its number is taken modulo the number of attachments.
    Placeholder(usize),
    Array(Vec<Arg>),
    Object(Vec<(String, Arg)>),
}

impl Arg {
    fn to_value(&self, attachments: usize) -> Value {
        match self {
            Arg::Json(v) => v.clone(),
            Arg::Placeholder(_) if attachments == 0 => Value::Null,
            Arg::Placeholder(k) => placeholder(k % attachments),
            Arg::Array(items) => {
                Value::Array(items.iter().map(|a| a.to_value(attachments)).collect())
            }
            Arg::Object(kv) => Value::Object(
                kv.iter()
                    .map(|(k, a)| (k.clone(), a.to_value(attachments)))
                    .collect(),
            ),
        }
    }
}

fn placeholder(num: usize) -> Value {
    serde_json::json!({ "_placeholder": true, "num": num })
}

fn arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        2 => json_value().prop_map(Arg::Json),
        1 => (0usize..4).prop_map(Arg::Placeholder),
    ]
    .prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Arg::Array),
            vec((unicode(6), inner), 0..4).prop_map(Arg::Object),
        ]
    })
}

/// The JSON text of binary arguments with `attachments` attachments: the placeholders
/// generated inside the arguments, then one for every attachment none of them refers to, so
/// that every attachment is used.
fn binary_args(name: Option<&str>, args: &[Arg], attachments: usize) -> String {
    let mut values: Vec<Value> = name
        .map(|n| Value::String(n.to_owned()))
        .into_iter()
        .collect();
    values.extend(args.iter().map(|a| a.to_value(attachments)));
    let text = serde_json::to_string(&values).expect("serializes");
    for num in 0..attachments {
        let p = serde_json::to_string(&placeholder(num)).expect("serializes");
        if !text.contains(&p) {
            values.push(placeholder(num));
        }
    }
    serde_json::to_string(&values).expect("serializes")
}

fn namespace() -> impl Strategy<Value = ByteString> + Clone {
    prop_oneof![
        Just("/".to_owned()),
        Just("/admin".to_owned()),
        proptest::string::string_regex("/[^,]{0,10}").expect("valid regex"),
    ]
    .prop_map(ByteString::from)
}

/// Ack ids over the whole `u64` range, small ones and the extremes included.
fn ack_id() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![0u64..1000, any::<u64>(), Just(u64::MAX)]
}

fn event_name() -> impl Strategy<Value = String> + Clone {
    unicode(12).prop_filter("reserved", |n| !RESERVED_EVENTS.contains(&n.as_str()))
}

fn attachments() -> impl Strategy<Value = Vec<Bytes>> + Clone {
    vec(bytes(48), 0..4)
}

fn text(v: &Value) -> ByteString {
    ByteString::from(serde_json::to_string(v).expect("serializes"))
}

fn packet(
    kind: PacketType,
    nsp: ByteString,
    id: Option<u64>,
    data: Option<String>,
    attachments: Vec<Bytes>,
) -> socket::Packet {
    socket::Packet {
        kind,
        nsp,
        id,
        data: data.map(ByteString::from),
        attachments,
    }
}

/// A Socket.IO packet of any of the seven kinds, with data valid for its kind.
fn sio_packet() -> impl Strategy<Value = socket::Packet> {
    let id = proptest::option::of(ack_id());
    prop_oneof![
        (namespace(), id.clone(), proptest::option::of(json_object())).prop_map(
            |(nsp, id, data)| socket::Packet {
                id,
                ..socket::Packet::connect(nsp, data.as_ref().map(text))
            }
        ),
        (namespace(), id.clone()).prop_map(|(nsp, id)| socket::Packet {
            id,
            ..socket::Packet::disconnect(nsp)
        }),
        (
            namespace(),
            id.clone(),
            prop_oneof![json_object(), unicode(24).prop_map(Value::String)]
        )
            .prop_map(|(nsp, id, data)| socket::Packet {
                id,
                ..socket::Packet::connect_error(nsp, text(&data))
            }),
        (
            namespace(),
            id.clone(),
            event_name(),
            vec(json_value(), 0..4)
        )
            .prop_map(|(nsp, id, name, args)| {
                let mut values = vec![Value::String(name)];
                values.extend(args);
                socket::Packet::event(nsp, text(&Value::Array(values)), id, Vec::new())
            }),
        (namespace(), ack_id(), vec(json_value(), 0..4)).prop_map(|(nsp, id, args)| {
            socket::Packet::ack(nsp, text(&Value::Array(args)), id, Vec::new())
        }),
        (
            namespace(),
            id,
            event_name(),
            vec(arg(), 0..4),
            attachments()
        )
            .prop_map(|(nsp, id, name, args, atts)| {
                let data = binary_args(Some(&name), &args, atts.len());
                packet(PacketType::BinaryEvent, nsp, id, Some(data), atts)
            }),
        (namespace(), ack_id(), vec(arg(), 0..4), attachments()).prop_map(
            |(nsp, id, args, atts)| {
                let data = binary_args(None, &args, atts.len());
                packet(PacketType::BinaryAck, nsp, Some(id), Some(data), atts)
            }
        ),
    ]
}

/// Any limits, from tiny to the defaults.
fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::DEFAULT),
        Just(checks::SMALL),
        (0usize..256, 0usize..5, 0usize..24).prop_map(|(p, a, n)| Limits {
            max_payload: p,
            max_attachments: a,
            max_namespace_len: n,
        }),
    ]
}

/// Text shaped like a Socket.IO packet (type, attachments, namespace, id, JSON or garbage),
/// to get past the first checks of the parser more often than random text.
fn sio_like_text() -> impl Strategy<Value = String> {
    let head = proptest::string::string_regex("[0-7]?([0-9]{0,3}-)?(/[^,]{0,6},?)?[0-9]{0,22}")
        .expect("valid regex");
    let body = prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        vec(arg(), 0..3).prop_map(|args| binary_args(Some("e"), &args, 2)),
        unicode(16),
        Just(String::new()),
    ];
    (head, body).prop_map(|(h, b)| h + &b)
}

/// One WebSocket message of a sequence: (is binary, bytes).
type Msg = (bool, Vec<u8>);

/// A sequence of WebSocket messages: encoded valid packets, Socket.IO-like text and random
/// messages, in any order.
fn message_sequence() -> impl Strategy<Value = Vec<Msg>> {
    let chunk = prop_oneof![
        3 => sio_packet().prop_map(|p| {
            let e = p.encode();
            let mut msgs = vec![(false, e.text.as_bytes().to_vec())];
            msgs.extend(e.attachments.iter().map(|a| (true, a.to_vec())));
            msgs
        }),
        2 => sio_like_text().prop_map(|t| vec![(false, format!("4{t}").into_bytes())]),
        1 => vec(any::<u8>(), 0..32).prop_map(|b| vec![(true, b)]),
        1 => vec(any::<u8>(), 0..32).prop_map(|b| vec![(false, b)]),
    ];
    vec(chunk, 0..6).prop_map(|chunks| chunks.into_iter().flatten().collect())
}

fn as_messages(msgs: &[Msg]) -> Vec<checks::Message<'_>> {
    msgs.iter()
        .map(|(binary, data)| {
            if *binary {
                checks::Message::Binary(data)
            } else {
                checks::Message::Text(data)
            }
        })
        .collect()
}

/// The text message of a Socket.IO packet, written independently of the encoder from the
/// format `4<type>[<attachments>-][<namespace>,][<id>][<data>]`.
fn reference_text(p: &socket::Packet) -> String {
    let mut s = format!("4{}", p.kind as u8);
    if p.kind.is_binary() {
        s += &format!("{}-", p.attachments.len());
    }
    if &*p.nsp != "/" {
        s += &format!("{},", p.nsp);
    }
    if let Some(id) = p.id {
        s += &id.to_string();
    }
    s += p.data.as_deref().unwrap_or("");
    s
}

// ---------------------------------------------------------------------------------------
// Properties

/// 256 cases per property (a few seconds in debug), or `PROPTEST_CASES` when set, for longer
/// runs such as `PROPTEST_CASES=100000 cargo test --release -p sio-core --test codec_props`.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig::with_cases(cases)
}

proptest! {
    #![proptest_config(config())]

    /// (a) An Engine.IO packet's frame decodes back to the packet.
    #[test]
    fn engine_frame_roundtrip(p in eio_packet_with(unicode(32))) {
        let frame = p.encode();
        match &frame {
            engine::Frame::Text(t) => prop_assert_eq!(t.as_bytes()[0], p.packet_type().digit()),
            engine::Frame::Binary(_) => prop_assert!(matches!(p, engine::Packet::Binary(_))),
        }
        prop_assert_eq!(frame.decode(&Limits::DEFAULT), Ok(p));
    }

    /// (a) A payload of several packets decodes back to the packets.
    #[test]
    fn engine_payload_roundtrip(packets in vec(eio_packet_with(unicode_no_separator(24)), 1..8)) {
        let frames: Vec<engine::Frame> = packets.iter().map(engine::Packet::encode).collect();
        let body = engine::payload::encode(&frames);
        prop_assert_eq!(body.len(), engine::payload::encoded_len(&frames));
        let limits = Limits { max_payload: body.len(), ..Limits::DEFAULT };
        prop_assert_eq!(engine::payload::decode(body, &limits), Ok(packets));
    }

    /// (b) A Socket.IO packet encodes as the format says, and its frames, through the
    /// Engine.IO decoder and a `socket::Decoder`, give back the same packet.
    #[test]
    fn socket_roundtrip(p in sio_packet()) {
        let encoded = p.encode();
        prop_assert_eq!(&*encoded.text, reference_text(&p));
        prop_assert_eq!(&encoded.attachments, &p.attachments);
        checks::check_socket_roundtrip(&p, &Limits::DEFAULT);
        // Exactly within limits that fit it.
        let tight = Limits {
            max_payload: encoded.text.len() - 1 + p.attachments.iter().map(Bytes::len).sum::<usize>(),
            max_attachments: p.attachments.len(),
            max_namespace_len: if &*p.nsp == "/" { 0 } else { p.nsp.len() },
        };
        checks::check_socket_roundtrip(&p, &tight);
        let mut decoder = socket::Decoder::new(tight);
        let mut last = None;
        for frame in encoded.frames() {
            last = match frame.decode(&Limits::DEFAULT).expect("engine frame") {
                engine::Packet::Message(t) => decoder.decode_text(&t),
                engine::Packet::Binary(b) => decoder.decode_binary(b),
                other => panic!("{other:?}"),
            }
            .expect("decodes within tight limits");
        }
        prop_assert_eq!(last.as_ref(), Some(&p));
        if matches!(p.kind, PacketType::Event | PacketType::BinaryEvent) {
            let data: Vec<Value> = serde_json::from_str(p.data.as_deref().unwrap()).unwrap();
            let name = p.event_name();
            prop_assert_eq!(name.as_deref(), data[0].as_str());
        } else {
            prop_assert_eq!(p.event_name(), None);
        }
    }

    /// (b) The same over HTTP long-polling: the frames in one payload.
    #[test]
    fn socket_roundtrip_over_polling(
        // A raw `\x1e` in a namespace would split the payload (JSON data escapes it).
        packets in vec(sio_packet().prop_filter("separator", |p| !p.nsp.contains('\x1e')), 1..4),
    ) {
        let frames: Vec<engine::Frame> = packets.iter().flat_map(|p| p.encode().frames().collect::<Vec<_>>()).collect();
        let body = engine::payload::encode(&frames);
        let mut decoder = socket::Decoder::default();
        let mut decoded = Vec::new();
        for packet in engine::payload::decode(body, &Limits::DEFAULT).expect("payload") {
            let out = match packet {
                engine::Packet::Message(t) => decoder.decode_text(&t),
                engine::Packet::Binary(b) => decoder.decode_binary(b),
                other => panic!("{other:?}"),
            };
            decoded.extend(out.expect("decodes"));
        }
        prop_assert_eq!(decoded, packets);
    }

    /// (c) The Engine.IO decoders never panic on arbitrary bytes and respect the limits.
    #[test]
    fn engine_decoders_total(data in vec(any::<u8>(), 0..256), limits in limits()) {
        checks::eio_packet_with(&data, &limits);
        checks::eio_payload_with(&data, &limits);
    }

    /// (c) The Engine.IO decoders on text made of packet-like pieces.
    #[test]
    fn engine_decoders_on_packet_like_text(
        parts in vec(prop_oneof![
            proptest::string::string_regex("[0-6b][a-zA-Z0-9+/=]{0,12}").expect("valid regex"),
            unicode(12),
        ], 1..6),
        limits in limits(),
    ) {
        let body = parts.join("\x1e");
        checks::eio_packet_with(body.as_bytes(), &limits);
        checks::eio_payload_with(body.as_bytes(), &limits);
    }

    /// (c) `socket::Packet::decode` never panics on arbitrary text and respects the limits.
    #[test]
    fn socket_decoder_total(data in vec(any::<u8>(), 0..256), limits in limits()) {
        let text = ByteString::from(String::from_utf8_lossy(&data).into_owned());
        checks::sio_packet_with(&text, &limits);
    }

    /// (c) The same on text shaped like Socket.IO packets.
    #[test]
    fn socket_decoder_on_packet_like_text(text in sio_like_text(), limits in limits()) {
        checks::sio_packet_with(&ByteString::from(text), &limits);
    }

    /// (c) A `socket::Decoder` fed any sequence of text and binary messages follows the
    /// reassembly model, stays within the limits, and every packet it completes round-trips.
    #[test]
    fn binary_reassembly_total(msgs in message_sequence(), limits in limits()) {
        let messages = as_messages(&msgs);
        checks::reassembly_with(&messages, &limits, |p| checks::check_socket_roundtrip(p, &limits));
    }

    /// (c) The fuzz targets' sequence encoding, on arbitrary bytes.
    #[test]
    fn sequence_targets_total(msgs in message_sequence()) {
        let data = checks::encode_messages(&as_messages(&msgs));
        checks::sio_binary_reassembly(&data);
        checks::roundtrip(&data);
    }
}

/// Generated packets are mostly complete: the generators reach every kind and binary packets
/// with attachments (a sanity check of the strategies, not of the codec).
#[test]
fn strategies_reach_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = sio_packet();
    let mut kinds = std::collections::HashSet::new();
    let mut with_attachments = 0;
    for _ in 0..500 {
        let p = strategy.new_tree(&mut runner).unwrap().current();
        kinds.insert(p.kind as u8);
        if !p.attachments.is_empty() {
            with_attachments += 1;
        }
    }
    assert_eq!(kinds.len(), 7);
    assert!(with_attachments > 50);
}
