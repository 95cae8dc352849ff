//! The command line as the user typed it: clap's types live here and nowhere else.
//!
//! `convert` turns these raw flags into the resolved settings that the rest
//! of tempo uses, so that no stage downstream ever looks at a clap type.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod convert;

use crate::error::{Error, exit_code};
use crate::plan::concurrency::Threads;

/// `cargo` invokes subcommands as `cargo-tempo tempo ARGS`, so the top level is a
/// one-variant `cargo` command.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::styling::Styles::styled())]
pub enum CargoCli {
    /// A parallel test runner for Rust workspaces.
    Tempo(TempoCli),
}

/// The arguments after `cargo tempo`.
#[derive(Debug, Args)]
#[command(version, about = "A parallel test runner for Rust workspaces", long_about = None)]
pub struct TempoCli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// tempo's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the workspace's tests and run them, each in its own process.
    Run(RunArgs),
    /// Build the workspace's tests and list them.
    List(ListArgs),
    /// Show the resolved config profile and which override applies to which tests.
    ShowConfig(ShowConfigArgs),
    /// Show the duration history: the slowest tests, their trend, and flaky outcomes.
    History(HistoryArgs),
    /// Run the selected tests many times and tell the flaky tests from the stable and the broken.
    Flaky(FlakyArgs),
    /// Build the test binaries and pack them, with what they need, into one file for other machines.
    Archive(ArchiveArgs),
    /// Show how `--partition duration:K/N` splits the tests into N shards.
    Partition(PartitionArgs),
    /// Merge the JUnit files of several shards into one.
    JunitMerge(JunitMergeArgs),
    /// Merge the duration histories of several shards into one.
    HistoryMerge(HistoryMergeArgs),
    /// Run the selected tests at several thread counts and recommend the best `test-threads`.
    Tune(TuneArgs),
    /// Internal: ends a run's test processes when the tempo that ran them dies.
    #[command(name = "__watchdog", hide = true)]
    Watchdog {
        /// The run's id.
        run_id: String,
    },
}

impl Command {
    /// The test selection the command takes, if it takes one.
    fn filter_args_mut(&mut self) -> Option<&mut FilterArgs> {
        match self {
            Command::Run(a) => Some(&mut a.filter),
            Command::List(a) => Some(&mut a.filter),
            Command::ShowConfig(a) => Some(&mut a.filter),
            Command::Flaky(a) => Some(&mut a.filter),
            Command::Partition(a) => Some(&mut a.filter),
            Command::Tune(a) => Some(&mut a.filter),
            Command::History(_)
            | Command::Archive(_)
            | Command::JunitMerge(_)
            | Command::HistoryMerge(_)
            | Command::Watchdog { .. } => None,
        }
    }
}

impl FilterArgs {
    /// Reads libtest's own arguments among the positional ones, as nextest does:
    /// after `--`, clap hands everything over as filters, so `cargo tempo run --
    /// --skip prime` would run only the tests matching `prime`. A name filter never
    /// starts with `-` (a Rust path cannot), so every such word is one of libtest's:
    /// `--exact`, `--skip PATTERN` (or `--skip=PATTERN`), `--ignored` and
    /// `--include-ignored` mean what the options of the same name do; any other is
    /// refused, naming the ones read.
    fn absorb_libtest_args(&mut self) -> Result<(), String> {
        let mut words = std::mem::take(&mut self.filters).into_iter();
        while let Some(word) = words.next() {
            match word.as_str() {
                "--exact" => self.exact = true,
                "--ignored" => self.ignored = true,
                "--include-ignored" => self.include_ignored = true,
                "--skip" => match words.next() {
                    Some(pattern) => self.skip.push(pattern),
                    None => return Err("`--skip` after `--` needs a pattern".into()),
                },
                w if w.starts_with("--skip=") => self.skip.push(w["--skip=".len()..].to_owned()),
                w if w.starts_with('-') => {
                    return Err(format!(
                        "unsupported libtest argument `{w}` after `--`: tempo reads `--exact`, `--skip PATTERN`, \
                         `--ignored` and `--include-ignored` there, as nextest does"
                    ));
                }
                _ => self.filters.push(word),
            }
        }
        if self.ignored && self.include_ignored {
            return Err("`--ignored` and `--include-ignored` cannot be used together".into());
        }
        Ok(())
    }
}

