//! The customer withdrawing a request before it takes effect.

use super::{language_of, line_event, load};
use crate::messages::Event;
use crate::services::effects::{Effect, NetworkOp, Occasion};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceResult};
use crate::store::{LineChange, LineKey, RequestChange, RequestRecord};
use serde_json::json;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::ids::RequestId;
use simdesk_domain::line::LineState;

/// The customer withdraws before the effective date; the line goes back to how it was.
pub async fn withdraw(
    ctx: &ServiceContext,
    id: RequestId,
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
            change.outbox.push(
                Effect::network(NetworkOp::Unbar, Occasion::Request(request.id), &line)
                    .queue(by.at),
            );
        }
    }
    let language = language_of(ctx.s(), &line).await?;
    change.outbox.push(
        Effect::notify(
            Event::CancellationWithdrawn,
            Occasion::Request(request.id),
            &line,
            line.holder.unwrap_or_default(),
            &language,
            json!({}),
        )
        .queue(by.at),
    );
    ctx.s().apply_request(&change).await?;
    load(ctx, request.id).await
}
