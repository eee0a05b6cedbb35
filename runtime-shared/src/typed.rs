//! Typed event maps: declare the events of each direction once, as Rust types, and let the
//! compiler check every emit, handler and acknowledgement on both sides — the Rust counterpart
//! of socket.io's TypeScript `ServerToClientEvents` / `ClientToServerEvents` interfaces.
//!
//! [`event_map!`](crate::event_map) declares an enum per direction: one variant per event, with
//! its wire name (any string, `playerMoved` included), its arguments (none, one or several; any
//! serde type, binary [`bytes::Bytes`] anywhere) and, for events answered with an
//! acknowledgement, the answer's type after `=>`. Such a variant gets one more, last field: an
//! [`Ack`] that only sends that type.
//!
//! The typed handles wrap the untyped API, which stays available beside them:
//!
//! - server: [`TypedIo`] (namespaces, broadcasts), [`TypedSocket`] (one client),
//!   [`TypedBroadcast`] (`to(room).emit(..)`);
//! - client: [`TypedClientBuilder`], [`TypedClient`] and [`TypedClientSocket`].
//!
//! Each is parameterized by the map it receives and the map it sends: a server uses
//! `<ClientToServer, ServerToClient>`, a client `<ServerToClient, ClientToServer>`. `emit`
//! takes only a variant of the outgoing map; one handler ([`TypedSocket::on_event`]) receives
//! the decoded incoming enum, to `match` on; `emit_with_ack` takes the variant's constructor and
//! returns the answer's type. An incoming event whose name is not in the map, or whose payload
//! does not fit its types, goes to the fallback ([`TypedSocket::on_fallback`]) with a
//! [`DecodeError`] and the raw message — never to a panic.
//!
//! Events are encoded with [`sio_core::value::write_args`] straight from the variant's fields
//! and decoded with [`sio_core::value::read_args`]: no `serde_json::Value` in between.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use sio_tokio::typed::{TypedClientBuilder, TypedIo};
//! use sio_tokio::client::ClientBuilder;
//! use sio_tokio::{ServerOptions, SocketIo};
//!
//! #[derive(Debug, Clone, Serialize, Deserialize)]
//! pub struct Location { pub x: f64, pub y: f64 }
//!
//! sio_tokio::event_map! {
//!     /// What the server sends.
//!     #[derive(Debug)]
//!     pub enum ServerToClient {
//!         /// A player moved: its id and where to.
//!         PlayerMoved(id: String, location: Location) = "playerMoved",
//!         /// A picture, as binary.
//!         Snapshot(png: bytes::Bytes) = "snapshot",
//!         /// Are you there? The client answers with its local time.
//!         Ping() = "ping" => u64,
//!     }
//!
//!     /// What the clients send.
//!     #[derive(Debug)]
//!     pub enum ClientToServer {
//!         /// The player moves.
//!         Move(location: Location) = "move",
//!         /// A command, answered with whether it worked.
//!         Command(name: String) = "command" => bool,
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The server receives ClientToServer and sends ServerToClient.
//! let io = SocketIo::new(ServerOptions::default());
//! let io = TypedIo::<ClientToServer, ServerToClient>::new(io);
//! io.ns("/", |socket, _req| {
//!     socket.on_event(|socket, event| async move {
//!         match event {
//!             ClientToServer::Move(location) => {
//!                 let moved = ServerToClient::PlayerMoved(socket.id().to_owned(), location);
//!                 let _ = socket.broadcast().emit(&moved);
//!             }
//!             // The ack only takes a bool, as declared.
//!             ClientToServer::Command(name, ack) => {
//!                 let _ = ack.send(&(name == "wave"));
//!             }
//!         }
//!     });
//!     socket.on_fallback(|socket, error, _raw| async move {
//!         eprintln!("{}: {error}", socket.id());
//!     });
//!     let socket = socket.clone();
//!     tokio::spawn(async move {
//!         // The answer's type (u64) comes from the map.
//!         let time = socket.emit_with_ack(ServerToClient::Ping, Duration::from_secs(5)).await;
//!         println!("client time: {time:?}");
//!     });
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! let server = io.untyped().clone();
//! tokio::spawn(async move { server.serve(listener).await });
//!
//! // The client receives ServerToClient and sends ClientToServer.
//! let client = TypedClientBuilder::<ServerToClient, ClientToServer>::new(
//!     ClientBuilder::new("http://127.0.0.1:3000"),
//! )
//! .on_event(|_socket, event| async move {
//!     match event {
//!         ServerToClient::PlayerMoved(id, at) => println!("{id} moved to {at:?}"),
//!         ServerToClient::Snapshot(png) => println!("{} bytes", png.len()),
//!         ServerToClient::Ping(ack) => {
//!             let _ = ack.send(&1_700_000_000_000);
//!         }
//!     }
//! })
//! .connect()
//! .await?;
//! client.emit(&ClientToServer::Move(Location { x: 1.0, y: 2.0 }))?;
//! let worked: bool = client
//!     .emit_with_ack(|ack| ClientToServer::Command("wave".into(), ack), Duration::from_secs(5))
//!     .await?;
//! # let _ = worked;
//! # Ok(())
//! # }
//! ```
//!
//! # Declaring a map
//!
//! ```text
//! event_map! {
//!     /// docs and attributes (#[derive(Debug, Clone, PartialEq)] ...) of the enum
//!     pub enum Name {
//!         /// docs and attributes of the variant
//!         Variant(arg: Type, other: Type2) = "wireName",
//!         NoArgs() = "noArgs",
//!         Acknowledged(arg: Type) = "acknowledged" => AnswerType,
//!     }
//!     // more enums...
//! }
//! ```
//!
//! The argument names only document the arguments (like the parameter names of a TypeScript
//! signature); the variants are tuple variants. Argument and answer types must implement both
//! `Serialize` and `Deserialize`, since a map is used to send on one side and to receive on
//! the other. An answer type follows the rules of [`sio_core::value::read_args`]: a tuple is
//! several answer arguments, `()` none, anything else one. A map needs at least one event; a
//! direction without events is [`NoEvents`].
//!
//! What is checked at compile time: event names (variants), argument types and their number,
//! answer types (an [`Ack<R>`] only sends `R`, and `emit_with_ack` returns the `R` of the
//! variant it builds), and the direction (a server's `emit` takes only the outgoing map).
//! What cannot be: that the peer is written against the same map; payloads that do not fit go
//! to the fallback. An event declared with an answer but received without an ack request gets
//! an [`Ack`] whose `send` fails with [`AckSendError::NotRequested`].

