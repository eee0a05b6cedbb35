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

/// Reproduces a client core bug (protocol-core/src/client, `Sock::take_offset`): with a
/// recovery session the core takes the last string argument off every event without an ack id
/// as its offset, but the server adds offsets only to non-volatile events, so a volatile
/// event `["vtock","payload"]` reaches the application as `["vtock"]` (and `payload` becomes
/// the offset sent on the next recovery). Un-ignore once the core is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "client core bug: volatile events lose their last string argument with recovery"]
async fn recovery_volatile_event_keeps_its_arguments() {
    use sio_tests::client_support::{recovery_volatile_event, run, Mode, Peer};
    run(Peer::Node, Mode::WebSocket, recovery_volatile_event).await;
}
