//! The C ABI driven as a C program would: a `SioClient` talks to a `SioServer` in memory
//! (over WebSocket, and over long-polling), with events, acks both ways, binary attachments,
//! rooms; and the error paths: NULL and non-UTF-8 arguments, API misuse, panics that poison.
//!
//! Reading the library's output pointers needs `unsafe`; each use says why it holds.
#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::ffi::{c_char, CStr};

use sio_ffi::*;

fn bytes(b: SioBytes) -> Vec<u8> {
    if b.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: the library guarantees `len` readable bytes at a non-NULL `ptr` until the next
    // poll on the handle that produced it; this copies them right away.
    unsafe { std::slice::from_raw_parts(b.ptr, b.len) }.to_vec()
}

fn text(b: SioBytes) -> String {
    String::from_utf8(bytes(b)).expect("UTF-8 text")
}

fn list(p: *const SioBytes, n: usize) -> Vec<Vec<u8>> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: `n` valid SioBytes at a non-NULL `p`, valid until the next poll (copied now).
    unsafe { std::slice::from_raw_parts(p, n) }
        .iter()
        .map(|b| bytes(*b))
        .collect()
}

fn cstr(p: *const c_char) -> String {
    // SAFETY: last_error returns a NUL-terminated string valid until the next call.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// What the server saw, copied.
#[derive(Debug, Clone)]
struct ServerEvent {
    kind: SioServerOutputKind,
    id: u64,
    ack: Option<u64>,
    nsp: String,
    name: String,
    data: Vec<u8>,
    attachments: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct ClientEvent {
    kind: SioClientOutputKind,
    id: u64,
    nsp: String,
    name: String,
    data: Vec<u8>,
    attachments: Vec<Vec<u8>>,
}

/// One server, one client, a perfect link, virtual time.
struct Link {
    server: *mut SioServer,
    client: *mut SioClient,
    now: u64,
    server_events: VecDeque<ServerEvent>,
    client_events: VecDeque<ClientEvent>,
}

fn query_of(path: &str) -> std::ffi::CString {
    std::ffi::CString::new(path.split_once('?').map(|(_, q)| q).unwrap_or("")).unwrap()
}

impl Link {
    fn new(polling: bool) -> Link {
        let mut sc = SioServerConfig::default();
        assert_eq!(sio_server_config_default(&mut sc), SioStatus::Ok);
        sc.seed = [7; 32];
        let server = sio_server_new(&sc);
        assert!(!server.is_null());
        let mut cc = SioClientConfig::default();
        assert_eq!(sio_client_config_default(&mut cc), SioStatus::Ok);
        cc.polling = polling;
        cc.websocket = !polling;
        let client = sio_client_new(&cc);
        assert!(!client.is_null());
        Link {
            server,
            client,
            now: 0,
            server_events: VecDeque::new(),
            client_events: VecDeque::new(),
        }
    }

    /// Move everything between the two until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            loop {
                let mut o = std::mem::MaybeUninit::<SioClientOutput>::uninit();
                assert_eq!(
                    sio_client_poll_output(self.client, o.as_mut_ptr()),
                    SioStatus::Ok
                );
                // SAFETY: poll_output returned OK, so it wrote a whole SioClientOutput.
                let o = unsafe { o.assume_init() };
                if o.kind == SioClientOutputKind::None {
                    break;
                }
                moved = true;
                self.client_output(o);
            }
            loop {
                let mut o = std::mem::MaybeUninit::<SioServerOutput>::uninit();
                assert_eq!(
                    sio_server_poll_output(self.server, o.as_mut_ptr()),
                    SioStatus::Ok
                );
                // SAFETY: poll_output returned OK, so it wrote a whole SioServerOutput.
                let o = unsafe { o.assume_init() };
                if o.kind == SioServerOutputKind::None {
                    break;
                }
                moved = true;
                self.server_output(o);
            }
            if !moved {
                return;
            }
        }
    }

    fn client_output(&mut self, o: SioClientOutput) {
        use SioClientOutputKind as K;
        let (now, s, c) = (self.now, self.server, self.client);
        match o.kind {
            K::WsOpen => {
                let q = query_of(&text(o.name));
                let st = sio_server_handle_ws_open(
                    s,
                    now,
                    o.id,
                    q.as_ptr(),
                    std::ptr::null(),
                    0,
                    c"127.0.0.1".as_ptr(),
                    std::ptr::null_mut(),
                );
                assert_eq!(st, SioStatus::Ok);
                assert_eq!(sio_client_handle_ws_opened(c, now, o.id), SioStatus::Ok);
            }
            K::WsText | K::WsBinary => {
                let d = bytes(o.data);
                let st = sio_server_handle_ws_message(
                    s,
                    now,
                    o.id,
                    o.kind == K::WsBinary,
                    d.as_ptr(),
                    d.len(),
                );
                assert_eq!(st, SioStatus::Ok);
            }
            K::WsClose => {
                assert_eq!(
                    sio_server_handle_ws_closed(s, now, o.id, false),
                    SioStatus::Ok
                );
            }
            K::HttpRequest => {
                let q = query_of(&text(o.name));
                let body = bytes(o.data);
                let header = SioHeader {
                    name: c"User-Agent".as_ptr(),
                    value: c"abi-test".as_ptr(),
                };
                let st = sio_server_handle_http(
                    s,
                    now,
                    o.id,
                    o.method,
                    q.as_ptr(),
                    body.as_ptr(),
                    body.len(),
                    &header,
                    1,
                    std::ptr::null(),
                );
                assert_eq!(st, SioStatus::Ok);
            }
            K::HttpAbort => {
                assert_eq!(sio_server_handle_http_aborted(s, now, o.id), SioStatus::Ok);
            }
            _ => self.client_events.push_back(ClientEvent {
                kind: o.kind,
                id: o.id,
                nsp: text(o.nsp),
                name: text(o.name),
                data: bytes(o.data),
                attachments: list(o.attachments, o.attachments_len),
            }),
        }
    }

    fn server_output(&mut self, o: SioServerOutput) {
        use SioServerOutputKind as K;
        let (now, c) = (self.now, self.client);
        match o.kind {
            K::WsText | K::WsBinary => {
                let d = bytes(o.data);
                let st = sio_client_handle_ws_message(
                    c,
                    now,
                    o.id,
                    o.kind == K::WsBinary,
                    d.as_ptr(),
                    d.len(),
                );
                assert_eq!(st, SioStatus::Ok);
            }
            K::WsClose => {
                assert_eq!(
                    sio_client_handle_ws_closed(c, now, o.id, false),
                    SioStatus::Ok
                );
            }
            K::HttpResponse => {
                let d = bytes(o.data);
                let st =
                    sio_client_handle_http_response(c, now, o.id, o.status, d.as_ptr(), d.len());
                assert_eq!(st, SioStatus::Ok);
            }
            _ => self.server_events.push_back(ServerEvent {
                kind: o.kind,
                id: o.id,
                ack: o.has_ack.then_some(o.ack),
                nsp: text(o.nsp),
                name: text(o.name),
                data: bytes(o.data),
                attachments: list(o.attachments, o.attachments_len),
            }),
        }
    }

    fn server_event(&mut self, kind: SioServerOutputKind) -> ServerEvent {
        self.pump();
        let i = self
            .server_events
            .iter()
            .position(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} among {:?}", self.server_events));
        self.server_events.remove(i).unwrap()
    }

    fn client_event(&mut self, kind: SioClientOutputKind) -> ClientEvent {
        self.pump();
        let i = self
            .client_events
            .iter()
            .position(|e| e.kind == kind)
            .unwrap_or_else(|| panic!("no {kind:?} among {:?}", self.client_events));
        self.client_events.remove(i).unwrap()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        sio_server_free(self.server);
        sio_client_free(self.client);
    }
}

