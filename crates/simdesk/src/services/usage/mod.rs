//! Counting what travellers used: each usage record rated against its line's buckets once.
//!
//! Records come from files the host network sends ([`file`]) or over the API; both end in
//! [`count`], which decides with the domain's rating and stores the record, the buckets it took
//! and its history entry in one transaction. A record id counted before changes nothing.

pub mod exhaustion;
pub mod file;

use super::policies::PolicyBook;
use super::{ServiceError, ServiceResult};
use crate::store::{
    LineChange, LineKey, LineTally, LineUsage, NewEvent, NewUsageRecord, Store, UsageBatch,
    UsageOutcome, WalletEntry,
};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::{Bucket, BucketUnit, Movement};
use simdesk_domain::ids::{CarrierCode, CustomerId, Iccid, Imsi, LineId, Msisdn};
use simdesk_domain::line::Line;
use simdesk_domain::money::Money;
use simdesk_domain::policy::Service;
use simdesk_domain::usage::{self, LateRecords, Unpaid, Usage};
use simdesk_domain::wallet;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Tries before a record whose line keeps changing underneath is given up as busy.
const ATTEMPTS: usize = 5;

/// One usage record as the network reported it, checked but not yet counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRecord {
    pub record_id: String,
    pub line: LineKey,
    pub service: Service,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    /// Bytes, seconds or messages.
    pub volume: u64,
    /// The visited network, MCC-MNC.
    pub network: Option<String>,
    pub rating_group: Option<u32>,
}

/// How one record was counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Counted {
    /// Paid from the line's buckets; `unpaid` is what none of them covered.
    Rated {
        taken_mb: i64,
        taken_money: i64,
        unpaid: Option<Unpaid>,
    },
    /// The line had ended: kept with what it would have cost, not charged.
    WrittenOff { value: Money },
    /// The line had ended: charged to the holder's e-wallet as far as it held money; the rest
    /// written off.
    ChargedToWallet {
        charged: Money,
        written_off: Option<Money>,
    },
    /// This record id was counted before; nothing changed.
    AlreadyCounted,
}

/// A line identifier as a usage record writes it: an ICCID, an IMSI or a phone number.
pub fn line_key(text: &str) -> Result<LineKey, String> {
    let text = text.trim();
    if let Ok(iccid) = text.parse::<Iccid>() {
        return Ok(LineKey::Iccid(iccid));
    }
    if text.len() == 15 && !text.starts_with('0') {
        return text
            .parse::<Imsi>()
            .map(LineKey::Imsi)
            .map_err(|e| e.to_string());
    }
    text.parse::<Msisdn>().map(LineKey::Msisdn).map_err(|_| {
        format!(
            "{:?} is not an ICCID (19 or 20 digits starting 89), an IMSI (15 digits) or a Japanese mobile number",
            super::excerpt(text, 40)
        )
    })
}

/// Whether a record could be counted on this line: its plan must include the service.
pub fn check_service(book: &PolicyBook, line: &Line, service: Service) -> Result<(), String> {
    let (policy, _) = book.for_line(line).map_err(|e| e.to_string())?;
    if policy.plan.services.contains(&service) {
        Ok(())
    } else {
        Err(format!(
            "the line's plan {} does not include {}",
            policy.plan.code,
            service.as_str()
        ))
    }
}

/// Counts one record: rated against the line's buckets, or written off if the line has ended.
pub async fn count(
    store: &dyn Store,
    book: &PolicyBook,
    record: &UsageRecord,
    source: &str,
    by: &Attribution,
) -> ServiceResult<Counted> {
    let mut counted = count_all(store, book, std::slice::from_ref(record), source, by).await?;
    counted
        .pop()
        .ok_or_else(|| ServiceError::Invalid("no usage record was given".into()))
}

/// Counts records together, in their order, in one transaction: each line is read once and
/// written once however many of its records there are. Outcomes are in the records' order.
pub async fn count_all(
    store: &dyn Store,
    book: &PolicyBook,
    records: &[UsageRecord],
    source: &str,
    by: &Attribution,
) -> ServiceResult<Vec<Counted>> {
    for _ in 0..ATTEMPTS {
        // A line changed between reading it and writing (a top-up, records counted elsewhere):
        // decide again on what it holds now.
        match count_once(store, book, records, source, by).await {
            Err(ServiceError::Busy) => continue,
            other => return other,
        }
    }
    Err(ServiceError::Busy)
}

/// One line's records within a batch: the buckets as its records leave them, what they took and
/// how far they reach.
struct Tally<'a> {
    line: &'a Line,
    buckets: Vec<Bucket>,
    usage: LineUsage,
    movements: Vec<Movement>,
    summary: Summary,
    data: exhaustion::DataWatch,
}

