//! Cancellation use cases: quote, submit, verify identity, withdraw, reject, and completion at
//! the effective date — one workflow whatever the channel.

use super::lines::find_line;
use super::{ServiceContext, ServiceError, ServiceResult};
use crate::adapters::documents;
use crate::adapters::messages::CodeDestination;
use crate::receipts::{ReceiptAddon, ReceiptContent, ReceiptItem, ReceiptLine, ReceiptRefund};
use crate::store::{
    AppliedRequest, DocumentReview, LineChange, LineKey, NewDocument, NewEvent, OutboxMessage,
    ReceiptIssue, RequestChange, RequestRecord, StoreError, WalletEntry,
};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use simdesk_domain::attribution::{Attribution, Channel};
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::cancellation::{self, CancellationRequest, RequestState, RequestTransition};
use simdesk_domain::identity::{self, OtpOutcome, OtpRules, OtpState};
use simdesk_domain::line::{Line, LineState, Transition};
use simdesk_domain::money::Money;
use simdesk_domain::policy::{EffectivePolicy, IdentityCheck};
use simdesk_domain::refund::{self, Refund, RefundBasis};
use simdesk_domain::validity::{format_jst, japan_date, last_valid_second};
use simdesk_domain::wallet;
use std::sync::Arc;

/// Where the customer stands before cancelling.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub line: String,
    pub msisdn: String,
    pub carrier: String,
    pub plan: String,
    pub state: String,
    pub can_cancel: bool,
    /// Why not, when `can_cancel` is false.
    pub cannot_because: Option<String>,
    pub valid_now: bool,
    pub valid_until_jst: Option<String>,
    /// Advice when validity remains; it never stops a cancellation.
    pub time_left_notice: Option<String>,
    pub balance: Money,
    pub data_mb: i64,
    pub bound_addons: Vec<QuoteAddon>,
    pub refund: Option<Refund>,
    pub effective_date_if_submitted_now: Option<Date>,
    pub identity_needed: Vec<ChannelChecks>,
    pub open_request: Option<i64>,
    pub what_happens: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuoteAddon {
    pub code: String,
    pub name: String,
    pub charge: Money,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelChecks {
    pub channel: Channel,
    pub checks: Vec<IdentityCheck>,
}

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

/// Tells the customer where they stand; never refuses because time remains.
pub async fn quote(ctx: &ServiceContext, key: &LineKey, now: Timestamp) -> ServiceResult<Quote> {
    let line = find_line(ctx.s(), key).await?;
    let (policy, _) = ctx.book.for_line(&line)?;
    let buckets = ctx.s().buckets(line.id).await?;
    let bound = ctx.s().addons(line.id).await?;
    let currency = policy.carrier.currency;
    let money = live_money(&buckets, currency, now);
    let data_mb = balance::remaining(&buckets, BucketUnit::Megabytes, now);
    let open = ctx.s().open_request_for_line(line.id).await?;
    let cannot_because = match line.state {
        LineState::InStock => Some("the line has not been sold".to_string()),
        LineState::Terminated => Some("the line is already cancelled".to_string()),
        LineState::Closed => Some("the line has already ended".to_string()),
        _ if open.is_some() => {
            Some("a cancellation request is already open for this line".to_string())
        }
        _ => None,
    };
    let can_cancel = cannot_because.is_none();
    let effective = if can_cancel {
        Some(cancellation::effective_date(
            now,
            policy.cancellation(),
            &policy.calendar(),
        )?)
    } else {
        None
    };
    let refund = match effective {
        Some(date) => {
            let at = cancellation::start_of_day_jst(date);
            // What remains at the effective instant, as completion computes it.
            let remaining = live_money(&buckets, currency, at);
            Some(refund::compute(
                policy.refund(),
                &refund_basis(&line, &policy, remaining, at),
            )?)
        }
        None => None,
    };
    let valid_now =
        line.state == LineState::Active && line.validity_ends_at.is_some_and(|e| now < e);
    let time_left_notice = match (valid_now, line.validity_ends_at) {
        (true, Some(end)) => Some(format!(
            "The line is valid until {}. You may use it up before cancelling; cancelling now is also fine.",
            format_jst(last_valid_second(end))
        )),
        _ => None,
    };
    let mut what_happens = Vec::new();
    if let (Some(date), Some(refund)) = (effective, &refund) {
        what_happens.push(format!("The cancellation takes effect on {date} (Japan time), {} business day(s) after the request.", policy.cancellation().effective_delay_business_days));
        if policy.cancellation().bar_while_pending {
            what_happens.push("Until then the line is barred: it cannot be used from the moment the request is approved.".into());
        } else {
            what_happens.push("Until then, please do not use the line.".into());
        }
        let bound_now: Vec<&str> = bound
            .iter()
            .filter(|b| b.unbound_at.is_none())
            .map(|b| b.code.as_str())
            .collect();
        if !bound_now.is_empty() {
            what_happens.push(format!(
                "These add-ons are unbound and their charges stop: {}.",
                bound_now.join(", ")
            ));
        }
        what_happens.push(
            "The line is removed from the network; it can never be used again or transferred."
                .into(),
        );
        if refund.total.is_positive() {
            what_happens.push(format!(
                "{} is credited to your e-wallet, from which it can be paid out.",
                refund.total
            ));
        } else {
            what_happens.push("No refund is due under the carrier's terms.".into());
        }
        what_happens
            .push("You receive a confirmation and a signed receipt in your language.".into());
    }
    let identity = policy.identity();
    let identity_needed = [Channel::Web, Channel::Hotline, Channel::Store]
        .into_iter()
        .map(|c| ChannelChecks {
            channel: c,
            checks: identity::required_checks(identity, c),
        })
        .collect();
    Ok(Quote {
        line: line.iccid.to_string(),
        msisdn: line.msisdn.to_string(),
        carrier: line.carrier.clone(),
        plan: line.plan.clone(),
        state: line.state.as_str().into(),
        can_cancel,
        cannot_because,
        valid_now,
        valid_until_jst: line
            .validity_ends_at
            .map(|e| format_jst(last_valid_second(e))),
        time_left_notice,
        balance: money,
        data_mb,
        bound_addons: bound
            .iter()
            .filter(|b| b.unbound_at.is_none())
            .map(|b| QuoteAddon {
                code: b.code.clone(),
                name: policy
                    .carrier
                    .addon(&b.code)
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| b.code.clone()),
                charge: b.charge,
            })
            .collect(),
        refund,
        effective_date_if_submitted_now: effective,
        identity_needed,
        open_request: open.map(|r| r.request.id),
        what_happens,
    })
}

