use super::*;
use proptest::prelude::*;

const ALL: [Service; 3] = [Service::Data, Service::Voice, Service::Sms];

fn at() -> Timestamp {
    "2026-12-01T03:00:00Z".parse().unwrap()
}

fn yen(v: i64) -> Money {
    Money::new(v, Currency::Jpy)
}

fn bucket(id: i64, unit: BucketUnit, amount: i64, source: &str) -> Bucket {
    Bucket {
        id,
        unit,
        initial: amount,
        remaining: amount,
        expires_at: Some("2026-12-10T15:00:00Z".parse().unwrap()),
        source: source.into(),
    }
}

fn policy() -> UsagePolicy {
    UsagePolicy {
        money_per_mb: yen(20),
        voice_per_minute: yen(40),
        voice_rounding_secs: 30,
        sms_per_message: yen(10),
        ..UsagePolicy::default_for(Currency::Jpy)
    }
}

fn data(bytes: u64) -> Usage {
    Usage {
        service: Service::Data,
        volume: bytes,
        at: at(),
    }
}

fn taken_from(rated: &Rated, id: i64) -> i64 {
    rated
        .movements
        .iter()
        .filter(|m| m.bucket == BucketRef::Existing(id))
        .map(|m| -m.amount)
        .sum()
}

#[test]
fn data_is_paid_by_the_plan_before_a_pack_before_money() {
    let buckets = [
        bucket(1, BucketUnit::Money(Currency::Jpy), 1000, "top_up"),
        bucket(2, BucketUnit::Megabytes, 100, "addon:DATA-3GB"),
        bucket(3, BucketUnit::Megabytes, 50, "plan"),
    ];
    let rated = rate(&data(200 * BYTES_PER_MB), &buckets, 0, &ALL, &policy()).unwrap();
    assert_eq!(taken_from(&rated, 3), 50);
    assert_eq!(taken_from(&rated, 2), 100);
    // 50 MB left to pay at 20 JPY each.
    assert_eq!(taken_from(&rated, 1), 1000);
    assert_eq!(rated.unpaid, None);
    assert!(rated.data_exhausted);
}

#[test]
fn bytes_short_of_a_megabyte_carry_to_the_next_record() {
    let buckets = [bucket(1, BucketUnit::Megabytes, 10, "plan")];
    let first = rate(&data(600 * 1024), &buckets, 0, &ALL, &policy()).unwrap();
    assert!(first.movements.is_empty());
    assert_eq!(first.carry_bytes, 600 * 1024);
    let second = rate(
        &data(600 * 1024),
        &buckets,
        first.carry_bytes,
        &ALL,
        &policy(),
    )
    .unwrap();
    assert_eq!(taken_from(&second, 1), 1);
    assert_eq!(second.carry_bytes, 1200 * 1024 - BYTES_PER_MB);
}

#[test]
fn a_record_is_rounded_up_to_the_policys_step() {
    let buckets = [bucket(1, BucketUnit::Megabytes, 10, "plan")];
    let rated = rate(&data(1), &buckets, 0, &ALL, &policy()).unwrap();
    assert_eq!(rated.rounded, 1024);
    let coarse = UsagePolicy {
        data_rounding_kb: 1024,
        ..policy()
    };
    let rated = rate(&data(1), &buckets, 0, &ALL, &coarse).unwrap();
    assert_eq!(taken_from(&rated, 1), 1);
}

#[test]
fn what_no_bucket_covers_is_unpaid_and_no_bucket_goes_below_zero() {
    let buckets = [
        bucket(1, BucketUnit::Megabytes, 5, "plan"),
        bucket(2, BucketUnit::Money(Currency::Jpy), 30, "plan"),
    ];
    let rated = rate(&data(10 * BYTES_PER_MB), &buckets, 0, &ALL, &policy()).unwrap();
    assert_eq!(taken_from(&rated, 1), 5);
    // 30 JPY buys one megabyte at 20; the 10 JPY left buys nothing.
    assert_eq!(taken_from(&rated, 2), 20);
    assert_eq!(rated.unpaid, Some(Unpaid::Data { megabytes: 4 }));
}

