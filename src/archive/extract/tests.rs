use std::collections::BTreeMap;

use proptest::prelude::*;

use super::super::{ArchivedBinary, write};
use super::*;

/// One hand-made tar entry; the name is written raw, so it may be hostile.
struct Raw {
    name: String,
    kind: tar::EntryType,
    mode: u32,
    data: Vec<u8>,
    link: Option<String>,
}

fn file(name: &str, data: &[u8]) -> Raw {
    Raw { name: name.to_owned(), kind: tar::EntryType::Regular, mode: 0o644, data: data.to_vec(), link: None }
}

fn link(name: &str, kind: tar::EntryType, target: &str) -> Raw {
    Raw { name: name.to_owned(), kind, mode: 0o777, data: Vec::new(), link: Some(target.to_owned()) }
}

fn tar_bytes(entries: &[Raw]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_gnu();
        let name = &mut header.as_old_mut().name;
        name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        header.set_entry_type(e.kind);
        header.set_mode(e.mode);
        header.set_size(e.data.len() as u64);
        if let Some(target) = &e.link {
            header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        }
        header.set_cksum();
        tar.append(&header, e.data.as_slice()).unwrap();
    }
    tar.into_inner().unwrap()
}

fn zst(data: &[u8], checksum: bool) -> Vec<u8> {
    let mut encoder = zstd::Encoder::new(Vec::new(), 3).unwrap();
    encoder.include_checksum(checksum).unwrap();
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn digest(data: &[u8]) -> ArchivedFile {
    ArchivedFile::File { size: data.len() as u64, xxh64: format!("{:016x}", xxhash_rust::xxh64::xxh64(data, 0)) }
}

/// A manifest with one binary, `target/debug/t`, and the files given.
fn manifest(files: BTreeMap<String, ArchivedFile>) -> Manifest {
    Manifest {
        format_version: FORMAT_VERSION,
        workspace_root: "/build/ws".into(),
        target_dir: "/build/ws/target".into(),
        packages: BTreeMap::new(),
        binaries: vec![ArchivedBinary {
            id: "p::t".into(),
            path: "debug/t".into(),
            kind: "test".into(),
            proc_macro: false,
            target_name: "t".into(),
            package_id: "p".into(),
            build_script: None,
        }],
        dependency_graph: BTreeMap::new(),
        files,
    }
}

const BINARY: &[u8] = b"#!/bin/sh\necho the test binary\n";

/// The manifest entry, then the entries given.
fn archive(manifest: &Manifest, entries: Vec<Raw>, checksum: bool) -> Vec<u8> {
    let mut all = vec![file(MANIFEST_NAME, &serde_json::to_vec(manifest).unwrap())];
    all.extend(entries);
    zst(&tar_bytes(&all), checksum)
}

fn good_manifest() -> Manifest {
    manifest(BTreeMap::from([("target/debug/t".to_owned(), digest(BINARY))]))
}

fn good_entries() -> Vec<Raw> {
    vec![file("target/debug/t", BINARY)]
}

fn unpack_bytes(bytes: &[u8], max: u64) -> (tempfile::TempDir, Result<Manifest, ArchiveError>) {
    let dir = tempfile::tempdir().unwrap();
    let result = unpack(Path::new("a.tar.zst"), bytes, dir.path(), max);
    (dir, result)
}

fn refused(bytes: &[u8]) -> ArchiveError {
    let (_dir, result) = unpack_bytes(bytes, DEFAULT_MAX_SIZE);
    result.expect_err("the archive must be refused")
}

#[test]
fn a_good_archive_unpacks_with_its_files() {
    let (dir, result) = unpack_bytes(&archive(&good_manifest(), good_entries(), true), DEFAULT_MAX_SIZE);
    result.unwrap();
    assert_eq!(fs::read(dir.path().join("target/debug/t")).unwrap(), BINARY);
}

#[test]
fn what_write_packs_unpacks_with_every_digest_checked() {
    let scratch = tempfile::tempdir().unwrap();
    let target = scratch.path().join("target");
    fs::create_dir_all(target.join("debug/build/p-1/out/nested")).unwrap();
    fs::write(target.join("debug/t"), BINARY).unwrap();
    fs::write(target.join("debug/build/p-1/out/nested/gen.rs"), b"pub const X: u8 = 1;").unwrap();
    let files = BTreeSet::from([PathBuf::from("debug/t")]);
    let dirs = BTreeSet::from([PathBuf::from("debug/build/p-1/out")]);
    let entries = super::super::collect(&target, &files, &dirs).unwrap();
    let mut m = manifest(BTreeMap::new());
    m.target_dir = target.clone();
    m.files = super::super::digests(&entries).unwrap();
    let path = scratch.path().join("out/a.tar.zst");
    write(&path, 3, &m, &entries).unwrap();
    let bytes = fs::read(&path).unwrap();
    let (dir, result) = unpack_bytes(&bytes, DEFAULT_MAX_SIZE);
    assert_eq!(result.unwrap().files.len(), 2);
    assert_eq!(fs::read(dir.path().join("target/debug/build/p-1/out/nested/gen.rs")).unwrap(), b"pub const X: u8 = 1;");
    // Regression: the frame had no content checksum, so damage went unnoticed.
    assert!(bytes[4] & 0x04 != 0, "the frame carries a content checksum");
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let good = archive(&good_manifest(), good_entries(), true);
    for at in [good.len() / 3, good.len() / 2, good.len() - 6] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let err = refused(&bad);
        assert!(
            matches!(err, ArchiveError::Damaged { .. } | ArchiveError::Mismatch { .. } | ArchiveError::Metadata { .. }),
            "byte {at}: {err}"
        );
    }
}

