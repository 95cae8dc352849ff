//! The Unix process calls tempo makes, kept behind one seam.
//!
//! Everything that touches process groups, signals, pidfds and rusage lives here, so
//! the rest of the runner speaks in terms of "the test's group" and "its usage".

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};

use crate::events::{ExitStatus, ResourceUsage};

/// Opens a pidfd, which becomes readable when the process exits (Linux 5.3 and later).
/// `None` where the kernel has no pidfds; callers then poll with a short timeout.
pub fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = Pid::from_raw(pid as i32)?;
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok()
}

/// Whether the process has exited, without reaping it (so its pid, and with it the
/// process group id, stays reserved until [`reap`]).
pub fn has_exited(pid: u32) -> bool {
    // SAFETY: waitid only writes into the siginfo we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
        rc == 0 && info.si_pid() != 0
    }
}

/// Reaps the exited process and returns its status with its own rusage. `getrusage`
/// on children would sum every test at once; `wait4` reports this one alone.
pub fn reap(pid: u32) -> io::Result<(ExitStatus, ResourceUsage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals.
        let rc = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if rc >= 0 {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let exit = if libc::WIFSIGNALED(status) {
        ExitStatus::Signal { signal: libc::WTERMSIG(status), core_dumped: libc::WCOREDUMP(status) }
    } else {
        ExitStatus::Code(libc::WEXITSTATUS(status))
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    let usage = ResourceUsage {
        user: tv(usage.ru_utime),
        system: tv(usage.ru_stime),
        // Linux reports ru_maxrss in kilobytes.
        max_rss: (usage.ru_maxrss as u64) * 1024,
    };
    Ok((exit, usage))
}

/// Sends `signal` to every process in the group. Returns false if the group is gone.
pub fn signal_group(pgid: u32, signal: Signal) -> bool {
    match Pid::from_raw(pgid as i32) {
        Some(pid) => rustix::process::kill_process_group(pid, signal).is_ok(),
        None => false,
    }
}

/// Whether any process is left in the group. Orphans of the group that were
/// re-parented to tempo (the subreaper) and have exited are reaped first: a zombie
/// still counts as a member of its group. Only this group's processes are reaped,
/// so the tests other workers wait for are untouched.
pub fn group_alive(pgid: u32) -> bool {
    let Some(pid) = Pid::from_raw(pgid as i32) else { return false };
    while let Ok(Some(_)) = rustix::process::waitpgid(pid, rustix::process::WaitOptions::NOHANG) {}
    rustix::process::test_kill_process_group(pid).is_ok()
}

/// SIGTERM.
pub const SIGTERM: Signal = Signal::TERM;
/// SIGKILL.
pub const SIGKILL: Signal = Signal::KILL;
/// Stops a process group: adaptive concurrency pauses a probe that hurts.
pub const SIGSTOP: Signal = Signal::STOP;
/// Continues a stopped process group.
pub const SIGCONT: Signal = Signal::CONT;

/// Waits until one of `fds` is readable (or hung up), or the timeout passes.
/// Returns, for each fd, whether it is ready.
pub fn poll_readable<const N: usize>(fds: [Option<&dyn AsFd>; N], timeout: Option<Duration>) -> io::Result<[bool; N]> {
    let mut pollfds: Vec<PollFd<'_>> = Vec::with_capacity(N);
    let mut index = [usize::MAX; N];
    for (i, fd) in fds.iter().enumerate() {
        if let Some(fd) = fd {
            index[i] = pollfds.len();
            pollfds.push(PollFd::from_borrowed_fd(fd.as_fd(), PollFlags::IN));
        }
    }
    // A wait too long for a `time_t` is a wait without end.
    let ts = timeout.and_then(|t| {
        Some(rustix::event::Timespec { tv_sec: i64::try_from(t.as_secs()).ok()?, tv_nsec: t.subsec_nanos() as _ })
    });
    match rustix::event::poll(&mut pollfds, ts.as_ref()) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok([false; N]),
        Err(e) => return Err(e.into()),
    }
    let mut ready = [false; N];
    for i in 0..N {
        if index[i] != usize::MAX {
            ready[i] = !pollfds[index[i]].revents().is_empty();
        }
    }
    Ok(ready)
}

/// Makes tempo the reaper of its tests' orphans: a process that a test started and
/// abandoned is re-parented to tempo rather than to init, so it stays within reach.
pub fn become_subreaper() {
    let _ = rustix::process::set_child_subreaper(Some(rustix::process::getpid()));
}

/// Processes (other than tempo) whose environment holds every entry of `markers`:
/// everything started by a run or by one test, since processes inherit their
/// parent's environment. A process that cleared its environment is not found.
pub fn processes_marked(markers: &[String]) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { return false };
            markers.iter().all(|m| env.split(|b| *b == 0).any(|var| var == m.as_bytes()))
        })
        .collect()
}

