//! The config file's schema, as serde reads it: nextest's keys and value shapes.
//!
//! Values that nextest accepts in several shapes (a number or a table, a duration or
//! a table) get hand-written visitors, so that a wrong value is reported with a
//! message that names the accepted shapes rather than serde's "no variant matched".

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::value::MapAccessDeserializer};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawConfig {
    #[serde(default)]
    pub profile: BTreeMap<String, RawProfile>,
    #[serde(default)]
    pub test_groups: BTreeMap<String, RawTestGroup>,
    pub store: Option<RawStore>,
    /// nextest's version requirements: accepted and not enforced.
    #[expect(dead_code, reason = "accepted for nextest compatibility, not used")]
    pub nextest_version: Option<toml::Value>,
    /// nextest's experimental feature list: accepted and not enforced.
    #[expect(dead_code, reason = "accepted for nextest compatibility, not used")]
    pub experimental: Option<toml::Value>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawStore {
    pub dir: Option<PathBuf>,
}

/// `[test-groups.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawTestGroup {
    pub max_threads: TestThreads,
}

/// `[profile.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawProfile {
    pub inherits: Option<Spanned<String>>,
    pub test_threads: Option<Spanned<TestThreads>>,
    pub threads_required: Option<ThreadsRequired>,
    pub retries: Option<RetryPolicy>,
    pub flaky_result: Option<FlakyResult>,
    pub slow_timeout: Option<SlowTimeout>,
    pub leak_timeout: Option<LeakTimeout>,
    pub fail_fast: Option<FailFast>,
    pub status_level: Option<StatusLevel>,
    pub final_status_level: Option<FinalStatusLevel>,
    pub failure_output: Option<OutputMode>,
    pub success_output: Option<OutputMode>,
    pub default_filter: Option<Spanned<String>>,
    pub run_extra_args: Option<Vec<String>>,
    pub junit: Option<RawJunit>,
    /// tempo's own key: the most bytes of each output stream kept per test.
    pub capture_limit: Option<ByteSize>,
    /// tempo's own key: performance targets the run must meet.
    pub budget: Option<super::budget::RawBudget>,
    /// tempo's own key: whether fast tests may share a process.
    pub isolation: Option<Isolation>,
    /// tempo's own key: run the doctests too.
    pub doctests: Option<bool>,
    /// tempo's own key: the most tests at once under `test-threads = "adaptive"`.
    pub max_test_threads: Option<Spanned<TestThreads>>,
    #[serde(default)]
    pub overrides: Vec<RawOverride>,
}

/// A size in bytes: an integer, or a string such as `"4MiB"`, `"512KiB"` or `"1GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("invalid size `{s}`; expected a size such as \"4MiB\" or \"512KiB\""))?;
        let mult: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1024,
            "MB" => 1000 * 1000,
            "MiB" => 1024 * 1024,
            "GB" => 1000 * 1000 * 1000,
            "GiB" => 1024 * 1024 * 1024,
            other => {
                return Err(format!("invalid size unit `{other}` in `{s}`; expected B, KB, KiB, MB, MiB, GB or GiB"));
            }
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(|| format!("size `{s}` is too large"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes or a size such as \"4MiB\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ByteSize, E> {
                u64::try_from(n).map(ByteSize).map_err(|_| E::custom("a size must not be negative"))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ByteSize, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// `[[profile.NAME.overrides]]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawOverride {
    pub filter: Option<Spanned<String>>,
    pub platform: Option<Spanned<RawPlatform>>,
    pub priority: Option<Spanned<i32>>,
    pub retries: Option<RetryPolicy>,
    pub slow_timeout: Option<SlowTimeout>,
    pub leak_timeout: Option<LeakTimeout>,
    pub threads_required: Option<ThreadsRequired>,
    pub test_group: Option<Spanned<String>>,
    pub success_output: Option<OutputMode>,
    pub failure_output: Option<OutputMode>,
    pub junit: Option<RawOverrideJunit>,
    /// tempo's own key: the per-test `slow` budget.
    pub budget: Option<super::budget::RawOverrideBudget>,
    /// tempo's own key: whether the selected tests may share a process.
    pub isolation: Option<Isolation>,
}

/// An override's `platform`: one spec for the target, or `{ host, target }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawPlatform {
    Target(String),
    Both { host: Option<String>, target: Option<String> },
}

