//! Runs the planned tests on a pool of slots and turns what happens into events.
//!
//! One coordinating thread owns the [`Scheduler`] and the reporters; a fixed pool of
//! worker threads, one per slot, each supervises one test process at a time. Workers
//! send their results back over a channel, so all reporting happens on one thread, in
//! order, without locks. A test alone and a batch of tests are watched by the same
//! loop, in `supervise.rs`.
//!
//! No thread may die silently: a worker, the feeder or the signal forwarder that
//! panics tells the coordinator, which ends the run as if it had been cancelled (the
//! running tests are stopped, the summary and reports are written) and returns
//! [`Error::Bug`]. A panic in the coordinator itself kills the running tests on
//! its way out.

pub mod batch;
mod capture;
mod coordinator;
mod doctest_unit;
pub mod fault;
#[cfg(unix)]
mod keys;
pub mod libtest_output;
pub mod process;
mod signals;
mod supervise;
#[cfg(unix)]
#[path = "unix.rs"]
pub(crate) mod unix;
pub mod watchdog;
mod worker;

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::error::Error;
use crate::events::Reporter;
use crate::events::{Event, ExecutionResult, RunInfo, RunStats};
use crate::plan::{TestPlan, TestRef};
use crate::schedule::{Dispatch, Scheduler};
use coordinator::Coordinator;
use signals::{KillOnPanic, RunningGroups, SignalForwarder};

/// How the runner behaves.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How many tests run at once.
    pub slots: usize,
    /// Stop starting tests after this many failures; `None` runs everything.
    pub max_fail: Option<u32>,
    /// When fail-fast stops the run, also end the tests that are running.
    pub terminate_on_fail_fast: bool,
    /// Capture output (false: pass it through).
    pub capture: bool,
    /// The most bytes kept per stream per test.
    pub output_cap: usize,
    /// After a signal, how long running tests get before SIGKILL.
    pub grace_period: Duration,
    /// Whether a test that passes only on a retry counts as failed.
    pub flaky_fails: bool,
    /// Each test group's `max-threads`.
    pub test_groups: HashMap<Arc<str>, usize>,
    /// Start the tests whose last run failed before the others (`--failed-first`).
    pub failed_first: bool,
    /// Read keys from stdin, a terminal, while the run lasts: `t` lists the running
    /// tests. Off unless the caller has checked that a person is watching.
    pub info_key: bool,
    /// Adaptive concurrency: the cores that the running tests' predicted CPU demand
    /// must fit (`None`: every slot is used).
    pub cpu_budget: Option<f64>,
    /// Under adaptive concurrency, the share of `cpu_budget` the tests get while
    /// cargo is still compiling (`TEMPO_TEST_CPU_WHILE_BUILDING`, default 1: no
    /// partition, measured in docs/design.md).
    pub cpu_share_while_building: f64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            slots: 1,
            max_fail: Some(1),
            terminate_on_fail_fast: false,
            capture: true,
            output_cap: 4 * 1024 * 1024,
            grace_period: Duration::from_secs(10),
            flaky_fails: false,
            test_groups: HashMap::new(),
            failed_first: false,
            info_key: false,
            cpu_budget: None,
            cpu_share_while_building: 1.0,
        }
    }
}

enum Msg {
    Feed(Feed),
    Finished(Dispatch, ExecutionResult),
    Slow(TestRef, usize, u32, Duration),
    Signal(i32),
    /// SIGUSR1 or the `t` key: list the running tests.
    Info,
    /// A test in a batch started, in the slot, as the attempt, at the time since the run started.
    BatchStarted(TestRef, usize, u32, Duration),
    /// A test in a batch has its final result there (slot, attempt).
    BatchFinished(TestRef, usize, u32, ExecutionResult),
    /// A batch is over; what it did not settle runs again.
    BatchDone(Dispatch, batch::BatchEnd),
    /// A thread panicked: a bug in tempo, which ends the run.
    ThreadPanicked(Panicked),
}

/// A thread that panicked, and the test it was running.
struct Panicked {
    /// The thread's name.
    thread: String,
    /// What the panic said.
    message: String,
    /// Whether it was the feeder, which then sends no more tests.
    feeder: bool,
    /// A worker's dispatch that will never report back.
    lost: Option<LostJob>,
}

impl Panicked {
    fn new(payload: &(dyn Any + Send), feeder: bool, lost: Option<LostJob>) -> Panicked {
        let thread = std::thread::current().name().unwrap_or("unnamed").to_owned();
        Panicked { thread, message: panic_message(payload), feeder, lost }
    }
}

/// A dispatch whose worker panicked, with the tests of a batch that never started.
struct LostJob {
    dispatch: Dispatch,
    unstarted: Vec<usize>,
}

