//! `cargo tempo tune` on the tune fixture, whose eight tests sleep 100-200 ms: with
//! either engine, a sweep over 1, 2 and 4 threads prints one row per count and a
//! recommendation among them, writes the chart and the reports, and `--write` leaves
//! a config that tempo and nextest both accept, with its comments kept. A failing test
//! stops the sweep with exit code 100.
//!
//! Nothing here asserts on speed: on a busy two-core machine any count can win. The
//! recommendation rule itself is tested on fixed numbers in `src/tune/analysis.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

#[derive(Debug, serde::Deserialize)]
struct Report {
    engine: String,
    tests: usize,
    repeat: u32,
    rows: Vec<Row>,
    recommendation: Recommendation,
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    setting: String,
    threads: Option<usize>,
    runs: Vec<serde_json::Value>,
    median_wall_s: f64,
    min_wall_s: f64,
    max_wall_s: f64,
    cpu_utilization: f64,
}

#[derive(Debug, serde::Deserialize)]
struct Recommendation {
    threads: usize,
}

/// What a finished sweep printed and wrote.
struct Swept {
    stdout: String,
    stderr: String,
    recommended: usize,
    report: Report,
}

/// Runs `tune` in `workspace` with `args`, expecting success; checks the table, the
/// recommendation line and the three report files against each other.
fn tune(workspace: &Path, args: &[&str]) -> Swept {
    let out = run_expecting(tempo(workspace).arg("tune").args(args), 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    // The tempo engine also measures adaptive concurrency, in a row of its own.
    let adaptive = !args.contains(&"nextest");
    let settings: &[&str] = if adaptive { &["1", "2", "4", "adaptive"] } else { &["1", "2", "4"] };
    let header = lines.iter().position(|l| l.trim_start().starts_with("threads ")).expect(&stdout);
    let counts: Vec<&str> =
        lines[header + 1..header + 1 + settings.len()].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(counts, settings, "{stdout}");
    let recommendation = lines[header + 1 + settings.len()];
    let recommended: usize = recommendation
        .strip_prefix("recommended test-threads = ")
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no recommendation line after the table:\n{stdout}"));
    assert!([1, 2, 4].contains(&recommended), "{stdout}");
    assert!(recommendation.contains("tolerance 5.0%"), "{recommendation}");
    // Issue 14: the learned policy beside the counts, a class for each of the 8 tests.
    // (Which class, for a sleep of a few milliseconds, depends on how long the
    // process took to start on this machine.)
    let learned = lines.iter().find(|l| l.starts_with("adaptive learned: "));
    if adaptive {
        let learned = learned.unwrap_or_else(|| panic!("no learned policy:\n{stdout}"));
        let counted: usize = learned["adaptive learned: ".len()..]
            .split(", ")
            .map(|part| part.split_whitespace().next().and_then(|n| n.parse::<usize>().ok()).expect(learned))
            .sum();
        assert_eq!(counted, 8, "{learned}");
        assert!(learned.contains(" waiting"), "{learned}");
    } else {
        assert!(learned.is_none(), "nextest's engine learns nothing:\n{stdout}");
    }

    let path = |prefix: &str| -> PathBuf {
        PathBuf::from(lines.iter().find_map(|l| l.strip_prefix(prefix)).unwrap_or_else(|| panic!("{stdout}")))
    };
    let svg_path = path("chart: ");
    let reports = path("reports: ");
    let (md_path, json_path) = reports.to_str().unwrap().split_once(" and ").unwrap();
    assert!(svg_path.ends_with("tune/tune.svg") && md_path.ends_with("tune/tune.md"), "{stdout}");
    assert_eq!(Path::new(json_path).parent(), svg_path.parent());

    let report: Report = serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    assert_eq!(report.recommendation.threads, recommended);
    assert_eq!(report.tests, 8, "{report:?}");
    let mut rows = vec![Some(1), Some(2), Some(4)];
    if adaptive {
        rows.push(None);
        assert!(recommendation.contains("; adaptive: "), "{recommendation}");
    }
    assert_eq!(report.rows.iter().map(|r| r.threads).collect::<Vec<_>>(), rows);
    for row in &report.rows {
        assert_eq!(row.runs.len(), report.repeat as usize, "{row:?}");
        assert_eq!(row.setting, row.threads.map_or_else(|| "adaptive".to_owned(), |n| n.to_string()));
        assert!(row.min_wall_s <= row.median_wall_s && row.median_wall_s <= row.max_wall_s, "{row:?}");
        // The wall times are the runs': the eight tests sleep 1.22 s in all, at most
        // `threads` at once, and the longest 200 ms. (A floor, not a speed: a busy
        // machine only raises it. Speed is measured by `bench/tune.py`.)
        let floor = row.threads.map_or(0.2, |t| (1.22 / t as f64).max(0.2));
        assert!(row.min_wall_s >= floor, "at least {floor} s: {row:?}");
        assert!((0.0..=1.0).contains(&row.cpu_utilization), "{row:?}");
    }
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("the chart is not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let labels: Vec<&str> = doc.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect();
    assert!(labels.contains(&format!("recommended: {recommended}").as_str()), "{labels:?}");
    let md = std::fs::read_to_string(md_path).unwrap();
    assert!(md.contains(&format!("**recommended test-threads = {recommended}:")), "{md}");
    assert!(md.contains("| 4 | "), "{md}");

    // Progress: the warm-up, then each measured run once.
    assert!(stderr.contains("tune: warm-up, threads=4: "), "{stderr}");
    let n = settings.len();
    for k in 1..=n {
        assert_eq!(stderr.matches(&format!("tune: [{k}/{n}] threads=")).count(), 1, "{stderr}");
    }
    Swept { stdout, stderr, recommended, report }
}

#[test]
fn a_tempo_sweep_prints_a_row_per_count_and_a_recommendation() {
    let _serial = fixture_target_lock();
    build_tune_fixture();
    let swept = tune(&tune_fixture(), &["--threads", "4,1,2", "--repeat", "1"]);
    assert_eq!(swept.report.engine, "tempo");
    assert!(
        swept
            .stdout
            .starts_with("tune: 8 tests, 1 run at each of 4 settings after a warm-up run (tempo, profile `default`")
    );
    // Without --write, nothing is written: the fixture has no config file.
    assert!(swept.stdout.contains("--write sets test-threads = "), "{}", swept.stdout);
    assert!(!tune_fixture().join(".config").exists());
}

#[test]
fn write_sets_test_threads_in_the_tempo_config_and_keeps_its_comments() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(&tune_fixture(), dir.path());
    let config = dir.path().join(".config/tempo.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        "# Kept as written.\n[profile.default]\nslow-timeout = \"30s\" # a comment\ntest-threads = 16\n",
    )
    .unwrap();
    let swept = tune(dir.path(), &["--threads", "1,2,4", "--repeat", "1", "--write"]);
    let n = swept.recommended;
    assert!(
        swept.stdout.contains(&format!("set test-threads = {n} in profile `default` of {}", config.display())),
        "{}",
        swept.stdout
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(
        text,
        format!("# Kept as written.\n[profile.default]\nslow-timeout = \"30s\" # a comment\ntest-threads = {n}\n")
    );

    // tempo reads it...
    let out = run_expecting(tempo(dir.path()).arg("show-config"), 0);
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains(&format!("\n  test-threads        {n}\n")), "{shown}");
    // ...and so does nextest.
    nextest_accepts(dir.path(), Some(&config));
}

#[test]
fn write_creates_the_tempo_config_when_there_is_none() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(&tune_fixture(), dir.path());
    let swept = tune(dir.path(), &["--threads", "1,2,4", "--repeat", "1", "--write"]);
    let text = std::fs::read_to_string(dir.path().join(".config/tempo.toml")).unwrap();
    assert_eq!(text, format!("[profile.default]\ntest-threads = {}\n", swept.recommended));
}

