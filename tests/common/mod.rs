//! Shared helpers for the end-to-end tests: run the real `cargo-tempo` binary against
//! the fixture workspaces, each built once per test run in a target directory of its own.

#![allow(dead_code, reason = "each test binary uses its own subset of these helpers")]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The main fixture workspace.
pub fn fixture() -> PathBuf {
    repo_root().join("tests/fixtures/workspace")
}

/// Where fixtures are built: outside the outer `cargo test`'s own target directory
/// lock, and shared by every test binary so each fixture is compiled once per run.
pub fn fixture_target_dir() -> PathBuf {
    repo_root().join("target/fixture-target")
}

/// A fresh store directory, so that no run sees another's duration history: tests
/// that check the order tests start in would otherwise depend on earlier runs.
pub fn fresh_store_dir() -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    repo_root().join(format!("target/test-stores/{}-{n}", std::process::id()))
}

/// A `cargo-tempo tempo ...` command with a clean, predictable environment and a
/// store directory of its own.
pub fn tempo(manifest_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tempo"));
    cmd.arg("tempo");
    cmd.current_dir(manifest_dir);
    cmd.env("CARGO_TARGET_DIR", fixture_target_dir());
    cmd.env("TEMPO_STORE_DIR", fresh_store_dir());
    for var in ["COLUMNS", "TEMPO_TEST_THREADS", "NO_COLOR", "CLICOLOR_FORCE", "CARGO_TERM_COLOR", "RUST_BACKTRACE"] {
        cmd.env_remove(var);
    }
    cmd
}

/// The config fixture workspace: the founding nextest.toml over tests that fail on
/// their first attempt, always fail, or pass.
pub fn config_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/config-ws")
}

fn build_workspace(path: &Path) {
    let status = Command::new(env!("CARGO"))
        .args(["test", "--no-run", "--quiet", "--manifest-path"])
        .arg(path.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", fixture_target_dir())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the fixture workspace {} must build", path.display());
}

/// The misbehaving-tests fixture workspace.
pub fn misbehave_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/misbehave")
}

/// The batching fixture workspace: tests that crash, hang or fail only in a batch.
pub fn batching_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/batching")
}

/// Builds the batching fixture once per process.
pub fn build_batching_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&batching_fixture()));
}

/// The doctest fixture workspace: passing, failing, ignored, `no_run`,
/// `compile_fail` and `should_panic` doctests beside a unit test.
pub fn doctest_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/doctests")
}

/// Builds the doctest fixture once per process.
pub fn build_doctest_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&doctest_fixture()));
}

/// The merged-doctest fixture: an edition 2024 crate with doctests in two files.
pub fn merged_doctest_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/doctests-2024")
}

/// Builds the merged-doctest fixture once per process.
pub fn build_merged_doctest_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&merged_doctest_fixture()));
}

/// The adaptive-concurrency fixture: tests that wait, keep a core busy, or spin two
/// threads on each other.
pub fn adaptive_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/adaptive")
}

/// Builds the adaptive fixture once per process.
pub fn build_adaptive_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&adaptive_fixture()));
}

/// Builds the misbehaving-tests fixture once per process.
pub fn build_misbehave_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&misbehave_fixture()));
}

/// Processes whose environment holds `VAR=value`: everything a tempo run started with
/// that variable set, since every test inherits tempo's environment.
pub fn processes_with_env(var: &str, value: &str) -> Vec<u32> {
    let needle = format!("{var}={value}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

/// Builds the main fixture's tests once per process (cargo makes later builds no-ops).
pub fn build_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&fixture()));
}

/// Builds the config fixture once per process.
pub fn build_config_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&config_fixture()));
}

