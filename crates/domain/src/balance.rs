//! A line's prepaid balance — money and data as buckets with expiry — and its add-ons.

use crate::attribution::UnknownName;
use crate::line::LineState;
use crate::money::{Currency, Money};
use crate::policy::{AddonKind, AddonOffer, CarrierPolicy};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// What a bucket holds: money in a currency's minor units, or data in megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BucketUnit {
    Money(Currency),
    Megabytes,
}

impl BucketUnit {
    pub fn as_str(&self) -> &'static str {
        match self {
            BucketUnit::Money(c) => c.code(),
            BucketUnit::Megabytes => "MB",
        }
    }
}

impl FromStr for BucketUnit {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "MB" {
            return Ok(BucketUnit::Megabytes);
        }
        s.parse::<Currency>()
            .map(BucketUnit::Money)
            .map_err(|_| UnknownName::new("bucket unit", s, "MB or a currency code"))
    }
}

/// A stored bucket of balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub id: i64,
    pub unit: BucketUnit,
    pub initial: i64,
    pub remaining: i64,
    pub expires_at: Option<Timestamp>,
    /// Where it came from: `plan`, `top_up` or `addon:<code>`.
    pub source: String,
}

impl Bucket {
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|e| now < e)
    }
}

/// A bucket about to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBucket {
    pub unit: BucketUnit,
    pub amount: i64,
    pub expires_at: Option<Timestamp>,
    pub source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    PlanGrant,
    TopUp,
    Usage,
    AddonCharge,
    AddonGrant,
    /// What was left when the line was cancelled: refunded per policy, or forfeited.
    Cancellation,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::PlanGrant => "plan_grant",
            EntryKind::TopUp => "top_up",
            EntryKind::Usage => "usage",
            EntryKind::AddonCharge => "addon_charge",
            EntryKind::AddonGrant => "addon_grant",
            EntryKind::Cancellation => "cancellation",
        }
    }
}

impl FromStr for EntryKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            EntryKind::PlanGrant,
            EntryKind::TopUp,
            EntryKind::Usage,
            EntryKind::AddonCharge,
            EntryKind::AddonGrant,
            EntryKind::Cancellation,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            UnknownName::new(
                "balance entry kind",
                s,
                "plan_grant, top_up, usage, addon_charge, addon_grant, cancellation",
            )
        })
    }
}

/// One movement on one bucket: positive adds, negative takes away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movement {
    pub bucket: BucketRef,
    pub kind: EntryKind,
    pub amount: i64,
    pub note: String,
}

/// A bucket already stored, or one created by the same decision (by its index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRef {
    Existing(i64),
    New(usize),
}

/// A decision about balance: buckets to create and movements to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BalanceChange {
    pub new_buckets: Vec<NewBucket>,
    pub movements: Vec<Movement>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    #[error("the line is {0}; only an active line can be topped up, used or given add-ons")]
    LineNotActive(LineState),
    #[error("a top-up must be between {min} and {max}, got {given}")]
    TopUpOutOfRange {
        given: Money,
        min: Money,
        max: Money,
    },
    #[error("the amount is in {given}, but this carrier works in {expected}")]
    WrongCurrency { given: Currency, expected: Currency },
    #[error(
        "not enough balance: {needed} {unit} needed, {available} {unit} available; top up first"
    )]
    Insufficient {
        needed: i64,
        available: i64,
        unit: &'static str,
    },
    #[error("usage must be a positive amount")]
    NotPositive,
    #[error("add-on {0} is not offered by this carrier")]
    UnknownAddon(String),
    #[error("add-on {0} is already bound to this line")]
    AlreadyBound(String),
    #[error("add-on {0} is not bound to this line")]
    NotBound(String),
}

/// What remains, counting only buckets that have not expired.
pub fn remaining(buckets: &[Bucket], unit: BucketUnit, now: Timestamp) -> i64 {
    buckets
        .iter()
        .filter(|b| b.unit == unit && b.is_live(now))
        .map(|b| b.remaining)
        .sum()
}

