//! Everything tempo tells people and machines, driven by one stream of [`events::Event`]s.
//!
//! The runner knows nothing about terminals or file formats: it emits events, and each
//! reporter here turns them into its own output.

pub mod events;
pub mod grouped;
pub mod history;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod list;
pub mod partition;
pub mod progress;
pub mod show_config;
pub mod style;
pub mod terminal;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use events::Event;

/// A consumer of the run's events. Reporters are called on the runner's coordinating
/// thread, in order, so they need no locking; they must not block for long.
pub trait Reporter {
    /// Handles one event.
    fn report(&mut self, event: &Event) -> io::Result<()>;
}

/// Sends every event to several reporters, in order.
///
/// A reporter that fails to write its file (a [`WriteError`]) does not stop the
/// others or the run: its error is kept for [`Fanout::take_write_errors`], to be
/// reported once the run is over, and it keeps hearing events. Any other error (the
/// terminal went away) stops the run, as before.
#[derive(Default)]
pub struct Fanout {
    reporters: Vec<Box<dyn Reporter>>,
    write_errors: Vec<WriteError>,
}

impl Fanout {
    /// Adds a reporter.
    pub fn push(&mut self, reporter: Box<dyn Reporter>) {
        self.reporters.push(reporter);
    }

    /// The files that could not be written so far, in the order they failed.
    pub fn take_write_errors(&mut self) -> Vec<WriteError> {
        std::mem::take(&mut self.write_errors)
    }
}

impl Reporter for Fanout {
    fn report(&mut self, event: &Event) -> io::Result<()> {
        for r in &mut self.reporters {
            if let Err(e) = r.report(event) {
                self.write_errors.push(WriteError::from_io(e)?);
            }
        }
        Ok(())
    }
}

/// A byte buffer that a reporter writes into and a wrapping reporter drains after each
/// event, to place the text: above the progress bar, or under its binary's heading.
/// Reporters all run on the coordinator's thread, so a `RefCell` is all it needs.
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl SharedBuffer {
    /// Takes everything written so far.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A file tempo could not write: what it is (`history`, `JUnit report`), where, and
/// why. File-writing reporters return it inside an [`io::Error`] (see
/// [`WriteError::into_io`]), and [`Fanout`] takes it back out, so that one output that
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
    /// [`Reporter::report`].
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

    /// A write error keeps its path through `io::Error`, and `Fanout` collects it
    /// rather than stopping the reporters after the one that failed.
    #[test]
    fn a_reporter_that_cannot_write_does_not_stop_the_others() {
        struct Failing;
        impl Reporter for Failing {
            fn report(&mut self, _: &Event) -> io::Result<()> {
                let source = io::Error::from_raw_os_error(libc::EISDIR);
                Err(WriteError::new("history", Path::new("/store/history.json"), source).into_io())
            }
        }
        struct Counting(std::rc::Rc<std::cell::Cell<usize>>);
        impl Reporter for Counting {
            fn report(&mut self, _: &Event) -> io::Result<()> {
                self.0.set(self.0.get() + 1);
                Ok(())
            }
        }
        let heard = std::rc::Rc::default();
        let mut fanout = Fanout::default();
        fanout.push(Box::new(Failing));
        fanout.push(Box::new(Counting(std::rc::Rc::clone(&heard))));
        let event = Event::RunFinished(events::RunStats::default());
        fanout.report(&event).unwrap();
        assert_eq!(heard.get(), 1, "the reporter after the failing one heard the event");
        let errors = fanout.take_write_errors();
        assert_eq!(errors.len(), 1);
        let message = errors[0].to_string();
        assert!(message.starts_with("failed to write the history `/store/history.json`: Is a directory"), "{message}");
    }
}
