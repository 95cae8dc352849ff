use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(ConfigSource { path: PathBuf::from(".config/nextest.toml"), text: text.to_owned() })
}

/// The configuration from tempo's founding research, which must be honoured exactly.
const FOUNDING: &str = r#"
[profile.default]
test-threads = 8
retries = { backoff = "fixed", count = 3, delay = "1s" }
slow-timeout = { period = "60s", terminate-after = 2 }
fail-fast = false
status-level = "fail"

[profile.ci]
test-threads = 4
fail-fast = true

[profile.chicago-tdd]
test-threads = 8
retries = 0
"#;

#[test]
fn the_founding_config_resolves_per_profile() {
    let config = parse(FOUNDING).unwrap();
    let default = config.profile("default").unwrap();
    assert_eq!(default.test_threads, TestThreads::Count(8));
    assert_eq!(default.retries.count, 3);
    assert_eq!(default.retries.delay, Duration::from_secs(1));
    assert_eq!(default.slow_timeout.period, Duration::from_secs(60));
    assert_eq!(default.slow_timeout.terminate_after, Some(2));
    assert_eq!(default.fail_fast.max_fail, None);
    assert_eq!(default.status_level, StatusLevel::Fail);

    let ci = config.profile("ci").unwrap();
    assert_eq!(ci.test_threads, TestThreads::Count(4));
    assert_eq!(ci.fail_fast.max_fail, Some(1));
    assert_eq!(ci.retries.count, 3, "ci inherits retries from default");
    assert_eq!(ci.status_level, StatusLevel::Fail);

    let tdd = config.profile("chicago-tdd").unwrap();
    assert_eq!(tdd.retries.count, 0);
    assert_eq!(tdd.test_threads, TestThreads::Count(8));
}

#[test]
fn builtin_defaults_are_nextests() {
    let p = Config::default().profile("default").unwrap();
    // The one deliberate difference: tempo adapts the number of tests at once.
    assert_eq!(p.test_threads, TestThreads::Adaptive);
    let fixed = parse("[profile.default]\ntest-threads = \"num-cpus\"\n[profile.a]\ntest-threads = \"adaptive\"\nmax-test-threads = 16\n").unwrap();
    assert_eq!(fixed.profile("default").unwrap().test_threads, TestThreads::NumCpus);
    assert_eq!(fixed.profile("a").unwrap().max_test_threads, Some(TestThreads::Count(16)));
    assert_eq!(p.retries.count, 0);
    assert_eq!(p.slow_timeout.period, Duration::from_secs(60));
    assert_eq!(p.slow_timeout.terminate_after, None);
    assert_eq!(p.leak_timeout, LeakTimeout { period: Duration::from_millis(100), fails: false });
    assert_eq!(p.fail_fast.max_fail, Some(1));
    assert_eq!(p.status_level, StatusLevel::Pass);
    assert_eq!(p.final_status_level, FinalStatusLevel::Flaky);
    assert_eq!(p.store_dir, PathBuf::from("target/tempo"));
}

#[test]
fn inherits_chains_through_named_profiles() {
    let config = parse(
        r#"
[profile.base]
retries = 2
[profile.child]
inherits = "base"
test-threads = -1
"#,
    )
    .unwrap();
    let child = config.profile("child").unwrap();
    assert_eq!(child.retries.count, 2);
    assert_eq!(child.test_threads, TestThreads::Offset(-1));
    assert_eq!(child.test_threads.resolve(4), 3);
}

