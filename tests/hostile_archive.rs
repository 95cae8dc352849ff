//! An archive travels between machines, so `run` and `list --archive-file` must refuse
//! one that was damaged on the way or made by hand to escape: a flipped byte, paths
//! that leave the extraction directory, setuid bits, symlinks pointing out, archives
//! too large to unpack; and `--extract-to` must neither overwrite files nor leave half
//! an archive behind. Each test starts from a real archive of the fixture workspace.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use common::*;

/// A real archive of the fixture workspace, made once per run.
fn real_archive() -> &'static Path {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        build_fixture();
        let dir = repo_root().join(format!("target/hostile-archive/{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fixture.tar.zst");
        run_expecting(tempo(&fixture()).args(["archive", "--archive-file"]).arg(&path), 0);
        path
    })
}

/// The real archive's entries: name, header and content.
fn entries() -> Vec<(String, tar::Header, Vec<u8>)> {
    let file = std::fs::File::open(real_archive()).unwrap();
    let mut tar = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_str().unwrap().to_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, e.header().clone(), data)
        })
        .collect()
}

/// An entry whose name is written as it is, unchecked, as a hostile archive would.
fn raw_entry(name: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]) -> (tar::Header, Vec<u8>) {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_mode(0o755);
    header.set_size(data.len() as u64);
    header.set_cksum();
    (header, data.to_vec())
}

/// Packs entries again (with a content checksum, as tempo does), then the raw ones.
fn repack(entries: &[(String, tar::Header, Vec<u8>)], raw: &[(tar::Header, Vec<u8>)], to: &Path) {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, header, data) in entries {
        // A fresh header, with only the type and the mode of the original; `tar` reads
        // a sparse file (as an older tempo wrote linked binaries with holes) whole.
        let mut fresh = tar::Header::new_gnu();
        let kind = header.entry_type();
        fresh.set_entry_type(if kind.is_gnu_sparse() { tar::EntryType::Regular } else { kind });
        fresh.set_mode(header.mode().unwrap());
        fresh.set_size(data.len() as u64);
        tar.append_data(&mut fresh, name, data.as_slice()).unwrap();
    }
    for (header, data) in raw {
        tar.append(header, data.as_slice()).unwrap();
    }
    let mut encoder = zstd::Encoder::new(std::fs::File::create(to).unwrap(), 3).unwrap();
    encoder.include_checksum(true).unwrap();
    encoder.write_all(&tar.into_inner().unwrap()).unwrap();
    encoder.finish().unwrap();
}

/// The real archive with its manifest changed by `edit`.
fn with_manifest(edit: impl FnOnce(&mut serde_json::Value), to: &Path) {
    let mut all = entries();
    let mut manifest: serde_json::Value = serde_json::from_slice(&all[0].2).unwrap();
    edit(&mut manifest);
    all[0].2 = serde_json::to_vec(&manifest).unwrap();
    repack(&all, &[], to);
}

/// `list --archive-file`, from a scratch directory, with more arguments.
fn list(scratch: &Path, archive: &Path, args: &[&std::ffi::OsStr], expected: i32) -> Output {
    let mut cmd = tempo(scratch);
    cmd.env("CARGO", "/nonexistent/cargo").args(["list", "--archive-file"]).arg(archive);
    cmd.arg("--workspace-remap").arg(fixture()).args(args);
    run_expecting(&mut cmd, expected)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_flipped_byte_in_the_middle_is_refused() {
    // Regression: the frame had no checksum and extraction stopped at tar's end
    // marker, so a flipped byte extracted silently into a different binary.
    let scratch = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(real_archive()).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let damaged = scratch.path().join("damaged.tar.zst");
    std::fs::write(&damaged, &bytes).unwrap();
    let err = stderr(&list(scratch.path(), &damaged, &[], 96));
    assert!(err.contains("damaged"), "{err}");
}

#[test]
fn an_archive_of_an_older_format_says_to_make_it_again() {
    let scratch = tempfile::tempdir().unwrap();
    let old = scratch.path().join("old.tar.zst");
    with_manifest(|m| m["format_version"] = 1.into(), &old);
    let err = stderr(&list(scratch.path(), &old, &[], 96));
    assert!(err.contains("format version 1") && err.contains("make it again with `cargo tempo archive`"), "{err}");
}

#[test]
fn an_absolute_binary_path_in_the_manifest_is_refused_and_never_run() {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("ran");
    let script = scratch.path().join("outside_bin.sh");
    std::fs::write(&script, format!("#!/bin/sh\ntouch '{}'\n", marker.display())).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hostile = scratch.path().join("hostile.tar.zst");
    with_manifest(|m| m["binaries"][0]["path"] = script.to_str().unwrap().into(), &hostile);
    let err = stderr(&list(scratch.path(), &hostile, &[], 96));
    assert!(err.contains("is absolute"), "{err}");
    assert!(!marker.exists(), "the script outside the archive ran");
}

#[test]
fn tar_entries_with_absolute_or_climbing_paths_are_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let outside = scratch.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let extract = scratch.path().join("x");
    let absolute = outside.join("absolute").to_str().unwrap().to_owned();
    for name in [absolute.as_str(), "../outside/climbed"] {
        let hostile = scratch.path().join("hostile.tar.zst");
        repack(&entries(), &[raw_entry(name, tar::EntryType::Regular, None, b"evil")], &hostile);
        let err = stderr(&list(scratch.path(), &hostile, &["--extract-to".as_ref(), extract.as_os_str()], 96));
        assert!(err.contains("failed to extract"), "{name}: {err}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{name} was written outside");
        assert!(!extract.exists(), "{name}: a refused archive left files in --extract-to");
    }
}

