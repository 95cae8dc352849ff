//! Runs many fast tests of one binary in one process, and still reports each one alone.
//!
//! A process per test costs a spawn, a dynamic link and libtest's start-up, which is
//! far more than a test that takes microseconds. A batch is one process,
//! `BIN --exact a b c … --test-threads 1`: libtest runs the named tests one after the
//! other and prints `test NAME ... ` as each starts and `ok` or `FAILED` as it ends,
//! so each test still gets its own outcome, start time and duration (and its CPU time,
//! read from `/proc` at each boundary).
//!
//! A batch is trusted only with passes. A test that fails or crashes in it, or runs
//! far longer than its history says, is handed back to be run again alone, and its
//! result comes from that run; the tests that the batch never reached are handed back
//! to run again. A test that exceeds its own timeout is reported as timed out, as it
//! would have been alone.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::capture::CaptureBuf;
use super::doctest_unit::{DoctestRun, WideUnit};
use super::libtest_output::{LINE_LIMIT, LineParser, Parsed, TestResult, strip_suffix};
use super::supervise::{self, AfterExit, Control, Limits, Supervised};
use super::{deadline, unix};
use crate::events::{BatchFailure, CapturedOutput, ExecutionResult, ExitStatus, Outcome, ResourceUsage};
use crate::plan::TestRef;

/// How one batch runs.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// The slot it runs in.
    pub slot: usize,
    /// The most bytes kept of each stream of the batch's output: stderr, a doctest
    /// unit's stdout, and the stdout of the test running now, for a timeout.
    pub output_cap: usize,
    /// How long leftovers get between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// The attempt number: 1, except for a doctest's retry.
    pub attempt: u32,
}

/// What the runner hears from a batch while it runs, by index into its tests.
#[derive(Debug)]
pub enum BatchEvent {
    /// A test started.
    Started(usize),
    /// A test ran for another slow-timeout period.
    Slow(usize, Duration),
    /// A test's final result in this batch: a pass, or a timeout.
    Finished(usize, ExecutionResult),
}

/// How a batch ended: the tests that need running again.
#[derive(Debug, Default)]
pub struct BatchEnd {
    /// Tests to run again alone, and why.
    pub rerun_alone: Vec<(usize, BatchFailure)>,
    /// Tests the batch never reached: they may be batched again.
    pub unrun: Vec<usize>,
    /// The batch's CPU time that no test was charged with: libtest's start-up and
    /// whatever ran between tests.
    pub unattributed_cpu: Duration,
}

/// The command for a batch: `BIN --exact --test-threads 1 --color never NAME…`; for
/// doctests, `cargo test --doc --package P … -- FILTERS [--skip S]… --test-threads 1 …`
/// (see [`crate::build::DocUnit`]).
fn command(tests: &[TestRef], spec: &BatchSpec) -> Command {
    let first = &tests[0];
    let mut threads = 1;
    let mut cmd = match &first.binary.doc {
        Some(unit) => {
            // Run where tempo runs, so that a relative `--manifest-path` still holds;
            // cargo runs rustdoc in the package's directory.
            let mut cmd = Command::new(&first.binary.path);
            cmd.args(unit.cargo_args.iter()).arg("--").args(doc_filters(tests, unit));
            threads = unit.threads;
            for skip in &unit.skip {
                cmd.arg("--skip").arg(skip);
            }
            cmd
        }
        None => {
            let mut cmd = Command::new(&first.binary.path);
            cmd.arg("--exact");
            cmd.args(tests.iter().map(|t| t.name.as_str()));
            cmd.current_dir(first.binary.package.root());
            cmd
        }
    };
    cmd.arg("--test-threads").arg(threads.to_string()).args(["--color", "never"]);
    if tests.iter().any(|t| t.ignored) {
        cmd.arg("--include-ignored");
    }
    cmd.envs(first.env.vars.iter().map(|(k, v)| (k, v)));
    // A test that checks for process-per-test isolation must not be told it has it.
    cmd.env_remove("NEXTEST_EXECUTION_MODE");
    cmd.env("TEMPO_EXECUTION_MODE", "batch");
    let attempt = spec.attempt.to_string();
    cmd.env("TEMPO_ATTEMPT", &attempt).env("NEXTEST_ATTEMPT", &attempt);
    cmd.env("TEMPO_SLOT", spec.slot.to_string()).env("NEXTEST_TEST_GLOBAL_SLOT", spec.slot.to_string());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.process_group(0);
    cmd
}

