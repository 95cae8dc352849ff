//! The four ways a predicate's argument can match a name, shared by every predicate
//! that takes one.
//!
//! nextest's reference defines them: `=s` is equality, `~s` containment, `/re/` an
//! unanchored regex search ("if any part of it matches"), `#g` a glob over the
//! whole name. A bare string means the predicate's default matcher.

use super::glob::Glob;
use regex::Regex;
use std::fmt;

/// A compiled name matcher.
#[derive(Clone, Debug)]
pub(crate) enum NameMatcher {
    Equal(String),
    Contains(String),
    Glob(Glob),
    Regex(Regex),
}

/// Which matcher a bare string selects; each predicate has its own default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultMatcher {
    Equal,
    Contains,
    Glob,
}

impl NameMatcher {
    pub(crate) fn is_match(&self, name: &str) -> bool {
        match self {
            NameMatcher::Equal(value) => name == value,
            NameMatcher::Contains(value) => name.contains(value.as_str()),
            NameMatcher::Glob(glob) => glob.is_match(name),
            NameMatcher::Regex(regex) => regex.is_match(name),
        }
    }
}

/// Prints the matcher in filterset syntax with an explicit prefix, so that the
/// output parses back to the same matcher whatever the predicate's default is.
impl fmt::Display for NameMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameMatcher::Equal(value) => {
                f.write_str("=")?;
                write_escaped(f, value)
            }
            NameMatcher::Contains(value) => {
                f.write_str("~")?;
                write_escaped(f, value)
            }
            NameMatcher::Glob(glob) => {
                f.write_str("#")?;
                write_escaped(f, glob.as_str())
            }
            NameMatcher::Regex(regex) => {
                f.write_str("/")?;
                write_regex_body(f, regex.as_str())?;
                f.write_str("/")
            }
        }
    }
}

/// Writes a string with the escapes the filterset string syntax understands.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    for c in value.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            ')' => f.write_str("\\)")?,
            ',' => f.write_str("\\,")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

/// Writes a regex between slashes: a `/` needs `\/`, and any other backslash pair
/// is passed through untouched, which is how the parser reads it back.
fn write_regex_body(f: &mut fmt::Formatter<'_>, pattern: &str) -> fmt::Result {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                f.write_str("\\")?;
                if let Some(next) = chars.next() {
                    write!(f, "{next}")?;
                }
            }
            '/' => f.write_str("\\/")?,
            c => write!(f, "{c}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_matcher_kind() {
        let glob = |p: &str| NameMatcher::Glob(Glob::new(p).expect("valid glob"));
        let regex = |p: &str| NameMatcher::Regex(Regex::new(p).expect("valid regex"));
        let cases: Vec<(NameMatcher, &str, bool)> = vec![
            (NameMatcher::Equal("a::b".into()), "a::b", true),
            (NameMatcher::Equal("a::b".into()), "a::bc", false),
            (NameMatcher::Contains("b::c".into()), "a::b::c::d", true),
            (NameMatcher::Contains("b::c".into()), "a::b", false),
            (NameMatcher::Contains(String::new()), "anything", true),
            (glob("a::*"), "a::b::c", true),
            (glob("a::*"), "b::a::c", false),
            // A regex searches anywhere unless anchored.
            (regex("b+"), "abbbc", true),
            (regex("^b+$"), "abbbc", false),
            (regex("^a.*c$"), "abbbc", true),
        ];
        for (matcher, name, expected) in cases {
            assert_eq!(matcher.is_match(name), expected, "{matcher} against {name}");
        }
    }

    #[test]
    fn displays_with_explicit_prefixes_and_escapes() {
        let cases: Vec<(NameMatcher, &str)> = vec![
            (NameMatcher::Equal("a,b)c".into()), r"=a\,b\)c"),
            (NameMatcher::Contains("tab\there\\".into()), r"~tab\there\\"),
            (NameMatcher::Contains("\u{7}".into()), r"~\u{7}"),
            (NameMatcher::Glob(Glob::new("{a,b}").expect("valid glob")), r"#{a\,b}"),
            (NameMatcher::Regex(Regex::new(r"a/b\d\\").expect("valid regex")), r"/a\/b\d\\/"),
        ];
        for (matcher, expected) in cases {
            assert_eq!(matcher.to_string(), expected);
        }
    }
}
