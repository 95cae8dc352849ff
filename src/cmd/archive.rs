//! `cargo tempo archive`: builds the tests and packs what cargo built, for
//! `run --archive-file` on other machines, and says what it packed.

use crate::archive::ArchiveOptions;
use crate::error::{Result, exit_code};

/// `cargo tempo archive`.
pub fn archive(opts: ArchiveOptions) -> Result<i32> {
    let created = crate::archive::create(&opts)?;
    let size = std::fs::metadata(&opts.archive_file).map_or(0, |m| m.len());
    eprintln!(
        "archived {} test binaries and {} other build outputs into {} ({:.1} MiB)",
        created.binaries,
        created.others,
        opts.archive_file.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    Ok(exit_code::OK)
}
