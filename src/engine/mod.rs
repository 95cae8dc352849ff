//! Drives whole runs below the commands: the session set-up every command shares,
//! and the repeated runs that `flaky` and `tune` make, in-process and through
//! `cargo nextest run`.

pub mod flaky;
pub mod nextest;
pub mod repeat;
pub mod session;
pub mod tune;
