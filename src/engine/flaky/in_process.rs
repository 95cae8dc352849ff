//! The tempo engine for `flaky`: builds and lists once, then runs the same plan N times
//! in-process, counting each test's failures from the runner's events.

use std::io;
use std::time::{Instant, SystemTime};

use crate::error::Result;
use crate::events::Event;
use crate::events::Reporter;
use crate::execute;
use crate::flaky::FlakyOptions;
use crate::flaky::Tallies;
use crate::flaky::{Collected, Stopped};
use crate::plan::TestPlan;

/// Counts each test's final attempt (with retries off, its only one).
#[derive(Default)]
struct Counter {
    tallies: Tallies,
}

impl Reporter for Counter {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        if let Event::TestFinished(f) = event
            && !f.will_retry
        {
            let key = (f.test.binary_id().to_string(), f.test.name.clone());
            let tally = self.tallies.entry(key).or_default();
            tally.runs += 1;
            tally.failures += u32::from(!f.result.outcome.is_success());
        }
        Ok(())
    }
}

/// Runs the selected tests `opts.runs` times, printing a line per run on stderr.
pub(crate) fn run(opts: &FlakyOptions) -> Result<Result<Collected, Stopped>> {
    let Some(r) =
        crate::engine::repeat::prepare_repeatable(&opts.cargo, &opts.config, &opts.filter, opts.test_threads)?
    else {
        return Ok(Err(Stopped::NoTests));
    };
    let mut counter = Counter::default();
    for i in 1..=opts.runs {
        let plan = TestPlan {
            tests: r.plan.tests.clone(),
            skipped: r.plan.skipped,
            skipped_tests: Vec::new(),
            binary_count: r.plan.binary_count,
        };
        let info = crate::events::RunInfo { started_at: SystemTime::now(), ..r.info.clone() };
        let started = Instant::now();
        let stats = execute::run(plan, info, &r.config, &mut counter)?;
        eprintln!(
            "flaky: run {i}/{}: {} passed, {} failed in {:.2}s",
            opts.runs,
            stats.passed,
            stats.failed,
            started.elapsed().as_secs_f64()
        );
        if let Some(sig) = stats.signal {
            eprintln!("flaky: stopped after run {i} because tempo received a signal; no verdicts");
            return Ok(Err(Stopped::Signal(sig)));
        }
    }
    let root = &r.workspace_root;
    let config_file = r.config_file.clone().unwrap_or_else(|| root.join(".config/tempo.toml"));
    Ok(Ok(Collected {
        tallies: counter.tallies,
        runs: opts.runs,
        report_dir: root.join(&r.profile.store_dir).join("flaky"),
        config_file,
        profile: r.profile.name.clone(),
    }))
}