/// The name filters a doctest unit's run passes libtest: the unit's own, or, for a
/// unit of a whole package of which fewer tests run (a filter left the others out),
/// the source files of those that run, when no file's path has whitespace (which
/// rustdoc would split). libtest's filters match substrings, so a file's filter may
/// also select another file's doctests; their results are not looked at.
fn doc_filters(tests: &[TestRef], unit: &crate::build::DocUnit) -> Vec<String> {
    if !unit.filters.is_empty() {
        return unit.filters.clone();
    }
    let files = |names: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        let mut files: Vec<String> = names.map(|n| n.split(" - ").next().unwrap_or(n).to_owned()).collect();
        files.sort();
        files.dedup();
        files
    };
    let running = files(&mut tests.iter().map(|t| t.name.as_str()));
    let all = files(&mut unit.names.iter().map(String::as_str));
    if running == all || running.iter().any(|f| f.contains(char::is_whitespace)) { Vec::new() } else { running }
}

/// What a batch knows of the test running now.
struct Running {
    index: usize,
    started: Instant,
    cpu_at_start: Option<Duration>,
    /// `None` here and below: past what the clock can hold, so never.
    next_slow: Option<Instant>,
    /// Past this, the test has stalled the batch: it goes back to run alone.
    stall_at: Option<Instant>,
    /// Past this, the test has timed out by its own settings.
    terminate_at: Option<Instant>,
    /// The batch's raw output since the test started (head and tail within the cap),
    /// for a test that times out.
    output: CaptureBuf,
}

/// How long a test that the history calls fast may run in a batch before the batch
/// is ended and the test run alone: 20 times its expected duration, and never less
/// than this.
const MIN_STALL: Duration = Duration::from_secs(2);

fn stall_limit(test: &TestRef) -> Option<Duration> {
    // A doctest cannot run alone, so only its own timeout ends it.
    (test.expected_known && test.binary.doc.is_none()).then(|| test.expected.saturating_mul(20).max(MIN_STALL))
}

/// Runs `tests` (all of one binary, with the same environment) in one process.
/// `publish_group` learns the batch's process group (0 when it is gone); `on_event`
/// hears each start, slow period and final result as it happens.
pub fn run_batch(
    tests: &[TestRef],
    spec: &BatchSpec,
    run_start: Instant,
    publish_group: impl Fn(u32),
    on_event: impl FnMut(BatchEvent),
) -> BatchEnd {
    let child = match supervise::spawn(&mut command(tests, spec), publish_group) {
        Ok(child) => child,
        Err(_) => {
            // Each test, run alone, will report why it cannot start.
            let rerun_alone = (0..tests.len()).map(|i| (i, BatchFailure::Unreadable)).collect();
            return BatchEnd { rerun_alone, ..BatchEnd::default() };
        }
    };
    let mut batch = Batch::new(tests, spec, run_start, child.pid(), on_event);
    let limits = Limits { grace_period: spec.grace_period, after_exit: AfterExit::KillGroup, coalesce: false };
    let ended = child.run(&limits, &mut batch);
    batch.finish(ended.status, ended.usage)
}

/// A batch as the supervision loop sees it: its stdout is libtest's report of each
/// test, and its slow periods, stalls and timeouts are those of the test running now.
struct Batch<'a, E> {
    tests: &'a [TestRef],
    spec: &'a BatchSpec,
    run_start: Instant,
    /// The batch's process, whose CPU clock is read at each test's start and end.
    pid: u32,
    index: HashMap<&'a str, usize>,
    /// Which tests have their result from this batch, or are handed back.
    resolved: Vec<bool>,
    parser: LineParser,
    /// A doctest unit's output and failures, which settle its tests at the end.
    doc: Option<DoctestRun>,
    /// A doctest unit with several threads: which doctests run, and since when.
    wide: Option<(WideUnit, HashMap<usize, Instant>)>,
    running: Option<Running>,
    /// The test that stalled the batch, which was ended for it.
    ended_for: Option<(usize, BatchFailure)>,
    /// The test that timed out, which ended the batch.
    timed_out: Option<usize>,
    attributed_cpu: Duration,
    end: BatchEnd,
    on_event: E,
}