mod client;
mod server;

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::{Serialize, Serializer};
use sio_core::value::ValueError;

pub use client::{TypedClient, TypedClientBuilder, TypedClientSocket};
pub use server::{TypedBroadcast, TypedIo, TypedSocket};

/// An event map: the closed set of events of one direction, as an enum (declare one with
/// [`event_map!`](crate::event_map), which implements this trait).
pub trait EventMap: Sized + Send + 'static {
    /// The wire names of the events, in declaration order.
    const EVENTS: &'static [&'static str];

    /// The wire name of this event.
    fn name(&self) -> &'static str;

    /// Whether this event is declared with an answer (`=> R`).
    fn expects_ack(&self) -> bool;

    /// Serialize the arguments of this event as a tuple (one element per argument; the
    /// [`Ack`] field is not an argument).
    fn serialize_args<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error>;

    /// Decode event `name` from its JSON array `json` (the name first, then the arguments,
    /// binary values as placeholders into `attachments`). `ack` answers the event when it
    /// expects an answer.
    ///
    /// # Errors
    ///
    /// [`DecodeError::UnknownEvent`] when no event of the map is called `name`,
    /// [`DecodeError::InvalidPayload`] when the arguments do not fit the event's types.
    fn read<A: Responder>(
        name: &str,
        json: &[u8],
        attachments: &[Bytes],
        ack: Option<A>,
    ) -> Result<Self, DecodeError>;

    /// The arguments of this event as one serializable value (a tuple that
    /// [`write_args`](sio_core::value::write_args) spreads), for the untyped APIs:
    /// `socket.emit(event.name(), &event.args())`.
    fn args(&self) -> Args<'_, Self> {
        Args(self)
    }

    /// Append the event's JSON array (`["name", args...]`, binary values as placeholders) to
    /// `out` and its binary values to `attachments`, through
    /// [`write_args`](sio_core::value::write_args).
    ///
    /// # Errors
    ///
    /// When an argument cannot be serialized as JSON; `out` and `attachments` are then left as
    /// they were.
    fn write(&self, out: &mut Vec<u8>, attachments: &mut Vec<Bytes>) -> Result<(), ValueError> {
        sio_core::value::write_args(out, Some(self.name()), &self.args(), attachments)
    }
}

