//! Learns from a test's history how much of the machine it needs when it runs beside
//! others, so that adaptive concurrency packs the tests that share cores well and keeps
//! apart the ones that collapse.
//!
//! A test's CPU share says little about that: a test whose threads spin or yield while
//! they wait (lock, channel and condvar tests) shows 1.8 cores alone, yet its wall time
//! hardly changes when it shares them, while two threads that spin on each other run
//! 0.06 s alone and 27 s beside another such test. What tells them apart is **stretch**:
//! how much a test's wall time grows when it runs under load, against its time alone or
//! lightly loaded. Every run is an experiment: each record holds its wall time, its CPU
//! time and the CPU pressure it ran under (the machine's runnable threads per core), and
//! [`learn`] reads the records as follows.
//!
//! - The **baseline** is the least pressure the test was measured under (a test of many
//!   spinning threads loads the machine by itself). The **time alone** is the shortest
//!   wall time of a run at light pressure (at most [`LIGHT`] times the baseline), and
//!   the **appetite** the highest CPU-to-wall ratio of those runs.
//! - A run under load (at least [`LOADED`] times the baseline: that is its pressure `p`
//!   below) stretched `s` = its wall time over the time alone. A test that keeps its cores busy is slowed in proportion to the
//!   pressure `p`, `s ≈ p`. One that **shares** stays well below (at most halfway from
//!   1 to `p`): it is charged the CPU it used per second of progress, its CPU time over
//!   its time alone, in the sharing run of the lowest pressure: what it takes from the
//!   others at about the pressure adaptive admission keeps.
//!   One whose stretch **collapses** (at least 3 and twice the pressure) is charged its
//!   full appetite from then on, and never probed again.
//! - With no run under load yet, there is no evidence of sharing: the test is charged its
//!   appetite, and, unless it keeps exactly one core busy (a CPU-bound test, whose charge
//!   could not fall), **probed**: it may start beyond the CPU budget, charged nothing, when
//!   nothing else fits (a few at a time, see `schedule::Scheduler`), so that the run
//!   measures it under load. The scheduler pauses a probe that hurts (see `Probe`).

use std::time::Duration;

use crate::history::{RunRecord, TestHistory};

/// Below this CPU-to-wall ratio a test mostly waits: it sleeps, or waits on I/O or
/// another process.
pub const WAITING_BELOW: f64 = 0.2;
/// The least CPU a test is charged: even a test that only waits costs its process's
/// start and its harness.
pub const MIN_DEMAND: f64 = 0.02;
/// The least a test that uses the CPU is charged, however well it shared: a test
/// charged nothing would be admitted without limit.
pub const MIN_SHARED_DEMAND: f64 = 0.1;
/// A run at this CPU pressure or below, relative to the test's baseline (the least it
/// was measured under), ran alone or lightly loaded.
pub const LIGHT: f64 = 1.25;
/// A run at this CPU pressure or above, relative to the baseline, ran under load: its
/// stretch is evidence.
pub const LOADED: f64 = 1.4;
/// A run shorter than this says more about process start-up than about the test.
const MEASURABLE: Duration = Duration::from_millis(1);
/// An appetite in this range keeps one core busy: a CPU-bound single-threaded test,
/// which is not probed (see [`learn`]).
const PEGS_ONE_CORE: std::ops::RangeInclusive<f64> = 0.9..=1.2;
/// A test shorter than this alone is not worth probing: whatever it learns, it saves
/// less than the probe may cost.
const PROBE_FROM: Duration = Duration::from_millis(20);
/// A stretch this large, and twice the pressure, is a collapse.
const COLLAPSE_STRETCH: f64 = 3.0;
/// A collapse must also cost this much wall time, so that noise on short tests (a
/// 2 ms test taking 7 ms) is not taken for one.
const COLLAPSE_COST: Duration = Duration::from_millis(50);