impl<'a, E: FnMut(BatchEvent)> Batch<'a, E> {
    fn new(tests: &'a [TestRef], spec: &'a BatchSpec, run_start: Instant, pid: u32, on_event: E) -> Self {
        // Room for the longest start line with a suffix (` - should panic`) and a result.
        let longest = tests.iter().map(|t| t.name.len()).max().unwrap_or(0);
        Batch {
            tests,
            spec,
            run_start,
            pid,
            index: tests.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect(),
            resolved: vec![false; tests.len()],
            parser: LineParser::with_limit(LINE_LIMIT.max(longest + 1024)),
            doc: tests[0].binary.doc.is_some().then(|| DoctestRun::new(spec.output_cap)),
            wide: tests[0]
                .binary
                .doc
                .as_ref()
                .filter(|u| u.threads > 1)
                .map(|u| (WideUnit::new(&u.names, &doc_filters(tests, u), &u.skip, u.threads), HashMap::new())),
            running: None,
            ended_for: None,
            timed_out: None,
            attributed_cpu: Duration::ZERO,
            end: BatchEnd::default(),
            on_event,
        }
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.index.get(name).or_else(|| self.index.get(strip_suffix(name))).copied()
    }

    /// libtest printed `test NAME ... `: the test's time, CPU and output start now.
    fn started(&mut self, name: &str, at: Instant) {
        let Some(i) = self.lookup(name) else { return };
        if self.resolved[i] {
            return;
        }
        self.running = Some(self.running_since(i, at));
        (self.on_event)(BatchEvent::Started(i));
    }

    fn running_since(&self, i: usize, at: Instant) -> Running {
        let test = &self.tests[i];
        let slow = &test.settings.slow_timeout;
        Running {
            index: i,
            started: at,
            cpu_at_start: if self.wide.is_some() { None } else { unix::process_cpu(self.pid) },
            next_slow: deadline(at, slow.period),
            stall_at: stall_limit(test).and_then(|d| deadline(at, d)),
            terminate_at: slow.terminate_after.and_then(|n| deadline(at, slow.period.saturating_mul(n))),
            output: CaptureBuf::new(self.spec.output_cap),
        }
    }

    /// A wide doctest unit began, or a result freed one of its threads: the doctests
    /// that start now (see [`WideUnit`]).
    fn wide_starts(&mut self, names: Vec<String>, at: Instant) {
        let Some((_, starts)) = self.wide.as_mut() else { return };
        let mut started = Vec::new();
        for name in names {
            if let Some(&i) = self.index.get(name.as_str())
                && !self.resolved[i]
            {
                starts.insert(i, at);
                started.push(i);
            }
        }
        for i in started {
            (self.on_event)(BatchEvent::Started(i));
        }
        self.watch_oldest();
    }

    /// In a wide unit the deadlines watched are those of the doctest that has run
    /// longest: it reaches a slow period or its timeout first.
    fn watch_oldest(&mut self) {
        let Some((_, starts)) = self.wide.as_ref() else { return };
        let oldest = starts.iter().min_by_key(|(i, at)| (**at, **i)).map(|(i, at)| (*i, *at));
        match oldest {
            Some((i, _)) if self.running.as_ref().is_some_and(|r| r.index == i) => {}
            Some((i, at)) => self.running = Some(self.running_since(i, at)),
            None => self.running = None,
        }
    }

    /// A test started before the previous one's result could be read: that one runs
    /// again alone.
    fn lost(&mut self, name: &str) {
        if let Some(i) = self.lookup(name)
            && !self.resolved[i]
        {
            self.resolved[i] = true;
            self.end.rerun_alone.push((i, BatchFailure::Unreadable));
        }
    }

    /// libtest printed a test's result.
    fn result(&mut self, name: &str, result: TestResult, at: Instant) {
        let Some(i) = self.lookup(name) else { return };
        if self.resolved[i] {
            return;
        }
        self.resolved[i] = true;
        let r = match self.wide.as_mut() {
            Some((_, starts)) => {
                let since = starts.remove(&i);
                if since.is_none() {
                    // Ended before its derived start (merged doctests run as two
                    // libtest runs, so the order is approximate there): it starts and
                    // ends now, so that every result follows its start.
                    (self.on_event)(BatchEvent::Started(i));
                }
                match self.running.take() {
                    Some(r) if r.index == i => Some(r),
                    other => {
                        self.running = other;
                        since.map(|at| self.running_since(i, at))
                    }
                }
            }
            None => self.running.take().filter(|r| r.index == i),
        };
        match result {
            TestResult::Ok => self.passed(i, r, at),
            TestResult::Failed | TestResult::Ignored => match self.doc.as_mut() {
                // Each doctest already ran in a process of its own: its failure is its result.
                Some(doc) => doc.failed(i, r.map_or(at, |r| r.started), at),
                None => self.end.rerun_alone.push((i, BatchFailure::Failed)),
            },
        }
    }

