//! The records of a sharded run (`--partition`), kept apart until every shard of
//! its split has recorded, so that the shards still to run split the same list.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{History, TestHistory, merge::merge_tests};

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

impl History {
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
    pub(super) fn add_pending(&mut self, shard: PendingShard) {
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
    pub(super) fn settle_complete(&mut self) {
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
}
