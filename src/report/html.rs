//! The HTML report: one file, written after every run, that shows where the time went.
//!
//! A terminal scrolls past and a JUnit file is for machines; people asking why a run
//! was slow or red want a picture they can open later, attach to a CI job and send
//! round. So `cargo tempo run` writes `<store.dir>/<profile>/report.html` (or
//! `--report PATH`): a timeline of the slots with a bar per attempt, the CPU
//! utilization and the number of tests running over time, the run's lower bound
//! against its wall time, the slowest tests, and the failed, timed-out and flaky
//! tests with their output.
//!
//! The file is self-contained (inline CSS, inline SVG, a few lines of inline script,
//! nothing fetched), so it opens from a CI artifact with no network. It is also
//! well-formed XML, so that tests can read it back with an XML parser. It stays
//! usable for runs of 10,000 tests: past [`timeline::MERGE_ABOVE`] attempts, passing
//! attempts too narrow to see are drawn as one bar per run of them, and only the
//! first [`MAX_DETAILED`] problem tests carry their output.

mod timeline;

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::style::escape_name;
use crate::events::Reporter;
use crate::events::signal_name;
use crate::events::{
    BatchFailure, CancelReason, CapturedOutput, Event, ExitStatus, Outcome, ResourceUsage, RunInfo, RunStats,
    TestFinished,
};
use crate::history::History;
use crate::plan::TestRef;

/// How many problem tests (failed, timed out or flaky) the report shows with their
/// output. The rest are listed by name: past this many, the output of one more test
/// helps less than a file that still opens quickly.
pub const MAX_DETAILED: usize = 50;
/// How many of a problem test's failed attempts keep their output (the last ones).
const MAX_ATTEMPTS_SHOWN: usize = 3;
/// Of each output stream, how many bytes of its start are kept.
const OUTPUT_HEAD: usize = 2 * 1024;
/// Of each output stream, how many bytes of its end are kept: a panic message and
/// libtest's summary are at the end.
const OUTPUT_TAIL: usize = 6 * 1024;
/// How many of the slowest tests are listed.
const SLOWEST: usize = 20;

/// The tests the history calls flaky (their outcome changed between recorded runs),
/// as (binary id, test name), so that the report can flag a failure as a known one.
pub fn known_flaky(history: &History) -> HashSet<(String, String)> {
    history
        .tests
        .iter()
        .flat_map(|(binary, tests)| {
            tests.iter().filter(|(_, t)| t.is_flaky()).map(move |(name, _)| (binary.clone(), name.clone()))
        })
        .collect()
}

/// What an attempt printed, cleaned for HTML and shortened.
#[derive(Debug, Clone)]
struct Output {
    stdout: String,
    stderr: String,
}

/// One finished attempt, as the report draws it.
#[derive(Debug, Clone)]
struct Attempt {
    test: TestRef,
    slot: usize,
    attempt: u32,
    max_attempts: u32,
    outcome: Outcome,
    exit: Option<ExitStatus>,
    start: Duration,
    duration: Duration,
    usage: ResourceUsage,
    batched: bool,
    leaked: bool,
    rerun: Option<BatchFailure>,
    error: Option<String>,
    /// The CPU pressure it ran under (runnable threads per core), if sampled.
    pressure: Option<f64>,
    /// Whether another attempt was planned after this one.
    retried: bool,
    /// Whether the run stopped before that planned retry started.
    abandoned: bool,
    /// Kept only for the attempts of the first [`MAX_DETAILED`] problem tests.
    output: Option<Output>,
}

/// How an attempt is coloured on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    /// Passed in a process of its own.
    Pass,
    /// Passed in a batch, sharing a process with other tests of its binary.
    Batched,
    /// Passed after failing: the last attempt of a flaky test.
    Flaky,
    /// Failed, and another attempt followed.
    Retried,
    /// Failed for good.
    Fail,
    /// Ended for running too long.
    Timeout,
}

impl Class {
    fn of(a: &Attempt) -> Class {
        match a.outcome {
            Outcome::Timeout => Class::Timeout,
            o if !o.is_success() && a.retried && !a.abandoned => Class::Retried,
            o if !o.is_success() => Class::Fail,
            _ if a.attempt > 1 => Class::Flaky,
            _ if a.batched => Class::Batched,
            _ => Class::Pass,
        }
    }

