//! Reads what libtest prints, as a batch needs it: which test started, how it ended,
//! and what a failed test printed.
//!
//! A batch runs many tests in one libtest process and learns of each one only from
//! libtest's pretty output, so that output is parsed here, apart from the process
//! handling, where its many edge cases can be tested on text alone.

use std::collections::HashMap;

/// A line of libtest's pretty output, as far as a batch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// `test NAME ... ` was printed: the test started.
    Started(String),
    /// Its result: `ok`, `FAILED` or `ignored`.
    Result(String, TestResult),
    /// A test started before the previous one's result could be read.
    Lost(String),
}

/// A test's result as libtest prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestResult {
    /// `ok`.
    Ok,
    /// `FAILED`.
    Failed,
    /// `ignored`.
    Ignored,
}

fn result_word(s: &str) -> Option<TestResult> {
    match s.trim_end() {
        "ok" => Some(TestResult::Ok),
        "FAILED" => Some(TestResult::Failed),
        w if w == "ignored" || w.starts_with("ignored, ") => Some(TestResult::Ignored),
        _ => None,
    }
}

/// Reads libtest's pretty output as it arrives, in pieces of any size.
///
/// With one test thread libtest prints `test NAME ... ` (and flushes) before the test
/// runs and the result word after it, so a start is seen at once, without waiting for
/// the end of the line. Output a test writes straight to the process's stdout (not
/// through `print!`, which libtest captures) can land between the two: a line of it is
/// skipped, and a result that is not alone on its line is not trusted.
///
/// A test may also print a line with no end: the parser keeps at most `limit` bytes of
/// a line (enough for `test NAME ... ` and a result word), and each byte fed is looked
/// at a bounded number of times, so memory stays flat and the work linear whatever
/// the test prints.
#[derive(Debug)]
pub struct LineParser {
    /// The current line's first bytes, at most `limit` of them.
    partial: Vec<u8>,
    /// Whether the current line was longer than `limit`: only its start can count.
    truncated: bool,
    /// Where the first ` ... ` of the current line starts, once seen.
    separator: Option<usize>,
    /// Where the search for that separator goes on.
    searched: usize,
    limit: usize,
    started_on_line: bool,
    current: Option<String>,
}

/// The most bytes of one line a [`LineParser`] keeps by default.
pub const LINE_LIMIT: usize = 64 * 1024;

impl Default for LineParser {
    fn default() -> LineParser {
        LineParser::with_limit(LINE_LIMIT)
    }
}

const SEPARATOR: &[u8] = b" ... ";

impl LineParser {
    /// A parser that keeps at most `limit` bytes of a line: the longest `test NAME ... `
    /// line it must recognise, and more.
    pub fn with_limit(limit: usize) -> LineParser {
        LineParser {
            partial: Vec::new(),
            truncated: false,
            separator: None,
            searched: 0,
            limit,
            started_on_line: false,
            current: None,
        }
    }

    /// Feeds bytes, returning what they completed.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            self.keep(&bytes[..nl]);
            bytes = &bytes[nl + 1..];
            let line = String::from_utf8_lossy(&self.partial).into_owned();
            if self.truncated {
                // Only a start can be read from a line's head; its result would
                // follow whatever the line lost.
                if let Some((name, _)) = split_start(&line)
                    && !self.started_on_line
                {
                    self.start(name.to_owned(), &mut out);
                }
            } else {
                self.complete_line(&line, &mut out);
            }
            self.partial.clear();
            self.truncated = false;
            self.separator = None;
            self.searched = 0;
            self.started_on_line = false;
        }
        self.keep(bytes);
        // A start is a line that is `test NAME ... ` so far, its first separator at
        // its end (as `split_start` reads it).
        if !self.started_on_line
            && self.partial.starts_with(b"test ")
            && let Some(at) = self.find_separator()
            && at + SEPARATOR.len() == self.partial.len()
            && !self.truncated
            && let Some((name, rest)) = split_start(&String::from_utf8_lossy(&self.partial))
            && rest.is_empty()
        {
            self.start(name.to_owned(), &mut out);
            self.started_on_line = true;
        }
        out
    }

    /// Appends to the current line what fits within the limit.
    fn keep(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.partial.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The first separator in the line, searching each byte once (save the few a
    /// separator cut in two left over).
    fn find_separator(&mut self) -> Option<usize> {
        if self.separator.is_none() {
            let from = self.searched.min(self.partial.len());
            if let Some(i) = self.partial[from..].windows(SEPARATOR.len()).position(|w| w == SEPARATOR) {
                self.separator = Some(from + i);
            } else {
                self.searched = self.partial.len().saturating_sub(SEPARATOR.len() - 1);
            }
        }
        self.separator
    }

    /// The bytes of the current line held now, for tests of the bound.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.partial.capacity()
    }

    /// The test that started and has no result yet.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    fn start(&mut self, name: String, out: &mut Vec<Parsed>) {
        if let Some(prev) = self.current.take() {
            out.push(Parsed::Lost(prev));
        }
        out.push(Parsed::Started(name.clone()));
        self.current = Some(name);
    }

    fn complete_line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        if let Some((name, rest)) = split_start(line) {
            if !self.started_on_line {
                self.start(name.to_owned(), out);
            }
            if let Some(result) = result_word(rest)
                && let Some(name) = self.current.take()
            {
                out.push(Parsed::Result(name, result));
            }
            return;
        }
        if self.current.is_some()
            && let Some(result) = result_word(line)
        {
            let name = self.current.take().expect("checked");
            out.push(Parsed::Result(name, result));
        }
    }
}

