//! Writing files so that readers never see half of one, and the error that says which
//! file could not be written: every report, the history, configs and archives go
//! through here.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A file tempo could not write: what it is (`history`, `JUnit report`), where, and
/// why. File-writing reporters return it inside an [`io::Error`] (see
/// [`WriteError::into_io`]), and [`crate::events::Fanout`] takes it back out, so that one output that
/// cannot be written does not silence the others.
#[derive(Debug, thiserror::Error)]
#[error("failed to write the {what} `{}`: {source}{hint}", path.display())]
pub struct WriteError {
    /// What the file is, in a few words.
    pub what: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why it could not be written.
    pub source: io::Error,
    /// What to do about it, as `; do this`, or nothing.
    pub hint: &'static str,
}

impl WriteError {
    /// A failure to write the `what` at `path`.
    pub fn new(what: &'static str, path: &Path, source: io::Error) -> WriteError {
        WriteError { what, path: path.to_owned(), source, hint: "" }
    }

    /// Adds what to do about it, written as `; do this`.
    pub fn with_hint(self, hint: &'static str) -> WriteError {
        WriteError { hint, ..self }
    }

    /// Wraps it in an [`io::Error`] of the same kind, to pass through
    /// [`crate::events::Reporter::report`].
    pub fn into_io(self) -> io::Error {
        io::Error::new(self.source.kind(), self)
    }

    /// The `WriteError` inside an error made by [`WriteError::into_io`], or the error
    /// as it was (a stdout failure, say).
    pub fn from_io(error: io::Error) -> Result<WriteError, io::Error> {
        if !error.get_ref().is_some_and(|inner| inner.is::<WriteError>()) {
            return Err(error);
        }
        let inner = error.into_inner().expect("checked above");
        Ok(*inner.downcast::<WriteError>().expect("checked above"))
    }
}

/// A fresh temporary file beside `path` (its directory is created if need be), for
/// the bytes that [`persist`](tempfile::NamedTempFile::persist) then renames onto
/// `path`. Its name is random and it is created with `O_EXCL`, so a symlink or file
/// that someone planted in the directory is never followed or reused; it gets the
/// permissions of an ordinary new file (0666 less the umask), not tempfile's 0600,
/// since reports and configs are meant to be read by others.
pub fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
}

/// Writes a file so that readers see either the old contents or the new, never half:
/// the bytes go to a fresh temporary file in the same directory (see [`temp_beside`]),
/// which is synced and then renamed over `path`. Every file tempo writes goes through
/// here (the archive through [`temp_beside`]).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = temp_beside(path)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    // On failure the temporary file is dropped, which removes it.
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`write_atomically`], its error naming what and where.
pub fn write_file(what: &'static str, path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_atomically(path, bytes).map_err(|source| WriteError::new(what, path, source))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the temporary file was `.{name}.{pid}.tmp`, opened with
    /// `File::create`, which follows a symlink planted at that name and overwrote its
    /// target. The pid is this process's own, the one the old code used.
    #[test]
    fn a_symlink_at_the_old_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("report.html");
        let planted = dir.path().join(format!(".report.html.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();

        write_atomically(&path, b"the report").unwrap();

        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious", "the symlink's target is untouched");
        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_file(), "the report is a plain file");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "the report");
        assert!(std::fs::symlink_metadata(&planted).unwrap().file_type().is_symlink(), "the planted link stays");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 3, "no temporary file is left behind: {left:?}");
    }

    /// Every temporary name is new: a symlink farm over many names in the directory
    /// (as an attacker who cannot guess the name might plant) is never written through.
    #[test]
    fn temporary_files_are_fresh_and_exclusive() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.json");
        let first = temp_beside(&path).unwrap();
        let second = temp_beside(&path).unwrap();
        assert_ne!(first.path(), second.path());
        assert!(first.path().file_name().unwrap().to_str().unwrap().starts_with(".history.json."));
        // Reports are read by others (CI artifact uploaders): an ordinary file's mode.
        let mode = first.as_file().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600);
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        for n in 0..200 {
            std::os::unix::fs::symlink(&victim, dir.path().join(format!(".history.json.{n}.tmp"))).unwrap();
        }
        for _ in 0..20 {
            write_atomically(&path, b"{}").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
    }
}