    /// The CSS class: one letter, since a large run has thousands of bars.
    fn css(self) -> &'static str {
        match self {
            Class::Pass => "p",
            Class::Batched => "b",
            Class::Flaky => "k",
            Class::Retried => "r",
            Class::Fail => "f",
            Class::Timeout => "t",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Class::Pass => "passed",
            Class::Batched => "passed in a batch",
            Class::Flaky => "passed on a retry (flaky)",
            Class::Retried => "failed, retried",
            Class::Fail => "failed",
            Class::Timeout => "timed out",
        }
    }

    const ALL: [Class; 6] = [Class::Pass, Class::Batched, Class::Flaky, Class::Retried, Class::Fail, Class::Timeout];
}

type TestKey = (String, String);

/// Collects every attempt and writes the report when the run ends.
pub struct HtmlReporter {
    path: PathBuf,
    known_flaky: HashSet<TestKey>,
    info: Option<RunInfo>,
    /// Tests announced so far: at the start, and by each `TestsAdded` of a pipelined run.
    planned: usize,
    attempts: Vec<Attempt>,
    /// Each test's attempts, as indices into `attempts`.
    tests: HashMap<TestKey, Vec<usize>>,
    /// Tests with a failed attempt, in the order of their first failure.
    problems: Vec<TestKey>,
    cancelled: Option<CancelReason>,
}

impl HtmlReporter {
    /// A reporter that writes the report to `path` when the run finishes. Tests in
    /// `known_flaky` (see [`known_flaky`]) are marked as flaky in the history.
    pub fn new(path: PathBuf, known_flaky: HashSet<(String, String)>) -> HtmlReporter {
        HtmlReporter {
            path,
            known_flaky,
            info: None,
            planned: 0,
            attempts: Vec::new(),
            tests: HashMap::new(),
            problems: Vec::new(),
            cancelled: None,
        }
    }

    fn record(&mut self, f: &TestFinished) {
        let key = (f.test.binary_id().to_string(), f.test.name.clone());
        let r = &f.result;
        let failed = !r.outcome.is_success();
        if failed && !self.tests.get(&key).is_some_and(|a| a.iter().any(|i| !self.attempts[*i].outcome.is_success())) {
            self.problems.push(key.clone());
        }
        let detailed = self.problems.iter().take(MAX_DETAILED).any(|k| *k == key);
        let output =
            (failed && detailed).then(|| Output { stdout: clean_output(&r.stdout), stderr: clean_output(&r.stderr) });
        let index = self.attempts.len();
        self.attempts.push(Attempt {
            test: f.test.clone(),
            slot: f.slot,
            attempt: f.attempt,
            max_attempts: f.max_attempts,
            outcome: r.outcome,
            exit: r.exit,
            start: r.start,
            duration: r.duration,
            usage: r.usage,
            batched: r.batched,
            leaked: r.leaked,
            rerun: r.rerun,
            error: r.error.clone(),
            pressure: r.pressure,
            retried: f.will_retry,
            abandoned: false,
            output,
        });
        let attempts = self.tests.entry(key).or_default();
        attempts.push(index);
        // Only the last few failed attempts of a test keep their output.
        let with_output: Vec<usize> = attempts.iter().copied().filter(|i| self.attempts[*i].output.is_some()).collect();
        if with_output.len() > MAX_ATTEMPTS_SHOWN {
            self.attempts[with_output[0]].output = None;
        }
    }

    fn abandon(&mut self, f: &TestFinished) {
        let key = (f.test.binary_id().to_string(), f.test.name.clone());
        if let Some(&last) = self.tests.get(&key).and_then(|a| a.last()) {
            self.attempts[last].abandoned = true;
        }
    }

    /// The whole page for a finished run.
    pub fn render(&self, stats: &RunStats) -> String {
        Page::new(self, stats).render()
    }

