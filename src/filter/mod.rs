//! Filter expressions (nextest's "filtersets", `-E`/`--filterset` and a profile's
//! `default-filter`) parsed and evaluated by tempo's own code.
//!
//! tempo is a drop-in for cargo-nextest, so an expression must select exactly the
//! tests it selects under nextest. nextest's own implementation, the
//! `nextest-filtering` crate, would bring about 43 crates and double the release
//! build, and it wants a guppy package graph where tempo only has names. The
//! language is small enough to own: this module follows nextest's reference
//! (<https://nexte.st/docs/filtersets/reference/>) for the syntax, the precedence,
//! the default matcher of each predicate and the glob dialect, and says so next to
//! each rule.
//!
//! Parsing compiles everything once (regexes, globs); evaluating a test is then a
//! walk over a small tree. `deps()` and `rdeps()` need the package graph, which the
//! caller provides through [`FilterContext`] only when
//! [`FilterExpr::uses_dependency_graph`] says so.

mod context;
mod error;
mod expr;
mod glob;
mod matcher;
mod parse;

pub use context::FilterContext;
pub use error::{FilterErrorKind, FilterParseError};

use expr::{Expr, Pred, Scope};
use std::fmt;

/// The group of every test that no override puts in a group of its own; `group()`
/// matches it by this name.
pub const GLOBAL_GROUP: &str = "@global";

/// A parsed and compiled filter expression.
#[derive(Clone, Debug)]
pub struct FilterExpr {
    source: String,
    root: Expr,
}

/// A test to match an expression against.
#[derive(Clone, Copy, Debug)]
pub struct TestQuery<'a> {
    /// The binary id in nextest's format: `pkg` for a library's unit tests,
    /// `pkg::name` for an integration test, `pkg::kind/name` otherwise
    /// (for example `beta-tool::bin/beta-tool`).
    pub binary_id: &'a str,
    /// The binary's name, which `binary()` matches: the crate name for a library's
    /// unit tests (`my_crate` for package `my-crate`), and otherwise the name of
    /// the integration test, benchmark, binary or example target.
    pub binary_name: &'a str,
    /// The name of the package the binary belongs to.
    pub package: &'a str,
    /// The binary kind as nextest names it: `lib`, `test`, `bench`, `bin`,
    /// `example`, or `proc-macro` for the unit tests of a proc-macro crate.
    pub kind: &'a str,
    /// The platform the binary was built for.
    pub platform: Platform,
    /// The test's name within its binary, such as `module::tests::it_works`.
    pub test_name: &'a str,
    /// The test group the profile's overrides put the test in (`@global` when none
    /// does), which `group()` matches; `None` while the overrides are being
    /// evaluated, whose filters may not use `group()`.
    pub test_group: Option<&'a str>,
}

/// A test binary to match an expression against, before its tests are known.
#[derive(Clone, Copy, Debug)]
pub struct BinaryQuery<'a> {
    /// See [`TestQuery::binary_id`].
    pub binary_id: &'a str,
    /// See [`TestQuery::binary_name`].
    pub binary_name: &'a str,
    /// See [`TestQuery::package`].
    pub package: &'a str,
    /// See [`TestQuery::kind`].
    pub kind: &'a str,
    /// See [`TestQuery::platform`].
    pub platform: Platform,
}

impl<'a> TestQuery<'a> {
    /// The binary this test belongs to.
    pub fn binary(&self) -> BinaryQuery<'a> {
        BinaryQuery {
            binary_id: self.binary_id,
            binary_name: self.binary_name,
            package: self.package,
            kind: self.kind,
            platform: self.platform,
        }
    }
}

/// The platform a test binary is built for, as `platform()` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Built to run on the machine doing the build: proc-macro crates (and build
    /// scripts, which have no tests).
    Host,
    /// Built for the target platform: everything else.
    Target,
}

