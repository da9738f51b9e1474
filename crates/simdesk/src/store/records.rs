//! The shapes that cross the storage boundary.

use jiff::Timestamp;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::BalanceChange;
use simdesk_domain::customer::Registration;
use simdesk_domain::esim::{ActivationCode, ProfileStatus, ProgressReport, RequestKind};
use simdesk_domain::ids::{CarrierCode, CustomerId, Eid, Iccid, Imsi, LineId, Msisdn, RequestId};
use simdesk_domain::line::{Line, LineState};
use simdesk_domain::money::Money;

/// How a line is looked up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LineKey {
    Id(LineId),
    Iccid(Iccid),
    Msisdn(Msisdn),
    Imsi(Imsi),
}

/// One policy document as read from disk.
#[derive(Debug, Clone)]
pub struct PolicyDocument {
    pub carrier_code: CarrierCode,
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
    pub carrier_code: CarrierCode,
    pub plan_code: Option<String>,
    pub version: i64,
    /// Whether this load created the version (false: the content was already stored).
    pub changed: bool,
}

#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub carrier_code: CarrierCode,
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
    pub carrier: CarrierCode,
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
    /// Add-on bindings ended by this change.
    pub unbind: Vec<i64>,
    /// Side effects of the change (network calls, notifications), queued in the same
    /// transaction. A `customer` of 0 in a payload is the holder the change registers.
    pub outbox: Vec<OutboxMessage>,
    /// Data stopped because nothing is left to pay for it, or started again.
    pub data_stop: Option<DataStopChange>,
    /// What the change did to an eSIM line's profile on the SM-DP+.
    pub esim: Option<ProfileChange>,
}

/// What simdesk knows of an eSIM line's profile on the SM-DP+.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub line: LineId,
    pub status: ProfileStatus,
    pub eid: Option<Eid>,
    /// The ES2+ call queued and not answered yet.
    pub pending: Option<RequestKind>,
    /// Whether an activation code is held (sealed).
    pub has_code: bool,
    pub updated_at: Timestamp,
}

/// A profile as a line's change leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChange {
    pub status: ProfileStatus,
    pub eid: Option<Eid>,
    pub pending: Option<RequestKind>,
    /// A new activation code, sealed on its way into the database; `None` keeps the one held.
    pub activation_code: Option<ActivationCode>,
}

/// One HandleDownloadProgressInfo notification as it is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProgressReport {
    pub line: LineId,
    pub report: ProgressReport,
    pub eid: Option<Eid>,
    /// What it meant: `moved`, `failed`, `already_known` or `contradicts`.
    pub outcome: &'static str,
    pub received_at: Timestamp,
}

/// A change to whether a line's data is stopped for want of balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStopChange {
    Stopped(simdesk_domain::usage::WhenExhausted),
    Lifted,
}

impl LineChange {
    pub fn new(line: Line, event: NewEvent) -> Self {
        LineChange {
            line,
            new_holder: None,
            events: vec![event],
            balance: BalanceChange::default(),
            bind: None,
            unbind: Vec::new(),
            outbox: Vec::new(),
            data_stop: None,
            esim: None,
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
    /// `None` once the personal data was erased.
    pub personal: Option<simdesk_domain::customer::PersonalData>,
    pub contact_erased_at: Option<Timestamp>,
    pub identity_erased_at: Option<Timestamp>,
}

/// An inventory import: who stocked the lines, from which file, when and why.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub carrier: CarrierCode,
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

/// A side effect to deliver later, exactly once per idempotency key.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    /// `network.bar`, `network.unbar`, `network.deprovision`, `notify`, `payout`.
    pub kind: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    pub available_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    pub payload: serde_json::Value,
    pub attempts: i64,
}

/// An outbox row as an operator sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub idempotency_key: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
}

/// The outbox of one kind: how much waits and for how long.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OutboxDepth {
    pub kind: String,
    pub pending: i64,
    pub dead: i64,
    pub oldest_pending: Option<Timestamp>,
}

/// A balanced e-wallet movement to record once.
#[derive(Debug, Clone)]
pub struct WalletEntry {
    pub customer: CustomerId,
    pub movement: simdesk_domain::wallet::Movement,
    pub idempotency_key: String,
    pub note: String,
    pub at: Timestamp,
}

/// Signs a receipt once its number is known (the number is allocated inside the transaction).
pub type ReceiptSigner = std::sync::Arc<dyn Fn(&str) -> String + Send + Sync>;