/// `cargo tempo history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How many of the slowest tests to show.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

/// `cargo tempo flaky`.
#[derive(Debug, Args)]
pub struct FlakyArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// How many times to run the selected tests.
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(2..=crate::limits::MAX_FLAKY_RUNS as i64))]
    pub runs: u32,
    /// Which runner runs them: tempo itself, or `cargo nextest run`.
    #[arg(long, value_enum, default_value_t, value_name = "ENGINE")]
    pub engine: EngineArg,
    /// Write the JSON report here [default: <store.dir>/flaky/flaky.json].
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Add the suggested retry overrides for the flaky tests to the config file in use.
    #[arg(long)]
    pub write: bool,
    /// How many tests to run at once [default: the profile's test-threads].
    #[arg(short = 'j', long = "test-threads", value_name = "N", allow_negative_numbers = true)]
    pub test_threads: Option<Threads>,
}

/// `cargo tempo tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// The thread counts to measure, comma-separated (numbers, `num-cpus`, or negative
    /// offsets from the core count) [default: 1, 2, 4, ... up to 4x the cores, and the core count].
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        allow_negative_numbers = true,
        value_parser = parse_swept_threads,
        help_heading = "Sweep"
    )]
    pub threads: Vec<Threads>,
    /// How many measured runs at each thread count (after one warm-up run).
    #[arg(long, default_value_t = 3, value_name = "R", value_parser = clap::value_parser!(u32).range(1..=crate::limits::MAX_TUNE_REPEAT as i64), help_heading = "Sweep")]
    pub repeat: u32,
    /// Which runner runs them: tempo itself, or `cargo nextest run`.
    #[arg(long, value_enum, default_value_t, value_name = "ENGINE", help_heading = "Sweep")]
    pub engine: EngineArg,
    /// Recommend the smallest thread count whose median wall time is within this fraction
    /// of the best median (`0.05` or `5%`).
    #[arg(long, default_value = "0.05", value_name = "FRACTION", value_parser = parse_tolerance, help_heading = "Sweep")]
    pub tolerance: f64,
    /// Set `test-threads` to the recommended count in the chosen profile of the config
    /// file in use (with --engine nextest: `.config/nextest.toml`).
    #[arg(long, help_heading = "Sweep")]
    pub write: bool,
}

/// A thread count that `tune` can measure: any fixed count `-j` takes. `adaptive` is
/// not a count, and has no row in the sweep yet.
pub fn parse_swept_threads(s: &str) -> Result<Threads, String> {
    match s.parse::<Threads>()? {
        Threads::Adaptive => {
            Err("tune measures fixed thread counts, and `adaptive` is not one; list numbers or `num-cpus`".into())
        }
        fixed => Ok(fixed),
    }
}

/// A tolerance as typed: a fraction from 0 to 1 (`0.05`), or a percentage (`5%`).
pub fn parse_tolerance(s: &str) -> Result<f64, String> {
    let (number, scale) = match s.trim().strip_suffix('%') {
        Some(p) => (p.trim(), 100.0),
        None => (s.trim(), 1.0),
    };
    let value = number
        .parse::<f64>()
        .map_err(|_| format!("expected a fraction such as `0.05` or a percentage such as `5%`, found `{s}`"))?
        / scale;
    if !(0.0..=1.0).contains(&value) {
        return Err(format!("the tolerance must be between 0 and 1 (0% and 100%), found `{s}`"));
    }
    Ok(value)
}

/// The runner that `flaky` and `tune` drive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// tempo, in-process: builds once, then runs the plan N times.
    #[default]
    Tempo,
    /// `cargo nextest run`, N times, after building once with `--no-run`.
    Nextest,
}

/// `cargo tempo archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    /// Write the archive here (a `.tar.zst` file).
    #[arg(long, value_name = "PATH")]
    pub archive_file: PathBuf,
    /// The zstd compression level (1 fastest to 22 smallest).
    #[arg(long, default_value_t = 3, value_name = "LEVEL", value_parser = clap::value_parser!(i32).range(1..=22))]
    pub zstd_level: i32,
}

