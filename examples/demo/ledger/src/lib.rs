//! A tiny double-entry ledger: amounts in cents, balanced transactions,
//! running balances and a tamper-evident hash chain over the journal.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hint::black_box;

/// An amount of money in cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Cents(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    BadDigit(char),
    TooManyDecimals,
    Overflow,
}

impl Cents {
    /// Parses `"12"`, `"12.3"`, `"-0.05"` or `"+7.50"`.
    pub fn parse(s: &str) -> Result<Cents, ParseError> {
        let s = s.trim();
        let (neg, body) = match s.as_bytes().first() {
            None => return Err(ParseError::Empty),
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            Some(_) => (false, s),
        };
        if body.is_empty() {
            return Err(ParseError::Empty);
        }
        let (whole, frac) = match body.split_once('.') {
            Some((w, f)) => (w, f),
            None => (body, ""),
        };
        if frac.len() > 2 {
            return Err(ParseError::TooManyDecimals);
        }
        let mut value: i64 = 0;
        for ch in whole.chars() {
            let d = ch.to_digit(10).ok_or(ParseError::BadDigit(ch))? as i64;
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(d))
                .ok_or(ParseError::Overflow)?;
        }
        let mut cents: i64 = 0;
        for (i, ch) in frac.chars().enumerate() {
            let d = ch.to_digit(10).ok_or(ParseError::BadDigit(ch))? as i64;
            cents += if i == 0 { d * 10 } else { d };
        }
        let total = value
            .checked_mul(100)
            .and_then(|v| v.checked_add(cents))
            .ok_or(ParseError::Overflow)?;
        Ok(Cents(if neg { -total } else { total }))
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: String,
    pub amount: Cents,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: u64,
    pub memo: String,
    pub postings: Vec<Posting>,
}

impl Transaction {
    pub fn new(id: u64, memo: &str) -> Self {
        Transaction { id, memo: memo.to_string(), postings: Vec::new() }
    }

    pub fn post(mut self, account: &str, amount: i64) -> Self {
        self.postings.push(Posting { account: account.to_string(), amount: Cents(amount) });
        self
    }

    pub fn total(&self) -> Cents {
        Cents(self.postings.iter().map(|p| p.amount.0).sum())
    }

    pub fn is_balanced(&self) -> bool {
        !self.postings.is_empty() && self.total() == Cents(0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    Empty { id: u64 },
    Unbalanced { id: u64, off_by: Cents },
    DuplicateId { id: u64 },
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::Empty { id } => write!(f, "transaction {id} has no postings"),
            LedgerError::Unbalanced { id, off_by } => {
                write!(f, "transaction {id} is unbalanced by {off_by}")
            }
            LedgerError::DuplicateId { id } => write!(f, "transaction {id} was already posted"),
        }
    }
}

impl std::error::Error for LedgerError {}

/// A journal of balanced transactions plus running balances per account.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    journal: Vec<Transaction>,
    balances: BTreeMap<String, i64>,
    ids: HashSet<u64>,
    head: u64,
}

pub const GENESIS: u64 = 0xcbf2_9ce4_8422_2325;

impl Ledger {
    pub fn new() -> Self {
        Ledger { head: GENESIS, ..Default::default() }
    }

    pub fn post(&mut self, tx: Transaction) -> Result<u64, LedgerError> {
        if tx.postings.is_empty() {
            return Err(LedgerError::Empty { id: tx.id });
        }
        let total = tx.total();
        if total != Cents(0) {
            return Err(LedgerError::Unbalanced { id: tx.id, off_by: total });
        }
        if !self.ids.insert(tx.id) {
            return Err(LedgerError::DuplicateId { id: tx.id });
        }
        for p in &tx.postings {
            *self.balances.entry(p.account.clone()).or_insert(0) += p.amount.0;
        }
        self.head = chain(self.head, &tx);
        self.journal.push(tx);
        Ok(self.head)
    }

    pub fn balance(&self, account: &str) -> Cents {
        Cents(self.balances.get(account).copied().unwrap_or(0))
    }

    /// Sum of all balances; always zero for a consistent ledger.
    pub fn trial_balance(&self) -> Cents {
        Cents(self.balances.values().sum())
    }