/// How a test behaves beside others, as learned from its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// No run long enough to measure: charged one core, as cautious as `num-cpus`.
    Unknown,
    /// It mostly waits: charged the CPU it uses.
    Waiting,
    /// It keeps its cores busy: under load it is slowed in proportion.
    Busy,
    /// It ran under load with little stretch: charged the CPU it needs to progress.
    Shares,
    /// Its wall time exploded beside others: charged its full appetite, never probed.
    Collapses,
}

impl Class {
    /// The word `history` and `show-config` print.
    pub fn word(self) -> &'static str {
        match self {
            Class::Unknown => "unknown",
            Class::Waiting => "waits",
            Class::Busy => "busy",
            Class::Shares => "shares",
            Class::Collapses => "collapses",
        }
    }
}

/// What adaptive concurrency charges a test, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    /// The cores it is charged.
    pub demand: f64,
    /// Whether it asks to be measured under load: one such test at a time may start
    /// beyond the CPU budget (see `schedule::Scheduler`).
    pub probe: bool,
    /// How it behaves beside others.
    pub class: Class,
    /// Its shortest wall time at light pressure (or at any, if it never ran light).
    pub alone: Duration,
    /// The largest stretch seen under load, and the pressure of that run relative to
    /// the baseline.
    pub stretch: Option<(f64, f64)>,
}

impl Admission {
    /// The admission of a test with no history: one core, as cautious as `num-cpus`.
    pub const UNKNOWN: Admission =
        Admission { demand: 1.0, probe: false, class: Class::Unknown, alone: Duration::ZERO, stretch: None };
}

/// One line on what adaptive concurrency learned of a set of tests: how many fall in
/// each class, and what the ones that share cores are charged on average.
pub fn summary<'a>(admissions: impl IntoIterator<Item = &'a Admission>) -> String {
    let mut counts = [0usize; 5];
    let mut shared = 0.0;
    for a in admissions {
        counts[a.class as usize] += 1;
        if a.class == Class::Shares {
            shared += a.demand;
        }
    }
    let [unknown, waiting, busy, shares, collapses] = counts;
    let mut parts = vec![format!("{busy} busy (a core each)"), format!("{waiting} waiting")];
    if shares > 0 {
        parts.push(format!("{shares} sharing cores ({:.2} cores each on average)", shared / shares as f64));
    }
    if collapses > 0 {
        parts.push(format!("{collapses} collapsing beside others (kept apart)"));
    }
    if unknown > 0 {
        parts.push(format!("{unknown} not measured yet"));
    }
    parts.join(", ")
}

/// The cores a single-slot test is charged from its appetite `r` (its CPU-to-wall
/// ratio alone): a test that mostly waits is charged `r`; up to 1.2, one core (a
/// single-threaded busy test measures anything from 0.3 on a loaded machine to 1.1
/// with its process's start-up); above, `ceil(r)` whole cores with the same 0.2
/// allowance for noise.
pub fn demand_of(appetite: f64) -> f64 {
    if appetite < WAITING_BELOW {
        appetite.max(MIN_DEMAND)
    } else if appetite <= 1.2 {
        1.0
    } else {
        (appetite - 0.2).ceil()
    }
}

/// The wall time a run would have taken at light pressure, at the most: a run under
/// pressure `p` is shortened by `p` (a busy test's stretch), so that a test measured
/// while other work loaded the machine is not taken for a long one.
pub fn unloaded(record: &RunRecord) -> Duration {
    match record.pressure {
        Some(p) if p > LIGHT => Duration::from_secs_f64(record.duration().as_secs_f64() / p),
        _ => record.duration(),
    }
}

/// A stretch this large, and four times the pressure, is a collapse beyond doubt: the
/// history marks the test for good (`TestHistory::collapses`). The ping-pong spinners
/// stretch 450 times at twice the pressure. A milder collapse is judged from the
/// records alone, so that a misjudgement ages out with them.
const MARKED_STRETCH: f64 = 10.0;

/// Whether the records show a collapse beyond doubt (see [`MARKED_STRETCH`]): the
/// history then marks the test, and it is never probed again.
pub fn collapsed(h: &TestHistory) -> bool {
    let learned = learn(h);
    learned.class == Class::Collapses && learned.stretch.is_some_and(|(s, p)| s >= MARKED_STRETCH && s >= 4.0 * p)
}

