//! `--partition`: `count`, `hash` and `slice` pick exactly the tests that
//! `cargo nextest list --partition` picks on the fixture workspace, and `duration`
//! splits by the history, the same way in `list`, `partition --show` and `run`
//! (pipelined or not).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use common::*;

fn nextest_list(partition: &str, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["nextest", "list", "--message-format", "oneline", "--partition", partition])
        .current_dir(fixture())
        .env("CARGO_TARGET_DIR", fixture_target_dir());
    // nextest takes `-E` itself and libtest's flags after `--`.
    let (exprs, libtest): (Vec<&str>, Vec<&str>) = match args.first() {
        Some(&"-E") => (args.to_vec(), vec![]),
        _ => (vec![], args.to_vec()),
    };
    cmd.args(&exprs);
    if !libtest.is_empty() {
        cmd.arg("--").args(&libtest);
    }
    let out = cmd.output().expect("cargo nextest runs");
    assert!(out.status.success(), "cargo nextest list failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn tempo_list(store: &Path, args: &[&str]) -> String {
    let out = run_expecting(
        tempo(&fixture()).env("TEMPO_STORE_DIR", store).args(["list", "--message-format", "oneline"]).args(args),
        0,
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn count_hash_and_slice_match_nextest() {
    build_fixture();
    let store = fresh_store_dir();
    // Ignored tests have a round-robin of their own in nextest, and -E selects before
    // partitioning: both are covered.
    let selections: &[&[&str]] = &[&[], &["--include-ignored"], &["-E", "package(alpha) | kind(test)"]];
    for kind in ["count", "hash", "slice"] {
        for (k, n) in [(1, 3), (2, 3), (3, 3), (2, 2)] {
            for selection in selections {
                let partition = format!("{kind}:{k}/{n}");
                let ours = tempo_list(&store, &[&["--partition", &partition][..], selection].concat());
                let theirs = nextest_list(&partition, selection);
                assert_eq!(ours, theirs, "shard lists differ for {partition} {selection:?}");
            }
        }
    }
}

#[test]
fn shards_are_disjoint_and_cover_every_test() {
    build_fixture();
    let store = fresh_store_dir();
    let all: BTreeSet<String> = tempo_list(&store, &[]).lines().map(str::to_owned).collect();
    for kind in ["count", "hash", "slice", "duration"] {
        let mut seen = BTreeSet::new();
        for k in 1..=3 {
            for line in tempo_list(&store, &["--partition", &format!("{kind}:{k}/3")]).lines() {
                assert!(seen.insert(line.to_owned()), "{line} is in two {kind} shards");
            }
        }
        assert_eq!(seen, all, "the {kind} shards together hold every test");
    }
}

#[test]
fn a_bad_partition_is_a_usage_error() {
    let out = run_expecting(tempo(&fixture()).args(["list", "--partition", "duration:4/3"]), 2);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("the shard must be between 1 and 3"), "{stderr}");
}

/// A history in which `alpha a::b::c` takes a second and every other test 1 ms.
fn write_history(store: &Path, all: &str) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut tests: BTreeMap<String, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
    for line in all.lines() {
        let (binary, name) = line.split_once(' ').unwrap();
        let us = if line == "alpha a::b::c" { 1_000_000 } else { 1_000 };
        let package = binary.split("::").next().unwrap();
        let run = serde_json::json!({"at": now, "duration_us": us, "cpu_us": 0, "outcome": "pass", "attempts": 1});
        tests
            .entry(binary.to_owned())
            .or_default()
            .insert(name.to_owned(), serde_json::json!({"package": package, "runs": [run]}));
    }
    std::fs::create_dir_all(store).unwrap();
    let history = serde_json::json!({"version": 1, "tests": tests, "runs": []});
    std::fs::write(store.join("history.json"), serde_json::to_vec(&history).unwrap()).unwrap();
}

#[test]
fn duration_shards_follow_the_history() {
    build_fixture();
    let store = fresh_store_dir();
    let all = tempo_list(&store, &[]);
    write_history(&store, &all);
    // Longest first: the 1 s test fills shard 1, and the 1 ms tests all fit beside it
    // in shard 2 before shard 2 weighs as much.
    let first = tempo_list(&store, &["--partition", "duration:1/2"]);
    assert_eq!(first, "alpha a::b::c\n");
    let second = tempo_list(&store, &["--partition", "duration:2/2"]);
    assert_eq!(second.lines().count(), all.lines().count() - 1);

    // `partition --show` prints the same assignment, and prints it the same way twice.
    let show = || {
        let out = run_expecting(tempo(&fixture()).env("TEMPO_STORE_DIR", &store).args(["partition", "--show", "2"]), 0);
        String::from_utf8(out.stdout).unwrap()
    };
    let shown = show();
    assert_eq!(shown, show(), "the assignment is deterministic");
    let shard_2 = shown.split("shard 2/2").nth(1).expect("a second shard");
    assert!(shown.contains("shard 1/2: 1 tests, expected 1.000s"), "{shown}");
    let expected_2 = format!(
        "shard 2/2: {} tests, expected {:.3}s",
        all.lines().count() - 1,
        (all.lines().count() - 1) as f64 / 1000.0
    );
    assert!(shown.contains(&expected_2), "{shown}");
    for line in second.lines() {
        assert!(shard_2.contains(&format!(" {line}\n")), "{line} is in shard 2 of --show:\n{shown}");
    }
}

/// Each shard of a run, pipelined or not, runs exactly the tests its `list` names,
/// and counts the others as skipped.
#[test]
fn runs_run_their_shard_pipelined_or_not() {
    build_fixture();
    let store = fresh_store_dir();
    let all = tempo_list(&store, &[]);
    write_history(&store, &all);
    let total = expected(&fixture()).len();
    for partition in ["duration:2/2", "count:1/2", "slice:2/3"] {
        let listed: BTreeSet<(String, String)> = tempo_list(&store, &["--partition", partition])
            .lines()
            .map(|l| {
                let (b, n) = l.split_once(' ').unwrap();
                (b.to_owned(), n.to_owned())
            })
            .collect();
        for extra in [&[][..], &["--no-pipeline"]] {
            // A run writes the history: a copy keeps every run on the same one.
            let run_store = fresh_store_dir();
            std::fs::create_dir_all(&run_store).unwrap();
            std::fs::copy(store.join("history.json"), run_store.join("history.json")).unwrap();
            let out = tempo(&fixture())
                .env("TEMPO_STORE_DIR", &run_store)
                .args(["run", "--no-fail-fast", "--partition", partition])
                .args(extra)
                .output()
                .unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let ran: BTreeSet<(String, String)> = statuses(&stdout).into_keys().collect();
            assert_eq!(ran, listed, "{partition} {extra:?} runs its shard:\n{stdout}");
            let failed = ran.iter().filter(|(b, n)| {
                expected(&fixture()).iter().any(|e| &e.binary_id == b && &e.name == n && e.outcome == "fail")
            });
            let failed = failed.count();
            assert_eq!(out.status.code(), Some(if failed > 0 { 100 } else { 0 }), "{stdout}");
            let skipped = total - ran.len();
            assert_eq!(
                last_line(&stdout),
                format!("tempo: {} passed, {failed} failed, {skipped} skipped", ran.len() - failed),
                "{partition} {extra:?}"
            );
        }
    }
}
