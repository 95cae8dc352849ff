//! Results that must not be wrong, on a generated workspace: the shards of a
//! `duration` split run every selected test exactly once, whether they run one after
//! another in one workspace or from copies of one history; the summary is the last
//! line of everything a run prints; and a test name full of control characters
//! reaches neither the terminal raw nor the HTML report unescaped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;

/// How many unit tests the generated library has.
const TESTS: usize = 36;
/// The tests the seeded history leaves out, so that some tests have no history.
const UNSEEDED: usize = 4;
/// The odd test's name: a colour code, a bell and a carriage return.
const ODD: &str = "odd\x1b[31mred\x07bell\rreturn";
/// Selects the library's tests, which all pass, for the partition tests.
const LIB: &str = "kind(lib)";

/// Writes and builds a workspace of [`TESTS`] passing unit tests and one test target
/// with a hand-written harness that lists [`ODD`] and fails it.
fn workspace() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = repo_root().join("target/hostile-results-ws");
            std::fs::create_dir_all(root.join("src")).unwrap();
            std::fs::create_dir_all(root.join("tests")).unwrap();
            std::fs::write(
                root.join("Cargo.toml"),
                "[package]\nname = \"hostile_results\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [workspace]\n\n[[test]]\nname = \"odd\"\nharness = false\n",
            )
            .unwrap();
            let mut lib = String::from("#[cfg(test)]\nmod tests {\n");
            for i in 0..TESTS {
                lib.push_str(&format!("    #[test]\n    fn t{i:02}() {{ assert_eq!({i} + 1, {}); }}\n", i + 1));
            }
            lib.push_str("}\n");
            std::fs::write(root.join("src/lib.rs"), lib).unwrap();
            // Enough of libtest's interface for tempo: `--list --format terse` (with or
            // without `--ignored`), and a run of the names given, which fails them.
            let harness = format!(
                r#"const NAME: &str = {ODD:?};
fn main() {{
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {{
        if !args.iter().any(|a| a == "--ignored") {{
            println!("{{NAME}}: test");
        }}
        return;
    }}
    if args.iter().any(|a| a == NAME) {{
        println!("test {{NAME}} ... FAILED");
        println!("output of {{NAME}}");
        std::process::exit(101);
    }}
}}
"#
            );
            std::fs::write(root.join("tests/odd.rs"), harness).unwrap();
            let status = Command::new(env!("CARGO"))
                .args(["test", "--no-run", "--quiet", "--manifest-path"])
                .arg(root.join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", fixture_target_dir())
                .status()
                .expect("cargo runs");
            assert!(status.success(), "the generated workspace builds");
            root
        })
        .clone()
}

/// `tempo` in the generated workspace with `store` as its store directory.
fn tempo_in(store: &Path) -> Command {
    let mut cmd = tempo(&workspace());
    cmd.env("TEMPO_STORE_DIR", store);
    cmd
}

/// The selected tests, as (binary id, name).
fn listed(store: &Path, partition: Option<&str>) -> BTreeSet<(String, String)> {
    let mut cmd = tempo_in(store);
    cmd.args(["list", "--message-format", "oneline", "-E", LIB]);
    if let Some(p) = partition {
        cmd.args(["--partition", p]);
    }
    let out = run_expecting(&mut cmd, 0);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (b, n) = l.split_once(' ').unwrap();
            (b.to_owned(), n.to_owned())
        })
        .collect()
}

/// Seeds `store` with a history that gives the tests (all but [`UNSEEDED`] of them)
/// durations of a few microseconds in a scrambled order. Every real run measures
/// more than that (a process takes longer to start), so a run that wrote its
/// durations where partitioning reads them would change the split.
fn seed(store: &Path) -> BTreeSet<(String, String)> {
    let all = listed(store, None);
    assert_eq!(all.len(), TESTS);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 100;
    let mut tests: BTreeMap<String, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
    for (i, (binary, name)) in all.iter().enumerate().skip(UNSEEDED) {
        let us = (i * 7) % TESTS + 1;
        let run = serde_json::json!({"at": now, "duration_us": us, "cpu_us": 0, "outcome": "pass", "attempts": 1});
        tests
            .entry(binary.clone())
            .or_default()
            .insert(name.clone(), serde_json::json!({"package": "hostile_results", "runs": [run]}));
    }
    std::fs::create_dir_all(store).unwrap();
    let history = serde_json::json!({"version": 1, "tests": tests, "runs": []});
    std::fs::write(store.join("history.json"), serde_json::to_vec(&history).unwrap()).unwrap();
    all
}

