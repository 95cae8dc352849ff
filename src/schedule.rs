//! Decides which test starts next and in which slots.
//!
//! The scheduler owns the queue of attempts still to run, the slots and the test
//! groups. The runner asks it for work whenever something finishes; a test is admitted
//! only when enough slots are free for its `threads-required` and its test group is
//! below its `max-threads`. A test that cannot start yet does not block the tests
//! behind it. Fail-fast and signals cancel the scheduler.
//!
//! When the test it hands out may share a process, the scheduler also gathers a batch
//! around it: more batchable tests of the same binary from the queue, as many as
//! keep the batch short enough for the slots to stay balanced.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use crate::plan::TestRef;
use crate::plan::admission::{Class, MIN_DEMAND, WAITING_BELOW};

/// A test attempt handed to the runner.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// The test.
    pub test: TestRef,
    /// The attempt number, 1-based.
    pub attempt: u32,
    /// The first (lowest) slot it occupies: its `TEMPO_SLOT` and its timeline lane.
    pub slot: usize,
    /// How many slots it occupies, starting from the lowest free ones.
    pub width: usize,
    /// For a batch, every test in it (`test` first), run in one process.
    pub batch: Option<Arc<[TestRef]>>,
}

/// The most tests in one batch.
const MAX_BATCH_TESTS: usize = 1000;
/// The most bytes of test names on one batch's command line (Linux allows 2 MiB in all).
const MAX_BATCH_ARG_BYTES: usize = 256 * 1024;
/// A batch shorter than this is not worth splitting further: starting a batch costs
/// a few milliseconds (a spawn, a dynamic link, libtest's start-up).
const MIN_BATCH: Duration = Duration::from_millis(20);
/// What running one more test in a batch costs beyond the test itself: libtest starts
/// a thread for each test, and tempo reads two lines and reports two events. Measured
/// at 50-70 µs per test on the 2-core reference machine.
const BATCH_COST_PER_TEST: Duration = Duration::from_micros(60);
/// A batch longer than this is split, so that no slot is tied up by one for long.
const MAX_BATCH: Duration = Duration::from_secs(2);
/// Batches per slot that the batchable work is split into, for balance at the end of
/// the run.
const BATCHES_PER_SLOT: u32 = 2;

/// The key of a test in sets: the address of its shared instance.
fn key(test: &TestRef) -> usize {
    Arc::as_ptr(test) as usize
}

/// The queue of pending attempts and the capacity they share.
#[derive(Debug)]
pub struct Scheduler {
    pending: VecDeque<(TestRef, u32)>,
    slot_busy: Vec<bool>,
    slot_owner: Vec<usize>,
    group_limit: HashMap<Arc<str>, usize>,
    group_running: HashMap<Arc<str>, usize>,
    running: usize,
    cancelled: bool,
    failed_first: bool,
    /// Tests that must run alone from now on: they failed, crashed or stalled in a batch.
    alone: HashSet<usize>,
    /// Whether tests may be batched at all.
    batching: bool,
    /// Adaptive concurrency: the cores that the running tests' CPU demand must fit.
    cpu_budget: Option<f64>,
    /// The CPU demand admitted in each slot, by the slot that owns it.
    slot_demand: Vec<f64>,
    /// Whether that demand came from the history (or `threads-required`, or a
    /// batch) rather than the guess for a test with none.
    slot_known: Vec<bool>,
    /// The class of the slot's test, as learned from its history.
    slot_class: Vec<Class>,
    /// The slot's test's time alone, when a stretch past [`PROBE_LIMIT`] times it would
    /// mean that a probe beside it hurts it; zero when it is not watched.
    slot_alone: Vec<Duration>,
    /// The probes running now (see [`Probe`]).
    probes: Vec<Probe>,
    /// Whether something changed since a look through the queue last found nothing
    /// to start. A run reports two events per test of a batch, and each wakes the
    /// runner, which asks for work: without this, every ask looked through the whole
    /// queue again, quadratic in the tests (measured: most of tempo's own CPU on
    /// 1,000 tiny tests).
    changed: bool,
}

/// A test admitted beyond the CPU budget, so that the run measures how it behaves
/// under load (see `plan::admission`). Its slot is charged nothing while it probes.
///
/// A probe must never cost what it might learn: when it, or a watched test beside it,
/// runs past [`PROBE_LIMIT`] times its time alone, something collapsed, and the probe
/// is paused (`SIGSTOP` to its process group) and charged in full, so that the tests
/// beside it get their cores back and nothing new starts until it fits again; then it
/// is resumed (`SIGCONT`) and runs on as an ordinary test.
#[derive(Debug, Clone, Copy)]
struct Probe {
    /// The slot it owns.
    slot: usize,
    /// What it would be charged outside a probe.
    full: f64,
    /// Its time alone.
    alone: Duration,
    /// Where it is.
    state: ProbeState,
}

