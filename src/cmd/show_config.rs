//! `cargo tempo show-config`: the profile and overrides each selected test gets, and
//! what adaptive concurrency learned of each from the history.

use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::engine::session::{build_binaries, load_history, prepare, setup};
use crate::env::available_cores;
use crate::error::{Error, Result, exit_code};
use crate::plan::selection::Selection;
use crate::report::show_config::write_show_config;

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

/// `cargo tempo show-config`.
pub fn show_config(opts: ShowConfigOptions) -> Result<i32> {
    let setup = setup(&opts.cargo, &opts.config, &opts.filter)?;
    let binaries = build_binaries(&opts.cargo, &setup, &opts.filter)?;
    let cores = available_cores();
    let profile = setup.profile.clone();
    let file = setup.config_file.clone();
    let slots = profile.test_threads.resolve(cores);
    // The history says what adaptive concurrency learned of each test.
    let (history, _) = load_history(&setup);
    let prepared = prepare(setup, binaries, &opts.filter, None, slots, Some(&history), None)?;
    let stdout = std::io::stdout();
    write_show_config(&mut stdout.lock(), &profile, file.as_deref(), cores, &prepared.plan).map_err(Error::Output)?;
    Ok(exit_code::OK)
}
