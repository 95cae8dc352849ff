//! The test-list cache (`<store.dir>/test-lists.json`): a warm run takes a binary's
//! list from it while the binary is the same file, lists a changed binary again,
//! ignores a corrupt cache, and never caches a custom harness, whose list may change
//! without its binary changing.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn list(dir: &Path, store: &Path) -> String {
    let out = run_expecting(tempo(dir).env("TEMPO_STORE_DIR", store).args(["list", "--message-format", "oneline"]), 0);
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn cache_file(store: &Path) -> PathBuf {
    store.join("test-lists.json")
}

fn read_cache(store: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(cache_file(store)).expect("the cache is written")).expect("the cache is JSON")
}

/// The cached binary whose first listed test is `name`, as `(path, index of name)`.
fn entry_holding(cache: &serde_json::Value, name: &str) -> (String, usize) {
    for (path, entry) in cache["binaries"].as_object().expect("binaries") {
        let tests = entry["tests"].as_array().expect("tests");
        if let Some(i) = tests.iter().position(|t| t[0] == name) {
            return (path.clone(), i);
        }
    }
    panic!("no cached binary lists {name}: {cache}");
}

/// The cache is really read: a name planted in it is listed while the binary is
/// unchanged, and forgotten once the binary's modification time changes.
#[test]
fn a_cached_list_is_used_until_its_binary_changes() {
    build_fixture();
    let store = fresh_store_dir();
    let listed = list(&fixture(), &store);
    assert!(listed.lines().any(|l| l == "alpha tests::adds_numbers"), "{listed}");

    let mut cache = read_cache(&store);
    let (binary, i) = entry_holding(&cache, "tests::adds_numbers");
    cache["binaries"][&binary]["tests"][i][0] = "tests::planted_in_the_cache".into();
    std::fs::write(cache_file(&store), serde_json::to_vec(&cache).unwrap()).unwrap();
    let listed = list(&fixture(), &store);
    assert!(listed.lines().any(|l| l == "alpha tests::planted_in_the_cache"), "the cache is not used:\n{listed}");
    assert!(!listed.contains("tests::adds_numbers"), "{listed}");

    // A newer modification time (content unchanged, so cargo's own freshness holds).
    let file = std::fs::OpenOptions::new().append(true).open(&binary).expect("the cached binary exists");
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    let listed = list(&fixture(), &store);
    assert!(listed.lines().any(|l| l == "alpha tests::adds_numbers"), "{listed}");
    assert!(!listed.contains("planted_in_the_cache"), "a changed binary kept its cached list:\n{listed}");
    let cache = read_cache(&store);
    entry_holding(&cache, "tests::adds_numbers");
}

/// A corrupt, foreign or oversized-looking cache is ignored without a word and
/// rewritten; the list is the binaries' own.
#[test]
fn a_corrupt_cache_is_ignored_and_rewritten() {
    build_fixture();
    let store = fresh_store_dir();
    let expected = list(&fixture(), &store);
    for garbage in [&b"\0\xffnot json"[..], br#"{"version":999,"binaries":{}}"#, br#"{"version":1,"binaries":7}"#] {
        std::fs::write(cache_file(&store), garbage).unwrap();
        let out = run_expecting(
            tempo(&fixture()).env("TEMPO_STORE_DIR", &store).args(["list", "--message-format", "oneline"]),
            0,
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");
        assert_eq!(read_cache(&store)["version"], 1, "the cache is rewritten");
    }
}

/// A custom harness (`harness = false`) may list differently from run to run with
/// the same binary (here, as an environment variable says), so it is listed every time.
#[test]
fn a_custom_harness_is_never_cached() {
    let fixture = repo_root().join("tests/fixtures/bad-list");
    let store = fresh_store_dir();
    let out = run_expecting(tempo(&fixture).env("TEMPO_STORE_DIR", &store).args(["run"]), 0);
    assert!(last_line(&String::from_utf8_lossy(&out.stdout)).starts_with("tempo: 1 passed"));
    if cache_file(&store).exists() {
        let cache = read_cache(&store);
        assert!(cache["binaries"].as_object().unwrap().keys().all(|p| !p.contains("custom-")), "{cache}");
    }
    let out = run_expecting(
        tempo(&fixture).env("TEMPO_STORE_DIR", &store).args(["run"]).env("TEMPO_FIXTURE_LIST_MODE", "garbage"),
        104,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unexpected line in the test list: \"this is not a test list\""), "{stderr}");
}
