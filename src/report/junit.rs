//! Writes the run as JUnit XML, the format every CI system can show.
//!
//! The layout is nextest's: one `testsuite` per binary id, one `testcase` per test.
//! A test that failed and then passed is a success with `flakyFailure` elements; one
//! that failed on every attempt is a `failure` with `rerunFailure` elements for the
//! earlier attempts. quick-junit escapes the XML and drops the control characters
//! that XML cannot hold, so a test's output can never make the file invalid.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::events::Reporter;
use crate::events::signal_name;
use crate::events::{CapturedOutput, Event, ExecutionResult, ExitStatus, Outcome, RunInfo, RunStats};
use crate::files::WriteError;
use crate::plan::TestRef;

/// Collects finished attempts and writes the JUnit file when the run ends.
pub struct JunitReporter {
    path: PathBuf,
    report_name: String,
    info: Option<RunInfo>,
    /// Attempts per test, keyed by (binary id, test name) for a stable order.
    attempts: BTreeMap<(String, String), (TestRef, Vec<Attempt>)>,
}

/// What the report needs of one attempt. Its output is kept only where the test's
/// `junit.store-*-output` setting will write it: a run of many tests that print a lot
/// must not hold all of it until the end. (Each stream is already within the capture
/// cap.) The panic message, which goes in the report either way, is read at once.
struct Attempt {
    result: ExecutionResult,
    panic: Option<String>,
}

impl Attempt {
    fn new(test: &TestRef, result: &ExecutionResult) -> Attempt {
        // A passing attempt is a test's last; a failing one is written as a failure,
        // whether it is the last or a rerun.
        let keep = if result.outcome.is_success() {
            test.settings.junit_store_success_output
        } else {
            test.settings.junit_store_failure_output
        };
        let output = |o: &CapturedOutput| if keep { o.clone() } else { CapturedOutput::default() };
        Attempt {
            result: ExecutionResult {
                outcome: result.outcome,
                exit: result.exit,
                start: result.start,
                duration: result.duration,
                usage: result.usage,
                stdout: output(&result.stdout),
                stderr: output(&result.stderr),
                error: result.error.clone(),
                leaked: result.leaked,
                batched: result.batched,
                rerun: result.rerun,
                pressure: result.pressure,
            },
            // Only a failure's description shows it.
            panic: if result.outcome.is_success() { None } else { panic_message(result) },
        }
    }

    /// The bytes of output held.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.result.stdout.bytes.len() + self.result.stderr.bytes.len() + self.panic.as_ref().map_or(0, String::len)
    }
}

impl JunitReporter {
    /// A reporter that will write to `path`. What it keeps of each test's output is
    /// that test's `junit.store-*-output` setting (the profile's, or an override's).
    pub fn new(path: PathBuf, report_name: String) -> JunitReporter {
        JunitReporter { path, report_name, info: None, attempts: BTreeMap::new() }
    }

    fn timestamp(&self, offset: std::time::Duration) -> chrono::DateTime<chrono::FixedOffset> {
        let start = self.info.as_ref().map_or(SystemTime::UNIX_EPOCH, |i| i.started_at);
        chrono::DateTime::<chrono::Utc>::from(start + offset).fixed_offset()
    }

    fn failure_kind(result: &ExecutionResult) -> NonSuccessKind {
        match result.outcome {
            Outcome::ExecFail => NonSuccessKind::Error,
            _ => NonSuccessKind::Failure,
        }
    }

    fn rerun(&self, attempt: &Attempt, keep_output: bool) -> TestRerun {
        let result = &attempt.result;
        let mut rerun = TestRerun::new(Self::failure_kind(result));
        rerun
            .set_timestamp(self.timestamp(result.start))
            .set_time(result.duration)
            .set_message(failure_message(result));
        if let Some(desc) = &attempt.panic {
            rerun.set_description(desc.as_str());
        }
        if keep_output {
            rerun.set_system_out_lossy(&result.stdout.bytes).set_system_err_lossy(&result.stderr.bytes);
        }
        rerun
    }

