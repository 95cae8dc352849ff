//! Decides which of the discovered tests run, and with what settings.
//!
//! The plan is the list of [`TestInstance`]s handed to the scheduler, plus the count of
//! tests that were left out, which the summary reports as skipped (as nextest does).

pub mod admission;
pub mod concurrency;
pub mod partition;
pub mod selection;

use std::sync::Arc;

use crate::build::TestBinary;
use crate::config::{GroupChoice, Isolation, LeakTimeout, OutputMode, Profile, RetryPolicy, SlowTimeout};
use crate::discover::ListedBinary;
use crate::env::BinaryEnv;
use crate::filter::{FilterContext, FilterSet, Platform, TestQuery};
use crate::test_id::BinaryId;
use selection::NameFilter;

/// One test that will run, with everything needed to start it.
#[derive(Debug)]
pub struct TestInstance {
    /// The binary that holds it.
    pub binary: Arc<TestBinary>,
    /// That binary's environment.
    pub env: Arc<BinaryEnv>,
    /// The full libtest name.
    pub name: String,
    /// Whether it is ignored (and so needs `--ignored` to run).
    pub ignored: bool,
    /// How it runs: retries, timeouts, slots and reporting.
    pub settings: TestSettings,
    /// How long it is expected to take, from the duration history (zero if nothing is known).
    pub expected: std::time::Duration,
    /// Whether the expectation comes from this test's own history rather than a guess.
    pub expected_known: bool,
    /// Whether its last recorded run failed.
    pub failed_last: bool,
    /// Whether it may run in a batch with other tests of its binary (see `isolation`).
    pub batchable: bool,
    /// Whether it prints so much that it runs under libtest's own capture even when
    /// it runs alone: a batch of one (see [`LOUD_FROM`]).
    pub loud: bool,
    /// What adaptive concurrency charges it, learned from its history (see
    /// [`admission`]); [`admission::Admission::UNKNOWN`] without history.
    pub admission: admission::Admission,
}

/// The settings that apply to one test: the profile's, as overrides adjust them.
#[derive(Debug, Clone)]
pub struct TestSettings {
    /// How a failure is retried.
    pub retries: RetryPolicy,
    /// When it is reported slow, and ended.
    pub slow_timeout: SlowTimeout,
    /// How long its output may stay open after it exits, and whether a leak fails it.
    pub leak_timeout: LeakTimeout,
    /// How many slots it takes.
    pub threads_required: usize,
    /// The test group it belongs to, whose `max-threads` limits it.
    pub test_group: Option<Arc<str>>,
    /// When its output is shown if it passes.
    pub success_output: OutputMode,
    /// When its output is shown if it fails.
    pub failure_output: OutputMode,
    /// Extra arguments for the test binary.
    pub run_extra_args: Arc<[String]>,
    /// Scheduling priority: higher starts first.
    pub priority: i32,
    /// Keep passing output in JUnit.
    pub junit_store_success_output: bool,
    /// Keep failing output in JUnit.
    pub junit_store_failure_output: bool,
    /// Whether it may share a process with other fast tests.
    pub isolation: Isolation,
    /// The overrides that changed a setting, by their `profile.NAME.overrides[i]` name.
    pub applied_overrides: Vec<String>,
    /// The longest its final attempt may take (`budget.slow`), checked after the run.
    pub slow_budget: Option<std::time::Duration>,
}

impl TestSettings {
    /// The profile's settings, before any override. `threads_required` is 1 here: the
    /// profile's value depends on the run's core and slot counts, which the plan knows.
    pub fn from_profile(profile: &Profile) -> TestSettings {
        TestSettings {
            retries: profile.retries.clone(),
            slow_timeout: profile.slow_timeout.clone(),
            leak_timeout: profile.leak_timeout,
            threads_required: 1,
            test_group: None,
            success_output: profile.success_output,
            failure_output: profile.failure_output,
            run_extra_args: profile.run_extra_args.clone().into(),
            priority: 0,
            junit_store_success_output: profile.junit.store_success_output,
            junit_store_failure_output: profile.junit.store_failure_output,
            isolation: profile.isolation,
            applied_overrides: Vec::new(),
            slow_budget: profile.budget.slow,
        }
    }

