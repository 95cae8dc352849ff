//! `cargo tempo list -E EXPR` selects exactly what `cargo nextest list -E EXPR` selects,
//! for every predicate, operator and matcher, on the fixture and the generated suites.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn nextest(workspace: &Path, expr: &str) -> (i32, String) {
    nextest_with(workspace, &["-E", expr])
}

fn nextest_with(workspace: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO"))
        .args(["nextest", "list", "--message-format", "oneline"])
        .args(args)
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .output()
        .expect("cargo nextest runs");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

fn ours(workspace: &Path, expr: &str) -> (i32, String) {
    ours_with(workspace, &["-E", expr])
}

fn ours_with(workspace: &Path, args: &[&str]) -> (i32, String) {
    let out = tempo(workspace).args(["list", "--message-format", "oneline"]).args(args).output().expect("tempo runs");
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap())
}

/// Compares every expression, then reports all mismatches at once.
fn compare(workspace: &Path, exprs: &[&str]) {
    let mut mismatches = Vec::new();
    let mut selected_something = 0;
    for expr in exprs {
        let (their_code, theirs) = nextest(workspace, expr);
        let (our_code, mine) = ours(workspace, expr);
        assert_eq!(their_code, 0, "nextest rejected {expr:?}; the case is wrong");
        if our_code != their_code || mine != theirs {
            mismatches
                .push(format!("{expr:?}: exit {our_code} vs {their_code}\n--- tempo\n{mine}--- nextest\n{theirs}"));
        }
        selected_something += usize::from(!theirs.is_empty());
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} expressions differ:\n{}",
        mismatches.len(),
        exprs.len(),
        mismatches.join("\n")
    );
    assert!(selected_something * 4 >= exprs.len() * 3, "most cases should select some tests");
}

#[test]
fn fixture_workspace() {
    build_fixture();
    compare(
        &fixture(),
        &[
            "all()",
            "none()",
            "test(parse)",
            "test(=parse_one)",
            "test(~greet)",
            "test(/^tests::/)",
            "test(#*::b::*)",
            "package(gamma)",
            "package(=alpha)",
            "package(/^be/)",
            "package(#g*)",
            "deps(beta-tool)",
            "rdeps(alpha)",
            "deps(=gamma) | rdeps(~alph)",
            "binary(alpha)",
            "binary(beta_tool)",
            "binary(#build_*)",
            "binary_id(beta-tool::bin/beta-tool)",
            "binary_id(alpha::*)",
            "binary_id(/::/)",
            "kind(lib)",
            "kind(test)",
            "kind(bin) | kind(example)",
            "platform(target)",
            "platform(host)",
            "default()",
            "not test(parse)",
            "!package(alpha)",
            "package(alpha) and test(parse)",
            "package(alpha) & not kind(lib)",
            "package(alpha) or package(gamma)",
            "package(alpha) | kind(bin) + test(greet)",
            "all() - package(alpha) - package(gamma)",
            "test(a) - test(parse) & kind(test)",
            "not (package(alpha) | package(gamma))",
            "(test(parse) | test(greet)) & !test(unparse)",
            "test(parse) | test(tests) & package(gamma)",
        ],
    );
}

#[test]
fn generated_benchmark_suites() {
    let suites = generated_suites();
    compare(
        &suites.join("trivial"),
        &[
            "test(t00)",
            "test(/t0(1|9)[0-9]{2}$/)",
            "test(#*::t05?0)",
            "not test(~m0) | test(=m03::t0300)",
            "test(m01) - test(/5$/)",
        ],
    );
    compare(
        &suites.join("skewed"),
        &[
            "package(zircon)",
            "binary(zz_long)",
            "test(zz_long) | kind(lib) & package(amber)",
            "binary_id(cobalt::*) - test(/[13579]$/)",
            "kind(test) and not package(/^[ab]/)",
        ],
    );
}

/// `group()` selects by the test group that the profile's overrides assign, with
/// nextest's matchers; a matcher that matches no group of `[test-groups]` (nor
/// `@global`) is an invalid filter for both.
#[test]
fn test_groups() {
    build_config_fixture();
    let workspace = config_fixture();
    let mut mismatches = Vec::new();
    for (profile, expr) in [
        ("groups", "group(serial)"),
        ("groups", "group(ser*)"),
        ("groups", "group(~eri)"),
        ("groups", "group(=@global)"),
        ("groups", "not group(@global)"),
        ("groups", "group(/^s/) | test(fails)"),
        ("groups", "group(@global) & test(steady)"),
        ("default", "group(serial)"),
        ("default", "group(@global)"),
        ("groups", "group(nope)"),
        ("groups", "test(steady) | group(/^x/)"),
    ] {
        let args = ["-P", profile, "-E", expr];
        let (their_code, theirs) = nextest_with(&workspace, &args);
        let (our_code, mine) = ours_with(&workspace, &args);
        if our_code != their_code || mine != theirs {
            mismatches.push(format!(
                "-P {profile} -E {expr:?}: exit {our_code} vs {their_code}\n--- tempo\n{mine}--- nextest\n{theirs}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The profile decides: `groups` puts six tests in `serial`, `default` none.
    assert_eq!(ours_with(&workspace, &["-P", "groups", "-E", "group(serial)"]).1.lines().count(), 6);
    assert_eq!(ours_with(&workspace, &["-E", "group(serial)"]).1, "");
}
