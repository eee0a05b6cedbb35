//! HTTP long-polling payloads: several Engine.IO packets in one body.
//!
//! Packets are joined by the record separator `\x1e`. Text packets appear as they would in a
//! WebSocket message; binary messages appear as `b` followed by their base64 encoding.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::packet::{DecodeError, Frame, Packet};
use crate::limits::Limits;

/// The record separator between packets of a polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// Node decodes base64 leniently (padding optional); so do we. Encoding always pads.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Number of bytes [`encode`] produces for these frames.
pub fn encoded_len(frames: &[Frame]) -> usize {
    let seps = frames.len().saturating_sub(1);
    seps + frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => 1 + base64::encoded_len(b.len(), true).unwrap_or(usize::MAX),
        })
        .sum::<usize>()
}

/// Encode frames as one polling body.
pub fn encode(frames: &[Frame]) -> Bytes {
    let mut out = BytesMut::with_capacity(encoded_len(frames));
    encode_into(frames, &mut out);
    out.freeze()
}

/// Append the polling body for `frames` to `out`.
pub fn encode_into(frames: &[Frame], out: &mut BytesMut) {
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.put_u8(SEPARATOR);
        }
        match frame {
            Frame::Text(s) => out.extend_from_slice(s.as_bytes()),
            Frame::Binary(b) => {
                out.put_u8(b'b');
                let start = out.len();
                let n = base64::encoded_len(b.len(), true).unwrap_or(0);
                out.resize(start + n, 0);
                let written = STANDARD
                    .encode_slice(b, &mut out[start..])
                    .expect("buffer sized by encoded_len");
                debug_assert_eq!(written, n);
            }
        }
    }
}

/// Decode a polling body into its packets.
///
/// The body must be UTF-8 (polling bodies are `text/plain`), no larger than
/// `limits.max_payload`, and every packet in it must be valid.
pub fn decode(body: Bytes, limits: &Limits) -> Result<Vec<Packet>, DecodeError> {
    if body.len() > limits.max_payload {
        return Err(DecodeError::TooLarge {
            len: body.len(),
            max: limits.max_payload,
        });
    }
    if body.is_empty() {
        return Err(DecodeError::Empty);
    }
    let text = ByteString::try_from(body).map_err(|_| DecodeError::InvalidUtf8)?;
    let mut packets = Vec::new();
    // The separator is ASCII, so every split point is a char boundary.
    for part in text.split('\x1e') {
        packets.push(decode_part(text.slice_ref(part), limits)?);
    }
    Ok(packets)
}

fn decode_part(part: ByteString, limits: &Limits) -> Result<Packet, DecodeError> {
    match part.as_bytes().first() {
        Some(b'b') => {
            let bytes = LENIENT
                .decode(&part.as_bytes()[1..])
                .map_err(|_| DecodeError::InvalidBase64)?;
            Ok(Packet::Binary(Bytes::from(bytes)))
        }
        _ => Packet::decode_text(part, limits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &'static str) -> Frame {
        Frame::Text(ByteString::from_static(s))
    }

    // The examples of the Engine.IO v4 specification, "Payload encoding".
    #[test]
    fn spec_examples_both_directions() {
        let frames = [t("4hello"), t("2"), t("6")];
        let body = "4hello\x1e2\x1e6";
        assert_eq!(encode(&frames), Bytes::from_static(body.as_bytes()));
        assert_eq!(
            decode(Bytes::from_static(body.as_bytes()), &Limits::DEFAULT).unwrap(),
            vec![
                Packet::Message(ByteString::from_static("hello")),
                Packet::Ping(ByteString::new()),
                Packet::Noop,
            ]
        );

        let frames = [
            t("4hello"),
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        ];
        let body = "4hello\x1ebAQIDBA==";
        assert_eq!(encode(&frames), Bytes::from_static(body.as_bytes()));
        assert_eq!(
            decode(Bytes::from_static(body.as_bytes()), &Limits::DEFAULT).unwrap(),
            vec![
                Packet::Message(ByteString::from_static("hello")),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            ]
        );
        assert_eq!(encoded_len(&frames), body.len());
    }

    #[test]
    fn unpadded_base64_is_accepted() {
        assert_eq!(
            decode(Bytes::from_static(b"bAQIDBA"), &Limits::DEFAULT).unwrap(),
            vec![Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]))]
        );
    }

    #[test]
    fn errors_are_typed() {
        let d = |b: &'static [u8]| decode(Bytes::from_static(b), &Limits::DEFAULT);
        assert_eq!(d(b""), Err(DecodeError::Empty));
        assert_eq!(d(b"4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(d(b"4a\x1e9"), Err(DecodeError::UnknownType(b'9')));
        assert_eq!(d(b"b!!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(d(b"4\xff"), Err(DecodeError::InvalidUtf8));
        let small = Limits {
            max_payload: 4,
            ..Limits::DEFAULT
        };
        assert_eq!(
            decode(Bytes::from_static(b"4hello"), &small),
            Err(DecodeError::TooLarge { len: 6, max: 4 })
        );
    }
}