/// `cargo nextest list` (which reads and checks the whole config) accepts the workspace
/// with this config file.
fn nextest_accepts(workspace: &Path, config: Option<&Path>) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["nextest", "list"]).current_dir(workspace).env("CARGO_TARGET_DIR", fixture_target_dir());
    if let Some(config) = config {
        cmd.arg("--config-file").arg(config);
    }
    let out = run_expecting(&mut cmd, 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("tests::nap_100"));
    run_expecting(
        Command::new(env!("CARGO"))
            .args(["nextest", "show-config", "test-groups"])
            .args(config.map(|c| vec![std::ffi::OsString::from("--config-file"), c.into()]).unwrap_or_default())
            .current_dir(workspace)
            .env("CARGO_TARGET_DIR", fixture_target_dir()),
        0,
    );
}

#[test]
fn a_nextest_sweep_writes_its_recommendation_to_the_nextest_config() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(&tune_fixture(), dir.path());
    let config = dir.path().join(".config/nextest.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "# For nextest.\n[profile.default]\nretries = 1 # one retry\n").unwrap();
    let swept = tune(dir.path(), &["--engine", "nextest", "--threads", "1,2,4", "--repeat", "1", "--write"]);
    assert_eq!(swept.report.engine, "cargo nextest run");
    assert!(swept.stdout.contains("(cargo nextest run, profile `default`"), "{}", swept.stdout);
    let n = swept.recommended;
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(text, format!("# For nextest.\n[profile.default]\nretries = 1 # one retry\ntest-threads = {n}\n"));
    nextest_accepts(dir.path(), None);
    // tempo reads `.config/nextest.toml` when there is no `.config/tempo.toml`.
    let out = run_expecting(tempo(dir.path()).arg("show-config"), 0);
    assert!(String::from_utf8(out.stdout).unwrap().contains(&format!("\n  test-threads        {n}\n")));
    assert!(!dir.path().join(".config/tempo.toml").exists());
    assert!(swept.stderr.contains("tune: [3/3] threads="), "{}", swept.stderr);
}

