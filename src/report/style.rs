//! Colours and text hygiene for terminal output.
//!
//! Captured test output is untrusted: it may hold invalid UTF-8 or escape codes that
//! would leave a terminal in a broken state. It is decoded lossily, and when the output
//! is not a terminal, control codes are shown escaped rather than sent raw.

use anstyle::{AnsiColor, Style};

use crate::options::Color;

/// The styles tempo paints with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Styles {
    /// Passing statuses.
    pub pass: Style,
    /// Failing statuses.
    pub fail: Style,
    /// Slow, flaky and retry statuses.
    pub warn: Style,
    /// Skipped and neutral statuses.
    pub skip: Style,
    /// Headings such as `Starting` and `Summary`.
    pub heading: Style,
    /// The binary id.
    pub binary: Style,
    /// Counts in the summary.
    pub count: Style,
}

impl Styles {
    /// Colourful styles.
    pub fn colored() -> Styles {
        let bold = Style::new().bold();
        Styles {
            pass: bold.fg_color(Some(AnsiColor::Green.into())),
            fail: bold.fg_color(Some(AnsiColor::Red.into())),
            warn: bold.fg_color(Some(AnsiColor::Yellow.into())),
            skip: bold.fg_color(Some(AnsiColor::Yellow.into())),
            heading: bold.fg_color(Some(AnsiColor::Green.into())),
            binary: Style::new().fg_color(Some(AnsiColor::Magenta.into())),
            count: bold,
        }
    }
}

/// Maps tempo's colour choice onto anstream's, which resolves `auto` against the stream.
pub fn color_choice(color: Color) -> anstream::ColorChoice {
    match color {
        Color::Auto => anstream::ColorChoice::Auto,
        Color::Always => anstream::ColorChoice::Always,
        Color::Never => anstream::ColorChoice::Never,
    }
}

/// Makes captured bytes safe to print: invalid UTF-8 is replaced, and unless
/// `raw_controls` is set, control characters other than newline and tab are escaped.
pub fn sanitize(bytes: &[u8], raw_controls: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    if raw_controls {
        return text.into_owned();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_codes_and_bad_utf8() {
        let s = sanitize(b"ok\x1b[31mred\xff\n", false);
        assert_eq!(s, "ok\\u{1b}[31mred\u{fffd}\n");
    }

    #[test]
    fn keeps_controls_for_terminals() {
        assert_eq!(sanitize(b"\x1b[0m", true), "\x1b[0m");
    }
}
