//! The compiled form of a filter expression and its evaluation.
//!
//! `and` and `or` chains are kept flat (a list of operands rather than a tree of
//! pairs) so that neither evaluation nor dropping recurses once per operator: a
//! generated expression joining thousands of `test(=...)` predicates with `|` must
//! not overflow the stack. `a - b` is stored as `a and not b`, which is how nextest
//! defines it.
//!
//! Evaluation is three-valued so that one evaluator serves both tests and whole
//! binaries: before a binary has listed its tests, `test()` is unknown, and a binary
//! can be skipped only when the expression is false whatever the test names are.
//! The logic is Kleene's: `false and unknown` is false, `true or unknown` is true.

use super::context::{Direction, FilterContext};
use super::matcher::NameMatcher;
use super::{BinaryQuery, Platform, TestQuery};
use std::fmt;
use std::ops::Range;

#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Leaf { pred: Pred, span: Range<usize> },
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) enum Pred {
    All,
    None,
    Default,
    Test(NameMatcher),
    Package(NameMatcher),
    /// `key` is the argument as written; the context caches each dependency
    /// closure under it.
    Deps {
        matcher: NameMatcher,
        key: Box<str>,
    },
    Rdeps {
        matcher: NameMatcher,
        key: Box<str>,
    },
    Binary(NameMatcher),
    BinaryId(NameMatcher),
    Kind(NameMatcher),
    Platform(Platform),
    /// `group()`: the test group the profile's overrides assign.
    Group(NameMatcher),
}

/// Where the evaluation stands: inside the default filter, `default()` is taken as
/// `all()` rather than recursing forever.
#[derive(Clone, Copy)]
pub(crate) struct Scope {
    pub(crate) in_default_filter: bool,
}

impl Expr {
    /// Evaluates the expression. `test` is `None` when only the binary is known, and
    /// the result is then `None` if it depends on the test.
    pub(crate) fn eval(
        &self,
        binary: &BinaryQuery<'_>,
        test: Option<&TestQuery<'_>>,
        cx: &FilterContext,
        scope: Scope,
    ) -> Option<bool> {
        match self {
            Expr::Leaf { pred, .. } => pred.eval(binary, test, cx, scope),
            Expr::Not(inner) => inner.eval(binary, test, cx, scope).map(|b| !b),
            Expr::And(operands) => {
                let mut result = Some(true);
                for operand in operands {
                    match operand.eval(binary, test, cx, scope) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => result = None,
                    }
                }
                result
            }
            Expr::Or(operands) => {
                let mut result = Some(false);
                for operand in operands {
                    match operand.eval(binary, test, cx, scope) {
                        Some(true) => return Some(true),
                        Some(false) => {}
                        None => result = None,
                    }
                }
                result
            }
        }
    }

    /// Calls `f` on every predicate with its span, left to right.
    pub(crate) fn for_each_leaf<'a>(&'a self, f: &mut impl FnMut(&'a Pred, &'a Range<usize>)) {
        match self {
            Expr::Leaf { pred, span } => f(pred, span),
            Expr::Not(inner) => inner.for_each_leaf(f),
            Expr::And(operands) | Expr::Or(operands) => {
                for operand in operands {
                    operand.for_each_leaf(f);
                }
            }
        }
    }
}

impl Pred {
    fn eval(
        &self,
        binary: &BinaryQuery<'_>,
        test: Option<&TestQuery<'_>>,
        cx: &FilterContext,
        scope: Scope,
    ) -> Option<bool> {
        match self {
            Pred::All => Some(true),
            Pred::None => Some(false),
            Pred::Default => match &cx.default_filter {
                Some(filter) if !scope.in_default_filter => {
                    filter.root().eval(binary, test, cx, Scope { in_default_filter: true })
                }
                _ => Some(true),
            },
            Pred::Test(matcher) => test.map(|t| matcher.is_match(t.test_name)),
            Pred::Group(matcher) => test.and_then(|t| t.test_group).map(|group| matcher.is_match(group)),
            Pred::Package(matcher) => Some(matcher.is_match(binary.package)),
            Pred::Deps { matcher, key } => {
                Some(cx.closure_contains(Direction::Dependencies, key, matcher, binary.package))
            }
            Pred::Rdeps { matcher, key } => {
                Some(cx.closure_contains(Direction::ReverseDependencies, key, matcher, binary.package))
            }
            Pred::Binary(matcher) => Some(matcher.is_match(binary.binary_name)),
            Pred::BinaryId(matcher) => Some(matcher.is_match(binary.binary_id)),
            Pred::Kind(matcher) => Some(matcher.is_match(binary.kind)),
            Pred::Platform(platform) => Some(binary.platform == *platform),
        }
    }
}

/// Prints the expression fully parenthesised, with explicit matchers. The output
/// parses back to an equivalent expression; tests use it to check precedence.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut join = |operands: &[Expr], op: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, operand) in operands.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{operand}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::Leaf { pred, .. } => write!(f, "{pred}"),
            Expr::Not(inner) => write!(f, "not {inner}"),
            Expr::And(operands) => join(operands, "&"),
            Expr::Or(operands) => join(operands, "|"),
        }
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pred::All => f.write_str("all()"),
            Pred::None => f.write_str("none()"),
            Pred::Default => f.write_str("default()"),
            Pred::Test(m) => write!(f, "test({m})"),
            Pred::Package(m) => write!(f, "package({m})"),
            Pred::Deps { matcher, .. } => write!(f, "deps({matcher})"),
            Pred::Rdeps { matcher, .. } => write!(f, "rdeps({matcher})"),
            Pred::Binary(m) => write!(f, "binary({m})"),
            Pred::BinaryId(m) => write!(f, "binary_id({m})"),
            Pred::Kind(m) => write!(f, "kind({m})"),
            Pred::Platform(p) => write!(f, "platform({p})"),
            Pred::Group(m) => write!(f, "group({m})"),
        }
    }
}
