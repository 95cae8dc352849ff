//! Every way tempo can fail before or around a test run, each with one documented exit code.
//!
//! Test failures are not errors: they are outcomes, reported through events, and they
//! map to [`exit_code::TEST_RUN_FAILED`] at the very end. What lives here is what stops
//! tempo from producing a trustworthy run at all.

use std::io;
use std::path::PathBuf;

use crate::limits::MAX_SIZE_ENV;

/// The process exit codes tempo uses. Where cargo-nextest has a code for the same
/// situation, tempo uses the same number so that CI scripts keep working.
pub mod exit_code {
    /// Every selected test passed.
    pub const OK: i32 = 0;
    /// Arguments could not be parsed (clap's convention).
    pub const USAGE: i32 = 2;
    /// No test was run, because the filters matched nothing (nextest: `NO_TESTS_RUN`).
    pub const NO_TESTS_RUN: i32 = 4;
    /// A filter expression could not be parsed (nextest: `INVALID_FILTERSET`).
    pub const INVALID_FILTER: i32 = 94;
    /// The environment or tempo's own set-up is broken: cargo is missing, the manifest
    /// does not exist (nextest: `SETUP_ERROR`).
    pub const SETUP_ERROR: i32 = 96;
    /// The config file is broken, or names a profile that does not exist. nextest reports
    /// these as setup errors too; tempo keeps them apart so that CI can tell them from a
    /// broken machine.
    pub const CONFIG_ERROR: i32 = 97;
    /// At least one test failed, timed out or crashed (nextest: `TEST_RUN_FAILED`). `cargo
    /// tempo tune` also exits with it when a run of its sweep had failing tests, since it
    /// stops there: a failing suite's timings measure the failure, not the thread count.
    pub const TEST_RUN_FAILED: i32 = 100;
    /// Cargo failed to build the test binaries (nextest: `BUILD_FAILED`).
    pub const BUILD_FAILED: i32 = 101;
    /// `cargo tempo archive` could not write the archive (nextest: `ARCHIVE_CREATION_FAILED`).
    /// An archive that cannot be read or extracted for `run` or `list` is a
    /// [`SETUP_ERROR`], as in nextest.
    pub const ARCHIVE_CREATION_FAILED: i32 = 103;
    /// A test binary could not list its tests (nextest: `TEST_LIST_CREATION_FAILED`).
    pub const TEST_LIST_FAILED: i32 = 104;
    /// Every test passed, but the run missed a target of the profile's `budget` (with
    /// `enforce = "fail"`). A test failure beats it: such a run exits 100. nextest has
    /// no budgets; 107 is a code it does not use (its 105 means a setup script failed).
    pub const BUDGET_MISSED: i32 = 107;
    /// `cargo tempo flaky` found a test that failed in some runs (flaky) or in all of
    /// them (broken). nextest does not use 108.
    pub const FLAKY_TESTS_FOUND: i32 = 108;
    /// `cargo tempo junit-merge` or `cargo tempo history-merge` could not read or
    /// parse one of its input files. nextest has no such commands; it does not use
    /// 109. (Writing the merged file fails with [`WRITE_OUTPUT_ERROR`].)
    pub const MERGE_INPUT_INVALID: i32 = 109;
    /// Writing tempo's own output failed (nextest: `WRITE_OUTPUT_ERROR`): stdout, or a
    /// file such as the history, the JUnit or HTML report. A run whose file could not
    /// be written still writes its other outputs and exits 110 at the end; failing
    /// tests (100) and a signal beat it, a missed budget (107) does not.
    pub const WRITE_OUTPUT_ERROR: i32 = 110;
    /// A thread of tempo panicked: a bug in tempo; please report it. The tests still
    /// running were stopped and, where the run had started, its summary and reports
    /// written first. It beats every other outcome of the run. nextest does not use 111.
    pub const INTERNAL_ERROR: i32 = 111;
    /// The run was interrupted by SIGINT (128 + 2).
    pub const INTERRUPTED: i32 = 130;
    /// The run was stopped by SIGTERM (128 + 15).
    pub const TERMINATED: i32 = 143;
}

