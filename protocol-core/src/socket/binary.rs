//! Reassembly of binary packets: a BINARY_EVENT or BINARY_ACK announces `n` attachments in
//! its text, and the next `n` binary messages are those attachments, in order.
//!
//! [`Decoder`] is the incremental state machine: feed it every Engine.IO message of a
//! connection; it yields complete packets and otherwise says how many attachments it still
//! needs.

use bytes::Bytes;
use bytestring::ByteString;

use super::packet::{DecodeError, Packet};
use crate::limits::Limits;

/// Decodes the Socket.IO packets of one connection, reassembling binary packets.
#[derive(Debug, Clone)]
pub struct Decoder {
    limits: Limits,
    /// Boxed: every connection has a decoder, few are in the middle of a binary packet.
    pending: Option<Box<Pending>>,
}

#[derive(Debug, Clone)]
struct Pending {
    packet: Packet,
    expected: usize,
    bytes: usize,
}

impl Decoder {
    /// A decoder that enforces `limits`.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            pending: None,
        }
    }

    /// How many attachments the packet being reassembled still needs, if any.
    pub fn pending(&self) -> Option<usize> {
        self.pending
            .as_ref()
            .map(|p| p.expected - p.packet.attachments.len())
    }

    /// Forget a partly reassembled packet (for example when the connection closes).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Feed the text of an Engine.IO message. Returns the packet if it is complete, `None` if
    /// it is a binary packet now waiting for its attachments.
    pub fn decode_text(&mut self, text: &ByteString) -> Result<Option<Packet>, DecodeError> {
        if self.pending.is_some() {
            return Err(DecodeError::UnexpectedText);
        }
        let (packet, expected) = Packet::decode(text, &self.limits)?;
        if !packet.kind.is_binary() {
            return Ok(Some(packet));
        }
        self.step(Box::new(Pending {
            packet,
            expected,
            bytes: text.len(),
        }))
    }

    /// Feed a binary Engine.IO message: the next attachment of the pending packet. Returns the
    /// packet once its last attachment has arrived.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeError> {
        let mut pending = self.pending.take().ok_or(DecodeError::UnexpectedBinary)?;
        pending.bytes += data.len();
        if pending.bytes > self.limits.max_payload {
            return Err(DecodeError::TooLarge {
                len: pending.bytes,
                max: self.limits.max_payload,
            });
        }
        pending.packet.attachments.push(data);
        self.step(pending)
    }

    fn step(&mut self, pending: Box<Pending>) -> Result<Option<Packet>, DecodeError> {
        if pending.packet.attachments.len() < pending.expected {
            self.pending = Some(pending);
            return Ok(None);
        }
        let packet = pending.packet;
        if let Some(data) = &packet.data {
            crate::value::check_placeholders(data.as_bytes(), packet.attachments.len())
                .map_err(|_| DecodeError::InvalidPlaceholder)?;
        }
        Ok(Some(packet))
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Limits::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::packet::PacketType;

    fn bs(s: &str) -> ByteString {
        ByteString::from(s.to_owned())
    }

    #[test]
    fn reassembles_in_order() {
        let mut d = Decoder::default();
        let text = bs(
            r#"52-/admin,7["x",{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]"#,
        );
        assert_eq!(d.decode_text(&text).unwrap(), None);
        assert_eq!(d.pending(), Some(2));
        assert_eq!(d.decode_binary(Bytes::from_static(b"first")).unwrap(), None);
        assert_eq!(d.pending(), Some(1));
        let p = d
            .decode_binary(Bytes::from_static(b"second"))
            .unwrap()
            .unwrap();
        assert_eq!(d.pending(), None);
        assert_eq!(p.kind, PacketType::BinaryEvent);
        assert_eq!(&*p.nsp, "/admin");
        assert_eq!(p.id, Some(7));
        assert_eq!(
            p.attachments,
            vec![Bytes::from_static(b"first"), Bytes::from_static(b"second")]
        );
        // Round trip through the encoder.
        let e = p.encode();
        assert_eq!(&e.text[1..], &*text);
    }

    #[test]
    fn zero_attachments_complete_at_once() {
        let mut d = Decoder::default();
        let p = d.decode_text(&bs(r#"50-["x"]"#)).unwrap().unwrap();
        assert_eq!(p.kind, PacketType::BinaryEvent);
        assert!(p.attachments.is_empty());
    }

    #[test]
    fn unexpected_messages_are_errors() {
        let mut d = Decoder::default();
        assert_eq!(
            d.decode_binary(Bytes::from_static(b"x")),
            Err(DecodeError::UnexpectedBinary)
        );
        d.decode_text(&bs(r#"51-["x",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        assert_eq!(
            d.decode_text(&bs(r#"2["x"]"#)),
            Err(DecodeError::UnexpectedText)
        );
        d.reset();
        assert_eq!(d.pending(), None);
        assert!(d.decode_text(&bs(r#"2["x"]"#)).unwrap().is_some());
    }

    #[test]
    fn placeholder_out_of_range_is_an_error() {
        let mut d = Decoder::default();
        d.decode_text(&bs(r#"51-["x",{"_placeholder":true,"num":1}]"#))
            .unwrap();
        assert_eq!(
            d.decode_binary(Bytes::from_static(b"x")),
            Err(DecodeError::InvalidPlaceholder)
        );
    }

    #[test]
    fn attachments_are_bounded_in_total() {
        let limits = Limits {
            max_payload: 100,
            ..Limits::DEFAULT
        };
        let mut d = Decoder::new(limits);
        d.decode_text(&bs(r#"52-["x",{"_placeholder":true,"num":0}]"#))
            .unwrap();
        let big = Bytes::from(vec![0u8; 40]);
        assert_eq!(d.decode_binary(big.clone()).unwrap(), None);
        assert!(matches!(
            d.decode_binary(big),
            Err(DecodeError::TooLarge { .. })
        ));
    }
}
