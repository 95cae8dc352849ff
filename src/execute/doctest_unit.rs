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

/// Which doctests a unit with several libtest threads runs now, derived from the
/// results it prints.
///
/// With more than one thread libtest prints nothing when a test starts, only
/// `test NAME ... ok` when it ends. It starts the tests it selected in name order,
/// as many as it has threads, and the next one each time a result comes in (an
/// ignored test's result comes at once). So the first `threads` tests start when the
/// run starts and the k-th result starts the next test in order: each doctest's
/// start, and so its duration, is derived from the lines as they arrive.
#[derive(Debug)]
pub struct WideUnit {
    /// The names libtest runs, in its order.
    order: Vec<String>,
    next: usize,
    threads: usize,
    begun: bool,
}

impl WideUnit {
    /// The unit's doctests among `names` (sorted as libtest sorts) that libtest selects
    /// with these filters (any of them a substring of the name, or none given) and
    /// skip patterns (substrings too).
    pub fn new(names: &[String], filters: &[String], skip: &[String], threads: usize) -> WideUnit {
        let selected = |n: &&String| {
            (filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
                && !skip.iter().any(|s| n.contains(s.as_str()))
        };
        let mut order: Vec<String> = names.iter().filter(selected).cloned().collect();
        order.sort();
        WideUnit { order, next: 0, threads: threads.max(1), begun: false }
    }

    /// The run began (rustdoc printed its `running N tests`): the first tests start.
    /// Returns them, or nothing if it had begun already.
    pub fn begin(&mut self) -> Vec<String> {
        if self.begun {
            return Vec::new();
        }
        self.begun = true;
        let first = self.threads.min(self.order.len());
        self.next = first;
        self.order[..first].to_vec()
    }

    /// A result came in: the test that starts in its place, if any is left.
    pub fn completed(&mut self) -> Option<String> {
        let name = self.order.get(self.next)?.clone();
        self.next += 1;
        Some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Two threads: `a` and `b` start with the run, each result starts the next
    /// name in order, and the filter and skip patterns leave out what libtest would.
    #[test]
    fn each_result_starts_the_next_selected_doctest_in_name_order() {
        let all = names(&["src/b.rs - y (line 1)", "src/a.rs - x (line 9)", "src/a.rs - x (line 2)", "src/c.rs - z"]);
        let mut unit = WideUnit::new(&all, &names(&["src/a.rs", "src/b.rs"]), &names(&["line 9"]), 2);
        assert_eq!(unit.begin(), names(&["src/a.rs - x (line 2)", "src/b.rs - y (line 1)"]));
        assert_eq!(unit.begin(), Vec::<String>::new(), "the run begins once");
        assert_eq!(unit.completed(), None, "nothing is left to start");
        let mut unit = WideUnit::new(&all, &[], &[], 3);
        assert_eq!(unit.begin().len(), 3);
        assert_eq!(unit.completed().as_deref(), Some("src/c.rs - z"));
        assert_eq!(unit.completed(), None);
    }
}
