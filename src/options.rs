//! Resolved settings: what the raw command line means once defaults are applied.
//!
//! This is the second of the two argument stages. Everything downstream of here takes
//! these plain types, never clap's, so a later config file can feed the same fields.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::cli::{CargoArgs, ColorArg, Command, ConfigArgs, FilterArgs, ListArgs, ListFormatArg, RunArgs, ThreadsArg};
use crate::error::Result;

/// How `cargo test --no-run` is invoked.
#[derive(Debug, Clone, Default)]
pub struct CargoOptions {
    /// The arguments that pass through to cargo, already rendered.
    pub args: Vec<OsString>,
    /// `--manifest-path`, also used for `cargo metadata`.
    pub manifest_path: Option<PathBuf>,
    /// `--target-dir`, also used for `cargo metadata`.
    pub target_dir: Option<PathBuf>,
    /// The arguments for `cargo test --doc`: the same build settings (features,
    /// profile, manifest, target directory, lock flags) without package or target
    /// selection, which `--doc` does not mix with.
    pub doc_args: Vec<OsString>,
}

impl CargoOptions {
    fn from_args(a: CargoArgs) -> CargoOptions {
        let mut args: Vec<OsString> = Vec::new();
        let mut doc_args: Vec<OsString> = Vec::new();
        let mut push = |flag: &str, value: Option<&str>, for_doc: bool| {
            for list in if for_doc { vec![&mut args, &mut doc_args] } else { vec![&mut args] } {
                list.push(flag.into());
                if let Some(v) = value {
                    list.push(v.into());
                }
            }
        };
        for p in &a.packages {
            push("--package", Some(p), false);
        }
        for (on, flag, for_doc) in [
            (a.workspace, "--workspace", false),
            (a.lib, "--lib", false),
            (a.bins, "--bins", false),
            (a.tests, "--tests", false),
            (a.examples, "--examples", false),
            (a.benches, "--benches", false),
            (a.all_targets, "--all-targets", false),
            (a.all_features, "--all-features", true),
            (a.no_default_features, "--no-default-features", true),
            (a.release, "--release", true),
            (a.locked, "--locked", true),
            (a.offline, "--offline", true),
            (a.frozen, "--frozen", true),
        ] {
            if on {
                push(flag, None, for_doc);
            }
        }
        for (values, flag, for_doc) in [
            (&a.exclude, "--exclude", false),
            (&a.bin, "--bin", false),
            (&a.test, "--test", false),
            (&a.example, "--example", false),
            (&a.bench, "--bench", false),
            (&a.features, "--features", true),
        ] {
            for v in values {
                push(flag, Some(v), for_doc);
            }
        }
        if let Some(p) = &a.cargo_profile {
            push("--profile", Some(p), true);
        }
        for _ in 0..a.verbose {
            push("-v", None, false);
        }
        for (value, flag) in [(&a.target_dir, "--target-dir"), (&a.manifest_path, "--manifest-path")] {
            if let Some(v) = value {
                for list in [&mut args, &mut doc_args] {
                    list.push(flag.into());
                    list.push(v.into());
                }
            }
        }
        CargoOptions { args, manifest_path: a.manifest_path, target_dir: a.target_dir, doc_args }
    }
}

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

/// What a run that selects no test does (`--no-tests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NoTests {
    /// Exit 4 (`NO_TESTS_RUN`) with an error, as nextest does by default.
    #[default]
    Fail,
    /// Exit 0 with a warning.
    Warn,
    /// Exit 0 silently.
    Pass,
}

impl NoTests {
    /// Says so as the action asks, and returns the exit code; `found` is how many
    /// tests the filters left out.
    pub fn report(self, found: usize) -> i32 {
        let what = format!("no tests to run: the filters matched none of the {found} tests found");
        match self {
            NoTests::Fail => {
                eprintln!("error: {what}");
                crate::error::exit_code::NO_TESTS_RUN
            }
            NoTests::Warn => {
                eprintln!("warning: {what}");
                crate::error::exit_code::OK
            }
            NoTests::Pass => crate::error::exit_code::OK,
        }
    }
}

