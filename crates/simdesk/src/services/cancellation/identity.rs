//! Confirming who asks: knowledge, one-time codes, identity documents and their review.

use super::{holder_knows, load, on_approval, reject_with};
use crate::adapters::documents;
use crate::adapters::messages::CodeDestination;
use crate::services::effects::Occasion;
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{DocumentReview, LineKey, NewDocument, RequestChange, RequestRecord};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::{Attribution, Channel};
use simdesk_domain::cancellation::{self, RequestState, RequestTransition};
use simdesk_domain::identity::{OtpOutcome, OtpRules, OtpState};
use simdesk_domain::ids::RequestId;
use simdesk_domain::policy::IdentityCheck;

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
        on_approval(
            ctx,
            &mut change,
            Occasion::Request(record.request.id),
            &line,
            &policy,
            version,
            &by,
        )
        .await?;
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
    id: RequestId,
    name: &str,
    passport: &str,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    require_open_for_checks(&record, IdentityCheck::Knowledge)?;
    let line = find_line(ctx.s(), &LineKey::Id(record.request.line_id)).await?;
    let matches = holder_knows(ctx, &line, name, passport).await?;
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
    id: RequestId,
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
    let hash = ctx.keys.hash_code(line.id.get(), &code);
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
    id: RequestId,
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
        ctx.keys
            .hash_code(record.request.line_id.get(), &code)
            .as_bytes(),
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
    id: RequestId,
    content: Vec<u8>,
    by: Attribution,
) -> ServiceResult<i64> {
    upload_declared_document(ctx, id, content, None, by).await
}

/// An upload whose sender declared a content type: refused when the bytes are something else.
pub async fn upload_declared_document(
    ctx: &ServiceContext,
    id: RequestId,
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
    id: RequestId,
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
    reject_with(ctx.s(), &record, reason, by, Some(review)).await
}

/// A store clerk who has the passport in hand meets the document check in person.
pub async fn attest_document_in_person(
    ctx: &ServiceContext,
    id: RequestId,
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
