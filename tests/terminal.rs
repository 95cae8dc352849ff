//! What the terminal and stdout show: `--message-format json` events, colour choice,
//! `--group-by-binary`, and the list of running tests printed on SIGUSR1.

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;

use common::*;
use serde_json::Value;

/// Parses every line of stdout as one JSON object, failing on anything else.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    assert!(text.ends_with('\n'), "the last event ends its line:\n{text}");
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            assert!(v.is_object(), "not an object: {line}");
            assert_eq!(v["version"], 1, "every event has version 1: {line}");
            assert!(v["timestamp"].is_string() && v["elapsed_s"].is_f64(), "every event is timed: {line}");
            v
        })
        .collect()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn id(e: &Value) -> (String, String) {
    (e["binary_id"].as_str().unwrap().to_owned(), e["name"].as_str().unwrap().to_owned())
}

/// The config fixture's tests under its default profile (3 retries, 1 s apart), as
/// (name, attempts, final outcome): `always_fails` uses every attempt,
/// `fails_first_attempt` passes on its second, the steady tests on their first.
fn config_ws_expected() -> BTreeMap<(String, String), (u64, &'static str)> {
    let mut want = BTreeMap::new();
    want.insert(("retrying".into(), "always_fails".into()), (4, "fail"));
    want.insert(("retrying".into(), "fails_first_attempt".into()), (2, "pass"));
    for i in 0..12 {
        want.insert(("retrying".into(), format!("steady_{i:02}")), (1, "pass"));
    }
    want
}

