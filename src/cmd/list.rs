//! `cargo tempo list`: the tests a run would run, without running them.

use crate::archive::ArchiveSource;
use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::plan::selection::Selection;
use crate::report::list::ListFormat;
use crate::report::style::Color;

/// Everything `cargo tempo list` needs.
#[derive(Debug, Clone)]
pub struct ListOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile.
    pub config: ConfigOptions,
    /// Which tests.
    pub filter: Selection,
    /// Output format.
    pub format: ListFormat,
    /// Colour.
    pub color: Color,
    /// List only this shard.
    pub partition: Option<crate::shard::Partition>,
    /// List an archive's binaries instead of building.
    pub archive: Option<ArchiveSource>,
    /// `--doc`: list the doctests too.
    pub doc: bool,
}
