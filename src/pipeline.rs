//! Wires the stages together: build → discover → plan → schedule → execute → report.
//!
//! Each subcommand is a short walk down this pipeline; the stages themselves know
//! nothing of each other beyond the types they hand on.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use crate::archive::ArchiveSource;
use crate::build::CargoOptions;
use crate::build::{self, BuildEvent, StartedBuild, StderrForward, TestBinary, Workspace};
use crate::cmd::history::HistoryOptions;
use crate::cmd::list::ListOptions;
use crate::cmd::partition::PartitionOptions;
use crate::cmd::run::{HtmlReport, RunOptions};
use crate::cmd::show_config::ShowConfigOptions;
use crate::config::ConfigOptions;
use crate::config::{Config, ConfigError, FlakyResult, Profile};
use crate::discover::{self, ListedBinary};
use crate::env::available_cores;
use crate::env::{self, BinaryEnv, RunEnv};
use crate::error::{Error, Result, exit_code};
use crate::events::Fanout;
use crate::events::{RunInfo, RunStats};
use crate::execute::{self, Feed, FeedTx, Feeder, RunnerConfig};
use crate::filter::{FilterContext, FilterExpr, FilterSet};
use crate::history::{self, History};
use crate::plan::selection::Selection;
use crate::plan::{PlanInputs, TestPlan, query};
use crate::report::budget_check::BudgetCheck;
use crate::report::history_record::HistoryReporter;
use crate::report::history_table::write_history;
use crate::report::html::{HtmlReporter, known_flaky};
use crate::report::human::HumanOptions;
use crate::report::junit::JunitReporter;
use crate::report::list::write_list;
use crate::report::partition::write_partition;
use crate::report::show_config::write_show_config;
use crate::report::style::{Styles, use_color};
use crate::report::terminal::MessageFormat;
use crate::report::terminal::{self, TerminalOptions};
use crate::shard::{Partition, PartitionKind};
use crate::test_id::TargetKind;

/// Builds, lists and selects: everything up to the moment the first test could start.
struct Prepared {
    run_env: RunEnv,
    plan: TestPlan,
}

/// The workspace and the profile, read before anything is built so that a config or
/// filter error stops tempo at once.
struct Setup {
    workspace: Workspace,
    profile: Profile,
    config_file: Option<std::path::PathBuf>,
    filterset: FilterSet,
    cx: FilterContext,
}

/// `TEMPO_STORE_DIR` beats the config's `[store] dir`: CI can point the history and
/// reports at a cached directory without editing the config.
fn apply_store_dir_env(profile: &mut Profile) {
    if let Some(dir) = std::env::var_os("TEMPO_STORE_DIR").filter(|d| !d.is_empty()) {
        profile.store_dir = dir.into();
    }
}

fn filter_error(expr: &str, err: &crate::filter::FilterParseError) -> Error {
    let rendered = err.render(expr);
    Error::Filter(rendered.strip_prefix("error: ").unwrap_or(&rendered).to_owned())
}

fn setup(cargo: &CargoOptions, config: &ConfigOptions, selection: &Selection) -> Result<Setup> {
    env::warm_up();
    let workspace = build::workspace(cargo)?;
    setup_for(workspace, config, selection, || build::dependency_graph(cargo))
}

/// The set-up for a workspace already described: by `cargo metadata`, or by an
/// archive, which also carries the dependency graph that `deps()` and `rdeps()` need.
fn setup_for(
    workspace: Workspace,
    config: &ConfigOptions,
    selection: &Selection,
    dependency_graph: impl FnOnce() -> Result<std::collections::HashMap<String, Vec<String>>>,
) -> Result<Setup> {
    let loaded = Config::load(&workspace.root, config.config_file.as_deref())?;
    let config_file = loaded.source().map(|s| s.path.clone());
    let mut profile = loaded.profile(&config.profile)?;
    apply_store_dir_env(&mut profile);
    let mut exprs = Vec::new();
    for text in &selection.filtersets {
        exprs.push(FilterExpr::parse(text).map_err(|e| filter_error(text, &e))?);
    }
    let filterset = FilterSet::new(exprs);
    let default_filter = match &profile.default_filter {
        Some(text) => Some(FilterExpr::parse_default_filter(text).map_err(|e| ConfigError::Invalid {
            message: format!("the default-filter of profile `{}` is not a valid filter expression", profile.name),
            help: e.render(text),
        })?),
        None => None,
    };
    let needs_graph = filterset.uses_dependency_graph()
        || default_filter.as_ref().is_some_and(FilterExpr::uses_dependency_graph)
        || profile.overrides.iter().any(|o| o.filter.as_ref().is_some_and(FilterExpr::uses_dependency_graph));
    let graph = if needs_graph { dependency_graph()? } else { Default::default() };
    let members = workspace.packages.values().map(|p| p.name.clone());
    let cx = FilterContext::new(graph, default_filter).with_workspace_members(members);
    for expr in filterset.exprs() {
        expr.check_packages(&cx).map_err(|e| filter_error(expr.as_str(), &e))?;
        expr.check_groups(profile.test_groups.keys().map(String::as_str))
            .map_err(|e| filter_error(expr.as_str(), &e))?;
    }
    Ok(Setup { workspace, profile, config_file, filterset, cx })
}

