//! The cache of `cargo metadata`'s answer (`<store.dir>/cargo-metadata.json`): a warm
//! run takes the workspace from it, and any change that could change cargo's answer
//! is seen: a new member directory matching a glob, a manifest edit, a
//! `.cargo/config.toml` that moves the target directory, a corrupt cache file.
//!
//! Each test builds a small workspace of its own under a temporary directory, away
//! from this repository's manifests and configuration. An answer is stored only when
//! nothing it depends on changed in the two seconds before `cargo metadata` ran, so
//! the tests age the files first instead of sleeping.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::run_expecting;

struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: PathBuf,
    target: PathBuf,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn member(root: &Path, name: &str) {
    write(
        &root.join(format!("crates/{name}/Cargo.toml")),
        &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
    );
    write(&root.join(format!("crates/{name}/src/lib.rs")), &format!("#[test]\nfn {name}_works() {{}}\n"));
}

/// A workspace `crates/*` with one member, `a`.
fn workspace() -> Ws {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ws");
    write(&root.join("Cargo.toml"), "[workspace]\nmembers = [\"crates/*\"]\nresolver = \"2\"\n");
    member(&root, "a");
    let (store, target) = (dir.path().join("store"), dir.path().join("target"));
    Ws { _dir: dir, root, store, target }
}

/// Sets every file's and directory's modification time a minute back, as if the
/// workspace had been left alone.
fn age(path: &Path) {
    let past = SystemTime::now() - Duration::from_secs(60);
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            age(&entry.unwrap().path());
        }
    }
    std::fs::File::open(path).unwrap().set_modified(past).unwrap();
}

fn tempo(ws: &Ws, target_env: bool, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tempo"));
    cmd.arg("tempo")
        .args(args)
        .current_dir(&ws.root)
        .env("TEMPO_STORE_DIR", &ws.store)
        .env("TEMPO_PHASES", "1")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    if target_env {
        cmd.env("CARGO_TARGET_DIR", &ws.target);
    } else {
        cmd.env_remove("CARGO_TARGET_DIR");
    }
    cmd
}

/// Lists the workspace: its tests, and whether the workspace came from the cache.
fn list(ws: &Ws, target_env: bool) -> (String, bool) {
    let out = run_expecting(&mut tempo(ws, target_env, &["list", "--workspace", "--message-format", "oneline"]), 0);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("warning"), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr.contains("cargo metadata cached"))
}

fn cache_file(ws: &Ws) -> PathBuf {
    ws.store.join("cargo-metadata.json")
}

/// Builds once, ages the files, then lists twice: the first stores the answer, the
/// second must use it.
fn warm(ws: &Ws, target_env: bool) -> String {
    list(ws, target_env);
    age(&ws.root);
    let (first, cached) = list(ws, target_env);
    assert!(!cached, "nothing was stored yet");
    let (second, cached) = list(ws, target_env);
    assert!(cached, "an unchanged workspace's answer is reused");
    assert_eq!(first, second);
    second
}

#[test]
fn a_new_member_directory_is_seen() {
    let ws = workspace();
    let listed = warm(&ws, true);
    assert!(listed.contains("a_works"), "{listed}");
    member(&ws.root, "b");
    let (listed, cached) = list(&ws, true);
    assert!(!cached, "a new member was taken from the cache");
    assert!(listed.contains("a_works") && listed.contains("b_works"), "{listed}");
}

/// A new binary target is only in the manifest; tempo sets its `CARGO_BIN_EXE_`
/// variable from cargo's answer, and the test checks it at run time.
#[test]
fn a_manifest_edit_is_seen() {
    let ws = workspace();
    write(
        &ws.root.join("crates/a/tests/tool.rs"),
        "#[test]\nfn tool_exists() { assert!(std::env::var_os(\"CARGO_BIN_EXE_tool\").is_some()); }\n",
    );
    write(&ws.root.join("crates/a/src/tool.rs"), "fn main() {}\n");
    warm(&ws, true);
    let run = |ws: &Ws| tempo(ws, true, &["run", "--workspace"]);
    let out = run_expecting(&mut run(&ws), 100);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cargo metadata cached"), "the cache is used");
    let manifest = ws.root.join("crates/a/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}\n[[bin]]\nname = \"tool\"\npath = \"src/tool.rs\"\n")).unwrap();
    let out = run_expecting(&mut run(&ws), 0);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cargo metadata cached"));
}

#[test]
fn a_config_moving_the_target_dir_is_seen() {
    let ws = workspace();
    let config = ws.root.join(".cargo/config.toml");
    let first = ws.target.join("one");
    write(&config, &format!("[build]\ntarget-dir = \"{}\"\n", first.display()));
    warm(&ws, false);
    let second = ws.target.join("two");
    write(&config, &format!("[build]\ntarget-dir = \"{}\"\n", second.display()));
    let (listed, cached) = list(&ws, false);
    assert!(!cached, "a moved target directory was taken from the cache");
    assert!(listed.contains("a_works"), "{listed}");
    assert!(second.is_dir(), "cargo built into the new target directory");
    // Once the edit is old enough to be trusted, the new answer is stored and used.
    age(&ws.root);
    list(&ws, false);
    let (_, cached) = list(&ws, false);
    assert!(cached);
    let cache: serde_json::Value = serde_json::from_slice(&std::fs::read(cache_file(&ws)).unwrap()).unwrap();
    let stored = cache["entries"][0]["workspace"]["target_dir"].as_str().unwrap();
    assert_eq!(Path::new(stored), second, "{cache}");
}

/// The cache is really read (a package renamed in it is listed under that name),
/// and a corrupt or foreign one is ignored without a word and rewritten.
#[test]
fn a_corrupt_cache_is_ignored_and_rewritten() {
    let ws = workspace();
    let expected = warm(&ws, true);
    let mut cache: serde_json::Value = serde_json::from_slice(&std::fs::read(cache_file(&ws)).unwrap()).unwrap();
    for package in cache["entries"][0]["workspace"]["packages"].as_object_mut().unwrap().values_mut() {
        package["name"] = "planted".into();
    }
    std::fs::write(cache_file(&ws), serde_json::to_vec(&cache).unwrap()).unwrap();
    let (listed, cached) = list(&ws, true);
    assert!(cached && listed.contains("planted"), "the cache is not read:\n{listed}");

    for garbage in [&b"\0\xffnot json"[..], br#"{"version":999,"entries":[]}"#, br#"{"version":1,"entries":7}"#] {
        std::fs::write(cache_file(&ws), garbage).unwrap();
        let (listed, cached) = list(&ws, true);
        assert!(!cached);
        assert_eq!(listed, expected);
        let (listed, cached) = list(&ws, true);
        assert!(cached, "the cache was rewritten");
        assert_eq!(listed, expected);
    }
}
