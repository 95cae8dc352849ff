//! `cargo tempo tune`: measures the suite at several thread counts and recommends a
//! `test-threads`, because the best count depends on how much of the suite waits on
//! I/O rather than on the CPU, and guessing it wrong costs either speed or a machine
//! that is busy for nothing.
//!
//! Either engine (tempo in-process, or `cargo nextest run`) hands back one
//! [`Sample`] per run. This module decides the order of the runs, shows progress,
//! stops when a run has failing tests, and hands the samples to [`analysis`] for the
//! table and the recommendation, to [`chart`] for the SVG and to [`write`] for
//! `--write`.

pub mod analysis;
pub mod chart;
mod in_process;
mod nextest;
pub mod write;

use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, exit_code};
use analysis::{Recommendation, TuneReport};

/// A thread setting that a sweep measures: a fixed count, or tempo's adaptive
/// concurrency, which gets its own row and is left out of the recommendation (which
/// picks a count; the recommendation line says how adaptive compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    /// A fixed number of test threads (slots).
    Threads(usize),
    /// `test-threads = "adaptive"` (the tempo engine only).
    Adaptive,
}

impl Setting {
    /// The thread count, for the settings that are one.
    pub fn threads(self) -> Option<usize> {
        match self {
            Setting::Threads(n) => Some(n),
            Setting::Adaptive => None,
        }
    }

    /// How the setting is written in the table, the reports and `test-threads`.
    pub fn label(self) -> String {
        match self {
            Setting::Threads(n) => n.to_string(),
            Setting::Adaptive => "adaptive".into(),
        }
    }
}

/// What one measured run cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Wall time, in seconds.
    pub wall_s: f64,
    /// User plus system CPU time of the tests (and, for nextest, of nextest and
    /// cargo), in seconds.
    pub cpu_s: f64,
}

/// A test that failed in a run, as the reports name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTest {
    /// The binary id.
    pub binary_id: String,
    /// The test's name.
    pub name: String,
    /// How it failed, in a few words ("exit code 101", "timed out").
    pub how: String,
}

/// How one run of an engine ended.
pub(crate) enum RunEnd {
    /// Every test passed (after retries, as the profile allows).
    Passed(Sample),
    /// Some tests failed: the sweep stops. `count` is how many failed, which may be
    /// more than the tests named.
    Failed {
        /// The tests that failed, as far as the engine could tell.
        tests: Vec<FailedTest>,
        /// How many tests failed.
        count: usize,
    },
    /// The filters selected nothing.
    NoTests,
    /// A signal stopped the run.
    Signal(i32),
}

/// An engine: runs every selected test once at a setting, and measures it.
pub(crate) trait Engine {
    /// The engine's name in the reports.
    fn name(&self) -> &'static str;
    /// How many tests a run runs, once known.
    fn test_count(&self) -> Option<usize>;
    /// Runs the selected tests once.
    fn run(&mut self, setting: Setting) -> Result<RunEnd>;
}

/// An engine ready to run, and where its results go.
pub(crate) struct Prepared {
    /// The engine.
    pub engine: Box<dyn Engine>,
    /// `<workspace>/<store.dir>/tune`.
    pub report_dir: PathBuf,
    /// The config file `--write` edits (created if it does not exist).
    pub config_file: PathBuf,
    /// Whether tempo must be able to read the edited file (nextest's file may hold
    /// what only nextest reads, such as setup scripts).
    pub check_with_tempo: bool,
    /// The chosen profile.
    pub profile: String,
}

/// The order of the measured runs: round `r` (0-based) runs every setting once,
/// starting with setting `r mod n`. Rotating the start spreads slow drift of the
/// machine (other load, thermal state, caches) over every setting instead of
/// charging it to whichever setting happens to run last.
pub fn schedule(settings: &[Setting], repeat: u32) -> Vec<(u32, Setting)> {
    let n = settings.len();
    (0..repeat).flat_map(|r| (0..n).map(move |i| (r, settings[(i + r as usize) % n.max(1)]))).collect()
}

/// Progress on stderr: one line per run, and on a terminal a line that says which run
/// is going on, overwritten when it ends.
struct Progress {
    terminal: bool,
    total: usize,
}