/// Where a probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeState {
    /// Running beyond the budget, charged nothing.
    Probing,
    /// Stopped, charged in full, until the budget has room for it.
    Paused,
    /// Running again, charged in full, until it ends.
    Resumed,
}

/// The most CPU that probes may add beyond the budget, as a share of it (at least one
/// probe may always run): enough to load the machine measurably.
const PROBE_ALLOWANCE: f64 = 0.5;
/// A probe, or a test beside it, that runs longer than this many times its time alone
/// pauses the probe.
const PROBE_LIMIT: u32 = 3;
/// ... and at least this much past its time alone, against noise on short tests.
const PROBE_GRACE: Duration = Duration::from_millis(100);
/// How far the admitted demand may exceed the cores, as a share of them: learned
/// ratios are measured, and a test that keeps a core busy shows 0.9 as often as 1.0.
const DEMAND_SLACK: f64 = 0.1;

impl Scheduler {
    /// A scheduler over `tests` with `slots` slots and the given test-group limits (in
    /// threads). Tests start in order of `priority`, highest first; then, with
    /// `failed_first`, the tests whose last run failed; then longest expected duration
    /// first (LPT: a long test started last is what sets the wall time); and otherwise
    /// in nextest's order, by binary id and test name.
    pub fn new(
        tests: impl IntoIterator<Item = TestRef>,
        slots: usize,
        group_limit: HashMap<Arc<str>, usize>,
        failed_first: bool,
    ) -> Scheduler {
        let slots = slots.max(1);
        let mut scheduler = Scheduler {
            pending: VecDeque::new(),
            slot_busy: vec![false; slots],
            slot_owner: vec![usize::MAX; slots],
            group_limit,
            group_running: HashMap::new(),
            running: 0,
            cancelled: false,
            failed_first,
            alone: HashSet::new(),
            batching: true,
            cpu_budget: None,
            slot_demand: vec![0.0; slots],
            slot_known: vec![true; slots],
            slot_class: vec![Class::Unknown; slots],
            slot_alone: vec![Duration::ZERO; slots],
            probes: Vec::new(),
            changed: true,
        };
        scheduler.add(tests);
        scheduler
    }

    /// Adds tests that were not known yet (their binary was just built) and puts the
    /// queue back in order: retries first, then priority, failed-first and expected
    /// duration, then binary id and test name.
    pub fn add(&mut self, tests: impl IntoIterator<Item = TestRef>) {
        self.changed = true;
        self.pending.extend(tests.into_iter().map(|t| (t, 1)));
        let failed_first = self.failed_first;
        self.pending.make_contiguous().sort_by(|(a, attempt_a), (b, attempt_b)| {
            use std::cmp::Reverse;
            let key = |t: &TestRef, attempt: u32| {
                (
                    attempt == 1,
                    Reverse(t.settings.priority),
                    Reverse(failed_first && t.failed_last),
                    Reverse(t.expected),
                )
            };
            // Ties keep nextest's order, whatever order the binaries were built in.
            key(a, *attempt_a)
                .cmp(&key(b, *attempt_b))
                .then_with(|| a.binary_id().cmp(b.binary_id()))
                .then_with(|| a.name.cmp(&b.name))
        });
    }

    /// How many slots a test takes: its `threads-required`, at most the slot count.
    fn width(&self, test: &TestRef) -> usize {
        test.settings.threads_required.clamp(1, self.slot_busy.len())
    }

    /// Admits tests by their predicted CPU demand rather than by slots alone: as many
    /// at once as the slots allow, as long as their demand fits `cores`. A test that
    /// fits nowhere still starts when nothing else runs.
    pub fn set_cpu_budget(&mut self, cores: f64) {
        self.changed = true;
        self.cpu_budget = Some(cores);
    }

    /// The CPU a test is predicted to keep busy, in cores: `threads-required` when it
    /// asks for more than one slot; 1 for a batch, which keeps its core busy with one
    /// test after another, and for a test with no history (the cautious guess); else
    /// what `plan::admission` learned from its history: the CPU it uses if it mostly
    /// waits, its whole cores if it keeps them busy or collapses beside others, and the
    /// CPU it needs to progress if it shares cores well.
    pub fn demand(&self, test: &TestRef) -> f64 {
        let width = self.width(test);
        if width > 1 {
            return width as f64;
        }
        if test.binary.doc.is_some() || self.may_batch(test) {
            return 1.0;
        }
        test.admission.demand
    }

