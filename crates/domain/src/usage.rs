//! Rating what a traveller used: which of the line's buckets pays for a usage record, and what is left.
//!
//! The network reports data in bytes, calls in seconds and SMS in messages; a line's buckets hold
//! megabytes and money. Rating turns the one into movements on the other, in the order the
//! carrier's `[usage]` policy sets, without ever taking a bucket below zero: what no bucket covers
//! is reported as unpaid, for the service to record (and, for late records, to charge or write
//! off as the policy says).

use crate::balance::{Bucket, BucketRef, BucketUnit, EntryKind, Movement};
use crate::money::{Currency, Money};
use crate::policy::Service;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Bytes in the megabyte data buckets are counted in.
pub const BYTES_PER_MB: u64 = 1024 * 1024;

/// A class of bucket that can pay for data, in the order the policy lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payer {
    /// The plan's own data allowance.
    Plan,
    /// Data packs bound as add-ons.
    Addon,
    /// The line's money balance, at the policy's price per megabyte.
    Money,
}

/// What happens on the network when the data that could pay runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenExhausted {
    /// Data is barred on the network until a top-up or a data pack.
    Bar,
    /// Data goes on at a low speed the network enforces; simdesk records the state.
    Throttle,
}

/// What a record is worth that arrives after the line was terminated or refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LateRecords {
    /// Recorded with what it would have cost, and not charged.
    WriteOff,
    /// Charged to the holder's e-wallet, as far as the wallet still holds money (a refund not
    /// yet paid out); what it cannot cover is written off.
    ChargeWallet,
}

/// A carrier's rules for counting usage (`[usage]` in `carrier.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsagePolicy {
    /// Which buckets pay for data, first to last.
    pub data_order: Vec<Payer>,
    /// Each data record is rounded up to a multiple of this many kilobytes.
    pub data_rounding_kb: u32,
    /// The price of a megabyte paid from money.
    pub money_per_mb: Money,
    /// The price of a minute of voice.
    pub voice_per_minute: Money,
    /// Each call is rounded up to a multiple of this many seconds.
    pub voice_rounding_secs: u32,
    /// The price of one SMS.
    pub sms_per_message: Money,
    pub when_exhausted: WhenExhausted,
    /// Percentages of the data allowance used at which the traveller is told, ascending.
    pub thresholds_percent: Vec<u8>,
    pub late_records: LateRecords,
    /// The host network's own header names for usage-file columns: its name to simdesk's.
    pub columns: std::collections::BTreeMap<String, String>,
    /// Visited networks priced apart from the home rates (roaming abroad).
    pub zones: Vec<RoamingZone>,
}

/// Visited networks with their own prices: what a record made there costs, and which buckets
/// may pay for its data (abroad, often money only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoamingZone {
    pub name: String,
    /// MCCs (3 digits) or MCC-MNCs (5 or 6 digits): a record's network matches by prefix.
    pub networks: Vec<String>,
    pub data_order: Vec<Payer>,
    pub money_per_mb: Money,
    pub voice_per_minute: Money,
    pub sms_per_message: Money,
}

impl UsagePolicy {
    /// The zone a visited network (MCC-MNC) is priced in: the one naming it most precisely.
    pub fn zone_for(&self, network: Option<&str>) -> Option<&RoamingZone> {
        let network = network?;
        self.zones
            .iter()
            .filter_map(|z| {
                z.networks
                    .iter()
                    .filter(|n| network.starts_with(n.as_str()))
                    .map(|n| (n.len(), z))
                    .max_by_key(|(len, _)| *len)
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, z)| z)
    }

    /// The rules a record made on `network` is rated by: the home rules, or its zone's prices
    /// and payers over them.
    pub fn for_network(&self, network: Option<&str>) -> std::borrow::Cow<'_, UsagePolicy> {
        match self.zone_for(network) {
            None => std::borrow::Cow::Borrowed(self),
            Some(zone) => std::borrow::Cow::Owned(UsagePolicy {
                data_order: zone.data_order.clone(),
                money_per_mb: zone.money_per_mb,
                voice_per_minute: zone.voice_per_minute,
                sms_per_message: zone.sms_per_message,
                zones: Vec::new(),
                ..self.clone()
            }),
        }
    }
}

