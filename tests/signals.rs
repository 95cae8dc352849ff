//! Interrupting a run: tempo forwards the signal to every running test, prints the
//! summary of what ran, writes JUnit for the tests that finished, exits 128 + signal,
//! and leaves no test process behind.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

/// Processes started by the tempo run that carries `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    processes_with_env("TEMPO_SIGNAL_TEST_MARKER", marker)
}

#[test]
fn sigint_mid_run_stops_reports_and_leaves_nothing_behind() {
    build_config_fixture();
    let store = tempfile::tempdir().unwrap();
    let founding = std::fs::read_to_string(config_fixture().join(".config/nextest.toml")).unwrap();
    let config = store.path().join("tempo.toml");
    std::fs::write(
        &config,
        format!(
            "{founding}\n[store]\ndir = {:?}\n[profile.default.junit]\npath = \"junit.xml\"\n",
            store.path().display().to_string()
        ),
    )
    .unwrap();
    let marker = format!("{}-{}", std::process::id(), line!());
    let mut child = tempo(&config_fixture())
        .env_remove("TEMPO_STORE_DIR")
        // The child of `hangs_ignoring_sigterm` could outlast SIGINT and hold the run
        // for the whole 10 s grace period; the robustness tests cover it.
        .args([
            "run",
            "--status-level",
            "all",
            "--include-ignored",
            "-E",
            "not test(=hangs_ignoring_sigterm)",
            "--config-file",
        ])
        .arg(&config)
        .env("TEMPO_SIGNAL_TEST_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until both failing tests wait for their retry and `hangs` is running.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.iter().filter(|l: &&String| l.contains("TRY 1 FAIL")).count() < 2 {
        assert!(Instant::now() < deadline, "the run never got going:\n{}", seen.join("\n"));
        seen.push(lines.next().expect("tempo is still writing").unwrap());
    }
    let alive = processes_with(&marker);
    assert!(alive.len() > 1, "tests are running");

    let sent = Instant::now();
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let took = sent.elapsed();
    let stdout = [seen, rest].concat().join("\n");

    assert_eq!(status.code(), Some(130), "{stdout}");
    // The profile's grace period is 10 s; the tests die of SIGINT at once.
    assert!(took < Duration::from_secs(12), "stopping took {took:?}");
    assert!(stdout.contains("Cancelling") && stdout.contains("tempo received SIGINT"), "{stdout}");
    assert!(stdout.contains("(retry cancelled)"), "tests awaiting a retry are settled:\n{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("tempo: ") && last.ends_with(" skipped"), "the summary line closes the output: {last}");
    let failed: usize = last.split(", ").nth(1).unwrap().trim_end_matches(" failed").parse().unwrap();
    assert!(failed >= 2, "the two tests whose retry was cancelled count as failed: {last}");

    let junit = std::fs::read_to_string(store.path().join("default/junit.xml")).expect("JUnit is written");
    let doc = roxmltree::Document::parse(&junit).unwrap();
    assert!(doc.descendants().any(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("always_fails")));

    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(&marker), Vec::<u32>::new(), "no test process survives");
}

#[test]
fn a_second_signal_kills_at_once() {
    build_config_fixture();
    let marker = format!("{}-{}", std::process::id(), line!());
    // The test's shell and its sleep ignore SIGTERM; after the first signal tempo would
    // wait out the default profile's 10 s grace period.
    let mut child = tempo(&config_fixture())
        .args(["run", "--ignored", "--exact", "hangs_ignoring_sigterm"])
        .env("TEMPO_SIGNAL_TEST_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !processes_with(&marker)
        .iter()
        .any(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.contains("sleep")))
    {
        assert!(Instant::now() < deadline, "the test never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    let sent = Instant::now();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(sent.elapsed() < Duration::from_secs(5), "the second signal did not kill at once: {:?}", sent.elapsed());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(processes_with(&marker), Vec::<u32>::new(), "no test process survives");
}
