//! Rejecting a request with a reason the customer can act on.

use super::{language_of, load, load_from};
use crate::messages::Event;
use crate::services::effects::{Effect, Occasion};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceResult};
use crate::store::{DocumentReview, LineKey, RequestChange, RequestRecord, Store};
use serde_json::json;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::ids::RequestId;

/// Rejects a request with a reason the customer can act on.
pub async fn reject(
    ctx: &ServiceContext,
    id: RequestId,
    reason: &str,
    by: Attribution,
) -> ServiceResult<RequestRecord> {
    let record = load(ctx, id).await?;
    reject_with(ctx.s(), &record, reason, by, None).await
}

/// The one way a request is rejected, whoever rejects it (an agent, a document review, the end
/// of its line): the request closes with the reason, and the customer is told it.
pub(crate) async fn reject_with(
    store: &dyn Store,
    record: &RequestRecord,
    reason: &str,
    by: Attribution,
    review: Option<DocumentReview>,
) -> ServiceResult<RequestRecord> {
    let (request, t) = record.request.reject(reason, by.clone())?;
    let line = find_line(store, &LineKey::Id(request.line_id)).await?;
    let mut change = RequestChange::new(request.clone(), &record.carrier);
    change.events.push(t);
    change.document_review = review;
    let language = language_of(store, &line).await?;
    change.outbox.push(
        Effect::notify(
            Event::CancellationRejected,
            Occasion::Request(request.id),
            &line,
            line.holder.unwrap_or_default(),
            &language,
            json!({ "reason": reason }),
        )
        .queue(by.at),
    );
    store.apply_request(&change).await?;
    load_from(store, request.id).await
}
