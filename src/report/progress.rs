//! The progress bar: how far the run is, what runs now, and when it should end, drawn
//! at the bottom of the terminal while status lines scroll above it.
//!
//! It is a reporter like the others, fed by the same events. It wraps the terminal
//! reporter: that one writes into a [`SharedBuffer`], and after each event this one
//! writes what it wrote through [`ProgressBar::suspend`], which erases the bar, prints
//! and draws the bar again, so a status line never lands in the middle of the bar.
//! (`ProgressBar::println` would print nothing at all while the bar is hidden.)

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::SharedBuffer;
use super::style::Styles;
use crate::events::Event;
use crate::events::Reporter;
use crate::plan::TestRef;

/// How often the bar is redrawn with nothing new to say, so that the running time
/// of the longest test and the estimate move on.
const TICK: Duration = Duration::from_millis(200);

/// The longest test name shown in the bar, in characters; longer ones are cut in the
/// middle, where a long module path is least telling.
const MAX_NAME: usize = 48;

/// What the bar knows of the run, shared with the closure that draws it.
#[derive(Debug, Default)]
struct BarState {
    slots: usize,
    /// Tests not finished for good, by address, with their expected duration.
    remaining: HashMap<usize, Duration>,
    /// Attempts running now, by the test's address: (display name, when it started).
    running: HashMap<usize, (String, Instant)>,
    /// Finished attempts: how many, and their total duration, for tests with no history.
    observed: (u32, Duration),
    failed: usize,
    cancelled: bool,
}

impl BarState {
    fn add(&mut self, tests: &[TestRef]) {
        for t in tests {
            self.remaining.insert(key(t), t.expected);
        }
    }

    /// The estimate for a test expected to take `expected`: the history's figure, or
    /// else the mean of the attempts seen so far, or nothing when neither is known.
    fn estimate(&self, expected: Duration) -> Option<Duration> {
        if !expected.is_zero() {
            return Some(expected);
        }
        let (n, total) = self.observed;
        (n > 0).then(|| total / n)
    }

    /// The time left: the work still to do ÷ the slots, or the longest single piece
    /// of it if that is longer (one test cannot be spread over several slots). Work
    /// still to do is each unfinished test's expected duration, less what a running
    /// one has already run.
    fn eta(&self, now: Instant) -> Option<Duration> {
        if self.cancelled {
            return None;
        }
        let (mut work, mut longest) = (Duration::ZERO, Duration::ZERO);
        for (test, expected) in &self.remaining {
            let estimate = self.estimate(*expected)?;
            let ran = self.running.get(test).map_or(Duration::ZERO, |(_, since)| now.saturating_duration_since(*since));
            let left = estimate.saturating_sub(ran);
            work += left;
            longest = longest.max(left);
        }
        Some((work / self.slots.max(1) as u32).max(longest))
    }

    /// The text after `done/total`: running tests, the longest-running one, failures
    /// and the estimate.
    fn status(&self, now: Instant) -> String {
        let mut text = format!("{} running", self.running.len());
        if let Some((name, since)) = self.running.values().min_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0))) {
            let _ = write!(text, " (longest: {} {})", shorten(name), seconds(now.saturating_duration_since(*since)));
        }
        if self.failed > 0 {
            let _ = write!(text, ", {} failed", self.failed);
        }
        match self.eta(now) {
            // Zero says nothing when the tests left have all run past their estimate.
            Some(eta) if eta >= Duration::from_millis(100) => {
                let _ = write!(text, ", ETA {}", seconds(eta));
            }
            None if self.cancelled => text.push_str(", stopping"),
            _ => {}
        }
        text
    }
}

fn key(test: &TestRef) -> usize {
    Arc::as_ptr(test) as usize
}

/// `4.2s` under a minute, `3m07s` above.
fn seconds(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

/// The terminal's width on stderr, where the bar is drawn; 80 when it cannot be told.
fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(rustix::stdio::stderr()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => 80,
    }
}

