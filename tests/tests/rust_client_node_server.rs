//! Interoperability: this project's Rust client (`sio_tokio::client`) against Node's
//! `socket.io` 4.8 server (`tests/js/server.mjs`), every scenario of
//! `sio_tests::client_support` in every transport mode.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

sio_tests::client_interop_tests!(sio_tests::client_support::Peer::Node);

// Connection state recovery: only the Node peer has it.
mod recovery {
    use sio_tests::client_support::{recovery, run, Mode, Peer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling() {
        run(Peer::Node, Mode::Polling, recovery).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket() {
        run(Peer::Node, Mode::WebSocket, recovery).await;
    }
}

/// A volatile event keeps its arguments with a recovery session: Node appends offsets only to
/// events that are neither volatile nor waiting for an ack, and the client core takes a last
/// string argument off only when it is an offset (Node's `yeast()` form, consistent in time
/// with the session's earlier offsets; see protocol-core/src/client/offset.rs).
mod recovery_volatile_event {
    use sio_tests::client_support::{recovery_volatile_event, run, Mode, Peer};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polling() {
        run(Peer::Node, Mode::Polling, recovery_volatile_event).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn websocket() {
        run(Peer::Node, Mode::WebSocket, recovery_volatile_event).await;
    }
}