/// Knowledge offered at submission (a hotline agent asks the caller).
#[derive(Debug, Clone)]
pub struct Knowledge {
    pub name: String,
    pub passport: String,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub request: RequestRecord,
    /// False when an open request already existed and is returned instead.
    pub created: bool,
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

/// Opens a cancellation request (or returns the open one).
pub async fn submit(
    ctx: &ServiceContext,
    key: &LineKey,
    channel: Channel,
    knowledge: Option<Knowledge>,
    by: Attribution,
) -> ServiceResult<Submitted> {
    let line = find_line(ctx.s(), key).await?;
    if let Some(open) = ctx.s().open_request_for_line(line.id).await? {
        return Ok(Submitted {
            request: open,
            created: false,
        });
    }
    let (policy, version) = ctx.book.for_line(&line)?;
    let required = identity::required_checks(policy.identity(), channel);
    let (mut request, t) =
        CancellationRequest::submit(&line, channel, required, version, by.clone())?;
    let mut events = vec![t];
    if let Some(k) = &knowledge {
        if !request.required.contains(&IdentityCheck::Knowledge) {
            return Err(ServiceError::Invalid(format!(
                "a {channel} cancellation does not ask for name and passport; leave them out"
            )));
        }
        let holder = line
            .holder
            .ok_or_else(|| ServiceError::Invalid("the line has no registered holder".into()))?;
        let customer = ctx
            .s()
            .customer(holder)
            .await?
            .ok_or_else(|| ServiceError::NotFound("the line's holder".into()))?;
        let matches = customer
            .personal
            .as_ref()
            .is_some_and(|p| identity::knowledge_matches(p, &k.name, &k.passport));
        if !matches {
            return Err(ServiceError::Identity("the name and passport number do not match the registration; check them with the caller".into()));
        }
        let (next, steps) = request.pass_check(
            IdentityCheck::Knowledge,
            policy.cancellation(),
            &policy.calendar(),
            by.clone(),
        )?;
        if steps.is_empty() {
            events.push(RequestTransition {
                from: Some(next.state),
                to: next.state,
                by: by.clone(),
                note: "knowledge check passed".into(),
            });
        }
        request = next;
        events.extend(steps);
    } else {
        let (next, steps) =
            request.approve_if_verified(policy.cancellation(), &policy.calendar(), by.clone())?;
        request = next;
        events.extend(steps);
    }
    let mut change = RequestChange::new(request.clone(), &line.carrier);
    change.events = events;
    let customer = line.holder.unwrap_or_default();
    let language = language_of(ctx, &line).await?;
    // The request id is not known before insert; notifications key on the line's own id and time.
    change.outbox.push(OutboxMessage {
        kind: "notify".into(),
        idempotency_key: format!("notify:cancellation_received:{}:{}", line.id, by.at.as_microsecond()),
        payload: json!({ "event": "cancellation_received", "language": language, "customer": customer, "msisdn": line.msisdn.as_str(), "params": { "channel": channel.as_str() } }),
        available_at: by.at,
    });
    if request.state == RequestState::Approved {
        on_approval(ctx, &mut change, &line, &policy, version, &by).await?;
        rekey_for_line(&mut change, line.id, by.at);
    }
    match ctx.s().apply_request(&change).await {
        Ok(applied) => Ok(Submitted {
            request: load(ctx, applied.id).await?,
            created: true,
        }),
        // Another channel opened one a moment ago: that one is the answer.
        Err(StoreError::Duplicate(_)) | Err(StoreError::Conflict) => {
            match ctx.s().open_request_for_line(line.id).await? {
                Some(open) => Ok(Submitted {
                    request: open,
                    created: false,
                }),
                None => Err(ServiceError::Busy),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Before insert the request has no id; keys of its side effects use the line and the instant.
fn rekey_for_line(change: &mut RequestChange, line_id: i64, at: Timestamp) {
    for m in &mut change.outbox {
        if m.idempotency_key.ends_with(":0") || m.idempotency_key.contains(":0:") {
            m.idempotency_key = format!(
                "{}@line{line_id}:{}",
                m.idempotency_key,
                at.as_microsecond()
            );
        }
    }
}

pub async fn load(ctx: &ServiceContext, id: i64) -> ServiceResult<RequestRecord> {
    ctx.s()
        .request(id)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("cancellation request {id}")))
}

/// Records a passed identity check and, if it was the last one, approves the request.
async fn pass(
    ctx: &ServiceContext,
    record: &RequestRecord,
    check: IdentityCheck,
    by: Attribution,
    consume_code: Option<i64>,
    review: Option<DocumentReview>,
) -> ServiceResult<RequestRecord> {
    let line = find_line(ctx.s(), &LineKey::Id(record.request.line_id)).await?;
    let (policy, version) = ctx.book.for_line(&line)?;
    let (request, steps) =
        record
            .request
            .pass_check(check, policy.cancellation(), &policy.calendar(), by.clone())?;
    let mut change = RequestChange::new(request.clone(), &record.carrier);
    change.events = steps;
    change.consume_code = consume_code;
    change.document_review = review;
    if request.state == RequestState::Approved {
        on_approval(ctx, &mut change, &line, &policy, version, &by).await?;
    }
    if change.events.is_empty() {
        // A check passed but others remain: record it on the request's history all the same.
        change.events.push(RequestTransition {
            from: Some(request.state),
            to: request.state,
            by,
            note: format!("{} check passed", cancellation::check_name(&check)),
        });
    }
    ctx.s().apply_request(&change).await?;
    load(ctx, record.request.id).await
}

fn require_open_for_checks(record: &RequestRecord, check: IdentityCheck) -> ServiceResult<()> {
    if record.request.state != RequestState::Submitted {
        return Err(ServiceError::Cancellation(
            cancellation::CancellationError::NotAllowed {
                state: record.request.state,
                action: "verified again",
            },
        ));
    }
    if !record.request.required.contains(&check) {
        return Err(ServiceError::Cancellation(
            cancellation::CancellationError::CheckNotRequired(check),
        ));
    }
    Ok(())
}

/// Knowledge check: name and passport number against the registration.
pub async fn verify_knowledge(
    ctx: &ServiceContext,
    id: i64,
    name: &str,
    passport: &str,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Knowledge)?;
    let line = find_line(ctx.s(), &LineKey::Id(record.request.line_id)).await?;
    let holder = line
        .holder
        .ok_or_else(|| ServiceError::Invalid("the line has no registered holder".into()))?;
    let customer = ctx
        .s()
        .customer(holder)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the line's holder".into()))?;
    let matches = customer
        .personal
        .as_ref()
        .is_some_and(|p| identity::knowledge_matches(p, name, passport));
    if !matches {
        return Err(ServiceError::Identity(
            "the name and passport number do not match the registration".into(),
        ));
    }
    pass(ctx, &record, IdentityCheck::Knowledge, by, None, None).await
}

/// Where a one-time code was sent and until when it is good.
#[derive(Debug, Clone, Serialize)]
pub struct CodeSent {
    pub to: String,
    pub expires_at: Timestamp,
}

/// Sends a 6-digit code to the line (SMS) or the registered e-mail. Rate-limited per line.
pub async fn send_code(
    ctx: &ServiceContext,
    id: i64,
    to_email: bool,
    now: Timestamp,
) -> ServiceResult<CodeSent> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Possession)?;
    let line = find_line(ctx.s(), &LineKey::Id(record.request.line_id)).await?;
    let rules = OtpRules::default();
    let earlier = ctx
        .s()
        .code_sends_since(line.id, true, now - jiff::SignedDuration::from_hours(1))
        .await?;
    rules
        .may_send(&earlier, now)
        .map_err(|e| ServiceError::RateLimited(e.to_string()))?;
    let holder = line
        .holder
        .ok_or_else(|| ServiceError::Invalid("the line has no registered holder".into()))?;
    let customer = ctx
        .s()
        .customer(holder)
        .await?
        .ok_or_else(|| ServiceError::NotFound("the line's holder".into()))?;
    let destination = if to_email {
        let personal = customer.personal.as_ref().ok_or_else(|| {
            ServiceError::Invalid(
                "the holder's contact details were erased; no code can be sent by e-mail".into(),
            )
        })?;
        CodeDestination::Email(personal.email.clone())
    } else {
        CodeDestination::Line(line.msisdn.to_string())
    };
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let hash = ctx.keys.hash_code(line.id, &code);
    let kind = if to_email { "email" } else { "line" };
    ctx.s()
        .insert_code(line.id, Some(id), kind, &hash, now)
        .await?;
    ctx.codes
        .send_code(&destination, &code, &customer.language)
        .await
        .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
    Ok(CodeSent {
        to: destination.masked(),
        expires_at: now + rules.ttl,
    })
}

