//! Typed event maps end to end: a typed server and typed clients in one process — several
//! arguments, binary values, acks both ways, typed broadcasts, fallbacks on both sides.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sio_tokio::client::ClientBuilder;
use sio_tokio::typed::{
    AckSendError, DecodeError, EventMap, NoResponder, TypedClient, TypedClientBuilder, TypedIo,
};
use sio_tokio::{ServerOptions, SocketIo};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);

/// A file with its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// Its name.
    pub name: String,
    /// Its content, a binary attachment.
    pub data: Bytes,
}

sio_tokio::event_map! {
    /// Server to client.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Down {
        /// Several arguments, one of them binary.
        Stored(name: String, size: u64, digest: Bytes) = "fileStored",
        /// No arguments.
        Tick() = "tick",
        /// Asks the client to pick a number; it answers with one and a word.
        Pick(max: u32) = "pickNumber" => (u32, String),
    }

    /// Client to server.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Up {
        /// Binary nested in a struct, answered with the stored size.
        Upload(file: File, tags: Vec<String>) = "upload" => u64,
        /// A plain event.
        Hello(name: String) = "hello",
    }
}

/// What the server observed.
#[derive(Debug)]
enum Seen {
    Event(Up),
    Fallback(String, bool),
    AckResult(Result<(), String>),
}

async fn server() -> (String, TypedIo<Up, Down>, mpsc::UnboundedReceiver<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let io = TypedIo::<Up, Down>::new(SocketIo::new(ServerOptions::default()));
    let (tx, rx) = mpsc::unbounded_channel();
    io.ns("/", move |socket, _req| {
        let _ = socket.join("everyone");
        let events = tx.clone();
        socket.on_event(move |socket, event| {
            let events = events.clone();
            async move {
                let _ = events.send(Seen::Event(event.clone()));
                match event {
                    Up::Upload(file, _tags, ack) => {
                        let digest = Bytes::from(vec![file.data.len() as u8, 0xff]);
                        let _ = socket.emit(&Down::Stored(
                            file.name.clone(),
                            file.data.len() as u64,
                            digest,
                        ));
                        let sent = ack
                            .send(&(file.data.len() as u64))
                            .map_err(|e| e.to_string());
                        let _ = events.send(Seen::AckResult(sent));
                    }
                    Up::Hello(_) => {}
                }
            }
        });
        let fallbacks = tx.clone();
        socket.on_fallback(move |_socket, error, mut raw| {
            let fallbacks = fallbacks.clone();
            async move {
                let asked = raw.ack().map(|a| a.send(&"fallback")).is_some();
                let _ = fallbacks.send(Seen::Fallback(error.to_string(), asked));
            }
        });
    });
    let serving = io.untyped().clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (url, io, rx)
}

async fn client(url: &str) -> (TypedClient<Down, Up>, mpsc::UnboundedReceiver<Down>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let client = TypedClientBuilder::<Down, Up>::new(ClientBuilder::new(url).reconnection(false))
        .on_event(move |_socket, event| {
            let tx = tx.clone();
            async move {
                if let Down::Pick(max, ack) = &event {
                    let _ = ack.clone().send(&(max / 2, "half".to_owned()));
                }
                let _ = tx.send(event);
            }
        })
        .connect()
        .await
        .expect("connects");
    (client, rx)
}

