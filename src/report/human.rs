//! The terminal reporter: a status line per finished test, failure output, and the summary.
//!
//! The layout follows cargo-nextest's, so that people moving over read it at a glance.
//! The last line is always `tempo: N passed, N failed, N skipped`, which CI log
//! scrapers read.

use std::io::{self, Write};
use std::time::Duration;

use anstyle::Style;

use super::style::{Styles, escape_name, sanitize};
use crate::config::{FinalStatusLevel, OutputMode, StatusLevel};
use crate::events::{CancelReason, Event, ExecutionResult, ExitStatus, Outcome, RunStats, RunningTest, TestFinished};
use crate::events::{Reporter, signal_name};
use crate::plan::TestInstance;

/// What the terminal shows, from the profile and the command line.
#[derive(Debug, Clone)]
pub struct HumanOptions {
    /// Paint statuses.
    pub colored: bool,
    /// The output is a terminal: let test output's control codes through.
    pub terminal: bool,
    /// Which statuses are printed as tests finish.
    pub status_level: StatusLevel,
    /// Which statuses are repeated at the end.
    pub final_status_level: FinalStatusLevel,
    /// Overrides every test's `success-output`.
    pub success_output: Option<OutputMode>,
    /// Overrides every test's `failure-output`.
    pub failure_output: Option<OutputMode>,
    /// The HTML report the run writes, named in a `Report` line just before the
    /// last line, so that the summary stays last.
    pub report: Option<std::path::PathBuf>,
}

impl Default for HumanOptions {
    fn default() -> Self {
        HumanOptions {
            colored: false,
            terminal: false,
            status_level: StatusLevel::Pass,
            final_status_level: FinalStatusLevel::Flaky,
            success_output: None,
            failure_output: None,
            report: None,
        }
    }
}

/// Writes human-readable progress and results.
pub struct HumanReporter<W: Write> {
    out: W,
    styles: Styles,
    options: HumanOptions,
    /// Finished tests the summary repeats, in the order they finished.
    finals: Vec<TestFinished>,
    cancel: Option<CancelReason>,
    skipped: Vec<(crate::test_id::BinaryId, String)>,
}

/// The status level at which a finished attempt is shown as it happens.
fn status_level_of(f: &TestFinished) -> StatusLevel {
    match f.result.outcome {
        _ if f.will_retry => StatusLevel::Retry,
        Outcome::Pass if f.result.leaked => StatusLevel::Leak,
        Outcome::Pass => StatusLevel::Pass,
        _ => StatusLevel::Fail,
    }
}

/// The final status level at which a finished test is repeated in the summary.
fn final_level_of(f: &TestFinished) -> FinalStatusLevel {
    match f.result.outcome {
        Outcome::Pass if f.attempt > 1 => FinalStatusLevel::Flaky,
        Outcome::Pass => FinalStatusLevel::Pass,
        _ => FinalStatusLevel::Fail,
    }
}

impl<W: Write> HumanReporter<W> {
    /// A reporter writing to `out`.
    pub fn new(out: W, options: HumanOptions) -> Self {
        HumanReporter {
            out,
            styles: if options.colored { Styles::colored() } else { Styles::default() },
            options,
            finals: Vec::new(),
            cancel: None,
            skipped: Vec::new(),
        }
    }

    fn output_mode(&self, f: &TestFinished) -> OutputMode {
        if f.result.outcome.is_success() {
            self.options.success_output.unwrap_or(f.test.settings.success_output)
        } else {
            self.options.failure_output.unwrap_or(f.test.settings.failure_output)
        }
    }

    /// Notes skipped tests for the summary and shows them at status level `skip`.
    fn skipped_now(&mut self, tests: &[(crate::test_id::BinaryId, String)]) -> io::Result<()> {
        self.skipped.extend(tests.iter().cloned());
        if self.options.status_level >= StatusLevel::Skip {
            for (binary_id, name) in tests {
                self.skip_line(binary_id, name)?;
            }
        }
        Ok(())
    }

    fn skip_line(&mut self, binary_id: &crate::test_id::BinaryId, name: &str) -> io::Result<()> {
        let (style, b) = (self.styles.skip, self.styles.binary);
        let name = escape_name(name);
        writeln!(self.out, "{style}{:>12}{style:#} [         ] {b}{binary_id}{b:#} {name}", "SKIP")
    }

    fn status_line(
        &mut self,
        label: &str,
        style: Style,
        duration: Duration,
        test: &TestInstance,
        note: &str,
    ) -> io::Result<()> {
        let s = &self.styles;
        writeln!(
            self.out,
            "{style}{label:>12}{style:#} [{:>8.3}s] {}{}{:#} {}{note}",
            duration.as_secs_f64(),
            s.binary,
            test.binary_id(),
            s.binary,
            escape_name(&test.name),
        )
    }

