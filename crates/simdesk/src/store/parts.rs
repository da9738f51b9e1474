//! The store's parts, one trait per aggregate; `Store` is their sum.

use super::*;
use async_trait::async_trait;
use simdesk_domain::esim::ActivationCode;
use simdesk_domain::ids::{CarrierCode, CustomerId, LineId, RequestId};
use simdesk_domain::line::Line;

/// The database itself: which backend, its schema, whether it answers, and its gauges.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Brings the schema up to date.
    async fn migrate(&self) -> StoreResult<()>;
    /// Whether the database answers.
    async fn ping(&self) -> StoreResult<()>;
    async fn gauges(&self, now: jiff::Timestamp) -> StoreResult<Gauges>;
    /// Refreshes the planner's statistics of the usage records after an import grew them a
    /// lot: where autovacuum is off or behind, PostgreSQL would keep planning lookups as for
    /// the empty table it last analysed (a scan per batch instead of an index probe).
    async fn usage_records_grew(&self) -> StoreResult<()>;
}

/// Carriers' policy documents, versioned as they are loaded.
#[async_trait]
pub trait Policies: Send + Sync + 'static {
    /// Stores a carrier's documents; a document whose content changed becomes a new version.
    async fn save_policy_set(
        &self,
        set: &PolicySet,
        now: jiff::Timestamp,
    ) -> StoreResult<Vec<DocumentOutcome>>;
    /// The newest version of every policy document.
    async fn current_policy_documents(&self) -> StoreResult<Vec<StoredDocument>>;
    async fn carriers(&self) -> StoreResult<Vec<CarrierRow>>;
}

