//! Erasing personal data on time and on request, and reporting what is held about whom until when.
//!
//! The rules (how long after a line ends, what the law holds for 3 years) are the carrier's
//! `[retention]` policy, decided in the domain crate; this module applies them. Erasure is
//! crypto-shredding: the part's data key is destroyed, so every copy of the sealed bytes, backups
//! included, becomes unreadable.

use super::policies::PolicyBook;
use super::ServiceContext;
use super::ServiceResult;
use crate::store::{Erasure, LineKey, Lines, NewEvent, PurgeCounts};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::ids::CustomerId;
use simdesk_domain::line::Line;
use simdesk_domain::policy::Service;
use simdesk_domain::retention::{self, ErasureSchedule, HeldLine, RequestOutcome};

/// How many customers one sweep looks at; the next pass goes on where this one stopped.
const SWEEP_BATCH: i64 = 500;
/// Codes are kept an hour: the send limits count the codes of the last hour.
const CODES_KEPT: SignedDuration = SignedDuration::from_hours(1);
/// A client may retry a request with the same idempotency key for a day.
const IDEMPOTENCY_KEPT: SignedDuration = SignedDuration::from_hours(24);

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub personal_data_erased: u64,
    pub identity_records_erased: u64,
    pub documents_erased: u64,
    pub notices_queued: u64,
    pub purged: PurgeCounts,
}

fn held_lines<'a>(book: &'a PolicyBook, lines: &[Line]) -> ServiceResult<Vec<HeldLine<'a>>> {
    lines
        .iter()
        .map(|line| {
            let carrier = book.carrier(&line.carrier)?;
            let plan = book.plan(&line.carrier, &line.plan)?;
            Ok(HeldLine {
                ended_at: line.ended_at,
                voice: plan.services.contains(&Service::Voice),
                policy: &carrier.retention,
            })
        })
        .collect()
}

fn jst_date(t: Timestamp) -> String {
    t.to_zoned(simdesk_domain::validity::japan())
        .date()
        .to_string()
}

/// The history entry an erasure leaves on each of the customer's lines.
fn erasure_event(what: &str, by: Attribution) -> NewEvent {
    NewEvent {
        kind: "personal_data_erased".into(),
        from: None,
        to: None,
        detail: what.into(),
        by,
        policy_version: None,
    }
}

fn what_was_erased(contact: bool, identity: bool) -> &'static str {
    match (contact, identity) {
        (true, true) => "contact details, identity record, documents and codes erased",
        (true, false) => {
            "contact details, documents and codes erased; identity record kept as the law requires"
        }
        (false, true) => "identity record erased at the end of its legal hold",
        (false, false) => "nothing erased",
    }
}

/// Erases what is due, then purges spent codes, sessions and idempotency records. Run by the
/// due-work runner; each customer is looked at again only when something falls due.
pub async fn sweep(ctx: &ServiceContext, now: Timestamp) -> ServiceResult<SweepReport> {
    let store = ctx.store.as_ref();
    let mut report = SweepReport::default();
    for carrier in ctx.book.carrier_codes() {
        let policy = ctx.book.carrier(carrier)?;
        let days = i64::from(policy.retention.document_days);
        let before = now - SignedDuration::from_hours(24 * days);
        report.documents_erased += store.erase_decided_documents(carrier, before, now).await?;
    }
    for customer in store.customers_due_for_erasure(now, SWEEP_BATCH).await? {
        erase_when_due(ctx, customer, now, &mut report).await?;
    }
    // Codes are stamped with simdesk's clock (which `--now` moves), sessions and idempotency
    // records with the real one, and each is judged by the clock it was stamped with.
    let wall = Timestamp::now();
    report.purged = store
        .purge_spent(now - CODES_KEPT, wall, wall - IDEMPOTENCY_KEPT)
        .await?;
    Ok(report)
}

async fn erase_when_due(
    ctx: &ServiceContext,
    customer: CustomerId,
    now: Timestamp,
    report: &mut SweepReport,
) -> ServiceResult<()> {
    let store = ctx.store.as_ref();
    let Some(row) = store.customer(customer).await? else {
        return Ok(());
    };
    let lines = store.lines_of_customer(customer).await?;
    let schedule = retention::schedule(&held_lines(&ctx.book, &lines)?);
    let (Some(personal_at), Some(identity_at)) =
        (schedule.personal_data_at, schedule.identity_record_at)
    else {
        // A line still in service: looked at again once it ends (the query skips it until then).
        return Ok(());
    };
    let contact_due = row.contact_erased_at.is_none() && personal_at <= now;
    let identity_due = identity_at <= now;
    if !contact_due && !identity_due {
        let next = if row.contact_erased_at.is_none() {
            personal_at
        } else {
            identity_at
        };
        store.set_erasure_due(customer, next).await?;
        return Ok(());
    }
    if contact_due {
        // Tell the traveller first: the message is sent to the contact details about to go, and
        // they are destroyed only once it has left (or was given up on).
        let prefix = format!("notify:data_erased:{customer}:");
        let (queued, pending) = store.outbox_progress(&prefix).await?;
        if queued == 0 {
            if let Some(line) = lines.last() {
                let notice = super::effects::notice(
                    crate::messages::Event::DataErased,
                    &customer.to_string(),
                    line,
                    customer,
                    &row.language,
                    serde_json::json!({ "kept_until": jst_date(identity_at.max(now)) }),
                    now,
                );
                store.enqueue(&[notice]).await?;
                report.notices_queued += 1;
                store.set_erasure_due(customer, now).await?;
                return Ok(());
            }
        } else if pending > 0 {
            return Ok(());
        }
    }
    let by = Attribution::system(
        "retention",
        now,
        if identity_due {
            "retention period over"
        } else {
            "retention period over; identity record on legal hold"
        },
    );
    let erasure = Erasure {
        customer,
        contact: contact_due,
        identity: identity_due,
        next_due: (!identity_due).then_some(identity_at),
        event: erasure_event(what_was_erased(contact_due, identity_due), by),
    };
    report.documents_erased += store.erase_customer(&erasure).await?;
    report.personal_data_erased += u64::from(contact_due);
    report.identity_records_erased += u64::from(identity_due);
    Ok(())
}

