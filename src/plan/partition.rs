//! Splits one test run into shards for a CI matrix, so that N machines each run a part.
//!
//! `count`, `hash` and `slice` assign tests exactly as cargo-nextest 0.9 does
//! (`nextest-runner/src/partition.rs`), so a matrix can move between the two tools
//! without tests changing shard. `duration` is tempo's own: it balances the shards by
//! the durations the history recorded, which is what makes the slowest shard end
//! close to the others.
//!
//! Partitioning comes last, after every other kind of selection (names, the ignored
//! flag, `-E` expressions and the default filter), as in nextest: a test that the
//! filters leave out does not take a place in the round-robin. A test that the
//! partition leaves out counts as skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{TestPlan, TestRef};
use crate::shard::{Partition, PartitionKind};

impl Partition {
    /// Keeps only this shard's tests in `plan`; the others become skipped tests.
    ///
    /// For the per-binary kinds the plan may hold any subset of whole binaries; for
    /// the others it must hold every selected test of the run.
    pub fn apply(&self, plan: &mut TestPlan) {
        let shards = assign(self.kind, &plan.tests, self.total);
        let mine = self.shard - 1;
        let mut kept = Vec::with_capacity(plan.tests.len() / self.total as usize + 1);
        for (test, shard) in std::mem::take(&mut plan.tests).into_iter().zip(shards) {
            if shard == mine {
                kept.push(test);
            } else {
                plan.skipped += 1;
                plan.skipped_tests.push((test.binary_id().clone(), test.name.clone()));
            }
        }
        let mut binaries: Vec<*const crate::build::TestBinary> = kept.iter().map(|t| Arc::as_ptr(&t.binary)).collect();
        binaries.sort_unstable();
        binaries.dedup();
        plan.binary_count = binaries.len();
        plan.tests = kept;
    }
}

/// The (binary id, name) order that nextest walks tests in.
fn nextest_order(tests: &[TestRef]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..tests.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&tests[a], &tests[b]);
        a.binary_id().cmp(b.binary_id()).then_with(|| a.name.cmp(&b.name))
    });
    order
}

/// nextest's hash partitioner: xxHash64 with seed 0 over the test name's bytes (the
/// binary id is not part of it). nextest fixes this hash for its whole 0.9 series.
pub fn name_hash(name: &str) -> u64 {
    xxhash_rust::xxh64::xxh64(name.as_bytes(), 0)
}

/// The shard (counting from 0) of each test, in the order of `tests`.
pub fn assign(kind: PartitionKind, tests: &[TestRef], total: u64) -> Vec<u64> {
    let mut shards = vec![0u64; tests.len()];
    match kind {
        PartitionKind::Hash => {
            for (shard, test) in shards.iter_mut().zip(tests) {
                *shard = name_hash(&test.name) % total;
            }
        }
        PartitionKind::Count => {
            // A counter per binary, so that the order binaries arrive in does not matter.
            let mut next: HashMap<(&str, bool), u64> = HashMap::new();
            for i in nextest_order(tests) {
                let counter = next.entry((tests[i].binary_id().as_str(), tests[i].ignored)).or_insert(0);
                shards[i] = *counter % total;
                *counter += 1;
            }
        }
        PartitionKind::Slice => {
            let mut next = [0u64; 2];
            for i in nextest_order(tests) {
                let counter = &mut next[usize::from(tests[i].ignored)];
                shards[i] = *counter % total;
                *counter += 1;
            }
        }
        PartitionKind::Duration => {
            for (i, shard) in balance(tests, total) {
                shards[i] = shard;
            }
        }
    }
    shards
}

/// Greedy longest-first bin packing: tests by expected duration, longest first (ties
/// by binary id, then name), each to the shard with the least expected time so far;
/// among equally loaded shards, the one with the fewest tests, then the lowest index.
///
/// A test with no history of its own weighs what [`crate::history::Estimator`]
/// guesses for it (its binary's mean, else its package's, else every test's), so
/// that new tests spread like the tests they sit beside. With no history at all every
/// weight is zero, and the fewest-tests rule turns the packing into a round-robin in
/// name order: the shards get equal counts. Everything here depends only on the
/// history file and the full list of selected tests, so every shard computes the
/// same assignment.
fn balance(tests: &[TestRef], total: u64) -> Vec<(usize, u64)> {
    let mut order = nextest_order(tests);
    // A stable sort keeps the name order among equal durations.
    order.sort_by(|&a, &b| tests[b].expected.cmp(&tests[a].expected));
    // A shard past the number of tests would stay empty (each test goes to an empty
    // shard while there is one, the lowest first), so the table needs no more rows than
    // there are tests: its size never follows an unchecked shard count.
    let bins = usize::try_from(total).unwrap_or(usize::MAX).min(tests.len()).max(1);
    let mut load = vec![(Duration::ZERO, 0usize); bins];
    order
        .into_iter()
        .map(|i| {
            let (shard, _) = load.iter().enumerate().min_by_key(|(s, l)| (**l, *s)).expect("at least one shard");
            load[shard].0 = load[shard].0.saturating_add(tests[i].expected);
            load[shard].1 += 1;
            (i, shard as u64)
        })
        .collect()
}

/// One shard of `cargo tempo partition --show`.
#[derive(Debug, Default)]
pub struct ShardView {
    /// Its tests, in binary id then name order.
    pub tests: Vec<TestRef>,
    /// The sum of their expected durations.
    pub expected: Duration,
}