/// Ends every process marked with `markers`, wherever it went (another process group,
/// another session): SIGTERM, then SIGKILL for what is left after `grace`.
/// Returns how many processes it found.
pub fn sweep(markers: &[String], grace: Duration) -> usize {
    let found = processes_marked(markers);
    let kill = |pid: u32, sig: Signal| {
        if let Some(pid) = Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    };
    for pid in &found {
        kill(*pid, SIGTERM);
    }
    let mut left = found.clone();
    // Zombies have an empty environ, so a process that died drops out of the marked set
    // whether or not anyone has reaped it yet.
    wait_until_gone(grace, || {
        if !left.is_empty() {
            let alive = processes_marked(markers);
            left.retain(|p| alive.contains(p));
        }
        left.is_empty()
    });
    for pid in left {
        kill(pid, SIGKILL);
    }
    found.len()
}

/// Waits until `gone` says that what was signalled has ended, looking every 10 ms, for
/// at most `grace` (which may be longer than the clock can hold: then for as long as it
/// takes). Returns whether it ended.
pub fn wait_until_gone(grace: Duration, mut gone: impl FnMut() -> bool) -> bool {
    let until = super::deadline(std::time::Instant::now(), grace);
    while until.is_none_or(|t| std::time::Instant::now() < t) {
        if gone() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Reaps exited orphans that were re-parented to tempo. Only call it when no worker
/// is waiting for a test, since it reaps any child.
pub fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {}
}

// Reaping adopted orphans while the run goes on.
//
// As the run's subreaper, tempo inherits every process a test starts and abandons
// (a daemon that double-forks, a `setsid` child). Each one that exits stays a zombie,
// holding a pid, until tempo waits for it: a long suite of tests that start daemons
// could run the machine out of pids if that waited for the end of the run. But the
// workers reap their own test processes with `wait4(pid)`, which is how each test
// gets its own rusage, so a reaper must never take one of those. `waitpid(-1)`
// cannot be told to skip a process, and neither can `waitid(P_ALL, WNOWAIT)`, which
// only ever shows one zombie. So the reaper reads the zombies' list from `/proc`
// (Linux's `/proc/PID/stat`: state, parent and process group) and waits for each
// adopted one by its pid. It leaves alone:
// - the processes spawned with `spawn_leader` (tests, batches, the watchdog: each
//   in a process group of its own), which are registered while the reaper is held
//   off, so that none can exit unregistered;
// - every child in tempo's own process group (cargo, a test binary listing its
//   tests, rustc): tempo spawns those in its group and waits for them itself.
// An orphan is never in tempo's group: it belongs to its test's group, or to a
// group or session it made itself.

/// Held for reading while a leader is spawned and registered, and for writing while
/// the reaper reaps: a leader is registered before the reaper can take it.
static SPAWNING: RwLock<()> = RwLock::new(());
/// The pids of the live [`Leader`]s.
static LEADERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// A process tempo spawned and waits for itself, by pid. The orphan reaper leaves it
/// alone until this is dropped, which must come after the process is reaped.
#[derive(Debug)]
#[must_use = "the process is protected from the orphan reaper only while this lives"]
pub struct Leader(u32);

impl Drop for Leader {
    fn drop(&mut self) {
        LEADERS.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.0);
    }
}

/// Spawns a process that tempo will reap itself with [`reap`] (or `Child::wait`),
/// registered so that the orphan reaper never takes it first.
pub fn spawn_leader(cmd: &mut Command) -> io::Result<(Child, Leader)> {
    let _spawning = SPAWNING.read().unwrap_or_else(PoisonError::into_inner);
    let child = cmd.spawn()?;
    let pid = child.id();
    LEADERS.lock().unwrap_or_else(PoisonError::into_inner).insert(pid);
    Ok((child, Leader(pid)))
}