#[test]
fn json_events_parse_and_each_attempt_finishes_exactly_once() {
    build_config_fixture();
    let out = run_expecting(tempo(&config_fixture()).args(["run", "--message-format", "json"]), 100);
    let events = json_lines(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);

    assert_eq!(events.first().unwrap()["type"], "run-started");
    assert_eq!(events.last().unwrap()["type"], "run-finished");
    let known = [
        "run-started",
        "tests-added",
        "test-started",
        "test-slow",
        "test-finished",
        "test-retry",
        "test-retry-abandoned",
        "run-cancelling",
        "run-finished",
    ];
    for e in &events {
        assert!(known.contains(&e["type"].as_str().unwrap()), "unknown event {e}");
    }

    // Attempts per test: each attempt starts once and finishes once, numbered 1..=n.
    let mut started: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for e in of_type(&events, "test-started") {
        started.entry(id(e)).or_default().push(e["attempt"].as_u64().unwrap());
    }
    let mut finished: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for e in of_type(&events, "test-finished") {
        finished.entry(id(e)).or_default().push(e);
    }
    let want = config_ws_expected();
    assert_eq!(finished.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (test, (attempts, outcome)) in &want {
        let f = &finished[test];
        let numbers: Vec<u64> = f.iter().map(|e| e["attempt"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (1..=*attempts).collect::<Vec<_>>(), "{test:?}: one test-finished per attempt");
        assert_eq!(started[test], numbers, "{test:?}: one test-started per attempt");
        let (last, earlier) = f.split_last().unwrap();
        assert!(earlier.iter().all(|e| e["will_retry"] == true && e["outcome"] == "fail"), "{test:?}: {earlier:?}");
        assert_eq!(last["will_retry"], false);
        let final_outcome = last["outcome"].as_str().unwrap();
        assert_eq!(final_outcome == "pass", *outcome == "pass", "{test:?} ended {final_outcome}");
        assert_eq!(last["flaky"], *attempts > 1 && final_outcome == "pass");
        // Failed attempts carry their output; passing ones do not.
        for e in f.iter() {
            assert_eq!(e["output"].is_object(), e["outcome"] != "pass", "{e}");
            // Every attempt ran a process, which used some CPU (the kernel's figure for
            // a process that ran is never zero), and the total is user plus system.
            let (cpu, user, sys) =
                (e["cpu_s"].as_f64().unwrap(), e["user_s"].as_f64().unwrap(), e["sys_s"].as_f64().unwrap());
            assert!(e["duration_s"].as_f64().unwrap() > 0.0 && cpu > 0.0, "{e}");
            assert!((cpu - (user + sys)).abs() < 1e-6, "cpu_s is user_s + sys_s: {e}");
            assert!(e["max_rss_bytes"].as_u64().unwrap() > 0, "{e}");
        }
    }
    assert!(
        finished[&("retrying".into(), "always_fails".into())][0]["output"]["stdout"]
            .as_str()
            .unwrap()
            .contains("always_fails attempt=1"),
        "a failed attempt's output is its own"
    );
    // One test-retry follows each attempt that will be retried.
    let retries: Vec<(String, String)> = of_type(&events, "test-retry").into_iter().map(id).collect();
    let will_retry: Vec<(String, String)> =
        of_type(&events, "test-finished").into_iter().filter(|e| e["will_retry"] == true).map(id).collect();
    assert_eq!(retries, will_retry);

    // The totals agree with the finished events.
    let run = of_type(&events, "run-finished")[0];
    let finals: Vec<&Value> = finished.values().map(|f| *f.last().unwrap()).collect();
    let count = |pred: &dyn Fn(&Value) -> bool| finals.iter().filter(|e| pred(e)).count() as u64;
    assert_eq!(run["finished"], finals.len() as u64);
    assert_eq!(run["passed"], count(&|e| e["outcome"] == "pass"));
    assert_eq!(run["failed"], count(&|e| e["outcome"] != "pass"));
    assert_eq!(run["flaky"], count(&|e| e["flaky"] == true));
    assert_eq!((run["passed"].as_u64(), run["failed"].as_u64(), run["flaky"].as_u64()), (Some(13), Some(1), Some(1)));
    assert_eq!(run["skipped"], 3);
    let planned: u64 = of_type(&events, "tests-added").iter().map(|e| e["tests"].as_u64().unwrap()).sum::<u64>()
        + events[0]["test_count"].as_u64().unwrap();
    assert_eq!(run["planned"], planned);
    let attempts_cpu: f64 = of_type(&events, "test-finished").iter().map(|e| e["cpu_s"].as_f64().unwrap()).sum();
    assert!((run["cpu_s"].as_f64().unwrap() - attempts_cpu).abs() < 1e-6, "cpu is the sum of every attempt's");
    for key in ["wall_s", "cpu_utilization", "busy_cores", "lower_bound_s", "efficiency"] {
        assert!(run[key].is_f64(), "run-finished has {key}: {run}");
    }
    assert_eq!(run["slot_idle_s"].as_array().unwrap().len(), 8);

    // The human report moved to stderr, whole.
    assert!(stderr.contains("FLAKY [") && stderr.ends_with("tempo: 13 passed, 1 failed, 3 skipped\n"), "{stderr}");
}

/// Every test's final outcome in the JSON events is the one `expected.toml` gives it.
#[test]
fn json_outcomes_match_the_fixtures_expected_outcomes() {
    build_fixture();
    let out = run_expecting(tempo(&fixture()).args(["run", "--no-fail-fast", "--message-format", "json"]), 100);
    let events = json_lines(&out.stdout);
    let got: BTreeMap<(String, String), String> = of_type(&events, "test-finished")
        .into_iter()
        .filter(|e| e["will_retry"] == false)
        .map(|e| (id(e), e["outcome"].as_str().unwrap().to_owned()))
        .collect();
    let want: BTreeMap<(String, String), String> = expected(&fixture())
        .into_iter()
        .filter(|e| e.outcome != "ignored")
        .map(|e| ((e.binary_id, e.name), e.outcome))
        .collect();
    assert_eq!(got, want);
    let run = events.last().unwrap();
    assert_eq!(run["passed"].as_u64().unwrap(), want.values().filter(|o| *o == "pass").count() as u64);
    assert_eq!(run["failed"].as_u64().unwrap(), want.values().filter(|o| *o == "fail").count() as u64);
}

#[test]
fn json_and_no_capture_do_not_mix() {
    // Tests' own output would land on stdout between the events.
    let out = run_expecting(tempo(&repo_root()).args(["run", "--message-format", "json", "--no-capture"]), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"), "{out:?}");
    assert!(out.stdout.is_empty());
}

/// Whether a quick run's stdout holds colour codes, with these flags and variables.
fn colored(flags: &[&str], env: &[(&str, &str)]) -> bool {
    build_config_fixture();
    let mut cmd = tempo(&config_fixture());
    cmd.args(["run", "--status-level", "pass", "--exact", "steady_00"]).args(flags).env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_expecting(&mut cmd, 0);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("PASS"), "{stdout}");
    stdout.contains("\x1b[")
}

/// stdout is a pipe here, so `auto` means no colour unless a variable forces it.
#[test]
fn color_follows_the_flag_then_cargo_term_color_then_no_color_and_clicolor_force() {
    assert!(!colored(&[], &[]), "auto, piped: plain");
    assert!(colored(&["--color", "always"], &[]));
    assert!(colored(&[], &[("CLICOLOR_FORCE", "1")]), "CLICOLOR_FORCE colours a pipe");
    assert!(!colored(&[], &[("CLICOLOR_FORCE", "0")]), "CLICOLOR_FORCE=0 forces nothing");
    assert!(!colored(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]), "NO_COLOR beats CLICOLOR_FORCE");
    assert!(colored(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]), "an empty NO_COLOR is unset");
    assert!(colored(&[], &[("CARGO_TERM_COLOR", "always")]), "CARGO_TERM_COLOR stands in for --color");
    assert!(!colored(&["--color", "never"], &[("CARGO_TERM_COLOR", "always")]), "the flag beats it");
    assert!(!colored(&["--color", "auto"], &[("CARGO_TERM_COLOR", "always")]), "an explicit auto too");
}

