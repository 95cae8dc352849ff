//! Property tests: whatever the input, parsing returns an expression or an error
//! with a span inside the input, never panics, and never recurses without bound.

use super::*;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Few enough cases that the whole set takes seconds in a debug build on a busy
/// machine; no failure file is written into the source tree.
fn config() -> Config {
    Config { cases: 384, failure_persistence: None, ..Config::default() }
}

/// A predicate, valid or nearly so, from the grammar's tokens.
fn predicate() -> impl Strategy<Value = String> {
    const NAMES: &[&str] = &["test", "package", "deps", "rdeps", "binary", "binary_id", "kind", "group", "tset"];
    const PREFIXES: &[&str] = &["", "", "=", "~", "#", "/"];
    const TEXT: &[&str] = &[
        "a",
        "b",
        "::",
        "foo",
        "é",
        "日本",
        "*",
        "?",
        "**/",
        "[ab]",
        "[!a-z]",
        "[z-a]",
        "{x\\,y}",
        "{",
        "}",
        "\\)",
        "\\,",
        "\\\\",
        "\\/",
        "\\u{41}",
        "\\u{D800}",
        "\\u{110000}",
        "\\n",
        "\\q",
        " ",
        ".",
        "+",
        "(",
        "^",
        "$",
        "\\d",
        "|",
        "a{3}",
        "(?P<",
        "\u{0}",
    ];
    let fixed = prop::sample::select(
        &[
            "all()",
            "none()",
            "default()",
            "all(x)",
            "platform(host)",
            "platform( target )",
            "platform(=host)",
            "platform(mars)",
            "platform()",
        ][..],
    )
    .prop_map(str::to_owned);
    let general = (
        prop::sample::select(NAMES),
        prop::sample::select(PREFIXES),
        prop::collection::vec(prop::sample::select(TEXT), 0..5),
        prop::sample::select(&[")", ")", ")", "", ",x)", " )"][..]),
    )
        .prop_map(|(name, prefix, text, close)| {
            let mut text = text.concat();
            if prefix == "/" {
                text = format!("{}/", text.replace("\\)", ")").replace("\\,", ","));
            }
            format!("{name}({prefix}{text}{close}")
        });
    prop_oneof![1 => fixed, 4 => general]
}

/// An expression built from the grammar: operators, negations and groups over
/// predicates, nested up to a few levels.
fn expression() -> impl Strategy<Value = String> {
    const OPERATORS: &[&str] = &[" | ", " & ", " - ", " or ", " and ", "+", "&", "|", "-", " || ", " AND "];
    predicate().prop_recursive(5, 48, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("not {e}")),
            inner.clone().prop_map(|e| format!("!{e}")),
            inner.clone().prop_map(|e| format!("({e})")),
            (inner.clone(), prop::sample::select(OPERATORS), inner).prop_map(|(a, op, b)| format!("{a}{op}{b}")),
        ]
    })
}

/// Damages an expression: each edit inserts a fragment, or any character, at a
/// position given as a fraction of the length, or deletes there.
fn damaged() -> impl Strategy<Value = String> {
    const FRAGMENTS: &[&str] = &[
        "(", ")", ",", "\\", "/", "{", "}", "[", "]", "!", "||", "&&", "AND ", "tset(", "\\u{", "\\q", "\u{0}", "\n",
        "\t", "é", "not", "test(", "",
    ];
    let edit = (any::<prop::sample::Index>(), prop::sample::select(FRAGMENTS), any::<char>(), 0..3u8);
    (expression(), prop::collection::vec(edit, 1..4)).prop_map(|(expr, edits)| {
        let mut chars: Vec<char> = expr.chars().collect();
        for (at, fragment, c, kind) in edits {
            let at = at.index(chars.len() + 1);
            match kind {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 => chars.insert(at, c),
                _ => {
                    chars.splice(at..at, fragment.chars());
                }
            }
        }
        chars.into_iter().collect()
    })
}

/// Checks one input: an expression evaluates against every test and prints in a
/// canonical form that parses back to itself; an error has a span on character
/// boundaries inside the input and renders.
fn check(input: &str) -> Result<(), TestCaseError> {
    match FilterExpr::parse(input) {
        Ok(expr) => {
            let cx = Workspace::context();
            for test in TESTS {
                let _ = expr.matches(test, &cx);
                let _ = expr.matches_binary(&test.binary(), &cx);
            }
            let _ = expr.check_packages(&cx);
            let _ = expr.check_groups(["serial"]);
            let once = expr.root().to_string();
            let again = FilterExpr::parse(&once)
                .map_err(|e| TestCaseError::fail(format!("{input:?} → {once:?} fails: {}", e.render(&once))))?;
            prop_assert_eq!(again.root().to_string(), once, "canonical form of {:?}", input);
        }
        Err(error) => {
            let span = error.span();
            prop_assert!(span.start <= span.end && span.end <= input.len(), "span {:?} of {:?}", span, input);
            prop_assert!(input.is_char_boundary(span.start) && input.is_char_boundary(span.end));
            prop_assert!(error.render(input).starts_with("error: failed to parse filter expression: "));
            let _ = error.to_string();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_string_parses_or_is_reported(input in any::<String>()) {
        check(&input)?;
    }

    #[test]
    fn strings_of_the_languages_punctuation_parse_or_are_reported(
        input in "[()!&|+=~#/\\\\,{}\\[\\]*? \\-a-z_\n]{0,48}"
    ) {
        check(&input)?;
        let _ = FilterExpr::parse_default_filter(&input);
        let _ = FilterExpr::parse_override_filter(&input);
    }

    #[test]
    fn grammatical_expressions_parse_or_are_reported(input in expression()) {
        check(&input)?;
    }

    #[test]
    fn damaged_expressions_parse_or_are_reported(input in damaged()) {
        check(&input)?;
    }

    /// Globs on their own, with names to match: compiling and matching never
    /// panic, and a pattern without metacharacters matches exactly itself.
    #[test]
    fn globs_compile_or_are_reported(
        pattern in "[*?\\[\\]{},!^/a-c\\-é\\\\]{0,24}",
        name in "[a-c/:é\\-]{0,12}",
    ) {
        if let Ok(glob) = glob::Glob::new(&pattern) {
            let _ = glob.is_match(&name);
            let _ = glob.is_match(&pattern);
        }
    }
}

/// The generators reach both outcomes and most error kinds, so that the
/// properties above say something.
#[test]
fn the_generators_reach_both_outcomes() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut parsed, mut rejected) = (0, 0);
    let mut kinds = std::collections::HashSet::new();
    let strategy = prop_oneof![expression(), damaged()];
    for _ in 0..600 {
        let input = strategy.new_tree(&mut runner).expect("a value").current();
        match FilterExpr::parse(&input) {
            Ok(_) => parsed += 1,
            Err(error) => {
                rejected += 1;
                kinds.insert(std::mem::discriminant(error.kind()));
            }
        }
    }
    assert!(parsed > 60 && rejected > 60, "{parsed} parsed, {rejected} rejected");
    assert!(kinds.len() >= 12, "only {} error kinds were reached", kinds.len());
}