#[test]
fn money_pays_for_data_only_where_the_policy_says() {
    let buckets = [bucket(1, BucketUnit::Money(Currency::Jpy), 1000, "plan")];
    let allowances_only = UsagePolicy {
        data_order: vec![Payer::Plan, Payer::Addon],
        ..policy()
    };
    let rated = rate(&data(BYTES_PER_MB), &buckets, 0, &ALL, &allowances_only).unwrap();
    assert!(rated.movements.is_empty());
    assert_eq!(rated.unpaid, Some(Unpaid::Data { megabytes: 1 }));
    assert!(rated.data_exhausted);
}

#[test]
fn calls_are_charged_per_started_step_and_sms_per_message() {
    let buckets = [bucket(1, BucketUnit::Money(Currency::Jpy), 1000, "plan")];
    let call = Usage {
        service: Service::Voice,
        volume: 61,
        at: at(),
    };
    let rated = rate(&call, &buckets, 0, &ALL, &policy()).unwrap();
    // 61 s is three 30-second steps: 90 s at 40 JPY a minute.
    assert_eq!(rated.rounded, 90);
    assert_eq!(taken_from(&rated, 1), 60);
    let sms = Usage {
        service: Service::Sms,
        volume: 3,
        at: at(),
    };
    assert_eq!(
        taken_from(&rate(&sms, &buckets, 0, &ALL, &policy()).unwrap(), 1),
        30
    );
}

#[test]
fn a_service_outside_the_plan_is_refused() {
    let call = Usage {
        service: Service::Voice,
        volume: 10,
        at: at(),
    };
    assert_eq!(
        rate(&call, &[], 0, &[Service::Data], &policy()),
        Err(RatingError::ServiceNotInPlan(Service::Voice))
    );
}

#[test]
fn expired_buckets_do_not_pay() {
    let mut old = bucket(1, BucketUnit::Megabytes, 100, "plan");
    old.expires_at = Some("2026-11-30T00:00:00Z".parse().unwrap());
    let rated = rate(&data(BYTES_PER_MB), &[old], 0, &ALL, &policy()).unwrap();
    assert_eq!(rated.unpaid, Some(Unpaid::Data { megabytes: 1 }));
}

#[test]
fn thresholds_are_reported_once_when_crossed() {
    let mut plan = bucket(1, BucketUnit::Megabytes, 100, "plan");
    plan.remaining = 30;
    let rated = rate(
        &data(20 * BYTES_PER_MB),
        &[plan.clone()],
        0,
        &ALL,
        &policy(),
    )
    .unwrap();
    assert_eq!(rated.thresholds_crossed, vec![75, 90]);
    plan.remaining = 10;
    let rated = rate(&data(BYTES_PER_MB), &[plan], 0, &ALL, &policy()).unwrap();
    assert!(rated.thresholds_crossed.is_empty());
}

#[test]
fn a_late_record_is_worth_its_price_at_money_rates() {
    assert_eq!(money_value(&data(3 * BYTES_PER_MB + 1), &policy()), yen(80));
    let call = Usage {
        service: Service::Voice,
        volume: 61,
        at: at(),
    };
    assert_eq!(money_value(&call, &policy()), yen(60));
}

