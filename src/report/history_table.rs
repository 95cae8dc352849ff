//! Prints the duration history for `cargo tempo history`: where the time goes, which
//! tests are getting slower, and which change outcome from run to run.

use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use super::style::escape_name;
use crate::history::{History, TestHistory};

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

/// The last run against the median of the earlier ones, as a signed percentage.
fn trend(h: &TestHistory) -> String {
    let Some(last) = h.runs.back() else { return "-".into() };
    let mut before: Vec<u64> = h.runs.iter().rev().skip(1).map(|r| r.duration_us).collect();
    if before.is_empty() {
        return "new".into();
    }
    before.sort_unstable();
    let median = before[before.len() / 2].max(1) as f64;
    format!("{:+.0}%", (last.duration_us as f64 - median) / median * 100.0)
}

// About 90 lines: one table, written top to bottom, whose columns share widths.
/// Writes the slowest `limit` tests and every test whose outcome changed.
pub fn write_history(out: &mut impl Write, history: &History, path: &Path, limit: usize) -> io::Result<()> {
    let mut tests: Vec<(&str, &str, &TestHistory)> = history
        .tests
        .iter()
        .flat_map(|(binary, tests)| tests.iter().map(move |(name, h)| (binary.as_str(), name.as_str(), h)))
        .collect();
    if tests.is_empty() {
        return writeln!(out, "no history yet in {}: run `cargo tempo run` first", path.display());
    }
    writeln!(out, "history of {} tests in {}", tests.len(), path.display())?;
    tests.sort_by_key(|(_, _, h)| std::cmp::Reverse(h.expected().unwrap_or_default()));
    writeln!(out, "\nslowest tests (median of the last runs)")?;
    writeln!(
        out,
        "  {:>9}  {:>9}  {:>6}  {:>5}  {:>5}  {:<15}  {:>7}  {:>4}  test",
        "median", "last", "trend", "cpu", "takes", "beside others", "runs in", "runs"
    )?;
    for (binary, name, h) in tests.iter().take(limit) {
        let name = escape_name(name);
        let last = h.runs.back().map_or(Duration::ZERO, |r| r.duration());
        // The learned CPU appetite (CPU time per wall time), the cores adaptive
        // concurrency charges the test, and what it learned of the test beside others:
        // its class, and the largest stretch seen under load with that run's pressure.
        let appetite = h.cpu_appetite();
        let cpu = appetite.map_or_else(|| "-".into(), |r| format!("{r:.2}"));
        let learned = crate::plan::admission::learn(h);
        let takes = format!("{:.2}", learned.demand);
        let beside = match learned.stretch {
            Some((s, p)) => format!("{} {s:.1}x@{p:.1}", learned.class.word()),
            None if learned.probe => format!("{} (probe)", learned.class.word()),
            None => learned.class.word().to_owned(),
        };
        let runs_in = if h.isolation_sensitive {
            "alone!"
        } else if h.runs.back().is_some_and(|r| r.batched) {
            "batch"
        } else {
            "process"
        };
        writeln!(
            out,
            "  {:>9}  {:>9}  {:>6}  {:>5}  {:>5}  {:<15}  {:>7}  {:>4}  {binary} {name}",
            secs(h.expected().unwrap_or_default()),
            secs(last),
            trend(h),
            cpu,
            takes,
            beside,
            runs_in,
            h.runs.len()
        )?;
    }
    writeln!(
        out,
        "  (cpu: CPU time per wall time, the most of the recorded runs; takes: the cores adaptive concurrency\n   \
         charges it; runs in: a batch or a process of its own, `alone!` once it failed only in a batch)"
    )?;
    if !history.runs.is_empty() {
        writeln!(out, "\nlast runs (CPU accounting)")?;
        writeln!(
            out,
            "  {:>9}  {:>9}  {:>11}  {:>12}  {:>6}  {:>6}  profile",
            "wall", "cpu", "utilization", "busy cores", "passed", "failed"
        )?;
        let skip = history.runs.len().saturating_sub(limit);
        for run in history.runs.iter().skip(skip) {
            let a = &run.accounting;
            writeln!(
                out,
                "  {:>8.3}s  {:>8.3}s  {:>10.0}%  {:>5.2} of {:<3}  {:>6}  {:>6}  {}",
                a.wall_s,
                a.cpu_s,
                a.cpu_utilization * 100.0,
                a.busy_cores,
                a.cores,
                run.passed,
                run.failed,
                run.profile
            )?;
        }
    }
    if !history.pending.is_empty() {
        let shards: Vec<String> =
            history.pending.iter().map(|p| format!("{}:{}/{}", p.kind, p.shard, p.total)).collect();
        writeln!(
            out,
            "\nshards whose records wait for the rest of their split: {} (settled once every shard has run)",
            shards.join(", ")
        )?;
    }
    let flaky: Vec<_> = tests.iter().filter(|(_, _, h)| h.is_flaky()).collect();
    writeln!(out, "\ntests whose outcome changed between runs: {}", flaky.len())?;
    for (binary, name, h) in flaky {
        let name = escape_name(name);
        let outcomes: Vec<&str> = h.runs.iter().map(|r| r.outcome.as_str()).collect();
        writeln!(out, "  {binary} {name}: {}", outcomes.join(" "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::RunRecord;
    use crate::report::style::hostile;

    /// Regression: a test name's control characters reached the terminal raw, in the
    /// slowest tests and in the changing outcomes alike.
    #[test]
    fn names_are_escaped() {
        let mut history = History::default();
        for (at, outcome) in [(1, "pass"), (2, "fail")] {
            let record = RunRecord::plain(at, 1000, 0, outcome);
            history.record("pkg", hostile::NAME, "pkg", record);
        }
        let mut out = Vec::new();
        write_history(&mut out, &history, Path::new("history.json"), 10).unwrap();
        hostile::assert_escaped(&out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches(hostile::SHOWN).count(), 2, "{text}");
    }
}
