//! Interoperability: this project's Rust client (`sio_tokio::client`) against Node's
//! `socket.io` 4.8 server (`tests/js/server.mjs`), every scenario of
//! `sio_tests::client_support` in every transport mode.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

sio_tests::client_interop_tests!(sio_tests::client_support::Peer::Node);
