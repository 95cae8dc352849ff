//! `cargo tempo flaky` on the flaky fixture: 20 runs with retries off tell the test
//! that fails about 40% of the time (flaky) from the one that always fails (broken)
//! and the steady ones (stable), with either engine; the JSON report says the same,
//! and `--write` leaves a config that tempo and nextest both accept.
//!
//! The flaky test draws a random byte each run, so its verdict is a matter of chance:
//! with 20 runs at 40%, it is called stable with probability 0.6^20 (about 4e-5) and
//! broken with probability 0.4^20 (about 1e-8).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

#[derive(Debug, serde::Deserialize)]
struct Entry {
    binary_id: String,
    name: String,
    runs: u32,
    failures: u32,
    failure_rate: f64,
    verdict: String,
}

const STEADY: [&str; 5] =
    ["steady_adds", "steady_formats", "steady_reads_its_environment", "steady_reports_how_it_ran", "steady_sorts"];

/// Runs `flaky` with a JSON report in `dir`; returns stdout and the parsed report by test name.
fn flaky(dir: &Path, args: &[&str], code: i32) -> (String, BTreeMap<String, Entry>) {
    build_flaky_fixture();
    let json = dir.join("report.json");
    let out = run_expecting(tempo(&flaky_fixture()).arg("flaky").arg("--json").arg(&json).args(args), code);
    let entries: Vec<Entry> = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    (stdout, entries.into_iter().map(|e| (e.name.clone(), e)).collect())
}

fn check_verdicts(entries: &BTreeMap<String, Entry>, runs: u32) {
    assert_eq!(entries.len(), 7, "{entries:?}");
    for e in entries.values() {
        assert_eq!((e.binary_id.as_str(), e.runs), ("wobbly", runs), "{e:?}");
        assert!((e.failure_rate - f64::from(e.failures) / f64::from(runs)).abs() < 1e-9, "{e:?}");
    }
    let flaky = &entries["sometimes_fails"];
    assert_eq!(flaky.verdict, "flaky", "{flaky:?}");
    assert!(flaky.failures > 0 && flaky.failures < runs);
    assert_eq!((entries["always_fails"].verdict.as_str(), entries["always_fails"].failures), ("broken", runs));
    // Never a steady test: each passed in every one of the runs.
    for name in STEADY {
        assert_eq!((entries[name].verdict.as_str(), entries[name].failures), ("stable", 0), "{name}");
    }
}

#[test]
fn twenty_runs_tell_flaky_from_broken_and_stable() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    let (stdout, entries) = flaky(dir.path(), &["--runs", "20"], 108);
    check_verdicts(&entries, 20);
    assert!(stdout.contains("7 tests, 20 runs each with retries off (tempo)"), "{stdout}");
    assert!(stdout.contains("  broken      20/20   100%  wobbly always_fails\n"), "{stdout}");
    assert!(
        stdout.contains(
            "[[profile.default.overrides]]\nfilter = \"test(=sometimes_fails) & binary_id(=wobbly)\"\nretries = "
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("binary_id(=wobbly)\"\nretries = 0"), "{stdout}");
    assert_eq!(last_line(&stdout), "tempo flaky: 1 flaky, 1 broken, 5 stable");
    // The Markdown report sits in the store directory, next to where JSON would go.
    let md_path = stdout.lines().find_map(|l| l.strip_prefix("reports: ")).unwrap().split(" and ").next().unwrap();
    assert!(md_path.ends_with("/flaky/flaky.md"), "{md_path}");
    let md = std::fs::read_to_string(md_path).unwrap();
    assert!(
        md.contains("| flaky | ") && md.contains("`sometimes_fails`") && md.contains("## Suggested overrides"),
        "{md}"
    );
}

#[test]
fn steady_tests_alone_exit_zero_with_nothing_to_suggest() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    let (stdout, entries) = flaky(dir.path(), &["--runs", "3", "steady"], 0);
    assert_eq!(entries.keys().map(String::as_str).collect::<Vec<_>>(), STEADY);
    assert!(entries.values().all(|e| e.verdict == "stable" && e.runs == 3));
    assert!(!stdout.contains("overrides"), "{stdout}");
    assert_eq!(last_line(&stdout), "tempo flaky: 0 flaky, 0 broken, 5 stable");
}

/// Regression: a batch runs a test that failed in it again alone and keeps that
/// result, which would hide the failures `flaky` counts; so even under
/// `isolation = "batch"` every test runs in a process of its own.
#[test]
fn flaky_runs_every_test_alone_even_when_the_profile_batches() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tempo.toml");
    std::fs::write(&config, "[profile.default]\nisolation = \"batch\"\n").unwrap();
    let log = dir.path().join("how.log");
    build_flaky_fixture();
    let out = run_expecting(
        tempo(&flaky_fixture())
            .args(["flaky", "--runs", "3", "--config-file"])
            .arg(&config)
            .arg("--json")
            .arg(dir.path().join("report.json"))
            .arg("steady")
            .env("TEMPO_FIXTURE_LOG", &log),
        0,
    );
    let how = std::fs::read_to_string(&log).unwrap();
    assert_eq!(how, "alone\nalone\nalone\n", "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_nextest_engine_gives_the_same_verdicts() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    let (stdout, entries) = flaky(dir.path(), &["--runs", "20", "--engine", "nextest"], 108);
    check_verdicts(&entries, 20);
    assert!(stdout.contains("(cargo nextest run)"), "{stdout}");
}

#[test]
fn write_adds_overrides_that_tempo_and_nextest_accept() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tempo.toml");
    std::fs::write(&config, "# Kept as written.\n[profile.default]\nslow-timeout = \"30s\" # a comment\n").unwrap();
    let args = ["--runs", "20", "--write", "--config-file", config.to_str().unwrap(), "-E", "test(sometimes_fails)"];
    let (stdout, entries) = flaky(dir.path(), &args, 108);
    assert_eq!(entries["sometimes_fails"].verdict, "flaky", "{stdout}");
    assert!(
        stdout.contains(&format!("added 1 override with retries for the flaky tests to {}", config.display())),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("# Kept as written.\n[profile.default]\nslow-timeout = \"30s\" # a comment\n"), "{text}");
    assert!(
        text.contains("[[profile.default.overrides]]\nfilter = \"test(=sometimes_fails) & binary_id(=wobbly)\""),
        "{text}"
    );

    // tempo reads it, and the override takes effect for exactly the flaky test.
    let out = run_expecting(tempo(&flaky_fixture()).args(["show-config", "--config-file"]).arg(&config), 0);
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("takes effect for 1 test:\n      wobbly sometimes_fails"), "{shown}");
    // So does nextest.
    let out = run_expecting(
        std::process::Command::new(env!("CARGO"))
            .args(["nextest", "list", "--config-file"])
            .arg(&config)
            .arg("--manifest-path")
            .arg(flaky_fixture().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", fixture_target_dir()),
        0,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sometimes_fails"));
    // A second --write adds nothing twice.
    let (stdout, _) = flaky(dir.path(), &args, 108);
    assert!(stdout.contains("added 0 overrides"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&config).unwrap().matches("[[profile.default.overrides]]").count(), 1);
}
