//! Everything tempo tells people and machines, driven by one stream of [`events::Event`]s.
//!
//! The runner knows nothing about terminals or file formats: it emits events, and each
//! reporter here turns them into its own output.

pub mod events;
pub mod human;
pub mod list;
pub mod style;

use std::io;

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
