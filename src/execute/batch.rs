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
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::capture::CaptureBuf;
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

/// A line of libtest's pretty output, as far as a batch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `test NAME ... ` was printed: the test started.
    Started(String),
    /// Its result: `ok`, `FAILED` or `ignored`.
    Result(String, TestResult),
    /// A test started before the previous one's result could be read.
    Lost(String),
}

/// A test's result as libtest prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestResult {
    /// `ok`.
    Ok,
    /// `FAILED`.
    Failed,
    /// `ignored`.
    Ignored,
}

fn result_word(s: &str) -> Option<TestResult> {
    match s.trim_end() {
        "ok" => Some(TestResult::Ok),
        "FAILED" => Some(TestResult::Failed),
        w if w == "ignored" || w.starts_with("ignored, ") => Some(TestResult::Ignored),
        _ => None,
    }
}

/// Reads libtest's pretty output as it arrives, in pieces of any size.
///
/// With one test thread libtest prints `test NAME ... ` (and flushes) before the test
/// runs and the result word after it, so a start is seen at once, without waiting for
/// the end of the line. Output a test writes straight to the process's stdout (not
/// through `print!`, which libtest captures) can land between the two: a line of it is
/// skipped, and a result that is not alone on its line is not trusted.
///
/// A test may also print a line with no end: the parser keeps at most `limit` bytes of
/// a line (enough for `test NAME ... ` and a result word), and each byte fed is looked
/// at a bounded number of times, so memory stays flat and the work linear whatever
/// the test prints.
#[derive(Debug)]
pub struct LineParser {
    /// The current line's first bytes, at most `limit` of them.
    partial: Vec<u8>,
    /// Whether the current line was longer than `limit`: only its start can count.
    truncated: bool,
    /// Where the first ` ... ` of the current line starts, once seen.
    separator: Option<usize>,
    /// Where the search for that separator goes on.
    searched: usize,
    limit: usize,
    started_on_line: bool,
    current: Option<String>,
}

/// The most bytes of one line a [`LineParser`] keeps by default.
pub const LINE_LIMIT: usize = 64 * 1024;

impl Default for LineParser {
    fn default() -> LineParser {
        LineParser::with_limit(LINE_LIMIT)
    }
}

const SEPARATOR: &[u8] = b" ... ";

impl LineParser {
    /// A parser that keeps at most `limit` bytes of a line: the longest `test NAME ... `
    /// line it must recognise, and more.
    pub fn with_limit(limit: usize) -> LineParser {
        LineParser {
            partial: Vec::new(),
            truncated: false,
            separator: None,
            searched: 0,
            limit,
            started_on_line: false,
            current: None,
        }
    }

    /// Feeds bytes, returning what they completed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            self.keep(&bytes[..nl]);
            bytes = &bytes[nl + 1..];
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            if self.truncated {
                // Only a start can be read from a line's head; its result would
                // follow whatever the line lost.
                if let Some((name, _)) = split_start(&line)
                    && !self.started_on_line
                {
                    self.start(name.to_owned(), &mut out);
                }
            } else {
                self.complete_line(&line, &mut out);
            }
            self.partial.clear();
            self.truncated = false;
            self.separator = None;
            self.searched = 0;
            self.started_on_line = false;
        }
        self.keep(bytes);
        // A start is a line that is `test NAME ... ` so far, its first separator at
        // its end (as `split_start` reads it).
        if !self.started_on_line
            && self.partial.starts_with(b"test ")
            && let Some(at) = self.find_separator()
            && at + SEPARATOR.len() == self.partial.len()
            && !self.truncated
            && let Some((name, rest)) = split_start(&String::from_utf8_lossy(&self.partial))
            && rest.is_empty()
        {
            self.start(name.to_owned(), &mut out);
            self.started_on_line = true;
        }
        out
    }

    /// Appends to the current line what fits within the limit.
    fn keep(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The first separator in the line, searching each byte once (save the few a
    /// separator cut in two left over).
    fn find_separator(&mut self) -> Option<usize> {
        if self.separator.is_none() {
            let from = self.searched.min(self.partial.len());
            if let Some(i) = self.partial[from..].windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
                self.separator = Some(from + i);
            } else {
                self.searched = self.partial.len().saturating_sub(SEPARATOR.len() - 1);
            }
        }
        self.separator
    }

    /// The bytes of the current line held now, for tests of the bound.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.partial.capacity()
    }

    /// The test that started and has no result yet.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    fn start(&mut self, name: String, out: &mut Vec<Parsed>) {
        if let Some(prev) = self.current.take() {
            out.push(Parsed::Lost(prev));
        }
        out.push(Parsed::Started(name.clone()));
        self.current = Some(name);
    }

    fn complete_line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        if let Some((name, rest)) = split_start(line) {
            if !self.started_on_line {
                self.start(name.to_owned(), out);
            }
            if let Some(result) = result_word(rest)
                && let Some(name) = self.current.take()
            {
                out.push(Parsed::Result(name, result));
            }
            return;
        }
        if self.current.is_some()
            && let Some(result) = result_word(line)
        {
            let name = self.current.take().expect("checked");
            out.push(Parsed::Result(name, result));
        }
    }
}