/// The arguments of an event as one [`Serialize`] value: a tuple with one element per
/// argument (see [`EventMap::args`]).
pub struct Args<'a, M>(pub &'a M);

impl<M: EventMap> Serialize for Args<'_, M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_args(serializer)
    }
}

impl<M> std::fmt::Debug for Args<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Args")
    }
}

/// The map of a direction without events: nothing can be sent, and everything received goes
/// to the fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoEvents {}

impl EventMap for NoEvents {
    const EVENTS: &'static [&'static str] = &[];

    fn name(&self) -> &'static str {
        match *self {}
    }

    fn expects_ack(&self) -> bool {
        match *self {}
    }

    fn serialize_args<S: Serializer>(&self, _serializer: S) -> Result<S::Ok, S::Error> {
        match *self {}
    }

    fn read<A: Responder>(
        name: &str,
        _json: &[u8],
        _attachments: &[Bytes],
        _ack: Option<A>,
    ) -> Result<Self, DecodeError> {
        Err(DecodeError::UnknownEvent {
            name: name.to_owned(),
        })
    }
}

/// Why a received event did not decode into the map. It reaches the fallback handler.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// No event of the map has this name.
    UnknownEvent {
        /// The received event name.
        name: String,
    },
    /// The arguments do not fit the event's types (wrong shape, missing argument, bad binary
    /// placeholder).
    InvalidPayload {
        /// The event's wire name.
        event: &'static str,
        /// What did not fit.
        error: ValueError,
    },
}

impl DecodeError {
    /// The received event name.
    pub fn event(&self) -> &str {
        match self {
            Self::UnknownEvent { name } => name,
            Self::InvalidPayload { event, .. } => event,
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownEvent { name } => write!(f, "unknown event {name:?}"),
            Self::InvalidPayload { event, error } => {
                write!(f, "invalid payload for event {event:?}: {error}")
            }
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::UnknownEvent { .. } => None,
            Self::InvalidPayload { error, .. } => Some(error),
        }
    }
}

/// Why an [`Ack`] could not answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum AckSendError {
    /// The peer did not ask for an answer, or a clone of this [`Ack`] already answered.
    NotRequested,
    /// The server could not send the answer.
    Server(crate::EmitError),
    /// The client could not send the answer.
    Client(crate::client::EmitError),
}

impl std::fmt::Display for AckSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotRequested => f.write_str("no acknowledgement was requested"),
            Self::Server(e) => write!(f, "{e}"),
            Self::Client(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for AckSendError {}

/// What answers a received event at the protocol level: the untyped ack senders of the
/// server ([`crate::AckSender`]) and the client ([`crate::client::AckSender`]). [`Ack`] wraps
/// one.
pub trait Responder: Send + 'static {
    /// Answer with `args` (a tuple for several arguments, `()` for none).
    ///
    /// # Errors
    ///
    /// When the answer cannot be serialized or sent.
    fn respond<T: ?Sized + Serialize>(self, args: &T) -> Result<(), AckSendError>;
}