/// The lines of each binary, from its `Binary` heading up to the next heading or the
/// summary; fails if a binary's status line shows up outside its group.
fn groups(stdout: &str) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut open = false;
    for line in stdout.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("Binary ") {
            groups.push((rest.split_once(": ").unwrap().0.to_owned(), Vec::new()));
            open = true;
        } else if line.trim_start().starts_with("------------") {
            open = false;
        } else if open && line.contains("] ") {
            groups.last_mut().unwrap().1.push(line.to_owned());
        }
    }
    groups
}

#[test]
fn group_by_binary_prints_each_binary_together_after_its_last_test() {
    build_fixture();
    let out = run_expecting(
        tempo(&fixture()).args(["run", "-j", "4", "--no-fail-fast", "--group-by-binary", "--status-level", "pass"]),
        100,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let groups = groups(&stdout);
    let want = expected(&fixture());
    let binaries: std::collections::BTreeSet<&str> =
        want.iter().filter(|e| e.outcome != "ignored").map(|e| e.binary_id.as_str()).collect();
    assert_eq!(groups.len(), binaries.len(), "one group per binary:\n{stdout}");
    for (binary, lines) in &groups {
        let expected_count = want.iter().filter(|e| e.binary_id == *binary && e.outcome != "ignored").count();
        assert_eq!(lines.len(), expected_count, "{binary}'s lines are all in its group:\n{stdout}");
        for line in lines {
            assert!(line.contains(&format!("] {binary} ")), "{line} is in {binary}'s group:\n{stdout}");
        }
    }
    // Every status line sits in a group: none is printed between them.
    let statuses = statuses(&stdout).len();
    let grouped: usize = groups.iter().map(|(_, l)| l.len()).sum();
    assert_eq!(statuses, grouped, "every test's status line is in a group:\n{stdout}");
}

#[test]
fn group_by_binary_report() {
    build_fixture();
    let out = run_expecting(
        tempo(&fixture()).args([
            "run",
            "-j",
            "1",
            "--no-fail-fast",
            "--group-by-binary",
            "--exact",
            "parse_one",
            "parse_broken",
            "a::d",
        ]),
        100,
    );
    insta::assert_snapshot!(normalize(&String::from_utf8_lossy(&out.stdout)));
}

/// SIGUSR1 lists the running tests, how long each has run and in which slot, and the
/// run goes on; SIGINT then stops it as usual.
#[test]
fn sigusr1_lists_the_running_tests() {
    build_config_fixture();
    let marker = format!("{}-{}", std::process::id(), line!());
    let mut child = tempo(&config_fixture())
        .args(["run", "--include-ignored", "-E", "test(=hangs)"])
        .env("TEMPO_TERMINAL_TEST_MARKER", &marker)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let watched = Watched::new(child.stdout.take().unwrap());
    // The test's process has `hangs` for an argument; tempo's has `test(=hangs)`.
    poll_until(PATIENCE, "the test runs", || {
        any_runs(&processes_with_env("TEMPO_TERMINAL_TEST_MARKER", &marker), "hangs")
    });
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::USR1).unwrap();
    watched.wait_for("tempo lists the running test", |out| out.contains("retrying hangs (slot 0, attempt 1/4)"));
    assert!(child.try_wait().unwrap().is_none(), "SIGUSR1 does not end the run");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = wait_or_kill(&mut child, PATIENCE, "tempo ends after SIGINT");
    let stdout = watched.finish();
    assert_eq!(status.code(), Some(130), "{stdout}");
    // The fixture prints the time it started at: `t=<unix millis>`.
    let stdout = regex::Regex::new(r"t=\d+").unwrap().replace_all(&stdout, "t=[TIME]").into_owned();
    insta::assert_snapshot!(normalize(&stdout));
}

