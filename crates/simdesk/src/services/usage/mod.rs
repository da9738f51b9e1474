//! Counting what travellers used: each usage record rated against its line's buckets once.
//!
//! Records come from files the host network sends ([`file`]) or over the API; both end in
//! [`count`], which decides with the domain's rating and stores the record, the buckets it took
//! and its history entry in one transaction. A record id counted before changes nothing.

pub mod file;

use super::policies::PolicyBook;
use super::{ServiceError, ServiceResult};
use crate::store::{LineChange, LineKey, LineUsage, NewEvent, NewUsageRecord, Store, UsageOutcome};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::BucketUnit;
use simdesk_domain::ids::{Iccid, Imsi, Msisdn};
use simdesk_domain::line::Line;
use simdesk_domain::policy::Service;
use simdesk_domain::usage::{self, Unpaid, Usage};

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
    WrittenOff { value: simdesk_domain::money::Money },
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
    for _ in 0..ATTEMPTS {
        let line = store.line(&record.line).await?.ok_or_else(|| {
            ServiceError::NotFound(format!("the line of usage record {}", record.record_id))
        })?;
        // The line changed between reading it and writing (a top-up, another record): decide
        // again on what it holds now.
        match count_once(store, book, &line, record, source, by).await {
            Err(ServiceError::Busy) => continue,
            other => return other,
        }
    }
    Err(ServiceError::Busy)
}

async fn count_once(
    store: &dyn Store,
    book: &PolicyBook,
    line: &Line,
    record: &UsageRecord,
    source: &str,
    by: &Attribution,
) -> ServiceResult<Counted> {
    let (policy, version) = book.for_line(line)?;
    let rules = &policy.carrier.usage;
    let used = Usage {
        service: record.service,
        volume: record.volume,
        at: record.started_at,
    };
    let reached = record.ended_at.unwrap_or(record.started_at);
    let before = store.line_usage(line.id).await?;
    let mut row = NewUsageRecord {
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
    };
    // A record arriving after the line ended (often weeks late) never reopens its buckets or
    // the refund already paid: the policy says what becomes of it, and it is kept either way.
    if line.ended_at.is_some() {
        let value = usage::money_value(&used, rules);
        row.outcome = UsageOutcome::WrittenOff;
        row.unpaid = Some(Unpaid::Money { amount: value });
        let left = LineUsage {
            carry_bytes: before.carry_bytes,
            counted_until: Some(later(before.counted_until, reached)),
        };
        return Ok(if store.count_usage(&row, None, &left).await? {
            Counted::WrittenOff { value }
        } else {
            Counted::AlreadyCounted
        });
    }
    let buckets = store.buckets(line.id).await?;
    let rated = usage::rate(
        &used,
        &buckets,
        before.carry_bytes,
        &policy.plan.services,
        rules,
    )
    .map_err(|e| ServiceError::Invalid(format!("usage record {}: {e}", record.record_id)))?;
    row.rounded = rated.rounded;
    row.taken_mb = rated.taken(&buckets, BucketUnit::Megabytes);
    row.taken_money = rated.taken(&buckets, BucketUnit::Money(policy.carrier.currency));
    row.unpaid = rated.unpaid;
    let event = NewEvent {
        kind: "usage".into(),
        from: None,
        to: None,
        detail: describe(record, &rated),
        by: by.clone(),
        policy_version: Some(version),
    };
    let mut change = LineChange::new(line.clone(), event);
    change.balance.movements = rated.movements.clone();
    let left = LineUsage {
        carry_bytes: rated.carry_bytes,
        counted_until: Some(later(before.counted_until, reached)),
    };
    Ok(if store.count_usage(&row, Some(&change), &left).await? {
        Counted::Rated {
            taken_mb: row.taken_mb,
            taken_money: row.taken_money,
            unpaid: rated.unpaid,
        }
    } else {
        Counted::AlreadyCounted
    })
}

fn later(a: Option<Timestamp>, b: Timestamp) -> Timestamp {
    a.map_or(b, |a| a.max(b))
}

/// The history entry's words: what was used and under which record.
fn describe(record: &UsageRecord, rated: &usage::Rated) -> String {
    let what = match record.service {
        Service::Data => format!("{} bytes of data", record.volume),
        Service::Voice => format!("{} s of voice", record.volume),
        Service::Sms => format!("{} SMS", record.volume),
    };
    let unpaid = match rated.unpaid {
        Some(Unpaid::Data { megabytes }) => format!("; {megabytes} MB not covered"),
        Some(Unpaid::Money { amount }) => format!("; {amount} not covered"),
        None => String::new(),
    };
    format!("{what} (record {}){unpaid}", record.record_id)
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
