//! The shapes that cross the storage boundary.

use jiff::Timestamp;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::BalanceChange;
use simdesk_domain::customer::Registration;
use simdesk_domain::ids::{Iccid, Msisdn};
use simdesk_domain::line::{Line, LineState};
use simdesk_domain::money::Money;

/// How a line is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKey {
    Id(i64),
    Iccid(Iccid),
    Msisdn(Msisdn),
}

/// One policy document as read from disk.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub carrier_code: String,
    /// `None` for the carrier's own document.
    pub plan_code: Option<String>,
    /// Display name of the carrier or plan.
    pub name: String,
    pub source_name: String,
    pub body: String,
}

/// A carrier's document with its plans', stored together.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub carrier: PolicyDocument,
    pub plans: Vec<PolicyDocument>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentOutcome {
    pub carrier_code: String,
    pub plan_code: Option<String>,
    pub version: i64,
    /// Whether this load created the version (false: the content was already stored).
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub carrier_code: String,
    pub plan_code: Option<String>,
    pub version: i64,
    pub source_name: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierRow {
    pub code: String,
    pub name: String,
    pub policy_version: i64,
}

/// A line about to enter stock.
#[derive(Debug, Clone)]
pub struct NewLine {
    pub iccid: String,
    pub imsi: String,
    pub msisdn: String,
    pub carrier: String,
    pub plan: String,
    pub kind: String,
    pub eid: Option<String>,
    pub activation_code: Option<String>,
}

/// One entry in a line's history.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// A lifecycle step (`register`, `activate`, …) or `top_up`, `usage`, `addon_bind`, `addon_unbind`.
    pub kind: String,
    pub from: Option<LineState>,
    pub to: Option<LineState>,
    pub detail: String,
    pub by: Attribution,
    pub policy_version: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewAddonBinding {
    pub code: String,
    pub charge: Money,
}

/// One decision about a line, persisted atomically.
#[derive(Debug, Clone)]
pub struct LineChange {
    /// The line as it is after the decision; its `version` is the one the decision was made on.
    pub line: Line,
    /// At registration: the holder to create; the line's holder is set to it.
    pub new_holder: Option<Registration>,
    /// The history entries; balance movements and add-on changes hang off the first.
    pub events: Vec<NewEvent>,
    pub balance: BalanceChange,
    pub bind: Option<NewAddonBinding>,
    pub unbind: Option<i64>,
}

impl LineChange {
    pub fn new(line: Line, event: NewEvent) -> Self {
        LineChange {
            line,
            new_holder: None,
            events: vec![event],
            balance: BalanceChange::default(),
            bind: None,
            unbind: None,
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub detail: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub channel: String,
    pub reason: String,
    pub at: Timestamp,
    pub policy_version: Option<i64>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EntryRow {
    pub id: i64,
    pub bucket_id: i64,
    pub unit: String,
    pub kind: String,
    pub amount: i64,
    pub note: String,
    pub at: Timestamp,
}

#[derive(Clone)]
pub struct CustomerRow {
    pub id: i64,
    pub language: String,
    pub personal: simdesk_domain::customer::PersonalData,
}

/// An inventory import: who stocked the lines, from which file, when and why.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub carrier: String,
    pub source_name: String,
    pub skipped_rows: u64,
    pub by: Attribution,
}

/// Where a line came from, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportBatchRow {
    pub id: i64,
    pub source_name: String,
    pub line_count: i64,
    pub actor_kind: String,
    pub actor_id: String,
    pub channel: String,
    pub reason: String,
    pub at: Timestamp,
}
