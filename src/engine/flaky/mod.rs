//! `flaky`'s engines: each runs the selected tests N times with retries off and
//! counts every test's failures, in-process or through `cargo nextest run`.

pub mod in_process;
pub mod nextest;