/// Runs one shard in `store` and returns the tests it ran.
fn run_shard(store: &Path, partition: &str) -> BTreeSet<(String, String)> {
    let out = run_expecting(
        tempo_in(store).args(["run", "--no-fail-fast", "--no-report", "-E", LIB, "--partition", partition]),
        0,
    );
    statuses(&String::from_utf8(out.stdout).unwrap()).into_keys().collect()
}

/// Checks that the shards' tests are disjoint and together are `all`.
fn assert_exactly_once(shards: &[BTreeSet<(String, String)>], all: &BTreeSet<(String, String)>, what: &str) {
    let mut seen = BTreeSet::new();
    for (k, shard) in shards.iter().enumerate() {
        for test in shard {
            assert!(seen.insert(test.clone()), "{what}: {test:?} ran again in shard {}", k + 1);
        }
    }
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "{what}: {} of {} tests never ran: {missing:?}", missing.len(), all.len());
    assert_eq!(&seen, all, "{what}");
}

/// (binary id, name) → how many settled runs the history holds, and whether any
/// records are still pending.
fn settled_runs(store: &Path) -> (BTreeMap<(String, String), usize>, bool) {
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("history.json")).unwrap()).unwrap();
    let mut runs = BTreeMap::new();
    for (binary, tests) in history["tests"].as_object().unwrap() {
        for (name, test) in tests.as_object().unwrap() {
            runs.insert((binary.clone(), name.clone()), test["runs"].as_array().unwrap().len());
        }
    }
    let pending = history.get("pending").and_then(|p| p.as_array()).is_some_and(|p| !p.is_empty());
    (runs, pending)
}

/// Regression: shards run one after another in one workspace lost tests, because
/// each shard's run rewrote the durations that the next shard split by.
#[test]
fn duration_shards_in_sequence_run_every_test_once() {
    let store = fresh_store_dir();
    let all = seed(&store);
    let planned: Vec<_> = (1..=3).map(|k| listed(&store, Some(&format!("duration:{k}/3")))).collect();
    let ran: Vec<_> = (1..=3).map(|k| run_shard(&store, &format!("duration:{k}/3"))).collect();
    assert_exactly_once(&ran, &all, "shards in sequence");
    assert_eq!(ran, planned, "each shard ran the tests the history it started from gave it");
    // The split is complete, so the next run sees every new duration.
    let (runs, pending) = settled_runs(&store);
    assert!(!pending, "a complete split leaves nothing pending");
    for (i, test) in all.iter().enumerate() {
        assert_eq!(runs.get(test), Some(&if i < UNSEEDED { 1 } else { 2 }), "{test:?}");
    }
    // And a second sequence, from the new durations, covers everything again.
    let again: Vec<_> = (1..=3).map(|k| run_shard(&store, &format!("duration:{k}/3"))).collect();
    assert_exactly_once(&again, &all, "a second sequence");
}

/// The CI shape: each shard runs from its own copy of one history; `history-merge`
/// of their files settles the split; then a sequence of shards still covers every
/// test, and a run of every test follows.
#[test]
fn duration_shards_from_copies_then_merged_run_every_test_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let all = seed(&base);
    let mut ran = Vec::new();
    let mut files = Vec::new();
    for k in 1..=3 {
        let store = dir.path().join(format!("shard{k}"));
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(base.join("history.json"), store.join("history.json")).unwrap();
        ran.push(run_shard(&store, &format!("duration:{k}/3")));
        files.push(store.join("history.json"));
    }
    assert_exactly_once(&ran, &all, "shards from copies");

    // Merged in an order other than the shards', which must not matter.
    let merged = dir.path().join("merged");
    let mut cmd = tempo_in(&merged);
    cmd.arg("history-merge").arg(merged.join("history.json")).args(files.iter().rev());
    run_expecting(&mut cmd, 0);
    let (runs, pending) = settled_runs(&merged);
    assert!(!pending, "the merge completes the split");
    for (i, test) in all.iter().enumerate() {
        assert_eq!(runs.get(test), Some(&if i < UNSEEDED { 1 } else { 2 }), "{test:?}");
    }

    let sequence: Vec<_> = (1..=3).map(|k| run_shard(&merged, &format!("duration:{k}/3"))).collect();
    assert_exactly_once(&sequence, &all, "a sequence after the merge");
    let everything = run_expecting(tempo_in(&merged).args(["run", "--no-fail-fast", "--no-report", "-E", LIB]), 0);
    let everything: BTreeSet<_> = statuses(&String::from_utf8(everything.stdout).unwrap()).into_keys().collect();
    assert_eq!(everything, all);
    let (runs, pending) = settled_runs(&merged);
    assert!(!pending);
    assert!(all.iter().all(|t| runs[t] >= 3), "{runs:?}");
}

