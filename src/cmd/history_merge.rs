//! `cargo tempo history-merge OUT IN...`: joins the histories of a CI matrix's
//! shards into one file, and says what it holds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Result, exit_code};

/// `cargo tempo history-merge`.
pub fn history_merge(output: &Path, inputs: &[PathBuf]) -> Result<i32> {
    let merged = crate::history::merge::merge_files(output, inputs)?;
    let tests: usize = merged.tests.values().map(BTreeMap::len).sum();
    eprintln!(
        "merged {} histories into {}: {tests} tests, {} run summaries",
        inputs.len(),
        output.display(),
        merged.runs.len()
    );
    Ok(exit_code::OK)
}
