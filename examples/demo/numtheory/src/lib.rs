//! Elementary number theory: gcd, modular arithmetic, primality, sieves.

use std::hint::black_box;

pub fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

pub fn lcm(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 { 0 } else { a / gcd(a, b) * b }
}

/// `base^exp mod m` by square-and-multiply (128-bit intermediates).
pub fn mod_pow(base: u64, mut exp: u64, m: u64) -> u64 {
    if m == 1 {
        return 0;
    }
    let m128 = m as u128;
    let mut result: u128 = 1;
    let mut b = base as u128 % m128;
    while exp > 0 {
        if exp & 1 == 1 {
            result = result * b % m128;
        }
        b = b * b % m128;
        exp >>= 1;
    }
    result as u64
}

/// Modular inverse via the extended Euclidean algorithm.
pub fn mod_inv(a: u64, m: u64) -> Option<u64> {
    let (mut old_r, mut r) = (a as i128, m as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    if old_r != 1 {
        return None;
    }
    Some(old_s.rem_euclid(m as i128) as u64)
}

pub fn is_prime_trial(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// Deterministic Miller-Rabin for all `u64`.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    for p in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        if n % p == 0 {
            return n == p;
        }
    }
    let (mut d, mut s) = (n - 1, 0);
    while d % 2 == 0 {
        d /= 2;
        s += 1;
    }
    'witness: for a in [2u64, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37] {
        let mut x = mod_pow(a, d, n);
        if x == 1 || x == n - 1 {
            continue;
        }
        for _ in 1..s {
            x = ((x as u128 * x as u128) % n as u128) as u64;
            if x == n - 1 {
                continue 'witness;
            }
        }
        return false;
    }
    true
}

/// Sieve of Eratosthenes: `result[i]` says whether `i` is prime.
pub fn sieve(limit: usize) -> Vec<bool> {
    let mut is = vec![true; limit + 1];
    is[0] = false;
    if limit >= 1 {
        is[1] = false;
    }
    let mut i = 2;
    while i * i <= limit {
        if is[i] {
            let mut j = i * i;
            while j <= limit {
                is[j] = false;
                j += i;
            }
        }
        i += 1;
    }
    black_box(is)
}

/// Number of primes `<= limit`.
pub fn prime_count(limit: usize) -> usize {
    sieve(limit).into_iter().filter(|&b| b).count()
}

/// Prime factorisation by trial division, smallest factor first.
pub fn factorize(mut n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut d = 2;
    while d * d <= n {
        while n % d == 0 {
            out.push(d);
            n /= d;
        }
        d += 1;
    }
    if n > 1 {
        out.push(n);
    }
    out
}

/// Euler's totient.
pub fn totient(n: u64) -> u64 {
    let mut f = factorize(n);
    f.dedup();
    f.iter().fold(n, |acc, p| acc / p * (p - 1))
}

/// Number of terms in the Collatz sequence starting at `n` (including `n` and 1).
pub fn collatz_len(mut n: u64) -> u32 {
    let mut len = 1;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        len += 1;
    }
    black_box(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! prime_cases {
        ($($name:ident: $n:expr => $expected:expr,)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(is_prime($n), $expected);
                    assert_eq!(is_prime_trial($n), $expected);
                }
            )*
        };
    }

    prime_cases! {
        zero_is_not_prime: 0 => false,
        one_is_not_prime: 1 => false,
        two_is_prime: 2 => true,
        nine_is_not_prime: 9 => false,
        ninety_seven_is_prime: 97 => true,
        carmichael_561_is_not_prime: 561 => false,
        mersenne_8191_is_prime: 8191 => true,
        square_of_prime_is_not_prime: 10_007 * 10_007 => false,
        large_prime_1_000_000_007: 1_000_000_007 => true,
    }

    #[test]
    fn gcd_basics() {
        assert_eq!((gcd(12, 18), gcd(17, 5), gcd(0, 9), gcd(9, 0)), (6, 1, 9, 9));
    }

    #[test]
    fn lcm_basics() {
        assert_eq!((lcm(4, 6), lcm(0, 3), lcm(7, 13)), (12, 0, 91));
    }

    #[test]
    fn mod_pow_small() {
        assert_eq!(mod_pow(3, 200, 13), 9);
        assert_eq!(mod_pow(5, 0, 7), 1);
        assert_eq!(mod_pow(5, 3, 1), 0);
    }

    #[test]
    fn fermat_little_theorem() {
        for a in 2..50 {
            assert_eq!(mod_pow(a, 1_000_000_006, 1_000_000_007), 1);
        }
    }

    #[test]
    fn mod_inv_exists_for_coprime() {
        assert_eq!(mod_inv(3, 11), Some(4));
        assert_eq!(mod_inv(10, 17).map(|i| i * 10 % 17), Some(1));
    }

    #[test]
    fn mod_inv_missing_for_shared_factor() {
        assert_eq!(mod_inv(6, 9), None);
    }

    #[test]
    fn huge_semiprime_is_composite() {
        assert!(!is_prime(4_294_967_291 * 4_294_967_279));
    }

    #[test]
    fn largest_u64_prime() {
        assert!(is_prime(18_446_744_073_709_551_557));
    }

    #[test]
    fn small_sieve() {
        let s = sieve(20);
        let primes: Vec<usize> = (0..=20).filter(|&i| s[i]).collect();
        assert_eq!(primes, vec![2, 3, 5, 7, 11, 13, 17, 19]);
    }

    #[test]
    fn sieve_of_zero_and_one() {
        assert_eq!(sieve(0), vec![false]);
        assert_eq!(sieve(1), vec![false, false]);
    }

    #[test]
    fn prime_count_below_thousand() {
        assert_eq!(prime_count(1_000), 168);
    }

    #[test]
    fn factorize_composite() {
        assert_eq!(factorize(360), vec![2, 2, 2, 3, 3, 5]);
    }

    #[test]
    fn factorize_prime() {
        assert_eq!(factorize(1_000_000_007), vec![1_000_000_007]);
    }

    #[test]
    fn factorize_one_is_empty() {
        assert!(factorize(1).is_empty());
    }

    #[test]
    fn totient_values() {
        assert_eq!([1, 9, 10, 36, 97].map(totient), [1, 6, 4, 12, 96]);
    }

    #[test]
    fn collatz_of_27() {
        assert_eq!(collatz_len(27), 112);
    }

    #[test]
    fn collatz_of_one() {
        assert_eq!(collatz_len(1), 1);
    }
}
