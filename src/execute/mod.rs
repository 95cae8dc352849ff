//! Runs the planned tests on a pool of slots and turns what happens into events.
//!
//! One coordinating thread owns the [`Scheduler`] and the reporters; a fixed pool of
//! worker threads, one per slot, each supervises one test process at a time. Workers
//! send their results back over a channel, so all reporting happens on one thread, in
//! order, without locks.
//!
//! No thread may die silently: a worker, the feeder or the signal forwarder that
//! panics tells the coordinator, which ends the run as if it had been cancelled (the
//! running tests are stopped, the summary and reports are written) and returns
//! [`Error::Bug`]. A panic in the coordinator itself kills the running tests on
//! its way out.

pub mod batch;
mod capture;
pub mod fault;
#[cfg(unix)]
mod keys;
pub mod process;
#[cfg(unix)]
#[path = "unix.rs"]
pub(crate) mod unix;
pub mod watchdog;

use std::any::Any;
use std::collections::HashMap;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::config::OnTimeout;
use crate::error::Error;
use crate::events::Reporter;
use crate::events::{
    BatchFailure, CancelReason, Event, ExecutionResult, Outcome, RunInfo, RunStats, RunningTest, TestFinished,
};
use crate::plan::{TestPlan, TestRef};
use crate::schedule::{Dispatch, Scheduler};
use process::AttemptSpec;

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

/// How long a pipelined run waits for a build that compiles nothing, before it starts
/// the tests it already has.
const HOLD_FOR_NO_OP_BUILD: Duration = Duration::from_millis(500);

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

/// The process group of the test running in each slot (0 when idle), so that the
/// coordinator can forward signals without asking the workers.
///
/// A test that starts while the run is being stopped must not miss the signal, so
/// the last signal sent is kept too: the coordinator records it before reading the
/// groups, and a worker publishes its group before reading it (both sequentially
/// consistent), so at least one of the two sees the other and the test is signalled.
struct RunningGroups {
    pgids: Vec<AtomicU32>,
    last_signal: AtomicI32,
}

impl RunningGroups {
    fn new(slots: usize) -> RunningGroups {
        RunningGroups { pgids: (0..slots).map(|_| AtomicU32::new(0)).collect(), last_signal: AtomicI32::new(0) }
    }

    fn signal_all(&self, signal: rustix::process::Signal) {
        self.last_signal.store(signal.as_raw(), Ordering::SeqCst);
        for pgid in &self.pgids {
            let pgid = pgid.load(Ordering::SeqCst);
            if pgid != 0 {
                unix::signal_group(pgid, signal);
            }
        }
    }

    /// Records the group running in `slot` (0 when it is gone), and sends it the
    /// run's last signal if the run is already stopping.
    fn publish(&self, slot: usize, pgid: u32) {
        self.pgids[slot].store(pgid, Ordering::SeqCst);
        let signal = self.last_signal.load(Ordering::SeqCst);
        if pgid != 0
            && signal != 0
            && let Some(signal) = rustix::process::Signal::from_named_raw(signal)
        {
            unix::signal_group(pgid, signal);
        }
    }
}

