//! The measurements of `cargo tempo tune`, which runs the suite at several thread
//! counts and recommends a `test-threads`, because the best count depends on how much of the suite waits on
//! I/O rather than on the CPU, and guessing it wrong costs either speed or a machine
//! that is busy for nothing.
//!
//! Either engine ([`crate::engine::tune`]: tempo in-process, or `cargo nextest run`)
//! hands back one [`Sample`] per run. This module decides the order of the runs;
//! [`crate::cmd::tune`] shows progress, stops when a run has failing tests, and hands
//! the samples to [`analysis`] for the table and the recommendation, to [`chart`] for
//! the SVG and to [`mod@write`] for `--write`.

pub mod analysis;
pub mod chart;
pub mod write;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::Result;

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
    /// What adaptive concurrency learned of the tests, when the engine is tempo's.
    fn learned(&self) -> Option<String> {
        None
    }
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
