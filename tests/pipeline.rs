//! Pipelining: a binary's tests start while cargo is still building the rest of the
//! workspace, and `--no-pipeline` waits for the whole build.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/pipeline")
}

/// Runs tempo with a fresh nonce, so that `slow`'s 3 s build script runs again, and
/// returns when each crate's test started (unix milliseconds).
fn starts(extra: &[&str]) -> HashMap<String, u128> {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("starts.log");
    let nonce = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    run_expecting(
        tempo(&fixture()).args(["run"]).args(extra).env("TEMPO_PIPELINE_NONCE", nonce).env("TEMPO_PIPELINE_LOG", &log),
        0,
    );
    std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let (name, t) = l.split_once(' ').unwrap();
            (name.to_owned(), t.parse().unwrap())
        })
        .collect()
}

#[test]
fn tests_start_while_the_rest_of_the_workspace_builds() {
    // Build both crates once, so that only slow's build script reruns below.
    let status = Command::new(env!("CARGO"))
        .args(["test", "--no-run", "--quiet", "--manifest-path"])
        .arg(fixture().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .status()
        .unwrap();
    assert!(status.success());

    let pipelined = starts(&[]);
    let gap = pipelined["slow"] as i128 - pipelined["quick"] as i128;
    assert!(gap > 2000, "quick's test ran while slow's 3 s build script ran: it started {gap} ms before slow's");

    let waited = starts(&["--no-pipeline"]);
    let gap = (waited["slow"] as i128 - waited["quick"] as i128).abs();
    assert!(gap < 2000, "with --no-pipeline both tests start after the build: {gap} ms apart");
}
