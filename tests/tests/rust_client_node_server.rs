//! Interoperability: this project's Rust client (`sio_tokio::client`) against Node's
//! `socket.io` 4.8 server (`tests/js/server.mjs`), every scenario of
//! `sio_tests::client_support` in every transport mode.
//!
//! These tests need the npm packages of `tests/js` (the README's test command installs them);
//! without them they fail and say so.

sio_tests::client_interop_tests!(sio_tests::client_support::Peer::Node);

// Connection state recovery: only the Node peer has it. The scenarios of each runtime's
// client:
macro_rules! recovery_tests {
    ($module:ident, $rt:ty) => {
        mod $module {
            use sio_tests::client_support::{recovery, recovery_volatile_event, run, Mode, Peer};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn recovery_over_polling() {
                run(Peer::Node, Mode::Polling, recovery::<$rt>).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn recovery_over_websocket() {
                run(Peer::Node, Mode::WebSocket, recovery::<$rt>).await;
            }

            /// A volatile event keeps its arguments with a recovery session: Node appends
            /// offsets only to events that are neither volatile nor waiting for an ack, and the
            /// client core takes a last string argument off only when it is an offset (Node's
            /// `yeast()` form, consistent in time with the session's earlier offsets; see
            /// protocol-core/src/client/offset.rs).
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn volatile_event_over_polling() {
                run(Peer::Node, Mode::Polling, recovery_volatile_event::<$rt>).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn volatile_event_over_websocket() {
                run(Peer::Node, Mode::WebSocket, recovery_volatile_event::<$rt>).await;
            }
        }
    };
}

recovery_tests!(recovery_on_tokio, sio_tokio::Tokio);
recovery_tests!(recovery_on_async_std, sio_async_std::AsyncStd);