/// Runs a command and returns its output, printing both streams when `expected` differs.
pub fn run_expecting(cmd: &mut Command, expected: i32) -> Output {
    let out = cmd.output().expect("cargo-tempo runs");
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expected,
        "unexpected exit code for {cmd:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One test's expected outcome, as written in `expected.toml`.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Expected {
    pub binary_id: String,
    pub name: String,
    pub outcome: String,
    pub ignored_outcome: Option<String>,
    /// The outcome when run from an archive extracted somewhere else than the build's
    /// target directory, where it differs from `outcome`.
    pub archive_outcome: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct ExpectedFile {
    test: Vec<Expected>,
}

/// The expected outcomes of a fixture workspace.
pub fn expected(workspace: &Path) -> Vec<Expected> {
    let text = std::fs::read_to_string(workspace.join("expected.toml")).expect("expected.toml exists");
    toml::from_str::<ExpectedFile>(&text).expect("expected.toml parses").test
}

/// Parses tempo's status lines (`        PASS [   0.004s] bin test`) into (binary id, name) → status word.
pub fn statuses(stdout: &str) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for line in stdout.lines() {
        let Some((status, rest)) = line.split_once(" [") else {
            continue;
        };
        let Some((_, rest)) = rest.split_once("s] ") else {
            continue;
        };
        let status = status.trim();
        if status.is_empty() || status.contains(' ') && !status.starts_with("TRY") {
            continue;
        }
        let Some((binary, name)) = rest.split_once(' ') else {
            continue;
        };
        // A note follows the name in parentheses: the attempt, or why it ran alone.
        // (Doctest names end in `(line N)` of their own.)
        let name = match name.rsplit_once(" (") {
            Some((head, note)) if note.starts_with("attempt ") || note.contains("batch") => head,
            _ => name,
        };
        let name = name.split(" (attempt ").next().unwrap_or(name);
        // The summary line, and SLOW lines, which are not outcomes.
        if status == "Summary" || status == "SLOW" {
            continue;
        }
        map.entry((binary.to_owned(), name.to_owned())).or_insert_with(|| status.to_owned());
    }
    map
}

/// The last line of the output.
pub fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

/// Replaces durations and other run-to-run noise so output can be snapshotted.
pub fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut line = line.to_owned();
        // Status durations: `[   0.004s]`.
        while let Some(start) = line.find(" [") {
            let Some(end) = line[start..].find("s]") else {
                break;
            };
            let inner = &line[start + 2..start + end];
            if inner.trim().parse::<f64>().is_err() {
                break;
            }
            line.replace_range(start..start + end + 2, " [DURATION]");
        }
        // Panic messages name the thread's id: `thread 'x' (12345) panicked`.
        if let Some(at) = line.find(") panicked at")
            && let Some(open) = line[..at].rfind(" (")
        {
            line.replace_range(open..at + 1, " (TID)");
        }
        // libtest's own summary: `finished in 0.00s`.
        if let Some(at) = line.find("; finished in ") {
            line.replace_range(at.., "; finished in [TIME]");
        }
        if line.trim_start().starts_with("Timing ") {
            line = "      Timing [TIMING]".into();
        }
        // The HTML report's path, under a store directory of the test's own.
        if line.trim_start().starts_with("Report ") {
            line = "      Report [PATH]".into();
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The generated benchmark suites (`bench/gen.py`), written under the target directory
/// once per process and built there.
pub fn generated_suites() -> PathBuf {
    static GENERATED: OnceLock<PathBuf> = OnceLock::new();
    GENERATED
        .get_or_init(|| {
            let out = repo_root().join("target/generated-suites");
            let status = Command::new("python3")
                .arg(repo_root().join("bench/gen.py"))
                .arg("--out")
                .arg(&out)
                .args(["trivial", "skewed"])
                .status()
                .expect("python3 runs bench/gen.py");
            assert!(status.success(), "bench/gen.py generates the suites");
            for suite in ["trivial", "skewed"] {
                build_workspace(&out.join(suite));
            }
            out
        })
        .clone()
}

/// The fixture for `cargo tempo flaky`: a test that fails about 40% of the time, one
/// that always fails, and steady tests.
pub fn flaky_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/flaky")
}

