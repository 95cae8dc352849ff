//! Glob patterns for the `#glob` matcher and the default matcher of `package()`,
//! `deps()`, `rdeps()`, `binary()` and `binary_id()`.
//!
//! nextest builds its globs with the `globset` crate, configured with
//! `backslash_escape(false)` and `empty_alternates(true)` and the default
//! `literal_separator(false)`, then matches the whole name against the regex that
//! globset produces. This module reproduces that dialect by translating the glob to
//! a regex itself, which keeps tempo's dependency tree at the `regex` crate that the
//! `/regex/` matcher needs anyway (globset would add `bstr` and `log` and bring a
//! path-oriented API we would have to configure away). Translating to a regex, as
//! globset does, also keeps matching linear in the length of the name: a
//! backtracking glob matcher can go exponential on patterns like `*a*a*a*b`.
//!
//! The dialect, following globset with nextest's options:
//!
//! - `*` matches any sequence of characters, including `::` and `/`.
//! - `?` matches exactly one character.
//! - `[abc]`, `[a-z]`, `[!x]` and `[^x]` are character classes. A `]` first in
//!   the class, or a `-` first or last, is literal. This is the only way to match
//!   a literal metacharacter: `[*]`, `[?]`, `[[]`, `[{]`.
//! - `{a,b,}` matches any one of the alternatives, which may be empty and may nest.
//!   A `,` outside braces is literal; a `}` without a matching `{` is an error.
//! - A backslash is an ordinary character, because nextest turns off globset's
//!   backslash escapes (the filterset string syntax has already consumed its own
//!   escapes such as `\,` and `\)` before the glob is built).
//! - `**` keeps globset's path meaning next to a `/`: `**/x` also matches `x`, and
//!   `a/**/b` also matches `a/b`. Elsewhere `**` is the same as `*`.
//!
//! One deliberate difference: globset compiles to a byte-oriented regex, so its `?`
//! matches one byte of a non-ASCII name. Here `?` matches one character, which is
//! what a person writing the pattern means.

use regex::Regex;
use std::iter::Peekable;
use std::str::Chars;

/// A compiled glob that matches a whole name.
#[derive(Clone, Debug)]
pub(crate) struct Glob {
    /// The pattern as written, after filterset escapes were resolved.
    pattern: String,
    compiled: Compiled,
}

#[derive(Clone, Debug)]
enum Compiled {
    /// A pattern without metacharacters is just a string comparison; most package
    /// names given to `package()` are of this kind, so they skip the regex engine.
    Literal(String),
    Regex(Regex),
}

/// Why a glob pattern could not be compiled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GlobError {
    #[error("unclosed character class; a `[` needs a matching `]` (write `[[]` for a literal `[`)")]
    UnclosedClass,
    #[error("invalid character range `{0}-{1}`; a range must go from the lower character to the higher")]
    InvalidRange(char, char),
    #[error("unclosed alternation; a `{{` needs a matching `}}` (write `[{{]` for a literal `{{`)")]
    UnclosedAlternates,
    #[error("unopened alternation; this `}}` has no matching `{{` (write `[}}]` for a literal `}}`)")]
    UnopenedAlternates,
    #[error("the glob is too large to compile: {0}")]
    TooBig(String),
    #[error("alternations nest more than {MAX_ALTERNATION_DEPTH} deep")]
    TooDeep,
}

/// How deep `{...}` alternations may nest. Compiling and dropping a glob recurses
/// once per level, so without a bound `{{{{...}}}}` written a hundred thousand deep
/// overflows the stack; the regex crate would refuse such a pattern anyway (its
/// default nesting limit is 250 groups, and each level of alternation is a group).
pub(crate) const MAX_ALTERNATION_DEPTH: usize = 64;

impl Glob {
    /// Compiles a glob pattern.
    pub(crate) fn new(pattern: &str) -> Result<Glob, GlobError> {
        let tokens = GlobParser::new(pattern).parse()?;
        let compiled = match literal_text(&tokens) {
            Some(text) => Compiled::Literal(text),
            None => {
                let regex = to_regex(&tokens);
                // The translation only emits escaped literals and well-formed groups,
                // so the only way to fail here is the regex size limit.
                Compiled::Regex(Regex::new(&regex).map_err(|error| GlobError::TooBig(error.to_string()))?)
            }
        };
        Ok(Glob { pattern: pattern.to_owned(), compiled })
    }