/// Lines in stock and in use: their import, balances, add-ons, history and decisions.
#[async_trait]
pub trait Lines: Send + Sync + 'static {
    /// Which of these identifiers are already stored (ICCID, IMSI or MSISDN values).
    async fn existing_identifiers(
        &self,
        iccids: &[&str],
        imsis: &[&str],
        msisdns: &[&str],
    ) -> StoreResult<Vec<String>>;
    /// Inserts new lines in stock as one recorded batch, all or none.
    async fn insert_lines(
        &self,
        batch: &ImportBatch,
        lines: &[NewLine],
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> StoreResult<u64>;
    async fn line(&self, key: &LineKey) -> StoreResult<Option<Line>>;
    /// The lines these keys name, each once; keys that name no line are left out.
    async fn lines_by_keys(&self, keys: &[LineKey]) -> StoreResult<Vec<Line>>;
    /// The import that stocked a line.
    async fn import_batch_of(&self, line_id: LineId) -> StoreResult<Option<ImportBatchRow>>;
    async fn buckets(&self, line_id: LineId) -> StoreResult<Vec<simdesk_domain::balance::Bucket>>;
    async fn addons(
        &self,
        line_id: LineId,
    ) -> StoreResult<Vec<simdesk_domain::balance::AddonBinding>>;
    async fn events(&self, line_id: LineId) -> StoreResult<Vec<EventRow>>;
    async fn balance_entries(&self, line_id: LineId) -> StoreResult<Vec<EntryRow>>;
    async fn count_lines_by_state(&self) -> StoreResult<Vec<(String, String, i64)>>;
    /// Persists one decision about a line atomically; fails with `Conflict` if the line changed meanwhile.
    async fn apply(&self, change: &LineChange) -> StoreResult<()>;
    /// Applies many plain line changes (a new state, history entries, movements on buckets
    /// already stored, side effects: no new holder, bucket, add-on or data stop) in one
    /// transaction, each still conditional on the version it was decided on. Returns the ids of the lines changed; the others were changed meanwhile.
    async fn apply_lines(&self, changes: &[LineChange]) -> StoreResult<Vec<LineId>>;
    /// Lines of a carrier, filtered, after the cursor (line id), in id order.
    async fn lines_page(
        &self,
        carrier: &CarrierCode,
        state: Option<&str>,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Line>>;
    /// Active lines whose validity ends in `(from, to]` and whose holder was not yet reminded of
    /// it (no `notify:validity_reminder:<end µs>:<line>` row), after the cursor, in id order.
    async fn lines_ending_between(
        &self,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<Line>>;
    /// Lines whose validity or grace has run out at `now`.
    async fn lines_due(&self, now: jiff::Timestamp, limit: i64) -> StoreResult<Vec<Line>>;
    /// Registered lines of a carrier whose holder's name contains `name` (case-insensitive).
    async fn lines_by_holder_name(
        &self,
        carrier: &CarrierCode,
        name: &str,
        limit: i64,
    ) -> StoreResult<Vec<Line>>;
    async fn lines_of_customer(&self, customer: CustomerId) -> StoreResult<Vec<Line>>;
}

/// Customers (line holders): their sealed personal data, languages and carriers.
#[async_trait]
pub trait Customers: Send + Sync + 'static {
    async fn customer(&self, id: CustomerId) -> StoreResult<Option<CustomerRow>>;
    /// Moves every data key to the vault's next master key (rotation); returns how many moved.
    /// Safe to run again after an interruption.
    async fn rewrap_data_keys(&self) -> StoreResult<u64>;
    /// A customer's identity record, while it is held.
    async fn identity_record(
        &self,
        customer: CustomerId,
    ) -> StoreResult<Option<crate::vault::IdentityRecord>>;
    async fn customer_by_email(&self, email: &str) -> StoreResult<Option<CustomerId>>;
    /// The carriers whose lines a customer holds.
    async fn customer_carriers(&self, customer: CustomerId) -> StoreResult<Vec<CarrierCode>>;
    /// The language each of these customers is written to in (customers not found are left out).
    async fn customer_languages(
        &self,
        ids: &[CustomerId],
    ) -> StoreResult<std::collections::HashMap<CustomerId, String>>;
}

/// What personal data is held, and its erasure when retention ends.
#[async_trait]
pub trait Privacy: Send + Sync + 'static {
    /// Customers whose lines have all ended and whose erasure is due (or not yet looked at).
    async fn customers_due_for_erasure(
        &self,
        now: jiff::Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<CustomerId>>;
    /// When the erasure sweep should next look at a customer.
    async fn set_erasure_due(&self, customer: CustomerId, at: jiff::Timestamp) -> StoreResult<()>;
    /// Crypto-shreds the parts an erasure names, removes the customer's document images,
    /// one-time codes and sessions, and records the event on each of their lines, in one
    /// transaction. Returns how many document images went.
    async fn erase_customer(&self, erasure: &Erasure) -> StoreResult<u64>;
    /// Erases (at `now`) the images of a carrier's documents whose review was decided before
    /// `before`, and of those uploaded before it for a request that has ended unreviewed.
    async fn erase_decided_documents(
        &self,
        carrier: &CarrierCode,
        before: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<u64>;
    /// Removes one-time codes issued before `codes_before`, sessions expired at `now`, and
    /// idempotency records created before `keys_before`.
    async fn purge_spent(
        &self,
        codes_before: jiff::Timestamp,
        now: jiff::Timestamp,
        keys_before: jiff::Timestamp,
    ) -> StoreResult<PurgeCounts>;
    /// Customers after `after`, in id order, with what is held about them.
    async fn privacy_rows(&self, after: i64, limit: i64) -> StoreResult<Vec<PrivacyRow>>;
}

/// Cancellation requests: their decisions, history, leases on due work and identity documents.
#[async_trait]
pub trait Requests: Send + Sync + 'static {
    /// Persists one decision about a cancellation request with its line change, refund, wallet
    /// movement, receipt and outbox rows in one transaction. Creating a second open request for
    /// a line fails with `Duplicate`.
    async fn apply_request(&self, change: &RequestChange) -> StoreResult<AppliedRequest>;
    async fn request(&self, id: RequestId) -> StoreResult<Option<RequestRecord>>;
    async fn open_request_for_line(&self, line_id: LineId) -> StoreResult<Option<RequestRecord>>;
    async fn requests_for_line(&self, line_id: LineId) -> StoreResult<Vec<RequestRecord>>;
    async fn request_events(&self, id: RequestId) -> StoreResult<Vec<RequestEventRow>>;
    /// Approved requests whose effective instant has come.
    async fn requests_due(
        &self,
        now: jiff::Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<RequestRecord>>;
    /// Leases to `node`, until `lease_until`, up to `limit` approved requests whose effective
    /// instant has come at `due` (simdesk's clock, which `--now` may move) and whose lease is
    /// free or has lapsed at `wall` (the real clock), in effective order. Requests another node
    /// holds are skipped, so several nodes share due work instead of racing for it.
    async fn claim_due_requests(
        &self,
        due: jiff::Timestamp,
        wall: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        node: &str,
        limit: i64,
    ) -> StoreResult<Vec<RequestRecord>>;
    /// Gives back the leases `node` holds on these requests, for work it will not do now.
    async fn release_request_claims(&self, ids: &[RequestId], node: &str) -> StoreResult<()>;
    /// A carrier's requests with an identity document waiting for review.
    async fn requests_awaiting_review(
        &self,
        carrier: &CarrierCode,
    ) -> StoreResult<Vec<RequestRecord>>;
    /// A request's history gains an entry that changes nothing (a document viewed), in the
    /// request's current state and chained into the audit trail like every other entry.
    async fn record_request_note(
        &self,
        request_id: RequestId,
        state: &str,
        note: &str,
        by: &simdesk_domain::attribution::Attribution,
    ) -> StoreResult<()>;
    async fn insert_document(&self, doc: &NewDocument) -> StoreResult<i64>;
    async fn documents(&self, request_id: RequestId) -> StoreResult<Vec<DocumentRow>>;
    async fn document_content(&self, id: i64) -> StoreResult<Option<(RequestId, String, Vec<u8>)>>;
}

/// One-time codes sent to a line for signing in or confirming a cancellation.
#[async_trait]
pub trait Codes: Send + Sync + 'static {
    async fn insert_code(
        &self,
        line_id: LineId,
        request_id: Option<RequestId>,
        destination: &str,
        code_hash: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<i64>;
    /// When codes of one purpose were sent to a line since `since`: sign-in codes
    /// (`for_request` false) and cancellation codes are limited separately, so signing in does
    /// not hold up the code that confirms a cancellation.
    async fn code_sends_since(
        &self,
        line_id: LineId,
        for_request: bool,
        since: jiff::Timestamp,
    ) -> StoreResult<Vec<jiff::Timestamp>>;
    async fn latest_code(
        &self,
        line_id: LineId,
        request_id: Option<RequestId>,
    ) -> StoreResult<Option<CodeRow>>;
    /// Takes one of a code's attempts before it is judged, so concurrent guesses cannot exceed
    /// the limit; `None` when none is left or the code was used. Returns the attempts so far.
    async fn claim_code_attempt(&self, id: i64, max_attempts: i64) -> StoreResult<Option<i64>>;
    /// Marks a sign-in code used; false if it already was.
    async fn use_code(&self, id: i64, at: jiff::Timestamp) -> StoreResult<bool>;
}

/// Attempt counters and locks that rate-limit a subject on every node alike.
#[async_trait]
pub trait Limits: Send + Sync + 'static {
    /// Counts one attempt of `subject` in `scope` atomically (shared by every node): the count
    /// starts again in a new window, and an attempt while the subject is locked at `now` is not
    /// counted. Returns the counter including this attempt.
    async fn count_attempt(
        &self,
        scope: &str,
        subject: &str,
        window_start: jiff::Timestamp,
        now: jiff::Timestamp,
    ) -> StoreResult<simdesk_domain::limits::Counter>;
    /// Locks a subject until `until`; its count starts again from there.
    async fn lock_subject(
        &self,
        scope: &str,
        subject: &str,
        until: jiff::Timestamp,
    ) -> StoreResult<()>;
    /// A subject's counter, without counting an attempt.
    async fn attempt_counter(
        &self,
        scope: &str,
        subject: &str,
    ) -> StoreResult<Option<simdesk_domain::limits::Counter>>;
}

/// The customers' wallet ledger and the payouts out of it.
#[async_trait]
pub trait Wallet: Send + Sync + 'static {
    async fn wallet_postings(&self, customer: CustomerId) -> StoreResult<Vec<WalletPostingRow>>;
    /// Sum of every posting in the ledger, per currency (always zero when the ledger is sound).
    async fn ledger_totals(&self) -> StoreResult<Vec<(String, i64)>>;
    /// Whether a payout with this idempotency key was already requested.
    async fn payout_requested(&self, idempotency_key: &str) -> StoreResult<bool>;
    async fn record_payout(&self, payout: &NewPayout, outbox: &OutboxMessage) -> StoreResult<i64>;
    async fn mark_payout_sent(
        &self,
        idempotency_key: &str,
        external_ref: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<()>;
}

/// Issued cancellation receipts.
#[async_trait]
pub trait Receipts: Send + Sync + 'static {
    async fn receipt(&self, number: &str) -> StoreResult<Option<String>>;
    async fn receipt_numbers(&self, carrier: &CarrierCode) -> StoreResult<Vec<(i64, i64)>>;
}

