//! `cargo tempo run`: builds (or opens an archive), plans, runs and reports.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use rayon::prelude::*;

use crate::archive::ArchiveSource;
use crate::build::{self, BuildEvent, CargoOptions, StartedBuild, StderrForward, TestBinary};
use crate::config::{ConfigOptions, Profile};
use crate::discover::{self, ListedBinary};
use crate::engine::session::{
    Setup, build_binaries, load_history, prepare, profile_store_dir, read_binaries, run_info, runner_config,
    selectable, setup, setup_and_binaries, setup_while_building,
};
use crate::env::{self, BinaryEnv, RunEnv, available_cores};
use crate::error::{Error, Result, exit_code};
use crate::events::{Fanout, RunStats};
use crate::execute::{self, Feed, FeedTx, Feeder, RunnerConfig};
use crate::history::History;
use crate::plan::concurrency::Threads;
use crate::plan::selection::Selection;
use crate::plan::{PlanInputs, TestPlan};
use crate::report::budget_check::BudgetCheck;
use crate::report::history_record::HistoryReporter;
use crate::report::html::{HtmlReporter, known_flaky};
use crate::report::human::HumanOptions;
use crate::report::junit::JunitReporter;
use crate::report::no_tests::NoTests;
use crate::report::style::Color;
use crate::report::terminal::{self, MessageFormat, TerminalOptions};
use crate::shard::Partition;
use crate::test_id::TargetKind;

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

/// Lists one freshly built binary and plans its tests, for a pipelined run.
fn plan_binary(
    binary: Arc<TestBinary>,
    run_env: &RunEnv,
    inputs: &PlanInputs<'_>,
    cache: &discover::ListCache,
) -> Result<TestPlan> {
    let env = Arc::new(BinaryEnv::for_binary(&binary, run_env));
    let listed = discover::list_binary(binary, env, Some(cache))?;
    Ok(TestPlan::new(vec![listed], inputs))
}

/// Where a pipelined run's plans go: straight to the runner, after a per-binary
/// partition if there is one; or, for a partition that needs the whole list
/// (`slice`, `duration`), into a pile that is split and sent once every binary is
/// listed. Listing still overlaps the build then; only the tests wait.
struct Deliver<'a> {
    tx: &'a FeedTx,
    partition: Option<Partition>,
    pile: std::sync::Mutex<Vec<TestPlan>>,
}

impl Deliver<'_> {
    fn send(&self, mut plan: TestPlan) {
        match self.partition {
            Some(p) if !p.per_binary() => {
                self.pile.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(plan);
            }
            partition => {
                if let Some(p) = partition {
                    p.apply(&mut plan);
                }
                self.tx.send(Feed::Tests(plan));
            }
        }
    }

    /// Splits and sends the pile, once every binary has been listed.
    fn finish(self) {
        let Some(partition) = self.partition.filter(|p| !p.per_binary()) else {
            return;
        };
        let mut plan = TestPlan::default();
        for part in self.pile.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            plan.merge(part);
        }
        partition.apply(&mut plan);
        self.tx.send(Feed::Tests(plan));
    }
}

/// Builds in the feeder thread of a pipelined run: each binary is listed (in parallel)
/// and its tests sent to the runner as soon as cargo reports it.
fn feed_run(
    started: StartedBuild,
    setup: &Setup,
    selection: &Selection,
    run_env: &RunEnv,
    inputs: &PlanInputs<'_>,
    doc_args: Option<&[std::ffi::OsString]>,
    deliver: Deliver<'_>,
) {
    let tx = deliver.tx;
    let list_error: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let cache = discover::ListCache::open(&setup.workspace.root.join(&setup.profile.store_dir));
    let doc_packages: std::sync::Mutex<Vec<Arc<crate::build::PackageInfo>>> = Default::default();
    let built = rayon::scope(|scope| {
        build::read_build(started, &setup.workspace, |event| match event {
            BuildEvent::Compiling => {
                tx.send(Feed::Compiling);
            }
            BuildEvent::DynamicLibrary(_) => {}
            BuildEvent::Binary(binary) => {
                if doc_args.is_some() && binary.kind == TargetKind::Lib && binary.package.has_doctests {
                    doc_packages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(binary.package.clone());
                }
                if !selectable(setup, selection, &binary) {
                    return;
                }
                let (list_error, deliver, cache) = (&list_error, &deliver, &cache);
                scope.spawn(move |_| match plan_binary(binary, run_env, inputs, cache) {
                    Ok(plan) => deliver.send(plan),
                    Err(e) => {
                        list_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                    }
                });
            }
        })
    });
    // Written while the tests run: every binary has been listed by now.
    cache.save();
    // Doctests are listed once the build is over: listing them runs cargo, which
    // waits for the build's lock anyway.
    if let (Ok(()), Some(doc_args)) = (&built, doc_args) {
        let packages = doc_packages.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let listed: Vec<Result<Vec<ListedBinary>>> =
            packages.into_par_iter().map(|p| discover::list_doctests(p, doc_args, run_env)).collect();
        for result in listed {
            match result {
                // A package's doctest units share one binary id, so they are planned
                // together: a per-binary partition must see all of them at once.
                Ok(units) => deliver.send(TestPlan::new(units, inputs)),
                Err(e) => {
                    list_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                }
            }
        }
    }
    let listed = list_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).map_or(Ok(()), Err);
    // A partition of part of the list would put tests in the wrong shards.
    if built.is_ok() && listed.is_ok() {
        deliver.finish();
    }
    tx.send(Feed::Done(built.and(listed)));
}