/// Which ignored tests take part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunIgnored {
    /// Only the tests that are not ignored (libtest's default).
    #[default]
    Default,
    /// Only the ignored tests (`--ignored`).
    Only,
    /// Both (`--include-ignored`).
    All,
}

/// Name-based test selection, with libtest's meaning.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    /// Substrings (or, with `exact`, whole names); a test must match one when any are given.
    pub patterns: Vec<String>,
    /// Match whole names instead of substrings.
    pub exact: bool,
    /// Patterns that exclude a test.
    pub skip: Vec<String>,
    /// Which ignored tests take part.
    pub run_ignored: RunIgnored,
}

/// Everything that selects tests: names, the ignored flag and filter expressions.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Name filters and the ignored flag.
    pub names: NameFilter,
    /// `-E` expressions, not yet parsed.
    pub filtersets: Vec<String>,
    /// `--ignore-default-filter`.
    pub ignore_default_filter: bool,
}

impl Selection {
    fn from_args(a: FilterArgs) -> Selection {
        let filtersets = a.filtersets.clone();
        let ignore_default_filter = a.ignore_default_filter;
        Selection { names: NameFilter::from_args(a), filtersets, ignore_default_filter }
    }
}

impl NameFilter {
    fn from_args(a: FilterArgs) -> NameFilter {
        let run_ignored = match a.run_ignored {
            _ if a.ignored => RunIgnored::Only,
            _ if a.include_ignored => RunIgnored::All,
            Some(crate::cli::RunIgnoredArg::Only) => RunIgnored::Only,
            Some(crate::cli::RunIgnoredArg::All) => RunIgnored::All,
            Some(crate::cli::RunIgnoredArg::Default) | None => RunIgnored::Default,
        };
        NameFilter { patterns: a.filters, exact: a.exact, skip: a.skip, run_ignored }
    }

    fn matches_pattern(&self, pattern: &str, name: &str) -> bool {
        if self.exact { name == pattern } else { name.contains(pattern) }
    }

    /// Whether the test `name` is selected by its name alone (ignoring the ignored flag).
    pub fn matches_name(&self, name: &str) -> bool {
        let included = self.patterns.is_empty() || self.patterns.iter().any(|p| self.matches_pattern(p, name));
        included && !self.skip.iter().any(|p| self.matches_pattern(p, name))
    }

    /// Whether a test with this ignored flag takes part.
    pub fn matches_ignored(&self, ignored: bool) -> bool {
        match self.run_ignored {
            RunIgnored::Default => !ignored,
            RunIgnored::Only => ignored,
            RunIgnored::All => true,
        }
    }
}

/// Colour choice, resolved later against the terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Color {
    /// Colour when the output is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl From<ColorArg> for Color {
    fn from(c: ColorArg) -> Color {
        match c {
            ColorArg::Auto => Color::Auto,
            ColorArg::Always => Color::Always,
            ColorArg::Never => Color::Never,
        }
    }
}

impl Color {
    /// `--color` if given, else `CARGO_TERM_COLOR` (as cargo and nextest read it) if it
    /// holds `auto`, `always` or `never`, else `auto`. `auto` is decided later against
    /// the stream written to (see [`crate::report::style::use_color`]).
    pub fn resolve(flag: Option<ColorArg>, cargo_term_color: Option<&str>) -> Color {
        if let Some(flag) = flag {
            return flag.into();
        }
        match cargo_term_color {
            Some("always") => Color::Always,
            Some("never") => Color::Never,
            _ => Color::Auto,
        }
    }

    fn from_flag(flag: Option<ColorArg>) -> Color {
        Color::resolve(flag, std::env::var("CARGO_TERM_COLOR").ok().as_deref())
    }
}

/// How `cargo tempo run` reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MessageFormat {
    /// Status lines and a summary on stdout.
    #[default]
    Human,
    /// JSON events on stdout; the human output goes to stderr.
    Json,
}

/// Which config file and profile to use.
#[derive(Debug, Clone, Default)]
pub struct ConfigOptions {
    /// The profile: the command line, else `TEMPO_PROFILE`, else `NEXTEST_PROFILE`, else `default`.
    pub profile: String,
    /// An explicit config file.
    pub config_file: Option<PathBuf>,
}

