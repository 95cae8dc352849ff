//! `cargo tempo history-merge` joins the histories of a sharded run, so that the next
//! run (and its `duration:K/N` split) knows every test's newest duration.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Runs the fixture with `store` as its store directory; `partition` picks a shard.
fn run(store: &Path, partition: Option<&str>) {
    let mut cmd = tempo(&fixture());
    cmd.env("TEMPO_STORE_DIR", store).args(["run", "--no-fail-fast", "--no-report"]);
    if let Some(p) = partition {
        cmd.args(["--partition", p]);
    }
    let out = cmd.output().unwrap();
    assert!(matches!(out.status.code(), Some(0 | 100)), "{}", String::from_utf8_lossy(&out.stderr));
}

/// (binary id, test name) → how many runs the history holds.
fn run_counts(path: &Path) -> Vec<((String, String), usize)> {
    let history: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut counts = Vec::new();
    for (binary, tests) in history["tests"].as_object().unwrap() {
        for (name, test) in tests.as_object().unwrap() {
            counts.push(((binary.clone(), name.clone()), test["runs"].as_array().unwrap().len()));
        }
    }
    counts
}

#[test]
fn merged_shard_histories_hold_each_tests_new_run_once() {
    build_fixture();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    run(&base, None);
    let before = run_counts(&base.join("history.json"));
    assert!(before.len() > 10 && before.iter().all(|(_, n)| *n == 1), "{before:?}");

    // Each shard starts from the same history, as the CI workflow hands it on.
    let mut shards = Vec::new();
    for k in 1..=2 {
        let store = dir.path().join(format!("shard{k}"));
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(base.join("history.json"), store.join("history.json")).unwrap();
        run(&store, Some(&format!("duration:{k}/2")));
        shards.push(store.join("history.json"));
    }
    let merged = dir.path().join("merged/history.json");
    let out = run_expecting(tempo(&fixture()).arg("history-merge").arg(&merged).args(&shards), 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("merged 2 histories into"), "{stderr}");

    // Every test ran once more, in exactly one shard; the first run, which both shards
    // inherited, is counted once.
    let after = run_counts(&merged);
    assert_eq!(after.iter().map(|(k, _)| k).collect::<Vec<_>>(), before.iter().map(|(k, _)| k).collect::<Vec<_>>());
    assert!(after.iter().all(|(_, n)| *n == 2), "{after:?}");
    // Neither shard alone has that.
    for shard in &shards {
        assert!(run_counts(shard).iter().any(|(_, n)| *n == 1), "a shard ran only part of the tests");
    }
}

#[test]
fn an_unreadable_history_names_the_file_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("history.json");
    std::fs::write(&bad, "{\"version\": 1, \"tests\": [").unwrap();
    let out = dir.path().join("out.json");
    let result = run_expecting(tempo(dir.path()).arg("history-merge").arg(&out).arg(&bad), 109);
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(stderr.contains("failed to read the history") && stderr.contains("history.json"), "{stderr}");
    assert!(!out.exists(), "nothing is written");

    std::fs::write(&bad, "{\"version\": 99, \"tests\": {}}").unwrap();
    let result = run_expecting(tempo(dir.path()).arg("history-merge").arg(&out).arg(&bad), 109);
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(stderr.contains("version 99"), "{stderr}");
}
