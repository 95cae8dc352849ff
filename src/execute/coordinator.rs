//! The coordinating thread: it owns the scheduler and the reporters, hands dispatches
//! to the workers and turns what they send back into events, retries and fail-fast.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::signals::RunningGroups;
use super::{Feed, LostJob, Msg, Panicked, RunnerConfig, batch, deadline, fault, unix};
use crate::error::Error;
use crate::events::Reporter;
use crate::events::{BatchFailure, CancelReason, Event, ExecutionResult, Outcome, RunStats, RunningTest, TestFinished};
use crate::plan::TestRef;
use crate::schedule::{Dispatch, Scheduler};

/// The coordinating thread's state for one run.
pub(super) struct Coordinator<'a> {
    scheduler: &'a mut Scheduler,
    jobs: &'a Sender<Dispatch>,
    results: &'a Receiver<Msg>,
    config: &'a RunnerConfig,
    run_start: Instant,
    reporter: &'a mut dyn Reporter,
    stats: &'a mut RunStats,
    last_end: &'a mut Duration,
    groups: &'a RunningGroups,
    /// After a signal: when whatever still runs gets SIGKILL.
    kill_at: Option<Instant>,
    /// Retries waiting out their backoff delay, with the time they may start.
    delayed: Vec<(Instant, TestRef, u32)>,
    /// The failed attempts whose retry has not started yet; if the run stops first,
    /// they become the tests' final results.
    awaiting_retry: Vec<TestFinished>,
    /// Tests that failed for good so far.
    failures: u32,
    /// Whether a pipelined build may still send tests.
    feed_open: bool,
    /// Whether dispatch waits for the build (see `hold` in `run_fed`).
    hold: bool,
    /// When the hold ends anyway: a build still going by then is real work.
    hold_until: Option<Instant>,
    /// The build's error, if it failed.
    pub(super) build_error: Option<crate::error::Error>,
    /// tempo's own error: the first thread that panicked.
    pub(super) bug: Option<Error>,
    /// Tests that arrived after the run stopped starting tests.
    pub(super) late_not_run: usize,
    /// Tests sent back from a batch to run alone, by address, and why.
    rerun_alone: HashMap<usize, BatchFailure>,
    /// The attempts running now, by the test's address: (test, slot, attempt, start
    /// since the run started). Kept for [`Event::InfoRequested`].
    running: HashMap<usize, (TestRef, usize, u32, Duration)>,
    /// Under adaptive concurrency, what the running tests' CPU clocks last read.
    load: LoadSamples,
}

/// Why the coordinator woke up.
#[expect(
    clippy::large_enum_variant,
    reason = "one lives at a time, moved once; a box would cost an allocation per message"
)]
enum Woken {
    /// A message came.
    Msg(Msg),
    /// Something of its own was due, and is done.
    Due,
    /// Every sender is gone: the run is over.
    Closed,
}

/// How often adaptive concurrency reads the running tests' CPU clocks.
const LOAD_SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// The shortest stretch a rate is judged on: a process's start-up is a burst.
const LOAD_MIN_WINDOW: Duration = Duration::from_millis(40);

/// The last CPU-clock reading of the process leading each slot: (pid, CPU time,
/// when), and when each slot's current test was dispatched: a process's CPU clock
/// starts at zero, so its first reading already gives its rate since it started.
///
/// Every reading also samples the machine's CPU pressure (runnable threads per core)
/// for each running attempt, so that its result can say what load it ran under.
pub(super) struct LoadSamples {
    last: Instant,
    by_slot: Vec<Option<(u32, Duration, Instant)>>,
    dispatched: Vec<Instant>,
    /// Per slot, the pressure samples taken since its attempt started: their sum and
    /// their count.
    pressure: Vec<(f64, u32)>,
}

impl LoadSamples {
    /// The mean pressure the attempt on `slot` ran under, if it was sampled.
    fn pressure(&self, slot: usize) -> Option<f64> {
        let (sum, count) = *self.pressure.get(slot)?;
        (count > 0).then(|| sum / f64::from(count))
    }
}

/// How long a pipelined run waits for a build that compiles nothing, before it starts
/// the tests it already has.
const HOLD_FOR_NO_OP_BUILD: Duration = Duration::from_millis(500);