/// Checks a one-time code: expires in 10 minutes, single use, locked after 5 wrong tries.
pub async fn check_code(
    ctx: &ServiceContext,
    id: i64,
    code: &str,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Possession)?;
    let stored = ctx
        .s()
        .latest_code(record.request.line_id, Some(id))
        .await?
        .ok_or_else(|| {
            ServiceError::Identity("no code was sent for this request; ask for one first".into())
        })?;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let matches = constant_time_eq(
        ctx.keys.hash_code(record.request.line_id, &code).as_bytes(),
        stored.code_hash.as_bytes(),
    );
    let rules = OtpRules::default();
    if stored.used_at.is_some() {
        return Err(ServiceError::Identity(
            "the code was already used; ask for a new one".into(),
        ));
    }
    if by.at >= stored.issued_at + rules.ttl {
        return Err(ServiceError::Identity(
            "the code has expired (codes last 10 minutes); ask for a new one".into(),
        ));
    }
    // The attempt is counted before it is judged, so concurrent guesses share the same five.
    let Some(attempts) = ctx
        .s()
        .claim_code_attempt(stored.id, i64::from(rules.max_attempts))
        .await?
    else {
        return Err(ServiceError::Identity(
            "too many wrong codes; ask for a new code".into(),
        ));
    };
    let state = OtpState {
        issued_at: stored.issued_at,
        attempts: u32::try_from(attempts - 1).unwrap_or(u32::MAX),
        used: false,
    };
    match rules.check(&state, matches, by.at) {
        OtpOutcome::Accepted => {
            pass(
                ctx,
                &record,
                IdentityCheck::Possession,
                by,
                Some(stored.id),
                None,
            )
            .await
        }
        OtpOutcome::Wrong { attempts_left } => Err(ServiceError::Identity(format!(
            "the code is not right; {attempts_left} tries left"
        ))),
        OtpOutcome::Locked => Err(ServiceError::Identity(
            "too many wrong codes; ask for a new code".into(),
        )),
        OtpOutcome::Expired => Err(ServiceError::Identity(
            "the code has expired (codes last 10 minutes); ask for a new one".into(),
        )),
        OtpOutcome::AlreadyUsed => Err(ServiceError::Identity(
            "the code was already used; ask for a new one".into(),
        )),
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Stores a photo or scan of the identity document for an agent to review.
pub async fn upload_document(
    ctx: &ServiceContext,
    id: i64,
    content: Vec<u8>,
    by: Attribution,
) -> ServiceResult<i64> {
    upload_declared_document(ctx, id, content, None, by).await
}

/// An upload whose sender declared a content type: refused when the bytes are something else.
pub async fn upload_declared_document(
    ctx: &ServiceContext,
    id: i64,
    content: Vec<u8>,
    declared: Option<&str>,
    by: Attribution,
) -> ServiceResult<i64> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Document)?;
    let content_type = documents::check(&content, declared)?;
    use sha2::Digest;
    let sha256 = hex::encode(sha2::Sha256::digest(&content));
    Ok(ctx
        .s()
        .insert_document(&NewDocument {
            request_id: id,
            content_type: content_type.into(),
            content,
            sha256,
            uploaded_at: by.at,
            uploaded_by: by.actor.to_string(),
        })
        .await?)
}

