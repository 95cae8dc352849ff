//! Month-end statements: quick functional tests of the public API.

use ledger::{Cents, Ledger, Transaction};

fn month() -> Ledger {
    let mut l = Ledger::new();
    let txs = [
        Transaction::new(1, "salary").post("assets:bank", 400_000).post("income:salary", -400_000),
        Transaction::new(2, "rent").post("expenses:rent", 150_000).post("assets:bank", -150_000),
        Transaction::new(3, "groceries").post("expenses:food", 23_456).post("liabilities:card", -23_456),
        Transaction::new(4, "pay card").post("liabilities:card", 23_456).post("assets:bank", -23_456),
        Transaction::new(5, "atm").post("assets:cash", 10_000).post("assets:bank", -10_000),
    ];
    for tx in txs {
        l.post(tx).unwrap();
    }
    l
}

#[test]
fn bank_balance_after_month() {
    assert_eq!(month().balance("assets:bank").to_string(), "2165.44");
}

#[test]
fn card_is_paid_off() {
    assert_eq!(month().balance("liabilities:card"), Cents(0));
}

#[test]
fn income_is_negative_in_double_entry() {
    assert_eq!(month().balance("income:salary"), Cents(-400_000));
}

#[test]
fn statement_lists_every_account_once() {
    assert_eq!(
        month().accounts(),
        vec![
            "assets:bank",
            "assets:cash",
            "expenses:food",
            "expenses:rent",
            "income:salary",
            "liabilities:card"
        ]
    );
}

#[test]
fn month_trial_balance_is_zero() {
    assert_eq!(month().trial_balance(), Cents(0));
}

#[test]
fn replaying_the_month_gives_the_same_head() {
    assert_eq!(month().head(), month().head());
}

#[test]
fn expenses_total() {
    let l = month();
    let total = l.balance("expenses:rent").0 + l.balance("expenses:food").0;
    assert_eq!(Cents(total).to_string(), "1734.56");
}