impl Platform {
    /// The platform of a binary of the given nextest kind: the unit tests of a
    /// proc-macro crate run on the host, everything else is built for the target.
    pub fn for_kind(kind: &str) -> Platform {
        if kind == "proc-macro" { Platform::Host } else { Platform::Target }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Host => "host",
            Platform::Target => "target",
        })
    }
}

impl FilterExpr {
    /// Parses and compiles an expression.
    pub fn parse(input: &str) -> Result<FilterExpr, FilterParseError> {
        Ok(FilterExpr { source: input.to_owned(), root: parse::parse(input)? })
    }

    /// Parses an expression meant as a default filter, which may use neither
    /// `default()` (it would refer to itself) nor `group()` (nextest allows it on the
    /// command line only).
    pub fn parse_default_filter(input: &str) -> Result<FilterExpr, FilterParseError> {
        let expr = FilterExpr::parse(input)?;
        match expr.first_leaf(|pred| matches!(pred, Pred::Default | Pred::Group(_))) {
            Some((Pred::Default, span)) => {
                Err(FilterParseError::new(input, span, FilterErrorKind::DefaultInDefaultFilter))
            }
            Some((_, span)) => Err(FilterParseError::new(input, span, FilterErrorKind::GroupInDefaultFilter)),
            None => Ok(expr),
        }
    }

    /// Parses an override's filter, which may not use `group()`: overrides are what
    /// put tests in groups, so the group would depend on the override itself
    /// (nextest rejects it too).
    pub fn parse_override_filter(input: &str) -> Result<FilterExpr, FilterParseError> {
        let expr = FilterExpr::parse(input)?;
        match expr.first_leaf(|pred| matches!(pred, Pred::Group(_))) {
            Some((_, span)) => Err(FilterParseError::new(input, span, FilterErrorKind::GroupInOverride)),
            None => Ok(expr),
        }
    }

    /// The first predicate, left to right, that `wanted` accepts, with its span.
    fn first_leaf(&self, wanted: impl Fn(&Pred) -> bool) -> Option<(&Pred, std::ops::Range<usize>)> {
        let mut found = None;
        self.root.for_each_leaf(&mut |pred, span| {
            if found.is_none() && wanted(pred) {
                found = Some((pred, span.clone()));
            }
        });
        found
    }