#[test]
fn what_is_available_is_what_rating_would_pay_for() {
    let buckets = [
        bucket(1, BucketUnit::Megabytes, 10, "plan"),
        bucket(2, BucketUnit::Money(Currency::Jpy), 100, "plan"),
    ];
    // 10 MB of allowance and 100 JPY at 20 JPY a megabyte.
    assert_eq!(
        available(Service::Data, &buckets, 0, &policy(), at()),
        15 * BYTES_PER_MB
    );
    assert_eq!(
        available(Service::Data, &buckets, 1024, &policy(), at()),
        15 * BYTES_PER_MB - 1024
    );
    // 100 JPY at 40 JPY a minute is 150 s, in whole 30-second steps.
    assert_eq!(available(Service::Voice, &buckets, 0, &policy(), at()), 150);
    assert_eq!(available(Service::Sms, &buckets, 0, &policy(), at()), 10);
    let whole = rate(&data(15 * BYTES_PER_MB), &buckets, 0, &ALL, &policy()).unwrap();
    assert_eq!(whole.unpaid, None);
    assert!(whole.data_exhausted);
}

fn arb_bucket() -> impl Strategy<Value = Bucket> {
    (
        1i64..50,
        prop_oneof![
            Just(BucketUnit::Megabytes),
            Just(BucketUnit::Money(Currency::Jpy))
        ],
        0i64..5000,
        prop_oneof![Just("plan"), Just("addon:P"), Just("top_up")],
        any::<bool>(),
    )
        .prop_map(|(id, unit, amount, source, expired)| {
            let mut b = bucket(id, unit, amount, source);
            b.remaining = amount / 2 + amount % 7;
            if expired {
                b.expires_at = Some("2026-11-01T00:00:00Z".parse().unwrap());
            }
            b
        })
}

proptest! {
    /// Whatever the buckets and the usage: no bucket goes below zero, nothing expired pays, and
    /// what was due is exactly what was paid plus what is unpaid.
    #[test]
    fn rating_never_overdraws_and_accounts_for_everything(
        raw in proptest::collection::vec(arb_bucket(), 0..8),
        service in prop_oneof![Just(Service::Data), Just(Service::Voice), Just(Service::Sms)],
        volume in 0u64..50_000_000,
        carry in 0u64..BYTES_PER_MB,
    ) {
        let mut buckets: Vec<Bucket> = Vec::new();
        for b in raw {
            if !buckets.iter().any(|x| x.id == b.id) {
                buckets.push(b);
            }
        }
        let p = policy();
        let usage = Usage { service, volume, at: at() };
        let rated = rate(&usage, &buckets, carry, &ALL, &p).unwrap();
        for m in &rated.movements {
            prop_assert!(m.amount < 0);
            let BucketRef::Existing(id) = m.bucket else { panic!("usage creates no bucket") };
            let b = buckets.iter().find(|b| b.id == id).unwrap();
            prop_assert!(b.is_live(usage.at));
        }
        for b in &buckets {
            prop_assert!(taken_from(&rated, b.id) <= b.remaining.max(0));
        }
        match service {
            Service::Data => {
                let due = (carry + rated.rounded) / BYTES_PER_MB;
                let mb = rated.taken(&buckets, BucketUnit::Megabytes) as u64;
                let money = rated.taken(&buckets, BucketUnit::Money(Currency::Jpy));
                prop_assert_eq!(money % p.money_per_mb.minor(), 0);
                let unpaid = match rated.unpaid { Some(Unpaid::Data { megabytes }) => megabytes, None => 0, Some(other) => panic!("{other:?}") };
                prop_assert_eq!(mb + (money / p.money_per_mb.minor()) as u64 + unpaid, due);
                prop_assert!(rated.carry_bytes < BYTES_PER_MB);
            }
            Service::Voice | Service::Sms => {
                let money = rated.taken(&buckets, BucketUnit::Money(Currency::Jpy));
                let unpaid = match rated.unpaid { Some(Unpaid::Money { amount }) => amount.minor(), None => 0, Some(other) => panic!("{other:?}") };
                prop_assert_eq!(Money::new(money + unpaid, Currency::Jpy), money_value(&usage, &p));
                prop_assert_eq!(rated.carry_bytes, carry);
            }
        }
    }
}