/// An override's `junit` table.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawOverrideJunit {
    pub store_success_output: Option<bool>,
    pub store_failure_output: Option<bool>,
}

/// `threads-required`: a count, `"num-cpus"` or `"num-test-threads"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadsRequired {
    /// This many slots.
    Count(usize),
    /// As many slots as there are cores.
    NumCpus,
    /// Every slot: the test runs alone.
    NumTestThreads,
}

impl ThreadsRequired {
    /// The number of slots, given the core count and the number of slots in the run.
    pub fn resolve(self, cores: usize, test_threads: usize) -> usize {
        match self {
            ThreadsRequired::Count(n) => n.clamp(1, crate::limits::MAX_TEST_THREADS),
            ThreadsRequired::NumCpus => cores.max(1),
            ThreadsRequired::NumTestThreads => test_threads.max(1),
        }
    }
}

impl<'de> Deserialize<'de> for ThreadsRequired {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ThreadsRequired;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive integer, \"num-cpus\" or \"num-test-threads\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<ThreadsRequired, E> {
                crate::limits::check_threads("threads-required", n)
                    .map(ThreadsRequired::Count)
                    .map_err(|e| E::custom(format!("{e}, \"num-cpus\" or \"num-test-threads\"")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ThreadsRequired, E> {
                match s {
                    "num-cpus" => Ok(ThreadsRequired::NumCpus),
                    "num-test-threads" => Ok(ThreadsRequired::NumTestThreads),
                    other => Err(E::custom(format!(
                        "invalid threads-required `{other}`; expected a positive integer, \"num-cpus\" or \"num-test-threads\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[profile.NAME.junit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(super) struct RawJunit {
    pub path: Option<PathBuf>,
    pub report_name: Option<String>,
    pub store_success_output: Option<bool>,
    pub store_failure_output: Option<bool>,
}

/// Parses a duration such as `"1s"`, `"500ms"` or `"1m 30s"`, at most
/// [`MAX_DURATION`](crate::limits::MAX_DURATION) (humantime reports a value too large
/// for a `Duration` as a number overflow, which is out of range too).
fn parse_duration<E: de::Error>(s: &str) -> Result<Duration, E> {
    parse_duration_at_least(s, Duration::ZERO)
}

/// [`parse_duration`], with `min` as the shortest value accepted.
fn parse_duration_at_least<E: de::Error>(s: &str, min: Duration) -> Result<Duration, E> {
    let value = humantime::parse_duration(s).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => E::custom(format!(
            "duration `{s}` is out of range; expected a duration from {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(crate::limits::MAX_DURATION)
        )),
        e => {
            E::custom(format!("invalid duration `{s}` ({e}); expected a duration such as \"500ms\", \"1s\" or \"2m\""))
        }
    })?;
    crate::limits::check_duration("duration", value, min).map_err(E::custom)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"1s\"")
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
        parse_duration(s)
    }
}

pub(super) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    d.deserialize_str(DurationVisitor)
}

fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// `test-threads`: a count, `"num-cpus"`, a negative offset from the core count, or
/// tempo's `"adaptive"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestThreads {
    /// Exactly this many.
    Count(usize),
    /// The core count plus this (negative) number, at least 1.
    Offset(isize),
    /// The core count.
    NumCpus,
    /// tempo's own: as many tests as the cores can serve, by each test's learned CPU
    /// appetite, up to `max-test-threads`.
    Adaptive,
}

impl TestThreads {
    /// The thread count on a machine with `cores` cores.
    ///
    /// ```
    /// use tempo::config::TestThreads;
    ///
    /// assert_eq!(TestThreads::NumCpus.resolve(8), 8);
    /// assert_eq!(TestThreads::Offset(-2).resolve(8), 6);
    /// assert_eq!(TestThreads::Offset(-9).resolve(8), 1);
    /// ```
    ///
    /// `Adaptive` has no fixed count; where one is needed (a test group's limit,
    /// `threads-required = "num-test-threads"`) it stands for the core count.
    pub fn resolve(self, cores: usize) -> usize {
        match self {
            TestThreads::Count(n) => n.clamp(1, crate::limits::MAX_TEST_THREADS),
            TestThreads::NumCpus | TestThreads::Adaptive => cores.max(1),
            TestThreads::Offset(off) => crate::limits::offset_threads(cores, off),
        }
    }
}

impl<'de> Deserialize<'de> for TestThreads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TestThreads;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive or negative integer, or \"num-cpus\"")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<TestThreads, E> {
                let what = "the thread count";
                match n {
                    0 => Err(E::custom(
                        "the thread count must not be 0; expected a positive or negative integer, or \"num-cpus\"",
                    )),
                    n if n > 0 => crate::limits::check_threads(what, n).map(TestThreads::Count).map_err(E::custom),
                    n => crate::limits::check_offset(what, n).map(TestThreads::Offset).map_err(E::custom),
                }
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TestThreads, E> {
                match s {
                    "num-cpus" => Ok(TestThreads::NumCpus),
                    "adaptive" => Ok(TestThreads::Adaptive),
                    other => Err(E::custom(format!(
                        "invalid thread count `{other}`; expected a positive or negative integer, \"num-cpus\" or \"adaptive\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// How long to wait between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backoff {
    /// The same delay every time.
    #[default]
    Fixed,
    /// The delay doubles each time, up to `max-delay`.
    Exponential,
}

/// `retries`: a count, or `{ backoff, count, delay, jitter, max-delay }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetryPolicy {
    /// Fixed or exponential.
    pub backoff: Backoff,
    /// Retries after the first attempt.
    pub count: u32,
    /// The first delay.
    pub delay: Duration,
    /// Randomize each delay (between half and all of it).
    pub jitter: bool,
    /// The longest delay, for exponential backoff.
    pub max_delay: Option<Duration>,
}

impl RetryPolicy {
    /// A policy of `count` immediate retries.
    pub fn count(count: u32) -> RetryPolicy {
        RetryPolicy { count, ..RetryPolicy::default() }
    }

    /// The delay before attempt `next_attempt` (2 for the first retry), before jitter.
    ///
    /// Never more than [`MAX_DURATION`](crate::limits::MAX_DURATION), however many
    /// times an exponential delay has doubled: the runner adds it to an `Instant`.
    pub fn delay_before(&self, next_attempt: u32) -> Duration {
        let retry = next_attempt.saturating_sub(2);
        let delay = match self.backoff {
            Backoff::Fixed => self.delay,
            Backoff::Exponential => self.delay.saturating_mul(2u32.saturating_pow(retry)),
        };
        let delay = delay.min(crate::limits::MAX_DURATION);
        match self.max_delay {
            Some(max) => delay.min(max),
            None => delay,
        }
    }
}

/// A retry count, from 0 to [`MAX_RETRIES`](crate::limits::MAX_RETRIES).
fn retry_count(n: i64) -> Result<u32, String> {
    crate::limits::check_count("the retry count", n, 0..=crate::limits::MAX_RETRIES)
}

impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RetryPolicy, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RetryPolicy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a retry count, or a table like { backoff = \"fixed\", count = 3, delay = \"1s\" }")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RetryPolicy, E> {
                retry_count(n).map(RetryPolicy::count).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RetryPolicy, A::Error> {
                #[derive(Deserialize)]
                #[serde(
                    tag = "backoff",
                    rename_all = "kebab-case",
                    rename_all_fields = "kebab-case",
                    deny_unknown_fields
                )]
                enum Tagged {
                    Fixed {
                        count: i64,
                        #[serde(default, deserialize_with = "duration")]
                        delay: Duration,
                        #[serde(default)]
                        jitter: bool,
                    },
                    Exponential {
                        count: i64,
                        #[serde(deserialize_with = "duration")]
                        delay: Duration,
                        #[serde(default)]
                        jitter: bool,
                        #[serde(default, deserialize_with = "opt_duration")]
                        max_delay: Option<Duration>,
                    },
                }
                Ok(match Tagged::deserialize(MapAccessDeserializer::new(map))? {
                    Tagged::Fixed { count, delay, jitter } => RetryPolicy {
                        backoff: Backoff::Fixed,
                        count: retry_count(count).map_err(de::Error::custom)?,
                        delay,
                        jitter,
                        max_delay: None,
                    },
                    Tagged::Exponential { count, delay, jitter, max_delay } => RetryPolicy {
                        backoff: Backoff::Exponential,
                        count: retry_count(count).map_err(de::Error::custom)?,
                        delay,
                        jitter,
                        max_delay,
                    },
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `slow-timeout`: a period, or `{ period, terminate-after, grace-period, on-timeout }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowTimeout {
    /// How often a running test is reported slow.
    pub period: Duration,
    /// End the test after this many periods.
    pub terminate_after: Option<u32>,
    /// Between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// Whether a timed-out test counts as failed or passed.
    pub on_timeout: OnTimeout,
}

impl Default for SlowTimeout {
    fn default() -> Self {
        SlowTimeout {
            period: Duration::from_secs(60),
            terminate_after: None,
            grace_period: Duration::from_secs(10),
            on_timeout: OnTimeout::Fail,
        }
    }
}

/// What a timeout means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnTimeout {
    /// A failure.
    #[default]
    Fail,
    /// A pass.
    Pass,
}

impl<'de> Deserialize<'de> for SlowTimeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SlowTimeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"60s\", or a table like { period = \"60s\", terminate-after = 2 }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SlowTimeout, E> {
                Ok(SlowTimeout { period: slow_period(s)?, ..SlowTimeout::default() })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<SlowTimeout, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "kebab-case", deny_unknown_fields)]
                struct Table {
                    #[serde(deserialize_with = "slow_period_de")]
                    period: Duration,
                    terminate_after: Option<i64>,
                    #[serde(default, deserialize_with = "opt_duration")]
                    grace_period: Option<Duration>,
                    #[serde(default)]
                    on_timeout: OnTimeout,
                }
                let t = Table::deserialize(MapAccessDeserializer::new(map))?;
                let terminate_after = t
                    .terminate_after
                    .map(|n| crate::limits::check_count("terminate-after", n, 1..=crate::limits::MAX_TERMINATE_AFTER))
                    .transpose()
                    .map_err(de::Error::custom)?;
                Ok(SlowTimeout {
                    period: t.period,
                    terminate_after,
                    grace_period: t.grace_period.unwrap_or(Duration::from_secs(10)),
                    on_timeout: t.on_timeout,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A `slow-timeout` period: at least [`MIN_SLOW_PERIOD`](crate::limits::MIN_SLOW_PERIOD),
/// since a period of 0 reported every running test as slow in a busy loop.
fn slow_period<E: de::Error>(s: &str) -> Result<Duration, E> {
    parse_duration_at_least(s, crate::limits::MIN_SLOW_PERIOD)
}

fn slow_period_de<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration string such as \"60s\"")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            slow_period(s)
        }
    }
    d.deserialize_str(V)
}

/// `leak-timeout`: a period, or `{ period, result }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakTimeout {
    /// How long output may stay open after the test exited.
    pub period: Duration,
    /// Whether a test that leaks fails (`result = "fail"`) rather than passes.
    pub fails: bool,
}

impl Default for LeakTimeout {
    fn default() -> Self {
        LeakTimeout { period: Duration::from_millis(100), fails: false }
    }
}

impl<'de> Deserialize<'de> for LeakTimeout {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LeakTimeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"100ms\", or a table like { period = \"100ms\", result = \"pass\" }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<LeakTimeout, E> {
                Ok(LeakTimeout { period: parse_duration(s)?, fails: false })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LeakTimeout, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "kebab-case", deny_unknown_fields)]
                struct Table {
                    #[serde(deserialize_with = "duration")]
                    period: Duration,
                    result: Option<FlakyResult>,
                }
                let t = Table::deserialize(MapAccessDeserializer::new(map))?;
                Ok(LeakTimeout { period: t.period, fails: t.result == Some(FlakyResult::Fail) })
            }
        }
        d.deserialize_any(V)
    }
}

/// `fail-fast`: a bool, or `{ max-fail = N | "all", terminate = "wait" | "immediate" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailFast {
    /// Stop after this many failures; `None` never stops.
    pub max_fail: Option<u32>,
    /// Kill running tests instead of letting them finish.
    pub terminate_immediately: bool,
}