/// An agent's review of the uploaded document: approval passes the document check; rejection
/// rejects the request with the reason, which the customer is told.
pub async fn review_document(
    ctx: &ServiceContext,
    id: i64,
    approve: bool,
    reason: Option<&str>,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Document)?;
    let pending = ctx
        .s()
        .documents(id)
        .await?
        .into_iter()
        .rev()
        .find(|d| d.review == "pending");
    let document = pending.ok_or_else(|| {
        ServiceError::Invalid("no document is waiting for review on this request".into())
    })?;
    // Four eyes: whoever supplied the document cannot also be the one who approves it. The
    // actor's kind differs by channel (agent, clerk) for one staff member, so ids are compared.
    let uploader = document
        .uploaded_by
        .split_once(':')
        .map_or(document.uploaded_by.as_str(), |(_, id)| id);
    if approve && uploader == by.actor.id {
        return Err(ServiceError::NeedsAnotherReviewer(
            "you supplied this document, so another reviewer must approve it".into(),
        ));
    }
    let review = DocumentReview {
        document_id: document.id,
        approved: approve,
        reason: reason.map(str::to_string),
        by: by.clone(),
    };
    if approve {
        return pass(
            ctx,
            &record,
            IdentityCheck::Document,
            by,
            None,
            Some(review),
        )
        .await;
    }
    let reason = reason.unwrap_or("").trim();
    if reason.is_empty() {
        return Err(ServiceError::Invalid(
            "say why the document is rejected, so the customer can fix it".into(),
        ));
    }
    reject_with(ctx, &record, reason, by, Some(review)).await
}

