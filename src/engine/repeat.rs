//! Whole runs driven more than once: a plan built and listed once and run N times
//! (`flaky`), or planned afresh for each slot count (`tune`).

use std::sync::Arc;

use super::session::{Both, Setup, build_binaries, list_tests, prepare, run_info, runner_config, setup};
use crate::build::CargoOptions;
use crate::config::{ConfigOptions, Profile};
use crate::discover::ListedBinary;
use crate::env::{RunEnv, available_cores};
use crate::error::Result;
use crate::events::{RunInfo, RunStats};
use crate::execute::{self, RunnerConfig};
use crate::history::{self, History};
use crate::plan::selection::Selection;
use crate::plan::{PlanInputs, TestPlan};
use crate::report::history_record::HistoryReporter;
use crate::report::no_tests::NoTests;

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
        NoTests::Fail.report(prepared.plan.skipped);
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

    /// What adaptive concurrency has learned of the tests, from the history on disk
    /// and the sweep's own runs so far (see `plan::admission::summary`).
    pub fn learned(&self) -> String {
        let plan = self.plan(self.cores);
        crate::plan::admission::summary(plan.tests.iter().map(|t| &t.admission))
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
        NoTests::Fail.report(plan.skipped);
        return Ok(None);
    }
    sweep.test_count = plan.tests.len();
    Ok(Some(sweep))
}
