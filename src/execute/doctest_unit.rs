//! Settles the tests of a doctest unit, which a batch runs but cannot hand back.
//!
//! Doctests cannot run alone (see [`crate::build::DocUnit`]), and each already runs
//! in a process of its own, so a unit's failures are final: the failed ones get the
//! output libtest printed for them, and the ones a crash or stall left without a
//! result fail with what rustdoc printed.

use std::time::{Duration, Instant};

use super::batch::{BatchEnd, BatchEvent, batch_result};
use super::capture::CaptureBuf;
use super::libtest_output::failure_sections;
use crate::events::{ExitStatus, Outcome};
use crate::plan::TestRef;

/// What a doctest unit's batch keeps until it ends.
#[derive(Debug)]
pub struct DoctestRun {
    /// The unit's whole stdout, where libtest prints its failures: head and tail
    /// within the cap. (The output of the test running now is kept with it.)
    raw: CaptureBuf,
    /// What rustdoc printed to stderr, for the tests left without a result.
    stderr: CaptureBuf,
    /// The tests that failed: index, start and end.
    failures: Vec<(usize, Instant, Instant)>,
}

impl DoctestRun {
    /// Keeps at most `cap` bytes of each stream.
    pub fn new(cap: usize) -> DoctestRun {
        DoctestRun { raw: CaptureBuf::new(cap), stderr: CaptureBuf::new(cap), failures: Vec::new() }
    }

    /// Bytes the unit wrote to stdout.
    pub fn output(&mut self, bytes: &[u8]) {
        self.raw.push(bytes);
    }

    /// Bytes the unit wrote to stderr.
    pub fn stderr(&mut self, bytes: &[u8]) {
        self.stderr.push(bytes);
    }

    /// The test at `index` failed (or was ignored where it should have run).
    pub fn failed(&mut self, index: usize, started: Instant, ended: Instant) {
        self.failures.push((index, started, ended));
    }

    /// Reports a final result for each failed test and for each test the batch would
    /// have handed back to run alone, which `end` then no longer holds.
    pub fn settle(
        self,
        tests: &[TestRef],
        end: &mut BatchEnd,
        exit: ExitStatus,
        run_start: Instant,
        on_event: &mut impl FnMut(BatchEvent),
    ) {
        let raw = self.raw.finish().bytes;
        let stderr = self.stderr.finish();
        let sections = failure_sections(&String::from_utf8_lossy(&raw));
        for (i, started, ended) in self.failures {
            let output = sections.get(tests[i].name.as_str()).cloned().unwrap_or_default();
            let mut result = batch_result(
                Outcome::Fail(ExitStatus::Code(101)),
                run_start,
                started,
                ended,
                Duration::ZERO,
                output.into(),
            );
            result.exit = Some(ExitStatus::Code(101));
            on_event(BatchEvent::Finished(i, result));
        }
        let now = Instant::now();
        for (i, why) in std::mem::take(&mut end.rerun_alone) {
            let mut result = batch_result(Outcome::Fail(exit), run_start, now, now, Duration::ZERO, Vec::new());
            result.exit = Some(exit);
            result.stderr = stderr.clone();
            result.error = Some(format!("this doctest {} (cargo test --doc ended with {exit:?})", why.describe()));
            on_event(BatchEvent::Finished(i, result));
        }
    }
}