/// [`setup`], with `cargo test --no-run` started while `cargo metadata` runs: on a
/// warm workspace each takes tens of milliseconds, a good part of a short run.
///
/// What can be checked without cargo is checked first, so that a missing manifest, a
/// bad configuration file or a bad filter expression still stops tempo before
/// anything is built: the configuration is read from the workspace root found by
/// walking up from the manifest (the directory whose `Cargo.toml` has a
/// `[workspace]` table), and read again from cargo's answer.
fn setup_while_building(
    cargo: &CargoOptions,
    config: &ConfigOptions,
    selection: &Selection,
) -> Result<(Setup, StartedBuild)> {
    env::warm_up();
    if let Some(path) = &cargo.manifest_path
        && !path.is_file()
    {
        return Err(Error::ManifestNotFound(path.clone()));
    }
    if let Some(root) = build::guess_workspace_root(cargo.manifest_path.as_deref()) {
        let profile = Config::load(&root, config.config_file.as_deref())?.profile(&config.profile)?;
        if let Some(text) = &profile.default_filter {
            FilterExpr::parse_default_filter(text).map_err(|e| ConfigError::Invalid {
                message: format!("the default-filter of profile `{}` is not a valid filter expression", profile.name),
                help: e.render(text),
            })?;
        }
    }
    for text in &selection.filtersets {
        FilterExpr::parse(text).map_err(|e| filter_error(text, &e))?;
    }
    let started = StartedBuild::start(cargo)?;
    let setup = setup(cargo, config, selection)?;
    Ok((setup, started))
}

/// Whether the filters can select any test of `binary` at all: nextest does not even
/// list a binary that no filter can select.
fn selectable(setup: &Setup, selection: &Selection, binary: &TestBinary) -> bool {
    let q = query(binary, "").binary();
    let excluded = setup.filterset.matches_binary(&q, &setup.cx) == Some(false)
        || (!selection.ignore_default_filter && setup.cx.matches_default_binary(&q) == Some(false));
    !excluded
}

/// Builds the test binaries, keeping those the filters can select at all.
fn build_binaries(cargo: &CargoOptions, setup: &Setup, selection: &Selection) -> Result<Vec<Arc<TestBinary>>> {
    read_binaries(StartedBuild::start(cargo)?, setup, selection)
}

/// Reads a started build to the end, keeping the binaries the filters can select.
fn read_binaries(started: StartedBuild, setup: &Setup, selection: &Selection) -> Result<Vec<Arc<TestBinary>>> {
    let mut binaries = Vec::new();
    build::read_build(started, &setup.workspace, |event| match event {
        BuildEvent::Compiling | BuildEvent::DynamicLibrary(_) => {}
        BuildEvent::Binary(binary) => {
            if selectable(setup, selection, &binary) {
                binaries.push(binary);
            }
        }
    })?;
    Ok(binaries)
}

/// The set-up and the selectable binaries: built by cargo, or taken from an archive
/// (whose extracted files the returned guard keeps until it is dropped).
fn setup_and_binaries(
    cargo: &CargoOptions,
    config: &ConfigOptions,
    selection: &Selection,
    archive: Option<&ArchiveSource>,
) -> Result<(Setup, Vec<Arc<TestBinary>>, Option<crate::archive::ExtractGuard>)> {
    match archive {
        None => {
            let setup = setup(cargo, config, selection)?;
            let binaries = build_binaries(cargo, &setup, selection)?;
            Ok((setup, binaries, None))
        }
        Some(source) => {
            env::warm_up();
            let crate::archive::Opened { guard, workspace, binaries, dependency_graph } = crate::archive::open(source)?;
            let setup = setup_for(workspace, config, selection, || Ok(dependency_graph))?;
            let binaries = binaries.into_iter().filter(|b| selectable(&setup, selection, b)).collect();
            Ok((setup, binaries, Some(guard)))
        }
    }
}

