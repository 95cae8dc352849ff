//! `cargo tempo list --message-format oneline` prints exactly what
//! `cargo nextest list --message-format oneline` prints, filters included.
//! cargo-nextest is installed on every machine tempo is developed and tested on.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The name filters both tools accept: tempo directly, nextest after `--` (libtest's syntax).
const FILTER_CASES: &[&[&str]] = &[
    &[],
    &["parse"],
    &["parse", "tests::"],
    &["--exact", "parse_one"],
    &["--exact", "parse_one", "a::d"],
    &["--skip", "parse"],
    &["parse", "--skip", "unparse"],
    &["--exact", "--skip", "parse_one", "parse_one", "parse_two"],
    &["--ignored"],
    &["--include-ignored"],
    &["--include-ignored", "slow"],
    &["a::b"],
];

fn nextest_list(workspace: &Path, cargo_args: &[&str], filters: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["nextest", "list", "--message-format", "oneline"])
        .args(cargo_args)
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", fixture_target_dir());
    if !filters.is_empty() {
        cmd.arg("--").args(filters);
    }
    let out = cmd.output().expect("cargo nextest runs");
    assert!(out.status.success(), "cargo nextest list failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn tempo_list(workspace: &Path, cargo_args: &[&str], filters: &[&str]) -> String {
    let out =
        run_expecting(tempo(workspace).args(["list", "--message-format", "oneline"]).args(cargo_args).args(filters), 0);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn oneline_lists_match_nextest_on_the_fixture() {
    build_fixture();
    for filters in FILTER_CASES {
        let ours = tempo_list(&fixture(), &[], filters);
        let theirs = nextest_list(&fixture(), &[], filters);
        assert!(!ours.is_empty(), "every case selects some tests: {filters:?}");
        assert_eq!(ours, theirs, "lists differ for filters {filters:?}");
    }
}

/// nextest's own spelling of the ignored flag, `--run-ignored`, before `--`.
#[test]
fn run_ignored_matches_nextest() {
    build_fixture();
    for which in ["default", "only", "all"] {
        let ours = tempo_list(&fixture(), &["--run-ignored", which], &[]);
        let theirs = nextest_list(&fixture(), &["--run-ignored", which], &[]);
        assert!(!ours.is_empty(), "--run-ignored {which} selects some tests");
        assert_eq!(ours, theirs, "lists differ for --run-ignored {which}");
    }
    assert_eq!(tempo_list(&fixture(), &["--run-ignored", "only"], &[]), tempo_list(&fixture(), &["--ignored"], &[]));
    let both = tempo(&fixture()).args(["list", "--run-ignored", "all", "--ignored"]).output().unwrap();
    assert_eq!(both.status.code(), Some(2), "--run-ignored and --ignored conflict");
}

#[test]
fn oneline_lists_match_nextest_with_cargo_options() {
    build_fixture();
    for cargo_args in
        [&["-p", "beta-tool"][..], &["--lib"], &["--tests"], &["--bins"], &["--examples"], &["--test", "arith"]]
    {
        let ours = tempo_list(&fixture(), cargo_args, &[]);
        let theirs = nextest_list(&fixture(), cargo_args, &[]);
        assert!(!ours.is_empty(), "every case selects some tests: {cargo_args:?}");
        assert_eq!(ours, theirs, "lists differ for cargo options {cargo_args:?}");
    }
}

/// A deliberate difference: nextest ignores `--skip` when `--exact` is given without
/// positional filters; tempo skips, as libtest (`cargo test -- --exact --skip X`) does.
#[test]
fn exact_skip_without_filters_follows_libtest() {
    build_fixture();
    let ours = tempo_list(&fixture(), &[], &["--exact", "--skip", "parse_one"]);
    let theirs = nextest_list(&fixture(), &[], &["--exact", "--skip", "parse_one"]);
    assert!(theirs.contains("alpha::parsing parse_one\n"), "nextest's quirk is unchanged: {theirs}");
    let expected: String =
        theirs.lines().filter(|l| *l != "alpha::parsing parse_one").map(|l| format!("{l}\n")).collect();
    assert_eq!(ours, expected);
}

#[test]
fn oneline_lists_match_nextest_on_the_generated_suites() {
    let suites = generated_suites();
    for suite in ["trivial", "skewed"] {
        let workspace = suites.join(suite);
        let ours = tempo_list(&workspace, &[], &[]);
        let theirs = nextest_list(&workspace, &[], &[]);
        assert!(ours.lines().count() > 300, "{suite} lists its tests");
        assert_eq!(ours, theirs, "lists differ for the {suite} suite");
    }
}

/// Issue 15: libtest's arguments after `--` mean to tempo what they mean to nextest.
/// `cargo tempo run -- --skip prime` used to run only the tests matching `prime`,
/// every word after `--` taken for a name filter.
#[test]
fn libtest_arguments_after_a_double_dash_match_nextest() {
    build_fixture();
    for filters in FILTER_CASES.iter().filter(|f| !f.is_empty()) {
        let after: Vec<&str> = std::iter::once("--").chain(filters.iter().copied()).collect();
        let ours = tempo_list(&fixture(), &[], &after);
        let theirs = nextest_list(&fixture(), &[], filters);
        assert_eq!(ours, theirs, "lists differ for `-- {}`", filters.join(" "));
    }
    // libtest's `--skip=PATTERN` too, which nextest refuses ("arguments are unsupported").
    let ours = tempo_list(&fixture(), &[], &["--", "--skip=parse"]);
    assert_eq!(ours, nextest_list(&fixture(), &[], &["--skip", "parse"]));
    // One that tempo does not read is refused, with the ones it does.
    let out = run_expecting(tempo(&fixture()).args(["list", "--", "--test-threads", "2"]), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported libtest argument `--test-threads` after `--`"), "{stderr}");
    assert!(stderr.contains("`--skip PATTERN`"), "{stderr}");
}