    pub fn accounts(&self) -> Vec<&str> {
        self.balances.keys().map(String::as_str).collect()
    }

    pub fn len(&self) -> usize {
        self.journal.len()
    }

    pub fn is_empty(&self) -> bool {
        self.journal.is_empty()
    }

    pub fn journal(&self) -> &[Transaction] {
        &self.journal
    }

    /// Head of the hash chain over every posted transaction.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Recomputes the hash chain from the journal (what an auditor does).
    pub fn recompute_head(&self) -> u64 {
        self.journal.iter().fold(GENESIS, chain)
    }
}

/// FNV-1a over `bytes`, continuing from `seed`.
pub fn fnv1a(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Links one transaction into the hash chain.
pub fn chain(prev: u64, tx: &Transaction) -> u64 {
    let mut h = fnv1a(prev, &tx.id.to_le_bytes());
    h = fnv1a(h, tx.memo.as_bytes());
    for p in &tx.postings {
        h = fnv1a(h, p.account.as_bytes());
        h = fnv1a(h, &p.amount.0.to_le_bytes());
    }
    h
}

/// Key stretching used to seal a closed period: `rounds` of mixing.
/// `stretch(stretch(s, a), b) == stretch(s, a + b)`.
pub fn stretch(seed: u64, rounds: u64) -> u64 {
    let mut h = seed;
    for _ in 0..rounds {
        h ^= h >> 29;
        h = black_box(h.wrapping_mul(0xbf58_476d_1ce4_e5b9));
        h ^= h >> 32;
    }
    h
}

/// Deterministic pseudo-random journal for tests and demos.
pub fn synthetic_journal(n: u64, seed: u64) -> Vec<Transaction> {
    const ACCOUNTS: [&str; 8] = [
        "assets:bank",
        "assets:cash",
        "expenses:food",
        "expenses:rent",
        "expenses:travel",
        "income:salary",
        "income:interest",
        "liabilities:card",
    ];
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|id| {
            let a = ACCOUNTS[(next() % 8) as usize];
            let b = ACCOUNTS[(next() % 8) as usize];
            let amount = (next() % 100_000) as i64 + 1;
            Transaction::new(id, "synthetic").post(a, amount).post(b, -amount)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! parse_cases {
        ($($name:ident: $input:expr => $expected:expr,)*) => {
            $(
                #[test]
                fn $name() {
                    assert_eq!(Cents::parse($input), $expected);
                }
            )*
        };
    }

    parse_cases! {
        parse_whole_units: "12" => Ok(Cents(1200)),
        parse_one_decimal: "12.3" => Ok(Cents(1230)),
        parse_two_decimals: "12.34" => Ok(Cents(1234)),
        parse_negative: "-0.05" => Ok(Cents(-5)),
        parse_explicit_plus: "+7.50" => Ok(Cents(750)),
        parse_zero: "0" => Ok(Cents(0)),
        parse_surrounding_whitespace: "  3.10 " => Ok(Cents(310)),
        parse_trailing_dot: "5." => Ok(Cents(500)),
        parse_rejects_empty: "" => Err(ParseError::Empty),
        parse_rejects_lone_sign: "-" => Err(ParseError::Empty),
        parse_rejects_letters: "12a" => Err(ParseError::BadDigit('a')),
        parse_rejects_three_decimals: "1.234" => Err(ParseError::TooManyDecimals),
        parse_rejects_overflow: "99999999999999999999" => Err(ParseError::Overflow),
    }

    #[test]
    fn display_pads_cents() {
        assert_eq!(Cents(5).to_string(), "0.05");
        assert_eq!(Cents(1234).to_string(), "12.34");
    }

    #[test]
    fn display_negative() {
        assert_eq!(Cents(-1050).to_string(), "-10.50");
    }

    #[test]
    fn display_round_trips_through_parse() {
        for v in [-100_001, -1, 0, 1, 99, 100, 123_456] {
            assert_eq!(Cents::parse(&Cents(v).to_string()), Ok(Cents(v)));
        }
    }

    #[test]
    fn balanced_transaction_posts() {
        let mut l = Ledger::new();
        l.post(Transaction::new(1, "lunch").post("expenses:food", 1250).post("assets:cash", -1250))
            .unwrap();
        assert_eq!(l.balance("expenses:food"), Cents(1250));
        assert_eq!(l.balance("assets:cash"), Cents(-1250));
    }

    #[test]
    fn unbalanced_transaction_is_rejected() {
        let mut l = Ledger::new();
        let err = l.post(Transaction::new(1, "oops").post("a", 100).post("b", -90)).unwrap_err();
        assert_eq!(err, LedgerError::Unbalanced { id: 1, off_by: Cents(10) });
        assert!(l.is_empty());
    }

    #[test]
    fn empty_transaction_is_rejected() {
        let mut l = Ledger::new();
        assert_eq!(l.post(Transaction::new(9, "nothing")), Err(LedgerError::Empty { id: 9 }));
    }

    #[test]
    fn duplicate_id_is_rejected() {
        let mut l = Ledger::new();
        let tx = Transaction::new(7, "rent").post("expenses:rent", 90_000).post("assets:bank", -90_000);
        l.post(tx.clone()).unwrap();
        assert_eq!(l.post(tx), Err(LedgerError::DuplicateId { id: 7 }));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn unknown_account_has_zero_balance() {
        assert_eq!(Ledger::new().balance("assets:moon"), Cents(0));
    }

    #[test]
    fn three_way_split_balances() {
        let tx = Transaction::new(1, "dinner")
            .post("expenses:food", 6000)
            .post("assets:cash", -2000)
            .post("liabilities:card", -4000);
        assert!(tx.is_balanced());
    }

    #[test]
    fn accounts_are_sorted() {
        let mut l = Ledger::new();
        l.post(Transaction::new(1, "x").post("zeta", 1).post("alpha", -1)).unwrap();
        assert_eq!(l.accounts(), vec!["alpha", "zeta"]);
    }

    #[test]
    fn trial_balance_is_zero_after_small_journal() {
        let mut l = Ledger::new();
        for tx in synthetic_journal(200, 42) {
            l.post(tx).unwrap();
        }
        assert_eq!(l.trial_balance(), Cents(0));
    }

    #[test]
    fn head_changes_with_every_post() {
        let mut l = Ledger::new();
        let h0 = l.head();
        let h1 = l.post(Transaction::new(1, "a").post("x", 5).post("y", -5)).unwrap();
        let h2 = l.post(Transaction::new(2, "b").post("x", 5).post("y", -5)).unwrap();
        assert!(h0 != h1 && h1 != h2 && h0 != h2);
    }

    #[test]
    fn chain_is_sensitive_to_memo() {
        let a = Transaction::new(1, "coffee").post("x", 5).post("y", -5);
        let b = Transaction::new(1, "coffeE").post("x", 5).post("y", -5);
        assert_ne!(chain(GENESIS, &a), chain(GENESIS, &b));
    }

    #[test]
    fn chain_is_order_sensitive() {
        let a = Transaction::new(1, "a").post("x", 5).post("y", -5);
        let b = Transaction::new(2, "b").post("x", 7).post("y", -7);
        assert_ne!(chain(chain(GENESIS, &a), &b), chain(chain(GENESIS, &b), &a));
    }

    #[test]
    fn recompute_matches_running_head() {
        let mut l = Ledger::new();
        for tx in synthetic_journal(50, 7) {
            l.post(tx).unwrap();
        }
        assert_eq!(l.recompute_head(), l.head());
    }

    #[test]
    fn fnv1a_known_vector() {
        assert_eq!(fnv1a(GENESIS, b""), GENESIS);
        assert_eq!(fnv1a(GENESIS, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn stretch_composes() {
        assert_eq!(stretch(stretch(11, 300), 700), stretch(11, 1000));
    }

    #[test]
    fn synthetic_journal_is_deterministic() {
        assert_eq!(synthetic_journal(20, 3), synthetic_journal(20, 3));
        assert_ne!(synthetic_journal(20, 3), synthetic_journal(20, 4));
    }

    #[test]
    fn error_messages_are_readable() {
        let e = LedgerError::Unbalanced { id: 3, off_by: Cents(-25) };
        assert_eq!(e.to_string(), "transaction 3 is unbalanced by -0.25");
    }
}
