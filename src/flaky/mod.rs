//! The verdicts of `cargo tempo flaky`, which runs the selected tests many times with
//! retries off and sorts them into stable, flaky and broken, because one green run
//! says little about a test that fails one time in five, and retries hide exactly
//! those tests.
//!
//! Either engine ([`crate::engine::flaky`]: tempo in-process, or `cargo nextest run`)
//! yields the same tally:
//! per test, how many runs it had and how many of them failed. This module turns the
//! tally into verdicts, the table, the Markdown and JSON reports, and the suggested
//! overrides that `--write` adds to the config file; [`crate::cmd::flaky`] runs it all.

pub mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use write::Suggested;

/// How often one test ran and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Runs in which it finished.
    pub runs: u32,
    /// Of those, the runs in which it failed.
    pub failures: u32,
}

/// Tallies by (binary id, test name).
pub type Tallies = BTreeMap<(String, String), Tally>;

/// What the runs say about a test. The order is the order of the table: what needs
/// attention first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// It failed in every run.
    Broken,
    /// It failed in some runs and passed in others.
    Flaky,
    /// It never failed.
    Stable,
}

impl Verdict {
    /// The verdict for a test that failed `failures` times in `runs` runs.
    pub fn of(t: Tally) -> Verdict {
        match t.failures {
            0 => Verdict::Stable,
            f if f >= t.runs => Verdict::Broken,
            _ => Verdict::Flaky,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Verdict::Broken => "broken",
            Verdict::Flaky => "flaky",
            Verdict::Stable => "stable",
        }
    }
}

/// One test's line in the reports; the JSON report is an array of these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The binary id, as nextest spells it.
    pub binary_id: String,
    /// The full test name.
    pub name: String,
    /// Runs in which it finished.
    pub runs: u32,
    /// Runs in which it failed.
    pub failures: u32,
    /// failures ÷ runs.
    pub failure_rate: f64,
    /// `stable`, `flaky` or `broken`.
    pub verdict: Verdict,
}

/// The entries in the table's order: broken, flaky, stable, each by binary and name.
pub fn entries(tallies: &Tallies) -> Vec<Entry> {
    let mut entries: Vec<Entry> = tallies
        .iter()
        .filter(|(_, t)| t.runs > 0)
        .map(|((binary_id, name), t)| Entry {
            binary_id: binary_id.clone(),
            name: name.clone(),
            runs: t.runs,
            failures: t.failures,
            failure_rate: f64::from(t.failures) / f64::from(t.runs),
            verdict: Verdict::of(*t),
        })
        .collect();
    entries.sort_by(|a, b| (a.verdict, &a.binary_id, &a.name).cmp(&(b.verdict, &b.binary_id, &b.name)));
    entries
}

/// Enough retries that a test failing at `rate` fails every attempt of a run less
/// than 1% of the time (rate^(retries+1) < 0.01), between 1 and 5.
pub fn suggested_retries(rate: f64) -> u32 {
    (1..=5).find(|r| rate.powi(*r as i32 + 1) < 0.01).unwrap_or(5)
}

/// A filter expression that selects exactly this test, in nextest's language, which
/// tempo shares: `\)` and `\,` are a literal `)` and `,` inside an argument.
pub fn filter_for(binary_id: &str, name: &str) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace(')', "\\)").replace(',', "\\,");
    format!("test(={}) & binary_id(={})", escape(name), escape(binary_id))
}

/// The overrides suggested for the flaky tests (broken ones need fixing, not retries).
pub fn suggestions(entries: &[Entry]) -> Vec<Suggested> {
    entries
        .iter()
        .filter(|e| e.verdict == Verdict::Flaky)
        .map(|e| Suggested { filter: filter_for(&e.binary_id, &e.name), retries: suggested_retries(e.failure_rate) })
        .collect()
}

/// The suggestions as config text, ready to paste under the profile.
pub fn suggestion_text(profile: &str, suggested: &[Suggested]) -> String {
    write::add_overrides("", profile, suggested).map(|(text, _)| text).unwrap_or_default()
}

pub(crate) fn table(entries: &[Entry]) -> String {
    let mut out = format!("{:>8}  {:>9}  {:>5}  test\n", "verdict", "failures", "rate");
    for e in entries {
        out.push_str(&format!(
            "{:>8}  {:>9}  {:>4.0}%  {} {}\n",
            e.verdict.word(),
            format!("{}/{}", e.failures, e.runs),
            e.failure_rate * 100.0,
            e.binary_id,
            crate::report::style::escape_name(&e.name)
        ));
    }
    out
}

pub(crate) fn counts(entries: &[Entry]) -> [usize; 3] {
    let n = |v| entries.iter().filter(|e| e.verdict == v).count();
    [n(Verdict::Flaky), n(Verdict::Broken), n(Verdict::Stable)]
}

/// The Markdown report: the same table, and the suggested overrides.
pub fn markdown(entries: &[Entry], runs: u32, engine: &str, profile: &str, suggested: &[Suggested]) -> String {
    let [flaky, broken, stable] = counts(entries);
    let mut md = format!(
        "# Flaky test report\n\n{} tests, {runs} runs each with retries off ({engine}, profile `{profile}`): \
         {flaky} flaky, {broken} broken, {stable} stable.\n\n| verdict | failures | rate | binary id | test |\n|---|---:|---:|---|---|\n",
        entries.len()
    );
    for e in entries {
        md.push_str(&format!(
            "| {} | {}/{} | {:.0}% | `{}` | `{}` |\n",
            e.verdict.word(),
            e.failures,
            e.runs,
            e.failure_rate * 100.0,
            e.binary_id,
            crate::report::style::escape_name(&e.name)
        ));
    }
    if !suggested.is_empty() {
        md.push_str(&format!(
            "\n## Suggested overrides\n\nRetries for the flaky tests (`cargo tempo flaky --write` adds them):\n\n```toml\n{}```\n",
            suggestion_text(profile, suggested)
        ));
    }
    md
}

