use super::*;
use crate::money::Currency;
use crate::policy::{CarrierPolicy, PlanPolicy};
use proptest::prelude::*;

fn sakura() -> (CarrierPolicy, PlanPolicy) {
    let carrier = CarrierPolicy::from_toml(
        "EX-SAKURA",
        include_str!("../../../../policies/EX-SAKURA/carrier.toml"),
    )
    .unwrap();
    let plan = PlanPolicy::from_toml(
        "JP10-DV",
        include_str!("../../../../policies/EX-SAKURA/plans/JP10-DV.toml"),
        &carrier,
    )
    .unwrap();
    (carrier, plan)
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// An active line, valid until 2026-05-21 00:00 JST.
fn active() -> Line {
    let mut line = crate::line::tests::stock_line();
    line.state = LineState::Active;
    line.holder = Some(crate::ids::CustomerId::new(7));
    line.activated_at = Some(at("2026-05-10T15:00:00Z"));
    line.validity_ends_at = Some(at("2026-05-20T15:00:00Z"));
    line
}

fn credit(yen: i64) -> Bucket {
    Bucket {
        id: 1,
        unit: BucketUnit::Money(Currency::Jpy),
        initial: yen,
        remaining: yen,
        expires_at: None,
        source: "plan".into(),
    }
}

fn quote(line: &Line, open: Option<RequestId>, yen: i64) -> QuoteDecision {
    let (carrier, plan) = sakura();
    let policy = EffectivePolicy {
        carrier: &carrier,
        plan: &plan,
    };
    decide_quote(
        line,
        open,
        &[credit(yen)],
        &["ROAMING".to_string()],
        &policy,
        at("2026-05-12T01:00:00Z"),
    )
    .unwrap()
}

#[test]
fn time_left_is_advice_never_a_refusal() {
    let q = quote(&active(), None, 1500);
    assert!(q.can_cancel());
    let left = q.time_left.expect("time left");
    assert_eq!(left.valid_until_jst(), "2026-05-20 23:59:59 JST");
    assert!(left.to_string().contains("2026-05-20 23:59:59 JST"));
    assert_eq!(q.effective_date, Some(jiff::civil::date(2026, 5, 13)));
    assert_eq!(
        q.what_happens,
        [
            WhatHappens::TakesEffect {
                date: jiff::civil::date(2026, 5, 13),
                business_days: 1
            },
            WhatHappens::BarredAtApproval,
            WhatHappens::AddonsUnbound {
                addons: vec!["ROAMING".into()]
            },
            WhatHappens::RemovedFromNetwork,
            WhatHappens::Refund {
                amount: Money::new(1500, Currency::Jpy)
            },
            WhatHappens::Receipt,
        ]
    );
}

#[test]
fn nothing_to_refund_is_said_and_no_credit_is_promised() {
    let q = quote(&active(), None, 0);
    assert!(q.can_cancel());
    assert!(q.what_happens.contains(&WhatHappens::NothingToRefund));
    assert!(!q
        .what_happens
        .iter()
        .any(|w| matches!(w, WhatHappens::Refund { .. })));
}

#[test]
fn why_not_comes_from_the_state_machine() {
    let mut line = active();
    for (state, why) in [
        (LineState::InStock, CannotCancel::NotSold),
        (LineState::Terminated, CannotCancel::AlreadyCancelled),
        (LineState::Closed, CannotCancel::AlreadyEnded),
        (
            LineState::PendingTermination,
            CannotCancel::RequestOpen {
                request: Some(RequestId::new(3)),
            },
        ),
    ] {
        line.state = state;
        let q = quote(&line, Some(RequestId::new(3)), 100);
        assert_eq!(q.cannot, Some(why), "{state}");
        assert!(q.what_happens.is_empty() && q.refund.is_none() && q.effective_date.is_none());
    }
    let q = quote(&active(), Some(RequestId::new(3)), 100);
    assert_eq!(
        q.cannot,
        Some(CannotCancel::RequestOpen {
            request: Some(RequestId::new(3))
        })
    );
    assert_eq!(
        q.cannot.unwrap().to_string(),
        "a cancellation request is already open for this line"
    );
}

proptest! {
    /// The list promises a credit exactly when the refund is positive, and says "nothing to
    /// refund" otherwise; it starts with the effective date and ends with the receipt.
    #[test]
    fn what_happens_matches_the_refund(yen in 0i64..20_000) {
        let q = quote(&active(), None, yen);
        let refund = q.refund.clone().unwrap();
        let credited: Vec<Money> = q.what_happens.iter().filter_map(|w| match w {
            WhatHappens::Refund { amount } => Some(*amount),
            _ => None,
        }).collect();
        if refund.total.is_positive() {
            prop_assert_eq!(credited, vec![refund.total]);
            prop_assert!(!q.what_happens.contains(&WhatHappens::NothingToRefund));
        } else {
            prop_assert!(credited.is_empty());
            prop_assert!(q.what_happens.contains(&WhatHappens::NothingToRefund));
        }
        let first_is_date = matches!(q.what_happens.first(), Some(WhatHappens::TakesEffect { date, .. }) if Some(*date) == q.effective_date);
        prop_assert!(first_is_date);
        prop_assert_eq!(q.what_happens.last(), Some(&WhatHappens::Receipt));
    }
}