    /// Reports the first `group()` whose argument matches none of `groups` (the
    /// config's `[test-groups]`) or `@global`, as nextest does: a misspelt group
    /// would otherwise silently select nothing.
    pub fn check_groups<'g>(&self, groups: impl IntoIterator<Item = &'g str> + Clone) -> Result<(), FilterParseError> {
        let unmatched = self.first_leaf(|pred| match pred {
            Pred::Group(m) => !groups.clone().into_iter().chain([GLOBAL_GROUP]).any(|g| m.is_match(g)),
            _ => false,
        });
        match unmatched {
            Some((_, span)) => {
                let groups: Vec<&str> = groups.into_iter().chain([GLOBAL_GROUP]).collect();
                let kind = FilterErrorKind::NoGroupMatch { groups: groups.join(", ") };
                Err(FilterParseError::new(&self.source, span, kind))
            }
            None => Ok(()),
        }
    }

    /// The expression as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the expression selects `test`.
    pub fn matches(&self, test: &TestQuery<'_>, cx: &FilterContext) -> bool {
        // With the test name known every predicate has a value, so the result is
        // never unknown.
        self.eval_in(&test.binary(), Some(test), cx, false).unwrap_or(false)
    }

    /// Whether the expression selects the tests of a binary, decided before the
    /// binary lists them: `Some(false)` if it selects none of them whatever their
    /// names, `Some(true)` if it selects all of them, and `None` if that depends on
    /// the names. nextest does not even run a binary for `Some(false)` (its
    /// reference, "Binary exclusions").
    pub fn matches_binary(&self, binary: &BinaryQuery<'_>, cx: &FilterContext) -> Option<bool> {
        self.eval_in(binary, None, cx, false)
    }

    /// Whether `deps()` or `rdeps()` appear, so that the caller knows to load the
    /// whole package graph into the [`FilterContext`]. `default()` is not looked
    /// through: ask the default filter too.
    pub fn uses_dependency_graph(&self) -> bool {
        let mut uses = false;
        self.root.for_each_leaf(&mut |pred, _| {
            uses |= matches!(pred, Pred::Deps { .. } | Pred::Rdeps { .. });
        });
        uses
    }

    /// Reports the first `package()`, `deps()` or `rdeps()` whose argument matches
    /// no package of the context, which nextest treats as an error: it is almost
    /// always a misspelt name that would otherwise silently select nothing.
    ///
    /// The candidates are the context's workspace members when it has them, and
    /// otherwise every package of its graph; with neither, nothing is reported.
    pub fn check_packages(&self, cx: &FilterContext) -> Result<(), FilterParseError> {
        let mut unmatched = None;
        self.root.for_each_leaf(&mut |pred, span| {
            let (predicate, matcher) = match pred {
                Pred::Package(m) => ("package", m),
                Pred::Deps { matcher, .. } => ("deps", matcher),
                Pred::Rdeps { matcher, .. } => ("rdeps", matcher),
                _ => return,
            };
            if unmatched.is_none() && cx.has_packages() && !cx.any_package_matches(matcher) {
                unmatched = Some((predicate, span.clone()));
            }
        });
        match unmatched {
            Some((predicate, span)) => Err(FilterParseError::new(
                &self.source,
                span,
                FilterErrorKind::NoPackageMatch { predicate: predicate.to_owned() },
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn eval_in(
        &self,
        binary: &BinaryQuery<'_>,
        test: Option<&TestQuery<'_>>,
        cx: &FilterContext,
        in_default_filter: bool,
    ) -> Option<bool> {
        self.root.eval(binary, test, cx, Scope { in_default_filter })
    }

    pub(crate) fn root(&self) -> &Expr {
        &self.root
    }
}

/// Shows the expression as it was written.
impl fmt::Display for FilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The expressions given with repeated `-E` flags. A test is selected if any of
/// them selects it; with none, every test is.
///
/// The default filter is not part of the set: nextest intersects the set with it
/// unless `--ignore-default-filter` is given, which is the caller's decision (see
/// [`FilterContext::matches_default`]).
#[derive(Clone, Debug, Default)]
pub struct FilterSet {
    exprs: Vec<FilterExpr>,
}

impl FilterSet {
    /// A set of expressions.
    pub fn new(exprs: Vec<FilterExpr>) -> Self {
        FilterSet { exprs }
    }

    /// The expressions, in the order given.
    pub fn exprs(&self) -> &[FilterExpr] {
        &self.exprs
    }

    /// Whether the set has no expression, and so selects everything.
    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// Whether any expression selects `test`; true for an empty set.
    pub fn matches(&self, test: &TestQuery<'_>, cx: &FilterContext) -> bool {
        self.is_empty() || self.exprs.iter().any(|expr| expr.matches(test, cx))
    }

    /// [`FilterExpr::matches_binary`] for the union of the expressions.
    pub fn matches_binary(&self, binary: &BinaryQuery<'_>, cx: &FilterContext) -> Option<bool> {
        let mut result = Some(self.is_empty());
        for expr in &self.exprs {
            match expr.matches_binary(binary, cx) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => result = None,
            }
        }
        result
    }

    /// Whether any expression needs the package graph.
    pub fn uses_dependency_graph(&self) -> bool {
        self.exprs.iter().any(FilterExpr::uses_dependency_graph)
    }
}

impl FromIterator<FilterExpr> for FilterSet {
    fn from_iter<I: IntoIterator<Item = FilterExpr>>(iter: I) -> Self {
        FilterSet::new(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
