//! Prints the resolved profile for `cargo tempo show-config`: every setting after
//! inheritance, the test groups, and which override applies to which tests, so that
//! a surprising retry count or timeout can be traced to the line that caused it.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use crate::config::{Backoff, LeakTimeout, Override, Profile, RetryPolicy, SlowTimeout, TestThreads, ThreadsRequired};
use crate::plan::TestPlan;

fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn threads(t: TestThreads, cores: usize) -> String {
    match t {
        TestThreads::Count(n) => n.to_string(),
        TestThreads::NumCpus => format!("num-cpus ({cores})"),
        TestThreads::Adaptive => format!("adaptive (as many as {cores} cores can serve)"),
        TestThreads::Offset(n) => format!("{n} ({})", t.resolve(cores)),
    }
}

fn retries(r: &RetryPolicy) -> String {
    if r.count == 0 {
        return "0".into();
    }
    let backoff = match r.backoff {
        Backoff::Fixed => format!("fixed backoff, delay {}", duration(r.delay)),
        Backoff::Exponential => format!(
            "exponential backoff from {}{}",
            duration(r.delay),
            r.max_delay.map(|m| format!(" up to {}", duration(m))).unwrap_or_default()
        ),
    };
    format!("{} ({backoff}{})", r.count, if r.jitter { ", with jitter" } else { "" })
}

fn slow_timeout(s: &SlowTimeout) -> String {
    match s.terminate_after {
        Some(n) => format!(
            "every {}, terminated after {n} period{} (grace period {}, a timeout {})",
            duration(s.period),
            if n == 1 { "" } else { "s" },
            duration(s.grace_period),
            if s.on_timeout == crate::config::OnTimeout::Pass { "passes" } else { "fails" }
        ),
        None => format!("every {}, never terminated", duration(s.period)),
    }
}

fn leak(l: LeakTimeout) -> String {
    format!("{}{}", duration(l.period), if l.fails { ", a leak fails the test" } else { "" })
}

fn threads_required(t: ThreadsRequired) -> String {
    match t {
        ThreadsRequired::Count(n) => n.to_string(),
        ThreadsRequired::NumCpus => "num-cpus".into(),
        ThreadsRequired::NumTestThreads => "num-test-threads".into(),
    }
}

fn override_settings(o: &Override) -> Vec<String> {
    let mut sets = Vec::new();
    if let Some(p) = o.priority {
        sets.push(format!("priority = {p}"));
    }
    if let Some(r) = &o.retries {
        sets.push(format!("retries = {}", retries(r)));
    }
    if let Some(s) = &o.slow_timeout {
        sets.push(format!("slow-timeout = {}", slow_timeout(s)));
    }
    if let Some(l) = o.leak_timeout {
        sets.push(format!("leak-timeout = {}", leak(l)));
    }
    if let Some(t) = o.threads_required {
        sets.push(format!("threads-required = {}", threads_required(t)));
    }
    if let Some(g) = &o.test_group {
        sets.push(format!(
            "test-group = {}",
            match g {
                crate::config::GroupChoice::Named(n) => n.as_str(),
                crate::config::GroupChoice::Global => crate::filter::GLOBAL_GROUP,
            }
        ));
    }
    if let Some(m) = o.success_output {
        sets.push(format!("success-output = {m:?}"));
    }
    if let Some(m) = o.failure_output {
        sets.push(format!("failure-output = {m:?}"));
    }
    if let Some(b) = o.junit_store_success_output {
        sets.push(format!("junit.store-success-output = {b}"));
    }
    if let Some(b) = o.junit_store_failure_output {
        sets.push(format!("junit.store-failure-output = {b}"));
    }
    if let Some(d) = o.slow_budget {
        sets.push(format!("budget.slow = {}", duration(d)));
    }
    if let Some(i) = o.isolation {
        sets.push(format!("isolation = {}", format!("{i:?}").to_lowercase()));
    }
    sets
}

/// The profile's budget, one target a line; overrides' `budget.slow` show with them.
fn write_budget(out: &mut impl Write, budget: &crate::config::Budget) -> io::Result<()> {
    if !budget.has_targets() {
        return writeln!(out, "  {:<20}none", "budget");
    }
    writeln!(out, "budget")?;
    let none = || "none".to_owned();
    let rows = [
        ("wall", budget.wall.map_or_else(none, |d| format!("{} or less", duration(d)))),
        ("cpu-utilization", budget.cpu_utilization.map_or_else(none, |u| format!("{:.0}% or more", u * 100.0))),
        ("slow", budget.slow.map_or_else(none, |d| format!("{} or less per test", duration(d)))),
        (
            "enforce",
            match budget.enforce {
                crate::config::Enforce::Fail => "fail".to_owned(),
                crate::config::Enforce::Warn => "warn".to_owned(),
            },
        ),
    ];
    for (key, value) in rows {
        writeln!(out, "  {key:<20}{value}")?;
    }
    Ok(())
}

/// The most tests listed by name for each class that adaptive concurrency treats
/// apart from the cautious default.
const LISTED_PER_CLASS: usize = 10;

