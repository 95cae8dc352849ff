//! Asks each test binary which tests it holds, the way libtest answers.
//!
//! Each binary is run twice with `--list --format terse`: once for every test and once
//! with `--ignored` to learn which of them are ignored. Binaries are listed in parallel,
//! from the package directory and with the environment they will later run in, because
//! custom harnesses may decide what exists from either.
//!
//! Doctests have no binary: rustdoc lists them, through `cargo test --doc -- --list`,
//! and each source file's doctests become one unit that runs together.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rayon::prelude::*;

use std::collections::BTreeMap;
use std::ffi::OsString;

use crate::build::{DocUnit, PackageInfo, TestBinary, cargo_program};
use crate::env::{BinaryEnv, RunEnv};
use crate::error::{Error, Result};
use crate::test_id::{BinaryId, TargetKind};

/// One test case as the binary reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    /// The full libtest name, `module::path::test`.
    pub name: String,
    /// Whether it is `#[ignore]`d.
    pub ignored: bool,
}

/// A binary and the tests it holds, sorted by name.
#[derive(Debug, Clone)]
pub struct ListedBinary {
    /// The binary.
    pub binary: Arc<TestBinary>,
    /// Its environment, computed once for listing and running.
    pub env: Arc<BinaryEnv>,
    /// Its tests.
    pub tests: Vec<TestCase>,
}

/// Parses libtest's `--list --format terse` output: `name: test` lines; benchmarks are not tests.
pub fn parse_terse(stdout: &str) -> std::result::Result<Vec<String>, String> {
    let mut names = Vec::new();
    for line in stdout.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_suffix(": test") {
            names.push(name.to_owned());
        } else if line.ends_with(": benchmark") {
            continue;
        } else {
            return Err(format!("unexpected line in the test list: {line:?}"));
        }
    }
    Ok(names)
}

/// Parses rustdoc's `--list --format terse` output. Under edition 2024, rustdoc merges
/// a crate's doctests into one program and ends the list with a timing line, `all
/// doctests ran in 0.71s; merged doctests compilation took 0.70s`, which is not a test.
pub fn parse_doctest_list(stdout: &str) -> std::result::Result<Vec<String>, String> {
    let lines: Vec<&str> = stdout.lines().filter(|l| !is_merged_doctests_timing(l)).collect();
    parse_terse(&lines.join("\n"))
}

/// rustdoc's closing line for merged (edition 2024) doctests, in a list or a run.
pub fn is_merged_doctests_timing(line: &str) -> bool {
    line.starts_with("all doctests ran in ") && line.contains("merged doctests compilation took")
}

fn run_list(binary: &TestBinary, env: &BinaryEnv, ignored: bool) -> Result<Vec<String>> {
    let mut cmd = Command::new(&binary.path);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    cmd.current_dir(binary.package.root()).envs(env.vars.iter().map(|(k, v)| (k, v))).stdin(Stdio::null());
    let fail = |reason: String, stderr: &[u8]| Error::ListFailed {
        binary_id: binary.id.to_string(),
        path: binary.path.clone(),
        reason,
        stderr: String::from_utf8_lossy(stderr).trim_end().to_owned(),
    };
    let out = cmd.output().map_err(|e| fail(format!("could not start it: {e}"), &[]))?;
    if !out.status.success() {
        return Err(fail(format!("it exited with {}", out.status), &out.stderr));
    }
    let stdout =
        std::str::from_utf8(&out.stdout).map_err(|_| fail("its list is not valid UTF-8".into(), &out.stderr))?;
    parse_terse(stdout).map_err(|reason| fail(reason, &out.stderr))
}

/// Lists one binary's tests.
pub fn list_binary(binary: Arc<TestBinary>, env: Arc<BinaryEnv>) -> Result<ListedBinary> {
    let (all, ignored) = rayon::join(|| run_list(&binary, &env, false), || run_list(&binary, &env, true));
    let ignored: HashSet<String> = ignored?.into_iter().collect();
    let mut tests: Vec<TestCase> = all?
        .into_iter()
        .map(|name| {
            let ignored = ignored.contains(&name);
            TestCase { name, ignored }
        })
        .collect();
    tests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ListedBinary { binary, env, tests })
}

/// Lists many binaries at once; if several fail, one of their errors is returned.
pub fn list_all(binaries: Vec<(Arc<TestBinary>, Arc<BinaryEnv>)>) -> Result<Vec<ListedBinary>> {
    binaries.into_par_iter().map(|(b, e)| list_binary(b, e)).collect()
}

