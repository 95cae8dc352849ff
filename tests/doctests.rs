//! Doctests (`tests/fixtures/doctests`): `--doc` runs them in the same run as the unit
//! tests, and each is counted, named and timed in the summary, the JUnit report and
//! the history, as the fixture's `expected.toml` says. An ignored doctest is skipped.

mod common;

use std::collections::BTreeMap;

use common::*;

/// `SKIP [         ] binary name` lines, as (binary id, name).
fn skipped(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("SKIP [         ] "))
        .filter_map(|rest| rest.split_once(' '))
        .map(|(b, n)| (b.to_owned(), n.to_owned()))
        .collect()
}

/// A test: (binary id, name).
type Key = (String, String);

/// Checks a run's status lines against the fixture's `expected.toml`, and returns
/// the tests that ran, with their outcomes, and the skipped ones.
fn assert_expected_outcomes(workspace: &std::path::Path, stdout: &str) -> (BTreeMap<Key, String>, Vec<Key>) {
    let expected = expected(workspace);
    let run: BTreeMap<(String, String), String> = expected
        .iter()
        .filter(|t| t.outcome != "SKIP")
        .map(|t| ((t.binary_id.clone(), t.name.clone()), t.outcome.clone()))
        .collect();
    assert_eq!(statuses(stdout), run, "{stdout}");
    let skips: Vec<(String, String)> =
        expected.iter().filter(|t| t.outcome == "SKIP").map(|t| (t.binary_id.clone(), t.name.clone())).collect();
    assert_eq!(skipped(stdout), skips, "{stdout}");
    (run, skips)
}

#[test]
fn doc_runs_every_doctest_and_counts_each_one() {
    build_doctest_fixture();
    let store = fresh_store_dir();
    let out = run_expecting(tempo(&doctest_fixture()).args(["run", "--doc"]).env("TEMPO_STORE_DIR", &store), 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let (run, skips) = assert_expected_outcomes(&doctest_fixture(), &stdout);
    let passed = run.values().filter(|o| *o == "PASS").count();
    let failed = run.len() - passed;
    assert_eq!(last_line(&stdout), format!("tempo: {passed} passed, {failed} failed, {} skipped", skips.len()));
    // The failing doctest shows what rustdoc printed for it.
    assert!(stdout.contains("this doctest fails"), "{stdout}");

    // JUnit: one testcase per doctest that ran, the failing one with a failure.
    let xml = std::fs::read_to_string(store.join("default/junit.xml")).expect("JUnit was written");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: BTreeMap<(String, String), bool> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            let suite = n.parent().unwrap().attribute("name").unwrap().to_owned();
            let failed = n.children().any(|c| c.has_tag_name("failure"));
            ((suite, n.attribute("name").unwrap().to_owned()), failed)
        })
        .collect();
    for ((binary, name), outcome) in &run {
        let key = (binary.clone(), name.clone());
        assert_eq!(cases.get(&key), Some(&(outcome != "PASS")), "{key:?} in {xml}");
    }

    // History: each doctest that ran has a duration.
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.join("history.json")).unwrap()).unwrap();
    for (binary, name) in run.keys() {
        let runs = history["tests"][binary][name]["runs"].as_array().unwrap_or_else(|| panic!("{name} in history"));
        assert!(runs[0]["duration_us"].as_u64().unwrap() > 0, "{name} was timed");
    }
}

#[test]
fn doctests_run_only_when_asked() {
    build_doctest_fixture();
    let out = run_expecting(tempo(&doctest_fixture()).args(["run"]), 0);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.contains("doctest"), "{stdout}");
    assert_eq!(last_line(&stdout), "tempo: 1 passed, 0 failed, 0 skipped");
    // `doctests = true` in the profile turns them on without `--doc`.
    let out = run_expecting(tempo(&doctest_fixture()).args(["run", "-P", "with-docs"]), 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(last_line(&stdout), "tempo: 7 passed, 1 failed, 1 skipped", "{stdout}");
}

#[test]
fn a_doctest_filter_selects_doctests_by_kind() {
    build_doctest_fixture();
    let out =
        run_expecting(tempo(&doctest_fixture()).args(["run", "--doc", "-E", "kind(doctest) & test(/add|div/)"]), 0);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // The unit tests' binary is not even listed: no test of a `lib` can be a doctest.
    assert_eq!(last_line(&stdout), "tempo: 3 passed, 0 failed, 5 skipped", "{stdout}");
}

/// `list --doc` lists what `run --doc` runs: every test of `expected.toml`, the ignored
/// doctest only with `--include-ignored`; plain `list` lists no doctest.
#[test]
fn list_doc_lists_the_doctests_that_run_doc_runs() {
    build_doctest_fixture();
    let list = |args: &[&str]| -> Vec<(String, String)> {
        let out = run_expecting(tempo(&doctest_fixture()).args(["list", "--message-format", "oneline"]).args(args), 0);
        let mut lines: Vec<(String, String)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split_once(' ').map(|(b, n)| (b.to_owned(), n.to_owned())).unwrap())
            .collect();
        lines.sort();
        lines
    };
    let expected = expected(&doctest_fixture());
    let mut all: Vec<(String, String)> = expected.iter().map(|t| (t.binary_id.clone(), t.name.clone())).collect();
    all.sort();
    assert_eq!(list(&["--doc", "--include-ignored"]), all);
    let not_ignored: Vec<(String, String)> = all
        .iter()
        .filter(|k| expected.iter().any(|t| (&t.binary_id, &t.name) == (&k.0, &k.1) && t.outcome != "SKIP"))
        .cloned()
        .collect();
    assert_eq!(list(&["--doc"]), not_ignored);
    assert_eq!(list(&[]), [("doccy".to_owned(), "tests::unit_test_passes".to_owned())]);
    // The profile's `doctests = true` lists them without `--doc`.
    assert_eq!(list(&["-P", "with-docs"]), not_ignored);
}

