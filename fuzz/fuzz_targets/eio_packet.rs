//! One WebSocket message, decoded as a text and as a binary Engine.IO message.
//!
//! The input encoding and the checks are in `../checks.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::eio_packet(data));
