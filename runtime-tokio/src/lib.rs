//! # sio-tokio
//!
//! The tokio runtime of the sio stack: it attaches the [`sio_core`] protocol core to real
//! sockets (hyper for HTTP long-polling, tokio-tungstenite for WebSocket) and holds no
//! protocol logic of its own. The server and client arrive with the server state machine of
//! the core; until then this crate only re-exports the core.
#![forbid(unsafe_code)]

pub use sio_core as core;