/// Edition 2024 merges a crate's doctests into one program that every `cargo test
/// --doc` run compiles whole, so tempo runs a package's merged doctests as one unit:
/// one `cargo test --doc` run for the two files of `tests/fixtures/doctests-2024`,
/// whose outcomes are those of its `expected.toml`. rustdoc's closing timing line
/// (`all doctests ran in ...`) is not taken for a test.
#[test]
fn merged_doctests_run_as_one_unit_per_package() {
    build_merged_doctest_fixture();
    let (stdout, runs, compiles) = run_doc_logging_cargo(&merged_doctest_fixture(), &[]);
    assert!(stdout.contains("this merged doctest fails"), "{stdout}");
    assert_eq!(runs.len(), 1, "one run for both files: {runs:?}");
    assert!(!runs[0].contains("src/"), "the run selects no file: {}", runs[0]);
    // Listing (the doctests and the ignored ones) compiles no merged program: only
    // the run does, once, and says so in its closing timing line.
    assert_eq!(compiles, 1, "the merged doctests compile once per run");
}

/// Runs `cargo tempo run --doc` on `workspace` with `CARGO` pointing at a script that
/// logs each cargo command before running it; checks every outcome against the
/// fixture's `expected.toml`, and returns the output, the doctest runs (`cargo
/// test --doc` without `--list`) and how many times rustdoc compiled merged doctests
/// (its closing line, `... merged doctests compilation took ...`, in any cargo output).
fn run_doc_logging_cargo(workspace: &std::path::Path, env: &[(&str, &str)]) -> (String, Vec<String>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("cargo.log");
    let outputs = dir.path().join("cargo.out");
    let wrapper = dir.path().join("cargo");
    let script = format!(
        "#!/bin/bash\nset -o pipefail\necho \"$*\" >> '{}'\n'{}' \"$@\" | tee -a '{}'\n",
        log.display(),
        env!("CARGO"),
        outputs.display()
    );
    std::fs::write(&wrapper, script).unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = tempo(workspace);
    cmd.args(["run", "--doc"]).env("CARGO", &wrapper).envs(env.iter().copied());
    let out = run_expecting(&mut cmd, 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_expected_outcomes(workspace, &stdout);
    let calls = std::fs::read_to_string(&log).unwrap();
    let runs =
        calls.lines().filter(|l| l.starts_with("test --doc") && !l.contains("--list")).map(str::to_owned).collect();
    let compiles = std::fs::read_to_string(&outputs)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("all doctests ran in ") && l.contains("merged doctests compilation took"))
        .count();
    (stdout, runs, compiles)
}

/// A file with more doctests than a unit takes is split by item paths, each unit a
/// `cargo test --doc` run of its own, and the outcomes stay those of `expected.toml`.
/// `add` cannot select its doctest alone (`addons::extra` contains it), so it stays
/// in the unit that selects the file and skips the items run elsewhere.
#[test]
fn a_file_with_many_doctests_is_split_into_units() {
    build_doctest_fixture();
    let (_, whole, _) = run_doc_logging_cargo(&doctest_fixture(), &[]);
    assert_eq!(whole.len(), 1, "eight doctests in one file are one unit: {whole:?}");
    let (_, runs, _) = run_doc_logging_cargo(&doctest_fixture(), &[("TEMPO_DOCTESTS_PER_UNIT", "2")]);
    assert!(runs.len() >= 4, "units of at most two doctests: {runs:?}");
    let with_file: Vec<&String> = runs.iter().filter(|r| r.contains("doccy/src/lib.rs")).collect();
    assert_eq!(with_file.len(), 1, "{runs:?}");
    assert!(with_file[0].contains("--skip sub") && with_file[0].contains("--skip nonzero"), "{}", with_file[0]);
    assert!(runs.iter().any(|r| r.contains("-- nonzero ")), "{runs:?}");
}

/// A package's doctests run in one `cargo test --doc` with several libtest threads
/// (`TEMPO_DOCTEST_THREADS`, else one more than the cores), and still each doctest
/// gets its own outcome (checked against `expected.toml`); splitting into units
/// (`TEMPO_DOCTESTS_PER_UNIT`) runs each with one thread.
#[test]
fn a_package_runs_its_doctests_in_one_unit_of_several_threads() {
    build_doctest_fixture();
    let (_, runs, _) = run_doc_logging_cargo(&doctest_fixture(), &[("TEMPO_DOCTEST_THREADS", "4")]);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].contains("--test-threads 4") && !runs[0].contains("src/"), "{}", runs[0]);
    let (_, split, _) = run_doc_logging_cargo(&doctest_fixture(), &[("TEMPO_DOCTESTS_PER_UNIT", "2")]);
    assert!(split.iter().all(|r| r.contains("--test-threads 1")), "{split:?}");
}
