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

use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{LineChange, NewEvent, OutboxMessage, RequestChange, RequestRecord};
use jiff::Timestamp;
use serde_json::json;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::line::{Line, Transition};
use simdesk_domain::money::Money;
use simdesk_domain::policy::EffectivePolicy;
use simdesk_domain::refund::RefundBasis;

fn refund_basis(
    line: &Line,
    policy: &EffectivePolicy<'_>,
    balance: Money,
    at: Timestamp,
) -> RefundBasis {
    let total = i64::from(policy.plan.validity.days) * 86_400;
    let remaining = match (line.activated_at, line.validity_ends_at) {
        (None, _) => total,
        (Some(_), Some(end)) => end.duration_since(at).as_secs().clamp(0, total),
        (Some(_), None) => 0,
    };
    RefundBasis {
        balance,
        plan_price: policy.plan.price,
        validity_total_secs: total,
        validity_remaining_secs: remaining,
    }
}

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
/// policy says so, and the customer is told the effective date.
async fn on_approval(
    ctx: &ServiceContext,
    change: &mut RequestChange,
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
    let language = language_of(ctx, line).await?;
    let id = change.request.id;
    if policy.cancellation().bar_while_pending {
        change.outbox.push(network("bar", id, line, by.at));
    }
    change.outbox.push(notify(
        "cancellation_approved",
        id,
        line,
        &language,
        customer,
        json!({ "effective_date": date }),
        by.at,
    ));
    Ok(())
}

async fn language_of(ctx: &ServiceContext, line: &Line) -> ServiceResult<String> {
    // Only the language: the holder's sealed personal data stays sealed.
    Ok(match line.holder {
        Some(h) => ctx
            .s()
            .customer_languages(&[h])
            .await?
            .remove(&h)
            .unwrap_or_else(|| "en".into()),
        None => "en".into(),
    })
}

pub async fn load(ctx: &ServiceContext, id: i64) -> ServiceResult<RequestRecord> {
    ctx.s()
        .request(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("cancellation request {id}")))
}

/// A stable pseudonym for a customer: receipts and ledgers outlive personal data.
pub fn pseudonym(ctx: &ServiceContext, customer: i64) -> String {
    let h = ctx.keys.hash_code(customer, "customer-pseudonym");
    format!("C-{}", &h[..12])
}

fn notify(
    event: &str,
    request_id: i64,
    line: &Line,
    language: &str,
    customer: i64,
    params: serde_json::Value,
    at: Timestamp,
) -> OutboxMessage {
    OutboxMessage {
        kind: "notify".into(),
        idempotency_key: format!("notify:{event}:{request_id}:{}", customer),
        payload: json!({ "event": event, "language": language, "customer": customer, "msisdn": line.msisdn.as_str(), "request": request_id, "params": params }),
        available_at: at,
    }
}

fn network(op: &str, request_id: i64, line: &Line, at: Timestamp) -> OutboxMessage {
    OutboxMessage {
        kind: format!("network.{op}"),
        idempotency_key: format!("network:{op}:{request_id}"),
        payload: json!({ "imsi": line.imsi.as_str(), "msisdn": line.msisdn.as_str(), "request": request_id }),
        available_at: at,
    }
}
