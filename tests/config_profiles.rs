//! The founding configuration (`tests/fixtures/config-ws/.config/nextest.toml`) is
//! honoured: retries with a fixed 1 s backoff, flaky tests counted as passed, profiles
//! that change the thread count, retries and fail-fast, and config errors that stop
//! tempo before anything runs.

mod common;

use common::*;

/// `(attempt, slot, unix millis)` for each attempt of `test` whose output was shown.
fn attempts(stdout: &str, test: &str) -> Vec<(u32, u32, u128)> {
    let prefix = format!("{test} attempt=");
    let mut seen: Vec<(u32, u32, u128)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rest| {
            let mut fields = rest.split(' ');
            let attempt = fields.next().unwrap().parse().unwrap();
            let slot = fields.next().unwrap().trim_start_matches("slot=").parse().unwrap();
            let t = fields.next().unwrap().trim_start_matches("t=").parse().unwrap();
            (attempt, slot, t)
        })
        .collect();
    seen.sort();
    seen
}

fn run(args: &[&str], code: i32) -> String {
    build_config_fixture();
    let out = run_expecting(tempo(&config_fixture()).arg("run").args(args), code);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn default_profile_retries_three_times_one_second_apart() {
    // The profile's status-level is `fail`, which hides retries; show them to count them.
    let stdout = run(&["--status-level", "all"], 100);
    let tries = attempts(&stdout, "always_fails");
    assert_eq!(tries.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2, 3, 4], "always_fails runs 4 times:\n{stdout}");
    for pair in tries.windows(2) {
        let gap = pair[1].2 - pair[0].2;
        // The 1 s delay is waited out between the end of one attempt and the start of
        // the next (a floor: a busy machine only widens the gap).
        assert!(gap >= 950, "attempts {} and {} are {gap} ms apart", pair[0].0, pair[1].0);
    }
    // And it is the same delay each time: the profile resolves to a fixed backoff, to
    // which `RetryPolicy::delay_before` gives its delay before every attempt. (An
    // upper bound on the gaps would tell it from a doubling one only on an idle machine.)
    let out = run_expecting(tempo(&config_fixture()).arg("show-config"), 0);
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("\n  retries             3 (fixed backoff, delay 1s)\n"), "{shown}");
    let st = statuses(&stdout);
    assert_eq!(st[&("retrying".into(), "fails_first_attempt".into())], "TRY 1 FAIL");
    assert!(stdout.contains("TRY PASS [") && stdout.contains("retrying fails_first_attempt (attempt 2/4)"), "{stdout}");
    assert!(
        stdout.contains("FLAKY [") && stdout.contains("(passed on attempt 2/4)"),
        "the summary lists the flaky test:\n{stdout}"
    );
    assert!(stdout.contains("on 8 slots"), "{stdout}");
    // 12 steady tests and the flaky one pass; always_fails fails; nothing is skipped.
    assert_eq!(last_line(&stdout), "tempo: 13 passed, 1 failed, 3 skipped");
}

#[test]
fn chicago_tdd_profile_retries_nothing() {
    let stdout = run(&["--profile", "chicago-tdd"], 100);
    assert!(!stdout.contains("TRY"), "{stdout}");
    assert_eq!(attempts(&stdout, "always_fails").len(), 1);
    assert_eq!(attempts(&stdout, "fails_first_attempt").len(), 1);
    assert_eq!(last_line(&stdout), "tempo: 12 passed, 2 failed, 3 skipped");
}

#[test]
fn the_profile_can_come_from_the_environment() {
    build_config_fixture();
    let out = run_expecting(tempo(&config_fixture()).arg("run").env("NEXTEST_PROFILE", "chicago-tdd"), 100);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(last_line(&stdout), "tempo: 12 passed, 2 failed, 3 skipped");
    // TEMPO_PROFILE beats NEXTEST_PROFILE, and --profile beats both.
    let out = run_expecting(
        tempo(&config_fixture()).args(["run", "--profile", "chicago-tdd"]).env("TEMPO_PROFILE", "nope"),
        100,
    );
    assert_eq!(last_line(&String::from_utf8(out.stdout).unwrap()), "tempo: 12 passed, 2 failed, 3 skipped");
}