/// The buckets a line starts with at activation: the plan's data and credit, expiring with validity.
pub fn activation_grants(
    data_mb: u64,
    credit: Money,
    validity_ends_at: Timestamp,
) -> BalanceChange {
    let mut change = BalanceChange::default();
    if data_mb > 0 {
        push_grant(
            &mut change,
            BucketUnit::Megabytes,
            i64::try_from(data_mb).unwrap_or(i64::MAX),
            Some(validity_ends_at),
            "plan",
            EntryKind::PlanGrant,
        );
    }
    if credit.is_positive() {
        push_grant(
            &mut change,
            BucketUnit::Money(credit.currency()),
            credit.minor(),
            Some(validity_ends_at),
            "plan",
            EntryKind::PlanGrant,
        );
    }
    change
}

fn push_grant(
    change: &mut BalanceChange,
    unit: BucketUnit,
    amount: i64,
    expires_at: Option<Timestamp>,
    source: &str,
    kind: EntryKind,
) {
    change.new_buckets.push(NewBucket {
        unit,
        amount,
        expires_at,
        source: source.to_string(),
    });
    change.movements.push(Movement {
        bucket: BucketRef::New(change.new_buckets.len() - 1),
        kind,
        amount,
        note: source.to_string(),
    });
}

/// Adds prepaid money; it lasts as long as the line's validity.
pub fn top_up(
    state: LineState,
    policy: &CarrierPolicy,
    amount: Money,
    validity_ends_at: Option<Timestamp>,
) -> Result<BalanceChange, BalanceError> {
    if state != LineState::Active {
        return Err(BalanceError::LineNotActive(state));
    }
    if amount.currency() != policy.currency {
        return Err(BalanceError::WrongCurrency {
            given: amount.currency(),
            expected: policy.currency,
        });
    }
    if amount.minor() < policy.top_up.minimum.minor()
        || amount.minor() > policy.top_up.maximum.minor()
    {
        return Err(BalanceError::TopUpOutOfRange {
            given: amount,
            min: policy.top_up.minimum,
            max: policy.top_up.maximum,
        });
    }
    let mut change = BalanceChange::default();
    push_grant(
        &mut change,
        BucketUnit::Money(amount.currency()),
        amount.minor(),
        validity_ends_at,
        "top_up",
        EntryKind::TopUp,
    );
    Ok(change)
}

/// Takes `amount` from the live buckets of `unit`, soonest-expiring first.
pub fn consume(
    state: LineState,
    buckets: &[Bucket],
    unit: BucketUnit,
    amount: i64,
    kind: EntryKind,
    note: &str,
    now: Timestamp,
) -> Result<BalanceChange, BalanceError> {
    if state != LineState::Active {
        return Err(BalanceError::LineNotActive(state));
    }
    if amount <= 0 {
        return Err(BalanceError::NotPositive);
    }
    let available = remaining(buckets, unit, now);
    if available < amount {
        return Err(BalanceError::Insufficient {
            needed: amount,
            available,
            unit: unit.as_str(),
        });
    }
    let mut live: Vec<&Bucket> = buckets
        .iter()
        .filter(|b| b.unit == unit && b.is_live(now) && b.remaining > 0)
        .collect();
    live.sort_by_key(|b| (b.expires_at.unwrap_or(Timestamp::MAX), b.id));
    let mut left = amount;
    let mut change = BalanceChange::default();
    for b in live {
        if left == 0 {
            break;
        }
        let take = left.min(b.remaining);
        left -= take;
        change.movements.push(Movement {
            bucket: BucketRef::Existing(b.id),
            kind,
            amount: -take,
            note: note.to_string(),
        });
    }
    Ok(change)
}

/// Empties every bucket when the line is cancelled, so nothing remains to be used or charged.
pub fn close_all(buckets: &[Bucket]) -> BalanceChange {
    let movements = buckets
        .iter()
        .filter(|b| b.remaining > 0)
        .map(|b| Movement {
            bucket: BucketRef::Existing(b.id),
            kind: EntryKind::Cancellation,
            amount: -b.remaining,
            note: "line cancelled".into(),
        })
        .collect();
    BalanceChange {
        new_buckets: Vec::new(),
        movements,
    }
}

