//! Auditor-style checks over large synthetic journals. The two big ones are
//! CPU-bound (hundreds of milliseconds each in a debug build).

use std::hint::black_box;

use ledger::{stretch, synthetic_journal, Cents, Ledger};

fn load(n: u64, seed: u64) -> Ledger {
    let mut l = Ledger::new();
    for tx in synthetic_journal(n, seed) {
        l.post(tx).expect("synthetic transactions are balanced");
    }
    l
}

#[test]
fn audit_recomputes_hash_chain_over_large_journal() {
    let l = load(black_box(AUDIT_JOURNAL_LEN), 2024);
    assert_eq!(l.trial_balance(), Cents(0));
    assert_eq!(l.len() as u64, AUDIT_JOURNAL_LEN);
    // An auditor recomputes the chain twice from scratch; both must match the
    // head the ledger maintained incrementally.
    for _ in 0..2 {
        assert_eq!(black_box(l.recompute_head()), l.head());
    }
}

#[test]
fn seal_year_end_with_key_stretching() {
    let seed = black_box(load(1_000, 31).head());
    let rounds = black_box(SEAL_ROUNDS);
    let sealed = stretch(seed, rounds);
    let in_two_steps = stretch(stretch(seed, rounds / 3), rounds - rounds / 3);
    assert_eq!(sealed, in_two_steps);
    assert_ne!(sealed, seed);
}

#[test]
fn audit_detects_tampered_amount() {
    let l = load(500, 9);
    let mut journal = l.journal().to_vec();
    journal[250].postings[0].amount.0 += 1;
    journal[250].postings[1].amount.0 -= 1;
    let mut forged = Ledger::new();
    for tx in journal {
        forged.post(tx).unwrap();
    }
    assert_eq!(forged.trial_balance(), Cents(0), "still balanced...");
    assert_ne!(forged.head(), l.head(), "...but the chain catches it");
}

#[test]
fn audit_detects_reordered_entries() {
    let l = load(100, 5);
    let mut journal = l.journal().to_vec();
    journal.swap(10, 11);
    let mut reordered = Ledger::new();
    for tx in journal {
        reordered.post(tx).unwrap();
    }
    assert_ne!(reordered.head(), l.head());
}

const AUDIT_JOURNAL_LEN: u64 = 250_000;
const SEAL_ROUNDS: u64 = 40_000_000;
