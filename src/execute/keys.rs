//! The `t` key: someone watching a run at a terminal asks what is running now.
//!
//! A terminal delivers input a line at a time and echoes it (canonical mode), so a
//! single key press reaches no program until Enter. While a run lasts, stdin is put in
//! non-canonical mode without echo, and a thread polls it for `t`. `ISIG` stays on, so
//! Ctrl-C still raises SIGINT, which the run handles gracefully; the old mode is put
//! back when the run ends, whether it finished, failed or was interrupted.
//!
//! Only a process in the terminal's foreground process group may change its mode or
//! read it: a background job would be stopped by SIGTTOU or SIGTTIN (POSIX, "General
//! Terminal Interface", 11.1.4). So nothing happens unless tempo is in the foreground.

use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex, Termios};

/// How often the reader wakes to see whether the run is over.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Reads keys from stdin for as long as it lives; dropping it restores the terminal.
pub struct KeyReader {
    saved: Termios,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn stdin() -> BorrowedFd<'static> {
    rustix::stdio::stdin()
}

impl KeyReader {
    /// Starts reading when stdin is a terminal and tempo is in its foreground; `on_info`
    /// runs on the reader's thread each time `t` is pressed. `None` when keys cannot
    /// be read.
    pub fn start(on_info: impl Fn() + Send + 'static) -> Option<KeyReader> {
        let fd = stdin();
        if !termios::isatty(fd) {
            return None;
        }
        let foreground = termios::tcgetpgrp(fd).ok()? == rustix::process::getpgrp();
        if !foreground {
            return None;
        }
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.local_modes.remove(LocalModes::ICANON | LocalModes::ECHO);
        raw.special_codes[SpecialCodeIndex::VMIN] = 1;
        raw.special_codes[SpecialCodeIndex::VTIME] = 0;
        termios::tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || read_keys(&stop, on_info))
        };
        Some(KeyReader { saved, stop, thread: Some(thread) })
    }
}

fn read_keys(stop: &AtomicBool, on_info: impl Fn()) {
    let fd = stdin();
    let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: POLL_INTERVAL.as_nanos() as i64 };
    while !stop.load(Ordering::Relaxed) {
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(_) => return,
        }
        let mut buf = [0u8; 64];
        match rustix::io::read(fd, &mut buf) {
            // End of input (the terminal hung up): nothing more will come.
            Ok(0) => return,
            Ok(n) => {
                if buf[..n].iter().any(|b| matches!(b, b't' | b'T')) {
                    on_info();
                }
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
            Err(_) => return,
        }
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // TCSADRAIN: apply once pending output is written, so nothing tempo printed
        // last is read back under the old mode's line discipline.
        let _ = termios::tcsetattr(stdin(), OptionalActions::Drain, &self.saved);
    }
}