    /// Whether `test` may start now as a probe: it asks to be measured under load, it
    /// would start alone in its slot, and the probes running leave room for it.
    fn may_probe(&self, test: &TestRef, attempt: u32) -> bool {
        let Some(budget) = self.cpu_budget else { return false };
        let alone = attempt == 1 && self.width(test) == 1 && !self.may_batch(test) && test.binary.doc.is_none();
        if !alone || !test.admission.probe {
            return false;
        }
        let probing: f64 = self.probes.iter().map(|p| p.full).sum();
        if !self.probes.is_empty() && probing + self.demand(test) > budget * PROBE_ALLOWANCE + 1e-9 {
            return false;
        }
        // Never beside a test known to collapse; and a test of several busy threads
        // (which may spin on each other) never beside another whose sharing is not
        // proven, so that two spinners that collapse together never meet.
        let running = || (0..self.slot_busy.len()).filter(|s| self.owns(*s));
        let multi = |demand: f64| demand > 1.2;
        running().all(|s| {
            self.slot_class[s] != Class::Collapses
                && !(multi(self.demand(test)) && multi(self.slot_demand[s]) && self.slot_class[s] != Class::Shares)
        })
    }

    /// The probe to pause, if one hurts: it, or a watched test beside it, has run
    /// past [`PROBE_LIMIT`] times its time alone. `elapsed` gives how long the test
    /// in a slot has run.
    pub fn probe_to_pause(&self, elapsed: impl Fn(usize) -> Duration) -> Option<usize> {
        let over = |alone: Duration, slot: usize| {
            !alone.is_zero() && elapsed(slot) > alone.saturating_mul(PROBE_LIMIT).max(alone.saturating_add(PROBE_GRACE))
        };
        let probe = self.probes.iter().find(|p| p.state == ProbeState::Probing)?;
        let hurt = over(probe.alone, probe.slot)
            || (0..self.slot_busy.len()).any(|s| s != probe.slot && self.owns(s) && over(self.slot_alone[s], s));
        hurt.then_some(probe.slot)
    }

    /// Pauses the probe in `slot`: it is charged in full, so that nothing new starts
    /// until the budget has room for it. The caller stops its process group.
    pub fn pause_probe(&mut self, slot: usize) {
        self.changed = true;
        if let Some(p) = self.probes.iter_mut().find(|p| p.slot == slot && p.state == ProbeState::Probing) {
            p.state = ProbeState::Paused;
            self.slot_demand[slot] = p.full;
        }
    }

    /// The paused probe that the budget has room for again, now marked as resumed.
    /// The caller continues its process group.
    pub fn resume_probe(&mut self) -> Option<usize> {
        let budget = self.cpu_budget?;
        if self.running_demand() > budget * (1.0 + DEMAND_SLACK) + 1e-9 {
            return None;
        }
        let p = self.probes.iter_mut().find(|p| p.state == ProbeState::Paused)?;
        p.state = ProbeState::Resumed;
        Some(p.slot)
    }

    /// Whether the slot's test was learned to share cores well, or probes: what it is
    /// seen using says nothing about what it needs, since it spins on whatever it gets.
    fn spins_on_what_it_gets(&self, slot: usize) -> bool {
        self.slot_class[slot] == Class::Shares
            || self.probes.iter().any(|p| p.slot == slot && p.state == ProbeState::Probing)
    }

    /// Whether `slot` is the first slot of a running attempt.
    pub fn owns(&self, slot: usize) -> bool {
        self.slot_busy.get(slot).copied().unwrap_or(false) && self.slot_owner[slot] == slot
    }

    /// The CPU demand of the tests running now.
    pub fn running_demand(&self) -> f64 {
        self.slot_demand.iter().sum()
    }

    /// Adjusts the demand charged to the test that owns `slot` by the cores it was
    /// just seen using: more than predicted raises it (whole cores above 1.25, one
    /// core above 0.5), so that fewer tests join it; a test with no history seen
    /// waiting (below 0.2) is lowered to what it uses, so that more can start beside
    /// it on a first run. A test with history is never lowered: its appetite is the
    /// most it has shown. A test that shares cores well, or probes, is left as it is:
    /// it spins on whatever CPU it is given, and its stretch, not its CPU, says what it
    /// needs.
    pub fn observed_demand(&mut self, slot: usize, cores: f64) {
        if !self.slot_busy.get(slot).copied().unwrap_or(false) || self.spins_on_what_it_gets(slot) {
            return;
        }
        let d = &mut self.slot_demand[slot];
        let used = if cores > 1.25 {
            cores.round()
        } else if cores > 0.5 {
            1.0
        } else {
            cores
        };
        let before = *d;
        if used > *d + 0.25 {
            *d = used;
        } else if !self.slot_known[slot] && cores < WAITING_BELOW {
            *d = d.min(cores.max(MIN_DEMAND));
        }
        self.changed |= *d != before;
    }

    fn fits(&self, test: &TestRef, free: usize) -> bool {
        let width = self.width(test);
        if width > free {
            return false;
        }
        if let Some(budget) = self.cpu_budget
            && self.running > 0
            && self.running_demand() + self.demand(test) > budget * (1.0 + DEMAND_SLACK) + 1e-9
        {
            return false;
        }
        self.fits_group(test)
    }