impl ConfigOptions {
    fn from_args(a: ConfigArgs) -> ConfigOptions {
        let profile = a
            .profile
            .or_else(|| std::env::var("TEMPO_PROFILE").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("NEXTEST_PROFILE").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "default".into());
        ConfigOptions { profile, config_file: a.config_file }
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
    pub test_threads: Option<ThreadsArg>,
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

/// An archive to run instead of a build (`--archive-file`).
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    /// The `.tar.zst` file.
    pub file: PathBuf,
    /// The source checkout the tests run in; `None` means the archived workspace root.
    pub workspace_remap: Option<PathBuf>,
    /// Where to extract it (kept); `None` means a temporary directory.
    pub extract_to: Option<PathBuf>,
    /// Whether extracting into `extract_to` may replace files already there.
    pub extract_overwrite: bool,
}

impl ArchiveSource {
    fn from_args(a: crate::cli::ArchiveSourceArgs) -> Option<ArchiveSource> {
        Some(ArchiveSource {
            file: a.archive_file?,
            workspace_remap: a.workspace_remap,
            extract_to: a.extract_to,
            extract_overwrite: a.extract_overwrite,
        })
    }
}

/// Everything `cargo tempo archive` needs.
#[derive(Debug, Clone)]
pub struct ArchiveOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Where the archive goes.
    pub archive_file: PathBuf,
    /// The zstd level.
    pub zstd_level: i32,
}

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

/// Everything `cargo tempo junit-merge` needs.
#[derive(Debug, Clone)]
pub struct JunitMergeOptions {
    /// The file to write.
    pub output: PathBuf,
    /// The files to read.
    pub inputs: Vec<PathBuf>,
    /// The merged report's name.
    pub name: Option<String>,
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

/// The first of `TEMPO_<name>` and `NEXTEST_<name>` that is set and parses.
fn from_env<T: std::str::FromStr>(name: &str) -> Option<T> {
    ["TEMPO_", "NEXTEST_"].iter().find_map(|prefix| std::env::var(format!("{prefix}{name}")).ok()?.parse().ok())
}

impl ReporterOverrides {
    fn from_args(a: crate::cli::ReporterArgs) -> ReporterOverrides {
        ReporterOverrides {
            status_level: a.status_level.or_else(|| from_env("STATUS_LEVEL")),
            final_status_level: a.final_status_level.or_else(|| from_env("FINAL_STATUS_LEVEL")),
            failure_output: a.failure_output.or_else(|| from_env("FAILURE_OUTPUT")),
            success_output: a.success_output.or_else(|| from_env("SUCCESS_OUTPUT")),
            group_by_binary: a.group_by_binary,
            hide_progress_bar: a.hide_progress_bar,
        }
    }
}

/// How `cargo tempo list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// Grouped by binary.
    Human,
    /// `<binary-id> <test-name>` per line.
    Oneline,
}

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

/// The number of cores tempo may use.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resolves a thread count against the core count; never less than 1.
/// How many tests run at once: a fixed slot count, or, when adaptive, up to `slots`
/// at once as long as their predicted CPU demand fits `cpu_budget` cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concurrency {
    /// The slots: the most tests at once, and the timeline's lanes.
    pub slots: usize,
    /// Under adaptive concurrency, the cores the running tests' CPU demand must fit.
    pub cpu_budget: Option<f64>,
}

/// Resolves the command line's thread count (which beats the profile's) on a machine
/// with `cores` cores.
pub fn resolve_concurrency(arg: Option<ThreadsArg>, profile: &crate::config::Profile, cores: usize) -> Concurrency {
    let adaptive = match arg {
        Some(a) => a == ThreadsArg::Adaptive,
        None => profile.test_threads == crate::config::TestThreads::Adaptive,
    };
    if adaptive {
        let cap = profile.max_test_threads.map_or(4 * cores.max(1), |t| t.resolve(cores));
        return Concurrency { slots: cap.max(1), cpu_budget: Some(cores.max(1) as f64) };
    }
    let slots = match arg {
        Some(t) => resolve_threads(t, cores),
        None => profile.test_threads.resolve(cores),
    };
    Concurrency { slots, cpu_budget: None }
}

