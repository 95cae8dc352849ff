//! `cargo tempo run` on the fixture workspace gives every test the outcome written in
//! `tests/fixtures/workspace/expected.toml`.

mod common;

use std::collections::BTreeMap;

use common::*;

fn outcome_word(outcome: &str) -> &'static str {
    match outcome {
        "pass" => "PASS",
        "fail" => "FAIL",
        other => panic!("unknown outcome {other} in expected.toml"),
    }
}

fn expected_statuses(ignored_run: bool) -> BTreeMap<(String, String), String> {
    expected(&fixture())
        .into_iter()
        .filter_map(|e| {
            let outcome = match (ignored_run, e.outcome.as_str()) {
                (false, "ignored") | (true, "pass" | "fail") => return None,
                (false, o) => o.to_owned(),
                (true, _) => e.ignored_outcome.clone().expect("ignored tests have an ignored-outcome"),
            };
            Some(((e.binary_id, e.name), outcome_word(&outcome).to_owned()))
        })
        .collect()
}

#[test]
fn every_test_gets_its_expected_outcome() {
    expected_outcomes(&[]);
}

/// The same, with the build finished before any test starts.
#[test]
fn every_test_gets_its_expected_outcome_without_pipelining() {
    expected_outcomes(&["--no-pipeline"]);
}

fn expected_outcomes(extra: &[&str]) {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-fail-fast"]).args(extra), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = expected_statuses(false);
    assert_eq!(statuses(&stdout), want, "{stdout}");

    let all = expected(&fixture());
    let passed = want.values().filter(|s| *s == "PASS").count();
    let failed = want.values().filter(|s| *s == "FAIL").count();
    let skipped = all.len() - want.len();
    assert_eq!(last_line(&stdout), format!("tempo: {passed} passed, {failed} failed, {skipped} skipped"));
}

#[test]
fn ignored_tests_run_with_ignored() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-fail-fast", "--ignored"]), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = expected_statuses(true);
    assert!(!want.is_empty());
    assert_eq!(statuses(&stdout), want, "{stdout}");
}

#[test]
fn include_ignored_runs_everything() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-fail-fast", "--include-ignored", "-j", "4"]), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut want = expected_statuses(false);
    want.extend(expected_statuses(true));
    assert_eq!(statuses(&stdout), want, "{stdout}");
    assert!(last_line(&stdout).ends_with(", 0 skipped"), "{stdout}");
}

#[test]
fn name_filters_select_by_substring_and_skip() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "parse", "--skip", "broken", "--skip", "unparse"]), 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<String> = statuses(&stdout).into_keys().map(|(b, n)| format!("{b} {n}")).collect();
    assert_eq!(
        got,
        [
            "alpha::parsing nested::parse_roundtrip",
            "alpha::parsing parse_many",
            "alpha::parsing parse_one",
            "alpha::parsing parse_two"
        ]
    );
    let total = expected(&fixture()).len();
    assert_eq!(last_line(&stdout), format!("tempo: 4 passed, 0 failed, {} skipped", total - 4));
}

#[test]
fn exact_filters_match_whole_names() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--exact", "parse_one", "a::d"]), 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<String> = statuses(&stdout).into_keys().map(|(b, n)| format!("{b} {n}")).collect();
    assert_eq!(got, ["alpha a::d", "alpha::parsing parse_one"]);
}

#[test]
fn fail_fast_stops_starting_tests_after_a_failure() {
    build_fixture();
    // One slot and name order: everything after the first failing binary is never started.
    let out = run_expecting(tempo(&fixture()).args(["run", "-j", "1"]), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got = statuses(&stdout);
    assert_eq!(got.values().filter(|s| *s == "FAIL").count(), 1, "{stdout}");
    assert!(!got.keys().any(|(b, _)| b.starts_with("gamma")), "gamma's tests must not start:\n{stdout}");
    assert!(stdout.contains("tests were not run because of a test failure"), "{stdout}");
}

#[test]
fn no_capture_passes_output_through() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-capture", "--exact", "parse_broken"]), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("parse_broken: stdout before failing"), "{stdout}");
    assert!(stderr.contains("parse_broken: stderr before failing"), "{stderr}");
    assert!(!stdout.contains("--- STDOUT:"), "output is not captured:\n{stdout}");
}

#[test]
fn failed_tests_show_their_captured_output() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--exact", "parse_broken"]), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("--- STDOUT:") && stdout.contains("parse_broken: stdout before failing"), "{stdout}");
    assert!(stdout.contains("--- STDERR:") && stdout.contains("parse_broken: stderr before failing"), "{stdout}");
}

#[test]
fn a_filter_matching_nothing_exits_4() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "no_such_test_anywhere"]), 4);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("error: no tests to run"), "{stderr}");
    // `--no-tests` as in nextest: `fail` is the default, `warn` and `pass` exit 0.
    run_expecting(tempo(&fixture()).args(["run", "--no-tests", "fail", "no_such_test_anywhere"]), 4);
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-tests", "warn", "no_such_test_anywhere"]), 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: no tests to run"), "{stderr}");
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-tests=pass", "no_such_test_anywhere"]), 0);
    assert!(!String::from_utf8(out.stderr).unwrap().contains("no tests to run"));
}

#[test]
fn no_run_builds_without_running() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-run"]), 0);
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn cargo_options_pass_through() {
    build_fixture();
    let out = run_expecting(
        tempo(&fixture()).args(["list", "--message-format", "oneline", "-p", "gamma", "--test", "build_output"]),
        0,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.is_empty());
    assert!(stdout.lines().all(|l| l.starts_with("gamma::build_output ")), "{stdout}");
}

#[test]
fn a_failed_build_exits_101() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "pub fn f() -> u32 { \"not a number\" }\n").unwrap();
    let out = run_expecting(tempo(dir.path()).args(["run"]).env("CARGO_TARGET_DIR", dir.path().join("target")), 101);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("mismatched types"), "cargo's diagnostics are shown:\n{stderr}");
    assert!(stderr.contains("failed to build"), "{stderr}");
}
