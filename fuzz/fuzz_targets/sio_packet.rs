//! The text of one Socket.IO packet (without the Engine.IO `4`).
//!
//! The input encoding and the checks are in `../checks.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| checks::sio_packet(data));
