use super::*;

fn record(at: u64, ms: u64, outcome: &str) -> RunRecord {
    RunRecord::plain(at, ms * 1000, ms * 500, outcome)
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

/// Tests of the reader against hostile files: property tests over arbitrary and
/// history-shaped input, and the regressions they found.
mod fuzz_tests {
    use super::*;
    use crate::history::merge::union_by_time;

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
                    ..RunRecord {
                        at,
                        duration_us: 0,
                        cpu_us: 0,
                        outcome: "pass".into(),
                        attempts: 1,
                        batched: false,
                        pressure: None,
                        output_bytes: None,
                        run: None,
                    }
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

/// Regression (found by a clean-clone CI run): two runs that start within one second
/// measured a tiny batched test alike to the microsecond, and the merge at the end of
/// the second run kept the two equal records once, losing a run.
#[test]
fn records_of_two_runs_in_one_second_are_both_kept_by_a_merge() {
    let mut first = History::default();
    first.record("b", "t", "pkg", RunRecord { run: Some(1), ..record(7, 0, "pass") });
    let mut second = first.clone();
    second.record("b", "t", "pkg", RunRecord { run: Some(2), ..record(7, 0, "pass") });
    first.merge(second.clone());
    assert_eq!(first.get("b", "t").unwrap().runs.len(), 2, "both runs are kept");
    // A copy of the same record (shards from one file) is still kept once.
    first.merge(second);
    assert_eq!(first.get("b", "t").unwrap().runs.len(), 2);
}
