//! The runtimes the interoperability tests run against: one set of test cases, run once on
//! `sio-tokio` and once on `sio-async-std`.
//!
//! A test is an `async fn name(rt: Rt)`, or `async fn name<R: TestRuntime>()` when it builds
//! clients (whose builder is typed by the runtime); [`runtime_tests!`](crate::runtime_tests)
//! makes one `#[tokio::test]` of it per runtime (`on_tokio::name`, `on_async_std::name`). The
//! test body itself runs on tokio (it drives Node processes, timers and channels); the server
//! or client under test runs on the runtime named, with that runtime's crate.

use std::future::Future;
use std::net::SocketAddr;

use sio_runtime::rt::RuntimeKind;
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

/// A runtime as a type (for `SocketIo<R>`, `ClientBuilder<R>`), with its [`Rt`] and what a
/// test needs to serve on it.
pub trait TestRuntime: RuntimeKind {
    /// Its value.
    const RT: Rt;

    /// Listen on `addr`: the listener and its address.
    fn bind(
        addr: SocketAddr,
    ) -> impl Future<Output = std::io::Result<(Self::Listener, SocketAddr)>> + Send;

    /// Run `task` in the background on this runtime.
    fn spawn(task: impl Future<Output = ()> + Send + 'static);
}

impl TestRuntime for sio_tokio::Tokio {
    const RT: Rt = Rt::Tokio;

    async fn bind(addr: SocketAddr) -> std::io::Result<(Self::Listener, SocketAddr)> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }
}

impl TestRuntime for sio_async_std::AsyncStd {
    const RT: Rt = Rt::AsyncStd;

    async fn bind(addr: SocketAddr) -> std::io::Result<(Self::Listener, SocketAddr)> {
        let listener = async_std::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    fn spawn(task: impl Future<Output = ()> + Send + 'static) {
        async_std::task::spawn(task);
    }
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
    try_serve(rt, addr, options, app)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"))
}

/// [`serve`], or the error of listening on `addr`.
pub async fn try_serve(
    rt: Rt,
    addr: SocketAddr,
    options: ServerOptions,
    app: impl Install,
) -> std::io::Result<Served> {
    match rt {
        Rt::Tokio => {
            let io = sio_tokio::SocketIo::new(options);
            app.install(&io);
            try_serve_io(&io, addr).await
        }
        Rt::AsyncStd => {
            let io = sio_async_std::SocketIo::new(options);
            app.install(&io);
            try_serve_io(&io, addr).await
        }
    }
}

/// Serve `io` on its runtime, listening on `addr` (port 0: an ephemeral one).
pub async fn serve_io<R: TestRuntime>(io: &SocketIo<R>, addr: SocketAddr) -> Served {
    try_serve_io(io, addr)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"))
}

/// [`serve_io`], or the error of listening on `addr`.
pub async fn try_serve_io<R: TestRuntime>(
    io: &SocketIo<R>,
    addr: SocketAddr,
) -> std::io::Result<Served> {
    let (listener, addr) = R::bind(addr).await?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (done_tx, done) = oneshot::channel();
    let io = io.clone();
    R::spawn(async move {
        let signal = async move {
            let _ = stopped.await;
        };
        let _ = done_tx.send(io.serve_with_shutdown(listener, signal).await);
    });
    Ok(Served {
        addr,
        stop: Some(stop),
        done: Some(done),
    })
}

/// One `#[tokio::test]` per runtime for each `async fn NAME(rt: Rt)` listed (or, after
/// `generic:`, each `async fn NAME<R: TestRuntime>()`): `on_tokio::NAME` and
/// `on_async_std::NAME`.
#[macro_export]
macro_rules! runtime_tests {
    (generic: $($name:ident),* $(,)?) => {
        $crate::runtime_tests!(@each on_tokio, sio_tokio::Tokio, $($name),*);
        $crate::runtime_tests!(@each on_async_std, sio_async_std::AsyncStd, $($name),*);
    };
    (@each $module:ident, $rt:ty, $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name::<$rt>().await
                }
            )*
        }
    };
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
