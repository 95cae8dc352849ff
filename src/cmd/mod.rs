//! The only layer that wires the stages together: one module per subcommand, and
//! [`dispatch`], which runs a request the command line resolved into plain settings.

pub mod archive;
pub mod flaky;
pub mod history;
pub mod history_merge;
pub mod junit_merge;
pub mod list;
pub mod partition;
pub mod run;
pub mod show_config;
pub mod tune;

use std::path::PathBuf;

use crate::archive::ArchiveOptions;
use crate::error::Result;
use crate::flaky::FlakyOptions;
use crate::junit_merge::JunitMergeOptions;
use crate::tune::TuneOptions;

/// A subcommand with its settings resolved: what [`dispatch`] runs.
#[derive(Debug, Clone)]
pub enum Request {
    /// `cargo tempo run`.
    Run(run::RunOptions),
    /// `cargo tempo list`.
    List(list::ListOptions),
    /// `cargo tempo show-config`.
    ShowConfig(show_config::ShowConfigOptions),
    /// `cargo tempo history`.
    History(history::HistoryOptions),
    /// `cargo tempo flaky`.
    Flaky(FlakyOptions),
    /// `cargo tempo archive`.
    Archive(ArchiveOptions),
    /// `cargo tempo partition --show`.
    Partition(partition::PartitionOptions),
    /// `cargo tempo junit-merge`.
    JunitMerge(JunitMergeOptions),
    /// `cargo tempo history-merge`: the file to write and the files to read.
    HistoryMerge {
        /// The file to write.
        output: PathBuf,
        /// The files to read.
        inputs: Vec<PathBuf>,
    },
    /// `cargo tempo tune`.
    Tune(TuneOptions),
    /// The hidden watchdog that ends a run's tests if tempo dies.
    Watchdog {
        /// The run it guards.
        run_id: String,
    },
}

/// Runs a resolved request, returning the exit code.
pub fn dispatch(request: Request) -> Result<i32> {
    match request {
        Request::Run(opts) => run::run(opts),
        Request::List(opts) => list::list(opts),
        Request::History(opts) => history::history(opts),
        Request::Flaky(opts) => flaky::run(opts),
        Request::Archive(opts) => archive::archive(opts),
        Request::Partition(opts) => partition::show_partition(opts),
        Request::JunitMerge(opts) => junit_merge::junit_merge(opts),
        Request::HistoryMerge { output, inputs } => history_merge::history_merge(&output, &inputs),
        Request::Tune(opts) => tune::run(opts),
        Request::Watchdog { run_id } => Ok(crate::execute::watchdog::watch(&run_id)),
        Request::ShowConfig(opts) => show_config::show_config(opts),
    }
}