/// Forwards SIGINT, SIGTERM and SIGHUP to the coordinator for as long as it lives, and
/// SIGUSR1 as a request to list the running tests (BSD's SIGINFO is not on Linux, so
/// SIGUSR1 stands in for it, as in dd and nextest).
struct SignalForwarder {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalForwarder {
    fn start(tx: Sender<Msg>) -> io::Result<SignalForwarder> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])?;
        let handle = signals.handle();
        let thread = std::thread::Builder::new().name("tempo-signals".into()).spawn(move || {
            let handle = signals.handle();
            reporting_panics(&tx, false, || {
                for sig in signals.forever() {
                    fault::inject(fault::Place::Signals, std::iter::empty());
                    let msg = if sig == SIGUSR1 { Msg::Info } else { Msg::Signal(sig) };
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
            });
            // Nobody forwards signals any more: a later Ctrl-C or SIGTERM must end
            // tempo as usual (the watchdog then ends the tests), not vanish.
            handle.close();
        })?;
        Ok(SignalForwarder { handle, thread: Some(thread) })
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        // Closing unregisters the handlers, so a later Ctrl-C ends tempo as usual.
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

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
    let mut scheduler =
        Scheduler::new(plan.tests.iter().cloned(), config.slots, config.test_groups.clone(), config.failed_first);
    if !config.capture {
        scheduler.disable_batching();
    }
    if let Some(cores) = config.cpu_budget {
        scheduler.set_cpu_budget(cores);
    }
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
    let end_of_run = EndOfRun {
        marker: format!("TEMPO_RUN_ID={}", info.run_id),
        grace_period: config.grace_period,
        watchdog: Some(watchdog::Watchdog::start(&info.run_id)),
        // Adopted orphans are reaped as they exit, not only at the end of the run.
        reaper: unix::OrphanReaper::start().ok(),
    };
    reporter.report(&Event::RunStarted(info))?;

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
        for i in 0..config.slots {
            let job_rx = job_rx.clone();
            let msg_tx = msg_tx.clone();
            let groups = &groups;
            std::thread::Builder::new()
                .name(format!("tempo-worker-{i}"))
                .spawn_scoped(scope, move || worker(job_rx, msg_tx, config, run_start, groups))
                .expect("failed to start a worker thread");
        }
        let feed_open = feeder.is_some();
        if let Some(feeder) = feeder {
            let tx = FeedTx(msg_tx.clone());
            std::thread::Builder::new()
                .name("tempo-feeder".into())
                .spawn_scoped(scope, move || {
                    let panics = tx.0.clone();
                    reporting_panics(&panics, true, || feeder(tx));
                })
                .expect("failed to start the feeder thread");
        }
        drop(msg_tx);
        let mut coordinator = Coordinator {
            scheduler: &mut scheduler,
            jobs: &job_tx,
            results: &msg_rx,
            config,
            run_start,
            reporter,
            stats: &mut stats,
            last_end: &mut last_end,
            groups: &groups,
            kill_at: None,
            delayed: Vec::new(),
            awaiting_retry: Vec::new(),
            failures: 0,
            feed_open,
            // A pipelined run waits for the first sign of real compilation (or half a
            // second) before it starts tests: a no-op build is over in moments, and
            // waiting for all of its binaries keeps longest-first ordering whole.
            hold: feed_open,
            hold_until: deadline(run_start, HOLD_FOR_NO_OP_BUILD),
            build_error: None,
            bug: None,
            late_not_run: 0,
            rerun_alone: HashMap::new(),
            running: HashMap::new(),
            load: LoadSamples {
                last: run_start,
                by_slot: vec![None; config.slots],
                dispatched: vec![run_start; config.slots],
            },
        };
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
    reporter.report(&Event::RunFinished(stats.clone()))?;
    // tempo's own bug says more than a build error: it may be why the build stopped.
    Ok((stats, bug.or(build_error)))
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

impl Drop for EndOfRun {
    fn drop(&mut self) {
        unix::sweep(std::slice::from_ref(&self.marker), self.grace_period);
        drop(self.watchdog.take());
        // The reaper stops before the last reaping of whatever is left.
        drop(self.reaper.take());
        unix::reap_orphans();
    }
}

/// Kills every running test if the coordinator unwinds from a panic.
struct KillOnPanic<'a>(&'a RunningGroups);

impl Drop for KillOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.signal_all(unix::SIGKILL);
        }
    }
}