impl Responder for crate::AckSender {
    fn respond<T: ?Sized + Serialize>(self, args: &T) -> Result<(), AckSendError> {
        self.send(args).map_err(AckSendError::Server)
    }
}

impl Responder for crate::client::AckSender {
    fn respond<T: ?Sized + Serialize>(self, args: &T) -> Result<(), AckSendError> {
        self.send(args).map_err(AckSendError::Client)
    }
}

/// A [`Responder`] that never exists: pass `None::<NoResponder>` to [`EventMap::read`] to
/// decode an event that cannot be answered.
#[derive(Debug, Clone, Copy)]
pub enum NoResponder {}

impl Responder for NoResponder {
    fn respond<T: ?Sized + Serialize>(self, _args: &T) -> Result<(), AckSendError> {
        match self {}
    }
}

type AnswerFn<R> = Box<dyn FnOnce(&R) -> Result<(), AckSendError> + Send>;

/// The typed answer to a received event declared with `=> R`: it only sends an `R`.
///
/// It is the last field of such a variant. Received, it answers the peer; built by
/// `emit_with_ack` (which hands one to the variant constructor), it only fixes the answer's
/// type and sends nothing. Clones share one answer: the first `send` answers. Any two acks
/// compare equal, so that events can be compared by their arguments.
pub struct Ack<R> {
    answer: Arc<Mutex<Option<AnswerFn<R>>>>,
}

impl<R> Ack<R> {
    /// An ack that answers nobody: what `emit_with_ack` hands to the variant constructor.
    pub(crate) fn detached() -> Self {
        Ack {
            answer: Arc::new(Mutex::new(None)),
        }
    }

    /// An ack answering through `responder` (none: the peer did not ask for an answer). The
    /// code that [`event_map!`](crate::event_map) generates calls it.
    pub fn from_responder<A: Responder>(responder: Option<A>) -> Self
    where
        R: Serialize,
    {
        let answer = responder.map(|r| -> AnswerFn<R> { Box::new(move |v: &R| r.respond(v)) });
        Ack {
            answer: Arc::new(Mutex::new(answer)),
        }
    }

    /// Whether the peer waits for this answer (it asked for one, and it was not sent yet).
    pub fn requested(&self) -> bool {
        self.answer.lock().expect("ack lock").is_some()
    }

    /// Answer the peer with `answer`.
    ///
    /// # Errors
    ///
    /// [`AckSendError::NotRequested`] when the peer did not ask for an answer or a clone
    /// already answered; otherwise when the answer cannot be serialized or sent.
    pub fn send(self, answer: &R) -> Result<(), AckSendError>
    where
        R: Serialize,
    {
        let f = self.answer.lock().expect("ack lock").take();
        match f {
            Some(f) => f(answer),
            None => Err(AckSendError::NotRequested),
        }
    }
}

impl<R> Clone for Ack<R> {
    fn clone(&self) -> Self {
        Ack {
            answer: self.answer.clone(),
        }
    }
}

impl<R> std::fmt::Debug for Ack<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ack")
            .field("requested", &self.requested())
            .finish()
    }
}

impl<R> PartialEq for Ack<R> {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl<R> Eq for Ack<R> {}

/// Phantom marker of the two maps of a typed handle (always `Send`, `Sync`, `Copy`).
type Maps<In, Out> = PhantomData<fn() -> (In, Out)>;

/// What [`event_map!`](crate::event_map) expands to needs these; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use bytes::Bytes;
    pub use serde;

    /// Read the arguments of an event array (the name skipped).
    pub fn read_args<T: serde::de::DeserializeOwned>(
        json: &[u8],
        attachments: &[Bytes],
    ) -> Result<T, sio_core::value::ValueError> {
        sio_core::value::read_args(json, 1, attachments)
    }

    /// Used for `true` when a variant declares an answer type.
    pub const fn has_ack<T: ?Sized>() -> bool {
        true
    }
}

