//! The files a run writes, when their directory is hostile or shared: a symlink
//! planted at the name of a temporary file, a history that cannot be written, two
//! runs in one workspace at once, and a history written by a newer tempo.
//!
//! They run against a tiny workspace generated once per test process under
//! `target/hostile-files`: `quick` passes, `fails` fails, and `waits_for_go` writes
//! `started` into `$HOSTILE_MARKERS` and then waits for `go` to appear there, so that
//! a test can act while a run is in the middle of its tests.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const LIB_RS: &str = r#"
#[test]
fn quick() {}

#[test]
fn fails() {
    panic!("fails on purpose");
}

#[test]
fn waits_for_go() {
    use std::time::{Duration, Instant};
    let dir = std::path::PathBuf::from(std::env::var("HOSTILE_MARKERS").expect("HOSTILE_MARKERS is set"));
    std::fs::write(dir.join("started"), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !dir.join("go").exists() {
        assert!(Instant::now() < deadline, "never told to go");
        std::thread::sleep(Duration::from_millis(10));
    }
}
"#;

/// The generated workspace, built once per process.
fn workspace() -> &'static Path {
    static WS: OnceLock<PathBuf> = OnceLock::new();
    WS.get_or_init(|| {
        let ws = repo_root().join("target/hostile-files/ws");
        std::fs::create_dir_all(ws.join("src")).unwrap();
        // Written only when different, so that cargo does not rebuild for a new mtime.
        let write = |path: PathBuf, text: &str| {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
                std::fs::write(path, text).unwrap();
            }
        };
        write(
            ws.join("Cargo.toml"),
            "[package]\nname = \"hostile_files\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        );
        write(ws.join("src/lib.rs"), LIB_RS);
        let status = Command::new(env!("CARGO"))
            .args(["test", "--no-run", "--quiet", "--manifest-path"])
            .arg(ws.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "the generated workspace builds");
        ws
    })
}

fn target_dir() -> PathBuf {
    repo_root().join("target/hostile-files/target")
}

/// A store directory of its own, with a config that writes JUnit there too; the HTML
/// report is on by default. Returns (store, config file).
fn store_with_junit(root: &Path) -> (PathBuf, PathBuf) {
    let store = root.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let config = root.join("tempo.toml");
    std::fs::write(
        &config,
        format!("[store]\ndir = {:?}\n\n[profile.default.junit]\npath = \"junit.xml\"\n", store.display().to_string()),
    )
    .unwrap();
    (store, config)
}

/// `cargo tempo run --config-file CONFIG FILTER` in the generated workspace.
fn run(config: &Path, filter: &str, markers: &Path) -> Command {
    let mut cmd = tempo(workspace());
    cmd.env_remove("TEMPO_STORE_DIR")
        .env("CARGO_TARGET_DIR", target_dir())
        .env("HOSTILE_MARKERS", markers)
        .args(["run", "--no-fail-fast", "--retries", "0", "--config-file"])
        .arg(config)
        .arg(filter);
    cmd
}

/// Waits (polling, with a deadline) until `path` exists.
fn wait_for(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while !path.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the run ended ({status}) before {} appeared", path.display());
        }
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn finish(child: Child, expected: i32) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(expected), "--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    (stdout.into_owned(), stderr.into_owned())
}

/// The test names the history holds.
fn history_tests(store: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(store.join("history.json")).expect("the history is written");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut names: Vec<String> =
        json["tests"].as_object().unwrap().values().flat_map(|t| t.as_object().unwrap().keys().cloned()).collect();
    names.sort();
    names
}

