//! Joins the JUnit files of a CI matrix's shards into one, because a CI page shows one
//! report per run, not one per shard.
//!
//! Suites are kept whole; suites of the same name (one binary whose tests were split
//! over several shards) become one suite holding every shard's test cases. Counts and
//! times are summed. quick-junit reads the files back, so any JUnit file it can read
//! (tempo's, nextest's) can be merged.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{Report, TestSuite};

use crate::error::{Error, Result};

/// Reads one JUnit file, checking that its counts are within range.
pub fn read(path: &Path) -> Result<Report> {
    let fail = |reason: String| Error::JunitInput { path: path.to_owned(), reason };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    let report = Report::deserialize(BufReader::new(file)).map_err(|e| fail(e.to_string()))?;
    check_numbers(&report).map_err(fail)?;
    Ok(report)
}

/// The most tests (or failures, errors, skipped or disabled tests) one suite of an
/// input may claim, so that the sums over any number of inputs stay far from overflow.
const MAX_SUITE_COUNT: usize = u32::MAX as usize;

/// Refuses an input whose times or counts no real run produces: a `time` past
/// [`MAX_DURATION`](crate::limits::MAX_DURATION) (one year), or a suite count past
/// [`MAX_SUITE_COUNT`]. quick-junit already refuses negative, NaN and infinite times
/// and negative counts. Summing `time="18000000000000000000"` over two shards used
/// to overflow `Duration` and panic; an error that names the file tells the user
/// which shard wrote nonsense, where a clamped value would hide it.
fn check_numbers(report: &Report) -> std::result::Result<(), String> {
    let max = crate::limits::MAX_DURATION;
    let time = |what: &str, t: Option<Duration>| match t {
        Some(t) if t > max => Err(format!(
            "{what} time=\"{}\" is out of range; expected from 0 to {} seconds (one year)",
            t.as_secs_f64(),
            max.as_secs()
        )),
        _ => Ok(()),
    };
    time("the report's", report.time)?;
    for suite in &report.test_suites {
        let name = suite.name.as_str();
        time(&format!("suite `{name}`'s"), suite.time)?;
        for (count, n) in [
            ("tests", suite.tests),
            ("failures", suite.failures),
            ("errors", suite.errors),
            ("skipped", suite.skipped),
            ("disabled", suite.disabled.unwrap_or(0)),
        ] {
            if n > MAX_SUITE_COUNT {
                return Err(format!(
                    "suite `{name}`'s {count}=\"{n}\" is out of range; expected from 0 to {MAX_SUITE_COUNT}"
                ));
            }
        }
        for case in &suite.test_cases {
            time(&format!("test case `{}`'s", case.name.as_str()), case.time)?;
        }
    }
    Ok(())
}

/// Merges reports: suites by name, in the order they first appear; counts and times
/// summed; the earliest timestamp. The name is `name`, else the first report's.
pub fn merge(reports: Vec<Report>, name: Option<&str>) -> Report {
    let first_name = reports.first().and_then(|r| r.name.as_ref()).map(|n| n.as_str().to_owned());
    let mut merged = match name.map(str::to_owned).or(first_name) {
        Some(name) => Report::new(name),
        None => Report::unnamed(),
    };
    let mut suites = OrderedSuites::default();
    let mut time: Option<Duration> = None;
    for report in reports {
        if let Some(t) = report.time {
            time = Some(time.unwrap_or_default().saturating_add(t));
        }
        if let Some(ts) = report.timestamp
            && merged.timestamp.is_none_or(|old| ts < old)
        {
            merged.timestamp = Some(ts);
        }
        for suite in report.test_suites {
            suites.add(suite);
        }
    }
    if let Some(t) = time {
        merged.set_time(t);
    }
    merged.add_test_suites(suites.into_suites());
    merged
}

/// Suites by name, in the order their names first appear. (A vector search: a report
/// holds one suite per binary, tens or hundreds, not millions.)
#[derive(Default)]
struct OrderedSuites {
    suites: Vec<TestSuite>,
}

impl OrderedSuites {
    fn add(&mut self, suite: TestSuite) {
        match self.suites.iter_mut().find(|s| s.name == suite.name) {
            Some(into) => absorb(into, suite),
            None => self.suites.push(suite),
        }
    }

    fn into_suites(self) -> Vec<TestSuite> {
        self.suites
    }
}

/// Adds `from`'s cases, counts and time to `into`. Properties that `into` does not
/// already have (the same name and value) are kept too, so that each shard's own run
/// figures stay readable.
fn absorb(into: &mut TestSuite, from: TestSuite) {
    // Saturating, though the inputs' counts and times were checked as they were read.
    into.tests = into.tests.saturating_add(from.tests);
    into.failures = into.failures.saturating_add(from.failures);
    into.errors = into.errors.saturating_add(from.errors);
    into.skipped = into.skipped.saturating_add(from.skipped);
    into.disabled = match (into.disabled, from.disabled) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
    };
    into.time = match (into.time, from.time) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default().saturating_add(b.unwrap_or_default())),
    };
    if let Some(ts) = from.timestamp
        && into.timestamp.is_none_or(|old| ts < old)
    {
        into.timestamp = Some(ts);
    }
    into.test_cases.extend(from.test_cases);
    for p in from.properties {
        if !into.properties.iter().any(|q| q.name == p.name && q.value == p.value) {
            into.properties.push(p);
        }
    }
    for (out, more) in [(&mut into.system_out, from.system_out), (&mut into.system_err, from.system_err)] {
        if let Some(more) = more {
            *out = Some(match out.take() {
                Some(old) => format!("{}\n{}", old.as_str(), more.as_str()).into(),
                None => more,
            });
        }
    }
}

