//! Wires the stages together: build → discover → plan → schedule → execute → report.
//!
//! Each subcommand is a short walk down this pipeline; the stages themselves know
//! nothing of each other beyond the types they hand on.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::SystemTime;

use crate::build::{self, BuildEvent, TestBinary, Workspace};
use crate::config::{Config, FlakyResult, Profile};
use crate::discover::{self, ListedBinary};
use crate::env::{self, BinaryEnv, RunEnv};
use crate::error::{Error, Result, exit_code};
use crate::execute::{self, RunnerConfig};
use crate::options::{
    CargoOptions, Color, ConfigOptions, ListOptions, NameFilter, RunOptions, available_cores, resolve_threads,
};
use crate::plan::TestPlan;
use crate::report::Fanout;
use crate::report::events::RunInfo;
use crate::report::human::{HumanOptions, HumanReporter};
use crate::report::junit::{JunitOptions, JunitReporter};
use crate::report::list::write_list;
use crate::report::style::{Styles, color_choice};

/// Builds, lists and selects: everything up to the moment the first test could start.
struct Prepared {
    workspace: Workspace,
    run_env: RunEnv,
    plan: TestPlan,
}

/// Reads the workspace and its config (so that a config error stops tempo before
/// anything is built), then builds the test binaries.
fn build_binaries(cargo: &CargoOptions, config: &ConfigOptions) -> Result<(Workspace, Profile, Vec<Arc<TestBinary>>)> {
    env::warm_up();
    let workspace = build::workspace(cargo)?;
    let profile = Config::load(&workspace.root, config.config_file.as_deref())?.profile(&config.profile)?;
    let mut binaries = Vec::new();
    build::build(cargo, &workspace, |event| match event {
        BuildEvent::Binary(binary) => binaries.push(binary),
    })?;
    Ok((workspace, profile, binaries))
}

fn prepare(
    workspace: Workspace,
    profile: &Profile,
    binaries: Vec<Arc<TestBinary>>,
    filter: &NameFilter,
    retries_override: Option<u32>,
) -> Result<Prepared> {
    let run_env =
        RunEnv { run_id: env::new_run_id(), profile: profile.name.clone(), workspace_root: workspace.root.clone() };
    let with_env = binaries
        .into_iter()
        .map(|b| {
            let env = Arc::new(BinaryEnv::for_binary(&b, &run_env));
            (b, env)
        })
        .collect();
    let listed: Vec<ListedBinary> = discover::list_all(with_env)?;
    let plan = TestPlan::new(listed, filter, profile, retries_override);
    Ok(Prepared { workspace, run_env, plan })
}

fn use_color(color: Color, stream: &impl anstream::stream::RawStream) -> bool {
    // anstream decides `auto` from the terminal, NO_COLOR, CLICOLOR and CLICOLOR_FORCE.
    let choice = match color_choice(color) {
        anstream::ColorChoice::Auto => anstream::AutoStream::choice(stream),
        explicit => explicit,
    };
    !matches!(choice, anstream::ColorChoice::Never)
}

/// `<workspace>/<store.dir>/<profile>`: where a profile's JUnit file, history and reports live.
fn profile_store_dir(workspace: &Workspace, profile: &Profile) -> std::path::PathBuf {
    workspace.root.join(&profile.store_dir).join(&profile.name)
}

/// `cargo tempo list`.
pub fn list(opts: ListOptions) -> Result<i32> {
    let (workspace, profile, binaries) = build_binaries(&opts.cargo, &opts.config)?;
    let prepared = prepare(workspace, &profile, binaries, &opts.filter, None)?;
    let stdout = std::io::stdout();
    let colored = use_color(opts.color, &stdout);
    let styles = if colored { Styles::colored() } else { Styles::default() };
    write_list(&mut stdout.lock(), &prepared.plan, opts.format, &styles).map_err(Error::Output)?;
    Ok(exit_code::OK)
}

/// `cargo tempo run`.
pub fn run(opts: RunOptions) -> Result<i32> {
    let (workspace, profile, binaries) = build_binaries(&opts.cargo, &opts.config)?;
    if opts.no_run {
        return Ok(exit_code::OK);
    }
    let prepared = prepare(workspace, &profile, binaries, &opts.filter, opts.retries)?;
    if prepared.plan.tests.is_empty() {
        eprintln!("error: no tests to run: the filters matched none of the {} tests found", prepared.plan.skipped);
        return Ok(exit_code::NO_TESTS_RUN);
    }
    let cores = available_cores();
    // The command line beats the environment (folded in by clap), which beats the profile.
    let slots = if !opts.capture {
        1
    } else {
        match opts.test_threads {
            Some(t) => resolve_threads(t, cores),
            None => profile.test_threads.resolve(cores),
        }
    };
    let max_fail = match opts.fail_fast {
        Some(true) => Some(1),
        Some(false) => None,
        None => profile.fail_fast.max_fail,
    };
    let info = RunInfo {
        run_id: prepared.run_env.run_id.clone(),
        profile: prepared.run_env.profile.clone(),
        started_at: SystemTime::now(),
        test_count: prepared.plan.tests.len(),
        skipped: prepared.plan.skipped,
        binary_count: prepared.plan.binary_count,
        slots,
        cores,
    };
    let config = RunnerConfig {
        slots,
        max_fail,
        capture: opts.capture,
        grace_period: profile.slow_timeout.grace_period,
        flaky_fails: profile.flaky_result == FlakyResult::Fail,
        test_groups: profile.test_groups.iter().map(|(name, t)| (Arc::from(name.as_str()), t.resolve(cores))).collect(),
        ..RunnerConfig::default()
    };
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let colored = use_color(opts.color, &stdout);
    let mut reporters = Fanout::default();
    let human = HumanOptions {
        colored,
        terminal,
        status_level: opts.reporter.status_level.unwrap_or(profile.status_level),
        final_status_level: opts.reporter.final_status_level.unwrap_or(profile.final_status_level),
        success_output: opts.reporter.success_output,
        failure_output: opts.reporter.failure_output,
    };
    reporters.push(Box::new(HumanReporter::new(std::io::LineWriter::new(stdout.lock()), human)));
    if let Some(junit) = &profile.junit.path {
        let path = profile_store_dir(&prepared.workspace, &profile).join(junit);
        let options = JunitOptions {
            store_success_output: profile.junit.store_success_output,
            store_failure_output: profile.junit.store_failure_output,
        };
        reporters.push(Box::new(JunitReporter::new(path, profile.junit.report_name.clone(), options)));
    }
    let stats = execute::run(prepared.plan, info, &config, &mut reporters).map_err(Error::Output)?;
    std::io::stdout().flush().map_err(Error::Output)?;
    Ok(match stats.signal {
        Some(sig) => 128 + sig,
        None if stats.failed > 0 => exit_code::TEST_RUN_FAILED,
        None => exit_code::OK,
    })
}