/// `cargo tempo partition`.
#[derive(Debug, Args)]
pub struct PartitionArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Print the assignment of `duration:K/N` for N shards: each shard's tests and expected time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=crate::limits::MAX_PARTITIONS))]
    pub show: u64,
}

/// `cargo tempo junit-merge`.
#[derive(Debug, Args)]
pub struct JunitMergeArgs {
    /// The merged file to write.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// The JUnit files to merge.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// The merged report's name [default: the first input's].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// `cargo tempo history-merge`.
#[derive(Debug, Args)]
pub struct HistoryMergeArgs {
    /// The merged history to write (it may be one of the inputs).
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// The `history.json` files to merge.
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Where tests come from instead of a build: an archive made by `cargo tempo archive`.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Archive")]
pub struct ArchiveSourceArgs {
    /// Take the test binaries from this archive (made by `cargo tempo archive`) instead of building them.
    #[arg(long, value_name = "PATH")]
    pub archive_file: Option<PathBuf>,
    /// The checkout of the workspace's source that the archived tests run in
    /// [default: the workspace root the archive was made in].
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub workspace_remap: Option<PathBuf>,
    /// Extract the archive into this directory, and keep it [default: a temporary directory].
    /// Files already there are not replaced unless --extract-overwrite is given.
    #[arg(long, value_name = "DIR", requires = "archive_file")]
    pub extract_to: Option<PathBuf>,
    /// Let --extract-to replace files that already exist in its directory.
    #[arg(long, requires = "extract_to")]
    pub extract_overwrite: bool,
}

/// `cargo tempo show-config`.
#[derive(Debug, Args)]
pub struct ShowConfigArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
}

/// Options that are handed to `cargo test --no-run` unchanged.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Cargo options")]
pub struct CargoArgs {
    /// Package(s) to test.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Exclude packages from the test (with --workspace).
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Test only this package's library.
    #[arg(long)]
    pub lib: bool,
    /// Test all binaries.
    #[arg(long)]
    pub bins: bool,
    /// Test only the named binary.
    #[arg(long = "bin", value_name = "NAME")]
    pub bin: Vec<String>,
    /// Test all integration tests.
    #[arg(long)]
    pub tests: bool,
    /// Test only the named integration test.
    #[arg(long = "test", value_name = "NAME")]
    pub test: Vec<String>,
    /// Test all examples.
    #[arg(long)]
    pub examples: bool,
    /// Test only the named example.
    #[arg(long = "example", value_name = "NAME")]
    pub example: Vec<String>,
    /// Test all benchmarks.
    #[arg(long)]
    pub benches: bool,
    /// Test only the named benchmark.
    #[arg(long = "bench", value_name = "NAME")]
    pub bench: Vec<String>,
    /// Test all targets.
    #[arg(long)]
    pub all_targets: bool,
    /// Space or comma separated list of features to activate.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all available features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations.
    #[arg(short = 'r', long)]
    pub release: bool,
    /// Build artifacts with the specified Cargo profile.
    #[arg(long, value_name = "NAME")]
    pub cargo_profile: Option<String>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Require Cargo.lock and the cache to be up to date.
    #[arg(long)]
    pub frozen: bool,
    /// Use verbose output for the build (-vv very verbose).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Which tests to run, by name.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Test selection")]
pub struct FilterArgs {
    /// Run only the tests whose names contain one of these substrings.
    #[arg(value_name = "FILTERS")]
    pub filters: Vec<String>,
    /// Match the FILTERS and --skip patterns against whole test names instead of substrings.
    #[arg(long)]
    pub exact: bool,
    /// Skip the tests whose names contain this substring (repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Run only the ignored tests.
    #[arg(long, conflicts_with = "include_ignored")]
    pub ignored: bool,
    /// Run the ignored tests as well as the others.
    #[arg(long)]
    pub include_ignored: bool,
    /// Which tests to run by their ignored flag, as nextest spells it: `default` (the
    /// tests not ignored), `only` (like --ignored) or `all` (like --include-ignored).
    #[arg(long, value_enum, value_name = "WHICH", conflicts_with_all = ["ignored", "include_ignored"])]
    pub run_ignored: Option<RunIgnoredArg>,
    /// Select tests with a nextest filter expression, such as `test(parse) & package(alpha)`
    /// (repeatable; repeated expressions are or-ed).
    #[arg(short = 'E', long = "filterset", alias = "filter-expr", value_name = "EXPR")]
    pub filtersets: Vec<String>,
    /// Ignore the profile's `default-filter`.
    #[arg(long)]
    pub ignore_default_filter: bool,
}

/// `--run-ignored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunIgnoredArg {
    /// The tests that are not ignored.
    Default,
    /// Only the ignored tests.
    Only,
    /// Both.
    All,
}

/// `--no-tests`: what a run that selects no test does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum NoTestsArg {
    /// As `fail`.
    #[default]
    Auto,
    /// Exit 0, saying nothing.
    Pass,
    /// Exit 0 with a warning.
    Warn,
    /// Exit 4 with an error.
    Fail,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// Colour when writing to a terminal, honouring NO_COLOR, CLICOLOR_FORCE and CLICOLOR.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Where the configuration comes from.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Config")]
pub struct ConfigArgs {
    /// The config profile to use [default: `default`; env: TEMPO_PROFILE, then NEXTEST_PROFILE].
    #[arg(short = 'P', long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Read this config file instead of `.config/tempo.toml` or `.config/nextest.toml`.
    #[arg(long, value_name = "PATH")]
    pub config_file: Option<PathBuf>,
}

/// Options shared by every subcommand that reports.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// When to colour the output [default: auto; env: CARGO_TERM_COLOR].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub color: Option<ColorArg>,
}