/// What adaptive concurrency learned of the selected tests from the history: how many
/// tests fall in each class, and by name the ones it packs (they share cores well) or
/// keeps apart (they collapse beside others), with what each is charged.
fn write_learned(out: &mut impl Write, plan: &TestPlan) -> io::Result<()> {
    use crate::plan::admission::Class;
    writeln!(out, "adaptive concurrency, learned from the history (see `cargo tempo history`)")?;
    let classes = [Class::Unknown, Class::Waiting, Class::Busy, Class::Shares, Class::Collapses];
    for class in classes {
        let tests: Vec<_> = plan.tests.iter().filter(|t| t.admission.class == class).collect();
        if tests.is_empty() {
            continue;
        }
        let probes = tests.iter().filter(|t| t.admission.probe).count();
        let charged: f64 = tests.iter().map(|t| t.admission.demand).sum::<f64>() / tests.len() as f64;
        let probing = if probes > 0 { format!(", {probes} to be measured under load") } else { String::new() };
        writeln!(
            out,
            "  {:<20}{} test{}, charged {charged:.2} cores on average{probing}",
            class.word(),
            tests.len(),
            if tests.len() == 1 { "" } else { "s" }
        )?;
        if matches!(class, Class::Shares | Class::Collapses) {
            for t in tests.iter().take(LISTED_PER_CLASS) {
                let stretch = t
                    .admission
                    .stretch
                    .map_or_else(String::new, |(s, p)| format!(", stretched {s:.1}x at {p:.1}x its least pressure"));
                writeln!(
                    out,
                    "    {} {}: charged {:.2}{stretch}",
                    t.binary_id(),
                    super::style::escape_name(&t.name),
                    t.admission.demand
                )?;
            }
            if tests.len() > LISTED_PER_CLASS {
                writeln!(out, "    and {} more", tests.len() - LISTED_PER_CLASS)?;
            }
        }
    }
    Ok(())
}

// About 80 lines: the output's sections in the order they are printed.
/// Writes the resolved profile and, for each override, the tests it applies to.
pub fn write_show_config(
    out: &mut impl Write,
    profile: &Profile,
    file: Option<&Path>,
    cores: usize,
    plan: &TestPlan,
) -> io::Result<()> {
    let from = file.map_or_else(|| "built-in defaults; no config file".to_owned(), |f| format!("from {}", f.display()));
    writeln!(out, "profile `{}` ({from})", profile.name)?;
    let rows: Vec<(&str, String)> = vec![
        ("test-threads", threads(profile.test_threads, cores)),
        ("threads-required", threads_required(profile.threads_required)),
        ("retries", retries(&profile.retries)),
        ("flaky-result", format!("{:?}", profile.flaky_result).to_lowercase()),
        ("slow-timeout", slow_timeout(&profile.slow_timeout)),
        ("leak-timeout", leak(profile.leak_timeout)),
        (
            "fail-fast",
            match profile.fail_fast.max_fail {
                Some(n) => format!("after {n} failure{}", if n == 1 { "" } else { "s" }),
                None => "off".into(),
            },
        ),
        ("status-level", format!("{:?}", profile.status_level).to_lowercase()),
        ("final-status-level", format!("{:?}", profile.final_status_level).to_lowercase()),
        ("failure-output", format!("{:?}", profile.failure_output).to_lowercase()),
        ("success-output", format!("{:?}", profile.success_output).to_lowercase()),
        ("default-filter", profile.default_filter.clone().unwrap_or_else(|| "all()".into())),
        (
            "run-extra-args",
            if profile.run_extra_args.is_empty() { "none".into() } else { profile.run_extra_args.join(" ") },
        ),
        ("isolation", format!("{:?}", profile.isolation).to_lowercase()),
        ("doctests", profile.doctests.to_string()),
        ("store.dir", profile.store_dir.display().to_string()),
        ("junit.path", profile.junit.path.as_ref().map_or_else(|| "none".into(), |p| p.display().to_string())),
    ];
    for (key, value) in rows {
        writeln!(out, "  {key:<20}{value}")?;
    }
    write_budget(out, &profile.budget)?;
    if profile.test_threads == TestThreads::Adaptive {
        write_learned(out, plan)?;
    }
    if !profile.test_groups.is_empty() {
        writeln!(out, "test groups")?;
        for (name, max) in &profile.test_groups {
            writeln!(out, "  {name:<20}max-threads {}", threads(*max, cores))?;
        }
    }
    if profile.overrides.is_empty() {
        writeln!(out, "no overrides")?;
        return Ok(());
    }
    let mut applied: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in &plan.tests {
        for source in &t.settings.applied_overrides {
            applied.entry(source.as_str()).or_default().push(format!(
                "{} {}",
                t.binary_id(),
                super::style::escape_name(&t.name)
            ));
        }
    }
    writeln!(out, "overrides, in the order they are tried (for each setting, the first match wins)")?;
    for o in &profile.overrides {
        let mut selects = Vec::new();
        if let Some(f) = &o.filter {
            selects.push(format!("filter = '{f}'"));
        }
        if let Some(p) = &o.platform {
            selects.push(format!("platform = '{p}'"));
        }
        writeln!(out, "  {}: {}", o.source, selects.join(", "))?;
        writeln!(out, "    sets {}", override_settings(o).join("; "))?;
        let tests = applied.remove(o.source.as_str()).unwrap_or_default();
        if tests.is_empty() {
            writeln!(out, "    takes effect for no selected test")?;
        } else {
            writeln!(out, "    takes effect for {} test{}:", tests.len(), if tests.len() == 1 { "" } else { "s" })?;
            for t in tests {
                writeln!(out, "      {t}")?;
            }
        }
    }
    Ok(())
}
