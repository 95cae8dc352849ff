//! `cargo tempo history`: the slowest tests and the recent runs the store holds.

use crate::build;
use crate::build::CargoOptions;
use crate::config::Config;
use crate::config::ConfigOptions;
use crate::engine::session::apply_store_dir_env;
use crate::error::{Error, Result, exit_code};
use crate::history::{self, History};
use crate::report::history_table::write_history;

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

/// `cargo tempo history`.
pub fn history(opts: HistoryOptions) -> Result<i32> {
    let workspace = build::workspace(&opts.cargo)?;
    let loaded = Config::load(&workspace.root, opts.config.config_file.as_deref())?;
    let mut profile = loaded.profile(&opts.config.profile)?;
    apply_store_dir_env(&mut profile);
    let path = history::path(&workspace.root.join(&profile.store_dir));
    let (history, warning) = History::load(&path);
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let stdout = std::io::stdout();
    write_history(&mut stdout.lock(), &history, &path, opts.limit).map_err(Error::Output)?;
    Ok(exit_code::OK)
}