/// `cargo tempo run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// How to report the run: `human` for people, or `json` for one JSON event per line
    /// on stdout (human output then goes to stderr).
    #[arg(
        long,
        value_enum,
        default_value_t,
        value_name = "FORMAT",
        help_heading = "Output",
        conflicts_with = "no_capture"
    )]
    pub message_format: RunFormatArg,
    /// How many tests to run at once [default: the number of available cores].
    #[arg(
        short = 'j',
        long = "test-threads",
        visible_alias = "jobs",
        value_name = "N",
        env = "TEMPO_TEST_THREADS",
        allow_negative_numbers = true,
        help_heading = "Runner"
    )]
    pub test_threads: Option<Threads>,
    /// Retry each failing test up to N times (overrides the profile's `retries`).
    #[arg(
        long,
        value_name = "N",
        env = "TEMPO_RETRIES",
        value_parser = clap::value_parser!(u32).range(0..=crate::limits::MAX_RETRIES as i64),
        help_heading = "Runner"
    )]
    pub retries: Option<u32>,
    /// Keep starting tests after a failure.
    #[arg(long, visible_alias = "nff", overrides_with = "fail_fast", help_heading = "Runner")]
    pub no_fail_fast: bool,
    /// Stop starting tests after the first failure (the default).
    #[arg(long, visible_alias = "ff", overrides_with = "no_fail_fast", help_heading = "Runner")]
    pub fail_fast: bool,
    /// Stop after N failures: `N` or `N:wait` lets the running tests finish,
    /// `N:immediate` ends them, `all` never stops (overrides the profile's `fail-fast`).
    #[arg(
        long,
        value_name = "N[:MODE]",
        value_parser = parse_max_fail,
        conflicts_with_all = ["fail_fast", "no_fail_fast"],
        help_heading = "Runner"
    )]
    pub max_fail: Option<crate::config::FailFast>,
    /// What to do when the filters select no test: `fail` (exit 4; `auto` is the same),
    /// `warn` (exit 0 with a warning) or `pass` (exit 0).
    #[arg(long, value_enum, default_value_t, value_name = "ACTION", env = "TEMPO_NO_TESTS", help_heading = "Runner")]
    pub no_tests: NoTestsArg,
    /// Run tests one at a time with their output passed straight through.
    #[arg(long, alias = "nocapture", help_heading = "Runner")]
    pub no_capture: bool,
    /// Build the test binaries, but don't run them.
    #[arg(long, help_heading = "Runner")]
    pub no_run: bool,
    /// Start the tests whose last recorded run failed before the others.
    #[arg(long, help_heading = "Runner")]
    pub failed_first: bool,
    /// Wait for the whole build before starting any test (by default, a binary's tests
    /// start as soon as cargo has built it).
    #[arg(long, help_heading = "Runner")]
    pub no_pipeline: bool,
    /// Run the workspace's doctests too, in the same run and on the same slots.
    #[arg(long, help_heading = "Runner")]
    pub doc: bool,
    /// Run only one shard of the tests: count:K/N, hash:K/N, slice:K/N (as nextest) or
    /// duration:K/N (balanced by the history's durations).
    #[arg(long, value_name = "KIND:K/N", help_heading = "Test selection")]
    pub partition: Option<crate::shard::Partition>,
    #[command(flatten)]
    pub archive: ArchiveSourceArgs,
    #[command(flatten)]
    pub reporter: ReporterArgs,
    /// Write the HTML report here [default: <store.dir>/<profile>/report.html].
    #[arg(long, value_name = "PATH", conflicts_with = "no_report", help_heading = "Reporter")]
    pub report: Option<PathBuf>,
    /// Don't write the HTML report.
    #[arg(long, help_heading = "Reporter")]
    pub no_report: bool,
}

