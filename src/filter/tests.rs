//! Tests of the filterset language as a whole: what expressions parse to, which
//! tests they select, and how mistakes are reported.

use super::*;
use std::collections::{BTreeSet, HashMap};

/// Parses `input` and prints it in the canonical, fully parenthesised form.
#[track_caller]
fn canonical(input: &str) -> String {
    match FilterExpr::parse(input) {
        Ok(expr) => expr.root().to_string(),
        Err(error) => panic!("{input:?} failed to parse:\n{}", error.render(input)),
    }
}

#[track_caller]
fn parse_error(input: &str) -> FilterParseError {
    match FilterExpr::parse(input) {
        Ok(expr) => panic!("{input:?} parsed as {} but should not have", expr.root()),
        Err(error) => error,
    }
}

#[test]
fn precedence_and_associativity() {
    // nextest's reference, "Operator precedence": () binds tightest, then not/!,
    // then and/&/-, then or/|/+, each level associating to the left.
    let cases = [
        // The reference's own examples.
        ("test(a) & test(b) | test(c)", "((test(~a) & test(~b)) | test(~c))"),
        ("test(a) | test(b) & test(c)", "(test(~a) | (test(~b) & test(~c)))"),
        ("test(a) & test(b) - test(c)", "(test(~a) & test(~b) & not test(~c))"),
        ("not test(a) | test(b)", "(not test(~a) | test(~b))"),
        // More of the same.
        ("not test(a) & test(b)", "(not test(~a) & test(~b))"),
        ("! test(a) & test(b)", "(not test(~a) & test(~b))"),
        ("test(a) - test(b) - test(c)", "(test(~a) & not test(~b) & not test(~c))"),
        ("test(a) - test(b) | test(c)", "((test(~a) & not test(~b)) | test(~c))"),
        ("test(a) | test(b) - test(c)", "(test(~a) | (test(~b) & not test(~c)))"),
        ("test(a) - test(b) & test(c)", "(test(~a) & not test(~b) & test(~c))"),
        ("test(a) - (test(b) - test(c))", "(test(~a) & not (test(~b) & not test(~c)))"),
        ("test(a) or test(b) and test(c)", "(test(~a) | (test(~b) & test(~c)))"),
        ("test(a) + test(b) + test(c)", "(test(~a) | test(~b) | test(~c))"),
        ("(test(a) | test(b)) & test(c)", "((test(~a) | test(~b)) & test(~c))"),
        ("not (test(a) | test(b))", "not (test(~a) | test(~b))"),
        ("not test(a) - test(b)", "(not test(~a) & not test(~b))"),
        ("!!test(a)", "not not test(~a)"),
        ("not not test(a)", "not not test(~a)"),
        ("not !test(a)", "not not test(~a)"),
        ("(test(a))", "test(~a)"),
        ("((all()))", "all()"),
        ("all()&none()|default()", "((all() & none()) | default())"),
        ("all()-none()", "(all() & not none())"),
        // Keywords need only a non-letter after them.
        ("not(test(a))", "not test(~a)"),
        ("test(a)and(test(b))", "(test(~a) & test(~b))"),
        ("test(a)or!test(b)", "(test(~a) | not test(~b))"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "parsing {input:?}");
    }
}

#[test]
fn whitespace_between_tokens() {
    let cases = [
        ("  all()  ", "all()"),
        (" all ( ) ", "all()"),
        ("test( a)", "test(~a)"),
        ("test(a)|test(b)", "(test(~a) | test(~b))"),
        ("\n  test(a)\n  | test(b)\r\n  & not\ttest(c)\n", "(test(~a) | (test(~b) & not test(~c)))"),
        ("platform( host )", "platform(host)"),
        ("test(/a/ )", "test(/a/)"),
        ("test ( =a )", "test(=a )"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "parsing {input:?}");
    }
}