    fn write(&self, stats: &RunStats) -> io::Result<()> {
        // A run that selected nothing has nothing to show; keep the last report.
        if stats.planned == 0 && self.attempts.is_empty() {
            return Ok(());
        }
        let html = self.render(stats);
        crate::phase::mark("html rendered");
        let r = crate::files::write_file("HTML report", &self.path, html.as_bytes()).map_err(|e| {
            e.with_hint("; make its directory writable, choose another path with --report PATH, or pass --no-report")
                .into_io()
        });
        crate::phase::mark("html written");
        r
    }
}

impl Reporter for HtmlReporter {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted(info) => {
                self.planned = info.test_count;
                self.info = Some(info.clone());
            }
            Event::TestsAdded { tests, .. } => self.planned += tests,
            Event::TestFinished(f) => self.record(f),
            Event::RetryAbandoned(f) => self.abandon(f),
            Event::RunCancelling { reason, .. } => {
                self.cancelled.get_or_insert(*reason);
            }
            Event::RunFinished(stats) => self.write(stats)?,
            _ => {}
        }
        Ok(())
    }
}

/// A test's final state, as the problem list groups it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Failed,
    TimedOut,
    Flaky,
}

/// The report being put together from what the reporter collected.
struct Page<'a> {
    r: &'a HtmlReporter,
    stats: &'a RunStats,
    out: String,
}