/// Declare event maps: an enum per direction, one variant per event, and its
/// [`EventMap`](crate::typed::EventMap) implementation. See the [`typed`](crate::typed) module
/// for the handles that use them.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use sio_tokio::typed::{EventMap, NoResponder};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// pub struct Location { pub x: f64, pub y: f64 }
///
/// sio_tokio::event_map! {
///     /// What the clients send.
///     #[derive(Debug, PartialEq)]
///     pub enum ClientToServer {
///         /// The player moves (one argument).
///         PlayerMovement(location: Location) = "playerMovement",
///         /// A chat line with an attachment (several arguments, one of them binary).
///         Chat(text: String, file: Option<bytes::Bytes>) = "chat",
///         /// No arguments, answered with a count.
///         Count() = "count" => u32,
///     }
/// }
///
/// let event = ClientToServer::Chat("hi".into(), Some(bytes::Bytes::from_static(b"\x01")));
/// let (mut json, mut binary) = (Vec::new(), Vec::new());
/// event.write(&mut json, &mut binary).unwrap();
/// assert_eq!(json, br#"["chat","hi",{"_placeholder":true,"num":0}]"#);
/// assert_eq!(binary, [bytes::Bytes::from_static(b"\x01")]);
///
/// let back = ClientToServer::read("chat", &json, &binary, None::<NoResponder>).unwrap();
/// assert_eq!(back, event);
/// let unknown = ClientToServer::read("nope", b"[\"nope\"]", &[], None::<NoResponder>);
/// assert!(unknown.is_err());
/// ```
///
/// Syntax: `$(#[attr])* $vis enum Name { $( $(#[attr])* Variant(arg: Type, ...) = "wireName"
/// $(=> AnswerType)? ),+ }`, several enums per invocation. A variant with `=> R` gets a last
/// field [`Ack<R>`](crate::typed::Ack).
#[macro_export]
macro_rules! event_map {
    ($(
        $(#[$meta:meta])*
        $vis:vis enum $map:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident ( $($arg:ident : $ty:ty),* $(,)? ) = $name:literal $(=> $ack:ty)?
            ),+ $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        $vis enum $map {
            $(
                $(#[$vmeta])*
                $variant( $($ty,)* $($crate::typed::Ack<$ack>,)? ),
            )+
        }

        impl $crate::typed::EventMap for $map {
            const EVENTS: &'static [&'static str] = &[$($name),+];

            fn name(&self) -> &'static str {
                match self {
                    $( Self::$variant(..) => $name, )+
                }
            }

            fn expects_ack(&self) -> bool {
                match self {
                    $(
                        Self::$variant(..) => {
                            false $(|| $crate::typed::__private::has_ack::<$ack>())?
                        }
                    )+
                }
            }

            fn serialize_args<S: $crate::typed::__private::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                match self {
                    $(
                        Self::$variant($($arg,)* ..) => {
                            $crate::typed::__private::serde::Serialize::serialize(
                                &($($arg,)*),
                                serializer,
                            )
                        }
                    )+
                }
            }

            fn read<A: $crate::typed::Responder>(
                name: &str,
                json: &[u8],
                attachments: &[$crate::typed::__private::Bytes],
                ack: ::core::option::Option<A>,
            ) -> ::core::result::Result<Self, $crate::typed::DecodeError> {
                let _ = &ack;
                match name {
                    $(
                        $name => {
                            let ($($arg,)*): ($($ty,)*) =
                                $crate::typed::__private::read_args(json, attachments).map_err(
                                    |error| $crate::typed::DecodeError::InvalidPayload {
                                        event: $name,
                                        error,
                                    },
                                )?;
                            ::core::result::Result::Ok(Self::$variant(
                                $($arg,)*
                                $($crate::typed::Ack::<$ack>::from_responder(ack),)?
                            ))
                        }
                    )+
                    _ => ::core::result::Result::Err($crate::typed::DecodeError::UnknownEvent {
                        name: ::std::borrow::ToOwned::to_owned(name),
                    }),
                }
            }
        }
    )*};
}

pub use crate::event_map;