#[test]
fn ci_profile_stops_after_the_first_failure_on_four_slots() {
    // --retries 0 makes the first failure final at once; the 300 ms steady tests are
    // still queued behind the first four slots when it happens.
    let stdout = run(&["--profile", "ci", "--retries", "0"], 100);
    assert!(stdout.contains("on 4 slots"), "{stdout}");
    assert!(stdout.contains("tests were not run because of a test failure"), "{stdout}");
    let started = statuses(&stdout).len();
    assert!(started < 14, "fail-fast left tests unstarted, but {started} ran:\n{stdout}");
    for (_, slot, _) in attempts(&stdout, "always_fails").into_iter().chain(attempts(&stdout, "fails_first_attempt")) {
        assert!(slot < 4, "slot {slot} is beyond the profile's 4 threads");
    }
}

#[test]
fn command_line_retries_override_the_profile() {
    let stdout = run(&["--retries", "1", "--status-level", "retry", "always_fails"], 100);
    assert_eq!(attempts(&stdout, "always_fails").iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn no_fail_fast_and_threads_override_the_profile() {
    let stdout = run(&["--profile", "ci", "--retries", "0", "--no-fail-fast", "-j", "3"], 100);
    assert!(stdout.contains("on 3 slots"), "{stdout}");
    assert_eq!(last_line(&stdout), "tempo: 12 passed, 2 failed, 3 skipped");
}

#[test]
fn an_unknown_profile_is_a_config_error() {
    build_config_fixture();
    let out = run_expecting(tempo(&config_fixture()).args(["run", "--profile", "nightly"]), 97);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("failed to find profile `nightly`"), "{stderr}");
    assert!(stderr.contains("expected one of: chicago-tdd, ci, default"), "{stderr}");
}

#[test]
fn a_broken_config_stops_tempo_before_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[profile.default]\nslow-timeout = \"sixty seconds\"\n").unwrap();
    let out = run_expecting(tempo(&config_fixture()).args(["run", "--config-file"]).arg(&file), 97);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("bad.toml` at line 2, column 16"), "{stderr}");
    assert!(stderr.contains("invalid duration `sixty seconds`"), "{stderr}");
    assert!(!stderr.contains("Compiling") && !stderr.contains("Finished"), "nothing was built:\n{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_test_that_hangs_is_reported_slow_then_timed_out() {
    let stdout = run(&["--profile", "timeouts", "--status-level", "slow", "--ignored", "--exact", "hangs"], 100);
    // Two 200 ms periods, then SIGTERM ends the ten-minute sleep: a SLOW line at the end
    // of each period, each reporting at least the periods that have passed.
    let slow: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("SLOW ["))
        .map(|rest| rest.split_once("s]").unwrap().0.trim().parse().unwrap())
        .collect();
    assert_eq!(slow.len(), 2, "one SLOW line per 200 ms period:\n{stdout}");
    assert!(slow[0] >= 0.2 && slow[1] >= 0.4, "{slow:?}:\n{stdout}");
    assert_eq!(statuses(&stdout)[&("retrying".into(), "hangs".into())], "TIMEOUT");
    assert!(stdout.contains("hangs attempt=1"), "the output printed so far is kept:\n{stdout}");
    assert!(stdout.contains("1 timed out"), "{stdout}");
}