impl<'a> Page<'a> {
    fn new(r: &'a HtmlReporter, stats: &'a RunStats) -> Page<'a> {
        Page { r, stats, out: String::with_capacity(64 * 1024 + r.attempts.len() * 160) }
    }

    fn render(mut self) -> String {
        let profile = self.r.info.as_ref().map_or("default", |i| i.profile.as_str());
        let title = format!("tempo run · {profile} · {}", started_at(self.r.info.as_ref()));
        let _ = write!(
            self.out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
             <meta name=\"generator\" content=\"tempo {}\"/>\n<title>{}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
            env!("CARGO_PKG_VERSION"),
            esc(&title),
            include_str!("html/report.css"),
        );
        self.header(&title);
        self.timing();
        self.timeline();
        self.slowest();
        self.problems();
        let _ = write!(
            self.out,
            "<footer>Written by tempo {} (cargo tempo run). Hover a bar for its test; click a red one for its output.</footer>\n\
             <script>//<![CDATA[\n{}//]]></script>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION"),
            include_str!("html/report.js"),
        );
        self.out
    }

    fn header(&mut self, title: &str) {
        let s = self.stats;
        let info = self.r.info.as_ref();
        let _ = write!(self.out, "<header>\n<h1>{}</h1>\n<p class=\"counts\">", esc(title));
        let planned = self.r.planned.max(s.planned);
        let _ = write!(self.out, "<span>{planned} tests</span>");
        let counts = [
            ("ok", s.passed, "passed"),
            ("flaky", s.flaky, "flaky"),
            ("bad", s.failed, "failed"),
            ("timeout", s.timed_out, "timed out"),
            ("muted", s.skipped, "skipped"),
            ("muted", s.not_run, "not run"),
        ];
        for (class, n, what) in counts {
            if n > 0 || what == "passed" || what == "failed" {
                let _ = write!(self.out, " <span class=\"{class}\">{n} {what}</span>");
            }
        }
        self.out.push_str("</p>\n<p class=\"facts\">");
        let mut facts = Vec::new();
        if let Some(info) = info {
            facts.push(format!("profile <b>{}</b>", esc(&info.profile)));
            let concurrency = if info.adaptive {
                format!("adaptive concurrency: up to {} tests at once on {} cores", info.slots, info.cores)
            } else {
                format!("{} slots on {} cores", info.slots, info.cores)
            };
            facts.push(concurrency);
            if info.pipelined {
                facts.push("pipelined with the build".into());
            }
            facts.push(format!("run id <code>{}</code>", esc(&info.run_id)));
        }
        if let Some(signal) = s.signal {
            facts.push(format!("<span class=\"bad\">interrupted by {}</span>", esc(&signal_name(signal))));
        } else if let Some(reason) = self.r.cancelled {
            let why = match reason {
                CancelReason::TestFailure => "stopped early by fail-fast".to_owned(),
                CancelReason::BuildFailed => "stopped early: the build failed".to_owned(),
                CancelReason::Signal(n) => format!("interrupted by {}", signal_name(n)),
                CancelReason::InternalError => "stopped early: tempo hit a bug".to_owned(),
            };
            facts.push(format!("<span class=\"bad\">{}</span>", esc(&why)));
        }
        self.out.push_str(&facts.join(" · "));
        self.out.push_str("</p>\n</header>\n");
    }

    /// The lower bound against the wall time, and what the CPU did.
    fn timing(&mut self) {
        let s = self.stats;
        let a = s.accounting();
        let wall = s.wall.as_secs_f64();
        let bound = s.lower_bound();
        let longest = self.r.attempts.iter().max_by_key(|a| a.duration);
        let longest_name = longest.map_or(String::new(), |a| format!(" ({})", escape_name(&a.test.name)));
        let components = [
            (s.longest, format!("longest attempt{longest_name}")),
            (s.cpu.div_f64(s.cores.max(1) as f64), format!("CPU time ÷ {} cores", s.cores)),
            (s.test_time.div_f64(s.slots.max(1) as f64), format!("test time ÷ {} slots", s.slots)),
        ];
        self.out.push_str("<section id=\"timing\">\n<h2>Where the time went</h2>\n<div class=\"cards\">\n");
        let cards = [
            ("wall time", fmt_dur(s.wall), "first test started to last test finished".to_owned()),
            ("lower bound", fmt_dur(bound), "no schedule could have finished sooner".to_owned()),
            ("efficiency", format!("{:.0}%", s.efficiency() * 100.0), "lower bound ÷ wall time".to_owned()),
            (
                "CPU utilization",
                format!("{:.0}%", a.cpu_utilization * 100.0),
                format!("CPU {} ÷ (wall × {} cores)", fmt_dur(s.cpu), s.cores),
            ),
            ("busy cores", format!("{:.2}", a.busy_cores), "CPU time ÷ wall time".to_owned()),
        ];
        for (what, value, how) in cards {
            let _ = writeln!(
                self.out,
                "<div class=\"card\"><div class=\"k\">{what}</div><div class=\"v\">{}</div><div class=\"h\">{}</div></div>",
                esc(&value),
                esc(&how)
            );
        }
        self.out.push_str("</div>\n<table class=\"bound\">\n");
        let scale = wall.max(bound.as_secs_f64()).max(1e-9);
        let binding = components.iter().map(|c| c.0).max().unwrap_or_default();
        let mut row = |label: &str, d: Duration, class: &str| {
            let pct = d.as_secs_f64() / scale * 100.0;
            let _ = writeln!(
                self.out,
                "<tr class=\"{class}\"><th>{}</th><td class=\"num\">{}</td><td class=\"track\"><span style=\"width:{pct:.2}%\"></span></td></tr>",
                esc(label),
                fmt_dur(d)
            );
        };
        row("wall time", s.wall, "wall");
        for (d, label) in &components {
            let class = if *d == binding { "binding" } else { "part" };
            row(label, *d, class);
        }
        self.out.push_str("</table>\n<p class=\"note\">The lower bound is the largest of the three bars below the wall time (the highlighted one binds).</p>\n</section>\n");
    }

    fn timeline(&mut self) {
        let bars: Vec<timeline::Bar> = self
            .r
            .attempts
            .iter()
            .map(|a| timeline::Bar {
                slot: a.slot,
                start: a.start,
                duration: a.duration,
                cpu: a.usage.cpu(),
                class: Class::of(a),
                title: bar_title(a),
                anchor: self.problem_anchor(a),
            })
            .collect();
        let info = self.r.info.as_ref();
        let chart = timeline::Timeline {
            bars: &bars,
            slots: self.stats.slots.max(info.map_or(1, |i| i.slots)).max(1),
            cores: self.stats.cores.max(1),
            adaptive: info.is_some_and(|i| i.adaptive),
            wall: self.stats.wall,
            lower_bound: self.stats.lower_bound(),
            slot_idle: self.stats.slot_idle(),
        };
        self.out.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
        self.out.push_str(
            "<p class=\"tools\"><label>Highlight tests whose name contains <input id=\"find\" type=\"search\" \
             placeholder=\"test name\" autocomplete=\"off\"/></label> <span id=\"found\"></span></p>\n",
        );
        self.out.push_str("<p class=\"legend\">");
        for class in Class::ALL {
            let _ = write!(self.out, "<span><i class=\"sw {}\"></i>{}</span> ", class.css(), class.label());
        }
        self.out.push_str("</p>\n");
        chart.render(&mut self.out);
        self.out.push_str("</section>\n");
    }

    /// `#t{n}` for the attempts of a test listed in full in the problem section.
    fn problem_anchor(&self, a: &Attempt) -> Option<usize> {
        if a.outcome.is_success() && a.attempt == 1 {
            return None;
        }
        let key = (a.test.binary_id().to_string(), a.test.name.clone());
        self.r.problems.iter().take(MAX_DETAILED).position(|k| *k == key)
    }

    fn slowest(&mut self) {
        // Each test's longest attempt.
        let mut longest: HashMap<&TestKey, usize> = HashMap::new();
        for (key, attempts) in &self.r.tests {
            if let Some(&i) = attempts.iter().max_by_key(|i| self.r.attempts[**i].duration) {
                longest.insert(key, i);
            }
        }
        let mut rows: Vec<&Attempt> = longest.values().map(|i| &self.r.attempts[*i]).collect();
        rows.sort_by(|a, b| b.duration.cmp(&a.duration).then_with(|| a.test.name.cmp(&b.test.name)));
        rows.truncate(SLOWEST);
        let max = rows.first().map_or(1e-9, |a| a.duration.as_secs_f64().max(1e-9));
        let _ = write!(
            self.out,
            "<section id=\"slowest\">\n<h2>Slowest tests</h2>\n<table class=\"slow\">\n<thead><tr><th>#</th><th>test</th><th>binary</th>\
             <th class=\"num\">duration</th><th class=\"num\">CPU</th><th class=\"num\">usual</th>\
             <th class=\"num\">pressure</th><th>beside others</th><th></th></tr></thead>\n<tbody>\n"
        );
        for (n, a) in rows.iter().enumerate() {
            let pct = a.duration.as_secs_f64() / max * 100.0;
            let usual = if a.test.expected_known { fmt_dur(a.test.expected) } else { "–".into() };
            let attempt = if a.attempt > 1 { format!(" <small>attempt {}</small>", a.attempt) } else { String::new() };
            let pressure = a.pressure.map_or_else(|| "–".into(), |p| format!("{p:.1}"));
            // What adaptive concurrency learned of the test before this run.
            let learned = &a.test.admission;
            let beside = format!("{} ({:.2} cores)", learned.class.word(), learned.demand);
            let _ = writeln!(
                self.out,
                "<tr><td class=\"num\">{}</td><td class=\"name\">{}{attempt}</td><td>{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{pressure}</td><td>{beside}</td>\
                 <td class=\"track\"><span class=\"{}\" style=\"width:{pct:.1}%\"></span></td></tr>",
                n + 1,
                esc(&escape_name(&a.test.name)),
                esc(a.test.binary_id().as_str()),
                fmt_dur(a.duration),
                fmt_dur(a.usage.cpu()),
                usual,
                Class::of(a).css(),
            );
        }
        self.out.push_str(
            "</tbody>\n</table>\n<p class=\"note\">Usual: the median of the test's recorded runs before this one. \
             Pressure: the machine's runnable threads per core while it ran. Beside others: what adaptive concurrency \
             learned of the test from its history, and the cores it charged it.</p>\n</section>\n",
        );
    }

    /// A problem test's verdict: how its last attempt ended.
    fn verdict(&self, key: &TestKey) -> Verdict {
        let last = self.r.tests[key].last().map(|i| &self.r.attempts[*i]);
        match last.map(|a| a.outcome) {
            Some(o) if o.is_success() => Verdict::Flaky,
            Some(Outcome::Timeout) => Verdict::TimedOut,
            _ => Verdict::Failed,
        }
    }

    fn problems(&mut self) {
        let groups = [
            (Verdict::Failed, "failed", "Failed"),
            (Verdict::TimedOut, "timed-out", "Timed out"),
            (Verdict::Flaky, "flaky", "Flaky: failed, then passed on a retry"),
        ];
        self.out.push_str("<section id=\"problems\">\n<h2>Failures</h2>\n");
        if self.r.problems.is_empty() {
            self.out.push_str("<p class=\"ok\">No test failed, timed out or needed a retry.</p>\n");
        }
        for (verdict, id, heading) in groups {
            let keys: Vec<(usize, &TestKey)> =
                self.r.problems.iter().enumerate().filter(|(_, k)| self.verdict(k) == verdict).collect();
            if keys.is_empty() {
                continue;
            }
            let _ = writeln!(self.out, "<div id=\"{id}\" class=\"group\">\n<h3>{heading} ({})</h3>", keys.len());
            let mut listed = Vec::new();
            for (n, key) in keys {
                if n < MAX_DETAILED {
                    self.problem(n, key);
                } else {
                    listed.push(key);
                }
            }
            if !listed.is_empty() {
                let _ = writeln!(
                    self.out,
                    "<p class=\"note\">{} more, without their output (the report shows the output of the first {MAX_DETAILED} tests that failed):</p>\n<ul class=\"more\">",
                    listed.len()
                );
                for key in listed {
                    let last = self.r.tests[key].last().map(|i| &self.r.attempts[*i]).expect("a listed test ran");
                    let _ = writeln!(
                        self.out,
                        "<li><span class=\"name\">{}</span> <small>{}</small> {}</li>",
                        esc(&escape_name(&key.1)),
                        esc(&key.0),
                        esc(&describe(last))
                    );
                }
                self.out.push_str("</ul>\n");
            }
            self.out.push_str("</div>\n");
        }
        self.out.push_str("</section>\n");
    }

    fn problem(&mut self, n: usize, key: &TestKey) {
        let attempts: Vec<&Attempt> = self.r.tests[key].iter().map(|i| &self.r.attempts[*i]).collect();
        let badge = if self.r.known_flaky.contains(key) {
            " <span class=\"badge\" title=\"its outcome changed between recorded runs\">flaky in history</span>"
        } else {
            ""
        };
        let _ = writeln!(
            self.out,
            "<article class=\"test\" id=\"t{n}\" data-name=\"{}\">\n<h4><span class=\"name\">{}</span> <small>{}</small>{badge}</h4>\n<p>{}</p>",
            esc(&escape_name(&key.1)),
            esc(&escape_name(&key.1)),
            esc(&key.0),
            esc(&attempts.iter().map(|a| describe(a)).collect::<Vec<_>>().join("; then ")),
        );
        let shown: Vec<&&Attempt> = attempts.iter().rev().filter(|a| a.output.is_some()).collect();
        for (i, a) in shown.iter().enumerate() {
            let output = a.output.as_ref().expect("filtered on output");
            let open = if i == 0 { " open=\"open\"" } else { "" };
            let _ = writeln!(
                self.out,
                "<details{open}><summary>attempt {}: {}</summary>",
                a.attempt,
                esc(&describe_outcome(a))
            );
            if output.stdout.is_empty() && output.stderr.is_empty() {
                self.out.push_str("<p class=\"note\">It printed nothing.</p>\n");
            }
            for (stream, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                if !text.is_empty() {
                    let _ = writeln!(self.out, "<div class=\"stream\">{stream}</div><pre>{}</pre>", esc(text));
                }
            }
            self.out.push_str("</details>\n");
        }
        if shown.is_empty() {
            self.out.push_str("<p class=\"note\">Its output was not kept.</p>\n");
        }
        self.out.push_str("</article>\n");
    }
}