/// Splits `test NAME ... REST` into NAME and REST.
fn split_start(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("test ")?;
    let at = rest.find(" ... ")?;
    Some((&rest[..at], &rest[at + 5..]))
}

/// libtest's name for a test as it prints it, back to the name it lists: it adds
/// ` - should panic` to a `#[should_panic]` test, and rustdoc adds ` - compile` or
/// ` - compile fail` to a `no_run` or `compile_fail` doctest.
pub fn strip_suffix(name: &str) -> &str {
    [" - should panic", " - compile fail", " - compile"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

/// The `---- NAME stdout ----` sections libtest prints for failed tests, by test name
/// (with rustdoc's ` - compile` suffixes removed).
pub fn failure_sections(text: &str) -> HashMap<String, String> {
    let mut sections = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches('\n');
        if let Some(name) = trimmed.strip_prefix("---- ").and_then(|r| r.strip_suffix(" stdout ----")) {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body);
            }
            current = Some((strip_suffix(name).to_owned(), String::new()));
        } else if trimmed == "failures:" || trimmed.starts_with("test result: ") {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body);
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    if let Some((n, body)) = current {
        sections.insert(n, body);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(pieces: &[&str]) -> Vec<Parsed> {
        let mut p = LineParser::default();
        pieces.iter().flat_map(|s| p.feed(s.as_bytes())).collect()
    }

    fn started(n: &str) -> Parsed {
        Parsed::Started(n.into())
    }

    fn result(n: &str, r: TestResult) -> Parsed {
        Parsed::Result(n.into(), r)
    }

    #[test]
    fn a_start_is_seen_before_its_line_ends() {
        let mut p = LineParser::default();
        assert_eq!(p.feed(b"\nrunning 2 tests\ntest a::b ... "), vec![started("a::b")]);
        assert_eq!(p.current(), Some("a::b"));
        assert_eq!(p.feed(b"ok\ntest c ... "), vec![result("a::b", TestResult::Ok), started("c")]);
        assert_eq!(p.feed(b"FAILED\n\nfailures:\n"), vec![result("c", TestResult::Failed)]);
        assert_eq!(p.current(), None);
    }

    #[test]
    fn pieces_split_anywhere_give_the_same_results() {
        let text =
            "\nrunning 3 tests\ntest x ... ok\ntest y ... FAILED\ntest z ... ignored, slow\n\ntest result: FAILED.\n";
        let whole = feed_all(&[text]);
        assert_eq!(
            whole,
            vec![
                started("x"),
                result("x", TestResult::Ok),
                started("y"),
                result("y", TestResult::Failed),
                started("z"),
                result("z", TestResult::Ignored),
            ]
        );
        for cut in 0..text.len() {
            assert_eq!(feed_all(&[&text[..cut], &text[cut..]]), whole, "cut at {cut}");
        }
        let bytes: Vec<String> = text.chars().map(String::from).collect();
        let refs: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(feed_all(&refs), whole, "one byte at a time");
    }

    #[test]
    fn raw_output_between_start_and_result_is_skipped() {
        assert_eq!(
            feed_all(&["test a ... ", "direct write\n", "more\n", "ok\n"]),
            vec![started("a"), result("a", TestResult::Ok)]
        );
    }

    #[test]
    fn a_result_glued_to_raw_output_is_not_trusted() {
        assert_eq!(
            feed_all(&["test a ... ", "no newlineok\n", "test b ... ok\n"]),
            vec![started("a"), Parsed::Lost("a".into()), started("b"), result("b", TestResult::Ok)]
        );
    }

    #[test]
    fn doctest_names_with_spaces_parse() {
        assert_eq!(
            feed_all(&["test src/lib.rs - add (line 5) ... ok\n"]),
            vec![started("src/lib.rs - add (line 5)"), result("src/lib.rs - add (line 5)", TestResult::Ok)]
        );
    }

    #[test]
    fn failure_sections_are_found_by_test_name() {
        let text = "test a ... FAILED\ntest b - compile fail ... FAILED\n\nfailures:\n\n---- a stdout ----\nboom\nline 2\n\n---- b - compile fail stdout ----\nit compiled\n\nfailures:\n    a\n\ntest result: FAILED. 0 passed; 2 failed\n";
        let sections = failure_sections(text);
        assert_eq!(sections["a"], "boom\nline 2\n\n");
        assert_eq!(sections["b"], "it compiled\n\n");
        assert_eq!(strip_suffix("src/lib.rs - f (line 3) - compile"), "src/lib.rs - f (line 3)");
        assert_eq!(strip_suffix("bytes::get_i32_be_overflow - should panic"), "bytes::get_i32_be_overflow");
    }

    /// Regression: a line with no end grew without bound, and each piece of it was
    /// decoded again with all before it (100 MiB cost tempo 180 MB; 16 MiB, 1.2 s).
    #[test]
    fn an_endless_line_is_held_within_the_limit() {
        for head in ["", "test a ... ", "test x", "ok"] {
            let mut p = LineParser::with_limit(1024);
            let mut events = p.feed(b"running 1 test\n");
            events.extend(p.feed(head.as_bytes()));
            let piece = vec![b'y'; 4093];
            for _ in 0..4096 {
                events.extend(p.feed(&piece));
                assert!(p.held() <= 2 * 1024, "{head:?}: the parser holds {} bytes", p.held());
            }
            events.extend(p.feed(b"ok\ntest b ... ok\n"));
            let mut want = if head == "test a ... " { vec![started("a")] } else { vec![] };
            if head == "test a ... " {
                want.push(Parsed::Lost("a".into()));
            }
            want.extend([started("b"), result("b", TestResult::Ok)]);
            assert_eq!(events, want, "{head:?}");
        }
    }

    #[test]
    fn a_start_at_the_head_of_an_overlong_line_is_still_seen() {
        let mut p = LineParser::with_limit(64);
        let line = format!("test a ... {}", "z".repeat(1000));
        assert_eq!(p.feed(line.as_bytes()), vec![]);
        assert_eq!(p.feed(b"ok\n"), vec![started("a")]);
        assert_eq!(p.current(), Some("a"));
    }

    /// The parser as it was before lines were bounded: the reference for what the
    /// bounded one must still read.
    #[derive(Default)]
    struct Reference {
        partial: Vec<u8>,
        inner: LineParser,
    }

    impl Reference {
        fn feed(&mut self, mut bytes: &[u8]) -> Vec<Parsed> {
            let mut out = Vec::new();
            while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
                self.partial.extend_from_slice(&bytes[..nl]);
                bytes = &bytes[nl + 1..];
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
                self.inner.complete_line(&line, &mut out);
                self.inner.started_on_line = false;
            }
            self.partial.extend_from_slice(bytes);
            if !self.inner.started_on_line
                && let Some((name, rest)) = split_start(&String::from_utf8_lossy(&self.partial))
                && rest.is_empty()
            {
                self.inner.start(name.to_owned(), &mut out);
                self.inner.started_on_line = true;
            }
            out
        }
    }

    #[test]
    fn the_bounded_parser_reads_what_the_unbounded_one_read() {
        let tokens = ["test ", "a", "b::c", " ... ", "...", " ", "ok", "FAILED", "ignored, why", "\n", "x", "\u{e9}"];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for case in 0..2000 {
            let text: String = (0..next(40)).map(|_| tokens[next(tokens.len())]).collect();
            let bytes = text.as_bytes();
            let (mut bounded, mut reference) = (LineParser::with_limit(4096), Reference::default());
            let (mut got, mut want) = (Vec::new(), Vec::new());
            let mut at = 0;
            while at < bytes.len() {
                let end = (at + 1 + next(8)).min(bytes.len());
                got.extend(bounded.feed(&bytes[at..end]));
                want.extend(reference.feed(&bytes[at..end]));
                at = end;
            }
            assert_eq!(got, want, "case {case}: {text:?}");
        }
    }

    #[test]
    fn lines_after_the_run_are_not_results() {
        assert_eq!(feed_all(&["test a ... ok\n", "ok\n", "FAILED\n"]), vec![started("a"), result("a", TestResult::Ok)]);
    }
}
