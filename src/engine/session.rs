//! A session's set-up, shared by every command that builds and lists: the workspace,
//! the profile and the filters read before anything is built (so that a config or
//! filter error stops tempo at once), then the binaries built or taken from an
//! archive, listed and planned.

use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use crate::archive::ArchiveSource;
use crate::build::{self, BuildEvent, CargoOptions, StartedBuild, TestBinary, Workspace};
use crate::config::{Config, ConfigError, ConfigOptions, FlakyResult, Profile};
use crate::discover::{self, ListedBinary};
use crate::env::{self, BinaryEnv, RunEnv, available_cores};
use crate::error::{Error, Result};
use crate::events::RunInfo;
use crate::execute::RunnerConfig;
use crate::filter::{FilterContext, FilterExpr, FilterSet};
use crate::history::{self, History};
use crate::plan::selection::Selection;
use crate::plan::{PlanInputs, TestPlan, query};
use crate::test_id::TargetKind;

/// Builds, lists and selects: everything up to the moment the first test could start.
pub(crate) struct Prepared {
    pub(crate) run_env: RunEnv,
    pub(crate) plan: TestPlan,
}

/// The workspace and the profile, read before anything is built so that a config or
/// filter error stops tempo at once.
pub(crate) struct Setup {
    pub(crate) workspace: Workspace,
    pub(crate) profile: Profile,
    pub(crate) config_file: Option<std::path::PathBuf>,
    pub(crate) filterset: FilterSet,
    pub(crate) cx: FilterContext,
}

/// `TEMPO_STORE_DIR` beats the config's `[store] dir`: CI can point the history and
/// reports at a cached directory without editing the config.
pub(crate) fn apply_store_dir_env(profile: &mut Profile) {
    if let Some(dir) = std::env::var_os("TEMPO_STORE_DIR").filter(|d| !d.is_empty()) {
        profile.store_dir = dir.into();
    }
}

pub(crate) fn filter_error(expr: &str, err: &crate::filter::FilterParseError) -> Error {
    let rendered = err.render(expr);
    Error::Filter(rendered.strip_prefix("error: ").unwrap_or(&rendered).to_owned())
}

pub(crate) fn setup(cargo: &CargoOptions, config: &ConfigOptions, selection: &Selection) -> Result<Setup> {
    env::warm_up();
    // A configuration that cannot be read here is reported by `setup_for`, from the
    // root cargo names; without it there is just no cache.
    let guess = build::guess_workspace_root(cargo.manifest_path.as_deref()).and_then(|root| {
        let profile = Config::load(&root, config.config_file.as_deref()).ok()?.profile(&config.profile).ok()?;
        Some((root, profile))
    });
    let cache = guess.map(|(root, profile)| metadata_cache(cargo, &root, profile));
    setup_with_cache(cargo, config, selection, cache.as_ref())
}

/// The cache of `cargo metadata`'s answer in the store directory of the profile
/// read from the guessed workspace root (see [`build::MetadataCache`]).
fn metadata_cache(cargo: &CargoOptions, guessed_root: &std::path::Path, mut profile: Profile) -> build::MetadataCache {
    apply_store_dir_env(&mut profile);
    let file = build::meta_cache_path(&guessed_root.join(&profile.store_dir));
    build::MetadataCache::new(file, cargo)
}

fn setup_with_cache(
    cargo: &CargoOptions,
    config: &ConfigOptions,
    selection: &Selection,
    cache: Option<&build::MetadataCache>,
) -> Result<Setup> {
    let workspace = build::workspace_cached(cargo, cache)?;
    crate::phase::mark("cargo metadata done");
    setup_for(workspace, config, selection, || build::dependency_graph(cargo))
}