/// Side effects waiting for delivery, and the recording network's journal of calls.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Leases up to `limit` outbox rows of these kinds that are due at `due` (simdesk's clock,
    /// which `--now` may move) and not leased at `wall` (the real clock) until `lease_until`.
    async fn claim_outbox(
        &self,
        kinds: &[&str],
        due: jiff::Timestamp,
        wall: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
    ) -> StoreResult<Vec<OutboxRow>>;
    async fn outbox_done(&self, id: i64, at: jiff::Timestamp) -> StoreResult<()>;
    async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> StoreResult<()>;
    async fn outbox_pending(&self) -> StoreResult<i64>;
    /// Whether calls about a subject (`imsi:<IMSI>`) still wait in the outbox.
    async fn outbox_waiting_for(&self, subject: &str) -> StoreResult<bool>;
    /// Queues side effects outside any other change; a key already queued is left as it is.
    async fn enqueue(&self, messages: &[OutboxMessage]) -> StoreResult<()>;
    /// Replaces a delivered row by the rows it fans out to, in one transaction.
    async fn outbox_fan_out(
        &self,
        id: i64,
        messages: &[OutboxMessage],
        at: jiff::Timestamp,
    ) -> StoreResult<()>;
    /// Outbox rows, newest first, optionally of one state and kind.
    async fn outbox_entries(
        &self,
        state: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<OutboxEntry>>;
    /// Puts dead rows (one, or all when `id` is None) back to pending, due at `at`, with their
    /// attempts reset; returns how many.
    async fn outbox_retry(&self, id: Option<i64>, at: jiff::Timestamp) -> StoreResult<u64>;
    /// Outbox rows whose key starts with `prefix`: (all, still pending).
    async fn outbox_progress(&self, prefix: &str) -> StoreResult<(i64, i64)>;
    /// The recording network's journal: records a call once per key; false if already recorded.
    async fn record_network_call(
        &self,
        key: &str,
        operation: &str,
        imsi: &str,
        msisdn: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<bool>;
    /// The journal's calls for an IMSI, oldest first: (operation, msisdn).
    async fn network_calls(&self, imsi: &str) -> StoreResult<Vec<(String, String)>>;
}

/// Staff accounts, sessions, API tokens and the administration log.
#[async_trait]
pub trait Access: Send + Sync + 'static {
    async fn insert_staff(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        carrier: &CarrierCode,
        at: jiff::Timestamp,
    ) -> StoreResult<i64>;
    async fn staff_by_username(&self, username: &str) -> StoreResult<Option<StaffRow>>;
    async fn staff(&self, id: i64) -> StoreResult<Option<StaffRow>>;
    async fn insert_session(&self, session: &SessionRow) -> StoreResult<()>;
    /// A session that has not expired at `now`.
    async fn session(
        &self,
        token_hash: &str,
        now: jiff::Timestamp,
    ) -> StoreResult<Option<SessionRow>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
    async fn insert_api_token(
        &self,
        carrier: &CarrierCode,
        name: &str,
        token_hash: &str,
        created_by: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<i64>;
    /// The live (not revoked) token with this hash; whether it has expired is the caller's call.
    async fn api_token(&self, token_hash: &str) -> StoreResult<Option<ApiTokenRow>>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiTokenRow>>;
    async fn revoke_api_token(&self, id: i64, at: jiff::Timestamp) -> StoreResult<bool>;
    /// Creates a token with its scopes and expiry.
    async fn create_api_token(&self, token: &NewApiToken) -> StoreResult<i64>;
    /// Notes a token's use; written at most once a minute per token.
    async fn touch_api_token(&self, id: i64, at: jiff::Timestamp) -> StoreResult<()>;
    async fn record_admin_event(&self, event: &AdminEvent) -> StoreResult<()>;
    /// Every administration entry, oldest first.
    async fn admin_events(&self) -> StoreResult<Vec<AdminEvent>>;
}

/// A store's numbered tickets for its counters.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Issues the next ticket number of the day (Japan time) for a carrier's store.
    async fn take_ticket(
        &self,
        carrier: &CarrierCode,
        day: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<TicketRow>;
    /// Calls the lowest waiting ticket to a counter; `None` when nobody waits.
    async fn call_next_ticket(
        &self,
        carrier: &CarrierCode,
        day: &str,
        counter: &str,
        by: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<Option<TicketRow>>;
    async fn finish_ticket(&self, id: i64, at: jiff::Timestamp) -> StoreResult<()>;
    /// Tickets called most recently, and how many wait.
    async fn queue_board(
        &self,
        carrier: &CarrierCode,
        day: &str,
    ) -> StoreResult<(Vec<TicketRow>, i64)>;
}

/// The hash-chained audit trail, read back for verification.
#[async_trait]
pub trait Audit: Send + Sync + 'static {
    /// Audit entries after `after`, in chain order.
    async fn audit_page(
        &self,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::audit::AuditEntry>>;
    /// The chain's end: (last seq, last hash).
    async fn audit_head(&self) -> StoreResult<(i64, String)>;
    /// The history row an audit entry recorded, written down as the audit trail keeps it;
    /// `None` when the row is gone.
    async fn audit_source(&self, source: &str, id: i64) -> StoreResult<Option<String>>;
}

/// Idempotency keys, so a repeated POST is answered once.
#[async_trait]
pub trait Idempotency: Send + Sync + 'static {
    /// Reserves an idempotency key for a request; returns what was stored before if the key is
    /// known: (request hash, status, response, location) — status `None` while the first is in
    /// progress.
    async fn reserve_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
        at: jiff::Timestamp,
    ) -> StoreResult<Option<(String, Option<i64>, Option<String>, Option<String>)>>;
    async fn complete_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        status: i64,
        response: &str,
        location: Option<&str>,
    ) -> StoreResult<()>;
    /// Forgets a reservation whose request failed in a way worth retrying.
    async fn release_idempotency_key(&self, caller: &str, key: &str) -> StoreResult<()>;
    /// Takes over a reservation of the same request made before `reserved_before` and never
    /// answered (its node died, or the database went away before it could be released): it is
    /// stamped `at` and true is returned; false while it may still be served.
    async fn take_over_idempotency_key(
        &self,
        caller: &str,
        key: &str,
        request_hash: &str,
        reserved_before: jiff::Timestamp,
        at: jiff::Timestamp,
    ) -> StoreResult<bool>;
}

