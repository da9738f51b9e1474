//! Cancellation use cases: quote, submit, verify identity, withdraw, reject, and completion at
//! the effective date — one workflow whatever the channel.

mod complete;
mod identity;
mod quote;
mod reject;
mod submit;
mod withdraw;

pub use complete::{complete_due, CompletionReport};
pub(crate) use identity::constant_time_eq;
pub use identity::{
    attest_document_in_person, check_code, review_document, send_code, upload_declared_document,
    upload_document, verify_knowledge, CodeSent,
};
pub use quote::{quote, ChannelChecks, Quote, QuoteAddon};
pub use reject::reject;
pub(crate) use reject::reject_with;
pub use submit::{submit, Knowledge, Submitted};
pub use withdraw::withdraw;

use crate::messages::Event;
use crate::services::effects::{Effect, NetworkOp, Occasion};
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{LineChange, NewEvent, RequestChange, RequestRecord, Store};
use jiff::Timestamp;
use serde_json::json;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::ids::{CustomerId, RequestId};
use simdesk_domain::line::{Line, Transition};
use simdesk_domain::money::Money;
use simdesk_domain::policy::EffectivePolicy;

fn live_money(
    buckets: &[simdesk_domain::balance::Bucket],
    currency: simdesk_domain::money::Currency,
    at: Timestamp,
) -> Money {
    Money::new(
        balance::remaining(buckets, BucketUnit::Money(currency), at),
        currency,
    )
}

fn line_event(t: &Transition, detail: String, policy_version: i64) -> NewEvent {
    NewEvent {
        kind: t.step.as_str().into(),
        from: Some(t.from),
        to: Some(t.to),
        detail,
        by: t.by.clone(),
        policy_version: Some(policy_version),
    }
}

/// Adds what approval brings to a change: the line goes to pending termination, is barred if the
/// policy says so, and the customer is told the effective date. `occasion` keys those effects.
async fn on_approval(
    ctx: &ServiceContext,
    change: &mut RequestChange,
    occasion: Occasion,
    line: &Line,
    policy: &EffectivePolicy<'_>,
    version: i64,
    by: &Attribution,
) -> ServiceResult<()> {
    let (pending, t) = line.begin_termination(by.clone())?;
    let date = change
        .request
        .effective_date
        .map(|d| d.to_string())
        .unwrap_or_default();
    change.line = Some(LineChange::new(
        pending,
        line_event(&t, format!("cancellation effective {date}"), version),
    ));
    let customer = line.holder.unwrap_or_default();
    let language = language_of(ctx.s(), line).await?;
    if policy.cancellation().bar_while_pending {
        change
            .outbox
            .push(Effect::network(NetworkOp::Bar, occasion.clone(), line).queue(by.at));
    }
    change.outbox.push(
        Effect::notify(
            Event::CancellationApproved,
            occasion,
            line,
            customer,
            &language,
            json!({ "effective_date": date }),
        )
        .queue(by.at),
    );
    Ok(())
}

async fn language_of(store: &dyn Store, line: &Line) -> ServiceResult<String> {
    // Only the language: the holder's sealed personal data stays sealed.
    Ok(match line.holder {
        Some(h) => store
            .customer_languages(&[h])
            .await?
            .remove(&h)
            .unwrap_or_else(|| "en".into()),
        None => "en".into(),
    })
}

/// Whether `name` and `passport` are what the line's holder registered (the knowledge check,
/// whichever step asks for it).
pub(super) async fn holder_knows(
    ctx: &ServiceContext,
    line: &Line,
    name: &str,
    passport: &str,
) -> ServiceResult<bool> {
    let holder = line
        .holder
        .ok_or_else(|| ServiceError::Invalid("the line has no registered holder".into()))?;
    let customer = ctx
        .s()
        .customer(holder)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the line's holder".into()))?;
    Ok(customer
        .personal
        .as_ref()
        .is_some_and(|p| simdesk_domain::identity::knowledge_matches(p, name, passport)))
}

pub async fn load(ctx: &ServiceContext, id: RequestId) -> ServiceResult<RequestRecord> {
    load_from(ctx.s(), id).await
}

async fn load_from(store: &dyn Store, id: RequestId) -> ServiceResult<RequestRecord> {
    store
        .request(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("cancellation request {id}")))
}

/// A stable pseudonym for a customer: receipts and ledgers outlive personal data.
pub fn pseudonym(ctx: &ServiceContext, customer: CustomerId) -> String {
    let h = ctx.keys.hash_code(customer.get(), "customer-pseudonym");
    format!("C-{}", &h[..12])
}
