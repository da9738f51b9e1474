//! Opening a cancellation request on any channel, approving it at once when no check remains.

use super::{holder_knows, language_of, load, on_approval};
use crate::messages::Event;
use crate::services::effects::{Effect, Occasion};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::{LineKey, RequestChange, RequestRecord, StoreError};
use serde_json::json;
use simdesk_domain::attribution::{Attribution, Channel};
use simdesk_domain::cancellation::{CancellationRequest, RequestState, RequestTransition};
use simdesk_domain::identity;
use simdesk_domain::policy::IdentityCheck;

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
        let matches = holder_knows(ctx, &line, &k.name, &k.passport).await?;
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
    let language = language_of(ctx.s(), &line).await?;
    // The request id is not known before insert; notifications key on the line's own id and time.
    let arrival = Effect::Notify {
        event: Event::CancellationReceived,
        occasion: Occasion::Arrival {
            line: line.id,
            at: by.at,
        },
        customer: Some(customer),
        language: Some(language),
        msisdn: Some(line.msisdn.as_str().to_string()),
        params: json!({ "channel": channel.as_str() }),
    };
    change.outbox.push(arrival.queue(by.at));
    if request.state == RequestState::Approved {
        let opening = Occasion::Opening {
            line: line.id,
            at: by.at,
        };
        on_approval(ctx, &mut change, opening, &line, &policy, version, &by).await?;
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