impl<'a> Coordinator<'a> {
    /// A coordinator for a run that has just started; `feed_open` when a pipelined
    /// build may still send tests.
    #[expect(clippy::too_many_arguments, reason = "what the run lends the coordinator, each needed")]
    pub(super) fn new(
        scheduler: &'a mut Scheduler,
        jobs: &'a Sender<Dispatch>,
        results: &'a Receiver<Msg>,
        config: &'a RunnerConfig,
        run_start: Instant,
        reporter: &'a mut dyn Reporter,
        stats: &'a mut RunStats,
        last_end: &'a mut Duration,
        groups: &'a RunningGroups,
        feed_open: bool,
    ) -> Coordinator<'a> {
        Coordinator {
            scheduler,
            jobs,
            results,
            config,
            run_start,
            reporter,
            stats,
            last_end,
            groups,
            kill_at: None,
            delayed: Vec::new(),
            awaiting_retry: Vec::new(),
            failures: 0,
            feed_open,
            // A pipelined run waits for the first sign of real compilation (or half a
            // second) before it starts tests: a no-op build is over in moments, and
            // waiting for all of its binaries keeps longest-first ordering whole.
            hold: feed_open,
            hold_until: deadline(run_start, HOLD_FOR_NO_OP_BUILD),
            build_error: None,
            bug: None,
            late_not_run: 0,
            rerun_alone: HashMap::new(),
            running: HashMap::new(),
            load: LoadSamples {
                last: run_start,
                by_slot: vec![None; config.slots],
                dispatched: vec![run_start; config.slots],
                pressure: vec![(0.0, 0); config.slots],
            },
        }
    }
}

