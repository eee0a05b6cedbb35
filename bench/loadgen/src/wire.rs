//! The client side of the wire, written by hand so that the generator costs little per message:
//! WebSocket frames are encoded (and masked) once and written as bytes; server frames are parsed
//! in place from one reusable buffer; HTTP/1.1 requests for long-polling are prebuilt byte
//! strings.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The masking key of every client frame (RFC 6455 requires client frames to be masked; the
/// key's value does not matter to a server, which unmasks every byte whatever the key).
pub const MASK: [u8; 4] = [0x5a, 0x17, 0xc3, 0x9e];

/// WebSocket opcodes.
pub mod opcode {
    /// A text message.
    pub const TEXT: u8 = 0x1;
    /// A binary message.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xA;
}

/// One masked client frame (FIN set) carrying `payload`.
pub fn client_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | op);
    let len = payload.len();
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    f.extend_from_slice(&MASK);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    f
}

/// A masked text frame.
pub fn text_frame(text: &str) -> Vec<u8> {
    client_frame(opcode::TEXT, text.as_bytes())
}

/// The header of one frame: opcode, FIN, header length, payload length, masking key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The opcode.
    pub opcode: u8,
    /// Final fragment.
    pub fin: bool,
    /// Bytes before the payload.
    pub header_len: usize,
    /// Bytes of payload.
    pub payload_len: usize,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
}

/// Parse a frame header from the start of `b`; `None` if more bytes are needed.
pub fn parse_header(b: &[u8]) -> Option<FrameHeader> {
    if b.len() < 2 {
        return None;
    }
    let fin = b[0] & 0x80 != 0;
    let opcode = b[0] & 0x0f;
    let masked = b[1] & 0x80 != 0;
    let (payload_len, mut header_len) = match b[1] & 0x7f {
        126 => {
            if b.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([b[2], b[3]]) as usize, 4)
        }
        127 => {
            if b.len() < 10 {
                return None;
            }
            let mut l = [0u8; 8];
            l.copy_from_slice(&b[2..10]);
            (u64::from_be_bytes(l) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let mask = if masked {
        if b.len() < header_len + 4 {
            return None;
        }
        let m = [
            b[header_len],
            b[header_len + 1],
            b[header_len + 2],
            b[header_len + 3],
        ];
        header_len += 4;
        Some(m)
    } else {
        None
    };
    Some(FrameHeader {
        opcode,
        fin,
        header_len,
        payload_len,
        mask,
    })
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Source ports handed out to connections with an explicit source address, in turn.
static NEXT_PORT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
const SOURCE_PORTS: std::ops::Range<u32> = 20_000..61_000;

/// Bind `sock` to `ip` and a port of our choosing: asking the kernel for one (port 0) makes
/// it search the bound ports of the address, which grows with every connection (tens of
/// thousands of connections then take minutes of kernel time to open).
fn bind_source(sock: &TcpSocket, ip: IpAddr) -> io::Result<()> {
    use std::sync::atomic::Ordering;
    let span = SOURCE_PORTS.end - SOURCE_PORTS.start;
    for _ in 0..64 {
        let port = SOURCE_PORTS.start + NEXT_PORT.fetch_add(1, Ordering::Relaxed) % span;
        match sock.bind(SocketAddr::new(ip, port as u16)) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
            r => return r,
        }
    }
    sock.bind(SocketAddr::new(ip, 0))
}

/// Connect over TCP (no Nagle), from `src` if given, with `SO_LINGER` 0 so that closing sends
/// a reset and leaves no TIME_WAIT entry behind (the bench opens tens of thousands).
pub async fn tcp_connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<TcpStream> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = src {
        sock.set_reuseaddr(true)?;
        bind_source(&sock, ip)?;
    }
    sock.set_zero_linger()?;
    let s = sock.connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A TCP stream with one growable read buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Conn {
    /// Wrap a connected stream.
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: vec![0; 512],
            start: 0,
            end: 0,
        }
    }

    /// The bytes read and not consumed yet.
    pub fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drop `n` bytes from the front of the buffer.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Read more bytes (at least one) into the buffer.
    pub async fn fill(&mut self) -> io::Result<()> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let n = self.buf.len() * 2;
                self.buf.resize(n, 0);
            }
        }
        let n = self.stream.read(&mut self.buf[self.end..]).await?;
        if n == 0 {
            return Err(eof());
        }
        self.end += n;
        Ok(())
    }

    /// Make sure `n` bytes are buffered.
    pub async fn fill_to(&mut self, n: usize) -> io::Result<()> {
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_power_of_two(), 0);
            }
        }
        while self.end - self.start < n {
            self.fill().await?;
        }
        Ok(())
    }

    /// Write all of `bytes`.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Read an HTTP/1.1 response head; returns the status, the content length (`None` when
    /// chunked) and consumes the head.
    async fn response_head(&mut self) -> io::Result<(u16, Option<usize>)> {
        let head_len = loop {
            if let Some(p) = find(self.available(), b"\r\n\r\n") {
                break p + 4;
            }
            if self.available().len() > 64 * 1024 {
                return Err(invalid("response head too large"));
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.available()[..head_len])
            .map_err(|_| invalid("response head is not UTF-8"))?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| invalid(format!("bad status line: {head:?}")))?;
        let mut length = Some(0);
        for line in head.split("\r\n").skip(1) {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = Some(v.parse().map_err(|_| invalid("bad content-length"))?);
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                length = None;
            }
        }
        self.consume(head_len);
        Ok((status, length))
    }
}

