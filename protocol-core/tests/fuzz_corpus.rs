//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same checks as
//! the fuzz targets, so that CI guards it on stable Rust without cargo-fuzz.

#[path = "../../fuzz/checks.rs"]
mod checks;

use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus");

/// A fuzz target's check.
type Check = fn(&[u8]);

/// Every fuzz target and its check.
const TARGETS: [(&str, Check); 5] = [
    ("eio_packet", checks::eio_packet),
    ("eio_payload", checks::eio_payload),
    ("sio_packet", checks::sio_packet),
    ("sio_binary_reassembly", checks::sio_binary_reassembly),
    ("roundtrip", checks::roundtrip),
];

fn replay(target: &str, check: Check) {
    let dir = Path::new(CORPUS).join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
            eprintln!("{target}: {} fails", file.display());
            std::panic::resume_unwind(panic);
        }
    }
    assert!(
        !files.is_empty(),
        "no corpus for {target} in {}",
        dir.display()
    );
}

#[test]
fn eio_packet_corpus() {
    replay("eio_packet", checks::eio_packet);
}

#[test]
fn eio_payload_corpus() {
    replay("eio_payload", checks::eio_payload);
}

#[test]
fn sio_packet_corpus() {
    replay("sio_packet", checks::sio_packet);
}

#[test]
fn sio_binary_reassembly_corpus() {
    replay("sio_binary_reassembly", checks::sio_binary_reassembly);
}

#[test]
fn roundtrip_corpus() {
    replay("roundtrip", checks::roundtrip);
}

/// Every corpus directory belongs to a fuzz target, and every target checked here has one.
#[test]
fn corpus_directories_match_the_targets() {
    let targets = Path::new(CORPUS).join("../fuzz_targets");
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(CORPUS).expect("fuzz/corpus exists") {
        let entry = entry.expect("directory entry");
        if entry.path().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let source = targets.join(format!("{name}.rs"));
            assert!(
                source.is_file(),
                "corpus/{name} has no {}",
                source.display()
            );
            dirs.push(name);
        }
    }
    for (target, _) in TARGETS {
        assert!(dirs.iter().any(|d| d == target), "no corpus/{target}");
    }
}

/// Whether `data`, a seed of `target`, is accepted with the default limits: every message
/// decodes and, for the sequence targets, the last one completes a packet (or is an
/// Engine.IO packet that carries none).
fn accepted(target: &str, data: &[u8]) -> bool {
    use sio_core::{engine, socket, value, ByteString, Bytes, Limits};
    let limits = Limits::DEFAULT;
    match target {
        "eio_packet" => {
            engine::Packet::decode_text_bytes(Bytes::copy_from_slice(data), &limits).is_ok()
        }
        "eio_payload" => engine::payload::decode(Bytes::copy_from_slice(data), &limits).is_ok(),
        "sio_packet" => {
            let Ok(text) = ByteString::try_from(Bytes::copy_from_slice(data)) else {
                return false;
            };
            match socket::Packet::decode(&text, &limits) {
                // Placeholders are checked once the attachments are there; check them here.
                Ok((packet, announced)) => packet.data.as_ref().is_none_or(|d| {
                    !packet.kind.is_binary()
                        || value::check_placeholders(d.as_bytes(), announced).is_ok()
                }),
                Err(_) => false,
            }
        }
        _ => {
            let mut decoder = socket::Decoder::new(limits);
            let mut complete = false;
            for m in checks::messages(data) {
                let packet = match m {
                    checks::Message::Text(t) => {
                        engine::Packet::decode_text_bytes(Bytes::copy_from_slice(t), &limits)
                    }
                    checks::Message::Binary(b) => {
                        engine::Packet::decode_binary(Bytes::copy_from_slice(b), &limits)
                    }
                };
                let out = match packet {
                    Ok(engine::Packet::Message(text)) => decoder.decode_text(&text),
                    Ok(engine::Packet::Binary(data)) => decoder.decode_binary(data),
                    Ok(_) => Ok(None),
                    Err(_) => return false,
                };
                complete = match out {
                    Ok(packet) => packet.is_some() || decoder.pending().is_none(),
                    Err(_) => return false,
                };
            }
            complete
        }
    }
}

/// The seeds mean what their names say: `spec-*` seeds (the examples of the specifications)
/// are accepted, `invalid-*` seeds are refused.
#[test]
fn seed_names_match_their_outcome() {
    let mut checked = 0;
    for (target, _) in TARGETS {
        let dir = Path::new(CORPUS).join(target);
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).expect("readable");
            if name.starts_with("spec-") {
                assert!(accepted(target, &data), "{target}/{name} is refused");
                checked += 1;
            } else if name.starts_with("invalid-") {
                assert!(!accepted(target, &data), "{target}/{name} is accepted");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} named seeds");
}
