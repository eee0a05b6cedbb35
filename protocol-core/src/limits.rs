//! Size limits that every decoder enforces.

/// Bounds applied by the decoders. Input beyond any of them is rejected with a typed error
/// before it is buffered or allocated for.
///
/// The defaults follow the Node reference server: `max_payload` is engine.io's
/// `maxHttpBufferSize` (1 MB), which it also announces to clients as `maxPayload`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted transport message: one WebSocket message or one HTTP polling body, in bytes.
    pub max_payload: usize,
    /// Most binary attachments a single Socket.IO packet may announce.
    pub max_attachments: usize,
    /// Longest accepted namespace name, in bytes.
    pub max_namespace_len: usize,
}

impl Limits {
    /// Node's defaults: 1 MB payloads, 1000 attachments, 1 KiB namespace names.
    pub const DEFAULT: Limits = Limits {
        max_payload: 1_000_000,
        max_attachments: 1000,
        max_namespace_len: 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