    /// The pattern as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the glob matches the whole of `name`.
    pub(crate) fn is_match(&self, name: &str) -> bool {
        match &self.compiled {
            Compiled::Literal(text) => text == name,
            Compiled::Regex(regex) => regex.is_match(name),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`
    Any,
    /// `*`
    ZeroOrMore,
    /// `**/` at the start of a pattern or alternative: nothing, or anything ending in `/`.
    RecursivePrefix,
    /// `/**` at the end of a pattern or alternative: `/` followed by anything.
    RecursiveSuffix,
    /// `/**/` in the middle: a single `/`, or `/` anything `/`.
    RecursiveZeroOrMore,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alternates(Vec<Vec<Token>>),
}

struct GlobParser<'a> {
    chars: Peekable<Chars<'a>>,
    /// The character consumed before the current one, for the `**` rules.
    prev: Option<char>,
    cur: Option<char>,
    /// For each open `{`, the index in `branches` where its alternatives start.
    open_alternates: Vec<usize>,
    /// The token lists being built; tokens go to the last one. The first entry is
    /// the top level of the pattern and is never removed.
    branches: Vec<Vec<Token>>,
}

impl<'a> GlobParser<'a> {
    fn new(pattern: &'a str) -> Self {
        GlobParser {
            chars: pattern.chars().peekable(),
            prev: None,
            cur: None,
            open_alternates: Vec::new(),
            branches: vec![Vec::new()],
        }
    }

    fn bump(&mut self) -> Option<char> {
        self.prev = self.cur;
        self.cur = self.chars.next();
        self.cur
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn branch(&mut self) -> &mut Vec<Token> {
        // The top-level branch is never drained, so there is always a last one.
        let last = self.branches.len() - 1;
        &mut self.branches[last]
    }

    fn push(&mut self, token: Token) {
        self.branch().push(token);
    }

    fn in_alternates(&self) -> bool {
        !self.open_alternates.is_empty()
    }

    fn parse(mut self) -> Result<Vec<Token>, GlobError> {
        while let Some(c) = self.bump() {
            match c {
                '?' => self.push(Token::Any),
                '*' => self.parse_star(),
                '[' => self.parse_class()?,
                '{' => {
                    if self.open_alternates.len() == MAX_ALTERNATION_DEPTH {
                        return Err(GlobError::TooDeep);
                    }
                    self.open_alternates.push(self.branches.len());
                    self.branches.push(Vec::new());
                }
                '}' => {
                    let start = self.open_alternates.pop().ok_or(GlobError::UnopenedAlternates)?;
                    let alternatives = self.branches.drain(start..).collect();
                    self.push(Token::Alternates(alternatives));
                }
                ',' if self.in_alternates() => self.branches.push(Vec::new()),
                c => self.push(Token::Literal(c)),
            }
        }
        if self.in_alternates() {
            return Err(GlobError::UnclosedAlternates);
        }
        let mut branches = self.branches;
        Ok(branches.swap_remove(0))
    }

    /// Handles a `*`, which is `ZeroOrMore` unless it is a `**` next to a `/`
    /// (globset's recursive wildcards).
    fn parse_star(&mut self) {
        let prev = self.prev;
        if self.peek() != Some('*') {
            self.push(Token::ZeroOrMore);
            return;
        }
        self.bump();
        let at_branch_start = self.branch().is_empty();
        let next = self.peek();
        if at_branch_start {
            if next.is_none() || next == Some('/') {
                if next == Some('/') {
                    self.bump();
                }
                self.push(Token::RecursivePrefix);
            } else {
                self.push(Token::ZeroOrMore);
            }
            return;
        }
        if prev != Some('/') {
            self.push(Token::ZeroOrMore);
            return;
        }
        let ends_alternative = self.in_alternates() && matches!(next, Some(',' | '}'));
        let replacement = if next.is_none() || ends_alternative {
            Token::RecursiveSuffix
        } else if next == Some('/') {
            self.bump();
            Token::RecursiveZeroOrMore
        } else {
            self.push(Token::ZeroOrMore);
            return;
        };
        // The token for the `/` before the `**` is absorbed into the recursive
        // token. As in globset, a `**/**` collapses into the first recursive token.
        let branch = self.branch();
        match branch.pop() {
            Some(kept @ (Token::RecursivePrefix | Token::RecursiveSuffix)) => branch.push(kept),
            _ => branch.push(replacement),
        }
    }

    fn parse_class(&mut self) -> Result<(), GlobError> {
        let negated = matches!(self.peek(), Some('!' | '^'));
        if negated {
            self.bump();
        }
        let mut ranges: Vec<(char, char)> = Vec::new();
        let mut first = true;
        let mut in_range = false;
        loop {
            let c = self.bump().ok_or(GlobError::UnclosedClass)?;
            match c {
                ']' if !first => break,
                '-' if !first && !in_range => in_range = true,
                c => {
                    if in_range {
                        // `in_range` is only set after at least one character.
                        let Some(last) = ranges.last_mut() else {
                            return Err(GlobError::UnclosedClass);
                        };
                        if c < last.0 {
                            return Err(GlobError::InvalidRange(last.0, c));
                        }
                        last.1 = c;
                        in_range = false;
                    } else {
                        ranges.push((c, c));
                    }
                }
            }
            first = false;
        }
        if in_range {
            // A trailing `-` is literal.
            ranges.push(('-', '-'));
        }
        self.push(Token::Class { negated, ranges });
        Ok(())
    }
}

/// Returns the pattern's text if it has no metacharacters at all.
fn literal_text(tokens: &[Token]) -> Option<String> {
    tokens
        .iter()
        .map(|token| match token {
            Token::Literal(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn to_regex(tokens: &[Token]) -> String {
    let mut out = String::from("(?s)^(?:");
    // globset special-cases a pattern that is only `**`: it matches everything.
    if tokens == [Token::RecursivePrefix] {
        out.push_str(".*");
    } else {
        push_tokens(tokens, &mut out);
    }
    out.push_str(")$");
    out
}

fn push_tokens(tokens: &[Token], out: &mut String) {
    for token in tokens {
        match token {
            Token::Literal(c) => push_literal(*c, out),
            Token::Any => out.push('.'),
            Token::ZeroOrMore => out.push_str(".*"),
            Token::RecursivePrefix => out.push_str("(?:/?|.*/)"),
            Token::RecursiveSuffix => out.push_str("/.*"),
            Token::RecursiveZeroOrMore => out.push_str("(?:/|/.*/)"),
            Token::Class { negated, ranges } => {
                out.push('[');
                if *negated {
                    out.push('^');
                }
                for &(lo, hi) in ranges {
                    push_literal(lo, out);
                    if hi != lo {
                        out.push('-');
                        push_literal(hi, out);
                    }
                }
                out.push(']');
            }
            Token::Alternates(alternatives) => {
                out.push_str("(?:");
                for (i, alternative) in alternatives.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    push_tokens(alternative, out);
                }
                out.push(')');
            }
        }
    }
}