    /// Whether `test`'s test group has room for it.
    fn fits_group(&self, test: &TestRef) -> bool {
        let width = self.width(test);
        match &test.settings.test_group {
            Some(group) => {
                let limit = self.group_limit.get(group).copied().unwrap_or(usize::MAX);
                let used = self.group_running.get(group).copied().unwrap_or(0);
                // A test wider than its group's limit still runs, alone in the group.
                used == 0 || used + width <= limit
            }
            None => true,
        }
    }

    /// The next attempt to start, if one fits in the free slots and the run goes on.
    pub fn next_dispatch(&mut self) -> Option<Dispatch> {
        if self.cancelled || !self.changed {
            return None;
        }
        let free = self.slot_busy.iter().filter(|b| !**b).count();
        if free == 0 {
            return None;
        }
        let fitting = self.pending.iter().position(|(test, _)| self.fits(test, free));
        if fitting.is_none() {
            // Nothing fits until something changes; a probe may, and is looked for
            // below.
            self.changed = false;
        }
        // When nothing fits the budget, one test that asks to be measured under load
        // may start beyond it (see `plan::admission`).
        let (index, probe) = match fitting {
            Some(i) => (i, false),
            None => (
                self.pending.iter().position(|(test, attempt)| {
                    self.width(test) <= free && self.fits_group(test) && self.may_probe(test, *attempt)
                })?,
                true,
            ),
        };
        let (test, attempt) = self.pending.remove(index)?;
        let width = self.width(&test);
        let mut taken = self.slot_busy.iter().enumerate().filter(|(_, busy)| !**busy).map(|(i, _)| i).take(width);
        let slot = taken.next().expect("fits() checked the free slots");
        let rest: Vec<usize> = taken.collect();
        for s in std::iter::once(slot).chain(rest) {
            self.slot_busy[s] = true;
            self.slot_owner[s] = slot;
        }
        if let Some(group) = &test.settings.test_group {
            *self.group_running.entry(group.clone()).or_default() += width;
        }
        self.slot_demand[slot] = if probe { 0.0 } else { self.demand(&test) };
        if probe {
            // Another probe may fit the allowance too.
            self.changed = true;
            let full = self.demand(&test);
            self.probes.push(Probe { slot, full, alone: test.admission.alone, state: ProbeState::Probing });
        }
        self.slot_class[slot] = test.admission.class;
        // A batch or a doctest unit runs many tests: the first one's time says nothing.
        let watched = matches!(test.admission.class, Class::Busy | Class::Shares | Class::Collapses)
            && test.binary.doc.is_none()
            && !self.may_batch(&test);
        self.slot_alone[slot] = if watched && !probe && attempt == 1 { test.admission.alone } else { Duration::ZERO };
        self.slot_known[slot] = test.admission.class != Class::Unknown
            || width > 1
            || test.binary.doc.is_some()
            || (attempt == 1 && self.may_batch(&test));
        self.running += 1;
        let batch = if test.binary.doc.is_some() {
            // Doctests run through `cargo test --doc`, a unit (a package) at a time, never alone.
            Some(if attempt == 1 { self.gather_doc_unit(&test) } else { Arc::from([test.clone()]) })
        } else if attempt == 1 && self.may_batch(&test) {
            self.gather_batch(&test)
        } else {
            None
        };
        Some(Dispatch { test, attempt, slot, width, batch })
    }

    fn may_batch(&self, test: &TestRef) -> bool {
        self.batching && test.batchable && !self.alone.contains(&key(test))
    }

    /// Runs every test (doctests aside) in a process of its own: a batch captures
    /// its tests' output, which `--no-capture` passes through.
    pub fn disable_batching(&mut self) {
        self.changed = true;
        self.batching = false;
    }

    /// Gathers the tests that join `first` in a batch: first attempts of batchable
    /// tests of the same binary, environment and test group, in queue order, until the
    /// batch's expected duration reaches its share of the batchable work. Returns
    /// `None` when no test joins.
    fn gather_batch(&mut self, first: &TestRef) -> Option<Arc<[TestRef]>> {
        let compatible = |t: &TestRef| {
            Arc::ptr_eq(&t.binary, &first.binary)
                && Arc::ptr_eq(&t.env, &first.env)
                && t.settings.test_group == first.settings.test_group
        };
        let batchable_work: Duration = self
            .pending
            .iter()
            .filter(|(t, attempt)| *attempt == 1 && self.may_batch(t) && compatible(t))
            .map(|(t, _)| t.expected + BATCH_COST_PER_TEST)
            .sum::<Duration>()
            + first.expected
            + BATCH_COST_PER_TEST;
        let share = batchable_work / (self.slot_busy.len() as u32 * BATCHES_PER_SLOT);
        let target = share.clamp(MIN_BATCH, MAX_BATCH);
        let mut batch = vec![first.clone()];
        let mut expected = first.expected + BATCH_COST_PER_TEST;
        let mut arg_bytes = first.name.len();
        let mut i = 0;
        while i < self.pending.len() && batch.len() < MAX_BATCH_TESTS && expected < target {
            let (t, attempt) = &self.pending[i];
            if *attempt == 1 && self.may_batch(t) && compatible(t) && arg_bytes + t.name.len() < MAX_BATCH_ARG_BYTES {
                let (t, _) = self.pending.remove(i).expect("in range");
                expected += t.expected + BATCH_COST_PER_TEST;
                arg_bytes += t.name.len() + 1;
                batch.push(t);
            } else {
                i += 1;
            }
        }
        // A loud test runs under libtest's capture even with nobody to join it.
        (batch.len() > 1 || first.loud).then(|| batch.into())
    }

