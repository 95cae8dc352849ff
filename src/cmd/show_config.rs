//! `cargo tempo show-config`: the profile and overrides each selected test gets.

use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::plan::selection::Selection;

/// Everything `cargo tempo show-config` needs.
#[derive(Debug, Clone)]
pub struct ShowConfigOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile.
    pub config: ConfigOptions,
    /// Which tests to show overrides for.
    pub filter: Selection,
}
