//! A cache of `cargo metadata --no-deps`'s answer, so that a warm run starts
//! `cargo test --no-run` without a second cargo process competing with it for the
//! cores (issue 14).
//!
//! The answer is reused only while everything it could depend on is unchanged; the
//! key is recorded as a list of paths with their state, checked one by one:
//!
//! - the invocation: tempo's version, the current directory, `--manifest-path`,
//!   `--target-dir`, the cargo program, and every environment variable named
//!   `CARGO*`, `__CARGO*` or `RUSTUP*`, plus `HOME` and `PATH` (which find cargo,
//!   its home and rustup's);
//! - the cargo binary (device, inode, size, modification and change times), and,
//!   since `cargo` is usually rustup's proxy, rustup's `settings.toml` and the cargo
//!   of every installed toolchain, and `rust-toolchain{,.toml}` in every directory
//!   from the current one up to `/`;
//! - `Cargo.toml`, `.cargo/config` and `.cargo/config.toml` in every directory from
//!   the current one (and the manifest's) up to `/` (cargo looks for the manifest,
//!   the workspace root and its configuration there), and `$CARGO_HOME/config{,.toml}`;
//!   a configuration that uses `include` is never cached;
//! - from the answer: the root manifest, `Cargo.lock`, every package's manifest,
//!   and what cargo discovers beside it that tempo keeps (`build.rs`, `src/lib.rs`,
//!   `src/main.rs`, `src/bin` and its subdirectories, the `README` it picks);
//! - for each glob in `workspace.members` and `default-members`, the directory it
//!   lists and the `Cargo.toml` of each entry, so that a new member is seen; a glob
//!   with a wildcard before its last component is never cached.
//!
//! Files are compared by size and xxh64 digest (they are small), directories by
//! inode and modification time (an entry added, removed or renamed changes it).
//! An answer is stored only if nothing keyed changed from two seconds before
//! `cargo metadata` started (coarse file-system clocks), so that an edit while it
//! ran cannot be paired with the answer it did not see. For a file of the workspace
//! that is absent, its directory's time stands in; for one up the tree (a
//! `.cargo/config.toml` in `/tmp`) it does not, since those directories change all
//! the time: such a file deleted while `cargo metadata` ran is the one race left.
//!
//! The file is `<store.dir>/cargo-metadata.json`, in the store directory of the
//! configuration found from the workspace root guessed from the files (the store is
//! known before cargo answers, and unlike the target directory it does not depend
//! on cargo's configuration; where it lives does not affect soundness, only which
//! invocations share it). It holds at most [`MAX_ENTRIES`] answers (one per
//! invocation), is not read past [`MAX_FILE_BYTES`], is written atomically, and is
//! only a cache: a missing, corrupt or foreign one is ignored, and a failure to
//! write it is a warning.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{CargoOptions, Workspace};

/// The file's format; another version is ignored.
const VERSION: u32 = 1;

/// The most answers kept: one per invocation (directory, options, environment).
pub const MAX_ENTRIES: usize = 8;

/// The largest file read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The most entries a member glob's directory may have to be cached.
const MAX_GLOB_ENTRIES: usize = 4096;

/// How long before `cargo metadata` started a keyed path must have last changed.
const RACY: Duration = Duration::from_secs(2);

/// The cache's file in a store directory.
pub fn path(store_dir: &Path) -> PathBuf {
    store_dir.join("cargo-metadata.json")
}

/// How tempo and cargo were invoked, compared as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Invocation {
    tempo: String,
    cwd: PathBuf,
    manifest_path: Option<PathBuf>,
    target_dir: Option<PathBuf>,
    cargo: PathBuf,
    env: Vec<(String, String)>,
}

/// What a path is, as far as the answer is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum State {
    Absent,
    File { len: u64, xxh64: u64 },
    Dir { ino: u64, mtime: i64, mtime_ns: i64 },
    Binary { dev: u64, ino: u64, len: u64, mtime: i64, mtime_ns: i64, ctime: i64, ctime_ns: i64 },
    Other { ino: u64, mtime: i64, mtime_ns: i64 },
}

/// How a path is compared: by content, or (a binary, too big to read) by identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Kind {
    Content,
    Identity,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    path: PathBuf,
    kind: Kind,
    state: State,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    invocation: Invocation,
    items: Vec<Item>,
    workspace: Workspace,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    entries: Vec<Entry>,
}