/// The tooltip of an attempt's bar: name, binary, attempt, duration, CPU.
fn bar_title(a: &Attempt) -> String {
    let mut t = format!(
        "{}\n{} · attempt {}/{} · {}\n{} from {} · CPU {} (user {}, sys {}) · RSS {}",
        escape_name(&a.test.name),
        a.test.binary_id(),
        a.attempt,
        a.max_attempts,
        describe_outcome(a),
        fmt_dur(a.duration),
        fmt_dur(a.start),
        fmt_dur(a.usage.cpu()),
        fmt_dur(a.usage.user),
        fmt_dur(a.usage.system),
        fmt_bytes(a.usage.max_rss),
    );
    if a.batched {
        t.push_str("\nran in a batch");
    }
    if let Some(why) = a.rerun {
        let _ = write!(t, "\nran alone after it {}", why.describe());
    }
    t
}

/// How an attempt ended, in a few words: "passed", "failed with exit code 101".
fn describe_outcome(a: &Attempt) -> String {
    let mut s = match (a.outcome, a.exit) {
        (Outcome::Pass, _) => "passed".to_owned(),
        (Outcome::Timeout, _) => "timed out".to_owned(),
        (Outcome::LeakFail, _) => "passed but leaked processes that held its output open".to_owned(),
        (Outcome::ExecFail, _) => {
            format!("could not start: {}", a.error.as_deref().unwrap_or("unknown error"))
        }
        (_, Some(ExitStatus::Signal { signal, .. })) => format!("aborted by {}", signal_name(signal)),
        (_, Some(ExitStatus::Code(code))) => format!("failed with exit code {code}"),
        (_, None) => "failed".to_owned(),
    };
    if a.leaked && a.outcome == Outcome::Pass {
        s.push_str(" (leaked)");
    }
    if a.abandoned {
        s.push_str(" (retry cancelled)");
    }
    s
}

