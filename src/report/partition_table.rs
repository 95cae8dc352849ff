//! Prints `cargo tempo partition --show N`, so that a CI's shards can be checked
//! before they run: every shard computes the same assignment from the same history.

use std::io::{self, Write};
use std::path::Path;

use crate::plan::partition::ShardView;

/// Writes each shard's test count, expected time and tests. A test whose expected
/// duration is a guess (it has no history of its own) is marked `~`.
pub fn write_partition(out: &mut impl Write, shards: &[ShardView], history: &Path) -> io::Result<()> {
    let total = shards.len();
    let tests: usize = shards.iter().map(|s| s.tests.len()).sum();
    let known: usize = shards.iter().flat_map(|s| &s.tests).filter(|t| t.expected_known).count();
    writeln!(
        out,
        "duration partition of {tests} tests into {total} shards, from {} ({known} tests with history)",
        history.display()
    )?;
    for (i, shard) in shards.iter().enumerate() {
        writeln!(
            out,
            "shard {}/{total}: {} tests, expected {:.3}s",
            i + 1,
            shard.tests.len(),
            shard.expected.as_secs_f64()
        )?;
        for t in &shard.tests {
            let mark = if t.expected_known { ' ' } else { '~' };
            let name = super::style::escape_name(&t.name);
            writeln!(out, "  {mark}{:>9.3}s {} {name}", t.expected.as_secs_f64(), t.binary_id())?;
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::fake;
    use crate::report::style::hostile;

    /// Regression: a test name's control characters reached the terminal raw.
    #[test]
    fn names_are_escaped() {
        let shards =
            crate::plan::partition::show(&[fake::timed(hostile::NAME, 5, false), fake::timed("b", 1, false)], 2);
        let mut out = Vec::new();
        write_partition(&mut out, &shards, Path::new("history.json")).unwrap();
        hostile::assert_escaped(&out);
    }
}
