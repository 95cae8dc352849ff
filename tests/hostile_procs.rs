//! Tests that are hard on tempo's own processes and memory (`tests/fixtures/hostile`):
//! the orphans tests leave are reaped while the run goes on, an endless line in a
//! batch costs no memory, and the JUnit reporter keeps only the output it writes.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

fn hostile_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/hostile")
}

/// Builds the fixture once per process, into the shared fixture target directory.
fn build_hostile_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["test", "--no-run", "--quiet", "--manifest-path"])
            .arg(hostile_fixture().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the hostile fixture must build");
    });
}

/// Starts tempo on the fixture with its stdout read by a thread of its own.
fn start(args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    build_hostile_fixture();
    let mut child = tempo(&hostile_fixture())
        .arg("run")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cargo-tempo runs");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    (child, reader)
}

/// Waits for tempo with `wait4`, which also reports its peak memory: returns (exit
/// code, stdout, peak RSS in bytes).
fn finish_measured(child: Child, reader: std::thread::JoinHandle<String>) -> (i32, String, u64) {
    let pid = child.id() as libc::pid_t;
    // The child is reaped below with wait4, not by `Child`.
    std::mem::forget(child);
    let stdout = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: plain out-parameters for wait4.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(rc, pid);
    (libc::WEXITSTATUS(status), stdout, usage.ru_maxrss as u64 * 1024)
}

/// How many of `parent`'s children are zombies, from `/proc/PID/stat`.
fn zombie_children(parent: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
            let Some((_, rest)) = stat.rsplit_once(')') else { return false };
            let mut fields = rest.split_ascii_whitespace();
            fields.next() == Some("Z") && fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(parent)
        })
        .count()
}

/// Regression: tempo, the run's subreaper, reaped the orphans it adopted only at the
/// end of the run, so 80 tests that each leave a short-lived `setsid` child left up
/// to 79 zombies waiting under it (a long suite could run out of pids). Now the most
/// zombies seen at once are the tests that just ended (one per slot) and the orphans
/// of the last moments.
#[test]
fn orphans_are_reaped_while_the_run_goes_on() {
    let (mut child, reader) = start(&["-E", "test(/orphan_/)"]);
    let pid = child.id();
    let (mut most, mut samples) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        // Sampled for the whole run; the last sample is taken before tempo is reaped.
        most = most.max(zombie_children(pid));
        samples += 1;
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end");
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert!(last_line(&stdout).starts_with("tempo: 80 passed"), "{stdout}");
    // Two slots, plus the orphans of the last ~50 ms between two looks at /proc (a
    // test here takes 30 ms or more), with room for a loaded machine.
    assert!(most <= 2 + 10, "{most} zombies waited under tempo at once ({samples} samples)");
}

/// Regression: a batched test that printed 100 MiB without a newline grew the line
/// parser's buffer to 100 MiB (RSS 35 → 217 MB), and each read decoded it all again.
/// The test goes back to run alone, where its output is capped as usual.
#[test]
fn an_endless_line_in_a_batch_costs_no_memory() {
    let (child, reader) = start(&["-P", "batch", "--status-level", "all", "-E", "test(/floods::/)"]);
    let (code, stdout, peak) = finish_measured(child, reader);
    assert_eq!(code, 0, "{stdout}");
    assert!(last_line(&stdout).starts_with("tempo: 3 passed"), "{stdout}");
    let flood = stdout
        .lines()
        .find(|l| l.contains("floods::b_prints_100_mib_without_a_newline"))
        .unwrap_or_else(|| panic!("no line for the flood:\n{stdout}"));
    assert!(flood.contains("batch"), "the flood ran in a batch first: {flood}");
    assert!(peak < 100 * 1024 * 1024, "tempo's peak memory was {} MB", peak / (1024 * 1024));
}

/// Regression: the JUnit reporter kept every attempt's output until the end of the
/// run, even with `store-success-output` and `store-failure-output` off (100 tests
/// printing 1 MiB each: RSS 35 → 113 MB).
#[test]
fn junit_keeps_no_output_it_will_not_write() {
    let (child, reader) = start(&["-P", "quiet-junit", "-E", "test(/^mib::/)"]);
    let (code, stdout, peak) = finish_measured(child, reader);
    assert_eq!(code, 0, "{stdout}");
    assert!(last_line(&stdout).starts_with("tempo: 100 passed"), "{stdout}");
    assert!(peak < 70 * 1024 * 1024, "tempo's peak memory was {} MB", peak / (1024 * 1024));
}
