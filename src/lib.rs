//! tempo runs the tests of a Rust workspace in parallel, each in its own process.
//!
//! Data flows through the stages named by the modules: [`build`] compiles the test
//! binaries, [`discover`] asks each binary for its tests, [`plan`] decides which tests
//! run and how, [`schedule`] orders them and admits them to slots, [`execute`] runs
//! them, and [`report`] turns the resulting [`events::Event`] stream into everything
//! people and machines read. [`cli`] is the front door, [`cmd`] wires the stages
//! together for each subcommand, and imports only go down the layers drawn in
//! `docs/design.md`.

pub mod archive;
pub mod build;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod discover;
pub mod engine;
pub mod env;
pub mod error;
pub mod events;
pub mod execute;
pub mod files;
pub mod filter;
pub mod flaky;
pub mod history;
pub mod junit_merge;
pub mod limits;
pub mod phase;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod shard;
pub mod test_id;
pub mod tune;
