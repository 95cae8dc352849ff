//! A thread of tempo that panics must end the run promptly: the tests still running
//! are stopped and reaped, the summary and reports are written, and tempo exits 111
//! saying it hit a bug. Before, a worker that panicked left the coordinator waiting
//! for its result forever, and SIGTERM no longer ended the run (issue 12).
//!
//! The panics are set off by tempo's fault-injection hook, `TEMPO_TEST_PANIC` (see
//! `src/execute/fault.rs`), on the misbehaving-tests fixture, whose `hangs_forever`
//! never ends by itself: a run that waits for it hangs, and the hang detector here
//! fails the test.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;

/// How long a run may take before it counts as hung. Not a timing assertion: the runs
/// here end in seconds, and one that is still going after this never ends.
const HANG: Duration = Duration::from_secs(120);

/// Where the generated config files go.
fn scratch() -> PathBuf {
    let dir = repo_root().join("target/hostile-panic");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A config for the misbehaving fixture in which no test is ever ended for running
/// too long, with a JUnit report, and `grace` between SIGTERM and SIGKILL.
fn config(name: &str, grace: &str) -> PathBuf {
    let path = scratch().join(format!("{name}.toml"));
    let text = format!(
        "[profile.default]\nretries = 0\nfail-fast = false\ntest-threads = 4\nstatus-level = \"all\"\n\
         leak-timeout = \"200ms\"\nslow-timeout = {{ period = \"1s\", grace-period = \"{grace}\" }}\n\
         [profile.default.junit]\npath = \"junit.xml\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A started run: its stdout lines arrive on a channel as they are printed.
struct Run {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
    marker: String,
    store: PathBuf,
}

fn start(config: &Path, panic_at: &str, filter: &str, marker: &str) -> Run {
    build_misbehave_fixture();
    let store = fresh_store_dir();
    let mut child = tempo(&misbehave_fixture())
        .args(["run", "--config-file"])
        .arg(config)
        .args(["-E", filter])
        .env("TEMPO_STORE_DIR", &store)
        .env("TEMPO_TEST_PANIC", panic_at)
        .env("TEMPO_ROBUSTNESS_MARKER", marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    Run { child, lines, stdout: Vec::new(), stderr, marker: marker.to_owned(), store }
}

impl Run {
    /// Waits for a stdout line containing `needle`; fails the test after [`HANG`].
    fn wait_for_line(&mut self, needle: &str) {
        let deadline = Instant::now() + HANG;
        loop {
            if self.stdout.iter().any(|l| l.contains(needle)) {
                return;
            }
            match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => self.stdout.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("tempo never printed {needle:?}:\n{}", self.stdout.join("\n"));
                }
            }
        }
    }

    /// Waits for tempo to exit: the hang detector kills it and fails the test after [`HANG`].
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + HANG;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("tempo hung after a thread panicked:\n{}", self.stdout.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.stdout.extend(self.lines.iter());
        let stderr = self.stderr.join().unwrap();
        // Nothing a test started outlives the run: tempo has exited, so whatever is
        // still there was left behind (a zombie has no environment and is not found).
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = processes_with_env("TEMPO_ROBUSTNESS_MARKER", &self.marker);
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = processes_with_env("TEMPO_ROBUSTNESS_MARKER", &self.marker);
        }
        assert!(left.is_empty(), "test processes outlived the run: {left:?}\n{stderr}");
        (status, self.stdout.join("\n"), stderr)
    }
}

fn marker(line: u32) -> String {
    format!("panic-{}-{line}", std::process::id())
}

#[test]
fn a_worker_that_panics_ends_the_run_with_its_tests_and_reports() {
    let marker = marker(line!());
    let run = start(
        &config("worker", "1s"),
        "worker:tests::hangs_forever",
        "test(hangs_forever) | test(passes) | test(hangs_behind_a_child_that_ignores_sigterm)",
        &marker,
    );
    let store = run.store.clone();
    let (status, stdout, stderr) = run.finish();
    assert_eq!(status.code(), Some(111), "exit status {status:?}\n{stdout}\n{stderr}");
    assert!(stderr.contains("this is a bug in tempo"), "{stderr}");
    assert!(stderr.contains("tempo-worker-"), "the error names the thread: {stderr}");
    assert!(stdout.contains("Cancelling because tempo hit a bug"), "{stdout}");
    // The test the worker was running fails with tempo's error; the summary is printed.
    assert!(stdout.contains("EXECFAIL") && stdout.contains("tempo stopped watching this test"), "{stdout}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("Summary")), "{stdout}");
    assert!(last_line(&stdout).starts_with("tempo: "), "{stdout}");
    // The reports are written.
    let junit = std::fs::read_to_string(store.join("default/junit.xml")).expect("the JUnit report is written");
    assert!(junit.contains("hangs_forever") && junit.contains("bug in tempo"), "{junit}");
    assert!(store.join("default/report.html").is_file(), "the HTML report is written");
}

#[test]
fn sigterm_still_ends_the_run_after_a_worker_panicked() {
    // The test left running ignores SIGTERM (its child does) and the grace period is
    // an hour: only tempo's own SIGTERM can end the run soon, by killing it at once.
    let marker = marker(line!());
    let mut run = start(
        &config("sigterm", "1h"),
        "worker:tests::hangs_forever",
        "test(hangs_forever) | test(hangs_behind_a_child_that_ignores_sigterm)",
        &marker,
    );
    run.wait_for_line("Cancelling because tempo hit a bug");
    let pid = run.child.id() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; the child is not reaped yet.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let (status, stdout, stderr) = run.finish();
    assert_eq!(status.code(), Some(111), "exit status {status:?}\n{stdout}\n{stderr}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("Summary")), "{stdout}");
}

#[test]
fn a_panic_in_the_coordinator_does_not_hang() {
    let marker = marker(line!());
    let run =
        start(&config("coordinator", "1s"), "coordinator:tests::passes", "test(hangs_forever) | test(passes)", &marker);
    let (status, stdout, stderr) = run.finish();
    assert_eq!(status.code(), Some(111), "exit status {status:?}\n{stdout}\n{stderr}");
    assert!(stderr.contains("this is a bug in tempo"), "{stderr}");
    assert_eq!(stderr.matches("panicked at").count(), 1, "the panic is printed once: {stderr}");
}

#[test]
fn a_feeder_that_panics_ends_the_run() {
    let marker = marker(line!());
    let run = start(&config("feeder", "1s"), "feeder", "test(hangs_forever) | test(passes)", &marker);
    let (status, stdout, stderr) = run.finish();
    assert_eq!(status.code(), Some(111), "exit status {status:?}\n{stdout}\n{stderr}");
    assert!(stderr.contains("tempo-feeder") && stderr.contains("this is a bug in tempo"), "{stderr}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("Summary")), "{stdout}");
}

#[test]
fn a_signal_forwarder_that_panics_ends_the_run() {
    let marker = marker(line!());
    let run = start(&config("signals", "1s"), "signals", "test(hangs_forever)", &marker);
    // Once the test runs, the forwarder is listening.
    let deadline = Instant::now() + HANG;
    let running = || {
        let named = processes_with_env("TEMPO_TEST_NAME", "tests::hangs_forever");
        processes_with_env("TEMPO_ROBUSTNESS_MARKER", &marker).into_iter().any(|p| named.contains(&p))
    };
    while !running() {
        assert!(Instant::now() < deadline, "the test never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGUSR1 asks for the running tests; the forwarder panics on receiving it.
    let pid = run.child.id() as libc::pid_t;
    // SAFETY: kill has no memory-safety preconditions; the child is not reaped yet.
    unsafe { libc::kill(pid, libc::SIGUSR1) };
    let (status, stdout, stderr) = run.finish();
    assert_eq!(status.code(), Some(111), "exit status {status:?}\n{stdout}\n{stderr}");
    assert!(stderr.contains("tempo-signals") && stderr.contains("this is a bug in tempo"), "{stderr}");
    assert!(stdout.lines().any(|l| l.trim_start().starts_with("Summary")), "{stdout}");
}