/// Usage records the network reported, each counted once, and what a line's usage left over.
#[async_trait]
pub trait UsageRecords: Send + Sync + 'static {
    /// Counts records with the line changes their rating decided (buckets taken, history
    /// entries, notices), all in one transaction. Fails with `Conflict`, changing nothing, if a
    /// record id was counted meanwhile or a line changed since the decision was made.
    async fn count_usage(&self, batch: &UsageBatch) -> StoreResult<()>;
    /// Which of these record ids a carrier has counted already.
    async fn counted_record_ids(
        &self,
        carrier: &CarrierCode,
        record_ids: &[&str],
    ) -> StoreResult<std::collections::HashSet<String>>;
    /// What a line's usage left: bytes short of a megabyte and how far records reach.
    async fn line_usage(&self, line: LineId) -> StoreResult<LineUsage>;
    /// What rating needs of many lines at once: their buckets and what their usage left.
    async fn rating_standing(
        &self,
        lines: &[LineId],
    ) -> StoreResult<
        std::collections::HashMap<LineId, (Vec<simdesk_domain::balance::Bucket>, LineUsage)>,
    >;
    /// A line's usage records, newest first, before the cursor (a record's row id).
    async fn usage_of_line(
        &self,
        line: LineId,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<UsageRow>>;
}

