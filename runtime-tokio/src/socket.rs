//! [`Socket`]: the TCP stream of a served WebSocket, written before tokio's cooperative
//! budget is looked at.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A WebSocket's TCP stream whose writes first try the socket as it is ([`TcpStream::try_write`]),
/// and only when it would block wait the usual way ([`AsyncWrite::poll_write`]).
///
/// The writes of a broadcast to idle connections are made by the emitting task itself, one
/// socket after another (see `sio-runtime`'s outbox). On tokio's `poll_write` every write
/// spends the task's cooperative budget, and once it is spent (after 128 operations) every
/// write reports "not ready" without trying: the rest of the recipients would need their own
/// tasks woken. `try_write` spends no budget; a write that finds the socket full still goes
/// through `poll_write`, which registers for the socket becoming writable. Reads are the
/// stream's own.
#[derive(Debug)]
pub(crate) struct Socket(pub(crate) TcpStream);

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = &mut self.get_mut().0;
        match stream.try_write(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Pin::new(stream).poll_write(cx, buf),
            done => Poll::Ready(done),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;
    use tokio::io::AsyncReadExt;

    #[tokio::test(flavor = "current_thread")]
    async fn writes_go_through_after_the_cooperative_budget_is_spent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let mut client = client.unwrap();
        let (plain, _) = accepted.unwrap();
        // Become writable as tokio sees it.
        plain.writable().await.unwrap();
        let mut socket = Socket(plain);
        let mut cx = Context::from_waker(Waker::noop());
        // 300 one-byte writes in one poll of this task: more than tokio's budget of 128.
        let mut written = 0;
        for _ in 0..300 {
            if let Poll::Ready(Ok(n)) = Pin::new(&mut socket).poll_write(&mut cx, b"x") {
                written += n;
            }
        }
        assert_eq!(written, 300);
        let mut got = vec![0; 300];
        client.read_exact(&mut got).await.unwrap();
        assert!(got.iter().all(|&b| b == b'x'));

        // The same on the stream itself stops at the budget.
        let mut plain = socket.0;
        let mut through = 0;
        for _ in 0..300 {
            if let Poll::Ready(Ok(n)) = Pin::new(&mut plain).poll_write(&mut cx, b"y") {
                through += n;
            }
        }
        assert!(through < 300, "{through}");
    }
}