#[test]
fn a_frame_without_checksum_is_refused_and_an_old_version_says_to_make_it_again() {
    let err = refused(&archive(&good_manifest(), good_entries(), false));
    assert!(err.to_string().contains("no content checksum"), "{err}");
    let mut old = good_manifest();
    old.format_version = 1;
    let err = refused(&archive(&old, good_entries(), false));
    assert!(matches!(err, ArchiveError::Version { found: 1, .. }), "{err}");
    assert!(err.to_string().contains("make it again with `cargo tempo archive`"), "{err}");
}

#[test]
fn entries_with_absolute_or_climbing_paths_are_refused_and_write_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    let absolute = outside.path().join("abs").to_str().unwrap().to_owned();
    for name in [absolute.as_str(), "../escaped", "target/../../escaped", "./../escaped"] {
        let mut entries = good_entries();
        entries.push(file(name, b"evil"));
        let (dir, result) = unpack_bytes(&archive(&good_manifest(), entries, true), DEFAULT_MAX_SIZE);
        let err = result.expect_err(name);
        assert!(matches!(err, ArchiveError::BadEntry { .. }), "{name}: {err}");
        assert!(!dir.path().parent().unwrap().join("escaped").exists());
    }
    assert!(!outside.path().join("abs").exists());
}

#[test]
fn manifest_paths_that_leave_the_extraction_directory_are_refused() {
    let mut m = good_manifest();
    m.binaries[0].path = "/tmp/outside_bin.sh".into();
    let err = refused(&archive(&m, good_entries(), true));
    assert!(err.to_string().contains("is absolute"), "{err}");
    let mut m = good_manifest();
    m.binaries[0].path = "../../outside_bin.sh".into();
    assert!(refused(&archive(&m, good_entries(), true)).to_string().contains("`..`"));
    // A binary the archive does not hold could be a file already in --extract-to.
    let mut m = good_manifest();
    m.binaries[0].path = "debug/elsewhere".into();
    assert!(refused(&archive(&m, good_entries(), true)).to_string().contains("not a file in the archive"));
    let mut m = good_manifest();
    m.files.insert("/etc/passwd".into(), digest(b""));
    assert!(matches!(refused(&archive(&m, good_entries(), true)), ArchiveError::BadEntry { .. }));
}

#[cfg(unix)]
#[test]
fn setuid_setgid_and_sticky_bits_and_write_for_others_are_dropped() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut entries = good_entries();
    entries[0].mode = 0o7777;
    let (dir, result) = unpack_bytes(&archive(&good_manifest(), entries, true), DEFAULT_MAX_SIZE);
    result.unwrap();
    let mode = fs::metadata(dir.path().join("target/debug/t")).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
}