/// What the terminal shows.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Reporter")]
pub struct ReporterArgs {
    /// Statuses printed as tests finish: none, fail, retry, slow, leak, pass, skip, all
    /// [env: TEMPO_STATUS_LEVEL, NEXTEST_STATUS_LEVEL].
    #[arg(long, value_name = "LEVEL")]
    pub status_level: Option<crate::config::StatusLevel>,
    /// Statuses repeated at the end: none, fail, flaky, slow, skip, pass, all
    /// [env: TEMPO_FINAL_STATUS_LEVEL, NEXTEST_FINAL_STATUS_LEVEL].
    #[arg(long, value_name = "LEVEL")]
    pub final_status_level: Option<crate::config::FinalStatusLevel>,
    /// When failing tests' output is shown: immediate, immediate-final, final, never
    /// [env: TEMPO_FAILURE_OUTPUT, NEXTEST_FAILURE_OUTPUT].
    #[arg(long, value_name = "WHEN")]
    pub failure_output: Option<crate::config::OutputMode>,
    /// When passing tests' output is shown: immediate, immediate-final, final, never
    /// [env: TEMPO_SUCCESS_OUTPUT, NEXTEST_SUCCESS_OUTPUT].
    #[arg(long, value_name = "WHEN")]
    pub success_output: Option<crate::config::OutputMode>,
    /// Print each binary's status lines together, under a heading, when its last test
    /// finishes (by default each line is printed as its test finishes).
    #[arg(long)]
    pub group_by_binary: bool,
    /// Don't draw the progress bar (it is drawn only when stdout and stderr are terminals).
    #[arg(long)]
    pub hide_progress_bar: bool,
}

/// Formats for `cargo tempo run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum RunFormatArg {
    /// Status lines and a summary, for people.
    #[default]
    Human,
    /// One JSON object per event, one per line, on stdout (see docs/reference/events.md).
    Json,
}

/// `cargo tempo list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub cargo: CargoArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// How to print the list.
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub message_format: ListFormatArg,
    /// List only one shard of the tests: count:K/N, hash:K/N, slice:K/N or duration:K/N.
    #[arg(long, value_name = "KIND:K/N", help_heading = "Test selection")]
    pub partition: Option<crate::shard::Partition>,
    /// List the workspace's doctests too, as `run --doc` would run them.
    #[arg(long, help_heading = "Test selection")]
    pub doc: bool,
    #[command(flatten)]
    pub archive: ArchiveSourceArgs,
}

/// Formats for `cargo tempo list`.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum ListFormatArg {
    /// Grouped by binary, for people.
    #[default]
    Human,
    /// One `<binary-id> <test-name>` per line, as cargo-nextest prints it.
    Oneline,
}