/// A fixed thread count for a command-line value; `adaptive` stands for the core count.
pub fn resolve_threads(arg: ThreadsArg, cores: usize) -> usize {
    match arg {
        ThreadsArg::Count(n) => n,
        ThreadsArg::NumCpus | ThreadsArg::Adaptive => cores,
        ThreadsArg::Offset(off) => crate::limits::offset_threads(cores, off),
    }
}

impl RunOptions {
    fn from_args(a: RunArgs) -> RunOptions {
        let capture = !a.no_capture;
        // clap keeps `--max-fail` apart from the other two.
        let fail_fast = if a.no_fail_fast {
            Some(FailFastFlag::Never)
        } else if a.fail_fast {
            Some(FailFastFlag::First)
        } else {
            a.max_fail.map(FailFastFlag::MaxFail)
        };
        RunOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            test_threads: a.test_threads,
            retries: a.retries,
            fail_fast,
            no_tests: match a.no_tests {
                crate::cli::NoTestsArg::Auto | crate::cli::NoTestsArg::Fail => NoTests::Fail,
                crate::cli::NoTestsArg::Warn => NoTests::Warn,
                crate::cli::NoTestsArg::Pass => NoTests::Pass,
            },
            capture,
            no_run: a.no_run,
            reporter: ReporterOverrides::from_args(a.reporter),
            failed_first: a.failed_first,
            pipeline: !a.no_pipeline,
            doc: a.doc,
            color: Color::from_flag(a.output.color),
            partition: a.partition,
            archive: ArchiveSource::from_args(a.archive),
            message_format: match a.message_format {
                crate::cli::RunFormatArg::Human => MessageFormat::Human,
                crate::cli::RunFormatArg::Json => MessageFormat::Json,
            },
            html_report: match (a.report, a.no_report) {
                (_, true) => HtmlReport::Off,
                (Some(path), false) => HtmlReport::At(path),
                (None, false) => HtmlReport::Default,
            },
        }
    }
}

impl ListOptions {
    fn from_args(a: ListArgs) -> ListOptions {
        ListOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            format: match a.message_format {
                ListFormatArg::Human => ListFormat::Human,
                ListFormatArg::Oneline => ListFormat::Oneline,
            },
            color: Color::from_flag(a.output.color),
            partition: a.partition,
            archive: ArchiveSource::from_args(a.archive),
            doc: a.doc,
        }
    }
}

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

/// Everything `cargo tempo flaky` needs.
#[derive(Debug, Clone)]
pub struct FlakyOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile.
    pub config: ConfigOptions,
    /// Which tests.
    pub filter: Selection,
    /// How many runs.
    pub runs: u32,
    /// Run them with `cargo nextest run` instead of tempo.
    pub nextest: bool,
    /// Where the JSON report goes, instead of the store directory.
    pub json: Option<PathBuf>,
    /// Add the suggested overrides to the config file.
    pub write: bool,
    /// How many tests at once.
    pub test_threads: Option<ThreadsArg>,
}

/// Everything `cargo tempo tune` needs.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// How to build.
    pub cargo: CargoOptions,
    /// Config file and profile.
    pub config: ConfigOptions,
    /// Which tests.
    pub filter: Selection,
    /// The thread counts to measure, resolved, sorted and without repeats; never empty.
    pub threads: Vec<usize>,
    /// Measured runs per thread count.
    pub repeat: u32,
    /// Run them with `cargo nextest run` instead of tempo.
    pub nextest: bool,
    /// How far above the best median a recommended count may be, as a fraction.
    pub tolerance: f64,
    /// Write the recommendation into the config file.
    pub write: bool,
}