    /// Applies the profile's overrides to a test: for each setting, the first matching
    /// override that sets it wins.
    fn apply_overrides(&mut self, inputs: &PlanInputs<'_>, query: &TestQuery<'_>) {
        let mut set = [false; 12];
        for o in &inputs.profile.overrides {
            if !o.applies(query, inputs.cx) {
                continue;
            }
            let mut used = false;
            let mut take = |i: usize, present: bool| {
                let take = present && !set[i];
                set[i] |= take;
                used |= take;
                take
            };
            if take(0, o.retries.is_some()) {
                self.retries = o.retries.clone().expect("checked");
            }
            if take(1, o.slow_timeout.is_some()) {
                self.slow_timeout = o.slow_timeout.clone().expect("checked");
            }
            if take(2, o.leak_timeout.is_some()) {
                self.leak_timeout = o.leak_timeout.expect("checked");
            }
            if take(3, o.threads_required.is_some()) {
                self.threads_required = o.threads_required.expect("checked").resolve(inputs.cores, inputs.test_threads);
            }
            if take(4, o.test_group.is_some()) {
                self.test_group = match o.test_group.as_ref().expect("checked") {
                    GroupChoice::Named(name) => Some(Arc::from(name.as_str())),
                    GroupChoice::Global => None,
                };
            }
            if take(5, o.success_output.is_some()) {
                self.success_output = o.success_output.expect("checked");
            }
            if take(6, o.failure_output.is_some()) {
                self.failure_output = o.failure_output.expect("checked");
            }
            if take(7, o.priority.is_some()) {
                self.priority = o.priority.expect("checked");
            }
            if take(8, o.junit_store_success_output.is_some()) {
                self.junit_store_success_output = o.junit_store_success_output.expect("checked");
            }
            if take(9, o.junit_store_failure_output.is_some()) {
                self.junit_store_failure_output = o.junit_store_failure_output.expect("checked");
            }
            if take(11, o.slow_budget.is_some()) {
                self.slow_budget = o.slow_budget;
            }
            if take(10, o.isolation.is_some()) {
                self.isolation = o.isolation.expect("checked");
            }
            if used {
                self.applied_overrides.push(o.source.clone());
            }
        }
    }
}

/// Everything that decides which tests run and how.
pub struct PlanInputs<'a> {
    /// Name filters and the ignored flag.
    pub names: &'a NameFilter,
    /// `-E` expressions.
    pub filterset: &'a FilterSet,
    /// The graph and default filter the expressions see.
    pub cx: &'a FilterContext,
    /// Ignore the profile's default filter.
    pub ignore_default_filter: bool,
    /// The profile, with its overrides.
    pub profile: &'a Profile,
    /// `--retries`, which beats the profile and its overrides.
    pub retries_override: Option<u32>,
    /// The core count, for `threads-required = "num-cpus"`.
    pub cores: usize,
    /// The slot count, for `threads-required = "num-test-threads"`.
    pub test_threads: usize,
    /// Earlier runs' durations, if any.
    pub history: Option<&'a crate::history::History>,
}

/// The filter's view of a test.
pub fn query<'a>(binary: &'a TestBinary, name: &'a str) -> TestQuery<'a> {
    TestQuery {
        binary_id: binary.id.as_str(),
        binary_name: &binary.target_name,
        package: &binary.package.name,
        kind: binary.filter_kind,
        platform: Platform::for_kind(binary.filter_kind),
        test_name: name,
        test_group: None,
    }
}

impl TestInstance {
    /// The binary's id.
    pub fn binary_id(&self) -> &BinaryId {
        &self.binary.id
    }
}

/// A shared handle on a test instance, cheap to pass around in events.
pub type TestRef = Arc<TestInstance>;

/// The tests that will run, in a stable order (binary id, then name).
#[derive(Debug, Default)]
pub struct TestPlan {
    /// The selected tests.
    pub tests: Vec<TestRef>,
    /// How many listed tests the filters or the ignored flag left out.
    pub skipped: usize,
    /// The tests left out, as (binary id, test name), for `SKIP` lines.
    pub skipped_tests: Vec<(BinaryId, String)>,
    /// How many binaries have at least one selected test.
    pub binary_count: usize,
}

impl TestPlan {
    /// Adds another plan's tests (of other binaries) to this one.
    pub fn merge(&mut self, other: TestPlan) {
        self.tests.extend(other.tests);
        self.skipped += other.skipped;
        self.skipped_tests.extend(other.skipped_tests);
        self.binary_count += other.binary_count;
    }