/// Loads the history under the profile's store directory, warning about a bad file.
fn load_history(setup: &Setup) -> (History, std::path::PathBuf) {
    let path = history::path(&setup.workspace.root.join(&setup.profile.store_dir));
    let (history, warning) = History::load(&path);
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    (history, path)
}

/// Lists the tests of the built binaries (and, with `doc_args`, the doctests) under a
/// new run id.
fn list_tests(
    workspace: &Workspace,
    profile: &Profile,
    binaries: Vec<Arc<TestBinary>>,
    doc_args: Option<&[std::ffi::OsString]>,
) -> Result<(RunEnv, Vec<ListedBinary>)> {
    let run_env =
        RunEnv { run_id: env::new_run_id(), profile: profile.name.clone(), workspace_root: workspace.root.clone() };
    let doc_packages: Vec<Arc<crate::build::PackageInfo>> = match doc_args {
        Some(_) => binaries
            .iter()
            .filter(|b| b.kind == TargetKind::Lib && b.package.has_doctests)
            .map(|b| b.package.clone())
            .collect(),
        None => Vec::new(),
    };
    let with_env = binaries
        .into_iter()
        .map(|b| {
            let env = Arc::new(BinaryEnv::for_binary(&b, &run_env));
            (b, env)
        })
        .collect();
    let mut listed: Vec<ListedBinary> = discover::list_all(with_env)?;
    if let Some(doc_args) = doc_args {
        let units: Vec<Vec<ListedBinary>> = doc_packages
            .into_par_iter()
            .map(|p| discover::list_doctests(p, doc_args, &run_env))
            .collect::<Result<_>>()?;
        listed.extend(units.into_iter().flatten());
    }
    Ok((run_env, listed))
}

fn prepare(
    setup: Setup,
    binaries: Vec<Arc<TestBinary>>,
    selection: &Selection,
    retries_override: Option<u32>,
    test_threads: usize,
    history: Option<&History>,
    doc_args: Option<&[std::ffi::OsString]>,
) -> Result<Prepared> {
    let (run_env, listed) = list_tests(&setup.workspace, &setup.profile, binaries, doc_args)?;
    let Setup { profile, filterset, cx, .. } = setup;
    let inputs = PlanInputs {
        names: &selection.names,
        filterset: &filterset,
        cx: &cx,
        ignore_default_filter: selection.ignore_default_filter,
        profile: &profile,
        retries_override,
        cores: available_cores(),
        test_threads,
        history,
    };
    let plan = TestPlan::new(listed, &inputs);
    Ok(Prepared { run_env, plan })
}

/// `<workspace>/<store.dir>/<profile>`: where a profile's JUnit file, history and reports live.
fn profile_store_dir(workspace: &Workspace, profile: &Profile) -> std::path::PathBuf {
    workspace.root.join(&profile.store_dir).join(&profile.name)
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

/// `cargo tempo show-config`.
pub fn show_config(opts: ShowConfigOptions) -> Result<i32> {
    let setup = setup(&opts.cargo, &opts.config, &opts.filter)?;
    let binaries = build_binaries(&opts.cargo, &setup, &opts.filter)?;
    let cores = available_cores();
    let profile = setup.profile.clone();
    let file = setup.config_file.clone();
    let slots = profile.test_threads.resolve(cores);
    let prepared = prepare(setup, binaries, &opts.filter, None, slots, None, None)?;
    let stdout = std::io::stdout();
    write_show_config(&mut stdout.lock(), &profile, file.as_deref(), cores, &prepared.plan).map_err(Error::Output)?;
    Ok(exit_code::OK)
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

/// Lists one freshly built binary and plans its tests, for a pipelined run.
fn plan_binary(binary: Arc<TestBinary>, run_env: &RunEnv, inputs: &PlanInputs<'_>) -> Result<TestPlan> {
    let env = Arc::new(BinaryEnv::for_binary(&binary, run_env));
    let listed = discover::list_binary(binary, env)?;
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
                let (list_error, deliver) = (&list_error, &deliver);
                scope.spawn(move |_| match plan_binary(binary, run_env, inputs) {
                    Ok(plan) => deliver.send(plan),
                    Err(e) => {
                        list_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                    }
                });
            }
        })
    });
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

