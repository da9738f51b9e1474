//! The customer's e-wallet as a double-entry ledger: every movement is postings that sum to zero.

use crate::ids::{CarrierCode, CustomerId};
use crate::money::{Money, MoneyError};
use serde::Serialize;
use std::fmt;

/// A ledger account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum Account {
    /// What simdesk owes a customer: their e-wallet.
    Wallet { customer: CustomerId },
    /// Refunds a carrier has granted (the other side of a refund credit).
    CarrierRefunds { carrier: CarrierCode },
    /// Fees a carrier has charged.
    CarrierFees { carrier: CarrierCode },
    /// Money on its way out to a card or bank account.
    PayoutsInTransit,
    /// Usage a carrier charged to wallets after the line ended.
    CarrierUsage { carrier: CarrierCode },
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Wallet { customer } => write!(f, "wallet:{customer}"),
            Account::CarrierRefunds { carrier } => write!(f, "carrier:{carrier}:refunds"),
            Account::CarrierFees { carrier } => write!(f, "carrier:{carrier}:fees"),
            Account::PayoutsInTransit => f.write_str("payouts:in-transit"),
            Account::CarrierUsage { carrier } => write!(f, "carrier:{carrier}:usage"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    RefundCredit,
    PayoutDebit,
    Fee,
    LateUsage,
}

impl MovementKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::RefundCredit => "refund_credit",
            MovementKind::PayoutDebit => "payout_debit",
            MovementKind::Fee => "fee",
            MovementKind::LateUsage => "late_usage",
        }
    }
}

/// One side of a movement: positive credits the account, negative debits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posting {
    pub account: Account,
    pub amount: Money,
}

/// A balanced movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movement {
    pub kind: MovementKind,
    pub postings: Vec<Posting>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("an amount moved through the wallet must be positive, got {0}")]
    NotPositive(Money),
    #[error("the wallet holds {available}; a payout of {requested} is more than that")]
    Insufficient { available: Money, requested: Money },
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl Movement {
    /// Whether the postings sum to zero in one currency — the ledger's invariant.
    pub fn is_balanced(&self) -> bool {
        let Some(first) = self.postings.first() else {
            return false;
        };
        let currency = first.amount.currency();
        self.postings
            .iter()
            .all(|p| p.amount.currency() == currency)
            && self
                .postings
                .iter()
                .map(|p| i128::from(p.amount.minor()))
                .sum::<i128>()
                == 0
    }
}

/// A refund credited to the customer's wallet, granted by the carrier.
pub fn refund_credit(
    customer: CustomerId,
    carrier: &CarrierCode,
    amount: Money,
) -> Result<Movement, WalletError> {
    if !amount.is_positive() {
        return Err(WalletError::NotPositive(amount));
    }
    Ok(Movement {
        kind: MovementKind::RefundCredit,
        postings: vec![
            Posting {
                account: Account::Wallet { customer },
                amount,
            },
            Posting {
                account: Account::CarrierRefunds {
                    carrier: carrier.clone(),
                },
                amount: amount.neg()?,
            },
        ],
    })
}

/// Money leaving the wallet for a card or bank account; the wallet must hold it.
pub fn payout(
    customer: CustomerId,
    available: Money,
    amount: Money,
) -> Result<Movement, WalletError> {
    if !amount.is_positive() {
        return Err(WalletError::NotPositive(amount));
    }
    if available.currency() != amount.currency() || available.minor() < amount.minor() {
        return Err(WalletError::Insufficient {
            available,
            requested: amount,
        });
    }
    Ok(Movement {
        kind: MovementKind::PayoutDebit,
        postings: vec![
            Posting {
                account: Account::Wallet { customer },
                amount: amount.neg()?,
            },
            Posting {
                account: Account::PayoutsInTransit,
                amount,
            },
        ],
    })
}

/// Usage counted after the line ended, charged to the wallet as far as `held` (what the
/// wallet holds in the value's currency) covers it. `None` when the wallet holds nothing to
/// charge; the movement's amount is what was charged, the rest is the carrier's to write off.
pub fn late_usage(
    customer: CustomerId,
    carrier: &CarrierCode,
    held: Money,
    value: Money,
) -> Result<Option<Movement>, WalletError> {
    if !value.is_positive() {
        return Err(WalletError::NotPositive(value));
    }
    if held.currency() != value.currency() || !held.is_positive() {
        return Ok(None);
    }
    let charged = Money::new(held.minor().min(value.minor()), value.currency());
    Ok(Some(Movement {
        kind: MovementKind::LateUsage,
        postings: vec![
            Posting {
                account: Account::Wallet { customer },
                amount: charged.neg()?,
            },
            Posting {
                account: Account::CarrierUsage {
                    carrier: carrier.clone(),
                },
                amount: charged,
            },
        ],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn yen(v: i64) -> Money {
        Money::new(v, Currency::Jpy)
    }

    #[test]
    fn late_usage_takes_what_the_wallet_holds_and_no_more() {
        let c = CustomerId::new(7);
        let k: CarrierCode = "EX-KOI".into();
        let all = late_usage(c, &k, yen(500), yen(80)).unwrap().unwrap();
        assert!(all.is_balanced());
        assert_eq!(all.postings[0].amount, yen(-80));
        let part = late_usage(c, &k, yen(30), yen(80)).unwrap().unwrap();
        assert_eq!(part.postings[1].amount, yen(30));
        assert_eq!(late_usage(c, &k, yen(0), yen(80)).unwrap(), None);
        assert!(late_usage(c, &k, yen(10), yen(0)).is_err());
    }

    #[test]
    fn a_payout_cannot_exceed_the_wallet() {
        assert!(matches!(
            payout(CustomerId::new(1), yen(500), yen(501)),
            Err(WalletError::Insufficient { .. })
        ));
        assert!(matches!(
            refund_credit(CustomerId::new(1), &"EX".into(), yen(0)),
            Err(WalletError::NotPositive(_))
        ));
    }

    proptest! {
        /// Whatever sequence of credits and payouts: each movement balances and the ledger sums to zero.
        #[test]
        fn the_ledger_always_sums_to_zero(ops in proptest::collection::vec((any::<bool>(), 1i64..100_000), 0..60)) {
            let mut ledger: Vec<Movement> = Vec::new();
            let mut wallet = 0i64;
            for (credit, amount) in ops {
                let result = if credit { refund_credit(CustomerId::new(7), &"EX".into(), yen(amount)) } else { payout(CustomerId::new(7), yen(wallet), yen(amount)) };
                match result {
                    Ok(m) => {
                        prop_assert!(m.is_balanced());
                        wallet += m.postings.iter().filter(|p| p.account == Account::Wallet { customer: CustomerId::new(7) }).map(|p| p.amount.minor()).sum::<i64>();
                        ledger.push(m);
                    }
                    Err(WalletError::Insufficient { .. }) => prop_assert!(!credit && amount > wallet),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
                prop_assert!(wallet >= 0);
            }
            let sum: i64 = ledger.iter().flat_map(|m| &m.postings).map(|p| p.amount.minor()).sum();
            prop_assert_eq!(sum, 0);
        }
    }
}
