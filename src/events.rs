//! The contract between the runner and everything that reports on a run.
//!
//! Every reporter (the terminal, JUnit, the history, the timeline, CPU accounting)
//! reads the same events and nothing else, so each carries what all of them need:
//! which test, which attempt, which slot, when it started relative to the run, how
//! long it took, how much CPU it used, and what it printed.

use std::io;
use std::time::{Duration, SystemTime};

use crate::files::WriteError;
use crate::history::Accounting;
use crate::plan::TestRef;

/// Facts fixed at the start of a run.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// A unique id for the run.
    pub run_id: String,
    /// The profile in use.
    pub profile: String,
    /// Wall-clock time the run started.
    pub started_at: SystemTime,
    /// How many tests will run.
    pub test_count: usize,
    /// How many listed tests were left out.
    pub skipped: usize,
    /// The tests left out, as (binary id, test name).
    pub skipped_tests: std::sync::Arc<[(crate::test_id::BinaryId, String)]>,
    /// How many binaries hold the tests that will run.
    pub binary_count: usize,
    /// The number of slots, the most tests that run at once.
    pub slots: usize,
    /// The number of cores available to the run.
    pub cores: usize,
    /// Whether concurrency is adaptive: `slots` is then the most tests at once, and
    /// fewer run while their CPU demand fills the cores.
    pub adaptive: bool,
    /// Whether tests start while the build goes on, so that more are announced by
    /// [`Event::TestsAdded`] and the counts above are only the first ones.
    pub pipelined: bool,
    /// The tests planned so far, in the plan's order. The runner fills this in from
    /// the plan it is given, so whoever builds a `RunInfo` leaves it empty. Reporters
    /// read each test's binary (to know when a binary is done) and its expected
    /// duration (to estimate the time left).
    pub planned: std::sync::Arc<[TestRef]>,
    /// The instant every offset of the run counts from (`TestStarted::at`,
    /// `ExecutionResult::start`). The runner sets it; whoever builds a `RunInfo` may
    /// put `Instant::now()`.
    pub clock: std::time::Instant,
}

/// How one test process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

/// The result of one attempt of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with code 0.
    Pass,
    /// It exited with another code or was killed by a signal of its own making.
    Fail(ExitStatus),
    /// tempo ended it for running too long.
    Timeout,
    /// It passed, but left processes holding its output open past the leak timeout,
    /// and the profile says a leak fails (`leak-timeout.result = "fail"`).
    LeakFail,
    /// It could not be started at all.
    ExecFail,
}

impl Outcome {
    /// Whether the attempt counts as a success.
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

/// What a test process printed on one stream, possibly shortened.
#[derive(Debug, Clone, Default)]
pub struct CapturedOutput {
    /// The bytes kept: the whole output, or its head and tail joined by a marker.
    pub bytes: Vec<u8>,
    /// How many bytes were dropped from the middle to stay within the cap.
    pub dropped: u64,
}

impl CapturedOutput {
    /// Whether nothing was printed.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.dropped == 0
    }
}

/// CPU and memory a test process used, read from `wait4`'s rusage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Peak resident set size, in bytes.
    pub max_rss: u64,
}

impl ResourceUsage {
    /// User plus system time.
    pub fn cpu(&self) -> Duration {
        self.user + self.system
    }
}

/// Everything known about one finished attempt.
#[derive(Debug, Clone)]
pub struct ExecutionResult {
    /// How it ended.
    pub outcome: Outcome,
    /// The process's exit status, when it ran.
    pub exit: Option<ExitStatus>,
    /// When it started, measured from the start of the run.
    pub start: Duration,
    /// How long it ran.
    pub duration: Duration,
    /// CPU and memory it used.
    pub usage: ResourceUsage,
    /// Its standard output.
    pub stdout: CapturedOutput,
    /// Its standard error.
    pub stderr: CapturedOutput,
    /// Why it could not be started, for [`Outcome::ExecFail`].
    pub error: Option<String>,
    /// Whether something it started still held its output open after the leak timeout.
    pub leaked: bool,
    /// Whether it ran in a batch, sharing a process with other tests.
    pub batched: bool,
    /// Why it ran alone after running in a batch, if it did.
    pub rerun: Option<BatchFailure>,
    /// The CPU pressure it ran under: the machine's runnable threads per core,
    /// averaged over the attempt (see `execute::unix::runnable_threads`). `None` for
    /// an attempt too short to be sampled, a test of a batch, or a system that does
    /// not say.
    pub pressure: Option<f64>,
}