/// `cargo tempo run`.
pub fn run(opts: RunOptions) -> Result<i32> {
    if let Some(source) = &opts.archive {
        return run_archive(&opts, source);
    }
    // A progress bar (drawn only when both streams are terminals) prints cargo's
    // output above itself, so cargo then starts with the run; otherwise it starts
    // while `cargo metadata` runs.
    let bar_possible = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    if bar_possible && !opts.no_run {
        let setup = setup(&opts.cargo, &opts.config, &opts.filter)?;
        return run_with(&opts, setup, Binaries::Unstarted);
    }
    let (setup, started) = setup_while_building(&opts.cargo, &opts.config, &opts.filter)?;
    if opts.no_run {
        read_binaries(started, &setup, &opts.filter)?;
        return Ok(exit_code::OK);
    }
    run_with(&opts, setup, Binaries::Building(started))
}

/// Where a run's binaries come from.
enum Binaries {
    /// A `cargo test --no-run` that is building them.
    Building(StartedBuild),
    /// A build that starts with the run, once it knows whether a progress bar
    /// needs cargo's output passed through it.
    Unstarted,
    /// Already at hand: an archive's.
    Built(Vec<Arc<TestBinary>>),
}

impl Binaries {
    fn archived(&self) -> bool {
        matches!(self, Binaries::Built(_))
    }
}

/// `cargo tempo run --archive-file`: no build, so no pipelining, and no doctests,
/// which need cargo and the sources to compile.
fn run_archive(opts: &RunOptions, source: &ArchiveSource) -> Result<i32> {
    if opts.doc {
        return Err(Error::ArchiveDoctests);
    }
    let (setup, binaries, guard) = setup_and_binaries(&opts.cargo, &opts.config, &opts.filter, Some(source))?;
    if opts.no_run {
        return Ok(exit_code::OK);
    }
    let code = run_with(opts, setup, Binaries::Built(binaries));
    drop(guard);
    code
}

/// Runs the tests: built by cargo while they run (pipelined), after the build, or
/// from `binaries` already at hand (an archive's).
fn run_with(opts: &RunOptions, setup: Setup, binaries: Binaries) -> Result<i32> {
    let cores = available_cores();
    // The command line beats the environment (folded in by clap), which beats the profile.
    let concurrency = if opts.capture {
        crate::plan::concurrency::resolve_concurrency(opts.test_threads, &setup.profile, cores)
    } else {
        crate::plan::concurrency::Concurrency { slots: 1, cpu_budget: None }
    };
    let profile = setup.profile.clone();
    let doc = (opts.doc || profile.doctests) && !binaries.archived();
    if binaries.archived() && profile.doctests {
        eprintln!("warning: the profile's `doctests = true` does not apply to an archive, which holds no doctests");
    }
    let (mut history, history_path) = load_history(&setup);
    // A run of every test ends any split in progress: it plans with every record.
    if opts.partition.is_none() && !history.pending.is_empty() {
        history.settle_all();
    }
    let fail_fast = FailFastFlag::over(opts.fail_fast, profile.fail_fast);
    let mut config = runner_config(&profile, concurrency.slots, cores, fail_fast, opts.failed_first, opts.capture);
    config.cpu_budget = concurrency.cpu_budget;
    let mut out = RunReporters::new(opts, &setup, &profile, &history, &mut config);
    let run = Run { opts, cores, slots: concurrency.slots, adaptive: concurrency.cpu_budget.is_some(), doc, config };
    let (stats, build_error) = match binaries {
        Binaries::Building(_) | Binaries::Unstarted if opts.pipeline => {
            run.pipelined(&setup, binaries, &profile, history, history_path, &mut out)?
        }
        binaries => match run.after_build(setup, binaries, history, history_path, &mut out)? {
            Ok(ran) => ran,
            Err(code) => return Ok(code),
        },
    };
    finish(opts, out, stats, build_error)
}

