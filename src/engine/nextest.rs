//! Runs through `cargo nextest run`, for the teams that stay on nextest and want
//! `flaky` and `tune` to measure the runner they actually use.
//!
//! Each run's outcomes are read back from nextest's JUnit report, the one stable
//! machine-readable output nextest has: `--message-format libtest-json` is still
//! experimental (it needs `NEXTEST_EXPERIMENTAL_LIBTEST_JSON=1` and may change), and
//! the human status lines change between releases. nextest has no flag for a JUnit
//! path, so tempo copies the config file in use (keeping everything else it says),
//! sets `junit.path` of the chosen profile to an absolute path in a temporary
//! directory with toml_edit, and passes the copy with `--config-file`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use quick_junit::{Report, TestCaseStatus};
use toml_edit::{DocumentMut, Item, Table, value};

use crate::build;
use crate::build::CargoOptions;
use crate::config::ConfigOptions;
use crate::error::{Error, Result};
use crate::flaky::Tallies;
use crate::plan::selection::{NameFilter, RunIgnored, Selection};

/// The arguments that select and build the tests, in `cargo nextest run`'s spelling
/// (also used by `tune --engine nextest`).
pub(crate) fn nextest_args(
    cargo: &CargoOptions,
    profile: &str,
    filter: &Selection,
    config: &Path,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["nextest".into(), "run".into(), "--config-file".into(), config.into()];
    args.extend(["--profile".into(), profile.into()]);
    // tempo renders the cargo options for `cargo test`; two of them are spelt
    // differently by nextest.
    for a in &cargo.args {
        match a.to_str() {
            Some("--profile") => args.push("--cargo-profile".into()),
            Some("-v") => args.push("--cargo-verbose".into()),
            _ => args.push(a.clone()),
        }
    }
    for expr in &filter.filtersets {
        args.extend(["-E".into(), expr.into()]);
    }
    if filter.ignore_default_filter {
        args.push("--ignore-default-filter".into());
    }
    match filter.names.run_ignored {
        RunIgnored::Default => {}
        RunIgnored::Only => args.extend(["--run-ignored".into(), "only".into()]),
        RunIgnored::All => args.extend(["--run-ignored".into(), "all".into()]),
    }
    args
}

/// The name filters, as `cargo nextest run` takes them (last on its command line).
pub(crate) fn name_args(names: &NameFilter) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    // libtest's `--exact` and `--skip` go after `--`, where nextest emulates them.
    if names.exact || !names.skip.is_empty() {
        args.push("--".into());
        args.extend(names.patterns.iter().map(Into::into));
        if names.exact {
            args.push("--exact".into());
        }
        for s in &names.skip {
            args.extend(["--skip".into(), s.into()]);
        }
    } else {
        args.extend(names.patterns.iter().map(Into::into));
    }
    args
}

/// The config file nextest would read: `--config-file`, else `.config/nextest.toml`.
pub(crate) fn nextest_config(config: &ConfigOptions, root: &Path) -> PathBuf {
    config.config_file.clone().unwrap_or_else(|| root.join(".config/nextest.toml"))
}

/// The config text with the profile's JUnit report sent to `junit`, without test output.
pub(crate) fn with_junit(text: &str, profile: &str, junit: &Path) -> std::result::Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let implicit = || {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    };
    let profiles = doc.entry("profile").or_insert_with(implicit);
    let this = profiles.as_table_like_mut().ok_or("`profile` is not a table")?.entry(profile).or_insert(implicit());
    let this = this.as_table_like_mut().ok_or_else(|| format!("`profile.{profile}` is not a table"))?;
    let junit_table = this.entry("junit").or_insert(Item::Table(Table::new()));
    let junit_table =
        junit_table.as_table_like_mut().ok_or_else(|| format!("`profile.{profile}.junit` is not a table"))?;
    junit_table.insert("path", value(junit.to_string_lossy().as_ref()));
    junit_table.insert("store-success-output", value(false));
    junit_table.insert("store-failure-output", value(false));
    Ok(doc.to_string())
}

/// Adds one run's JUnit report to the tally.
pub(crate) fn read_report(path: &Path, tallies: &mut Tallies) -> Result<(usize, usize)> {
    let report_error = |reason: String| Error::NextestReport { path: path.to_owned(), reason };
    let xml = std::fs::read_to_string(path).map_err(|e| report_error(e.to_string()))?;
    let report = Report::deserialize_from_str(&xml).map_err(|e| report_error(e.to_string()))?;
    let (mut passed, mut failed) = (0, 0);
    for suite in &report.test_suites {
        for case in &suite.test_cases {
            let failure = match &case.status {
                TestCaseStatus::Success { .. } => false,
                TestCaseStatus::NonSuccess { .. } => true,
                TestCaseStatus::Skipped { .. } => continue,
            };
            let tally = tallies.entry((suite.name.to_string(), case.name.to_string())).or_default();
            tally.runs += 1;
            tally.failures += u32::from(failure);
            if failure { failed += 1 } else { passed += 1 }
        }
    }
    Ok((passed, failed))
}

pub(crate) fn nextest_failed(status: std::process::ExitStatus, stderr: &[u8]) -> Error {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Error::Nextest { status: status.to_string(), stderr: tail }
}