/// The least time between two of the reaper's looks at `/proc`: each look reads every
/// process's `stat`, and a run whose tests are short sends SIGCHLD all the time.
const REAP_EVERY: Duration = Duration::from_millis(50);

/// Reaps tempo's adopted orphans as they exit, for as long as it lives: a thread woken
/// by SIGCHLD that looks for exited children at most every [`REAP_EVERY`]. This is
/// Linux's implementation: it finds the zombies in `/proc` (see [`reap_adopted`]).
/// The orphans still alive at the end of the run are left to the run's sweep and
/// [`reap_orphans`].
pub struct OrphanReaper {
    handle: signal_hook::iterator::Handle,
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OrphanReaper {
    /// Starts the reaper. SIGCHLD gets a handler that only wakes the thread; it is
    /// installed with `SA_RESTART`, and the calls tempo makes that a signal still
    /// interrupts (`poll`) already retry.
    pub fn start() -> io::Result<OrphanReaper> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGCHLD])?;
        let handle = signals.handle();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new().name("tempo-reaper".into()).spawn(move || {
            loop {
                // Every SIGCHLD since the last look is one reason to look again.
                let _ = signals.wait().count();
                if signals.is_closed() {
                    break;
                }
                reap_adopted();
                if !matches!(stopped.recv_timeout(REAP_EVERY), Err(crossbeam_channel::RecvTimeoutError::Timeout)) {
                    break;
                }
            }
        })?;
        Ok(OrphanReaper { handle, stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for OrphanReaper {
    fn drop(&mut self) {
        self.handle.close();
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reaps every exited child of tempo's that is neither a [`Leader`] nor in tempo's
/// own process group; returns how many it reaped.
pub fn reap_adopted() -> usize {
    if !has_exited_child() {
        return 0;
    }
    let me = std::process::id();
    let my_group = rustix::process::getpgrp().as_raw_nonzero().get() as u32;
    // The scan runs without holding spawns up; only what it finds is checked again
    // under the lock, against the leaders registered by then.
    let zombies = adopted_zombies(me, my_group);
    if zombies.is_empty() {
        return 0;
    }
    let _reaping = SPAWNING.write().unwrap_or_else(PoisonError::into_inner);
    let leaders = LEADERS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut buf = [0u8; 512];
    let mut reaped = 0;
    for pid in zombies {
        if leaders.contains(&pid) || !is_adopted_zombie(pid, me, my_group, &mut buf) {
            continue;
        }
        let Some(pid) = Pid::from_raw(pid as i32) else { continue };
        if let Ok(Some(_)) = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::NOHANG) {
            reaped += 1;
        }
    }
    reaped
}

/// Whether any child of tempo's has exited and waits to be reaped: one cheap call
/// that spares the `/proc` scan when every child that exited is reaped already (most
/// SIGCHLDs are for tests, which their workers reap at once).
fn has_exited_child() -> bool {
    // SAFETY: waitid only writes into the siginfo we own; WNOWAIT leaves the child be.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT);
        rc == 0 && info.si_pid() != 0
    }
}

/// The zombies whose parent is `parent` (tempo) and whose process group is not
/// `skip_group`.
fn adopted_zombies(parent: u32, skip_group: u32) -> Vec<u32> {
    let mut buf = [0u8; 512];
    let mut candidates = children_of_self().unwrap_or_else(every_process);
    candidates.retain(|pid| is_adopted_zombie(*pid, parent, skip_group, &mut buf));
    candidates
}

/// tempo's children, from each of its threads' `/proc/self/task/TID/children`, where
/// the kernel has those files (`CONFIG_PROC_CHILDREN`, which most distributions
/// enable): a few reads, where reading every process's `stat` costs ~5 µs a process.
/// `None` where the kernel has no such files.
fn children_of_self() -> Option<Vec<u32>> {
    static HAS_CHILDREN_FILES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*HAS_CHILDREN_FILES.get_or_init(|| std::path::Path::new("/proc/thread-self/children").exists()) {
        return None;
    }
    let mut pids = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        // A thread that ended meanwhile has no file left, and no children either.
        if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
            pids.extend(parse_pids(&text));
        }
    }
    Some(pids)
}

/// The pids in a `children` file: numbers separated by spaces.
fn parse_pids(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_ascii_whitespace().filter_map(|p| p.parse().ok())
}

