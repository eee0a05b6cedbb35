//! # sio-loadgen
//!
//! The load generator of the side-by-side Socket.IO bench (`bench/run.sh`). It speaks Engine.IO
//! v4 / Socket.IO v5 as a client with frames encoded once (so the generator costs little per
//! message), over raw WebSocket and over HTTP long-polling, and measures the server process
//! from `/proc`: CPU time (utime + stime) and RSS around each scenario's measured window.
//!
//! Scenarios ([`scenarios`]): `connect` (N idle WebSocket clients), `echo` (emitWithAck round
//! trips), `broadcast` (server-timed room broadcast, lost messages counted), `polling` (echo
//! over long-polling). [`report`] turns the JSON lines into the README table and chart.
#![forbid(unsafe_code)]

pub mod procfs;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod wire;