impl ExecutionResult {
    /// An attempt that has no result of its own: its process could not start, or the
    /// thread watching it died. `error` says which.
    pub fn exec_fail(start: Duration, duration: Duration, error: String, batched: bool) -> ExecutionResult {
        ExecutionResult {
            outcome: Outcome::ExecFail,
            exit: None,
            start,
            duration,
            usage: ResourceUsage::default(),
            stdout: CapturedOutput::default(),
            stderr: CapturedOutput::default(),
            error: Some(error),
            leaked: false,
            batched,
            rerun: None,
            pressure: None,
        }
    }

    /// Whether the test failed in a batch and then passed alone: it depends on having
    /// a process of its own, and is isolated from now on.
    pub fn isolation_sensitive(&self) -> bool {
        self.outcome.is_success() && self.rerun.is_some_and(BatchFailure::implicates_the_test)
    }
}

/// Why a test that ran in a batch is run again alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFailure {
    /// libtest reported it failed.
    Failed,
    /// The batch process died while it ran.
    Crashed(ExitStatus),
    /// It ran far longer than its history said, so the batch was ended.
    Stalled(Duration),
    /// Its result could not be read: it printed in the middle of libtest's line, or
    /// the batch ended before it started for a reason that is not its own.
    Unreadable,
}

impl BatchFailure {
    /// Whether passing alone after this makes the test isolation-sensitive: its
    /// failure in the batch was its own, not a matter of reading the output.
    pub fn implicates_the_test(self) -> bool {
        !matches!(self, BatchFailure::Unreadable)
    }

    /// What happened, as a phrase: "crashed a batch with SIGABRT".
    pub fn describe(self) -> String {
        match self {
            BatchFailure::Failed => "failed in a batch".into(),
            BatchFailure::Crashed(ExitStatus::Signal { signal, .. }) => {
                format!("crashed a batch with {}", signal_name(signal))
            }
            BatchFailure::Crashed(ExitStatus::Code(code)) => format!("ended its batch with exit code {code}"),
            BatchFailure::Stalled(d) => format!("stalled a batch for {:.1}s", d.as_secs_f64()),
            BatchFailure::Unreadable => "left no readable result in a batch".into(),
        }
    }
}

/// A test attempt finished.
#[derive(Debug, Clone)]
pub struct TestFinished {
    /// The test.
    pub test: TestRef,
    /// The slot it ran in (0-based).
    pub slot: usize,
    /// This attempt's number (1-based).
    pub attempt: u32,
    /// The most attempts this test may have.
    pub max_attempts: u32,
    /// What happened.
    pub result: ExecutionResult,
    /// Whether another attempt follows.
    pub will_retry: bool,
}

/// The final tally of a run, computed by the runner once for every reporter.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    /// Tests planned to run.
    pub planned: usize,
    /// Tests that finished (after their last attempt).
    pub finished: usize,
    /// Tests whose last attempt passed (flaky ones included).
    pub passed: usize,
    /// Passed only after failing first.
    pub flaky: usize,
    /// Failed (timeouts and exec failures included).
    pub failed: usize,
    /// Of the failed, how many timed out.
    pub timed_out: usize,
    /// Of the failed, how many could not be started.
    pub exec_failed: usize,
    /// Tests left out by filters or the ignored flag.
    pub skipped: usize,
    /// Planned tests that never started, because the run stopped early.
    pub not_run: usize,
    /// Wall time from the first test started to the last one finished.
    pub wall: Duration,
    /// Sum of every attempt's duration.
    pub test_time: Duration,
    /// Sum of every attempt's user+system CPU.
    pub cpu: Duration,
    /// The slots the run had.
    pub slots: usize,
    /// The cores the run had.
    pub cores: usize,
    /// Per slot, the time it spent running tests.
    pub slot_busy: Vec<Duration>,
    /// The longest single attempt.
    pub longest: Duration,
    /// The signal that interrupted the run, if one did.
    pub signal: Option<i32>,
}