fn worker(
    jobs: Receiver<Dispatch>,
    results: Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
) {
    for job in jobs {
        // Which of a batch's tests the coordinator has heard of, so that if this thread
        // panics, the ones that never started can be told apart.
        let mut heard = vec![false; job.batch.as_ref().map_or(0, |tests| tests.len())];
        let ran = catch_unwind(AssertUnwindSafe(|| run_job(&job, &results, config, run_start, groups, &mut heard)));
        let msg = match ran {
            Ok(JobEnd::Alone(result)) => Msg::Finished(job, result),
            Ok(JobEnd::Batch(end)) => Msg::BatchDone(job, end),
            Err(payload) => {
                // The thread's state is unknown: it takes no more work.
                let unstarted = heard.iter().enumerate().filter(|(_, heard)| !**heard).map(|(i, _)| i).collect();
                let lost = LostJob { dispatch: job, unstarted };
                let _ = results.send(Msg::ThreadPanicked(Panicked::new(&*payload, false, Some(lost))));
                return;
            }
        };
        if results.send(msg).is_err() {
            return;
        }
    }
}

/// How a worker's job ended.
enum JobEnd {
    Alone(ExecutionResult),
    Batch(batch::BatchEnd),
}

/// Runs one dispatch: a test alone, or a batch.
fn run_job(
    job: &Dispatch,
    results: &Sender<Msg>,
    config: &RunnerConfig,
    run_start: Instant,
    groups: &RunningGroups,
    heard: &mut [bool],
) -> JobEnd {
    let (slot, attempt) = (job.slot, job.attempt);
    if let Some(tests) = &job.batch {
        let spec = batch::BatchSpec {
            slot,
            output_cap: config.output_cap,
            grace_period: job.test.settings.slow_timeout.grace_period,
            attempt,
        };
        let end = batch::run_batch(
            tests,
            &spec,
            run_start,
            |pid| groups.publish(slot, pid),
            |event| {
                let msg = match event {
                    batch::BatchEvent::Started(i) => {
                        heard[i] = true;
                        Msg::BatchStarted(tests[i].clone(), slot, attempt, run_start.elapsed())
                    }
                    batch::BatchEvent::Slow(i, elapsed) => {
                        fault::inject(fault::Place::Worker, std::iter::once(tests[i].name.as_str()));
                        Msg::Slow(tests[i].clone(), slot, attempt, elapsed)
                    }
                    batch::BatchEvent::Finished(i, result) => {
                        heard[i] = true;
                        Msg::BatchFinished(tests[i].clone(), slot, attempt, result)
                    }
                };
                let _ = results.send(msg);
            },
        );
        return JobEnd::Batch(end);
    }
    let settings = &job.test.settings;
    let spec = AttemptSpec {
        attempt,
        slot,
        capture: config.capture,
        output_cap: config.output_cap,
        leak_timeout: settings.leak_timeout.period,
        leak_fails: settings.leak_timeout.fails,
        grace_period: settings.slow_timeout.grace_period,
        slow_period: settings.slow_timeout.period,
        terminate_after: settings.slow_timeout.terminate_after,
        timeout_passes: settings.slow_timeout.on_timeout == OnTimeout::Pass,
    };
    let result = process::run_attempt(
        &job.test,
        &spec,
        run_start,
        |pid| groups.publish(slot, pid),
        |elapsed| {
            fault::inject(fault::Place::Worker, std::iter::once(job.test.name.as_str()));
            let _ = results.send(Msg::Slow(job.test.clone(), slot, attempt, elapsed));
        },
    );
    JobEnd::Alone(result)
}

/// The coordinating thread's state for one run.
struct Coordinator<'a> {
    scheduler: &'a mut Scheduler,
    jobs: &'a Sender<Dispatch>,
    results: &'a Receiver<Msg>,
    config: &'a RunnerConfig,
    run_start: Instant,
    reporter: &'a mut dyn Reporter,
    stats: &'a mut RunStats,
    last_end: &'a mut Duration,
    groups: &'a RunningGroups,
    /// After a signal: when whatever still runs gets SIGKILL.
    kill_at: Option<Instant>,
    /// Retries waiting out their backoff delay, with the time they may start.
    delayed: Vec<(Instant, TestRef, u32)>,
    /// The failed attempts whose retry has not started yet; if the run stops first,
    /// they become the tests' final results.
    awaiting_retry: Vec<TestFinished>,
    /// Tests that failed for good so far.
    failures: u32,
    /// Whether a pipelined build may still send tests.
    feed_open: bool,
    /// Whether dispatch waits for the build (see `hold` in `run_fed`).
    hold: bool,
    /// When the hold ends anyway: a build still going by then is real work.
    hold_until: Option<Instant>,
    /// The build's error, if it failed.
    build_error: Option<crate::error::Error>,
    /// tempo's own error: the first thread that panicked.
    bug: Option<Error>,
    /// Tests that arrived after the run stopped starting tests.
    late_not_run: usize,
    /// Tests sent back from a batch to run alone, by address, and why.
    rerun_alone: HashMap<usize, BatchFailure>,
    /// The attempts running now, by the test's address: (test, slot, attempt, start
    /// since the run started). Kept for [`Event::InfoRequested`].
    running: HashMap<usize, (TestRef, usize, u32, Duration)>,
    /// Under adaptive concurrency, what the running tests' CPU clocks last read.
    load: LoadSamples,
}

