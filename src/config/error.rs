//! Config errors that say which file, which line and column, what was found and what
//! was expected, so that a typo costs one glance rather than a search.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use super::ConfigSource;

/// A config file that could not be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("failed to read config file `{}`: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file has an error at a known place.
    #[error("{0}")]
    At(Box<Located>),
    /// The selected profile does not exist.
    #[error("failed to find profile `{name}`{}; {choices}", file.as_ref().map(|f| format!(" in `{}`", f.display())).unwrap_or_else(|| " (no config file was found)".into()))]
    UnknownProfile {
        /// The requested name.
        name: String,
        /// The config file, if any.
        file: Option<PathBuf>,
        /// The valid names.
        choices: String,
    },
    /// A setting is wrong, with no file to point into.
    #[error("invalid configuration: {message}; {help}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

/// An error at a place in a config file.
#[derive(Debug)]
pub struct Located {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What was expected or what to do.
    pub help: String,
    /// The offending line.
    pub source_line: String,
    /// How many columns the caret underlines.
    pub width: usize,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "failed to parse config file `{}` at line {}, column {}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.source_line)?;
        write!(f, "{:gutter$} | {}{}", "", " ".repeat(self.column - 1), "^".repeat(self.width.max(1)))?;
        if !self.help.is_empty() {
            write!(f, " {}", self.help)?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// An error at `span` (byte offsets) of `source`.
    pub fn at(source: &ConfigSource, span: Range<usize>, message: String, help: String) -> ConfigError {
        let text = &source.text;
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let width = text[start..span.end.clamp(start, line_end)].chars().count();
        ConfigError::At(Box::new(Located {
            path: source.path.clone(),
            line,
            column,
            message,
            help,
            source_line: text[line_start..line_end].to_owned(),
            width,
        }))
    }

    /// Converts a TOML or schema error, which toml reports with a span.
    pub fn from_toml(source: &ConfigSource, err: &toml::de::Error) -> ConfigError {
        let message = err.message().trim_end().to_owned();
        let help = if message.starts_with("unknown field") { String::new() } else { String::from("here") };
        match err.span() {
            Some(span) => ConfigError::at(source, span, message, help),
            None => ConfigError::Invalid { message, help: format!("in `{}`", source.path.display()) },
        }
    }
}
