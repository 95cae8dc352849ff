//! Runs one test attempt in its own process and watches it until it is over.
//!
//! This is the hot path: one spawn per test. The binary is started directly (no shell,
//! no re-exec of tempo) in a new process group, with stdin closed and stdout and stderr
//! piped, and watched by the loop in `supervise.rs`; this file says what a test
//! alone means to it: its output is its own, and its slow periods count from its start.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::capture::CaptureBuf;
use super::supervise::{self, AfterExit, Control, Limits, Supervised};
use super::{deadline, unix};
use crate::env::per_test_vars;
use crate::events::{ExecutionResult, ExitStatus, Outcome};
use crate::plan::TestInstance;

/// How to run one attempt.
#[derive(Debug, Clone)]
pub struct AttemptSpec {
    /// Attempt number, 1-based.
    pub attempt: u32,
    /// The slot it runs in.
    pub slot: usize,
    /// Capture output (false: inherit tempo's stdout and stderr).
    pub capture: bool,
    /// The most bytes kept per stream.
    pub output_cap: usize,
    /// How long output pipes may stay open after the test exited before it counts as leaky.
    pub leak_timeout: Duration,
    /// Whether a leak fails a test that otherwise passed (`leak-timeout.result = "fail"`).
    pub leak_fails: bool,
    /// How long leftover and timed-out processes get between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// How often a running test is reported slow.
    pub slow_period: Duration,
    /// End the test after this many slow periods.
    pub terminate_after: Option<u32>,
    /// Whether a timed-out test counts as passed (`on-timeout = "pass"`).
    pub timeout_passes: bool,
}

/// Builds the command for one test: `BIN --exact NAME --nocapture [--ignored]`.
fn command(test: &TestInstance, spec: &AttemptSpec) -> Command {
    let mut cmd = Command::new(&test.binary.path);
    cmd.arg("--exact").arg(&test.name).arg("--nocapture");
    if test.ignored {
        cmd.arg("--ignored");
    }
    cmd.args(test.settings.run_extra_args.iter());
    cmd.current_dir(test.binary.package.root());
    cmd.envs(test.env.vars.iter().map(|(k, v)| (k, v)));
    for (k, v) in per_test_vars(&test.name, spec.attempt, spec.slot) {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null());
    if spec.capture {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    // A group of its own, so that the test and everything it starts can be signalled as one.
    cmd.process_group(0);
    cmd
}

/// Runs one attempt to completion. `run_start` anchors the result's start time;
/// `publish_group` learns the test's process group id when it starts and 0 once the
/// group is gone, so that signals can be forwarded to it meanwhile; `on_slow` is
/// called with the elapsed time at the end of each slow-timeout period.
pub fn run_attempt(
    test: &TestInstance,
    spec: &AttemptSpec,
    run_start: Instant,
    publish_group: impl Fn(u32),
    on_slow: impl FnMut(Duration),
) -> ExecutionResult {
    let started = Instant::now();
    let start = started.saturating_duration_since(run_start);
    let child = match supervise::spawn(&mut command(test, spec), publish_group) {
        Ok(child) => child,
        Err(e) => {
            let error = format!("failed to start {}: {e}", test.binary.path.display());
            return ExecutionResult::exec_fail(start, started.elapsed(), error, false);
        }
    };
    let mut attempt = Attempt {
        spec,
        started,
        on_slow,
        out_buf: CaptureBuf::new(spec.output_cap),
        err_buf: CaptureBuf::new(spec.output_cap),
        periods: 0,
        // `None` where a deadline is past what the clock can hold: it never comes.
        next_slow: deadline(started, spec.slow_period),
        timed_out: false,
    };
    let limits = Limits {
        grace_period: spec.grace_period,
        after_exit: AfterExit::WaitForLeaks(spec.leak_timeout),
        coalesce: true,
    };
    let ended = child.run(&limits, &mut attempt);
    if ended.leaked {
        // Whatever holds the output may have left the group (setsid): find it by the
        // variables it inherited from this attempt.
        unix::sweep(&attempt_markers(test, spec.attempt), spec.grace_period);
    }
    let outcome = match ended.status {
        _ if attempt.timed_out && spec.timeout_passes => Outcome::Pass,
        _ if attempt.timed_out => Outcome::Timeout,
        ExitStatus::Code(0) if ended.leaked && spec.leak_fails => Outcome::LeakFail,
        ExitStatus::Code(0) => Outcome::Pass,
        other => Outcome::Fail(other),
    };
    ExecutionResult {
        outcome,
        exit: Some(ended.status),
        start,
        duration: ended.exited_at.duration_since(started),
        usage: ended.usage,
        stdout: attempt.out_buf.finish(),
        stderr: attempt.err_buf.finish(),
        error: None,
        leaked: ended.leaked,
        batched: false,
        rerun: None,
        pressure: None,
    }
}

/// A test attempt as the supervision loop sees it: its output is captured whole
/// (within the cap), and its slow periods count from its start.
struct Attempt<'a, S> {
    spec: &'a AttemptSpec,
    started: Instant,
    on_slow: S,
    out_buf: CaptureBuf,
    err_buf: CaptureBuf,
    periods: u32,
    next_slow: Option<Instant>,
    timed_out: bool,
}

