//! Codec benchmarks: encode and decode of typical Socket.IO packets and polling payloads.
//!
//! Run with `cargo bench -p sio-core --bench codec`; see `README.md` for the results.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sio_core::socket::{self, PacketType};
use sio_core::{engine, ByteString, Bytes, Limits};

/// The small event of the comparison with Node's socket.io-parser.
const SMALL_EVENT: &str = r#"212["echo","xxxxxxxxxxxxxxxx"]"#;

fn small_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("small_event");
    let text = ByteString::from_static(SMALL_EVENT);
    let packet = socket::Packet::event(
        "/",
        ByteString::from_static(r#"["echo","xxxxxxxxxxxxxxxx"]"#),
        Some(12),
        Vec::new(),
    );
    assert_eq!(&packet.encode().text[1..], SMALL_EVENT);
    assert_eq!(
        socket::Packet::decode(&text, &Limits::DEFAULT).unwrap().0,
        packet
    );
    g.bench_function("encode", |b| b.iter(|| black_box(&packet).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| socket::Packet::decode(black_box(&text), &Limits::DEFAULT))
    });
    g.finish();
}

/// `["echo",{...}]` whose object argument is about 1 KiB of JSON.
fn kib_event_data() -> String {
    let mut object = serde_json::Map::new();
    let mut i = 0;
    while serde_json::to_string(&object).unwrap().len() < 1000 {
        let value = match i % 4 {
            0 => serde_json::json!(format!("value number {i}")),
            1 => serde_json::json!(i * 1_000_003),
            2 => serde_json::json!({ "nested": [i, i + 1, true, null], "ok": i % 2 == 0 }),
            _ => serde_json::json!(i as f64 / 7.0),
        };
        object.insert(format!("key_{i}"), value);
        i += 1;
    }
    serde_json::to_string(&serde_json::json!(["echo", object])).unwrap()
}

fn kib_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("kib_event");
    let data = kib_event_data();
    let packet = socket::Packet::event("/", ByteString::from(data), Some(12), Vec::new());
    let encoded = packet.encode();
    let text = encoded.text.slice_ref(&encoded.text[1..]);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&packet).encode()));
    g.bench_function("decode", |b| {
        b.iter(|| socket::Packet::decode(black_box(&text), &Limits::DEFAULT))
    });
    g.finish();
}

fn binary_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("binary_event_64k");
    let attachment = Bytes::from((0..64 * 1024).map(|i| i as u8).collect::<Vec<u8>>());
    let packet = socket::Packet::event(
        "/",
        ByteString::from_static(r#"["upload","file.bin",{"_placeholder":true,"num":0}]"#),
        Some(3),
        vec![attachment.clone()],
    );
    assert_eq!(packet.kind, PacketType::BinaryEvent);
    let encoded = packet.encode();
    let text = encoded.text.slice_ref(&encoded.text[1..]);
    // No throughput: encoding and decoding share the attachment's buffer instead of copying
    // it, so bytes per second would mean nothing.
    g.bench_function("encode", |b| b.iter(|| black_box(&packet).encode()));
    g.bench_function("decode", |b| {
        b.iter_batched(
            || socket::Decoder::new(Limits::DEFAULT),
            |mut decoder| {
                assert!(decoder.decode_text(black_box(&text)).unwrap().is_none());
                decoder
                    .decode_binary(black_box(attachment.clone()))
                    .unwrap()
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn polling_payload(c: &mut Criterion) {
    let mut g = c.benchmark_group("payload_100");
    let frames: Vec<engine::Frame> = (0..100)
        .map(|i| {
            socket::Packet::event(
                "/",
                ByteString::from(format!(r#"["echo","xxxxxxxxxxxxxxxx",{i}]"#)),
                Some(i),
                Vec::new(),
            )
            .encode()
            .frames()
            .next()
            .unwrap()
        })
        .collect();
    let body = engine::payload::encode(&frames);
    assert_eq!(
        engine::payload::decode(body.clone(), &Limits::DEFAULT)
            .unwrap()
            .len(),
        100
    );
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| engine::payload::encode(black_box(&frames)))
    });
    g.bench_function("decode", |b| {
        b.iter(|| engine::payload::decode(black_box(body.clone()), &Limits::DEFAULT))
    });
    g.finish();
}

criterion_group!(
    benches,
    small_event,
    kib_event,
    binary_event,
    polling_payload
);
criterion_main!(benches);