/// Reads a test's history into its admission (see the module's documentation).
pub fn learn(h: &TestHistory) -> Admission {
    let measurable: Vec<&RunRecord> = h.runs.iter().filter(|r| r.duration() >= MEASURABLE).collect();
    if measurable.is_empty() {
        return Admission::UNKNOWN;
    }
    // The baseline is the least pressure the test was measured under, not an absolute
    // one: a test of twenty threads that spin before they park (parking_lot's
    // producer and consumer tests) puts the pressure at 10 on two cores by itself, and
    // a history learned while other work loaded the machine never saw it idle. A run
    // without a reading (a batch's, an older file's) counts as light.
    let base = measurable.iter().filter_map(|r| r.pressure).fold(f64::INFINITY, f64::min).max(1.0);
    let base = if base.is_finite() { base } else { 1.0 };
    let pressure = |r: &RunRecord| r.pressure.map_or(base, |p| p.max(1.0));
    let light: Vec<&RunRecord> = measurable.iter().filter(|r| pressure(r) <= base * LIGHT).copied().collect();
    // A thread under pressure `p` gets about `1/p` of a core, so a busy test measured
    // only under other work's pressure shows a deflated ratio: times `p`, it is
    // lifted to the one core it would have used, but never beyond, since the
    // pressure may be the test's own threads, and a waiting test's ratio times it
    // would overstate it. The sampled CPU of a running test catches what this misses
    // (`Scheduler::observed_demand`).
    let lifted = |r: &RunRecord| {
        let raw = ratio(r);
        if pressure(r) > LIGHT { raw.max((raw * pressure(r)).min(1.0)) } else { raw }
    };
    let appetite = light.iter().map(|r| lifted(r)).fold(0.0, f64::max);
    let alone = light.iter().map(|r| r.duration()).min().unwrap_or_default();
    let charge = demand_of(appetite);
    let mut admission = Admission { demand: charge, probe: false, class: Class::Busy, alone, stretch: None };
    if appetite < WAITING_BELOW {
        admission.class = Class::Waiting;
        return admission;
    }
    let alone_s = alone.as_secs_f64().max(1e-6);
    // The run that shared at the lowest pressure: its CPU is what the test takes at
    // about the pressure adaptive admission keeps (a fully charged budget, and a
    // probe or two). A spinner takes whatever it is given, so a run at a pressure far
    // above that would make it look cheaper than it is beside a few others.
    let mut shared: Option<(f64, f64)> = None;
    let mut collapse = h.collapses;
    for r in measurable.iter().filter(|r| r.passed()) {
        // The pressure relative to the baseline: what others added.
        let p = pressure(r) / base;
        if p < LOADED {
            continue;
        }
        let s = r.duration().as_secs_f64() / alone_s;
        if admission.stretch.is_none_or(|(worst, _)| s > worst) {
            admission.stretch = Some((s, p));
        }
        if s >= COLLAPSE_STRETCH && s >= 2.0 * p && r.duration().saturating_sub(alone) >= COLLAPSE_COST {
            collapse = true;
        } else if s <= 1.0 + 0.5 * (p - 1.0) {
            let per_progress = r.cpu_us as f64 / 1e6 / alone_s;
            if shared.is_none_or(|(lowest, _)| p < lowest) {
                shared = Some((p, per_progress));
            }
        }
    }
    if collapse {
        admission.class = Class::Collapses;
        return admission;
    }
    let worthwhile = alone >= PROBE_FROM;
    match shared {
        Some((_, need)) if need < charge * 0.9 => {
            admission.class = Class::Shares;
            admission.demand = need.max(MIN_SHARED_DEMAND);
        }
        // A test that keeps one core busy alone is charged that core either way, so
        // probing it could only find a spinner among CPU-bound tests, at the cost of
        // a third test on two cores in every run that probes: measured on the
        // synthetic `cpubound` suite, 6.29 s against 5.29 s before probing.
        _ => admission.probe = admission.stretch.is_none() && worthwhile && !PEGS_ONE_CORE.contains(&appetite),
    }
    admission
}

