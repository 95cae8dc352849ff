//! A hand-written recursive-descent parser for nextest's filterset language.
//!
//! The grammar, from loosest to tightest binding (nextest's reference, "Operator
//! precedence"; operators of one level associate to the left):
//!
//! ```text
//! or_expr   = and_expr { ("or" | "|" | "+") and_expr }
//! and_expr  = unary { ("and" | "&" | "-") unary }
//! unary     = ("not" | "!") unary | primary
//! primary   = "(" or_expr ")" | predicate
//! predicate = name "(" [argument] ")"
//! argument  = "/" regex "/" | ("=" | "~" | "#") string | string
//! ```
//!
//! A string runs to the next unescaped `)` or `,`, and may contain `(`. The escapes
//! are those of nextest's reference: `\n`, `\r`, `\t`, `\\`, `\/`, `\)`, `\,` and
//! `\u{...}` with up to six hex digits. nextest's parser also takes `\b` and `\f`,
//! undocumented, so this one does too. Inside a regex, `\/` is a slash and every
//! other backslash pair is handed to the regex crate as written.
//!
//! Whitespace between tokens may be spaces, tabs and line breaks, so that a default
//! filter can be written as a multi-line TOML string. Inside a string argument it
//! is part of the name, as in nextest: `test( a )` looks for `a ` (leading spaces
//! before the argument are skipped, trailing ones are kept).
//!
//! This parser accepts a little more than nextest's, without changing the meaning
//! of anything nextest accepts: `not`, `and` and `or` need only be followed by
//! something that is not a letter (nextest wants a space, so it rejects
//! `not(test(a))`), tabs count as whitespace, and `platform(=host)` is allowed
//! because the reference names equality as platform()'s default matcher.
//!
//! The parser stops at the first error rather than recovering, and reports it with
//! its byte span.

use super::Platform;
use super::error::{FilterErrorKind, FilterParseError, PREDICATES, column_of};
use super::expr::{Expr, Pred};
use super::glob::Glob;
use super::matcher::{DefaultMatcher, NameMatcher};
use regex::Regex;
use std::ops::Range;

/// How deep parentheses and negations may nest. Evaluation recurses once per
/// level, so this bounds the stack a hostile or generated expression can use.
pub(crate) const MAX_DEPTH: usize = 128;

type Result<T> = std::result::Result<T, FilterParseError>;

/// Parses a whole expression.
pub(crate) fn parse(source: &str) -> Result<Expr> {
    let mut parser = Parser { source, pos: 0, depth: 0 };
    let expr = parser.parse_or()?;
    parser.skip_ws();
    if parser.pos < source.len() {
        let (span, found) = parser.current_token();
        let found = if found == "`)`" { "an unmatched `)`".to_owned() } else { found };
        return Err(parser.error(span, FilterErrorKind::TrailingInput { found }));
    }
    Ok(expr)
}

struct Parser<'a> {
    source: &'a str,
    /// The byte offset of the next character to read.
    pos: usize,
    /// How many parentheses and negations enclose the current position.
    depth: usize,
}

