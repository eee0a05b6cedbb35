//! Socket.IO v5: packets and binary attachments.

pub mod binary;
mod json_check;
pub mod packet;

pub use binary::Decoder;
pub use packet::{
    event_args_of, DecodeError, Encoded, Packet, PacketType, DEFAULT_NAMESPACE, RESERVED_EVENTS,
};