/// What a panic said: its message, when it has one (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => (*s).to_owned(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_owned(),
    }
}

/// Runs a thread's whole body; a panic is caught and sent to the coordinator, which
/// would otherwise wait for the thread forever.
fn reporting_panics(tx: &Sender<Msg>, feeder: bool, body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        let _ = tx.send(Msg::ThreadPanicked(Panicked::new(&*payload, feeder, None)));
    }
}

/// The instant `wait` after `from`, or `None` when that is past what the clock can
/// hold: a wait that long never ends. Every deadline in the runner is made with it,
/// so that no duration a user writes (`slow-timeout = "500000000000y"`) can overflow
/// `Instant` and panic a thread.
pub fn deadline(from: Instant, wait: Duration) -> Option<Instant> {
    from.checked_add(wait)
}

/// What the build side tells a pipelined run.
pub enum Feed {
    /// Cargo is compiling, so tests should start as soon as they are known rather
    /// than after the (then slow) build.
    Compiling,
    /// A binary was built and listed: its tests join the run.
    Tests(TestPlan),
    /// The build is over; an error stops the run from starting more tests.
    Done(Result<(), crate::error::Error>),
}

/// The sending end of a pipelined run's feed.
pub struct FeedTx(Sender<Msg>);

impl FeedTx {
    /// Sends one message; false once the run is over and nobody listens.
    pub fn send(&self, feed: Feed) -> bool {
        let tests = matches!(feed, Feed::Tests(_));
        let sent = self.0.send(Msg::Feed(feed)).is_ok();
        if tests {
            fault::inject(fault::Place::Feeder, std::iter::empty());
        }
        sent
    }
}

/// Produces a pipelined run's tests, on a thread of its own.
pub type Feeder<'a> = Box<dyn FnOnce(FeedTx) + Send + 'a>;

/// Runs every test of the plan and reports each event; returns the final tally. A
/// reporter's error is [`Error::Output`]; a thread of tempo that panicked is
/// [`Error::Bug`], returned once the run's tests are ended and its reports written.
pub fn run(
    plan: TestPlan,
    info: RunInfo,
    config: &RunnerConfig,
    reporter: &mut dyn Reporter,
) -> crate::error::Result<RunStats> {
    match run_fed(plan, None, info, config, reporter).map_err(Error::Output)? {
        (_, Some(error)) => Err(error),
        (stats, None) => Ok(stats),
    }
}

/// Runs the plan's tests and, with a `feeder`, the tests it sends while the build is
/// still going: pipelining. Returns the tally and the error that ends tempo once the
/// run's reports are written: [`Error::Bug`] if a thread of tempo panicked, else the
/// build's error, if it failed.
pub fn run_fed(
    plan: TestPlan,
    feeder: Option<Feeder<'_>>,
    info: RunInfo,
    config: &RunnerConfig,
    reporter: &mut dyn Reporter,
) -> io::Result<(RunStats, Option<crate::error::Error>)> {
    let run_start = Instant::now();
    let mut info = info;
    info.planned = plan.tests.iter().cloned().collect();
    info.clock = run_start;
    let mut scheduler = new_scheduler(&plan, config);
    let mut stats = RunStats {
        planned: plan.tests.len(),
        skipped: plan.skipped,
        slots: config.slots,
        cores: info.cores,
        slot_busy: vec![Duration::ZERO; config.slots],
        ..RunStats::default()
    };
    unix::become_subreaper();
    // From here on, however the run ends, even by a panic, what it started ends too.
    let end_of_run = EndOfRun::start(&info.run_id, config.grace_period);
    reporter.report(&Event::RunStarted(info))?;
    crate::phase::mark("run started");

    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Dispatch>();
    let (msg_tx, msg_rx) = crossbeam_channel::unbounded::<Msg>();
    let _signals = SignalForwarder::start(msg_tx.clone())?;
    let info_tx = msg_tx.clone();
    let _keys = config.info_key.then(|| {
        keys::KeyReader::start(move || {
            let _ = info_tx.send(Msg::Info);
        })
    });
    let groups = RunningGroups::new(config.slots);
    let mut last_end = Duration::ZERO;
    let mut build_error = None;
    let mut late_not_run = 0;
    let mut bug = None;
    let result = std::thread::scope(|scope| -> io::Result<()> {
        // Owned here, so that a panic below drops them: the workers then stop asking for
        // work and the feeder's messages go nowhere, and the scope's wait for them ends.
        let (job_tx, msg_rx) = (job_tx, msg_rx);
        // If the coordinator panics, the tests still running are killed, so that the
        // workers waiting for them end too.
        let _kill_on_panic = KillOnPanic(&groups);
        let feed_open = feeder.is_some();
        start_threads(scope, &job_rx, &msg_tx, feeder, config, run_start, &groups);
        drop(msg_tx);
        let mut coordinator = Coordinator::new(
            &mut scheduler,
            &job_tx,
            &msg_rx,
            config,
            run_start,
            reporter,
            &mut stats,
            &mut last_end,
            &groups,
            feed_open,
        );
        let outcome = coordinator.coordinate();
        build_error = coordinator.build_error.take();
        bug = coordinator.bug.take();
        late_not_run = coordinator.late_not_run;
        drop(job_tx);
        outcome
    });
    drop(end_of_run);
    result?;
    stats.wall = last_end;
    stats.not_run = scheduler.not_started() + late_not_run;
    crate::phase::mark("tests done");
    reporter.report(&Event::RunFinished(stats.clone()))?;
    crate::phase::mark("reports written");
    // tempo's own bug says more than a build error: it may be why the build stopped.
    Ok((stats, bug.or(build_error)))
}

