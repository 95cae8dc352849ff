//! Reads an archive as input that may be damaged or hostile: an archive travels
//! between machines, so a flipped byte, a truncated copy or a hand-made file must be
//! refused before any of it runs, and nothing in it may write outside the directory
//! it is extracted into.
//!
//! The tar stream is read entry by entry here rather than with `tar::Archive::unpack`,
//! so that every rule is ours to state: paths stay relative and inside, modes keep
//! their permission bits only, symlinks stay inside, hard links and devices are
//! refused, the total size is capped, every file matches its size and xxh64 digest
//! in the manifest, and the zstd frame is read to its end so that its content
//! checksum is verified. xxh64 and the zstd checksum detect damage, not tampering:
//! whoever can write the archive can write matching digests.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::hash::Hasher as _;
use std::io::{self, BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};

use crate::error::ArchiveError;
use crate::limits::{DEFAULT_MAX_SIZE, MAX_SIZE_ENV};

use super::{ArchivedFile, FORMAT_VERSION, MANIFEST_NAME, Manifest, VersionOnly};

/// The largest manifest read: the manifest is held in memory.
const MAX_MANIFEST: u64 = 64 << 20;
/// The largest GNU long name or long link target read; Linux's `PATH_MAX` is 4096.
const MAX_LONG_NAME: u64 = 4096;
/// Decompressed bytes allowed beyond the files' own sizes: tar headers and padding.
/// Every entry costs at least one 512-byte header, so this also bounds their number.
const OVERHEAD: u64 = 64 << 20;
/// The zero padding allowed after tar's end marker: `tar` writes 1 KiB, GNU tar pads
/// to a 10 KiB record.
const MAX_PADDING: u64 = 1 << 20;

/// The cap on an archive's extracted size: [`MAX_SIZE_ENV`] in bytes (with an
/// optional `K`, `M`, `G` or `T` suffix, powers of 1024), else [`DEFAULT_MAX_SIZE`].
pub fn max_size() -> Result<u64, ArchiveError> {
    match std::env::var(MAX_SIZE_ENV) {
        Ok(value) => parse_size(&value).ok_or(ArchiveError::BadMaxSize { value }),
        Err(_) => Ok(DEFAULT_MAX_SIZE),
    }
}

fn parse_size(value: &str) -> Option<u64> {
    let value = value.trim();
    let (digits, shift) = match value.char_indices().last()? {
        (i, 'K' | 'k') => (&value[..i], 10),
        (i, 'M' | 'm') => (&value[..i], 20),
        (i, 'G' | 'g') => (&value[..i], 30),
        (i, 'T' | 't') => (&value[..i], 40),
        _ => (value, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// The io error a [`Capped`] reader returns, told apart from damage by its type.
#[derive(Debug)]
struct CapReached;

impl std::fmt::Display for CapReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the size cap was reached")
    }
}

impl std::error::Error for CapReached {}

/// Stops a decompression bomb: no more than `left` bytes come out of the decoder,
/// whatever the tar headers claim.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more than allowed tells a stream at the cap from one beyond it.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(CapReached)),
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: xxhash_rust::xxh64::Xxh64,
    count: u64,
}