/// Parses the process's arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
    crate::phase::start();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // Run directly as `cargo-tempo run ...`, there is no `tempo` word to skip.
    if args.get(1).is_none_or(|a| a != "tempo") {
        args.insert(1, "tempo".into());
    }
    let cli = match CargoCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() { exit_code::USAGE } else { exit_code::OK };
        }
    };
    let CargoCli::Tempo(mut tempo) = cli;
    if let Some(filter) = tempo.command.filter_args_mut()
        && let Err(message) = filter.absorb_libtest_args()
    {
        eprintln!("error: {message}");
        return exit_code::USAGE;
    }
    let is_list = matches!(tempo.command, Command::List(_));
    install_panic_hook();
    // The last line of defence: a panic that reached this far (the run's own threads
    // report theirs as `Error::Bug`) ends tempo with its own exit code, not Rust's 101,
    // which CI would read as a build failure. The run's guards have ended its tests.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate::cmd::dispatch(convert::request(tempo.command))
    }))
    .unwrap_or_else(|payload| {
        let thread = std::thread::current().name().unwrap_or("main").to_owned();
        Err(Error::Bug { thread, message: crate::execute::panic_message(&*payload) })
    });
    match outcome {
        Ok(code) => code,
        Err(Error::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // The reader went away (`cargo tempo list | head`): stop quietly, as ripgrep
            // does. A run whose report was cut short has not shown that its tests passed.
            if is_list { exit_code::OK } else { exit_code::WRITE_OUTPUT_ERROR }
        }
        Err(err) => {
            let _ = std::io::stdout().flush();
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

/// Prints the first panic as Rust does (thread, place, message, how to get a
/// backtrace), and any later one on a line of its own: those usually follow from the
/// first (a channel or lock it left behind), and the first is the one to report.
fn install_panic_hook() {
    let first = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        static PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !PRINTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            first(info);
            return;
        }
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        eprintln!("thread '{thread}' panicked too: {}", crate::execute::panic_message(info.payload()));
    }));
}

