//! # sio-async-std
//!
//! The async-std / smol runtime of the sio stack, with the same public API as `sio-tokio`,
//! over futures-io and async-tungstenite. It holds no protocol logic: that lives in
//! [`sio_core`]. Until the server state machine of the core lands, this crate only re-exports it.
#![forbid(unsafe_code)]

pub use sio_core as core;