    fn passed(&mut self, i: usize, r: Option<Running>, at: Instant) {
        let (started, cpu0) = r.map_or((at, None), |r| (r.started, r.cpu_at_start));
        let cpu = match (cpu0, unix::process_cpu(self.pid)) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        self.attributed_cpu = self.attributed_cpu.saturating_add(cpu);
        let result = batch_result(Outcome::Pass, self.run_start, started, at, cpu, Vec::new());
        (self.on_event)(BatchEvent::Finished(i, result));
    }

    /// Settles what the batch left: the test it was ended for, the test a crash cut
    /// short, the tests it never reached, and a doctest unit's tests.
    fn finish(mut self, exit: ExitStatus, usage: ResourceUsage) -> BatchEnd {
        self.end.unattributed_cpu = usage.cpu().saturating_sub(self.attributed_cpu);
        self.settle_current(exit);
        let progressed = self.resolved.iter().any(|r| *r);
        for (i, done) in self.resolved.iter().enumerate() {
            if *done {
                continue;
            }
            if progressed {
                self.end.unrun.push(i);
            } else {
                // A batch that ran nothing will not do better next time: each test
                // runs alone and shows what is wrong.
                self.end.rerun_alone.push((i, BatchFailure::Unreadable));
            }
        }
        if let Some(doc) = self.doc.take() {
            doc.settle(self.tests, &mut self.end, exit, self.run_start, &mut self.on_event);
        }
        self.end
    }

    /// Settles the test that was running when the batch ended.
    fn settle_current(&mut self, exit: ExitStatus) {
        let now = Instant::now();
        if let Some(i) = self.timed_out {
            let r = self.running.take().expect("a test timed out while it ran");
            self.resolved[i] = true;
            let mut result = batch_result(Outcome::Timeout, self.run_start, r.started, now, Duration::ZERO, Vec::new());
            result.stdout = r.output.finish();
            (self.on_event)(BatchEvent::Finished(i, result));
        } else if let Some((i, why)) = self.ended_for.take() {
            self.resolved[i] = true;
            self.end.rerun_alone.push((i, why));
        } else if let Some(r) = self.running.take()
            && !self.resolved[r.index]
        {
            // The batch ended while this test ran: it failed in a way libtest could not
            // report (an abort, a signal, `process::exit`).
            self.resolved[r.index] = true;
            let why = match exit {
                ExitStatus::Code(0) => BatchFailure::Unreadable,
                other => BatchFailure::Crashed(other),
            };
            self.end.rerun_alone.push((r.index, why));
        }
    }
}

