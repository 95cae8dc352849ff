//! tempo's CPU accounting agrees with an outside measurement: what `/usr/bin/time`
//! reports for the whole `cargo tempo run` (the rusage `wait4` returns for it, which
//! sums tempo, cargo and every test process it reaped).

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;

/// Runs `cmd` to its end and returns its stdout with the user + system CPU time of it
/// and every descendant it waited for, as `wait4` reports it.
#[expect(clippy::zombie_processes, reason = "the child is reaped by wait4, which std's Child cannot call")]
fn run_timed(cmd: &mut std::process::Command) -> (String, i32, Duration) {
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut pipe = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        pipe.read_to_string(&mut out).unwrap();
        out
    });
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to locals; the child is ours and not yet waited for.
    let rc = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(rc, child.id() as libc::pid_t, "{}", std::io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    (reader.join().unwrap(), libc::WEXITSTATUS(status), tv(usage.ru_utime) + tv(usage.ru_stime))
}

#[test]
fn the_runs_cpu_time_agrees_with_wait4_for_the_whole_command() {
    build_adaptive_fixture();
    // Two tests that use 150 ms of CPU each, and one whose two threads use 200 ms
    // each: 0.7 s in all, however busy the machine (they burn CPU time, not wall
    // time). Each runs in its own process (no history, so no batch).
    let (stdout, code, outside) = run_timed(tempo(&adaptive_fixture()).args([
        "run",
        "--message-format",
        "json",
        "--no-report",
        "--include-ignored",
        "-E",
        "test(/busy|two_threads/)",
    ]));
    assert_eq!(code, 0, "{stdout}");
    let events: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let finished = events.iter().find(|e| e["type"] == "run-finished").expect("a run-finished event");
    let run_cpu = finished["cpu_s"].as_f64().unwrap();
    let per_test: f64 =
        events.iter().filter(|e| e["type"] == "test-finished").map(|e| e["cpu_s"].as_f64().unwrap()).sum();
    let outside = outside.as_secs_f64();

    // The run's figure is the sum of its tests'.
    assert!((run_cpu - per_test).abs() < 0.002, "run {run_cpu} s, tests {per_test} s");
    // The tests did real work, and tempo saw all of it, the second thread's included.
    assert!(run_cpu >= 0.7, "the tests burn 0.7 s: {run_cpu} s");
    let two = events.iter().find(|e| e["type"] == "test-finished" && e["name"] == "tests::two_threads").unwrap();
    assert!(two["cpu_s"].as_f64().unwrap() >= 0.4, "both threads are counted: {two}");
    // The outside figure holds the tests' CPU plus tempo's and cargo's own (metadata,
    // a build with nothing to do, listing): never less than the tests', and at most
    // a second more.
    assert!(run_cpu <= outside + 0.01, "tempo counts {run_cpu} s, wait4 saw {outside} s for everything");
    assert!(outside - run_cpu < 1.0, "tempo counts {run_cpu} s of the {outside} s wait4 saw");
    // Utilization is that CPU time over wall time times cores.
    let (wall, cores) = (finished["wall_s"].as_f64().unwrap(), finished["cores"].as_f64().unwrap());
    let utilization = finished["cpu_utilization"].as_f64().unwrap();
    assert!((utilization - run_cpu / (wall * cores)).abs() < 1e-6, "{finished}");
}
