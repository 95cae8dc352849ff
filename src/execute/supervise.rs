//! The one loop that watches a child of tempo's, whether it runs one test alone or a batch.
//!
//! Starting the child in a group of its own, learning of its exit from a pidfd, reading
//! its pipes as they fill, ending it (SIGTERM, then SIGKILL after the grace period),
//! reaping it with its rusage and ending what it left behind are the same for a test
//! and for a batch, so they are written once, here. What differs (what the output
//! means, what a slow period refers to, when the child has run too long) is asked of a
//! [`Supervised`] observer. One thread waits on both pipes and on the pidfd at once, so
//! it learns of the exit, of output and of deadlines without busy-waiting.

use std::io::{self, Read};
use std::ops::ControlFlow;
use std::os::fd::OwnedFd;
use std::process::{ChildStderr, ChildStdout, Command};
use std::time::{Duration, Instant};

use super::{deadline, unix};
use crate::events::{ExitStatus, ResourceUsage};

/// What an observer asks of the loop after a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep watching.
    Continue,
    /// End the child's group: SIGTERM now, SIGKILL once the grace period is over.
    Terminate,
}

/// What the loop asks of whoever runs the child: a test alone or a batch.
pub trait Supervised {
    /// Bytes the child wrote to stdout, read at `at`.
    fn on_stdout(&mut self, bytes: &[u8], at: Instant);
    /// Bytes the child wrote to stderr.
    fn on_stderr(&mut self, bytes: &[u8]);
    /// When the observer next has something to do (`None`: nothing to wait for).
    /// Asked until the child is told to end.
    fn next_deadline(&self) -> Option<Instant>;
    /// Does what is due at `now`, at each wake until the child is told to end.
    fn on_deadline(&mut self, now: Instant) -> Control;
}

/// What happens once the child has exited.
#[derive(Debug, Clone, Copy)]
pub enum AfterExit {
    /// A test alone: whatever still holds its pipes may do so for this long before
    /// the test counts as leaky, and what it left in its group gets SIGTERM, then
    /// SIGKILL after the grace period.
    WaitForLeaks(Duration),
    /// A batch: its group is killed at once, so that nothing it left keeps its pipes
    /// open. The unreaped leader keeps the group id valid meanwhile.
    KillGroup,
}

/// How the loop treats one child.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How long the child's group gets between SIGTERM and SIGKILL.
    pub grace_period: Duration,
    /// What happens once the child has exited.
    pub after_exit: AfterExit,
    /// Whether a child that writes in many small pieces is read less often (see
    /// [`COALESCE_PAUSE`]).
    pub coalesce: bool,
}

/// How the child ended.
#[derive(Debug)]
pub struct Ended {
    /// When its exit was seen.
    pub exited_at: Instant,
    /// Its exit status (`Code(-1)` where it could not be reaped).
    pub status: ExitStatus,
    /// Its own resource usage.
    pub usage: ResourceUsage,
    /// Whether something held its pipes open past the leak timeout.
    pub leaked: bool,
}

/// A started child, watched until [`Supervisor::run`] has reaped it.
pub struct Supervisor<P: Fn(u32)> {
    pid: u32,
    pidfd: Option<OwnedFd>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Lives until the child is reaped, so that the orphan reaper leaves the child to
    /// this thread's `wait4`.
    _leader: unix::Leader,
    publish: P,
    exited_at: Option<Instant>,
    /// After SIGTERM: when SIGKILL follows (`None` once sent, or never).
    kill_at: Option<Instant>,
    terminating: bool,
    leaked: bool,
    small_reads: u32,
}

/// Starts `cmd` (which puts the child in a group of its own) and publishes the
/// child's group through `publish`, which hears 0 once the group is gone, so that
/// signals can be forwarded to it meanwhile.
pub fn spawn<P: Fn(u32)>(cmd: &mut Command, publish: P) -> io::Result<Supervisor<P>> {
    let (mut child, leader) = unix::spawn_leader(cmd)?;
    let pid = child.id();
    publish(pid);
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    if let Some(out) = &stdout {
        unix::grow_pipe(out);
    }
    if let Some(err) = &stderr {
        unix::grow_pipe(err);
    }
    Ok(Supervisor {
        pid,
        pidfd: unix::pidfd_open(pid),
        stdout,
        stderr,
        _leader: leader,
        publish,
        exited_at: None,
        kill_at: None,
        terminating: false,
        leaked: false,
        small_reads: 0,
    })
}

/// Reads below this many bytes mean a child writes in small pieces.
const COALESCE_BELOW: usize = 4096;
/// How many small reads make a child chatty.
const COALESCE_AFTER: u32 = 64;
/// How long to let a chatty child's output accumulate before reading again.
const COALESCE_PAUSE: Duration = Duration::from_micros(500);
/// How often a child's exit is looked for where there is no pidfd.
const EXIT_POLL: Duration = Duration::from_millis(10);