/// The answer to a "delete my data" request.
#[derive(Debug, Clone, Serialize)]
pub struct ErasureAnswer {
    pub customer: CustomerId,
    pub personal_data_erased: bool,
    pub identity_record_erased: bool,
    /// Until when the identity record stays, when the law holds it.
    pub identity_held_until: Option<Timestamp>,
    /// Lines still in service: their data is needed until they end, and nothing was erased.
    pub lines_in_service: usize,
}

/// Erases at once whatever of a customer's data the law does not hold, and says what remains
/// and until when. Nothing is erased while a line is still in service.
pub async fn erase_on_request(
    ctx: &ServiceContext,
    customer: CustomerId,
    by: Attribution,
) -> ServiceResult<ErasureAnswer> {
    let store = ctx.store.as_ref();
    let Some(row) = store.customer(customer).await? else {
        return Err(super::ServiceError::NotFound(format!(
            "customer {customer}"
        )));
    };
    let lines = store.lines_of_customer(customer).await?;
    let outcome: RequestOutcome = retention::on_request(&held_lines(&ctx.book, &lines)?, by.at);
    let contact = outcome.erase_personal_data && row.contact_erased_at.is_none();
    let identity = outcome.erase_identity_record && row.identity_erased_at.is_none();
    if contact || identity {
        let erasure = Erasure {
            customer,
            contact,
            identity,
            next_due: if identity {
                None
            } else {
                outcome.identity_held_until
            },
            event: erasure_event(what_was_erased(contact, identity), by),
        };
        store.erase_customer(&erasure).await?;
    }
    Ok(ErasureAnswer {
        customer,
        personal_data_erased: outcome.erase_personal_data,
        identity_record_erased: outcome.erase_identity_record,
        identity_held_until: if outcome.erase_identity_record {
            None
        } else {
            outcome.identity_held_until
        },
        lines_in_service: outcome.lines_in_service,
    })
}

/// The customer a line's holder is, for requests made about a line.
pub async fn holder_of(store: &dyn Lines, key: &LineKey) -> ServiceResult<CustomerId> {
    let line = store
        .line(key)
        .await?
        .ok_or_else(|| super::ServiceError::NotFound("the line".into()))?;
    line.holder
        .ok_or_else(|| super::ServiceError::Invalid("the line has no registered holder".into()))
}

/// What is held about one customer, and until when.
#[derive(Debug, Clone, Serialize)]
pub struct Holding {
    pub customer: CustomerId,
    pub lines: usize,
    pub lines_in_service: usize,
    /// Contact details (and the rest of the personal data) held, and when they go.
    pub personal_data: Option<Timestamp>,
    pub personal_data_held: bool,
    /// The identity record held, and when it goes.
    pub identity_record: Option<Timestamp>,
    pub identity_record_held: bool,
    /// Whether the identity record is kept past the personal data because the law says so.
    pub legal_hold: bool,
    pub documents: i64,
}

/// What is held for whom until when: every customer, in id order.
pub async fn report(ctx: &ServiceContext) -> ServiceResult<Vec<Holding>> {
    let store = ctx.store.as_ref();
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let rows = store.privacy_rows(after, 1000).await?;
        let Some(last) = rows.last() else { break };
        after = last.customer.get();
        for row in rows {
            let lines = store.lines_of_customer(row.customer).await?;
            let schedule: ErasureSchedule = retention::schedule(&held_lines(&ctx.book, &lines)?);
            out.push(Holding {
                customer: row.customer,
                lines: lines.len(),
                lines_in_service: lines.iter().filter(|l| l.ended_at.is_none()).count(),
                personal_data: schedule.personal_data_at,
                personal_data_held: row.contact_erased_at.is_none(),
                identity_record: schedule.identity_record_at,
                identity_record_held: row.identity_erased_at.is_none(),
                legal_hold: schedule.legal_hold,
                documents: row.documents,
            });
        }
    }
    Ok(out)
}