impl RunStats {
    /// CPU ÷ (wall × cores): how much of the machine the tests used.
    pub fn utilization(&self) -> f64 {
        let denom = self.wall.as_secs_f64() * self.cores.max(1) as f64;
        if denom > 0.0 { self.cpu.as_secs_f64() / denom } else { 0.0 }
    }

    /// The average number of cores busy over the run.
    pub fn busy_cores(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 { self.cpu.as_secs_f64() / wall } else { 0.0 }
    }

    /// A lower bound on the run's wall time: no schedule could have finished sooner.
    /// It is the largest of the longest test, the CPU time spread over every core, and
    /// the test time spread over every slot.
    pub fn lower_bound(&self) -> Duration {
        let cpu_bound = self.cpu.div_f64(self.cores.max(1) as f64);
        let slot_bound = self.test_time.div_f64(self.slots.max(1) as f64);
        self.longest.max(cpu_bound).max(slot_bound)
    }

    /// lower bound ÷ actual wall time, 1.0 being a perfect schedule.
    pub fn efficiency(&self) -> f64 {
        let wall = self.wall.as_secs_f64();
        if wall > 0.0 { (self.lower_bound().as_secs_f64() / wall).min(1.0) } else { 1.0 }
    }

    /// Per slot, the time it ran no test: wall − busy (never negative).
    pub fn slot_idle(&self) -> Vec<Duration> {
        self.slot_busy.iter().map(|busy| self.wall.saturating_sub(*busy)).collect()
    }

    /// The run's CPU accounting in plain numbers, for the JUnit properties, the history
    /// and machine-readable output.
    pub fn accounting(&self) -> Accounting {
        Accounting {
            wall_s: self.wall.as_secs_f64(),
            cpu_s: self.cpu.as_secs_f64(),
            cores: self.cores,
            slots: self.slots,
            cpu_utilization: self.utilization(),
            busy_cores: self.busy_cores(),
            slot_idle_s: self.slot_idle().iter().map(Duration::as_secs_f64).collect(),
        }
    }
}

/// Why a run stopped starting tests before it ran them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// A test failed and fail-fast is on.
    TestFailure,
    /// The build failed while tests of the binaries already built were running.
    BuildFailed,
    /// tempo received a signal.
    Signal(i32),
    /// A thread of tempo panicked: a bug in tempo.
    InternalError,
}

/// One thing that happened during a run.
#[derive(Debug, Clone)]
pub enum Event {
    /// The run is about to start its first test.
    RunStarted(RunInfo),
    /// A pipelined run learned of more tests: a binary was built and listed.
    TestsAdded {
        /// How many tests will run from it.
        tests: usize,
        /// How many binaries they come from.
        binaries: usize,
        /// The tests it holds that were left out, as (binary id, test name).
        skipped_tests: std::sync::Arc<[(crate::test_id::BinaryId, String)]>,
        /// The tests that will run from it.
        planned: std::sync::Arc<[TestRef]>,
    },
    /// A test attempt started.
    TestStarted {
        /// The test.
        test: TestRef,
        /// Its slot.
        slot: usize,
        /// Attempt number (1-based).
        attempt: u32,
        /// Time since the run started.
        at: Duration,
    },
    /// A test attempt has run for another slow-timeout period.
    TestSlow {
        /// The test.
        test: TestRef,
        /// Its slot.
        slot: usize,
        /// Attempt number.
        attempt: u32,
        /// How long it has run so far.
        elapsed: Duration,
    },
    /// A test attempt finished.
    TestFinished(Box<TestFinished>),
    /// The run stopped before a planned retry could start: this attempt, already
    /// reported with `will_retry` set, is the test's final (failed) result.
    RetryAbandoned(Box<TestFinished>),
    /// The run stops starting new tests.
    RunCancelling {
        /// Why.
        reason: CancelReason,
        /// How many tests are still running.
        running: usize,
    },
    /// Someone asked what is running now (SIGUSR1, or the `t` key at a terminal).
    InfoRequested {
        /// The attempts running now, longest-running first.
        running: Vec<RunningTest>,
    },
    /// The run is over.
    RunFinished(RunStats),
}