impl<'de> Deserialize<'de> for FailFast {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FailFast;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or a table like { max-fail = 3, terminate = \"wait\" }")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<FailFast, E> {
                Ok(FailFast { max_fail: b.then_some(1), terminate_immediately: false })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FailFast, A::Error> {
                #[derive(Deserialize)]
                #[serde(rename_all = "kebab-case")]
                enum Terminate {
                    Wait,
                    Immediate,
                }
                #[derive(Deserialize)]
                #[serde(rename_all = "kebab-case", deny_unknown_fields)]
                struct Table {
                    max_fail: toml::Value,
                    terminate: Option<Terminate>,
                }
                let t = Table::deserialize(MapAccessDeserializer::new(map))?;
                let max_fail = match t.max_fail {
                    toml::Value::String(s) if s == "all" => None,
                    toml::Value::Integer(n) => Some(
                        crate::limits::check_count("max-fail", n, 1..=u32::MAX)
                            .map_err(|e| de::Error::custom(format!("{e}, or \"all\"")))?,
                    ),
                    other => {
                        return Err(de::Error::custom(format!(
                            "invalid max-fail `{other}`; expected a number of failures (1 to {}) or \"all\"",
                            u32::MAX
                        )));
                    }
                };
                Ok(FailFast { max_fail, terminate_immediately: matches!(t.terminate, Some(Terminate::Immediate)) })
            }
        }
        d.deserialize_any(V)
    }
}

