//! [`WsIo`]: the TCP stream of a server WebSocket, its reads through the thread's buffer
//! ([`ReadAhead`]) so that an idle connection keeps no read buffer of its own.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_std::io::{Read as AsyncRead, Write as AsyncWrite};
use async_std::net::TcpStream;
use sio_runtime::rt::ReadAhead;

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
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let WsIo { io, ahead } = self.get_mut();
        ahead.poll_read(buf, |dst| Pin::new(&mut *io).poll_read(cx, dst))
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_close(cx)
    }
}