impl<E: FnMut(BatchEvent)> Supervised for Batch<'_, E> {
    fn on_stdout(&mut self, bytes: &[u8], at: Instant) {
        if let Some(doc) = self.doc.as_mut() {
            doc.output(bytes);
        }
        // A test's output starts with the read after its start line.
        if let Some(r) = self.running.as_mut() {
            r.output.push(bytes);
        }
        let parsed = self.parser.feed(bytes);
        if self.ended_for.is_some() || self.timed_out.is_some() {
            return;
        }
        if let Some((wide, _)) = self.wide.as_mut() {
            // rustdoc's first output is `running N tests`, as libtest starts them.
            let first = wide.begin();
            self.wide_starts(first, at);
            for parsed in parsed {
                // Each line is a result: the start it reads as is the result's time.
                if let Parsed::Result(name, result) = parsed {
                    self.result(&name, result, at);
                    let next = self.wide.as_mut().and_then(|(w, _)| w.completed());
                    self.wide_starts(next.into_iter().collect(), at);
                }
            }
            return;
        }
        for parsed in parsed {
            match parsed {
                Parsed::Started(name) => self.started(&name, at),
                Parsed::Lost(name) => self.lost(&name),
                Parsed::Result(name, result) => self.result(&name, result, at),
            }
        }
    }

    fn on_stderr(&mut self, bytes: &[u8]) {
        // Only a doctest unit reports what the batch printed there.
        if let Some(doc) = self.doc.as_mut() {
            doc.stderr(bytes);
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let r = self.running.as_ref()?;
        [r.next_slow, r.stall_at, r.terminate_at].into_iter().flatten().min()
    }

    fn on_deadline(&mut self, now: Instant) -> Control {
        let Some(r) = self.running.as_mut() else { return Control::Continue };
        if r.next_slow.is_some_and(|t| now >= t) {
            (self.on_event)(BatchEvent::Slow(r.index, now.duration_since(r.started)));
            r.next_slow = r.next_slow.and_then(|t| deadline(t, self.tests[r.index].settings.slow_timeout.period));
        }
        if r.terminate_at.is_some_and(|t| now >= t) {
            self.timed_out = Some(r.index);
        } else if r.stall_at.is_some_and(|t| now >= t) {
            self.ended_for = Some((r.index, BatchFailure::Stalled(now.duration_since(r.started))));
        }
        if self.timed_out.is_some() || self.ended_for.is_some() { Control::Terminate } else { Control::Continue }
    }
}

