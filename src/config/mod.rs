//! Reads the project's test configuration, so that a team moving from cargo-nextest
//! keeps its profiles, retries and timeouts without changing a line.
//!
//! `.config/tempo.toml` is read if it exists, else `.config/nextest.toml`; both use
//! nextest's schema. Every profile inherits from `default`, which inherits from the
//! built-in defaults (nextest's own). Errors point at the file, line and column.

mod budget;
mod error;
mod overrides;
mod platform;
mod raw;

use std::path::{Path, PathBuf};

pub use budget::{Budget, Enforce};
pub use error::ConfigError;
pub use overrides::{GroupChoice, Override};
pub use platform::{PlatformSpec, host_triple};
pub use raw::{
    Backoff, FailFast, FinalStatusLevel, FlakyResult, Isolation, LeakTimeout, OnTimeout, OutputMode, RetryPolicy,
    SlowTimeout, StatusLevel, TestThreads, ThreadsRequired,
};
use raw::{RawConfig, RawProfile};

/// The config file that was read, kept for error messages.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// The settings of one profile after inheritance: every field has a value.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// How many tests run at once.
    pub test_threads: TestThreads,
    /// Slots each test takes.
    pub threads_required: ThreadsRequired,
    /// How failed tests are retried.
    pub retries: RetryPolicy,
    /// Whether a flaky test counts as passed or failed.
    pub flaky_result: FlakyResult,
    /// When a test is reported slow, and ended.
    pub slow_timeout: SlowTimeout,
    /// How long a test's output may stay open after it exits, and what a leak means.
    pub leak_timeout: LeakTimeout,
    /// When the run stops after failures.
    pub fail_fast: FailFast,
    /// Which statuses are printed during the run.
    pub status_level: StatusLevel,
    /// Which statuses are printed again at the end.
    pub final_status_level: FinalStatusLevel,
    /// When a failing test's output is shown.
    pub failure_output: OutputMode,
    /// When a passing test's output is shown.
    pub success_output: OutputMode,
    /// The filter that applies when none is given.
    pub default_filter: Option<String>,
    /// Extra arguments for every test binary.
    pub run_extra_args: Vec<String>,
    /// Where state (history, JUnit, reports) is stored, relative to the workspace root.
    pub store_dir: PathBuf,
    /// JUnit settings.
    pub junit: Junit,
    /// The test groups (`[test-groups.NAME]`) and their `max-threads`.
    pub test_groups: std::collections::BTreeMap<String, TestThreads>,
    /// Overrides in precedence order: this profile's, its parents', then `default`'s.
    pub overrides: Vec<Override>,
    /// tempo's own `capture-limit`: the most bytes of each output stream kept per test.
    pub capture_limit: u64,
    /// tempo's own `budget`: performance targets checked after the run.
    pub budget: Budget,
    /// tempo's own `isolation`: whether fast tests may run batched.
    pub isolation: Isolation,
    /// tempo's own `doctests`: run the doctests in the same run (as `--doc` does).
    pub doctests: bool,
    /// tempo's own `max-test-threads`: the cap under adaptive concurrency; `None` is
    /// four times the core count.
    pub max_test_threads: Option<TestThreads>,
}

/// JUnit output settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Junit {
    /// Path under the profile's store directory; no JUnit file when unset.
    pub path: Option<PathBuf>,
    /// The report's name.
    pub report_name: String,
    /// Keep passing tests' output.
    pub store_success_output: bool,
    /// Keep failing tests' output.
    pub store_failure_output: bool,
}

impl Profile {
    /// nextest's built-in defaults, with tempo's own store directory.
    pub fn builtin(name: &str) -> Profile {
        Profile {
            name: name.to_owned(),
            // nextest's default is num-cpus; tempo's is adaptive (see docs/design.md).
            test_threads: TestThreads::Adaptive,
            threads_required: ThreadsRequired::Count(1),
            retries: RetryPolicy::default(),
            flaky_result: FlakyResult::Pass,
            slow_timeout: SlowTimeout::default(),
            leak_timeout: LeakTimeout::default(),
            fail_fast: FailFast { max_fail: Some(1), terminate_immediately: false },
            status_level: StatusLevel::Pass,
            final_status_level: FinalStatusLevel::Flaky,
            failure_output: OutputMode::Immediate,
            success_output: OutputMode::Never,
            default_filter: None,
            run_extra_args: Vec::new(),
            store_dir: PathBuf::from("target/tempo"),
            junit: Junit {
                path: None,
                report_name: "tempo-run".into(),
                store_success_output: false,
                store_failure_output: true,
            },
            test_groups: Default::default(),
            overrides: Vec::new(),
            capture_limit: 4 * 1024 * 1024,
            budget: Budget::default(),
            isolation: Isolation::Auto,
            doctests: false,
            max_test_threads: None,
        }
    }

