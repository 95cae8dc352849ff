//! Adaptive concurrency (`tests/fixtures/adaptive`): once the history knows each
//! test's CPU appetite, the two spinning tests, which collapse when they share too
//! few cores, never run beside each other, so neither takes much longer than alone;
//! and `cargo tempo history` shows what each test is charged.

mod common;

use std::path::Path;

use common::*;

/// (duration in µs, CPU in µs) of each recorded run of a test of the fixture, oldest first.
fn runs(store: &Path, name: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(store.join("history.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["tests"]["mixed"][name]["runs"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is in the history"))
        .iter()
        .map(|r| (r["duration_us"].as_u64().unwrap(), r["cpu_us"].as_u64().unwrap()))
        .collect()
}

#[test]
fn spinning_tests_never_share_too_few_cores() {
    build_adaptive_fixture();
    let store = fresh_store_dir();
    // Three rounds of: one test at a time (each test's time alone, and its CPU
    // appetite), then adaptive (the default), whose JSON events say when each
    // attempt ran. A round's two runs are next to each other in time, so that a
    // slow stretch of a shared host, which slows a spinner even with both of its
    // cores, slows both.
    const ROUNDS: usize = 3;
    let mut spins: Vec<Vec<(f64, f64)>> = Vec::new();
    for _ in 0..ROUNDS {
        run_expecting(tempo(&adaptive_fixture()).args(["run", "-j", "1"]).env("TEMPO_STORE_DIR", &store), 0);
        let out = run_expecting(
            tempo(&adaptive_fixture()).args(["run", "--message-format", "json"]).env("TEMPO_STORE_DIR", &store),
            0,
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut intervals = Vec::new();
        for line in stdout.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            if event["type"] == "run-started" {
                assert_eq!(event["slots"], 8, "adaptive: up to 4 x 2 cores at once: {line}");
            }
            if event["type"] == "test-finished" && event["name"].as_str().unwrap().contains("spin_") {
                let start = event["start_s"].as_f64().unwrap();
                intervals.push((start, start + event["duration_s"].as_f64().unwrap()));
            }
        }
        assert_eq!(intervals.len(), 2, "{stdout}");
        spins.push(intervals);
    }
    // The property itself, whatever else the machine is doing: the two spinners, each
    // charged both cores, never ran at the same time.
    for run in &spins {
        let (a, b) = (run[0], run[1]);
        assert!(a.1 <= b.0 + 0.01 || b.1 <= a.0 + 0.01, "the spinners overlapped: {run:?}");
    }
    // And their cost: in each round, the adaptive run against the run alone just
    // before it; the median of the rounds must stay within 3 times. Two spinners on
    // too few cores take many times longer, every round.
    let first = runs(&store, "tests::spin_a")[0];
    if (first.1 as f64) < 1.5 * first.0 as f64 {
        eprintln!("skipped: alone, spin_a used {} µs of CPU in {} µs; no two free cores here", first.1, first.0);
        return;
    }
    for name in ["tests::spin_a", "tests::spin_b"] {
        let runs = runs(&store, name);
        let mut ratios: Vec<f64> = runs.chunks(2).map(|pair| pair[1].0 as f64 / pair[0].0 as f64).collect();
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        assert!(median <= 3.0, "{name}: beside the others it took {median:.1} times its time alone: {runs:?}");
    }

    let out = run_expecting(tempo(&adaptive_fixture()).args(["history"]).env("TEMPO_STORE_DIR", &store), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    let takes = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.ends_with(&format!("mixed {name}"))).unwrap_or_else(|| panic!("{text}"));
        line.split_whitespace().nth(4).unwrap().parse().unwrap()
    };
    assert_eq!(takes("tests::spin_a"), 2.0, "a two-thread spinner is charged two cores:\n{text}");
    assert_eq!(takes("tests::busy_1"), 1.0, "{text}");
    assert!(takes("tests::wait_1") < 0.2, "a sleeping test is charged almost nothing:\n{text}");
}