#[derive(Clone)]
pub struct ReceiptIssue {
    pub carrier: CarrierCode,
    /// The Japanese year the receipt is numbered in.
    pub year: i16,
    pub sign: ReceiptSigner,
}

/// The outcome of an identity document review, stored with the request change it causes.
#[derive(Debug, Clone)]
pub struct DocumentReview {
    pub document_id: i64,
    pub approved: bool,
    pub reason: Option<String>,
    pub by: Attribution,
}

/// One decision about a cancellation request and everything that goes with it, stored atomically.
#[derive(Clone)]
pub struct RequestChange {
    /// The request after the decision; id 0 creates it.
    pub request: simdesk_domain::cancellation::CancellationRequest,
    pub carrier: CarrierCode,
    pub events: Vec<simdesk_domain::cancellation::RequestTransition>,
    pub line: Option<LineChange>,
    pub outbox: Vec<OutboxMessage>,
    /// The refund computation (total and itemised detail), kept with the request.
    pub refund: Option<simdesk_domain::refund::Refund>,
    pub wallet: Option<WalletEntry>,
    pub receipt: Option<ReceiptIssue>,
    pub consume_code: Option<i64>,
    pub document_review: Option<DocumentReview>,
}

impl RequestChange {
    pub fn new(
        request: simdesk_domain::cancellation::CancellationRequest,
        carrier: &CarrierCode,
    ) -> Self {
        RequestChange {
            request,
            carrier: carrier.clone(),
            events: Vec::new(),
            line: None,
            outbox: Vec::new(),
            refund: None,
            wallet: None,
            receipt: None,
            consume_code: None,
            document_review: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRequest {
    pub id: RequestId,
    pub receipt_number: Option<String>,
}

/// A stored request with what the store keeps beside the domain's view.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    pub request: simdesk_domain::cancellation::CancellationRequest,
    pub carrier: CarrierCode,
    pub refund_total: Option<simdesk_domain::money::Money>,
    pub refund_detail: Option<serde_json::Value>,
    pub receipt_number: Option<String>,
    pub completed_at: Option<Timestamp>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestEventRow {
    pub from_state: Option<String>,
    pub to_state: String,
    pub note: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub channel: String,
    pub reason: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct CodeRow {
    pub id: i64,
    pub code_hash: String,
    pub issued_at: Timestamp,
    pub attempts: i64,
    pub used_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewDocument {
    pub request_id: RequestId,
    pub content_type: String,
    pub content: Vec<u8>,
    pub sha256: String,
    pub uploaded_at: Timestamp,
    pub uploaded_by: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentRow {
    pub id: i64,
    pub request_id: RequestId,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_at: Timestamp,
    pub uploaded_by: String,
    pub review: String,
    pub review_reason: Option<String>,
    pub reviewed_by: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct WalletPostingRow {
    pub movement_id: i64,
    pub kind: String,
    pub note: String,
    pub at: Timestamp,
    pub account: String,
    pub amount: simdesk_domain::money::Money,
}

#[derive(Debug, Clone)]
pub struct NewPayout {
    pub wallet: WalletEntry,
    pub destination: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub carrier: CarrierCode,
    pub name: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Scope names such as `lines:read`.
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// A token to create: its hash, scopes and expiry.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub carrier: CarrierCode,
    pub name: String,
    pub token_hash: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<Timestamp>,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// One act of administration (a token created or revoked, a staff member added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub reason: String,
}

/// What operations watch: how much is where, and how late the due work runs.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub lines_by_state: Vec<(String, String, i64)>,
    pub requests_by_state: Vec<(String, i64)>,
    pub outbox_pending: i64,
    pub outbox_dead: i64,
    pub oldest_pending_outbox: Option<Timestamp>,
    pub oldest_due_cancellation: Option<Timestamp>,
    pub outbox_by_kind: Vec<OutboxDepth>,
}

#[derive(Debug, Clone)]
pub struct StaffRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub carrier: CarrierCode,
    pub disabled: bool,
}

/// A signed-in browser: a traveller (subject = customer id) or staff (subject = staff id).
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_hash: String,
    pub kind: String,
    pub subject: i64,
    pub carrier: Option<String>,
    pub csrf_token: String,
    pub language: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TicketRow {
    pub id: i64,
    pub number: i64,
    pub state: String,
    pub counter: Option<String>,
    pub called_at: Option<Timestamp>,
}

/// One erasure of a customer's personal data, and the history entry it leaves on each of their
/// lines (no personal data in it: the reason says which rule or request erased what).
#[derive(Debug, Clone)]
pub struct Erasure {
    pub customer: CustomerId,
    /// Destroy the contact part's key (phone, e-mail) and its lookup index.
    pub contact: bool,
    /// Destroy the identity record's key (name, passport number, nationality, birth date).
    pub identity: bool,
    /// When the sweep should look at this customer again (the identity record's end of hold).
    pub next_due: Option<Timestamp>,
    pub event: NewEvent,
}

/// What the spent-data purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeCounts {
    pub codes: u64,
    pub sessions: u64,
    pub idempotency_keys: u64,
}

/// What simdesk holds about one customer, for the privacy report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrivacyRow {
    pub customer: CustomerId,
    pub created_at: Timestamp,
    pub contact_erased_at: Option<Timestamp>,
    pub identity_erased_at: Option<Timestamp>,
    /// Identity document images still held.
    pub documents: i64,
}

/// A usage record about to be counted.
#[derive(Debug, Clone)]
pub struct NewUsageRecord {
    pub carrier: CarrierCode,
    pub record_id: String,
    pub line: LineId,
    pub service: simdesk_domain::policy::Service,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub volume: u64,
    pub rounded: u64,
    pub network: Option<String>,
    pub rating_group: Option<u32>,
    pub outcome: UsageOutcome,
    pub taken_mb: i64,
    pub taken_money: i64,
    pub unpaid: Option<simdesk_domain::usage::Unpaid>,
    pub source: String,
    pub counted_at: Timestamp,
}

/// How a usage record was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageOutcome {
    /// Paid from the line's buckets (in part, where `unpaid` says what was not).
    Rated,
    /// A late record after the line ended, not charged.
    WrittenOff,
    /// A late record after the line ended, charged to the holder's e-wallet (in part, where
    /// `unpaid` says what the wallet could not cover).
    ChargedToWallet,
}

impl UsageOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageOutcome::Rated => "rated",
            UsageOutcome::WrittenOff => "written_off",
            UsageOutcome::ChargedToWallet => "charged_wallet",
        }
    }
}