#[test]
fn a_symlink_pointing_outside_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let hostile = scratch.path().join("hostile.tar.zst");
    repack(&entries(), &[raw_entry("target/debug/etc", tar::EntryType::Symlink, Some("/etc"), b"")], &hostile);
    let err = stderr(&list(scratch.path(), &hostile, &[], 96));
    assert!(err.contains("outside the extraction directory"), "{err}");
}

#[cfg(unix)]
#[test]
fn setuid_bits_are_not_preserved() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = tempfile::tempdir().unwrap();
    let mut all = entries();
    let (name, header, _) = all.iter_mut().find(|(name, ..)| name.ends_with("/beta-tool")).unwrap();
    let name = name.clone();
    header.set_mode(0o4755);
    let archive = scratch.path().join("setuid.tar.zst");
    repack(&all, &[], &archive);
    let extract = scratch.path().join("x");
    list(scratch.path(), &archive, &["--extract-to".as_ref(), extract.as_os_str()], 0);
    let mode = std::fs::metadata(extract.join(&name)).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755, "{name} has mode {mode:o}");
}

#[test]
fn the_extracted_size_is_capped_and_the_cap_can_be_raised() {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = tempo(scratch.path());
    cmd.env("TEMPO_ARCHIVE_MAX_SIZE", "1M").args(["list", "--archive-file"]).arg(real_archive());
    cmd.arg("--workspace-remap").arg(fixture());
    let err = stderr(&run_expecting(&mut cmd, 96));
    assert!(err.contains("TEMPO_ARCHIVE_MAX_SIZE"), "{err}");
    run_expecting(cmd.env("TEMPO_ARCHIVE_MAX_SIZE", "4G"), 0);
}

#[test]
fn extract_to_does_not_overwrite_without_the_flag() {
    let scratch = tempfile::tempdir().unwrap();
    let extract = scratch.path().join("x");
    std::fs::create_dir_all(&extract).unwrap();
    let mine = extract.join("tempo-archive.json");
    std::fs::write(&mine, "mine").unwrap();
    let to: [&std::ffi::OsStr; 2] = ["--extract-to".as_ref(), extract.as_os_str()];
    let err = stderr(&list(scratch.path(), real_archive(), &to, 96));
    assert!(err.contains("--extract-overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "mine");
    let left: Vec<_> = std::fs::read_dir(&extract).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["tempo-archive.json"], "a refused extraction left files behind");

    list(scratch.path(), real_archive(), &[to[0], to[1], "--extract-overwrite".as_ref()], 0);
    assert_ne!(std::fs::read_to_string(&mine).unwrap(), "mine");
    assert!(extract.join("target").is_dir());
}

#[test]
fn a_failed_extraction_leaves_no_partial_files() {
    let scratch = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(real_archive()).unwrap();
    let cut = scratch.path().join("cut.tar.zst");
    std::fs::write(&cut, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let fresh = scratch.path().join("fresh");
    list(scratch.path(), &cut, &["--extract-to".as_ref(), fresh.as_os_str()], 96);
    assert!(!fresh.exists(), "a failed extraction created --extract-to");
    let existing = scratch.path().join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    list(scratch.path(), &cut, &["--extract-to".as_ref(), existing.as_os_str()], 96);
    assert_eq!(std::fs::read_dir(&existing).unwrap().count(), 0, "a failed extraction left files behind");
}