/// The set-up for a workspace already described: by `cargo metadata`, or by an
/// archive, which also carries the dependency graph that `deps()` and `rdeps()` need.
pub(crate) fn setup_for(
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
pub(crate) fn setup_while_building(
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
    let mut cache = None;
    if let Some(root) = build::guess_workspace_root(cargo.manifest_path.as_deref()) {
        let profile = Config::load(&root, config.config_file.as_deref())?.profile(&config.profile)?;
        if let Some(text) = &profile.default_filter {
            FilterExpr::parse_default_filter(text).map_err(|e| ConfigError::Invalid {
                message: format!("the default-filter of profile `{}` is not a valid filter expression", profile.name),
                help: e.render(text),
            })?;
        }
        cache = Some(metadata_cache(cargo, &root, profile));
    }
    for text in &selection.filtersets {
        FilterExpr::parse(text).map_err(|e| filter_error(text, &e))?;
    }
    let started = StartedBuild::start(cargo)?;
    crate::phase::mark("cargo test --no-run started");
    let setup = setup_with_cache(cargo, config, selection, cache.as_ref())?;
    crate::phase::mark("setup done");
    Ok((setup, started))
}

/// Whether the filters can select any test of `binary` at all: nextest does not even
/// list a binary that no filter can select.
pub(crate) fn selectable(setup: &Setup, selection: &Selection, binary: &TestBinary) -> bool {
    let q = query(binary, "").binary();
    let excluded = setup.filterset.matches_binary(&q, &setup.cx) == Some(false)
        || (!selection.ignore_default_filter && setup.cx.matches_default_binary(&q) == Some(false));
    !excluded
}

/// Builds the test binaries, keeping those the filters can select at all.
pub(crate) fn build_binaries(
    cargo: &CargoOptions,
    setup: &Setup,
    selection: &Selection,
) -> Result<Vec<Arc<TestBinary>>> {
    read_binaries(StartedBuild::start(cargo)?, setup, selection)
}

/// Reads a started build to the end, keeping the binaries the filters can select.
pub(crate) fn read_binaries(
    started: StartedBuild,
    setup: &Setup,
    selection: &Selection,
) -> Result<Vec<Arc<TestBinary>>> {
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
pub(crate) fn setup_and_binaries(
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
pub(crate) fn load_history(setup: &Setup) -> (History, std::path::PathBuf) {
    let path = history::path(&setup.workspace.root.join(&setup.profile.store_dir));
    let (history, warning) = History::load(&path);
    crate::phase::mark("history loaded");
    if let Some(warning) = warning {
        eprintln!("warning: {warning}");
    }
    (history, path)
}

/// Lists the tests of the built binaries (and, with `doc_args`, the doctests) under a
/// new run id.
pub(crate) fn list_tests(
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
    let cache = discover::ListCache::open(&workspace.root.join(&profile.store_dir));
    let listed = discover::list_all(with_env, Some(&cache));
    cache.save();
    let mut listed: Vec<ListedBinary> = listed?;
    if let Some(doc_args) = doc_args {
        let units: Vec<Vec<ListedBinary>> = doc_packages
            .into_par_iter()
            .map(|p| discover::list_doctests(p, doc_args, &run_env))
            .collect::<Result<_>>()?;
        listed.extend(units.into_iter().flatten());
    }
    Ok((run_env, listed))
}

pub(crate) fn prepare(
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
pub(crate) fn profile_store_dir(workspace: &Workspace, profile: &Profile) -> std::path::PathBuf {
    workspace.root.join(&profile.store_dir).join(&profile.name)
}

/// The runner's settings for a profile, once the slots and fail-fast are decided.
pub(crate) fn runner_config(
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

/// The facts a run starts with: its plan's counts (none yet for a pipelined run,
/// whose tests arrive as binaries are built), with the skipped tests listed when
/// `list_skipped`, so that `SKIP` lines are printed for them.
pub(crate) fn run_info(
    run_env: &RunEnv,
    plan: Option<(&TestPlan, bool)>,
    slots: usize,
    cores: usize,
    adaptive: bool,
) -> RunInfo {
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
pub(crate) struct Both<'a>(
    pub(crate) &'a mut dyn crate::events::Reporter,
    pub(crate) &'a mut dyn crate::events::Reporter,
);

impl crate::events::Reporter for Both<'_> {
    fn report(&mut self, event: &crate::events::Event) -> std::io::Result<()> {
        // Both hear every event, so that one failing to write its file does not
        // deafen the other; the first error is the one returned.
        let first = self.0.report(event);
        let second = self.1.report(event);
        first.and(second)
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let first = self.0.finish();
        let second = self.1.finish();
        first.and(second)
    }
}
