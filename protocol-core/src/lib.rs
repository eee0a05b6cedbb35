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
//!
//! ## Driving the server
//!
//! [`server::Server`] is the whole Socket.IO server. The caller owns sockets, clocks and
//! randomness (the seed is in the config): it feeds every transport input with `now` in
//! milliseconds, drains [`server::Server::poll_output`] until `None` after *every* call, and
//! calls `handle_timeout` at [`server::Server::poll_timeout`]. Application decisions (accept a
//! namespace, ack, emit, join) are calls too; their effects come out of the same drain.
//!
//! ```
//! use sio_core::engine::{server::{Transmit, WsId}, Frame};
//! use sio_core::server::{Event, Output, Server, ServerConfig, Target, Emit};
//!
//! let mut server = Server::new(ServerConfig::default());
//! let ws = WsId(1); // the runtime's name for a WebSocket it accepted
//! let mut now = 0;
//!
//! // A client opens a WebSocket: the core writes the Engine.IO handshake on it.
//! server.handle_ws_open(now, ws, "EIO=4&transport=websocket", Default::default).unwrap();
//! let mut sent = Vec::new();
//! let mut events = Vec::new();
//! let mut drain = |server: &mut Server, sent: &mut Vec<String>, events: &mut Vec<Event>| {
//!     while let Some(out) = server.poll_output() {
//!         match out {
//!             Output::Transmit(Transmit::Ws { frame: Frame::Text(t), .. }) => sent.push(t.to_string()),
//!             Output::Transmit(_) => {}
//!             Output::Event(e) => events.push(e),
//!         }
//!     }
//! };
//! drain(&mut server, &mut sent, &mut events);
//! assert!(sent[0].starts_with(r#"0{"sid":"#));
//!
//! // It connects to the default namespace; the application accepts.
//! now += 5;
//! server.handle_ws_message(now, ws, Frame::Text("40".into()));
//! drain(&mut server, &mut sent, &mut events);
//! let Some(Event::ConnectRequest { id, .. }) = events.pop() else { panic!() };
//! let socket = server.accept(now, id).unwrap();
//! drain(&mut server, &mut sent, &mut events);
//! assert!(sent[1].starts_with(r#"40{"sid":"#));
//!
//! // An event with an ack id reaches the application, which acknowledges it.
//! server.handle_ws_message(now, ws, Frame::Text(r#"421["hello","world"]"#.into()));
//! drain(&mut server, &mut sent, &mut events);
//! let Some(Event::Message { packet, .. }) = events.pop() else { panic!() };
//! assert_eq!(packet.event_name().as_deref(), Some("hello"));
//! server.ack(now, socket, packet.id.unwrap(), r#"["ok"]"#.into(), vec![]).unwrap();
//!
//! // A broadcast to the namespace, encoded once for every recipient.
//! server.emit(now, &Target::namespace("/"), &Emit::new(r#"["news",1]"#)).unwrap();
//! drain(&mut server, &mut sent, &mut events);
//! assert_eq!(&sent[2..], [r#"431["ok"]"#, r#"42["news",1]"#]);
//!
//! // The next deadline is the first heartbeat: 25 s after the handshake.
//! assert_eq!(server.poll_timeout(), Some(25_000));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod engine;
pub mod id;
mod id_map;
pub mod limits;
pub mod server;
pub mod socket;
pub mod timers;
pub mod value;

pub use bytes::Bytes;
pub use bytestring::ByteString;
pub use limits::Limits;