async fn count_once(
    store: &dyn Store,
    book: &PolicyBook,
    records: &[UsageRecord],
    source: &str,
    by: &Attribution,
) -> ServiceResult<Vec<Counted>> {
    let named = NamedLines::find(store, records).await?;
    let mut owners = Vec::with_capacity(records.len());
    for r in records {
        owners.push(named.index_of(&r.line).ok_or_else(|| {
            ServiceError::NotFound(format!("the line of usage record {}", r.record_id))
        })?);
    }
    let lines = named.lines;
    let mut seen = counted_before(store, &lines, records, &owners).await?;
    let ids: Vec<LineId> = lines.iter().map(|l| l.id).collect();
    let mut standing = store.rating_standing(&ids).await?;
    let mut wallets = held_in_wallets(store, book, &lines).await?;
    let mut tallies: Vec<Tally> = lines
        .iter()
        .map(|line| {
            let (buckets, usage) = standing.remove(&line.id).unwrap_or_default();
            Tally {
                line,
                buckets,
                usage,
                movements: Vec::new(),
                summary: Summary::default(),
                data: exhaustion::DataWatch::default(),
            }
        })
        .collect();
    let mut batch = UsageBatch::default();
    let mut outcomes = Vec::with_capacity(records.len());
    for (record, &owner) in records.iter().zip(&owners) {
        let tally = &mut tallies[owner];
        // A record id repeated within the batch counts once, like one counted before.
        if !seen.insert((tally.line.carrier.clone(), record.record_id.clone())) {
            outcomes.push(Counted::AlreadyCounted);
            continue;
        }
        let (row, counted) = if tally.line.ended_at.is_some() {
            late_one(
                book,
                tally,
                record,
                source,
                by,
                &mut wallets,
                &mut batch.wallet,
            )?
        } else {
            rate_one(book, tally, record, source, by)?
        };
        batch.records.push(row);
        outcomes.push(counted);
    }
    if batch.records.is_empty() {
        return Ok(outcomes);
    }
    for tally in tallies.into_iter().filter(|t| t.summary.records > 0) {
        let change = if tally.summary.rated > 0 {
            let (policy, version) = book.for_line(tally.line)?;
            let event = NewEvent {
                kind: "usage".into(),
                from: None,
                to: None,
                detail: tally.summary.to_string(),
                by: by.clone(),
                policy_version: Some(version),
            };
            let mut change = LineChange::new(tally.line.clone(), event);
            change.balance.movements = tally.movements;
            let left_mb = tally
                .buckets
                .iter()
                .filter(|b| b.unit == BucketUnit::Megabytes && b.is_live(by.at))
                .map(|b| b.remaining)
                .sum();
            exhaustion::after_usage(
                &mut change,
                tally.line,
                &tally.data,
                tally.usage.data_stopped,
                policy.carrier.usage.when_exhausted,
                left_mb,
                by.at,
            );
            Some(change)
        } else {
            None
        };
        batch.lines.push(LineTally {
            line: tally.line.id,
            change,
            usage: tally.usage,
        });
    }
    store.count_usage(&batch).await?;
    Ok(outcomes)
}

/// The lines a set of records names, read in one go and found by any of their identifiers.
pub struct NamedLines {
    lines: Vec<Line>,
    by_key: HashMap<LineKey, usize>,
}

impl NamedLines {
    pub async fn find(store: &dyn Store, records: &[UsageRecord]) -> ServiceResult<NamedLines> {
        let keys: Vec<LineKey> = records
            .iter()
            .map(|r| r.line.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let lines = store.lines_by_keys(&keys).await?;
        let mut by_key = HashMap::with_capacity(lines.len() * 4);
        for (i, l) in lines.iter().enumerate() {
            by_key.insert(LineKey::Id(l.id), i);
            by_key.insert(LineKey::Iccid(l.iccid.clone()), i);
            by_key.insert(LineKey::Imsi(l.imsi.clone()), i);
            by_key.insert(LineKey::Msisdn(l.msisdn.clone()), i);
        }
        Ok(NamedLines { lines, by_key })
    }

    fn index_of(&self, key: &LineKey) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, key: &LineKey) -> Option<&Line> {
        self.index_of(key).map(|i| &self.lines[i])
    }
}

/// The record ids of these records' carriers that were counted before.
async fn counted_before(
    store: &dyn Store,
    lines: &[Line],
    records: &[UsageRecord],
    owners: &[usize],
) -> ServiceResult<HashSet<(CarrierCode, String)>> {
    let mut by_carrier: HashMap<&CarrierCode, Vec<&str>> = HashMap::new();
    for (record, &owner) in records.iter().zip(owners) {
        by_carrier
            .entry(&lines[owner].carrier)
            .or_default()
            .push(record.record_id.as_str());
    }
    let mut seen = HashSet::new();
    for (carrier, ids) in by_carrier {
        for id in store.counted_record_ids(carrier, &ids).await? {
            seen.insert((carrier.clone(), id));
        }
    }
    Ok(seen)
}

