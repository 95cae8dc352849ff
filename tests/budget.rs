//! Performance budgets, end to end: a missed target fails the run with its own exit
//! code (107), a met one passes, `enforce = "warn"` passes with a warning, and a
//! test failure still wins. The targets are far from the measured values (1 ms or
//! 10 minutes against a test that sleeps 300 ms), so a slow, busy machine cannot
//! change the verdict.

mod common;

use std::path::PathBuf;

use common::*;

/// The founding config of the config fixture, plus one profile per budget case.
const BUDGETS: &str = r#"
[profile.missed]
retries = 0
[profile.missed.budget]
wall = "1ms"

[profile.met]
retries = 0
budget = { wall = "10m" }

[profile.warned]
retries = 0
budget = { wall = "1ms", enforce = "warn" }

[profile.busy]
retries = 0
budget = { cpu-utilization = 0.99 }

[profile.slow]
retries = 0

[[profile.slow.overrides]]
filter = 'test(=steady_00)'
budget = { slow = "50ms" }

[[profile.slow.overrides]]
filter = 'test(=steady_01)'
budget = { slow = "10m" }
"#;

fn config_file(dir: &tempfile::TempDir) -> PathBuf {
    let founding = std::fs::read_to_string(config_fixture().join(".config/nextest.toml")).unwrap();
    let file = dir.path().join("tempo.toml");
    std::fs::write(&file, format!("{founding}\n{BUDGETS}")).unwrap();
    file
}

/// Runs `steady_00` (a 300 ms sleep) and the given tests under `profile`; returns stderr.
fn run(profile: &str, filter: &str, code: i32) -> (String, String) {
    build_config_fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = run_expecting(
        tempo(&config_fixture()).args(["run", "--no-fail-fast", "--config-file"]).arg(config_file(&dir)).args([
            "--profile",
            profile,
            "-E",
            filter,
        ]),
        code,
    );
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn budget_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("budget:")).collect()
}

#[test]
fn a_missed_wall_budget_fails_with_the_budget_exit_code() {
    let (stdout, stderr) = run("missed", "test(=steady_00)", 107);
    let lines = budget_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("budget: wall ") && lines[0].contains("<= 1ms") && lines[0].ends_with("FAIL"),
        "{stderr}"
    );
    assert!(stderr.contains("error: failed to meet 1 of 1 budget target of profile `missed`"), "{stderr}");
    // The tests passed: the summary says so, and stdout still ends with tempo's line.
    assert_eq!(last_line(&stdout), "tempo: 1 passed, 0 failed, 16 skipped");
}

#[test]
fn a_met_wall_budget_passes() {
    let (_, stderr) = run("met", "test(=steady_00)", 0);
    let lines = budget_lines(&stderr);
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("<= 10m") && lines[0].ends_with("pass"), "{stderr}");
    assert!(!stderr.contains("error:") && !stderr.contains("warning:"), "{stderr}");
}

#[test]
fn a_warn_budget_passes_with_a_warning() {
    let (_, stderr) = run("warned", "test(=steady_00)", 0);
    assert!(budget_lines(&stderr)[0].ends_with("FAIL"), "{stderr}");
    assert!(
        stderr.contains(
            "warning: missed 1 of 1 budget target of profile `warned`; the run passes because budget.enforce = \"warn\""
        ),
        "{stderr}"
    );
}

#[test]
fn a_test_failure_beats_a_missed_budget() {
    let (_, stderr) = run("missed", "test(=steady_00) | test(=always_fails)", 100);
    assert!(budget_lines(&stderr)[0].ends_with("FAIL"), "the budget is still checked and shown:\n{stderr}");
}

#[test]
fn a_sleeping_suite_misses_a_cpu_utilization_target() {
    let (_, stderr) = run("busy", "test(=steady_00)", 107);
    let line = budget_lines(&stderr)[0];
    assert!(
        line.starts_with("budget: cpu-utilization ") && line.contains(">= 99%") && line.ends_with("FAIL"),
        "{stderr}"
    );
    // A test that sleeps 300 ms uses next to no CPU; the measured figure says so.
    let measured: f64 = line["budget: cpu-utilization ".len()..].split('%').next().unwrap().parse().unwrap();
    assert!(measured < 50.0, "{line}");
}

#[test]
fn a_test_over_its_slow_budget_is_named() {
    let (_, stderr) = run("slow", "test(=steady_00) | test(=steady_01)", 107);
    let lines = budget_lines(&stderr);
    assert!(
        lines[0].starts_with("budget: slow 1 of 2 tests over their slow limit") && lines[0].ends_with("FAIL"),
        "{stderr}"
    );
    assert!(lines[1].starts_with("budget:   retrying steady_00 took ") && lines[1].ends_with("> 50ms"), "{stderr}");
    assert_eq!(lines.len(), 2, "steady_01 met its 10 minute limit:\n{stderr}");
}

#[test]
fn show_config_shows_the_budget_and_the_slow_overrides() {
    build_config_fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = run_expecting(
        tempo(&config_fixture()).args(["show-config", "--config-file"]).arg(config_file(&dir)).args(["-P", "slow"]),
        0,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("  budget              none"), "profile `slow` has no run-wide target:\n{stdout}");
    assert!(
        stdout.contains("sets budget.slow = 50ms\n    takes effect for 1 test:\n      retrying steady_00"),
        "{stdout}"
    );
    let out = run_expecting(
        tempo(&config_fixture()).args(["show-config", "--config-file"]).arg(config_file(&dir)).args(["-P", "warned"]),
        0,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("budget\n  wall                1ms or less\n"), "{stdout}");
    assert!(stdout.contains("  enforce             warn\n"), "{stdout}");
}