/// The runner's settings for a profile, once the slots and fail-fast are decided.
fn runner_config(
    profile: &Profile,
    slots: usize,
    cores: usize,
    fail_fast: crate::config::FailFast,
    failed_first: bool,
    capture: bool,
) -> RunnerConfig {
    RunnerConfig {
        slots,
        max_fail: fail_fast.max_fail,
        terminate_on_fail_fast: fail_fast.terminate_immediately,
        failed_first,
        capture,
        output_cap: usize::try_from(profile.capture_limit).unwrap_or(usize::MAX),
        grace_period: profile.slow_timeout.grace_period,
        flaky_fails: profile.flaky_result == FlakyResult::Fail,
        test_groups: profile.test_groups.iter().map(|(name, t)| (Arc::from(name.as_str()), t.resolve(cores))).collect(),
        info_key: false,
        cpu_budget: None,
        cpu_share_while_building: std::env::var("TEMPO_TEST_CPU_WHILE_BUILDING")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| (0.0..=1.0).contains(v))
            .unwrap_or(1.0),
    }
}

/// A plan built and listed once, to be run several times (`cargo tempo flaky`): with
/// no retries and no fail-fast, so that every run shows every test's own outcome.
pub struct RepeatablePlan {
    /// The selected tests.
    pub plan: TestPlan,
    /// The resolved profile.
    pub profile: Profile,
    /// The workspace root.
    pub workspace_root: std::path::PathBuf,
    /// The config file in use, if any.
    pub config_file: Option<std::path::PathBuf>,
    /// The runner's settings.
    pub config: RunnerConfig,
    /// Facts for each run's [`RunInfo`].
    pub info: RunInfo,
}

/// Builds and lists once for repeated runs; `Ok(None)` when the filters select nothing.
pub fn prepare_repeatable(
    cargo: &CargoOptions,
    config: &ConfigOptions,
    selection: &Selection,
    test_threads: Option<crate::plan::concurrency::Threads>,
) -> Result<Option<RepeatablePlan>> {
    let setup = setup(cargo, config, selection)?;
    let cores = available_cores();
    let concurrency = crate::plan::concurrency::resolve_concurrency(test_threads, &setup.profile, cores);
    let slots = concurrency.slots;
    let (profile, workspace_root, config_file) =
        (setup.profile.clone(), setup.workspace.root.clone(), setup.config_file.clone());
    let binaries = build_binaries(cargo, &setup, selection)?;
    let prepared = prepare(setup, binaries, selection, Some(0), slots, None, None)?;
    if prepared.plan.tests.is_empty() {
        crate::cmd::NoTests::Fail.report(prepared.plan.skipped);
        return Ok(None);
    }
    let info =
        run_info(&prepared.run_env, Some((&prepared.plan, false)), slots, cores, concurrency.cpu_budget.is_some());
    let never = crate::config::FailFast { max_fail: None, terminate_immediately: false };
    let mut config = runner_config(&profile, slots, cores, never, false, true);
    config.cpu_budget = concurrency.cpu_budget;
    let mut plan = prepared.plan;
    // A batch runs a test that failed in it again alone and reports that run, which
    // would hide the very failures these runs count: every test gets its own process.
    plan.tests = plan
        .tests
        .into_iter()
        .map(|t| {
            let mut t = Arc::try_unwrap(t).expect("a fresh plan holds the only handle on each test");
            t.batchable = false;
            Arc::new(t)
        })
        .collect();
    Ok(Some(RepeatablePlan { plan, profile, workspace_root, config_file, config, info }))
}

/// The tests built and listed once, and planned afresh for each slot count
/// (`cargo tempo tune`): with the profile's retries, fail-fast, isolation and the
/// duration history, so that each run is the run `cargo tempo run -j N` would do.
pub struct SweepPlan {
    setup: Setup,
    listed: Vec<ListedBinary>,
    selection: Selection,
    /// The history on disk, plus what the sweep's own runs measured (kept in memory
    /// only), so that adaptive concurrency learns from the warm-up like a real run.
    history: std::cell::RefCell<History>,
    run_env: RunEnv,
    cores: usize,
    test_count: usize,
}

impl SweepPlan {
    /// The resolved profile.
    pub fn profile(&self) -> &Profile {
        &self.setup.profile
    }

    /// The workspace root.
    pub fn workspace_root(&self) -> &std::path::Path {
        &self.setup.workspace.root
    }

    /// The config file in use, if any.
    pub fn config_file(&self) -> Option<&std::path::Path> {
        self.setup.config_file.as_deref()
    }

    /// How many tests each run runs.
    pub fn test_count(&self) -> usize {
        self.test_count
    }