/// A record's row before its rating is known; the tally learns how far usage reaches.
fn new_row(
    tally: &mut Tally<'_>,
    record: &UsageRecord,
    source: &str,
    by: &Attribution,
) -> NewUsageRecord {
    let line = tally.line;
    let reached = record.ended_at.unwrap_or(record.started_at);
    tally.usage.counted_until = Some(later(tally.usage.counted_until, reached));
    tally.summary.records += 1;
    NewUsageRecord {
        carrier: line.carrier.clone(),
        record_id: record.record_id.clone(),
        line: line.id,
        service: record.service,
        started_at: record.started_at,
        ended_at: record.ended_at,
        volume: record.volume,
        rounded: record.volume,
        network: record.network.clone(),
        rating_group: record.rating_group,
        outcome: UsageOutcome::Rated,
        taken_mb: 0,
        taken_money: 0,
        unpaid: None,
        source: source.to_string(),
        counted_at: by.at,
    }
}

fn usage_of(record: &UsageRecord) -> Usage {
    Usage {
        service: record.service,
        volume: record.volume,
        at: record.started_at,
    }
}

/// Rates one record on its line's tally and moves the tally on.
fn rate_one(
    book: &PolicyBook,
    tally: &mut Tally<'_>,
    record: &UsageRecord,
    source: &str,
    by: &Attribution,
) -> ServiceResult<(NewUsageRecord, Counted)> {
    let (policy, _) = book.for_line(tally.line)?;
    // Roaming abroad is priced by the visited network's zone, where the policy has one.
    let rules = policy.carrier.usage.for_network(record.network.as_deref());
    let mut row = new_row(tally, record, source, by);
    let rated = usage::rate(
        &usage_of(record),
        &tally.buckets,
        tally.usage.carry_bytes,
        &policy.plan.services,
        &rules,
    )
    .map_err(|e| ServiceError::Invalid(format!("usage record {}: {e}", record.record_id)))?;
    row.rounded = rated.rounded;
    row.taken_mb = rated.taken(&tally.buckets, BucketUnit::Megabytes);
    row.taken_money = rated.taken(&tally.buckets, BucketUnit::Money(policy.carrier.currency));
    row.unpaid = rated.unpaid;
    rated.apply_to(&mut tally.buckets);
    tally.usage.carry_bytes = rated.carry_bytes;
    tally.summary.add(record, &rated);
    tally.data.saw(
        &record.record_id,
        &rated.thresholds_crossed,
        rated.data_exhausted,
    );
    merge(&mut tally.movements, rated.movements);
    let counted = Counted::Rated {
        taken_mb: row.taken_mb,
        taken_money: row.taken_money,
        unpaid: rated.unpaid,
    };
    Ok((row, counted))
}

/// A record arriving after its line ended (often weeks late). It never reopens the line's
/// buckets or the refund already paid: the policy says whether it is written off or charged to
/// the holder's e-wallet before payout, and it is kept either way with what it was worth.
fn late_one(
    book: &PolicyBook,
    tally: &mut Tally<'_>,
    record: &UsageRecord,
    source: &str,
    by: &Attribution,
    wallets: &mut HashMap<CustomerId, Money>,
    charges: &mut Vec<WalletEntry>,
) -> ServiceResult<(NewUsageRecord, Counted)> {
    let line = tally.line;
    let (policy, _) = book.for_line(line)?;
    let rules = policy.carrier.usage.for_network(record.network.as_deref());
    let mut row = new_row(tally, record, source, by);
    let value = usage::money_value(&usage_of(record), &rules);
    row.outcome = UsageOutcome::WrittenOff;
    row.unpaid = Some(Unpaid::Money { amount: value });
    let written_off = Ok((row.clone(), Counted::WrittenOff { value }));
    if rules.late_records != LateRecords::ChargeWallet || !value.is_positive() {
        return written_off;
    }
    let Some((customer, held)) = line
        .holder
        .and_then(|c| wallets.get_mut(&c).map(|held| (c, held)))
    else {
        return written_off;
    };
    let charge = wallet::late_usage(customer, &line.carrier, *held, value)
        .map_err(|e| ServiceError::Invalid(format!("usage record {}: {e}", record.record_id)))?;
    let Some(movement) = charge else {
        return written_off;
    };
    let charged = movement
        .postings
        .iter()
        .find(|p| p.amount.is_positive())
        .map_or(value, |p| p.amount);
    *held = Money::new(held.minor() - charged.minor(), held.currency());
    let rest = (charged.minor() < value.minor())
        .then(|| Money::new(value.minor() - charged.minor(), value.currency()));
    charges.push(WalletEntry {
        customer,
        movement,
        idempotency_key: format!("late_usage:{}:{}", line.carrier, record.record_id),
        note: format!(
            "usage record {} on {} after the line ended",
            record.record_id,
            line.msisdn.national()
        ),
        at: by.at,
    });
    row.outcome = UsageOutcome::ChargedToWallet;
    row.taken_money = charged.minor();
    row.unpaid = rest.map(|amount| Unpaid::Money { amount });
    Ok((
        row,
        Counted::ChargedToWallet {
            charged,
            written_off: rest,
        },
    ))
}

