//! `cargo tempo partition --show`: how a split would assign the tests to shards.

use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::plan::selection::Selection;

/// Everything `cargo tempo partition --show` needs.
#[derive(Debug, Clone)]
pub struct PartitionOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile (for the store directory, hence the history).
    pub config: ConfigOptions,
    /// Which tests.
    pub filter: Selection,
    /// How many shards.
    pub shards: u64,
}
