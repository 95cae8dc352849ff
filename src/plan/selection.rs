//! Which tests a command selects by name and by the ignored flag, with libtest's
//! meaning, plus the `-E` expressions still to be parsed.

/// Which ignored tests take part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RunIgnored {
    /// Only the tests that are not ignored (libtest's default).
    #[default]
    Default,
    /// Only the ignored tests (`--ignored`).
    Only,
    /// Both (`--include-ignored`).
    All,
}

/// Name-based test selection, with libtest's meaning.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    /// Substrings (or, with `exact`, whole names); a test must match one when any are given.
    pub patterns: Vec<String>,
    /// Match whole names instead of substrings.
    pub exact: bool,
    /// Patterns that exclude a test.
    pub skip: Vec<String>,
    /// Which ignored tests take part.
    pub run_ignored: RunIgnored,
}

/// Everything that selects tests: names, the ignored flag and filter expressions.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Name filters and the ignored flag.
    pub names: NameFilter,
    /// `-E` expressions, not yet parsed.
    pub filtersets: Vec<String>,
    /// `--ignore-default-filter`.
    pub ignore_default_filter: bool,
}

impl NameFilter {
    fn matches_pattern(&self, pattern: &str, name: &str) -> bool {
        if self.exact { name == pattern } else { name.contains(pattern) }
    }

    /// Whether the test `name` is selected by its name alone (ignoring the ignored flag).
    pub fn matches_name(&self, name: &str) -> bool {
        let included = self.patterns.is_empty() || self.patterns.iter().any(|p| self.matches_pattern(p, name));
        included && !self.skip.iter().any(|p| self.matches_pattern(p, name))
    }

    /// Whether a test with this ignored flag takes part.
    pub fn matches_ignored(&self, ignored: bool) -> bool {
        match self.run_ignored {
            RunIgnored::Default => !ignored,
            RunIgnored::Only => ignored,
            RunIgnored::All => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(patterns: &[&str], exact: bool, skip: &[&str]) -> NameFilter {
        NameFilter {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            exact,
            skip: skip.iter().map(|s| s.to_string()).collect(),
            run_ignored: RunIgnored::Default,
        }
    }

    #[test]
    fn substring_filters_select_like_libtest() {
        let f = filter(&["parse"], false, &["unparse"]);
        assert!(f.matches_name("parse_one"));
        assert!(f.matches_name("nested::parse_roundtrip"));
        assert!(!f.matches_name("unparse"));
        assert!(!f.matches_name("adds"));
    }

    #[test]
    fn exact_filters_match_whole_names() {
        let f = filter(&["parse_one"], true, &[]);
        assert!(f.matches_name("parse_one"));
        assert!(!f.matches_name("parse_one_more"));
    }

    #[test]
    fn no_patterns_select_everything() {
        assert!(filter(&[], false, &[]).matches_name("anything"));
    }
}
