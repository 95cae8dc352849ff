//! `--message-format json`: the run as a stream of JSON objects, one per line, for
//! programs to read while the run goes on.
//!
//! The schema is a promise to those programs, so it is spelled out here in structs of
//! its own instead of deriving `Serialize` on the runner's types: a field renamed
//! inside tempo must not silently change what a CI script reads. Every line carries
//! `"version": 1`; a change that removes or changes the meaning of a field bumps it,
//! while new fields and new event types may appear within a version.
//! `docs/reference/events.md` documents every event and field.

use std::io::{self, Write};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::events::Reporter;
use crate::events::{BatchFailure, CancelReason, CapturedOutput, Event, ExitStatus, Outcome, RunStats, TestFinished};
use crate::plan::TestInstance;

/// The schema version every line carries.
pub const SCHEMA_VERSION: u32 = 1;

/// What every line has, followed by the event's own fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    version: u32,
    /// Wall-clock time the event was written, RFC 3339 in UTC with milliseconds.
    timestamp: String,
    /// Seconds since the run started, by the monotonic clock that `start_s` uses too.
    elapsed_s: f64,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct RunStarted<'a> {
    run_id: &'a str,
    profile: &'a str,
    test_count: usize,
    skipped: usize,
    binary_count: usize,
    slots: usize,
    cores: usize,
    pipelined: bool,
}

#[derive(Serialize)]
struct TestsAdded {
    tests: usize,
    binaries: usize,
    skipped: usize,
    total_tests: usize,
}

/// Names a test the same way in every event.
#[derive(Serialize)]
struct TestId<'a> {
    binary_id: &'a str,
    name: &'a str,
}

impl<'a> TestId<'a> {
    fn of(test: &'a TestInstance) -> TestId<'a> {
        TestId { binary_id: test.binary_id().as_str(), name: &test.name }
    }
}

#[derive(Serialize)]
struct TestStarted<'a> {
    #[serde(flatten)]
    test: TestId<'a>,
    attempt: u32,
    slot: usize,
    start_s: f64,
}

#[derive(Serialize)]
struct TestSlow<'a> {
    #[serde(flatten)]
    test: TestId<'a>,
    attempt: u32,
    slot: usize,
    running_s: f64,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Exit {
    Code { code: i32 },
    Signal { signal: i32, core_dumped: bool },
}

impl From<ExitStatus> for Exit {
    fn from(e: ExitStatus) -> Exit {
        match e {
            ExitStatus::Code(code) => Exit::Code { code },
            ExitStatus::Signal { signal, core_dumped } => Exit::Signal { signal, core_dumped },
        }
    }
}

#[derive(Serialize)]
struct Output {
    stdout: String,
    stderr: String,
    stdout_dropped_bytes: u64,
    stderr_dropped_bytes: u64,
    /// Why it could not be started, for `exec-fail`.
    error: Option<String>,
}

fn text(o: &CapturedOutput) -> String {
    String::from_utf8_lossy(&o.bytes).into_owned()
}

#[derive(Serialize)]
struct TestFinishedLine<'a> {
    #[serde(flatten)]
    test: TestId<'a>,
    outcome: &'static str,
    attempt: u32,
    max_attempts: u32,
    will_retry: bool,
    flaky: bool,
    slot: usize,
    start_s: f64,
    duration_s: f64,
    user_s: f64,
    sys_s: f64,
    cpu_s: f64,
    max_rss_bytes: u64,
    exit: Option<Exit>,
    leaked: bool,
    batched: bool,
    rerun_reason: Option<&'static str>,
    pressure: Option<f64>,
    output: Option<Output>,
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail(_) => "fail",
        Outcome::Timeout => "timeout",
        Outcome::LeakFail => "leak-fail",
        Outcome::ExecFail => "exec-fail",
    }
}

fn rerun_name(why: BatchFailure) -> &'static str {
    match why {
        BatchFailure::Failed => "failed-in-batch",
        BatchFailure::Crashed(_) => "crashed-batch",
        BatchFailure::Stalled(_) => "stalled-batch",
        BatchFailure::Unreadable => "unreadable-in-batch",
    }
}

impl<'a> TestFinishedLine<'a> {
    fn of(f: &'a TestFinished) -> TestFinishedLine<'a> {
        let r = &f.result;
        let failed = !r.outcome.is_success();
        TestFinishedLine {
            test: TestId::of(&f.test),
            outcome: outcome_name(r.outcome),
            attempt: f.attempt,
            max_attempts: f.max_attempts,
            will_retry: f.will_retry,
            flaky: r.outcome.is_success() && f.attempt > 1,
            slot: f.slot,
            start_s: r.start.as_secs_f64(),
            duration_s: r.duration.as_secs_f64(),
            user_s: r.usage.user.as_secs_f64(),
            sys_s: r.usage.system.as_secs_f64(),
            cpu_s: r.usage.cpu().as_secs_f64(),
            max_rss_bytes: r.usage.max_rss,
            exit: r.exit.map(Exit::from),
            leaked: r.leaked,
            batched: r.batched,
            rerun_reason: r.rerun.map(rerun_name),
            pressure: r.pressure,
            output: failed.then(|| Output {
                stdout: text(&r.stdout),
                stderr: text(&r.stderr),
                stdout_dropped_bytes: r.stdout.dropped,
                stderr_dropped_bytes: r.stderr.dropped,
                error: r.error.clone(),
            }),
        }
    }
}

#[derive(Serialize)]
struct TestRetry<'a> {
    #[serde(flatten)]
    test: TestId<'a>,
    failed_attempt: u32,
    next_attempt: u32,
    max_attempts: u32,
}