/// The settings of one `cargo tempo run`, once its slots and fail-fast are decided.
struct Run<'a> {
    opts: &'a RunOptions,
    cores: usize,
    slots: usize,
    adaptive: bool,
    doc: bool,
    config: RunnerConfig,
}

/// A run's reporters: the terminal's, the budget check's collector and the JUnit
/// file's in the fan-out; the history and HTML reporters join once the run knows
/// its history.
struct RunReporters {
    fanout: Fanout,
    budget: Option<BudgetCheck>,
    html: Option<HtmlReporter>,
    /// The progress bar, when one is drawn, and whether the human output is coloured.
    bar: Option<indicatif::ProgressBar>,
    colored: bool,
}

impl RunReporters {
    fn new(
        opts: &RunOptions,
        setup: &Setup,
        profile: &Profile,
        history: &History,
        config: &mut RunnerConfig,
    ) -> RunReporters {
        let mut fanout = Fanout::default();
        let html_path = match &opts.html_report {
            HtmlReport::Default => Some(profile_store_dir(&setup.workspace, profile).join("report.html")),
            HtmlReport::At(path) => Some(path.clone()),
            HtmlReport::Off => None,
        };
        let human = HumanOptions {
            // Named just before the summary, so that the summary stays the last line.
            report: html_path.clone().filter(|_| opts.message_format == MessageFormat::Human),
            status_level: opts.reporter.status_level.unwrap_or(profile.status_level),
            final_status_level: opts.reporter.final_status_level.unwrap_or(profile.final_status_level),
            success_output: opts.reporter.success_output,
            failure_output: opts.reporter.failure_output,
            ..HumanOptions::default()
        };
        let terminal = terminal::terminal(TerminalOptions {
            human,
            color: opts.color,
            format: opts.message_format,
            group_by_binary: opts.reporter.group_by_binary,
            hide_progress_bar: opts.reporter.hide_progress_bar,
            capture: opts.capture,
        });
        // The `t` key is for a person watching the run at a terminal.
        config.info_key = terminal.watched;
        for reporter in terminal.reporters {
            fanout.push(reporter);
        }
        let budget = BudgetCheck::new(profile);
        if let Some(budget) = &budget {
            fanout.push(budget.collector());
        }
        if let Some(junit) = &profile.junit.path {
            let path = profile_store_dir(&setup.workspace, profile).join(junit);
            fanout.push(Box::new(JunitReporter::new(path, profile.junit.report_name.clone())));
        }
        // A reporter that cannot write its file does not stop the others (see `Fanout`):
        // its error is reported at the end, by `with_write_errors`.
        let html = html_path.map(|path| HtmlReporter::new(path, known_flaky(history)));
        RunReporters { fanout, budget, html, bar: terminal.bar, colored: terminal.colored }
    }

    /// Adds the reporters that record the run: into the history, and the HTML report.
    fn record(&mut self, history: HistoryReporter) {
        self.fanout.push(Box::new(history));
        if let Some(html) = self.html.take() {
            self.fanout.push(Box::new(html));
        }
    }
}

