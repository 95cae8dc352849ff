//! Decides which of the discovered tests run, and with what settings.
//!
//! The plan is the list of [`TestInstance`]s handed to the scheduler, plus the count of
//! tests that were left out, which the summary reports as skipped (as nextest does).

use std::sync::Arc;
use std::time::Duration;

use crate::build::TestBinary;
use crate::config::{OutputMode, Profile, RetryPolicy, SlowTimeout};
use crate::discover::ListedBinary;
use crate::env::BinaryEnv;
use crate::options::NameFilter;
use crate::test_id::BinaryId;

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
}

/// The settings that apply to one test: the profile's, as overrides adjust them.
#[derive(Debug, Clone)]
pub struct TestSettings {
    /// How a failure is retried.
    pub retries: RetryPolicy,
    /// When it is reported slow, and ended.
    pub slow_timeout: SlowTimeout,
    /// How long its output may stay open after it exits.
    pub leak_timeout: Duration,
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
}

impl TestSettings {
    /// The profile's settings, before any override.
    pub fn from_profile(profile: &Profile) -> TestSettings {
        TestSettings {
            retries: profile.retries.clone(),
            slow_timeout: profile.slow_timeout.clone(),
            leak_timeout: profile.leak_timeout,
            threads_required: profile.threads_required as usize,
            test_group: None,
            success_output: profile.success_output,
            failure_output: profile.failure_output,
            run_extra_args: profile.run_extra_args.clone().into(),
        }
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
    /// How many binaries have at least one selected test.
    pub binary_count: usize,
}

impl TestPlan {
    /// Selects tests from listed binaries, which may come in any order.
    /// `retries_override` is `--retries`, which beats the profile and its overrides.
    pub fn new(
        mut listed: Vec<ListedBinary>,
        filter: &NameFilter,
        profile: &Profile,
        retries_override: Option<u32>,
    ) -> TestPlan {
        let mut settings = TestSettings::from_profile(profile);
        if let Some(count) = retries_override {
            settings.retries.count = count;
        }
        listed.sort_by(|a, b| a.binary.id.cmp(&b.binary.id));
        let mut plan = TestPlan::default();
        for lb in listed {
            let before = plan.tests.len();
            for case in lb.tests {
                if filter.matches_ignored(case.ignored) && filter.matches_name(&case.name) {
                    plan.tests.push(Arc::new(TestInstance {
                        binary: Arc::clone(&lb.binary),
                        env: Arc::clone(&lb.env),
                        name: case.name,
                        ignored: case.ignored,
                        settings: settings.clone(),
                    }));
                } else {
                    plan.skipped += 1;
                }
            }
            if plan.tests.len() > before {
                plan.binary_count += 1;
            }
        }
        plan
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

    /// A test named `name` in a fake binary `pkg`, with the given settings adjusted.
    pub fn test(name: &str, adjust: impl FnOnce(&mut TestSettings)) -> TestRef {
        let package = Arc::new(PackageInfo {
            name: "pkg".into(),
            version: "0.1.0".parse().unwrap(),
            manifest_path: PathBuf::from("/nonexistent/pkg/Cargo.toml"),
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
        });
        let binary = Arc::new(TestBinary {
            id: BinaryId::new("pkg", TargetKind::Lib, "pkg"),
            path: PathBuf::from("/nonexistent/pkg/target/debug/deps/pkg-0000"),
            kind: TargetKind::Lib,
            target_name: "pkg".into(),
            package,
            build_script: None,
        });
        let mut settings = TestSettings::from_profile(&Profile::builtin("default"));
        adjust(&mut settings);
        Arc::new(TestInstance { binary, env: Arc::default(), name: name.into(), ignored: false, settings })
    }
}