    /// Selects tests from listed binaries, which may come in any order, and settles
    /// each one's settings. The order is nextest's: binary id, then test name; the
    /// scheduler decides the order they start in.
    pub fn new(mut listed: Vec<ListedBinary>, inputs: &PlanInputs<'_>) -> TestPlan {
        let filter = inputs.names;
        let estimator = inputs.history.map(crate::history::History::estimator);
        let mut base = TestSettings::from_profile(inputs.profile);
        base.threads_required = inputs.profile.threads_required.resolve(inputs.cores, inputs.test_threads);
        listed.sort_by(|a, b| a.binary.id.cmp(&b.binary.id));
        let mut plan = TestPlan::default();
        for lb in listed {
            let before = plan.tests.len();
            for case in lb.tests {
                let mut q = query(&lb.binary, &case.name);
                // The overrides first: they assign the test group that `group()` in a
                // command-line filter matches (and may not use `group()` themselves).
                let mut settings = base.clone();
                settings.apply_overrides(inputs, &q);
                q.test_group = Some(settings.test_group.as_deref().unwrap_or(crate::filter::GLOBAL_GROUP));
                let selected = filter.matches_ignored(case.ignored)
                    && filter.matches_name(&case.name)
                    && inputs.filterset.matches(&q, inputs.cx)
                    && (inputs.ignore_default_filter || inputs.cx.matches_default(&q));
                if selected {
                    if let Some(count) = inputs.retries_override {
                        settings.retries.count = count;
                    }
                    let (expected, expected_known) =
                        estimator.as_ref().map_or((std::time::Duration::ZERO, false), |e| {
                            e.estimate(q.binary_id, q.package, q.test_name)
                        });
                    let history = inputs.history.and_then(|h| h.get(q.binary_id, q.test_name));
                    let failed_last = history.is_some_and(crate::history::TestHistory::failed_last);
                    // A file's doctests only ever run together (see `DocUnit`).
                    let loud = lb.binary.doc.is_none() && is_loud(&settings, history);
                    let batchable = lb.binary.doc.is_some() || loud || may_batch(&settings, history);
                    plan.tests.push(Arc::new(TestInstance {
                        binary: Arc::clone(&lb.binary),
                        env: Arc::clone(&lb.env),
                        name: case.name,
                        ignored: case.ignored,
                        settings,
                        expected,
                        expected_known,
                        failed_last,
                        batchable,
                        loud,
                        admission: history.map_or(admission::Admission::UNKNOWN, admission::learn),
                    }));
                } else {
                    plan.skipped += 1;
                    plan.skipped_tests.push((lb.binary.id.clone(), case.name));
                }
            }
            if plan.tests.len() > before {
                plan.binary_count += 1;
            }
        }
        plan
    }
}

/// How long a test may take, by its history, and still be batched under
/// `isolation = "auto"`: beyond it, a process of its own (1-3 ms) costs too little,
/// in proportion, to be worth giving up, and a batch's tests run one after another.
pub const BATCH_AT_MOST: std::time::Duration = std::time::Duration::from_millis(100);

/// How long a `#[should_panic]` test may take in a process of its own and still be
/// batched: there, with `RUST_BACKTRACE` set (as many machines and CI set it), its
/// panic symbolises a backtrace from the test binary's debug info, 70-250 ms on the
/// 2-core reference machine for indexmap 2.14 and bytes 1.12, which a batch pays
/// once. Without this the history fed itself: the tests measured long alone, so they
/// were never batched, so they were always measured alone.
pub const SHOULD_PANIC_ALONE_AT_MOST: std::time::Duration = std::time::Duration::from_millis(500);

/// The longest a recorded run may have taken for the test to be batched.
fn batch_at_most(h: &crate::history::TestHistory, r: &crate::history::RunRecord) -> std::time::Duration {
    if h.should_panic && !r.batched { SHOULD_PANIC_ALONE_AT_MOST } else { BATCH_AT_MOST }
}

/// Below this, a test's CPU-to-wall ratio says more about process start-up than about
/// whether the test waits.
const WAITS_MEASURABLE_FROM: std::time::Duration = std::time::Duration::from_millis(5);

/// A test that printed this much in a run of its own, and always passed, runs under
/// libtest's own capture from then on, even alone. Output that nobody will read
/// costs a system call per write when it is passed through (`--nocapture`):
/// bytes 1.12's `advance_bytes_mut_remaining_capacity` makes 2.8 million
/// `eprintln!` calls, 4.7 s so and 0.6 s in libtest's capture. What that gives up:
/// if such a test hangs and is killed, its output is lost with its process (a
/// failure's output is not: libtest prints it, and the test runs again alone).
pub const LOUD_FROM: u64 = 256 * 1024;

