//! What a cancellation pays back, computed by the carrier's refund rule and itemised.

use crate::money::{Money, MoneyError};
use crate::policy::{RefundPolicy, RefundRule};
use serde::Serialize;

/// What the refund is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundBasis {
    /// Prepaid money still in live buckets.
    pub balance: Money,
    /// What the plan cost.
    pub plan_price: Money,
    /// The plan's whole validity, in seconds.
    pub validity_total_secs: i64,
    /// What is left of it at the effective date, in seconds (the whole of it if never activated).
    pub validity_remaining_secs: i64,
}

/// One line of the computation, as shown to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundItem {
    /// A stable key (`prepaid_balance`, `unused_plan_price`, `fee`, `not_refunded`, `below_minimum`).
    pub key: String,
    /// Words for people, in English; the edges translate by key.
    pub label: String,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    pub rule: RefundRule,
    pub items: Vec<RefundItem>,
    pub total: Money,
}

fn item(key: &str, label: String, amount: Money) -> RefundItem {
    RefundItem {
        key: key.into(),
        label,
        amount,
    }
}

/// Computes the refund. The total is never negative and never more than the balance plus the
/// plan's price.
pub fn compute(policy: &RefundPolicy, basis: &RefundBasis) -> Result<Refund, MoneyError> {
    let currency = basis.balance.currency();
    let zero = Money::zero(currency);
    let total_secs = basis.validity_total_secs.max(1);
    let remaining_secs = basis.validity_remaining_secs.clamp(0, total_secs);
    let balance = basis.balance.max(zero)?;
    let mut items = Vec::new();
    let mut subtotal = zero;

    if policy.rule == RefundRule::None {
        if balance.is_positive() {
            items.push(item(
                "prepaid_balance",
                "Remaining prepaid balance".into(),
                balance,
            ));
            items.push(item(
                "not_refunded",
                "Not refunded under this carrier's terms".into(),
                balance.neg()?,
            ));
        }
        return Ok(Refund {
            rule: policy.rule,
            items,
            total: zero,
        });
    }

    let balance_part = match policy.rule {
        RefundRule::ProRata => balance.prorate(remaining_secs, total_secs)?,
        _ => balance,
    };
    if balance_part.is_positive() {
        let label = if policy.rule == RefundRule::ProRata {
            format!(
                "Remaining prepaid balance {balance}, for the {} of validity left",
                fraction(remaining_secs, total_secs)
            )
        } else {
            "Remaining prepaid balance".into()
        };
        items.push(item("prepaid_balance", label, balance_part));
        subtotal = subtotal.checked_add(balance_part)?;
    }
    if policy.unused_plan_price {
        let price = basis.plan_price.max(zero)?;
        let unused = price.prorate(remaining_secs, total_secs)?;
        if unused.is_positive() {
            items.push(item(
                "unused_plan_price",
                format!(
                    "Unused part of the plan price {price} ({} of validity left)",
                    fraction(remaining_secs, total_secs)
                ),
                unused,
            ));
            subtotal = subtotal.checked_add(unused)?;
        }
    }
    if policy.rule == RefundRule::FeeAndMinimum
        && policy.fee.is_positive()
        && subtotal.is_positive()
    {
        let fee = policy.fee.min(subtotal)?;
        items.push(item("fee", "Cancellation fee".into(), fee.neg()?));
        subtotal = subtotal.checked_sub(fee)?;
    }
    if subtotal.is_positive() && subtotal.minor() < policy.minimum.minor() {
        items.push(item(
            "below_minimum",
            format!("Refunds below {} are not paid", policy.minimum),
            subtotal.neg()?,
        ));
        subtotal = zero;
    }
    Ok(Refund {
        rule: policy.rule,
        items,
        total: subtotal.max(zero)?,
    })
}

