//! Batched fast tests (`tests/fixtures/batching`): a test that crashes, hangs or fails
//! only when it shares a process with others still gets the outcome written in the
//! fixture's `expected.toml`, each test keeps its own result, and a test that needs a
//! process of its own is remembered as isolation-sensitive.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ExpectedTest {
    name: String,
    status: String,
    note: Option<String>,
    batched: bool,
    #[serde(default)]
    isolation_sensitive: bool,
}

#[derive(serde::Deserialize)]
struct ExpectedFile {
    test: Vec<ExpectedTest>,
}

fn expected_tests() -> Vec<ExpectedTest> {
    let text = std::fs::read_to_string(batching_fixture().join("expected.toml")).unwrap();
    toml::from_str::<ExpectedFile>(&text).unwrap().test
}

/// The history's entry for each of the fixture's tests.
fn batchy_history(store: &Path) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(store.join("history.json")).expect("the run wrote its history");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["tests"]["batchy"].as_object().expect("the batchy binary is in the history").clone().into_iter().collect()
}

/// The status line of one test.
fn line_of<'a>(stdout: &'a str, name: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.contains(&format!("batchy {name}")) && !l.contains("SLOW") && l.contains("s] "))
        .unwrap_or_else(|| panic!("no status line for {name} in:\n{stdout}"))
}

#[test]
fn crashes_hangs_and_shared_process_failures_fall_back_to_isolation() {
    build_batching_fixture();
    let store = fresh_store_dir();
    let out = run_expecting(tempo(&batching_fixture()).args(["run"]).env("TEMPO_STORE_DIR", &store), 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let expected = expected_tests();

    let want: BTreeMap<(String, String), String> =
        expected.iter().map(|t| (("batchy".to_owned(), t.name.clone()), t.status.clone())).collect();
    assert_eq!(statuses(&stdout), want, "{stdout}");
    for t in &expected {
        let line = line_of(&stdout, &t.name);
        match &t.note {
            Some(note) => assert!(line.contains(note.as_str()), "{}: expected the note `{note}` in `{line}`", t.name),
            None => assert!(!line.contains(" ("), "{}: no batch note expected in `{line}`", t.name),
        }
    }
    assert_eq!(last_line(&stdout), "tempo: 8 passed, 3 failed, 0 skipped");

    let history = batchy_history(&store);
    for t in &expected {
        let h = &history[&t.name];
        let last = h["runs"].as_array().unwrap().last().unwrap();
        assert_eq!(last["batched"].as_bool().unwrap_or(false), t.batched, "{}: batched in {h}", t.name);
        assert_eq!(
            h["isolation_sensitive"].as_bool().unwrap_or(false),
            t.isolation_sensitive,
            "{}: isolation-sensitive in {h}",
            t.name
        );
    }

    // The next run remembers: the isolation-sensitive tests run alone from the start,
    // so they pass without a note, and the fast passing tests are batched again. (d,
    // whose history now says it takes 2 s, is a batch of its own: it runs alone.)
    let out = run_expecting(tempo(&batching_fixture()).args(["run"]).env("TEMPO_STORE_DIR", &store), 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let history = batchy_history(&store);
    for t in expected.iter().filter(|t| t.isolation_sensitive) {
        let line = line_of(&stdout, &t.name);
        assert!(
            line.starts_with("        PASS") && !line.contains(" ("),
            "{} ran alone from the start: `{line}`",
            t.name
        );
        let last = history[&t.name]["runs"].as_array().unwrap().last().unwrap().clone();
        assert!(!last["batched"].as_bool().unwrap_or(false), "{}: second run {last}", t.name);
    }
    // Which fast test ends up last in the queue, as a batch of one, depends on timing;
    // most of them share a batch again.
    let fast: Vec<&ExpectedTest> = expected.iter().filter(|t| t.batched && t.status == "PASS").collect();
    let batched_again = fast
        .iter()
        .filter(|t| history[&t.name]["runs"].as_array().unwrap().last().unwrap()["batched"].as_bool().unwrap_or(false))
        .count();
    assert!(batched_again * 2 > fast.len(), "{batched_again} of {} fast tests batched again:\n{stdout}", fast.len());
}

#[test]
fn process_isolation_never_batches() {
    build_batching_fixture();
    let store = fresh_store_dir();
    let out =
        run_expecting(tempo(&batching_fixture()).args(["run", "-P", "isolated"]).env("TEMPO_STORE_DIR", &store), 100);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!stdout.contains("a batch"), "{stdout}");
    // Alone, only the tests that always crash or fail fail.
    assert_eq!(last_line(&stdout), "tempo: 9 passed, 2 failed, 0 skipped", "{stdout}");
    for (name, h) in batchy_history(&store) {
        let last = h["runs"].as_array().unwrap().last().unwrap().clone();
        assert!(!last["batched"].as_bool().unwrap_or(false), "{name} was batched: {last}");
    }
}

#[test]
fn auto_isolation_batches_only_tests_the_history_shows_fast_and_passing() {
    build_batching_fixture();
    let store = fresh_store_dir();
    let run = || {
        let out =
            run_expecting(tempo(&batching_fixture()).args(["run", "-P", "auto"]).env("TEMPO_STORE_DIR", &store), 100);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // No history: every test runs alone.
    let first = run();
    assert!(!first.contains("a batch"), "{first}");
    assert!(batchy_history(&store).values().all(|h| !h["runs"][0]["batched"].as_bool().unwrap_or(false)));
    // What the policy reads is each test's outcome, duration and CPU time. On a busy
    // machine a 1 ms test can take 150 ms, or wait for a core long enough to look like
    // a test that mostly waits; the recorded outcomes stay, and the times are set to
    // what an idle machine measures (2 ms, all of it on a core), so that the next
    // run's choices depend on the policy alone.
    let path = store.join("history.json");
    let mut history: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for test in history["tests"]["batchy"].as_object_mut().unwrap().values_mut() {
        for record in test["runs"].as_array_mut().unwrap() {
            record["duration_us"] = 2000.into();
            record["cpu_us"] = 2000.into();
        }
    }
    std::fs::write(&path, serde_json::to_vec(&history).unwrap()).unwrap();
    // With history, the passing tests are batched: g (which fails when it is not the
    // first test in its process) is caught, run alone and remembered, and d (which
    // hangs in a batch) reaches its own timeout there.
    let second = run();
    assert_eq!(last_line(&second), "tempo: 8 passed, 3 failed, 0 skipped", "{second}");
    assert!(line_of(&second, "tests::d_hangs_in_a_batch").starts_with("     TIMEOUT"), "{second}");
    let history = batchy_history(&store);
    let batched: Vec<&String> = history
        .iter()
        .filter(|(_, h)| h["runs"].as_array().unwrap().last().unwrap()["batched"].as_bool().unwrap_or(false))
        .map(|(name, _)| name)
        .collect();
    assert!(batched.len() >= 5, "the fast passing tests were batched: {batched:?}");
    for never in ["tests::c_always_crashes", "tests::e_always_fails"] {
        assert!(!batched.iter().any(|n| *n == never), "{never} failed before and must run alone");
    }
}