impl<R> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing { inner, hasher: xxhash_rust::xxh64::Xxh64::new(0), count: 0 }
    }

    fn digest(&self) -> String {
        format!("{:016x}", self.hasher.finish())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The size and xxh64 digest of a file's content.
pub(super) fn digest_of(path: &Path) -> io::Result<(u64, String)> {
    let mut reader = Hashing::new(File::open(path)?);
    io::copy(&mut reader, &mut io::sink())?;
    Ok((reader.count, reader.digest()))
}

/// Appends `from` to `tar` as `name` and checks that what was packed is what the
/// manifest records: a file that changed in between would make a broken archive.
pub(super) fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    from: &Path,
    expected: &ArchivedFile,
) -> io::Result<()> {
    let ArchivedFile::File { size, xxh64 } = expected else {
        return Err(io::Error::other("a symlink cannot be packed as a file"));
    };
    let file = File::open(from)?;
    let meta = file.metadata()?;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(*size);
    header.set_mode(permission_bits(&meta) & 0o755);
    header.set_mtime(
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs()),
    );
    let mut reader = Hashing::new(file.take(*size));
    tar.append_data(&mut header, name, &mut reader)?;
    if reader.count != *size || reader.digest() != *xxh64 {
        return Err(io::Error::other(
            "the file changed while it was being archived; archive again once the build is done",
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn permission_bits(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode()
}

#[cfg(not(unix))]
fn permission_bits(meta: &fs::Metadata) -> u32 {
    if meta.permissions().readonly() { 0o555 } else { 0o755 }
}

/// A path from the archive made safe to join onto the extraction directory: it must
/// be relative, and no `..` may climb out. `.` components are dropped. Returns the
/// path with `/` separators, or why it was refused.
pub(super) fn safe_relative(name: &str) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "the path `{name}` has a `..` component, which could leave the extraction directory"
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("the path `{name}` is absolute, and an archive holds only relative paths"));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("the path `{name}` names no file"));
    }
    Ok(out)
}

