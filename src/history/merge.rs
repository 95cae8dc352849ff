//! Merging histories: the records of two copies of a store (two runs, two CI
//! shards) united, each test keeping the runs of both sides in time order.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use super::{History, MAX_RUN_SUMMARIES, MAX_RUNS, ReadError, TestHistory, VERSION};

impl History {
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
}

/// `cargo tempo history-merge OUT IN...`: merges the inputs (see [`History::merge`])
/// and writes the result atomically, returning what it wrote. Every input must be a readable history of this
/// version: a merge that silently dropped a shard would skew the next split.
pub fn merge_files(output: &Path, inputs: &[PathBuf]) -> crate::error::Result<History> {
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
    Ok(merged)
}

/// Adds `theirs` to `mine`: each test keeps the union of both sides' runs.
pub(super) fn merge_tests(
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
            entry.collapses |= theirs.collapses;
            entry.loud |= theirs.loud;
            entry.should_panic |= theirs.should_panic;
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
pub(super) fn union_by_time<T: PartialEq>(
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