#[test]
fn exponential_backoff_doubles_up_to_max_delay() {
    let config =
        parse(r#"profile.default.retries = { backoff = "exponential", count = 5, delay = "1s", max-delay = "3s" }"#)
            .unwrap();
    let r = config.profile("default").unwrap().retries;
    let delays: Vec<u64> = (2..=6).map(|a| r.delay_before(a).as_secs()).collect();
    assert_eq!(delays, [1, 2, 3, 3, 3]);
}

#[test]
fn fail_fast_tables_set_max_fail() {
    let config =
        parse("profile.default.fail-fast = { max-fail = 3 }\nprofile.all.fail-fast = { max-fail = \"all\" }").unwrap();
    assert_eq!(config.profile("default").unwrap().fail_fast.max_fail, Some(3));
    assert_eq!(config.profile("all").unwrap().fail_fast.max_fail, None);
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn errors_point_at_file_line_and_column() {
    let msg = error("[profile.default]\nretries = 1\ntest-threads = \"many\"\n");
    assert!(msg.starts_with("failed to parse config file `.config/nextest.toml` at line 3, column 16:"), "{msg}");
    assert!(msg.contains("invalid thread count `many`"), "{msg}");
    assert!(msg.contains("3 | test-threads = \"many\""), "{msg}");
    assert!(msg.contains("^^^^^^"), "{msg}");
}

#[test]
fn a_bad_duration_says_what_a_duration_looks_like() {
    let msg = error("[profile.default]\nslow-timeout = \"sixty\"\n");
    assert!(msg.contains("line 2, column 16"), "{msg}");
    assert!(msg.contains("invalid duration `sixty`") && msg.contains("\"500ms\""), "{msg}");
}

#[test]
fn unknown_keys_are_rejected_with_the_valid_ones() {
    let msg = error("[profile.default]\nretires = 2\n");
    assert!(msg.contains("line 2, column 1"), "{msg}");
    assert!(msg.contains("unknown field `retires`") && msg.contains("`retries`"), "{msg}");
}

#[test]
fn broken_toml_is_located() {
    let msg = error("[profile.default\nretries = 2\n");
    assert!(msg.contains("line 1"), "{msg}");
}

#[test]
fn a_wrong_type_is_reported() {
    let msg = error("[profile.default]\nfail-fast = \"yes\"\n");
    assert!(msg.contains("line 2, column 13"), "{msg}");
    assert!(msg.contains("true, false, or a table"), "{msg}");
}

#[test]
fn unknown_profiles_list_the_known_ones() {
    let config = parse(FOUNDING).unwrap();
    let msg = config.profile("nightly").unwrap_err().to_string();
    assert_eq!(
        msg,
        "failed to find profile `nightly` in `.config/nextest.toml`; expected one of: chicago-tdd, ci, default"
    );
    let msg = error("[profile.x]\ninherits = \"nope\"\n");
    assert!(msg.contains("line 2, column 12") && msg.contains("unknown profile `nope`"), "{msg}");
}

#[test]
fn inheritance_cycles_are_errors() {
    let config = parse("[profile.a]\ninherits = \"b\"\n[profile.b]\ninherits = \"a\"\n").unwrap();
    assert!(config.profile("a").unwrap_err().to_string().contains("inherits from itself"));
}

#[test]
fn capture_limits_take_sizes() {
    let config = parse("[profile.default]\ncapture-limit = \"512KiB\"\n[profile.raw]\ncapture-limit = 1000\n").unwrap();
    assert_eq!(config.profile("default").unwrap().capture_limit, 512 * 1024);
    assert_eq!(config.profile("raw").unwrap().capture_limit, 1000);
    assert_eq!(Config::default().profile("default").unwrap().capture_limit, 4 * 1024 * 1024);
    let msg = error("[profile.default]\ncapture-limit = \"4 parsecs\"\n");
    assert!(msg.contains("invalid size unit `parsecs`"), "{msg}");
}

#[test]
fn budgets_inherit_key_by_key() {
    let config = parse(
        r#"
[profile.default.budget]
wall = "11s"
cpu-utilization = 0.8
[profile.ci.budget]
enforce = "warn"
slow = "2s"
[profile.loose]
inherits = "ci"
budget = { cpu-utilization = 0 }
"#,
    )
    .unwrap();
    let default = config.profile("default").unwrap().budget;
    assert_eq!(default.wall, Some(Duration::from_secs(11)));
    assert_eq!(default.cpu_utilization, Some(0.8));
    assert_eq!(default.enforce, Enforce::Fail, "a miss fails by default");
    let ci = config.profile("ci").unwrap().budget;
    assert_eq!(ci.wall, Some(Duration::from_secs(11)), "ci inherits the wall target from default");
    assert_eq!((ci.enforce, ci.slow), (Enforce::Warn, Some(Duration::from_secs(2))));
    let loose = config.profile("loose").unwrap().budget;
    assert_eq!((loose.cpu_utilization, loose.enforce), (Some(0.0), Enforce::Warn));
    assert!(!Config::default().profile("default").unwrap().budget.has_targets());
}

#[test]
fn an_override_sets_a_per_test_slow_budget() {
    let config =
        parse("[[profile.default.overrides]]\nfilter = 'test(slow)'\nbudget = { slow = \"250ms\" }\n").unwrap();
    let profile = config.profile("default").unwrap();
    assert_eq!(profile.overrides[0].slow_budget, Some(Duration::from_millis(250)));
}

/// Each bad budget value is reported at its line, with what was expected.
#[test]
fn bad_budgets_are_located_and_explained() {
    for (text, at, expected) in [
        ("[profile.default.budget]\ncpu-utilization = 1.5\n", "line 2, column 19", "expected a number from 0 to 1"),
        ("[profile.default.budget]\ncpu-utilization = \"80%\"\n", "line 2, column 19", "a number from 0 to 1"),
        ("[profile.default.budget]\nwall = \"eleven\"\n", "line 2, column 8", "invalid duration `eleven`"),
        ("[profile.default.budget]\nenforce = \"never\"\n", "line 2, column 11", "expected `fail` or `warn`"),
        (
            "[profile.default.budget]\nwal = \"1s\"\n",
            "line 2, column 1",
            "`wall`, `cpu-utilization`, `slow`, `enforce`",
        ),
        (
            "[[profile.default.overrides]]\nfilter = 'all()'\nbudget = { wall = \"1s\" }\n",
            "line 3, column 12",
            "expected `slow`",
        ),
    ] {
        let msg = error(text);
        assert!(msg.contains(at), "{text}: {msg}");
        assert!(msg.contains(expected), "{text}: {msg}");
    }
}

/// Regression (found by fuzzing): a `cfg()` platform with a multi-byte whitespace
/// character, such as a no-break space, panicked on a slice inside the character.
#[test]
fn a_platform_with_unicode_whitespace_is_read_not_a_panic() {
    for platform in ["cfg(\u{a0}unix)", "cfg(unix\u{3000})", "cfg(all(unix,\u{2003}windows))", "cfg(\u{a0})"] {
        let text = format!("[[profile.default.overrides]]\nplatform = '{platform}'\nretries = 1\n");
        if let Ok(config) = parse(&text) {
            let _ = config.profile("default");
        }
    }
    let spec = PlatformSpec::parse("cfg(all(\u{a0}unix,\u{3000}not(windows)))").expect("whitespace is whitespace");
    assert_eq!(spec.to_string(), "cfg(all(unix, not(windows)))");
}

/// Regression (found by fuzzing): `cfg(not(not(...)))` nested 100,000 deep
/// overflowed the stack; past a fixed depth it is an error that says so.
#[test]
fn a_deeply_nested_platform_is_an_error_not_a_stack_overflow() {
    let nested = |depth: usize| format!("cfg({}unix{})", "not(".repeat(depth), ")".repeat(depth));
    assert!(PlatformSpec::parse(&nested(32)).is_ok());
    for depth in [100, 100_000] {
        let error = PlatformSpec::parse(&nested(depth)).unwrap_err();
        assert!(error.contains("nest"), "{error}");
    }
    let text = format!("[[profile.default.overrides]]\nplatform = '{}'\nretries = 1\n", nested(100_000));
    let msg = parse(&text).and_then(|c| c.profile("default")).unwrap_err().to_string();
    assert!(msg.contains("line 2") && msg.contains("nest"), "{msg}");
}

/// Regression (found by fuzzing): an override's filter error was placed by adding
/// its offset in the string's value to the string's start in the file, which is
/// wrong once the string has escapes or is multi-line, and panicked when the
/// place fell inside a multi-byte character.
#[test]
fn a_bad_filter_in_an_escaped_or_multi_line_string_is_located_not_a_panic() {
    for (text, at) in [
        // The error (a second argument) is at offset 8 of the value, which is the
        // second byte of the `é` in the file, one byte later because of the `\t`.
        ("[[profile.default.overrides]]\nfilter = \"\\ttest(é,x)\"\nretries = 1\n", "line 2, column 10"),
        // Here the old place was inside `\u00e9`, four bytes short of the comma.
        ("[[profile.default.overrides]]\nfilter = \"all() | test(\\u00e9日,x)\"\nretries = 1\n", "line 2, column 10"),
        // A multi-line string drops its first line break.
        ("[[profile.default.overrides]]\nfilter = '''\nall() | test(é,x)'''\nretries = 1\n", "line 2, column 10"),
        // A plain string still points into the expression.
        ("[[profile.default.overrides]]\nfilter = 'test(a) | tset(b)'\nretries = 1\n", "line 2, column 21"),
    ] {
        let msg = parse(text).and_then(|c| c.profile("default")).unwrap_err().to_string();
        assert!(msg.contains(at) && msg.contains("invalid filter expression"), "{text}: {msg}");
    }
}

/// Regression (found by fuzzing): `max-fail` above 4294967295 was truncated to 32
/// bits, so `max-fail = 4294967296` silently meant 0.
#[test]
fn a_max_fail_too_large_for_32_bits_is_an_error() {
    let max_fail = |n: &str| parse(&format!("profile.default.fail-fast = {{ max-fail = {n} }}\n"));
    assert_eq!(max_fail("4294967295").unwrap().profile("default").unwrap().fail_fast.max_fail, Some(u32::MAX));
    let msg = max_fail("4294967296").unwrap_err().to_string();
    assert!(msg.contains("max-fail `4294967296`") && msg.contains("4294967295"), "{msg}");
}

/// TOML's own nesting is bounded by the toml crate (80 levels): a file nested far
/// deeper is an error, not a stack overflow.
#[test]
fn deeply_nested_toml_is_an_error_not_a_stack_overflow() {
    let deep = 100_000;
    for text in [
        format!("experimental = {}{}\n", "[".repeat(deep), "]".repeat(deep)),
        format!("experimental = {}{}\n", "{a=".repeat(deep), "}".repeat(deep)),
        format!("{} = 1\n", vec!["a"; deep].join(".")),
        format!("[{}]\n", vec!["profile"; deep].join(".")),
        "[".repeat(deep),
    ] {
        assert!(parse(&text).is_err());
    }
}

/// Property tests: no text makes the config reader panic, and every profile of a
/// file that parses resolves or fails with an error.
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::Config as ProptestConfig;

    fn config() -> ProptestConfig {
        ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
    }

    /// Reads `text` and resolves every profile it may name: only errors, no panic.
    fn check(text: &str) -> Result<(), TestCaseError> {
        match parse(text) {
            Ok(config) => {
                let names: Vec<String> = config.raw.profile.keys().cloned().collect();
                for name in names.iter().map(String::as_str).chain(["default", "nope"]) {
                    match config.profile(name) {
                        Ok(profile) => {
                            let _ = format!("{profile:?}");
                        }
                        Err(error) => {
                            let _ = error.to_string();
                        }
                    }
                }
            }
            Err(error) => {
                let msg = error.to_string();
                prop_assert!(msg.starts_with("failed to ") || msg.starts_with("invalid configuration: "), "{}", msg);
            }
        }
        Ok(())
    }

    /// Keys of nextest's schema (and tempo's), with one that is not.
    const PROFILE_KEYS: &[&str] = &[
        "inherits",
        "test-threads",
        "threads-required",
        "retries",
        "flaky-result",
        "slow-timeout",
        "leak-timeout",
        "fail-fast",
        "status-level",
        "final-status-level",
        "failure-output",
        "success-output",
        "default-filter",
        "run-extra-args",
        "junit",
        "capture-limit",
        "budget",
        "isolation",
        "doctests",
        "max-test-threads",
        "retires",
    ];
    const OVERRIDE_KEYS: &[&str] = &[
        "filter",
        "platform",
        "priority",
        "retries",
        "slow-timeout",
        "leak-timeout",
        "threads-required",
        "test-group",
        "success-output",
        "failure-output",
        "junit",
        "budget",
        "isolation",
        "bogus",
    ];
    const TABLE_KEYS: &[&str] = &[
        "backoff",
        "count",
        "delay",
        "jitter",
        "max-delay",
        "period",
        "terminate-after",
        "grace-period",
        "on-timeout",
        "result",
        "max-fail",
        "terminate",
        "path",
        "report-name",
        "store-success-output",
        "store-failure-output",
        "wall",
        "cpu-utilization",
        "slow",
        "enforce",
        "host",
        "target",
        "max-threads",
    ];
    const PROFILES: &[&str] = &["default", "ci", "a", "b", "default-miri", "é"];

    /// A value of any TOML type, with the strings and numbers the schema takes and
    /// the ones at its edges.
    fn scalar() -> impl Strategy<Value = toml::Value> {
        use toml::Value;
        const WORDS: &[&str] = &[
            "1s",
            "500ms",
            "1m 30s",
            "0s",
            "18446744073709551615s",
            "99999999999999999999h",
            "sixty",
            "num-cpus",
            "num-test-threads",
            "adaptive",
            "fixed",
            "exponential",
            "all",
            "wait",
            "immediate",
            "pass",
            "fail",
            "never",
            "final",
            "immediate-final",
            "process",
            "batch",
            "auto",
            "warn",
            "4MiB",
            "18446744073709551615GiB",
            "-1",
            "",
            "@global",
            "serial",
            "default",
            "ci",
            "test(a)",
            "package(*) - test(/x/)",
            "tset(",
            "test(é",
            "cfg(unix)",
            "cfg(not(windows))",
            "cfg(\u{a0}unix)",
            "cfg(target_os = \"linux\")",
            "cfg(",
            "x86_64-unknown-linux-gnu",
            "NaN",
            "inf",
        ];
        const INTEGERS: &[i64] =
            &[0, 1, 2, -1, 100, 101, -101, i32::MAX as i64 + 1, u32::MAX as i64 + 1, i64::MAX, i64::MIN];
        const FLOATS: &[f64] = &[0.0, 0.5, 1.0, 1.5, -0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e308];
        prop_oneof![
            2 => prop::sample::select(WORDS).prop_map(|w| Value::String(w.to_owned())),
            1 => any::<String>().prop_map(Value::String),
            1 => prop::sample::select(INTEGERS).prop_map(Value::Integer),
            1 => any::<i64>().prop_map(Value::Integer),
            1 => prop::sample::select(FLOATS).prop_map(Value::Float),
            1 => any::<bool>().prop_map(Value::Boolean),
        ]
    }

    /// A value: a scalar, or an array or inline table of them with the schema's keys.
    fn value() -> impl Strategy<Value = toml::Value> {
        scalar().prop_recursive(2, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(toml::Value::Array),
                prop::collection::btree_map(prop::sample::select(TABLE_KEYS), inner, 0..4)
                    .prop_map(|m| { toml::Value::Table(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }),
            ]
        })
    }

    /// Values the schema accepts for `key`, as TOML, so that generated files parse
    /// often enough for profile resolution and overrides to be exercised.
    fn good(key: &str) -> &'static [&'static str] {
        match key {
            "inherits" => &["'default'", "'ci'", "'a'", "'b'"],
            "test-threads" | "max-test-threads" => &["4", "-1", "'num-cpus'", "'adaptive'"],
            "threads-required" => &["2", "'num-cpus'", "'num-test-threads'"],
            "retries" => &[
                "3",
                "{ backoff = 'exponential', count = 2, delay = '1s', max-delay = '10s', jitter = true }",
                "{ backoff = 'fixed', count = 1 }",
            ],
            "flaky-result" => &["'fail'", "'pass'"],
            "slow-timeout" => {
                &["'60s'", "{ period = '1s', terminate-after = 2, grace-period = '0s', on-timeout = 'pass' }"]
            }
            "leak-timeout" => &["'100ms'", "{ period = '1s', result = 'fail' }"],
            "fail-fast" => &["true", "false", "{ max-fail = 3, terminate = 'immediate' }", "{ max-fail = 'all' }"],
            "status-level" => &["'all'", "'none'", "'retry'"],
            "final-status-level" => &["'flaky'", "'skip'"],
            "failure-output" | "success-output" => &["'final'", "'never'", "'immediate-final'"],
            "default-filter" | "filter" => &["'test(a)'", "'not kind(bench)'", "'package(*) - test(/^x/)'", "'tset('"],
            "run-extra-args" => &["['--nocapture']", "[]"],
            "junit" => &["{ path = 'junit.xml', report-name = 'r', store-success-output = true }", "{}"],
            "capture-limit" => &["'4MiB'", "1000", "0"],
            "budget" => &["{ wall = '1s', cpu-utilization = 0.5, slow = '1s', enforce = 'warn' }", "{ slow = '2s' }"],
            "isolation" => &["'batch'", "'process'", "'auto'"],
            "doctests" => &["true"],
            "platform" => &["'cfg(unix)'", "{ host = 'cfg(not(windows))' }", "'x86_64-unknown-linux-gnu'"],
            "priority" => &["5", "-100", "100"],
            "test-group" => &["'@global'", "'serial'"],
            "max-threads" => &["1", "2", "'num-cpus'"],
            _ => &["1"],
        }
    }

    /// A key of `keys` with a value: usually one the schema accepts, else any.
    fn entry(keys: &'static [&'static str]) -> impl Strategy<Value = (&'static str, toml::Value)> {
        prop::sample::select(keys).prop_flat_map(|key| {
            let accepted = prop::sample::select(good(key)).prop_map(|snippet| {
                let table: toml::Table = toml::from_str(&format!("v = {snippet}")).expect("a valid snippet");
                table["v"].clone()
            });
            (Just(key), prop_oneof![8 => accepted, 1 => value()])
        })
    }

    fn table(keys: &'static [&'static str], size: usize) -> impl Strategy<Value = toml::Table> {
        prop::collection::vec(entry(keys), 0..size)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// A file in nextest's shape: profiles (with overrides), test groups and a store,
    /// each key given a value of a random type.
    fn document() -> impl Strategy<Value = String> {
        let profile = (table(PROFILE_KEYS, 5), prop::collection::vec(table(OVERRIDE_KEYS, 4), 0..3)).prop_map(
            |(mut profile, overrides)| {
                if !overrides.is_empty() {
                    let overrides = overrides.into_iter().map(toml::Value::Table).collect();
                    profile.insert("overrides".into(), toml::Value::Array(overrides));
                }
                toml::Value::Table(profile)
            },
        );
        let profiles = prop::collection::btree_map(prop::sample::select(PROFILES), profile, 0..4);
        let groups = prop::collection::btree_map("serial|[a-z@]{1,6}", table(&["max-threads"], 2), 0..3);
        (
            profiles,
            groups,
            prop::option::of(prop_oneof![Just(toml::Value::from("target/t")), value()]),
            prop::option::of(value()),
        )
            .prop_map(|(profiles, groups, store, extra)| {
                let mut doc = toml::Table::new();
                let profiles = profiles.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
                doc.insert("profile".into(), toml::Value::Table(profiles));
                if !groups.is_empty() {
                    let groups = groups.into_iter().map(|(k, v)| (k, toml::Value::Table(v))).collect();
                    doc.insert("test-groups".into(), toml::Value::Table(groups));
                }
                if let Some(store) = store {
                    let mut table = toml::Table::new();
                    table.insert("dir".into(), store);
                    doc.insert("store".into(), toml::Value::Table(table));
                }
                if let Some(extra) = extra {
                    doc.insert("experimental".into(), extra);
                }
                // NaN and the infinities have TOML spellings, so every table renders.
                toml::to_string(&doc).expect("a table renders as TOML")
            })
    }

    /// Damages a text: each edit deletes, or inserts a TOML fragment, at a position
    /// given as a fraction of the length.
    fn damaged() -> impl Strategy<Value = String> {
        const FRAGMENTS: &[&str] = &[
            "[",
            "]",
            "{",
            "}",
            "=",
            "\"",
            "'",
            "'''",
            ",",
            ".",
            "\n",
            " ",
            "-",
            "1",
            "#",
            "\\",
            "\\u00e9",
            "é",
            "\u{0}",
            "[[",
            "]]",
            "9999999999999999999999",
            "inf",
            "nan",
            "1979-05-27T07:32:00Z",
        ];
        let edit = (any::<prop::sample::Index>(), prop::sample::select(FRAGMENTS), any::<bool>());
        (prop_oneof![document(), Just(FOUNDING.to_owned())], prop::collection::vec(edit, 1..5)).prop_map(
            |(text, edits)| {
                let mut chars: Vec<char> = text.chars().collect();
                for (at, fragment, delete) in edits {
                    let at = at.index(chars.len() + 1);
                    if delete && at < chars.len() {
                        chars.remove(at);
                    } else {
                        chars.splice(at..at, fragment.chars());
                    }
                }
                chars.into_iter().collect()
            },
        )
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_text_is_read_or_reported(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn documents_in_nextests_shape_are_read_or_reported(text in document()) {
            check(&text)?;
        }

        #[test]
        fn damaged_documents_are_read_or_reported(text in damaged()) {
            check(&text)?;
        }

        /// Every integer `max-fail` and `retries` is either taken exactly or refused:
        /// none is silently changed on its way into the profile.
        #[test]
        fn integer_settings_are_kept_or_refused(
            n in prop_oneof![any::<i64>(), -10..5_000_000_000i64],
            count in prop_oneof![-10..5_000_000_000i64, any::<i64>()],
        ) {
            let text = format!("[profile.default]\nfail-fast = {{ max-fail = {n} }}\nretries = {count}\n");
            match parse(&text).and_then(|c| c.profile("default")) {
                Ok(profile) => {
                    prop_assert_eq!(profile.fail_fast.max_fail.map(i64::from), Some(n));
                    prop_assert_eq!(i64::from(profile.retries.count), count);
                }
                // A refusal names the setting, whatever range it enforces.
                Err(error) => {
                    let msg = error.to_string();
                    prop_assert!(msg.contains("max-fail") || msg.contains("retry count"), "{}", msg);
                }
            }
        }

        #[test]
        fn platforms_are_read_or_reported(input in "(cfg\\()?[a-z_ ()=,\"\u{a0}\u{3000}]{0,40}\\)?") {
            if let Ok(spec) = PlatformSpec::parse(&input) {
                let _ = spec.matches();
                let again = PlatformSpec::parse(&spec.to_string());
                prop_assert_eq!(again, Ok(spec));
            }
        }
    }

    /// The structured generator writes files that parse often enough to exercise
    /// profile resolution, and fail often enough to exercise the errors.
    #[test]
    fn the_generators_reach_both_outcomes() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut parsed, mut rejected) = (0, 0);
        let strategy = prop_oneof![document(), damaged()];
        for _ in 0..300 {
            let text = strategy.new_tree(&mut runner).expect("a value").current();
            match parse(&text) {
                Ok(_) => parsed += 1,
                Err(_) => rejected += 1,
            }
        }
        assert!(parsed > 30 && rejected > 30, "{parsed} parsed, {rejected} rejected");
    }
}
