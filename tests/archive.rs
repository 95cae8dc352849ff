//! `cargo tempo archive` packs everything the fixture's tests need from the build, and
//! `run --archive-file` runs them with no cargo and no target directory: from another
//! folder, in a copy of the sources, with the outcomes `expected.toml` gives.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The fixture's expected statuses; with `moved`, those of an archive extracted away
/// from the target directory the build used.
fn expected_statuses(moved: bool) -> BTreeMap<(String, String), String> {
    expected(&fixture())
        .into_iter()
        .filter(|e| e.outcome != "ignored")
        .map(|e| {
            let outcome = if moved { e.archive_outcome.clone().unwrap_or(e.outcome) } else { e.outcome };
            ((e.binary_id, e.name), outcome.to_uppercase())
        })
        .collect()
}

#[test]
fn an_archive_runs_elsewhere_with_the_same_outcomes() {
    let scratch = tempfile::tempdir().unwrap();
    let build_dir = scratch.path().join("build");
    let target_dir = build_dir.join("target");
    let archive = scratch.path().join("tests.tar.zst");

    // Build into a target directory of its own, which the test then deletes.
    let out = run_expecting(
        tempo(&fixture())
            .env_remove("CARGO_TARGET_DIR")
            .args(["archive", "--archive-file"])
            .arg(&archive)
            .arg("--target-dir")
            .arg(&target_dir),
        0,
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("archived 9 test binaries"), "{stderr}");
    std::fs::remove_dir_all(&build_dir).unwrap();

    // The sources, somewhere else; a working directory that is no workspace at all;
    // and no cargo on the way, so that nothing can be built.
    let sources = scratch.path().join("checkout");
    copy_dir(&fixture(), &sources);
    let elsewhere = scratch.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = |extract_to: Option<&Path>| {
        let mut cmd = tempo(&elsewhere);
        cmd.env_remove("CARGO_TARGET_DIR").env("CARGO", "/nonexistent/cargo").env("PATH", "/usr/bin:/bin");
        cmd.args(["run", "--no-fail-fast", "--archive-file"]).arg(&archive).arg("--workspace-remap").arg(&sources);
        if let Some(dir) = extract_to {
            cmd.arg("--extract-to").arg(dir);
        }
        let out = run_expecting(&mut cmd, 100);
        String::from_utf8(out.stdout).unwrap()
    };

    // Extracted to a temporary directory: every path that tempo hands the tests is
    // remapped; only paths compiled into the binaries still name the deleted target.
    let stdout = run(None);
    assert_eq!(statuses(&stdout), expected_statuses(true), "{stdout}");

    // Extracted where the target directory was, even compiled-in paths hold, and the
    // run is the same as from the build.
    let stdout = run(Some(&build_dir));
    assert_eq!(statuses(&stdout), expected_statuses(false), "{stdout}");
    assert!(target_dir.join("debug/beta-tool").is_file(), "the non-test binary came from the archive");

    // `list` reads the archive the same way.
    let out = run_expecting(
        tempo(&elsewhere)
            .env("CARGO", "/nonexistent/cargo")
            .args(["list", "--message-format", "oneline", "--archive-file"])
            .arg(&archive)
            .arg("--workspace-remap")
            .arg(&sources),
        0,
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(listed.lines().count(), expected_statuses(false).len(), "{listed}");
}

#[test]
fn a_missing_workspace_is_a_setup_error_that_says_what_to_pass() {
    let scratch = tempfile::tempdir().unwrap();
    let archive = scratch.path().join("tests.tar.zst");
    build_fixture();
    run_expecting(tempo(&fixture()).args(["archive", "--archive-file"]).arg(&archive), 0);
    let out = run_expecting(
        tempo(scratch.path())
            .args(["run", "--archive-file"])
            .arg(&archive)
            .arg("--workspace-remap")
            .arg(scratch.path().join("no-such-checkout")),
        96,
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("pass --workspace-remap DIR"), "{stderr}");
}

#[test]
fn a_file_that_is_no_archive_is_a_setup_error() {
    let scratch = tempfile::tempdir().unwrap();
    let bogus = scratch.path().join("bogus.tar.zst");
    std::fs::write(&bogus, b"not zstd at all").unwrap();
    let out = run_expecting(tempo(scratch.path()).args(["list", "--archive-file"]).arg(&bogus), 96);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("failed to extract the archive"), "{stderr}");
}
