//! The nextest engine for `flaky`: runs `cargo nextest run` N times, so that teams
//! who stay on nextest get the same verdicts from the runner they actually use.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::build;
use crate::engine::nextest::{NextestRuns, name_args, nextest_failed, prepare_runs, read_report, store_dir};
use crate::error::{Error, Result};
use crate::flaky::Tallies;
use crate::flaky::{Collected, FlakyOptions, Stopped};

/// The arguments that run (rather than build) the tests.
fn run_args(opts: &FlakyOptions) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["--retries", "0", "--no-fail-fast", "--status-level", "none"]
        .into_iter()
        .map(Into::into)
        .chain(["--final-status-level".into(), "none".into()])
        .collect();
    if let Some(t) = opts.test_threads {
        let n = crate::plan::concurrency::resolve_threads(t, crate::env::available_cores());
        args.extend(["--test-threads".into(), n.to_string().into()]);
    }
    args.extend(name_args(&opts.filter.names));
    args
}

/// Builds once with `cargo nextest run --no-run`, then runs the tests `opts.runs` times.
pub(crate) fn run(opts: &FlakyOptions) -> Result<Result<Collected, Stopped>> {
    let NextestRuns { root, config_file, base, junit, tmp: _cleanup, .. } =
        prepare_runs(&opts.cargo, &opts.config, &opts.filter, "flaky")?;
    let root = &root;
    let mut tallies = Tallies::new();
    for i in 1..=opts.runs {
        let _ = std::fs::remove_file(&junit);
        let started = Instant::now();
        let out = Command::new(build::cargo_program())
            .args(&base)
            .args(run_args(opts))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::CargoNotFound { program: "cargo nextest".into(), source })?;
        match out.status.code() {
            // nextest's own codes: all passed, or some tests failed.
            Some(0 | 100) => {}
            Some(4) => {
                eprintln!("error: no tests to run: `cargo nextest run` selected none");
                return Ok(Err(Stopped::NoTests));
            }
            None => {
                use std::os::unix::process::ExitStatusExt;
                let sig = out.status.signal().unwrap_or(libc::SIGTERM);
                return Ok(Err(Stopped::Signal(sig)));
            }
            Some(code @ (130 | 143 | 129)) => return Ok(Err(Stopped::Signal(code - 128))),
            Some(_) => return Err(nextest_failed(out.status, &out.stderr)),
        }
        let (passed, failed) = read_report(&junit, &mut tallies)?;
        eprintln!(
            "flaky: run {i}/{} (nextest): {passed} passed, {failed} failed in {:.2}s",
            opts.runs,
            started.elapsed().as_secs_f64()
        );
    }
    let store_dir = store_dir(&opts.config, root);
    Ok(Ok(Collected {
        tallies,
        runs: opts.runs,
        report_dir: root.join(store_dir).join("flaky"),
        config_file,
        profile: opts.config.profile.clone(),
    }))
}
