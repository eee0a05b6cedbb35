//! # sio-core: a sans-IO Engine.IO v4 and Socket.IO v5 protocol core
//!
//! This crate holds the protocol and nothing else: it consumes bytes (HTTP polling bodies,
//! WebSocket messages) and time passed in by the caller, and produces packets. It opens no
//! socket, reads no clock, spawns no thread and draws no randomness of its own, so it can be
//! embedded in any runtime, fuzzed, and wrapped for other languages.
//!
//! The codecs:
//! - [`engine`]: Engine.IO packets ([`engine::Packet`]), polling payloads
//!   ([`engine::payload`]), the handshake and HTTP error bodies;
//! - [`socket`]: Socket.IO packets ([`socket::Packet`]) and the incremental binary
//!   reassembly ([`socket::Decoder`]);
//! - [`value`]: event arguments as raw JSON plus binary attachments, converted to and from
//!   user types with serde.
//!
//! Every decoder takes [`Limits`] and returns typed errors; no input makes it panic or
//! allocate without bound.
//!
//! ```
//! use sio_core::{engine, socket, value, Limits};
//!
//! // Encode an event with an ack id and a binary argument, as a server would send it.
//! let mut json = Vec::new();
//! let mut attachments = Vec::new();
//! let bin = bytes::Bytes::from_static(&[1, 2, 3]);
//! value::write_args(&mut json, Some("file"), &("notes.txt", &bin), &mut attachments).unwrap();
//! let packet = socket::Packet::event("/", String::from_utf8(json).unwrap().into(), Some(7), attachments);
//! let encoded = packet.encode();
//! assert_eq!(&*encoded.text, r#"451-7["file","notes.txt",{"_placeholder":true,"num":0}]"#);
//!
//! // Decode it again, frame by frame, as a client would receive it.
//! let mut decoder = socket::Decoder::new(Limits::DEFAULT);
//! let mut decoded = None;
//! for frame in encoded.frames() {
//!     decoded = match frame.decode(&Limits::DEFAULT).unwrap() {
//!         engine::Packet::Message(text) => decoder.decode_text(&text).unwrap(),
//!         engine::Packet::Binary(data) => decoder.decode_binary(data).unwrap(),
//!         other => panic!("unexpected {other:?}"),
//!     };
//! }
//! let decoded = decoded.expect("complete after the last attachment");
//! assert_eq!(decoded.event_name().as_deref(), Some("file"));
//! let (name, data): (String, bytes::Bytes) =
//!     value::read_args(decoded.data.as_ref().unwrap().as_bytes(), 1, &decoded.attachments).unwrap();
//! assert_eq!((name.as_str(), &data[..]), ("notes.txt", &[1u8, 2, 3][..]));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod engine;
pub mod id;
pub mod limits;
pub mod server;
pub mod socket;
pub mod timers;
pub mod value;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use limits::Limits;
