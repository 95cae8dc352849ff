//! Keeps track of the process group running in each slot, and turns the signals tempo
//! receives into messages for the coordinator, so that a Ctrl-C reaches every test.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crossbeam_channel::Sender;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use super::{Msg, fault, reporting_panics, unix};

/// The process group of the test running in each slot (0 when idle), so that the
/// coordinator can forward signals without asking the workers.
///
/// A test that starts while the run is being stopped must not miss the signal, so
/// the last signal sent is kept too: the coordinator records it before reading the
/// groups, and a worker publishes its group before reading it (both sequentially
/// consistent), so at least one of the two sees the other and the test is signalled.
pub(super) struct RunningGroups {
    pub(super) pgids: Vec<AtomicU32>,
    last_signal: AtomicI32,
}

impl RunningGroups {
    pub(super) fn new(slots: usize) -> RunningGroups {
        RunningGroups { pgids: (0..slots).map(|_| AtomicU32::new(0)).collect(), last_signal: AtomicI32::new(0) }
    }

    pub(super) fn signal_all(&self, signal: rustix::process::Signal) {
        self.last_signal.store(signal.as_raw(), Ordering::SeqCst);
        for pgid in &self.pgids {
            let pgid = pgid.load(Ordering::SeqCst);
            if pgid != 0 {
                unix::signal_group(pgid, signal);
                // A paused probe (see `schedule::Scheduler`) holds every signal but
                // SIGKILL until it is continued.
                unix::signal_group(pgid, unix::SIGCONT);
            }
        }
    }

    /// Sends `signal` to the group running in `slot`, if any: adaptive concurrency's
    /// pause and resume of a probe. Unlike [`Self::signal_all`], it is not a signal
    /// the run stops with.
    pub(super) fn signal_slot(&self, slot: usize, signal: rustix::process::Signal) {
        let pgid = self.pgids.get(slot).map_or(0, |p| p.load(Ordering::SeqCst));
        if pgid != 0 {
            unix::signal_group(pgid, signal);
        }
    }

    /// Records the group running in `slot` (0 when it is gone), and sends it the
    /// run's last signal if the run is already stopping.
    pub(super) fn publish(&self, slot: usize, pgid: u32) {
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
pub(super) struct SignalForwarder {
    handle: signal_hook::iterator::Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalForwarder {
    pub(super) fn start(tx: Sender<Msg>) -> io::Result<SignalForwarder> {
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

/// Kills every running test if the coordinator unwinds from a panic.
pub(super) struct KillOnPanic<'a>(pub(super) &'a RunningGroups);

impl Drop for KillOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.signal_all(unix::SIGKILL);
        }
    }
}