impl UsagePolicy {
    /// The rules a carrier without a `[usage]` table gets: allowances then money, 1 KB rounding,
    /// data barred when it runs out, told at 75 % and 90 %, late records written off.
    pub fn default_for(currency: Currency) -> UsagePolicy {
        UsagePolicy {
            data_order: vec![Payer::Plan, Payer::Addon, Payer::Money],
            data_rounding_kb: 1,
            money_per_mb: Money::new(0, currency),
            voice_per_minute: Money::new(0, currency),
            voice_rounding_secs: 1,
            sms_per_message: Money::new(0, currency),
            when_exhausted: WhenExhausted::Bar,
            thresholds_percent: vec![75, 90],
            late_records: LateRecords::WriteOff,
            columns: std::collections::BTreeMap::new(),
            zones: Vec::new(),
        }
    }
}

/// The `[usage]` table as written in `carrier.toml`, before it is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUsage {
    pub(crate) data_order: Option<Vec<Payer>>,
    pub(crate) data_rounding_kb: Option<u32>,
    pub(crate) money_per_mb: Option<String>,
    pub(crate) voice_per_minute: Option<String>,
    pub(crate) voice_rounding_secs: Option<u32>,
    pub(crate) sms_per_message: Option<String>,
    pub(crate) when_exhausted: Option<WhenExhausted>,
    pub(crate) thresholds_percent: Option<Vec<u8>>,
    pub(crate) late_records: Option<LateRecords>,
    pub(crate) columns: Option<std::collections::BTreeMap<String, String>>,
    pub(crate) zones: Option<Vec<RawZone>>,
}

/// One `[[usage.zones]]` entry as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawZone {
    pub(crate) name: String,
    pub(crate) networks: Vec<String>,
    pub(crate) data_order: Option<Vec<Payer>>,
    pub(crate) money_per_mb: Option<String>,
    pub(crate) voice_per_minute: Option<String>,
    pub(crate) sms_per_message: Option<String>,
}

