//! The worker threads: each takes one dispatch at a time, runs it (a test alone or a
//! batch) and sends what happens back to the coordinator.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::process::{self, AttemptSpec};
use super::signals::RunningGroups;
use super::{LostJob, Msg, Panicked, RunnerConfig, batch, fault};
use crate::config::OnTimeout;
use crate::events::ExecutionResult;
use crate::plan::TestRef;
use crate::schedule::Dispatch;

/// Runs the dispatches it receives, one at a time, until the coordinator stops sending them.
pub(super) fn worker(
    jobs: Receiver<Dispatch>,
    results: Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
) {
    for job in jobs {
        // Which of a batch's tests the coordinator has heard of, so that if this thread
        // panics, the ones that never started can be told apart.
        let mut heard = vec![false; job.batch.as_ref().map_or(0, |tests| tests.len())];
        let ran = catch_unwind(AssertUnwindSafe(|| run_job(&job, &results, config, run_start, groups, &mut heard)));
        let msg = match ran {
            Ok(JobEnd::Alone(result)) => Msg::Finished(job, result),
            Ok(JobEnd::Batch(end)) => Msg::BatchDone(job, end),
            Err(payload) => {
                // The thread's state is unknown: it takes no more work.
                let unstarted = heard.iter().enumerate().filter(|(_, heard)| !**heard).map(|(i, _)| i).collect();
                let lost = LostJob { dispatch: job, unstarted };
                let _ = results.send(Msg::ThreadPanicked(Panicked::new(&*payload, false, Some(lost))));
                return;
            }
        };
        if results.send(msg).is_err() {
            return;
        }
    }
}

/// How a worker's job ended.
enum JobEnd {
    Alone(ExecutionResult),
    Batch(batch::BatchEnd),
}

/// Runs one dispatch: a test alone, or a batch.
fn run_job(
    job: &Dispatch,
    results: &Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
    heard: &mut [bool],
) -> JobEnd {
    match &job.batch {
        Some(tests) => JobEnd::Batch(run_batch_job(job, tests, results, config, run_start, groups, heard)),
        None => JobEnd::Alone(run_alone(job, results, config, run_start, groups)),
    }
}

/// Runs a batch, telling the coordinator of each start, slow period and final result
/// as it happens, and noting in `heard` the tests it was told of.
fn run_batch_job(
    job: &Dispatch,
    tests: &[TestRef],
    results: &Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
    heard: &mut [bool],
) -> batch::BatchEnd {
    let (slot, attempt) = (job.slot, job.attempt);
    let spec = batch::BatchSpec {
        slot,
        output_cap: config.output_cap,
        grace_period: job.test.settings.slow_timeout.grace_period,
        attempt,
    };
    batch::run_batch(
        tests,
        &spec,
        run_start,
        |pid| groups.publish(slot, pid),
        |event| {
            let msg = match event {
                batch::BatchEvent::Started(i) => {
                    heard[i] = true;
                    Msg::BatchStarted(tests[i].clone(), slot, attempt, run_start.elapsed())
                }
                batch::BatchEvent::Slow(i, elapsed) => {
                    fault::inject(fault::Place::Worker, std::iter::once(tests[i].name.as_str()));
                    Msg::Slow(tests[i].clone(), slot, attempt, elapsed)
                }
                batch::BatchEvent::Finished(i, result) => {
                    heard[i] = true;
                    Msg::BatchFinished(tests[i].clone(), slot, attempt, result)
                }
            };
            let _ = results.send(msg);
        },
    )
}

/// Runs a test alone, telling the coordinator of each slow period.
fn run_alone(
    job: &Dispatch,
    results: &Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
) -> ExecutionResult {
    let (slot, attempt) = (job.slot, job.attempt);
    let settings = &job.test.settings;
    let spec = AttemptSpec {
        attempt,
        slot,
        capture: config.capture,
        output_cap: config.output_cap,
        leak_timeout: settings.leak_timeout.period,
        leak_fails: settings.leak_timeout.fails,
        grace_period: settings.slow_timeout.grace_period,
        slow_period: settings.slow_timeout.period,
        terminate_after: settings.slow_timeout.terminate_after,
        timeout_passes: settings.slow_timeout.on_timeout == OnTimeout::Pass,
    };
    process::run_attempt(
        &job.test,
        &spec,
        run_start,
        |pid| groups.publish(slot, pid),
        |elapsed| {
            fault::inject(fault::Place::Worker, std::iter::once(job.test.name.as_str()));
            let _ = results.send(Msg::Slow(job.test.clone(), slot, attempt, elapsed));
        },
    )
}