#[test]
fn a_timed_out_test_whose_child_ignores_sigterm_is_killed_after_the_grace_period() {
    build_config_fixture();
    let marker = format!("{}-{}", std::process::id(), line!());
    let out = run_expecting(
        tempo(&config_fixture())
            .args(["run", "--profile", "timeouts", "--ignored", "--exact", "hangs_ignoring_sigterm"])
            .env("TEMPO_CONFIG_PROFILES_MARKER", &marker),
        100,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(statuses(&stdout)[&("retrying".into(), "hangs_ignoring_sigterm".into())], "TIMEOUT");
    // The test's `sleep 600` ignores SIGTERM: only the SIGKILL that ends the grace
    // period ends it (a process killed is gone once reaped).
    poll_until(PATIENCE, "the child that ignores SIGTERM is killed", || {
        processes_with_env("TEMPO_CONFIG_PROFILES_MARKER", &marker).is_empty()
    });
}

#[test]
fn status_level_fail_shows_only_failures_and_the_summary_lists_the_flaky_test() {
    let stdout = run(&[], 100);
    let st = statuses(&stdout);
    assert!(
        st.values().all(|s| s == "FAIL" || s == "FLAKY"),
        "only FAIL lines, then the summary's FLAKY line:\n{stdout}"
    );
    assert!(!stdout.contains("TRY "), "retries are below status-level fail:\n{stdout}");
    assert!(
        stdout.contains("FLAKY [") && stdout.contains("retrying fails_first_attempt (passed on attempt 2/4)"),
        "{stdout}"
    );
    // The failure's output is shown once, under its FAIL line: the last attempt's.
    assert_eq!(attempts(&stdout, "always_fails").iter().map(|t| t.0).collect::<Vec<_>>(), [4]);
}

/// `(name, start µs, end µs)` from the fixture's interval log.
fn intervals(log: &std::path::Path) -> Vec<(String, u128, u128)> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut starts = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split(' ');
        let (what, name, t) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap().parse::<u128>().unwrap());
        match what {
            "start" => {
                starts.insert(name.to_owned(), t);
            }
            _ => out.push((name.to_owned(), starts[name], t)),
        }
    }
    out
}

