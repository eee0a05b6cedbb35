//! Engine.IO v4 packets and their single-message encoding (one WebSocket message).
//!
//! A packet is a type digit followed by its data. Text packets travel as WebSocket text
//! messages (`4hello`); a binary message travels as a raw binary WebSocket message with no
//! type prefix. Inside a polling payload, binary messages are `b` + base64 (see
//! [`payload`](super::payload)).

use bytes::Bytes;
use bytestring::ByteString;

use crate::limits::Limits;

/// The seven Engine.IO packet types, with their wire digit as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// `0`: handshake, sent by the server with the session parameters.
    Open = 0,
    /// `1`: the transport may be closed.
    Close = 1,
    /// `2`: heartbeat request (server to client), or `2probe` during an upgrade.
    Ping = 2,
    /// `3`: heartbeat answer, or `3probe` during an upgrade.
    Pong = 3,
    /// `4`: an application message, text or binary.
    Message = 4,
    /// `5`: completes the upgrade to WebSocket.
    Upgrade = 5,
    /// `6`: no operation; flushes a parked polling request during an upgrade.
    Noop = 6,
}

impl PacketType {
    /// The packet type for a wire digit (`b'0'..=b'6'`).
    pub fn from_digit(d: u8) -> Option<Self> {
        Some(match d {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this type.
    pub fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

/// One Engine.IO packet.
///
/// Text data is kept as [`ByteString`] so that decoding slices the received message instead
/// of copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// The handshake; its data is the JSON of [`OpenPacket`](super::handshake::OpenPacket).
    Open(ByteString),
    /// Close the session.
    Close,
    /// Heartbeat or probe; data is empty or `probe`.
    Ping(ByteString),
    /// Heartbeat answer or probe answer; data is empty or `probe`.
    Pong(ByteString),
    /// A text message.
    Message(ByteString),
    /// A binary message.
    Binary(Bytes),
    /// Upgrade complete.
    Upgrade,
    /// No operation.
    Noop,
}

/// Why an Engine.IO packet or payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The message or payload was empty, or one packet of a payload was.
    Empty,
    /// The first byte is not a known packet type digit.
    UnknownType(u8),
    /// A text message or polling body is not valid UTF-8.
    InvalidUtf8,
    /// A `b`-prefixed polling packet is not valid base64.
    InvalidBase64,
    /// The input is larger than [`Limits::max_payload`].
    TooLarge {
        /// Size of the input in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("empty engine.io packet"),
            Self::UnknownType(b) => write!(f, "unknown engine.io packet type byte {b:#04x}"),
            Self::InvalidUtf8 => f.write_str("engine.io text is not valid UTF-8"),
            Self::InvalidBase64 => f.write_str("engine.io binary packet is not valid base64"),
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "engine.io payload of {len} bytes exceeds the limit of {max}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// One encoded Engine.IO packet, ready to be sent as one WebSocket message.
///
/// A broadcast encodes its frames once and clones them (a reference count) per recipient.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A text message: type digit followed by the data.
    Text(ByteString),
    /// A binary message (an Engine.IO `message` packet with binary data, no prefix).
    Binary(Bytes),
}

impl Frame {
    /// Length of the frame's bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the frame has no bytes (never true for a well-formed packet).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decode this frame as one packet (a WebSocket message).
    pub fn decode(self, limits: &Limits) -> Result<Packet, DecodeError> {
        match self {
            Frame::Text(s) => Packet::decode_text(s, limits),
            Frame::Binary(b) => Packet::decode_binary(b, limits),
        }
    }
}

impl Packet {
    /// The type of this packet. Binary data is a [`PacketType::Message`].
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }

    /// Decode a text WebSocket message (or one text packet of a polling payload).
    ///
    /// Data after the type digit of `close`, `upgrade` and `noop` is ignored, as Node does.
    pub fn decode_text(text: ByteString, limits: &Limits) -> Result<Packet, DecodeError> {
        if text.len() > limits.max_payload {
            return Err(DecodeError::TooLarge {
                len: text.len(),
                max: limits.max_payload,
            });
        }
        let first = *text.as_bytes().first().ok_or(DecodeError::Empty)?;
        let ty = PacketType::from_digit(first).ok_or(DecodeError::UnknownType(first))?;
        // The first byte is an ASCII digit, so index 1 is a char boundary.
        let data = || text.slice_ref(&text[1..]);
        Ok(match ty {
            PacketType::Open => Packet::Open(data()),
            PacketType::Close => Packet::Close,
            PacketType::Ping => Packet::Ping(data()),
            PacketType::Pong => Packet::Pong(data()),
            PacketType::Message => Packet::Message(data()),
            PacketType::Upgrade => Packet::Upgrade,
            PacketType::Noop => Packet::Noop,
        })
    }

    /// Decode text that has not been checked for UTF-8 yet.
    pub fn decode_text_bytes(bytes: Bytes, limits: &Limits) -> Result<Packet, DecodeError> {
        if bytes.len() > limits.max_payload {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: limits.max_payload,
            });
        }
        let text = ByteString::try_from(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        Self::decode_text(text, limits)
    }

    /// Decode a binary WebSocket message: always a binary [`Packet::Binary`] message.
    pub fn decode_binary(bytes: Bytes, limits: &Limits) -> Result<Packet, DecodeError> {
        if bytes.len() > limits.max_payload {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: limits.max_payload,
            });
        }
        Ok(Packet::Binary(bytes))
    }

    /// Encode as one WebSocket message.
    pub fn encode(&self) -> Frame {
        let (ty, data) = match self {
            Packet::Binary(b) => return Frame::Binary(b.clone()),
            Packet::Open(d) => (PacketType::Open, d.as_ref()),
            Packet::Ping(d) => (PacketType::Ping, d.as_ref()),
            Packet::Pong(d) => (PacketType::Pong, d.as_ref()),
            Packet::Message(d) => (PacketType::Message, d.as_ref()),
            Packet::Close => (PacketType::Close, ""),
            Packet::Upgrade => (PacketType::Upgrade, ""),
            Packet::Noop => (PacketType::Noop, ""),
        };
        Frame::Text(text_frame(ty, data))
    }
}

