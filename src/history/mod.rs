//! Remembers what earlier runs measured, so that the scheduler can start the longest
//! tests first and `cargo tempo history` can show where the time goes.
//!
//! The history is one JSON file, `<store.dir>/history.json`, shared by every profile.
//! For each test (keyed by binary id and test name, with its package) it keeps the
//! last [`MAX_RUNS`] final results: duration, CPU time, outcome and attempts. Writes
//! go through a temporary file and a rename; a file that cannot be read is reported
//! and replaced, never fatal.
//!
//! Runs in one workspace may overlap (two terminals, or CI jobs sharing a cache), so a
//! run does not write back what it loaded: at its end it takes an exclusive lock on
//! `history.json.lock`, reads the file again, merges its records into what is there
//! (see [`History::merge`]) and writes that. A file of a newer format, written by a
//! newer tempo, is left as it is.
//!
//! A sharded run (`--partition`) must not change the durations that the other shards
//! of its split partition by, or shards run one after another in one workspace would
//! each split a different list and lose tests. So its records wait in
//! [`History::pending`], tagged with the shard and the [`History::generation`] it
//! split from, and partitioning reads only the settled records in [`History::tests`].
//! Once every shard of a split has recorded (in one file, or after `history-merge`),
//! or a run without `--partition` ends, the pending records are settled and the
//! generation advances.

pub mod merge;
pub mod pending;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::files::WriteError;
use pending::PendingShard;

/// How many runs are kept per test.
pub const MAX_RUNS: usize = 10;
/// Tests not seen for this long are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60 * 24 * 60);
/// The most tests the file holds; the least recently seen go first.
pub const MAX_TESTS: usize = 100_000;
/// The file format's version; a file of another version is ignored, and one of a
/// newer version is never overwritten.
pub const VERSION: u32 = 1;
/// Who writes the file, recorded in it so that a warning about a newer file can say
/// which tempo wrote it.
pub const WRITER: &str = concat!("tempo ", env!("CARGO_PKG_VERSION"));
/// How many run summaries (CPU accounting per run) the file keeps.
pub const MAX_RUN_SUMMARIES: usize = 100;
/// The longest duration or CPU time a record may hold, a year in microseconds. No
/// run lasts that long, so a file that says otherwise is corrupt; and with the bound
/// the durations of even a billion tests add up without overflow (a `Duration`
/// holds 2^64 seconds), which the scheduler and the partitioner rely on.
pub const MAX_RECORDED_US: u64 = 365 * 24 * 60 * 60 * 1_000_000;

/// One run's outcome and CPU accounting, so that utilization can be followed over time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// When the run started, in seconds since the Unix epoch.
    pub at: u64,
    /// The profile it used.
    pub profile: String,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Wall time, CPU time, utilization, busy cores and idle time per slot.
    #[serde(flatten)]
    pub accounting: Accounting,
}

/// One final result of one test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When the run started, in seconds since the Unix epoch.
    pub at: u64,
    /// How long the final attempt ran, in microseconds.
    #[serde(deserialize_with = "recorded_us")]
    pub duration_us: u64,
    /// Its user plus system CPU time, in microseconds.
    #[serde(deserialize_with = "recorded_us")]
    pub cpu_us: u64,
    /// `pass`, `flaky`, `fail`, `timeout`, `leak-fail` or `exec-fail`.
    pub outcome: String,
    /// How many attempts it took.
    pub attempts: u32,
    /// Whether the final attempt ran in a batch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub batched: bool,
    /// The CPU pressure it ran under: the machine's runnable threads per core,
    /// averaged over the attempt (absent when it was not sampled, and from files
    /// written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "pressure")]
    pub pressure: Option<f64>,
    /// How many bytes it printed to stdout and stderr together, when it ran in a
    /// process of its own (a batch's passing tests print into libtest's capture).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// Which run it was, a digest of the run's id: two runs that start within one
    /// second can measure one test alike to the microsecond (a tiny test in a batch),
    /// and a merge keeps each distinct record once, so without it the second was lost
    /// (absent from files written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
}

/// The largest pressure a record may hold: far beyond any machine that still runs.
pub const MAX_PRESSURE: f64 = 10_000.0;

/// Reads a pressure, refusing a negative, non-finite or absurd one.
fn pressure<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let p = Option::<f64>::deserialize(d)?;
    match p {
        Some(p) if !(0.0..=MAX_PRESSURE).contains(&p) => {
            Err(serde::de::Error::custom(format!("a recorded CPU pressure of {p} is outside 0 to {MAX_PRESSURE}")))
        }
        _ => Ok(p),
    }
}

