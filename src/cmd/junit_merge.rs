//! `cargo tempo junit-merge`: joins the JUnit files of a CI matrix's shards into one
//! and says what it holds.

use crate::error::{Error, Result, exit_code};
use crate::junit_merge::{JunitMergeOptions, merge, read};

/// `cargo tempo junit-merge OUT IN...`.
pub fn junit_merge(opts: JunitMergeOptions) -> Result<i32> {
    let reports = opts.inputs.iter().map(|p| read(p)).collect::<Result<Vec<_>>>()?;
    let merged = merge(reports, opts.name.as_deref());
    let xml = merged
        .to_string()
        .map_err(|e| Error::WriteFile { path: opts.output.clone(), source: std::io::Error::other(e) })?;
    crate::files::write_atomically(&opts.output, xml.as_bytes())
        .map_err(|source| Error::WriteFile { path: opts.output.clone(), source })?;
    eprintln!(
        "merged {} JUnit files into {}: {} tests, {} failures, {} errors, {} skipped",
        opts.inputs.len(),
        opts.output.display(),
        merged.tests,
        merged.failures,
        merged.errors,
        merged.skipped
    );
    Ok(exit_code::OK)
}