/// An add-on bound to a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonBinding {
    pub id: i64,
    pub code: String,
    pub charge: Money,
    pub bound_at: Timestamp,
    pub unbound_at: Option<Timestamp>,
}

/// Decides binding an add-on: its charge comes out of the money balance, a data pack adds data.
pub fn bind_addon<'p>(
    state: LineState,
    policy: &'p CarrierPolicy,
    bound: &[AddonBinding],
    buckets: &[Bucket],
    code: &str,
    validity_ends_at: Option<Timestamp>,
    now: Timestamp,
) -> Result<(&'p AddonOffer, BalanceChange), BalanceError> {
    if state != LineState::Active {
        return Err(BalanceError::LineNotActive(state));
    }
    let offer = policy
        .addon(code)
        .ok_or_else(|| BalanceError::UnknownAddon(code.to_string()))?;
    if bound
        .iter()
        .any(|b| b.code == code && b.unbound_at.is_none())
    {
        return Err(BalanceError::AlreadyBound(code.to_string()));
    }
    let mut change = if offer.charge.is_positive() {
        consume(
            state,
            buckets,
            BucketUnit::Money(offer.charge.currency()),
            offer.charge.minor(),
            EntryKind::AddonCharge,
            &format!("addon:{code}"),
            now,
        )?
    } else {
        BalanceChange::default()
    };
    if offer.kind == AddonKind::DataPack {
        push_grant(
            &mut change,
            BucketUnit::Megabytes,
            i64::try_from(offer.data_mb).unwrap_or(i64::MAX),
            validity_ends_at,
            &format!("addon:{code}"),
            EntryKind::AddonGrant,
        );
    }
    Ok((offer, change))
}

/// Decides unbinding: the add-on must be bound; its charges stop from now.
pub fn unbind_addon<'b>(
    bound: &'b [AddonBinding],
    code: &str,
) -> Result<&'b AddonBinding, BalanceError> {
    bound
        .iter()
        .find(|b| b.code == code && b.unbound_at.is_none())
        .ok_or_else(|| BalanceError::NotBound(code.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn bucket(id: i64, unit: BucketUnit, remaining: i64, expires: Option<&str>) -> Bucket {
        Bucket {
            id,
            unit,
            initial: remaining,
            remaining,
            expires_at: expires.map(ts),
            source: "t".into(),
        }
    }

    #[test]
    fn usage_draws_from_the_soonest_expiring_live_bucket() {
        let mb = BucketUnit::Megabytes;
        let buckets = [
            bucket(1, mb, 100, Some("2026-12-10T00:00:00Z")),
            bucket(2, mb, 50, Some("2026-12-01T00:00:00Z")),
            bucket(3, mb, 999, Some("2026-11-01T00:00:00Z")),
        ];
        let now = ts("2026-11-25T00:00:00Z");
        assert_eq!(remaining(&buckets, mb, now), 150);
        let change = consume(
            LineState::Active,
            &buckets,
            mb,
            80,
            EntryKind::Usage,
            "data",
            now,
        )
        .unwrap();
        let taken: Vec<(BucketRef, i64)> = change
            .movements
            .iter()
            .map(|m| (m.bucket, m.amount))
            .collect();
        assert_eq!(
            taken,
            vec![(BucketRef::Existing(2), -50), (BucketRef::Existing(1), -30)]
        );
        let too_much = consume(
            LineState::Active,
            &buckets,
            mb,
            151,
            EntryKind::Usage,
            "data",
            now,
        );
        assert!(matches!(
            too_much,
            Err(BalanceError::Insufficient { available: 150, .. })
        ));
        assert!(matches!(
            consume(
                LineState::Expired,
                &buckets,
                mb,
                1,
                EntryKind::Usage,
                "d",
                now
            ),
            Err(BalanceError::LineNotActive(_))
        ));
    }
}
