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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::files::WriteError;

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

/// How much of the machine a run used, in seconds and ratios: what [`RunStats`] knows
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

/// What one shard of a split recorded, kept apart until its split is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingShard {
    /// The [`History::generation`] the shard split from.
    pub basis: u64,
    /// The partition kind: `count`, `hash`, `slice` or `duration`.
    pub kind: String,
    /// Which shard, from 1 to `total`.
    pub shard: u64,
    /// How many shards the split has.
    pub total: u64,
    /// Binary id → test name → what the shard recorded.
    pub tests: BTreeMap<String, BTreeMap<String, TestHistory>>,
}

impl PendingShard {
    /// Whether `other` is a record of the same shard of the same split.
    fn same_shard(&self, other: &PendingShard) -> bool {
        (self.basis, &self.kind, self.shard, self.total) == (other.basis, &other.kind, other.shard, other.total)
    }
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

    /// Adds what one shard of a split recorded (`shard.tests`) as pending, tagged
    /// with the current generation, then settles whatever is complete.
    pub fn record_shard(
        &mut self,
        partition: crate::shard::Partition,
        tests: BTreeMap<String, BTreeMap<String, TestHistory>>,
    ) {
        let shard = PendingShard {
            basis: self.generation,
            kind: partition.kind.as_str().to_owned(),
            shard: partition.shard,
            total: partition.total,
            tests,
        };
        self.add_pending(shard);
        self.settle_complete();
    }

    /// Adds a pending shard; a shard recorded before (a rerun, or the same shard in
    /// another copy) takes the union of both records.
    fn add_pending(&mut self, shard: PendingShard) {
        match self.pending.iter_mut().find(|p| p.same_shard(&shard)) {
            Some(mine) => merge_tests(&mut mine.tests, shard.tests),
            None => self.pending.push(shard),
        }
    }

    /// Settles every pending record, as a run without `--partition` does when it
    /// ends (it ran every test, so no split is waiting on the old durations).
    pub fn settle_all(&mut self) {
        for shard in std::mem::take(&mut self.pending) {
            merge_tests(&mut self.tests, shard.tests);
        }
        self.generation += 1;
    }