/// What the e-wallets hold of the holders whose ended lines' late records the policy charges
/// to them, in each carrier's currency.
async fn held_in_wallets(
    store: &dyn Store,
    book: &PolicyBook,
    lines: &[Line],
) -> ServiceResult<HashMap<CustomerId, Money>> {
    let mut held = HashMap::new();
    for line in lines.iter().filter(|l| l.ended_at.is_some()) {
        let (policy, _) = book.for_line(line)?;
        let (Some(customer), LateRecords::ChargeWallet) =
            (line.holder, policy.carrier.usage.late_records)
        else {
            continue;
        };
        if held.contains_key(&customer) {
            continue;
        }
        let account = wallet::Account::Wallet { customer }.to_string();
        let currency = policy.carrier.currency;
        let minor: i64 = store
            .wallet_postings(customer)
            .await?
            .iter()
            .filter(|p| p.account == account && p.amount.currency() == currency)
            .map(|p| p.amount.minor())
            .sum();
        held.insert(customer, Money::new(minor, currency));
    }
    Ok(held)
}

/// Adds movements to a line's batch, one ledger entry per bucket and service: the records
/// themselves keep the detail.
fn merge(into: &mut Vec<Movement>, movements: Vec<Movement>) {
    for m in movements {
        match into
            .iter_mut()
            .find(|o| o.bucket == m.bucket && o.kind == m.kind && o.note == m.note)
        {
            Some(o) => o.amount += m.amount,
            None => into.push(m),
        }
    }
}

fn later(a: Option<Timestamp>, b: Timestamp) -> Timestamp {
    a.map_or(b, |a| a.max(b))
}

/// What one line's records in a batch came to: the words of its history entry.
#[derive(Debug, Default)]
struct Summary {
    records: u64,
    rated: u64,
    bytes: u64,
    seconds: u64,
    messages: u64,
    unpaid_mb: u64,
    unpaid_money: Option<Money>,
    first: Option<String>,
    last: Option<String>,
}

impl Summary {
    fn add(&mut self, record: &UsageRecord, rated: &usage::Rated) {
        self.rated += 1;
        match record.service {
            Service::Data => self.bytes += record.volume,
            Service::Voice => self.seconds += record.volume,
            Service::Sms => self.messages += record.volume,
        }
        match rated.unpaid {
            Some(Unpaid::Data { megabytes }) => self.unpaid_mb += megabytes,
            Some(Unpaid::Money { amount }) => {
                self.unpaid_money = Some(match self.unpaid_money {
                    Some(sum) => Money::new(sum.minor() + amount.minor(), sum.currency()),
                    None => amount,
                });
            }
            None => {}
        }
        self.first.get_or_insert_with(|| record.record_id.clone());
        self.last = Some(record.record_id.clone());
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut used = Vec::new();
        if self.bytes > 0 {
            used.push(format!("{} bytes of data", self.bytes));
        }
        if self.seconds > 0 {
            used.push(format!("{} s of voice", self.seconds));
        }
        if self.messages > 0 {
            used.push(format!("{} SMS", self.messages));
        }
        if used.is_empty() {
            used.push("nothing".into());
        }
        write!(f, "{}", used.join(", "))?;
        match (&self.first, &self.last, self.rated) {
            (Some(first), _, 1) => write!(f, " (record {first})")?,
            (Some(first), Some(last), n) => write!(f, " ({n} records, {first} … {last})")?,
            _ => {}
        }
        if self.unpaid_mb > 0 {
            write!(f, "; {} MB not covered", self.unpaid_mb)?;
        }
        if let Some(money) = self.unpaid_money {
            write!(f, "; {money} not covered")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_its_line_by_iccid_imsi_or_number() {
        let iccid = Iccid::from_body("898110000000000001").unwrap().to_string();
        assert!(matches!(line_key(&iccid), Ok(LineKey::Iccid(_))));
        assert!(matches!(line_key("440101234567890"), Ok(LineKey::Imsi(_))));
        assert!(matches!(line_key("09012345678"), Ok(LineKey::Msisdn(_))));
        let err = line_key("hello").unwrap_err();
        assert!(err.contains("not an ICCID"), "{err}");
    }
}