impl<S: FnMut(Duration)> Supervised for Attempt<'_, S> {
    fn on_stdout(&mut self, bytes: &[u8], _at: Instant) {
        self.out_buf.push(bytes);
    }

    fn on_stderr(&mut self, bytes: &[u8]) {
        self.err_buf.push(bytes);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.next_slow
    }

    fn on_deadline(&mut self, now: Instant) -> Control {
        if self.next_slow.is_none_or(|t| now < t) {
            return Control::Continue;
        }
        self.periods = self.periods.saturating_add(1);
        (self.on_slow)(now.duration_since(self.started));
        self.next_slow = self.next_slow.and_then(|t| deadline(t, self.spec.slow_period));
        if self.spec.terminate_after.is_some_and(|n| self.periods >= n) {
            self.timed_out = true;
            return Control::Terminate;
        }
        Control::Continue
    }
}

/// The environment entries that every process started by this attempt inherits.
fn attempt_markers(test: &TestInstance, attempt: u32) -> Vec<String> {
    let run_id = test.env.vars.iter().find(|(k, _)| k == "TEMPO_RUN_ID").map(|(_, v)| v.to_string_lossy().into_owned());
    let mut markers = vec![
        format!("TEMPO_BINARY_ID={}", test.binary_id()),
        format!("TEMPO_TEST_NAME={}", test.name),
        format!("TEMPO_ATTEMPT={attempt}"),
    ];
    markers.extend(run_id.map(|id| format!("TEMPO_RUN_ID={id}")));
    markers
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use super::*;
    use crate::plan::fake;

    /// A test that is really the program at `path`, run in `/`.
    fn program(path: &str) -> crate::plan::TestRef {
        let mut test = fake::test("t", |_| {});
        Arc::get_mut(&mut test).expect("just made").binary = fake::binary_at(PathBuf::from(path), PathBuf::from("/"));
        test
    }

    fn spec(slow_period: Duration, terminate_after: Option<u32>) -> AttemptSpec {
        AttemptSpec {
            attempt: 1,
            slot: 0,
            capture: true,
            output_cap: 1024,
            leak_timeout: Duration::MAX,
            leak_fails: false,
            grace_period: Duration::MAX,
            slow_period,
            terminate_after,
            timeout_passes: false,
        }
    }

    // Regression test for issue 12: the longest durations panicked the worker
    // ("overflow when adding duration to instant"); each means "never" now.
    #[test]
    fn the_longest_timeouts_never_fire_and_do_not_panic() {
        let result =
            run_attempt(&program("/bin/true"), &spec(Duration::MAX, Some(u32::MAX)), Instant::now(), |_| {}, |_| {});
        assert_eq!(result.outcome, Outcome::Pass, "{:?}", result.error);
    }

    #[test]
    fn a_timeout_with_the_longest_grace_period_does_not_panic() {
        // A script that runs until SIGTERM ends it, whatever its arguments (`yes` would
        // exit at once on the `--exact` it is given); SIGKILL would come never.
        let dir = tempfile::tempdir().expect("a temporary directory");
        let script = dir.path().join("forever.sh");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").expect("the script is written");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("the script is executable");
        let result = run_attempt(
            &program(script.to_str().expect("a UTF-8 path")),
            &spec(Duration::from_millis(1), Some(1)),
            Instant::now(),
            |_| {},
            |_| {},
        );
        assert_eq!(result.outcome, Outcome::Timeout, "{:?}", result.error);
    }
}