#[test]
fn a_nextest_sweep_creates_the_nextest_config_when_there_is_none() {
    let _serial = fixture_target_lock();
    let dir = tempfile::tempdir().unwrap();
    copy_workspace(&tune_fixture(), dir.path());
    let swept = tune(dir.path(), &["--engine", "nextest", "--threads", "1,2,4", "--repeat", "1", "--write"]);
    let text = std::fs::read_to_string(dir.path().join(".config/nextest.toml")).unwrap();
    assert_eq!(text, format!("[profile.default]\ntest-threads = {}\n", swept.recommended));
    nextest_accepts(dir.path(), None);
}

/// Runs a sweep that includes the always-failing ignored test; returns stderr.
fn failing_sweep(engine: &str) -> String {
    build_tune_fixture();
    let store = fresh_store_dir();
    let out = run_expecting(
        tempo(&tune_fixture()).env("TEMPO_STORE_DIR", &store).args([
            "tune",
            "--engine",
            engine,
            "--threads",
            "1,2",
            "--repeat",
            "3",
            "--include-ignored",
            "--write",
        ]),
        100,
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("error: failed to finish the sweep: 1 test failed in the warm-up run (2 threads)"),
        "{stderr}"
    );
    assert!(stderr.contains("\n  napper tests::broken ("), "{stderr}");
    assert!(stderr.contains("tune stopped there"), "{stderr}");
    // Stopped before any measured run: no table, no reports, no config.
    assert!(!stderr.contains("[1/6]"), "{stderr}");
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    assert!(!store.join("tune").exists());
    assert!(!tune_fixture().join(".config").exists());
    stderr
}

#[test]
fn a_failing_test_stops_a_tempo_sweep_with_exit_code_100() {
    let _serial = fixture_target_lock();
    let stderr = failing_sweep("tempo");
    let from_error = &stderr[stderr.find("error: ").unwrap()..];
    insta::assert_snapshot!(from_error);
}

#[test]
fn tune_help() {
    let _serial = fixture_target_lock();
    let out = run_expecting(tempo(&repo_root()).args(["tune", "--help"]), 0);
    insta::assert_snapshot!(String::from_utf8(out.stdout).unwrap());
}

#[test]
fn a_failing_test_stops_a_nextest_sweep_with_exit_code_100() {
    let _serial = fixture_target_lock();
    failing_sweep("nextest");
}
