//! Completion at the effective date: add-ons unbound, balance closed, refund credited, receipt issued.

use super::{language_of, line_event, live_money, pseudonym};
use crate::messages::Event;
use crate::receipts::{ReceiptAddon, ReceiptContent, ReceiptItem, ReceiptLine, ReceiptRefund};
use crate::services::effects::{Effect, NetworkOp, Occasion};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{
    AppliedRequest, LineChange, LineKey, NewEvent, ReceiptIssue, RequestChange, RequestRecord,
    StoreError, WalletEntry,
};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance;
use simdesk_domain::cancellation::refund_basis;
use simdesk_domain::ids::RequestId;
use simdesk_domain::refund;
use simdesk_domain::validity::japan_date;
use simdesk_domain::wallet;
use std::sync::Arc;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CompletionReport {
    pub completed: u64,
    /// Changed by another worker meanwhile; it completed them.
    pub skipped: u64,
}

/// Due requests a node claims at a time: few, so a node that dies strands little behind its
/// lease, and nodes working side by side share the work evenly.
const COMPLETION_CLAIM: i64 = 50;
/// How long a claim holds on the real clock: far longer than completing a batch takes, short
/// enough that the work of a node that died is soon taken up by another.
const COMPLETION_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Completes every approved request whose effective date has come: add-ons unbound, balance
/// closed, refund credited to the e-wallet, receipt issued, line terminated, network and
/// customer told — all in one transaction per request. Requests are claimed a batch at a time
/// under a lease in this node's name, so nodes running this together share the work.
pub async fn complete_due(ctx: &ServiceContext, now: Timestamp) -> ServiceResult<CompletionReport> {
    let node = crate::node::name();
    let mut report = CompletionReport::default();
    // Requests changed meanwhile by someone else: not claimed again in this run, but given back
    // at its end, so the next run looks at them again.
    let mut busy = Vec::new();
    loop {
        let wall = Timestamp::now();
        let due = ctx
            .s()
            .claim_due_requests(now, wall, wall + COMPLETION_LEASE, node, COMPLETION_CLAIM)
            .await?;
        if due.is_empty() {
            break;
        }
        for (i, record) in due.iter().enumerate() {
            match complete_one(ctx, record, now).await {
                Ok(_) => report.completed += 1,
                Err(ServiceError::Busy) => {
                    report.skipped += 1;
                    busy.push(record.request.id);
                }
                Err(e) => {
                    // The rest of the batch goes back at once; the failed request keeps its
                    // lease until it lapses, so it does not hold up the others on every run.
                    busy.extend(due[i + 1..].iter().map(|r| r.request.id));
                    release(ctx, &busy, node).await;
                    return Err(e);
                }
            }
        }
    }
    release(ctx, &busy, node).await;
    Ok(report)
}

/// Gives back leases on requests this run leaves alone; if that fails too, they lapse.
async fn release(ctx: &ServiceContext, ids: &[RequestId], node: &str) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = ctx.s().release_request_claims(ids, node).await {
        tracing::warn!(error = %e, "due cancellations stay leased until their lease lapses");
    }
}

