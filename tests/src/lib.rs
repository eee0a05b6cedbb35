//! Simulation and interoperability tests of the sio stack. The test files live in `tests/`.
#![forbid(unsafe_code)]