/// An error that ends a tempo invocation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cargo itself could not be started.
    #[error("failed to run `{program}`: {source}; is cargo installed and on PATH?")]
    CargoNotFound {
        /// The program tempo tried to start.
        program: String,
        /// Why starting it failed.
        source: std::io::Error,
    },

    /// The manifest path given on the command line does not exist.
    #[error("failed to find the manifest `{0}`: no such file; pass the path of a Cargo.toml with --manifest-path")]
    ManifestNotFound(PathBuf),

    /// `cargo metadata` failed.
    #[error("failed to read the workspace metadata: {0}")]
    Metadata(String),

    /// `cargo test --no-run` failed.
    #[error("failed to build the test binaries (cargo exited with {status}); see cargo's messages above")]
    BuildFailed {
        /// Cargo's exit status, as text.
        status: String,
    },

    /// Cargo's JSON message stream could not be read.
    #[error("failed to read cargo's build messages: {0}")]
    BuildMessages(#[source] std::io::Error),

    /// A test binary could not list its tests.
    #[error("failed to list the tests of `{binary_id}` ({path}): {reason}\n{stderr}")]
    ListFailed {
        /// The binary's id.
        binary_id: String,
        /// Its path on disk.
        path: PathBuf,
        /// What went wrong, in a few words.
        reason: String,
        /// What the binary printed on stderr, if anything.
        stderr: String,
    },

    /// Writing to stdout or stderr failed.
    #[error("failed to write output: {0}")]
    Output(#[source] std::io::Error),

    /// A filter expression is malformed or names no package; the message is already
    /// rendered with a caret under the place it went wrong.
    #[error("{0}")]
    Filter(String),

    /// The config file is broken or names something that does not exist.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),

    /// `cargo nextest run` could not run the tests (`flaky` or `tune` with `--engine nextest`).
    #[error("failed to run the tests with `cargo nextest run` ({status}); is cargo-nextest installed?\n{stderr}")]
    Nextest {
        /// Its exit status, as text.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },

    /// nextest's JUnit report could not be read back (`flaky` or `tune` with `--engine nextest`).
    #[error("failed to read nextest's JUnit report `{}`: {reason}", path.display())]
    NextestReport {
        /// The report.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// A report or config file could not be written.
    #[error("failed to write `{}`: {source}", path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A run's report, JUnit file or history could not be written. The run's other
    /// outputs are still written, and this is reported once the run is over.
    #[error(transparent)]
    Write(#[from] crate::files::WriteError),

    /// `cargo tempo archive`, or reading an archive for `run` and `list`, failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),

    /// `--doc` was given with `--archive-file`.
    #[error(
        "failed to run doctests from an archive: an archive holds built test binaries, and doctests are compiled when they run; drop --doc, or run the doctests with `cargo tempo run --doc` where the source is built"
    )]
    ArchiveDoctests,

    /// `cargo tempo junit-merge` could not read one of its inputs.
    #[error("failed to read the JUnit file `{}`: {reason}; junit-merge reads JUnit XML as tempo and nextest write it", path.display())]
    JunitInput {
        /// The input file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// `cargo tempo history-merge` could not read one of its inputs.
    #[error("failed to read the history `{}`: {reason}; history-merge reads the `history.json` files that tempo writes under its store directory", path.display())]
    HistoryInput {
        /// The input file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },

    /// A thread of tempo panicked. The run it was part of was stopped, its tests ended
    /// and its reports written.
    #[error(
        "failed to finish: tempo's thread `{thread}` panicked ({message}); this is a bug in tempo, please report it with the output above"
    )]
    Bug {
        /// The thread's name.
        thread: String,
        /// What the panic said.
        message: String,
    },

    /// `flaky --write` could not add its overrides to the config file.
    #[error("failed to add the suggested overrides to `{}`: {reason}; fix the file or add them by hand", path.display())]
    EditConfig {
        /// The config file.
        path: PathBuf,
        /// What stopped it.
        reason: String,
    },

    /// `tune --write` could not set `test-threads` in the config file.
    #[error("failed to set test-threads in `{}`: {reason}; fix the file or set test-threads there by hand", path.display())]
    EditThreads {
        /// The config file.
        path: PathBuf,
        /// What stopped it.
        reason: String,
    },
}

impl Error {
    /// The exit code this error ends tempo with.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BuildFailed { .. } => exit_code::BUILD_FAILED,
            Error::Bug { .. } => exit_code::INTERNAL_ERROR,
            Error::ListFailed { .. } => exit_code::TEST_LIST_FAILED,
            Error::Output(_) => exit_code::WRITE_OUTPUT_ERROR,
            Error::Config(_) | Error::EditConfig { .. } | Error::EditThreads { .. } => exit_code::CONFIG_ERROR,
            Error::WriteFile { .. } | Error::Write(_) => exit_code::WRITE_OUTPUT_ERROR,
            Error::Nextest { .. } | Error::NextestReport { .. } => exit_code::SETUP_ERROR,
            Error::Filter(_) => exit_code::INVALID_FILTER,
            Error::Archive(e) if e.while_creating() => exit_code::ARCHIVE_CREATION_FAILED,
            Error::Archive(_) | Error::ArchiveDoctests => exit_code::SETUP_ERROR,
            Error::JunitInput { .. } | Error::HistoryInput { .. } => exit_code::MERGE_INPUT_INVALID,
            Error::CargoNotFound { .. } | Error::ManifestNotFound(_) | Error::Metadata(_) | Error::BuildMessages(_) => {
                exit_code::SETUP_ERROR
            }
        }
    }
}