/// Reads a duration in microseconds, refusing one beyond [`MAX_RECORDED_US`].
fn recorded_us<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let us = u64::deserialize(d)?;
    if us > MAX_RECORDED_US {
        return Err(serde::de::Error::custom(format!(
            "a recorded time of {us} µs is longer than a year, which no run lasts"
        )));
    }
    Ok(us)
}

impl RunRecord {
    /// A passing or failing record of one attempt with nothing else known (no
    /// pressure, output or run), for the tests of what reads the history.
    #[cfg(test)]
    pub fn plain(at: u64, duration_us: u64, cpu_us: u64, outcome: &str) -> RunRecord {
        RunRecord {
            at,
            duration_us,
            cpu_us,
            outcome: outcome.into(),
            attempts: 1,
            batched: false,
            pressure: None,
            output_bytes: None,
            run: None,
        }
    }

    /// The final attempt's duration.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.duration_us)
    }

    /// Whether the test passed (on any attempt).
    pub fn passed(&self) -> bool {
        self.outcome == "pass" || self.outcome == "flaky"
    }
}

/// What is known about one test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestHistory {
    /// The package the test belongs to.
    pub package: String,
    /// Its last runs, oldest first.
    pub runs: VecDeque<RunRecord>,
    /// It failed in a batch and passed alone: it needs a process of its own, and is
    /// never batched again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolation_sensitive: bool,
    /// Its wall time exploded when it ran beside others (see `plan::admission`):
    /// adaptive concurrency never probes it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub collapses: bool,
    /// It printed so much in a run of its own that it runs under libtest's capture
    /// from then on (see `plan::LOUD_FROM`); its later runs, captured, cannot show it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub loud: bool,
    /// It is a `#[should_panic]` test (libtest said so when it ran in a process of its
    /// own): there, its time includes symbolising the panic's backtrace when
    /// `RUST_BACKTRACE` is set, which a batch pays once (see `plan::may_batch`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub should_panic: bool,
}

impl TestHistory {
    /// The expected duration: the median of the recorded runs.
    pub fn expected(&self) -> Option<Duration> {
        let mut d: Vec<u64> = self.runs.iter().map(|r| r.duration_us).collect();
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        Some(Duration::from_micros(d[d.len() / 2]))
    }

    /// CPU time per wall time over the recorded runs: near 0 for a test that waits,
    /// near 1 for one that keeps a core busy, above 1 for a multi-threaded one.
    pub fn cpu_ratio(&self) -> Option<f64> {
        // Summed wide: a file may hold any number of runs of a test.
        let wall: u128 = self.runs.iter().map(|r| u128::from(r.duration_us)).sum();
        let cpu: u128 = self.runs.iter().map(|r| u128::from(r.cpu_us)).sum();
        (wall > 0).then(|| cpu as f64 / wall as f64)
    }

    /// The CPU appetite the scheduler plans with: the highest CPU-to-wall ratio of
    /// the recorded runs long enough to measure (1 ms). The highest, because a test
    /// that shared its core with others ran longer for the same CPU time and so shows
    /// a lower ratio than it needs; taking the lowest would feed on itself.
    pub fn cpu_appetite(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.duration_us >= 1000)
            .map(|r| r.cpu_us as f64 / r.duration_us as f64)
            .fold(None, |max, r| Some(max.map_or(r, |m: f64| m.max(r))))
    }

    /// Whether the outcome changed between recorded runs.
    pub fn is_flaky(&self) -> bool {
        let passes = self.runs.iter().filter(|r| r.passed()).count();
        self.runs.iter().any(|r| r.outcome == "flaky") || (passes > 0 && passes < self.runs.len())
    }

    /// Whether the most recent run failed.
    pub fn failed_last(&self) -> bool {
        self.runs.back().is_some_and(|r| !r.passed())
    }
}

/// The whole history file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The format version.
    pub version: u32,
    /// The tempo that wrote the file (absent from files written before it was
    /// recorded, hence the default).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub writer: String,
    /// Binary id → test name → history.
    pub tests: BTreeMap<String, BTreeMap<String, TestHistory>>,
    /// The last runs' summaries, oldest first (absent from files written before they
    /// were recorded, hence the default).
    #[serde(default)]
    pub runs: VecDeque<RunSummary>,
    /// Counts the times the settled records changed: the basis a sharded run's
    /// records are tagged with (absent from older files, hence the default).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u64,
    /// Records of sharded runs that are not settled yet, one entry per shard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingShard>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How much of the machine a run used, in seconds and ratios: what the run's `RunStats` knows
/// about CPU, with serde-friendly names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Accounting {
    /// Wall time of the run, in seconds.
    pub wall_s: f64,
    /// User plus system CPU time of every test attempt, in seconds.
    pub cpu_s: f64,
    /// The cores the run had.
    pub cores: usize,
    /// The slots the run had.
    pub slots: usize,
    /// CPU ÷ (wall × cores), 0 to 1.
    pub cpu_utilization: f64,
    /// CPU ÷ wall: the average number of busy cores.
    pub busy_cores: f64,
    /// Per slot, the seconds it ran no test (wall − busy).
    pub slot_idle_s: Vec<f64>,
}

