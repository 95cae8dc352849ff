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

/// A small deterministic generator, so that the property tests need no extra crate
/// and fail the same way every time.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    "=",
    "\"",
    "'",
    ",",
    ".",
    "\n",
    " ",
    "-",
    "1",
    "0",
    "60s",
    "1s",
    "ms",
    "profile",
    "default",
    "retries",
    "count",
    "backoff",
    "fixed",
    "exponential",
    "inherits",
    "test-threads",
    "num-cpus",
    "slow-timeout",
    "terminate-after",
    "fail-fast",
    "max-fail",
    "true",
    "overrides",
    "filter",
    "test(",
    ")",
    "test-group",
    "[[",
    "]]",
    "junit",
    "path",
    "\\",
    "#",
    "ü",
    "\u{0}",
    "9999999999999999999999",
];

fn mutate(rng: &mut XorShift, text: &str) -> String {
    let mut s: Vec<char> = text.chars().collect();
    for _ in 0..=rng.below(6) {
        let at = rng.below(s.len() + 1);
        match rng.below(3) {
            0 if at < s.len() => {
                s.remove(at);
            }
            1 if at < s.len() => {
                let piece = ALPHABET[rng.below(ALPHABET.len())];
                s.splice(at..at + 1, piece.chars());
            }
            _ => {
                let piece = ALPHABET[rng.below(ALPHABET.len())];
                s.splice(at..at, piece.chars());
            }
        }
    }
    s.into_iter().collect()
}

/// Property: no input, however damaged, makes the config reader panic; every
/// profile of a file that parses resolves or fails with an error.
#[test]
fn damaged_configs_never_panic() {
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let seeds = [
        FOUNDING,
        "[profile.default]\nretries = { backoff = \"exponential\", count = 2, delay = \"1s\" }\n[[profile.default.overrides]]\nfilter = 'test(a)'\nretries = 1\n",
    ];
    let mut parsed = 0;
    for i in 0..4000 {
        let seed = seeds[i % seeds.len()];
        let text = if i % 10 == 0 {
            (0..rng.below(40)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect()
        } else {
            mutate(&mut rng, seed)
        };
        if let Ok(config) = parse(&text) {
            parsed += 1;
            for name in ["default", "ci", "chicago-tdd", "nope"] {
                let _ = config.profile(name);
            }
        }
    }
    assert!(parsed > 100, "some mutations still parse, so profile resolution is exercised too ({parsed})");
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
