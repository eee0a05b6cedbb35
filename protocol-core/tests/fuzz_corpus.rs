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

/// The corpus seeds decode as the fuzz targets expect: the spec examples are accepted.
#[test]
fn spec_seeds_are_accepted() {
    use sio_core::{engine, socket, ByteString, Bytes, Limits};
    for (target, _) in TARGETS {
        let dir = Path::new(CORPUS).join(target);
        for entry in std::fs::read_dir(&dir).expect("corpus directory") {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("spec-") {
                continue;
            }
            let data = std::fs::read(&path).expect("readable");
            let ok = match target {
                "eio_packet" => {
                    engine::Packet::decode_text_bytes(Bytes::from(data), &Limits::DEFAULT).is_ok()
                }
                "eio_payload" => {
                    engine::payload::decode(Bytes::from(data), &Limits::DEFAULT).is_ok()
                }
                "sio_packet" => {
                    let text = ByteString::try_from(Bytes::from(data)).expect("UTF-8");
                    socket::Packet::decode(&text, &Limits::DEFAULT).is_ok()
                }
                _ => {
                    // Sequences: every message is accepted and the last completes a packet
                    // (or is an Engine.IO packet, for the Engine.IO seeds of `roundtrip`).
                    let mut decoder = socket::Decoder::new(Limits::DEFAULT);
                    let mut complete = Ok(false);
                    for m in checks::messages(&data) {
                        let packet = match m {
                            checks::Message::Text(t) => engine::Packet::decode_text_bytes(
                                Bytes::copy_from_slice(t),
                                &Limits::DEFAULT,
                            ),
                            checks::Message::Binary(b) => engine::Packet::decode_binary(
                                Bytes::copy_from_slice(b),
                                &Limits::DEFAULT,
                            ),
                        }
                        .expect("engine packet");
                        complete = match packet {
                            engine::Packet::Message(text) => {
                                decoder.decode_text(&text).map(|p| p.is_some())
                            }
                            engine::Packet::Binary(data) => {
                                decoder.decode_binary(data).map(|p| p.is_some())
                            }
                            _ => Ok(true),
                        };
                        if complete.is_err() {
                            break;
                        }
                    }
                    complete == Ok(true)
                }
            };
            assert!(ok, "{target}/{name} is refused");
        }
    }
}