/// Cuts `text` to `width` characters, so that the bar stays on one line: a line that
/// wraps would leave a copy of itself behind each time the bar is redrawn.
fn fit(text: &str, width: usize) -> &str {
    match text.char_indices().nth(width) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

/// Cuts a name longer than [`MAX_NAME`] characters in the middle.
fn shorten(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= MAX_NAME {
        return name.to_owned();
    }
    let keep = (MAX_NAME - 1) / 2;
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}…{tail}")
}

/// Draws the bar on stderr and prints the wrapped reporter's output above it.
pub struct ProgressReporter<W: Write> {
    bar: ProgressBar,
    state: Arc<Mutex<BarState>>,
    inner: Box<dyn Reporter>,
    pending: SharedBuffer,
    out: W,
}

/// A bar drawn on stderr, not yet shown: it appears with the first event. Whatever else
/// writes to the terminal while it is drawn (cargo's build output) goes through
/// [`ProgressBar::suspend`] on a clone of it.
pub fn stderr_bar() -> ProgressBar {
    ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
}

impl<W: Write> ProgressReporter<W> {
    /// Shows `bar` and prints what `inner` writes to `pending` onto `out`, above the bar.
    pub fn new(bar: ProgressBar, inner: Box<dyn Reporter>, pending: SharedBuffer, out: W, styles: &Styles) -> Self {
        let state = Arc::new(Mutex::new(BarState::default()));
        let shared = state.clone();
        let status = move |st: &ProgressState, w: &mut dyn std::fmt::Write| {
            let text = shared.lock().unwrap_or_else(PoisonError::into_inner).status(Instant::now());
            // What the template puts before the status: `{prefix:>12} [{bar:25}] {pos}/{len}: `.
            let used = 12 + 2 + 25 + 2 + format!("{}/{}: ", st.pos(), st.len().unwrap_or(0)).len();
            let _ = w.write_str(fit(&text, terminal_width().saturating_sub(used + 1)));
        };
        let h = styles.heading;
        let template = format!("{h}{{prefix:>12}}{h:#} [{{bar:25}}] {{pos}}/{{len}}: {{status}}");
        let style = ProgressStyle::with_template(&template)
            .expect("the bar's template is valid")
            .progress_chars("=> ")
            .with_key("status", status);
        bar.set_style(style);
        bar.set_prefix("Running");
        ProgressReporter { bar, state, inner, pending, out }
    }

    /// Updates what the bar knows from one event.
    fn track(&mut self, event: &Event) {
        let now = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::RunStarted(info) => {
                st.slots = info.slots;
                st.add(&info.planned);
                drop(st);
                if info.pipelined && info.planned.is_empty() {
                    self.bar.set_prefix("Building");
                }
                self.bar.set_length(info.planned.len() as u64);
                self.bar.enable_steady_tick(TICK);
            }
            Event::TestsAdded { planned, .. } => {
                st.add(planned);
                let cancelled = st.cancelled;
                drop(st);
                if !cancelled {
                    self.bar.set_prefix("Running");
                }
                self.bar.inc_length(planned.len() as u64);
            }
            Event::TestStarted { test, .. } => {
                st.running.insert(
                    key(test),
                    (format!("{} {}", test.binary_id(), super::style::escape_name(&test.name)), now),
                );
            }
            Event::TestFinished(f) => {
                st.running.remove(&key(&f.test));
                st.observed.0 += 1;
                st.observed.1 += f.result.duration;
                if !f.will_retry {
                    st.remaining.remove(&key(&f.test));
                    if !f.result.outcome.is_success() {
                        st.failed += 1;
                    }
                    drop(st);
                    self.bar.inc(1);
                }
            }
            Event::RetryAbandoned(f) => {
                st.remaining.remove(&key(&f.test));
                st.failed += 1;
                drop(st);
                self.bar.inc(1);
            }
            Event::RunCancelling { .. } => {
                st.cancelled = true;
                drop(st);
                self.bar.set_prefix("Cancelling");
            }
            Event::TestSlow { .. } | Event::InfoRequested { .. } | Event::RunFinished(_) => {}
        }
    }
}

impl<W: Write> Reporter for ProgressReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        let result = self.inner.report(event);
        if let Event::RunFinished(_) = event {
            // The summary goes below where the bar was, and nothing is drawn after it.
            self.bar.finish_and_clear();
        } else {
            self.track(event);
        }
        let text = self.pending.take();
        if !text.is_empty() {
            let out = &mut self.out;
            self.bar.suspend(|| out.write_all(&text).and_then(|()| out.flush()))?;
        }
        result
    }
}