impl Coordinator<'_> {
    pub(super) fn coordinate(&mut self) -> io::Result<()> {
        loop {
            self.release_due_retries();
            if self.hold && self.hold_until.is_some_and(|t| Instant::now() >= t) {
                self.hold = false;
            }
            self.dispatch_ready()?;
            if self.scheduler.is_done() && self.delayed.is_empty() && !self.feed_open {
                return self.abandon_retries();
            }
            match self.wait() {
                Woken::Msg(msg) => self.handle(msg)?,
                Woken::Due => {}
                Woken::Closed => return Ok(()),
            }
        }
    }

    /// Sends the workers every dispatch the scheduler allows now.
    fn dispatch_ready(&mut self) -> io::Result<()> {
        while let Some(dispatch) = if self.hold { None } else { self.scheduler.next_dispatch() } {
            if dispatch.attempt > 1 {
                self.awaiting_retry.retain(|f| !Arc::ptr_eq(&f.test, &dispatch.test));
            }
            self.load.dispatched[dispatch.slot] = Instant::now();
            self.load.pressure[dispatch.slot] = (0.0, 0);
            if dispatch.batch.is_some() {
                // A batch's tests are reported as they start, one by one.
                self.jobs.send(dispatch).expect("workers outlive the coordinator");
                continue;
            }
            let at = self.run_start.elapsed();
            self.started(&dispatch.test, dispatch.slot, dispatch.attempt, at);
            self.reporter.report(&Event::TestStarted {
                test: dispatch.test.clone(),
                slot: dispatch.slot,
                attempt: dispatch.attempt,
                at,
            })?;
            self.jobs.send(dispatch).expect("workers outlive the coordinator");
        }
        Ok(())
    }

    /// Waits for the next message, or until something of the coordinator's own is due,
    /// which it then does.
    fn wait(&mut self) -> Woken {
        let next_retry = self.delayed.iter().map(|(at, ..)| *at).min();
        let hold_end = self.hold.then_some(self.hold_until).flatten();
        let sample_at = (self.scheduler.running() > 0).then(|| deadline(self.load.last, LOAD_SAMPLE_EVERY)).flatten();
        let wake_at = [self.kill_at, next_retry, hold_end, sample_at].into_iter().flatten().min();
        let Some(at) = wake_at else { return self.results.recv().map_or(Woken::Closed, Woken::Msg) };
        match self.results.recv_deadline(at) {
            Ok(msg) => Woken::Msg(msg),
            Err(RecvTimeoutError::Timeout) => {
                if sample_at.is_some_and(|s| s <= Instant::now()) {
                    self.sample_load();
                }
                if self.kill_at.is_some_and(|k| k <= Instant::now()) {
                    self.groups.signal_all(unix::SIGKILL);
                    self.kill_at = deadline(Instant::now(), Duration::from_secs(1));
                }
                Woken::Due
            }
            Err(RecvTimeoutError::Disconnected) => Woken::Closed,
        }
    }

    fn handle(&mut self, msg: Msg) -> io::Result<()> {
        match msg {
            Msg::Feed(feed) => self.fed(feed)?,
            Msg::Finished(dispatch, result) => self.finished(dispatch, result)?,
            Msg::Signal(sig) => self.signalled(sig)?,
            Msg::Info => self.info()?,
            Msg::Slow(test, slot, attempt, elapsed) => {
                self.reporter.report(&Event::TestSlow { test, slot, attempt, elapsed })?
            }
            Msg::BatchStarted(test, slot, attempt, at) => {
                self.started(&test, slot, attempt, at);
                self.reporter.report(&Event::TestStarted { test, slot, attempt, at })?
            }
            Msg::BatchFinished(test, slot, attempt, result) => self.settle(test, slot, 1, attempt, result)?,
            Msg::BatchDone(dispatch, end) => self.batch_done(dispatch, end),
            Msg::ThreadPanicked(panicked) => self.thread_panicked(panicked)?,
        }
        Ok(())
    }

    /// Notes an attempt as running, for [`Event::InfoRequested`].
    fn started(&mut self, test: &TestRef, slot: usize, attempt: u32, at: Duration) {
        self.running.insert(address(test), (test.clone(), slot, attempt, at));
    }

    /// Lists the attempts running now, longest-running first.
    fn info(&mut self) -> io::Result<()> {
        let now = self.run_start.elapsed();
        let mut running: Vec<RunningTest> = self
            .running
            .values()
            .map(|(test, slot, attempt, at)| RunningTest {
                test: test.clone(),
                slot: *slot,
                attempt: *attempt,
                max_attempts: test.settings.retries.count.saturating_add(1),
                elapsed: now.saturating_sub(*at),
            })
            .collect();
        running.sort_by(|a, b| {
            b.elapsed
                .cmp(&a.elapsed)
                .then_with(|| a.test.binary_id().cmp(b.test.binary_id()))
                .then_with(|| a.test.name.cmp(&b.test.name))
        });
        self.reporter.report(&Event::InfoRequested { running })
    }

    /// Samples the machine's CPU pressure for every running attempt, and under
    /// adaptive concurrency reads the CPU clock of each running test's process: one
    /// that keeps more cores busy than its history predicted (or than the one-core
    /// guess for a test with none) is charged what it uses, so that fewer tests join
    /// it until it ends; one with no history that turns out to wait lets more tests
    /// start beside it. A probe (see `Scheduler::probe_overdue`) that runs far past
    /// its time alone is charged in full again.
    fn sample_load(&mut self) {
        let now = Instant::now();
        self.load.last = now;
        if let Some(runnable) = unix::runnable_threads() {
            let per_core = f64::from(runnable) / self.stats.cores.max(1) as f64;
            for (slot, busy) in self.load.pressure.iter_mut().enumerate() {
                if self.scheduler.owns(slot) {
                    busy.0 += per_core;
                    busy.1 = busy.1.saturating_add(1);
                }
            }
        }
        if self.config.cpu_budget.is_none() {
            return;
        }
        let dispatched = &self.load.dispatched;
        if let Some(slot) = self.scheduler.probe_to_pause(|s| now.saturating_duration_since(dispatched[s])) {
            self.scheduler.pause_probe(slot);
            self.groups.signal_slot(slot, unix::SIGSTOP);
        }
        self.resume_probe();
        for (slot, sample) in self.load.by_slot.iter_mut().enumerate() {
            let pid = self.groups.pgids[slot].load(Ordering::SeqCst);
            let Some(cpu) = (pid != 0).then(|| unix::process_cpu(pid)).flatten() else {
                *sample = None;
                continue;
            };
            let (old_cpu, since) = match *sample {
                Some((old_pid, old_cpu, at)) if old_pid == pid => (old_cpu, at),
                _ => (Duration::ZERO, self.load.dispatched[slot]),
            };
            let window = now.saturating_duration_since(since);
            if window < LOAD_MIN_WINDOW {
                if sample.is_none_or(|(old_pid, ..)| old_pid != pid) {
                    *sample = Some((pid, Duration::ZERO, since));
                }
                continue;
            }
            let cores = cpu.saturating_sub(old_cpu).as_secs_f64() / window.as_secs_f64();
            self.scheduler.observed_demand(slot, cores);
            *sample = Some((pid, cpu, now));
        }
    }

    /// Continues a paused probe once the budget has room for it again.
    fn resume_probe(&mut self) {
        if let Some(slot) = self.scheduler.resume_probe() {
            self.groups.signal_slot(slot, unix::SIGCONT);
        }
    }

    /// Settles the tests whose retry never started because the run stopped: their last
    /// failed attempt is their result.
    fn abandon_retries(&mut self) -> io::Result<()> {
        for mut f in std::mem::take(&mut self.awaiting_retry) {
            f.will_retry = false;
            self.stats.finished += 1;
            self.stats.failed += 1;
            self.reporter.report(&Event::RetryAbandoned(Box::new(f)))?;
        }
        Ok(())
    }

    /// Moves retries whose backoff has passed to the front of the queue; a cancelled
    /// run drops them.
    fn release_due_retries(&mut self) {
        if self.scheduler.is_cancelled() {
            self.delayed.clear();
            return;
        }
        let now = Instant::now();
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.delayed).into_iter().partition(|(at, ..)| *at <= now);
        self.delayed = waiting;
        for (_, test, attempt) in due.into_iter().rev() {
            self.scheduler.retry(test, attempt);
        }
    }

    fn fed(&mut self, feed: Feed) -> io::Result<()> {
        match feed {
            Feed::Compiling => {
                self.hold = false;
                // While cargo compiles it keeps the cores busy: under adaptive
                // concurrency the tests get their share of them (waiting tests,
                // which need none, still start).
                if let Some(cores) = self.config.cpu_budget {
                    self.scheduler.set_cpu_budget((cores * self.config.cpu_share_while_building).max(1.0));
                }
            }
            Feed::Tests(plan) => {
                self.stats.planned += plan.tests.len();
                self.stats.skipped += plan.skipped;
                self.reporter.report(&Event::TestsAdded {
                    tests: plan.tests.len(),
                    binaries: plan.binary_count,
                    skipped_tests: plan.skipped_tests.into(),
                    planned: plan.tests.iter().cloned().collect(),
                })?;
                if self.scheduler.is_cancelled() {
                    self.late_not_run += plan.tests.len();
                } else {
                    self.scheduler.add(plan.tests);
                }
            }
            Feed::Done(result) => {
                self.feed_open = false;
                self.hold = false;
                if let Some(cores) = self.config.cpu_budget {
                    self.scheduler.set_cpu_budget(cores);
                }
                if let Err(e) = result {
                    self.build_error = Some(e);
                    if !self.scheduler.is_cancelled() {
                        self.scheduler.cancel();
                        self.reporter.report(&Event::RunCancelling {
                            reason: CancelReason::BuildFailed,
                            running: self.scheduler.running(),
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    fn signalled(&mut self, sig: i32) -> io::Result<()> {
        if self.stats.signal.is_some() || self.bug.is_some() {
            // A second signal, or one while the run already stops for tempo's own bug:
            // stop waiting for anything.
            self.stats.signal.get_or_insert(sig);
            self.groups.signal_all(unix::SIGKILL);
            return Ok(());
        }
        self.stats.signal = Some(sig);
        self.scheduler.cancel();
        let forwarded = rustix::process::Signal::from_named_raw(sig).unwrap_or(unix::SIGTERM);
        self.groups.signal_all(forwarded);
        self.kill_at = deadline(Instant::now(), self.config.grace_period);
        self.reporter
            .report(&Event::RunCancelling { reason: CancelReason::Signal(sig), running: self.scheduler.running() })
    }

    /// A thread panicked: the run stops as if cancelled, the running tests get SIGTERM
    /// and, after the grace period, SIGKILL, and the test the thread was running (a
    /// worker's) fails with tempo's error. Nothing waits for the dead thread.
    fn thread_panicked(&mut self, panicked: Panicked) -> io::Result<()> {
        let Panicked { thread, message, feeder, lost } = panicked;
        if feeder {
            // It will send no more tests, nor say that the build is over.
            self.feed_open = false;
            self.hold = false;
        }
        self.scheduler.cancel();
        if let Some(lost) = &lost {
            self.scheduler.finished(&lost.dispatch);
        }
        let error = format!(
            "tempo stopped watching this test: its thread `{thread}` panicked ({message}); this is a bug in tempo"
        );
        if self.bug.is_none() {
            self.bug = Some(Error::Bug { thread, message });
            self.groups.signal_all(unix::SIGTERM);
            self.kill_at = deadline(Instant::now(), self.config.grace_period);
            self.reporter.report(&Event::RunCancelling {
                reason: CancelReason::InternalError,
                running: self.scheduler.running(),
            })?;
        }
        let Some(LostJob { dispatch, unstarted }) = lost else { return Ok(()) };
        let tests = match &dispatch.batch {
            Some(tests) => {
                // The tests it never started are not run; the others were running.
                self.scheduler.requeue(unstarted.iter().map(|i| tests[*i].clone()).collect());
                tests.iter().filter(|t| self.running.contains_key(&address(t))).cloned().collect()
            }
            None => vec![dispatch.test.clone()],
        };
        let now = self.run_start.elapsed();
        for test in tests {
            let at = self.running.get(&address(&test)).map_or(now, |r| r.3);
            let result =
                ExecutionResult::exec_fail(at, now.saturating_sub(at), error.clone(), dispatch.batch.is_some());
            let width = if dispatch.batch.is_some() { 1 } else { dispatch.width };
            self.settle(test, dispatch.slot, width, dispatch.attempt, result)?;
        }
        Ok(())
    }

    fn finished(&mut self, dispatch: Dispatch, mut result: ExecutionResult) -> io::Result<()> {
        fault::inject(fault::Place::Coordinator, std::iter::once(dispatch.test.name.as_str()));
        self.scheduler.finished(&dispatch);
        self.resume_probe();
        if dispatch.attempt == 1 {
            result.rerun = self.rerun_alone.remove(&address(&dispatch.test));
        }
        result.pressure = self.load.pressure(dispatch.slot);
        self.settle(dispatch.test, dispatch.slot, dispatch.width, dispatch.attempt, result)
    }

    /// Sends what a batch did not settle back to the queue: the tests that failed,
    /// crashed or stalled in it to run alone, and the tests it never reached to run
    /// again. The batch's own CPU (libtest's start-up) joins the run's total.
    fn batch_done(&mut self, dispatch: Dispatch, end: batch::BatchEnd) {
        self.scheduler.finished(&dispatch);
        self.stats.cpu = self.stats.cpu.saturating_add(end.unattributed_cpu);
        let tests = dispatch.batch.expect("a batch dispatch");
        for (i, why) in end.rerun_alone {
            // It stops running until it starts again alone.
            self.running.remove(&address(&tests[i]));
            self.rerun_alone.insert(address(&tests[i]), why);
            self.scheduler.requeue_alone(tests[i].clone());
        }
        self.scheduler.requeue(end.unrun.into_iter().map(|i| tests[i].clone()).collect());
    }

    /// Reports a test attempt's result, and decides what follows: a retry, fail-fast,
    /// or nothing.
    fn settle(
        &mut self,
        test: TestRef,
        slot: usize,
        width: usize,
        attempt: u32,
        result: ExecutionResult,
    ) -> io::Result<()> {
        self.running.remove(&address(&test));
        let scheduler = &mut *self.scheduler;
        let config = self.config;
        let retries = &test.settings.retries;
        let max_attempts = retries.count.saturating_add(1);
        let wants_retry = !result.outcome.is_success() && attempt < max_attempts && !scheduler.is_cancelled();
        let retry =
            wants_retry.then(|| retry_at(Instant::now(), jittered(retries.delay_before(attempt + 1), retries.jitter)));
        // A delay longer than the clock can hold never ends: that retry never starts.
        let will_retry = matches!(retry, Some(Retry::Now | Retry::At(_)));
        let failed_for_good =
            record(self.stats, slot, width, attempt, &result, will_retry, config.flaky_fails, self.last_end);
        let finished = TestFinished { test: test.clone(), slot, attempt, max_attempts, result, will_retry };
        if will_retry {
            self.awaiting_retry.push(finished.clone());
        }
        self.reporter.report(&Event::TestFinished(Box::new(finished)))?;
        if will_retry {
            let next = attempt + 1;
            match retry {
                Some(Retry::At(at)) => self.delayed.push((at, test, next)),
                _ => scheduler.retry(test, next),
            }
        } else if failed_for_good {
            self.failures += 1;
            if config.max_fail.is_some_and(|max| self.failures >= max) && !scheduler.is_cancelled() {
                scheduler.cancel();
                if config.terminate_on_fail_fast {
                    // `fail-fast = { terminate = "immediate" }`: end the running tests too.
                    self.groups.signal_all(unix::SIGTERM);
                    self.kill_at = deadline(Instant::now(), config.grace_period);
                }
                self.reporter.report(&Event::RunCancelling {
                    reason: CancelReason::TestFailure,
                    running: scheduler.running(),
                })?;
            }
        }
        Ok(())
    }
}

/// A test's key in the coordinator's maps: the address of its shared instance, which
/// stays the same for each of its attempts.
fn address(test: &TestRef) -> usize {
    Arc::as_ptr(test) as usize
}

/// When a retry may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// At once: no delay.
    Now,
    /// Once its delay has passed.
    At(Instant),
    /// Never: its delay is longer than the clock can hold.
    Never,
}

fn retry_at(now: Instant, delay: Duration) -> Retry {
    if delay.is_zero() {
        return Retry::Now;
    }
    deadline(now, delay).map_or(Retry::Never, Retry::At)
}

/// With jitter, a delay drawn between half of `delay` and all of it.
fn jittered(delay: Duration, jitter: bool) -> Duration {
    if !jitter || delay.is_zero() {
        return delay;
    }
    let mut bytes = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    scaled(delay, 0.5 + (u64::from_le_bytes(bytes) as f64 / u64::MAX as f64) * 0.5)
}

/// `delay` times `fraction` (0 to 1). `Duration::mul_f64` panics when the product,
/// rounded to an `f64`, is past `Duration::MAX`, as `Duration::MAX` times 1 is.
fn scaled(delay: Duration, fraction: f64) -> Duration {
    Duration::try_from_secs_f64(delay.as_secs_f64() * fraction).map_or(delay, |d| d.min(delay))
}

/// Folds one finished attempt into the tally.
#[expect(clippy::too_many_arguments, reason = "one attempt's facts, each needed")]
fn record(
    stats: &mut RunStats,
    slot: usize,
    width: usize,
    attempt: u32,
    result: &ExecutionResult,
    will_retry: bool,
    flaky_fails: bool,
    last_end: &mut Duration,
) -> bool {
    stats.test_time = stats.test_time.saturating_add(result.duration);
    stats.cpu = stats.cpu.saturating_add(result.usage.cpu());
    stats.longest = stats.longest.max(result.duration);
    for lane in &mut stats.slot_busy[slot..slot + width] {
        *lane = lane.saturating_add(result.duration);
    }
    *last_end = (*last_end).max(result.start.saturating_add(result.duration));
    if will_retry {
        return false;
    }
    stats.finished += 1;
    match result.outcome {
        Outcome::Pass if attempt > 1 => {
            stats.flaky += 1;
            if flaky_fails {
                stats.failed += 1;
                return true;
            }
            stats.passed += 1;
        }
        Outcome::Pass => stats.passed += 1,
        Outcome::Fail(_) | Outcome::LeakFail => stats.failed += 1,
        Outcome::Timeout => {
            stats.failed += 1;
            stats.timed_out += 1;
        }
        Outcome::ExecFail => {
            stats.failed += 1;
            stats.exec_failed += 1;
        }
    }
    !result.outcome.is_success()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression tests for issue 12: a duration past what the clock can hold
    // (`retries.delay = "500000000000y"`) panicked a thread.

    #[test]
    fn jitter_of_the_longest_delay_does_not_panic() {
        // `Duration::MAX.mul_f64(1.0)` panics: the product rounds up past the maximum.
        assert_eq!(scaled(Duration::MAX, 1.0), Duration::MAX);
        assert!(scaled(Duration::MAX, 0.5) <= Duration::MAX);
        assert_eq!(scaled(Duration::from_secs(10), 0.5), Duration::from_secs(5));
        assert!(jittered(Duration::MAX, true) <= Duration::MAX);
    }

    #[test]
    fn a_retry_delay_past_the_clock_means_no_retry() {
        let now = Instant::now();
        assert_eq!(retry_at(now, Duration::ZERO), Retry::Now);
        assert_eq!(retry_at(now, Duration::from_secs(2)), Retry::At(now + Duration::from_secs(2)));
        assert_eq!(retry_at(now, Duration::MAX), Retry::Never);
    }
}
