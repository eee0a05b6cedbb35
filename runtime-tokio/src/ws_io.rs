//! [`WsIo`]: the TCP stream of a server WebSocket, its reads through the thread's buffer
//! ([`ReadAhead`]) so that an idle connection keeps no read buffer of its own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sio_runtime::rt::ReadAhead;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A server WebSocket's TCP stream: reads through [`ReadAhead`], writes straight through.
#[derive(Debug)]
pub(crate) struct WsIo {
    io: TcpStream,
    ahead: ReadAhead,
}

impl WsIo {
    pub(crate) fn new(io: TcpStream) -> Self {
        WsIo {
            io,
            ahead: ReadAhead::default(),
        }
    }
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let WsIo { io, ahead } = self.get_mut();
        let read = ahead.poll_read(buf.initialize_unfilled(), |dst| {
            let mut dst = ReadBuf::new(dst);
            Pin::new(&mut *io)
                .poll_read(cx, &mut dst)
                .map_ok(|()| dst.filled().len())
        });
        read.map_ok(|n| buf.advance(n))
    }
}

impl AsyncWrite for WsIo {
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