/// What a line's usage left between records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineUsage {
    /// Bytes counted but short of a whole megabyte.
    pub carry_bytes: u64,
    /// The latest instant a counted record reached.
    pub counted_until: Option<Timestamp>,
    /// How the line's data is stopped for want of balance; `None` while it flows.
    pub data_stopped: Option<simdesk_domain::usage::WhenExhausted>,
}

/// Usage records counted together, with what each of their lines is left with: written in one
/// transaction, or not at all.
#[derive(Debug, Clone, Default)]
pub struct UsageBatch {
    pub records: Vec<NewUsageRecord>,
    pub lines: Vec<LineTally>,
    /// Late records charged to their holders' e-wallets. Each wallet must still hold what its
    /// movements take when they are written, or nothing of the batch is.
    pub wallet: Vec<WalletEntry>,
}

/// One line's part of a [`UsageBatch`].
#[derive(Debug, Clone)]
pub struct LineTally {
    pub line: LineId,
    /// The buckets the line's records took and their history entry; `None` when nothing was
    /// charged (the line had ended and its records were written off).
    pub change: Option<LineChange>,
    pub usage: LineUsage,
}

/// A stored usage record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UsageRow {
    pub id: i64,
    pub record_id: String,
    pub service: String,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub volume: i64,
    pub rounded: i64,
    pub network: Option<String>,
    pub rating_group: Option<i64>,
    pub outcome: String,
    pub taken_mb: i64,
    pub taken_money: i64,
    pub unpaid: Option<serde_json::Value>,
    pub source: String,
    pub counted_at: Timestamp,
}

/// What a credit-control session asks to hold of one service of its line.
#[derive(Debug, Clone)]
pub struct CreditAsk {
    pub session_id: String,
    /// The service within the session: its rating group, or its place in the request.
    pub service_key: String,
    pub line: LineId,
    /// `data`, `voice` or `sms`.
    pub service: String,
    /// Bytes, seconds or messages.
    pub wanted: u64,
    pub request_number: u32,
    pub at: Timestamp,
    /// When the grant's validity ends and an unreported reservation is released.
    pub expires_at: Timestamp,
}

/// A session's reservation of one service, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditReservation {
    pub session_id: String,
    pub service_key: String,
    pub line: LineId,
    pub service: String,
    pub units: u64,
    pub request_number: u32,
    /// The grant took the last of what the line could pay for.
    pub final_unit: bool,
    pub granted_at: Timestamp,
    pub expires_at: Timestamp,
}
