//! Interoperability: this project's Rust client (`sio_tokio::client`) against a
//! `python-socketio` 5 server on aiohttp (`tests/py/server.py`), every scenario of
//! `sio_tests::client_support` in every transport mode.
//!
//! These tests need the virtual environment `tests/py/.venv` made from
//! `tests/py/requirements.txt` (the README's test command creates it); without it they fail
//! and say so.

sio_tests::client_interop_tests!(sio_tests::client_support::Peer::Python);