/// One attempt that is running, as [`Event::InfoRequested`] lists it.
#[derive(Debug, Clone)]
pub struct RunningTest {
    /// The test.
    pub test: TestRef,
    /// Its slot.
    pub slot: usize,
    /// Attempt number (1-based).
    pub attempt: u32,
    /// The most attempts this test may have.
    pub max_attempts: u32,
    /// How long it has run so far.
    pub elapsed: Duration,
}

/// `SIGSEGV` and friends, for the status column.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("SIG{signal}"),
    };
    name.into()
}

/// A consumer of the run's events. Reporters are called on the runner's coordinating
/// thread, in order, so they need no locking; they must not block for long.
pub trait Reporter {
    /// Handles one event.
    fn report(&mut self, event: &Event) -> io::Result<()>;

    /// Completes what the reporter started in the background for the run's end (the
    /// history's write, which overlaps the others' reports): [`Fanout`] calls it on
    /// every reporter once all have heard [`Event::RunFinished`].
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends every event to several reporters, in order.
///
/// A reporter that fails to write its file (a [`WriteError`]) does not stop the
/// others or the run: its error is kept for [`Fanout::take_write_errors`], to be
/// reported once the run is over, and it keeps hearing events. Any other error (the
/// terminal went away) stops the run, as before.
#[derive(Default)]
pub struct Fanout {
    reporters: Vec<Box<dyn Reporter>>,
    write_errors: Vec<WriteError>,
}

impl Fanout {
    /// Adds a reporter.
    pub fn push(&mut self, reporter: Box<dyn Reporter>) {
        self.reporters.push(reporter);
    }

    /// The files that could not be written so far, in the order they failed.
    pub fn take_write_errors(&mut self) -> Vec<WriteError> {
        std::mem::take(&mut self.write_errors)
    }
}

impl Reporter for Fanout {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        for r in &mut self.reporters {
            if let Err(e) = r.report(event) {
                self.write_errors.push(WriteError::from_io(e)?);
            }
        }
        if let Event::RunFinished(_) = event {
            for r in &mut self.reporters {
                if let Err(e) = r.finish() {
                    self.write_errors.push(WriteError::from_io(e)?);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod reporter_tests {
    use super::*;
    use crate::files::WriteError;
    use std::path::Path;

    /// A write error keeps its path through `io::Error`, and `Fanout` collects it
    /// rather than stopping the reporters after the one that failed.
    #[test]
    fn a_reporter_that_cannot_write_does_not_stop_the_others() {
        struct Failing;
        impl Reporter for Failing {
            fn report(&mut self, _: &Event) -> io::Result<()> {
                let source = io::Error::from_raw_os_error(libc::EISDIR);
                Err(WriteError::new("history", Path::new("/store/history.json"), source).into_io())
            }
        }
        struct Counting(std::rc::Rc<std::cell::Cell<usize>>);
        impl Reporter for Counting {
            fn report(&mut self, _: &Event) -> io::Result<()> {
                self.0.set(self.0.get() + 1);
                Ok(())
            }
        }
        let heard = std::rc::Rc::default();
        let mut fanout = Fanout::default();
        fanout.push(Box::new(Failing));
        fanout.push(Box::new(Counting(std::rc::Rc::clone(&heard))));
        let event = Event::RunFinished(RunStats::default());
        fanout.report(&event).unwrap();
        assert_eq!(heard.get(), 1, "the reporter after the failing one heard the event");
        let errors = fanout.take_write_errors();
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.starts_with("failed to write the history `/store/history.json`: Is a directory"), "{message}");
    }
}
