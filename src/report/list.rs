//! Prints the test list for `cargo tempo list`.

use std::io::{self, Write};

use super::style::{Styles, escape_name};
use crate::options::ListFormat;
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