/// Checks a carrier's `[usage]` table; a missing one gets [`UsagePolicy::default_for`].
pub(crate) fn policy_from(
    raw: Option<&RawUsage>,
    currency: Currency,
) -> Result<UsagePolicy, (&'static str, String)> {
    let mut policy = UsagePolicy::default_for(currency);
    let Some(raw) = raw else {
        return Ok(policy);
    };
    let price = |key: &'static str, text: &Option<String>, into: &mut Money| {
        if let Some(text) = text {
            let money = crate::policy::parse_money(text, currency).map_err(|p| (key, p))?;
            if money.is_negative() {
                return Err((key, "a price cannot be negative".to_string()));
            }
            *into = money;
        }
        Ok(())
    };
    price("money_per_mb", &raw.money_per_mb, &mut policy.money_per_mb)?;
    price(
        "voice_per_minute",
        &raw.voice_per_minute,
        &mut policy.voice_per_minute,
    )?;
    price(
        "sms_per_message",
        &raw.sms_per_message,
        &mut policy.sms_per_message,
    )?;
    if let Some(order) = &raw.data_order {
        if order.is_empty() {
            return Err((
                "data_order",
                "list at least one of \"plan\", \"addon\", \"money\"".into(),
            ));
        }
        if order
            .iter()
            .enumerate()
            .any(|(i, p)| order[..i].contains(p))
        {
            return Err(("data_order", "each payer may be listed once".into()));
        }
        policy.data_order = order.clone();
    }
    if policy.data_order.contains(&Payer::Money)
        && raw.money_per_mb.is_some()
        && !policy.money_per_mb.is_positive()
    {
        return Err((
            "money_per_mb",
            "money pays for data in data_order, so a megabyte needs a price above 0".into(),
        ));
    }
    if let Some(kb) = raw.data_rounding_kb {
        if !(1..=1024).contains(&kb) {
            return Err((
                "data_rounding_kb",
                format!("{kb} is not between 1 and 1024"),
            ));
        }
        policy.data_rounding_kb = kb;
    }
    if let Some(secs) = raw.voice_rounding_secs {
        if !(1..=60).contains(&secs) {
            return Err((
                "voice_rounding_secs",
                format!("{secs} is not between 1 and 60"),
            ));
        }
        policy.voice_rounding_secs = secs;
    }
    if let Some(thresholds) = &raw.thresholds_percent {
        let ascending = thresholds.windows(2).all(|w| w[0] < w[1]);
        if !ascending || thresholds.iter().any(|t| !(1..=100).contains(t)) {
            return Err((
                "thresholds_percent",
                "list percentages from 1 to 100 in ascending order, each once".into(),
            ));
        }
        policy.thresholds_percent = thresholds.clone();
    }
    if let Some(w) = raw.when_exhausted {
        policy.when_exhausted = w;
    }
    if let Some(l) = raw.late_records {
        policy.late_records = l;
    }
    if let Some(columns) = &raw.columns {
        const OURS: [&str; 8] = [
            "record_id",
            "line",
            "service",
            "started_at",
            "volume",
            "ended_at",
            "network",
            "rating_group",
        ];
        for (theirs, ours) in columns {
            if !OURS.contains(&ours.as_str()) {
                return Err((
                    "columns",
                    format!(
                        "{theirs:?} is mapped to {ours:?}, which is not a usage column; use one of {}",
                        OURS.join(", ")
                    ),
                ));
            }
        }
        policy.columns = columns.clone();
    }
    for raw_zone in raw.zones.iter().flatten() {
        let zone = zone_from(raw_zone, &policy, currency)?;
        if policy.zones.iter().any(|z| z.name == zone.name) {
            return Err(("zones", format!("zone {:?} is listed twice", zone.name)));
        }
        policy.zones.push(zone);
    }
    Ok(policy)
}

/// Checks one roaming zone; prices it leaves out are the home prices.
fn zone_from(
    raw: &RawZone,
    home: &UsagePolicy,
    currency: Currency,
) -> Result<RoamingZone, (&'static str, String)> {
    let name = raw.name.trim();
    if name.is_empty() {
        return Err(("zones", "a zone needs a name".into()));
    }
    if raw.networks.is_empty() {
        return Err(("zones", format!("zone {name:?} lists no networks")));
    }
    for n in &raw.networks {
        if !matches!(n.len(), 3 | 5 | 6) || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err((
                "zones",
                format!(
                    "zone {name:?}: {n:?} is not an MCC (3 digits) or an MCC-MNC (5 or 6 digits)"
                ),
            ));
        }
    }
    let price = |text: &Option<String>, home: Money| -> Result<Money, (&'static str, String)> {
        match text {
            None => Ok(home),
            Some(t) => {
                let money = crate::policy::parse_money(t, currency)
                    .map_err(|p| ("zones", format!("zone {name:?}: {p}")))?;
                if money.is_negative() {
                    return Err((
                        "zones",
                        format!("zone {name:?}: a price cannot be negative"),
                    ));
                }
                Ok(money)
            }
        }
    };
    let data_order = match &raw.data_order {
        None => home.data_order.clone(),
        Some(order) if order.is_empty() => {
            return Err((
                "zones",
                format!("zone {name:?}: list at least one of \"plan\", \"addon\", \"money\""),
            ))
        }
        Some(order) => order.clone(),
    };
    let zone = RoamingZone {
        name: name.to_string(),
        networks: raw.networks.clone(),
        data_order,
        money_per_mb: price(&raw.money_per_mb, home.money_per_mb)?,
        voice_per_minute: price(&raw.voice_per_minute, home.voice_per_minute)?,
        sms_per_message: price(&raw.sms_per_message, home.sms_per_message)?,
    };
    if zone.data_order.contains(&Payer::Money) && !zone.money_per_mb.is_positive() {
        return Err((
            "zones",
            format!(
                "zone {name:?}: money pays for data there, so a megabyte needs a price above 0"
            ),
        ));
    }
    Ok(zone)
}

