//! Due work run at a given instant: lines whose validity ends expire, lines past grace close.

use super::effects::{self, NetworkOp};
use super::{ServiceError, ServiceResult};
use crate::messages::Event;
use crate::store::{LineChange, NewEvent, Store, StoreError};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::ids::{CustomerId, LineId};
use simdesk_domain::line::{LineError, LineState};
use simdesk_domain::validity::{format_jst, last_valid_second};

const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobReport {
    pub expired: u64,
    pub closed: u64,
    /// Lines another node or person changed meanwhile; the next run picks them up.
    pub skipped: u64,
}

/// Expires and closes every line due at `now`. Safe to run on several nodes at once: each
/// change is conditional on the line's version, so a line is moved once. A batch of lines is
/// decided here one by one and written in one transaction.
pub async fn run_once(store: &dyn Store, now: Timestamp) -> ServiceResult<JobReport> {
    let mut report = JobReport::default();
    loop {
        let due = store.lines_due(now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let holders: Vec<CustomerId> = due.iter().filter_map(|l| l.holder).collect();
        let languages = store.customer_languages(&holders).await?;
        let mut changes = Vec::with_capacity(due.len());
        for line in &due {
            if let Some(change) = decide(line, &languages, now)? {
                changes.push(change);
            }
        }
        if changes.is_empty() {
            break;
        }
        let applied: std::collections::HashSet<LineId> = match store.apply_lines(&changes).await {
            Ok(ids) => ids.into_iter().collect(),
            Err(StoreError::Conflict) => Default::default(),
            Err(e) => return Err(e.into()),
        };
        for change in &changes {
            if !applied.contains(&change.line.id) {
                report.skipped += 1;
                continue;
            }
            let closed = change.line.state == LineState::Closed;
            report.expired += change
                .events
                .iter()
                .filter(|e| e.to == Some(LineState::Expired))
                .count() as u64;
            if closed {
                report.closed += 1;
                reject_orphaned_request(store, change.line.id, now).await?;
            }
        }
        if applied.is_empty() {
            break;
        }
    }
    Ok(report)
}

/// What ending `line`'s validity or grace at `now` changes, if anything is due.
fn decide(
    line: &simdesk_domain::line::Line,
    languages: &std::collections::HashMap<CustomerId, String>,
    now: Timestamp,
) -> ServiceResult<Option<LineChange>> {
    let by = Attribution::system(
        "expiry",
        now,
        match line.state {
            LineState::Active => "validity ended",
            _ => "grace period ended",
        },
    );
    let mut events = Vec::new();
    let mut current = line.clone();
    // An expired line whose grace is also over (grace 0, or a late run) closes in the same change.
    loop {
        let step = match current.state {
            LineState::Active => current.expire(by.clone()),
            LineState::Expired => current.close(by.clone()),
            _ => break,
        };
        match step {
            Ok((next, t)) => {
                events.push(NewEvent {
                    kind: t.step.as_str().into(),
                    from: Some(t.from),
                    to: Some(t.to),
                    detail: String::new(),
                    by: t.by.clone(),
                    policy_version: None,
                });
                current = next;
            }
            Err(LineError::NotYetExpired { .. } | LineError::GraceNotOver { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if events.is_empty() {
        return Ok(None);
    }
    let expired = events.iter().any(|e| e.to == Some(LineState::Expired));
    let closed = current.state == LineState::Closed;
    let mut change = LineChange::new(current.clone(), events.remove(0));
    change.events.extend(events);
    // Out of validity the line may not be used: barred in grace, deleted once closed.
    if closed {
        change.outbox.push(effects::network(
            NetworkOp::Deprovision,
            "closed",
            &current,
            now,
        ));
    } else if expired {
        change
            .outbox
            .push(effects::network(NetworkOp::Bar, "expired", &current, now));
        if let Some(holder) = current.holder {
            let grace_until = current
                .grace_ends_at
                .map(|t| format_jst(last_valid_second(t)))
                .unwrap_or_default();
            let language = languages.get(&holder).map(String::as_str).unwrap_or("en");
            change.outbox.push(effects::notice(
                Event::Expired,
                "validity",
                &current,
                holder,
                language,
                serde_json::json!({ "grace_until": grace_until }),
                now,
            ));
        }
    }
    Ok(Some(change))
}

/// Queues a reminder for every active line whose validity ends within its carrier's reminder
/// window. Keyed on the line and its end of validity (the store skips lines whose key is already
/// queued): a line is reminded once per validity.
pub async fn queue_reminders(
    store: &dyn Store,
    book: &super::policies::PolicyBook,
    now: Timestamp,
) -> ServiceResult<u64> {
    let widest = book.widest_reminder_hours();
    if widest == 0 {
        return Ok(0);
    }
    let horizon = now + jiff::SignedDuration::from_hours(i64::from(widest));
    let mut after = 0;
    let mut queued = 0;
    loop {
        let lines = store
            .lines_ending_between(now, horizon, after, BATCH)
            .await?;
        let Some(last) = lines.last() else { break };
        after = last.id.get();
        let holders: Vec<CustomerId> = lines.iter().filter_map(|l| l.holder).collect();
        let languages = store.customer_languages(&holders).await?;
        let mut messages = Vec::new();
        for line in lines {
            let (Some(holder), Some(ends)) = (line.holder, line.validity_ends_at) else {
                continue;
            };
            let Ok((policy, _)) = book.for_line(&line) else {
                continue;
            };
            let hours = policy.carrier.reminder_hours_before;
            if hours == 0 || ends > now + jiff::SignedDuration::from_hours(i64::from(hours)) {
                continue;
            }
            let left = ends.duration_since(now).as_secs().max(0) / 3600;
            messages.push(effects::notice(
                Event::ValidityReminder,
                &ends.as_microsecond().to_string(),
                &line,
                holder,
                languages.get(&holder).map(String::as_str).unwrap_or("en"),
                serde_json::json!({
                    "valid_until": format_jst(last_valid_second(ends)),
                    "hours": left.max(1).to_string(),
                }),
                now,
            ));
        }
        queued += messages.len() as u64;
        store.enqueue(&messages).await?;
    }
    Ok(queued)
}

/// Everything due at `now`, in order: lines expire and close, cancellations take effect, and the
/// outbox delivers their side effects.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DueReport {
    pub lines: JobReport,
    pub cancellations: super::cancellation::CompletionReport,
    pub outbox: super::outbox::DeliveryReport,
    pub privacy: super::privacy::SweepReport,
    /// Online-charging reservations of sessions that went silent, released.
    pub credit_released: u64,
}

pub async fn run_due(
    ctx: &super::ServiceContext,
    peers: &super::outbox::Peers,
    now: Timestamp,
) -> ServiceResult<DueReport> {
    let lines = run_once(ctx.store.as_ref(), now).await?;
    queue_reminders(ctx.store.as_ref(), &ctx.book, now).await?;
    let cancellations = super::cancellation::complete_due(ctx, now).await?;
    let outbox = super::outbox::deliver(ctx.store.as_ref(), peers, now).await?;
    let privacy = super::privacy::sweep(ctx, now).await?;
    let credit_released = super::charging::release_silent(ctx, now).await?;
    Ok(DueReport {
        lines,
        cancellations,
        outbox,
        privacy,
        credit_released,
    })
}

/// A request still waiting for identity when its line ends on its own has nothing left to
/// cancel: it is rejected with a reason, so it does not stay open for ever.
async fn reject_orphaned_request(
    store: &dyn Store,
    line_id: LineId,
    now: Timestamp,
) -> ServiceResult<()> {
    let Some(open) = store.open_request_for_line(line_id).await? else {
        return Ok(());
    };
    let by = Attribution::system(
        "expiry",
        now,
        "the line ended before the cancellation was approved",
    );
    let reason = "the line reached the end of its validity and grace before identity was confirmed; it has ended and nothing remains to cancel";
    // Someone else decided the request meanwhile: it is no longer open, and that is enough.
    match super::cancellation::reject_with(store, &open, reason, by, None).await {
        Ok(_) | Err(ServiceError::Busy | ServiceError::Cancellation(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
