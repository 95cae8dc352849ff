//! The Unix process calls tempo makes, kept behind one seam.
//!
//! Everything that touches process groups, signals, pidfds and rusage lives here, so
//! the rest of the runner speaks in terms of "the test's group" and "its usage".

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal};

use crate::report::events::{ExitStatus, ResourceUsage};

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
    let kill_at = super::deadline(std::time::Instant::now(), grace);
    let mut left = found.clone();
    // Zombies have an empty environ, so a process that died drops out of the marked set
    // whether or not anyone has reaped it yet.
    while !left.is_empty() && kill_at.is_none_or(|t| std::time::Instant::now() < t) {
        std::thread::sleep(Duration::from_millis(10));
        let alive = processes_marked(markers);
        left.retain(|p| alive.contains(p));
    }
    for pid in left {
        kill(pid, SIGKILL);
    }
    found.len()
}

/// Reaps exited orphans that were re-parented to tempo. Only call it when no worker
/// is waiting for a test, since it reaps any child.
pub fn reap_orphans() {
    while let Ok(Some(_)) = rustix::process::waitpid(None, rustix::process::WaitOptions::NOHANG) {}
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
