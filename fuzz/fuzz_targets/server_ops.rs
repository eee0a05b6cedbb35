//! The Socket.IO server state machine driven by an `arbitrary` sequence of operations.
//!
//! The operations and the invariants are in `../server_ops.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../server_ops.rs"]
mod server_ops;

fuzz_target!(|data: &[u8]| server_ops::server_ops(data));