impl Run<'_> {
    /// Runs the tests while cargo builds them: each binary is listed and its tests
    /// sent to the runner as soon as cargo reports it.
    fn pipelined(
        &self,
        setup: &Setup,
        binaries: Binaries,
        profile: &Profile,
        history: History,
        history_path: std::path::PathBuf,
        out: &mut RunReporters,
    ) -> Result<(RunStats, Option<Error>)> {
        let opts = self.opts;
        let run_env = RunEnv {
            run_id: env::new_run_id(),
            profile: profile.name.clone(),
            workspace_root: setup.workspace.root.clone(),
        };
        let info = run_info(&run_env, None, self.slots, self.cores, self.adaptive);
        let inputs = PlanInputs {
            names: &opts.filter.names,
            filterset: &setup.filterset,
            cx: &setup.cx,
            ignore_default_filter: opts.filter.ignore_default_filter,
            profile,
            retries_override: opts.retries,
            cores: self.cores,
            test_threads: self.slots,
            history: Some(&history),
        };
        let selection = &opts.filter;
        let (run_env_ref, inputs_ref) = (&run_env, &inputs);
        let started = match binaries {
            Binaries::Building(started) => started,
            _ => {
                // Under a progress bar, cargo's output is printed above it, not through it.
                let forward = out.bar.clone().map(|bar| StderrForward {
                    sink: Box::new(move |line: &[u8]| {
                        bar.suspend(|| {
                            let mut stderr = std::io::stderr().lock();
                            let _ = stderr.write_all(line);
                            let _ = stderr.flush();
                        });
                    }),
                    color: out.colored,
                });
                StartedBuild::start_forwarding(&opts.cargo, forward)?
            }
        };
        let doc_args = self.doc.then_some(opts.cargo.doc_args.as_slice());
        let partition = opts.partition;
        let feeder: Feeder<'_> = Box::new(move |tx| {
            let deliver = Deliver { tx: &tx, partition, pile: Default::default() };
            feed_run(started, setup, selection, run_env_ref, inputs_ref, doc_args, deliver)
        });
        out.record(HistoryReporter::new(history_path, history.clone()).sharded(opts.partition));
        execute::run_fed(TestPlan::default(), Some(feeder), info, &self.config, &mut out.fanout).map_err(reporter_error)
    }

    /// Runs the tests once they are all built (or taken from an archive); `Err` holds
    /// the exit code of a run that selected no test.
    fn after_build(
        &self,
        setup: Setup,
        binaries: Binaries,
        history: History,
        history_path: std::path::PathBuf,
        out: &mut RunReporters,
    ) -> Result<std::result::Result<(RunStats, Option<Error>), i32>> {
        let opts = self.opts;
        let binaries = match binaries {
            Binaries::Built(binaries) => binaries,
            Binaries::Building(started) => read_binaries(started, &setup, &opts.filter)?,
            Binaries::Unstarted => build_binaries(&opts.cargo, &setup, &opts.filter)?,
        };
        let doc_args = self.doc.then_some(opts.cargo.doc_args.as_slice());
        let mut prepared = prepare(setup, binaries, &opts.filter, opts.retries, self.slots, Some(&history), doc_args)?;
        if let Some(partition) = &opts.partition {
            partition.apply(&mut prepared.plan);
        }
        if prepared.plan.tests.is_empty() {
            // A shard with no tests still counts towards its split's completion.
            if let Some(partition) = opts.partition {
                let mut history = history;
                history.record_shard(partition, Default::default());
                if let Err(e) = history.save(&history_path) {
                    eprintln!("warning: failed to write the history {}: {e}", history_path.display());
                }
            }
            return Ok(Err(opts.no_tests.report(prepared.plan.skipped)));
        }
        let info = run_info(&prepared.run_env, Some((&prepared.plan, true)), self.slots, self.cores, self.adaptive);
        out.record(HistoryReporter::new(history_path, history).sharded(opts.partition));
        execute::run_fed(prepared.plan, None, info, &self.config, &mut out.fanout).map(Ok).map_err(reporter_error)
    }
}

/// Ends a run: checks the budget, then turns what happened into the exit code.
fn finish(opts: &RunOptions, mut out: RunReporters, stats: RunStats, build_error: Option<Error>) -> Result<i32> {
    let write_errors = out.fanout.take_write_errors();
    std::io::stdout().flush().map_err(Error::Output)?;
    let budget_fails = match &out.budget {
        Some(budget) if stats.planned > 0 => budget
            .finish(&stats, build_error.is_some(), &mut std::io::stderr().lock())
            .map_err(Error::Output)?
            .fails_run(),
        _ => false,
    };
    if let Some(error) = build_error {
        for e in write_errors {
            eprintln!("error: {e}");
        }
        return Err(error);
    }
    if stats.planned == 0 && stats.signal.is_none() {
        return with_write_errors(opts.no_tests.report(stats.skipped), write_errors);
    }
    let code = match stats.signal {
        Some(sig) => 128 + sig,
        None if stats.failed > 0 => exit_code::TEST_RUN_FAILED,
        None if budget_fails => exit_code::BUDGET_MISSED,
        None => exit_code::OK,
    };
    with_write_errors(code, write_errors)
}

/// A reporter's error that ended the run: stdout's, as before (a file that cannot be
/// written is collected by `Fanout` instead, but is told apart here all the same).
fn reporter_error(error: std::io::Error) -> Error {
    match crate::files::WriteError::from_io(error) {
        Ok(write) => Error::Write(write),
        Err(error) => Error::Output(error),
    }
}

/// Reports the files a run could not write (its history, JUnit or HTML report), once
/// everything else has been written and printed, each error naming its file. They
/// make the run exit with [`exit_code::WRITE_OUTPUT_ERROR`] (110, as nextest), which
/// beats a missed budget (107); failing tests (100) and a signal (130, 143) beat it,
/// since they say more about the run, and the error lines are printed all the same.
fn with_write_errors(code: i32, mut errors: Vec<crate::files::WriteError>) -> Result<i32> {
    let Some(last) = errors.pop() else { return Ok(code) };
    for e in errors {
        eprintln!("error: {e}");
    }
    if code == exit_code::OK || code == exit_code::BUDGET_MISSED || code == exit_code::NO_TESTS_RUN {
        return Err(last.into());
    }
    eprintln!("error: {last}");
    Ok(code)
}
