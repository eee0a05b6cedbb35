//! The `server_ops` fuzz target's checks (`fuzz/server_ops.rs`) on stable Rust: seeded random
//! inputs, and hand-written operation sequences that reach deep states at once.

#[path = "../../fuzz/server_ops.rs"]
mod server_ops;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use server_ops::{Config, Input, Msg, Op};

fn config() -> Config {
    Config {
        dynamic_namespaces: true,
        small_payload: false,
        buffered: 20,
        allow_upgrades: true,
        preamble: false,
    }
}

fn connected() -> Vec<Op> {
    server_ops::preamble()
}

#[test]
fn seeded_random_inputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x5e_ed);
    for _ in 0..400 {
        let len = (rng.next_u32() % 2048) as usize;
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        server_ops::server_ops(&data);
    }
    // Random bytes mostly make short, shallow runs; arbitrary operations decoded from an
    // rng go deeper.
    let mut total = server_ops::Summary::default();
    for _ in 0..100 {
        let mut data = vec![0u8; 4096];
        rng.fill_bytes(&mut data);
        let mut u = arbitrary::Unstructured::new(&data);
        let mut ops = connected();
        while let Ok(op) = <Op as arbitrary::Arbitrary>::arbitrary(&mut u) {
            if ops.len() > 120 {
                break;
            }
            ops.push(op);
        }
        let s = server_ops::run(Input {
            config: config(),
            ops,
        });
        total.accepted += s.accepted;
        total.delivered += s.delivered;
    }
    assert!(total.accepted >= 800 && total.delivered >= 400, "{total:?}");
}

#[test]
fn connected_clients_and_every_command() {
    let mut ops = connected();
    ops.extend([
        Op::Emit {
            nsp: 0,
            rooms: 0,
            except: 0b010,
            except_socket: Some(1),
            binary: true,
            volatile: false,
        },
        Op::Emit {
            nsp: 1,
            rooms: 0b011,
            except: 0,
            except_socket: None,
            binary: false,
            volatile: true,
        },
        Op::EmitWithAck {
            socket: 2,
            timeout: 100,
            volatile: false,
        },
        Op::BroadcastWithAck {
            nsp: 0,
            rooms: 0,
            timeout: 300,
        },
        Op::Ws {
            conn: 2,
            probe: false,
            msg: Msg::Event {
                nsp: 0,
                ack: Some(3),
                arg: 1,
            },
        },
        Op::AckReply { n: 0, binary: true },
        Op::Ws {
            conn: 3,
            probe: false,
            msg: Msg::BinaryEvent {
                nsp: 1,
                ack: None,
                attachments: 2,
            },
        },
        Op::Ws {
            conn: 3,
            probe: false,
            msg: Msg::Attachment(vec![1, 2]),
        },
        Op::Ws {
            conn: 3,
            probe: false,
            msg: Msg::Attachment(vec![]),
        },
        Op::Leave { socket: 1, room: 1 },
        Op::Advance { ms: 250 },
        Op::Get { conn: 0 },
        Op::Get { conn: 1 },
        Op::StartUpgrade { conn: 1 },
        Op::Ws {
            conn: 1,
            probe: true,
            msg: Msg::Probe,
        },
        Op::Emit {
            nsp: 0,
            rooms: 0,
            except: 0,
            except_socket: None,
            binary: true,
            volatile: false,
        },
        Op::Ws {
            conn: 1,
            probe: true,
            msg: Msg::Upgrade,
        },
        Op::Disconnect {
            socket: 0,
            close: false,
        },
        Op::Disconnect {
            socket: 5,
            close: true,
        },
        Op::Abort { conn: 0 },
        Op::WsClosed {
            conn: 2,
            probe: false,
            error: true,
        },
        Op::Advance { ms: 5000 },
        Op::CloseAll,
    ]);
    let summary = server_ops::run(Input {
        config: config(),
        ops,
    });
    assert_eq!(summary.accepted, 8, "{summary:?}");
    assert_eq!(summary.disconnected, 8, "{summary:?}");
    assert!(summary.delivered >= 20, "{summary:?}");
    assert_eq!(summary.messages, 2, "{summary:?}");
}

#[test]
fn misbehaving_clients() {
    let mut ops = connected();
    ops.extend([
        Op::PostRaw {
            conn: 0,
            body: b"42{}".to_vec(),
        },
        Op::WsRaw {
            conn: 2,
            probe: false,
            text: true,
            data: b"4abc".to_vec(),
        },
        Op::Ws {
            conn: 3,
            probe: false,
            msg: Msg::Event {
                nsp: 2,
                ack: None,
                arg: 0,
            },
        },
        Op::Get { conn: 1 },
        Op::Get { conn: 1 },
        Op::Http {
            method: 1,
            query: "EIO=4&transport=polling".into(),
            body: vec![],
        },
        Op::Advance { ms: 2000 },
    ]);
    let summary = server_ops::run(Input {
        config: config(),
        ops,
    });
    assert_eq!(summary.accepted, 8, "{summary:?}");
    assert_eq!(summary.messages, 0, "{summary:?}");
}