    fn apply(&mut self, raw: &RawProfile) {
        if let Some(v) = &raw.test_threads {
            self.test_threads = *v.get_ref();
        }
        if let Some(v) = raw.threads_required {
            self.threads_required = v;
        }
        if let Some(v) = &raw.retries {
            self.retries = v.clone();
        }
        if let Some(v) = raw.flaky_result {
            self.flaky_result = v;
        }
        if let Some(v) = &raw.slow_timeout {
            self.slow_timeout = v.clone();
        }
        if let Some(v) = raw.leak_timeout {
            self.leak_timeout = v;
        }
        if let Some(v) = raw.fail_fast {
            self.fail_fast = v;
        }
        if let Some(v) = raw.status_level {
            self.status_level = v;
        }
        if let Some(v) = raw.final_status_level {
            self.final_status_level = v;
        }
        if let Some(v) = raw.failure_output {
            self.failure_output = v;
        }
        if let Some(v) = raw.success_output {
            self.success_output = v;
        }
        if let Some(v) = &raw.default_filter {
            self.default_filter = Some(v.get_ref().clone());
        }
        if let Some(v) = raw.capture_limit {
            self.capture_limit = v.0;
        }
        if let Some(b) = &raw.budget {
            self.budget.apply(b);
        }
        if let Some(v) = raw.isolation {
            self.isolation = v;
        }
        if let Some(v) = raw.doctests {
            self.doctests = v;
        }
        if let Some(v) = &raw.max_test_threads {
            self.max_test_threads = Some(*v.get_ref());
        }
        if let Some(v) = &raw.run_extra_args {
            self.run_extra_args = v.clone();
        }
        if let Some(j) = &raw.junit {
            if let Some(p) = &j.path {
                self.junit.path = Some(p.clone());
            }
            if let Some(n) = &j.report_name {
                self.junit.report_name = n.clone();
            }
            if let Some(b) = j.store_success_output {
                self.junit.store_success_output = b;
            }
            if let Some(b) = j.store_failure_output {
                self.junit.store_failure_output = b;
            }
        }
    }
}

/// A parsed config file (or none) from which profiles are resolved.
#[derive(Debug, Default)]
pub struct Config {
    source: Option<ConfigSource>,
    raw: RawConfig,
}

impl Config {
    /// Finds and parses the config: `explicit` if given, else `.config/tempo.toml`, else
    /// `.config/nextest.toml` under the workspace root, else nothing (built-in defaults).
    pub fn load(workspace_root: &Path, explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => [".config/tempo.toml", ".config/nextest.toml"]
                .into_iter()
                .map(|p| workspace_root.join(p))
                .find(|p| p.is_file()),
        };
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read { path: path.clone(), source: e })?;
        Config::parse(ConfigSource { path, text })
    }

    /// Parses a config file's text.
    pub fn parse(source: ConfigSource) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(&source.text).map_err(|e| ConfigError::from_toml(&source, &e))?;
        let config = Config { source: Some(source), raw };
        config.validate()?;
        Ok(config)
    }

    /// The file that was read, if any.
    pub fn source(&self) -> Option<&ConfigSource> {
        self.source.as_ref()
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for profile in self.raw.profile.values() {
            if let Some(parent) = &profile.inherits
                && !self.raw.profile.contains_key(parent.get_ref())
                && parent.get_ref() != "default"
            {
                return Err(self.spanned_error(
                    parent.span(),
                    format!("unknown profile `{}` in `inherits`", parent.get_ref()),
                    self.profile_choices(),
                ));
            }
        }
        Ok(())
    }

    fn profile_choices(&self) -> String {
        let mut names: Vec<&str> = self.raw.profile.keys().map(String::as_str).collect();
        if !names.contains(&"default") {
            names.insert(0, "default");
        }
        format!("expected one of: {}", names.join(", "))
    }

    fn spanned_error(&self, span: std::ops::Range<usize>, message: String, help: String) -> ConfigError {
        match &self.source {
            Some(source) => ConfigError::at(source, span, message, help),
            None => ConfigError::Invalid { message, help },
        }
    }

    /// Resolves `name` through its `inherits` chain down to `default` and the built-ins.
    pub fn profile(&self, name: &str) -> Result<Profile, ConfigError> {
        if name != "default" && !self.raw.profile.contains_key(name) {
            return Err(ConfigError::UnknownProfile {
                name: name.to_owned(),
                file: self.source.as_ref().map(|s| s.path.clone()),
                choices: self.profile_choices(),
            });
        }
        // The chain from `name` back to (excluding) `default`.
        let mut chain: Vec<&str> = Vec::new();
        let mut current = name;
        while current != "default" {
            if chain.contains(&current) {
                let span = self.raw.profile[current].inherits.as_ref().map_or(0..0, |s| s.span());
                return Err(self.spanned_error(
                    span,
                    format!("profile `{current}` inherits from itself"),
                    "remove the cycle in `inherits`".into(),
                ));
            }
            chain.push(current);
            current = self
                .raw
                .profile
                .get(current)
                .and_then(|p| p.inherits.as_ref())
                .map_or("default", |s| s.get_ref().as_str());
        }
        let mut profile = Profile::builtin(name);
        if let Some(dir) = self.raw.store.as_ref().and_then(|s| s.dir.clone()) {
            profile.store_dir = dir;
        }
        profile.test_groups = self.raw.test_groups.iter().map(|(k, g)| (k.clone(), g.max_threads)).collect();
        if let Some(default) = self.raw.profile.get("default") {
            profile.apply(default);
        }
        for p in chain.iter().rev() {
            profile.apply(&self.raw.profile[*p]);
        }
        let groups: Vec<String> = self.raw.test_groups.keys().cloned().collect();
        for name in chain.iter().copied().chain(std::iter::once("default")) {
            let Some(raw) = self.raw.profile.get(name) else { continue };
            for (i, o) in raw.overrides.iter().enumerate() {
                let source = format!("profile.{name}.overrides[{i}]");
                profile.overrides.push(Override::from_raw(o, source, self.source.as_ref(), &groups)?);
            }
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod range_tests;
/// Which config file and profile to use.
#[derive(Debug, Clone, Default)]
pub struct ConfigOptions {
    /// The profile: the command line, else `TEMPO_PROFILE`, else `NEXTEST_PROFILE`, else `default`.
    pub profile: String,
    /// An explicit config file.
    pub config_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests;