/// The state of `path`, and when it (or, absent, its directory) last changed.
fn state_of(path: &Path, kind: Kind) -> (State, Option<SystemTime>) {
    let Ok(meta) = std::fs::metadata(path) else {
        let parent = path.parent().and_then(|p| std::fs::metadata(p).ok()).and_then(|m| m.modified().ok());
        return (State::Absent, parent);
    };
    let modified = meta.modified().ok();
    let state = if meta.is_dir() {
        State::Dir { ino: meta.ino(), mtime: meta.mtime(), mtime_ns: meta.mtime_nsec() }
    } else if !meta.is_file() {
        State::Other { ino: meta.ino(), mtime: meta.mtime(), mtime_ns: meta.mtime_nsec() }
    } else if kind == Kind::Identity {
        State::Binary {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.size(),
            mtime: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
        }
    } else {
        match std::fs::read(path) {
            Ok(bytes) => State::File { len: meta.size(), xxh64: xxhash_rust::xxh64::xxh64(&bytes, 0) },
            // Unreadable: an identity no later read can match, so nothing is reused.
            Err(_) => State::Other { ino: u64::MAX, mtime: i64::MIN, mtime_ns: -1 },
        }
    };
    (state, modified)
}

/// The cargo program as a path: `CARGO`, or `cargo` found on `PATH`.
fn cargo_path(cwd: &Path) -> Option<PathBuf> {
    let program = PathBuf::from(super::cargo_program());
    if program.components().count() > 1 || program.is_absolute() {
        return Some(cwd.join(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| cwd.join(dir).join(&program)).find(|p| p.is_file())
}

fn invocation(opts: &CargoOptions) -> Option<Invocation> {
    let cwd = std::env::current_dir().ok()?;
    let mut env: Vec<(String, String)> = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let keyed = name.starts_with("CARGO")
            || name.starts_with("__CARGO")
            || name.starts_with("RUSTUP")
            || name == "HOME"
            || name == "PATH";
        if keyed {
            // A value that is not UTF-8 could not be compared after a round trip.
            env.push((name.to_owned(), value.into_string().ok()?));
        }
    }
    env.sort();
    let utf8 = |p: &Option<PathBuf>| p.as_ref().is_none_or(|p| p.to_str().is_some());
    if cwd.to_str().is_none() || !utf8(&opts.manifest_path) || !utf8(&opts.target_dir) {
        return None;
    }
    let cargo = cargo_path(&cwd)?;
    cargo.to_str()?;
    Some(Invocation {
        tempo: env!("CARGO_PKG_VERSION").to_owned(),
        manifest_path: opts.manifest_path.as_ref().map(|p| cwd.join(p)),
        target_dir: opts.target_dir.clone(),
        cwd,
        cargo,
        env,
    })
}

fn home_dir(var: &str, default: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(default)))
}

/// The paths known before cargo answers: `None` if something rules caching out.
fn invocation_paths(inv: &Invocation) -> Option<Vec<(PathBuf, Kind)>> {
    let mut paths = vec![(inv.cargo.clone(), Kind::Identity)];
    let mut configs = Vec::new();
    for dir in inv.cwd.ancestors() {
        configs.push(dir.join(".cargo/config"));
        configs.push(dir.join(".cargo/config.toml"));
        for name in ["Cargo.toml", "rust-toolchain", "rust-toolchain.toml"] {
            paths.push((dir.join(name), Kind::Content));
        }
    }
    if let Some(dir) = inv.manifest_path.as_ref().and_then(|p| p.parent()) {
        paths.extend(dir.ancestors().map(|d| (d.join("Cargo.toml"), Kind::Content)));
    }
    if let Some(home) = home_dir("CARGO_HOME", ".cargo") {
        configs.push(home.join("config"));
        configs.push(home.join("config.toml"));
    }
    if let Some(home) = home_dir("RUSTUP_HOME", ".rustup") {
        paths.push((home.join("settings.toml"), Kind::Content));
        let toolchains = home.join("toolchains");
        paths.push((toolchains.clone(), Kind::Content));
        if let Ok(entries) = std::fs::read_dir(&toolchains) {
            for entry in entries.flatten() {
                paths.push((entry.path().join("bin/cargo"), Kind::Identity));
            }
        }
    }
    // `include` pulls in files this key would not cover.
    for path in &configs {
        if std::fs::read_to_string(path).is_ok_and(|text| text.contains("include")) {
            return None;
        }
    }
    paths.extend(configs.into_iter().map(|p| (p, Kind::Content)));
    Some(paths)
}