/// A message the server sent on a WebSocket.
#[derive(Debug, PartialEq, Eq)]
pub enum WsMessage<'a> {
    /// A text message (an Engine.IO packet).
    Text(&'a [u8]),
    /// A binary message.
    Binary(&'a [u8]),
}

/// An Engine.IO/Socket.IO client over a raw WebSocket.
#[derive(Debug)]
pub struct WsClient {
    conn: Conn,
    pong: Vec<u8>,
    /// Engine.IO pings received (and answered) so far.
    pub pings: u64,
}

impl WsClient {
    /// Open a WebSocket to `path` (with query) on `addr`.
    pub async fn connect(addr: SocketAddr, src: Option<IpAddr>, path: &str) -> io::Result<Self> {
        let stream = tcp_connect(addr, src).await?;
        let mut conn = Conn::new(stream);
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        conn.write(req.as_bytes()).await?;
        let (status, _) = conn.response_head().await?;
        if status != 101 {
            return Err(invalid(format!("websocket upgrade refused: {status}")));
        }
        Ok(WsClient {
            conn,
            pong: text_frame("3"),
            pings: 0,
        })
    }

    /// Write a prebuilt frame.
    pub async fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        self.conn.write(frame).await
    }

    /// The next text or binary message as (opcode, start, end) in the buffer; answers
    /// WebSocket pings on the way, fails on close.
    async fn next_range(&mut self) -> io::Result<(u8, usize, usize)> {
        loop {
            let h = loop {
                if let Some(h) = parse_header(self.conn.available()) {
                    break h;
                }
                self.conn.fill().await?;
            };
            let total = h.header_len + h.payload_len;
            self.conn.fill_to(total).await?;
            if !h.fin || h.opcode == 0 {
                return Err(invalid("fragmented frames are not expected"));
            }
            match h.opcode {
                opcode::TEXT | opcode::BINARY => {
                    let start = self.conn.start + h.header_len;
                    let end = start + h.payload_len;
                    if let Some(m) = h.mask {
                        for (i, b) in self.conn.buf[start..end].iter_mut().enumerate() {
                            *b ^= m[i % 4];
                        }
                    }
                    // Not `consume`: the payload stays where it is until the next read.
                    self.conn.start += total;
                    return Ok((h.opcode, start, end));
                }
                opcode::PING => {
                    let payload = self.conn.available()[h.header_len..total].to_vec();
                    self.conn.consume(total);
                    let pong = client_frame(opcode::PONG, &payload);
                    self.conn.write(&pong).await?;
                }
                opcode::CLOSE => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "server closed the websocket",
                    ))
                }
                _ => self.conn.consume(total),
            }
        }
    }

    /// The next data message; answers WebSocket pings on the way, fails on close.
    pub async fn next_frame(&mut self) -> io::Result<WsMessage<'_>> {
        let (op, s, e) = self.next_range().await?;
        let p = &self.conn.buf[s..e];
        Ok(if op == opcode::TEXT {
            WsMessage::Text(p)
        } else {
            WsMessage::Binary(p)
        })
    }

    /// The next Engine.IO packet that is not a ping or a noop (pings are answered with a
    /// prebuilt pong); binary messages are skipped.
    pub async fn next_packet(&mut self) -> io::Result<&[u8]> {
        loop {
            let (op, s, e) = self.next_range().await?;
            if op != opcode::TEXT {
                continue;
            }
            match &self.conn.buf[s..e] {
                b"2" => {
                    self.pings += 1;
                    self.conn.write(&self.pong).await?
                }
                b"6" => {}
                _ => return Ok(&self.conn.buf[s..e]),
            }
        }
    }
}