/// Why a history file could not be read.
enum ReadError {
    Io(io::Error),
    Corrupt(serde_json::Error),
    /// A file of another format version, and the tempo that wrote it, if it says.
    Version(u32, String),
}

/// The first fields of a history file of any version, read before the rest so that
/// a newer format is recognised as such rather than as a corrupt file.
#[derive(Deserialize)]
struct Header {
    version: u32,
    #[serde(default)]
    writer: String,
}

/// The warning for a history of a newer format: what this run does about it.
fn newer_warning(path: &Path, version: u32, writer: &str, what: &str) -> String {
    let writer = if writer.is_empty() { "a newer tempo" } else { writer };
    format!(
        "{what} the history {}: {writer} wrote it in format version {version}, and this {WRITER} knows only version {VERSION}; it is left as it is",
        path.display()
    )
}

/// The lock file beside the history, which runs lock while they update it.
pub fn lock_path(history: &Path) -> PathBuf {
    let mut name = history.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    history.with_file_name(name)
}

/// Takes the history's lock, waiting for whoever holds it. The lock goes with the
/// returned file. The lock file is opened without following a symlink planted at its
/// name, and never written.
fn lock(history: &Path) -> Result<std::fs::File, WriteError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_path(history);
    let err = |source| WriteError::new("history lock", &path, source);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(err)?;
    // flock(2) locks belong to the open file description, so two runs (or two
    // threads that opened the file separately) exclude each other.
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| err(e.into()))?;
    Ok(file)
}