/// What the line's buckets could pay for of one service: bytes, seconds or messages, given the
/// buckets and the bytes its usage carried short of a megabyte. The store asks it under the
/// line's lock, so two sessions cannot be granted the same units.
pub type Payable<'a> = &'a (dyn Fn(&[simdesk_domain::balance::Bucket], u64) -> u64 + Send + Sync);

/// Online-charging grants held for sessions: reserved, not spent, until the network reports
/// what was used, ends the session or goes silent.
#[async_trait]
pub trait CreditReservations: Send + Sync + 'static {
    /// What a session holds of one of its services.
    async fn credit_reservation(
        &self,
        session_id: &str,
        service_key: &str,
    ) -> StoreResult<Option<CreditReservation>>;
    /// Reserves up to `ask.wanted` units for the session, replacing what it held of that
    /// service, under the line's lock: what `payable` says the line's buckets pay for, less what
    /// other sessions hold and have not let expire. Holds nothing (and returns zero units) when
    /// nothing is left. Many asks are decided in one transaction, each seeing those before it;
    /// the reservations come back in the asks' order.
    async fn reserve_credits(
        &self,
        asks: &[(CreditAsk, Payable<'_>)],
    ) -> StoreResult<Vec<CreditReservation>>;
    /// One ask in a transaction of its own.
    async fn reserve_credit(
        &self,
        ask: &CreditAsk,
        payable: Payable<'_>,
    ) -> StoreResult<CreditReservation> {
        let mut held = self.reserve_credits(&[(ask.clone(), payable)]).await?;
        held.pop()
            .ok_or_else(|| StoreError::Corrupt("a reservation asked for and not made".into()))
    }
    /// Releases everything a session holds (it ended, or its line may no longer be served);
    /// how many reservations that was.
    async fn release_credit(&self, session_id: &str) -> StoreResult<u64>;
    /// Releases reservations whose validity ended before `at`: the sessions went silent.
    async fn release_silent_credit(&self, at: jiff::Timestamp) -> StoreResult<u64>;
}

/// eSIM profiles on the SM-DP+: the state simdesk last learnt, the sealed activation code, and
/// the progress notifications received.
#[async_trait]
pub trait EsimProfiles: Send + Sync + 'static {
    /// The line's profile; `None` for a line whose profile simdesk never ordered or was given.
    async fn esim_profile(&self, line: LineId) -> StoreResult<Option<ProfileRow>>;
    /// The line's activation code, opened; `None` while the SM-DP+ has confirmed no order.
    async fn activation_code(&self, line: LineId) -> StoreResult<Option<ActivationCode>>;
    /// Keeps a progress notification and, unless the same one was kept before, applies the
    /// change it brought in the same transaction. Returns whether it was new.
    async fn record_progress(
        &self,
        report: &NewProgressReport,
        change: Option<&LineChange>,
    ) -> StoreResult<bool>;
    /// The notifications received about a line, oldest first.
    async fn progress_reports(&self, line: LineId) -> StoreResult<Vec<NewProgressReport>>;
    /// eSIM lines' profiles with their lines, by line id, for reconciling with the SM-DP+.
    async fn esim_profiles(
        &self,
        carrier: Option<&CarrierCode>,
    ) -> StoreResult<Vec<(Line, ProfileRow)>>;
}