/// The key a path has in the manifest's `files`: its components joined with `/`.
pub(super) fn key_of(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Whether the symlink at `link` (relative to the extraction directory) pointing at
/// `target` stays inside it, read as text: relative, and never above the root.
fn link_stays_inside(link: &Path, target: &str) -> bool {
    let target = Path::new(target);
    if target.is_absolute() || target.as_os_str().is_empty() {
        return false;
    }
    let mut depth: usize = link.parent().map_or(0, |p| p.components().count());
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Reads the archive `input` (named `archive` in errors) into `root`, an empty
/// directory, checking everything the module's doc promises. Returns the manifest.
pub(super) fn unpack(
    archive: &Path,
    mut input: impl BufRead,
    root: &Path,
    max_size: u64,
) -> Result<Manifest, ArchiveError> {
    // Where in the archive the reader is, for the errors: the entry being read, or
    // the one after the last entry read.
    let at = std::cell::RefCell::new("its start".to_owned());
    let damaged = |source: io::Error| {
        let entry = at.borrow().clone();
        if source.get_ref().is_some_and(|e| e.is::<CapReached>()) {
            ArchiveError::TooLarge { path: archive.to_owned(), entry, limit: max_size }
        } else {
            ArchiveError::Damaged { path: archive.to_owned(), entry, source }
        }
    };
    let bad = |entry: &str, reason: String| ArchiveError::BadEntry {
        path: archive.to_owned(),
        entry: entry.to_owned(),
        reason,
    };
    let write_err =
        |source: io::Error| ArchiveError::Extract { path: archive.to_owned(), dest: root.to_owned(), source };

    // The frame header says whether the frame ends with a content checksum (bit 2 of
    // the descriptor after the 4-byte magic, RFC 8878 section 3.1.1.1.1). It is only
    // judged once the manifest's version is known, so that an archive from an older
    // tempo (written without one) gets the message that says to make it again.
    let head = input.fill_buf().map_err(damaged)?;
    let has_checksum = head.len() >= 5 && head[..4] == [0x28, 0xb5, 0x2f, 0xfd] && head[4] & 0x04 != 0;

    let decoder = zstd::Decoder::with_buffer(input).map_err(damaged)?.single_frame();
    let capped = Capped { inner: decoder, left: max_size.saturating_add(OVERHEAD) };
    let mut tar = tar::Archive::new(capped);
    let mut manifest: Option<Manifest> = None;
    let mut seen = BTreeSet::new();
    let mut total: u64 = 0;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    // Raw entries: GNU long names are read here under a cap, not by tar into memory.
    let mut entries = tar.entries().map_err(damaged)?.raw(true);
    *at.borrow_mut() = "its first entry".to_owned();
    for entry in entries.by_ref() {
        let mut entry = entry.map_err(damaged)?;
        let kind = entry.header().entry_type();
        let size = entry.header().entry_size().map_err(damaged)?;
        if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            if size > MAX_LONG_NAME {
                return Err(bad("(long name)", format!("a long name of {size} bytes is longer than any path")));
            }
            let mut bytes = Vec::new();
            (&mut entry).take(size).read_to_end(&mut bytes).map_err(damaged)?;
            while bytes.last() == Some(&0) {
                bytes.pop();
            }
            let slot = if kind.is_gnu_longname() { &mut long_name } else { &mut long_link };
            if slot.replace(bytes).is_some() {
                return Err(damaged(io::Error::other("two long names describe the same entry")));
            }
            continue;
        }
        let name_bytes = long_name.take().unwrap_or_else(|| entry.header().path_bytes().into_owned());
        let link_bytes = long_link.take().or_else(|| entry.header().link_name_bytes().map(|b| b.into_owned()));
        let name = String::from_utf8(name_bytes)
            .map_err(|e| bad(&String::from_utf8_lossy(e.as_bytes()), "the path is not UTF-8".to_owned()))?;
        // Set before the entry is read, so that a failure names it; the next entry's
        // header is read before this is set again.
        *at.borrow_mut() = format!("`{name}` or the entry after it");
        let rel = safe_relative(&name).map_err(|reason| bad(&name, reason))?;
        let key = key_of(&rel);

        let Some(manifest) = &manifest else {
            // The manifest comes first, so that every path it names is checked
            // before anything else is written.
            if key != MANIFEST_NAME || !kind.is_file() {
                return Err(ArchiveError::Metadata {
                    path: archive.to_owned(),
                    reason: format!("its first entry is `{name}`, not {MANIFEST_NAME}"),
                });
            }
            if size > MAX_MANIFEST {
                return Err(bad(&name, format!("the manifest holds {size} bytes, more than {MAX_MANIFEST}")));
            }
            let mut text = Vec::new();
            (&mut entry).take(size).read_to_end(&mut text).map_err(damaged)?;
            let parsed = read_manifest(archive, &text)?;
            if !has_checksum {
                return Err(damaged(io::Error::other(
                    "its zstd frame carries no content checksum, so damage could not be detected; make it again with `cargo tempo archive`",
                )));
            }
            parsed.check_paths(archive)?;
            // Kept beside the target directory, as the archive has it.
            new_file(&root.join(MANIFEST_NAME), 0o644).and_then(|mut f| f.write_all(&text)).map_err(write_err)?;
            manifest = Some(parsed);
            continue;
        };
        if !seen.insert(key.clone()) && !kind.is_dir() {
            return Err(bad(&name, "it appears twice in the archive".to_owned()));
        }
        total = total.saturating_add(size);
        if total > max_size {
            return Err(ArchiveError::TooLarge {
                path: archive.to_owned(),
                entry: format!("`{name}`"),
                limit: max_size,
            });
        }
        let dest = root.join(&rel);
        if kind.is_dir() {
            make_parents(root, &rel.join("x")).map_err(|reason| bad(&name, reason))?;
            continue;
        }
        let expected = manifest.files.get(&key);
        if kind.is_file() || kind == tar::EntryType::Continuous {
            let Some(ArchivedFile::File { size: want_size, xxh64 }) = expected else {
                return Err(bad(&name, "it is a file that the manifest does not list".to_owned()));
            };
            if size != *want_size {
                return Err(ArchiveError::Mismatch {
                    path: archive.to_owned(),
                    entry: name,
                    reason: format!("it holds {size} bytes, and the manifest says {want_size}"),
                });
            }
            make_parents(root, &rel).map_err(|reason| bad(&name, reason))?;
            let mode = entry.header().mode().map_err(damaged)?;
            let mtime = entry.header().mtime().ok();
            // `create_new` refuses an existing file or symlink at the last component.
            let mut file = new_file(&dest, mode).map_err(write_err)?;
            let mut reader = Hashing::new((&mut entry).take(size));
            // Not `io::copy`: a read error is damage, a write error is this disk's.
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = reader.read(&mut buf).map_err(damaged)?;
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).map_err(write_err)?;
            }
            if reader.count != size {
                return Err(damaged(io::Error::new(io::ErrorKind::UnexpectedEof, "the entry is cut short")));
            }
            if reader.digest() != *xxh64 {
                return Err(ArchiveError::Mismatch {
                    path: archive.to_owned(),
                    entry: name,
                    reason: "its content does not match its digest in the manifest".to_owned(),
                });
            }
            if let Some(secs) = mtime {
                let _ = file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
            }
        } else if kind.is_symlink() {
            let target = link_bytes.map(String::from_utf8).transpose().ok().flatten().unwrap_or_default();
            if !link_stays_inside(&rel, &target) {
                return Err(bad(&name, format!("it is a symlink to `{target}`, outside the extraction directory")));
            }
            if expected != Some(&ArchivedFile::Symlink { target: target.clone() }) {
                return Err(bad(&name, "it is a symlink that the manifest does not list".to_owned()));
            }
            make_parents(root, &rel).map_err(|reason| bad(&name, reason))?;
            symlink(&target, &dest).map_err(write_err)?;
        } else if kind.is_hard_link() {
            return Err(bad(&name, "it is a hard link, and an archive of tempo holds none".to_owned()));
        } else {
            return Err(bad(&name, format!("its entry type {:?} is not a file, directory or symlink", kind)));
        }
    }
    *at.borrow_mut() = "its end".to_owned();
    if long_name.is_some() || long_link.is_some() {
        return Err(damaged(io::Error::other("a long name describes no entry")));
    }
    let Some(manifest) = manifest else {
        return Err(ArchiveError::Metadata { path: archive.to_owned(), reason: format!("no {MANIFEST_NAME} in it") });
    };

    // Past tar's end marker only zero blocks may follow. Reading them to the end of
    // the frame is what makes zstd verify the content checksum.
    let mut capped = tar.into_inner();
    let padding = io::copy(&mut (&mut capped).take(MAX_PADDING + 1), &mut ZerosOnly).map_err(damaged)?;
    if padding > MAX_PADDING {
        return Err(damaged(io::Error::other("more than 1 MiB of padding follows the end of the tar stream")));
    }
    let mut rest = capped.inner.finish();
    if !rest.fill_buf().map_err(damaged)?.is_empty() {
        return Err(damaged(io::Error::other("data follows the end of the zstd frame")));
    }

    for (key, file) in &manifest.files {
        if !seen.contains(key) {
            return Err(ArchiveError::Mismatch {
                path: archive.to_owned(),
                entry: key.clone(),
                reason: "the manifest lists it, and the archive does not hold it".to_owned(),
            });
        }
        // Read as text, a symlink may still leave through another symlink above it
        // (`a -> .` makes `a/x/../..` the parent of the root): resolve it for real.
        if matches!(file, ArchivedFile::Symlink { .. }) {
            let inside = match (fs::canonicalize(root.join(key)), fs::canonicalize(root)) {
                (Ok(resolved), Ok(root)) => resolved.starts_with(root),
                _ => false,
            };
            if !inside {
                return Err(bad(
                    key,
                    "it is a symlink that resolves outside the extraction directory or to nothing".to_owned(),
                ));
            }
        }
    }
    Ok(manifest)
}