/// "3/10" style, in whole days when the figures are whole days.
fn fraction(remaining: i64, total: i64) -> String {
    const DAY: i64 = 86_400;
    if total % DAY == 0 {
        format!("{}/{} days", remaining / DAY, total / DAY)
    } else {
        format!("{remaining}/{total} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use proptest::prelude::*;

    fn yen(v: i64) -> Money {
        Money::new(v, Currency::Jpy)
    }

    fn policy(rule: RefundRule, fee: i64, minimum: i64, unused: bool) -> RefundPolicy {
        RefundPolicy {
            rule,
            fee: yen(fee),
            minimum: yen(minimum),
            unused_plan_price: unused,
        }
    }

    const DAY: i64 = 86_400;

    fn basis(balance: i64, days_left: i64) -> RefundBasis {
        RefundBasis {
            balance: yen(balance),
            plan_price: yen(4000),
            validity_total_secs: 10 * DAY,
            validity_remaining_secs: days_left * DAY,
        }
    }

    #[test]
    fn each_rule_gives_what_it_says() {
        let full = compute(&policy(RefundRule::Full, 0, 0, false), &basis(1200, 4)).unwrap();
        assert_eq!(full.total, yen(1200));
        let full_plus = compute(&policy(RefundRule::Full, 0, 0, true), &basis(1200, 4)).unwrap();
        assert_eq!(full_plus.total, yen(1200 + 1600));
        assert_eq!(full_plus.items.len(), 2);
        let pro = compute(&policy(RefundRule::ProRata, 0, 0, true), &basis(1000, 3)).unwrap();
        assert_eq!(pro.total, yen(300 + 1200));
        let fee = compute(
            &policy(RefundRule::FeeAndMinimum, 550, 1000, false),
            &basis(2000, 3),
        )
        .unwrap();
        assert_eq!(fee.total, yen(1450));
        assert_eq!(
            fee.items.iter().map(|i| i.amount.minor()).sum::<i64>(),
            1450,
            "items add up to the total"
        );
        let small = compute(
            &policy(RefundRule::FeeAndMinimum, 550, 1000, false),
            &basis(1400, 3),
        )
        .unwrap();
        assert_eq!(small.total, yen(0));
        assert!(small.items.iter().any(|i| i.key == "below_minimum"));
        let none = compute(&policy(RefundRule::None, 0, 0, false), &basis(1400, 3)).unwrap();
        assert_eq!(none.total, yen(0));
        assert_eq!(none.items.iter().map(|i| i.amount.minor()).sum::<i64>(), 0);
    }

    #[test]
    fn a_fee_never_makes_a_refund_negative() {
        let r = compute(
            &policy(RefundRule::FeeAndMinimum, 550, 0, false),
            &basis(300, 3),
        )
        .unwrap();
        assert_eq!(r.total, yen(0));
    }

    fn rule() -> impl Strategy<Value = RefundRule> {
        prop_oneof![
            Just(RefundRule::Full),
            Just(RefundRule::ProRata),
            Just(RefundRule::FeeAndMinimum),
            Just(RefundRule::None)
        ]
    }

    proptest! {
        #[test]
        fn a_refund_is_never_negative_nor_more_than_what_remains(
            rule in rule(), fee in 0i64..5_000, minimum in 0i64..5_000, unused in any::<bool>(),
            balance in -1_000i64..1_000_000, price in 0i64..100_000, total in 1i64..(40 * DAY), left in -DAY..(41 * DAY),
        ) {
            let fee = if rule == RefundRule::FeeAndMinimum { fee } else { 0 };
            let p = policy(rule, fee, minimum, unused && rule != RefundRule::None);
            let b = RefundBasis { balance: yen(balance), plan_price: yen(price), validity_total_secs: total, validity_remaining_secs: left };
            let r = compute(&p, &b).unwrap();
            prop_assert!(!r.total.is_negative());
            let ceiling = balance.max(0) + if p.unused_plan_price { price } else { 0 };
            prop_assert!(r.total.minor() <= ceiling);
            prop_assert!(r.total.is_zero() || r.total.minor() >= minimum);
            prop_assert_eq!(r.items.iter().map(|i| i.amount.minor()).sum::<i64>(), r.total.minor(), "items explain the total");
        }
    }
}
