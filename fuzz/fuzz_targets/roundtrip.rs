//! Whatever decodes (Engine.IO packet, payload, Socket.IO packet) re-encodes to the same.
//!
//! The input encoding and the checks are in `../checks.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::roundtrip(data));