/// Whether a test prints so much that it runs under libtest's capture (see
/// [`LOUD_FROM`]): only under `isolation = "auto"` or `"batch"`, with settings a
/// batch allows, and when every recorded run passed.
pub fn is_loud(settings: &TestSettings, history: Option<&crate::history::TestHistory>) -> bool {
    shareable(settings, history)
        && settings.isolation != Isolation::Process
        && history.is_some_and(|h| h.loud && h.runs.iter().all(|r| r.outcome == "pass"))
}

/// Whether a test's settings and history let it share a process at all: only tests
/// whose passing output nobody wants (libtest keeps a passing test's output to
/// itself), with the plain command line (one slot, no extra arguments), and not one
/// that failed in a batch and passed alone.
fn shareable(settings: &TestSettings, history: Option<&crate::history::TestHistory>) -> bool {
    settings.threads_required == 1
        && settings.success_output == OutputMode::Never
        && !settings.junit_store_success_output
        && settings.run_extra_args.is_empty()
        && !history.is_some_and(|h| h.isolation_sensitive)
}

/// Whether a test may share a process with others, given its settings and history.
///
/// Only tests whose passing output nobody wants can share one (libtest keeps a
/// passing test's output to itself), and only with the plain command line (one slot,
/// no extra arguments). A test that failed in a batch and passed alone is never
/// batched again. Beyond that, `isolation = "batch"` batches every test, and `"auto"`
/// the tests whose every recorded run passed within [`BATCH_AT_MOST`] and that do not
/// mostly wait: a batch runs its tests one after another, so tests that sleep or wait
/// on I/O are better off in processes of their own, overlapping.
pub fn may_batch(settings: &TestSettings, history: Option<&crate::history::TestHistory>) -> bool {
    shareable(settings, history)
        && match settings.isolation {
            Isolation::Process => false,
            Isolation::Batch => true,
            Isolation::Auto => history.is_some_and(|h| {
                !h.runs.is_empty()
                    // A run under load counts at what it would have taken without it.
                    && h.runs.iter().all(|r| r.outcome == "pass" && admission::unloaded(r) <= batch_at_most(h, r))
                    // A process's start-up is most of a test of a few milliseconds,
                    // so only longer tests can show that they wait.
                    && (h.expected().is_some_and(|d| d < WAITS_MEASURABLE_FROM)
                        || h.cpu_appetite().is_none_or(|r| r >= admission::WAITING_BELOW))
            }),
        }
}

/// Test instances without a real binary, for unit tests of the later stages.
#[cfg(test)]
pub mod fake {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::build::PackageInfo;
    use crate::config::Profile;
    use crate::test_id::TargetKind;

    /// A test whose history says it takes `ms` milliseconds and whose last run
    /// failed if `failed_last`.
    pub fn timed(name: &str, ms: u64, failed_last: bool) -> TestRef {
        let mut t = test(name, |_| {});
        let inner = Arc::get_mut(&mut t).expect("just made");
        inner.expected = std::time::Duration::from_millis(ms);
        inner.expected_known = true;
        inner.failed_last = failed_last;
        t
    }

    fn binary() -> Arc<TestBinary> {
        binary_at(PathBuf::from("/nonexistent/pkg/target/debug/deps/pkg-0000"), PathBuf::from("/nonexistent/pkg"))
    }

    /// A fake binary `pkg` that is really the program at `path`, run in `package_dir`.
    pub fn binary_at(path: PathBuf, package_dir: PathBuf) -> Arc<TestBinary> {
        let package = Arc::new(PackageInfo {
            name: "pkg".into(),
            version: "0.1.0".parse().unwrap(),
            manifest_path: package_dir.join("Cargo.toml"),
            authors: vec![],
            description: None,
            homepage: None,
            repository: None,
            license: None,
            license_file: None,
            rust_version: None,
            readme: None,
            bin_targets: vec![],
            has_build_script: false,
            has_doctests: false,
        });
        Arc::new(TestBinary {
            id: BinaryId::new("pkg", TargetKind::Lib, "pkg"),
            path,
            kind: TargetKind::Lib,
            filter_kind: "lib",
            target_name: "pkg".into(),
            package,
            build_script: None,
            doc: None,
        })
    }