    fn write_output(&mut self, finished: &TestFinished) -> io::Result<()> {
        let r = &finished.result;
        let test = &finished.test;
        let style = self.styles.fail;
        if let Some(error) = &r.error {
            let name = escape_name(&test.name);
            writeln!(self.out, "{style}--- ERROR: {:>13}{style:#} {} {name}\n{error}", "", test.binary_id())?;
        }
        for (label, output) in [("STDOUT", &r.stdout), ("STDERR", &r.stderr)] {
            if output.is_empty() {
                continue;
            }
            let name = escape_name(&test.name);
            writeln!(self.out, "{style}--- {label}: {:>13}{style:#} {} {name} ---", "", test.binary_id())?;
            let text = sanitize(&output.bytes, self.options.terminal);
            self.out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(self.out)?;
            }
        }
        Ok(())
    }

    fn finished(&mut self, f: &TestFinished) -> io::Result<()> {
        let (label, style) = label_for(&f.result, f.will_retry, f.attempt, &self.styles);
        let mut note = if f.attempt > 1 || f.will_retry {
            format!(" (attempt {}/{})", f.attempt, f.max_attempts)
        } else {
            String::new()
        };
        if let Some(why) = f.result.rerun {
            note += &if f.result.isolation_sensitive() {
                format!(" ({}, passed alone: it runs alone from now on)", why.describe())
            } else {
                format!(" (run alone: it {})", why.describe())
            };
        }
        // Immediate output belongs under its status line, so it shows when the line does.
        if self.options.status_level >= status_level_of(f) {
            self.status_line(&label, style, f.result.duration, &f.test, &note)?;
            if matches!(self.output_mode(f), OutputMode::Immediate | OutputMode::ImmediateFinal) {
                self.write_output(f)?;
            }
        }
        let keep = !f.will_retry
            && (self.options.final_status_level >= final_level_of(f)
                || matches!(self.output_mode(f), OutputMode::Final | OutputMode::ImmediateFinal));
        if keep {
            self.finals.push(f.clone());
        }
        Ok(())
    }

    /// The answer to SIGUSR1 or the `t` key: what runs now, and for how long.
    fn running_tests(&mut self, running: &[RunningTest]) -> io::Result<()> {
        let s = self.styles.heading;
        let count = match running.len() {
            0 => "no tests".to_owned(),
            1 => "1 test".to_owned(),
            n => format!("{n} tests"),
        };
        writeln!(self.out, "{s}{:>12}{s:#} {count} running", "Info")?;
        for r in running {
            let mut note = format!(" (slot {}", r.slot);
            if r.attempt > 1 || r.max_attempts > 1 {
                note += &format!(", attempt {}/{}", r.attempt, r.max_attempts);
            }
            note.push(')');
            self.status_line("RUNNING", self.styles.heading, r.elapsed, &r.test, &note)?;
        }
        Ok(())
    }

    // About 80 lines: the summary's lines in the order people read them.
    fn summary(&mut self, stats: &RunStats) -> io::Result<()> {
        let s = self.styles;
        writeln!(self.out, "------------")?;
        let ran = stats.finished;
        let of_planned = if ran < stats.planned { format!("{ran}/{}", stats.planned) } else { ran.to_string() };
        let mut parts = vec![format!("{}{}{:#} passed", s.count, stats.passed, s.count)];
        if stats.flaky > 0 {
            parts.push(format!("{} flaky", stats.flaky));
        }
        parts.push(format!("{}{}{:#} failed", s.count, stats.failed, s.count));
        if stats.timed_out > 0 {
            parts.push(format!("{} timed out", stats.timed_out));
        }
        parts.push(format!("{}{}{:#} skipped", s.count, stats.skipped, s.count));
        let head = if stats.failed > 0 { s.fail } else { s.pass };
        writeln!(
            self.out,
            "{head}{:>12}{head:#} [{:>8.3}s] {of_planned} {} run: {}",
            "Summary",
            stats.wall.as_secs_f64(),
            if ran == 1 { "test" } else { "tests" },
            parts.join(", ")
        )?;
        let finals = std::mem::take(&mut self.finals);
        for f in &finals {
            if matches!(self.output_mode(f), OutputMode::Final | OutputMode::ImmediateFinal) {
                self.write_output(f)?;
            }
        }
        // Passes first, then flaky tests, then failures, as the eye reads down to what matters.
        let mut shown: Vec<&TestFinished> =
            finals.iter().filter(|f| self.options.final_status_level >= final_level_of(f)).collect();
        shown.sort_by_key(|f| std::cmp::Reverse(final_level_of(f)));
        let (passes, rest): (Vec<&TestFinished>, Vec<&TestFinished>) =
            shown.into_iter().partition(|f| final_level_of(f) == FinalStatusLevel::Pass);
        for f in passes {
            let (label, style) = label_for(&f.result, false, f.attempt, &s);
            self.status_line(&label, style, f.result.duration, &f.test, "")?;
        }
        if self.options.final_status_level >= FinalStatusLevel::Skip {
            for (binary_id, name) in std::mem::take(&mut self.skipped) {
                self.skip_line(&binary_id, &name)?;
            }
        }
        for f in rest {
            if final_level_of(f) == FinalStatusLevel::Flaky {
                let note = format!(" (passed on attempt {}/{})", f.attempt, f.max_attempts);
                self.status_line("FLAKY", s.warn, f.result.duration, &f.test, &note)?;
            } else {
                let (label, style) = label_for(&f.result, false, f.attempt, &s);
                self.status_line(&label, style, f.result.duration, &f.test, "")?;
            }
        }
        if stats.not_run > 0 {
            let why = match self.cancel {
                Some(CancelReason::Signal(_)) => "the run was interrupted",
                Some(CancelReason::BuildFailed) => "the build failed",
                Some(CancelReason::InternalError) => "tempo hit a bug",
                _ => "of a test failure (use --no-fail-fast to run them all)",
            };
            writeln!(
                self.out,
                "{}{:>12}{:#} {}/{} tests were not run because {why}",
                s.warn, "warning:", s.warn, stats.not_run, stats.planned
            )?;
        }
        writeln!(
            self.out,
            "{:>12} wall {:.2}s, test time {:.2}s, cpu {:.2}s, utilization {:.0}% ({:.2} of {} cores busy), {}, lower bound {:.2}s, efficiency {:.0}%",
            "Timing",
            stats.wall.as_secs_f64(),
            stats.test_time.as_secs_f64(),
            stats.cpu.as_secs_f64(),
            stats.utilization() * 100.0,
            stats.busy_cores(),
            stats.cores,
            slot_idle(stats),
            stats.lower_bound().as_secs_f64(),
            stats.efficiency() * 100.0,
        )?;
        if let Some(path) = &self.options.report {
            writeln!(self.out, "{:>12} {}", "Report", path.display())?;
        }
        writeln!(self.out, "tempo: {} passed, {} failed, {} skipped", stats.passed, stats.failed, stats.skipped)
    }
}

