//! `--group-by-binary`: each binary's status lines printed together, under a heading,
//! once its last test has finished.
//!
//! With many slots the streaming lines of different binaries interleave, which is
//! what a person watching wants and what someone reading a CI log afterwards does
//! not. This reporter wraps the terminal reporter: that one writes into a
//! [`SharedBuffer`], and this one keeps what it wrote for each test under the test's
//! binary until that binary is done. Everything that is not about one test (the
//! `Starting` line, `Cancelling`, the summary) passes straight through.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use super::SharedBuffer;
use super::style::Styles;
use crate::events::Reporter;
use crate::events::{Event, TestFinished};
use crate::test_id::BinaryId;

/// What is known of one binary so far.
#[derive(Debug, Default)]
struct Group {
    planned: usize,
    finished: usize,
    passed: usize,
    failed: usize,
    /// Its tests' lines not printed yet.
    text: Vec<u8>,
    /// Whether its heading and lines have been printed.
    printed: bool,
}

/// Holds each binary's lines until its tests are done.
pub struct GroupedReporter<W: Write> {
    inner: Box<dyn Reporter>,
    pending: SharedBuffer,
    out: W,
    styles: Styles,
    groups: BTreeMap<BinaryId, Group>,
}

impl<W: Write> GroupedReporter<W> {
    /// Groups what `inner` writes to `pending` and prints it onto `out`.
    pub fn new(inner: Box<dyn Reporter>, pending: SharedBuffer, out: W, styles: Styles) -> Self {
        GroupedReporter { inner, pending, out, styles, groups: BTreeMap::new() }
    }

    fn plan(&mut self, tests: &[crate::plan::TestRef]) {
        let mut counts: HashMap<&BinaryId, usize> = HashMap::new();
        for t in tests {
            *counts.entry(t.binary_id()).or_default() += 1;
        }
        for (id, n) in counts {
            self.groups.entry(id.clone()).or_default().planned += n;
        }
    }

    /// Prints a binary's heading and lines, if it has any to show.
    fn print(&mut self, id: &BinaryId) -> io::Result<()> {
        let Some(group) = self.groups.get_mut(id) else { return Ok(()) };
        group.printed = true;
        if group.text.is_empty() {
            return Ok(());
        }
        let (h, b) = (self.styles.heading, self.styles.binary);
        let of = if group.finished < group.planned {
            format!("{} of {}", group.finished, group.planned)
        } else {
            group.finished.to_string()
        };
        let tests = if group.planned == 1 { "test" } else { "tests" };
        writeln!(
            self.out,
            "{h}{:>12}{h:#} {b}{id}{b:#}: {of} {tests}, {} passed, {} failed",
            "Binary", group.passed, group.failed
        )?;
        self.out.write_all(&std::mem::take(&mut group.text))
    }

    /// Files one test's text under its binary; a final result may complete the binary.
    fn test_text(&mut self, f: Option<&TestFinished>, id: &BinaryId, text: Vec<u8>) -> io::Result<()> {
        let group = self.groups.entry(id.clone()).or_default();
        group.text.extend_from_slice(&text);
        let Some(f) = f else { return Ok(()) };
        group.finished += 1;
        if f.result.outcome.is_success() {
            group.passed += 1;
        } else {
            group.failed += 1;
        }
        if group.finished >= group.planned && !group.printed {
            self.print(id)?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for GroupedReporter<W> {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        let result = self.inner.report(event);
        let text = self.pending.take();
        match event {
            Event::RunStarted(info) => self.plan(&info.planned),
            Event::TestsAdded { planned, .. } => self.plan(planned),
            _ => {}
        }
        match event {
            Event::TestSlow { test, .. } => self.test_text(None, test.binary_id(), text)?,
            Event::TestFinished(f) => {
                let last = (!f.will_retry).then_some(&**f);
                self.test_text(last, f.test.binary_id(), text)?;
            }
            Event::RetryAbandoned(f) => {
                // Its failed attempt was filed with `will_retry` set; this settles it.
                self.test_text(Some(f), f.test.binary_id(), text)?;
            }
            Event::RunFinished(_) => {
                // Binaries the run stopped before finishing, in binary id order.
                let left: Vec<BinaryId> =
                    self.groups.iter().filter(|(_, g)| !g.printed).map(|(id, _)| id.clone()).collect();
                for id in left {
                    self.print(&id)?;
                }
                self.out.write_all(&text)?;
            }
            _ => self.out.write_all(&text)?,
        }
        self.out.flush()?;
        result
    }
}