/// The paths the answer depends on: `None` if a member glob cannot be covered.
fn answer_paths(workspace: &Workspace) -> Option<Vec<(PathBuf, Kind)>> {
    let root_manifest = workspace.root.join("Cargo.toml");
    let mut paths = vec![(root_manifest.clone(), Kind::Content), (workspace.root.join("Cargo.lock"), Kind::Content)];
    for package in workspace.packages.values() {
        let dir = package.root();
        paths.push((package.manifest_path.clone(), Kind::Content));
        for name in ["build.rs", "src/lib.rs", "src/main.rs", "src/bin", "README", "README.md", "README.txt"] {
            paths.push((dir.join(name), Kind::Content));
        }
        if let Ok(entries) = std::fs::read_dir(dir.join("src/bin")) {
            paths.extend(entries.flatten().map(|e| (e.path(), Kind::Content)).filter(|(p, _)| p.is_dir()));
        }
    }
    let text = std::fs::read_to_string(&root_manifest).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let globs = doc.get("workspace").and_then(toml::Value::as_table).into_iter().flat_map(|ws| {
        ["members", "default-members"]
            .into_iter()
            .filter_map(|key| ws.get(key).and_then(toml::Value::as_array))
            .flatten()
            .filter_map(toml::Value::as_str)
    });
    for pattern in globs {
        let wild = |c: &str| c.contains(['*', '?', '[']);
        let components: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        let Some(first_wild) = components.iter().position(|c| wild(c)) else { continue };
        if first_wild + 1 != components.len() {
            return None;
        }
        let dir = workspace.root.join(components[..first_wild].join("/"));
        paths.push((dir.clone(), Kind::Content));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let entries: Vec<_> = entries.flatten().take(MAX_GLOB_ENTRIES + 1).collect();
            if entries.len() > MAX_GLOB_ENTRIES {
                return None;
            }
            paths.extend(entries.iter().map(|e| (e.path().join("Cargo.toml"), Kind::Content)));
        }
    }
    Some(paths)
}

/// A cache of `cargo metadata` answers in one file.
pub struct MetadataCache {
    path: PathBuf,
    invocation: Option<Invocation>,
}

impl MetadataCache {
    /// The cache at `file` for this invocation.
    pub fn new(file: PathBuf, opts: &CargoOptions) -> MetadataCache {
        MetadataCache { path: file, invocation: invocation(opts) }
    }

    /// The workspace, if an answer for this invocation is stored and nothing it
    /// depends on has changed.
    pub fn get(&self) -> Option<Workspace> {
        let invocation = self.invocation.as_ref()?;
        let file = read(&self.path)?;
        let entry = file.entries.into_iter().find(|e| &e.invocation == invocation)?;
        let fresh = entry.items.iter().all(|item| state_of(&item.path, item.kind).0 == item.state);
        fresh.then_some(entry.workspace)
    }

    /// Stores `workspace`, cargo's answer to a `cargo metadata` that started at
    /// `started`, unless something it depends on changed since shortly before.
    pub fn store(&self, workspace: &Workspace, started: SystemTime) {
        let Some(invocation) = &self.invocation else { return };
        let Some(before) = invocation_paths(invocation) else { return };
        let Some(answer) = answer_paths(workspace) else { return };
        let since = started.checked_sub(RACY).unwrap_or(SystemTime::UNIX_EPOCH);
        let mut items = Vec::with_capacity(before.len() + answer.len());
        let answer_from = before.len();
        for (i, (path, kind)) in before.into_iter().chain(answer).enumerate() {
            let (state, modified) = state_of(&path, kind);
            // An absent file of the workspace is judged by its directory, which its
            // deletion changed; not so one up the tree, whose directories (`/tmp`,
            // the home directory) change all the time. A time that cannot be read
            // cannot be shown older.
            let racy = match state {
                State::Absent if i < answer_from => false,
                _ => modified.is_none_or(|m| m >= since),
            };
            if racy {
                return;
            }
            items.push(Item { path, kind, state });
        }
        let mut file = read(&self.path).unwrap_or_default();
        file.version = VERSION;
        file.entries.retain(|e| &e.invocation != invocation);
        file.entries.truncate(MAX_ENTRIES - 1);
        let entry = Entry { invocation: invocation.clone(), items, workspace: workspace.clone() };
        file.entries.insert(0, entry);
        let result = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|json| crate::files::write_atomically(&self.path, &json));
        if let Err(e) = result {
            eprintln!("warning: could not write the cargo metadata cache {}: {e}", self.path.display());
        }
    }
}

fn read(path: &Path) -> Option<File> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let file: File = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (file.version == VERSION).then_some(file)
}