async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("in time")
        .expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_args_binary_and_acks_both_ways() {
    let (url, io, mut seen) = server().await;
    let (c, mut down) = client(&url).await;

    // Client -> server with a typed ack.
    let file = File {
        name: "a.bin".into(),
        data: Bytes::from_static(&[0, 1, 2, 3, 255]),
    };
    let size = c
        .emit_with_ack(
            |ack| Up::Upload(file.clone(), vec!["x".into(), "y".into()], ack),
            WAIT,
        )
        .await
        .expect("answered");
    assert_eq!(size, 5);
    match recv(&mut seen).await {
        Seen::Event(Up::Upload(f, tags, _)) => {
            assert_eq!(f, file);
            assert_eq!(tags, ["x", "y"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(recv(&mut seen).await, Seen::AckResult(Ok(()))));
    assert_eq!(
        recv(&mut down).await,
        Down::Stored("a.bin".into(), 5, Bytes::from_static(&[5, 0xff]))
    );

    // Plain events both ways.
    c.emit(&Up::Hello("ada".into())).expect("sent");
    assert!(matches!(recv(&mut seen).await, Seen::Event(Up::Hello(n)) if n == "ada"));
    assert_eq!(io.emit(&Down::Tick()).expect("sent"), 1);
    assert_eq!(recv(&mut down).await, Down::Tick());

    // Server -> everyone with typed acks: the answers are (u32, String).
    let answers = io
        .to("everyone")
        .emit_with_ack(|ack| Down::Pick(10, ack), WAIT)
        .await
        .expect("answered");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].0, c.id().expect("connected"));
    assert_eq!(answers[0].1, (5, "half".to_owned()));
    assert!(matches!(recv(&mut down).await, Down::Pick(10, _)));
    c.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_outside_the_map_reach_the_fallbacks() {
    let (url, io, mut seen) = server().await;
    let (c, _down) = client(&url).await;

    // Server side: unknown name, wrong payload, missing argument; the raw ack still answers.
    c.untyped()
        .emit("nope", &(1, 2))
        .expect("untyped emit works beside the typed one");
    match recv(&mut seen).await {
        Seen::Fallback(e, false) => assert_eq!(e, r#"unknown event "nope""#),
        other => panic!("unexpected {other:?}"),
    }
    let answer: String = c
        .untyped()
        .emit_with_ack("upload", &"not a file", WAIT)
        .await
        .expect("the fallback answers the raw ack");
    assert_eq!(answer, "fallback");
    match recv(&mut seen).await {
        Seen::Fallback(e, true) => {
            assert!(
                e.starts_with(r#"invalid payload for event "upload""#),
                "{e}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    c.untyped().emit("hello", &()).expect("sent");
    match recv(&mut seen).await {
        Seen::Fallback(e, false) => assert!(e.ends_with("missing event argument 0"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }

    // An event declared with an answer but sent without an ack request.
    c.untyped()
        .emit(
            "upload",
            &(
                File {
                    name: "b".into(),
                    data: Bytes::new(),
                },
                ["t"],
            ),
        )
        .expect("sent");
    match recv(&mut seen).await {
        Seen::Event(Up::Upload(..)) => {}
        other => panic!("unexpected {other:?}"),
    }
    match recv(&mut seen).await {
        Seen::AckResult(Err(e)) => assert_eq!(e, "no acknowledgement was requested"),
        other => panic!("unexpected {other:?}"),
    }

    // Client side: the typed client's fallback.
    let (tx, mut fallback) = mpsc::unbounded_channel();
    c.on_fallback(move |_socket, error, raw| {
        let tx = tx.clone();
        async move {
            let _ = tx.send((error.event().to_owned(), raw.json().to_owned()));
        }
    });
    io.untyped().emit("surprise", &[1, 2]).expect("sent");
    assert_eq!(
        recv(&mut fallback).await,
        ("surprise".to_owned(), "[\"surprise\",1,2]".to_owned())
    );
    io.untyped()
        .emit("fileStored", &"only a name")
        .expect("sent");
    assert_eq!(recv(&mut fallback).await.0, "fileStored");
    c.close();
}

#[test]
fn maps_encode_and_decode_without_a_connection() {
    assert_eq!(Down::EVENTS, ["fileStored", "tick", "pickNumber"]);
    let stored = Down::Stored("n".into(), 7, Bytes::from_static(b"\x01\x02"));
    assert_eq!(stored.name(), "fileStored");
    assert!(!stored.expects_ack());
    let (mut json, mut bin) = (Vec::new(), Vec::new());
    stored.write(&mut json, &mut bin).expect("writes");
    assert_eq!(
        std::str::from_utf8(&json).expect("utf-8"),
        r#"["fileStored","n",7,{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(bin, [Bytes::from_static(b"\x01\x02")]);
    let back = Down::read("fileStored", &json, &bin, None::<NoResponder>).expect("reads");
    assert_eq!(back, stored);

    let (mut json, mut bin) = (Vec::new(), Vec::new());
    Down::Tick().write(&mut json, &mut bin).expect("writes");
    assert_eq!(json, br#"["tick"]"#);

    // An event with an answer: the ack is not an argument.
    let pick = Down::read(
        "pickNumber",
        b"[\"pickNumber\",3]",
        &[],
        None::<NoResponder>,
    )
    .expect("reads");
    assert!(pick.expects_ack());
    let Down::Pick(3, ack) = pick else {
        panic!("not a pick: {pick:?}")
    };
    assert!(!ack.requested());
    assert!(matches!(
        ack.send(&(1, String::new())),
        Err(AckSendError::NotRequested)
    ));

    // Errors, not panics.
    assert!(matches!(
        Down::read("tock", b"[\"tock\"]", &[], None::<NoResponder>),
        Err(DecodeError::UnknownEvent { name }) if name == "tock"
    ));
    assert!(matches!(
        Down::read(
            "fileStored",
            b"[\"fileStored\",\"n\",7,{\"_placeholder\":true,\"num\":3}]",
            &[],
            None::<NoResponder>
        ),
        Err(DecodeError::InvalidPayload {
            event: "fileStored",
            ..
        })
    ));
    assert!(matches!(
        Down::read("tick", b"{}", &[], None::<NoResponder>),
        Err(DecodeError::InvalidPayload { event: "tick", .. })
    ));
}

sio_tokio::event_map! {
    /// A private map whose argument names are those the generated code uses itself.
    #[derive(Debug)]
    enum Tricky {
        /// Four arguments and an answer.
        Named(name: String, json: u8, ack: bool, attachments: Option<u8>) = "named" => u8,
    }
}

#[test]
fn argument_names_do_not_clash_with_the_generated_code() {
    let event = Tricky::read(
        "named",
        br#"["named","n",1,true]"#,
        &[],
        None::<NoResponder>,
    )
    .expect("reads");
    let Tricky::Named(name, json, ack, attachments, answer) = event;
    assert_eq!(
        (name.as_str(), json, ack, attachments),
        ("n", 1, true, None)
    );
    assert!(!answer.requested());
}