fn conversation(polling: bool) {
    let mut l = Link::new(polling);
    let (s, c) = (l.server, l.client);
    assert_eq!(
        sio_client_connect(c, 0, c"/".as_ptr(), c"{\"token\":1}".as_ptr(), 0, 0),
        SioStatus::Ok
    );
    let req = l.server_event(SioServerOutputKind::ConnectRequest);
    assert_eq!(req.nsp, "/");
    assert_eq!(req.data, br#"{"token":1}"#);
    let mut socket = u64::MAX;
    assert_eq!(
        sio_server_accept(s, l.now, req.id, &mut socket),
        SioStatus::Ok
    );
    let connect = l.client_event(SioClientOutputKind::Connect);
    let mut sid = SioBytes::NULL;
    assert_eq!(sio_server_socket_sid(s, socket, &mut sid), SioStatus::Ok);
    assert_eq!(connect.name, text(sid));

    // client -> server: an event with binary, asking for an ack.
    let args = br#"[1,{"_placeholder":true,"num":0}]"#;
    let att = [1u8, 2, 3];
    let slice = SioSlice {
        ptr: att.as_ptr(),
        len: att.len(),
    };
    let mut emit = u64::MAX;
    let st = sio_client_emit_with_ack(
        c,
        l.now,
        c"/".as_ptr(),
        c"hello".as_ptr(),
        args.as_ptr(),
        args.len(),
        &slice,
        1,
        5000,
        &mut emit,
    );
    assert_eq!(st, SioStatus::Ok);
    let msg = l.server_event(SioServerOutputKind::Message);
    assert_eq!((msg.id, msg.name.as_str()), (socket, "hello"));
    assert_eq!(msg.data, args);
    assert_eq!(msg.attachments, vec![att.to_vec()]);
    // The server acknowledges with the same arguments: passed straight back.
    let st = sio_server_ack(
        s,
        l.now,
        socket,
        msg.ack.expect("an ack id"),
        msg.data.as_ptr(),
        msg.data.len(),
        &slice,
        1,
    );
    assert_eq!(st, SioStatus::Ok);
    let acked = l.client_event(SioClientOutputKind::AckReceived);
    assert_eq!(acked.id, emit);
    assert_eq!(acked.data, args);
    assert_eq!(acked.attachments, vec![att.to_vec()]);

    // server -> client: a room broadcast, and an emit with ack answered by the client.
    assert_eq!(sio_server_join(s, socket, c"r".as_ptr()), SioStatus::Ok);
    let rooms = [c"r".as_ptr()];
    let target = SioTarget {
        nsp: std::ptr::null(),
        rooms: rooms.as_ptr(),
        rooms_len: 1,
        except_rooms: std::ptr::null(),
        except_rooms_len: 0,
        except_sockets: std::ptr::null(),
        except_sockets_len: 0,
    };
    let mut sent = 0usize;
    let news = br#"["x",{"y":[true]}]"#;
    let st = sio_server_emit(
        s,
        l.now,
        &target,
        c"news".as_ptr(),
        news.as_ptr(),
        news.len(),
        std::ptr::null(),
        0,
        false,
        &mut sent,
    );
    assert_eq!((st, sent), (SioStatus::Ok, 1));
    let m = l.client_event(SioClientOutputKind::Message);
    assert_eq!((m.nsp.as_str(), m.name.as_str()), ("/", "news"));
    assert_eq!(m.data, news);

    let mut ack = u64::MAX;
    let st = sio_server_emit_with_ack(
        s,
        l.now,
        socket,
        c"question".as_ptr(),
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
        1000,
        &mut ack,
    );
    assert_eq!(st, SioStatus::Ok);
    l.pump();
    // The client's Message carries the ack id: answer it with binary.
    let q = l
        .client_events
        .iter()
        .position(|e| e.kind == SioClientOutputKind::Message && e.name == "question")
        .expect("the question");
    l.client_events.remove(q);
    // Ack ids of server emits start at 0 on a fresh server; the client output has it.
    let answer = br#"[42,{"_placeholder":true,"num":0}]"#;
    let st = sio_client_ack(
        c,
        l.now,
        c"/".as_ptr(),
        ack,
        answer.as_ptr(),
        answer.len(),
        &slice,
        1,
    );
    assert_eq!(st, SioStatus::Ok);
    let got = l.server_event(SioServerOutputKind::AckReceived);
    assert_eq!((got.id, got.data.as_slice()), (socket, &answer[..]));
    assert_eq!(got.attachments, vec![att.to_vec()]);

    // Leaving the room: the room broadcast reaches nobody.
    assert_eq!(sio_server_leave(s, socket, c"r".as_ptr()), SioStatus::Ok);
    let st = sio_server_emit(
        s,
        l.now,
        &target,
        c"news".as_ptr(),
        std::ptr::null(),
        0,
        std::ptr::null(),
        0,
        false,
        &mut sent,
    );
    assert_eq!((st, sent), (SioStatus::Ok, 0));

    // Time: the heartbeat keeps the connection; poll_timeout names the next deadline.
    for _ in 0..3 {
        let mut at = 0u64;
        assert_eq!(sio_server_poll_timeout(s, &mut at), SioStatus::Ok);
        assert_ne!(at, u64::MAX);
        l.now = at;
        assert_eq!(sio_server_handle_timeout(s, l.now), SioStatus::Ok);
        l.pump();
        let mut cat = 0u64;
        assert_eq!(sio_client_poll_timeout(c, &mut cat), SioStatus::Ok);
        if cat <= l.now {
            assert_eq!(sio_client_handle_timeout(c, l.now), SioStatus::Ok);
            l.pump();
        }
    }
    let mut connected = false;
    assert_eq!(
        sio_client_is_connected(c, c"/".as_ptr(), &mut connected),
        SioStatus::Ok
    );
    assert!(connected, "still connected after the heartbeats");

    // The server disconnects the socket; the client hears `io server disconnect`.
    assert_eq!(
        sio_server_disconnect(s, l.now, socket, false),
        SioStatus::Ok
    );
    let d = l.client_event(SioClientOutputKind::Disconnect);
    assert_eq!(d.name, "io server disconnect");
    let d = l.server_event(SioServerOutputKind::Disconnect);
    assert_eq!(
        (d.id, d.name.as_str()),
        (socket, "server namespace disconnect")
    );
}

#[test]
fn client_and_server_over_websocket() {
    conversation(false);
}

#[test]
fn client_and_server_over_polling() {
    conversation(true);
}

#[test]
fn errors_are_status_codes() {
    let s = sio_server_new(std::ptr::null());
    assert!(!s.is_null());
    // NULL handle, NULL and non-UTF-8 arguments.
    assert_eq!(
        sio_server_handle_timeout(std::ptr::null_mut(), 0),
        SioStatus::NullPointer
    );
    assert_eq!(
        sio_server_add_namespace(s, std::ptr::null()),
        SioStatus::NullPointer
    );
    let bad = [0xffu8, 0];
    assert_eq!(
        sio_server_add_namespace(s, bad.as_ptr().cast()),
        SioStatus::InvalidUtf8
    );
    assert!(cstr(sio_server_last_error(s)).contains("UTF-8"));
    // Misuse: unknown socket, connect request; arguments that are not a JSON array.
    assert_eq!(
        sio_server_join(s, 99, c"r".as_ptr()),
        SioStatus::UnknownSocket
    );
    assert_eq!(
        sio_server_accept(s, 0, 5, std::ptr::null_mut()),
        SioStatus::UnknownConnect
    );
    let t = SioTarget {
        nsp: c"/nope".as_ptr(),
        rooms: std::ptr::null(),
        rooms_len: 0,
        except_rooms: std::ptr::null(),
        except_rooms_len: 0,
        except_sockets: std::ptr::null(),
        except_sockets_len: 0,
    };
    let obj = b"{}";
    assert_eq!(
        sio_server_emit(
            s,
            0,
            &t,
            c"e".as_ptr(),
            obj.as_ptr(),
            obj.len(),
            std::ptr::null(),
            0,
            false,
            std::ptr::null_mut()
        ),
        SioStatus::InvalidEventData
    );
    assert_eq!(
        sio_server_emit(
            s,
            0,
            &t,
            c"e".as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            false,
            std::ptr::null_mut()
        ),
        SioStatus::UnknownNamespace
    );
    // A reserved event name.
    let t = SioTarget {
        nsp: std::ptr::null(),
        ..t
    };
    assert_eq!(
        sio_server_emit(
            s,
            0,
            &t,
            c"connect".as_ptr(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            0,
            false,
            std::ptr::null_mut()
        ),
        SioStatus::InvalidEventData
    );
    // A successful call clears the last error.
    assert_eq!(sio_server_add_namespace(s, c"/x".as_ptr()), SioStatus::Ok);
    assert_eq!(cstr(sio_server_last_error(s)), "");
    // A refused WebSocket hands out the HTTP answer.
    let mut refused = SioHttpResponse {
        status: 0,
        content_type: SioBytes::NULL,
        body: SioBytes::NULL,
    };
    let st = sio_server_handle_ws_open(
        s,
        0,
        1,
        c"EIO=3&transport=websocket".as_ptr(),
        std::ptr::null(),
        0,
        std::ptr::null(),
        &mut refused,
    );
    assert_eq!((st, refused.status), (SioStatus::WsRefused, 400));
    assert!(text(refused.body).contains("Unsupported protocol version"));
    assert_eq!(text(refused.content_type), "application/json");
    sio_server_free(s);
    sio_server_free(std::ptr::null_mut());
}

#[test]
fn a_panic_poisons_the_handle() {
    let s = sio_server_new(std::ptr::null());
    assert_eq!(sio_server_panic_for_tests(s), SioStatus::Panic);
    assert!(cstr(sio_server_last_error(s)).contains("panic"));
    assert_eq!(sio_server_handle_timeout(s, 0), SioStatus::Poisoned);
    let mut o = std::mem::MaybeUninit::<SioServerOutput>::uninit();
    assert_eq!(
        sio_server_poll_output(s, o.as_mut_ptr()),
        SioStatus::Poisoned
    );
    sio_server_free(s);

    let c = sio_client_new(std::ptr::null());
    assert_eq!(sio_client_panic_for_tests(c), SioStatus::Panic);
    assert_eq!(sio_client_open(c, 0), SioStatus::Poisoned);
    sio_client_free(c);
}

#[test]
fn json_arg_string_reads_string_arguments() {
    let json = br#"["room \"1\"",2]"#;
    let mut buf = [0 as c_char; 16];
    let mut needed = 0usize;
    let st = sio_json_arg_string(
        json.as_ptr(),
        json.len(),
        0,
        buf.as_mut_ptr(),
        buf.len(),
        &mut needed,
    );
    assert_eq!((st, needed), (SioStatus::Ok, 9));
    assert_eq!(cstr(buf.as_ptr()), "room \"1\"");
    let st = sio_json_arg_string(
        json.as_ptr(),
        json.len(),
        0,
        buf.as_mut_ptr(),
        4,
        &mut needed,
    );
    assert_eq!(st, SioStatus::BufferTooSmall);
    let st = sio_json_arg_string(
        json.as_ptr(),
        json.len(),
        1,
        buf.as_mut_ptr(),
        buf.len(),
        std::ptr::null_mut(),
    );
    assert_eq!(st, SioStatus::NotFound);
    let st = sio_json_arg_string(
        b"{".as_ptr(),
        1,
        0,
        buf.as_mut_ptr(),
        16,
        std::ptr::null_mut(),
    );
    assert_eq!(st, SioStatus::InvalidArgument);
}

#[test]
fn status_strings_are_static() {
    assert_eq!(cstr(sio_status_str(SioStatus::Poisoned)), "poisoned handle");
}