/// The whole duration assignment, shard by shard, for `cargo tempo partition --show`.
pub fn show(tests: &[TestRef], total: u64) -> Vec<ShardView> {
    let mut shards: Vec<ShardView> = (0..total).map(|_| ShardView::default()).collect();
    let assigned = assign(PartitionKind::Duration, tests, total);
    for i in nextest_order(tests) {
        let shard = &mut shards[assigned[i] as usize];
        shard.expected = shard.expected.saturating_add(tests[i].expected);
        shard.tests.push(Arc::clone(&tests[i]));
    }
    shards
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fake;

    #[test]
    fn partitions_parse_like_nextest() {
        let p: Partition = "hash:2/3".parse().unwrap();
        assert_eq!(p, Partition { kind: PartitionKind::Hash, shard: 2, total: 3 });
        assert_eq!("duration:1/1".parse::<Partition>().unwrap().kind, PartitionKind::Duration);
        assert_eq!(p.to_string(), "hash:2/3");
        for bad in [
            "foo",
            "hash",
            "hash:",
            "hash:1",
            "hash:1/",
            "hash:0/2",
            "hash:3/2",
            "hash:m/2",
            "hash:1/n",
            "hash:1/2/3",
            "slice:1/0",
            "size:1/2",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad} must not parse");
        }
        // The shard count has a documented range; a huge one is out of range, not "not a number".
        assert_eq!("slice:65536/65536".parse::<Partition>().unwrap().total, crate::limits::MAX_PARTITIONS);
        for huge in ["hash:1/65537", "duration:1/18446744073709551615", "duration:1/99999999999999999999999"] {
            let err = huge.parse::<Partition>().unwrap_err().to_string();
            assert!(err.contains("out of range; expected a number from 1 to 65536"), "{err}");
        }
        let err = "count:4/3".parse::<Partition>().unwrap_err().to_string();
        assert!(err.contains("between 1 and 3"), "{err}");
    }

    /// The values nextest's partitioner depends on: xxHash64 of the name, seed 0.
    #[test]
    fn the_name_hash_is_xxhash64_with_seed_zero() {
        // Reference values of XXH64 from the xxHash specification's test vectors.
        assert_eq!(name_hash(""), 0xef46_db37_51d8_e999);
        assert_eq!(name_hash("a"), 0xd24e_c4f1_a98c_6e5b);
    }

    #[test]
    fn count_is_round_robin_per_binary_and_slice_across_binaries() {
        let tests: Vec<TestRef> = ["a", "b", "c", "d", "e"].iter().map(|n| fake::test(n, |_| {})).collect();
        assert_eq!(assign(PartitionKind::Count, &tests, 2), [0, 1, 0, 1, 0]);
        assert_eq!(assign(PartitionKind::Slice, &tests, 3), [0, 1, 2, 0, 1]);
        // The order tests come in does not change where they go.
        let reversed: Vec<TestRef> = tests.iter().rev().cloned().collect();
        assert_eq!(assign(PartitionKind::Count, &reversed, 2), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn duration_packs_longest_first_into_the_lightest_shard() {
        let tests = vec![
            fake::timed("t1", 100, false),
            fake::timed("t2", 400, false),
            fake::timed("t3", 300, false),
            fake::timed("t4", 200, false),
            fake::timed("t5", 100, false),
        ];
        // t2 → 0, t3 → 1, t4 → 1 (300 < 400), t1 → 0 (400 < 500), t5 (tie 500/500, fewer tests: 0 has 2, 1 has 2 → index) → 0.
        assert_eq!(assign(PartitionKind::Duration, &tests, 2), [0, 0, 1, 1, 0]);
        let shards = show(&tests, 2);
        assert_eq!(shards[0].expected, Duration::from_millis(600));
        assert_eq!(shards[1].expected, Duration::from_millis(500));
        assert_eq!(shards[0].tests.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["t1", "t2", "t5"]);
    }

    /// More shards than tests (a `Partition` built in code, past the parser's range)
    /// gives each test an empty shard of its own, without a table of `total` rows.
    #[test]
    fn duration_with_more_shards_than_tests_allocates_per_test_not_per_shard() {
        let tests = vec![fake::timed("t1", 100, false), fake::timed("t2", 400, false)];
        assert_eq!(assign(PartitionKind::Duration, &tests, u64::MAX), [1, 0]);
        assert_eq!(assign(PartitionKind::Duration, &[], u64::MAX), Vec::<u64>::new());
    }

    #[test]
    fn without_history_duration_spreads_tests_evenly_in_name_order() {
        let tests: Vec<TestRef> = ["e", "d", "c", "b", "a"].iter().map(|n| fake::test(n, |_| {})).collect();
        // a, b, c, d, e in name order go round-robin.
        assert_eq!(assign(PartitionKind::Duration, &tests, 2), [0, 1, 0, 1, 0]);
    }

    #[test]
    fn applying_a_partition_skips_the_other_shards_tests() {
        let tests: Vec<TestRef> = ["a", "b", "c", "d"].iter().map(|n| fake::test(n, |_| {})).collect();
        let mut plan = TestPlan { tests, skipped: 1, skipped_tests: vec![], binary_count: 1 };
        Partition { kind: PartitionKind::Slice, shard: 2, total: 3 }.apply(&mut plan);
        assert_eq!(plan.tests.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(plan.skipped, 4);
        assert_eq!(plan.skipped_tests.len(), 3);
        assert_eq!(plan.binary_count, 1);
    }
}