async fn complete_one(
    ctx: &ServiceContext,
    record: &RequestRecord,
    now: Timestamp,
) -> ServiceResult<AppliedRequest> {
    let by = Attribution::system(
        &crate::node::actor("cancellation"),
        now,
        "effective date reached",
    );
    let (request, t) = record.request.complete(by.clone())?;
    let line = find_line(ctx.s(), &LineKey::Id(request.line_id)).await?;
    let (policy, version) = ctx.book.for_line(&line)?;
    let buckets = ctx.s().buckets(line.id).await?;
    let bound: Vec<_> = ctx
        .s()
        .addons(line.id)
        .await?
        .into_iter()
        .filter(|a| a.unbound_at.is_none())
        .collect();
    let effective_at = request.effective_at.unwrap_or(now);
    let money = live_money(&buckets, policy.carrier.currency, effective_at);
    let refund = refund::compute(
        policy.refund(),
        &refund_basis(&line, &policy, money, effective_at),
    )?;

    let (terminated, lt) = line.terminate(by.clone())?;
    let mut line_change = LineChange::new(
        terminated,
        line_event(&lt, format!("cancellation request {}", request.id), version),
    );
    for a in &bound {
        line_change.events.push(NewEvent {
            kind: "addon_unbind".into(),
            from: None,
            to: None,
            detail: format!("unbound {} at cancellation", a.code),
            by: by.clone(),
            policy_version: Some(version),
        });
    }
    line_change.unbind = bound.iter().map(|a| a.id).collect();
    line_change.balance = balance::close_all(&buckets);

    let customer = line
        .holder
        .ok_or_else(|| ServiceError::Invalid(format!("line {} has no holder", line.iccid)))?;
    let language = language_of(ctx.s(), &line).await?;
    let mut change = RequestChange::new(request.clone(), &record.carrier);
    change.events.push(t);
    change.line = Some(line_change);
    change.refund = Some(refund.clone());
    if refund.total.is_positive() {
        change.wallet = Some(WalletEntry {
            customer,
            movement: wallet::refund_credit(customer, &line.carrier, refund.total)
                .map_err(|e| ServiceError::Invalid(e.to_string()))?,
            idempotency_key: format!("refund:{}", request.id),
            note: format!(
                "refund for cancellation {} of line {}",
                request.id, line.msisdn
            ),
            at: now,
        });
    }
    let content = ReceiptContent {
        number: String::new(),
        carrier: line.carrier.clone(),
        issued_at: now,
        effective_date: request.effective_date.unwrap_or_else(|| japan_date(now)),
        request_id: request.id,
        channel: request.channel.as_str().into(),
        line: ReceiptLine {
            iccid: line.iccid.to_string(),
            msisdn: line.msisdn.to_string(),
            plan: policy.plan.code.clone(),
            plan_name: policy.plan.name.clone(),
        },
        customer: pseudonym(ctx, customer),
        unbound_addons: bound
            .iter()
            .map(|a| ReceiptAddon {
                code: a.code.clone(),
                name: policy
                    .carrier
                    .addon(&a.code)
                    .map(|o| o.name.clone())
                    .unwrap_or_else(|| a.code.clone()),
            })
            .collect(),
        refund: ReceiptRefund {
            rule: refund.rule.to_string(),
            items: refund
                .items
                .iter()
                .map(|i| ReceiptItem {
                    // Written in the customer's language: the receipt is theirs.
                    label: receipt_label(&language, &i.key, &i.label),
                    amount: i.amount,
                })
                .collect(),
            total: refund.total,
            credited_to: if refund.total.is_positive() {
                "e-wallet".into()
            } else {
                "nothing due".into()
            },
        },
        usage_counted_until: ctx.s().line_usage(line.id).await?.counted_until,
        policy_version: record.request.policy_version,
        language: language.clone(),
    };
    let keys = ctx.keys.clone();
    change.receipt = Some(ReceiptIssue {
        carrier: line.carrier.clone(),
        year: japan_date(now).year(),
        sign: Arc::new(move |number: &str| {
            let mut content = content.clone();
            content.number = number.to_string();
            serde_json::to_string_pretty(&keys.receipts.sign(&content)).unwrap_or_default()
        }),
    });
    change.outbox.push(
        Effect::network(NetworkOp::Deprovision, Occasion::Request(request.id), &line).queue(now),
    );
    change.outbox.push(
        Effect::notify(
            Event::CancellationCompleted,
            Occasion::Request(request.id),
            &line,
            customer,
            &language,
            json!({ "refund": refund.total }),
        )
        .queue(now),
    );
    if refund.total.is_positive() {
        change.outbox.push(
            Effect::notify(
                Event::RefundCredited,
                Occasion::Request(request.id),
                &line,
                customer,
                &language,
                json!({ "amount": refund.total }),
            )
            .queue(now),
        );
    }
    match ctx.s().apply_request(&change).await {
        Ok(applied) => Ok(applied),
        Err(StoreError::Conflict) | Err(StoreError::Duplicate(_)) => Err(ServiceError::Busy),
        Err(e) => Err(e.into()),
    }
}

/// A refund item's label in the customer's language, falling back to the English computation text.
fn receipt_label(language: &str, key: &str, english: &str) -> String {
    match language.parse::<simdesk_domain::customer::Language>() {
        Ok(simdesk_domain::customer::Language::En) | Err(_) => english.to_string(),
        Ok(lang) => crate::i18n::lookup(lang, &format!("refund-{key}"))
            .unwrap_or_else(|| english.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::receipt_label;

    #[test]
    fn receipt_items_speak_the_customers_language() {
        assert_eq!(receipt_label("ja", "fee", "Cancellation fee"), "解約手数料");
        assert_eq!(
            receipt_label("ko", "prepaid_balance", "Remaining prepaid balance"),
            "남은 선불 잔액"
        );
        assert_eq!(
            receipt_label("en", "fee", "Cancellation fee"),
            "Cancellation fee"
        );
        assert_eq!(
            receipt_label("ja", "something_new", "Something new"),
            "Something new"
        );
    }
}
