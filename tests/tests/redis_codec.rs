//! The wire codec of `sio-redis` against the bytes the real `@socket.io/redis-adapter` 8.x and
//! `@socket.io/redis-emitter` publish (captured from a real redis-server at test time), and
//! Node decoding this codec's answers. Plus property tests: no input panics the decoder, and
//! what it encodes it decodes.

mod redis_support;

use std::time::Duration;

use futures_util::StreamExt;
use proptest::prelude::*;
use redis_support::{NodeNode, Rec, Redis, WAIT};
use serde_json::{json, Value};
use sio_redis::redis;
use sio_redis::{Channels, CodecError, Decoded, Limits};
use sio_tokio::sio_core::server::{AdapterMessage, RemoteSocket, Request, Response, Selector};
use sio_tokio::sio_core::{ByteString, Bytes};

type Captured = tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>;

/// Subscribe to every channel of the default prefix (and to the request channel, so that Node
/// counts one more server and publishes its requests).
async fn capture(redis: &Redis) -> Captured {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut p = client.get_async_pubsub().await.unwrap();
    p.psubscribe("socket.io#*").await.unwrap();
    p.psubscribe("socket.io-response#*").await.unwrap();
    p.subscribe("socket.io-request#/#").await.unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut s = p.into_on_message();
        while let Some(m) = s.next().await {
            let _ = tx.send((
                m.get_channel_name().to_owned(),
                m.get_payload_bytes().to_vec(),
            ));
        }
    });
    rx
}

async fn next(rx: &mut Captured, prefix: &str) -> (String, Vec<u8>) {
    loop {
        let (c, b) = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("nothing on {prefix}* within 5 s"))
            .expect("capturing");
        if c.starts_with(prefix) {
            return (c, b);
        }
    }
}

fn decode(channel: &str, bytes: &[u8]) -> AdapterMessage {
    match Channels::new("socket.io").decode(channel, bytes, &Limits::default()) {
        Ok(Decoded::Message(m)) => m,
        other => panic!("{channel}: {other:?} from {bytes:02x?}"),
    }
}

fn s(v: &[&str]) -> Vec<ByteString> {
    v.iter().map(|x| ByteString::from(*x)).collect()
}