/// What an engine hands back after its runs.
pub(crate) struct Collected {
    /// Per test, runs and failures.
    pub tallies: Tallies,
    /// How many runs completed.
    pub runs: u32,
    /// Where the reports go: `<workspace>/<store.dir>/flaky`.
    pub report_dir: PathBuf,
    /// The config file `--write` edits (created if it does not exist).
    pub config_file: PathBuf,
    /// The profile the overrides belong to.
    pub profile: String,
}

/// Why an engine stopped without a verdict.
pub(crate) enum Stopped {
    /// The filters selected nothing.
    NoTests,
    /// A signal stopped the runs.
    Signal(i32),
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomically(path, bytes).map_err(|source| Error::WriteFile { path: path.to_owned(), source })
}

/// Adds the suggested overrides to the config file, after checking that tempo still
/// reads the result.
pub(crate) fn write_config(path: &Path, profile: &str, suggested: &[Suggested]) -> Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::EditConfig { path: path.to_owned(), reason: e.to_string() }),
    };
    let (new_text, added) = write::add_overrides(&text, profile, suggested)
        .map_err(|reason| Error::EditConfig { path: path.to_owned(), reason })?;
    let source = crate::config::ConfigSource { path: path.to_owned(), text: new_text.clone() };
    crate::config::Config::parse(source).and_then(|c| c.profile(profile)).map_err(|e| Error::EditConfig {
        path: path.to_owned(),
        reason: format!("the result would not be valid: {e}"),
    })?;
    if added > 0 {
        write_file(path, new_text.as_bytes())?;
    }
    Ok(added)
}

/// Everything `cargo tempo flaky` needs.
#[derive(Debug, Clone)]
pub struct FlakyOptions {
    /// How to build.
    pub cargo: crate::build::CargoOptions,
    /// Config file and profile.
    pub config: crate::config::ConfigOptions,
    /// Which tests.
    pub filter: crate::plan::selection::Selection,
    /// How many runs.
    pub runs: u32,
    /// Run them with `cargo nextest run` instead of tempo.
    pub nextest: bool,
    /// Where the JSON report goes, instead of the store directory.
    pub json: Option<PathBuf>,
    /// Add the suggested overrides to the config file.
    pub write: bool,
    /// How many tests at once.
    pub test_threads: Option<crate::plan::concurrency::Threads>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(runs: u32, failures: u32) -> Tally {
        Tally { runs, failures }
    }

    /// Regression: a test name's control characters reached the terminal raw; the
    /// Markdown report escapes them too.
    #[test]
    fn names_are_escaped_in_the_table_and_the_markdown() {
        use crate::report::style::hostile;
        let entry = Entry {
            binary_id: "pkg".into(),
            name: hostile::NAME.into(),
            runs: 10,
            failures: 3,
            failure_rate: 0.3,
            verdict: Verdict::Flaky,
        };
        hostile::assert_escaped(table(std::slice::from_ref(&entry)).as_bytes());
        hostile::assert_escaped(markdown(&[entry], 10, "tempo", "default", &[]).as_bytes());
    }

    #[test]
    fn verdicts_follow_the_failure_count() {
        assert_eq!(Verdict::of(tally(20, 0)), Verdict::Stable);
        assert_eq!(Verdict::of(tally(20, 1)), Verdict::Flaky);
        assert_eq!(Verdict::of(tally(20, 19)), Verdict::Flaky);
        assert_eq!(Verdict::of(tally(20, 20)), Verdict::Broken);
    }

    #[test]
    fn retries_grow_with_the_failure_rate() {
        assert_eq!(suggested_retries(0.05), 1, "0.05^2 = 0.0025");
        assert_eq!(suggested_retries(0.1), 2, "0.1^2 is not under 1%, 0.1^3 is");
        assert_eq!(suggested_retries(0.3), 3, "0.3^4 = 0.0081");
        assert_eq!(suggested_retries(0.9), 5, "capped");
    }

    /// Regression: a name with `)` or `,` must not end the filter's argument early.
    #[test]
    fn filters_escape_what_ends_an_argument() {
        assert_eq!(filter_for("a::b", "m::t"), "test(=m::t) & binary_id(=a::b)");
        let f = filter_for("pkg", "odd(name,1)");
        assert_eq!(f, r"test(=odd(name\,1\)) & binary_id(=pkg)");
        assert!(crate::filter::FilterExpr::parse(&f).is_ok(), "{f}");
    }

    #[test]
    fn entries_put_what_needs_attention_first() {
        let mut t = Tallies::new();
        t.insert(("b".into(), "steady".into()), tally(10, 0));
        t.insert(("a".into(), "wobbly".into()), tally(10, 4));
        t.insert(("c".into(), "dead".into()), tally(10, 10));
        let e = entries(&t);
        let order: Vec<(&str, Verdict)> = e.iter().map(|e| (e.name.as_str(), e.verdict)).collect();
        assert_eq!(order, [("dead", Verdict::Broken), ("wobbly", Verdict::Flaky), ("steady", Verdict::Stable)]);
        assert_eq!(e[1].failure_rate, 0.4);
        let s = suggestions(&e);
        assert_eq!(s, [Suggested { filter: "test(=wobbly) & binary_id(=a)".into(), retries: 5 }]);
        let json: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(json[0]["verdict"], "broken");
        assert_eq!(json[1]["binary_id"], "a");
    }
}