/// A keep-alive HTTP/1.1 connection for long-polling, one request at a time.
#[derive(Debug)]
pub struct HttpClient {
    conn: Conn,
}

/// A prebuilt `GET` request.
pub fn get_request(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\r\n").into_bytes()
}

/// A prebuilt `POST` request with a text body.
pub fn post_request(addr: SocketAddr, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl HttpClient {
    /// Connect to `addr`.
    pub async fn connect(addr: SocketAddr, src: Option<IpAddr>) -> io::Result<Self> {
        Ok(HttpClient {
            conn: Conn::new(tcp_connect(addr, src).await?),
        })
    }

    /// Write a prebuilt request.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.conn.write(request).await
    }

    /// Read one response: status and body.
    pub async fn response(&mut self) -> io::Result<(u16, Vec<u8>)> {
        let (status, length) = self.conn.response_head().await?;
        let body = match length {
            Some(n) => {
                self.conn.fill_to(n).await?;
                let b = self.conn.available()[..n].to_vec();
                self.conn.consume(n);
                b
            }
            None => {
                let mut body = Vec::new();
                loop {
                    let line_end = loop {
                        if let Some(p) = find(self.conn.available(), b"\r\n") {
                            break p;
                        }
                        self.conn.fill().await?;
                    };
                    let size_text = std::str::from_utf8(&self.conn.available()[..line_end])
                        .map_err(|_| invalid("bad chunk size"))?;
                    let size_text = size_text.split(';').next().unwrap_or("").trim();
                    let size = usize::from_str_radix(size_text, 16)
                        .map_err(|_| invalid("bad chunk size"))?;
                    self.conn.consume(line_end + 2);
                    self.conn.fill_to(size + 2).await?;
                    body.extend_from_slice(&self.conn.available()[..size]);
                    self.conn.consume(size + 2);
                    if size == 0 {
                        break;
                    }
                }
                body
            }
        };
        Ok((status, body))
    }

    /// Send `request` and read its response.
    pub async fn request(&mut self, request: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        self.send(request).await?;
        self.response().await
    }
}

/// Split a polling payload into its Engine.IO packets (separated by 0x1e).
pub fn polling_packets(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|b| *b == 0x1e).filter(|p| !p.is_empty())
}

/// The `sid` of an Engine.IO open packet (`0{"sid":"...",...}`).
pub fn open_sid(packet: &[u8]) -> Option<String> {
    let json = packet.strip_prefix(b"0")?;
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    v.get("sid")?.as_str().map(str::to_owned)
}

