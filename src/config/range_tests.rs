//! Every number the config takes, at and just past each end of its documented range
//! (see `crate::limits` and docs/reference/config.md): inside it resolves, outside it is a
//! located error that names the range, never a wrapped value or a later panic.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(ConfigSource { path: PathBuf::from(".config/tempo.toml"), text: text.to_owned() })
}

/// One key under `[profile.default]` (or anywhere, when it starts with `[`).
fn check(line: &str) -> Result<Profile, String> {
    let text = if line.starts_with('[') { line.to_owned() } else { format!("[profile.default]\n{line}\n") };
    let config = parse(&text).map_err(|e| e.to_string())?;
    config.profile("default").map_err(|e| e.to_string())
}

#[test]
fn durations_take_up_to_a_year_and_slow_periods_at_least_100ms() {
    let cases: &[(&str, Option<&str>)] = &[
        ("slow-timeout = \"100ms\"", None),
        ("slow-timeout = \"99ms\"", Some("from 100ms to 1year")),
        ("slow-timeout = \"0s\"", Some("from 100ms to 1year")),
        ("slow-timeout = \"1y\"", None),
        ("slow-timeout = \"1y 1s\"", Some("from 100ms to 1year")),
        ("slow-timeout = \"500000000000y\"", Some("from 100ms to 1year")),
        // Too large for a `Duration` at all: humantime's overflow, reported as a range.
        ("slow-timeout = \"600000000000y\"", Some("out of range")),
        ("slow-timeout = { period = \"0s\" }", Some("from 100ms to 1year")),
        ("slow-timeout = { period = \"1s\", grace-period = \"0s\" }", None),
        ("slow-timeout = { period = \"1s\", grace-period = \"2y\" }", Some("from 0s to 1year")),
        ("leak-timeout = \"0s\"", None),
        ("leak-timeout = \"1y\"", None),
        ("leak-timeout = \"500000000000y\"", Some("from 0s to 1year")),
        ("leak-timeout = { period = \"2y\" }", Some("from 0s to 1year")),
        ("retries = { backoff = \"fixed\", count = 1, delay = \"1y\" }", None),
        ("retries = { backoff = \"fixed\", count = 1, delay = \"500000000000y\" }", Some("from 0s to 1year")),
        ("retries = { backoff = \"exponential\", count = 1, delay = \"1s\", max-delay = \"2y\" }", Some("to 1year")),
        ("budget = { wall = \"2y\" }", Some("to 1year")),
        ("budget = { slow = \"2y\" }", Some("to 1year")),
        ("[[profile.default.overrides]]\nfilter = 'all()'\nbudget = { slow = \"2y\" }", Some("to 1year")),
        ("[[profile.default.overrides]]\nfilter = 'all()'\nslow-timeout = \"0s\"", Some("from 100ms")),
        ("[[profile.default.overrides]]\nfilter = 'all()'\nleak-timeout = \"2y\"", Some("to 1year")),
    ];
    for (line, expected) in cases {
        match (check(line), expected) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => {
                assert!(e.contains(want), "{line}: {e}");
                assert!(e.contains(".config/tempo.toml` at line"), "{line}: {e}");
            }
            (got, _) => panic!("{line}: expected {expected:?}, got {got:?}"),
        }
    }
    assert_eq!(check("slow-timeout = \"1y\"").unwrap().slow_timeout.period, crate::limits::MAX_DURATION);
}

#[test]
fn counts_have_ranges_and_never_wrap() {
    let cases: &[(&str, Option<&str>)] = &[
        ("retries = 0", None),
        ("retries = 1000", None),
        ("retries = 1001", Some("from 0 to 1000")),
        ("retries = -1", Some("from 0 to 1000")),
        ("retries = 4294967296", Some("from 0 to 1000")),
        ("retries = { backoff = \"fixed\", count = 1001 }", Some("from 0 to 1000")),
        ("retries = { backoff = \"exponential\", count = 4294967297, delay = \"1s\" }", Some("from 0 to 1000")),
        ("fail-fast = { max-fail = 1 }", None),
        ("fail-fast = { max-fail = 4294967295 }", None),
        ("fail-fast = { max-fail = 4294967296 }", Some("from 1 to 4294967295")),
        ("fail-fast = { max-fail = 0 }", Some("from 1 to 4294967295")),
        ("test-threads = 1", None),
        ("test-threads = 1024", None),
        ("test-threads = 1025", Some("from 1 to 1024")),
        ("test-threads = 9223372036854775807", Some("from 1 to 1024")),
        ("test-threads = -1024", None),
        ("test-threads = -1025", Some("from -1024 to -1")),
        ("test-threads = -9223372036854775808", Some("from -1024 to -1")),
        ("max-test-threads = 1025", Some("from 1 to 1024")),
        ("threads-required = 1024", None),
        ("threads-required = 1025", Some("from 1 to 1024")),
        ("threads-required = 0", Some("from 1 to 1024")),
        ("[test-groups.g]\nmax-threads = 1024", None),
        ("[test-groups.g]\nmax-threads = 1000000", Some("from 1 to 1024")),
        ("slow-timeout = { period = \"1s\", terminate-after = 1 }", None),
        ("slow-timeout = { period = \"1s\", terminate-after = 100000 }", None),
        ("slow-timeout = { period = \"1s\", terminate-after = 100001 }", Some("from 1 to 100000")),
        ("slow-timeout = { period = \"1s\", terminate-after = 0 }", Some("from 1 to 100000")),
        ("slow-timeout = { period = \"1s\", terminate-after = 4294967296 }", Some("from 1 to 100000")),
        ("[[profile.default.overrides]]\nfilter = 'all()'\npriority = 101", Some("expected -100 to 100")),
        ("[[profile.default.overrides]]\nfilter = 'all()'\nretries = 1001", Some("from 0 to 1000")),
        ("budget = { cpu-utilization = 1.5 }", Some("from 0 to 1")),
    ];
    for (line, expected) in cases {
        match (check(line), expected) {
            (Ok(_), None) => {}
            (Err(e), Some(want)) => assert!(e.contains(want), "{line}: {e}"),
            (got, _) => panic!("{line}: expected {expected:?}, got {got:?}"),
        }
    }
    assert_eq!(check("fail-fast = { max-fail = 4294967295 }").unwrap().fail_fast.max_fail, Some(u32::MAX));
    assert_eq!(
        check("slow-timeout = { period = \"1s\", terminate-after = 100000 }").unwrap().slow_timeout.terminate_after,
        Some(100_000)
    );
    let p = check("retries = { backoff = \"fixed\", count = 1000, delay = \"1y\" }").unwrap();
    assert_eq!((p.retries.count, p.retries.delay), (1000, Duration::from_secs(31_557_600)));
}

/// An exponential delay that doubles 999 times without a `max-delay` stops at the
/// longest duration, rather than at `Duration::MAX`, which overflowed `Instant` math.
#[test]
fn exponential_delays_stop_at_a_year() {
    let p = check("retries = { backoff = \"exponential\", count = 1000, delay = \"1y\" }").unwrap();
    assert_eq!(p.retries.delay_before(2), crate::limits::MAX_DURATION);
    assert_eq!(p.retries.delay_before(1001), crate::limits::MAX_DURATION);
    let p = check("retries = { backoff = \"exponential\", count = 1000, delay = \"1s\" }").unwrap();
    assert_eq!(p.retries.delay_before(3), Duration::from_secs(2));
    assert_eq!(p.retries.delay_before(1001), crate::limits::MAX_DURATION);
}
