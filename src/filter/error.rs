//! Filter expressions are typed by people, on a command line or in a config file, so
//! a mistake has to be answered with where it is, what was expected there and, when
//! the choices are few, what they are.
//!
//! Each error kind carries two texts, each written once: [`FilterErrorKind::expected`]
//! is the headline ("expected a predicate such as test() or package()") and the
//! kind's `Display` is the label printed under the caret ("unknown predicate
//! `tset`; valid predicates: ...").

use std::fmt;
use std::ops::Range;

/// The predicate names the filterset language knows, in the order nextest's
/// reference lists them.
pub(crate) const PREDICATES: &[&str] =
    &["all", "none", "test", "group", "package", "deps", "rdeps", "binary", "binary_id", "kind", "platform", "default"];

/// A filter expression that could not be parsed, with the place it went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse filter expression: {}, at {}: {kind}", .kind.expected(), Location { line: *.line, column: *.column })]
pub struct FilterParseError {
    span: Range<usize>,
    line: usize,
    column: usize,
    kind: FilterErrorKind,
}

/// What was wrong with a filter expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterErrorKind {
    /// Something other than a predicate, `not`, `!` or `(` where an operand belongs.
    #[error("{found} cannot start an operand; write a predicate such as test(name), `not`, `!` or `(`")]
    ExpectedExpression {
        /// A description of what was found, such as "`)`" or "the end of the expression".
        found: String,
    },
    /// A name that is not one of the predicates.
    #[error("unknown predicate `{name}`; valid predicates: {}", PREDICATES.join(", "))]
    UnknownPredicate {
        /// The name as written.
        name: String,
    },
    /// A predicate name not followed by `(`.
    #[error("write `{predicate}(...)`; a predicate's argument goes in parentheses")]
    ExpectedOpenParen {
        /// The predicate.
        predicate: String,
    },
    /// A predicate's argument list that is not closed.
    #[error("`{predicate}(` is not closed here")]
    ExpectedCloseParen {
        /// The predicate.
        predicate: String,
    },
    /// A parenthesised group that is not closed.
    #[error("the `(` at column {open_column} is not closed; expected `)` or an operator here")]
    UnclosedGroup {
        /// The column of the opening parenthesis.
        open_column: usize,
    },
    /// An argument given to `all()`, `none()` or `default()`.
    #[error("`{predicate}()` takes no argument")]
    UnexpectedArgument {
        /// The predicate.
        predicate: String,
    },
    /// A second argument; a literal comma in a name is written `\,`.
    #[error("predicates take a single argument; write `\\,` to match a literal comma")]
    UnexpectedComma,
    /// A matcher with nothing to match, as in `test()` or `package(=)`.
    #[error("the name to match is empty")]
    EmptyMatcher,
    /// A backslash escape that the string syntax does not define.
    #[error("unknown escape `{sequence}`; valid escapes: \\n, \\r, \\t, \\\\, \\/, \\), \\, and \\u{{7FFF}}")]
    InvalidEscape {
        /// The escape as written.
        sequence: String,
    },
    /// A `/regex/` without its closing slash.
    #[error("this regex is never closed with `/` (write `\\/` for a slash inside it)")]
    UnclosedRegex,
    /// A regex the `regex` crate rejects.
    #[error("invalid regex: {reason}")]
    InvalidRegex {
        /// The regex crate's explanation.
        reason: String,
    },
    /// A glob that cannot be compiled.
    #[error("invalid glob: {reason}")]
    InvalidGlob {
        /// What is wrong with it.
        reason: String,
    },
    /// A `platform()` value other than `host` or `target`.
    #[error("unknown platform `{value}`; valid platforms: host, target")]
    InvalidPlatform {
        /// The value as written.
        value: String,
    },
    /// An operator from another language, such as `||` or `AND`.
    #[error("`{found}` is not an operator here; write `{suggestion}`")]
    InvalidOperator {
        /// The operator as written.
        found: String,
        /// The filterset spelling of it.
        suggestion: &'static str,
    },
    /// Input left over after a complete expression.
    #[error("{found} follows a complete expression; join expressions with and, &, or, |, + or -")]
    TrailingInput {
        /// A description of what was found.
        found: String,
    },
    /// Parentheses or negations nested beyond the parser's limit.
    #[error("parentheses and `not` nest more than {limit} deep")]
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// `default()` inside the default filter, which would refer to itself.
    #[error("default() cannot be used in the default filter, because it would refer to itself")]
    DefaultInDefaultFilter,
    /// `group()` in a default filter: nextest allows it on the command line only.
    #[error("group() cannot be used in the default filter; select tests by group on the command line, with -E")]
    GroupInDefaultFilter,
    /// `group()` in an override's filter, where it would depend on the overrides
    /// that assign the groups.
    #[error(
        "group() cannot be used in an override's filter, because overrides are what put tests in groups; select the tests by name, package or binary instead"
    )]
    GroupInOverride,
    /// A group matcher that matches neither a group of `[test-groups]` nor `@global`.
    #[error("`group()` does not match any test group; the groups are: {groups}")]
    NoGroupMatch {
        /// The groups there are, comma-separated.
        groups: String,
    },
    /// A package matcher that matches no package of the workspace, which is almost
    /// always a typo (nextest rejects these too).
    #[error("`{predicate}()` does not match any package in the workspace")]
    NoPackageMatch {
        /// The predicate.
        predicate: String,
    },
}