/// Runs `cmd` with stdout and stderr into one file, as a CI log holds them, and
/// returns what it printed and its exit code.
fn combined(cmd: &mut Command) -> (Vec<u8>, i32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let file = std::fs::File::create(&path).unwrap();
    let status =
        cmd.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).status().expect("cargo-tempo runs");
    (std::fs::read(&path).unwrap(), status.code().unwrap_or(-1))
}

/// Regression: `Report <path>` was printed after the summary, which was then not the
/// last line of a log that holds both streams.
#[test]
fn the_summary_is_the_last_line_with_the_report_just_before_it() {
    let store = fresh_store_dir();
    let (log, code) = combined(tempo_in(&store).args(["run", "-E", LIB]));
    let log = String::from_utf8(log).unwrap();
    assert_eq!(code, 0, "{log}");
    let lines: Vec<&str> = log.lines().collect();
    let last = lines.last().unwrap();
    assert!(last.starts_with(&format!("tempo: {TESTS} passed, 0 failed, ")), "{log}");
    let report = store.join("default/report.html");
    assert!(report.is_file());
    assert_eq!(lines[lines.len() - 2].trim(), format!("Report {}", report.display()), "{log}");
}

/// Whether `bytes` hold a control character other than newline, the only one tempo
/// itself prints here (colour is off).
fn raw_control(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|&b| b != b'\n' && (b < 0x20 || b == 0x7f))
}

/// Regression: control characters in a test name reached the terminal raw, and
/// made the HTML report invalid XML.
#[test]
fn a_test_name_with_control_characters_is_escaped_everywhere() {
    let store = fresh_store_dir();
    let escaped = "odd\\u{1b}[31mred\\u{7}bell\\rreturn";
    let report = store.join("default/report.html");
    let (run, code) = combined(tempo_in(&store).args(["run", "--no-fail-fast", "--status-level", "all"]));
    let text = String::from_utf8_lossy(&run);
    assert_eq!(code, 100, "the odd test fails:\n{text}");
    assert_eq!(raw_control(&run), None, "a control character reached the output raw:\n{text}");
    assert!(text.contains(&format!("hostile_results::odd {escaped}")), "{text}");

    for args in [
        &["list"][..],
        &["list", "--message-format", "oneline"],
        &["partition", "--show", "2"],
        &["history", "--limit", "100"],
    ] {
        let out = tempo_in(&store).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(raw_control(&out.stdout), None, "{args:?} printed a control character raw:\n{stdout}");
        assert_eq!(raw_control(&out.stderr), None, "{args:?}");
        assert!(stdout.contains(escaped), "{args:?} shows the name escaped:\n{stdout}");
    }

    let html = std::fs::read_to_string(&report).unwrap();
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    let doc = roxmltree::Document::parse_with_options(&html, options)
        .unwrap_or_else(|e| panic!("the report is not well-formed XML: {e}"));
    let names: Vec<&str> =
        doc.descendants().filter(|n| n.attribute("class") == Some("name")).filter_map(|n| n.text()).collect();
    assert!(names.contains(&escaped), "the failed odd test is listed, escaped: {names:?}");
}

/// A split with more shards than tests has a shard with nothing to run; it still
/// counts towards the split, pipelined or not, so the split settles.
#[test]
fn a_shard_without_tests_still_completes_its_split() {
    let two = "test(=tests::t00) | test(=tests::t01)";
    for extra in [&[][..], &["--no-pipeline"]] {
        let store = fresh_store_dir();
        let all = seed(&store);
        let selected: BTreeSet<_> = all.into_iter().filter(|(_, n)| n == "tests::t00" || n == "tests::t01").collect();
        let mut ran = Vec::new();
        for k in 1..=3 {
            let out = tempo_in(&store)
                .args([
                    "run",
                    "--no-report",
                    "--no-tests",
                    "pass",
                    "-E",
                    two,
                    "--partition",
                    &format!("duration:{k}/3"),
                ])
                .args(extra)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
            ran.push(statuses(&String::from_utf8(out.stdout).unwrap()).into_keys().collect::<BTreeSet<_>>());
        }
        assert_exactly_once(&ran, &selected, "two tests in three shards");
        assert!(ran.iter().any(BTreeSet::is_empty), "one shard had nothing to run");
        let (_, pending) = settled_runs(&store);
        assert!(!pending, "{extra:?}: the empty shard completes the split");
        let history: serde_json::Value =
            serde_json::from_slice(&std::fs::read(store.join("history.json")).unwrap()).unwrap();
        assert_eq!(history["generation"], 1, "{extra:?}: the split settled once");
    }
}