/// The most intervals that overlap at one instant.
fn max_overlap(intervals: &[&(String, u128, u128)]) -> usize {
    let mut events: Vec<(u128, i32)> = intervals.iter().flat_map(|(_, s, e)| [(*s, 1), (*e, -1)]).collect();
    // At equal times, ends come before starts: back-to-back is not overlap.
    events.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn test_groups_and_threads_required_bound_concurrency() {
    build_config_fixture();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("intervals.log");
    run_expecting(
        tempo(&config_fixture()).args(["run", "--profile", "groups", "steady"]).env("TEMPO_FIXTURE_LOG", &log),
        0,
    );
    let all = intervals(&log);
    assert_eq!(all.len(), 12);
    let serial: Vec<_> = all.iter().filter(|(n, ..)| n.as_str() < "steady_06").collect();
    assert_eq!(serial.len(), 6);
    assert_eq!(max_overlap(&serial), 1, "the serial group's max-threads = 1 holds: {serial:?}");
    let everything: Vec<_> = all.iter().collect();
    assert!(max_overlap(&everything) >= 2, "other tests do run in parallel: {all:?}");
    let (_, s11, e11) = all.iter().find(|(n, ..)| n == "steady_11").unwrap();
    for (name, s, e) in &all {
        if name != "steady_11" {
            assert!(e <= s11 || s >= e11, "{name} overlapped steady_11, which takes every slot");
        }
    }
}

#[test]
fn show_config_tells_which_override_applies_to_which_test() {
    build_config_fixture();
    let out = run_expecting(tempo(&config_fixture()).args(["show-config", "--profile", "groups"]), 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("profile `groups` (from ") && stdout.contains("test-threads        4"), "{stdout}");
    assert!(stdout.contains("serial              max-threads 1"), "{stdout}");
    let section = |source: &str| -> Vec<String> {
        let start = stdout.find(&format!("  {source}:")).unwrap_or_else(|| panic!("no {source} in\n{stdout}"));
        stdout[start..]
            .lines()
            .skip(3)
            .take_while(|l| l.starts_with("      "))
            .map(|l| l.trim().trim_start_matches("retrying ").to_owned())
            .collect()
    };
    assert_eq!(
        section("profile.groups.overrides[0]"),
        ["steady_00", "steady_01", "steady_02", "steady_03", "steady_04", "steady_05"]
    );
    assert_eq!(section("profile.groups.overrides[1]"), ["steady_11"]);
    // The third override still sets the priority of every steady test; its test-group
    // is shadowed by the first override for steady_00 to steady_05.
    assert_eq!(section("profile.groups.overrides[2]").len(), 12);
}

#[test]
fn max_fail_stops_the_run_after_that_many_failures() {
    // One slot and name order: always_fails, then fails_first_attempt, then the steady tests.
    let stdout = run(&["--profile", "max-fail"], 100);
    assert!(stdout.contains("2/14 tests run: 0 passed, 2 failed"), "{stdout}");
    assert!(stdout.contains("12/14 tests were not run because of a test failure"), "{stdout}");
}

/// `--max-fail` beats the profile's `fail-fast`, with nextest's `N:MODE` syntax.
#[test]
fn max_fail_on_the_command_line_beats_the_profile() {
    // The `max-fail` profile stops after two failures; `--max-fail 1` after one.
    let stdout = run(&["--profile", "max-fail", "--max-fail", "1"], 100);
    assert!(stdout.contains("1/14 test run: 0 passed, 1 failed"), "{stdout}");
    let stdout = run(&["--profile", "max-fail", "--max-fail", "all"], 100);
    assert!(stdout.contains("14 tests run: 12 passed, 2 failed"), "{stdout}");
    // `:immediate` ends the running tests, as the `terminate` profile does: `hangs`,
    // which sleeps for ten minutes, gets SIGTERM.
    let stdout = run(
        &[
            "--profile",
            "groups",
            "--max-fail",
            "1:immediate",
            "--include-ignored",
            "-E",
            "test(=always_fails) | test(=hangs)",
        ],
        100,
    );
    assert_eq!(statuses(&stdout)[&("retrying".into(), "hangs".into())], "SIGTERM", "{stdout}");
}

#[test]
fn fail_fast_terminate_immediate_ends_running_tests() {
    let stdout = run(&["--profile", "terminate", "--include-ignored", "-E", "test(=always_fails) | test(=hangs)"], 100);
    // `hangs` sleeps for ten minutes; it is ended (SIGTERM) as soon as always_fails fails.
    assert_eq!(statuses(&stdout)[&("retrying".into(), "hangs".into())], "SIGTERM", "{stdout}");
}

#[test]
fn a_leak_passes_by_default_and_fails_with_result_fail() {
    let stdout = run(&["--status-level", "all", "--ignored", "--exact", "leaks_a_child"], 0);
    assert_eq!(statuses(&stdout)[&("retrying".into(), "leaks_a_child".into())], "LEAK", "{stdout}");
    let stdout = run(&["--profile", "leaky", "--ignored", "--exact", "leaks_a_child"], 100);
    assert_eq!(statuses(&stdout)[&("retrying".into(), "leaks_a_child".into())], "LEAK-FAIL", "{stdout}");
}

/// Every kind of broken config stops tempo with exit code 97 and a message that says
/// what and where, before anything is built.
#[test]
fn broken_configs_are_reported_with_their_place() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("wrong type", "[profile.default]\nretries = \"three\"\n", &["line 2, column 11", "a retry count, or a table"]),
        (
            "bad duration",
            "[profile.default]\nleak-timeout = \"1 fortnight\"\n",
            &["line 2, column 16", "invalid duration `1 fortnight`"],
        ),
        ("broken TOML", "[profile.default\nretries = 1\n", &["line 1", "failed to parse config file"]),
        ("unknown key", "[profile.default]\nretires = 1\n", &["line 2, column 1", "unknown field `retires`"]),
        (
            "unknown test group",
            "[[profile.default.overrides]]\nfilter = 'all()'\ntest-group = \"serial\"\n",
            &["line 3, column 14", "unknown test group `serial`", "@global"],
        ),
        (
            "bad override filter",
            "[[profile.default.overrides]]\nfilter = 'tset(x)'\nretries = 1\n",
            &["line 2", "unknown predicate `tset`"],
        ),
        (
            "bad default filter",
            "[profile.default]\ndefault-filter = 'all('\n",
            &["default-filter of profile `default`"],
        ),
        (
            "group() in an override",
            "[test-groups]\nserial = { max-threads = 1 }\n[[profile.default.overrides]]\nfilter = 'not group(serial)'\nretries = 1\n",
            &["line 4, column 15", "group() cannot be used in an override's filter"],
        ),
        (
            "group() in a default filter",
            "[profile.default]\ndefault-filter = 'group(@global)'\n",
            &["default-filter of profile `default`", "group() cannot be used in the default filter"],
        ),
    ];
    build_config_fixture();
    let dir = tempfile::tempdir().unwrap();
    for (what, text, expected) in cases {
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = run_expecting(tempo(&config_fixture()).args(["run", "--config-file"]).arg(&file), 97);
        let stderr = String::from_utf8(out.stderr).unwrap();
        for needle in *expected {
            assert!(stderr.contains(needle), "{what}: expected {needle:?} in:\n{stderr}");
        }
        assert!(out.stdout.is_empty(), "{what}: nothing ran");
    }
}
