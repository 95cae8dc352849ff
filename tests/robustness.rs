//! Misbehaving tests (`tests/fixtures/misbehave`): every one gets the outcome written
//! in its `expected.toml` (the hanging ones are ended by their timeout), nothing a test
//! started outlives the run, and tempo's own memory stays small while a test prints
//! 200 MB.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;

use common::*;

#[derive(serde::Deserialize)]
struct Expected {
    test: Vec<ExpectedTest>,
}

#[derive(serde::Deserialize)]
struct ExpectedTest {
    name: String,
    status: String,
}

/// Runs tempo on the fixture and returns (exit code, stdout, peak RSS in bytes).
fn run_measured(marker: &str) -> (i32, String, u64) {
    build_misbehave_fixture();
    let child = tempo(&misbehave_fixture())
        .args(["run"])
        .env("TEMPO_ROBUSTNESS_MARKER", marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let output = std::thread::spawn(move || {
        let mut child = child;
        let mut out = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        // The child is reaped below with wait4, which also reports its peak memory.
        std::mem::forget(child);
        out
    });
    let stdout = output.join().unwrap();
    let mut status = 0;
    // SAFETY: plain out-parameters for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid);
    (libc::WEXITSTATUS(status), stdout, usage.ru_maxrss as u64 * 1024)
}

#[test]
fn misbehaving_tests_are_contained() {
    let marker = format!("{}-{}", std::process::id(), line!());
    let (code, stdout, peak) = run_measured(&marker);

    let text = std::fs::read_to_string(misbehave_fixture().join("expected.toml")).unwrap();
    let expected: BTreeMap<(String, String), String> = toml::from_str::<Expected>(&text)
        .unwrap()
        .test
        .into_iter()
        .map(|t| (("unruly".to_owned(), t.name), t.status))
        .collect();
    assert_eq!(statuses(&stdout), expected, "{stdout}");
    // The tests that would sleep an hour were ended by their timeout: TIMEOUT above.
    assert_eq!(code, 100);

    // The 200 MB of output were capped: head and tail kept, the middle counted.
    assert!(stdout.contains("[... tempo dropped ") && stdout.contains("the very last line"), "capped output");
    assert!(stdout.len() < 16 * 1024 * 1024, "tempo printed {} bytes", stdout.len());
    // Control codes are escaped when the output is not a terminal; bad UTF-8 is replaced.
    assert!(stdout.contains("clear screen: \\u{1b}[2J"), "escape codes are shown, not sent");
    assert!(stdout.contains("bad utf8: \u{fffd}"), "invalid UTF-8 is replaced");
    assert!(!stdout.contains('\x1b'), "no raw escape code reaches a non-terminal");

    assert!(peak < 100 * 1024 * 1024, "tempo's peak memory was {} MB", peak / (1024 * 1024));

    // What tempo killed is gone once reaped; what it missed would sleep for an hour.
    poll_until(PATIENCE, "no process started by a test outlives the run", || {
        processes_with_env("TEMPO_ROBUSTNESS_MARKER", &marker).is_empty()
    });
}

#[test]
fn sigkill_of_tempo_takes_its_tests_with_it() {
    build_misbehave_fixture();
    let marker = format!("{}-{}", std::process::id(), line!());
    let mut child = tempo(&misbehave_fixture())
        .args(["run", "-E", "test(hangs_forever) | test(passes)"])
        .env("TEMPO_ROBUSTNESS_MARKER", &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the hanging test runs: a process with the marker and the test's name.
    poll_until(PATIENCE, "the test runs", || {
        let named = processes_with_env("TEMPO_TEST_NAME", "tests::hangs_forever");
        processes_with_env("TEMPO_ROBUSTNESS_MARKER", &marker).into_iter().any(|p| named.contains(&p))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The watchdog notices within milliseconds; the test would otherwise sleep an hour.
    poll_until(PATIENCE, "no test process outlives a SIGKILLed tempo", || {
        processes_with_env("TEMPO_ROBUSTNESS_MARKER", &marker).is_empty()
    });
}

#[test]
fn a_binary_that_crashes_while_listing_is_named_with_its_stderr() {
    let fixture = repo_root().join("tests/fixtures/bad-list");
    let out = run_expecting(tempo(&fixture).args(["run"]).env("TEMPO_FIXTURE_LIST_MODE", "crash"), 104);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to list the tests of `bad-list::custom`"), "{stderr}");
    assert!(stderr.contains("custom harness: crashing while listing, as asked"), "{stderr}");
}

#[test]
fn a_binary_that_prints_garbage_while_listing_is_an_error() {
    let fixture = repo_root().join("tests/fixtures/bad-list");
    let out = run_expecting(tempo(&fixture).args(["run"]).env("TEMPO_FIXTURE_LIST_MODE", "garbage"), 104);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to list the tests of `bad-list::custom`"), "{stderr}");
    assert!(stderr.contains("unexpected line in the test list: \"this is not a test list\""), "{stderr}");
}

#[test]
fn a_custom_harness_that_lists_properly_runs() {
    let fixture = repo_root().join("tests/fixtures/bad-list");
    let out = run_expecting(tempo(&fixture).args(["run"]), 0);
    assert!(last_line(&String::from_utf8_lossy(&out.stdout)).starts_with("tempo: 1 passed"));
}