    /// A test named `name` in a fake binary `pkg`, with the given settings adjusted.
    pub fn test(name: &str, adjust: impl FnOnce(&mut TestSettings)) -> TestRef {
        // One binary and environment for every fake test, as tests of one binary share them.
        static SHARED: std::sync::OnceLock<(Arc<TestBinary>, Arc<crate::env::BinaryEnv>)> = std::sync::OnceLock::new();
        let (binary, env) = SHARED.get_or_init(|| (binary(), Arc::default())).clone();
        let mut settings = TestSettings::from_profile(&Profile::builtin("default"));
        adjust(&mut settings);
        Arc::new(TestInstance {
            binary,
            env,
            name: name.into(),
            ignored: false,
            settings,
            expected: std::time::Duration::ZERO,
            expected_known: false,
            failed_last: false,
            batchable: false,
            loud: false,
            admission: admission::Admission::UNKNOWN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{RunRecord, TestHistory};

    fn history(runs: &[(u64, u64, &str)]) -> TestHistory {
        TestHistory {
            package: "pkg".into(),
            runs: runs
                .iter()
                .map(|(us, cpu_us, outcome)| RunRecord {
                    at: 0,
                    duration_us: *us,
                    cpu_us: *cpu_us,
                    outcome: (*outcome).into(),
                    attempts: 1,
                    batched: false,
                    pressure: None,
                    output_bytes: None,
                    run: None,
                })
                .collect(),
            isolation_sensitive: false,
            collapses: false,
            loud: false,
            should_panic: false,
        }
    }

    #[test]
    fn auto_batches_short_busy_passing_tests_only() {
        let auto = TestSettings::from_profile(&Profile::builtin("default"));
        assert_eq!(auto.isolation, Isolation::Auto);
        let batch = |h: &TestHistory| may_batch(&auto, Some(h));
        assert!(batch(&history(&[(50, 40, "pass"), (2_000, 1_500, "pass")])), "fast and busy");
        assert!(batch(&history(&[(3_000, 100, "pass")])), "too short to tell whether it waits");
        assert!(!batch(&history(&[(15_000, 500, "pass")])), "it sleeps: better overlapped alone");
        assert!(batch(&history(&[(80_000, 79_000, "pass")])), "busy for 80 ms (a backtrace symbolised alone)");
        assert!(!batch(&history(&[(150_000, 150_000, "pass")])), "too long to be worth a batch");
        assert!(!batch(&history(&[(50, 40, "pass"), (50, 40, "fail")])), "it failed once");
        assert!(!may_batch(&auto, None), "no history: nextest's behaviour first");
        // Issue 14: a test that printed a lot alone, and always passed, runs under
        // libtest's capture from then on, even alone; not when it failed once, nor
        // under `isolation = "process"` or with its passing output wanted.
        let mut loud = history(&[(4_700_000, 4_000_000, "pass")]);
        assert!(!is_loud(&auto, Some(&loud)) && !batch(&loud), "4.7 s: too long to batch");
        loud.loud = true;
        assert!(is_loud(&auto, Some(&loud)));
        let mut quiet_settings = auto.clone();
        quiet_settings.isolation = Isolation::Process;
        assert!(!is_loud(&quiet_settings, Some(&loud)));
        let mut wanted = auto.clone();
        wanted.success_output = OutputMode::Immediate;
        assert!(!is_loud(&wanted, Some(&loud)));
        loud.runs.push_back(RunRecord { outcome: "fail".into(), ..loud.runs[0].clone() });
        assert!(!is_loud(&auto, Some(&loud)), "it failed once: its output may be needed");
        // Issue 14: a should_panic test alone symbolises a backtrace a batch pays once.
        let mut panics = history(&[(240_000, 70_000, "pass")]);
        assert!(!batch(&panics), "240 ms alone, as any test");
        panics.should_panic = true;
        assert!(batch(&panics), "240 ms alone, as a should_panic test");
        panics.runs[0].duration_us = 600_000;
        assert!(!batch(&panics), "600 ms is more than a backtrace");
        panics.runs[0] = RunRecord { duration_us: 240_000, batched: true, ..panics.runs[0].clone() };
        assert!(!batch(&panics), "in a batch it had no backtrace to excuse it");
        let mut sensitive = history(&[(50, 40, "pass")]);
        sensitive.isolation_sensitive = true;
        assert!(!batch(&sensitive));

        let mut forced = auto.clone();
        forced.isolation = Isolation::Batch;
        assert!(may_batch(&forced, None) && may_batch(&forced, Some(&history(&[(50_000, 0, "fail")]))));
        assert!(!may_batch(&forced, Some(&sensitive)), "isolation-sensitive beats batch");
        let mut process = auto.clone();
        process.isolation = Isolation::Process;
        assert!(!may_batch(&process, Some(&history(&[(50, 40, "pass")]))));
        let mut chatty = auto;
        chatty.success_output = OutputMode::Immediate;
        assert!(!may_batch(&chatty, Some(&history(&[(50, 40, "pass")]))), "its passing output is wanted");
    }
}
