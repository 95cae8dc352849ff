//! Everything tempo tells people and machines, driven by one stream of [`events::Event`]s.
//!
//! The runner knows nothing about terminals or file formats: it emits events, and each
//! reporter here turns them into its own output.

pub mod events;
pub mod grouped;
pub mod history;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod list;
pub mod partition;
pub mod progress;
pub mod show_config;
pub mod style;
pub mod terminal;

use std::io::{self, Write};
use std::path::Path;

use events::Event;

/// A consumer of the run's events. Reporters are called on the runner's coordinating
/// thread, in order, so they need no locking; they must not block for long.
pub trait Reporter {
    /// Handles one event.
    fn report(&mut self, event: &Event) -> io::Result<()>;
}

/// Sends every event to several reporters, in order.
#[derive(Default)]
pub struct Fanout {
    reporters: Vec<Box<dyn Reporter>>,
}

impl Fanout {
    /// Adds a reporter.
    pub fn push(&mut self, reporter: Box<dyn Reporter>) {
        self.reporters.push(reporter);
    }
}

impl Reporter for Fanout {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        for r in &mut self.reporters {
            r.report(event)?;
        }
        Ok(())
    }
}

/// A byte buffer that a reporter writes into and a wrapping reporter drains after each
/// event, to place the text: above the progress bar, or under its binary's heading.
/// Reporters all run on the coordinator's thread, so a `RefCell` is all it needs.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl SharedBuffer {
    /// Takes everything written so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes a file so that readers see either the old contents or the new, never half:
/// the bytes go to a temporary file in the same directory, which is then renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