impl<P: Fn(u32)> Supervisor<P> {
    /// The child's pid, which is also its process group id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Watches the child until it has exited and its pipes are closed (or, for a test,
    /// the leak timeout is over), then reaps it, ends what it left in its group and
    /// publishes that the group is gone.
    pub fn run(mut self, limits: &Limits, observer: &mut impl Supervised) -> Ended {
        let mut chunk = vec![0u8; 64 * 1024];
        while self.exited_at.is_none() || self.stdout.is_some() || self.stderr.is_some() {
            let now = Instant::now();
            let ControlFlow::Continue(wake_at) = self.wake_at(now, limits, observer) else { break };
            let timeout = wake_at.map(|d| d.saturating_duration_since(now));
            let pidfd = if self.exited_at.is_none() { self.pidfd.as_ref().map(|f| f as _) } else { None };
            let ready = unix::poll_readable(
                [self.stdout.as_ref().map(|f| f as _), self.stderr.as_ref().map(|f| f as _), pidfd],
                timeout,
            )
            .unwrap_or([self.stdout.is_some(), self.stderr.is_some(), false]);
            let mut got = 0;
            if ready[0] {
                let n = drain_once(&mut self.stdout, &mut chunk);
                if n > 0 {
                    observer.on_stdout(&chunk[..n], Instant::now());
                }
                got += n;
            }
            if ready[1] {
                let n = drain_once(&mut self.stderr, &mut chunk);
                if n > 0 {
                    observer.on_stderr(&chunk[..n]);
                }
                got += n;
            }
            if limits.coalesce {
                self.coalesce(got);
            }
            if self.exited_at.is_none() && (ready[2] || (self.pidfd.is_none() && unix::has_exited(self.pid))) {
                self.exited(limits);
            }
        }
        self.finish(limits)
    }

    /// Sends what is due at `now` and says when to wake next; breaks once the leak
    /// timeout is over.
    fn wake_at(
        &mut self,
        now: Instant,
        limits: &Limits,
        observer: &mut impl Supervised,
    ) -> ControlFlow<(), Option<Instant>> {
        if let (Some(at), AfterExit::WaitForLeaks(leak_timeout)) = (self.exited_at, limits.after_exit) {
            // The test is gone but something still holds its pipes: wait out the leak timeout.
            let leak_deadline = deadline(at, leak_timeout);
            if leak_deadline.is_some_and(|d| now >= d) {
                self.leaked = true;
                return ControlFlow::Break(());
            }
            return ControlFlow::Continue(leak_deadline);
        }
        if self.exited_at.is_none()
            && let Some(at) = self.kill_at
            && now >= at
        {
            unix::signal_group(self.pid, unix::SIGKILL);
            self.kill_at = None;
        }
        if !self.terminating && observer.on_deadline(now) == Control::Terminate {
            self.terminating = true;
            unix::signal_group(self.pid, unix::SIGTERM);
            self.kill_at = deadline(now, limits.grace_period);
        }
        let mut wake_at = if self.terminating { self.kill_at } else { observer.next_deadline() };
        if self.pidfd.is_none() && self.exited_at.is_none() {
            // Without a pidfd, exits are noticed by polling.
            wake_at = [wake_at, deadline(now, EXIT_POLL)].into_iter().flatten().min();
        }
        ControlFlow::Continue(wake_at)
    }

    /// A child that writes many small pieces (an `eprintln!` per line) would wake this
    /// thread once per write. Once it has shown that habit, a short pause lets the pipe
    /// fill, so that one read takes many writes; the pipe's buffer keeps the writer
    /// running meanwhile. Ordinary tests, which write a few lines, never pause.
    fn coalesce(&mut self, got: usize) {
        if got > 0 && got < COALESCE_BELOW {
            self.small_reads += 1;
            if self.small_reads > COALESCE_AFTER {
                std::thread::sleep(COALESCE_PAUSE);
            }
        }
    }

    fn exited(&mut self, limits: &Limits) {
        self.exited_at = Some(Instant::now());
        if let AfterExit::KillGroup = limits.after_exit {
            // Whatever the batch left behind must not keep its pipes open forever. The
            // unreaped leader keeps the group id valid meanwhile.
            unix::signal_group(self.pid, unix::SIGKILL);
        }
    }

    /// Reaps the child, ends its leftovers and publishes that its group is gone.
    fn finish(self, limits: &Limits) -> Ended {
        let exited_at = self.exited_at.unwrap_or_else(Instant::now);
        let (status, usage) = unix::reap(self.pid).unwrap_or((ExitStatus::Code(-1), ResourceUsage::default()));
        // The group stays published while leftovers are ended, so that a second Ctrl-C
        // can SIGKILL them at once. Its members pin the group id, so it cannot be reused
        // meanwhile.
        match limits.after_exit {
            AfterExit::WaitForLeaks(_) => end_leftovers(self.pid, limits.grace_period),
            AfterExit::KillGroup => {
                if unix::group_alive(self.pid) {
                    unix::signal_group(self.pid, unix::SIGKILL);
                }
            }
        }
        (self.publish)(0);
        Ended { exited_at, status, usage, leaked: self.leaked }
    }
}