#[cfg(unix)]
#[test]
fn symlinks_stay_inside_or_are_refused() {
    let mut m = good_manifest();
    m.files.insert("target/debug/latest".into(), ArchivedFile::Symlink { target: "t".into() });
    let mut entries = good_entries();
    entries.push(link("target/debug/latest", tar::EntryType::Symlink, "t"));
    let (dir, result) = unpack_bytes(&archive(&m, entries, true), DEFAULT_MAX_SIZE);
    result.unwrap();
    assert_eq!(fs::read(dir.path().join("target/debug/latest")).unwrap(), BINARY);

    for target in ["/etc/passwd", "../../../etc/passwd", "../../.."] {
        let mut m = good_manifest();
        m.files.insert("target/debug/out".into(), ArchivedFile::Symlink { target: target.into() });
        let mut entries = good_entries();
        entries.push(link("target/debug/out", tar::EntryType::Symlink, target));
        let err = refused(&archive(&m, entries, true));
        assert!(err.to_string().contains("outside the extraction directory"), "{target}: {err}");
    }

    // Read as text `a/x/../..` is the root, but `a` is the root itself, so it
    // resolves to the root's parent.
    let mut m = good_manifest();
    m.files.insert("a".into(), ArchivedFile::Symlink { target: ".".into() });
    m.files.insert("b".into(), ArchivedFile::Symlink { target: "a/target/../..".into() });
    let mut entries = good_entries();
    entries.push(link("a", tar::EntryType::Symlink, "."));
    entries.push(link("b", tar::EntryType::Symlink, "a/target/../.."));
    assert!(matches!(refused(&archive(&m, entries, true)), ArchiveError::BadEntry { .. }));

    // Nothing is written through a symlink, even one inside.
    let mut m = good_manifest();
    m.files.insert("target/d".into(), ArchivedFile::Symlink { target: "debug".into() });
    m.files.insert("target/d/x".into(), digest(b"x"));
    let mut entries = good_entries();
    entries.push(link("target/d", tar::EntryType::Symlink, "debug"));
    entries.push(file("target/d/x", b"x"));
    assert!(refused(&archive(&m, entries, true)).to_string().contains("not a directory"));
}

#[test]
fn hard_links_devices_and_unlisted_files_are_refused() {
    let mut entries = good_entries();
    entries.push(link("target/debug/h", tar::EntryType::Link, "target/debug/t"));
    assert!(refused(&archive(&good_manifest(), entries, true)).to_string().contains("hard link"));
    let mut entries = good_entries();
    entries.push(Raw { name: "target/fifo".into(), kind: tar::EntryType::Fifo, mode: 0o644, data: vec![], link: None });
    assert!(refused(&archive(&good_manifest(), entries, true)).to_string().contains("entry type"));
    let mut entries = good_entries();
    entries.push(file("target/debug/extra", b"x"));
    assert!(refused(&archive(&good_manifest(), entries, true)).to_string().contains("does not list"));
    let mut entries = good_entries();
    entries.push(file("target/debug/t", BINARY));
    assert!(refused(&archive(&good_manifest(), entries, true)).to_string().contains("twice"));
}

#[test]
fn every_file_must_match_the_manifest() {
    let err = refused(&archive(&good_manifest(), vec![], true));
    assert!(matches!(err, ArchiveError::Mismatch { .. }) && err.to_string().contains("does not hold it"), "{err}");
    let mut entries = good_entries();
    entries[0].data[0] ^= 1;
    let err = refused(&archive(&good_manifest(), entries, true));
    assert!(err.to_string().contains("does not match its digest"), "{err}");
    let mut entries = good_entries();
    entries[0].data.push(b'\n');
    assert!(refused(&archive(&good_manifest(), entries, true)).to_string().contains("the manifest says"));
    let err = refused(&zst(&tar_bytes(&good_entries()), true));
    assert!(err.to_string().contains("not tempo-archive.json"), "{err}");
}

#[test]
fn the_extracted_size_is_capped() {
    let big = vec![7u8; 100_000];
    let m = manifest(BTreeMap::from([("target/debug/t".to_owned(), digest(&big))]));
    let bytes = archive(&m, vec![file("target/debug/t", &big)], true);
    let (_dir, result) = unpack_bytes(&bytes, 50_000);
    assert!(matches!(result, Err(ArchiveError::TooLarge { limit: 50_000, .. })), "{result:?}");
    unpack_bytes(&bytes, 100_000).1.unwrap();
    // A stream of zeros past the end marker is bounded as well.
    let mut tar = tar_bytes(&[
        file(MANIFEST_NAME, &serde_json::to_vec(&good_manifest()).unwrap()),
        file("target/debug/t", BINARY),
    ]);
    tar.resize(tar.len() + (2 << 20), 0);
    let err = refused(&zst(&tar, true));
    assert!(err.to_string().contains("padding"), "{err}");
}

