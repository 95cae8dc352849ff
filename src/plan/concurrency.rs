//! How many tests run at once: the thread counts people give (`--test-threads`,
//! the profile's `test-threads`, `tune --threads`) resolved against the cores.

/// A thread count as typed: a positive number, `num-cpus`, a negative offset from the
/// core count, or `adaptive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Exactly this many.
    Count(usize),
    /// The core count plus this (negative) offset.
    Offset(isize),
    /// The core count.
    NumCpus,
    /// As many as the cores can serve, test by test.
    Adaptive,
}

impl std::str::FromStr for Threads {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "num-cpus" {
            return Ok(Threads::NumCpus);
        }
        if s == "adaptive" {
            return Ok(Threads::Adaptive);
        }
        // i128 holds any integer someone types, so that a huge one is reported out of
        // range rather than as not a number.
        match s.parse::<i128>() {
            Ok(0) => Err("the thread count must not be 0".into()),
            Ok(n) => {
                let n = i64::try_from(n).unwrap_or(if n > 0 { i64::MAX } else { i64::MIN });
                if n > 0 {
                    crate::limits::check_threads("the thread count", n).map(Threads::Count)
                } else {
                    crate::limits::check_offset("the thread count", n).map(Threads::Offset)
                }
            }
            Err(_) => Err(format!("expected a number of threads, `num-cpus` or `adaptive`, found `{s}`")),
        }
    }
}

/// Resolves a thread count against the core count; never less than 1.
/// How many tests run at once: a fixed slot count, or, when adaptive, up to `slots`
/// at once as long as their predicted CPU demand fits `cpu_budget` cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concurrency {
    /// The slots: the most tests at once, and the timeline's lanes.
    pub slots: usize,
    /// Under adaptive concurrency, the cores the running tests' CPU demand must fit.
    pub cpu_budget: Option<f64>,
}

/// Resolves the command line's thread count (which beats the profile's) on a machine
/// with `cores` cores.
pub fn resolve_concurrency(arg: Option<Threads>, profile: &crate::config::Profile, cores: usize) -> Concurrency {
    let adaptive = match arg {
        Some(a) => a == Threads::Adaptive,
        None => profile.test_threads == crate::config::TestThreads::Adaptive,
    };
    if adaptive {
        let cap = profile.max_test_threads.map_or(4 * cores.max(1), |t| t.resolve(cores));
        return Concurrency { slots: cap.max(1), cpu_budget: Some(cores.max(1) as f64) };
    }
    let slots = match arg {
        Some(t) => resolve_threads(t, cores),
        None => profile.test_threads.resolve(cores),
    };
    Concurrency { slots, cpu_budget: None }
}

/// A fixed thread count for a command-line value; `adaptive` stands for the core count.
pub fn resolve_threads(arg: Threads, cores: usize) -> usize {
    match arg {
        Threads::Count(n) => n,
        Threads::NumCpus | Threads::Adaptive => cores,
        Threads::Offset(off) => crate::limits::offset_threads(cores, off),
    }
}

/// The thread counts `tune` measures by default: the powers of two up to four times
/// the core count, the core count itself, and four times it.
pub fn default_sweep(cores: usize) -> Vec<usize> {
    let cores = cores.max(1);
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|n| *n <= 4 * cores)
        .chain([cores, 4 * cores])
        .collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Resolves `--threads` against the core count: sorted, without repeats, and the
/// default sweep when none were given.
pub fn sweep_threads(args: &[Threads], cores: usize) -> Vec<usize> {
    if args.is_empty() {
        return default_sweep(cores);
    }
    let mut counts: Vec<usize> = args.iter().map(|a| resolve_threads(*a, cores)).collect();
    counts.sort_unstable();
    counts.dedup();
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::concurrency::Threads as ThreadsArg;

    #[test]
    fn the_default_sweep_doubles_up_to_four_times_the_cores_and_includes_them() {
        assert_eq!(default_sweep(1), [1, 2, 4]);
        assert_eq!(default_sweep(2), [1, 2, 4, 8]);
        assert_eq!(default_sweep(6), [1, 2, 4, 6, 8, 16, 24]);
    }

    #[test]
    fn swept_counts_are_resolved_sorted_and_unique() {
        let args = [ThreadsArg::Count(4), ThreadsArg::NumCpus, ThreadsArg::Count(1), ThreadsArg::Offset(-1)];
        assert_eq!(sweep_threads(&args, 2), [1, 2, 4]);
        assert_eq!(sweep_threads(&[], 2), default_sweep(2));
    }

    #[test]
    fn thread_counts_resolve_against_cores() {
        assert_eq!(resolve_threads(ThreadsArg::Count(8), 2), 8);
        assert_eq!(resolve_threads(ThreadsArg::NumCpus, 2), 2);
        assert_eq!(resolve_threads(ThreadsArg::Offset(-1), 4), 3);
        assert_eq!(resolve_threads(ThreadsArg::Offset(-8), 4), 1);
    }
}
