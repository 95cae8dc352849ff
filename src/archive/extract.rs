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

// Long on purpose: it is one pass over an untrusted stream, and every check shares
// the reader's state (the position for errors, the sizes so far, the pending GNU
// long names); split, that state would travel through every piece.
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
mod tests;