/// Splits `test NAME ... REST` into NAME and REST.
fn split_start(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("test ")?;
    let at = rest.find(" ... ")?;
    Some((&rest[..at], &rest[at + 5..]))
}

/// The command for a batch: `BIN --exact --test-threads 1 --color never NAME…`; for
/// doctests, `cargo test --doc --package P … -- FILTERS [--skip S]… --test-threads 1 …`
/// (see [`crate::build::DocUnit`]).
fn command(tests: &[TestRef], spec: &BatchSpec) -> Command {
    let first = &tests[0];
    let mut cmd = match &first.binary.doc {
        Some(unit) => {
            // Run where tempo runs, so that a relative `--manifest-path` still holds;
            // cargo runs rustdoc in the package's directory.
            let mut cmd = Command::new(&first.binary.path);
            cmd.args(unit.cargo_args.iter()).arg("--").args(unit.filters.iter());
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
    cmd.args(["--test-threads", "1", "--color", "never"]);
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

use std::os::unix::process::CommandExt;

/// What a batch knows of the test running now.
struct Running {
    index: usize,
    started: Instant,
    cpu_at_start: Option<Duration>,
    periods: u32,
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
    mut on_event: impl FnMut(BatchEvent),
) -> BatchEnd {
    let mut end = BatchEnd::default();
    let index: HashMap<&str, usize> = tests.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let mut resolved = vec![false; tests.len()];
    // Registered until the end of this function, after the batch is reaped.
    let (mut child, _leader) = match unix::spawn_leader(&mut command(tests, spec)) {
        Ok(spawned) => spawned,
        Err(_) => {
            // Each test, run alone, will report why it cannot start.
            end.rerun_alone = (0..tests.len()).map(|i| (i, BatchFailure::Unreadable)).collect();
            return end;
        }
    };
    let pid = child.id();
    publish_group(pid);
    let pidfd = unix::pidfd_open(pid);
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    if let Some(out) = &stdout {
        unix::grow_pipe(out);
    }
    // Room for the longest start line with a suffix (` - should panic`) and a result.
    let longest = tests.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut parser = LineParser::with_limit(LINE_LIMIT.max(longest + 1024));
    let doc = tests[0].binary.doc.is_some();
    // A doctest unit's whole output, where libtest prints its failures: head and tail
    // within the cap. (The output of the test running now is kept with it.)
    let mut raw = doc.then(|| CaptureBuf::new(spec.output_cap));
    let mut err_buf = CaptureBuf::new(spec.output_cap);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut running: Option<Running> = None;
    let mut exited = false;
    let mut ended_for: Option<(usize, BatchFailure)> = None;
    let mut timed_out: Option<usize> = None;
    let mut kill_at: Option<Instant> = None;
    let mut attributed_cpu = Duration::ZERO;
    let lookup = |name: &str| index.get(name).or_else(|| index.get(strip_suffix(name))).copied();
    let mut doc_failures: Vec<(usize, Instant, Instant)> = Vec::new();

    let stat_cpu = |pid: u32| unix::process_cpu(pid);
    loop {
        if exited && stdout.is_none() && stderr.is_none() {
            break;
        }
        let now = Instant::now();
        if let Some(at) = kill_at
            && now >= at
        {
            unix::signal_group(pid, unix::SIGKILL);
            kill_at = None;
        }
        let mut wake_at = kill_at;
        if let Some(r) = running.as_mut()
            && kill_at.is_none()
            && ended_for.is_none()
            && timed_out.is_none()
        {
            let test = &tests[r.index];
            if r.next_slow.is_some_and(|t| now >= t) {
                r.periods = r.periods.saturating_add(1);
                on_event(BatchEvent::Slow(r.index, now.duration_since(r.started)));
                r.next_slow = r.next_slow.and_then(|t| deadline(t, test.settings.slow_timeout.period));
            }
            if r.terminate_at.is_some_and(|t| now >= t) {
                timed_out = Some(r.index);
            } else if r.stall_at.is_some_and(|t| now >= t) {
                ended_for = Some((r.index, BatchFailure::Stalled(now.duration_since(r.started))));
            }
            if timed_out.is_some() || ended_for.is_some() {
                unix::signal_group(pid, unix::SIGTERM);
                kill_at = deadline(now, spec.grace_period);
                wake_at = kill_at;
            } else {
                wake_at = [r.next_slow, r.stall_at, r.terminate_at].into_iter().flatten().min();
            }
        }
        if pidfd.is_none() && !exited {
            wake_at = [wake_at, deadline(now, Duration::from_millis(10))].into_iter().flatten().min();
        }
        let timeout = wake_at.map(|d| d.saturating_duration_since(now));
        let pidfd_ref = if exited { None } else { pidfd.as_ref().map(|f| f as _) };
        let ready =
            unix::poll_readable([stdout.as_ref().map(|f| f as _), stderr.as_ref().map(|f| f as _), pidfd_ref], timeout)
                .unwrap_or([stdout.is_some(), stderr.is_some(), false]);
        if ready[0]
            && let Some(out) = stdout.as_mut()
        {
            match out.read(&mut chunk) {
                Ok(0) | Err(_) => stdout = None,
                Ok(n) => {
                    let at = Instant::now();
                    if let Some(raw) = raw.as_mut() {
                        raw.push(&chunk[..n]);
                    }
                    // A test's output starts with the read after its start line.
                    if let Some(r) = running.as_mut() {
                        r.output.push(&chunk[..n]);
                    }
                    for parsed in parser.feed(&chunk[..n]) {
                        if ended_for.is_some() || timed_out.is_some() {
                            continue;
                        }
                        match parsed {
                            Parsed::Started(name) => {
                                let Some(i) = lookup(&name) else { continue };
                                if resolved[i] {
                                    continue;
                                }
                                let test = &tests[i];
                                let slow = &test.settings.slow_timeout;
                                running = Some(Running {
                                    index: i,
                                    started: at,
                                    cpu_at_start: stat_cpu(pid),
                                    periods: 0,
                                    next_slow: deadline(at, slow.period),
                                    stall_at: stall_limit(test).and_then(|d| deadline(at, d)),
                                    terminate_at: slow
                                        .terminate_after
                                        .and_then(|n| deadline(at, slow.period.saturating_mul(n))),
                                    output: CaptureBuf::new(spec.output_cap),
                                });
                                on_event(BatchEvent::Started(i));
                            }
                            Parsed::Lost(name) => {
                                if let Some(i) = lookup(&name)
                                    && !resolved[i]
                                {
                                    resolved[i] = true;
                                    end.rerun_alone.push((i, BatchFailure::Unreadable));
                                }
                            }
                            Parsed::Result(name, result) => {
                                let Some(i) = lookup(&name) else { continue };
                                if resolved[i] {
                                    continue;
                                }
                                resolved[i] = true;
                                let r = running.take().filter(|r| r.index == i);
                                match result {
                                    TestResult::Ok => {
                                        let (started, cpu0) = r.map_or((at, None), |r| (r.started, r.cpu_at_start));
                                        let cpu = match (cpu0, stat_cpu(pid)) {
                                            (Some(a), Some(b)) => b.saturating_sub(a),
                                            _ => Duration::ZERO,
                                        };
                                        attributed_cpu = attributed_cpu.saturating_add(cpu);
                                        on_event(BatchEvent::Finished(
                                            i,
                                            batch_result(Outcome::Pass, run_start, started, at, cpu, Vec::new()),
                                        ));
                                    }
                                    TestResult::Failed | TestResult::Ignored if doc => {
                                        // Each doctest already ran in a process of its own:
                                        // its failure is its result.
                                        let started = r.map_or(at, |r| r.started);
                                        doc_failures.push((i, started, at));
                                    }
                                    TestResult::Failed | TestResult::Ignored => {
                                        end.rerun_alone.push((i, BatchFailure::Failed));
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if ready[1]
            && let Some(err) = stderr.as_mut()
        {
            match err.read(&mut chunk) {
                Ok(0) | Err(_) => stderr = None,
                Ok(n) => err_buf.push(&chunk[..n]),
            }
        }
        if !exited && (ready[2] || (pidfd.is_none() && unix::has_exited(pid))) {
            exited = true;
            // Whatever the batch left behind must not keep its pipes open forever. The
            // unreaped leader keeps the group id valid meanwhile.
            unix::signal_group(pid, unix::SIGKILL);
        }
    }
    let (exit, usage) = unix::reap(pid).unwrap_or((ExitStatus::Code(-1), ResourceUsage::default()));
    end.unattributed_cpu = usage.cpu().saturating_sub(attributed_cpu);
    if unix::group_alive(pid) {
        unix::signal_group(pid, unix::SIGKILL);
    }
    publish_group(0);

    let now = Instant::now();
    if let Some(i) = timed_out {
        let r = running.take().expect("a test timed out while it ran");
        resolved[i] = true;
        let mut result = batch_result(Outcome::Timeout, run_start, r.started, now, Duration::ZERO, Vec::new());
        result.stdout = r.output.finish();
        on_event(BatchEvent::Finished(i, result));
    } else if let Some((i, why)) = ended_for {
        resolved[i] = true;
        end.rerun_alone.push((i, why));
    } else if let Some(r) = running.take()
        && !resolved[r.index]
    {
        // The batch ended while this test ran: it failed in a way libtest could not
        // report (an abort, a signal, `process::exit`).
        resolved[r.index] = true;
        let why = match exit {
            ExitStatus::Code(0) => BatchFailure::Unreadable,
            other => BatchFailure::Crashed(other),
        };
        end.rerun_alone.push((r.index, why));
    }
    let progressed = resolved.iter().any(|r| *r);
    for (i, done) in resolved.iter().enumerate() {
        if !done {
            if progressed {
                end.unrun.push(i);
            } else {
                // A batch that ran nothing will not do better next time: each test
                // runs alone and shows what is wrong.
                end.rerun_alone.push((i, BatchFailure::Unreadable));
            }
        }
    }
    if let Some(raw) = raw {
        let raw = raw.finish().bytes;
        settle_doctests(tests, &mut end, doc_failures, &raw, err_buf.finish(), exit, run_start, &mut on_event);
    }
    end
}

/// libtest's name for a test as it prints it, back to the name it lists: it adds
/// ` - should panic` to a `#[should_panic]` test, and rustdoc adds ` - compile` or
/// ` - compile fail` to a `no_run` or `compile_fail` doctest.
fn strip_suffix(name: &str) -> &str {
    [" - should panic", " - compile fail", " - compile"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

/// Doctests cannot run alone (see [`crate::build::DocUnit`]), and each already runs
/// in a process of its own, so a unit's failures are final: the failed ones get the
/// output libtest printed for them, and the ones a crash or stall left without a
/// result fail with what rustdoc printed.
#[expect(clippy::too_many_arguments, reason = "the unit's leftovers, each needed")]
fn settle_doctests(
    tests: &[TestRef],
    end: &mut BatchEnd,
    failures: Vec<(usize, Instant, Instant)>,
    raw: &[u8],
    stderr: CapturedOutput,
    exit: ExitStatus,
    run_start: Instant,
    on_event: &mut impl FnMut(BatchEvent),
) {
    let sections = failure_sections(&String::from_utf8_lossy(raw));
    for (i, started, ended) in failures {
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

/// The `---- NAME stdout ----` sections libtest prints for failed tests, by test name
/// (with rustdoc's ` - compile` suffixes removed).
fn failure_sections(text: &str) -> HashMap<String, String> {
    let mut sections = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches('\n');
        if let Some(name) = trimmed.strip_prefix("---- ").and_then(|r| r.strip_suffix(" stdout ----")) {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body);
            }
            current = Some((strip_suffix(name).to_owned(), String::new()));
        } else if trimmed == "failures:" || trimmed.starts_with("test result: ") {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body);
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    if let Some((n, body)) = current {
        sections.insert(n, body);
    }
    sections
}

fn batch_result(
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

    fn feed_all(pieces: &[&str]) -> Vec<Parsed> {
        let mut p = LineParser::default();
        pieces.iter().flat_map(|s| p.feed(s.as_bytes())).collect()
    }

    fn started(n: &str) -> Parsed {
        Parsed::Started(n.into())
    }

    fn result(n: &str, r: TestResult) -> Parsed {
        Parsed::Result(n.into(), r)
    }

    #[test]
    fn a_start_is_seen_before_its_line_ends() {
        let mut p = LineParser::default();
        assert_eq!(p.feed(b"\nrunning 2 tests\ntest a::b ... "), vec![started("a::b")]);
        assert_eq!(p.current(), Some("a::b"));
        assert_eq!(p.feed(b"ok\ntest c ... "), vec![result("a::b", TestResult::Ok), started("c")]);
        assert_eq!(p.feed(b"FAILED\n\nfailures:\n"), vec![result("c", TestResult::Failed)]);
        assert_eq!(p.current(), None);
    }

    #[test]
    fn pieces_split_anywhere_give_the_same_results() {
        let text =
            "\nrunning 3 tests\ntest x ... ok\ntest y ... FAILED\ntest z ... ignored, slow\n\ntest result: FAILED.\n";
        let whole = feed_all(&[text]);
        assert_eq!(
            whole,
            vec![
                started("x"),
                result("x", TestResult::Ok),
                started("y"),
                result("y", TestResult::Failed),
                started("z"),
                result("z", TestResult::Ignored),
            ]
        );
        for cut in 0..text.len() {
            assert_eq!(feed_all(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
        let bytes: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(feed_all(&refs), whole, "one byte at a time");
    }

    #[test]
    fn raw_output_between_start_and_result_is_skipped() {
        assert_eq!(
            feed_all(&["test a ... ", "direct write\n", "more\n", "ok\n"]),
            vec![started("a"), result("a", TestResult::Ok)]
        );
    }

    #[test]
    fn a_result_glued_to_raw_output_is_not_trusted() {
        assert_eq!(
            feed_all(&["test a ... ", "no newlineok\n", "test b ... ok\n"]),
            vec![started("a"), Parsed::Lost("a".into()), started("b"), result("b", TestResult::Ok)]
        );
    }

    #[test]
    fn doctest_names_with_spaces_parse() {
        assert_eq!(
            feed_all(&["test src/lib.rs - add (line 5) ... ok\n"]),
            vec![started("src/lib.rs - add (line 5)"), result("src/lib.rs - add (line 5)", TestResult::Ok)]
        );
    }

    #[test]
    fn failure_sections_are_found_by_test_name() {
        let text = "test a ... FAILED\ntest b - compile fail ... FAILED\n\nfailures:\n\n---- a stdout ----\nboom\nline 2\n\n---- b - compile fail stdout ----\nit compiled\n\nfailures:\n    a\n\ntest result: FAILED. 0 passed; 2 failed\n";
        let sections = failure_sections(text);
        assert_eq!(sections["a"], "boom\nline 2\n\n");
        assert_eq!(sections["b"], "it compiled\n\n");
        assert_eq!(strip_suffix("src/lib.rs - f (line 3) - compile"), "src/lib.rs - f (line 3)");
        assert_eq!(strip_suffix("bytes::get_i32_be_overflow - should panic"), "bytes::get_i32_be_overflow");
    }

    /// Regression: a line with no end grew without bound, and each piece of it was
    /// decoded again with all before it (100 MiB cost tempo 180 MB; 16 MiB, 1.2 s).
    #[test]
    fn an_endless_line_is_held_within_the_limit() {
        for head in ["", "test a ... ", "test x", "ok"] {
            let mut p = LineParser::with_limit(1024);
            let mut events = p.feed(b"running 1 test\n");
            events.extend(p.feed(head.as_bytes()));
            let piece = vec![b'y'; 4093];
            for _ in 0..4096 {
                events.extend(p.feed(&piece));
                assert!(p.held() <= 2 * 1024, "{head:?}: the parser holds {} bytes", p.held());
            }
            events.extend(p.feed(b"ok\ntest b ... ok\n"));
            let mut want = if head == "test a ... " { vec![started("a")] } else { vec![] };
            if head == "test a ... " {
                want.push(Parsed::Lost("a".into()));
            }
            want.extend([started("b"), result("b", TestResult::Ok)]);
            assert_eq!(events, want, "{head:?}");
        }
    }

    #[test]
    fn a_start_at_the_head_of_an_overlong_line_is_still_seen() {
        let mut p = LineParser::with_limit(64);
        let line = format!("test a ... {}", "z".repeat(1000));
        assert_eq!(p.feed(line.as_bytes()), vec![]);
        assert_eq!(p.feed(b"ok\n"), vec![started("a")]);
        assert_eq!(p.current(), Some("a"));
    }

    /// The parser as it was before lines were bounded: the reference for what the
    /// bounded one must still read.
    #[derive(Default)]
    struct Reference {
        partial: Vec<u8>,
        inner: LineParser,
    }

    impl Reference {
        fn feed(&mut self, mut bytes: &[u8]) -> Vec<Parsed> {
            let mut out = Vec::new();
            while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&bytes[..nl]);
                bytes = &bytes[nl + 1..];
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
                self.inner.complete_line(&line, &mut out);
                self.inner.started_on_line = false;
            }
            self.partial.extend_from_slice(bytes);
            if !self.inner.started_on_line
                && let Some((name, rest)) = split_start(&String::from_utf8_lossy(&self.partial))
                && rest.is_empty()
            {
                self.inner.start(name.to_owned(), &mut out);
                self.inner.started_on_line = true;
            }
            out
        }
    }

    #[test]
    fn the_bounded_parser_reads_what_the_unbounded_one_read() {
        let tokens = ["test ", "a", "b::c", " ... ", "...", " ", "ok", "FAILED", "ignored, why", "\n", "x", "\u{e9}"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..2000 {
            let text: String = (0..next(40)).map(|_| tokens[next(tokens.len())]).collect();
            let bytes = text.as_bytes();
            let (mut bounded, mut reference) = (LineParser::with_limit(4096), Reference::default());
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + 1 + next(8)).min(bytes.len());
                got.extend(bounded.feed(&bytes[at..end]));
                want.extend(reference.feed(&bytes[at..end]));
                at = end;
            }
            assert_eq!(got, want, "case {case}: {text:?}");
        }
    }

    #[test]
    fn lines_after_the_run_are_not_results() {
        assert_eq!(feed_all(&["test a ... ok\n", "ok\n", "FAILED\n"]), vec![started("a"), result("a", TestResult::Ok)]);
    }
}
