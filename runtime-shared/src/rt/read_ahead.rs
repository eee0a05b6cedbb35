//! Reads of a server WebSocket through one buffer per thread, so that an idle connection keeps
//! no read buffer of its own.
//!
//! tungstenite reads into its connection's buffer, and keeps that buffer (zeroed before every
//! read, so all of it resident) for the connection's life: with a buffer large enough to read
//! a burst of frames in one system call, that buffer is most of what an idle connection costs.
//! Here tungstenite's own buffer is small ([`WS_READ_BUFFER`]) and each read of the socket goes
//! into a buffer of the thread ([`SCRATCH_LEN`] bytes) instead: what tungstenite asked for is
//! copied to it, the rest is kept for the next reads (in memory of the connection's own, freed
//! as soon as it is read). A burst of frames still takes one system call, and an idle
//! connection holds no buffer beyond tungstenite's small one.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The read buffer size to give tungstenite together with a [`ReadAhead`]: what a connection
/// keeps while idle, and the most it takes from [`ReadAhead`] per read.
pub const WS_READ_BUFFER: usize = 256;

/// How much one read of the socket takes at most (the thread's buffer).
pub const SCRATCH_LEN: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The read side of one connection: bytes read from the socket that its reader did not take
/// yet. Wrap the socket's read with [`ReadAhead::poll_read`].
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// Read from the socket, not taken yet (from `at` on). Empty, with no allocation, when
    /// everything read was taken.
    kept: Vec<u8>,
    at: usize,
}

impl ReadAhead {
    /// Whether bytes read from the socket wait to be taken (a read then does not touch the
    /// socket).
    pub fn has_kept(&self) -> bool {
        self.at < self.kept.len()
    }

    /// Fill `dst` from the bytes kept, or else from one read of the socket (`read` reads it
    /// into the buffer it is given, as `poll_read` does): `Ready(Ok(n))` with `n` bytes in
    /// `dst[..n]`, `0` at the end of the stream.
    pub fn poll_read(
        &mut self,
        dst: &mut [u8],
        read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if self.has_kept() {
            let n = dst.len().min(self.kept.len() - self.at);
            dst[..n].copy_from_slice(&self.kept[self.at..self.at + n]);
            self.at += n;
            if self.at == self.kept.len() {
                self.kept = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(n));
        }
        if dst.len() >= SCRATCH_LEN {
            return read(dst);
        }
        SCRATCH.with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                // Only if a read of the socket read another socket: read straight into `dst`.
                return read(dst);
            };
            if scratch.len() < SCRATCH_LEN {
                scratch.resize(SCRATCH_LEN, 0);
            }
            let n = match read(&mut scratch[..]) {
                Poll::Ready(Ok(n)) => n.min(SCRATCH_LEN),
                other => return other,
            };
            let taken = n.min(dst.len());
            dst[..taken].copy_from_slice(&scratch[..taken]);
            if taken < n {
                self.kept = scratch[taken..n].to_vec();
                self.at = 0;
            }
            Poll::Ready(Ok(taken))
        })
    }
}

/// A socket whose reads go through a [`ReadAhead`], writes straight through: give it to the
/// WebSocket (with a read buffer of [`WS_READ_BUFFER`]). It has tokio's I/O traits when the
/// socket has them, and futures' when the socket has those.
#[derive(Debug)]
pub struct ReadAheadIo<S> {
    io: S,
    ahead: ReadAhead,
}

impl<S> ReadAheadIo<S> {
    /// Read `io` through the thread's buffer.
    pub fn new(io: S) -> Self {
        ReadAheadIo {
            io,
            ahead: ReadAhead::default(),
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for ReadAheadIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let ReadAheadIo { io, ahead } = self.get_mut();
        let read = ahead.poll_read(buf.initialize_unfilled(), |dst| {
            let mut dst = tokio::io::ReadBuf::new(dst);
            Pin::new(&mut *io)
                .poll_read(cx, &mut dst)
                .map_ok(|()| dst.filled().len())
        });
        read.map_ok(|n| buf.advance(n))
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for ReadAheadIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<S: futures_util::io::AsyncRead + Unpin> futures_util::io::AsyncRead for ReadAheadIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let ReadAheadIo { io, ahead } = self.get_mut();
        ahead.poll_read(buf, |dst| Pin::new(&mut *io).poll_read(cx, dst))
    }
}

impl<S: futures_util::io::AsyncWrite + Unpin> futures_util::io::AsyncWrite for ReadAheadIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(p: Poll<io::Result<usize>>) -> usize {
        match p {
            Poll::Ready(Ok(n)) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_read_that_fits_keeps_nothing() {
        let mut r = ReadAhead::default();
        let mut dst = [0u8; 16];
        let n = ready(r.poll_read(&mut dst, |buf| {
            buf[..5].copy_from_slice(b"hello");
            Poll::Ready(Ok(5))
        }));
        assert_eq!(&dst[..n], b"hello");
        assert!(!r.has_kept());
        assert_eq!(r.kept.capacity(), 0);
    }

    #[test]
    fn the_rest_of_a_large_read_is_kept_then_freed() {
        let mut r = ReadAhead::default();
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut calls = 0;
        let mut got = Vec::new();
        let mut dst = [0u8; 512];
        while got.len() < data.len() {
            let n = ready(r.poll_read(&mut dst, |buf| {
                calls += 1;
                buf[..data.len()].copy_from_slice(&data);
                Poll::Ready(Ok(data.len()))
            }));
            got.extend_from_slice(&dst[..n]);
        }
        assert_eq!(got, data);
        // One read of the socket for all of it.
        assert_eq!(calls, 1);
        assert!(!r.has_kept());
        assert_eq!(r.kept.capacity(), 0);
    }

    #[test]
    fn pending_errors_and_the_end_pass_through() {
        let mut r = ReadAhead::default();
        let mut dst = [0u8; 8];
        assert!(r.poll_read(&mut dst, |_| Poll::Pending).is_pending());
        let e = r.poll_read(&mut dst, |_| {
            Poll::Ready(Err(io::Error::from(io::ErrorKind::ConnectionReset)))
        });
        assert!(matches!(e, Poll::Ready(Err(ref e)) if e.kind() == io::ErrorKind::ConnectionReset));
        assert_eq!(ready(r.poll_read(&mut dst, |_| Poll::Ready(Ok(0)))), 0);
    }

    #[tokio::test]
    async fn a_socket_read_in_small_pieces_gives_every_byte_once() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut peer, ours) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        peer.write_all(&data).await.unwrap();
        peer.shutdown().await.unwrap();
        let mut io = ReadAheadIo::new(ours);
        let mut got = Vec::new();
        let mut piece = [0u8; WS_READ_BUFFER];
        loop {
            let n = io.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&piece[..n]);
        }
        assert_eq!(got, data);
        assert!(!io.ahead.has_kept());
        // Writes go straight to the socket.
        io.write_all(b"back").await.unwrap();
        let mut back = [0u8; 4];
        peer.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"back");
    }

    #[test]
    fn a_large_destination_is_read_into_directly() {
        let mut r = ReadAhead::default();
        let mut dst = vec![0u8; SCRATCH_LEN];
        let ptr = dst.as_ptr();
        let n = ready(r.poll_read(&mut dst, |buf| {
            assert_eq!(buf.as_ptr(), ptr);
            buf[0] = 7;
            Poll::Ready(Ok(1))
        }));
        assert_eq!((n, dst[0]), (1, 7));
    }
}