/// Escapes one character for use in a regex, both outside and inside a class.
fn push_literal(c: char, out: &mut String) {
    let mut buf = [0; 4];
    out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
}

#[cfg(test)]
mod tests {
    use super::*;

    // Long: a table of cases, one line each.
    #[test]
    fn matches_like_globset_with_nextest_options() {
        // (pattern, name, expected)
        let cases: &[(&str, &str, bool)] = &[
            // Literals match the whole name only.
            ("foo", "foo", true),
            ("foo", "foobar", false),
            ("foo", "xfoo", false),
            ("", "", true),
            ("", "a", false),
            // `*` crosses `::` and `/`.
            ("*", "", true),
            ("*", "anything::at/all", true),
            ("foo*", "foo", true),
            ("foo*", "foo-bar", true),
            ("foo*", "barfoo", false),
            ("*-core", "tempo-core", true),
            ("*-core", "tempo-core-extra", false),
            ("a*b*c", "a::x/b--c", true),
            ("a*b*c", "acb", false),
            ("tempo::*", "tempo::bin/tempo", true),
            ("tempo::bin/*", "tempo::bin/tempo", true),
            ("tempo::bin/*", "tempo::test/tempo", false),
            // `?` is exactly one character, including a non-ASCII one.
            ("fo?", "foo", true),
            ("fo?", "fo", false),
            ("fo?", "fooo", false),
            ("?", "é", true),
            ("???", "a/b", true),
            // Classes.
            ("[abc]x", "bx", true),
            ("[abc]x", "dx", false),
            ("[a-c]", "b", true),
            ("[a-c]", "d", false),
            ("[!a-c]", "d", true),
            ("[!a-c]", "a", false),
            ("[^a-c]", "d", true),
            ("[^a-c]", "b", false),
            ("[0-9a-f]", "e", true),
            ("[0-9a-f]", "g", false),
            ("[-a]", "-", true),
            ("[a-]", "-", true),
            ("[a-]", "b", false),
            ("[]]", "]", true),
            ("[!]]", "a", true),
            ("[!]]", "]", false),
            ("[*]", "*", true),
            ("[*]", "a", false),
            ("[?]", "?", true),
            ("[?]", "a", false),
            ("[[]", "[", true),
            ("[{]", "{", true),
            ("[\\]", "\\", true),
            ("[.]", "a", false),
            ("[^]]", "^", true),
            ("[é-ê]", "ê", true),
            // Regex metacharacters are literal.
            ("a.b", "a.b", true),
            ("a.b", "axb", false),
            ("a+", "aa", false),
            ("a+", "a+", true),
            ("(a|b)", "(a|b)", true),
            ("(a|b)", "a", false),
            ("$^", "$^", true),
            // Backslash is an ordinary character.
            ("a\\*", "a\\", true),
            ("a\\*", "a\\bc", true),
            ("a\\*", "a*", false),
            ("\\", "\\", true),
            // Alternation.
            ("{foo,bar}", "foo", true),
            ("{foo,bar}", "bar", true),
            ("{foo,bar}", "baz", false),
            ("{foo,bar}", "foobar", false),
            ("tempo{,-core}", "tempo", true),
            ("tempo{,-core}", "tempo-core", true),
            ("tempo{,-core}", "tempo-cli", false),
            ("{}", "", true),
            ("{a,{b,c}}d", "cd", true),
            ("{a,{b,c}}d", "ad", true),
            ("{a,{b,c}}d", "d", false),
            ("{a*,b?}", "axyz", true),
            ("{a*,b?}", "bx", true),
            ("{a*,b?}", "bxy", false),
            // A comma outside braces is literal.
            ("a,b", "a,b", true),
            ("a,b", "a", false),
            // Recursive wildcards.
            ("**", "", true),
            ("**", "a/b/c", true),
            ("**/b", "b", true),
            ("**/b", "a/b", true),
            ("**/b", "a/x/b", true),
            ("**/b", "ab", false),
            ("a/**", "a/", true),
            ("a/**", "a/b/c", true),
            ("a/**", "a", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "ab", false),
            ("a**b", "a/x/b", true),
            ("a**b", "ab", true),
            ("**a", "xa", true),
            ("**a", "x/a", true),
            ("{a/**,c}", "a/x", true),
            ("{a/**,c}", "c", true),
            ("{**/b,c}", "b", true),
            // Case matters.
            ("Foo", "foo", false),
        ];
        for &(pattern, name, expected) in cases {
            let glob = Glob::new(pattern).unwrap_or_else(|error| panic!("glob {pattern:?} failed to compile: {error}"));
            assert_eq!(glob.is_match(name), expected, "glob {pattern:?} against {name:?}");
        }
    }