    /// Settles the pending records once a split is complete: when, for the current
    /// generation, one kind and shard count has a record of every shard from 1 to N.
    /// Records of an older generation (possible only after a merge, when another copy
    /// already settled their split) are settled too, without a new generation.
    fn settle_complete(&mut self) {
        let current = self.generation;
        let complete = self.pending.iter().filter(|p| p.basis == current).any(|p| {
            (1..=p.total).all(|k| {
                self.pending
                    .iter()
                    .any(|q| q.basis == current && q.kind == p.kind && q.total == p.total && q.shard == k)
            })
        });
        if complete {
            self.settle_all();
            return;
        }
        let (old, keep): (Vec<PendingShard>, Vec<PendingShard>) =
            std::mem::take(&mut self.pending).into_iter().partition(|p| p.basis < current);
        self.pending = keep;
        for shard in old {
            merge_tests(&mut self.tests, shard.tests);
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

    /// Adds another history's records to this one: the histories of CI shards that
    /// started from one history and each ran part of the tests. Each test keeps the
    /// union of both sides' runs (a run both sides hold, inherited from the common
    /// history, counts once), in time order, trimmed to the last [`MAX_RUNS`]; it is
    /// isolation-sensitive if either side says so. Run summaries merge the same way.
    ///
    /// Pending shard records merge too (the same shard's records are united), under
    /// the later of the two generations, and a split that the merge completes is
    /// settled: merging the histories of every shard of a split settles it.
    pub fn merge(&mut self, other: History) {
        merge_tests(&mut self.tests, other.tests);
        self.runs = union_by_time(std::mem::take(&mut self.runs), other.runs, |r| r.at, MAX_RUN_SUMMARIES);
        self.generation = self.generation.max(other.generation);
        for shard in other.pending {
            self.add_pending(shard);
        }
        self.settle_complete();
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

/// `cargo tempo history-merge OUT IN...`: merges the inputs (see [`History::merge`])
/// and writes the result atomically. Every input must be a readable history of this
/// version: a merge that silently dropped a shard would skew the next split.
pub fn merge_files(output: &Path, inputs: &[PathBuf]) -> crate::error::Result<i32> {
    let mut merged = History::default();
    for path in inputs {
        let history = History::read(path).map_err(|e| crate::error::Error::HistoryInput {
            path: path.clone(),
            reason: match e {
                ReadError::Io(e) => e.to_string(),
                ReadError::Corrupt(e) => e.to_string(),
                ReadError::Version(v, _) => format!("it has version {v}, and this tempo reads version {VERSION}"),
            },
        })?;
        merged.merge(history);
    }
    merged.save(output).map_err(|source| crate::error::Error::WriteFile { path: output.to_owned(), source })?;
    let tests: usize = merged.tests.values().map(BTreeMap::len).sum();
    eprintln!(
        "merged {} histories into {}: {tests} tests, {} run summaries",
        inputs.len(),
        output.display(),
        merged.runs.len()
    );
    Ok(crate::error::exit_code::OK)
}

/// Adds `theirs` to `mine`: each test keeps the union of both sides' runs.
fn merge_tests(
    mine: &mut BTreeMap<String, BTreeMap<String, TestHistory>>,
    theirs: BTreeMap<String, BTreeMap<String, TestHistory>>,
) {
    for (binary, tests) in theirs {
        let mine = mine.entry(binary).or_default();
        for (name, theirs) in tests {
            let Some(entry) = mine.get_mut(&name) else {
                mine.insert(name, theirs);
                continue;
            };
            let newer = theirs.runs.back().map(|r| r.at) > entry.runs.back().map(|r| r.at);
            if newer || entry.package.is_empty() {
                entry.package = theirs.package;
            }
            entry.isolation_sensitive |= theirs.isolation_sensitive;
            entry.runs = union_by_time(std::mem::take(&mut entry.runs), theirs.runs, |r| r.at, MAX_RUNS);
        }
    }
}

/// Both sides' items in time order (stable, so that items of one time keep their
/// order), each distinct item once, the last `keep` of them.
///
/// Each side is first cut to its own last `keep` in time order, which changes
/// nothing for the sides tempo writes (never longer than `keep`) and bounds the
/// search for duplicates: a file read from disk may hold any number of items, and
/// comparing each with all the others took quadratic time.
fn union_by_time<T: PartialEq>(
    mine: VecDeque<T>,
    theirs: VecDeque<T>,
    at: impl Fn(&T) -> u64,
    keep: usize,
) -> VecDeque<T> {
    let last = |side: VecDeque<T>| {
        let mut side: Vec<T> = side.into();
        side.sort_by_key(&at);
        let drop = side.len().saturating_sub(keep);
        side.into_iter().skip(drop)
    };
    let mut all: Vec<T> = last(mine).collect();
    for item in last(theirs) {
        if !all.contains(&item) {
            all.push(item);
        }
    }
    all.sort_by_key(&at);
    let drop = all.len().saturating_sub(keep);
    all.into_iter().skip(drop).collect()
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

/// Tests of the reader against hostile files: property tests over arbitrary and
/// history-shaped input, and the regressions they found.
#[cfg(test)]
mod fuzz_tests {
    use super::*;

    /// Writes `bytes` as a history file and loads it. Each test thread reuses one
    /// directory, since the property tests load hundreds of files.
    fn load_bytes(bytes: &[u8]) -> (History, Option<String>) {
        thread_local!(static DIR: tempfile::TempDir = tempfile::tempdir().unwrap());
        let file = DIR.with(|dir| dir.path().join("history.json"));
        std::fs::write(&file, bytes).unwrap();
        History::load(&file)
    }

    /// Regression (found by fuzzing): durations near `u64::MAX` loaded as they were,
    /// and adding them up overflowed (a panic in a debug build, a wrapped total in
    /// a release one). Such a file is corrupt now, and the sums are done wide.
    #[test]
    fn impossible_durations_make_a_history_corrupt_and_sums_do_not_overflow() {
        let run = |us: u64| format!(r#"{{"at":1,"duration_us":{us},"cpu_us":{us},"outcome":"pass","attempts":1}}"#);
        let file = |us: u64| {
            format!(
                r#"{{"version":1,"tests":{{"b":{{"t":{{"package":"b","runs":[{}]}}}}}}}}"#,
                [run(us), run(us)].join(",")
            )
        };
        let (h, warning) = load_bytes(file(MAX_RECORDED_US).as_bytes());
        assert!(warning.is_none(), "{warning:?}");
        assert_eq!(h.get("b", "t").unwrap().cpu_ratio(), Some(1.0));
        let (h, warning) = load_bytes(file(u64::MAX).as_bytes());
        assert_eq!(h, History::default());
        assert!(warning.unwrap().contains("longer than a year"));

        // Built in memory, where no reader checked them, the sums still hold.
        let mut h = History::default();
        for at in 0..4 {
            h.record(
                "b",
                "t",
                "b",
                RunRecord {
                    duration_us: u64::MAX,
                    cpu_us: u64::MAX,
                    ..RunRecord { at, duration_us: 0, cpu_us: 0, outcome: "pass".into(), attempts: 1, batched: false }
                },
            );
        }
        assert_eq!(h.get("b", "t").unwrap().cpu_ratio(), Some(1.0));
    }

    /// Regression (found by fuzzing): merging compared every run of a test with
    /// every other, so a history file holding a test with many runs (tempo writes
    /// at most ten) took quadratic time to merge. Counted in comparisons, not time.
    #[test]
    fn merging_long_run_lists_takes_few_comparisons() {
        use std::cell::Cell;
        thread_local!(static COMPARISONS: Cell<u64> = const { Cell::new(0) });
        #[derive(Debug)]
        struct Item(u64);
        impl PartialEq for Item {
            fn eq(&self, other: &Item) -> bool {
                COMPARISONS.with(|c| c.set(c.get() + 1));
                self.0 == other.0
            }
        }
        let side = |start: u64| (start..start + 20_000).map(Item).collect::<VecDeque<_>>();
        let merged = union_by_time(side(0), side(10_000), |i| i.0, MAX_RUNS);
        let at: Vec<u64> = merged.iter().map(|i| i.0).collect();
        assert_eq!(at, (29_990..30_000).collect::<Vec<_>>());
        let comparisons = COMPARISONS.with(Cell::get);
        assert!(comparisons <= (2 * MAX_RUNS * MAX_RUNS) as u64, "{comparisons} comparisons");
    }

    /// serde_json stops at 128 levels of nesting, so a deeply nested file is
    /// corrupt rather than a stack overflow; an unknown field it skips without
    /// recursing, however deep.
    #[test]
    fn a_deeply_nested_history_is_corrupt_not_a_stack_overflow() {
        let deep = 100_000;
        for text in [
            format!("{}{}", "[".repeat(deep), "]".repeat(deep)),
            format!(r#"{{"version":1,"tests":{}{}}}"#, r#"{"a":"#.repeat(deep), "}".repeat(deep)),
            "{\"a\":".repeat(deep),
        ] {
            let (h, warning) = load_bytes(text.as_bytes());
            assert_eq!(h, History::default());
            assert!(warning.unwrap().contains("corrupt"));
        }
        let unknown = format!(r#"{{"version":1,"tests":{{}},"extra":{}{}}}"#, "[".repeat(deep), "]".repeat(deep));
        let (h, warning) = load_bytes(unknown.as_bytes());
        assert!(warning.is_none() && h.tests.is_empty(), "{warning:?}");
    }

    /// Property tests: no file makes the history reader panic, and whatever it
    /// reads can be estimated from, merged, pruned, printed and saved.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::Config;
        use serde_json::{Value, json};

        fn config() -> Config {
            Config { cases: 256, failure_persistence: None, ..Config::default() }
        }

        /// Uses a history the way tempo does, checking that nothing panics.
        fn exercise(h: &History) {
            let estimator = h.estimator();
            for (binary, tests) in &h.tests {
                for (name, t) in tests {
                    let _ = estimator.estimate(binary, &t.package, name);
                    let _ = (t.expected(), t.cpu_ratio(), t.cpu_appetite(), t.is_flaky(), t.failed_last());
                }
            }
            let _ = estimator.estimate("?", "?", "?");
            let mut merged = h.clone();
            merged.merge(h.clone());
            merged.merge(History::default());
            let mut out = Vec::new();
            crate::report::history_table::write_history(&mut out, &merged, Path::new("h.json"), 5).unwrap();
            merged.prune(now_secs());
            merged.prune(u64::MAX);
            // What was read is written back as it was (save() is this plus a prune),
            // but for the last digit of a float: serde_json parses floats fast
            // rather than exactly.
            let json = serde_json::to_vec(h).unwrap();
            let back: History = serde_json::from_slice(&json).unwrap();
            assert_eq!((&back.tests, back.runs.len()), (&h.tests, h.runs.len()));
        }

        /// A number at an edge: 0, the largest of each width, negative, fractional.
        fn number() -> impl Strategy<Value = Value> {
            const EDGES: &[u64] = &[0, 1, MAX_RECORDED_US, MAX_RECORDED_US + 1, u32::MAX as u64 + 1, u64::MAX];
            prop_oneof![
                prop::sample::select(EDGES).prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                prop::sample::select(&[-0.0, 0.5, -1.5, 1e308, -1e308, 5e-324][..]).prop_map(Value::from),
            ]
        }

        /// A JSON value of any shape, with the history's keys and numbers at their
        /// edges, and strings that only look like numbers.
        fn value() -> impl Strategy<Value = Value> {
            const KEYS: &[&str] = &[
                "version",
                "tests",
                "runs",
                "package",
                "at",
                "duration_us",
                "cpu_us",
                "outcome",
                "attempts",
                "batched",
                "isolation_sensitive",
                "profile",
                "passed",
                "failed",
                "wall_s",
                "cpu_s",
                "cores",
                "slots",
                "cpu_utilization",
                "busy_cores",
                "slot_idle_s",
                "writer",
                "a",
                "t",
            ];
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                number(),
                prop::sample::select(&["NaN", "inf", "-1", "1e999", "pass", "flaky", ""][..]).prop_map(Value::from),
                any::<String>().prop_map(Value::from),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(prop::sample::select(KEYS).prop_map(str::to_owned), inner, 0..6)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// A number that is usually plausible for `at`, a duration or a count.
        fn plausible() -> impl Strategy<Value = Value> {
            prop_oneof![12 => (0..2_000_000_000u64).prop_map(Value::from), 1 => number()]
        }

        /// A run record, well formed but for its numbers, and sometimes a field of
        /// another type.
        fn run() -> impl Strategy<Value = Value> {
            let outcome = prop::sample::select(&["pass", "flaky", "fail", "?"][..]);
            let odd = prop_oneof![12 => Just(Value::Null), 1 => value()];
            (plausible(), plausible(), plausible(), outcome, plausible(), odd)
                .prop_map(|(at, duration, cpu, outcome, attempts, odd)| {
                    let mut run = json!({"at": at, "duration_us": duration, "cpu_us": cpu, "outcome": outcome, "attempts": attempts});
                    if let Value::Object(map) = &odd
                        && let Some((key, value)) = map.iter().next()
                    {
                        run[key] = value.clone();
                    }
                    run
                })
        }

        /// A file in the history's shape: tests with runs, and run summaries.
        fn document() -> impl Strategy<Value = Value> {
            let test = (prop::sample::select(&["a", "b", ""][..]), prop::collection::vec(run(), 0..12), any::<bool>())
                .prop_map(|(package, runs, sensitive)| json!({"package": package, "runs": runs, "isolation_sensitive": sensitive}));
            let tests =
                prop::collection::btree_map("[ab]{1,2}", prop::collection::btree_map("[a-c:]{1,4}", test, 0..4), 0..4);
            let summary = (plausible(), plausible(), plausible(), prop::collection::vec(number(), 0..4)).prop_map(|(at, n, f, idle)| {
                json!({"at": at, "profile": "default", "passed": n, "failed": 0, "wall_s": f, "cpu_s": f, "cores": 2,
                       "slots": n, "cpu_utilization": 0.5, "busy_cores": 1.0, "slot_idle_s": idle})
            });
            (prop_oneof![12 => Just(json!(1)), 1 => number()], tests, prop::collection::vec(summary, 0..3))
                .prop_map(|(version, tests, runs)| json!({"version": version, "tests": tests, "runs": runs}))
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_bytes_are_a_history_or_a_warning(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
                let (h, warning) = load_bytes(&bytes);
                prop_assert!(warning.is_some() || h == History::default());
            }

            #[test]
            fn any_json_is_a_history_or_a_warning(value in value()) {
                let (h, _) = load_bytes(value.to_string().as_bytes());
                exercise(&h);
            }

            #[test]
            fn documents_in_the_historys_shape_load_and_can_be_used(doc in document()) {
                let (h, warning) = load_bytes(doc.to_string().as_bytes());
                if warning.is_none() {
                    prop_assert_eq!(h.version, VERSION);
                }
                exercise(&h);
            }

        }

        proptest! {
            #![proptest_config(Config { cases: 128, ..config() })]

            /// Merging keeps every test of both sides, each with no more runs than
            /// the longer side or [`MAX_RUNS`], and merging a side again adds none.
            #[test]
            fn merging_keeps_every_test_and_bounds_its_runs(a in document(), b in document()) {
                let (a, _) = load_bytes(a.to_string().as_bytes());
                let (b, _) = load_bytes(b.to_string().as_bytes());
                let mut ab = History::default();
                ab.merge(a.clone());
                ab.merge(b.clone());
                for side in [&a, &b] {
                    for (binary, tests) in &side.tests {
                        for (name, t) in tests {
                            let merged = ab.get(binary, name).expect("every test is kept");
                            let other = [&a, &b].map(|h| h.get(binary, name).map_or(0, |t| t.runs.len()));
                            prop_assert!(merged.runs.len() <= MAX_RUNS.max(other[0]).max(other[1]));
                            prop_assert!(merged.runs.len() >= t.runs.len().min(MAX_RUNS));
                        }
                    }
                }
                let count = |h: &History| h.tests.values().map(BTreeMap::len).sum::<usize>();
                let before = count(&ab);
                ab.merge(a);
                prop_assert_eq!(count(&ab), before);
            }
        }

        /// The shaped generator reaches histories that load, so that the uses above
        /// are exercised, and ones that do not.
        #[test]
        fn the_generator_reaches_both_outcomes() {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut loaded, mut refused) = (0, 0);
            for _ in 0..200 {
                let doc = document().new_tree(&mut runner).expect("a value").current();
                match load_bytes(doc.to_string().as_bytes()) {
                    (h, None) if !h.tests.is_empty() => loaded += 1,
                    (_, Some(_)) => refused += 1,
                    _ => {}
                }
            }
            assert!(loaded > 20 && refused > 20, "{loaded} loaded, {refused} refused");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: u64, ms: u64, outcome: &str) -> RunRecord {
        RunRecord { at, duration_us: ms * 1000, cpu_us: ms * 500, outcome: outcome.into(), attempts: 1, batched: false }
    }

    #[test]
    fn keeps_the_last_runs_and_takes_their_median() {
        let mut h = History::default();
        for (i, ms) in [5, 100, 7, 9, 8, 6, 1000, 7, 8, 9, 10, 11].iter().enumerate() {
            h.record("pkg", "t", "pkg", record(i as u64, *ms, "pass"));
        }
        let t = h.get("pkg", "t").unwrap();
        assert_eq!(t.runs.len(), MAX_RUNS);
        assert_eq!(t.runs.front().unwrap().duration_us, 7_000, "the two oldest runs were dropped");
        assert_eq!(t.expected(), Some(Duration::from_millis(9)), "the median ignores the 1 s outlier");
        assert_eq!(t.cpu_ratio(), Some(0.5));
    }

    #[test]
    fn merging_shards_keeps_the_common_runs_once_and_each_shards_new_runs() {
        let mut base = History::default();
        for at in 1..=9 {
            base.record("a", "t1", "a", record(at, 10, "pass"));
            base.record("a", "t2", "a", record(at, 20, "pass"));
        }
        // Shard 1 ran t1 (and failed it), shard 2 ran t2 and a new test.
        let (mut shard1, mut shard2) = (base.clone(), base.clone());
        shard1.record("a", "t1", "a", record(20, 11, "fail"));
        shard1.record("a", "t1", "a", record(30, 12, "pass"));
        shard2.record("a", "t2", "a", record(20, 21, "pass"));
        shard2.record("b", "new", "b", record(20, 5, "pass"));
        shard2.mark_isolation_sensitive("a", "t2");
        let mut merged = History::default();
        merged.merge(shard1.clone());
        merged.merge(shard2.clone());

        let t1 = merged.get("a", "t1").unwrap();
        assert_eq!(t1, shard1.get("a", "t1").unwrap(), "shard 1's t1, its common runs counted once");
        assert_eq!(t1.runs.len(), MAX_RUNS);
        let at: Vec<u64> = t1.runs.iter().map(|r| r.at).collect();
        assert_eq!(at, [2, 3, 4, 5, 6, 7, 8, 9, 20, 30], "in time order, the oldest dropped");
        assert_eq!(merged.get("a", "t2").unwrap(), shard2.get("a", "t2").unwrap());
        assert!(merged.get("a", "t2").unwrap().isolation_sensitive);
        assert_eq!(merged.get("b", "new").unwrap().runs.len(), 1);
        // Merging is order-independent, and merging a history again changes nothing.
        let mut other_way = History::default();
        other_way.merge(shard2);
        other_way.merge(shard1.clone());
        assert_eq!(other_way.tests, merged.tests);
        merged.merge(shard1);
        assert_eq!(other_way.tests, merged.tests);
    }

    fn shard(kind: crate::shard::PartitionKind, k: u64, n: u64) -> crate::shard::Partition {
        crate::shard::Partition { kind, shard: k, total: n }
    }

    /// What shard `k` of 3 records: its own test, run at `at` for `ms`.
    fn shard_records(k: u64, at: u64, ms: u64) -> BTreeMap<String, BTreeMap<String, TestHistory>> {
        let mut h = History::default();
        h.record("a", &format!("t{k}"), "a", record(at, ms, "pass"));
        h.tests
    }

    fn base() -> History {
        let mut h = History::default();
        for k in 1..=3 {
            h.record("a", &format!("t{k}"), "a", record(1, 10 * k, "pass"));
        }
        h
    }

    /// Regression: each shard of a split run in one workspace rewrote the durations
    /// that the next shard partitioned by, and tests were lost between shards.
    #[test]
    fn shards_in_sequence_leave_the_durations_alone_until_the_split_is_complete() {
        use crate::shard::PartitionKind::{Count, Duration as D};
        let mut h = base();
        let settled = h.tests.clone();
        h.record_shard(shard(D, 1, 3), shard_records(1, 5, 500));
        h.record_shard(shard(D, 2, 3), shard_records(2, 6, 600));
        // Another split's shard, of the same basis, does not complete this one.
        h.record_shard(shard(Count, 3, 4), shard_records(3, 7, 700));
        assert_eq!(h.tests, settled, "partitioning still reads the durations the split started from");
        assert_eq!(h.generation, 0);
        assert_eq!(h.pending.len(), 3);
        h.record_shard(shard(D, 3, 3), shard_records(3, 8, 800));
        assert!(h.pending.is_empty(), "the complete split is settled");
        assert_eq!(h.generation, 1);
        assert_eq!(h.get("a", "t1").unwrap().runs.len(), 2);
        assert_eq!(h.get("a", "t3").unwrap().runs.len(), 3, "both splits' records of t3 are settled");
        assert_eq!(h.get("a", "t2").unwrap().runs.back().unwrap().duration_us, 600_000);
    }

    #[test]
    fn old_pending_records_are_pruned() {
        let mut h = base();
        h.record_shard(shard(crate::shard::PartitionKind::Duration, 1, 3), shard_records(1, 0, 5));
        h.record_shard(shard(crate::shard::PartitionKind::Duration, 2, 3), shard_records(2, MAX_AGE.as_secs() + 10, 5));
        h.record_shard(shard(crate::shard::PartitionKind::Duration, 3, 4), BTreeMap::new());
        h.prune(MAX_AGE.as_secs() + 10);
        let left: Vec<u64> = h.pending.iter().map(|p| p.shard).collect();
        assert_eq!(left, [2, 3], "shard 1's records aged out; an empty shard still counts");
    }

    #[test]
    fn a_run_of_every_test_settles_the_pending_records() {
        let mut h = base();
        h.record_shard(shard(crate::shard::PartitionKind::Duration, 2, 3), shard_records(2, 5, 500));
        h.settle_all();
        assert!(h.pending.is_empty());
        assert_eq!(h.get("a", "t2").unwrap().runs.len(), 2);
        assert_eq!(h.generation, 1);
    }

    /// The shards of a CI matrix start from copies of one history; merging their
    /// files settles the split, in any order, and merging again changes nothing.
    #[test]
    fn merging_every_shards_copy_settles_the_split_in_any_order() {
        use crate::shard::PartitionKind::Duration as D;
        let copies: Vec<History> = (1..=3)
            .map(|k| {
                let mut h = base();
                h.record_shard(shard(D, k, 3), shard_records(k, 5 + k, 100 * k));
                h
            })
            .collect();
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        let merge = |order: &[usize]| {
            let mut m = History::default();
            for &i in order {
                m.merge(copies[i].clone());
            }
            m
        };
        let first = merge(&orders[0]);
        assert!(first.pending.is_empty(), "{:?}", first.pending);
        assert_eq!(first.generation, 1);
        assert!(first.tests.values().flat_map(BTreeMap::values).all(|t| t.runs.len() == 2));
        for order in &orders[1..] {
            assert_eq!(merge(order), first, "order {order:?}");
        }
        // Two of three shards: nothing settles yet.
        let mut partial = History::default();
        partial.merge(copies[0].clone());
        partial.merge(copies[2].clone());
        assert_eq!(partial.pending.len(), 2);
        assert_eq!(partial.tests, base().tests);
        // Merging a shard's copy again into the settled history changes nothing: its
        // pending records are of an older generation and already settled.
        let mut again = first.clone();
        again.merge(copies[1].clone());
        assert_eq!(again, first);
        let mut twice = first.clone();
        twice.merge(first.clone());
        assert_eq!(twice, first);
    }

    /// A history file of an older tempo, which had no pending records, still loads.
    #[test]
    fn pending_records_are_left_out_of_files_that_have_none() {
        let json = serde_json::to_string(&base()).unwrap();
        assert!(!json.contains("pending") && !json.contains("generation"), "{json}");
    }

    #[test]
    fn unknown_tests_are_estimated_from_their_binary_then_package() {
        let mut h = History::default();
        h.record("a::x", "t1", "a", record(1, 100, "pass"));
        h.record("a::x", "t2", "a", record(1, 300, "pass"));
        h.record("a::y", "t3", "a", record(1, 1000, "pass"));
        let e = h.estimator();
        assert_eq!(e.estimate("a::x", "a", "t1"), (Duration::from_millis(100), true));
        assert_eq!(e.estimate("a::x", "a", "new"), (Duration::from_millis(200), false));
        assert_eq!(e.estimate("a::z", "a", "new"), (Duration::from_nanos(466_666_666), false));
        assert_eq!(History::default().estimator().estimate("b", "b", "t"), (Duration::ZERO, false));
    }

    #[test]
    fn flakiness_is_a_changing_outcome() {
        let mut h = History::default();
        h.record("b", "steady", "b", record(1, 1, "pass"));
        h.record("b", "steady", "b", record(2, 1, "pass"));
        h.record("b", "wobbly", "b", record(1, 1, "pass"));
        h.record("b", "wobbly", "b", record(2, 1, "fail"));
        assert!(!h.get("b", "steady").unwrap().is_flaky());
        assert!(h.get("b", "wobbly").unwrap().is_flaky());
        assert!(h.get("b", "wobbly").unwrap().failed_last());
    }

    #[test]
    fn old_tests_are_pruned() {
        let mut h = History::default();
        h.record("b", "old", "b", record(0, 1, "pass"));
        h.record("b", "new", "b", record(MAX_AGE.as_secs() + 10, 1, "pass"));
        h.prune(MAX_AGE.as_secs() + 10);
        assert!(h.get("b", "old").is_none());
        assert!(h.get("b", "new").is_some());
    }

    /// Regression: a corrupt or truncated history must be a warning, not an error.
    #[test]
    fn a_corrupt_history_is_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        std::fs::write(&file, b"{\"version\":1,\"tests\":{\"a\":{").unwrap();
        let (h, warning) = History::load(&file);
        assert_eq!(h, History::default());
        assert!(warning.unwrap().contains("corrupt"));
        let (_, none) = History::load(&dir.path().join("missing.json"));
        assert!(none.is_none());
    }

    /// Regression: a history written before run summaries existed must still load.
    #[test]
    fn a_history_without_run_summaries_loads() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        std::fs::write(&file, br#"{"version":1,"tests":{"b":{"t":{"package":"b","runs":[]}}}}"#).unwrap();
        let (h, warning) = History::load(&file);
        assert!(warning.is_none(), "{warning:?}");
        assert!(h.runs.is_empty());
        assert!(h.get("b", "t").is_some());
    }

    #[test]
    fn run_summaries_are_bounded() {
        let mut h = History::default();
        let accounting = crate::events::RunStats::default().accounting();
        for at in 0..(MAX_RUN_SUMMARIES as u64 + 5) {
            h.record_run(RunSummary {
                at,
                profile: "default".into(),
                passed: 1,
                failed: 0,
                accounting: accounting.clone(),
            });
        }
        assert_eq!(h.runs.len(), MAX_RUN_SUMMARIES);
        assert_eq!(h.runs.front().unwrap().at, 5, "the oldest summaries go first");
    }

    #[test]
    fn saves_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("store/history.json");
        let mut h = History::default();
        h.record("b", "t", "b", record(now_secs(), 42, "pass"));
        h.save(&file).unwrap();
        let (back, warning) = History::load(&file);
        assert!(warning.is_none());
        assert_eq!(back.get("b", "t").unwrap().expected(), Some(Duration::from_millis(42)));
    }

    /// Two runs that loaded the same history each add their records under the lock,
    /// read back from the file: neither overwrites the other's.
    #[test]
    fn runs_that_overlap_keep_each_others_records() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("store/history.json");
        let mut base = History::default();
        base.record("b", "old", "b", record(now_secs() - 10, 1, "pass"));
        base.save(&file).unwrap();
        let (mut first, _) = History::load(&file);
        let (mut second, _) = History::load(&file);
        first.record("b", "one", "b", record(now_secs(), 1, "pass"));
        second.record("b", "two", "b", record(now_secs(), 2, "fail"));
        assert_eq!(first.save_merged(&file).unwrap(), None);
        assert_eq!(second.save_merged(&file).unwrap(), None);
        let (back, warning) = History::load(&file);
        assert!(warning.is_none(), "{warning:?}");
        for name in ["old", "one", "two"] {
            assert_eq!(back.get("b", name).map(|h| h.runs.len()), Some(1), "{name}: {back:?}");
        }
        assert!(lock_path(&file).ends_with("store/history.json.lock"));
    }

    /// Many writers at once, each through the lock, each with a test of its own: every
    /// record ends up in the file. Without the lock, a writer that read the file
    /// before another's rename would drop that one's record.
    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        let (threads, rounds) = (8, 5);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let file = &file;
                scope.spawn(move || {
                    for r in 0..rounds {
                        let (mut h, _) = History::load(file);
                        h.record("b", &format!("t{t}-{r}"), "b", record(now_secs(), 1, "pass"));
                        h.save_merged(file).unwrap();
                    }
                });
            }
        });
        let (back, _) = History::load(&file);
        let count: usize = back.tests.values().map(BTreeMap::len).sum();
        let names: Vec<&String> = back.tests.values().flat_map(BTreeMap::keys).collect();
        assert_eq!(count, threads * rounds, "{names:?}");
    }

    /// A history of a newer format is not overwritten by this older tempo, and the
    /// warning names the file and both versions.
    #[test]
    fn a_newer_history_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        let newer = format!(
            r#"{{"version":{},"writer":"tempo 99.0.0","tests":{{"b":{{"t":{{"package":"b","runs":[],"new":1}}}}}},"more":[]}}"#,
            VERSION + 1
        );
        std::fs::write(&file, &newer).unwrap();
        let (mut h, warning) = History::load(&file);
        let warning = warning.unwrap();
        assert!(warning.contains(&file.display().to_string()), "{warning}");
        assert!(warning.contains("tempo 99.0.0") && warning.contains(&format!("version {}", VERSION + 1)), "{warning}");
        assert!(warning.contains(WRITER) && warning.contains(&format!("version {VERSION}")), "{warning}");
        h.record("b", "mine", "b", record(now_secs(), 1, "pass"));
        let kept = h.save_merged(&file).unwrap().expect("a warning that the file is kept");
        assert!(kept.contains("not updating") && kept.contains("tempo 99.0.0"), "{kept}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), newer, "the newer file is unchanged");
        // An older format is still replaced.
        std::fs::write(&file, r#"{"version":0,"tests":{}}"#).unwrap();
        let mut h = History::default();
        h.record("b", "mine", "b", record(now_secs(), 1, "pass"));
        assert_eq!(h.save_merged(&file).unwrap(), None);
        let (back, _) = History::load(&file);
        assert!(back.get("b", "mine").is_some());
        assert_eq!(back.writer, WRITER);
    }

    /// A history that cannot be written names its path.
    #[test]
    fn a_history_that_cannot_be_written_names_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        std::fs::create_dir(&file).unwrap();
        let error = History::default().save_merged(&file).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(&format!("failed to write the history `{}`: ", file.display())), "{message}");
        assert!(message.contains("Is a directory") || message.contains("os error"), "{message}");
    }

    /// The lock file is opened without following a symlink planted at its name: the
    /// history is not written, and the error names the lock file.
    #[test]
    fn a_symlink_at_the_lock_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.json");
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, lock_path(&file)).unwrap();
        let message = History::default().save_merged(&file).unwrap_err().to_string();
        let expected = format!("failed to write the history lock `{}`: ", lock_path(&file).display());
        assert!(message.starts_with(&expected), "{message}");
        assert!(!victim.exists(), "the symlink's target was not created");
    }
}