/// How often adaptive concurrency reads the running tests' CPU clocks.
const LOAD_SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// The shortest stretch a rate is judged on: a process's start-up is a burst.
const LOAD_MIN_WINDOW: Duration = Duration::from_millis(40);

/// The last CPU-clock reading of the process leading each slot: (pid, CPU time,
/// when), and when each slot's current test was dispatched: a process's CPU clock
/// starts at zero, so its first reading already gives its rate since it started.
struct LoadSamples {
    last: Instant,
    by_slot: Vec<Option<(u32, Duration, Instant)>>,
    dispatched: Vec<Instant>,
}

impl Coordinator<'_> {
    fn coordinate(&mut self) -> io::Result<()> {
        loop {
            self.release_due_retries();
            if self.hold && self.hold_until.is_some_and(|t| Instant::now() >= t) {
                self.hold = false;
            }
            while let Some(dispatch) = if self.hold { None } else { self.scheduler.next_dispatch() } {
                if dispatch.attempt > 1 {
                    self.awaiting_retry.retain(|f| !Arc::ptr_eq(&f.test, &dispatch.test));
                }
                self.load.dispatched[dispatch.slot] = Instant::now();
                if dispatch.batch.is_some() {
                    // A batch's tests are reported as they start, one by one.
                    self.jobs.send(dispatch).expect("workers outlive the coordinator");
                    continue;
                }
                let at = self.run_start.elapsed();
                self.started(&dispatch.test, dispatch.slot, dispatch.attempt, at);
                self.reporter.report(&Event::TestStarted {
                    test: dispatch.test.clone(),
                    slot: dispatch.slot,
                    attempt: dispatch.attempt,
                    at,
                })?;
                self.jobs.send(dispatch).expect("workers outlive the coordinator");
            }
            if self.scheduler.is_done() && self.delayed.is_empty() && !self.feed_open {
                return self.abandon_retries();
            }
            let next_retry = self.delayed.iter().map(|(at, ..)| *at).min();
            let hold_end = self.hold.then_some(self.hold_until).flatten();
            let sample_at = (self.config.cpu_budget.is_some() && self.scheduler.running() > 0)
                .then(|| deadline(self.load.last, LOAD_SAMPLE_EVERY))
                .flatten();
            let wake_at = [self.kill_at, next_retry, hold_end, sample_at].into_iter().flatten().min();
            let msg = match wake_at {
                Some(at) => match self.results.recv_deadline(at) {
                    Ok(msg) => msg,
                    Err(RecvTimeoutError::Timeout) => {
                        if sample_at.is_some_and(|s| s <= Instant::now()) {
                            self.sample_load();
                        }
                        if self.kill_at.is_some_and(|k| k <= Instant::now()) {
                            self.groups.signal_all(unix::SIGKILL);
                            self.kill_at = deadline(Instant::now(), Duration::from_secs(1));
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                },
                None => match self.results.recv() {
                    Ok(msg) => msg,
                    Err(_) => return Ok(()),
                },
            };
            match msg {
                Msg::Feed(feed) => self.fed(feed)?,
                Msg::Finished(dispatch, result) => self.finished(dispatch, result)?,
                Msg::Signal(sig) => self.signalled(sig)?,
                Msg::Info => self.info()?,
                Msg::Slow(test, slot, attempt, elapsed) => {
                    self.reporter.report(&Event::TestSlow { test, slot, attempt, elapsed })?
                }
                Msg::BatchStarted(test, slot, attempt, at) => {
                    self.started(&test, slot, attempt, at);
                    self.reporter.report(&Event::TestStarted { test, slot, attempt, at })?
                }
                Msg::BatchFinished(test, slot, attempt, result) => self.settle(test, slot, 1, attempt, result)?,
                Msg::BatchDone(dispatch, end) => self.batch_done(dispatch, end),
                Msg::ThreadPanicked(panicked) => self.thread_panicked(panicked)?,
            }
        }
    }

    /// Notes an attempt as running, for [`Event::InfoRequested`].
    fn started(&mut self, test: &TestRef, slot: usize, attempt: u32, at: Duration) {
        self.running.insert(Arc::as_ptr(test) as usize, (test.clone(), slot, attempt, at));
    }

    /// Lists the attempts running now, longest-running first.
    fn info(&mut self) -> io::Result<()> {
        let now = self.run_start.elapsed();
        let mut running: Vec<RunningTest> = self
            .running
            .values()
            .map(|(test, slot, attempt, at)| RunningTest {
                test: test.clone(),
                slot: *slot,
                attempt: *attempt,
                max_attempts: test.settings.retries.count.saturating_add(1),
                elapsed: now.saturating_sub(*at),
            })
            .collect();
        running.sort_by(|a, b| {
            b.elapsed
                .cmp(&a.elapsed)
                .then_with(|| a.test.binary_id().cmp(b.test.binary_id()))
                .then_with(|| a.test.name.cmp(&b.test.name))
        });
        self.reporter.report(&Event::InfoRequested { running })
    }

    /// Reads the CPU clock of each running test's process: one that keeps more cores
    /// busy than its history predicted (or than the one-core guess for a test with
    /// none) is charged what it uses, so that fewer tests join it until it ends; one
    /// with no history that turns out to wait lets more tests start beside it.
    fn sample_load(&mut self) {
        let now = Instant::now();
        self.load.last = now;
        for (slot, sample) in self.load.by_slot.iter_mut().enumerate() {
            let pid = self.groups.pgids[slot].load(Ordering::SeqCst);
            let Some(cpu) = (pid != 0).then(|| unix::process_cpu(pid)).flatten() else {
                *sample = None;
                continue;
            };
            let (old_cpu, since) = match *sample {
                Some((old_pid, old_cpu, at)) if old_pid == pid => (old_cpu, at),
                _ => (Duration::ZERO, self.load.dispatched[slot]),
            };
            let window = now.saturating_duration_since(since);
            if window < LOAD_MIN_WINDOW {
                if sample.is_none_or(|(old_pid, ..)| old_pid != pid) {
                    *sample = Some((pid, Duration::ZERO, since));
                }
                continue;
            }
            let cores = cpu.saturating_sub(old_cpu).as_secs_f64() / window.as_secs_f64();
            self.scheduler.observed_demand(slot, cores);
            *sample = Some((pid, cpu, now));
        }
    }

    /// Settles the tests whose retry never started because the run stopped: their last
    /// failed attempt is their result.
    fn abandon_retries(&mut self) -> io::Result<()> {
        for mut f in std::mem::take(&mut self.awaiting_retry) {
            f.will_retry = false;
            self.stats.finished += 1;
            self.stats.failed += 1;
            self.reporter.report(&Event::RetryAbandoned(Box::new(f)))?;
        }
        Ok(())
    }

    /// Moves retries whose backoff has passed to the front of the queue; a cancelled
    /// run drops them.
    fn release_due_retries(&mut self) {
        if self.scheduler.is_cancelled() {
            self.delayed.clear();
            return;
        }
        let now = Instant::now();
        let (due, waiting): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.delayed).into_iter().partition(|(at, ..)| *at <= now);
        self.delayed = waiting;
        for (_, test, attempt) in due.into_iter().rev() {
            self.scheduler.retry(test, attempt);
        }
    }

    fn fed(&mut self, feed: Feed) -> io::Result<()> {
        match feed {
            Feed::Compiling => {
                self.hold = false;
                // While cargo compiles it keeps the cores busy: under adaptive
                // concurrency the tests get their share of them (waiting tests,
                // which need none, still start).
                if let Some(cores) = self.config.cpu_budget {
                    self.scheduler.set_cpu_budget((cores * self.config.cpu_share_while_building).max(1.0));
                }
            }
            Feed::Tests(plan) => {
                self.stats.planned += plan.tests.len();
                self.stats.skipped += plan.skipped;
                self.reporter.report(&Event::TestsAdded {
                    tests: plan.tests.len(),
                    binaries: plan.binary_count,
                    skipped_tests: plan.skipped_tests.into(),
                    planned: plan.tests.iter().cloned().collect(),
                })?;
                if self.scheduler.is_cancelled() {
                    self.late_not_run += plan.tests.len();
                } else {
                    self.scheduler.add(plan.tests);
                }
            }
            Feed::Done(result) => {
                self.feed_open = false;
                self.hold = false;
                if let Some(cores) = self.config.cpu_budget {
                    self.scheduler.set_cpu_budget(cores);
                }
                if let Err(e) = result {
                    self.build_error = Some(e);
                    if !self.scheduler.is_cancelled() {
                        self.scheduler.cancel();
                        self.reporter.report(&Event::RunCancelling {
                            reason: CancelReason::BuildFailed,
                            running: self.scheduler.running(),
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    fn signalled(&mut self, sig: i32) -> io::Result<()> {
        if self.stats.signal.is_some() || self.bug.is_some() {
            // A second signal, or one while the run already stops for tempo's own bug:
            // stop waiting for anything.
            self.stats.signal.get_or_insert(sig);
            self.groups.signal_all(unix::SIGKILL);
            return Ok(());
        }
        self.stats.signal = Some(sig);
        self.scheduler.cancel();
        let forwarded = rustix::process::Signal::from_named_raw(sig).unwrap_or(unix::SIGTERM);
        self.groups.signal_all(forwarded);
        self.kill_at = deadline(Instant::now(), self.config.grace_period);
        self.reporter
            .report(&Event::RunCancelling { reason: CancelReason::Signal(sig), running: self.scheduler.running() })
    }

    /// A thread panicked: the run stops as if cancelled, the running tests get SIGTERM
    /// and, after the grace period, SIGKILL, and the test the thread was running (a
    /// worker's) fails with tempo's error. Nothing waits for the dead thread.
    fn thread_panicked(&mut self, panicked: Panicked) -> io::Result<()> {
        let Panicked { thread, message, feeder, lost } = panicked;
        if feeder {
            // It will send no more tests, nor say that the build is over.
            self.feed_open = false;
            self.hold = false;
        }
        self.scheduler.cancel();
        if let Some(lost) = &lost {
            self.scheduler.finished(&lost.dispatch);
        }
        let error = format!(
            "tempo stopped watching this test: its thread `{thread}` panicked ({message}); this is a bug in tempo"
        );
        if self.bug.is_none() {
            self.bug = Some(Error::Bug { thread, message });
            self.groups.signal_all(unix::SIGTERM);
            self.kill_at = deadline(Instant::now(), self.config.grace_period);
            self.reporter.report(&Event::RunCancelling {
                reason: CancelReason::InternalError,
                running: self.scheduler.running(),
            })?;
        }
        let Some(LostJob { dispatch, unstarted }) = lost else { return Ok(()) };
        let tests = match &dispatch.batch {
            Some(tests) => {
                // The tests it never started are not run; the others were running.
                self.scheduler.requeue(unstarted.iter().map(|i| tests[*i].clone()).collect());
                tests.iter().filter(|t| self.running.contains_key(&(Arc::as_ptr(t) as usize))).cloned().collect()
            }
            None => vec![dispatch.test.clone()],
        };
        let now = self.run_start.elapsed();
        for test in tests {
            let at = self.running.get(&(Arc::as_ptr(&test) as usize)).map_or(now, |r| r.3);
            let result = ExecutionResult {
                outcome: Outcome::ExecFail,
                exit: None,
                start: at,
                duration: now.saturating_sub(at),
                usage: Default::default(),
                stdout: Default::default(),
                stderr: Default::default(),
                error: Some(error.clone()),
                leaked: false,
                batched: dispatch.batch.is_some(),
                rerun: None,
            };
            let width = if dispatch.batch.is_some() { 1 } else { dispatch.width };
            self.settle(test, dispatch.slot, width, dispatch.attempt, result)?;
        }
        Ok(())
    }

    fn finished(&mut self, dispatch: Dispatch, mut result: ExecutionResult) -> io::Result<()> {
        fault::inject(fault::Place::Coordinator, std::iter::once(dispatch.test.name.as_str()));
        self.scheduler.finished(&dispatch);
        if dispatch.attempt == 1 {
            result.rerun = self.rerun_alone.remove(&(Arc::as_ptr(&dispatch.test) as usize));
        }
        self.settle(dispatch.test, dispatch.slot, dispatch.width, dispatch.attempt, result)
    }

    /// Sends what a batch did not settle back to the queue: the tests that failed,
    /// crashed or stalled in it to run alone, and the tests it never reached to run
    /// again. The batch's own CPU (libtest's start-up) joins the run's total.
    fn batch_done(&mut self, dispatch: Dispatch, end: batch::BatchEnd) {
        self.scheduler.finished(&dispatch);
        self.stats.cpu = self.stats.cpu.saturating_add(end.unattributed_cpu);
        let tests = dispatch.batch.expect("a batch dispatch");
        for (i, why) in end.rerun_alone {
            // It stops running until it starts again alone.
            self.running.remove(&(Arc::as_ptr(&tests[i]) as usize));
            self.rerun_alone.insert(Arc::as_ptr(&tests[i]) as usize, why);
            self.scheduler.requeue_alone(tests[i].clone());
        }
        self.scheduler.requeue(end.unrun.into_iter().map(|i| tests[i].clone()).collect());
    }

    /// Reports a test attempt's result, and decides what follows: a retry, fail-fast,
    /// or nothing.
    fn settle(
        &mut self,
        test: TestRef,
        slot: usize,
        width: usize,
        attempt: u32,
        result: ExecutionResult,
    ) -> io::Result<()> {
        self.running.remove(&(Arc::as_ptr(&test) as usize));
        let scheduler = &mut *self.scheduler;
        let config = self.config;
        let retries = &test.settings.retries;
        let max_attempts = retries.count.saturating_add(1);
        let wants_retry = !result.outcome.is_success() && attempt < max_attempts && !scheduler.is_cancelled();
        let retry =
            wants_retry.then(|| retry_at(Instant::now(), jittered(retries.delay_before(attempt + 1), retries.jitter)));
        // A delay longer than the clock can hold never ends: that retry never starts.
        let will_retry = matches!(retry, Some(Retry::Now | Retry::At(_)));
        let failed_for_good =
            record(self.stats, slot, width, attempt, &result, will_retry, config.flaky_fails, self.last_end);
        let finished = TestFinished { test: test.clone(), slot, attempt, max_attempts, result, will_retry };
        if will_retry {
            self.awaiting_retry.push(finished.clone());
        }
        self.reporter.report(&Event::TestFinished(Box::new(finished)))?;
        if will_retry {
            let next = attempt + 1;
            match retry {
                Some(Retry::At(at)) => self.delayed.push((at, test, next)),
                _ => scheduler.retry(test, next),
            }
        } else if failed_for_good {
            self.failures += 1;
            if config.max_fail.is_some_and(|max| self.failures >= max) && !scheduler.is_cancelled() {
                scheduler.cancel();
                if config.terminate_on_fail_fast {
                    // `fail-fast = { terminate = "immediate" }`: end the running tests too.
                    self.groups.signal_all(unix::SIGTERM);
                    self.kill_at = deadline(Instant::now(), config.grace_period);
                }
                self.reporter.report(&Event::RunCancelling {
                    reason: CancelReason::TestFailure,
                    running: scheduler.running(),
                })?;
            }
        }
        Ok(())
    }
}

/// When a retry may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// At once: no delay.
    Now,
    /// Once its delay has passed.
    At(Instant),
    /// Never: its delay is longer than the clock can hold.
    Never,
}

fn retry_at(now: Instant, delay: Duration) -> Retry {
    if delay.is_zero() {
        return Retry::Now;
    }
    deadline(now, delay).map_or(Retry::Never, Retry::At)
}

/// With jitter, a delay drawn between half of `delay` and all of it.
fn jittered(delay: Duration, jitter: bool) -> Duration {
    if !jitter || delay.is_zero() {
        return delay;
    }
    let mut bytes = [0u8; 8];
    let _ = rustix::rand::getrandom(&mut bytes, rustix::rand::GetRandomFlags::empty());
    scaled(delay, 0.5 + (u64::from_le_bytes(bytes) as f64 / u64::MAX as f64) * 0.5)
}

/// `delay` times `fraction` (0 to 1). `Duration::mul_f64` panics when the product,
/// rounded to an `f64`, is past `Duration::MAX`, as `Duration::MAX` times 1 is.
fn scaled(delay: Duration, fraction: f64) -> Duration {
    Duration::try_from_secs_f64(delay.as_secs_f64() * fraction).map_or(delay, |d| d.min(delay))
}

/// Folds one finished attempt into the tally.
#[expect(clippy::too_many_arguments, reason = "one attempt's facts, each needed")]
fn record(
    stats: &mut RunStats,
    slot: usize,
    width: usize,
    attempt: u32,
    result: &ExecutionResult,
    will_retry: bool,
    flaky_fails: bool,
    last_end: &mut Duration,
) -> bool {
    stats.test_time = stats.test_time.saturating_add(result.duration);
    stats.cpu = stats.cpu.saturating_add(result.usage.cpu());
    stats.longest = stats.longest.max(result.duration);
    for lane in &mut stats.slot_busy[slot..slot + width] {
        *lane = lane.saturating_add(result.duration);
    }
    *last_end = (*last_end).max(result.start.saturating_add(result.duration));
    if will_retry {
        return false;
    }
    stats.finished += 1;
    match result.outcome {
        Outcome::Pass if attempt > 1 => {
            stats.flaky += 1;
            if flaky_fails {
                stats.failed += 1;
                return true;
            }
            stats.passed += 1;
        }
        Outcome::Pass => stats.passed += 1,
        Outcome::Fail(_) | Outcome::LeakFail => stats.failed += 1,
        Outcome::Timeout => {
            stats.failed += 1;
            stats.timed_out += 1;
        }
        Outcome::ExecFail => {
            stats.failed += 1;
            stats.exec_failed += 1;
        }
    }
    !result.outcome.is_success()
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
    fn jitter_of_the_longest_delay_does_not_panic() {
        // `Duration::MAX.mul_f64(1.0)` panics: the product rounds up past the maximum.
        assert_eq!(scaled(Duration::MAX, 1.0), Duration::MAX);
        assert!(scaled(Duration::MAX, 0.5) <= Duration::MAX);
        assert_eq!(scaled(Duration::from_secs(10), 0.5), Duration::from_secs(5));
        assert!(jittered(Duration::MAX, true) <= Duration::MAX);
    }

    #[test]
    fn a_retry_delay_past_the_clock_means_no_retry() {
        let now = Instant::now();
        assert_eq!(retry_at(now, Duration::ZERO), Retry::Now);
        assert_eq!(retry_at(now, Duration::from_secs(2)), Retry::At(now + Duration::from_secs(2)));
        assert_eq!(retry_at(now, Duration::MAX), Retry::Never);
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