impl<W: Write> Drop for ProgressReporter<W> {
    fn drop(&mut self) {
        // A run that ended in an error never reported RunFinished: leave no bar behind.
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(slots: usize, remaining: &[(usize, u64)]) -> BarState {
        BarState {
            slots,
            remaining: remaining.iter().map(|(k, ms)| (*k, Duration::from_millis(*ms))).collect(),
            ..BarState::default()
        }
    }

    #[test]
    fn eta_is_the_remaining_expected_work_spread_over_the_slots() {
        let st = state(2, &[(1, 3000), (2, 3000), (3, 2000)]);
        assert_eq!(st.eta(Instant::now()), Some(Duration::from_secs(4)));
        // But never less than the longest test left, which one slot must run whole.
        let st = state(4, &[(1, 6000), (2, 1000), (3, 1000)]);
        assert_eq!(st.eta(Instant::now()), Some(Duration::from_secs(6)));
    }

    #[test]
    fn a_running_test_counts_only_its_expected_time_left() {
        let now = Instant::now();
        let mut st = state(1, &[(1, 5000), (2, 1000)]);
        st.running.insert(1, ("bin slow".into(), now - Duration::from_secs(3)));
        assert_eq!(st.eta(now), Some(Duration::from_secs(3)), "2 s left of one, 1 s of the other");
        // Past its expectation, a test adds nothing rather than a negative time.
        st.running.insert(1, ("bin slow".into(), now - Duration::from_secs(9)));
        assert_eq!(st.eta(now), Some(Duration::from_secs(1)));
    }

    #[test]
    fn tests_without_history_are_estimated_from_the_attempts_seen_so_far() {
        let mut st = state(2, &[(1, 0), (2, 0), (3, 3000)]);
        assert_eq!(st.eta(Instant::now()), None, "nothing known about two of the tests yet");
        st.observed = (4, Duration::from_secs(4));
        // 1 s + 1 s + 3 s over 2 slots, and the 3 s test alone takes longer.
        assert_eq!(st.eta(Instant::now()), Some(Duration::from_secs(3)));
        st.remaining.insert(4, Duration::ZERO);
        assert_eq!(st.eta(Instant::now()), Some(Duration::from_secs(3)));
        st.slots = 1;
        assert_eq!(st.eta(Instant::now()), Some(Duration::from_secs(6)));
    }

    #[test]
    fn status_names_the_longest_running_test_and_the_failures() {
        let now = Instant::now();
        let mut st = state(2, &[(1, 1000), (2, 1000)]);
        st.running.insert(1, ("alpha quick".into(), now - Duration::from_millis(500)));
        st.running.insert(2, ("beta slow".into(), now - Duration::from_millis(2500)));
        st.failed = 1;
        assert_eq!(st.status(now), "2 running (longest: beta slow 2.5s), 1 failed, ETA 0.5s");
        st.running.remove(&1);
        assert_eq!(st.status(now), "1 running (longest: beta slow 2.5s), 1 failed, ETA 1.0s");
        st.running.insert(1, ("alpha quick".into(), now - Duration::from_millis(1500)));
        assert_eq!(st.status(now), "2 running (longest: beta slow 2.5s), 1 failed", "every test is overdue");
        st.cancelled = true;
        assert_eq!(st.status(now), "2 running (longest: beta slow 2.5s), 1 failed, stopping");
    }

    #[test]
    fn long_names_are_cut_in_the_middle() {
        let name = format!("pkg::tests {}", "x".repeat(100));
        let short = shorten(&name);
        assert!(short.chars().count() <= MAX_NAME, "{short}");
        assert!(short.starts_with("pkg::tests ") && short.contains('…') && short.ends_with("xxx"));
        assert_eq!(shorten("pkg t"), "pkg t");
        assert_eq!(fit("héllo wörld", 7), "héllo w");
        assert_eq!(fit("short", 80), "short");
        assert_eq!(seconds(Duration::from_secs(187)), "3m07s");
    }
}
