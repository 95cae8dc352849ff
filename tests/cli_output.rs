//! Snapshots of the output people read: help, the run's report and error messages.

mod common;

use common::*;

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn run_help() {
    let out = run_expecting(tempo(&repo_root()).args(["run", "--help"]), 0);
    insta::assert_snapshot!(stdout_of(&out));
}

#[test]
fn list_help() {
    let out = run_expecting(tempo(&repo_root()).args(["list", "--help"]), 0);
    insta::assert_snapshot!(stdout_of(&out));
}

#[test]
fn run_report_with_a_failure() {
    build_fixture();
    let out = run_expecting(
        tempo(&fixture()).args(["run", "-j", "1", "--no-fail-fast", "--exact", "parse_one", "parse_broken", "a::d"]),
        100,
    );
    insta::assert_snapshot!(normalize(&stdout_of(&out)));
}

#[test]
fn list_human() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["list", "-p", "gamma", "--include-ignored"]), 0);
    insta::assert_snapshot!(stdout_of(&out));
}

#[test]
fn a_missing_manifest_is_a_setup_error() {
    let out = run_expecting(tempo(&repo_root()).args(["run", "--manifest-path", "no/such/Cargo.toml"]), 96);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let out = run_expecting(tempo(&repo_root()).args(["run", "--no-such-flag"]), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected argument '--no-such-flag'"), "{stderr}");
}

#[test]
fn cargo_missing_from_path_is_a_setup_error() {
    let out = run_expecting(tempo(&fixture()).args(["run"]).env("CARGO", "/no/such/cargo"), 96);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to run `/no/such/cargo`") && stderr.contains("is cargo installed"), "{stderr}");
}

#[test]
fn cargo_not_on_path_is_a_setup_error() {
    let out = run_expecting(tempo(&fixture()).args(["run"]).env_remove("CARGO").env("PATH", "/nonexistent"), 96);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed to run `cargo`") && stderr.contains("is cargo installed and on PATH?"), "{stderr}");
}
