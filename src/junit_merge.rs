//! Joins the JUnit files of a CI matrix's shards into one, because a CI page shows one
//! report per run, not one per shard.
//!
//! Suites are kept whole; suites of the same name (one binary whose tests were split
//! over several shards) become one suite holding every shard's test cases. Counts and
//! times are summed. quick-junit reads the files back, so any JUnit file it can read
//! (tempo's, nextest's) can be merged.

use std::io::BufReader;
use std::path::Path;
use std::time::Duration;

use quick_junit::{Report, TestSuite};

use crate::error::{Error, Result, exit_code};
use crate::options::JunitMergeOptions;

/// `cargo tempo junit-merge OUT IN...`.
pub fn run(opts: JunitMergeOptions) -> Result<i32> {
    let reports = opts.inputs.iter().map(|p| read(p)).collect::<Result<Vec<_>>>()?;
    let merged = merge(reports, opts.name.as_deref());
    let xml = merged
        .to_string()
        .map_err(|e| Error::WriteFile { path: opts.output.clone(), source: std::io::Error::other(e) })?;
    crate::report::write_atomically(&opts.output, xml.as_bytes())
        .map_err(|source| Error::WriteFile { path: opts.output.clone(), source })?;
    eprintln!(
        "merged {} JUnit files into {}: {} tests, {} failures, {} errors, {} skipped",
        opts.inputs.len(),
        opts.output.display(),
        merged.tests,
        merged.failures,
        merged.errors,
        merged.skipped
    );
    Ok(exit_code::OK)
}

fn read(path: &Path) -> Result<Report> {
    let fail = |reason: String| Error::JunitInput { path: path.to_owned(), reason };
    let file = std::fs::File::open(path).map_err(|e| fail(e.to_string()))?;
    Report::deserialize(BufReader::new(file)).map_err(|e| fail(e.to_string()))
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
            time = Some(time.unwrap_or_default() + t);
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
    into.tests += from.tests;
    into.failures += from.failures;
    into.errors += from.errors;
    into.skipped += from.skipped;
    into.disabled = match (into.disabled, from.disabled) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    into.time = match (into.time, from.time) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or_default() + b.unwrap_or_default()),
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

    #[test]
    fn a_name_can_be_given() {
        let merged = merge(vec![shard(&[("a", "t", true)], 1)], Some("ci"));
        assert_eq!(merged.name.as_ref().unwrap().as_str(), "ci");
    }
}