/// One usage as the network reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub service: Service,
    /// Bytes, seconds or messages.
    pub volume: u64,
    /// When it started: buckets are taken as they stood then.
    pub at: Timestamp,
}

/// What no bucket could pay for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "unit", rename_all = "snake_case")]
pub enum Unpaid {
    /// Megabytes of data.
    Data { megabytes: u64 },
    /// Money for calls or SMS.
    Money { amount: Money },
}

/// The decision about one usage record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rated {
    /// Takings from existing buckets (`EntryKind::Usage`, negative amounts).
    pub movements: Vec<Movement>,
    /// Bytes counted but short of a whole megabyte, carried to the line's next data record.
    pub carry_bytes: u64,
    /// The volume after the policy's rounding (bytes, seconds or messages).
    pub rounded: u64,
    pub unpaid: Option<Unpaid>,
    /// Whether, after this record, nothing that pays for data is left.
    pub data_exhausted: bool,
    /// Thresholds of the data allowance this record crossed (percent).
    pub thresholds_crossed: Vec<u8>,
}

impl Rated {
    /// What the record took from buckets of `unit`, as a positive number.
    pub fn taken(&self, buckets: &[Bucket], unit: BucketUnit) -> i64 {
        self.movements
            .iter()
            .filter(|m| match m.bucket {
                BucketRef::Existing(id) => buckets.iter().any(|b| b.id == id && b.unit == unit),
                BucketRef::New(_) => false,
            })
            .map(|m| -m.amount)
            .sum()
    }