    /// Gathers the first attempts of every doctest of `first`'s unit: rustdoc
    /// runs them all whatever the filter, so they all take their results from it.
    fn gather_doc_unit(&mut self, first: &TestRef) -> Arc<[TestRef]> {
        let mut unit = vec![first.clone()];
        let mut i = 0;
        while i < self.pending.len() {
            let (t, attempt) = &self.pending[i];
            if *attempt == 1 && Arc::ptr_eq(&t.binary, &first.binary) {
                unit.push(self.pending.remove(i).expect("in range").0);
            } else {
                i += 1;
            }
        }
        unit.into()
    }

    /// Queues a test that failed, crashed or stalled in a batch to run again alone,
    /// ahead of tests not yet started; it is never batched again in this run.
    pub fn requeue_alone(&mut self, test: TestRef) {
        self.changed = true;
        self.alone.insert(key(&test));
        self.pending.push_front((test, 1));
    }

    /// Queues tests that a batch never reached, ahead of tests not yet started; they
    /// may be batched again.
    pub fn requeue(&mut self, tests: Vec<TestRef>) {
        self.changed = true;
        for test in tests.into_iter().rev() {
            self.pending.push_front((test, 1));
        }
    }

    /// Frees the slots of a finished attempt.
    pub fn finished(&mut self, dispatch: &Dispatch) {
        self.changed = true;
        self.slot_demand[dispatch.slot] = 0.0;
        self.probes.retain(|p| p.slot != dispatch.slot);
        for (busy, owner) in self.slot_busy.iter_mut().zip(&mut self.slot_owner) {
            if *owner == dispatch.slot {
                *busy = false;
                *owner = usize::MAX;
            }
        }
        if let Some(group) = &dispatch.test.settings.test_group
            && let Some(used) = self.group_running.get_mut(group)
        {
            *used -= dispatch.width;
        }
        self.running -= 1;
    }

    /// Queues another attempt of a test, ahead of tests not yet started.
    pub fn retry(&mut self, test: TestRef, attempt: u32) {
        self.changed = true;
        self.pending.push_front((test, attempt));
    }

    /// Stops handing out work; running attempts finish.
    pub fn cancel(&mut self) {
        self.changed = true;
        self.cancelled = true;
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Attempts running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Tests that were never started.
    pub fn not_started(&self) -> usize {
        self.pending.iter().filter(|(_, attempt)| *attempt == 1).count()
    }

    /// Whether nothing runs and nothing more will start.
    pub fn is_done(&self) -> bool {
        self.running == 0 && (self.cancelled || self.pending.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fake;

    fn names(dispatched: &[Dispatch]) -> Vec<&str> {
        dispatched.iter().map(|d| d.test.name.as_str()).collect()
    }

    fn drain(s: &mut Scheduler) -> Vec<Dispatch> {
        std::iter::from_fn(|| s.next_dispatch()).collect()
    }

    #[test]
    fn fills_the_lowest_free_slots_in_order() {
        let tests = ["a", "b", "c"].map(|n| fake::test(n, |_| {}));
        let mut s = Scheduler::new(tests, 2, HashMap::new(), false);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first.iter().map(|d| d.slot).collect::<Vec<_>>(), [0, 1]);
        s.finished(&first[0]);
        let next = drain(&mut s);
        assert_eq!((next[0].test.name.as_str(), next[0].slot), ("c", 0));
    }

    #[test]
    fn a_group_never_exceeds_its_max_threads_and_others_run_past_it() {
        let serial = |n: &str| fake::test(n, |s| s.test_group = Some("serial".into()));
        let tests = vec![serial("s1"), serial("s2"), fake::test("t_free", |_| {}), serial("u3")];
        let mut s = Scheduler::new(tests, 4, HashMap::from([(Arc::from("serial"), 1)]), false);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["s1", "t_free"], "s2 waits for s1; `t_free` is not blocked behind it");
        s.finished(&first[0]);
        let second = drain(&mut s);
        assert_eq!(names(&second), ["s2"]);
    }

    #[test]
    fn threads_required_takes_that_many_slots() {
        let tests =
            vec![fake::test("a_wide", |s| s.threads_required = 2), fake::test("b", |_| {}), fake::test("c", |_| {})];
        let mut s = Scheduler::new(tests, 3, HashMap::new(), false);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["a_wide", "b"]);
        assert_eq!((first[0].slot, first[0].width), (0, 2));
        assert_eq!(first[1].slot, 2);
        s.finished(&first[0]);
        let second = drain(&mut s);
        assert_eq!(names(&second), ["c"]);
        assert_eq!(second[0].slot, 0);
    }

