//! Exhaustive searches with known answers: CPU-bound, several hundred
//! milliseconds each in a debug build.

use std::hint::black_box;

use numtheory::{collatz_len, is_prime, prime_count, sieve, totient};

#[test]
fn sieve_counts_primes_below_ten_million() {
    assert_eq!(prime_count(black_box(10_000_000)), 664_579);
}

#[test]
fn miller_rabin_agrees_with_sieve() {
    let limit = black_box(MR_LIMIT);
    let s = sieve(limit);
    for (n, &sieved) in s.iter().enumerate() {
        assert_eq!(is_prime(n as u64), sieved, "n = {n}");
    }
}

#[test]
fn longest_collatz_chain_below_one_million() {
    let best = (1..black_box(1_000_000u64)).max_by_key(|&n| (collatz_len(n), std::cmp::Reverse(n))).unwrap();
    assert_eq!((best, collatz_len(best)), (837_799, 525));
}

#[test]
fn totient_sum_counts_farey_fractions() {
    // |F_n| = 1 + sum_{k<=n} phi(k); |F_1000| = 304_193.
    let sum: u64 = (1..=black_box(1_000u64)).map(totient).sum();
    assert_eq!(1 + sum, 304_193);
}

const MR_LIMIT: usize = 1_000_000;