/// The thread counts `tune` measures by default: the powers of two up to four times
/// the core count, the core count itself, and four times it.
pub fn default_sweep(cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n <= 4 * cores)
        .chain([cores, 4 * cores])
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Resolves `--threads` against the core count: sorted, without repeats, and the
/// default sweep when none were given.
pub fn sweep_threads(args: &[ThreadsArg], cores: usize) -> Vec<usize> {
    if args.is_empty() {
        return default_sweep(cores);
    }
    let mut counts: Vec<usize> = args.iter().map(|a| resolve_threads(*a, cores)).collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Resolves a parsed command and runs it, returning the exit code.
pub fn dispatch(command: Command) -> Result<i32> {
    match command {
        Command::Run(args) => crate::pipeline::run(RunOptions::from_args(args)),
        Command::List(args) => crate::pipeline::list(ListOptions::from_args(args)),
        Command::History(a) => crate::pipeline::history(HistoryOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            limit: a.limit,
        }),
        Command::Flaky(a) => crate::flaky::run(FlakyOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            runs: a.runs,
            nextest: a.engine == crate::cli::EngineArg::Nextest,
            json: a.json,
            write: a.write,
            test_threads: a.test_threads,
        }),
        Command::Archive(a) => crate::archive::create(ArchiveOptions {
            cargo: CargoOptions::from_args(a.cargo),
            archive_file: a.archive_file,
            zstd_level: a.zstd_level,
        }),
        Command::Partition(a) => crate::pipeline::show_partition(PartitionOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            shards: a.show,
        }),
        Command::JunitMerge(a) => {
            crate::junit_merge::run(JunitMergeOptions { output: a.output, inputs: a.inputs, name: a.name })
        }
        Command::HistoryMerge(a) => crate::history::merge_files(&a.output, &a.inputs),
        Command::Tune(a) => crate::tune::run(TuneOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
            threads: sweep_threads(&a.threads, available_cores()),
            repeat: a.repeat,
            nextest: a.engine == crate::cli::EngineArg::Nextest,
            tolerance: a.tolerance,
            write: a.write,
        }),
        Command::Watchdog { run_id } => Ok(crate::execute::watchdog::watch(&run_id)),
        Command::ShowConfig(a) => crate::pipeline::show_config(ShowConfigOptions {
            cargo: CargoOptions::from_args(a.cargo),
            config: ConfigOptions::from_args(a.config),
            filter: Selection::from_args(a.filter),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str], exact: bool, skip: &[&str]) -> NameFilter {
        NameFilter {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            exact,
            skip: skip.iter().map(|s| s.to_string()).collect(),
            run_ignored: RunIgnored::Default,
        }
    }

    #[test]
    fn substring_filters_select_like_libtest() {
        let f = filter(&["parse"], false, &["unparse"]);
        assert!(f.matches_name("parse_one"));
        assert!(f.matches_name("nested::parse_roundtrip"));
        assert!(!f.matches_name("unparse"));
        assert!(!f.matches_name("adds"));
    }

    #[test]
    fn exact_filters_match_whole_names() {
        let f = filter(&["parse_one"], true, &[]);
        assert!(f.matches_name("parse_one"));
        assert!(!f.matches_name("parse_one_more"));
    }

    #[test]
    fn no_patterns_select_everything() {
        assert!(filter(&[], false, &[]).matches_name("anything"));
    }

    #[test]
    fn the_default_sweep_doubles_up_to_four_times_the_cores_and_includes_them() {
        assert_eq!(default_sweep(1), [1, 2, 4]);
        assert_eq!(default_sweep(2), [1, 2, 4, 8]);
        assert_eq!(default_sweep(6), [1, 2, 4, 6, 8, 16, 24]);
    }

    #[test]
    fn swept_counts_are_resolved_sorted_and_unique() {
        let args = [ThreadsArg::Count(4), ThreadsArg::NumCpus, ThreadsArg::Count(1), ThreadsArg::Offset(-1)];
        assert_eq!(sweep_threads(&args, 2), [1, 2, 4]);
        assert_eq!(sweep_threads(&[], 2), default_sweep(2));
    }

    #[test]
    fn thread_counts_resolve_against_cores() {
        assert_eq!(resolve_threads(ThreadsArg::Count(8), 2), 8);
        assert_eq!(resolve_threads(ThreadsArg::NumCpus, 2), 2);
        assert_eq!(resolve_threads(ThreadsArg::Offset(-1), 4), 3);
        assert_eq!(resolve_threads(ThreadsArg::Offset(-8), 4), 1);
    }
}
