//! Checks a finished run against its profile's performance budget, so that a suite
//! that got slower, or stopped using the machine it runs on, fails CI with an exit
//! code of its own instead of drifting unnoticed.
//!
//! A [`BudgetCollector`] rides along with the other reporters and notes each test's
//! final attempt against its `budget.slow` and whether the run was cancelled; once
//! the run is over, [`BudgetCheck::finish`] compares the run's [`RunStats`] with the
//! `wall` and `cpu-utilization` targets and prints one line per target.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::config::{Budget, Enforce};
use crate::events::Reporter;
use crate::events::{CancelReason, Event, RunStats, TestFinished};

/// A test whose final attempt took longer than its `budget.slow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowMiss {
    /// The test's binary id.
    pub binary_id: String,
    /// The test's name.
    pub name: String,
    /// How long its final attempt took.
    pub took: Duration,
    /// Its limit.
    pub limit: Duration,
}

/// What the collector saw during the run.
#[derive(Debug, Default)]
struct Seen {
    /// Tests that had a slow budget.
    slow_checked: usize,
    /// Of those, the ones that went over it.
    slow_misses: Vec<SlowMiss>,
    /// Why the run stopped early, if it did.
    cancelled: Option<CancelReason>,
}

/// Notes what the budget check needs from the run's events.
pub struct BudgetCollector(Arc<Mutex<Seen>>);

impl BudgetCollector {
    fn final_attempt(&self, f: &TestFinished) {
        let Some(limit) = f.test.settings.slow_budget else { return };
        let mut seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.slow_checked += 1;
        if f.result.duration > limit {
            seen.slow_misses.push(SlowMiss {
                binary_id: f.test.binary_id().to_string(),
                name: f.test.name.clone(),
                took: f.result.duration,
                limit,
            });
        }
    }
}

impl Reporter for BudgetCollector {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TestFinished(f) if !f.will_retry => self.final_attempt(f),
            Event::RetryAbandoned(f) => self.final_attempt(f),
            Event::RunCancelling { reason, .. } => {
                self.0.lock().unwrap_or_else(PoisonError::into_inner).cancelled.get_or_insert(*reason);
            }
            _ => {}
        }
        Ok(())
    }
}

/// One target's line: what was measured, against what, and whether it was met.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetResult {
    /// The key: `wall`, `cpu-utilization` or `slow`.
    pub key: &'static str,
    /// The measured value and the target, as shown.
    pub text: String,
    /// Whether the target was met.
    pub met: bool,
}

