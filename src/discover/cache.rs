//! A cache of test lists, keyed by each binary's identity on disk, so that a warm run
//! does not start every test binary twice (`--list`, then `--list --ignored`) to ask
//! it what it holds.
//!
//! libtest's list is compiled into the binary: the same file always lists the same
//! tests, whatever its environment or directory. So a list is reused while the file
//! at the binary's path is the same file: same device, inode, size, modification
//! and change times (nanoseconds). cargo writes a rebuilt binary as a new file, which
//! changes all of them; anything that rewrites it in place changes the change time.
//! A content hash would be safer still against a tool that forges times, but reading
//! a 50 MB binary costs more than the two spawns it saves.
//!
//! A custom harness (`harness = false`) may decide its tests from files or variables
//! at run time, so its lists are never cached: the package's manifest is read to find
//! those targets, and a manifest that cannot be read caches nothing for its package.
//! Doctest units have no binary of their own and are never cached either.
//!
//! The cache is one JSON file, `<store.dir>/test-lists.json`. It is only a cache: a
//! missing, unreadable, corrupt, oversized or foreign one is ignored silently and
//! rewritten, and a failure to write it is a warning that names the file, never a
//! failed run. It is written atomically (see [`crate::files`]) and only when a list
//! was added or one went stale, and it keeps only the entries of binaries that still
//! exist unchanged, at most [`MAX_ENTRIES`] of them.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::build::TestBinary;
use crate::discover::TestCase;
use crate::test_id::TargetKind;

/// The file's format; another version is ignored.
const VERSION: u32 = 1;

/// The most binaries the file remembers: a workspace has tens, rarely hundreds.
pub const MAX_ENTRIES: usize = 4096;

/// The largest file read: beyond it the cache is ignored (and rewritten smaller).
const MAX_FILE_BYTES: u64 = 64 << 20;

/// The cache's file in a store directory.
pub fn path(store_dir: &Path) -> PathBuf {
    store_dir.join("test-lists.json")
}

/// What identifies a file on disk, as far as its list is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
}

impl Identity {
    fn of(path: &Path) -> Option<Identity> {
        let m = std::fs::metadata(path).ok()?;
        m.is_file().then(|| Identity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_ns: m.ctime_nsec(),
        })
    }
}

/// One binary's list.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    id: Identity,
    /// Each test's name and whether it is ignored, in the order they were listed.
    tests: Vec<(String, bool)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    version: u32,
    binaries: HashMap<PathBuf, Entry>,
}

#[derive(Default)]
struct State {
    /// What the file held when it was read, less what this run looked up.
    loaded: HashMap<PathBuf, Entry>,
    /// The entries this run used or added.
    used: HashMap<PathBuf, Entry>,
    /// Whether the file needs writing: a list was added or one went stale.
    dirty: bool,
    /// For each manifest, the targets with a custom harness (`None`: unreadable).
    custom: HashMap<PathBuf, Option<Arc<CustomHarness>>>,
}

/// The targets of a package that have `harness = false`.
#[derive(Debug, Default)]
struct CustomHarness {
    /// `[lib] harness = false`.
    lib: bool,
    /// The names of the `[[bin]]`, `[[test]]`, `[[bench]]` and `[[example]]` targets
    /// with `harness = false`.
    names: HashSet<String>,
}

impl CustomHarness {
    fn read(manifest: &Path) -> Option<CustomHarness> {
        let text = std::fs::read_to_string(manifest).ok()?;
        let doc: toml::Table = text.parse().ok()?;
        let no_harness = |t: &toml::Value| t.get("harness").and_then(toml::Value::as_bool) == Some(false);
        let mut custom = CustomHarness { lib: doc.get("lib").is_some_and(no_harness), names: HashSet::new() };
        for section in ["bin", "test", "bench", "example"] {
            let Some(targets) = doc.get(section).and_then(toml::Value::as_array) else { continue };
            for target in targets.iter().filter(|t| no_harness(t)) {
                // A target with no name cannot be matched: trust no target of the package.
                custom.names.insert(target.get("name").and_then(toml::Value::as_str)?.to_owned());
            }
        }
        Some(custom)
    }