#[test]
fn default_and_explicit_matchers() {
    // nextest's reference, "Default matchers": contains for test(); glob for
    // package(), deps(), rdeps(), binary() and binary_id(); equality for kind()
    // and platform().
    let cases = [
        ("test(foo)", "test(~foo)"),
        ("package(foo)", "package(#foo)"),
        ("deps(foo)", "deps(#foo)"),
        ("rdeps(foo)", "rdeps(#foo)"),
        ("binary(foo)", "binary(#foo)"),
        ("binary_id(foo::bar)", "binary_id(#foo::bar)"),
        ("kind(lib)", "kind(=lib)"),
        ("platform(host)", "platform(host)"),
        ("platform(target)", "platform(target)"),
        ("platform(=host)", "platform(host)"),
        // Explicit prefixes override the default, and only the first character is
        // a prefix.
        ("test(=foo)", "test(=foo)"),
        ("test(#foo*)", "test(#foo*)"),
        ("test(/fo+/)", "test(/fo+/)"),
        ("package(~foo)", "package(~foo)"),
        ("package(=foo)", "package(=foo)"),
        ("kind(~li)", "kind(~li)"),
        ("kind(#*)", "kind(#*)"),
        ("test(~=foo)", "test(~=foo)"),
        ("test(=~foo)", "test(=~foo)"),
        ("test(==foo)", "test(==foo)"),
        ("test(~/foo/)", "test(~/foo/)"),
        ("test(~#foo)", "test(~#foo)"),
        ("test(#=foo)", "test(#=foo)"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "parsing {input:?}");
    }
}

#[test]
fn string_escapes_and_delimiters() {
    // nextest's reference, "Escape sequences", and the string rule: a string runs
    // to the next unescaped `)` or `,`.
    let cases = [
        (r"test(a\,b)", r"test(~a\,b)"),
        (r"test(f(x\))", r"test(~f(x\))"),
        (r"test(f(x)", r"test(~f(x)"),
        (r"test(\u{41}\u{1F600})", "test(~A\u{1F600})"),
        (r"test(a\tb\nc\rd)", r"test(~a\tb\nc\rd)"),
        (r"test(a\/b)", "test(~a/b)"),
        (r"test(a\\b)", r"test(~a\\b)"),
        (r"test(\b\f)", r"test(~\u{8}\u{c})"),
        ("test(a b )", "test(~a b )"),
        ("test(it's \"quoted\")", "test(~it's \"quoted\")"),
        ("test(日本)", "test(~日本)"),
        ("test(a|b&c-d)", "test(~a|b&c-d)"),
        // A glob alternation needs its comma escaped.
        (r"package(#{a\,b})", r"package(#{a\,b})"),
        (r"package({a\,b}*)", r"package(#{a\,b}*)"),
        // Inside a regex, `\/` is a slash and other escapes belong to the regex.
        (r"test(/a\/b/)", r"test(/a\/b/)"),
        (r"test(/\d+\.\w/)", r"test(/\d+\.\w/)"),
        (r"test(/a\\/)", r"test(/a\\/)"),
        (r"test(/a\\\/b/)", r"test(/a\\\/b/)"),
        (r"test(/a\)b/)", r"test(/a\)b/)"),
        ("test(/a,b/)", "test(/a,b/)"),
        ("test(/(a|b)/)", "test(/(a|b)/)"),
    ];
    for (input, expected) in cases {
        assert_eq!(canonical(input), expected, "parsing {input:?}");
    }
}

#[test]
fn every_listed_predicate_parses() {
    for name in error::PREDICATES {
        let input = match *name {
            "all" | "none" | "default" => format!("{name}()"),
            "platform" => "platform(host)".to_owned(),
            _ => format!("{name}(x)"),
        };
        let expr = FilterExpr::parse(&input).unwrap_or_else(|error| panic!("{input}: {}", error.render(&input)));
        assert!(expr.root().to_string().starts_with(name), "{input}");
    }
}

#[test]
fn canonical_form_parses_back_to_itself() {
    let inputs = [
        "test(a) | test(b) & not test(c)",
        r"package(#{a\,b}) - kind(lib)",
        r"test(=a\)b) + test(/x\/y\\/)",
        "test(\u{7}\\u{0}) & platform(target)",
        "not (binary(a*) | binary_id(b::c)) - deps(d) - rdeps(e)",
    ];
    for input in inputs {
        let once = canonical(input);
        assert_eq!(canonical(&once), once, "{input:?}");
    }
}

/// A small workspace, written as data: each test with the binary it lives in.
///
/// `alpha` is a library; `beta-tool` has a library and a binary; `gamma-derive` is
/// a proc-macro crate; `delta` has an integration test, a benchmark and an
/// example. Dependencies: beta-tool → alpha → serde, gamma-derive → syn, and delta
/// → beta-tool and gamma-derive.
struct Workspace;