async fn publish(redis: &Redis, channel: &str, bytes: Vec<u8>) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(channel)
        .arg(bytes)
        .query_async(&mut c)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_bytes_decode_and_node_decodes_ours() {
    let redis = Redis::start().await;
    let mut cap = capture(&redis).await;
    let mut node = NodeNode::start(&redis.url()).await;
    let ch = Channels::new("socket.io");

    // A broadcast to one room, with binary and nested values.
    node.cmd(json!({"op": "emit", "to": ["room1"], "event": "ev",
        "args": [1, "two", {"$binary": "0102ff"}, {"a": [1.5, null, true, -7]}]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io#").await;
    assert_eq!(c, "socket.io#/#room1#");
    let AdapterMessage::Broadcast {
        uid: node_uid,
        nsp,
        data,
        attachments,
        opts,
        volatile,
    } = decode(&c, &b)
    else {
        panic!()
    };
    assert_eq!(nsp, "/");
    let data: Value = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data,
        json!(["ev", 1, "two", {"_placeholder": true, "num": 0}, {"a": [1.5, null, true, -7]}])
    );
    assert_eq!(attachments, vec![Bytes::from_static(&[1, 2, 0xff])]);
    assert_eq!(
        opts,
        Selector {
            rooms: s(&["room1"]),
            except: vec![]
        }
    );
    assert!(!volatile);

    // Re-encoding gives Node's bytes back (same msgpack forms as notepack).
    let again = ch.encode(&decode(&c, &b));
    assert_eq!(again.0, c);
    assert_eq!(again.1, b, "re-encoded differs from notepack's bytes");

    // The whole namespace, except a room, volatile.
    node.cmd(json!({"op": "emit", "except": ["x"], "event": "all", "args": []}))
        .await;
    let (c, b) = next(&mut cap, "socket.io#").await;
    assert_eq!(c, "socket.io#/#");
    let AdapterMessage::Broadcast { opts, uid, .. } = decode(&c, &b) else {
        panic!()
    };
    assert_eq!(uid, node_uid);
    assert_eq!(
        opts,
        Selector {
            rooms: vec![],
            except: s(&["x"])
        }
    );

    // The emitter.
    node.cmd(json!({"op": "emitter", "to": ["room2"], "event": "fromEmitter", "args": ["hi"]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io#").await;
    assert_eq!(c, "socket.io#/#room2#");
    let AdapterMessage::Broadcast { uid, data, .. } = decode(&c, &b) else {
        panic!()
    };
    assert_eq!(uid, "emitter");
    assert_eq!(data, r#"["fromEmitter","hi"]"#);
    node.cmd(json!({"op": "emitterJoin", "to": ["room2"], "rooms": ["joined"]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    assert!(matches!(
        decode(&c, &b),
        AdapterMessage::Request {
            request: Request::Join { .. },
            ..
        }
    ));

    // Remote join, leave, disconnect, server-side emit.
    node.cmd(json!({"op": "join", "to": ["room1"], "except": ["y"], "rooms": ["j1", "j2"]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    assert_eq!(c, "socket.io-request#/#");
    assert_eq!(
        decode(&c, &b),
        AdapterMessage::Request {
            uid: node_uid.clone(),
            nsp: "/".into(),
            request: Request::Join {
                sel: Selector {
                    rooms: s(&["room1"]),
                    except: s(&["y"])
                },
                rooms: s(&["j1", "j2"]),
            }
        }
    );
    node.cmd(json!({"op": "leave", "rooms": ["j1"]})).await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    assert!(matches!(
        decode(&c, &b),
        AdapterMessage::Request {
            request: Request::Leave { .. },
            ..
        }
    ));
    node.cmd(json!({"op": "disconnect", "to": ["gone"], "close": true}))
        .await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    assert_eq!(
        decode(&c, &b),
        AdapterMessage::Request {
            uid: node_uid.clone(),
            nsp: "/".into(),
            request: Request::Disconnect {
                sel: Selector {
                    rooms: s(&["gone"]),
                    except: vec![]
                },
                close: true
            }
        }
    );
    node.cmd(json!({"op": "tell", "event": "tell", "args": [1, "a"]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    assert_eq!(
        decode(&c, &b),
        AdapterMessage::Request {
            uid: node_uid.clone(),
            nsp: "/".into(),
            request: Request::ServerSideEmit {
                id: None,
                data: r#"["tell",1,"a"]"#.into()
            }
        }
    );

    // Requests that wait: this test answers them with the codec, Node takes the answers.
    let id = node.send(json!({"op": "fetch", "to": ["r"]})).await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    let AdapterMessage::Request {
        request: Request::Fetch { id: rid, sel },
        ..
    } = decode(&c, &b)
    else {
        panic!()
    };
    assert_eq!(
        sel,
        Selector {
            rooms: s(&["r"]),
            except: vec![]
        }
    );
    let (rc, rb) = ch.encode(&AdapterMessage::Response {
        nsp: "/".into(),
        request_id: rid,
        response: Response::Sockets(vec![RemoteSocket {
            id: "remote1".into(),
            handshake: r#"{"headers":{},"query":{}}"#.into(),
            rooms: s(&["remote1", "r"]),
            data: "{}".into(),
        }]),
    });
    publish(&redis, &rc, rb).await;
    assert_eq!(
        node.result(id).await,
        json!([{"id": "remote1", "rooms": ["remote1", "r"]}])
    );

    let id = node.send(json!({"op": "rooms"})).await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    let AdapterMessage::Request {
        request: Request::AllRooms { id: rid },
        ..
    } = decode(&c, &b)
    else {
        panic!()
    };
    let (rc, rb) = ch.encode(&AdapterMessage::Response {
        nsp: "/".into(),
        request_id: rid,
        response: Response::Rooms(s(&["fromRust"])),
    });
    publish(&redis, &rc, rb).await;
    let rooms = node.result(id).await;
    assert!(
        rooms.as_array().unwrap().contains(&json!("fromRust")),
        "{rooms}"
    );

    let id = node
        .send(json!({"op": "ask", "event": "ask", "args": [5]}))
        .await;
    let (c, b) = next(&mut cap, "socket.io-request#").await;
    let AdapterMessage::Request {
        request: Request::ServerSideEmit {
            id: Some(rid),
            data,
        },
        ..
    } = decode(&c, &b)
    else {
        panic!()
    };
    assert_eq!(data, r#"["ask",5]"#);
    let (rc, rb) = ch.encode(&AdapterMessage::Response {
        nsp: "/".into(),
        request_id: rid,
        response: Response::ServerSideAck(r#"{"from":"test"}"#.into()),
    });
    publish(&redis, &rc, rb).await;
    assert_eq!(node.result(id).await, json!([{"from": "test"}]));

    // Node's answers decode: a fetch from "us" with a client connected to Node.
    let client = Rec::connect(&node.url()).await;
    client.join("r").await;
    let (qc, qb) = ch.encode(&AdapterMessage::Request {
        uid: "test-uid".into(),
        nsp: "/".into(),
        request: Request::Fetch {
            id: "q1".into(),
            sel: Selector {
                rooms: s(&["r"]),
                except: vec![],
            },
        },
    });
    publish(&redis, &qc, qb).await;
    let (c, b) = loop {
        let (c, b) = next(&mut cap, "socket.io-response#").await;
        if b.windows(4).any(|w| w == b"\"q1\"") {
            break (c, b);
        }
    };
    let AdapterMessage::Response {
        request_id,
        response: Response::Sockets(sockets),
        ..
    } = decode(&c, &b)
    else {
        panic!("{}", String::from_utf8_lossy(&b))
    };
    assert_eq!(request_id, "q1");
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].id, client.sid.as_str());
    assert!(sockets[0].rooms.contains(&ByteString::from("r")));
    let hs: Value = serde_json::from_str(&sockets[0].handshake).unwrap();
    assert!(hs.get("headers").is_some(), "{hs}");

    let (qc, qb) = ch.encode(&AdapterMessage::Request {
        uid: "test-uid".into(),
        nsp: "/".into(),
        request: Request::AllRooms { id: "q2".into() },
    });
    publish(&redis, &qc, qb).await;
    let (c, b) = loop {
        let (c, b) = next(&mut cap, "socket.io-response#").await;
        if b.windows(4).any(|w| w == b"\"q2\"") {
            break (c, b);
        }
    };
    let AdapterMessage::Response {
        response: Response::Rooms(rooms),
        ..
    } = decode(&c, &b)
    else {
        panic!()
    };
    assert!(rooms.contains(&ByteString::from("r")));

    let (qc, qb) = ch.encode(&AdapterMessage::Request {
        uid: "test-uid".into(),
        nsp: "/".into(),
        request: Request::ServerSideEmit {
            id: Some("q3".into()),
            data: r#"["ask",1,2]"#.into(),
        },
    });
    publish(&redis, &qc, qb).await;
    let (c, b) = loop {
        let (c, b) = next(&mut cap, "socket.io-response#").await;
        if b.windows(4).any(|w| w == b"\"q3\"") {
            break (c, b);
        }
    };
    let AdapterMessage::Response {
        response: Response::ServerSideAck(v),
        ..
    } = decode(&c, &b)
    else {
        panic!()
    };
    assert_eq!(
        serde_json::from_str::<Value>(&v).unwrap(),
        json!({"from": "node", "args": [1, 2]})
    );
    node.kill().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes on any channel: an error or a message, never a panic.
    #[test]
    fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256), which in 0usize..4) {
        let channel = ["socket.io#/#", "socket.io#/#r#", "socket.io-request#/#", "socket.io-response#/#"][which];
        let _ = Channels::new("socket.io").decode(channel, &bytes, &Limits::default());
    }

    /// Broadcasts round-trip.
    #[test]
    fn broadcasts_round_trip(
        args in proptest::collection::vec(prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,8}".prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            Just(Value::Null),
        ], 0..5),
        rooms in proptest::collection::vec("[a-z]{1,4}", 0..3),
        except in proptest::collection::vec("[a-z]{1,4}", 0..3),
        bin in proptest::collection::vec(any::<u8>(), 0..16),
        volatile in any::<bool>(),
    ) {
        let mut data = vec![Value::from("ev")];
        data.extend(args);
        data.push(json!({"_placeholder": true, "num": 0}));
        let msg = AdapterMessage::Broadcast {
            uid: "u".into(),
            nsp: "/".into(),
            data: Value::Array(data).to_string().into(),
            attachments: vec![Bytes::from(bin)],
            opts: Selector {
                rooms: rooms.iter().map(|r| r.as_str().into()).collect(),
                except: except.iter().map(|r| r.as_str().into()).collect(),
            },
            volatile,
        };
        let ch = Channels::new("p");
        let (c, b) = ch.encode(&msg);
        prop_assert_eq!(ch.decode(&c, &b, &Limits::default()), Ok(Decoded::Message(msg)));
    }
}

#[test]
fn limits_hold() {
    let ch = Channels::new("socket.io");
    // Nesting deeper than allowed.
    let mut deep = vec![0x93, 0xa1, b'u'];
    deep.extend(std::iter::repeat_n(0x91, 100));
    deep.push(0xc0);
    assert_eq!(
        ch.decode("socket.io#/#", &deep, &Limits::default()),
        Err(CodecError::Msgpack)
    );
    let big = vec![0u8; 2_000_000];
    assert_eq!(
        ch.decode("socket.io#/#", &big, &Limits::default()),
        Err(CodecError::TooLarge(2_000_000))
    );
}
