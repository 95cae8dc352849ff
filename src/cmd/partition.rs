//! `cargo tempo partition --show`: how a split would assign the tests to shards.

use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::engine::session::{build_binaries, load_history, prepare, setup};
use crate::env::available_cores;
use crate::error::{Error, Result, exit_code};
use crate::plan::selection::Selection;
use crate::report::partition_table::write_partition;

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

/// `cargo tempo partition --show N`.
pub fn show_partition(opts: PartitionOptions) -> Result<i32> {
    let setup = setup(&opts.cargo, &opts.config, &opts.filter)?;
    let binaries = build_binaries(&opts.cargo, &setup, &opts.filter)?;
    let slots = setup.profile.test_threads.resolve(available_cores());
    let (history, path) = load_history(&setup);
    let prepared = prepare(setup, binaries, &opts.filter, None, slots, Some(&history), None)?;
    let shards = crate::plan::partition::show(&prepared.plan.tests, opts.shards);
    let stdout = std::io::stdout();
    write_partition(&mut stdout.lock(), &shards, &path).map_err(Error::Output)?;
    Ok(exit_code::OK)
}
