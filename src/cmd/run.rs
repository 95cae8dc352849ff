//! `cargo tempo run`: builds (or opens an archive), plans, runs and reports.

use crate::archive::ArchiveSource;
use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::plan::concurrency::Threads;
use crate::plan::selection::Selection;
use crate::report::style::Color;
use crate::report::terminal::MessageFormat;

use super::NoTests;

/// The command line's word on fail-fast, which beats the profile's `fail-fast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailFastFlag {
    /// `--fail-fast`: stop after the first failure; whether running tests are ended
    /// is still the profile's `terminate`.
    First,
    /// `--no-fail-fast`: never stop.
    Never,
    /// `--max-fail N[:MODE]`: both, as given.
    MaxFail(crate::config::FailFast),
}

impl FailFastFlag {
    /// The fail-fast setting a run with `profile`'s setting uses.
    pub fn over(flag: Option<FailFastFlag>, profile: crate::config::FailFast) -> crate::config::FailFast {
        match flag {
            None => profile,
            Some(FailFastFlag::First) => crate::config::FailFast { max_fail: Some(1), ..profile },
            Some(FailFastFlag::Never) => crate::config::FailFast { max_fail: None, ..profile },
            Some(FailFastFlag::MaxFail(given)) => given,
        }
    }
}

/// Everything `cargo tempo run` needs. Options left `None` fall back to the profile.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile.
    pub config: ConfigOptions,
    /// Which tests.
    pub filter: Selection,
    /// How many tests at once.
    pub test_threads: Option<Threads>,
    /// How many times to retry a failing test.
    pub retries: Option<u32>,
    /// `--fail-fast`, `--no-fail-fast` or `--max-fail`, which beat the profile's `fail-fast`.
    pub fail_fast: Option<FailFastFlag>,
    /// What a run that selects no test does.
    pub no_tests: NoTests,
    /// Capture output (false: one test at a time, output passed through).
    pub capture: bool,
    /// Build only.
    pub no_run: bool,
    /// Reporter settings from the command line or the environment.
    pub reporter: ReporterOverrides,
    /// Start the tests that failed last time first.
    pub failed_first: bool,
    /// Start a binary's tests while the rest of the workspace builds.
    pub pipeline: bool,
    /// Run doctests too (`--doc`; the profile's `doctests` also turns them on).
    pub doc: bool,
    /// Colour.
    pub color: Color,
    /// Run only this shard.
    pub partition: Option<crate::shard::Partition>,
    /// Run an archive's binaries instead of building.
    pub archive: Option<ArchiveSource>,
    /// Human output, or JSON events.
    pub message_format: MessageFormat,
    /// Where the HTML report goes.
    pub html_report: HtmlReport,
}

/// Where `cargo tempo run` writes its HTML report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum HtmlReport {
    /// `<store.dir>/<profile>/report.html`.
    #[default]
    Default,
    /// `--report PATH`, relative to the current directory.
    At(std::path::PathBuf),
    /// `--no-report`.
    Off,
}

/// Reporter settings that beat the profile: the command line, else `TEMPO_*`, else `NEXTEST_*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReporterOverrides {
    /// `--status-level`.
    pub status_level: Option<crate::config::StatusLevel>,
    /// `--final-status-level`.
    pub final_status_level: Option<crate::config::FinalStatusLevel>,
    /// `--failure-output`.
    pub failure_output: Option<crate::config::OutputMode>,
    /// `--success-output`.
    pub success_output: Option<crate::config::OutputMode>,
    /// `--group-by-binary`.
    pub group_by_binary: bool,
    /// `--hide-progress-bar`.
    pub hide_progress_bar: bool,
}