    fn test_case(&self, test: &TestRef, attempts: &[Attempt]) -> TestCase {
        let last_attempt = attempts.last().expect("a test is recorded once it has an attempt");
        let last = &last_attempt.result;
        let earlier = &attempts[..attempts.len() - 1];
        let status = if last.outcome.is_success() {
            let flaky = earlier.iter().map(|r| self.rerun(r, test.settings.junit_store_failure_output)).collect();
            TestCaseStatus::Success { flaky_runs: flaky }
        } else {
            let mut status = TestCaseStatus::non_success(Self::failure_kind(last));
            status.set_message(failure_message(last)).set_type(failure_type(last));
            if let Some(desc) = &last_attempt.panic {
                status.set_description(desc.as_str());
            }
            status.add_reruns(earlier.iter().map(|r| self.rerun(r, test.settings.junit_store_failure_output)));
            status
        };
        let mut case = TestCase::new(test.name.as_str(), status);
        case.set_classname(test.binary_id().as_str()).set_timestamp(self.timestamp(last.start)).set_time(last.duration);
        let keep = if last.outcome.is_success() {
            test.settings.junit_store_success_output
        } else {
            test.settings.junit_store_failure_output
        };
        if keep {
            case.set_system_out_lossy(&last.stdout.bytes).set_system_err_lossy(&last.stderr.bytes);
        }
        // What the final attempt cost, from its rusage.
        case.add_properties([
            Property::new("tempo.cpu-user-s", format!("{:.6}", last.usage.user.as_secs_f64())),
            Property::new("tempo.cpu-system-s", format!("{:.6}", last.usage.system.as_secs_f64())),
            Property::new("tempo.max-rss-bytes", last.usage.max_rss.to_string()),
        ]);
        case
    }

    /// Builds the report from everything seen so far. JUnit has no properties on the
    /// `testsuites` element, so the run's CPU accounting goes on every `testsuite`.
    pub fn build(&self, stats: &RunStats) -> Report {
        let mut report = Report::new(self.report_name.as_str());
        if let Some(info) = &self.info {
            report.set_timestamp(self.timestamp(std::time::Duration::ZERO)).set_time(stats.wall);
            if let Ok(uuid) = info.run_id.parse::<uuid::Uuid>() {
                report.set_uuid(uuid);
            }
        }
        let run_properties = run_properties(stats);
        let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
        for ((binary_id, _), (test, attempts)) in &self.attempts {
            let suite = suites.entry(binary_id.as_str()).or_insert_with(|| {
                let mut suite = TestSuite::new(binary_id.as_str());
                suite.add_properties(run_properties.iter().cloned());
                suite
            });
            suite.add_test_case(self.test_case(test, attempts));
        }
        report.add_test_suites(suites.into_values());
        report
    }

    fn write(&self, stats: &RunStats) -> io::Result<()> {
        let report = self.build(stats);
        let what = "JUnit report";
        let xml = report.to_string().map_err(|e| WriteError::new(what, &self.path, io::Error::other(e)).into_io())?;
        crate::files::write_file(what, &self.path, xml.as_bytes()).map_err(WriteError::into_io)
    }
}

/// The run's CPU accounting as JUnit properties, named `tempo.*` so that they cannot
/// clash with anyone else's.
fn run_properties(stats: &RunStats) -> Vec<Property> {
    let a = stats.accounting();
    let idle: Vec<String> = a.slot_idle_s.iter().map(|s| format!("{s:.3}")).collect();
    vec![
        Property::new("tempo.wall-s", format!("{:.3}", a.wall_s)),
        Property::new("tempo.cpu-s", format!("{:.3}", a.cpu_s)),
        Property::new("tempo.cores", a.cores.to_string()),
        Property::new("tempo.slots", a.slots.to_string()),
        Property::new("tempo.cpu-utilization", format!("{:.4}", a.cpu_utilization)),
        Property::new("tempo.busy-cores", format!("{:.3}", a.busy_cores)),
        Property::new("tempo.slot-idle-s", idle.join(" ")),
    ]
}

/// A one-line description of how an attempt failed.
fn failure_message(result: &ExecutionResult) -> String {
    match (result.outcome, result.exit) {
        (Outcome::Timeout, _) => "test timed out".into(),
        (Outcome::LeakFail, _) => "test passed but leaked processes that held its output open".into(),
        (Outcome::ExecFail, _) => result.error.clone().unwrap_or_else(|| "test could not be started".into()),
        (_, Some(ExitStatus::Signal { signal, .. })) => {
            format!("test aborted with signal {signal} ({})", signal_name(signal))
        }
        (_, Some(ExitStatus::Code(code))) => format!("test failed with exit code {code}"),
        (_, None) => "test failed".into(),
    }
}

fn failure_type(result: &ExecutionResult) -> &'static str {
    match result.outcome {
        Outcome::Timeout => "timeout",
        Outcome::LeakFail => "leak",
        Outcome::ExecFail => "exec failure",
        Outcome::Fail(ExitStatus::Signal { .. }) => "signal",
        _ => "test failure",
    }
}