/// Each slot's idle time (wall − busy): every slot's when there are few, else the
/// range and the total, so that the Timing line stays one line.
fn slot_idle(stats: &RunStats) -> String {
    let idle = stats.slot_idle();
    if idle.len() <= 8 {
        let each: Vec<String> = idle.iter().map(|d| format!("{:.2}s", d.as_secs_f64())).collect();
        return format!("slot idle {}", each.join("/"));
    }
    let min = idle.iter().min().copied().unwrap_or_default();
    let max = idle.iter().max().copied().unwrap_or_default();
    let total: Duration = idle.iter().sum();
    format!(
        "slot idle {:.2}s to {:.2}s ({} slots, {:.2}s in all)",
        min.as_secs_f64(),
        max.as_secs_f64(),
        idle.len(),
        total.as_secs_f64()
    )
}

/// The status word for one attempt, nextest-style.
fn label_for(result: &ExecutionResult, will_retry: bool, attempt: u32, s: &Styles) -> (String, Style) {
    match result.outcome {
        Outcome::Pass if result.leaked => ("LEAK".into(), s.warn),
        Outcome::Pass if attempt > 1 => ("TRY PASS".into(), s.warn),
        Outcome::Pass => ("PASS".into(), s.pass),
        _ if will_retry => (format!("TRY {attempt} {}", failure_word(result)), s.warn),
        _ => (failure_word(result), s.fail),
    }
}

fn failure_word(result: &ExecutionResult) -> String {
    match result.outcome {
        Outcome::Timeout => "TIMEOUT".into(),
        Outcome::LeakFail => "LEAK-FAIL".into(),
        Outcome::ExecFail => "EXECFAIL".into(),
        Outcome::Fail(ExitStatus::Signal { signal, .. }) => signal_name(signal),
        _ => "FAIL".into(),
    }
}

/// "2 slots", or under adaptive concurrency "up to 8 slots as 2 cores allow".
fn slots(info: &crate::events::RunInfo) -> String {
    let n = info.slots;
    let word = if n == 1 { "slot" } else { "slots" };
    if info.adaptive {
        format!("up to {n} {word} as {} {} allow", info.cores, if info.cores == 1 { "core" } else { "cores" })
    } else {
        format!("{n} {word}")
    }
}

