//! Interrupting a run: tempo forwards the signal to every running test, prints the
//! summary of what ran, writes JUnit for the tests that finished, exits 128 + signal,
//! and leaves no test process behind.

mod common;

use std::process::Stdio;

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
    let watched = Watched::new(child.stdout.take().unwrap());
    watched.wait_for("both failing tests await their retry", |out| out.matches("TRY 1 FAIL").count() >= 2);
    poll_until(PATIENCE, "`hangs` runs", || any_runs(&processes_with(&marker), "hangs"));

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = wait_or_kill(&mut child, PATIENCE, "tempo ends after SIGINT");
    let stdout = watched.finish();

    assert_eq!(status.code(), Some(130), "{stdout}");
    // The signal reached the tests: `hangs`, which sleeps ten minutes, died of SIGINT
    // rather than of the SIGKILL that ends the profile's 10 s grace period.
    assert_eq!(statuses(&stdout)[&("retrying".into(), "hangs".into())], "SIGINT", "{stdout}");
    assert!(stdout.contains("Cancelling") && stdout.contains("tempo received SIGINT"), "{stdout}");
    assert!(stdout.contains("(retry cancelled)"), "tests awaiting a retry are settled:\n{stdout}");
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("tempo: ") && last.ends_with(" skipped"), "the summary line closes the output: {last}");
    let failed: usize = last.split(", ").nth(1).unwrap().trim_end_matches(" failed").parse().unwrap();
    assert!(failed >= 2, "the two tests whose retry was cancelled count as failed: {last}");

    let junit = std::fs::read_to_string(store.path().join("default/junit.xml")).expect("JUnit is written");
    let doc = roxmltree::Document::parse(&junit).unwrap();
    assert!(doc.descendants().any(|n| n.has_tag_name("testcase") && n.attribute("name") == Some("always_fails")));

    // A process killed by tempo is gone once its parent or init has reaped it.
    poll_until(PATIENCE, "no test process survives", || processes_with(&marker).is_empty());
}

/// The second signal SIGKILLs what still runs. The profile here waits an hour after
/// the first signal before it would do that itself, so the run can only end soon
/// because of the second.
#[test]
fn a_second_signal_kills_at_once() {
    build_config_fixture();
    let dir = tempfile::tempdir().unwrap();
    let founding = std::fs::read_to_string(config_fixture().join(".config/nextest.toml")).unwrap();
    let config = dir.path().join("tempo.toml");
    std::fs::write(
        &config,
        format!("{founding}\n[profile.patient]\nslow-timeout = {{ period = \"1h\", grace-period = \"1h\" }}\n"),
    )
    .unwrap();
    let marker = format!("{}-{}", std::process::id(), line!());
    // The test's shell and its sleep ignore SIGTERM; after the first signal tempo would
    // wait out the profile's grace period.
    let mut child = tempo(&config_fixture())
        .args(["run", "--profile", "patient", "--ignored", "--exact", "hangs_ignoring_sigterm", "--config-file"])
        .arg(&config)
        .env("TEMPO_SIGNAL_TEST_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let watched = Watched::new(child.stdout.take().unwrap());
    poll_until(PATIENCE, "the test's `sleep` runs", || any_runs(&processes_with(&marker), "sleep"));
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    // Two signals sent back to back could arrive as one: the second is sent once tempo
    // has acted on the first.
    watched.wait_for("tempo acts on the first SIGTERM", |out| out.contains("tempo received SIGTERM"));
    assert!(child.try_wait().unwrap().is_none(), "the sleep ignores SIGTERM, so the run waits for it");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = wait_or_kill(&mut child, PATIENCE, "the second signal ends the run (the grace period is an hour)");
    let stdout = watched.finish();
    assert_eq!(status.code(), Some(143), "{stdout}");
    poll_until(PATIENCE, "no test process survives", || processes_with(&marker).is_empty());
}