#[derive(Serialize)]
struct RetryAbandoned<'a> {
    #[serde(flatten)]
    test: TestId<'a>,
    attempt: u32,
    outcome: &'static str,
}

#[derive(Serialize)]
struct RunCancelling {
    reason: &'static str,
    signal: Option<i32>,
    running: usize,
}

#[derive(Serialize)]
struct RunFinished {
    planned: usize,
    finished: usize,
    passed: usize,
    flaky: usize,
    failed: usize,
    timed_out: usize,
    exec_failed: usize,
    skipped: usize,
    not_run: usize,
    wall_s: f64,
    test_time_s: f64,
    cpu_s: f64,
    cores: usize,
    slots: usize,
    cpu_utilization: f64,
    busy_cores: f64,
    lower_bound_s: f64,
    efficiency: f64,
    longest_s: f64,
    slot_idle_s: Vec<f64>,
    signal: Option<i32>,
}

impl RunFinished {
    fn of(s: &RunStats) -> RunFinished {
        let a = s.accounting();
        RunFinished {
            planned: s.planned,
            finished: s.finished,
            passed: s.passed,
            flaky: s.flaky,
            failed: s.failed,
            timed_out: s.timed_out,
            exec_failed: s.exec_failed,
            skipped: s.skipped,
            not_run: s.not_run,
            wall_s: a.wall_s,
            test_time_s: s.test_time.as_secs_f64(),
            cpu_s: a.cpu_s,
            cores: a.cores,
            slots: a.slots,
            cpu_utilization: a.cpu_utilization,
            busy_cores: a.busy_cores,
            lower_bound_s: s.lower_bound().as_secs_f64(),
            efficiency: s.efficiency(),
            longest_s: s.longest.as_secs_f64(),
            slot_idle_s: a.slot_idle_s,
            signal: s.signal,
        }
    }
}

/// Writes one JSON object per line for each event. Each line is flushed as it is
/// written, so a reader sees an event as soon as it happens.
pub struct JsonReporter<W: Write> {
    out: W,
    started: Option<Instant>,
    total_tests: usize,
}

impl<W: Write> JsonReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W) -> Self {
        JsonReporter { out, started: None, total_tests: 0 }
    }

    fn line<T: Serialize>(&mut self, kind: &str, body: T) -> io::Result<()> {
        let elapsed = self.started.map_or(Duration::ZERO, |s| s.elapsed());
        let timestamp = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = Line { kind, version: SCHEMA_VERSION, timestamp, elapsed_s: elapsed.as_secs_f64(), body };
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted(info) => {
                self.started = Some(info.clock);
                self.total_tests = info.test_count;
                self.line(
                    "run-started",
                    RunStarted {
                        run_id: &info.run_id,
                        profile: &info.profile,
                        test_count: info.test_count,
                        skipped: info.skipped,
                        binary_count: info.binary_count,
                        slots: info.slots,
                        cores: info.cores,
                        pipelined: info.pipelined,
                    },
                )
            }
            Event::TestsAdded { tests, binaries, skipped_tests, .. } => {
                self.total_tests += tests;
                let body = TestsAdded {
                    tests: *tests,
                    binaries: *binaries,
                    skipped: skipped_tests.len(),
                    total_tests: self.total_tests,
                };
                self.line("tests-added", body)
            }
            Event::TestStarted { test, slot, attempt, at } => self.line(
                "test-started",
                TestStarted { test: TestId::of(test), attempt: *attempt, slot: *slot, start_s: at.as_secs_f64() },
            ),
            Event::TestSlow { test, slot, attempt, elapsed } => self.line(
                "test-slow",
                TestSlow { test: TestId::of(test), attempt: *attempt, slot: *slot, running_s: elapsed.as_secs_f64() },
            ),
            Event::TestFinished(f) => {
                self.line("test-finished", TestFinishedLine::of(f))?;
                if f.will_retry {
                    let retry = TestRetry {
                        test: TestId::of(&f.test),
                        failed_attempt: f.attempt,
                        next_attempt: f.attempt + 1,
                        max_attempts: f.max_attempts,
                    };
                    self.line("test-retry", retry)?;
                }
                Ok(())
            }
            Event::RetryAbandoned(f) => self.line(
                "test-retry-abandoned",
                RetryAbandoned {
                    test: TestId::of(&f.test),
                    attempt: f.attempt,
                    outcome: outcome_name(f.result.outcome),
                },
            ),
            Event::RunCancelling { reason, running } => {
                let (reason, signal) = match reason {
                    CancelReason::TestFailure => ("test-failure", None),
                    CancelReason::BuildFailed => ("build-failed", None),
                    CancelReason::Signal(sig) => ("signal", Some(*sig)),
                    CancelReason::InternalError => ("internal-error", None),
                };
                self.line("run-cancelling", RunCancelling { reason, signal, running: *running })
            }
            // A person asked; the answer goes to the human output, on stderr.
            Event::InfoRequested { .. } => Ok(()),
            Event::RunFinished(stats) => self.line("run-finished", RunFinished::of(stats)),
        }
    }
}
