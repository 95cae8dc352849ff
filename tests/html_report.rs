//! The HTML report, read back as XML after real runs of the fixture workspaces: it is
//! written where it should be (and only there), it is self-contained, it has a lane
//! per slot and a bar per attempt, and it lists the failed, timed-out and flaky tests
//! with their output. Whether it renders in a browser without script errors is
//! checked by `bench/check_report.py`, which needs chromium.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

/// Reads a report as XML: it is written to be well-formed, `<!DOCTYPE html>` aside.
fn parse(html: &str) -> roxmltree::Document<'_> {
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    roxmltree::Document::parse_with_options(html, options)
        .unwrap_or_else(|e| panic!("the report is not well-formed: {e}"))
}

/// What the tests check a report against.
struct Report {
    /// Lanes, by slot number.
    lanes: Vec<usize>,
    /// (binary id, test name) → how many bars (attempts) it has.
    bars: BTreeMap<(String, String), usize>,
    /// Attempts drawn as part of merged bars.
    merged: usize,
    /// Problem group id (`failed`, `timed-out`, `flaky`) → (test name, text of its output).
    groups: BTreeMap<String, Vec<(String, String)>>,
}

fn read_report(path: &Path) -> Report {
    let html = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no report at {}: {e}", path.display()));
    self_contained(&html);
    let doc = parse(&html);
    let lanes = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("lane"))
        .map(|n| n.attribute("data-slot").unwrap().parse().unwrap())
        .collect();
    let mut bars = BTreeMap::new();
    let mut merged = 0;
    for rect in doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.ancestors().any(|a| a.attribute("class") == Some("lane")))
    {
        if rect.attribute("class") == Some("stripe") {
            continue;
        }
        if let Some(n) = rect.attribute("data-n") {
            merged += n.parse::<usize>().unwrap();
            continue;
        }
        let title =
            rect.children().find(|c| c.has_tag_name("title")).and_then(|t| t.text()).expect("a bar has a title");
        let mut lines = title.lines();
        let name = lines.next().unwrap().to_owned();
        let binary = lines.next().unwrap().split(" · ").next().unwrap().to_owned();
        *bars.entry((binary, name)).or_insert(0) += 1;
    }
    let mut groups: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for group in doc.descendants().filter(|n| n.attribute("class") == Some("group")) {
        let id = group.attribute("id").unwrap().to_owned();
        for article in group.descendants().filter(|n| n.has_tag_name("article")) {
            let name = article.attribute("data-name").unwrap().to_owned();
            let output: String =
                article.descendants().filter(|n| n.has_tag_name("pre")).filter_map(|n| n.text()).collect();
            groups.entry(id.clone()).or_default().push((name, output));
        }
    }
    Report { lanes, bars, merged, groups }
}

/// Nothing is fetched: no URL, no external stylesheet, script or image.
fn self_contained(html: &str) {
    for needle in ["http://", "https://", " src=", "@import", "url(", "<link"] {
        assert!(!html.contains(needle), "the report must be self-contained, but it holds `{needle}`");
    }
}

fn names(group: Option<&Vec<(String, String)>>) -> Vec<&str> {
    group.map_or(Vec::new(), |g| g.iter().map(|(n, _)| n.as_str()).collect())
}

#[test]
fn the_report_of_the_fixture_workspace_has_every_attempt_and_both_failures_with_their_output() {
    build_fixture();
    let store = tempfile::tempdir().unwrap();
    run_expecting(
        tempo(&fixture()).env("TEMPO_STORE_DIR", store.path()).args(["run", "--no-fail-fast", "-j", "3"]),
        100,
    );
    let report = read_report(&store.path().join("default/report.html"));
    assert_eq!(report.lanes, [0, 1, 2], "one lane per slot");
    assert_eq!(report.merged, 0, "a small run draws every attempt on its own");

    let expected = expected(&fixture());
    let want: BTreeMap<(String, String), usize> = expected
        .iter()
        .filter(|e| e.outcome != "ignored")
        .map(|e| ((e.binary_id.clone(), e.name.clone()), 1))
        .collect();
    assert_eq!(report.bars, want, "one bar per attempt, and no retries here");

    let mut failed: Vec<&str> = names(report.groups.get("failed"));
    failed.sort_unstable();
    let mut want_failed: Vec<&str> = expected.iter().filter(|e| e.outcome == "fail").map(|e| e.name.as_str()).collect();
    want_failed.sort_unstable();
    assert_eq!(failed, want_failed);
    for (name, output) in &report.groups["failed"] {
        assert!(output.contains("panicked at"), "the output of {name} is shown: {output:?}");
    }
    assert_eq!(report.groups.keys().collect::<Vec<_>>(), ["failed"], "nothing timed out or was flaky");
}

#[test]
fn report_path_puts_it_elsewhere_with_every_retry_and_the_flaky_test() {
    build_config_fixture();
    let store = tempfile::tempdir().unwrap();
    let path = store.path().join("elsewhere/run.html");
    run_expecting(
        tempo(&config_fixture())
            .env("TEMPO_STORE_DIR", store.path().join("store"))
            .args(["run", "--retries", "2", "fails_first_attempt", "always_fails", "steady_00", "--report"])
            .arg(&path),
        100,
    );
    assert!(!store.path().join("store/default/report.html").exists(), "--report replaces the default path");
    let report = read_report(&path);
    // The founding config's profile runs 8 tests at once.
    assert_eq!(report.lanes, (0..8).collect::<Vec<_>>());
    let bars: Vec<(&str, usize)> = report.bars.iter().map(|((_, name), n)| (name.as_str(), *n)).collect();
    assert_eq!(bars, [("always_fails", 3), ("fails_first_attempt", 2), ("steady_00", 1)]);
    assert_eq!(names(report.groups.get("failed")), ["always_fails"]);
    assert_eq!(names(report.groups.get("flaky")), ["fails_first_attempt"]);
    let (_, output) = &report.groups["failed"][0];
    assert!(output.contains("this test always fails"), "{output}");
    assert!(output.contains("always_fails attempt=3"), "the last attempt's output is shown: {output}");
    let (_, output) = &report.groups["flaky"][0];
    assert!(output.contains("fails on the first attempt only"), "the failed attempt's output: {output}");
}

#[test]
fn a_timed_out_test_is_listed_as_timed_out() {
    build_config_fixture();
    let store = tempfile::tempdir().unwrap();
    run_expecting(
        tempo(&config_fixture()).env("TEMPO_STORE_DIR", store.path()).args([
            "run",
            "-P",
            "timeouts",
            "--ignored",
            "--exact",
            "hangs",
        ]),
        100,
    );
    let report = read_report(&store.path().join("timeouts/report.html"));
    assert_eq!(names(report.groups.get("timed-out")), ["hangs"]);
    assert_eq!(report.groups.get("failed"), None);
    assert_eq!(report.bars.values().sum::<usize>(), 1);
}

#[test]
fn no_report_writes_none() {
    build_config_fixture();
    let store = tempfile::tempdir().unwrap();
    run_expecting(
        tempo(&config_fixture()).env("TEMPO_STORE_DIR", store.path()).args(["run", "--no-report", "steady_00"]),
        0,
    );
    assert!(store.path().join("history.json").exists(), "the run itself happened");
    assert!(!store.path().join("default/report.html").exists(), "--no-report writes no report");
}
