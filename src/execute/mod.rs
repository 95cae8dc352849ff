//! Runs the planned tests on a pool of slots and turns what happens into events.
//!
//! One coordinating thread owns the [`Scheduler`] and the reporters; a fixed pool of
//! worker threads, one per slot, each supervises one test process at a time. Workers
//! send their results back over a channel, so all reporting happens on one thread, in
//! order, without locks.

mod capture;
pub mod process;
#[cfg(unix)]
#[path = "unix.rs"]
mod unix;

use std::io;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::plan::{TestPlan, TestRef};
use crate::report::Reporter;
use crate::report::events::{CancelReason, Event, ExecutionResult, Outcome, RunInfo, RunStats, TestFinished};
use crate::schedule::{Dispatch, Scheduler};
use process::AttemptSpec;

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How many tests run at once.
    pub slots: usize,
    /// Stop starting tests after the first failure.
    pub fail_fast: bool,
    /// Capture output (false: pass it through).
    pub capture: bool,
    /// The most bytes kept per stream per test.
    pub output_cap: usize,
    /// How long a test's pipes may stay open after it exits.
    pub leak_timeout: Duration,
    /// How long leftovers get between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// The most attempts per test (1 + retries).
    pub max_attempts: u32,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            slots: 1,
            fail_fast: true,
            capture: true,
            output_cap: 4 * 1024 * 1024,
            leak_timeout: Duration::from_millis(100),
            grace_period: Duration::from_secs(10),
            max_attempts: 1,
        }
    }
}

enum Msg {
    Finished(Dispatch, ExecutionResult),
}

/// Runs every test of the plan and reports each event; returns the final tally.
pub fn run(plan: TestPlan, info: RunInfo, config: &RunnerConfig, reporter: &mut dyn Reporter) -> io::Result<RunStats> {
    let run_start = Instant::now();
    let mut scheduler = Scheduler::new(plan.tests.iter().cloned(), config.slots);
    let mut stats = RunStats {
        planned: plan.tests.len(),
        skipped: plan.skipped,
        slots: config.slots,
        cores: info.cores,
        slot_busy: vec![Duration::ZERO; config.slots],
        ..RunStats::default()
    };
    reporter.report(&Event::RunStarted(info))?;

    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Dispatch>();
    let (msg_tx, msg_rx) = crossbeam_channel::unbounded::<Msg>();
    let mut last_end = Duration::ZERO;
    let result = std::thread::scope(|scope| -> io::Result<()> {
        for _ in 0..config.slots {
            let job_rx = job_rx.clone();
            let msg_tx = msg_tx.clone();
            scope.spawn(move || worker(job_rx, msg_tx, config, run_start));
        }
        drop(msg_tx);
        let outcome = coordinate(&mut scheduler, &job_tx, &msg_rx, config, run_start, reporter, &mut stats, &mut last_end);
        drop(job_tx);
        outcome
    });
    result?;
    stats.wall = last_end;
    stats.not_run = scheduler.not_started();
    reporter.report(&Event::RunFinished(stats.clone()))?;
    Ok(stats)
}

fn worker(jobs: Receiver<Dispatch>, results: Sender<Msg>, config: &RunnerConfig, run_start: Instant) {
    for job in jobs {
        let spec = AttemptSpec {
            attempt: job.attempt,
            slot: job.slot,
            capture: config.capture,
            output_cap: config.output_cap,
            leak_timeout: config.leak_timeout,
            grace_period: config.grace_period,
        };
        let result = process::run_attempt(&job.test, &spec, run_start);
        if results.send(Msg::Finished(job, result)).is_err() {
            return;
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "the coordinator's state, passed once from one caller")]
fn coordinate(
    scheduler: &mut Scheduler,
    jobs: &Sender<Dispatch>,
    results: &Receiver<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    reporter: &mut dyn Reporter,
    stats: &mut RunStats,
    last_end: &mut Duration,
) -> io::Result<()> {
    loop {
        while let Some(dispatch) = scheduler.next() {
            reporter.report(&Event::TestStarted {
                test: dispatch.test.clone(),
                slot: dispatch.slot,
                attempt: dispatch.attempt,
                at: run_start.elapsed(),
            })?;
            jobs.send(dispatch).expect("workers outlive the coordinator");
        }
        if scheduler.is_done() {
            return Ok(());
        }
        let Ok(Msg::Finished(dispatch, result)) = results.recv() else {
            return Ok(());
        };
        scheduler.finished(dispatch.slot);
        let will_retry = !result.outcome.is_success() && dispatch.attempt < config.max_attempts && !scheduler.is_cancelled();
        record(stats, &dispatch, &result, will_retry, last_end);
        let failed_for_good = !result.outcome.is_success() && !will_retry;
        let test: TestRef = dispatch.test.clone();
        reporter.report(&Event::TestFinished(Box::new(TestFinished {
            test: test.clone(),
            slot: dispatch.slot,
            attempt: dispatch.attempt,
            max_attempts: config.max_attempts,
            result,
            will_retry,
        })))?;
        if will_retry {
            scheduler.retry(test, dispatch.attempt + 1);
        } else if failed_for_good && config.fail_fast && !scheduler.is_cancelled() {
            scheduler.cancel();
            reporter.report(&Event::RunCancelling { reason: CancelReason::TestFailure, running: scheduler.running() })?;
        }
    }
}

/// Folds one finished attempt into the tally.
fn record(stats: &mut RunStats, dispatch: &Dispatch, result: &ExecutionResult, will_retry: bool, last_end: &mut Duration) {
    stats.test_time += result.duration;
    stats.cpu += result.usage.cpu();
    stats.longest = stats.longest.max(result.duration);
    stats.slot_busy[dispatch.slot] += result.duration;
    *last_end = (*last_end).max(result.start + result.duration);
    if will_retry {
        return;
    }
    stats.finished += 1;
    match result.outcome {
        Outcome::Pass => {
            stats.passed += 1;
            if dispatch.attempt > 1 {
                stats.flaky += 1;
            }
        }
        Outcome::Fail(_) => stats.failed += 1,
        Outcome::Timeout => {
            stats.failed += 1;
            stats.timed_out += 1;
        }
        Outcome::ExecFail => {
            stats.failed += 1;
            stats.exec_failed += 1;
        }
    }
}
