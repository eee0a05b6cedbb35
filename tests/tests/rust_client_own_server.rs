//! Interoperability: this project's Rust client (`sio_tokio::client`) against this project's
//! server (`sio_tokio::SocketIo`, in-process, with the handlers of the Node and Python peers),
//! every scenario of `sio_tests::client_support` in every transport mode.

sio_tests::client_interop_tests!(sio_tests::client_support::Peer::Own);
