//! Wires the stages together: build → discover → plan → schedule → execute → report.
//!
//! Each subcommand is a short walk down this pipeline; the stages themselves know
//! nothing of each other beyond the types they hand on.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::SystemTime;

use crate::build::{self, BuildEvent, TestBinary, Workspace};
use crate::discover::{self, ListedBinary};
use crate::env::{self, BinaryEnv, RunEnv};
use crate::error::{Error, Result, exit_code};
use crate::execute::{self, RunnerConfig};
use crate::options::{CargoOptions, Color, ListOptions, NameFilter, RunOptions, available_cores};
use crate::plan::TestPlan;
use crate::report::events::RunInfo;
use crate::report::human::HumanReporter;
use crate::report::list::write_list;
use crate::report::style::{Styles, color_choice};

/// Builds, lists and selects: everything up to the moment the first test could start.
struct Prepared {
    workspace: Workspace,
    run_env: RunEnv,
    plan: TestPlan,
}

fn build_binaries(cargo: &CargoOptions) -> Result<(Workspace, Vec<Arc<TestBinary>>)> {
    env::warm_up();
    let workspace = build::workspace(cargo)?;
    let mut binaries = Vec::new();
    build::build(cargo, &workspace, |event| match event {
        BuildEvent::Binary(binary) => binaries.push(binary),
    })?;
    Ok((workspace, binaries))
}

fn prepare(
    workspace: Workspace,
    binaries: Vec<Arc<TestBinary>>,
    filter: &NameFilter,
) -> Result<Prepared> {
    let run_env = RunEnv {
        run_id: env::new_run_id(),
        profile: "default".into(),
        workspace_root: workspace.root.clone(),
    };
    let with_env = binaries
        .into_iter()
        .map(|b| {
            let env = Arc::new(BinaryEnv::for_binary(&b, &run_env));
            (b, env)
        })
        .collect();
    let listed: Vec<ListedBinary> = discover::list_all(with_env)?;
    let plan = TestPlan::new(listed, filter);
    Ok(Prepared {
        workspace,
        run_env,
        plan,
    })
}

fn use_color(color: Color, terminal: bool) -> bool {
    match color_choice(color) {
        anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
        anstream::ColorChoice::Never => false,
        anstream::ColorChoice::Auto => {
            terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                || std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0")
        }
    }
}

/// `cargo tempo list`.
pub fn list(opts: ListOptions) -> Result<i32> {
    let (workspace, binaries) = build_binaries(&opts.cargo)?;
    let prepared = prepare(workspace, binaries, &opts.filter)?;
    let stdout = std::io::stdout();
    let colored = use_color(opts.color, stdout.is_terminal());
    let styles = if colored {
        Styles::colored()
    } else {
        Styles::default()
    };
    write_list(&mut stdout.lock(), &prepared.plan, opts.format, &styles).map_err(Error::Output)?;
    Ok(exit_code::OK)
}

/// `cargo tempo run`.
pub fn run(opts: RunOptions) -> Result<i32> {
    let (workspace, binaries) = build_binaries(&opts.cargo)?;
    if opts.no_run {
        return Ok(exit_code::OK);
    }
    let prepared = prepare(workspace, binaries, &opts.filter)?;
    let _ = &prepared.workspace;
    if prepared.plan.tests.is_empty() {
        eprintln!(
            "error: no tests to run: the filters matched none of the {} tests found",
            prepared.plan.skipped
        );
        return Ok(exit_code::NO_TESTS_RUN);
    }
    let cores = available_cores();
    let info = RunInfo {
        run_id: prepared.run_env.run_id.clone(),
        profile: prepared.run_env.profile.clone(),
        started_at: SystemTime::now(),
        test_count: prepared.plan.tests.len(),
        skipped: prepared.plan.skipped,
        binary_count: prepared.plan.binary_count,
        slots: opts.test_threads,
        cores,
    };
    let config = RunnerConfig {
        slots: opts.test_threads,
        fail_fast: opts.fail_fast,
        capture: opts.capture,
        ..RunnerConfig::default()
    };
    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let colored = use_color(opts.color, terminal);
    let mut reporter =
        HumanReporter::new(std::io::LineWriter::new(stdout.lock()), colored, terminal);
    let stats = execute::run(prepared.plan, info, &config, &mut reporter).map_err(Error::Output)?;
    std::io::stdout().flush().map_err(Error::Output)?;
    Ok(match stats.signal {
        Some(sig) => 128 + sig,
        None if stats.failed > 0 => exit_code::TEST_RUN_FAILED,
        None => exit_code::OK,
    })
}