/// Build a text frame: the type digit followed by `data`.
pub fn text_frame(ty: PacketType, data: &str) -> ByteString {
    let mut buf = String::with_capacity(1 + data.len());
    buf.push(char::from(ty.digit()));
    buf.push_str(data);
    ByteString::from(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &'static str) -> Result<Packet, DecodeError> {
        Packet::decode_text(ByteString::from_static(s), &Limits::DEFAULT)
    }

    fn enc(p: &Packet) -> Frame {
        p.encode()
    }

    fn text(s: &'static str) -> Frame {
        Frame::Text(ByteString::from_static(s))
    }

    // The examples of the Engine.IO v4 specification, "Packet encoding".
    #[test]
    fn spec_examples_both_directions() {
        let open = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let cases: Vec<(&'static str, Packet)> = vec![
            (open, Packet::Open(ByteString::from_static(&open[1..]))),
            ("1", Packet::Close),
            ("2", Packet::Ping(ByteString::new())),
            ("3", Packet::Pong(ByteString::new())),
            ("2probe", Packet::Ping(ByteString::from_static("probe"))),
            ("3probe", Packet::Pong(ByteString::from_static("probe"))),
            ("4hello", Packet::Message(ByteString::from_static("hello"))),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (wire, packet) in cases {
            assert_eq!(dec(wire).unwrap(), packet, "decode {wire}");
            assert_eq!(enc(&packet), text(wire), "encode {wire}");
        }
        let bin = Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]));
        assert_eq!(
            bin.encode(),
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]))
        );
        assert_eq!(
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 4]))
                .decode(&Limits::DEFAULT)
                .unwrap(),
            bin
        );
    }

    #[test]
    fn errors_are_typed() {
        assert_eq!(dec(""), Err(DecodeError::Empty));
        assert_eq!(dec("7"), Err(DecodeError::UnknownType(b'7')));
        assert_eq!(dec("x"), Err(DecodeError::UnknownType(b'x')));
        let invalid = Bytes::from_static(&[b'4', 0xff, 0xfe]);
        assert_eq!(
            Packet::decode_text_bytes(invalid, &Limits::DEFAULT),
            Err(DecodeError::InvalidUtf8)
        );
        let small = Limits {
            max_payload: 3,
            ..Limits::DEFAULT
        };
        assert_eq!(
            Packet::decode_text(ByteString::from_static("4abc"), &small),
            Err(DecodeError::TooLarge { len: 4, max: 3 })
        );
        assert_eq!(
            Packet::decode_binary(Bytes::from_static(b"abcd"), &small),
            Err(DecodeError::TooLarge { len: 4, max: 3 })
        );
    }

    #[test]
    fn data_after_close_upgrade_noop_is_ignored() {
        assert_eq!(dec("1x").unwrap(), Packet::Close);
        assert_eq!(dec("5x").unwrap(), Packet::Upgrade);
        assert_eq!(dec("6x").unwrap(), Packet::Noop);
    }

    #[test]
    fn decoding_shares_the_buffer() {
        let wire = ByteString::from(String::from("4hello world"));
        let p = Packet::decode_text(wire.clone(), &Limits::DEFAULT).unwrap();
        let Packet::Message(m) = p else {
            panic!("not a message")
        };
        assert_eq!(m.as_bytes().as_ptr(), wire.as_bytes()[1..].as_ptr());
    }
}
