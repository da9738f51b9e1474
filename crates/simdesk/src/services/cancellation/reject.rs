//! Rejecting a request with a reason the customer can act on.

use super::{language_of, load, notify};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceResult};
use crate::store::{DocumentReview, LineKey, RequestChange, RequestRecord};
use serde_json::json;
use simdesk_domain::attribution::Attribution;

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

pub(crate) async fn reject_with(
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