const TESTS: &[TestQuery<'static>] = &[
    TestQuery {
        binary_id: "alpha",
        binary_name: "alpha",
        package: "alpha",
        kind: "lib",
        platform: Platform::Target,
        test_name: "tests::adds",
        test_group: Some("serial"),
    },
    TestQuery {
        binary_id: "beta-tool",
        binary_name: "beta_tool",
        package: "beta-tool",
        kind: "lib",
        platform: Platform::Target,
        test_name: "parse::tests::flags",
        test_group: Some("db-pool"),
    },
    TestQuery {
        binary_id: "beta-tool::bin/beta-tool",
        binary_name: "beta-tool",
        package: "beta-tool",
        kind: "bin",
        platform: Platform::Target,
        test_name: "tests::main_runs",
        test_group: Some("serial"),
    },
    TestQuery {
        binary_id: "gamma-derive",
        binary_name: "gamma_derive",
        package: "gamma-derive",
        kind: "proc-macro",
        platform: Platform::Host,
        test_name: "tests::expands",
        test_group: Some("@global"),
    },
    TestQuery {
        binary_id: "delta::cli",
        binary_name: "cli",
        package: "delta",
        kind: "test",
        platform: Platform::Target,
        test_name: "runs_cli",
        test_group: Some("@global"),
    },
    TestQuery {
        binary_id: "delta::bench/speed",
        binary_name: "speed",
        package: "delta",
        kind: "bench",
        platform: Platform::Target,
        test_name: "bench_fast",
        test_group: Some("@global"),
    },
    TestQuery {
        binary_id: "delta::example/demo",
        binary_name: "demo",
        package: "delta",
        kind: "example",
        platform: Platform::Target,
        test_name: "demo_test",
        test_group: Some("@global"),
    },
];

impl Workspace {
    fn graph() -> HashMap<String, Vec<String>> {
        let edges: &[(&str, &[&str])] = &[
            ("alpha", &["serde"]),
            ("beta-tool", &["alpha"]),
            ("gamma-derive", &["syn"]),
            ("delta", &["beta-tool", "gamma-derive"]),
            ("serde", &[]),
            ("syn", &["proc-macro2"]),
            ("proc-macro2", &[]),
        ];
        edges
            .iter()
            .map(|(name, deps)| {
                let deps = deps.iter().map(|d| (*d).to_owned()).collect();
                ((*name).to_owned(), deps)
            })
            .collect()
    }

    fn members() -> Vec<String> {
        ["alpha", "beta-tool", "gamma-derive", "delta"].iter().map(|s| (*s).to_owned()).collect()
    }

    fn context() -> FilterContext {
        FilterContext::new(Workspace::graph(), None)
    }

    /// The tests `input` selects, each written `binary-id test-name`.
    #[track_caller]
    fn select(input: &str, cx: &FilterContext) -> BTreeSet<String> {
        let expr = FilterExpr::parse(input).unwrap_or_else(|error| panic!("{input:?}: {}", error.render(input)));
        TESTS
            .iter()
            .filter(|test| expr.matches(test, cx))
            .map(|test| format!("{} {}", test.binary_id, test.test_name))
            .collect()
    }
}

const ALPHA: &str = "alpha tests::adds";
const BETA_LIB: &str = "beta-tool parse::tests::flags";
const BETA_BIN: &str = "beta-tool::bin/beta-tool tests::main_runs";
const GAMMA: &str = "gamma-derive tests::expands";
const DELTA_CLI: &str = "delta::cli runs_cli";
const DELTA_BENCH: &str = "delta::bench/speed bench_fast";
const DELTA_EXAMPLE: &str = "delta::example/demo demo_test";
const EVERY_TEST: &[&str] = &[ALPHA, BETA_LIB, BETA_BIN, GAMMA, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE];

#[track_caller]
fn assert_selects(cx: &FilterContext, cases: &[(&str, &[&str])]) {
    for (input, expected) in cases {
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(Workspace::select(input, cx), expected, "selecting {input:?}");
    }
}

