//! A sequence of WebSocket messages fed to `socket::Decoder`, checked against a model.
//!
//! The input encoding and the checks are in `../checks.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::sio_binary_reassembly(data));