/// The history's file under a store directory.
pub fn path(store_dir: &Path) -> PathBuf {
    store_dir.join("history.json")
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl History {
    /// Reads the history. A missing file is an empty history; an unreadable, corrupt
    /// or foreign one is an empty history plus a warning that says why.
    pub fn load(path: &Path) -> (History, Option<String>) {
        match History::read(path) {
            Ok(h) => (h, None),
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => (History::default(), None),
            Err(ReadError::Io(e)) => {
                (History::default(), Some(format!("could not read the history {}: {e}", path.display())))
            }
            Err(ReadError::Version(v, writer)) if v > VERSION => {
                (History::default(), Some(newer_warning(path, v, &writer, "ignoring")))
            }
            Err(ReadError::Version(v, _)) => (
                History::default(),
                Some(format!("ignoring the history {}: it has version {v}, not {VERSION}", path.display())),
            ),
            Err(ReadError::Corrupt(e)) => (
                History::default(),
                Some(format!("ignoring the history {}, which is corrupt ({e}); it will be rewritten", path.display())),
            ),
        }
    }

    /// Reads a history file of this version.
    fn read(path: &Path) -> Result<History, ReadError> {
        let text = std::fs::read(path).map_err(ReadError::Io)?;
        let header: Header = serde_json::from_slice(&text).map_err(ReadError::Corrupt)?;
        if header.version != VERSION {
            return Err(ReadError::Version(header.version, header.writer));
        }
        serde_json::from_slice(&text).map_err(ReadError::Corrupt)
    }

    /// Writes the history atomically, after trimming it to its bounds.
    pub fn save(&mut self, path: &Path) -> io::Result<()> {
        self.version = VERSION;
        WRITER.clone_into(&mut self.writer);
        self.prune(now_secs());
        let json = serde_json::to_vec(self).map_err(io::Error::other)?;
        crate::files::write_atomically(path, &json)
    }

    /// Adds a run's history (what it loaded plus what it recorded) to the file at
    /// `path`, holding the file's lock from reading it to writing it, so that runs
    /// which overlapped keep each other's records. A file that cannot be read is
    /// replaced, as [`History::load`] warned at the start; one of a newer format is
    /// left as it is, and the warning that says so is returned.
    pub fn save_merged(self, path: &Path) -> Result<Option<String>, WriteError> {
        let _lock = lock(path)?;
        let mut merged = match History::read(path) {
            Ok(mut on_disk) => {
                on_disk.merge(self);
                on_disk
            }
            Err(ReadError::Version(v, writer)) if v > VERSION => {
                return Ok(Some(newer_warning(path, v, &writer, "not updating")));
            }
            Err(_) => self,
        };
        merged.save(path).map_err(|source| WriteError::new("history", path, source))?;
        Ok(None)
    }

    /// The history of one test.
    pub fn get(&self, binary_id: &str, name: &str) -> Option<&TestHistory> {
        self.tests.get(binary_id)?.get(name)
    }

    /// Adds one final result.
    pub fn record(&mut self, binary_id: &str, name: &str, package: &str, record: RunRecord) {
        let entry = self.tests.entry(binary_id.to_owned()).or_default().entry(name.to_owned()).or_default();
        entry.package = package.to_owned();
        entry.runs.push_back(record);
        while entry.runs.len() > MAX_RUNS {
            entry.runs.pop_front();
        }
    }

    /// Adds one run's summary, keeping the last [`MAX_RUN_SUMMARIES`].
    pub fn record_run(&mut self, summary: RunSummary) {
        self.runs.push_back(summary);
        while self.runs.len() > MAX_RUN_SUMMARIES {
            self.runs.pop_front();
        }
    }

    /// Records that a test needs a process of its own.
    pub fn mark_isolation_sensitive(&mut self, binary_id: &str, name: &str) {
        if let Some(h) = self.tests.get_mut(binary_id).and_then(|t| t.get_mut(name)) {
            h.isolation_sensitive = true;
        }
    }

    /// What is known about one test, to mark what a run learned of it.
    pub fn get_mut(&mut self, binary_id: &str, name: &str) -> Option<&mut TestHistory> {
        self.tests.get_mut(binary_id).and_then(|t| t.get_mut(name))
    }

    /// Drops tests not seen within [`MAX_AGE`], then the least recently seen beyond
    /// [`MAX_TESTS`].
    pub fn prune(&mut self, now: u64) {
        let oldest = now.saturating_sub(MAX_AGE.as_secs());
        for tests in self.tests.values_mut() {
            tests.retain(|_, h| h.runs.back().is_some_and(|r| r.at >= oldest));
        }
        self.tests.retain(|_, tests| !tests.is_empty());
        // Pending records age the same way, so that shards of a split that never
        // completes do not pile up. A shard that recorded no test (it had none, or was
        // interrupted first) still counts towards its split, so it stays.
        self.pending.retain_mut(|shard| {
            if shard.tests.is_empty() {
                return true;
            }
            for tests in shard.tests.values_mut() {
                tests.retain(|_, h| h.runs.back().is_some_and(|r| r.at >= oldest));
            }
            shard.tests.retain(|_, tests| !tests.is_empty());
            !shard.tests.is_empty()
        });
        let count: usize = self.tests.values().map(BTreeMap::len).sum();
        if count > MAX_TESTS {
            let mut seen: Vec<u64> =
                self.tests.values().flat_map(|t| t.values().filter_map(|h| h.runs.back().map(|r| r.at))).collect();
            seen.sort_unstable();
            let cutoff = seen[count - MAX_TESTS];
            for tests in self.tests.values_mut() {
                tests.retain(|_, h| h.runs.back().is_some_and(|r| r.at >= cutoff));
            }
        }
    }

    /// Expected durations for the scheduler: a test's own median when it has one,
    /// else the mean of its binary's tests, else of its package's, else of every test.
    pub fn estimator(&self) -> Estimator<'_> {
        let mut by_binary: HashMap<&str, (Duration, u32)> = HashMap::new();
        let mut by_package: HashMap<&str, (Duration, u32)> = HashMap::new();
        let mut all = (Duration::ZERO, 0u32);
        for (binary, tests) in &self.tests {
            for h in tests.values() {
                let Some(d) = h.expected() else { continue };
                for (sum, n) in
                    [by_binary.entry(binary).or_default(), by_package.entry(&h.package).or_default(), &mut all]
                {
                    *sum += d;
                    *n += 1;
                }
            }
        }
        let mean = |(sum, n): (Duration, u32)| (n > 0).then(|| sum / n);
        Estimator {
            history: self,
            by_binary: by_binary.into_iter().filter_map(|(k, v)| Some((k, mean(v)?))).collect(),
            by_package: by_package.into_iter().filter_map(|(k, v)| Some((k, mean(v)?))).collect(),
            all: mean(all),
        }
    }
}

/// Estimates how long a test will take.
pub struct Estimator<'a> {
    history: &'a History,
    by_binary: HashMap<&'a str, Duration>,
    by_package: HashMap<&'a str, Duration>,
    all: Option<Duration>,
}

impl Estimator<'_> {
    /// The expected duration, and whether it comes from the test's own history.
    pub fn estimate(&self, binary_id: &str, package: &str, name: &str) -> (Duration, bool) {
        if let Some(d) = self.history.get(binary_id, name).and_then(TestHistory::expected) {
            return (d, true);
        }
        let guess = self
            .by_binary
            .get(binary_id)
            .or_else(|| self.by_package.get(package))
            .copied()
            .or(self.all)
            .unwrap_or(Duration::ZERO);
        (guess, false)
    }
}

#[cfg(test)]
mod tests;
