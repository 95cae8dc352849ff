//! `cargo tempo tune`: measures the suite at several thread counts, shows progress,
//! stops when a run has failing tests, and writes the table, the chart and the
//! recommendation.

use std::io::{IsTerminal, Write as _};
use std::path::Path;

use crate::error::{Error, Result, exit_code};
use crate::tune::analysis::{Recommendation, TuneReport};
use crate::tune::{Engine, FailedTest, RunEnd, Sample, Setting, TuneOptions, chart, schedule, write};

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
    let prepared = if opts.nextest {
        crate::engine::tune::nextest::prepare(&opts)?
    } else {
        crate::engine::tune::in_process::prepare(&opts)?
    };
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
    let mut report = TuneReport::new(
        p.engine.name(),
        &p.profile,
        cores,
        p.engine.test_count().unwrap_or(0),
        opts.repeat,
        opts.tolerance,
        samples,
    );
    report.learned = p.engine.learned();
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