#[test]
fn data_after_the_end_is_refused() {
    let mut tar = tar_bytes(&[
        file(MANIFEST_NAME, &serde_json::to_vec(&good_manifest()).unwrap()),
        file("target/debug/t", BINARY),
    ]);
    tar.extend_from_slice(&[0; 1024]);
    tar.extend_from_slice(b"trailing");
    assert!(refused(&zst(&tar, true)).to_string().contains("end of the tar stream"));
    let mut bytes = archive(&good_manifest(), good_entries(), true);
    bytes.extend_from_slice(b"garbage");
    assert!(matches!(refused(&bytes), ArchiveError::Damaged { .. }));
    let mut bytes = archive(&good_manifest(), good_entries(), true);
    bytes.truncate(bytes.len() - 10);
    assert!(matches!(refused(&bytes), ArchiveError::Damaged { .. }));
}

#[test]
fn sizes_read_with_binary_suffixes() {
    assert_eq!(parse_size("1024"), Some(1024));
    assert_eq!(parse_size("64G"), Some(64 << 30));
    assert_eq!(parse_size("2m"), Some(2 << 20));
    assert_eq!(parse_size("lots"), None);
    assert_eq!(parse_size(""), None);
    assert_eq!(parse_size("99999999999T"), None);
}

#[test]
fn placing_refuses_existing_files_unless_told_and_then_changes_nothing() {
    let staged = tempfile::tempdir().unwrap();
    fs::create_dir_all(staged.path().join("target/debug")).unwrap();
    fs::write(staged.path().join("target/debug/t"), b"new").unwrap();
    fs::write(staged.path().join("target/debug/u"), b"new").unwrap();
    let dest = tempfile::tempdir().unwrap();
    fs::create_dir_all(dest.path().join("target/debug")).unwrap();
    fs::write(dest.path().join("target/debug/u"), b"old").unwrap();
    let err = place(Path::new("a"), staged.path(), dest.path(), false).unwrap_err();
    assert!(matches!(err, ArchiveError::Exists { .. }), "{err}");
    assert!(!dest.path().join("target/debug/t").exists(), "nothing moved before the refusal");
    assert_eq!(fs::read(dest.path().join("target/debug/u")).unwrap(), b"old");
    place(Path::new("a"), staged.path(), dest.path(), true).unwrap();
    assert_eq!(fs::read(dest.path().join("target/debug/u")).unwrap(), b"new");
    assert_eq!(fs::read(dest.path().join("target/debug/t")).unwrap(), b"new");
}

/// A valid archive to mutate, and its tar stream to compress after mutating it.
fn seeds() -> (Vec<u8>, Vec<u8>) {
    let mut m = good_manifest();
    m.files.insert("target/debug/latest".into(), ArchivedFile::Symlink { target: "t".into() });
    let mut entries = vec![file(MANIFEST_NAME, &serde_json::to_vec(&m).unwrap())];
    entries.extend(good_entries());
    entries.push(link("target/debug/latest", tar::EntryType::Symlink, "t"));
    let tar = tar_bytes(&entries);
    (zst(&tar, true), tar)
}

/// Whatever the bytes, the reader returns: no panic, no hang, and no more than
/// the cap unpacked. Few cases, so that it stays within seconds.
fn no_input_breaks_the_reader(bytes: &[u8]) {
    let (dir, result) = unpack_bytes(bytes, 1 << 20);
    if result.is_ok() {
        assert!(dir.path().join("target/debug/t").is_file());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_break_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        no_input_breaks_the_reader(&bytes);
    }

    #[test]
    fn mutated_archives_never_break_the_reader(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let (mut compressed, _) = seeds();
        for (at, byte) in &flips {
            let i = at.index(compressed.len());
            compressed[i] ^= byte | 1;
        }
        if let Some(cut) = cut {
            compressed.truncate(cut.index(compressed.len()));
        }
        no_input_breaks_the_reader(&compressed);
    }

    #[test]
    fn mutated_tar_streams_never_break_the_reader(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        // Compressed after mutating, so that the tar reader sees the damage.
        let (_, mut tar) = seeds();
        for (at, byte) in &flips {
            let i = at.index(tar.len());
            tar[i] ^= byte | 1;
        }
        no_input_breaks_the_reader(&zst(&tar, true));
    }
}