    fn covers(&self, binary: &TestBinary) -> bool {
        (self.lib && binary.kind == TargetKind::Lib) || self.names.contains(&binary.target_name)
    }
}

/// The test-list cache of one store directory, shared by the threads that list.
pub struct ListCache {
    path: PathBuf,
    state: Mutex<State>,
}

/// A lookup that missed: what the binary was before it was listed, so that a list is
/// stored only if the binary did not change while it listed.
pub struct Miss(Option<Identity>);

impl ListCache {
    /// Reads the cache of `store_dir`; anything wrong with the file gives an empty cache.
    pub fn open(store_dir: &Path) -> ListCache {
        let path = path(store_dir);
        let loaded = read(&path).unwrap_or_default();
        ListCache { path, state: Mutex::new(State { loaded, ..State::default() }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The binary's tests, sorted by name, if its list is cached and still valid;
    /// otherwise what [`ListCache::store`] needs once it is listed.
    pub fn get(&self, binary: &TestBinary) -> Result<Vec<TestCase>, Miss> {
        if !self.cacheable(binary) {
            return Err(Miss(None));
        }
        let id = Identity::of(&binary.path);
        let mut state = self.state();
        let entry = state.loaded.remove(&binary.path).or_else(|| state.used.get(&binary.path).cloned());
        match entry {
            Some(entry) if Some(entry.id) == id => {
                let tests =
                    entry.tests.iter().map(|(name, ignored)| TestCase { name: name.clone(), ignored: *ignored });
                let tests = tests.collect();
                state.used.insert(binary.path.clone(), entry);
                Ok(tests)
            }
            Some(_) => {
                state.dirty = true;
                Err(Miss(id))
            }
            None => Err(Miss(id)),
        }
    }

    /// Remembers a freshly listed binary's tests, if it is the file it was before listing.
    pub fn store(&self, binary: &TestBinary, miss: Miss, tests: &[TestCase]) {
        let Miss(Some(before)) = miss else { return };
        if Identity::of(&binary.path) != Some(before) {
            return;
        }
        let tests = tests.iter().map(|t| (t.name.clone(), t.ignored)).collect();
        let mut state = self.state();
        state.used.insert(binary.path.clone(), Entry { id: before, tests });
        state.dirty = true;
    }

    fn cacheable(&self, binary: &TestBinary) -> bool {
        if binary.doc.is_some() || binary.kind == TargetKind::Doctest {
            return false;
        }
        let manifest = &binary.package.manifest_path;
        let custom = {
            let mut state = self.state();
            state.custom.entry(manifest.clone()).or_insert_with(|| CustomHarness::read(manifest).map(Arc::new)).clone()
        };
        custom.is_some_and(|c| !c.covers(binary))
    }

    /// Writes the cache if this run changed it: the entries it used or added, then
    /// those of other binaries that still exist unchanged, up to [`MAX_ENTRIES`]. A
    /// failure is a warning: the next run lists again.
    pub fn save(&self) {
        let mut state = self.state();
        if !state.dirty {
            return;
        }
        state.dirty = false;
        let mut binaries: HashMap<PathBuf, Entry> = state.used.clone();
        for (path, entry) in &state.loaded {
            if binaries.len() >= MAX_ENTRIES {
                break;
            }
            if Identity::of(path) == Some(entry.id) {
                binaries.entry(path.clone()).or_insert_with(|| entry.clone());
            }
        }
        drop(state);
        // Only a run that used more than the bound itself can be past it here.
        let binaries = binaries.into_iter().take(MAX_ENTRIES).collect();
        let file = File { version: VERSION, binaries };
        let result = serde_json::to_vec(&file)
            .map_err(std::io::Error::other)
            .and_then(|json| crate::files::write_atomically(&self.path, &json));
        if let Err(e) = result {
            eprintln!("warning: could not write the test-list cache {}: {e}", self.path.display());
        }
    }
}

/// The entries of the cache file at `path`, if it is one of this version.
fn read(path: &Path) -> Option<HashMap<PathBuf, Entry>> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return None;
    }
    let file: File = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (file.version == VERSION).then_some(file.binaries)
}