#[test]
fn records_rated_one_after_another_see_what_the_earlier_ones_left() {
    let mut buckets = vec![
        bucket(3, BucketUnit::Megabytes, 5, "plan"),
        bucket(2, BucketUnit::Megabytes, 5, "addon:DATA-3GB"),
    ];
    let mut carry = 0;
    for _ in 0..3 {
        let rated = rate(&data(3 * BYTES_PER_MB), &buckets, carry, &ALL, &policy()).unwrap();
        carry = rated.carry_bytes;
        rated.apply_to(&mut buckets);
    }
    // 9 MB in all: the plan's 5 first, then 4 of the pack's 5.
    assert_eq!(buckets[0].remaining, 0);
    assert_eq!(buckets[1].remaining, 1);
}

fn parsed(table: &str) -> Result<UsagePolicy, (&'static str, String)> {
    let raw: RawUsage = toml::from_str(table).unwrap();
    policy_from(Some(&raw), Currency::Jpy)
}

#[test]
fn a_roaming_zone_prices_its_networks_and_may_keep_the_allowance_for_home() {
    let policy = parsed(
        r#"
        money_per_mb = "20 JPY"
        [[zones]]
        name = "asia"
        networks = ["450", "460", "46692"]
        data_order = ["money"]
        money_per_mb = "150 JPY"
        [[zones]]
        name = "taiwan-partner"
        networks = ["46692"]
        money_per_mb = "50 JPY"
        "#,
    )
    .unwrap();
    assert_eq!(policy.zone_for(Some("45005")).unwrap().name, "asia");
    // The most precise match wins.
    assert_eq!(
        policy.zone_for(Some("46692")).unwrap().name,
        "taiwan-partner"
    );
    assert!(policy.zone_for(Some("44010")).is_none());
    assert!(policy.zone_for(None).is_none());
    let buckets = [
        bucket(1, BucketUnit::Money(Currency::Jpy), 1000, "top_up"),
        bucket(3, BucketUnit::Megabytes, 500, "plan"),
    ];
    // In Korea the plan's allowance does not pay: 2 MB at 150 JPY.
    let abroad = policy.for_network(Some("45005"));
    let rated = rate(&data(2 * BYTES_PER_MB), &buckets, 0, &ALL, &abroad).unwrap();
    assert_eq!((taken_from(&rated, 3), taken_from(&rated, 1)), (0, 300));
    // At home the allowance pays first.
    let home = policy.for_network(Some("44010"));
    let rated = rate(&data(2 * BYTES_PER_MB), &buckets, 0, &ALL, &home).unwrap();
    assert_eq!((taken_from(&rated, 3), taken_from(&rated, 1)), (2, 0));
}

#[test]
fn a_zone_with_a_bad_network_or_no_data_price_is_refused() {
    let bad = parsed(
        r#"
        [[zones]]
        name = "x"
        networks = ["4501"]
        "#,
    )
    .unwrap_err();
    assert!(bad.1.contains("MCC"), "{bad:?}");
    let free = parsed(
        r#"
        [[zones]]
        name = "x"
        networks = ["450"]
        data_order = ["money"]
        "#,
    )
    .unwrap_err();
    assert!(free.1.contains("price above 0"), "{free:?}");
}

#[test]
fn a_top_up_lets_data_flow_again_only_where_money_pays_for_data() {
    let yen = |v| Money::new(v, Currency::Jpy);
    let policy = UsagePolicy {
        money_per_mb: yen(20),
        ..UsagePolicy::default_for(Currency::Jpy)
    };
    assert!(top_up_pays_data(&policy, yen(20)));
    assert!(!top_up_pays_data(&policy, yen(19)));
    let no_money = UsagePolicy {
        data_order: vec![Payer::Plan, Payer::Addon],
        ..policy.clone()
    };
    assert!(!top_up_pays_data(&no_money, yen(100_000)));
    // Where money buys no data at all, a top-up never lifts the stop.
    assert!(!top_up_pays_data(
        &UsagePolicy::default_for(Currency::Jpy),
        yen(5_000)
    ));
}