/// `flaky-result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlakyResult {
    /// A flaky test counts as passed.
    Pass,
    /// A flaky test counts as failed.
    Fail,
}

/// `status-level`: which statuses are printed as tests finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusLevel {
    /// Nothing.
    None,
    /// Failures.
    Fail,
    /// Retries too.
    Retry,
    /// Slow tests too.
    Slow,
    /// Leaky tests too.
    Leak,
    /// Passes too.
    Pass,
    /// Skipped tests too.
    Skip,
    /// Everything.
    All,
}

/// `final-status-level`: which statuses are repeated in the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalStatusLevel {
    /// Nothing.
    None,
    /// Failures.
    Fail,
    /// Flaky tests too.
    Flaky,
    /// Slow tests too.
    Slow,
    /// Skipped tests too.
    Skip,
    /// Passes too.
    Pass,
    /// Everything.
    All,
}

/// `failure-output` and `success-output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputMode {
    /// As the test finishes.
    Immediate,
    /// As it finishes and again at the end.
    ImmediateFinal,
    /// At the end.
    Final,
    /// Never.
    Never,
}

/// tempo's `isolation`: whether a test runs in a process of its own or may share one
/// with other fast tests of its binary (a batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Always a process of its own, as nextest does.
    Process,
    /// In a batch whenever it can be: even without history.
    Batch,
    /// In a batch when the duration history shows it fast and passing.
    Auto,
}

/// `FromStr` for the kebab-case enums that the command line also takes, listing the
/// valid names on error.
macro_rules! kebab_from_str {
    ($ty:ident { $($name:literal => $variant:ident),* $(,)? }) => {
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    other => Err(format!("invalid value `{other}`; expected one of: {}", [$($name),*].join(", "))),
                }
            }
        }
    };
}

kebab_from_str!(StatusLevel {
    "none" => None, "fail" => Fail, "retry" => Retry, "slow" => Slow, "leak" => Leak, "pass" => Pass, "skip" => Skip, "all" => All,
});
kebab_from_str!(FinalStatusLevel {
    "none" => None, "fail" => Fail, "flaky" => Flaky, "slow" => Slow, "skip" => Skip, "pass" => Pass, "all" => All,
});
kebab_from_str!(Isolation { "process" => Process, "batch" => Batch, "auto" => Auto });
kebab_from_str!(OutputMode {
    "immediate" => Immediate, "immediate-final" => ImmediateFinal, "final" => Final, "never" => Never,
});