/// Rejects a request with a reason the customer can act on.
pub async fn reject(
    ctx: &ServiceContext,
    id: i64,
    reason: &str,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    reject_with(ctx, &record, reason, by, None).await
}

async fn reject_with(
    ctx: &ServiceContext,
    record: &RequestRecord,
    reason: &str,
    by: Attribution,
    review: Option<DocumentReview>,
) -> ServiceResult<RequestRecord> {
    let (request, t) = record.request.reject(reason, by.clone())?;
    let line = find_line(ctx.s(), &LineKey::Id(request.line_id)).await?;
    let mut change = RequestChange::new(request.clone(), &record.carrier);
    change.events.push(t);
    change.document_review = review;
    let language = language_of(ctx, &line).await?;
    change.outbox.push(notify(
        "cancellation_rejected",
        request.id,
        &line,
        &language,
        line.holder.unwrap_or_default(),
        json!({ "reason": reason }),
        by.at,
    ));
    ctx.s().apply_request(&change).await?;
    load(ctx, request.id).await
}

/// The customer withdraws before the effective date; the line goes back to how it was.
pub async fn withdraw(
    ctx: &ServiceContext,
    id: i64,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    let (request, t) = record.request.withdraw(by.clone())?;
    let line = find_line(ctx.s(), &LineKey::Id(request.line_id)).await?;
    let (policy, version) = ctx.book.for_line(&line)?;
    let mut change = RequestChange::new(request.clone(), &record.carrier);
    change.events.push(t);
    if line.state == LineState::PendingTermination {
        let (back, lt) = line.withdraw_termination(by.clone())?;
        // A line that went back to grace stays barred: only an active line gets service back.
        let unbar = policy.cancellation().bar_while_pending && back.state == LineState::Active;
        change.line = Some(LineChange::new(
            back,
            line_event(&lt, "cancellation withdrawn".into(), version),
        ));
        if unbar {
            change
                .outbox
                .push(network("unbar", request.id, &line, by.at));
        }
    }
    let language = language_of(ctx, &line).await?;
    change.outbox.push(notify(
        "cancellation_withdrawn",
        request.id,
        &line,
        &language,
        line.holder.unwrap_or_default(),
        json!({}),
        by.at,
    ));
    ctx.s().apply_request(&change).await?;
    load(ctx, request.id).await
}

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
async fn release(ctx: &ServiceContext, ids: &[i64], node: &str) {
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
    let language = language_of(ctx, &line).await?;
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
    change
        .outbox
        .push(network("deprovision", request.id, &line, now));
    change.outbox.push(notify(
        "cancellation_completed",
        request.id,
        &line,
        &language,
        customer,
        json!({ "refund": refund.total }),
        now,
    ));
    if refund.total.is_positive() {
        change.outbox.push(notify(
            "refund_credited",
            request.id,
            &line,
            &language,
            customer,
            json!({ "amount": refund.total }),
            now,
        ));
    }
    match ctx.s().apply_request(&change).await {
        Ok(applied) => Ok(applied),
        Err(StoreError::Conflict) | Err(StoreError::Duplicate(_)) => Err(ServiceError::Busy),
        Err(e) => Err(e.into()),
    }
}

/// A stable pseudonym for a customer: receipts and ledgers outlive personal data.
pub fn pseudonym(ctx: &ServiceContext, customer: i64) -> String {
    let h = ctx.keys.hash_code(customer, "customer-pseudonym");
    format!("C-{}", &h[..12])
}

/// A store clerk who has the passport in hand meets the document check in person.
pub async fn attest_document_in_person(
    ctx: &ServiceContext,
    id: i64,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Document)?;
    if by.channel != Channel::Store {
        return Err(ServiceError::Invalid(
            "only a store clerk sees the document in person; elsewhere, upload it for review"
                .into(),
        ));
    }
    pass(ctx, &record, IdentityCheck::Document, by, None, None).await
}

/// A refund item's label in the customer's language, falling back to the English computation text.
fn receipt_label(language: &str, key: &str, english: &str) -> String {
    match language.parse::<simdesk_domain::customer::Language>() {
        Ok(simdesk_domain::customer::Language::En) | Err(_) => english.to_string(),
        Ok(lang) => {
            let translated = crate::web::pages::i18n::t(lang, &format!("refund-{key}"));
            if translated.starts_with("refund-") {
                english.to_string()
            } else {
                translated
            }
        }
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
