//! `cargo tempo list`: the tests a run would run, without running them.

use std::io::IsTerminal;

use crate::archive::ArchiveSource;
use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::engine::session::{load_history, prepare, setup_and_binaries};
use crate::env::available_cores;
use crate::error::{Error, Result, exit_code};
use crate::plan::selection::Selection;
use crate::report::list::ListFormat;
use crate::report::list::write_list;
use crate::report::style::Color;
use crate::report::style::{Styles, use_color};
use crate::shard::PartitionKind;

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

/// `cargo tempo list`.
pub fn list(opts: ListOptions) -> Result<i32> {
    if opts.doc && opts.archive.is_some() {
        return Err(Error::ArchiveDoctests);
    }
    let (setup, binaries, _extracted) =
        setup_and_binaries(&opts.cargo, &opts.config, &opts.filter, opts.archive.as_ref())?;
    let slots = setup.profile.test_threads.resolve(available_cores());
    // Only duration partitions read the history; `list` otherwise never does.
    let history = opts.partition.filter(|p| p.kind == PartitionKind::Duration).map(|_| load_history(&setup).0);
    // The doctests `run` would run: with `--doc` or the profile's `doctests = true`,
    // never from an archive (which holds no sources to compile them from).
    let doc = (opts.doc || setup.profile.doctests) && opts.archive.is_none();
    let doc_args = doc.then_some(opts.cargo.doc_args.as_slice());
    let mut prepared = prepare(setup, binaries, &opts.filter, None, slots, history.as_ref(), doc_args)?;
    if let Some(partition) = &opts.partition {
        partition.apply(&mut prepared.plan);
    }
    let stdout = std::io::stdout();
    let colored = use_color(opts.color, stdout.is_terminal());
    let styles = if colored { Styles::colored() } else { Styles::default() };
    write_list(&mut stdout.lock(), &prepared.plan, opts.format, &styles).map_err(Error::Output)?;
    Ok(exit_code::OK)
}