impl<W: Write> Reporter for HumanReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted(info) if info.pipelined => {
                let s = self.styles.heading;
                writeln!(self.out, "{s}{:>12}{s:#} tests on {} as their binaries are built", "Starting", slots(info))?;
            }
            Event::TestsAdded { skipped_tests, .. } => self.skipped_now(skipped_tests)?,
            Event::RunStarted(info) => {
                let s = self.styles.heading;
                writeln!(
                    self.out,
                    "{s}{:>12}{s:#} {} {} across {} {} ({} skipped) on {}",
                    "Starting",
                    info.test_count,
                    if info.test_count == 1 { "test" } else { "tests" },
                    info.binary_count,
                    if info.binary_count == 1 { "binary" } else { "binaries" },
                    info.skipped,
                    slots(info),
                )?;
                self.skipped_now(&info.skipped_tests)?;
            }
            Event::TestStarted { .. } => {}
            Event::TestSlow { test, elapsed, .. } => {
                if self.options.status_level >= StatusLevel::Slow {
                    self.status_line("SLOW", self.styles.warn, *elapsed, test, "")?;
                }
            }
            Event::TestFinished(f) => self.finished(f)?,
            Event::RetryAbandoned(f) => {
                let (label, style) = label_for(&f.result, false, f.attempt, &self.styles);
                if self.options.status_level >= StatusLevel::Fail {
                    self.status_line(&label, style, f.result.duration, &f.test, " (retry cancelled)")?;
                }
                if self.options.final_status_level >= FinalStatusLevel::Fail {
                    self.finals.push((**f).clone());
                }
            }
            Event::RunCancelling { reason, running } => {
                self.cancel = Some(*reason);
                let why = match reason {
                    CancelReason::TestFailure => "a test failed".to_owned(),
                    CancelReason::BuildFailed => "the build failed".to_owned(),
                    CancelReason::Signal(sig) => format!("tempo received {}", signal_name(*sig)),
                    CancelReason::InternalError => "tempo hit a bug (a thread of it panicked)".to_owned(),
                };
                let s = self.styles.warn;
                writeln!(
                    self.out,
                    "{s}{:>12}{s:#} because {why}, {running} {} still running",
                    "Cancelling",
                    if *running == 1 { "test" } else { "tests" }
                )?;
            }
            Event::InfoRequested { running } => self.running_tests(running)?,
            Event::RunFinished(stats) => self.summary(stats)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{CapturedOutput, ResourceUsage};
    use crate::plan::fake;
    use crate::report::style::hostile;

    fn finished(test: crate::plan::TestRef, outcome: Outcome, stdout: &[u8]) -> Event {
        let result = ExecutionResult {
            outcome,
            exit: Some(ExitStatus::Code(if outcome.is_success() { 0 } else { 101 })),
            start: Duration::ZERO,
            duration: Duration::from_millis(3),
            usage: ResourceUsage::default(),
            stdout: CapturedOutput { bytes: stdout.to_vec(), dropped: 0 },
            stderr: CapturedOutput::default(),
            error: None,
            leaked: false,
            batched: false,
            rerun: None,
            pressure: None,
        };
        Event::TestFinished(Box::new(TestFinished {
            test,
            slot: 0,
            attempt: 1,
            max_attempts: 1,
            result,
            will_retry: false,
        }))
    }

    /// Regression: a test name's control characters reached the terminal raw, and the
    /// report's path was printed after the summary.
    #[test]
    fn names_are_escaped_and_the_summary_is_last() {
        let options = HumanOptions {
            status_level: StatusLevel::All,
            final_status_level: FinalStatusLevel::All,
            report: Some("store/report.html".into()),
            ..HumanOptions::default()
        };
        let mut human = HumanReporter::new(Vec::new(), options);
        let odd = fake::test(hostile::NAME, |_| {});
        let skipped: std::sync::Arc<[_]> = vec![(odd.binary_id().clone(), hostile::NAME.to_owned())].into();
        let added = Event::TestsAdded { tests: 2, binaries: 1, skipped_tests: skipped, planned: vec![].into() };
        human.report(&added).unwrap();
        human.report(&finished(odd.clone(), Outcome::Pass, b"")).unwrap();
        human.report(&finished(odd, Outcome::Fail(ExitStatus::Code(101)), b"printed")).unwrap();
        let stats = RunStats { planned: 2, finished: 2, passed: 1, failed: 1, skipped: 1, ..RunStats::default() };
        human.report(&Event::RunFinished(stats)).unwrap();
        hostile::assert_escaped(&human.out);
        let text = String::from_utf8(human.out).unwrap();
        // Skip lines, status lines, the output header and the summary's repeats.
        assert!(text.matches(hostile::SHOWN).count() >= 6, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[lines.len() - 2], "      Report store/report.html");
        assert_eq!(lines[lines.len() - 1], "tempo: 1 passed, 1 failed, 1 skipped");
    }
}
