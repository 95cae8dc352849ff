//! Numbers a user types that are far out of range: each must stop tempo with its
//! documented exit code (97 for the config, 2 for the command line, 109 for a merge
//! input) and a message that names the allowed range, never a panic (101), an abort
//! or a hang. Regression tests for tempo issue 12: every case here used to panic,
//! abort, hang, allocate petabytes or silently wrap.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// How long any one of these commands may take. Each is refused before anything is
/// built, in well under a second; the old code built the fixture and then panicked or
/// hung, which this bound turns into a failure instead of a stuck test run.
const GUARD: Duration = Duration::from_secs(60);

/// Runs `cmd`, killing it and failing the test if it is still running after
/// [`GUARD`], and checks its exit code.
fn run_guarded(cmd: &mut Command, expected: i32) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("cargo-tempo starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Read both pipes on threads of their own, so that a chatty child cannot block on a full pipe.
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for cargo-tempo") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} was still running after {GUARD:?}; it was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output { status, stdout: out_reader.join().unwrap(), stderr: err_reader.join().unwrap() };
    assert_eq!(
        status.code(),
        Some(expected),
        "unexpected exit for {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the config fixture with `config` as its config file and expects exit 97 with
/// every one of `expected` in the message.
fn config_is_refused(config: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostile.toml");
    std::fs::write(&file, config).unwrap();
    let out = run_guarded(tempo(&config_fixture()).args(["run", "--no-fail-fast", "--config-file"]).arg(&file), 97);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hostile.toml` at line"), "the message names the file and line:\n{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "expected `{e}` in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_slow_timeout_of_half_a_trillion_years_is_a_config_error() {
    config_is_refused(
        "[profile.default]\nslow-timeout = \"500000000000y\"\n",
        &["line 2, column 16", "out of range", "from 100ms to 1year"],
    );
}

#[test]
fn a_slow_timeout_table_with_a_huge_grace_period_is_a_config_error() {
    config_is_refused(
        "[profile.default]\nslow-timeout = { period = \"1s\", terminate-after = 1, grace-period = \"500000000000y\" }\n",
        &["line 2", "out of range", "to 1year"],
    );
}

#[test]
fn a_leak_timeout_of_half_a_trillion_years_is_a_config_error() {
    config_is_refused(
        "[profile.default]\nleak-timeout = \"500000000000y\"\n",
        &["line 2, column 16", "out of range", "from 0s to 1year"],
    );
}

#[test]
fn a_retry_delay_of_half_a_trillion_years_is_a_config_error() {
    config_is_refused(
        "[profile.default]\nretries = { backoff = \"fixed\", count = 1, delay = \"500000000000y\" }\n",
        &["line 2", "out of range", "to 1year"],
    );
}

#[test]
fn a_slow_timeout_of_zero_is_a_config_error_not_a_busy_loop() {
    config_is_refused("[profile.default]\nslow-timeout = \"0s\"\n", &["line 2, column 16", "from 100ms to 1year"]);
}

#[test]
fn a_max_fail_past_u32_does_not_wrap_to_zero() {
    config_is_refused(
        "[profile.default]\nfail-fast = { max-fail = 4294967296 }\n",
        &["line 2", "max-fail `4294967296` is out of range", "from 1 to 4294967295"],
    );
}

#[test]
fn a_million_test_threads_in_the_config_is_a_config_error() {
    config_is_refused("[profile.default]\ntest-threads = 1000000\n", &["line 2, column 16", "from 1 to 1024"]);
}

#[test]
fn a_retry_count_past_the_cap_is_a_config_error() {
    config_is_refused("[profile.default]\nretries = 4294967296\n", &["line 2, column 11", "from 0 to 1000"]);
}

/// Runs `args` and expects clap's usage error (exit 2) naming `expected`.
fn usage_error(args: &[&str], expected: &[&str]) {
    let out = run_guarded(tempo(&config_fixture()).args(args), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for e in expected {
        assert!(stderr.contains(e), "expected `{e}` in:\n{stderr}");
    }
}

#[test]
fn a_million_test_threads_is_a_usage_error_not_an_abort() {
    usage_error(&["run", "-j", "1000000"], &["out of range", "from 1 to 1024"]);
    usage_error(&["run", "-j", "-99999999999999999999"], &["from -1024 to -1"]);
}

#[test]
fn a_million_test_threads_from_the_environment_is_a_usage_error() {
    let out = run_guarded(tempo(&config_fixture()).env("TEMPO_TEST_THREADS", "1000000").arg("run"), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 1 to 1024"));
}

#[test]
fn a_shard_count_of_u64_max_is_a_usage_error_not_a_hang() {
    usage_error(&["run", "--partition", "duration:1/18446744073709551615"], &["from 1 to 65536"]);
}

#[test]
fn a_shard_count_of_a_hundred_trillion_does_not_allocate_petabytes() {
    usage_error(&["run", "--partition", "duration:1/99999999999999"], &["from 1 to 65536"]);
    usage_error(&["partition", "--show", "99999999999999"], &["1..=65536"]);
}

#[test]
fn retries_and_max_fail_on_the_command_line_have_ranges() {
    usage_error(&["run", "--retries", "4294967296"], &["0..=1000"]);
    usage_error(&["run", "--max-fail", "4294967296"], &["from 1 to 4294967295"]);
}

fn junit_with_time(path: &Path, time: &str) {
    std::fs::write(
        path,
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="tempo-run" tests="1" failures="0" errors="0" time="{time}">
    <testsuite name="alpha" tests="1" disabled="0" errors="0" failures="0" time="{time}">
        <testcase name="t" classname="alpha" time="1.0">
        </testcase>
    </testsuite>
</testsuites>
"#
        ),
    )
    .unwrap();
}

#[test]
fn a_junit_time_of_eighteen_quintillion_seconds_is_a_merge_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.xml"), dir.path().join("b.xml"));
    junit_with_time(&a, "18000000000000000000");
    junit_with_time(&b, "18000000000000000000");
    let merged = dir.path().join("merged.xml");
    let out = run_guarded(tempo(dir.path()).arg("junit-merge").arg(&merged).arg(&a).arg(&b), 109);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a.xml"), "the message names the file:\n{stderr}");
    assert!(stderr.contains("out of range; expected from 0 to 31557600 seconds"), "{stderr}");
    assert!(!merged.exists(), "nothing was written");
}
