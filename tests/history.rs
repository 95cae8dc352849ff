//! The duration history: recorded after each run, used to start the longest tests
//! first, shown by `cargo tempo history`, and overridden by `--failed-first`.

mod common;

use common::*;

/// The tests in the order their status lines appear.
fn order(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.contains("] retrying "))
        .filter(|l| !l.trim_start().starts_with("Summary") && !l.trim_start().starts_with("SKIP"))
        .map(|l| l.rsplit(' ').next().unwrap().to_owned())
        .collect()
}

#[test]
fn history_puts_the_longest_tests_first() {
    build_config_fixture();
    let store = fresh_store_dir();
    let run = |extra: &[&str]| {
        let out = run_expecting(
            tempo(&config_fixture())
                .env("TEMPO_STORE_DIR", &store)
                .args([
                    "run",
                    "-j",
                    "1",
                    "--retries",
                    "0",
                    "--no-fail-fast",
                    "--status-level",
                    "all",
                    "--final-status-level",
                    "none",
                ])
                .args(["-E", "test(=always_fails) | test(=steady_00)"])
                .args(extra),
            100,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // No history yet: name order.
    assert_eq!(order(&run(&[])), ["always_fails", "steady_00"]);
    // steady_00 took 300 ms, always_fails a few: the longest starts first.
    assert_eq!(order(&run(&[])), ["steady_00", "always_fails"]);
    // --failed-first puts last run's failure ahead of the longer test.
    assert_eq!(order(&run(&["--failed-first"])), ["always_fails", "steady_00"]);

    let out = run_expecting(tempo(&config_fixture()).env("TEMPO_STORE_DIR", &store).args(["history"]), 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let slowest = stdout.lines().skip_while(|l| !l.starts_with("slowest")).nth(2).unwrap_or_default().to_owned();
    assert!(slowest.ends_with("retrying steady_00"), "the slowest test comes first:\n{stdout}");
    assert!(stdout.contains("history of 2 tests"), "{stdout}");
}

#[test]
fn a_corrupt_history_is_a_warning_and_is_rewritten() {
    build_config_fixture();
    let store = fresh_store_dir();
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("history.json"), "{\"version\": 1, \"tests\": {").unwrap();
    let out =
        run_expecting(tempo(&config_fixture()).env("TEMPO_STORE_DIR", &store).args(["run", "--exact", "steady_01"]), 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning: ignoring the history") && stderr.contains("corrupt"), "{stderr}");
    let text = std::fs::read_to_string(store.join("history.json")).unwrap();
    assert!(text.contains("steady_01"), "the history is rewritten: {text}");
}

/// Every run reports its CPU accounting on the Timing line and keeps it in the history.
#[test]
fn each_run_records_its_cpu_accounting() {
    build_config_fixture();
    let store = fresh_store_dir();
    let run = || {
        let out = run_expecting(
            tempo(&config_fixture()).env("TEMPO_STORE_DIR", &store).args(["run", "-j", "2", "-E", "test(=steady_00)"]),
            0,
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let stdout = run();
    let timing = stdout.lines().find(|l| l.trim_start().starts_with("Timing ")).expect("a Timing line");
    assert!(timing.contains("% (") && timing.contains("utilization "), "{timing}");
    assert!(timing.contains("slot idle ") && timing.matches("s/").count() == 1, "two slots, two idle times: {timing}");
    run();
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("history.json")).unwrap()).unwrap();
    let runs = history["runs"].as_array().expect("a runs list");
    assert_eq!(runs.len(), 2, "{history}");
    let last = &runs[1];
    assert_eq!(
        (last["profile"].as_str(), last["passed"].as_u64(), last["slots"].as_u64()),
        (Some("default"), Some(1), Some(2))
    );
    let (wall, cpu, cores) =
        (last["wall_s"].as_f64().unwrap(), last["cpu_s"].as_f64().unwrap(), last["cores"].as_f64().unwrap());
    assert!(wall >= 0.3, "{last}");
    assert!((last["cpu_utilization"].as_f64().unwrap() - cpu / (wall * cores)).abs() < 1e-6, "{last}");
    assert_eq!(last["slot_idle_s"].as_array().unwrap().len(), 2, "{last}");
}
