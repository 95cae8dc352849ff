//! Wires the stages together: build → discover → plan → schedule → execute → report.
//!
//! Each subcommand is a short walk down this pipeline; the stages themselves know
//! nothing of each other beyond the types they hand on.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use crate::budget::BudgetCheck;
use crate::build::{self, BuildEvent, StartedBuild, TestBinary, Workspace};
use crate::config::{Config, ConfigError, FlakyResult, Profile};
use crate::discover::{self, ListedBinary};
use crate::env::{self, BinaryEnv, RunEnv};
use crate::error::{Error, Result, exit_code};
use crate::execute::{self, Feed, FeedTx, Feeder, RunnerConfig};
use crate::filter::{FilterContext, FilterExpr, FilterSet};
use crate::history::{self, History, HistoryReporter};
use crate::options::{
    CargoOptions, Color, ConfigOptions, HistoryOptions, HtmlReport, ListOptions, RunOptions, Selection,
    ShowConfigOptions, available_cores,
};
use crate::plan::{PlanInputs, TestPlan, query};
use crate::report::Fanout;
use crate::report::events::RunInfo;
use crate::report::history::write_history;
use crate::report::html::{HtmlReporter, known_flaky};
use crate::report::human::{HumanOptions, HumanReporter};
use crate::report::junit::JunitReporter;
use crate::report::list::write_list;
use crate::report::show_config::write_show_config;
use crate::report::style::{Styles, color_choice};
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
    let graph = if needs_graph { build::dependency_graph(cargo)? } else { Default::default() };
    let members = workspace.packages.values().map(|p| p.name.clone());
    let cx = FilterContext::new(graph, default_filter).with_workspace_members(members);
    for expr in filterset.exprs() {
        expr.check_packages(&cx).map_err(|e| filter_error(expr.as_str(), &e))?;
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

/// Builds the test binaries, keeping those the filters can select at all.
fn build_binaries(cargo: &CargoOptions, setup: &Setup, selection: &Selection) -> Result<Vec<Arc<TestBinary>>> {
    read_binaries(StartedBuild::start(cargo)?, setup, selection)
}

/// Reads a started build to the end, keeping the binaries the filters can select.
fn read_binaries(started: StartedBuild, setup: &Setup, selection: &Selection) -> Result<Vec<Arc<TestBinary>>> {
    let mut binaries = Vec::new();
    build::read_build(started, &setup.workspace, |event| match event {
        BuildEvent::Compiling => {}
        BuildEvent::Binary(binary) => {
            // nextest does not even list a binary that no filter can select.
            let q = query(&binary, "").binary();
            let excluded = setup.filterset.matches_binary(&q, &setup.cx) == Some(false)
                || (!selection.ignore_default_filter && setup.cx.matches_default_binary(&q) == Some(false));
            if !excluded {
                binaries.push(binary);
            }
        }
    })?;
    Ok(binaries)
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
    let Setup { workspace, profile, filterset, cx, .. } = setup;
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

fn use_color(color: Color, stream: &impl anstream::stream::RawStream) -> bool {
    // anstream decides `auto` from the terminal, NO_COLOR, CLICOLOR and CLICOLOR_FORCE.
    let choice = match color_choice(color) {
        anstream::ColorChoice::Auto => anstream::AutoStream::choice(stream),
        explicit => explicit,
    };
    !matches!(choice, anstream::ColorChoice::Never)
}

/// `<workspace>/<store.dir>/<profile>`: where a profile's JUnit file, history and reports live.
fn profile_store_dir(workspace: &Workspace, profile: &Profile) -> std::path::PathBuf {
    workspace.root.join(&profile.store_dir).join(&profile.name)
}

/// `cargo tempo list`.
pub fn list(opts: ListOptions) -> Result<i32> {
    let setup = setup(&opts.cargo, &opts.config, &opts.filter)?;
    let binaries = build_binaries(&opts.cargo, &setup, &opts.filter)?;
    let slots = setup.profile.test_threads.resolve(available_cores());
    let prepared = prepare(setup, binaries, &opts.filter, None, slots, None, None)?;
    let stdout = std::io::stdout();
    let colored = use_color(opts.color, &stdout);
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

/// Builds in the feeder thread of a pipelined run: each binary is listed (in parallel)
/// and its tests sent to the runner as soon as cargo reports it.
fn feed_run(
    started: StartedBuild,
    setup: &Setup,
    selection: &Selection,
    run_env: &RunEnv,
    inputs: &PlanInputs<'_>,
    doc_args: Option<&[std::ffi::OsString]>,
    tx: &FeedTx,
) {
    let list_error: std::sync::Mutex<Option<Error>> = std::sync::Mutex::new(None);
    let doc_packages: std::sync::Mutex<Vec<Arc<crate::build::PackageInfo>>> = Default::default();
    let built = rayon::scope(|scope| {
        build::read_build(started, &setup.workspace, |event| match event {
            BuildEvent::Compiling => {
                tx.send(Feed::Compiling);
            }
            BuildEvent::Binary(binary) => {
                if doc_args.is_some() && binary.kind == TargetKind::Lib && binary.package.has_doctests {
                    doc_packages.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(binary.package.clone());
                }
                let q = query(&binary, "").binary();
                let excluded = setup.filterset.matches_binary(&q, &setup.cx) == Some(false)
                    || (!selection.ignore_default_filter && setup.cx.matches_default_binary(&q) == Some(false));
                if excluded {
                    return;
                }
                let list_error = &list_error;
                scope.spawn(move |_| match plan_binary(binary, run_env, inputs) {
                    Ok(plan) => {
                        tx.send(Feed::Tests(plan));
                    }
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
                Ok(units) => {
                    for unit in units {
                        tx.send(Feed::Tests(TestPlan::new(vec![unit], inputs)));
                    }
                }
                Err(e) => {
                    list_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                }
            }
        }
    }
    let listed = list_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).map_or(Ok(()), Err);
    tx.send(Feed::Done(built.and(listed)));
}

/// The runner's settings for a profile, once the slots and fail-fast are decided.
fn runner_config(
    profile: &Profile,
    slots: usize,
    cores: usize,
    max_fail: Option<u32>,
    failed_first: bool,
    capture: bool,
) -> RunnerConfig {
    RunnerConfig {
        slots,
        max_fail,
        terminate_on_fail_fast: profile.fail_fast.terminate_immediately,
        failed_first,
        capture,
        output_cap: usize::try_from(profile.capture_limit).unwrap_or(usize::MAX),
        grace_period: profile.slow_timeout.grace_period,
        flaky_fails: profile.flaky_result == FlakyResult::Fail,
        test_groups: profile.test_groups.iter().map(|(name, t)| (Arc::from(name.as_str()), t.resolve(cores))).collect(),
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
    test_threads: Option<crate::cli::ThreadsArg>,
) -> Result<Option<RepeatablePlan>> {
    let setup = setup(cargo, config, selection)?;
    let cores = available_cores();
    let concurrency = crate::options::resolve_concurrency(test_threads, &setup.profile, cores);
    let slots = concurrency.slots;
    let (profile, workspace_root, config_file) =
        (setup.profile.clone(), setup.workspace.root.clone(), setup.config_file.clone());
    let binaries = build_binaries(cargo, &setup, selection)?;
    let prepared = prepare(setup, binaries, selection, Some(0), slots, None, None)?;
    if prepared.plan.tests.is_empty() {
        eprintln!("error: no tests to run: the filters matched none of the {} tests found", prepared.plan.skipped);
        return Ok(None);
    }
    let info = RunInfo {
        run_id: prepared.run_env.run_id.clone(),
        profile: prepared.run_env.profile.clone(),
        started_at: SystemTime::now(),
        test_count: prepared.plan.tests.len(),
        skipped: prepared.plan.skipped,
        skipped_tests: Arc::new([]),
        binary_count: prepared.plan.binary_count,
        slots,
        cores,
        adaptive: concurrency.cpu_budget.is_some(),
        pipelined: false,
    };
    let mut config = runner_config(&profile, slots, cores, None, false, true);
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

/// `cargo tempo run`.
pub fn run(opts: RunOptions) -> Result<i32> {
    let (setup, started) = setup_while_building(&opts.cargo, &opts.config, &opts.filter)?;
    if opts.no_run {
        read_binaries(started, &setup, &opts.filter)?;
        return Ok(exit_code::OK);
    }
    let cores = available_cores();
    // The command line beats the environment (folded in by clap), which beats the profile.
    let concurrency = if opts.capture {
        crate::options::resolve_concurrency(opts.test_threads, &setup.profile, cores)
    } else {
        crate::options::Concurrency { slots: 1, cpu_budget: None }
    };
    let slots = concurrency.slots;
    let profile = setup.profile.clone();
    let doc = opts.doc || profile.doctests;
    let history_path = history::path(&setup.workspace.root.join(&profile.store_dir));
    let (history, warning) = History::load(&history_path);
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    let max_fail = match opts.fail_fast {
        Some(true) => Some(1),
        Some(false) => None,
        None => profile.fail_fast.max_fail,
    };
    let mut config = runner_config(&profile, slots, cores, max_fail, opts.failed_first, opts.capture);
    config.cpu_budget = concurrency.cpu_budget;
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let colored = use_color(opts.color, &stdout);
    let mut reporters = Fanout::default();
    let human = HumanOptions {
        colored,
        terminal,
        status_level: opts.reporter.status_level.unwrap_or(profile.status_level),
        final_status_level: opts.reporter.final_status_level.unwrap_or(profile.final_status_level),
        success_output: opts.reporter.success_output,
        failure_output: opts.reporter.failure_output,
    };
    reporters.push(Box::new(HumanReporter::new(std::io::LineWriter::new(stdout.lock()), human)));
    let budget = BudgetCheck::new(&profile);
    if let Some(budget) = &budget {
        reporters.push(budget.collector());
    }
    if let Some(junit) = &profile.junit.path {
        let path = profile_store_dir(&setup.workspace, &profile).join(junit);
        reporters.push(Box::new(JunitReporter::new(path, profile.junit.report_name.clone())));
    }
    // Pushed after the history, so that a report that cannot be written does not
    // cost the run its history.
    let html = match &opts.html_report {
        HtmlReport::Default => Some(profile_store_dir(&setup.workspace, &profile).join("report.html")),
        HtmlReport::At(path) => Some(path.clone()),
        HtmlReport::Off => None,
    }
    .map(|path| HtmlReporter::new(path, known_flaky(&history)));

    let (stats, build_error) = if opts.pipeline {
        let run_env = RunEnv {
            run_id: env::new_run_id(),
            profile: profile.name.clone(),
            workspace_root: setup.workspace.root.clone(),
        };
        let info = RunInfo {
            run_id: run_env.run_id.clone(),
            profile: profile.name.clone(),
            started_at: SystemTime::now(),
            test_count: 0,
            skipped: 0,
            skipped_tests: Arc::new([]),
            binary_count: 0,
            slots,
            cores,
            adaptive: concurrency.cpu_budget.is_some(),
            pipelined: true,
        };
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
        let doc_args = doc.then_some(opts.cargo.doc_args.as_slice());
        let feeder: Feeder<'_> =
            Box::new(move |tx| feed_run(started, setup_ref, selection, run_env_ref, inputs_ref, doc_args, &tx));
        reporters.push(Box::new(HistoryReporter::new(history_path, history.clone())));
        if let Some(html) = html {
            reporters.push(Box::new(html));
        }
        execute::run_fed(TestPlan::default(), Some(feeder), info, &config, &mut reporters).map_err(Error::Output)?
    } else {
        let binaries = read_binaries(started, &setup, &opts.filter)?;
        let doc_args = doc.then_some(opts.cargo.doc_args.as_slice());
        let prepared = prepare(setup, binaries, &opts.filter, opts.retries, slots, Some(&history), doc_args)?;
        if prepared.plan.tests.is_empty() {
            eprintln!("error: no tests to run: the filters matched none of the {} tests found", prepared.plan.skipped);
            return Ok(exit_code::NO_TESTS_RUN);
        }
        let info = RunInfo {
            run_id: prepared.run_env.run_id.clone(),
            profile: prepared.run_env.profile.clone(),
            started_at: SystemTime::now(),
            test_count: prepared.plan.tests.len(),
            skipped: prepared.plan.skipped,
            skipped_tests: prepared.plan.skipped_tests.clone().into(),
            binary_count: prepared.plan.binary_count,
            slots,
            cores,
            adaptive: concurrency.cpu_budget.is_some(),
            pipelined: false,
        };
        reporters.push(Box::new(HistoryReporter::new(history_path, history)));
        if let Some(html) = html {
            reporters.push(Box::new(html));
        }
        let stats = execute::run(prepared.plan, info, &config, &mut reporters).map_err(Error::Output)?;
        (stats, None)
    };
    std::io::stdout().flush().map_err(Error::Output)?;
    let budget_fails = match &budget {
        Some(budget) if stats.planned > 0 => budget
            .finish(&stats, build_error.is_some(), &mut std::io::stderr().lock())
            .map_err(Error::Output)?
            .fails_run(),
        _ => false,
    };
    if let Some(error) = build_error {
        return Err(error);
    }
    if stats.planned == 0 && stats.signal.is_none() {
        eprintln!("error: no tests to run: the filters matched none of the {} tests found", stats.skipped);
        return Ok(exit_code::NO_TESTS_RUN);
    }
    Ok(match stats.signal {
        Some(sig) => 128 + sig,
        None if stats.failed > 0 => exit_code::TEST_RUN_FAILED,
        None if budget_fails => exit_code::BUDGET_MISSED,
        None => exit_code::OK,
    })
}
