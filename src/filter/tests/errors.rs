//! Tests of how mistakes in filter expressions are reported: the kind of error,
//! the span it points at and its column.

use super::*;

/// What an error case expects: the kind, then the byte span it points at and the
/// 1-based column of its start.
type ErrorCase = (&'static str, FilterErrorKind, std::ops::Range<usize>, usize);

fn found(what: &str) -> String {
    what.to_owned()
}

// Long: a table of cases, one line each.
#[test]
fn malformed_expressions_are_reported_where_they_go_wrong() {
    use FilterErrorKind as K;
    let cases: Vec<ErrorCase> = vec![
        // Operands.
        ("", K::ExpectedExpression { found: found("the end of the expression") }, 0..0, 1),
        ("   ", K::ExpectedExpression { found: found("the end of the expression") }, 3..3, 4),
        ("test(a) |", K::ExpectedExpression { found: found("the end of the expression") }, 9..9, 10),
        ("test(a) - ", K::ExpectedExpression { found: found("the end of the expression") }, 10..10, 11),
        ("!", K::ExpectedExpression { found: found("the end of the expression") }, 1..1, 2),
        (")", K::ExpectedExpression { found: found("`)`") }, 0..1, 1),
        ("and test(a)", K::ExpectedExpression { found: found("`and`") }, 0..3, 1),
        ("test(a) | | test(b)", K::ExpectedExpression { found: found("`|`") }, 10..11, 11),
        ("tset(foo) | all()", K::UnknownPredicate { name: found("tset") }, 0..4, 1),
        ("all() | binary-id(x)", K::UnknownPredicate { name: found("binary-id") }, 8..17, 9),
        ("Test(a)", K::UnknownPredicate { name: found("Test") }, 0..4, 1),
        // Operators.
        ("test(a) || test(b)", K::InvalidOperator { found: found("||"), suggestion: "|" }, 8..10, 9),
        ("test(a) && test(b)", K::InvalidOperator { found: found("&&"), suggestion: "&" }, 8..10, 9),
        ("test(a) AND test(b)", K::InvalidOperator { found: found("AND"), suggestion: "and" }, 8..11, 9),
        ("test(a) Or test(b)", K::InvalidOperator { found: found("Or"), suggestion: "or" }, 8..10, 9),
        ("NOT test(a)", K::InvalidOperator { found: found("NOT"), suggestion: "not" }, 0..3, 1),
        ("test(a) test(b)", K::TrailingInput { found: found("`test`") }, 8..12, 9),
        ("test(a))", K::TrailingInput { found: found("an unmatched `)`") }, 7..8, 8),
        ("test(a) ~ test(b)", K::TrailingInput { found: found("`~`") }, 8..9, 9),
        // Parentheses.
        ("(test(a)", K::UnclosedGroup { open_column: 1 }, 8..8, 9),
        ("all() & (test(a) test(b))", K::UnclosedGroup { open_column: 9 }, 17..21, 18),
        ("test", K::ExpectedOpenParen { predicate: found("test") }, 4..4, 5),
        ("test foo", K::ExpectedOpenParen { predicate: found("test") }, 5..8, 6),
        ("test[a]", K::ExpectedOpenParen { predicate: found("test") }, 4..5, 5),
        ("test(a", K::ExpectedCloseParen { predicate: found("test") }, 6..6, 7),
        ("test(/a/b)", K::ExpectedCloseParen { predicate: found("test") }, 8..9, 9),
        ("all(", K::ExpectedCloseParen { predicate: found("all") }, 4..4, 5),
        // Arguments.
        ("test()", K::EmptyMatcher, 5..5, 6),
        ("test(", K::EmptyMatcher, 5..5, 6),
        ("test(  )", K::EmptyMatcher, 7..7, 8),
        ("package(=)", K::EmptyMatcher, 9..9, 10),
        ("platform()", K::EmptyMatcher, 9..9, 10),
        ("all(x)", K::UnexpectedArgument { predicate: found("all") }, 4..5, 5),
        ("none( x y )", K::UnexpectedArgument { predicate: found("none") }, 6..9, 7),
        ("default(x", K::UnexpectedArgument { predicate: found("default") }, 8..9, 9),
        ("test(a, b)", K::UnexpectedComma, 6..7, 7),
        ("platform(host,target)", K::UnexpectedComma, 13..14, 14),
        ("test(/a/, b)", K::UnexpectedComma, 8..9, 9),
        // A glob alternation's comma must be escaped; say so rather than report
        // the half alternation before it.
        ("package({alpha,gamma-*})", K::UnexpectedComma, 14..15, 15),
        // Escapes.
        (r"test(a\qb)", K::InvalidEscape { sequence: found(r"\q") }, 6..8, 7),
        (r"test(a\(b)", K::InvalidEscape { sequence: found(r"\(") }, 6..8, 7),
        (r"test(a\", K::InvalidEscape { sequence: found("\\") }, 6..7, 7),
        (r"test(\u{110000})", K::InvalidEscape { sequence: found(r"\u{110000}") }, 5..15, 6),
        (r"test(\u{})", K::InvalidEscape { sequence: found(r"\u{") }, 5..8, 6),
        (r"test(\u41)", K::InvalidEscape { sequence: found(r"\u") }, 5..7, 6),
        (r"test(\u{1234567})", K::InvalidEscape { sequence: found(r"\u{123456") }, 5..14, 6),
        // Regexes.
        ("test(/abc)", K::UnclosedRegex, 5..6, 6),
        ("test(/abc\\/)", K::UnclosedRegex, 5..6, 6),
        ("test(/abc\\", K::UnclosedRegex, 5..6, 6),
        ("test(a) | test(/a(b/)", K::InvalidRegex { reason: found("unclosed group") }, 15..20, 16),
        ("test(/*/)", K::InvalidRegex { reason: found("repetition operator missing expression") }, 5..8, 6),
        // Globs.
        ("package(#[a)", K::InvalidGlob { reason: glob::GlobError::UnclosedClass.to_string() }, 9..11, 10),
        (r"package({a\,b)", K::InvalidGlob { reason: glob::GlobError::UnclosedAlternates.to_string() }, 8..13, 9),
        ("binary_id(a})", K::InvalidGlob { reason: glob::GlobError::UnopenedAlternates.to_string() }, 10..12, 11),
        ("binary([z-a])", K::InvalidGlob { reason: glob::GlobError::InvalidRange('z', 'a').to_string() }, 7..12, 8),
        // Platforms.
        ("platform(foo)", K::InvalidPlatform { value: found("foo") }, 9..12, 10),
        ("platform(  Host )", K::InvalidPlatform { value: found("Host") }, 11..15, 12),
        ("platform(#host)", K::InvalidPlatform { value: found("#host") }, 9..14, 10),
        // Positions are counted in characters, on the line of the error.
        ("test(é) | tset(x)", K::UnknownPredicate { name: found("tset") }, 11..15, 11),
        ("all()\n  | tset(x)", K::UnknownPredicate { name: found("tset") }, 10..14, 5),
    ];
    for (input, kind, span, column) in cases {
        let error = parse_error(input);
        assert_eq!(
            (error.kind(), error.span(), error.column()),
            (&kind, span, column),
            "error for {input:?}:\n{}",
            error.render(input)
        );
    }
}

#[test]
fn nesting_is_bounded() {
    use parse::MAX_DEPTH;
    let nested = |depth: usize| format!("{}all(){}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(canonical(&nested(MAX_DEPTH)), "all()");
    let error = parse_error(&nested(MAX_DEPTH + 1));
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { limit: MAX_DEPTH });
    assert_eq!(error.column(), MAX_DEPTH + 1);

    let negated = |depth: usize| format!("{}all()", "!".repeat(depth));
    assert!(FilterExpr::parse(&negated(MAX_DEPTH)).is_ok());
    let error = parse_error(&negated(MAX_DEPTH + 1));
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { limit: MAX_DEPTH });

    // Long chains of operators are flat, so they have no depth to bound.
    let long = vec!["test(=x)"; 20_000].join(" | ");
    let expr = FilterExpr::parse(&long).expect("valid");
    assert!(!expr.matches(&TESTS[0], &FilterContext::default()));
    let long = vec!["all()"; 20_000].join(" - ");
    let expr = FilterExpr::parse(&long).expect("valid");
    assert!(!expr.matches(&TESTS[0], &FilterContext::default()));
}

#[test]
fn errors_render_with_a_caret_under_the_mistake() {
    let render = |input: &str| parse_error(input).render(input);
    insta::assert_snapshot!(render("tset(foo) | all()"), @r"
    error: failed to parse filter expression: expected a predicate such as test() or package()
      |
    1 | tset(foo) | all()
      | ^^^^ unknown predicate `tset`; valid predicates: all, none, test, group, package, deps, rdeps, binary, binary_id, kind, platform, default
      = help: did you mean `test()`?
    ");
    insta::assert_snapshot!(render("platform(hots)"), @r"
    error: failed to parse filter expression: expected `host` or `target`
      |
    1 | platform(hots)
      |          ^^^^ unknown platform `hots`; valid platforms: host, target
    ");
    insta::assert_snapshot!(render("test(a) | test(/a(b/)"), @r"
    error: failed to parse filter expression: expected a valid regular expression
      |
    1 | test(a) | test(/a(b/)
      |                ^^^^^ invalid regex: unclosed group
    ");
    insta::assert_snapshot!(render("test(a) |"), @r"
    error: failed to parse filter expression: expected an expression
      |
    1 | test(a) |
      |          ^ the end of the expression cannot start an operand; write a predicate such as test(name), `not`, `!` or `(`
    ");
    insta::assert_snapshot!(render("test(a) || test(b)"), @r"
    error: failed to parse filter expression: expected an operator
      |
    1 | test(a) || test(b)
      |         ^^ `||` is not an operator here; write `|`
    ");
    insta::assert_snapshot!(render("test(f(x))"), @r"
    error: failed to parse filter expression: expected an operator or the end of the expression
      |
    1 | test(f(x))
      |          ^ an unmatched `)` follows a complete expression; join expressions with and, &, or, |, + or -
    ");
    insta::assert_snapshot!(render("test(a"), @r"
    error: failed to parse filter expression: expected `)`
      |
    1 | test(a
      |       ^ `test(` is not closed here
      = help: a `)` inside a name is written `\)`
    ");
    // A default filter written over several lines in a config file.
    let multi_line = "not kind(bench)\n\t| package(a)\n\t- test(x\\q)\n";
    insta::assert_snapshot!(render(multi_line), @r"
    error: failed to parse filter expression: expected a valid escape sequence
      |
    3 |  - test(x\q)
      |          ^^ unknown escape `\q`; valid escapes: \n, \r, \t, \\, \/, \), \, and \u{7FFF}
    ");
}

#[test]
fn errors_display_on_one_line() {
    let error = parse_error("tset(foo) | all()");
    assert_eq!(
        error.to_string(),
        "failed to parse filter expression: expected a predicate such as test() or package(), \
         at column 1: unknown predicate `tset`; valid predicates: all, none, test, group, \
         package, deps, rdeps, binary, binary_id, kind, platform, default"
    );
    let error = parse_error("all()\n| test(a");
    assert_eq!(
        error.to_string(),
        "failed to parse filter expression: expected `)`, at line 2, column 9: \
         `test(` is not closed here"
    );
}
