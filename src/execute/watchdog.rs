//! Makes the tests die with tempo, even when tempo is killed with SIGKILL.
//!
//! `PR_SET_PDEATHSIG` would do this per test, but setting it needs code between fork
//! and exec, which stops std from spawning with `posix_spawn` (vfork): that made every
//! spawn slower, and the 1,000-trivial-tests run 12% slower on the 2-core reference
//! machine. Instead, each run starts one watchdog: tempo itself, re-executed once, in a
//! process group of its own, holding the read end of a pipe whose write end only
//! tempo has. When tempo dies, however it dies, the pipe closes, and the watchdog
//! ends every process that carries the run's `TEMPO_RUN_ID`, wherever it went. When
//! the run ends normally, tempo stops the watchdog itself.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::unix;

/// The hidden subcommand that runs the watchdog.
pub const SUBCOMMAND: &str = "__watchdog";

/// A running watchdog; dropping it stops the watchdog without a sweep.
pub struct Watchdog {
    child: Option<Child>,
    /// Keeps the orphan reaper off the watchdog, which `Drop` waits for.
    _leader: Option<unix::Leader>,
}

impl Watchdog {
    /// Starts a watchdog for the run `run_id`. A failure to start one is not fatal:
    /// the run goes on without the protection.
    pub fn start(run_id: &str) -> Watchdog {
        use std::os::unix::process::CommandExt;
        let spawned = std::env::current_exe().ok().and_then(|exe| {
            unix::spawn_leader(
                Command::new(exe)
                    .args(["tempo", SUBCOMMAND, run_id])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    // Out of tempo's process group, so that a signal to tempo's group
                    // (Ctrl-C, a CI job's timeout) does not take the watchdog along.
                    .process_group(0),
            )
            .ok()
        });
        let (child, leader) = spawned.unzip();
        Watchdog { child, _leader: leader }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The watchdog's body: waits for its stdin to close, then ends the run's processes.
pub fn watch(run_id: &str) -> i32 {
    // Terminal signals are meant for tempo, which forwards them; the watchdog outlives them.
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: installing SIG_IGN for a standard signal has no preconditions.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    // Read until end of file: tempo never writes, so this returns when tempo is gone.
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    unix::sweep(&[format!("TEMPO_RUN_ID={run_id}")], Duration::from_secs(2));
    0
}
