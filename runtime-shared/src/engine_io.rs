//! Engine.IO alone, without Socket.IO: for users of plain `engine.io` clients.

use std::future::Future;
use std::sync::Arc;

use crate::config::ServerOptions;
use crate::io::SocketIo;
use crate::rt::RuntimeKind;
use bytes::Bytes;
use sio_core::engine::server::{CloseReason, EngineEvent, SessionId};
use sio_core::engine::{Frame, Packet};
use sio_core::ByteString;

pub(crate) type Handler = Arc<dyn Fn(EngineSocket, EngineMessage) + Send + Sync>;

/// A message received by an Engine.IO server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineMessage {
    /// A text message.
    Text(ByteString),
    /// A binary message.
    Binary(Bytes),
    /// The session closed.
    Close(CloseReason),
}

/// An Engine.IO server (Node's `engine.io` package) on runtime `Rt` (the runtime crates
/// export it as `EngineIo`): sessions and raw messages.
pub struct EngineIo<Rt> {
    io: SocketIo<Rt>,
}

impl<Rt> std::fmt::Debug for EngineIo<Rt> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EngineIo").field(&self.io).finish()
    }
}

impl<Rt> Clone for EngineIo<Rt> {
    fn clone(&self) -> Self {
        EngineIo {
            io: self.io.clone(),
        }
    }
}

/// One Engine.IO session.
#[derive(Clone)]
pub struct EngineSocket {
    driver: Arc<crate::driver::Driver>,
    session: SessionId,
}

impl std::fmt::Debug for EngineSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSocket")
            .field("session", &self.session.0)
            .finish()
    }
}

impl EngineSocket {
    /// Send a text message.
    pub fn send_text(&self, text: &str) -> bool {
        self.send(Packet::Message(ByteString::from(text)).encode())
    }

    /// Send a binary message.
    pub fn send_binary(&self, data: Bytes) -> bool {
        self.send(Frame::Binary(data))
    }

    fn send(&self, frame: Frame) -> bool {
        let session = self.session;
        self.driver
            .run(|inner, now| inner.core.engine_send(now, session, [frame], false))
            .unwrap_or(false)
    }

    /// Close the session.
    pub fn close(&self) {
        let session = self.session;
        self.driver
            .run(|inner, now| inner.core.engine_close(now, session));
    }
}

impl<Rt: RuntimeKind> EngineIo<Rt> {
    /// An Engine.IO server; `options.path` defaults to `/engine.io/` here.
    pub fn new(mut options: ServerOptions) -> Self {
        if options.path == ServerOptions::default().path {
            options.path = "/engine.io/".into();
        }
        options.engine_only = true;
        EngineIo {
            io: SocketIo::new(options),
        }
    }

    /// Serve on `listener`.
    pub fn serve(&self, listener: Rt::Listener) -> impl Future<Output = std::io::Result<()>> + '_ {
        self.io.serve(listener)
    }

    /// Serve on `listener` until `signal` completes, then shut down (see
    /// [`SocketIo::serve_with_shutdown`]).
    pub async fn serve_with_shutdown<F>(
        &self,
        listener: Rt::Listener,
        signal: F,
    ) -> std::io::Result<()>
    where
        F: Future<Output = ()>,
    {
        self.io.serve_with_shutdown(listener, signal).await
    }
}

impl<Rt> EngineIo<Rt> {
    /// Handle every message of every session.
    pub fn on_message<F: Fn(EngineSocket, EngineMessage) + Send + Sync + 'static>(&self, f: F) {
        let handler: Handler = Arc::new(f);
        *self.io.driver.app.engine_handler.write().expect("app lock") = Some(handler);
    }
}

/// Deliver an Engine.IO event to the handler.
pub(crate) fn on_engine_event(
    driver: &Arc<crate::driver::Driver>,
    handler: Option<Handler>,
    event: EngineEvent,
) {
    let Some(handler) = handler else { return };
    let (session, msg) = match event {
        EngineEvent::Message { session, text } => (session, EngineMessage::Text(text)),
        EngineEvent::Binary { session, data } => (session, EngineMessage::Binary(data)),
        EngineEvent::Close { session, reason } => (session, EngineMessage::Close(reason)),
        EngineEvent::Open { .. } | EngineEvent::Upgraded { .. } => return,
    };
    handler(
        EngineSocket {
            driver: driver.clone(),
            session,
        },
        msg,
    );
}
