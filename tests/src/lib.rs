//! Simulation and interoperability tests of the sio stack. The test files live in `tests/`.
//!
//! [`sim`] is the deterministic simulator that the behaviour tests use: a virtual clock, a
//! [`sio_core::server::Server`] and scripted peers wired together in memory. [`app`] holds
//! ready-made application behaviours (the server yields decisions such as CONNECT requests
//! that an application must answer).
#![forbid(unsafe_code)]

pub mod app;
pub mod client_support;
pub mod node;
pub mod recovery_support;
pub mod runtime;
pub mod sim;

pub use app::App;
pub use sim::{
    body_text, http_error, sio_text, test_config, Clock, Peer, PeerId, PeerOptions, Sim,
};