/// Regression: the report, JUnit and history were written through
/// `.{name}.{pid}.tmp`, opened with `File::create`, so a symlink planted at that name
/// had its target overwritten. The symlinks are planted for the run's own pid while
/// its test waits, before anything is written.
#[test]
fn symlinks_planted_at_the_old_temporary_names_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = store_with_junit(dir.path());
    let markers = dir.path().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let mut child =
        run(&config, "waits_for_go", &markers).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(&markers.join("started"), &mut child);
    let pid = child.id();
    let outputs = [store.join("history.json"), store.join("default/report.html"), store.join("default/junit.xml")];
    let mut victims = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        let victim = dir.path().join(format!("victim-{i}"));
        std::fs::write(&victim, "precious").unwrap();
        let parent = output.parent().unwrap();
        std::fs::create_dir_all(parent).unwrap();
        let name = output.file_name().unwrap().to_str().unwrap();
        std::os::unix::fs::symlink(&victim, parent.join(format!(".{name}.{pid}.tmp"))).unwrap();
        victims.push(victim);
    }
    std::fs::write(markers.join("go"), "").unwrap();
    finish(child, 0);
    for victim in &victims {
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious", "{} was overwritten", victim.display());
    }
    for output in &outputs {
        let meta = std::fs::symlink_metadata(output).unwrap();
        assert!(meta.file_type().is_file(), "{} is a plain file", output.display());
    }
}

/// Regression: a history that could not be written ended the run with "failed to write
/// output: Is a directory", naming no path, before the HTML report was written. Now
/// every other output is written, and the error, naming the history, comes once at the
/// end: exit 110 when the tests passed, 100 (failing tests beat it) when they did not.
#[test]
fn a_history_that_cannot_be_written_does_not_stop_the_other_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = store_with_junit(dir.path());
    let history = store.join("history.json");
    std::fs::create_dir_all(&history).unwrap();
    let expected_error = format!("error: failed to write the history `{}`: Is a directory", history.display());
    for (filter, code, summary) in [("quick", 110, "1 passed"), ("fails", 100, "1 failed")] {
        for output in ["default/report.html", "default/junit.xml"] {
            let _ = std::fs::remove_file(store.join(output));
        }
        let out = run_expecting(&mut run(&config, filter, dir.path()), code);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(summary), "the summary is printed: {stdout}");
        assert_eq!(stderr.matches(&expected_error).count(), 1, "{filter}: the error once, with its path: {stderr}");
        assert!(!stderr.contains("failed to write output"), "{stderr}");
        assert!(store.join("default/report.html").is_file(), "{filter}: the HTML report is written: {stderr}");
        assert!(store.join("default/junit.xml").is_file(), "{filter}: the JUnit report is written: {stderr}");
    }
}

/// Regression: each run wrote back the history it loaded at its start plus its own
/// records, so of two runs that overlapped, the one that finished last erased the
/// other's. Run A loads the history and waits in its test; run B starts and finishes;
/// then A finishes. Both runs' tests must be in the history.
#[test]
fn two_runs_at_once_both_keep_their_history() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = store_with_junit(dir.path());
    let markers = dir.path().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let mut a = run(&config, "waits_for_go", &markers).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for(&markers.join("started"), &mut a);
    run_expecting(&mut run(&config, "quick", &markers), 0);
    assert_eq!(history_tests(&store), ["quick"], "run B wrote its record");
    std::fs::write(markers.join("go"), "").unwrap();
    finish(a, 0);
    assert_eq!(history_tests(&store), ["quick", "waits_for_go"], "run A kept run B's record");
}

/// Regression: a history of a newer format was ignored, then overwritten with this
/// tempo's older format, losing what the newer tempo had recorded.
#[test]
fn a_history_written_by_a_newer_tempo_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (store, config) = store_with_junit(dir.path());
    let history = store.join("history.json");
    let newer = r#"{"version":2,"writer":"tempo 99.0.0","tests":{"x":{"y":{"package":"x","samples":[1,2,3]}}}}"#;
    std::fs::write(&history, newer).unwrap();
    let out = run_expecting(&mut run(&config, "quick", dir.path()), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(std::fs::read_to_string(&history).unwrap(), newer, "the newer history is unchanged");
    let path = history.display().to_string();
    let warning = stderr.lines().find(|l| l.contains("not updating the history")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(warning.contains(&path) && warning.contains("tempo 99.0.0"), "{warning}");
    assert!(warning.contains("format version 2") && warning.contains("only version 1"), "{warning}");
    assert!(store.join("default/report.html").is_file(), "the other outputs are written");
}