/// libtest's panic report (`thread 'x' panicked at file:line:col:` and the message), if present.
fn panic_message(result: &ExecutionResult) -> Option<String> {
    let stderr = String::from_utf8_lossy(&result.stderr.bytes);
    let start = stderr.find("panicked at ")?;
    let line_start = stderr[..start].rfind('\n').map_or(0, |i| i + 1);
    let rest = &stderr[line_start..];
    let end = rest.find("\nnote: ").or_else(|| rest.find("\nstack backtrace:")).unwrap_or(rest.len());
    Some(rest[..end].trim_end().to_owned())
}

impl Reporter for JunitReporter {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted(info) => self.info = Some(info.clone()),
            Event::TestFinished(f) => {
                let key = (f.test.binary_id().to_string(), f.test.name.clone());
                let attempt = Attempt::new(&f.test, &f.result);
                self.attempts.entry(key).or_insert_with(|| (f.test.clone(), Vec::new())).1.push(attempt);
            }
            Event::RunFinished(stats) => self.write(stats)?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::events::{ResourceUsage, TestFinished};

    fn finished(test: &TestRef, outcome: Outcome, stdout: Vec<u8>, stderr: Vec<u8>) -> Event {
        let result = ExecutionResult {
            outcome,
            exit: Some(match outcome {
                Outcome::Pass => ExitStatus::Code(0),
                _ => ExitStatus::Code(101),
            }),
            start: Duration::ZERO,
            duration: Duration::from_millis(1),
            usage: ResourceUsage::default(),
            stdout: CapturedOutput { bytes: stdout, dropped: 0 },
            stderr: CapturedOutput { bytes: stderr, dropped: 0 },
            error: None,
            leaked: false,
            batched: false,
            rerun: None,
            pressure: None,
        };
        Event::TestFinished(Box::new(TestFinished {
            test: test.clone(),
            slot: 0,
            attempt: 1,
            max_attempts: 1,
            result,
            will_retry: false,
        }))
    }

    fn held(reporter: &JunitReporter) -> usize {
        reporter.attempts.values().flat_map(|(_, a)| a.iter()).map(Attempt::held).sum()
    }

    /// Regression: every attempt's output was kept until the end of the run, stored or
    /// not (100 tests printing 1 MiB each cost 80 MB).
    #[test]
    fn output_that_will_not_be_written_is_not_kept() {
        let mut reporter = JunitReporter::new("/nonexistent/junit.xml".into(), "tempo-run".into());
        let mib = vec![b'x'; 1024 * 1024];
        for i in 0..100 {
            let test = crate::plan::fake::test(&format!("t{i}"), |s| {
                s.junit_store_success_output = false;
                s.junit_store_failure_output = false;
            });
            let outcome = if i % 2 == 0 { Outcome::Pass } else { Outcome::Fail(ExitStatus::Code(101)) };
            let stderr =
                [&mib[..], b"\nthread 't' panicked at src/lib.rs:1:1:\nboom\nnote: run with backtrace"].concat();
            reporter.report(&finished(&test, outcome, mib.clone(), stderr)).unwrap();
        }
        // Only the failures' panic messages are left.
        assert!(held(&reporter) < 100 * 1024, "the reporter holds {} bytes", held(&reporter));
        let xml = reporter.build(&RunStats::default()).to_string().unwrap();
        assert!(!xml.contains("xxxxxxxx"), "no output is written");
        assert!(xml.contains("panicked at src/lib.rs:1:1:\nboom"), "the failures keep their panic message");
    }

    #[test]
    fn stored_output_is_kept_and_written() {
        let mut reporter = JunitReporter::new("/nonexistent/junit.xml".into(), "tempo-run".into());
        let test = crate::plan::fake::test("fails", |s| s.junit_store_failure_output = true);
        reporter
            .report(&finished(&test, Outcome::Fail(ExitStatus::Code(101)), b"said".into(), b"oops".into()))
            .unwrap();
        let passes = crate::plan::fake::test("passes", |s| s.junit_store_success_output = false);
        reporter.report(&finished(&passes, Outcome::Pass, b"quiet".into(), Vec::new())).unwrap();
        assert_eq!(held(&reporter), 8);
        let xml = reporter.build(&RunStats::default()).to_string().unwrap();
        assert!(
            xml.contains("<system-out>said</system-out>") && xml.contains("<system-err>oops</system-err>"),
            "{xml}"
        );
        assert!(!xml.contains("quiet"), "{xml}");
    }
}
