//! Decides which test starts next and in which slot.
//!
//! The scheduler owns the queue of attempts still to run and the set of free slots.
//! The runner asks it for work whenever a slot frees up; fail-fast and signals cancel it.

use std::collections::VecDeque;

use crate::plan::TestRef;

/// A test attempt handed to a slot.
#[derive(Debug, Clone)]
pub struct Dispatch {
    /// The test.
    pub test: TestRef,
    /// The attempt number, 1-based.
    pub attempt: u32,
    /// The slot it runs in, 0-based; the lowest free one.
    pub slot: usize,
}

/// The queue of pending attempts and the slots they may use.
#[derive(Debug)]
pub struct Scheduler {
    pending: VecDeque<(TestRef, u32)>,
    slot_busy: Vec<bool>,
    running: usize,
    cancelled: bool,
}

impl Scheduler {
    /// A scheduler over `tests`, in the given order, with `slots` slots.
    pub fn new(tests: impl IntoIterator<Item = TestRef>, slots: usize) -> Scheduler {
        Scheduler {
            pending: tests.into_iter().map(|t| (t, 1)).collect(),
            slot_busy: vec![false; slots.max(1)],
            running: 0,
            cancelled: false,
        }
    }

    /// The next attempt to start, if a slot is free and the run goes on.
    pub fn next_dispatch(&mut self) -> Option<Dispatch> {
        if self.cancelled {
            return None;
        }
        let slot = self.slot_busy.iter().position(|busy| !busy)?;
        let (test, attempt) = self.pending.pop_front()?;
        self.slot_busy[slot] = true;
        self.running += 1;
        Some(Dispatch { test, attempt, slot })
    }

    /// Frees the slot of a finished attempt.
    pub fn finished(&mut self, slot: usize) {
        debug_assert!(self.slot_busy[slot]);
        self.slot_busy[slot] = false;
        self.running -= 1;
    }

    /// Queues another attempt of a test, ahead of tests not yet started.
    pub fn retry(&mut self, test: TestRef, attempt: u32) {
        self.pending.push_front((test, attempt));
    }

    /// Stops handing out work; running attempts finish.
    pub fn cancel(&mut self) {
        self.cancelled = true;
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Attempts running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Tests that were never started.
    pub fn not_started(&self) -> usize {
        self.pending.iter().filter(|(_, attempt)| *attempt == 1).count()
    }

    /// Whether nothing runs and nothing more will start.
    pub fn is_done(&self) -> bool {
        self.running == 0 && (self.cancelled || self.pending.is_empty())
    }
}