/// Lists a library's doctests with `cargo test --doc --package NAME -- --list`
/// (which also builds the library if it is not built), and groups them by source
/// file: one [`ListedBinary`] per file, whose `doc` unit runs them.
pub fn list_doctests(package: Arc<PackageInfo>, doc_args: &[OsString], run_env: &RunEnv) -> Result<Vec<ListedBinary>> {
    let mut cargo_args: Vec<OsString> =
        ["test", "--doc", "--package", package.name.as_str()].map(OsString::from).into();
    cargo_args.extend(doc_args.iter().cloned());
    let cargo_args: Arc<[OsString]> = cargo_args.into();
    let id = BinaryId::new(&package.name, TargetKind::Doctest, "");
    let list = |ignored: bool| -> Result<(Vec<String>, bool)> {
        let mut cmd = Command::new(cargo_program());
        cmd.args(cargo_args.iter()).args(["--", "--list", "--format", "terse"]);
        if ignored {
            cmd.arg("--ignored");
        }
        cmd.stdin(Stdio::null());
        let fail = |reason: String, stderr: &[u8]| Error::ListFailed {
            binary_id: id.to_string(),
            path: package.manifest_path.clone(),
            reason,
            stderr: String::from_utf8_lossy(stderr).trim_end().to_owned(),
        };
        let out = cmd.output().map_err(|e| fail(format!("could not start cargo test --doc: {e}"), &[]))?;
        if !out.status.success() {
            return Err(fail(format!("cargo test --doc exited with {}", out.status), &out.stderr));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let merged = stdout.lines().any(is_merged_doctests_timing);
        Ok((parse_doctest_list(&stdout).map_err(|reason| fail(reason, &out.stderr))?, merged))
    };
    let (all, ignored) = rayon::join(|| list(false), || list(true));
    let ignored: HashSet<String> = ignored?.0.into_iter().collect();
    let (all, merged) = all?;
    // Each run of `cargo test --doc` compiles what it runs. Doctests compiled one by
    // one (editions before 2024) are compiled only when selected, so a file is a unit
    // and files spread over the slots. Merged doctests (edition 2024) are compiled
    // together on every run, whatever is selected: one unit per package pays that once.
    let mut by_file: BTreeMap<Option<String>, Vec<TestCase>> = BTreeMap::new();
    for name in all {
        let file = (!merged).then(|| name.split(" - ").next().unwrap_or(&name).to_owned());
        let ignored = ignored.contains(&name);
        by_file.entry(file).or_default().push(TestCase { name, ignored });
    }
    Ok(by_file
        .into_iter()
        .map(|(file, mut tests)| {
            tests.sort_by(|a, b| a.name.cmp(&b.name));
            let binary = Arc::new(TestBinary {
                id: id.clone(),
                path: cargo_program().into(),
                kind: TargetKind::Doctest,
                filter_kind: "doctest",
                target_name: package.name.replace('-', "_"),
                package: Arc::clone(&package),
                build_script: None,
                doc: Some(DocUnit { file, cargo_args: Arc::clone(&cargo_args) }),
            });
            // cargo sets the package's own variables for rustdoc; tempo adds its run's.
            let mut env = BinaryEnv::for_binary(&binary, run_env);
            env.vars.retain(|(k, _)| !k.to_string_lossy().starts_with("CARGO") && k != crate::env::DYLIB_PATH_VAR);
            ListedBinary { binary, env: Arc::new(env), tests }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terse_lists_skip_benchmarks() {
        let names = parse_terse("a::b: test\nc: benchmark\n\nd: test\n").unwrap();
        assert_eq!(names, ["a::b", "d"]);
    }

    #[test]
    fn garbage_in_a_list_is_an_error() {
        assert!(parse_terse("running 1 test\n").is_err());
    }

    /// indexmap 2.14 (edition 2024) lists its doctests this way.
    #[test]
    fn merged_doctest_lists_end_with_a_timing_line_that_is_not_a_test() {
        let list = "src/set.rs - set::IndexSet<T,S>::splice (line 676): test\n\
                    all doctests ran in 0.71s; merged doctests compilation took 0.70s\n";
        assert_eq!(parse_doctest_list(list).unwrap(), ["src/set.rs - set::IndexSet<T,S>::splice (line 676)"]);
        assert!(parse_terse(list).is_err(), "a test binary's list has no such line");
        assert!(parse_doctest_list("all doctests ran in 1s\n").is_err(), "only rustdoc's exact line is skipped");
    }
}