impl Progress {
    const CLEAR: &str = "\r\x1b[2K";

    fn bar(&self, done: usize) -> String {
        const WIDTH: usize = 20;
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        format!("[{}{}]", "#".repeat(filled), "-".repeat(WIDTH - filled))
    }

    fn start(&self, label: &str, done: usize) {
        if self.terminal {
            eprint!("{}tune: {} {label} ...", Self::CLEAR, self.bar(done));
            let _ = std::io::stderr().flush();
        }
    }

    fn finish(&self, label: &str, sample: Option<Sample>, cores: usize) {
        let clear = if self.terminal { Self::CLEAR } else { "" };
        match sample {
            Some(s) => eprintln!(
                "{clear}tune: {label}: {:.2}s wall, cpu {:.0}%",
                s.wall_s,
                100.0 * s.cpu_s / (s.wall_s * cores as f64).max(f64::EPSILON)
            ),
            None => eprintln!("{clear}tune: {label}: failed"),
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::files::write_atomically(path, bytes).map_err(|source| Error::WriteFile { path: path.to_owned(), source })
}

/// Why the sweep did not finish.
enum Stop {
    NoTests,
    Signal(i32),
    Failed { at: String, tests: Vec<FailedTest>, count: usize },
}

/// The measured runs of each setting, in the order of the settings.
type Samples = Vec<(Setting, Vec<Sample>)>;

/// Runs the warm-up and the measured runs; returns the samples of each setting.
fn sweep(
    engine: &mut dyn Engine,
    settings: &[Setting],
    repeat: u32,
    cores: usize,
) -> Result<std::result::Result<Samples, Stop>> {
    let order = schedule(settings, repeat);
    let progress = Progress { terminal: std::io::stderr().is_terminal(), total: order.len() };
    let mut samples: Samples = settings.iter().map(|s| (*s, Vec::new())).collect();
    // The warm-up loads the binaries and the files the tests read into the page cache,
    // so that the first measured run does not pay for it. It runs at the largest
    // thread count, the quickest way through a suite that is not CPU-bound.
    let warm = settings.iter().copied().max_by_key(|s| s.threads()).expect("a sweep measures at least one setting");
    let runs = std::iter::once((None, warm)).chain(order.into_iter().map(|(r, s)| (Some(r), s)));
    for (k, (round, setting)) in runs.enumerate() {
        let (label, run) = match round {
            None => (
                format!("warm-up, threads={}", setting.label()),
                format!("the warm-up run ({} threads)", setting.label()),
            ),
            Some(r) => (
                format!("[{k}/{}] threads={} run {}/{repeat}", progress.total, setting.label(), r + 1),
                format!("run {k} of {} ({} threads, round {} of {repeat})", progress.total, setting.label(), r + 1),
            ),
        };
        progress.start(&label, k.saturating_sub(1));
        match engine.run(setting)? {
            RunEnd::Passed(sample) => {
                progress.finish(&label, Some(sample), cores);
                if round.is_some()
                    && let Some((_, list)) = samples.iter_mut().find(|(s, _)| *s == setting)
                {
                    list.push(sample);
                }
            }
            RunEnd::Failed { tests, count } => {
                progress.finish(&label, None, cores);
                return Ok(Err(Stop::Failed { at: run, tests, count }));
            }
            RunEnd::NoTests => return Ok(Err(Stop::NoTests)),
            RunEnd::Signal(sig) => return Ok(Err(Stop::Signal(sig))),
        }
    }
    Ok(Ok(samples))
}

/// Says why the sweep stopped on a failing run, on stderr.
fn report_failure(at: &str, tests: &[FailedTest], count: usize) {
    let mut text = format!(
        "error: failed to finish the sweep: {count} test{} failed in {at}\n",
        if count == 1 { "" } else { "s" }
    );
    for t in tests {
        text.push_str(&format!("  {} {} ({})\n", t.binary_id, t.name, t.how));
    }
    text.push_str(
        "tune stopped there, since the timings of a failing suite measure the failure rather than the \
         thread count; fix these tests, or leave them out with FILTERS or -E, and run tune again\n",
    );
    eprint!("{text}");
}

/// `cargo tempo tune`.
pub fn run(opts: TuneOptions) -> Result<i32> {
    let prepared = if opts.nextest { nextest::prepare(&opts)? } else { in_process::prepare(&opts)? };
    let Some(mut p) = prepared else {
        return Ok(exit_code::NO_TESTS_RUN);
    };
    let cores = crate::env::available_cores();
    let mut settings: Vec<Setting> = opts.threads.iter().map(|n| Setting::Threads(*n)).collect();
    if !opts.nextest {
        // Measured beside the counts, so that the table shows what tempo's default does.
        settings.push(Setting::Adaptive);
    }
    let samples = match sweep(p.engine.as_mut(), &settings, opts.repeat, cores)? {
        Ok(samples) => samples,
        Err(Stop::NoTests) => return Ok(exit_code::NO_TESTS_RUN),
        Err(Stop::Signal(sig)) => {
            eprintln!("tune: stopped because tempo received a signal; no recommendation");
            return Ok(128 + sig);
        }
        Err(Stop::Failed { at, tests, count }) => {
            report_failure(&at, &tests, count);
            return Ok(exit_code::TEST_RUN_FAILED);
        }
    };
    let report = TuneReport::new(
        p.engine.name(),
        &p.profile,
        cores,
        p.engine.test_count().unwrap_or(0),
        opts.repeat,
        opts.tolerance,
        samples,
    );
    let svg_path = p.report_dir.join("tune.svg");
    let md_path = p.report_dir.join("tune.md");
    let json_path = p.report_dir.join("tune.json");
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| Error::WriteFile { path: json_path.clone(), source: std::io::Error::other(e) })?;
    write_file(&json_path, &json)?;
    write_file(&md_path, report.markdown().as_bytes())?;
    write_file(&svg_path, chart::svg(&report).as_bytes())?;

    let mut text = report.text();
    text.push_str(&format!("chart: {}\n", svg_path.display()));
    text.push_str(&format!("reports: {} and {}\n", md_path.display(), json_path.display()));
    if let Some(Recommendation { threads, .. }) = report.recommendation {
        if opts.write {
            let changed = write::write_config(&p.config_file, &p.profile, threads, p.check_with_tempo)?;
            text.push_str(&if changed {
                format!("set test-threads = {threads} in profile `{}` of {}\n", p.profile, p.config_file.display())
            } else {
                format!("test-threads = {threads} was already set in {}\n", p.config_file.display())
            });
        } else {
            text.push_str(&format!(
                "--write sets test-threads = {threads} in profile `{}` of {}\n",
                p.profile,
                p.config_file.display()
            ));
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(Error::Output)?;
    Ok(exit_code::OK)
}

/// Everything `cargo tempo tune` needs.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// How to build.
    pub cargo: crate::build::CargoOptions,
    /// Config file and profile.
    pub config: crate::config::ConfigOptions,
    /// Which tests.
    pub filter: crate::plan::selection::Selection,
    /// The thread counts to measure, resolved, sorted and without repeats; never empty.
    pub threads: Vec<usize>,
    /// Measured runs per thread count.
    pub repeat: u32,
    /// Run them with `cargo nextest run` instead of tempo.
    pub nextest: bool,
    /// How far above the best median a recommended count may be, as a fraction.
    pub tolerance: f64,
    /// Write the recommendation into the config file.
    pub write: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_runs_every_setting_once_from_a_rotated_start() {
        let s = [1, 2, 4].map(Setting::Threads);
        let order: Vec<(u32, usize)> = schedule(&s, 4).into_iter().map(|(r, s)| (r, s.threads().unwrap())).collect();
        #[rustfmt::skip]
        let expected = [
            (0, 1), (0, 2), (0, 4),
            (1, 2), (1, 4), (1, 1),
            (2, 4), (2, 1), (2, 2),
            (3, 1), (3, 2), (3, 4),
        ];
        assert_eq!(order, expected);
    }

    #[test]
    fn a_single_setting_is_run_once_per_round() {
        let order = schedule(&[Setting::Threads(3)], 2);
        assert_eq!(order, [(0, Setting::Threads(3)), (1, Setting::Threads(3))]);
    }
}