    #[test]
    fn a_test_wider_than_the_pool_takes_the_whole_pool() {
        let mut s = Scheduler::new([fake::test("huge", |s| s.threads_required = 64)], 2, HashMap::new(), false);
        let d = drain(&mut s);
        assert_eq!(d[0].width, 2);
    }

    #[test]
    fn higher_priority_starts_first_and_ties_keep_their_order() {
        let tests = vec![
            fake::test("a", |_| {}),
            fake::test("b", |s| s.priority = 10),
            fake::test("c", |_| {}),
            fake::test("d", |s| s.priority = 10),
        ];
        let mut s = Scheduler::new(tests, 4, HashMap::new(), false);
        assert_eq!(names(&drain(&mut s)), ["b", "d", "a", "c"]);
    }

    #[test]
    fn the_longest_expected_tests_start_first() {
        let tests =
            vec![fake::timed("short", 10, false), fake::timed("long", 3000, false), fake::timed("mid", 400, false)];
        let mut s = Scheduler::new(tests, 3, HashMap::new(), false);
        assert_eq!(names(&drain(&mut s)), ["long", "mid", "short"]);
    }

    #[test]
    fn failed_first_beats_duration_but_not_priority() {
        let tests = vec![
            fake::timed("long", 3000, false),
            fake::timed("failed", 10, true),
            fake::test("urgent", |s| s.priority = 1),
        ];
        let mut s = Scheduler::new(tests.clone(), 3, HashMap::new(), true);
        assert_eq!(names(&drain(&mut s)), ["urgent", "failed", "long"]);
        let mut s = Scheduler::new(tests, 3, HashMap::new(), false);
        assert_eq!(names(&drain(&mut s)), ["urgent", "long", "failed"]);
    }

    fn batchable(name: &str, ms: u64) -> TestRef {
        let mut t = fake::timed(name, ms, false);
        Arc::get_mut(&mut t).unwrap().batchable = true;
        t
    }

    #[test]
    fn batchable_tests_of_one_binary_share_a_dispatch() {
        let mut tests: Vec<TestRef> = (0..10).map(|i| batchable(&format!("fast{i}"), 1)).collect();
        tests.push(fake::timed("slow", 5000, false));
        let mut s = Scheduler::new(tests, 2, HashMap::new(), false);
        let d = drain(&mut s);
        assert_eq!(names(&d), ["slow", "fast0"]);
        assert!(d[0].batch.is_none(), "an unbatchable test runs alone");
        let batch = d[1].batch.as_ref().expect("the fast tests form a batch");
        assert_eq!(batch.len(), 10, "10 ms of work is below the smallest batch worth splitting");
        assert!(Arc::ptr_eq(&batch[0], &d[1].test));
        assert!(s.pending.is_empty());
    }

    #[test]
    fn batchable_work_is_split_across_the_slots() {
        let tests: Vec<TestRef> = (0..100).map(|i| batchable(&format!("t{i:03}"), 10)).collect();
        let mut s = Scheduler::new(tests, 2, HashMap::new(), false);
        let d = drain(&mut s);
        let sizes: Vec<usize> = d.iter().map(|d| d.batch.as_ref().map_or(1, |b| b.len())).collect();
        // Each batch takes a quarter (2 slots, 2 batches each) of the batchable work
        // still queued, so batches shrink towards the end of the run, where balance matters.
        assert_eq!(sizes, [25, 19], "1 s, then 750 ms of work, over 2 slots");
        assert_eq!(s.not_started(), 56);
    }

    #[test]
    fn a_test_sent_back_from_a_batch_runs_alone() {
        let tests: Vec<TestRef> = (0..3).map(|i| batchable(&format!("t{i}"), 1)).collect();
        let mut s = Scheduler::new(tests, 1, HashMap::new(), false);
        let first = s.next_dispatch().unwrap();
        let batch = first.batch.clone().unwrap();
        s.finished(&first);
        s.requeue_alone(batch[1].clone());
        s.requeue(vec![batch[2].clone()]);
        let d = s.next_dispatch().unwrap();
        assert_eq!(d.test.name, "t2");
        assert!(d.batch.is_none(), "a lone unreached test has nobody to batch with");
        s.finished(&d);
        let d = s.next_dispatch().unwrap();
        assert_eq!(d.test.name, "t1");
        assert!(d.batch.is_none());
    }