/// Parses the manifest, its version first so that another layout gets a clear message.
fn read_manifest(archive: &Path, text: &[u8]) -> Result<Manifest, ArchiveError> {
    let meta_err = |reason: String| ArchiveError::Metadata { path: archive.to_owned(), reason };
    let version: VersionOnly = serde_json::from_slice(text).map_err(|e| meta_err(format!("{MANIFEST_NAME}: {e}")))?;
    if version.format_version != FORMAT_VERSION {
        return Err(ArchiveError::Version {
            path: archive.to_owned(),
            found: version.format_version,
            expected: FORMAT_VERSION,
        });
    }
    serde_json::from_slice(text).map_err(|e| meta_err(format!("{MANIFEST_NAME}: {e}")))
}

/// Accepts only zero bytes: the end-of-archive blocks.
struct ZerosOnly;

impl Write for ZerosOnly {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.iter().any(|b| *b != 0) {
            return Err(io::Error::other("data follows the end of the tar stream"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Creates the directories above `rel` inside `root`, refusing to pass through
/// anything that is not a plain directory (an earlier symlink entry above all).
fn make_parents(root: &Path, rel: &Path) -> Result<(), String> {
    let Some(parent) = rel.parent() else { return Ok(()) };
    let mut dir = root.to_owned();
    for component in parent.components() {
        dir.push(component);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "`{}` above it is not a directory",
                    key_of(dir.strip_prefix(root).unwrap_or(&dir))
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| format!("failed to create `{}`: {e}", dir.display()))?;
            }
            Err(e) => return Err(format!("failed to read `{}`: {e}", dir.display())),
        }
    }
    Ok(())
}

/// A new file with the archive's permission bits only: no setuid, setgid or sticky
/// bit, no write for group or others, and always readable and writable by its owner.
#[cfg(unix)]
fn new_file(path: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mode = (mode & 0o755) | 0o600;
    let file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    // The umask may have taken bits away; set exactly these.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(file)
}

#[cfg(not(unix))]
fn new_file(path: &Path, _mode: u32) -> io::Result<File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn symlink(target: &str, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &str, _link: &Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "symlinks in archives are extracted on Unix only"))
}

