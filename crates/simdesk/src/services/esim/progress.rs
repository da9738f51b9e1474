//! What the SM-DP+'s HandleDownloadProgressInfo notifications mean for a line's profile: each
//! kept once, the profile moved as the domain decides, each step written into the line's
//! history — whatever order and however often they arrive.

use super::super::lines::{find_line, plain_event};
use super::super::{ServiceError, ServiceResult};
use super::{esim_only, status_of};
use crate::store::{LineChange, LineKey, NewProgressReport, ProfileChange, Store, StoreError};
use jiff::Timestamp;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::esim::{
    CustomPoints, ExecutionStatus, NotificationPoint, ProfileState, ProgressReport, ReportOutcome,
    StatusCode,
};
use simdesk_domain::ids::{Eid, Iccid};
use simdesk_domain::validity::format_jst;

/// Tries before a line that keeps changing underneath is answered as busy (the SM-DP+ retries).
const ATTEMPTS: usize = 5;

/// A notification as the SM-DP+ sent it, not yet understood.
#[derive(Debug, Clone)]
pub struct Notification {
    pub iccid: String,
    pub eid: Option<String>,
    pub point_id: u32,
    pub status: String,
    pub status_code: Option<StatusCode>,
    /// `timestamp`: when the step happened, RFC 3339.
    pub timestamp: String,
}

/// What a notification came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Kept; the profile now stands at `state`.
    Kept {
        outcome: ReportOutcome,
        state: ProfileState,
    },
    /// The same notification was kept before: nothing changed.
    Duplicate,
}

/// Reads, keeps and applies one notification.
pub async fn heard(
    store: &dyn Store,
    points: &CustomPoints,
    n: &Notification,
    received_at: Timestamp,
) -> ServiceResult<Heard> {
    let iccid: Iccid = n
        .iccid
        .parse()
        .map_err(|e| ServiceError::Invalid(format!("iccid: {e}")))?;
    let eid: Option<Eid> = n
        .eid
        .as_deref()
        .map(|e| {
            e.parse()
                .map_err(|err| ServiceError::Invalid(format!("eid: {err}")))
        })
        .transpose()?;
    let report = ProgressReport {
        point: NotificationPoint::from_id(n.point_id, points)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?,
        status: ExecutionStatus::from_spec(&n.status)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?,
        status_code: n.status_code.clone(),
        at: n.timestamp.parse().map_err(|_| {
            ServiceError::Invalid(format!(
                "timestamp {:?} is not an instant such as 2026-12-04T09:30:00Z",
                n.timestamp.chars().take(40).collect::<String>()
            ))
        })?,
    };
    let by = Attribution::system("sm-dp+", received_at, "HandleDownloadProgressInfo");
    for _ in 0..ATTEMPTS {
        let line = find_line(store, &LineKey::Iccid(iccid.clone())).await?;
        esim_only(&line)?;
        let row = store.esim_profile(line.id).await?;
        let status = status_of(row.as_ref());
        let (next, outcome) = status.apply(&report);
        let when = format_jst(report.at);
        let event = match outcome {
            ReportOutcome::Moved { to, .. } => Some((
                "esim_progress",
                format!(
                    "the SM-DP+ reports the profile {to} ({} at {when})",
                    report.point
                ),
            )),
            ReportOutcome::Failed { point, .. } => Some((
                "esim_error",
                format!(
                    "the SM-DP+ reports that {point} failed at {when}{}",
                    failure_words(&report)
                ),
            )),
            ReportOutcome::Contradicts { state } => Some((
                "esim_contradiction",
                format!(
                    "the SM-DP+ reports {} at {when}, but simdesk holds the profile {state}; \
                     run `simdesk esim reconcile` to compare",
                    report.point
                ),
            )),
            ReportOutcome::AlreadyKnown => None,
        };
        let change = event.map(|(kind, detail)| {
            let mut change = LineChange::new(line.clone(), plain_event(kind, detail, &by, None));
            if !matches!(outcome, ReportOutcome::Contradicts { .. }) {
                change.esim = Some(ProfileChange {
                    status: next,
                    eid: eid.clone(),
                    // A call on its way stays so: its answer is recorded when it comes.
                    pending: row.as_ref().and_then(|p| p.pending),
                    activation_code: None,
                });
            }
            change
        });
        let kept = NewProgressReport {
            line: line.id,
            report: report.clone(),
            eid: eid.clone(),
            outcome: outcome_name(outcome),
            received_at,
        };
        match store.record_progress(&kept, change.as_ref()).await {
            Ok(true) => {
                return Ok(Heard::Kept {
                    outcome,
                    state: next.state,
                })
            }
            Ok(false) => return Ok(Heard::Duplicate),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ServiceError::Busy)
}

fn outcome_name(outcome: ReportOutcome) -> &'static str {
    match outcome {
        ReportOutcome::Moved { .. } => "moved",
        ReportOutcome::Failed { .. } => "failed",
        ReportOutcome::AlreadyKnown => "already_known",
        ReportOutcome::Contradicts { .. } => "contradicts",
    }
}

/// The SM-DP+'s reason for a failure, as its codes and words say it.
fn failure_words(report: &ProgressReport) -> String {
    let status = report.status.spec_value();
    match &report.status_code {
        Some(code) => format!(
            " ({status}, subject {} reason {}{})",
            code.subject_code,
            code.reason_code,
            code.message
                .as_deref()
                .map(|m| format!(": {}", m.chars().take(200).collect::<String>()))
                .unwrap_or_default()
        ),
        None => format!(" ({status})"),
    }
}