    /// A test whose history holds one light run of `ms` at the CPU-to-wall `ratio`.
    fn with_ratio(name: &str, ms: u64, ratio: f64) -> TestRef {
        let runs = [crate::history::RunRecord {
            at: 0,
            duration_us: ms * 1000,
            cpu_us: (ms as f64 * 1000.0 * ratio) as u64,
            outcome: "pass".into(),
            attempts: 1,
            batched: false,
            pressure: Some(1.0),
            output_bytes: None,
            run: None,
        }];
        let history = crate::history::TestHistory { runs: runs.into_iter().collect(), ..Default::default() };
        let mut admission = crate::plan::admission::learn(&history);
        // These tests are about the charges; probing has tests of its own.
        admission.probe = false;
        with_admission(name, ms, admission)
    }

    fn with_admission(name: &str, ms: u64, admission: crate::plan::admission::Admission) -> TestRef {
        let mut t = fake::timed(name, ms, false);
        Arc::get_mut(&mut t).unwrap().admission = admission;
        t
    }

    #[test]
    fn adaptive_admission_stacks_waiting_tests_beside_busy_ones() {
        let tests = vec![
            with_ratio("busy_1", 900, 1.0),
            with_ratio("busy_2", 800, 0.95),
            with_ratio("busy_3", 700, 1.0),
            with_ratio("wait_1", 600, 0.01),
            with_ratio("wait_2", 500, 0.02),
            with_ratio("wait_3", 400, 0.0),
        ];
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["busy_1", "busy_2", "wait_1", "wait_2", "wait_3"], "busy_3 waits for a core");
        assert!(s.running_demand() <= 2.2 + 1e-9);
        s.finished(&first[0]);
        assert_eq!(names(&drain(&mut s)), ["busy_3"]);
    }

    #[test]
    fn a_multi_threaded_test_takes_whole_cores_and_two_never_share_too_few() {
        let tests = vec![with_ratio("spin_a", 900, 1.9), with_ratio("spin_b", 800, 1.8), with_ratio("wait", 100, 0.0)];
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        assert_eq!(s.demand(&with_ratio("x", 1, 1.5)), 2.0);
        assert_eq!(s.demand(&with_ratio("x", 1, 1.1)), 1.0, "start-up noise on a single-threaded test");
        assert_eq!(s.demand(&with_ratio("x", 1, 0.4)), 1.0, "a busy test that shared its core");
        assert_eq!(s.demand(&with_ratio("x", 1, 3.5)), 4.0);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["spin_a", "wait"], "spin_a takes both cores; only a waiting test joins it");
        s.finished(&first[0]);
        assert_eq!(names(&drain(&mut s)), ["spin_b"]);
    }

    #[test]
    fn unknown_tests_are_admitted_one_core_each_and_a_heavy_one_throttles() {
        let tests: Vec<TestRef> = (0..4).map(|i| fake::test(&format!("new_{i}"), |_| {})).collect();
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        let first = drain(&mut s);
        assert_eq!(first.len(), 2, "a test with no history counts as one busy core");
        s.finished(&first[1]);
        s.observed_demand(first[0].slot, 2.0);
        assert!(drain(&mut s).is_empty(), "the running test turned out to need both cores");
        s.finished(&first[0]);
        assert_eq!(drain(&mut s).len(), 2);
    }

    #[test]
    fn a_test_with_no_history_seen_waiting_lets_more_start() {
        let tests: Vec<TestRef> = (0..6).map(|i| fake::test(&format!("new_{i}"), |_| {})).collect();
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        let first = drain(&mut s);
        assert_eq!(first.len(), 2);
        for d in &first {
            s.observed_demand(d.slot, 0.01);
        }
        assert_eq!(drain(&mut s).len(), 2, "both turned out to wait: two more start, charged a core each");
        // A waiting test that starts computing is charged a core again.
        s.observed_demand(first[0].slot, 0.9);
        assert!(drain(&mut s).is_empty());
        // A test with history is not lowered below its appetite.
        let mut s =
            Scheduler::new(vec![with_ratio("busy", 100, 1.0), with_ratio("b2", 90, 1.0)], 8, HashMap::new(), false);
        s.set_cpu_budget(1.0);
        let d = drain(&mut s);
        assert_eq!(d.len(), 1);
        s.observed_demand(d[0].slot, 0.01);
        assert!(drain(&mut s).is_empty());
    }

    fn learned(class: Class, demand: f64, probe: bool) -> crate::plan::admission::Admission {
        crate::plan::admission::Admission { demand, probe, class, alone: Duration::from_millis(200), stretch: None }
    }

    /// Issue 14: lock and channel tests that spin while they wait share cores well,
    /// and are packed by the CPU they need to progress, not the CPU they burn.
    #[test]
    fn tests_that_share_cores_are_packed_by_their_learned_need() {
        let tests: Vec<TestRef> =
            (0..8).map(|i| with_admission(&format!("spin_{i}"), 900, learned(Class::Shares, 0.4, false))).collect();
        let mut s = Scheduler::new(tests, 16, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        let first = drain(&mut s);
        assert_eq!(first.len(), 5, "5 x 0.4 fits 2 cores with the slack, a sixth does not");
        // What they are seen burning does not raise their charge.
        s.observed_demand(first[0].slot, 1.0);
        assert!((s.running_demand() - 2.0).abs() < 1e-9);
        // A busy test of the same appetite would have been charged a core each.
        let busy: Vec<TestRef> =
            (0..8).map(|i| with_admission(&format!("busy_{i}"), 900, learned(Class::Busy, 1.0, false))).collect();
        let mut s = Scheduler::new(busy, 16, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        assert_eq!(drain(&mut s).len(), 2);
    }

    #[test]
    fn a_probe_starts_beyond_a_full_budget_one_at_a_time_and_pauses_when_it_hurts() {
        let tests = vec![
            with_admission("busy_a", 900, learned(Class::Busy, 1.0, false)),
            with_admission("busy_b", 800, learned(Class::Busy, 1.0, false)),
            with_admission("probe_a", 700, learned(Class::Busy, 1.0, true)),
            with_admission("probe_b", 600, learned(Class::Busy, 1.0, true)),
        ];
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        let first = drain(&mut s);
        assert_eq!(names(&first), ["busy_a", "busy_b", "probe_a"], "one probe beyond the budget, not two");
        let probe = first[2].slot;
        assert!((s.running_demand() - 2.0).abs() < 1e-9, "a probe is charged nothing");
        let at = |probe_ms: u64, others_ms: u64| {
            move |slot: usize| Duration::from_millis(if slot == probe { probe_ms } else { others_ms })
        };
        assert_eq!(s.probe_to_pause(at(500, 500)), None);
        assert_eq!(s.probe_to_pause(at(601, 100)), Some(probe), "the probe ran past 3 times its 200 ms alone");
        assert_eq!(s.probe_to_pause(at(100, 601)), Some(probe), "a busy test beside it did");
        s.pause_probe(probe);
        assert_eq!(s.probe_to_pause(at(5000, 5000)), None, "paused once");
        assert!((s.running_demand() - 3.0).abs() < 1e-9, "a paused probe is charged in full");
        assert_eq!(s.resume_probe(), None, "no room for it yet");
        // Nothing starts until the budget has room again, probe_b included: the paused
        // probe still counts against the allowance.
        s.finished(&first[0]);
        assert_eq!(s.resume_probe(), Some(probe));
        assert_eq!(s.resume_probe(), None, "resumed once");
        assert!(drain(&mut s).is_empty());
        s.finished(&first[2]);
        assert_eq!(names(&drain(&mut s)), ["probe_b"]);
    }

    /// The synthetic ping-pong spinners: two tests whose threads spin on each other
    /// collapse when they share too few cores, so neither may probe beside the other
    /// before either is proven to share, nor beside a test known to collapse.
    #[test]
    fn a_multi_threaded_probe_never_starts_beside_an_unproven_multi_threaded_test() {
        let tests = vec![
            with_admission("spin_a", 900, learned(Class::Busy, 2.0, true)),
            with_admission("spin_b", 800, learned(Class::Busy, 2.0, true)),
            with_admission("busy", 700, learned(Class::Busy, 1.0, true)),
        ];
        let mut s = Scheduler::new(tests, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        assert_eq!(names(&drain(&mut s)), ["spin_a", "busy"], "a single-threaded probe may join it");
        let shares = vec![
            with_admission("shares", 900, learned(Class::Shares, 2.0, false)),
            with_admission("spin", 800, learned(Class::Busy, 2.0, true)),
        ];
        let mut s = Scheduler::new(shares, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        assert_eq!(names(&drain(&mut s)), ["shares", "spin"], "beside a test proven to share, it may");
        let collapses = vec![
            with_admission("collapses", 900, learned(Class::Collapses, 1.0, false)),
            with_admission("busy", 800, learned(Class::Busy, 1.0, false)),
            with_admission("probe", 700, learned(Class::Busy, 1.0, true)),
        ];
        let mut s = Scheduler::new(collapses, 8, HashMap::new(), false);
        s.set_cpu_budget(2.0);
        assert_eq!(names(&drain(&mut s)), ["collapses", "busy"], "never beside a test known to collapse");
    }

    #[test]
    fn without_a_cpu_budget_nothing_probes() {
        let tests = vec![
            with_admission("busy", 900, learned(Class::Busy, 1.0, false)),
            with_admission("probe", 700, learned(Class::Busy, 1.0, true)),
        ];
        let mut s = Scheduler::new(tests, 1, HashMap::new(), false);
        assert_eq!(names(&drain(&mut s)), ["busy"]);
    }

    #[test]
    fn cancelling_stops_dispatch_and_counts_unstarted_tests() {
        let tests = ["a", "b", "c"].map(|n| fake::test(n, |_| {}));
        let mut s = Scheduler::new(tests, 1, HashMap::new(), false);
        let first = drain(&mut s);
        s.cancel();
        assert!(s.next_dispatch().is_none());
        s.finished(&first[0]);
        assert!(s.is_done());
        assert_eq!(s.not_started(), 2);
    }
}
