//! Prints the test list for `cargo tempo list`.

use std::io::{self, Write};

use super::style::{Styles, escape_name};
use crate::plan::TestPlan;

/// Writes the planned tests in the requested format.
pub fn write_list(out: &mut impl Write, plan: &TestPlan, format: ListFormat, styles: &Styles) -> io::Result<()> {
    match format {
        ListFormat::Oneline => {
            for t in &plan.tests {
                writeln!(out, "{} {}", t.binary_id(), escape_name(&t.name))?;
            }
        }
        ListFormat::Human => {
            let mut current = None;
            for t in &plan.tests {
                if current != Some(t.binary_id()) {
                    current = Some(t.binary_id());
                    writeln!(out, "{}{}{:#}:", styles.binary, t.binary_id(), styles.binary)?;
                }
                let ignored = if t.ignored { " (ignored)" } else { "" };
                writeln!(out, "    {}{ignored}", escape_name(&t.name))?;
            }
        }
    }
    out.flush()
}

/// How `cargo tempo list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// Grouped by binary.
    Human,
    /// `<binary-id> <test-name>` per line.
    Oneline,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fake;
    use crate::report::style::hostile;

    /// Regression: a test name's control characters reached the terminal raw.
    #[test]
    fn names_are_escaped_in_every_format() {
        let plan = TestPlan { tests: vec![fake::test(hostile::NAME, |_| {})], ..TestPlan::default() };
        for format in [ListFormat::Oneline, ListFormat::Human] {
            let mut out = Vec::new();
            write_list(&mut out, &plan, format, &Styles::default()).unwrap();
            hostile::assert_escaped(&out);
        }
    }
}
