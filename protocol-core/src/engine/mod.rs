//! Engine.IO v4: packets, polling payloads and the handshake.

pub mod client;
pub mod handshake;
pub mod packet;
pub mod payload;
pub mod server;

pub use handshake::{ErrorBody, ErrorCode, OpenPacket};
pub use packet::{DecodeError, Frame, Packet, PacketType};
pub use server::{
    CloseReason, EngineConfig, EngineError, EngineEvent, EngineServer, HttpResponse, Method,
    RequestId, SessionId, Transmit, TransportKind, WsId,
};