/// A tempo result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while making or reading an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The archive file could not be written.
    #[error("failed to write the archive `{}`: {source}", path.display())]
    Write {
        /// The archive.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A build output could not be added.
    #[error("failed to add `{}` to the archive: {source}", path.display())]
    Add {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A build output lies outside the target directory, so no relative path names it.
    #[error(
        "failed to archive `{}`: it is outside the target directory `{}`, and an archive holds only build outputs",
        path.display(),
        target_dir.display()
    )]
    OutsideTarget {
        /// The file.
        path: PathBuf,
        /// The target directory.
        target_dir: PathBuf,
    },
    /// A package lies outside the workspace root, so `--workspace-remap` could not place it.
    #[error(
        "failed to archive package `{name}`: its manifest `{}` is outside the workspace root `{}`, so --workspace-remap could not place it; move the package under the workspace root",
        manifest.display(),
        root.display()
    )]
    OutsideWorkspace {
        /// The package.
        name: String,
        /// Its manifest.
        manifest: PathBuf,
        /// The workspace root.
        root: PathBuf,
    },
    /// The archive could not be opened, decompressed or unpacked.
    #[error("failed to extract the archive `{}` into `{}`: {source}", path.display(), dest.display())]
    Extract {
        /// The archive.
        path: PathBuf,
        /// Where it was being extracted.
        dest: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The archive is damaged: its zstd frame, content checksum or tar stream is broken.
    #[error(
        "failed to extract the archive `{}`: it is damaged or is no archive of tempo, at {entry}: {source}; copy it again, or make it again with `cargo tempo archive`",
        path.display()
    )]
    Damaged {
        /// The archive.
        path: PathBuf,
        /// Where: the entry being read, its start or its end.
        entry: String,
        /// What the decoder or the tar reader found.
        source: io::Error,
    },
    /// An entry or a manifest path would escape, or is of a kind an archive never holds.
    #[error(
        "failed to extract `{entry}` from the archive `{}`: {reason}; the archive was not made by `cargo tempo archive`, make it again",
        path.display()
    )]
    BadEntry {
        /// The archive.
        path: PathBuf,
        /// The entry's path in the archive (or the manifest's name, for its paths).
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A file differs from what the manifest records, or is missing.
    #[error(
        "failed to verify `{entry}` in the archive `{}`: {reason}; the archive is damaged, copy it again or make it again with `cargo tempo archive`",
        path.display()
    )]
    Mismatch {
        /// The archive.
        path: PathBuf,
        /// The file's path in the archive.
        entry: String,
        /// What differs.
        reason: String,
    },
    /// The archive unpacks to more than the cap.
    #[error(
        "failed to extract the archive `{}`: it unpacks to more than {limit} bytes, reached at {entry}; if it is trusted, raise the cap with {MAX_SIZE_ENV}=SIZE (bytes, or with a K, M, G or T suffix)",
        path.display()
    )]
    TooLarge {
        /// The archive.
        path: PathBuf,
        /// The entry that went over.
        entry: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The size cap's variable could not be read.
    #[error(
        "failed to read {MAX_SIZE_ENV}=`{value}`: expected a size in bytes, optionally with a K, M, G or T suffix (powers of 1024), such as 64G"
    )]
    BadMaxSize {
        /// The variable's value.
        value: String,
    },
    /// `--extract-to` would overwrite a file.
    #[error(
        "failed to extract the archive `{}`: `{}` already exists; pass --extract-overwrite to replace the files the archive holds, or extract into an empty directory",
        path.display(),
        file.display()
    )]
    Exists {
        /// The archive.
        path: PathBuf,
        /// The existing file.
        file: PathBuf,
    },
    /// `--extract-to` finds a directory where the archive has a file.
    #[error(
        "failed to extract the archive `{}`: `{}` is a directory where the archive has a file; remove it, or extract elsewhere",
        path.display(),
        dir.display()
    )]
    InTheWay {
        /// The archive.
        path: PathBuf,
        /// The directory.
        dir: PathBuf,
    },
    /// The archive's metadata is missing or malformed.
    #[error("failed to read the archive `{}`: {reason}; make it with `cargo tempo archive`", path.display())]
    Metadata {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The archive was made by a tempo with another layout.
    #[error(
        "failed to read the archive `{}`: it has format version {found}, and this tempo reads version {expected}; make it again with `cargo tempo archive` from this tempo",
        path.display()
    )]
    Version {
        /// The archive.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this tempo reads.
        expected: u32,
    },
    /// The workspace the tests should run in does not exist here.
    #[error(
        "failed to find the workspace the archived tests run in: `{}` is not a directory; pass --workspace-remap DIR with a checkout of the source the archive was built from",
        dir.display()
    )]
    NoWorkspace {
        /// The directory.
        dir: PathBuf,
    },
    /// A package with archived tests is missing from the remapped workspace.
    #[error(
        "failed to find package `{name}` in the workspace: `{}` does not exist; --workspace-remap must point at a checkout of the source the archive was built from",
        dir.display()
    )]
    MissingPackage {
        /// The package.
        name: String,
        /// The directory it should be in.
        dir: PathBuf,
    },
}

impl ArchiveError {
    /// Whether this happened while making an archive (exit 103) rather than while
    /// reading one (a setup error, 96), as nextest tells the two apart.
    pub fn while_creating(&self) -> bool {
        matches!(
            self,
            ArchiveError::Write { .. }
                | ArchiveError::Add { .. }
                | ArchiveError::OutsideTarget { .. }
                | ArchiveError::OutsideWorkspace { .. }
        )
    }
}