/// The scheduler for the plan's tests, as the config asks.
fn new_scheduler(plan: &TestPlan, config: &RunnerConfig) -> Scheduler {
    let mut scheduler =
        Scheduler::new(plan.tests.iter().cloned(), config.slots, config.test_groups.clone(), config.failed_first);
    if !config.capture {
        scheduler.disable_batching();
    }
    if let Some(cores) = config.cpu_budget {
        scheduler.set_cpu_budget(cores);
    }
    scheduler
}

/// Starts a worker per slot and, for a pipelined run, the feeder.
fn start_threads<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    jobs: &Receiver<Dispatch>,
    msgs: &Sender<Msg>,
    feeder: Option<Feeder<'env>>,
    config: &'env RunnerConfig,
    run_start: Instant,
    groups: &'env RunningGroups,
) {
    for i in 0..config.slots {
        let job_rx = jobs.clone();
        let msg_tx = msgs.clone();
        std::thread::Builder::new()
            .name(format!("tempo-worker-{i}"))
            .spawn_scoped(scope, move || worker::worker(job_rx, msg_tx, config, run_start, groups))
            .expect("failed to start a worker thread");
    }
    if let Some(feeder) = feeder {
        let tx = FeedTx(msgs.clone());
        std::thread::Builder::new()
            .name("tempo-feeder".into())
            .spawn_scoped(scope, move || {
                let panics = tx.0.clone();
                reporting_panics(&panics, true, || feeder(tx));
            })
            .expect("failed to start the feeder thread");
    }
}

/// Ends the run's processes when the run is over, or unwinds from a panic: whatever the
/// tests started and left behind in other process groups or sessions ends with the
/// run, and orphans re-parented to tempo are reaped.
struct EndOfRun {
    marker: String,
    grace_period: Duration,
    watchdog: Option<watchdog::Watchdog>,
    reaper: Option<unix::OrphanReaper>,
}

impl EndOfRun {
    fn start(run_id: &str, grace_period: Duration) -> EndOfRun {
        EndOfRun {
            marker: format!("TEMPO_RUN_ID={run_id}"),
            grace_period,
            watchdog: Some(watchdog::Watchdog::start(run_id)),
            // Adopted orphans are reaped as they exit, not only at the end of the run.
            reaper: unix::OrphanReaper::start().ok(),
        }
    }
}

impl Drop for EndOfRun {
    fn drop(&mut self) {
        unix::sweep(std::slice::from_ref(&self.marker), self.grace_period);
        drop(self.watchdog.take());
        // The reaper stops before the last reaping of whatever is left.
        drop(self.reaper.take());
        unix::reap_orphans();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression tests for issue 12: `Instant + Duration` panicked on a duration past
    // what the clock can hold (`slow-timeout = "500000000000y"`), killing a worker.

    #[test]
    fn a_deadline_past_the_clock_never_comes() {
        let now = Instant::now();
        assert_eq!(deadline(now, Duration::MAX), None);
        assert_eq!(deadline(now, Duration::from_secs(500_000_000_000 * 31_557_600)), None);
        assert_eq!(deadline(now, Duration::from_secs(1)), Some(now + Duration::from_secs(1)));
        assert_eq!(deadline(now, Duration::ZERO), Some(now));
    }

    #[test]
    fn a_panic_message_is_read_from_its_payload() {
        let caught = |f: fn()| catch_unwind(f).unwrap_err();
        let literal = caught(|| panic!("plain"));
        let formatted = caught(|| panic!("formatted {}", 1 + 1));
        let other = caught(|| std::panic::panic_any(7_u8));
        assert_eq!(panic_message(&*literal), "plain");
        assert_eq!(panic_message(&*formatted), "formatted 2");
        assert_eq!(panic_message(&*other), "a panic without a message");
    }
}
