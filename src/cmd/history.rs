//! `cargo tempo history`: the slowest tests and the recent runs the store holds.

use crate::build::CargoOptions;
use crate::config::ConfigOptions;

/// Everything `cargo tempo history` needs.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// Where the workspace is.
    pub cargo: CargoOptions,
    /// Which config, for the store directory.
    pub config: ConfigOptions,
    /// How many of the slowest tests to show.
    pub limit: usize,
}