/// What repeated `cargo nextest run`s share: the workspace root, the config file in
/// use, a temporary copy of it whose profile writes JUnit to `junit`, and the
/// arguments that run with that copy. The temporary directory goes with `tmp`.
pub(crate) struct NextestRuns {
    /// The workspace root.
    pub root: PathBuf,
    /// The config file in use (it may not exist).
    pub config_file: PathBuf,
    /// `nextest run --config-file COPY --profile P` and the cargo options.
    pub base: Vec<std::ffi::OsString>,
    /// Where each run's JUnit report goes.
    pub junit: PathBuf,
    /// The temporary directory, for other scratch files.
    pub dir: PathBuf,
    /// Removes the temporary directory when dropped.
    pub tmp: RemoveOnDrop,
}

/// Copies the config with JUnit on (`tag` names the temporary directory), then builds
/// once with `cargo nextest run --no-run`, cargo's messages on stderr as usual.
pub(crate) fn prepare_runs(
    cargo: &crate::build::CargoOptions,
    config: &ConfigOptions,
    filter: &crate::plan::selection::Selection,
    tag: &str,
) -> Result<NextestRuns> {
    let workspace = build::workspace(cargo)?;
    let root = workspace.root;
    let config_file = nextest_config(config, &root);
    let text = match std::fs::read_to_string(&config_file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.config_file.is_none() => String::new(),
        Err(e) => return Err(crate::config::ConfigError::Read { path: config_file.clone(), source: e }.into()),
    };
    let tmp = scratch_dir(tag)?;
    let dir = tmp.path().to_owned();
    let junit = dir.join("junit.xml");
    let tmp_config = dir.join("nextest.toml");
    let edited = with_junit(&text, &config.profile, &junit)
        .map_err(|reason| Error::EditConfig { path: config_file.clone(), reason })?;
    std::fs::write(&tmp_config, edited).map_err(|source| Error::WriteFile { path: tmp_config.clone(), source })?;

    let base = nextest_args(cargo, &config.profile, filter, &tmp_config);
    let built = Command::new(build::cargo_program())
        .args(&base)
        .arg("--no-run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|source| Error::CargoNotFound { program: "cargo nextest".into(), source })?;
    if !built.success() {
        return Err(Error::Nextest { status: built.to_string(), stderr: "see its messages above".into() });
    }
    Ok(NextestRuns { root, config_file, base, junit, dir, tmp })
}

/// tempo's store directory: `TEMPO_STORE_DIR`, else the config's `[store] dir` when
/// tempo can read the config, else the default.
pub(crate) fn store_dir(config: &ConfigOptions, root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("TEMPO_STORE_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    crate::config::Config::load(root, config.config_file.as_deref())
        .and_then(|c| c.profile(&config.profile))
        .map_or_else(|_| crate::config::Profile::builtin("default").store_dir, |p| p.store_dir)
}

/// Removes the temporary directory however the run ends.
pub(crate) type RemoveOnDrop = tempfile::TempDir;

/// A fresh private directory for the copied config, the reports and the logs, named
/// `tempo-{tag}-` and random letters under the temporary directory. It is made with
/// mkdtemp(3) semantics (a new name, mode 0700), so a directory or symlink that
/// someone else created at a name tempo would have used is never entered: with the
/// old `tempo-{tag}-{pid}` name, such a directory let its owner swap the config that
/// `cargo nextest run` reads.
pub(crate) fn scratch_dir(tag: &str) -> Result<RemoveOnDrop> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(&format!("tempo-{tag}-"))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(|source| Error::WriteFile { path: std::env::temp_dir(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the directory was `/tmp/tempo-{tag}-{pid}`, and one that another
    /// user had created at that name was used as it was.
    #[test]
    fn the_scratch_dir_is_fresh_and_private_even_when_its_old_name_is_taken() {
        use std::os::unix::fs::PermissionsExt;
        let planted = std::env::temp_dir().join(format!("tempo-hostile-{}", std::process::id()));
        std::fs::create_dir_all(&planted).unwrap();
        std::fs::write(planted.join("nextest.toml"), "planted").unwrap();
        let dir = scratch_dir("hostile").unwrap();
        let path = dir.path().to_owned();
        assert_ne!(path, planted, "the planted directory is not used");
        assert!(path.file_name().unwrap().to_str().unwrap().starts_with("tempo-hostile-"));
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0, "it is new and empty");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        drop(dir);
        assert!(!path.exists(), "it is removed when dropped");
        assert_eq!(std::fs::read_to_string(planted.join("nextest.toml")).unwrap(), "planted");
        std::fs::remove_dir_all(&planted).unwrap();
    }

    #[test]
    fn the_junit_path_goes_into_the_chosen_profile_and_keeps_the_rest() {
        let text = "# ours\n[profile.ci]\nretries = 2\n[profile.ci.junit]\npath = \"mine.xml\"\n";
        let out = with_junit(text, "ci", Path::new("/tmp/x/junit.xml")).unwrap();
        assert!(out.starts_with("# ours\n[profile.ci]\nretries = 2\n"), "{out}");
        assert!(out.contains("path = \"/tmp/x/junit.xml\""), "{out}");
        assert!(!out.contains("mine.xml"), "{out}");
        let fresh = with_junit("", "default", Path::new("/j.xml")).unwrap();
        assert!(fresh.contains("[profile.default.junit]\npath = \"/j.xml\""), "{fresh}");
    }
}