    /// The buckets as this record leaves them, so the line's next record in the same batch is
    /// rated on what is really left.
    pub fn apply_to(&self, buckets: &mut [Bucket]) {
        for m in &self.movements {
            if let BucketRef::Existing(id) = m.bucket {
                if let Some(b) = buckets.iter_mut().find(|b| b.id == id) {
                    b.remaining += m.amount;
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RatingError {
    #[error("the line's plan does not include {0:?}; a record for it cannot be rated")]
    ServiceNotInPlan(Service),
    #[error("the usage policy prices in {policy}, but the line's money is in {line}")]
    WrongCurrency { policy: Currency, line: Currency },
}

/// Rates one usage against the buckets a line held when it happened.
///
/// `carry_bytes` is what earlier data records left short of a megabyte; `services` are what the
/// line's plan includes.
pub fn rate(
    usage: &Usage,
    buckets: &[Bucket],
    carry_bytes: u64,
    services: &[Service],
    policy: &UsagePolicy,
) -> Result<Rated, RatingError> {
    if !services.contains(&usage.service) {
        return Err(RatingError::ServiceNotInPlan(usage.service));
    }
    let mut left: Vec<(i64, i64)> = buckets
        .iter()
        .filter(|b| b.is_live(usage.at))
        .map(|b| (b.id, b.remaining.max(0)))
        .collect();
    let mut take = Takings::default();
    let rated = match usage.service {
        Service::Data => {
            let step = u64::from(policy.data_rounding_kb.max(1)) * 1024;
            let rounded = usage.volume.div_ceil(step).saturating_mul(step);
            let counted = carry_bytes.saturating_add(rounded);
            let due_mb = counted / BYTES_PER_MB;
            let before = allowance_used(buckets, usage.at, &left);
            let unpaid_mb = pay_data(due_mb, buckets, usage.at, policy, &mut left, &mut take)?;
            let after = allowance_used(buckets, usage.at, &left);
            Rated {
                movements: take.into_movements("data"),
                carry_bytes: counted % BYTES_PER_MB,
                rounded,
                unpaid: (unpaid_mb > 0).then_some(Unpaid::Data {
                    megabytes: unpaid_mb,
                }),
                data_exhausted: !can_pay_data(buckets, usage.at, policy, &left),
                thresholds_crossed: crossed(&policy.thresholds_percent, before, after),
            }
        }
        Service::Voice | Service::Sms => {
            // Calls and texts are paid in money: calls priced per minute and charged per
            // started rounding step (the money rounded up), texts per message.
            let (rounded, price) = if usage.service == Service::Voice {
                let step = u64::from(policy.voice_rounding_secs.max(1));
                let rounded = usage.volume.div_ceil(step).saturating_mul(step);
                (
                    rounded,
                    Money::new(
                        voice_cost(policy, rounded),
                        policy.voice_per_minute.currency(),
                    ),
                )
            } else {
                (usage.volume, sms_cost(policy, usage.volume))
            };
            let unpaid = pay_money(
                price.minor(),
                price.currency(),
                buckets,
                usage.at,
                &mut left,
                &mut take,
            )?;
            Rated {
                movements: take.into_movements(usage.service.as_str()),
                carry_bytes,
                rounded,
                unpaid,
                data_exhausted: !can_pay_data(buckets, usage.at, policy, &left),
                thresholds_crossed: Vec::new(),
            }
        }
    };
    Ok(rated)
}

/// Whether a top-up of `amount` lets data flow again on a line whose data stopped for want of
/// balance: the policy pays data from money at all, and the amount buys at least a megabyte.
pub fn top_up_pays_data(policy: &UsagePolicy, amount: Money) -> bool {
    policy.data_order.contains(&Payer::Money)
        && policy.money_per_mb.is_positive()
        && amount.currency() == policy.money_per_mb.currency()
        && amount.minor() >= policy.money_per_mb.minor()
}

/// How much of `service` the line's buckets could still pay for at `at`: bytes of data (less
/// what earlier records carried short of a megabyte), seconds of voice or messages. What online
/// charging may grant before the network must ask again.
pub fn available(
    service: Service,
    buckets: &[Bucket],
    carry_bytes: u64,
    policy: &UsagePolicy,
    at: Timestamp,
) -> u64 {
    let left: Vec<(i64, i64)> = buckets
        .iter()
        .filter(|b| b.is_live(at))
        .map(|b| (b.id, b.remaining.max(0)))
        .collect();
    let money = |currency: Currency| -> i64 {
        buckets_of(buckets, at, Payer::Money)
            .iter()
            .filter(|b| b.unit == BucketUnit::Money(currency))
            .map(|b| remaining_of(&left, b.id))
            .sum()
    };
    match service {
        Service::Data => {
            let mut mb: u64 = 0;
            for payer in &policy.data_order {
                mb = mb.saturating_add(match payer {
                    Payer::Plan | Payer::Addon => buckets_of(buckets, at, *payer)
                        .iter()
                        .map(|b| u64::try_from(remaining_of(&left, b.id)).unwrap_or(0))
                        .sum(),
                    Payer::Money if policy.money_per_mb.is_positive() => u64::try_from(
                        money(policy.money_per_mb.currency()) / policy.money_per_mb.minor(),
                    )
                    .unwrap_or(0),
                    Payer::Money => 0,
                });
            }
            mb.saturating_mul(BYTES_PER_MB).saturating_sub(carry_bytes)
        }
        Service::Voice if policy.voice_per_minute.is_positive() => {
            let cents = u64::try_from(money(policy.voice_per_minute.currency())).unwrap_or(0);
            let per_minute = u64::try_from(policy.voice_per_minute.minor()).unwrap_or(1);
            let step = u64::from(policy.voice_rounding_secs.max(1));
            // Whole rounding steps only: a grant never promises a step it could not pay for.
            (cents * 60 / per_minute) / step * step
        }
        Service::Sms if policy.sms_per_message.is_positive() => {
            u64::try_from(money(policy.sms_per_message.currency()) / policy.sms_per_message.minor())
                .unwrap_or(0)
        }
        // Free calls or texts: as much as anyone asks.
        Service::Voice | Service::Sms => u64::MAX,
    }
}

/// What a usage would cost at the policy's money rates: the price of a late record.
pub fn money_value(usage: &Usage, policy: &UsagePolicy) -> Money {
    let currency = policy.money_per_mb.currency();
    let minor = match usage.service {
        Service::Data => {
            let step = u64::from(policy.data_rounding_kb.max(1)) * 1024;
            let mb = usage
                .volume
                .div_ceil(step)
                .saturating_mul(step)
                .div_ceil(BYTES_PER_MB);
            policy
                .money_per_mb
                .minor()
                .saturating_mul(i64::try_from(mb).unwrap_or(i64::MAX))
        }
        Service::Voice => {
            let step = u64::from(policy.voice_rounding_secs.max(1));
            voice_cost(policy, usage.volume.div_ceil(step).saturating_mul(step))
        }
        Service::Sms => sms_cost(policy, usage.volume).minor(),
    };
    Money::new(minor, currency)
}

/// The price of `secs` seconds of voice, priced per minute: a part of a minor unit is charged
/// as a whole one, so rounding never favours the traveller over the policy's rate.
fn voice_cost(policy: &UsagePolicy, secs: u64) -> i64 {
    let per_minute = u128::try_from(policy.voice_per_minute.minor()).unwrap_or(0);
    let cost = (per_minute * u128::from(secs)).div_ceil(60);
    i64::try_from(cost).unwrap_or(i64::MAX)
}

/// The price of `messages` SMS.
fn sms_cost(policy: &UsagePolicy, messages: u64) -> Money {
    let minor = policy
        .sms_per_message
        .minor()
        .saturating_mul(i64::try_from(messages).unwrap_or(i64::MAX));
    Money::new(minor, policy.sms_per_message.currency())
}

/// Takings per bucket, in the order they were decided.
#[derive(Default)]
struct Takings(Vec<(i64, i64)>);

impl Takings {
    fn take(&mut self, left: &mut [(i64, i64)], id: i64, amount: i64) {
        if amount <= 0 {
            return;
        }
        if let Some(slot) = left.iter_mut().find(|(b, _)| *b == id) {
            slot.1 -= amount;
        }
        self.0.push((id, amount));
    }

    fn into_movements(self, what: &str) -> Vec<Movement> {
        self.0
            .into_iter()
            .map(|(id, amount)| Movement {
                bucket: BucketRef::Existing(id),
                kind: EntryKind::Usage,
                amount: -amount,
                note: format!("{what} usage"),
            })
            .collect()
    }
}

fn remaining_of(left: &[(i64, i64)], id: i64) -> i64 {
    left.iter().find(|(b, _)| *b == id).map_or(0, |(_, r)| *r)
}

fn payer_of(bucket: &Bucket) -> Option<Payer> {
    match bucket.unit {
        BucketUnit::Megabytes if bucket.source == "plan" => Some(Payer::Plan),
        BucketUnit::Megabytes if bucket.source.starts_with("addon:") => Some(Payer::Addon),
        // Megabytes from anywhere else (a goodwill grant) pay with the add-ons.
        BucketUnit::Megabytes => Some(Payer::Addon),
        BucketUnit::Money(_) => Some(Payer::Money),
    }
}

/// The live buckets of one payer class, soonest to expire first, so nothing that will lapse
/// is kept while something that lasts is spent.
fn buckets_of(buckets: &[Bucket], at: Timestamp, payer: Payer) -> Vec<&Bucket> {
    let mut of: Vec<&Bucket> = buckets
        .iter()
        .filter(|b| b.is_live(at) && payer_of(b) == Some(payer))
        .collect();
    of.sort_by_key(|b| (b.expires_at.is_none(), b.expires_at, b.id));
    of
}

fn pay_data(
    mut due_mb: u64,
    buckets: &[Bucket],
    at: Timestamp,
    policy: &UsagePolicy,
    left: &mut [(i64, i64)],
    take: &mut Takings,
) -> Result<u64, RatingError> {
    for payer in &policy.data_order {
        if due_mb == 0 {
            break;
        }
        match payer {
            Payer::Plan | Payer::Addon => {
                for b in buckets_of(buckets, at, *payer) {
                    let have = u64::try_from(remaining_of(left, b.id)).unwrap_or(0);
                    let now = have.min(due_mb);
                    take.take(left, b.id, now as i64);
                    due_mb -= now;
                }
            }
            Payer::Money => {
                let price = policy.money_per_mb;
                if !price.is_positive() {
                    continue;
                }
                let money = money_buckets(buckets, at, price.currency())?;
                let have: i64 = money.iter().map(|b| remaining_of(left, b.id)).sum();
                let affordable = u64::try_from(have / price.minor()).unwrap_or(0);
                let mb = affordable.min(due_mb);
                let mut cost = price.minor().saturating_mul(mb as i64);
                for b in money {
                    let now = remaining_of(left, b.id).min(cost);
                    take.take(left, b.id, now);
                    cost -= now;
                }
                due_mb -= mb;
            }
        }
    }
    Ok(due_mb)
}

fn pay_money(
    cost: i64,
    currency: Currency,
    buckets: &[Bucket],
    at: Timestamp,
    left: &mut [(i64, i64)],
    take: &mut Takings,
) -> Result<Option<Unpaid>, RatingError> {
    let mut cost = cost.max(0);
    for b in money_buckets(buckets, at, currency)? {
        let now = remaining_of(left, b.id).min(cost);
        take.take(left, b.id, now);
        cost -= now;
    }
    Ok((cost > 0).then(|| Unpaid::Money {
        amount: Money::new(cost, currency),
    }))
}

fn money_buckets(
    buckets: &[Bucket],
    at: Timestamp,
    currency: Currency,
) -> Result<Vec<&Bucket>, RatingError> {
    let money = buckets_of(buckets, at, Payer::Money);
    if let Some(b) = money.iter().find(|b| b.unit != BucketUnit::Money(currency)) {
        let BucketUnit::Money(line) = b.unit else {
            unreachable!("money buckets hold money")
        };
        return Err(RatingError::WrongCurrency {
            policy: currency,
            line,
        });
    }
    Ok(money)
}

fn can_pay_data(
    buckets: &[Bucket],
    at: Timestamp,
    policy: &UsagePolicy,
    left: &[(i64, i64)],
) -> bool {
    policy.data_order.iter().any(|payer| match payer {
        Payer::Plan | Payer::Addon => buckets_of(buckets, at, *payer)
            .iter()
            .any(|b| remaining_of(left, b.id) > 0),
        Payer::Money => {
            policy.money_per_mb.is_positive()
                && buckets_of(buckets, at, Payer::Money)
                    .iter()
                    .map(|b| remaining_of(left, b.id))
                    .sum::<i64>()
                    >= policy.money_per_mb.minor()
        }
    })
}

/// Percent of the live data allowance (plan and packs) used, given what is left per bucket.
fn allowance_used(buckets: &[Bucket], at: Timestamp, left: &[(i64, i64)]) -> Option<u128> {
    let allowance: Vec<&Bucket> = buckets
        .iter()
        .filter(|b| b.is_live(at) && b.unit == BucketUnit::Megabytes)
        .collect();
    let initial: i64 = allowance.iter().map(|b| b.initial.max(0)).sum();
    if initial == 0 {
        return None;
    }
    let remaining: i64 = allowance.iter().map(|b| remaining_of(left, b.id)).sum();
    let used = (initial - remaining).max(0);
    Some(u128::try_from(used).unwrap_or(0) * 100 / u128::try_from(initial).unwrap_or(1))
}

fn crossed(thresholds: &[u8], before: Option<u128>, after: Option<u128>) -> Vec<u8> {
    let (Some(before), Some(after)) = (before, after) else {
        return Vec::new();
    };
    thresholds
        .iter()
        .copied()
        .filter(|t| before < u128::from(*t) && u128::from(*t) <= after)
        .collect()
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
