//! Marks the phases of a run on stderr when `TEMPO_PHASES=1`, so that tempo's fixed
//! cost (cargo's calls, listing, the history and the reports) can be measured on a
//! real run without a tracer, whose own overhead would hide what it measures.

use std::sync::OnceLock;
use std::time::Instant;

/// When the process started (the first mark, or the first call to [`start`]), and
/// whether marks are printed.
fn clock() -> Option<&'static Instant> {
    static CLOCK: OnceLock<Option<Instant>> = OnceLock::new();
    CLOCK.get_or_init(|| std::env::var_os("TEMPO_PHASES").filter(|v| v == "1").map(|_| Instant::now())).as_ref()
}

/// Starts the clock: called first thing in `main`.
pub fn start() {
    mark("start");
}

/// Prints `tempo-phase <ms since start> <what>` on stderr, if marks are on.
pub fn mark(what: &str) {
    if let Some(start) = clock() {
        eprintln!("tempo-phase {:8.2} {what}", start.elapsed().as_secs_f64() * 1000.0);
    }
}
