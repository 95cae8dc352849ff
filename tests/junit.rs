//! JUnit XML under the founding configuration: the flaky test is a success with
//! `flakyFailure`s, the always-failing test a `failure` with three `rerunFailure`s,
//! and the file is valid XML even when tests print control characters.

mod common;

use std::path::Path;

use common::*;

/// Runs the config fixture with the founding config plus a JUnit path and a store in `store`.
fn run_with_junit(store: &Path, extra_args: &[&str], code: i32) -> String {
    build_config_fixture();
    let founding = std::fs::read_to_string(config_fixture().join(".config/nextest.toml")).unwrap();
    let config = format!(
        "{founding}\n[store]\ndir = {:?}\n\n[profile.default.junit]\npath = \"junit.xml\"\nstore-success-output = true\n",
        store.display().to_string()
    );
    let file = store.join("tempo.toml");
    std::fs::create_dir_all(store).unwrap();
    std::fs::write(&file, config).unwrap();
    run_expecting(
        tempo(&config_fixture())
            .env_remove("TEMPO_STORE_DIR")
            .args(["run", "--config-file"])
            .arg(&file)
            .args(extra_args),
        code,
    );
    std::fs::read_to_string(store.join("default/junit.xml")).expect("the JUnit file is written")
}

/// Blanks what changes from run to run: times, timestamps, the run id, thread ids and
/// the slots and wall-clock stamps the fixture prints.
fn normalize_xml(xml: &str) -> String {
    let mut out = xml.to_owned();
    // `value` holds the CPU accounting properties, which change from run to run.
    for attr in ["timestamp", "time", "uuid", "value"] {
        let needle = format!(" {attr}=\"");
        let mut from = 0;
        while let Some(at) = out[from..].find(&needle) {
            let start = from + at + needle.len();
            let end = start + out[start..].find('"').unwrap();
            out.replace_range(start..end, "X");
            from = start + 1;
        }
    }
    normalize(&out)
        .lines()
        .map(|l| match l.find(" slot=") {
            Some(at) => format!("{} slot=X t=X", &l[..at]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn junit_records_flaky_and_failing_tests_as_nextest_does() {
    let store = tempfile::tempdir().unwrap();
    let xml = run_with_junit(store.path(), &["fails_first_attempt", "always_fails", "steady_00"], 100);
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit file is valid XML");
    let case = |name: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name} in\n{xml}"))
    };
    let count = |node: roxmltree::Node, tag: &str| node.children().filter(|c| c.has_tag_name(tag)).count();
    let flaky = case("fails_first_attempt");
    assert_eq!((count(flaky, "failure"), count(flaky, "flakyFailure")), (0, 1), "{xml}");
    let failing = case("always_fails");
    assert_eq!((count(failing, "failure"), count(failing, "rerunFailure")), (1, 3), "{xml}");
    assert_eq!(case("steady_00").attribute("classname"), Some("retrying"));
    insta::assert_snapshot!(normalize_xml(&xml));
}

/// The run's CPU accounting is on every testsuite and each test's rusage on its testcase.
#[test]
fn junit_carries_the_cpu_accounting_as_properties() {
    let store = tempfile::tempdir().unwrap();
    let xml = run_with_junit(store.path(), &["steady_00", "steady_01"], 0);
    let doc = roxmltree::Document::parse(&xml).expect("the JUnit file is valid XML");
    let suite = doc.descendants().find(|n| n.has_tag_name("testsuite")).expect("a testsuite");
    let property = |node: roxmltree::Node, name: &str| -> String {
        node.descendants()
            .find(|p| p.has_tag_name("property") && p.attribute("name") == Some(name))
            .and_then(|p| p.attribute("value"))
            .unwrap_or_else(|| panic!("no property {name} in\n{xml}"))
            .to_owned()
    };
    let num = |node, name| property(node, name).parse::<f64>().unwrap();
    let (wall, cpu, cores) = (num(suite, "tempo.wall-s"), num(suite, "tempo.cpu-s"), num(suite, "tempo.cores"));
    let utilization = num(suite, "tempo.cpu-utilization");
    assert!((utilization - cpu / (wall * cores)).abs() < 0.01, "utilization is cpu / (wall x cores): {xml}");
    assert!((num(suite, "tempo.busy-cores") - cpu / wall).abs() < 0.01, "{xml}");
    // The founding profile has 8 slots; two tests kept two of them busy, each for at
    // least the 300 ms it sleeps (a floor: load only lengthens it), and the others idle.
    let idle: Vec<f64> = property(suite, "tempo.slot-idle-s").split(' ').map(|s| s.parse().unwrap()).collect();
    assert_eq!(idle.len(), 8, "{xml}");
    assert!(idle.iter().all(|i| *i >= 0.0 && *i <= wall + 0.001), "{idle:?} against wall {wall}");
    let busy: Vec<f64> = idle.iter().map(|i| wall - i).filter(|b| *b > 0.001).collect();
    assert_eq!(busy.len(), 2, "two slots were busy: {idle:?}, wall {wall}");
    assert!(busy.iter().all(|b| *b >= 0.3), "each busy slot ran a 300 ms test: {idle:?}, wall {wall}");
    // Each test's rusage: some CPU (a process that ran used some), and the run's CPU
    // is the sum of its tests'.
    let cases: Vec<roxmltree::Node> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 2, "{xml}");
    let mut sum = 0.0;
    for case in cases {
        assert!(num(case, "tempo.max-rss-bytes") > 0.0, "{xml}");
        let used = num(case, "tempo.cpu-user-s") + num(case, "tempo.cpu-system-s");
        assert!(used > 0.0, "{xml}");
        sum += used;
    }
    assert!((cpu - sum).abs() < 0.002, "the run's {cpu} s of CPU is its tests' {sum} s: {xml}");
}

#[test]
fn junit_is_valid_xml_whatever_tests_print() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"noisy\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("src/lib.rs"),
        r#"
#[test]
fn prints_garbage() {
    use std::io::Write;
    std::io::stdout().write_all(b"nul\x00 bell\x07 esc\x1b[31m bad utf8 \xff\xfe <tag> & ]]>\n").unwrap();
    panic!("control \u{1} in the panic message");
}
"#,
    )
    .unwrap();
    let config = dir.path().join("tempo.toml");
    std::fs::write(&config, "[store]\ndir = \"store\"\n[profile.default.junit]\npath = \"junit.xml\"\n").unwrap();
    run_expecting(
        tempo(dir.path())
            .env_remove("TEMPO_STORE_DIR")
            .args(["run", "--config-file"])
            .arg(&config)
            .env("CARGO_TARGET_DIR", dir.path().join("target")),
        100,
    );
    let xml = std::fs::read_to_string(dir.path().join("store/default/junit.xml")).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("invalid XML ({e}):\n{xml}"));
    let out = doc
        .descendants()
        .find(|n| n.has_tag_name("system-out"))
        .expect("failure output is stored")
        .text()
        .unwrap_or("");
    assert!(out.contains("<tag> & ]]>"), "text survives escaping: {out:?}");
}
