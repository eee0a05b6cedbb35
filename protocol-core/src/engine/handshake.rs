//! The Engine.IO open packet and the JSON error body of rejected HTTP requests.

use serde::{Deserialize, Serialize};

/// The data of the `open` packet: exactly the five keys of the v4 handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// The session id.
    pub sid: String,
    /// Transports the client may upgrade to: `["websocket"]` over polling, `[]` over WebSocket.
    pub upgrades: Vec<String>,
    /// Milliseconds between two pings of the server.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong.
    pub ping_timeout: u64,
    /// Largest payload the server accepts, in bytes.
    pub max_payload: u64,
}

impl OpenPacket {
    /// The JSON text of this packet (without the `0` type digit).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain struct serializes")
    }

    /// Parse the JSON text of an open packet. Unknown keys are ignored, as clients do.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The error codes of rejected Engine.IO HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    /// 0: the `transport` query parameter is missing or unknown.
    UnknownTransport = 0,
    /// 1: the `sid` is unknown (or no longer valid for this transport).
    UnknownSid = 1,
    /// 2: a handshake with a method other than GET.
    BadHandshakeMethod = 2,
    /// 3: a malformed request (second concurrent poll, bad body, ...).
    BadRequest = 3,
    /// 4: refused by the application (`allowRequest`).
    Forbidden = 4,
    /// 5: the `EIO` query parameter is not `4`.
    UnsupportedProtocolVersion = 5,
}

impl ErrorCode {
    /// Every code, in order.
    pub const ALL: [ErrorCode; 6] = [
        Self::UnknownTransport,
        Self::UnknownSid,
        Self::BadHandshakeMethod,
        Self::BadRequest,
        Self::Forbidden,
        Self::UnsupportedProtocolVersion,
    ];

    /// The code for its number.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The message Node's engine.io sends with this code.
    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSid => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::Forbidden => "Forbidden",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The HTTP status: 403 for [`ErrorCode::Forbidden`], 400 otherwise.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Forbidden => 403,
            _ => 400,
        }
    }

    /// The JSON body `{"code":N,"message":"..."}`.
    pub fn body(self) -> String {
        serde_json::to_string(&ErrorBody {
            code: self.code(),
            message: self.message().to_owned(),
        })
        .expect("plain struct serializes")
    }
}

/// The JSON body of a rejected Engine.IO HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The numeric [`ErrorCode`].
    pub code: u8,
    /// A human-readable message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_packet_has_exactly_the_five_keys() {
        let p = OpenPacket {
            sid: "lv_VI97HAXpY6yYWAAAC".into(),
            upgrades: vec!["websocket".into()],
            ping_interval: 25000,
            ping_timeout: 20000,
            max_payload: 1000000,
        };
        let json = p.to_json();
        assert_eq!(
            json,
            r#"{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        assert_eq!(OpenPacket::from_json(&json).unwrap(), p);
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(v.len(), 5);
    }

    #[test]
    fn error_bodies_match_node() {
        assert_eq!(
            ErrorCode::UnknownTransport.body(),
            r#"{"code":0,"message":"Transport unknown"}"#
        );
        assert_eq!(
            ErrorCode::UnknownSid.body(),
            r#"{"code":1,"message":"Session ID unknown"}"#
        );
        assert_eq!(ErrorCode::Forbidden.http_status(), 403);
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(c.code() as usize, i);
            assert_eq!(ErrorCode::from_code(i as u8), Some(*c));
            let b: ErrorBody = serde_json::from_str(&c.body()).unwrap();
            assert_eq!(b.code as usize, i);
        }
        assert_eq!(ErrorCode::from_code(6), None);
    }
}
