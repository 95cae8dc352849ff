//! Everything tempo tells people and machines, driven by one stream of [`crate::events::Event`]s.
//!
//! The runner knows nothing about terminals or file formats: it emits events, and each
//! reporter here turns them into its own output.

pub mod budget_check;
pub mod grouped;
pub mod history_record;
pub mod history_table;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod list;
pub mod no_tests;
pub mod partition_table;
pub mod progress;
pub mod show_config;
pub mod style;
pub mod terminal;

use std::io::{self, Write};

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