/// `--max-fail`: `N`, `N:wait`, `N:immediate` or `all`, as nextest takes it.
fn parse_max_fail(text: &str) -> Result<crate::config::FailFast, String> {
    if text == "all" {
        return Ok(crate::config::FailFast { max_fail: None, terminate_immediately: false });
    }
    let (count, mode) = text.split_once(':').unwrap_or((text, "wait"));
    let terminate_immediately = match mode {
        "wait" => false,
        "immediate" => true,
        other => return Err(format!("unknown mode `{other}`; write N:wait or N:immediate")),
    };
    match count.parse::<i128>() {
        Ok(n) => {
            let n = i64::try_from(n).unwrap_or(i64::MAX);
            let n = crate::limits::check_count("max-fail", n, 1..=u32::MAX).map_err(|e| format!("{e}, or `all`"))?;
            Ok(crate::config::FailFast { max_fail: Some(n), terminate_immediately })
        }
        _ => Err(format!(
            "`{count}` is not a number of failures (1 to {}); write N, N:wait, N:immediate or all",
            u32::MAX
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::concurrency::Threads as ThreadsArg;

    #[test]
    fn tolerances_are_fractions_or_percentages() {
        for (text, value) in [("0.05", 0.05), ("5%", 0.05), (" 10 % ", 0.1), ("0", 0.0), ("1", 1.0), ("100%", 1.0)] {
            assert!((parse_tolerance(text).unwrap() - value).abs() < 1e-12, "{text}");
        }
        for text in ["-0.1", "1.5", "150%", "five", "%"] {
            assert!(parse_tolerance(text).is_err(), "{text}");
        }
    }

    #[test]
    fn tune_takes_a_comma_separated_list_of_thread_counts() {
        let cli = CargoCli::try_parse_from(["cargo", "tempo", "tune", "--threads", "1,num-cpus,-1", "parse"]).unwrap();
        let CargoCli::Tempo(TempoCli { command: Command::Tune(args) }) = cli else { panic!("not tune") };
        assert_eq!(args.threads, [ThreadsArg::Count(1), ThreadsArg::NumCpus, ThreadsArg::Offset(-1)]);
        assert_eq!(args.filter.filters, ["parse"]);
        assert!(CargoCli::try_parse_from(["cargo", "tempo", "tune", "--threads", "0"]).is_err());
        assert!(CargoCli::try_parse_from(["cargo", "tempo", "tune", "--threads", "2,adaptive"]).is_err());
        assert!(CargoCli::try_parse_from(["cargo", "tempo", "tune", "--repeat", "0"]).is_err());
    }

    /// Every number the command line takes, at and just past each end of its range:
    /// a usage error (exit 2) that names the range, never a wrap or a later panic.
    #[test]
    fn numbers_on_the_command_line_have_ranges() {
        let parse = |args: &[&str]| {
            let mut all = vec!["cargo", "tempo"];
            all.extend_from_slice(args);
            CargoCli::try_parse_from(all).map(|_| ()).map_err(|e| e.to_string())
        };
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["run", "-j", "1"], None),
            (&["run", "-j", "1024"], None),
            (&["run", "-j", "1025"], Some("from 1 to 1024")),
            (&["run", "-j", "1000000"], Some("from 1 to 1024")),
            (&["run", "-j", "99999999999999999999999"], Some("from 1 to 1024")),
            (&["run", "-j", "-1024"], None),
            (&["run", "-j", "-1025"], Some("from -1024 to -1")),
            (&["run", "-j", "-9223372036854775808"], Some("from -1024 to -1")),
            (&["run", "--retries", "1000"], None),
            (&["run", "--retries", "1001"], Some("0..=1000")),
            (&["run", "--retries", "4294967296"], Some("0..=1000")),
            (&["run", "--max-fail", "4294967295"], None),
            (&["run", "--max-fail", "4294967296"], Some("from 1 to 4294967295")),
            (&["run", "--max-fail", "0:immediate"], Some("from 1 to 4294967295")),
            (&["run", "--partition", "hash:65536/65536"], None),
            (&["run", "--partition", "hash:1/65537"], Some("from 1 to 65536")),
            (&["run", "--partition", "duration:1/18446744073709551615"], Some("from 1 to 65536")),
            (&["run", "--partition", "duration:1/99999999999999999999999"], Some("from 1 to 65536")),
            (&["list", "--partition", "duration:1/99999999999999"], Some("from 1 to 65536")),
            (&["partition", "--show", "65536"], None),
            (&["partition", "--show", "65537"], Some("1..=65536")),
            (&["flaky", "--runs", "10000"], None),
            (&["flaky", "--runs", "10001"], Some("2..=10000")),
            (&["flaky", "-j", "2000"], Some("from 1 to 1024")),
            (&["tune", "--repeat", "1000"], None),
            (&["tune", "--repeat", "1001"], Some("1..=1000")),
            (&["tune", "--threads", "1,1024"], None),
            (&["tune", "--threads", "1,1025"], Some("from 1 to 1024")),
            (&["tune", "--tolerance", "NaN"], Some("between 0 and 1")),
            (&["tune", "--tolerance", "inf"], Some("between 0 and 1")),
            (&["archive", "--archive-file", "a.tar.zst", "--zstd-level", "23"], Some("1..=22")),
        ];
        for (args, expected) in cases {
            match (parse(args), expected) {
                (Ok(()), None) => {}
                (Err(e), Some(want)) => assert!(e.contains(want), "{args:?}: {e}"),
                (got, _) => panic!("{args:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn max_fail_takes_nextests_spellings() {
        let ok = |max_fail, terminate_immediately| Ok(crate::config::FailFast { max_fail, terminate_immediately });
        assert_eq!(parse_max_fail("3"), ok(Some(3), false));
        assert_eq!(parse_max_fail("3:wait"), ok(Some(3), false));
        assert_eq!(parse_max_fail("1:immediate"), ok(Some(1), true));
        assert_eq!(parse_max_fail("all"), ok(None, false));
        for bad in ["0", "-1", "x", "2:later", ""] {
            assert!(parse_max_fail(bad).is_err(), "{bad}");
        }
    }
}