#[test]
fn each_predicate_selects_its_tests() {
    let cx = Workspace::context();
    assert_selects(
        &cx,
        &[
            ("all()", EVERY_TEST),
            ("none()", &[]),
            // test(): contains by default, the names within the binary.
            ("test(tests)", &[ALPHA, BETA_LIB, BETA_BIN, GAMMA]),
            ("test(=runs_cli)", &[DELTA_CLI]),
            ("test(=runs)", &[]),
            ("test(/^tests::/)", &[ALPHA, BETA_BIN, GAMMA]),
            ("test(/s$/)", &[ALPHA, BETA_LIB, BETA_BIN, GAMMA]),
            ("test(#*::tests::*)", &[BETA_LIB]),
            ("test(#tests::*)", &[ALPHA, BETA_BIN, GAMMA]),
            // package(): a glob over the whole package name by default.
            ("package(beta-tool)", &[BETA_LIB, BETA_BIN]),
            ("package(beta)", &[]),
            ("package(~beta)", &[BETA_LIB, BETA_BIN]),
            ("package(#*-*)", &[BETA_LIB, BETA_BIN, GAMMA]),
            ("package(/^[ad]/)", &[ALPHA, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            (r"package({alpha\,gamma-*})", &[ALPHA, GAMMA]),
            // deps(): the matched packages and everything they depend on.
            ("deps(beta-tool)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("deps(alpha)", &[ALPHA]),
            ("deps(delta)", EVERY_TEST),
            ("deps(gamma-derive)", &[GAMMA]),
            // rdeps(): the matched packages and everything depending on them,
            // through external crates too.
            ("rdeps(alpha)", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("rdeps(delta)", &[DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("rdeps(proc-macro2)", &[GAMMA, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("rdeps(no-such-crate)", &[]),
            // binary(): the crate name for unit tests, the target name otherwise.
            ("binary(beta-tool)", &[BETA_BIN]),
            ("binary(beta_tool)", &[BETA_LIB]),
            ("binary(cli)", &[DELTA_CLI]),
            ("binary(gamma_derive)", &[GAMMA]),
            ("binary(beta*)", &[BETA_LIB, BETA_BIN]),
            // binary_id(): the whole id, a glob by default.
            ("binary_id(beta-tool::bin/beta-tool)", &[BETA_BIN]),
            ("binary_id(beta-tool)", &[BETA_LIB]),
            ("binary_id(beta-tool*)", &[BETA_LIB, BETA_BIN]),
            ("binary_id(delta::*)", &[DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("binary_id(*/*)", &[BETA_BIN, DELTA_BENCH, DELTA_EXAMPLE]),
            // kind(): equality by default.
            ("kind(lib)", &[ALPHA, BETA_LIB]),
            ("kind(proc-macro)", &[GAMMA]),
            ("kind(test)", &[DELTA_CLI]),
            ("kind(bench)", &[DELTA_BENCH]),
            ("kind(bin)", &[BETA_BIN]),
            ("kind(example)", &[DELTA_EXAMPLE]),
            ("kind(li)", &[]),
            ("kind(~b)", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_BENCH]),
            // platform(): proc-macro tests run on the host.
            ("platform(host)", &[GAMMA]),
            ("platform(target)", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            // default() with no default filter is all().
            ("default()", EVERY_TEST),
        ],
    );
}

#[test]
fn operators_combine_selections() {
    let cx = Workspace::context();
    assert_selects(
        &cx,
        &[
            ("kind(lib) | kind(bin)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("kind(lib) or kind(bin)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("kind(lib) + kind(bin)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("package(beta-tool) & kind(bin)", &[BETA_BIN]),
            ("package(beta-tool) and kind(bin)", &[BETA_BIN]),
            ("package(beta-tool) - kind(bin)", &[BETA_LIB]),
            ("not platform(target)", &[GAMMA]),
            ("!platform(target)", &[GAMMA]),
            // Precedence decides: `and` before `or`.
            ("kind(lib) | kind(bin) & package(alpha)", &[ALPHA, BETA_LIB]),
            ("(kind(lib) | kind(bin)) & package(alpha)", &[ALPHA]),
            // `-` binds like `and` and associates to the left.
            ("package(delta) - kind(bench) - kind(example)", &[DELTA_CLI]),
            ("package(delta) - (kind(bench) - kind(example))", &[DELTA_CLI, DELTA_EXAMPLE]),
            ("package(delta) - kind(bench) | package(alpha)", &[ALPHA, DELTA_CLI, DELTA_EXAMPLE]),
            ("not kind(lib) & package(beta-tool)", &[BETA_BIN]),
            ("not (kind(lib) & package(beta-tool))", &[ALPHA, BETA_BIN, GAMMA, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("deps(beta-tool) & rdeps(alpha)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("all() - all()", &[]),
            ("none() | none()", &[]),
        ],
    );
}

#[test]
fn workspace_members_restrict_package_matchers_as_in_nextest() {
    let cx = FilterContext::new(Workspace::graph(), None).with_workspace_members(Workspace::members());
    assert_selects(
        &cx,
        &[
            // serde is not a workspace package, so nothing starts the closure.
            ("rdeps(serde)", &[]),
            ("deps(beta-tool)", &[ALPHA, BETA_LIB, BETA_BIN]),
            ("rdeps(alpha)", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
        ],
    );
    let without_members = Workspace::context();
    assert_selects(
        &without_members,
        &[("rdeps(serde)", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE])],
    );
}

#[test]
fn check_packages_reports_matchers_that_match_no_package() {
    let cx = FilterContext::new(Workspace::graph(), None).with_workspace_members(Workspace::members());
    for input in ["package(alpha)", "package(#*-tool)", "deps(/^g/) | rdeps(delta)", "test(anything) | kind(nothing)"] {
        let expr = FilterExpr::parse(input).expect("valid expression");
        assert_eq!(expr.check_packages(&cx), Ok(()), "{input}");
    }
    let cases = [
        ("package(alpah)", "package", 0..14),
        ("test(a) | rdeps(serde)", "rdeps", 10..22),
        ("all() - deps(=beta)", "deps", 8..19),
    ];
    for (input, predicate, span) in cases {
        let expr = FilterExpr::parse(input).expect("valid expression");
        let error = expr.check_packages(&cx).expect_err(input);
        assert_eq!(error.kind(), &FilterErrorKind::NoPackageMatch { predicate: predicate.to_owned() }, "{input}");
        assert_eq!(error.span(), span, "{input}");
    }
    // Without any package known, nothing can be checked.
    let empty = FilterContext::default();
    let expr = FilterExpr::parse("package(alpah)").expect("valid expression");
    assert_eq!(expr.check_packages(&empty), Ok(()));
}

#[test]
fn default_predicate_stands_for_the_default_filter() {
    let default_filter = FilterExpr::parse_default_filter("not kind(bench) - platform(host)").expect("valid");
    let cx = FilterContext::new(Workspace::graph(), Some(default_filter));
    assert_selects(
        &cx,
        &[
            ("default()", &[ALPHA, BETA_LIB, BETA_BIN, DELTA_CLI, DELTA_EXAMPLE]),
            ("default() & package(delta)", &[DELTA_CLI, DELTA_EXAMPLE]),
            ("not default()", &[GAMMA, DELTA_BENCH]),
            // Other predicates ignore the default filter; intersecting with it is
            // the caller's job.
            ("kind(bench)", &[DELTA_BENCH]),
        ],
    );
    let selected: Vec<&str> = TESTS.iter().filter(|test| cx.matches_default(test)).map(|test| test.binary_id).collect();
    assert_eq!(selected, ["alpha", "beta-tool", "beta-tool::bin/beta-tool", "delta::cli", "delta::example/demo"]);
}

/// `group()` matches the group the overrides assigned (a glob by default, as in
/// nextest), `@global` for the rest; a test whose group is not known yet (while the
/// overrides themselves are evaluated) is not selected.
#[test]
fn group_matches_the_assigned_test_group() {
    let cx = Workspace::context();
    assert_selects(
        &cx,
        &[
            ("group(serial)", &[ALPHA, BETA_BIN]),
            ("group(ser*)", &[ALPHA, BETA_BIN]),
            ("group(=serial)", &[ALPHA, BETA_BIN]),
            ("group(~pool)", &[BETA_LIB]),
            ("group(/^(db|ser)/) & kind(lib)", &[ALPHA, BETA_LIB]),
            ("group(@global)", &[GAMMA, DELTA_CLI, DELTA_BENCH, DELTA_EXAMPLE]),
            ("not group(@global)", &[ALPHA, BETA_LIB, BETA_BIN]),
        ],
    );
    let expr = FilterExpr::parse("group(serial)").expect("valid");
    let unknown = TestQuery { test_group: None, ..TESTS[0] };
    assert!(!expr.matches(&unknown, &cx));
    // Before a binary's tests are known, group() is undecided: the binary is listed.
    assert_eq!(expr.matches_binary(&TESTS[0].binary(), &cx), None);
}

/// nextest allows `group()` on the command line only, and rejects a group matcher
/// that matches no group of `[test-groups]` nor `@global`.
#[test]
fn group_is_for_the_command_line_and_must_match_a_group() {
    let error = FilterExpr::parse_default_filter("kind(lib) & group(serial)").expect_err("group() in a default filter");
    assert_eq!(error.kind(), &FilterErrorKind::GroupInDefaultFilter);
    assert_eq!(error.span(), 12..25);
    let error = FilterExpr::parse_override_filter("not group(@global)").expect_err("group() in an override");
    assert_eq!(error.kind(), &FilterErrorKind::GroupInOverride);
    assert_eq!(error.span(), 4..18);
    assert!(FilterExpr::parse_override_filter("test(a)").is_ok());

    let groups = ["serial", "db-pool"];
    for ok in ["group(serial)", "group(db-*)", "group(@global)", "group(/./)", "test(x) | group(~ser)"] {
        FilterExpr::parse(ok).unwrap().check_groups(groups).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let error = FilterExpr::parse("test(x) | group(seriall)").unwrap().check_groups(groups).expect_err("no such group");
    assert_eq!(error.span(), 10..24);
    insta::assert_snapshot!(error.render("test(x) | group(seriall)"), @r"
    error: failed to parse filter expression: expected a group matcher that matches a test group
      |
    1 | test(x) | group(seriall)
      |           ^^^^^^^^^^^^^^ `group()` does not match any test group; the groups are: serial, db-pool, @global
    ");
}

#[test]
fn default_filter_may_not_refer_to_itself() {
    let error = FilterExpr::parse_default_filter("all() - (kind(bench) | default())")
        .expect_err("default() in a default filter");
    assert_eq!(error.kind(), &FilterErrorKind::DefaultInDefaultFilter);
    assert_eq!((error.span(), error.column()), (23..32, 24));

    // Set directly, a self-referring default filter takes `default()` as `all()`
    // instead of recursing forever.
    let looping = FilterExpr::parse("default() - kind(bench)").expect("valid");
    let cx = FilterContext::new(HashMap::new(), Some(looping));
    let bench = &TESTS[5];
    assert!(!cx.matches_default(bench));
    assert!(cx.matches_default(&TESTS[0]));
    let expr = FilterExpr::parse("default()").expect("valid");
    assert!(!expr.matches(bench, &cx));
}

#[test]
fn binaries_are_decided_before_their_tests_are_known() {
    let cx = Workspace::context();
    let alpha = TESTS[0].binary();
    let gamma = TESTS[3].binary();
    let cases: &[(&str, Option<bool>, Option<bool>)] = &[
        // (expression, for alpha, for gamma-derive)
        ("all()", Some(true), Some(true)),
        ("platform(host)", Some(false), Some(true)),
        ("test(x)", None, None),
        ("not test(x)", None, None),
        ("package(alpha) & test(x)", None, Some(false)),
        ("package(alpha) | test(x)", Some(true), None),
        ("package(alpha) - test(x)", None, Some(false)),
        ("test(x) - package(alpha)", Some(false), None),
        ("rdeps(serde) | test(x)", Some(true), None),
        ("default()", Some(true), Some(true)),
    ];
    for (input, for_alpha, for_gamma) in cases {
        let expr = FilterExpr::parse(input).expect("valid expression");
        assert_eq!(expr.matches_binary(&alpha, &cx), *for_alpha, "{input} for alpha");
        assert_eq!(expr.matches_binary(&gamma, &cx), *for_gamma, "{input} for gamma");
    }

    let default_filter = FilterExpr::parse_default_filter("not platform(host)").expect("valid");
    let cx = FilterContext::new(HashMap::new(), Some(default_filter));
    assert_eq!(cx.matches_default_binary(&alpha), Some(true));
    assert_eq!(cx.matches_default_binary(&gamma), Some(false));
    let expr = FilterExpr::parse("default() & test(x)").expect("valid");
    assert_eq!(expr.matches_binary(&gamma, &cx), Some(false));
    assert_eq!(expr.matches_binary(&alpha, &cx), None);
}

#[test]
fn filter_sets_take_the_union() {
    let cx = Workspace::context();
    let set: FilterSet = ["kind(bin)", "package(alpha)"]
        .into_iter()
        .map(|input| FilterExpr::parse(input).expect("valid expression"))
        .collect();
    let selected: Vec<&str> = TESTS.iter().filter(|test| set.matches(test, &cx)).map(|test| test.binary_id).collect();
    assert_eq!(selected, ["alpha", "beta-tool::bin/beta-tool"]);
    assert_eq!(set.exprs().len(), 2);
    assert!(!set.uses_dependency_graph());
    assert_eq!(set.matches_binary(&TESTS[0].binary(), &cx), Some(true));
    assert_eq!(set.matches_binary(&TESTS[3].binary(), &cx), Some(false));

    let empty = FilterSet::default();
    assert!(empty.is_empty());
    assert!(TESTS.iter().all(|test| empty.matches(test, &cx)));
    assert_eq!(empty.matches_binary(&TESTS[0].binary(), &cx), Some(true));

    let with_test = FilterSet::new(vec![
        FilterExpr::parse("platform(host)").expect("valid"),
        FilterExpr::parse("test(x)").expect("valid"),
    ]);
    assert_eq!(with_test.matches_binary(&TESTS[0].binary(), &cx), None);
    assert_eq!(with_test.matches_binary(&TESTS[3].binary(), &cx), Some(true));
}

#[test]
fn knows_when_the_dependency_graph_is_needed() {
    let cases = [
        ("all()", false),
        ("package(a) | test(b) - kind(lib)", false),
        ("default()", false),
        ("deps(a)", true),
        ("not rdeps(a)", true),
        ("test(a) | (kind(lib) & deps(x))", true),
        // A predicate name inside a string is just text.
        ("test(deps(a\\))", false),
    ];
    for (input, expected) in cases {
        let expr = FilterExpr::parse(input).expect("valid expression");
        assert_eq!(expr.uses_dependency_graph(), expected, "{input}");
    }
    let set =
        FilterSet::new(vec![FilterExpr::parse("all()").expect("valid"), FilterExpr::parse("rdeps(a)").expect("valid")]);
    assert!(set.uses_dependency_graph());
}

#[test]
fn dependency_closures_are_computed_once_per_argument() {
    let cx = Workspace::context();
    let expr = FilterExpr::parse("deps(beta-tool) | deps(beta-tool) | rdeps(alpha)").expect("valid");
    for _ in 0..3 {
        for test in TESTS {
            expr.matches(test, &cx);
        }
    }
    let closures = cx.cached_closure_count();
    assert_eq!(closures, 2);
}

#[test]
fn platform_follows_the_binary_kind() {
    assert_eq!(Platform::for_kind("proc-macro"), Platform::Host);
    for kind in ["lib", "bin", "test", "bench", "example"] {
        assert_eq!(Platform::for_kind(kind), Platform::Target, "{kind}");
    }
    assert_eq!(Platform::Host.to_string(), "host");
    assert_eq!(Platform::Target.to_string(), "target");
}

#[test]
fn expressions_display_as_written() {
    let input = "test(a)  |  package(b)";
    let expr = FilterExpr::parse(input).expect("valid");
    assert_eq!(expr.to_string(), input);
    assert_eq!(expr.as_str(), input);
}

mod errors;

/// Property tests: whatever the input, parsing returns an expression or an error
/// with a span inside the input, never panics, and never recurses without bound.
mod fuzz;

/// Regression guards for the structural limits, at sizes far beyond any real
/// expression: each must be an error, not a stack overflow or a long wait.
#[test]
fn nesting_ten_thousand_deep_is_an_error() {
    for input in [
        format!("{}all(){}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("{}all()", "not ".repeat(10_000)),
        format!("{}all()", "!".repeat(100_000)),
        "(".repeat(1_000_000),
    ] {
        let error = parse_error(&input);
        assert_eq!(error.kind(), &FilterErrorKind::TooDeep { limit: parse::MAX_DEPTH });
    }
    let error = parse_error(&format!("package({}a{})", "{".repeat(10_000), "}".repeat(10_000)));
    assert!(matches!(error.kind(), FilterErrorKind::InvalidGlob { reason } if reason.contains("nest")), "{error}");
    // The regex crate has its own nesting limit.
    let error = parse_error(&format!("test(/{}a{}/)", "(".repeat(10_000), ")".repeat(10_000)));
    assert!(matches!(error.kind(), FilterErrorKind::InvalidRegex { .. }), "{error}");
}