/// The outcome of a budget check.
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetReport {
    /// The run was not checked, for this reason.
    Skipped(&'static str),
    /// Every target was compared.
    Checked {
        /// One result per target, in the order they are printed.
        targets: Vec<TargetResult>,
        /// The tests that went over their slow budget.
        slow_misses: Vec<SlowMiss>,
        /// What a miss does.
        enforce: Enforce,
    },
}

impl BudgetReport {
    /// Compares a finished run with the budget.
    pub fn evaluate(budget: &Budget, stats: &RunStats, slow_checked: usize, slow_misses: Vec<SlowMiss>) -> Self {
        let mut targets = Vec::new();
        if let Some(wall) = budget.wall {
            targets.push(TargetResult {
                key: "wall",
                text: format!("{:.2}s <= {}", stats.wall.as_secs_f64(), humantime::format_duration(wall)),
                met: stats.wall <= wall,
            });
        }
        if let Some(min) = budget.cpu_utilization {
            let measured = stats.utilization();
            targets.push(TargetResult {
                key: "cpu-utilization",
                text: format!("{:.0}% >= {:.0}%", measured * 100.0, min * 100.0),
                met: measured >= min,
            });
        }
        if slow_checked > 0 {
            let over = slow_misses.len();
            targets.push(TargetResult {
                key: "slow",
                text: format!(
                    "{over} of {slow_checked} {} over {} slow limit",
                    if slow_checked == 1 { "test" } else { "tests" },
                    if slow_checked == 1 { "its" } else { "their" }
                ),
                met: over == 0,
            });
        }
        BudgetReport::Checked { targets, slow_misses, enforce: budget.enforce }
    }

    /// How many targets were missed.
    pub fn missed(&self) -> usize {
        match self {
            BudgetReport::Skipped(_) => 0,
            BudgetReport::Checked { targets, .. } => targets.iter().filter(|t| !t.met).count(),
        }
    }

    /// Whether the run fails because of the budget: a target was missed and
    /// `enforce` is `fail`.
    pub fn fails_run(&self) -> bool {
        matches!(self, BudgetReport::Checked { enforce: Enforce::Fail, .. }) && self.missed() > 0
    }

    /// Writes one line per target, the tests over their slow limit, and what a miss means.
    pub fn write(&self, out: &mut impl Write, profile: &str) -> io::Result<()> {
        let (targets, slow_misses, enforce) = match self {
            BudgetReport::Skipped(why) => return writeln!(out, "budget: not checked, because {why}"),
            BudgetReport::Checked { targets, slow_misses, enforce } => (targets, slow_misses, enforce),
        };
        let width = targets.iter().map(|t| t.key.len() + t.text.len()).max().unwrap_or(0);
        for t in targets {
            let pad = width - t.key.len() - t.text.len();
            writeln!(out, "budget: {} {}{:pad$}  {}", t.key, t.text, "", if t.met { "pass" } else { "FAIL" })?;
        }
        for m in slow_misses {
            writeln!(
                out,
                "budget:   {} {} took {:.3}s > {}",
                m.binary_id,
                m.name,
                m.took.as_secs_f64(),
                humantime::format_duration(m.limit)
            )?;
        }
        let missed = self.missed();
        if missed == 0 {
            return Ok(());
        }
        let of = format!("{missed} of {} budget target{}", targets.len(), if targets.len() == 1 { "" } else { "s" });
        match enforce {
            Enforce::Fail => writeln!(out, "error: failed to meet {of} of profile `{profile}`"),
            Enforce::Warn => writeln!(
                out,
                "warning: missed {of} of profile `{profile}`; the run passes because budget.enforce = \"warn\""
            ),
        }
    }
}

/// A budget to check after the run, with the collector that watches it.
pub struct BudgetCheck {
    budget: Budget,
    profile: String,
    seen: Arc<Mutex<Seen>>,
}

impl BudgetCheck {
    /// A check for `profile`'s budget, if it has any target; `slow_overrides` says
    /// whether some override sets a per-test `budget.slow`.
    pub fn new(profile: &crate::config::Profile) -> Option<BudgetCheck> {
        let slow_overrides = profile.overrides.iter().any(|o| o.slow_budget.is_some());
        (profile.budget.has_targets() || slow_overrides).then(|| BudgetCheck {
            budget: profile.budget,
            profile: profile.name.clone(),
            seen: Arc::default(),
        })
    }

    /// The reporter that notes slow tests and cancellations during the run.
    pub fn collector(&self) -> Box<dyn Reporter> {
        Box::new(BudgetCollector(self.seen.clone()))
    }

    /// Checks the finished run and prints the result to `out`. A run that was cancelled
    /// or whose build failed is not checked: its times say nothing about the suite.
    pub fn finish(&self, stats: &RunStats, build_failed: bool, out: &mut impl Write) -> io::Result<BudgetReport> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        // A bug in tempo comes first: the run passes it on as its error, as it does a
        // failed build's.
        let skipped = if matches!(seen.cancelled, Some(CancelReason::InternalError)) {
            Some("tempo hit a bug")
        } else if build_failed || matches!(seen.cancelled, Some(CancelReason::BuildFailed)) {
            Some("the build failed")
        } else if stats.signal.is_some() || matches!(seen.cancelled, Some(CancelReason::Signal(_))) {
            Some("the run was interrupted")
        } else if seen.cancelled.is_some() {
            Some("fail-fast stopped the run early")
        } else {
            None
        };
        let report = match skipped {
            Some(why) => BudgetReport::Skipped(why),
            None => {
                BudgetReport::evaluate(&self.budget, stats, seen.slow_checked, std::mem::take(&mut seen.slow_misses))
            }
        };
        report.write(out, &self.profile)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(wall_ms: u64, cpu_ms: u64, cores: usize) -> RunStats {
        RunStats {
            wall: Duration::from_millis(wall_ms),
            cpu: Duration::from_millis(cpu_ms),
            cores,
            ..RunStats::default()
        }
    }

    fn budget(wall: Option<u64>, cpu: Option<f64>, enforce: Enforce) -> Budget {
        Budget { wall: wall.map(Duration::from_millis), cpu_utilization: cpu, slow: None, enforce }
    }

    fn render(report: &BudgetReport) -> String {
        let mut out = Vec::new();
        report.write(&mut out, "ci").unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn targets_are_met_at_their_limit() {
        // 4 s of CPU over 5 s on 1 core is 80% exactly: `>=` and `<=` both meet.
        let report =
            BudgetReport::evaluate(&budget(Some(5000), Some(0.8), Enforce::Fail), &stats(5000, 4000, 1), 0, vec![]);
        assert_eq!(report.missed(), 0);
        assert!(!report.fails_run());
    }

    #[test]
    fn a_miss_fails_the_run_unless_enforce_is_warn() {
        let s = stats(9840, 12200, 2);
        let fail = BudgetReport::evaluate(&budget(Some(11_000), Some(0.8), Enforce::Fail), &s, 0, vec![]);
        assert_eq!(fail.missed(), 1, "62% utilization is under 80%");
        assert!(fail.fails_run());
        let warn = BudgetReport::evaluate(&budget(Some(11_000), Some(0.8), Enforce::Warn), &s, 0, vec![]);
        assert_eq!(warn.missed(), 1);
        assert!(!warn.fails_run());
    }

    #[test]
    fn a_skipped_check_never_fails() {
        assert!(!BudgetReport::Skipped("the run was interrupted").fails_run());
    }

    #[test]
    fn budget_lines() {
        let misses = vec![SlowMiss {
            binary_id: "retrying".into(),
            name: "steady_00".into(),
            took: Duration::from_millis(301),
            limit: Duration::from_millis(100),
        }];
        let b = Budget { slow: Some(Duration::from_secs(1)), ..budget(Some(11_000), Some(0.8), Enforce::Fail) };
        let fail = BudgetReport::evaluate(&b, &stats(9840, 12200, 2), 3, misses);
        let warn = BudgetReport::evaluate(&budget(Some(1), None, Enforce::Warn), &stats(310, 5, 2), 0, vec![]);
        let pass = BudgetReport::evaluate(&budget(Some(600_000), None, Enforce::Fail), &stats(310, 5, 2), 0, vec![]);
        let skipped = BudgetReport::Skipped("the run was interrupted");
        let text = [fail, warn, pass, skipped].iter().map(render).collect::<Vec<_>>().join("---\n");
        insta::assert_snapshot!(text);
    }
}