/// At a terminal, the `t` key lists the running tests, the progress bar is drawn,
/// and Ctrl-C ends the run with the terminal's line mode and echo restored. The
/// terminal is a pseudo-terminal made by util-linux's `script`; `stty` reports the
/// modes after tempo has exited.
#[test]
fn the_t_key_lists_running_tests_and_the_terminal_is_restored_after_ctrl_c() {
    use std::io::Write;
    build_config_fixture();
    let marker = format!("{}-{}", std::process::id(), line!());
    // Ctrl-C signals the terminal's whole foreground group, the shell included. Some
    // shells (dash) die of it before `stty` runs, so the shell traps SIGINT; a trapped
    // signal is reset to its default in the child, so tempo sees an ordinary SIGINT.
    let tempo_cmd = format!(
        "trap : INT; '{}' tempo run --include-ignored -E 'test(=hangs)'; stty -a",
        env!("CARGO_BIN_EXE_cargo-tempo")
    );
    let mut child = std::process::Command::new("script")
        .args(["-qfec", &tempo_cmd, "/dev/null"])
        // `script` runs the command with $SHELL; the same shell on every machine.
        .env("SHELL", "/bin/sh")
        .current_dir(config_fixture())
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .env("TEMPO_STORE_DIR", fresh_store_dir())
        .env("TERM", "xterm")
        .env("TEMPO_TERMINAL_TEST_MARKER", &marker)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("util-linux's `script` runs");
    let watched = Watched::new(child.stdout.take().unwrap());
    poll_until(PATIENCE, "the test runs", || {
        any_runs(&processes_with_env("TEMPO_TERMINAL_TEST_MARKER", &marker), "hangs")
    });
    let mut keys = child.stdin.take().unwrap();
    keys.write_all(b"t").unwrap();
    watched.wait_for("tempo lists the running test", |out| out.contains("hangs (slot 0, attempt 1/4)"));
    keys.write_all(b"\x03").unwrap();
    wait_or_kill(&mut child, PATIENCE, "Ctrl-C ends the run");
    drop(keys);
    let text = watched.finish();
    assert!(text.contains("Info") && text.contains("1 test running"), "{text}");
    assert!(text.contains("RUNNING") && text.contains("hangs (slot 0, attempt 1/4)"), "{text}");
    // The pseudo-terminal has no size, so the bar is cut to 80 columns.
    assert!(
        text.contains("Running") && text.contains("0/1: 1 running (longest: retrying"),
        "the bar is drawn:\n{text}"
    );
    assert!(text.contains("tempo received SIGINT"), "{text}");
    let modes: Vec<&str> = text.split_whitespace().collect();
    assert!(modes.contains(&"icanon") && modes.contains(&"echo"), "line mode and echo are back on:\n{text}");
}