impl FilterErrorKind {
    /// The headline: what the parser expected at the error's position.
    pub fn expected(&self) -> &'static str {
        match self {
            FilterErrorKind::ExpectedExpression { .. } => "expected an expression",
            FilterErrorKind::UnknownPredicate { .. } => "expected a predicate such as test() or package()",
            FilterErrorKind::ExpectedOpenParen { .. } => "expected `(`",
            FilterErrorKind::ExpectedCloseParen { .. }
            | FilterErrorKind::UnexpectedArgument { .. }
            | FilterErrorKind::UnexpectedComma => "expected `)`",
            FilterErrorKind::UnclosedGroup { .. } => "expected `)`",
            FilterErrorKind::EmptyMatcher => "expected a non-empty name to match",
            FilterErrorKind::InvalidEscape { .. } => "expected a valid escape sequence",
            FilterErrorKind::UnclosedRegex => "expected `/` to close the regex",
            FilterErrorKind::InvalidRegex { .. } => "expected a valid regular expression",
            FilterErrorKind::InvalidGlob { .. } => "expected a valid glob",
            FilterErrorKind::InvalidPlatform { .. } => "expected `host` or `target`",
            FilterErrorKind::InvalidOperator { .. } => "expected an operator",
            FilterErrorKind::TrailingInput { .. } => "expected an operator or the end of the expression",
            FilterErrorKind::TooDeep { .. } => "expected a less deeply nested expression",
            FilterErrorKind::DefaultInDefaultFilter => "expected a predicate other than default()",
            FilterErrorKind::GroupInDefaultFilter | FilterErrorKind::GroupInOverride => {
                "expected a predicate other than group()"
            }
            FilterErrorKind::NoGroupMatch { .. } => "expected a group matcher that matches a test group",
            FilterErrorKind::NoPackageMatch { .. } => "expected a package matcher that matches a workspace package",
        }
    }
}

impl FilterParseError {
    /// Builds an error for the byte range `span` of `source`.
    pub(crate) fn new(source: &str, span: Range<usize>, kind: FilterErrorKind) -> Self {
        let start = floor_char_boundary(source, span.start);
        let end = floor_char_boundary(source, span.end.max(start));
        let (line, _) = line_of(source, start);
        let column = column_of(source, start);
        FilterParseError { span: start..end, line, column, kind }
    }

    /// The byte range of the expression the error points at. It may be empty, for
    /// an error at the end of the expression.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// The 1-based line of the error; expressions from a config file may span lines.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column of the error, counted in characters.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What went wrong.
    pub fn kind(&self) -> &FilterErrorKind {
        &self.kind
    }

    /// A hint beyond the label, such as a predicate the user probably meant.
    pub fn help(&self) -> Option<String> {
        match &self.kind {
            FilterErrorKind::UnknownPredicate { name } => {
                closest_predicate(name).map(|p| format!("did you mean `{p}()`?"))
            }
            FilterErrorKind::ExpectedCloseParen { predicate }
                if matches!(predicate.as_str(), "test" | "package" | "binary" | "binary_id") =>
            {
                Some("a `)` inside a name is written `\\)`".to_owned())
            }
            _ => None,
        }
    }