/// Builds the flaky fixture once per process.
pub fn build_flaky_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&flaky_fixture()));
}

/// The fixture for `cargo tempo tune`: eight tests that sleep 100-200 ms, and an
/// ignored one that always fails.
pub fn tune_fixture() -> PathBuf {
    repo_root().join("tests/fixtures/tune")
}

/// Builds the tune fixture once per process.
pub fn build_tune_fixture() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| build_workspace(&tune_fixture()));
}

/// Copies a fixture workspace's sources (not its `target/` or any `.config/`) into
/// `dir`, for tests that write config files: the repository's fixture stays untouched.
pub fn copy_workspace(from: &Path, dir: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "target" || name == ".config" {
                continue;
            }
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &to.join(&name));
            } else {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    }
    copy(from, dir);
}

/// Serialises the tests of one test binary that build copies of a fixture into the
/// shared fixture target directory: cargo may relink a binary of the same name while
/// another test runs it (the binary then "could not be started").
pub fn fixture_target_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How long a test waits for something that takes milliseconds on an idle machine: a
/// process to start, a line to be printed, a run to end after a signal. Generous, so
/// that only a thing that never happens fails a test, however loaded the machine.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Waits until `cond` holds, checking it every 20 ms; panics, saying `what` was awaited,
/// if it still does not hold after `within`. Tests wait on conditions with this, never
/// with a sleep of a guessed length.
pub fn poll_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "gave up after {within:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit; if it is still running after `within`, kills it (a
/// SIGKILLed tempo takes its tests with it) and panics, saying `what` was awaited.
pub fn wait_or_kill(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gave up after {within:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child's output, read on a thread of its own as it is written, so that a test can
/// wait until something has been printed (with a deadline) and still get all of it.
pub struct Watched {
    seen: Arc<Mutex<Vec<u8>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Watched {
    /// Starts reading `pipe` (a child's stdout, say) until it closes.
    pub fn new(mut pipe: impl Read + Send + 'static) -> Watched {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let into = Arc::clone(&seen);
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => into.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
        });
        Watched { seen, reader }
    }

    /// What has been read so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until what has been read so far satisfies `cond`; panics with `what` and
    /// the output if it does not within [`PATIENCE`].
    pub fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text();
            if cond(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "gave up after {PATIENCE:?} waiting until {what}; output so far:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// All of the output, once the pipe has closed (the child has exited).
    pub fn finish(self) -> String {
        self.reader.join().unwrap();
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

/// Whether one of `pids` has `arg` as one whole argument of its command line.
pub fn any_runs(pids: &[u32], arg: &str) -> bool {
    pids.iter().any(|p| {
        std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
    })
}

/// Restricts `cmd` to at most two of the CPUs this process may use, so that what
/// depends on the core count (adaptive concurrency's budget) is the same on a large
/// machine as on the two-core reference machine. tempo reads its cores with
/// `available_parallelism`, which honours the affinity mask (sched_setaffinity(2)).
/// Returns the number of CPUs `cmd` gets.
pub fn at_most_two_cpus(cmd: &mut Command) -> usize {
    use std::os::unix::process::CommandExt;
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it in for this process.
    let mut mine: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a set of the size given.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut mine) };
    assert_eq!(rc, 0, "sched_getaffinity: {}", std::io::Error::last_os_error());
    // SAFETY: as above.
    let mut two: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let mut count = 0;
    for cpu in 0..libc::CPU_SETSIZE as usize {
        // SAFETY: cpu is below CPU_SETSIZE.
        if count < 2 && unsafe { libc::CPU_ISSET(cpu, &mine) } {
            // SAFETY: as above.
            unsafe { libc::CPU_SET(cpu, &mut two) };
            count += 1;
        }
    }
    // SAFETY: the closure only calls sched_setaffinity, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &two) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    count
}
