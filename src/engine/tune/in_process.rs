//! The tempo engine for `tune`: builds and lists once, then runs the selected tests
//! in-process at each thread count, as `cargo tempo run -j N` would run them, and
//! reads the wall and CPU time from the runner's own accounting.

use std::io;

use crate::engine::repeat::SweepPlan;
use crate::error::Result;
use crate::events::Reporter;
use crate::events::{Event, ExitStatus, Outcome, TestFinished};
use crate::tune::TuneOptions;
use crate::tune::{Engine, FailedTest, Prepared, RunEnd, Sample, Setting};

/// Collects the tests whose final attempt failed.
#[derive(Default)]
struct Failures {
    tests: Vec<FailedTest>,
}

fn describe(outcome: Outcome) -> String {
    match outcome {
        Outcome::Pass => "passed".into(),
        Outcome::Fail(ExitStatus::Code(code)) => format!("exit code {code}"),
        Outcome::Fail(ExitStatus::Signal { signal, .. }) => {
            format!("killed by {}", crate::events::signal_name(signal))
        }
        Outcome::Timeout => "timed out".into(),
        Outcome::LeakFail => "leaked processes".into(),
        Outcome::ExecFail => "could not be started".into(),
    }
}

impl Failures {
    fn push(&mut self, f: &TestFinished) {
        self.tests.push(FailedTest {
            binary_id: f.test.binary_id().to_string(),
            name: f.test.name.clone(),
            how: describe(f.result.outcome),
        });
    }
}

impl Reporter for Failures {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TestFinished(f) if !f.will_retry && !f.result.outcome.is_success() => self.push(f),
            // The run stopped before a planned retry: the failed attempt is final.
            Event::RetryAbandoned(f) => self.push(f),
            _ => {}
        }
        Ok(())
    }
}

struct TempoEngine {
    sweep: SweepPlan,
}

impl Engine for TempoEngine {
    fn name(&self) -> &'static str {
        "tempo"
    }

    fn test_count(&self) -> Option<usize> {
        Some(self.sweep.test_count())
    }

    fn learned(&self) -> Option<String> {
        Some(self.sweep.learned())
    }

    fn run(&mut self, setting: Setting) -> Result<RunEnd> {
        let mut failures = Failures::default();
        let stats = self.sweep.run(setting.threads(), &mut failures)?;
        if let Some(sig) = stats.signal {
            return Ok(RunEnd::Signal(sig));
        }
        if stats.failed > 0 {
            return Ok(RunEnd::Failed { tests: failures.tests, count: stats.failed });
        }
        // The runner's wall time runs from the first test's start to the last one's
        // end, the figure `cargo tempo run` reports and its utilization is based on.
        Ok(RunEnd::Passed(Sample { wall_s: stats.wall.as_secs_f64(), cpu_s: stats.cpu.as_secs_f64() }))
    }
}

/// Builds and lists the tests; `Ok(None)` when the filters select none.
pub(crate) fn prepare(opts: &TuneOptions) -> Result<Option<Prepared>> {
    let Some(sweep) = crate::engine::repeat::prepare_sweep(&opts.cargo, &opts.config, &opts.filter)? else {
        return Ok(None);
    };
    let root = sweep.workspace_root();
    let profile = sweep.profile();
    let config_file = sweep.config_file().map_or_else(|| root.join(".config/tempo.toml"), ToOwned::to_owned);
    let report_dir = root.join(&profile.store_dir).join("tune");
    let profile = profile.name.clone();
    Ok(Some(Prepared {
        engine: Box::new(TempoEngine { sweep }),
        report_dir,
        config_file,
        check_with_tempo: true,
        profile,
    }))
}