    /// Renders the error for a terminal: the headline, then the offending line of
    /// `expr` with a caret under the error's position and the label beside it.
    ///
    /// `expr` must be the expression that was parsed.
    pub fn render(&self, expr: &str) -> String {
        let start = floor_char_boundary(expr, self.span.start);
        let (line_number, line_start) = line_of(expr, start);
        let line_end = expr[line_start..].find('\n').map_or(expr.len(), |i| line_start + i);
        let line_text = expr[line_start..line_end].trim_end_matches('\r');
        let end = floor_char_boundary(expr, self.span.end).clamp(start, line_end);
        let indent = expr[line_start..start].chars().count();
        let width = expr[start..end].chars().count().max(1);
        let gutter = line_number.to_string().len();
        // Tabs become spaces so that the caret lines up with the text above it.
        let shown = line_text.replace('\t', " ");
        let mut out = format!(
            "error: failed to parse filter expression: {expected}\n\
             {empty:gutter$} |\n\
             {line_number} | {shown}\n\
             {empty:gutter$} | {empty:indent$}{carets} {label}",
            expected = self.kind.expected(),
            empty = "",
            carets = "^".repeat(width),
            label = self.kind,
        );
        if let Some(help) = self.help() {
            out.push_str(&format!("\n{empty:gutter$} = help: {help}", empty = ""));
        }
        out
    }
}

struct Location {
    line: usize,
    column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// The 1-based column, in characters, of byte `offset` within its line.
pub(crate) fn column_of(source: &str, offset: usize) -> usize {
    let offset = floor_char_boundary(source, offset);
    let (_, line_start) = line_of(source, offset);
    source[line_start..offset].chars().count() + 1
}

/// Returns the 1-based line number containing byte `offset` and the byte offset
/// where that line starts.
fn line_of(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, line_start)
}

/// The largest char boundary of `s` at or below `index`, clamped to `s.len()`.
fn floor_char_boundary(s: &str, index: usize) -> usize {
    let mut index = index.min(s.len());
    while !s.is_char_boundary(index) {
        index -= 1;
    }
    index
}

/// The predicate within two edits of `name`, if there is exactly one best.
fn closest_predicate(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase().replace('-', "_");
    PREDICATES
        .iter()
        .map(|p| (edit_distance(&lower, p), *p))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, p)| p)
}

/// Levenshtein distance, counting an adjacent transposition as one edit so that
/// `tset` is one step from `test`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the dynamic-programming table: two back, one back, current.
    let mut two_back: Vec<usize> = vec![0; b.len() + 1];
    let mut one_back: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (one_back[j] + 1).min(current[j - 1] + 1).min(one_back[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(two_back[j - 2] + 1);
            }
            current[j] = best;
        }
        std::mem::swap(&mut two_back, &mut one_back);
        std::mem::swap(&mut one_back, &mut current);
    }
    one_back[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_transpositions_once() {
        let cases = [
            ("test", "test", 0),
            ("tset", "test", 1),
            ("tst", "test", 1),
            ("tests", "test", 1),
            ("packge", "package", 1),
            ("binary_di", "binary_id", 1),
            ("", "all", 3),
            ("xyz", "all", 3),
        ];
        for (a, b, expected) in cases {
            assert_eq!(edit_distance(a, b), expected, "{a} -> {b}");
        }
    }

    #[test]
    fn suggests_the_closest_predicate() {
        let cases = [
            ("tset", Some("test")),
            ("Test", Some("test")),
            ("packages", Some("package")),
            ("binary-id", Some("binary_id")),
            ("binaryid", Some("binary_id")),
            ("dep", Some("deps")),
            ("platfrom", Some("platform")),
            ("frobnicate", None),
        ];
        for (name, expected) in cases {
            assert_eq!(closest_predicate(name), expected, "{name}");
        }
    }

    #[test]
    fn locates_lines_and_columns() {
        let source = "all()\n| tést(x)\r\n| bad";
        let error = FilterParseError::new(source, 20..23, FilterErrorKind::EmptyMatcher);
        assert_eq!((error.line(), error.column()), (3, 3));
        let error = FilterParseError::new(source, 10..11, FilterErrorKind::EmptyMatcher);
        assert_eq!((error.line(), error.column()), (2, 4));
        // Offsets past the end or inside a character are pulled back, not panicked on.
        let error = FilterParseError::new(source, 10..500, FilterErrorKind::EmptyMatcher);
        assert_eq!(error.span(), 9..source.len());
    }
}