/// A run's CPU time over its wall time.
fn ratio(r: &RunRecord) -> f64 {
    r.cpu_us as f64 / (r.duration_us.max(1)) as f64
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A passing run of `ms` milliseconds that used `cpu_ms` of CPU under `pressure`.
    fn run(ms: u64, cpu_ms: u64, pressure: Option<f64>) -> RunRecord {
        RunRecord {
            at: 0,
            duration_us: ms * 1000,
            cpu_us: cpu_ms * 1000,
            outcome: "pass".into(),
            attempts: 1,
            batched: false,
            pressure,
            output_bytes: None,
            run: None,
        }
    }

    fn history(runs: impl IntoIterator<Item = RunRecord>) -> TestHistory {
        TestHistory { runs: runs.into_iter().collect::<VecDeque<_>>(), ..TestHistory::default() }
    }

    #[test]
    fn no_measurable_run_is_unknown_and_charged_one_core() {
        assert_eq!(learn(&history([])), Admission::UNKNOWN);
        assert_eq!(learn(&history([run(0, 0, None)])).class, Class::Unknown);
    }

    #[test]
    fn a_test_that_mostly_waits_is_charged_what_it_uses_and_never_probed() {
        let a = learn(&history([run(400, 8, Some(1.0))]));
        assert_eq!(a.class, Class::Waiting);
        assert!((a.demand - 0.02).abs() < 1e-9, "{a:?}");
        assert!(!a.probe);
    }

    #[test]
    fn a_busy_test_seen_only_at_light_load_is_probed_unless_it_pegs_one_core() {
        let a = learn(&history([run(200, 120, Some(1.0)), run(210, 120, None)]));
        assert_eq!(a.class, Class::Busy);
        assert_eq!(a.demand, 1.0);
        assert!(a.probe, "0.6 of a core: maybe it waits between bursts");
        assert_eq!(a.alone, Duration::from_millis(200));
        let pegs = learn(&history([run(200, 198, Some(1.0))]));
        assert!(!pegs.probe, "a CPU-bound test's charge could not fall");
        let spins = learn(&history([run(200, 360, Some(1.0))]));
        assert!(spins.probe, "two threads: maybe they spin");
    }

    #[test]
    fn a_busy_test_stretched_in_proportion_to_the_load_stays_busy_and_is_not_probed_again() {
        let a = learn(&history([run(200, 198, Some(1.0)), run(400, 200, Some(2.0))]));
        assert_eq!(a.class, Class::Busy);
        assert_eq!(a.demand, 1.0);
        assert!(!a.probe);
        assert_eq!(a.stretch, Some((2.0, 2.0)));
    }

    /// crossbeam's and parking_lot's tests: two threads that spin or yield while they
    /// wait show 1.8 cores alone, and hardly slow down beside others.
    #[test]
    fn a_spinning_test_that_hardly_stretches_under_load_shares_and_is_charged_its_progress() {
        let a = learn(&history([run(1000, 1800, Some(1.0)), run(1200, 600, Some(3.0))]));
        assert_eq!(a.class, Class::Shares);
        assert!((a.demand - 0.6).abs() < 1e-9, "{a:?}");
        assert!(!a.probe, "it was measured under load");
        // A run at a far higher pressure, where it got less CPU, does not lower it.
        let deep = learn(&history([run(1000, 1800, Some(1.0)), run(1200, 600, Some(3.0)), run(1300, 150, Some(12.0))]));
        assert!((deep.demand - 0.6).abs() < 1e-9, "{deep:?}");
        assert_eq!(deep.stretch, Some((1.3, 12.0)), "the largest stretch is still shown");
    }

    /// The synthetic ping-pong spinners: 60 ms alone, 27 s beside another.
    #[test]
    fn a_test_whose_wall_time_explodes_beside_others_collapses_and_is_never_probed() {
        let h = history([run(60, 118, Some(1.0)), run(27_000, 50_000, Some(2.0))]);
        let a = learn(&h);
        assert_eq!(a.class, Class::Collapses);
        assert_eq!(a.demand, 2.0);
        assert!(!a.probe);
        assert!(collapsed(&h));
        // A milder one is judged from the records alone, and not marked for good.
        let mild = history([run(200, 200, Some(1.0)), run(900, 300, Some(1.5))]);
        assert_eq!(learn(&mild).class, Class::Collapses);
        assert!(!collapsed(&mild));
        // Once marked, it stays apart even when the collapsing run has aged out.
        let marked = TestHistory { collapses: true, ..history([run(60, 118, Some(1.0))]) };
        assert_eq!(learn(&marked).class, Class::Collapses);
        assert!(!learn(&marked).probe);
    }

    #[test]
    fn noise_on_a_short_test_is_not_a_collapse() {
        let a = learn(&history([run(2, 2, Some(1.0)), run(9, 3, Some(2.0))]));
        assert_ne!(a.class, Class::Collapses);
    }

    /// The bytes benchmark of issue 13: a history learned while seven builds loaded
    /// the machine must not make a busy test look long, waiting or elastic.
    #[test]
    fn a_history_learned_under_outside_load_is_read_as_if_alone() {
        // A busy test given a fifth of a core: 1 s of wall for 0.2 s of CPU.
        let a = learn(&history([run(1000, 200, Some(5.0)), run(1000, 210, Some(5.0))]));
        assert_eq!(a.class, Class::Busy, "{a:?}");
        assert_eq!(a.demand, 1.0);
        assert_eq!(a.alone, Duration::from_millis(1000), "the least loaded runs are the baseline");
        assert_eq!(a.stretch, None, "no run more loaded than the baseline");
        assert!(!a.probe, "lifted to one busy core, it is not probed");
        // A waiting test stays waiting, and a busy test is never lifted past a core.
        assert_eq!(learn(&history([run(1000, 10, Some(5.0))])).class, Class::Waiting);
        assert_eq!(learn(&history([run(1000, 900, Some(5.0))])).demand, 1.0);
        // Against a light run, the same loaded run is a busy test's stretch.
        let b = learn(&history([run(200, 198, Some(1.0)), run(1000, 200, Some(5.0))]));
        assert_eq!(b.class, Class::Busy, "{b:?}");
        assert_eq!(b.stretch, Some((5.0, 5.0)));
    }

    /// parking_lot's producer and consumer tests: twenty threads that spin before they
    /// park put the pressure at 10 by themselves. Their stretch is measured against
    /// what others add to that.
    #[test]
    fn a_test_that_loads_the_machine_by_itself_is_measured_against_its_own_pressure() {
        let alone = run(3700, 6900, Some(10.0));
        let beside = run(4000, 3000, Some(20.0));
        let a = learn(&history([alone.clone(), beside]));
        assert_eq!(a.class, Class::Shares, "{a:?}");
        assert!((a.demand - 3.0 / 3.7).abs() < 1e-9, "{a:?}");
        let (s, p) = a.stretch.unwrap();
        assert!((s - 4.0 / 3.7).abs() < 1e-9 && (p - 2.0).abs() < 1e-9, "{a:?}");
        // The same run at twice its own pressure that took twice as long is busy.
        let busy = learn(&history([alone, run(7400, 6900, Some(20.0))]));
        assert_eq!(busy.class, Class::Busy, "{busy:?}");
        assert_eq!(busy.demand, 2.0);
    }

    #[test]
    fn a_loaded_run_counts_for_batching_at_its_unloaded_duration() {
        let r = run(400, 100, Some(4.0));
        assert_eq!(unloaded(&r), Duration::from_millis(100));
        assert_eq!(unloaded(&run(400, 100, Some(1.0))), Duration::from_millis(400));
        assert_eq!(unloaded(&run(400, 100, None)), Duration::from_millis(400));
    }

    #[test]
    fn a_multi_threaded_busy_test_is_charged_whole_cores() {
        let a = learn(&history([run(500, 1000, Some(1.0)), run(1000, 1000, Some(2.0))]));
        assert_eq!(a.class, Class::Busy);
        assert_eq!(a.demand, 2.0);
    }
}