/// Parse a broadcast tick, `42["tick",<seq>,<micros>]` (also with the two numbers in an
/// array): returns (seq, send time in µs since the Unix epoch).
pub fn parse_tick(packet: &[u8]) -> Option<(u64, u64)> {
    let rest = packet.strip_prefix(b"42[\"tick\",")?;
    let mut numbers = rest
        .split(|b| !b.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| std::str::from_utf8(s).ok()?.parse::<u64>().ok());
    let seq = numbers.next()??;
    let t = numbers.next()??;
    Some((seq, t))
}

/// Whether `packet` is the `done` event that ends a broadcast (`42["done",<count>]`).
pub fn is_done(packet: &[u8]) -> bool {
    packet.starts_with(b"42[\"done\"")
}

/// Whether `packet` answers an emit: an ack (`43<id>[...]`), or the floor's verbatim echo of
/// the event (`42<id>[...]`).
pub fn is_reply(packet: &[u8]) -> bool {
    packet.starts_with(b"43")
        || (packet.starts_with(b"42") && packet.get(2).is_some_and(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_small_medium_large() {
        for len in [0usize, 5, 125, 126, 300, 65_535, 65_536, 70_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let f = client_frame(opcode::TEXT, &payload);
            let h = parse_header(&f).expect("complete header");
            assert_eq!(h.opcode, opcode::TEXT);
            assert!(h.fin);
            assert_eq!(h.payload_len, len);
            assert_eq!(h.mask, Some(MASK));
            assert_eq!(h.header_len + len, f.len());
            let unmasked: Vec<u8> = f[h.header_len..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ MASK[i % 4])
                .collect();
            assert_eq!(unmasked, payload);
            // Any strict prefix of the header is incomplete.
            for cut in 0..h.header_len {
                assert_eq!(parse_header(&f[..cut]), None, "len {len} cut {cut}");
            }
        }
    }

    #[test]
    fn unmasked_server_header() {
        let h = parse_header(&[0x81, 0x02, b'4', b'0']).expect("header");
        assert_eq!(
            (h.opcode, h.header_len, h.payload_len, h.mask),
            (1, 2, 2, None)
        );
        let h = parse_header(&[0x82, 126, 0x01, 0x00]).expect("header");
        assert_eq!((h.opcode, h.header_len, h.payload_len), (2, 4, 256));
        assert_eq!(parse_header(&[0x81]), None);
    }

    #[test]
    fn ticks_and_replies() {
        assert_eq!(
            parse_tick(br#"42["tick",17,1700000000123456]"#),
            Some((17, 1_700_000_000_123_456))
        );
        assert_eq!(parse_tick(br#"42["tick",[3,99]]"#), Some((3, 99)));
        assert_eq!(parse_tick(br#"42["tock",3,99]"#), None);
        assert_eq!(parse_tick(br#"42["tick",3]"#), None);
        assert!(is_done(br#"42["done",500]"#));
        assert!(!is_done(br#"42["tick",1,2]"#));
        assert!(is_reply(br#"431[{"a":1}]"#));
        assert!(is_reply(br#"421["echo",{"a":1}]"#));
        assert!(!is_reply(br#"42["echo"]"#));
        assert!(!is_reply(b"40{\"sid\":\"x\"}"));
    }

    #[test]
    fn polling_payloads() {
        let body = b"40{\"sid\":\"a\"}\x1e431[1]\x1e2";
        let packets: Vec<&[u8]> = polling_packets(body).collect();
        assert_eq!(packets, vec![&b"40{\"sid\":\"a\"}"[..], b"431[1]", b"2"]);
        assert_eq!(
            open_sid(br#"0{"sid":"abc","upgrades":[],"pingInterval":25000}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(open_sid(b"40"), None);
        assert_eq!(find(b"abc\r\n\r\nxyz", b"\r\n\r\n"), Some(3));
    }
}