    #[test]
    fn rejects_malformed_globs() {
        let cases: &[(&str, GlobError)] = &[
            ("[", GlobError::UnclosedClass),
            ("[]", GlobError::UnclosedClass),
            ("[!", GlobError::UnclosedClass),
            ("[!]", GlobError::UnclosedClass),
            ("[^]", GlobError::UnclosedClass),
            ("a[bc", GlobError::UnclosedClass),
            ("[z-a]", GlobError::InvalidRange('z', 'a')),
            ("[z--]", GlobError::InvalidRange('z', '-')),
            ("{a,b", GlobError::UnclosedAlternates),
            ("{a,{b,c}", GlobError::UnclosedAlternates),
            ("a,b}", GlobError::UnopenedAlternates),
            ("{a,b}}", GlobError::UnopenedAlternates),
            ("}", GlobError::UnopenedAlternates),
        ];
        for (pattern, expected) in cases {
            match Glob::new(pattern) {
                Ok(_) => panic!("glob {pattern:?} compiled but should not have"),
                Err(error) => assert_eq!(&error, expected, "glob {pattern:?}"),
            }
        }
    }

    /// Regression (found by fuzzing): `{` nested 100,000 deep overflowed the stack
    /// while the glob was compiled to a regex, and again while it was dropped.
    #[test]
    fn deeply_nested_alternations_are_an_error_not_a_stack_overflow() {
        let nested = |depth: usize| format!("{}a{}", "{".repeat(depth), "}".repeat(depth));
        assert!(Glob::new(&nested(MAX_ALTERNATION_DEPTH)).expect("at the limit").is_match("a"));
        assert_eq!(Glob::new(&nested(MAX_ALTERNATION_DEPTH + 1)).unwrap_err(), GlobError::TooDeep);
        assert_eq!(Glob::new(&nested(100_000)).unwrap_err(), GlobError::TooDeep);
        // Side by side rather than nested, alternations are not limited.
        let wide = "{a,b}".repeat(1_000);
        assert!(Glob::new(&wide).is_ok());
    }

    #[test]
    fn plain_patterns_skip_the_regex_engine() {
        let glob = Glob::new("tempo-core").expect("valid glob");
        assert!(matches!(glob.compiled, Compiled::Literal(_)));
        assert_eq!(glob.as_str(), "tempo-core");
        let glob = Glob::new("tempo-*").expect("valid glob");
        assert!(matches!(glob.compiled, Compiled::Regex(_)));
    }
}
