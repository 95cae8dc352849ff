//! The command line as the user typed it: clap's types live here and nowhere else.
//!
//! [`crate::options`] turns these raw flags into the resolved settings that the rest
//! of tempo uses, so that no stage downstream ever looks at a clap type.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::error::{Error, exit_code};

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
    /// Internal: ends a run's test processes when the tempo that ran them dies.
    #[command(name = "__watchdog", hide = true)]
    Watchdog {
        /// The run's id.
        run_id: String,
    },
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
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
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
    pub test_threads: Option<ThreadsArg>,
}

/// The runner that `flaky` drives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// tempo, in-process: builds once, then runs the plan N times.
    #[default]
    Tempo,
    /// `cargo nextest run`, N times, read back through its JUnit report.
    Nextest,
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
    /// Select tests with a nextest filter expression, such as `test(parse) & package(alpha)`
    /// (repeatable; repeated expressions are or-ed).
    #[arg(short = 'E', long = "filterset", alias = "filter-expr", value_name = "EXPR")]
    pub filtersets: Vec<String>,
    /// Ignore the profile's `default-filter`.
    #[arg(long)]
    pub ignore_default_filter: bool,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum ColorArg {
    /// Colour when writing to a terminal, honouring NO_COLOR and CLICOLOR_FORCE.
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
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t, value_name = "WHEN")]
    pub color: ColorArg,
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
    /// How many tests to run at once [default: the number of available cores].
    #[arg(
        short = 'j',
        long = "test-threads",
        value_name = "N",
        env = "TEMPO_TEST_THREADS",
        allow_negative_numbers = true,
        help_heading = "Runner"
    )]
    pub test_threads: Option<ThreadsArg>,
    /// Retry each failing test up to N times (overrides the profile's `retries`).
    #[arg(long, value_name = "N", env = "TEMPO_RETRIES", help_heading = "Runner")]
    pub retries: Option<u32>,
    /// Keep starting tests after a failure.
    #[arg(long, overrides_with = "fail_fast", help_heading = "Runner")]
    pub no_fail_fast: bool,
    /// Stop starting tests after the first failure (the default).
    #[arg(long, overrides_with = "no_fail_fast", help_heading = "Runner")]
    pub fail_fast: bool,
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
    /// Write the HTML report here [default: <store.dir>/<profile>/report.html].
    #[arg(long, value_name = "PATH", conflicts_with = "no_report", help_heading = "Reporter")]
    pub report: Option<PathBuf>,
    /// Don't write the HTML report.
    #[arg(long, help_heading = "Reporter")]
    pub no_report: bool,
    #[command(flatten)]
    pub reporter: ReporterArgs,
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

/// A thread count as typed: a positive number, `num-cpus`, a negative offset from the
/// core count, or `adaptive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadsArg {
    /// Exactly this many.
    Count(usize),
    /// The core count plus this (negative) offset.
    Offset(isize),
    /// The core count.
    NumCpus,
    /// As many as the cores can serve, test by test.
    Adaptive,
}

impl std::str::FromStr for ThreadsArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "num-cpus" {
            return Ok(ThreadsArg::NumCpus);
        }
        if s == "adaptive" {
            return Ok(ThreadsArg::Adaptive);
        }
        match s.parse::<isize>() {
            Ok(0) => Err("the thread count must not be 0".into()),
            Ok(n) if n > 0 => Ok(ThreadsArg::Count(n as usize)),
            Ok(n) => Ok(ThreadsArg::Offset(n)),
            Err(_) => Err(format!("expected a number of threads, `num-cpus` or `adaptive`, found `{s}`")),
        }
    }
}

/// Parses the process's arguments, runs the command and returns the exit code.
pub fn main() -> i32 {
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
    let CargoCli::Tempo(tempo) = cli;
    let is_list = matches!(tempo.command, Command::List(_));
    match crate::options::dispatch(tempo.command) {
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