/// An attempt in one line: "attempt 2/3 failed with exit code 101 after 0.012 s".
fn describe(a: &Attempt) -> String {
    format!("attempt {}/{} {} after {}", a.attempt, a.max_attempts, describe_outcome(a), fmt_dur(a.duration))
}

/// When the run started, in UTC.
fn started_at(info: Option<&RunInfo>) -> String {
    info.map_or_else(String::new, |i| {
        chrono::DateTime::<chrono::Utc>::from(i.started_at).format("%Y-%m-%d %H:%M:%S UTC").to_string()
    })
}

/// A duration for people: "0.4 ms", "123 ms", "1.234 s", "95.2 s".
fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 0.001 {
        format!("{:.2} ms", s * 1000.0)
    } else if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else if s < 60.0 {
        format!("{s:.3} s")
    } else {
        format!("{s:.1} s")
    }
}

fn fmt_bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= MIB { format!("{:.1} MiB", n as f64 / MIB) } else { format!("{} KiB", n / 1024) }
}

/// Escapes text for HTML and XML alike: element content and quoted attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 cannot hold control characters, even as references, and a name
            // or message is never meant to carry them: they are shown escaped.
            '\n' | '\t' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// A test's output made safe for the page and bounded: colour codes dropped, other
/// control characters (which XML cannot hold either) shown escaped, and only the
/// head and the tail kept.
fn clean_output(captured: &CapturedOutput) -> String {
    let bytes = &captured.bytes;
    let mut dropped = captured.dropped;
    let kept: std::borrow::Cow<'_, [u8]> = if bytes.len() > OUTPUT_HEAD + OUTPUT_TAIL {
        dropped += (bytes.len() - OUTPUT_HEAD - OUTPUT_TAIL) as u64;
        let mut v = bytes[..OUTPUT_HEAD].to_vec();
        v.extend_from_slice(format!("\n[… {dropped} bytes of output not shown …]\n").as_bytes());
        v.extend_from_slice(&bytes[bytes.len() - OUTPUT_TAIL..]);
        v.into()
    } else {
        bytes.into()
    };
    let mut text = String::with_capacity(kept.len());
    let lossy = String::from_utf8_lossy(&kept);
    let mut rest = lossy.as_ref();
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            rest = &rest[len..];
            continue;
        }
        match c {
            '\n' | '\t' => text.push(c),
            // Not allowed in XML 1.0, and never meant to be read.
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => text.extend(c.escape_default()),
            c => text.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    text
}

/// The length of a colour sequence (`ESC [ digits;... m`) at the start of `s`.
fn sgr_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\x1b[")?;
    let params = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    (body.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests;