    /// The plan for a run on `slots` slots: `threads-required = "num-test-threads"`
    /// depends on the slot count, so each count gets its own.
    fn plan(&self, slots: usize) -> TestPlan {
        let inputs = PlanInputs {
            names: &self.selection.names,
            filterset: &self.setup.filterset,
            cx: &self.setup.cx,
            ignore_default_filter: self.selection.ignore_default_filter,
            profile: &self.setup.profile,
            retries_override: None,
            cores: self.cores,
            test_threads: slots,
            history: Some(&self.history.borrow()),
        };
        TestPlan::new(self.listed.clone(), &inputs)
    }

    /// Runs every selected test once on `slots` slots, as `cargo tempo run -j <slots>`
    /// would (`None`: adaptively, as `-j adaptive` would), reporting to `reporter` only.
    pub fn run(&self, slots: Option<usize>, reporter: &mut dyn crate::events::Reporter) -> Result<RunStats> {
        let concurrency = match slots {
            Some(n) => crate::plan::concurrency::Concurrency { slots: n, cpu_budget: None },
            None => crate::plan::concurrency::resolve_concurrency(
                Some(crate::plan::concurrency::Threads::Adaptive),
                &self.setup.profile,
                self.cores,
            ),
        };
        let slots = concurrency.slots;
        let plan = self.plan(slots);
        let profile = &self.setup.profile;
        let info = run_info(&self.run_env, Some((&plan, false)), slots, self.cores, concurrency.cpu_budget.is_some());
        let mut config = runner_config(profile, slots, self.cores, profile.fail_fast, false, true);
        config.cpu_budget = concurrency.cpu_budget;
        let mut learn = HistoryReporter::in_memory(self.history.take());
        let stats = execute::run(plan, info, &config, &mut Both(reporter, &mut learn));
        *self.history.borrow_mut() = learn.into_history();
        stats
    }
}

/// The facts a run starts with: its plan's counts (none yet for a pipelined run,
/// whose tests arrive as binaries are built), with the skipped tests listed when
/// `list_skipped`, so that `SKIP` lines are printed for them.
fn run_info(run_env: &RunEnv, plan: Option<(&TestPlan, bool)>, slots: usize, cores: usize, adaptive: bool) -> RunInfo {
    RunInfo {
        run_id: run_env.run_id.clone(),
        profile: run_env.profile.clone(),
        started_at: SystemTime::now(),
        test_count: plan.map_or(0, |(p, _)| p.tests.len()),
        skipped: plan.map_or(0, |(p, _)| p.skipped),
        skipped_tests: match plan {
            Some((p, true)) => p.skipped_tests.clone().into(),
            _ => Arc::new([]),
        },
        binary_count: plan.map_or(0, |(p, _)| p.binary_count),
        slots,
        cores,
        adaptive,
        pipelined: plan.is_none(),
        planned: Arc::default(),
        clock: std::time::Instant::now(),
    }
}

/// Two reporters that hear the same events.
struct Both<'a>(&'a mut dyn crate::events::Reporter, &'a mut dyn crate::events::Reporter);

impl crate::events::Reporter for Both<'_> {
    fn report(&mut self, event: &crate::events::Event) -> std::io::Result<()> {
        // Both hear every event, so that one failing to write its file does not
        // deafen the other; the first error is the one returned.
        let first = self.0.report(event);
        let second = self.1.report(event);
        first.and(second)
    }
}

