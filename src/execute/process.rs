//! Runs one test attempt in its own process and watches it until it is over.
//!
//! This is the hot path: one spawn per test. The binary is started directly (no shell,
//! no re-exec of tempo) in a new process group, with stdin closed and stdout and stderr
//! piped. One thread then waits on both pipes and on a pidfd at once, so it learns of
//! the exit, of output and of timeouts without busy-waiting.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::capture::CaptureBuf;
use super::{deadline, unix};
use crate::env::per_test_vars;
use crate::events::{ExecutionResult, ExitStatus, Outcome, ResourceUsage};
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
    mut on_slow: impl FnMut(Duration),
) -> ExecutionResult {
    let started = Instant::now();
    let start = started.saturating_duration_since(run_start);
    // The leader guard lives until the test is reaped below, so that the orphan
    // reaper leaves the test to this thread's `wait4`.
    let (mut child, _leader) = match unix::spawn_leader(&mut command(test, spec)) {
        Ok(spawned) => spawned,
        Err(e) => {
            return ExecutionResult {
                outcome: Outcome::ExecFail,
                exit: None,
                start,
                duration: started.elapsed(),
                usage: ResourceUsage::default(),
                stdout: Default::default(),
                stderr: Default::default(),
                error: Some(format!("failed to start {}: {e}", test.binary.path.display())),
                leaked: false,
                batched: false,
                rerun: None,
            };
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
    if let Some(err) = &stderr {
        unix::grow_pipe(err);
    }
    let mut out_buf = CaptureBuf::new(spec.output_cap);
    let mut err_buf = CaptureBuf::new(spec.output_cap);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut exited_at: Option<Instant> = None;
    let mut leaked = false;
    let mut periods = 0u32;
    // `None` where a deadline is past what the clock can hold: it never comes.
    let mut next_slow = deadline(started, spec.slow_period);
    let mut timed_out = false;
    let mut small_reads = 0u32;
    // After SIGTERM for a timeout: when SIGKILL follows.
    let mut kill_at: Option<Instant> = None;

    loop {
        if exited_at.is_some() && stdout.is_none() && stderr.is_none() {
            break;
        }
        let now = Instant::now();
        let wake_at = match exited_at {
            // The test is gone but something still holds its pipes: wait out the leak timeout.
            Some(at) => {
                let leak_deadline = deadline(at, spec.leak_timeout);
                if leak_deadline.is_some_and(|d| now >= d) {
                    leaked = true;
                    break;
                }
                leak_deadline
            }
            None => {
                if let Some(at) = kill_at
                    && now >= at
                {
                    unix::signal_group(pid, unix::SIGKILL);
                    kill_at = None;
                }
                if !timed_out && next_slow.is_some_and(|t| now >= t) {
                    periods = periods.saturating_add(1);
                    on_slow(now.duration_since(started));
                    if spec.terminate_after.is_some_and(|n| periods >= n) {
                        timed_out = true;
                        unix::signal_group(pid, unix::SIGTERM);
                        kill_at = deadline(now, spec.grace_period);
                    }
                    next_slow = next_slow.and_then(|t| deadline(t, spec.slow_period));
                }
                let mut wake_at = if timed_out { kill_at } else { next_slow };
                if pidfd.is_none() {
                    // Without a pidfd, exits are noticed by polling.
                    let tick = deadline(now, Duration::from_millis(10));
                    wake_at = [wake_at, tick].into_iter().flatten().min();
                }
                wake_at
            }
        };
        let timeout = wake_at.map(|d| d.saturating_duration_since(now));
        let pidfd_ref = if exited_at.is_none() { pidfd.as_ref().map(|f| f as _) } else { None };
        let ready = match unix::poll_readable(
            [stdout.as_ref().map(|f| f as _), stderr.as_ref().map(|f| f as _), pidfd_ref],
            timeout,
        ) {
            Ok(r) => r,
            Err(_) => [stdout.is_some(), stderr.is_some(), false],
        };
        let mut got = 0;
        if ready[0] {
            got += drain_once(&mut stdout, &mut out_buf, &mut chunk);
        }
        if ready[1] {
            got += drain_once(&mut stderr, &mut err_buf, &mut chunk);
        }
        if got > 0 && got < COALESCE_BELOW {
            small_reads += 1;
            // A test that writes many small pieces (an eprintln! per line) would wake
            // this thread once per write. Once it has shown that habit, a short pause
            // lets the pipe fill, so that one read takes many writes; the pipe's
            // buffer keeps the writer running meanwhile. Ordinary tests, which write a
            // few lines, never pause.
            if small_reads > COALESCE_AFTER {
                std::thread::sleep(COALESCE_PAUSE);
            }
        }
        if exited_at.is_none() && (ready[2] || (pidfd.is_none() && unix::has_exited(pid))) {
            exited_at = Some(Instant::now());
        }
    }
    let ended = exited_at.unwrap_or_else(Instant::now);
    let (exit, usage) = match unix::reap(pid) {
        Ok(r) => r,
        Err(_) => (ExitStatus::Code(-1), ResourceUsage::default()),
    };
    // The group stays published while leftovers are ended, so that a second Ctrl-C can
    // SIGKILL them at once. Its members pin the group id, so it cannot be reused meanwhile.
    end_leftovers(pid, spec.grace_period);
    publish_group(0);
    if leaked {
        // Whatever holds the output may have left the group (setsid): find it by the
        // variables it inherited from this attempt.
        unix::sweep(&attempt_markers(test, spec.attempt), spec.grace_period);
    }
    let outcome = match exit {
        _ if timed_out && spec.timeout_passes => Outcome::Pass,
        _ if timed_out => Outcome::Timeout,
        ExitStatus::Code(0) if leaked && spec.leak_fails => Outcome::LeakFail,
        ExitStatus::Code(0) => Outcome::Pass,
        other => Outcome::Fail(other),
    };
    ExecutionResult {
        outcome,
        exit: Some(exit),
        start,
        duration: ended.duration_since(started),
        usage,
        stdout: out_buf.finish(),
        stderr: err_buf.finish(),
        error: None,
        leaked,
        batched: false,
        rerun: None,
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

/// Reads below this many bytes mean a test writes in small pieces.
const COALESCE_BELOW: usize = 4096;
/// How many small reads make a test chatty.
const COALESCE_AFTER: u32 = 64;
/// How long to let a chatty test's output accumulate before reading again.
const COALESCE_PAUSE: Duration = Duration::from_micros(500);

/// Reads what is available from a ready pipe; closes it at end of file. Returns how
/// many bytes it read.
fn drain_once<R: Read>(pipe: &mut Option<R>, buf: &mut CaptureBuf, chunk: &mut [u8]) -> usize {
    let Some(reader) = pipe.as_mut() else { return 0 };
    match reader.read(chunk) {
        Ok(0) => {
            *pipe = None;
            0
        }
        Ok(n) => {
            buf.push(&chunk[..n]);
            n
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
        Err(_) => {
            *pipe = None;
            0
        }
    }
}

/// Ends whatever the test left running in its group: SIGTERM, then SIGKILL after the grace period.
fn end_leftovers(pgid: u32, grace: Duration) {
    if !unix::group_alive(pgid) {
        return;
    }
    unix::signal_group(pgid, unix::SIGTERM);
    let kill_at = deadline(Instant::now(), grace);
    while kill_at.is_none_or(|t| Instant::now() < t) {
        if !unix::group_alive(pgid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    unix::signal_group(pgid, unix::SIGKILL);
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
