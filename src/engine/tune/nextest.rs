//! The nextest engine for `tune`: runs `cargo nextest run --test-threads N` at each
//! count, so that teams who stay on nextest get the recommendation for the runner they
//! actually use.
//!
//! Wall time is measured around the `cargo` process. CPU time comes from `wait4` on it:
//! a reaped process's rusage includes every descendant it waited for, and cargo waits
//! for cargo-nextest, which waits for each test. So the figure covers the tests, nextest
//! and cargo's own no-op build check, which `cargo nextest run` always does. Failing
//! tests are named from nextest's JUnit report, as `flaky --engine nextest` reads it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::build;
use crate::engine::nextest::{NextestRuns, RemoveOnDrop, name_args, prepare_runs, read_report, store_dir};
use crate::error::{Error, Result};
use crate::flaky::Tallies;
use crate::tune::TuneOptions;
use crate::tune::{Engine, FailedTest, Prepared, RunEnd, Sample, Setting};

struct NextestEngine {
    /// `nextest run --config-file ... --profile ...` and the cargo options.
    base: Vec<std::ffi::OsString>,
    /// The name filters, which go last.
    names: Vec<std::ffi::OsString>,
    /// Where the copied config sends the JUnit report.
    junit: PathBuf,
    /// Where each run's stderr goes, for the error message when nextest fails.
    stderr: PathBuf,
    /// How many tests the last run ran.
    tests: Option<usize>,
    /// Removes the copied config, the report and the log when the engine is dropped.
    _tmp: RemoveOnDrop,
}

impl Engine for NextestEngine {
    fn name(&self) -> &'static str {
        "cargo nextest run"
    }

    fn test_count(&self) -> Option<usize> {
        self.tests
    }

    fn run(&mut self, setting: Setting) -> Result<RunEnd> {
        // nextest has no adaptive concurrency, and `tune` never asks it for that;
        // its own default is the core count.
        let threads = setting.threads().unwrap_or_else(crate::env::available_cores);
        let _ = std::fs::remove_file(&self.junit);
        let log = std::fs::File::create(&self.stderr)
            .map_err(|source| Error::WriteFile { path: self.stderr.clone(), source })?;
        let started = Instant::now();
        let child = Command::new(build::cargo_program())
            .args(&self.base)
            .args(["--test-threads", &threads.to_string(), "--no-fail-fast"])
            .args(["--status-level", "none", "--final-status-level", "none"])
            .args(&self.names)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| Error::CargoNotFound { program: "cargo nextest".into(), source })?;
        // Reaped here rather than through `Child::wait`, which does not return the rusage.
        let (status, usage) = crate::execute::unix::reap(child.id()).map_err(|source| Error::Nextest {
            status: format!("waiting for it failed: {source}"),
            stderr: String::new(),
        })?;
        let sample = Sample { wall_s: started.elapsed().as_secs_f64(), cpu_s: usage.cpu().as_secs_f64() };
        let code = match status {
            crate::events::ExitStatus::Code(code) => code,
            crate::events::ExitStatus::Signal { signal, .. } => return Ok(RunEnd::Signal(signal)),
        };
        match code {
            0 | 100 => {}
            // nextest's NO_TESTS_RUN.
            4 => {
                eprintln!("error: no tests to run: `cargo nextest run` selected none");
                return Ok(RunEnd::NoTests);
            }
            129 | 130 | 143 => return Ok(RunEnd::Signal(code - 128)),
            _ => {
                let stderr = String::from_utf8_lossy(&std::fs::read(&self.stderr).unwrap_or_default()).into_owned();
                let lines: Vec<&str> = stderr.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n");
                return Err(Error::Nextest { status: format!("exit status: {code}"), stderr: tail });
            }
        }
        let mut tallies = Tallies::new();
        let (passed, failed) = read_report(&self.junit, &mut tallies)?;
        self.tests = Some(passed + failed);
        if code == 100 || failed > 0 {
            let tests = tallies
                .into_iter()
                .filter(|(_, t)| t.failures > 0)
                .map(|((binary_id, name), _)| FailedTest { binary_id, name, how: "failed".into() })
                .collect();
            return Ok(RunEnd::Failed { tests, count: failed.max(1) });
        }
        Ok(RunEnd::Passed(sample))
    }
}

/// Builds once with `cargo nextest run --no-run`, and readies the runs.
pub(crate) fn prepare(opts: &TuneOptions) -> Result<Option<Prepared>> {
    let NextestRuns { root, config_file, base, junit, dir: tmp, tmp: cleanup } =
        prepare_runs(&opts.cargo, &opts.config, &opts.filter, "tune")?;
    let root = &root;
    let report_dir = root.join(store_dir(&opts.config, root)).join("tune");
    let engine = NextestEngine {
        base,
        names: name_args(&opts.filter.names),
        junit,
        stderr: tmp.join("stderr.log"),
        tests: None,
        _tmp: cleanup,
    };
    Ok(Some(Prepared {
        engine: Box::new(engine),
        report_dir,
        config_file,
        check_with_tempo: false,
        profile: opts.config.profile.clone(),
    }))
}
