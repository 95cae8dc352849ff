//! The range of every number a user can give tempo, in one place, so that a config
//! value or a flag outside it is refused where it is read, with the range named,
//! instead of overflowing an `Instant`, spawning a million threads or allocating a
//! shard table the size of a disk later on.
//!
//! The ranges are documented in `docs/reference/config.md`; a change here belongs there too.

use std::time::Duration;

/// The longest duration any setting takes: one year as humantime counts it (365.25
/// days), so that `"1y"` is the largest value that can be written. Longer than any
/// test run, and far from where `Instant + Duration` could overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// The shortest `slow-timeout` period. A period of 0 reported every running test as
/// slow in a busy loop (hundreds of thousands of lines a second); anything shorter
/// than a tenth of a second is noise rather than a finding.
pub const MIN_SLOW_PERIOD: Duration = Duration::from_millis(100);

/// The most tests run at once (`test-threads`, `-j`, `max-test-threads`, a test
/// group's `max-threads`, `threads-required`). Each slot is a thread of tempo's own;
/// `-j 1000000` used to abort when thread creation failed.
pub const MAX_TEST_THREADS: usize = 1024;

/// The most retries after a test's first attempt.
pub const MAX_RETRIES: u32 = 1000;

/// The most slow periods before a test is ended (`terminate-after`).
pub const MAX_TERMINATE_AFTER: u32 = 100_000;

/// The most shards of `--partition KIND:K/N` and `partition --show N`. The duration
/// partitioner keeps a table of N loads, and `--show` one entry per shard.
pub const MAX_PARTITIONS: u64 = 65_536;

/// The most runs of `cargo tempo flaky --runs`.
pub const MAX_FLAKY_RUNS: u32 = 10_000;

/// The most measured runs per thread count of `cargo tempo tune --repeat`.
pub const MAX_TUNE_REPEAT: u32 = 1000;

/// Checks that `value` is within `min..=MAX_DURATION`, naming `what` and the range
/// if it is not.
pub fn check_duration(what: &str, value: Duration, min: Duration) -> Result<Duration, String> {
    if (min..=MAX_DURATION).contains(&value) {
        return Ok(value);
    }
    Err(format!(
        "{what} `{}` is out of range; expected a duration from {} to {}",
        humantime::format_duration(value),
        humantime::format_duration(min),
        humantime::format_duration(MAX_DURATION),
    ))
}

/// Checks that the thread count `n` is within `1..=MAX_TEST_THREADS`.
pub fn check_threads(what: &str, n: i64) -> Result<usize, String> {
    match usize::try_from(n) {
        Ok(n) if (1..=MAX_TEST_THREADS).contains(&n) => Ok(n),
        _ => Err(format!("{what} `{n}` is out of range; expected a number from 1 to {MAX_TEST_THREADS}")),
    }
}

/// Checks a negative thread offset (`-N`: the core count minus N), within
/// `-MAX_TEST_THREADS..=-1`.
pub fn check_offset(what: &str, n: i64) -> Result<isize, String> {
    let max = MAX_TEST_THREADS as i64;
    if (-max..=-1).contains(&n) {
        // In range of isize on every platform tempo builds for.
        return Ok(n as isize);
    }
    Err(format!("{what} `{n}` is out of range; a negative offset from the core count must be from -{max} to -1"))
}

/// Checks a count that must be within `range`, naming `what` and the range.
pub fn check_count(what: &str, n: i64, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    match u32::try_from(n) {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("{what} `{n}` is out of range; expected a number from {} to {}", range.start(), range.end())),
    }
}

/// The core count plus a negative `offset`, at least 1, without overflow.
pub fn offset_threads(cores: usize, offset: isize) -> usize {
    let cores = isize::try_from(cores).unwrap_or(isize::MAX);
    usize::try_from(cores.saturating_add(offset)).unwrap_or(0).clamp(1, MAX_TEST_THREADS.max(1))
}

/// What an archive (`run --archive-file`) may unpack to unless `TEMPO_ARCHIVE_MAX_SIZE` says otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 64 << 30;
/// The variable that raises (or lowers) [`DEFAULT_MAX_SIZE`].
pub const MAX_SIZE_ENV: &str = "TEMPO_ARCHIVE_MAX_SIZE";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_checked_against_both_ends() {
        let ms = Duration::from_millis;
        for (value, min, ok) in [
            (ms(0), Duration::ZERO, true),
            (ms(99), MIN_SLOW_PERIOD, false),
            (ms(100), MIN_SLOW_PERIOD, true),
            (MAX_DURATION, Duration::ZERO, true),
            (MAX_DURATION + ms(1), Duration::ZERO, false),
            (Duration::MAX, Duration::ZERO, false),
        ] {
            assert_eq!(check_duration("x", value, min).is_ok(), ok, "{value:?} min {min:?}");
        }
        let err = check_duration("slow-timeout", Duration::ZERO, MIN_SLOW_PERIOD).unwrap_err();
        assert!(err.contains("from 100ms to 1year"), "{err}");
    }

    #[test]
    fn thread_counts_and_offsets_have_bounds() {
        for (n, ok) in [(0, false), (1, true), (1024, true), (1025, false), (-1, false), (i64::MAX, false)] {
            assert_eq!(check_threads("t", n).is_ok(), ok, "{n}");
        }
        for (n, ok) in [(0, false), (-1, true), (-1024, true), (-1025, false), (i64::MIN, false), (1, false)] {
            assert_eq!(check_offset("t", n).is_ok(), ok, "{n}");
        }
        assert!(check_threads("test-threads", 5000).unwrap_err().contains("from 1 to 1024"));
    }

    #[test]
    fn counts_do_not_wrap() {
        for (n, ok) in [(-1, false), (0, true), (1000, true), (1001, false), (4_294_967_296, false)] {
            assert_eq!(check_count("retries", n, 0..=MAX_RETRIES).is_ok(), ok, "{n}");
        }
    }

    #[test]
    fn offsets_never_overflow_or_reach_zero() {
        assert_eq!(offset_threads(8, -2), 6);
        assert_eq!(offset_threads(8, -9), 1);
        assert_eq!(offset_threads(8, isize::MIN), 1);
        assert_eq!(offset_threads(usize::MAX, -1), MAX_TEST_THREADS);
    }
}