/// Every process in `/proc`.
fn every_process() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten().filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok()).collect()
}

/// Whether `pid` is a zombie whose parent is `parent` and whose process group is not
/// `skip_group`, from its `/proc/PID/stat` (`PID (COMM) STATE PPID PGRP ...`; COMM
/// may hold spaces and parentheses, so the fields are counted from its last `)`).
fn is_adopted_zombie(pid: u32, parent: u32, skip_group: u32, buf: &mut [u8]) -> bool {
    let Ok(mut file) = std::fs::File::open(format!("/proc/{pid}/stat")) else { return false };
    let Ok(n) = file.read(buf) else { return false };
    parse_stat(&buf[..n]).is_some_and(|(state, ppid, pgrp)| state == b'Z' && ppid == parent && pgrp != skip_group)
}

/// The state, parent pid and process group of a `/proc/PID/stat` line.
fn parse_stat(stat: &[u8]) -> Option<(u8, u32, u32)> {
    let close = stat.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(stat.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, ppid, pgrp))
}

/// Grows a pipe's buffer (to 1 MiB where the system allows it), so that a test that
/// prints a lot is not held up while its output waits to be read.
pub fn grow_pipe(fd: impl AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(fd, 1024 * 1024);
}

/// The CPU time (user plus system) a live child has used so far, threads that
/// already ended included: one `clock_gettime` on its process CPU clock, with
/// nanosecond resolution. `None` where the clock cannot be read.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls only write into locals we own.
    unsafe {
        if libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) != 0 {
            return None;
        }
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return None;
        }
        Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }
}

/// How many threads on the machine are runnable right now (running or waiting for a
/// core), not counting the caller: the fourth field of `/proc/loadavg`, `R/T`, whose
/// `R` counts the reading thread itself. `None` where the file cannot be read (it is
/// Linux's). A container sees its host's count, so there this measures the host.
pub fn runnable_threads() -> Option<u32> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_runnable(&text)
}

/// The runnable count of a `/proc/loadavg` line, less the reader.
fn parse_runnable(text: &str) -> Option<u32> {
    let field = text.split_ascii_whitespace().nth(3)?;
    let (runnable, _) = field.split_once('/')?;
    Some(runnable.parse::<u32>().ok()?.saturating_sub(1))
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::time::Instant;

    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_last_parenthesis() {
        assert_eq!(parse_stat(b"4242 (a) b (c)) Z 17 4242 4242 0 -1 4227148"), Some((b'Z', 17, 4242)));
        assert_eq!(parse_stat(b"1 (init) S 0 1 1 0 -1"), Some((b'S', 0, 1)));
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_pids("12 345 6789 \n").collect::<Vec<_>>(), [12, 345, 6789]);
    }

    #[test]
    fn the_runnable_count_is_the_fourth_field_less_the_reader() {
        assert_eq!(parse_runnable("6.63 2.33 0.94 30/191 13562\n"), Some(29));
        assert_eq!(parse_runnable("0.00 0.00 0.00 1/80 7"), Some(0));
        assert_eq!(parse_runnable("0.00 0.00 0.00"), None);
        assert_eq!(parse_runnable("0.00 0.00 0.00 x/80 7"), None);
    }

    fn wait_until_exited(pid: u32) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !has_exited(pid) {
            assert!(Instant::now() < deadline, "{pid} never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The reaper takes exited children outside tempo's process group, but never a
    /// registered leader, whose status and rusage belong to the worker that waits.
    #[test]
    #[expect(clippy::zombie_processes, reason = "the stray is left for the reaper to take, which is the test")]
    fn the_reaper_takes_strays_and_leaves_leaders() {
        let (leader, guard) = spawn_leader(Command::new("sh").args(["-c", "exit 3"]).process_group(0)).unwrap();
        let stray = Command::new("sh").args(["-c", "exit 4"]).process_group(0).spawn().unwrap();
        wait_until_exited(leader.id());
        wait_until_exited(stray.id());
        assert!(reap_adopted() >= 1);
        assert!(!has_exited(stray.id()), "the stray was reaped");
        assert!(has_exited(leader.id()), "the leader is still there to be reaped");
        let (status, _) = reap(leader.id()).unwrap();
        assert_eq!(status, ExitStatus::Code(3));
        drop(guard);
    }
}