#[test]
fn invalid_event_data_from_the_application_never_reaches_clients() {
    for data in [
        r#"["x""#,
        r#"["x",]"#,
        r#"["x"] trailing"#,
        r#"["connect",1]"#,
        "[]",
        "{}",
    ] {
        let mut ops = connected();
        ops.push(Op::EmitRaw {
            nsp: 0,
            data: data.into(),
        });
        ops.push(Op::AckRaw {
            n: 0,
            data: data.into(),
        });
        ops.push(Op::Get { conn: 0 });
        let summary = server_ops::run(Input {
            config: config(),
            ops,
        });
        assert_eq!(summary.accepted, 8, "{summary:?}");
    }
}

#[test]
fn full_buffers_close_only_their_connection() {
    let mut config = config();
    config.buffered = 2;
    let mut ops = connected();
    for _ in 0..6 {
        ops.push(Op::Emit {
            nsp: 0,
            rooms: 0,
            except: 0,
            except_socket: None,
            binary: true,
            volatile: false,
        });
    }
    ops.push(Op::Advance { ms: 1000 });
    let summary = server_ops::run(Input { config, ops });
    assert_eq!(summary.accepted, 8, "{summary:?}");
    assert!(summary.disconnected >= 2, "{summary:?}");
}

/// The committed seeds (`fuzz/corpus/server_ops/`, deep scenarios the fuzzer found) replay
/// cleanly.
#[test]
fn committed_seeds() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/server_ops");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the seed corpus exists")
        .map(|e| e.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {dir}");
    let mut accepted = 0;
    for file in &files {
        let data = std::fs::read(file).expect("readable seed");
        let input = <Input as arbitrary::Arbitrary>::arbitrary_take_rest(
            arbitrary::Unstructured::new(&data),
        )
        .expect("a seed decodes");
        accepted += server_ops::run(input).accepted;
    }
    assert!(
        accepted >= 8 * files.len(),
        "the seeds reach connected clients"
    );
}

/// Connection state recovery: sockets whose connection failed come back on new connections
/// (presenting the `pid` and offsets the server gave, or forged ones), and a CONNECT with
/// the `pid` of a socket whose connection is still open ends only that connection.
#[test]
fn sessions_are_taken_back() {
    let mut config = config();
    config.buffered = 0x80 | 0x30 | 20;
    let mut ops = connected();
    ops.push(Op::Emit {
        nsp: 0,
        rooms: 0,
        except: 0,
        except_socket: None,
        binary: false,
        volatile: false,
    });
    ops.push(Op::WsClosed {
        conn: 2,
        probe: false,
        error: true,
    });
    ops.push(Op::Abort { conn: 0 });
    let mut claims = Vec::new();
    for offset in [0u8, 1, 2, 3, 4] {
        for pid in 0..8u8 {
            claims.push((offset << 3 | pid) << 1);
        }
    }
    for (i, auth) in claims.into_iter().enumerate() {
        let conn = 4 + (i % 2) as u8;
        ops.push(Op::OpenWebSocket { conn });
        for nsp in 0..2 {
            ops.push(Op::Ws {
                conn,
                probe: false,
                msg: Msg::Connect { nsp, auth },
            });
        }
        ops.push(Op::Accept { n: 0 });
        ops.push(Op::Accept { n: 0 });
        ops.push(Op::Emit {
            nsp: 1,
            rooms: 0b001,
            except: 0,
            except_socket: None,
            binary: i % 3 == 0,
            volatile: false,
        });
        if i % 5 == 0 {
            ops.push(Op::WsClosed {
                conn,
                probe: false,
                error: i % 2 == 0,
            });
        }
    }
    ops.push(Op::Advance { ms: 3000 });
    let summary = server_ops::run(Input { config, ops });
    assert!(summary.recovered >= 8, "{summary:?}");
}

/// Seeded random operations with recovery on (offsets on events, journals, sessions): the
/// same invariants hold.
#[test]
fn seeded_random_inputs_with_recovery() {
    let mut rng = ChaCha8Rng::seed_from_u64(0x7ec0);
    let mut total = server_ops::Summary::default();
    for _ in 0..100 {
        let mut data = vec![0u8; 4096];
        rng.fill_bytes(&mut data);
        let mut u = arbitrary::Unstructured::new(&data);
        let mut ops = connected();
        while let Ok(op) = <Op as arbitrary::Arbitrary>::arbitrary(&mut u) {
            if ops.len() > 150 {
                break;
            }
            ops.push(op);
        }
        let mut config = config();
        config.buffered = 0x80 | (rng.next_u32() as u8 & 0x7f);
        let s = server_ops::run(Input { config, ops });
        total.accepted += s.accepted;
    }
    assert!(total.accepted >= 800, "{total:?}");
}
