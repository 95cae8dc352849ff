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

/// Makes captured bytes safe to print. Invalid UTF-8 is replaced. Control characters
/// other than newline and tab are shown escaped (`\u{1b}`), so that a test cannot move
/// the cursor, clear the screen or retitle the window. On a terminal (`terminal`), colour
/// and style sequences (`ESC [ ... m`) are let through, and a reset follows them, so that
/// a test's colours never leak into what comes after.
pub fn sanitize(bytes: &[u8], terminal: bool) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut styled = false;
    let mut rest = text.as_ref();
    while let Some(c) = rest.chars().next() {
        if terminal
            && c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            out.push_str(&rest[..len]);
            styled = true;
            rest = &rest[len..];
            continue;
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    if styled {
        out.push_str("\x1b[0m");
    }
    out
}

/// The length of a Select Graphic Rendition sequence (`ESC [ digits;... m`) at the
/// start of `s`, if there is one.
fn sgr_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\x1b[")?;
    let params = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    (body.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
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
    fn terminals_get_colours_but_no_cursor_control() {
        assert_eq!(sanitize(b"\x1b[31mred", true), "\x1b[31mred\x1b[0m");
        assert_eq!(sanitize(b"\x1b[2J\x1b]0;title\x07", true), "\\u{1b}[2J\\u{1b}]0;title\\u{7}");
        assert_eq!(sanitize(b"plain", true), "plain");
    }
}