/// Reads what is available from a ready pipe into `chunk`; closes the pipe at end of
/// file or on an error. Returns how many bytes it read.
fn drain_once<R: Read>(pipe: &mut Option<R>, chunk: &mut [u8]) -> usize {
    let Some(reader) = pipe.as_mut() else { return 0 };
    match reader.read(chunk) {
        Ok(0) => {
            *pipe = None;
            0
        }
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
        Err(_) => {
            *pipe = None;
            0
        }
    }
}

/// Ends whatever the test left running in its group: SIGTERM, then SIGKILL after the grace period.
fn end_leftovers(pgid: u32, grace: Duration) {
    if !unix::group_alive(pgid) {
        return;
    }
    unix::signal_group(pgid, unix::SIGTERM);
    if !unix::wait_until_gone(grace, || !unix::group_alive(pgid)) {
        unix::signal_group(pgid, unix::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;

    use super::*;

    /// Keeps what the loop hands it, and asks for the child's end at its first wake
    /// when told to.
    #[derive(Default)]
    struct Recorder {
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        terminate: bool,
        asked_to_end: bool,
    }

    impl Supervised for Recorder {
        fn on_stdout(&mut self, bytes: &[u8], _at: Instant) {
            self.stdout.extend_from_slice(bytes);
        }

        fn on_stderr(&mut self, bytes: &[u8]) {
            self.stderr.extend_from_slice(bytes);
        }

        fn next_deadline(&self) -> Option<Instant> {
            None
        }

        fn on_deadline(&mut self, _now: Instant) -> Control {
            if self.terminate {
                self.asked_to_end = true;
                return Control::Terminate;
            }
            Control::Continue
        }
    }

    fn shell(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.process_group(0);
        cmd
    }

    fn limits(after_exit: AfterExit) -> Limits {
        Limits { grace_period: Duration::from_secs(5), after_exit, coalesce: true }
    }

    #[test]
    fn output_and_exit_status_reach_the_caller_and_the_group_is_unpublished() {
        let published = std::cell::RefCell::new(Vec::new());
        let child = spawn(&mut shell("echo out; echo err >&2; exit 3"), |pgid| published.borrow_mut().push(pgid))
            .expect("sh starts");
        let pid = child.pid();
        let mut recorder = Recorder::default();
        let ended = child.run(&limits(AfterExit::WaitForLeaks(Duration::MAX)), &mut recorder);
        assert_eq!(ended.status, ExitStatus::Code(3));
        assert!(!ended.leaked);
        assert_eq!(recorder.stdout, b"out\n");
        assert_eq!(recorder.stderr, b"err\n");
        assert_eq!(*published.borrow(), [pid, 0]);
    }

    #[test]
    fn a_pipe_held_past_the_leak_timeout_is_a_leak_and_its_holder_is_ended() {
        let child = spawn(&mut shell("sleep 1000 & echo started"), |_| {}).expect("sh starts");
        let pid = child.pid();
        let ended = child.run(&limits(AfterExit::WaitForLeaks(Duration::from_millis(50))), &mut Recorder::default());
        assert_eq!(ended.status, ExitStatus::Code(0));
        assert!(ended.leaked);
        assert!(
            unix::wait_until_gone(Duration::from_secs(30), || !unix::group_alive(pid)),
            "the leftover sleep was ended"
        );
    }

    #[test]
    fn a_batch_group_is_killed_when_its_leader_exits() {
        let child = spawn(&mut shell("sleep 1000 & exit 0"), |_| {}).expect("sh starts");
        let pid = child.pid();
        let ended = child.run(&limits(AfterExit::KillGroup), &mut Recorder::default());
        assert_eq!(ended.status, ExitStatus::Code(0));
        assert!(!ended.leaked);
        assert!(unix::wait_until_gone(Duration::from_secs(30), || !unix::group_alive(pid)));
    }

    #[test]
    fn terminate_sends_sigterm_to_the_group() {
        let child = spawn(&mut shell("exec sleep 1000"), |_| {}).expect("sh starts");
        let mut recorder = Recorder { terminate: true, ..Recorder::default() };
        let ended = child.run(&limits(AfterExit::WaitForLeaks(Duration::MAX)), &mut recorder);
        assert!(recorder.asked_to_end);
        assert_eq!(ended.status, ExitStatus::Signal { signal: libc::SIGTERM, core_dumped: false });
    }
}