/// A test's result from a batch, timed from its start and result lines.
pub(super) fn batch_result(
    outcome: Outcome,
    run_start: Instant,
    started: Instant,
    ended: Instant,
    cpu: Duration,
    stdout: Vec<u8>,
) -> ExecutionResult {
    ExecutionResult {
        outcome,
        exit: None,
        start: started.saturating_duration_since(run_start),
        duration: ended.saturating_duration_since(started),
        usage: ResourceUsage { user: cpu, system: Duration::ZERO, max_rss: 0 },
        stdout: CapturedOutput { bytes: stdout, dropped: 0 },
        stderr: CapturedOutput::default(),
        error: None,
        leaked: false,
        batched: true,
        rerun: None,
        pressure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression test for issue 12: a batch computed its tests' deadlines with
    // `Instant + Duration` and `Duration * n`, which panicked on the longest durations.
    #[test]
    fn the_longest_durations_do_not_panic_a_batch() {
        use std::os::unix::fs::PermissionsExt;
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-libtest");
        std::fs::write(&script, "#!/bin/sh\nprintf 'test a ... ok\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut test = crate::plan::fake::test("a", |s| {
            s.slow_timeout.period = Duration::MAX;
            s.slow_timeout.terminate_after = Some(u32::MAX);
            s.slow_timeout.grace_period = Duration::MAX;
        });
        let inner = Arc::get_mut(&mut test).expect("just made");
        inner.binary = crate::plan::fake::binary_at(script, dir.path().to_owned());
        inner.expected = Duration::MAX;
        inner.expected_known = true;
        let spec = BatchSpec { slot: 0, output_cap: 1024, grace_period: Duration::MAX, attempt: 1 };
        let mut passed = Vec::new();
        let end = run_batch(
            &[test],
            &spec,
            Instant::now(),
            |_| {},
            |event| {
                if let BatchEvent::Finished(i, result) = event {
                    passed.push((i, result.outcome));
                }
            },
        );
        assert_eq!(passed, [(0, Outcome::Pass)], "{end:?}");
    }

    /// Tests `names` of a doctest unit of `a`, `b` and `c` run with two threads by
    /// the program at `script`, with their settings adjusted.
    fn wide_doc_tests(
        script: std::path::PathBuf,
        dir: &std::path::Path,
        names: &[&str],
        adjust: impl Fn(&mut crate::plan::TestSettings),
    ) -> Vec<TestRef> {
        use std::sync::Arc;
        let fake = crate::plan::fake::binary_at(script, dir.to_owned());
        let all: Arc<[String]> = ["a", "b", "c"].map(String::from).into();
        let binary = Arc::new(crate::build::TestBinary {
            id: fake.id.clone(),
            path: fake.path.clone(),
            kind: fake.kind,
            filter_kind: "doctest",
            target_name: fake.target_name.clone(),
            package: Arc::clone(&fake.package),
            build_script: None,
            doc: Some(crate::build::DocUnit {
                filters: vec![],
                skip: vec![],
                cargo_args: Arc::from(vec![std::ffi::OsString::from("test")]),
                threads: 2,
                names: all,
            }),
        });
        names
            .iter()
            .map(|name| {
                let mut test = crate::plan::fake::test(name, &adjust);
                Arc::get_mut(&mut test).expect("just made").binary = Arc::clone(&binary);
                test
            })
            .collect()
    }

    /// In a wide unit the doctest that has run longest is watched: `a` passes, `b`
    /// then hangs past its timeout and is reported as timed out, the unit's process
    /// group is ended (the script's sleeping child with it), and `c`, which libtest
    /// had started in `a`'s place, goes back to the queue.
    #[test]
    fn a_wide_doctest_unit_times_out_its_longest_running_doctest() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-cargo");
        let body = "#!/bin/sh\nprintf '\\nrunning 3 tests\\n'\nprintf 'test a ... ok\\n'\nsleep 30\n";
        std::fs::write(&script, body).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tests = wide_doc_tests(script, dir.path(), &["a", "b", "c"], |s| {
            s.slow_timeout.period = Duration::from_millis(200);
            s.slow_timeout.terminate_after = Some(2);
        });
        let spec = BatchSpec { slot: 0, output_cap: 1 << 16, grace_period: Duration::from_millis(200), attempt: 1 };
        let mut finished = HashMap::new();
        let begin = Instant::now();
        let end = run_batch(
            &tests,
            &spec,
            begin,
            |_| {},
            |event| {
                if let BatchEvent::Finished(i, result) = event {
                    finished.insert(tests[i].name.clone(), result.outcome);
                }
            },
        );
        assert!(begin.elapsed() < Duration::from_secs(20), "the unit was ended, not waited for");
        assert_eq!(finished.get("a"), Some(&Outcome::Pass));
        assert_eq!(finished.get("b"), Some(&Outcome::Timeout), "{finished:?}");
        assert_eq!(end.unrun, [2], "{end:?}");
    }

    /// A doctest unit with two libtest threads prints only results. `a` and `b` start
    /// with the run; `c` starts when `a`'s result comes, 0.3 s in, so its duration is
    /// the 0.3 s since then, not the 0.6 s since the run began; a failure stays a
    /// failure with the output libtest printed for it, and the threads are passed on.
    #[test]
    fn a_wide_doctest_unit_derives_each_start_from_the_results_before_it() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake-cargo");
        let args = dir.path().join("args");
        let body = format!(
            "#!/bin/sh\necho \"$*\" > '{}'\nprintf '\\nrunning 3 tests\\n'\nsleep 0.3\nprintf 'test a ... ok\\n'\n\
             sleep 0.3\nprintf 'test c ... FAILED\\n'\nprintf 'test b ... ok\\n'\n\
             printf '\\nfailures:\\n\\n---- c stdout ----\\nc broke\\n\\nfailures:\\n    c\\n'\nexit 101\n",
            args.display()
        );
        std::fs::write(&script, body).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tests = wide_doc_tests(script, dir.path(), &["c", "a", "b"], |_| {});
        let spec = BatchSpec { slot: 0, output_cap: 1 << 16, grace_period: Duration::from_secs(1), attempt: 1 };
        let mut started = Vec::new();
        let mut finished = HashMap::new();
        let begin = Instant::now();
        run_batch(
            &tests,
            &spec,
            begin,
            |_| {},
            |event| match event {
                BatchEvent::Started(i) => started.push(tests[i].name.clone()),
                BatchEvent::Finished(i, result) => {
                    finished.insert(tests[i].name.clone(), result);
                }
                BatchEvent::Slow(..) => {}
            },
        );
        assert_eq!(started, ["a", "b", "c"]);
        let ms = |name: &str| finished[name].duration.as_millis();
        assert!(ms("a") >= 250 && ms("c") >= 250, "a took {} ms, c {} ms", ms("a"), ms("c"));
        assert!(ms("c") + 150 < ms("b"), "c took {} ms, timed from a's result; b {} ms", ms("c"), ms("b"));
        assert_eq!(finished["a"].outcome, Outcome::Pass);
        assert_eq!(finished["c"].outcome, Outcome::Fail(ExitStatus::Code(101)));
        assert!(String::from_utf8_lossy(&finished["c"].stdout.bytes).contains("c broke"));
        let args = std::fs::read_to_string(&args).unwrap();
        assert!(args.contains("--test-threads 2"), "{args}");
    }
}
