//! Colours and text hygiene for terminal output.
//!
//! Captured test output is untrusted: it may hold invalid UTF-8 or escape codes that
//! would leave a terminal in a broken state. It is decoded lossily, and when the output
//! is not a terminal, control codes are shown escaped rather than sent raw.

use std::borrow::Cow;
use std::ffi::OsString;

use anstyle::{AnsiColor, Style};

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

/// Whether to colour a stream, `is_terminal` saying whether it is a terminal; `auto`
/// is decided from the process's environment (see [`decide_color`]).
pub fn use_color(color: Color, is_terminal: bool) -> bool {
    decide_color(color, is_terminal, |name| std::env::var_os(name))
}

/// Decides `--color` for a stream. `always` and `never` are final. `auto` follows the
/// conventions of no-color.org and bixense.com/clicolors, in this order: a non-empty
/// `NO_COLOR` turns colour off; a `CLICOLOR_FORCE` other than empty or `0` turns it on
/// (even when piped); `CLICOLOR=0` turns it off; otherwise colour goes to a terminal
/// whose `TERM` is set and is not `dumb`. (`CARGO_TERM_COLOR` is read earlier, as the
/// value of `--color` when the flag is not given: see [`Color::resolve`].)
pub fn decide_color(color: Color, is_terminal: bool, env: impl Fn(&str) -> Option<OsString>) -> bool {
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            let set = |name: &str| env(name).filter(|v| !v.is_empty());
            if set("NO_COLOR").is_some() {
                return false;
            }
            if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                return true;
            }
            if set("CLICOLOR").is_some_and(|v| v == "0") {
                return false;
            }
            is_terminal && set("TERM").is_some_and(|t| t != "dumb")
        }
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

/// A test name made safe for a line of human output. Names come from outside tempo
/// (a test binary's `--list`, a doctest's file path) and may hold control
/// characters; every one of them, newline and tab included, is shown escaped
/// (`\u{1b}`, `\n`), so that a name can neither style nor move the cursor, ring the
/// bell, overwrite its own line nor split it in two. Other names are returned as
/// they are.
pub fn escape_name(name: &str) -> Cow<'_, str> {
    if !name.chars().any(char::is_control) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for c in name.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The length of a Select Graphic Rendition sequence (`ESC [ digits;... m`) at the
/// start of `s`, if there is one.
fn sgr_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\x1b[")?;
    let params = body.bytes().take_while(|b| b.is_ascii_digit() || *b == b';').count();
    (body.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// A test name every human writer is tested with.
#[cfg(test)]
pub(crate) mod hostile {
    /// A colour code, a bell, a carriage return and a newline.
    pub const NAME: &str = "odd\x1b[31mred\x07bell\rreturn\nnext";
    /// How [`NAME`] is shown.
    pub const SHOWN: &str = "odd\\u{1b}[31mred\\u{7}bell\\rreturn\\nnext";

    /// Fails if `out` holds a control character other than the newlines that end its
    /// lines, or does not show [`NAME`] escaped.
    pub fn assert_escaped(out: &[u8]) {
        let text = String::from_utf8_lossy(out);
        assert!(!out.iter().any(|&b| b != b'\n' && (b < 0x20 || b == 0x7f)), "a raw control character:\n{text:?}");
        assert!(text.contains(SHOWN), "the name is shown escaped:\n{text}");
    }
}

/// Colour choice, resolved later against the terminal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Color {
    /// Colour when the output is a terminal.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One case: (choice, stream is a terminal, environment, colour?).
    type ColorCase<'a> = (Color, bool, &'a [(&'a str, &'a str)], bool);

    #[test]
    fn color_precedence() {
        let tty = [("TERM", "xterm-256color")];
        let cases: &[ColorCase<'_>] = &[
            (Color::Auto, true, &tty, true),
            (Color::Auto, false, &tty, false),
            (Color::Auto, true, &[], false),
            (Color::Auto, true, &[("TERM", "dumb")], false),
            (Color::Auto, true, &[("TERM", "xterm"), ("NO_COLOR", "1")], false),
            // An empty NO_COLOR is as good as unset.
            (Color::Auto, true, &[("TERM", "xterm"), ("NO_COLOR", "")], true),
            (Color::Auto, false, &[("CLICOLOR_FORCE", "1")], true),
            (Color::Auto, false, &[("CLICOLOR_FORCE", "yes")], true),
            (Color::Auto, false, &[("CLICOLOR_FORCE", "0")], false),
            (Color::Auto, false, &[("CLICOLOR_FORCE", "")], false),
            // NO_COLOR beats CLICOLOR_FORCE.
            (Color::Auto, false, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false),
            (Color::Auto, true, &[("TERM", "xterm"), ("CLICOLOR", "0")], false),
            (Color::Auto, true, &[("TERM", "xterm"), ("CLICOLOR", "1")], true),
            (Color::Auto, false, &[("CLICOLOR", "0"), ("CLICOLOR_FORCE", "1")], true),
            // An explicit choice beats every variable.
            (Color::Always, false, &[("NO_COLOR", "1")], true),
            (Color::Never, true, &[("TERM", "xterm"), ("CLICOLOR_FORCE", "1")], false),
        ];
        for (color, terminal, env, expected) in cases {
            let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v));
            assert_eq!(decide_color(*color, *terminal, lookup), *expected, "{color:?}, terminal {terminal}, {env:?}");
        }
    }

    #[test]
    fn escapes_control_codes_and_bad_utf8() {
        let s = sanitize(b"ok\x1b[31mred\xff\n", false);
        assert_eq!(s, "ok\\u{1b}[31mred\u{fffd}\n");
    }

    /// Regression: control characters in test names reached the terminal raw.
    #[test]
    fn names_show_every_control_character_escaped() {
        assert_eq!(escape_name("plain::name"), "plain::name");
        assert!(matches!(escape_name("plain"), Cow::Borrowed(_)));
        assert_eq!(escape_name("a\x1b[31mred\x07\r\n\tb"), "a\\u{1b}[31mred\\u{7}\\r\\n\\tb");
    }

    #[test]
    fn terminals_get_colours_but_no_cursor_control() {
        assert_eq!(sanitize(b"\x1b[31mred", true), "\x1b[31mred\x1b[0m");
        assert_eq!(sanitize(b"\x1b[2J\x1b]0;title\x07", true), "\\u{1b}[2J\\u{1b}]0;title\\u{7}");
        assert_eq!(sanitize(b"plain", true), "plain");
    }
}