/// A character of a keyword or of a predicate name.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.source[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(' ' | '\t' | '\n' | '\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn error(&self, span: Range<usize>, kind: FilterErrorKind) -> FilterParseError {
        FilterParseError::new(self.source, span, kind)
    }

    /// The word (letters, digits, `_`) starting at the current position; empty if
    /// none does.
    fn word(&self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !is_word_char(c)).unwrap_or(rest.len());
        &rest[..len]
    }

    /// The token at the current position, for an error: its span and a description.
    fn current_token(&self) -> (Range<usize>, String) {
        let word = self.word();
        match self.peek() {
            None => (self.pos..self.pos, "the end of the expression".to_owned()),
            Some(_) if !word.is_empty() => (self.pos..self.pos + word.len(), format!("`{word}`")),
            Some(c) => (self.pos..self.pos + c.len_utf8(), format!("`{c}`")),
        }
    }

    /// Notes one more level of nesting, refusing to go past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let (span, _) = self.current_token();
            return Err(self.error(span, FilterErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn invalid_operator(&self, found: &str, suggestion: &'static str) -> FilterParseError {
        self.error(
            self.pos..self.pos + found.len(),
            FilterErrorKind::InvalidOperator { found: found.to_owned(), suggestion },
        )
    }

    fn parse_or(&mut self) -> Result<Expr> {
        let mut operands = vec![self.parse_and()?];
        while self.eat_or_operator()? {
            operands.push(self.parse_and()?);
        }
        Ok(flatten(operands, Expr::Or))
    }

    fn eat_or_operator(&mut self) -> Result<bool> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with("||") {
            return Err(self.invalid_operator("||", "|"));
        }
        if rest.starts_with(['|', '+']) {
            self.pos += 1;
            return Ok(true);
        }
        let word = self.word();
        if word == "or" {
            self.pos += word.len();
            return Ok(true);
        }
        if word.eq_ignore_ascii_case("or") {
            return Err(self.invalid_operator(word, "or"));
        }
        Ok(false)
    }

    fn parse_and(&mut self) -> Result<Expr> {
        let mut operands = vec![self.parse_unary()?];
        loop {
            self.skip_ws();
            let rest = self.rest();
            let word = self.word();
            let difference = if rest.starts_with("&&") {
                return Err(self.invalid_operator("&&", "&"));
            } else if rest.starts_with('&') {
                self.pos += 1;
                false
            } else if rest.starts_with('-') {
                self.pos += 1;
                true
            } else if word == "and" {
                self.pos += word.len();
                false
            } else if word.eq_ignore_ascii_case("and") {
                return Err(self.invalid_operator(word, "and"));
            } else {
                break;
            };
            let operand = self.parse_unary()?;
            // `a - b` is `a and not b`.
            operands.push(if difference { Expr::Not(Box::new(operand)) } else { operand });
        }
        Ok(flatten(operands, Expr::And))
    }

    fn parse_unary(&mut self) -> Result<Expr> {
        self.skip_ws();
        let operator_len = if self.peek() == Some('!') {
            1
        } else if self.word() == "not" {
            "not".len()
        } else {
            return self.parse_primary();
        };
        self.enter()?;
        self.pos += operator_len;
        let operand = self.parse_unary()?;
        self.leave();
        Ok(Expr::Not(Box::new(operand)))
    }

    fn parse_primary(&mut self) -> Result<Expr> {
        self.skip_ws();
        match self.peek() {
            Some('(') => {
                let open = self.pos;
                self.enter()?;
                self.pos += 1;
                let inner = self.parse_or()?;
                self.skip_ws();
                if self.peek() != Some(')') {
                    let (span, _) = self.current_token();
                    let open_column = column_of(self.source, open);
                    return Err(self.error(span, FilterErrorKind::UnclosedGroup { open_column }));
                }
                self.pos += 1;
                self.leave();
                Ok(inner)
            }
            Some(c) if is_word_char(c) => self.parse_predicate(),
            _ => {
                let (span, found) = self.current_token();
                Err(self.error(span, FilterErrorKind::ExpectedExpression { found }))
            }
        }
    }

    fn parse_predicate(&mut self) -> Result<Expr> {
        let start = self.pos;
        let rest = self.rest();
        // Predicate names are words, but a `-` is taken in too so that a misspelling
        // like `binary-id` is reported whole.
        let len = rest.find(|c| !(is_word_char(c) || c == '-')).unwrap_or(rest.len());
        let name = &rest[..len];
        let name_span = start..start + len;
        if ["and", "or"].iter().any(|k| name.eq_ignore_ascii_case(k)) {
            let found = format!("`{name}`");
            return Err(self.error(name_span, FilterErrorKind::ExpectedExpression { found }));
        }
        if name.eq_ignore_ascii_case("not") {
            return Err(self.invalid_operator(name, "not"));
        }
        let unknown = || FilterErrorKind::UnknownPredicate { name: name.to_owned() };
        if !PREDICATES.contains(&name) {
            return Err(self.error(name_span, unknown()));
        }
        self.pos += len;
        self.skip_ws();
        if self.peek() != Some('(') {
            let (span, _) = self.current_token();
            let predicate = name.to_owned();
            return Err(self.error(span, FilterErrorKind::ExpectedOpenParen { predicate }));
        }
        self.pos += 1;
        let pred = match name {
            "all" => {
                self.expect_no_argument(name)?;
                Pred::All
            }
            "none" => {
                self.expect_no_argument(name)?;
                Pred::None
            }
            "default" => {
                self.expect_no_argument(name)?;
                Pred::Default
            }
            "platform" => Pred::Platform(self.parse_platform()?),
            // nextest's reference, "Default matchers": contains for test(), glob
            // for the package and binary predicates, equality for kind() (and for
            // platform(), handled above).
            "test" => Pred::Test(self.parse_argument(name, DefaultMatcher::Contains)?.0),
            "package" => Pred::Package(self.parse_argument(name, DefaultMatcher::Glob)?.0),
            "deps" => {
                let (matcher, key) = self.parse_argument(name, DefaultMatcher::Glob)?;
                Pred::Deps { matcher, key: key.into() }
            }
            "rdeps" => {
                let (matcher, key) = self.parse_argument(name, DefaultMatcher::Glob)?;
                Pred::Rdeps { matcher, key: key.into() }
            }
            "binary" => Pred::Binary(self.parse_argument(name, DefaultMatcher::Glob)?.0),
            "binary_id" => Pred::BinaryId(self.parse_argument(name, DefaultMatcher::Glob)?.0),
            "kind" => Pred::Kind(self.parse_argument(name, DefaultMatcher::Equal)?.0),
            // nextest 0.9.133's `group()`; its default matcher is a glob, as
            // `cargo nextest list -E 'group(ser*)'` shows.
            "group" => Pred::Group(self.parse_argument(name, DefaultMatcher::Glob)?.0),
            _ => return Err(self.error(name_span, unknown())),
        };
        Ok(Expr::Leaf { pred, span: start..self.pos })
    }

    /// Reads the `)` of `all()`, `none()` or `default()`.
    fn expect_no_argument(&mut self, predicate: &str) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
            return Ok(());
        }
        let rest = self.rest();
        if rest.is_empty() {
            let predicate = predicate.to_owned();
            return Err(self.error(self.pos..self.pos, FilterErrorKind::ExpectedCloseParen { predicate }));
        }
        let argument = rest[..rest.find(')').unwrap_or(rest.len())].trim_end();
        let predicate = predicate.to_owned();
        Err(self.error(self.pos..self.pos + argument.len(), FilterErrorKind::UnexpectedArgument { predicate }))
    }

    /// Reads a predicate's argument and its `)`. Also returns the argument as
    /// written, which identifies it in the dependency-closure cache.
    fn parse_argument(&mut self, predicate: &str, default: DefaultMatcher) -> Result<(NameMatcher, &'a str)> {
        self.skip_ws();
        let start = self.pos;
        let matcher = if self.peek() == Some('/') {
            self.parse_regex()?
        } else {
            let prefix = match self.peek() {
                Some('=') => Some(DefaultMatcher::Equal),
                Some('~') => Some(DefaultMatcher::Contains),
                Some('#') => Some(DefaultMatcher::Glob),
                _ => None,
            };
            if prefix.is_some() {
                self.pos += 1;
            }
            let (text, span) = self.parse_string()?;
            match prefix.unwrap_or(default) {
                DefaultMatcher::Equal => NameMatcher::Equal(text),
                DefaultMatcher::Contains => NameMatcher::Contains(text),
                DefaultMatcher::Glob => match Glob::new(&text) {
                    Ok(glob) => NameMatcher::Glob(glob),
                    // `{a,b}` ends the string at the comma; saying how to escape it
                    // helps more than reporting the half alternation.
                    Err(_) if self.peek() == Some(',') => {
                        return Err(self.error(self.pos..self.pos + 1, FilterErrorKind::UnexpectedComma));
                    }
                    Err(error) => {
                        let reason = error.to_string();
                        return Err(self.error(span, FilterErrorKind::InvalidGlob { reason }));
                    }
                },
            }
        };
        let written = &self.source[start..self.pos];
        self.finish_argument(predicate)?;
        Ok((matcher, written))
    }

    /// Reads the `)` after an argument.
    fn finish_argument(&mut self, predicate: &str) -> Result<()> {
        self.skip_ws();
        match self.peek() {
            Some(')') => {
                self.pos += 1;
                Ok(())
            }
            Some(',') => Err(self.error(self.pos..self.pos + 1, FilterErrorKind::UnexpectedComma)),
            _ => {
                let (span, _) = self.current_token();
                let predicate = predicate.to_owned();
                Err(self.error(span, FilterErrorKind::ExpectedCloseParen { predicate }))
            }
        }
    }

    /// Reads `platform(...)`'s argument and its `)`. The value is compared for
    /// equality (an `=` prefix is allowed, since the reference names equality as
    /// platform()'s default matcher) after trimming, as nextest does.
    fn parse_platform(&mut self) -> Result<Platform> {
        self.skip_ws();
        if self.peek() == Some('=') {
            self.pos += 1;
        }
        let start = self.pos;
        let text = self.parse_string_contents()?;
        let platform = match text.trim() {
            "" => return Err(self.error(start..start, FilterErrorKind::EmptyMatcher)),
            "host" => Platform::Host,
            "target" => Platform::Target,
            value => {
                let written = &self.source[start..self.pos];
                let leading = written.len() - written.trim_start().len();
                let span = start + leading..start + leading + written.trim().len();
                let value = value.to_owned();
                return Err(self.error(span, FilterErrorKind::InvalidPlatform { value }));
            }
        };
        self.finish_argument("platform")?;
        Ok(platform)
    }

    /// Reads a non-empty string argument, returning it with its span.
    fn parse_string(&mut self) -> Result<(String, Range<usize>)> {
        let start = self.pos;
        let text = self.parse_string_contents()?;
        if text.is_empty() {
            return Err(self.error(start..start, FilterErrorKind::EmptyMatcher));
        }
        Ok((text, start..self.pos))
    }

    /// Reads a string up to the next unescaped `)` or `,` or the end, resolving
    /// escapes.
    fn parse_string_contents(&mut self) -> Result<String> {
        let mut text = String::new();
        loop {
            match self.peek() {
                None | Some(')' | ',') => return Ok(text),
                Some('\\') => text.push(self.parse_escape()?),
                Some(c) => {
                    text.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn parse_escape(&mut self) -> Result<char> {
        let start = self.pos;
        self.pos += 1;
        let resolved = match self.bump() {
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some(c @ ('\\' | '/' | ')' | ',')) => Some(c),
            Some('u') => self.parse_unicode_escape(),
            _ => None,
        };
        resolved.ok_or_else(|| {
            let sequence = self.source[start..self.pos].to_owned();
            self.error(start..self.pos, FilterErrorKind::InvalidEscape { sequence })
        })
    }

    /// Reads the `{7FFF}` of a `\u{7FFF}` escape.
    fn parse_unicode_escape(&mut self) -> Option<char> {
        if self.peek() != Some('{') {
            return None;
        }
        self.pos += 1;
        let digits_start = self.pos;
        while self.pos - digits_start < 6 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        let digits = &self.source[digits_start..self.pos];
        if digits.is_empty() || self.peek() != Some('}') {
            return None;
        }
        self.pos += 1;
        u32::from_str_radix(digits, 16).ok().and_then(char::from_u32)
    }

    /// Reads a `/regex/` and compiles it.
    fn parse_regex(&mut self) -> Result<NameMatcher> {
        let open = self.pos;
        self.pos += 1;
        let mut pattern = String::new();
        loop {
            match self.bump() {
                Some('/') => break,
                Some('\\') => match self.bump() {
                    Some('/') => pattern.push('/'),
                    Some(c) => {
                        pattern.push('\\');
                        pattern.push(c);
                    }
                    None => {
                        return Err(self.error(open..open + 1, FilterErrorKind::UnclosedRegex));
                    }
                },
                Some(c) => pattern.push(c),
                None => {
                    return Err(self.error(open..open + 1, FilterErrorKind::UnclosedRegex));
                }
            }
        }
        Regex::new(&pattern)
            .map(NameMatcher::Regex)
            .map_err(|error| self.error(open..self.pos, FilterErrorKind::InvalidRegex { reason: regex_reason(&error) }))
    }
}

/// Makes one expression of a list of operands joined by one operator.
fn flatten(mut operands: Vec<Expr>, join: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1 { operands.swap_remove(0) } else { join(operands) }
}

/// The one-line reason in a regex crate error. Syntax errors arrive as several
/// lines (the pattern, a caret, then `error: ...`); the caret is redundant with
/// ours, so only the reason is kept.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(message) => {
            message.lines().find_map(|line| line.strip_prefix("error: ")).unwrap_or(message.trim()).to_owned()
        }
        regex::Error::CompiledTooBig(limit) => {
            format!("the compiled regex would be larger than the limit of {limit} bytes")
        }
        other => other.to_string(),
    }
}