/// Moves the verified tree `from` into `to`, merging with directories already there.
/// Everything is looked at before anything moves, so a refusal changes nothing.
pub(super) fn place(archive: &Path, from: &Path, to: &Path, overwrite: bool) -> Result<(), ArchiveError> {
    let mut moves = Vec::new();
    plan(archive, from, to, overwrite, &mut moves)?;
    for (src, dst, replace) in moves {
        let moved =
            if replace { fs::remove_file(&dst).and_then(|()| fs::rename(&src, &dst)) } else { fs::rename(&src, &dst) };
        moved.map_err(|source| ArchiveError::Extract { path: archive.to_owned(), dest: dst, source })?;
    }
    Ok(())
}

/// The renames that put `from`'s children into `to`: (source, destination, whether
/// an existing file or symlink is replaced).
fn plan(
    archive: &Path,
    from: &Path,
    to: &Path,
    overwrite: bool,
    moves: &mut Vec<(PathBuf, PathBuf, bool)>,
) -> Result<(), ArchiveError> {
    let io_err = |dest: &Path, source: io::Error| ArchiveError::Extract {
        path: archive.to_owned(),
        dest: dest.to_owned(),
        source,
    };
    let mut children =
        fs::read_dir(from).and_then(|d| d.collect::<io::Result<Vec<_>>>()).map_err(|e| io_err(from, e))?;
    children.sort_by_key(fs::DirEntry::file_name);
    for child in children {
        let src = child.path();
        let dst = to.join(child.file_name());
        let src_is_dir = child.file_type().map_err(|e| io_err(&src, e))?.is_dir();
        match fs::symlink_metadata(&dst) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => moves.push((src, dst, false)),
            Err(e) => return Err(io_err(&dst, e)),
            Ok(meta) if meta.is_dir() && src_is_dir => plan(archive, &src, &dst, overwrite, moves)?,
            Ok(meta) if meta.is_dir() => return Err(ArchiveError::InTheWay { path: archive.to_owned(), dir: dst }),
            Ok(_) if !overwrite => return Err(ArchiveError::Exists { path: archive.to_owned(), file: dst }),
            // A file or symlink where the archive has a file or a directory: replaced.
            Ok(_) => moves.push((src, dst, true)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            fs::read(dir.path().join("target/debug/build/p-1/out/nested/gen.rs")).unwrap(),
            b"pub const X: u8 = 1;"
        );
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
                matches!(
                    err,
                    ArchiveError::Damaged { .. } | ArchiveError::Mismatch { .. } | ArchiveError::Metadata { .. }
                ),
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
        entries.push(Raw {
            name: "target/fifo".into(),
            kind: tar::EntryType::Fifo,
            mode: 0o644,
            data: vec![],
            link: None,
        });
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
}
