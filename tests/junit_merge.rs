//! `cargo tempo junit-merge` joins the JUnit files of a sharded run into the report
//! an unsharded run would give: every test once, one suite per binary, counts summed.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;

/// Runs one shard of the fixture with a JUnit file in `store`, and returns its path.
fn run_shard(store: &Path, partition: &str) -> PathBuf {
    std::fs::create_dir_all(store).unwrap();
    let config = store.join("tempo.toml");
    std::fs::write(&config, "[profile.default.junit]\npath = \"junit.xml\"\n").unwrap();
    let out = tempo(&fixture())
        .env("TEMPO_STORE_DIR", store)
        .args(["run", "--no-fail-fast", "--partition", partition, "--config-file"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 100)), "{}", String::from_utf8_lossy(&out.stderr));
    store.join("default/junit.xml")
}

/// (suite, test) pairs and the root's counts.
fn read(path: &Path) -> (Vec<(String, String)>, Vec<String>, usize, usize) {
    let xml = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let root = doc.root_element();
    let count = |attr: &str| root.attribute(attr).unwrap().parse::<usize>().unwrap();
    let mut cases = Vec::new();
    let mut suites = Vec::new();
    for suite in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let name = suite.attribute("name").unwrap().to_owned();
        let in_suite: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(suite.attribute("tests").unwrap().parse::<usize>().unwrap(), in_suite.len(), "{name}'s count");
        cases.extend(in_suite.iter().map(|c| (name.clone(), c.attribute("name").unwrap().to_owned())));
        suites.push(name);
    }
    (cases, suites, count("tests"), count("failures"))
}

#[test]
fn merged_shards_hold_every_test_once() {
    build_fixture();
    let dir = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> =
        (1..=3).map(|k| run_shard(&dir.path().join(format!("shard{k}")), &format!("slice:{k}/3"))).collect();
    let merged = dir.path().join("merged.xml");
    run_expecting(tempo(&fixture()).arg("junit-merge").arg(&merged).args(&shards), 0);

    let (cases, suites, tests, failures) = read(&merged);
    let want: BTreeSet<(String, String)> =
        expected(&fixture()).into_iter().filter(|e| e.outcome != "ignored").map(|e| (e.binary_id, e.name)).collect();
    assert_eq!(cases.len(), want.len(), "no test twice");
    assert_eq!(cases.into_iter().collect::<BTreeSet<_>>(), want);
    let unique: BTreeSet<&String> = suites.iter().collect();
    assert_eq!(unique.len(), suites.len(), "one suite per binary: {suites:?}");
    assert_eq!(tests, want.len());
    let failing = expected(&fixture()).iter().filter(|e| e.outcome == "fail").count();
    assert_eq!(failures, failing);
    // The shards' counts add up to the merged ones.
    let shard_tests: usize = shards.iter().map(|s| read(s).2).sum();
    assert_eq!(shard_tests, tests);
}

#[test]
fn an_unreadable_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<testsuites><testsuite name=\"x\" tests=\"one\">").unwrap();
    let out = run_expecting(tempo(dir.path()).arg("junit-merge").arg(dir.path().join("out.xml")).arg(&bad), 109);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("failed to read the JUnit file") && stderr.contains("bad.xml"), "{stderr}");
    assert!(!dir.path().join("out.xml").exists(), "nothing is written");
}