/// Builds and lists once for a sweep over slot counts; `Ok(None)` when the filters
/// select nothing.
pub fn prepare_sweep(cargo: &CargoOptions, config: &ConfigOptions, selection: &Selection) -> Result<Option<SweepPlan>> {
    let setup = setup(cargo, config, selection)?;
    let cores = available_cores();
    let (history, warning) = History::load(&history::path(&setup.workspace.root.join(&setup.profile.store_dir)));
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let binaries = build_binaries(cargo, &setup, selection)?;
    let doc_args = setup.profile.doctests.then_some(cargo.doc_args.as_slice());
    let (run_env, listed) = list_tests(&setup.workspace, &setup.profile, binaries, doc_args)?;
    let history = std::cell::RefCell::new(history);
    let mut sweep = SweepPlan { setup, listed, selection: selection.clone(), history, run_env, cores, test_count: 0 };
    let plan = sweep.plan(1);
    if plan.tests.is_empty() {
        crate::cmd::NoTests::Fail.report(plan.skipped);
        return Ok(None);
    }
    sweep.test_count = plan.tests.len();
    Ok(Some(sweep))
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
    let slots = concurrency.slots;
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
    let fail_fast = crate::cmd::run::FailFastFlag::over(opts.fail_fast, profile.fail_fast);
    let mut config = runner_config(&profile, slots, cores, fail_fast, opts.failed_first, opts.capture);
    config.cpu_budget = concurrency.cpu_budget;
    let mut reporters = Fanout::default();
    let html_path = match &opts.html_report {
        HtmlReport::Default => Some(profile_store_dir(&setup.workspace, &profile).join("report.html")),
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
        reporters.push(reporter);
    }
    let budget = BudgetCheck::new(&profile);
    if let Some(budget) = &budget {
        reporters.push(budget.collector());
    }
    if let Some(junit) = &profile.junit.path {
        let path = profile_store_dir(&setup.workspace, &profile).join(junit);
        reporters.push(Box::new(JunitReporter::new(path, profile.junit.report_name.clone())));
    }
    // A reporter that cannot write its file does not stop the others (see `Fanout`):
    // its error is reported at the end, by `with_write_errors`.
    let html = html_path.clone().map(|path| HtmlReporter::new(path, known_flaky(&history)));

    let (stats, build_error) = match binaries {
        Binaries::Building(_) | Binaries::Unstarted if opts.pipeline => {
            let run_env = RunEnv {
                run_id: env::new_run_id(),
                profile: profile.name.clone(),
                workspace_root: setup.workspace.root.clone(),
            };
            let info = run_info(&run_env, None, slots, cores, concurrency.cpu_budget.is_some());
            let inputs = PlanInputs {
                names: &opts.filter.names,
                filterset: &setup.filterset,
                cx: &setup.cx,
                ignore_default_filter: opts.filter.ignore_default_filter,
                profile: &profile,
                retries_override: opts.retries,
                cores,
                test_threads: slots,
                history: Some(&history),
            };
            let (setup_ref, selection) = (&setup, &opts.filter);
            let (run_env_ref, inputs_ref) = (&run_env, &inputs);
            let started = match binaries {
                Binaries::Building(started) => started,
                _ => {
                    // Under a progress bar, cargo's output is printed above it, not through it.
                    let forward = terminal.bar.clone().map(|bar| StderrForward {
                        sink: Box::new(move |line: &[u8]| {
                            bar.suspend(|| {
                                let mut stderr = std::io::stderr().lock();
                                let _ = stderr.write_all(line);
                                let _ = stderr.flush();
                            });
                        }),
                        color: terminal.colored,
                    });
                    StartedBuild::start_forwarding(&opts.cargo, forward)?
                }
            };
            let doc_args = doc.then_some(opts.cargo.doc_args.as_slice());
            let partition = opts.partition;
            let feeder: Feeder<'_> = Box::new(move |tx| {
                let deliver = Deliver { tx: &tx, partition, pile: Default::default() };
                feed_run(started, setup_ref, selection, run_env_ref, inputs_ref, doc_args, deliver)
            });
            reporters.push(Box::new(HistoryReporter::new(history_path, history.clone()).sharded(opts.partition)));
            if let Some(html) = html {
                reporters.push(Box::new(html));
            }
            execute::run_fed(TestPlan::default(), Some(feeder), info, &config, &mut reporters)
                .map_err(reporter_error)?
        }
        binaries => {
            let binaries = match binaries {
                Binaries::Built(binaries) => binaries,
                Binaries::Building(started) => read_binaries(started, &setup, &opts.filter)?,
                Binaries::Unstarted => build_binaries(&opts.cargo, &setup, &opts.filter)?,
            };
            let doc_args = doc.then_some(opts.cargo.doc_args.as_slice());
            let mut prepared = prepare(setup, binaries, &opts.filter, opts.retries, slots, Some(&history), doc_args)?;
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
                return Ok(opts.no_tests.report(prepared.plan.skipped));
            }
            let info = run_info(
                &prepared.run_env,
                Some((&prepared.plan, true)),
                slots,
                cores,
                concurrency.cpu_budget.is_some(),
            );
            reporters.push(Box::new(HistoryReporter::new(history_path, history).sharded(opts.partition)));
            if let Some(html) = html {
                reporters.push(Box::new(html));
            }
            execute::run_fed(prepared.plan, None, info, &config, &mut reporters).map_err(reporter_error)?
        }
    };
    let write_errors = reporters.take_write_errors();
    std::io::stdout().flush().map_err(Error::Output)?;
    let budget_fails = match &budget {
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
