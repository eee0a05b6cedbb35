//! The runtimes the interoperability tests run against: one set of test cases, run once on
//! `sio-tokio` and once on `sio-async-std`.
//!
//! A test is an `async fn name(rt: Rt)`; [`runtime_tests!`](crate::runtime_tests) makes one
//! `#[tokio::test]` of it per runtime (`on_tokio::name`, `on_async_std::name`). The test body
//! itself runs on tokio (it drives Node processes, timers and channels); the server or client
//! under test runs on the runtime `rt` names, with that runtime's crate.

use std::net::SocketAddr;

use sio_runtime::{ServerOptions, SocketIo};
use tokio::sync::oneshot;

/// A runtime crate of this project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rt {
    /// `sio-tokio`.
    Tokio,
    /// `sio-async-std`.
    AsyncStd,
}

/// An application to install on a new server, whichever its runtime.
pub trait Install: Send + 'static {
    /// Register the namespaces and handlers on `io`.
    fn install<R: 'static>(self, io: &SocketIo<R>);
}

/// A server running on a runtime, shut down (gracefully) when dropped.
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<std::io::Result<()>>>,
}

impl Served {
    /// The server's URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shut the server down (`serve_with_shutdown`) and wait until it ended and its port is
    /// free: `Ok` with what `serve_with_shutdown` returned, `Err` if it did not end in time.
    pub async fn stop(&mut self, within: std::time::Duration) -> Result<std::io::Result<()>, ()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.done.take() {
            Some(done) => match tokio::time::timeout(within, done).await {
                Ok(Ok(result)) => Ok(result),
                Ok(Err(_)) => Ok(Ok(())),
                Err(_) => Err(()),
            },
            None => Ok(Ok(())),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Start a server on `rt` with `options`, listening on `addr` (port 0: an ephemeral one), with
/// `app` installed.
pub async fn serve(rt: Rt, addr: SocketAddr, options: ServerOptions, app: impl Install) -> Served {
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel();
    let signal = async move {
        let _ = stopped.await;
    };
    let addr = match rt {
        Rt::Tokio => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
            let addr = listener.local_addr().expect("bound");
            let io = sio_tokio::SocketIo::new(options);
            app.install(&io);
            tokio::spawn(async move {
                let _ = done_tx.send(io.serve_with_shutdown(listener, signal).await);
            });
            addr
        }
        Rt::AsyncStd => {
            let listener = async_std::net::TcpListener::bind(addr)
                .await
                .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
            let addr = listener.local_addr().expect("bound");
            let io = sio_async_std::SocketIo::new(options);
            app.install(&io);
            async_std::task::spawn(async move {
                let _ = done_tx.send(io.serve_with_shutdown(listener, signal).await);
            });
            addr
        }
    };
    Served {
        addr,
        stop: Some(stop),
        done: Some(done),
    }
}

/// One `#[tokio::test]` per runtime for each `async fn NAME(rt: Rt)` listed:
/// `on_tokio::NAME` and `on_async_std::NAME`.
#[macro_export]
macro_rules! runtime_tests {
    ($($name:ident),* $(,)?) => {
        mod on_tokio {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::runtime::Rt::Tokio).await
                }
            )*
        }
        mod on_async_std {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::runtime::Rt::AsyncStd).await
                }
            )*
        }
    };
}