/// Everything `cargo tempo junit-merge` needs.
#[derive(Debug, Clone)]
pub struct JunitMergeOptions {
    /// The file to write.
    pub output: PathBuf,
    /// The files to read.
    pub inputs: Vec<PathBuf>,
    /// The merged report's name.
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus};

    fn shard(cases: &[(&str, &str, bool)], secs: u64) -> Report {
        let mut report = Report::new("tempo-run");
        report.set_time(Duration::from_secs(secs));
        let mut suites: Vec<TestSuite> = Vec::new();
        for (suite, name, ok) in cases {
            let status =
                if *ok { TestCaseStatus::success() } else { TestCaseStatus::non_success(NonSuccessKind::Failure) };
            let mut case = TestCase::new(*name, status);
            case.set_time(Duration::from_millis(500));
            match suites.iter_mut().find(|s| s.name.as_str() == *suite) {
                Some(s) => {
                    s.add_test_case(case);
                }
                None => {
                    let mut s = TestSuite::new(*suite);
                    s.add_test_case(case);
                    s.set_time(Duration::from_secs(1));
                    suites.push(s);
                }
            }
        }
        report.add_test_suites(suites);
        // Through XML and back, as the command reads them.
        Report::deserialize_from_str(&report.to_string().unwrap()).unwrap()
    }

    #[test]
    fn suites_of_the_same_name_become_one_and_counts_add_up() {
        let a = shard(&[("alpha", "t1", true), ("alpha", "t2", false), ("beta", "b1", true)], 3);
        let b = shard(&[("alpha", "t3", true), ("gamma", "g1", false)], 4);
        let merged = merge(vec![a, b], None);
        assert_eq!(merged.name.as_ref().unwrap().as_str(), "tempo-run");
        assert_eq!((merged.tests, merged.failures, merged.errors), (5, 2, 0));
        assert_eq!(merged.time, Some(Duration::from_secs(7)));
        let names: Vec<&str> = merged.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["alpha", "beta", "gamma"]);
        let alpha = &merged.test_suites[0];
        assert_eq!((alpha.tests, alpha.failures), (3, 1));
        assert_eq!(alpha.time, Some(Duration::from_secs(2)));
        let cases: Vec<&str> = alpha.test_cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(cases, ["t1", "t2", "t3"]);
        // The merged file reads back with the same counts.
        let back = Report::deserialize_from_str(&merged.to_string().unwrap()).unwrap();
        assert_eq!((back.tests, back.failures, back.test_suites.len()), (5, 2, 3));
    }

    fn with_time(time: &str) -> String {
        format!(
            r#"<testsuites name="r" tests="1" failures="0" errors="0" time="{time}">
<testsuite name="s" tests="1" errors="0" failures="0"><testcase name="t" time="{time}"/></testsuite></testsuites>"#
        )
    }

    /// Times past a year are refused with the range; quick-junit itself refuses
    /// negative, NaN and infinite ones. Either way, never a panic.
    #[test]
    fn times_in_an_input_have_a_range() {
        for (time, ok) in [
            ("0", true),
            ("31557600", true),
            ("31557601", false),
            ("18000000000000000000", false),
            ("1e300", false),
            ("-1", false),
            ("NaN", false),
            ("inf", false),
        ] {
            let parsed = Report::deserialize_from_str(&with_time(time))
                .map_err(|e| e.to_string())
                .and_then(|r| check_numbers(&r));
            assert_eq!(parsed.is_ok(), ok, "{time}: {parsed:?}");
        }
        let report = Report::deserialize_from_str(&with_time("31557601")).unwrap();
        assert!(check_numbers(&report).unwrap_err().contains("expected from 0 to 31557600 seconds"));
    }

    #[test]
    fn huge_counts_in_an_input_are_refused() {
        let xml = r#"<testsuites name="r" tests="1" failures="0" errors="0">
<testsuite name="s" tests="18446744073709551615" errors="0" failures="0"><testcase name="t"/></testsuite></testsuites>"#;
        let report = Report::deserialize_from_str(xml).unwrap();
        assert!(check_numbers(&report).unwrap_err().contains("tests=\"18446744073709551615\" is out of range"));
    }

    #[test]
    fn a_name_can_be_given() {
        let merged = merge(vec![shard(&[("a", "t", true)], 1)], Some("ci"));
        assert_eq!(merged.name.as_ref().unwrap().as_str(), "ci");
    }
}
