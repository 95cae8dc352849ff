//! Makes a thread of tempo panic on purpose, so that tempo's own tests can check that a
//! bug in any thread ends the run promptly and cleanly (`tests/hostile_panic.rs`).
//!
//! This is a fault-injection hook for tempo's tests, not a setting: it is read from
//! `TEMPO_TEST_PANIC`, whose value names the thread and, for the threads that handle
//! tests, the test that sets it off:
//!
//! - `worker:NAME`: the worker that runs the test `NAME` panics when it first reports
//!   `NAME` slow (after one `slow-timeout` period), with the test's process running;
//! - `coordinator:NAME`: the coordinating thread panics when `NAME`'s result arrives
//!   from a run of its own (not from a batch);
//! - `feeder`: a pipelined run's feeder panics after it sent its first tests;
//! - `signals`: the signal-forwarding thread panics at the first signal it receives.

use std::sync::OnceLock;

/// The variable that sets off a panic.
pub const VAR: &str = "TEMPO_TEST_PANIC";

/// The thread the hook may make panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Worker,
    Coordinator,
    Feeder,
    Signals,
}

impl Place {
    fn word(self) -> &'static str {
        match self {
            Place::Worker => "worker",
            Place::Coordinator => "coordinator",
            Place::Feeder => "feeder",
            Place::Signals => "signals",
        }
    }
}

/// The hook's value, read once: (thread, test name).
fn wanted() -> Option<&'static (String, String)> {
    static WANTED: OnceLock<Option<(String, String)>> = OnceLock::new();
    WANTED
        .get_or_init(|| {
            let value = std::env::var(VAR).ok()?;
            let (place, test) = value.split_once(':').unwrap_or((&value, ""));
            Some((place.to_owned(), test.to_owned()))
        })
        .as_ref()
}

/// Panics if the hook asks for a panic at `place`, for one of `tests` (ignored for
/// the threads that handle no test).
pub(crate) fn inject<'a>(place: Place, mut tests: impl Iterator<Item = &'a str>) {
    let Some((wanted_place, wanted_test)) = wanted() else { return };
    if wanted_place != place.word() {
        return;
    }
    let for_test = matches!(place, Place::Worker | Place::Coordinator);
    if !for_test || tests.any(|t| t == wanted_test) {
        panic!("{VAR} asked for a panic in the {} thread (fault injection for tempo's tests)", place.word());
    }
}
