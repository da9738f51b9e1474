//! Carrying a line's queued ES2+ calls to the SM-DP+ and recording what it answered.
//!
//! Each call's `functionCallIdentifier` is the outbox row's key (with the step for a two-call
//! effect), so a retry after a lost answer gets the SM-DP+'s first answer again instead of a
//! second order. Recording an answer already recorded changes nothing.

use super::super::effects::EsimCall;
use super::super::lines::{find_line, plain_event};
use super::status_of;
use crate::adapters::smdp::{Es2Plus, FinalStatus};
use crate::adapters::PeerError;
use crate::store::{LineChange, LineKey, OutboxRow, ProfileChange, Store, StoreError};
use jiff::Timestamp;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::esim::{ActivationCode, FinalProfileStatus, ProfileState, RequestKind};
use simdesk_domain::ids::{Eid, LineId};

/// Tries before a line that keeps changing underneath is left for the outbox's next round.
const ATTEMPTS: usize = 5;

/// Delivers one eSIM outbox row.
pub async fn deliver(
    store: &dyn Store,
    smdp: &dyn Es2Plus,
    row: &OutboxRow,
    call: EsimCall,
    now: Timestamp,
) -> Result<(), PeerError> {
    let text = |field: &str| row.payload.get(field).and_then(|v| v.as_str());
    let iccid = text("iccid").unwrap_or_default();
    let eid = text("eid");
    let line = row
        .payload
        .get("line")
        .and_then(|v| v.as_i64())
        .map(LineId::new)
        .ok_or_else(|| PeerError::Refused(format!("{} names no line", row.kind)))?;
    let key = &row.idempotency_key;
    match call {
        EsimCall::Order => {
            smdp.download_order(&format!("{key}#download"), iccid, eid)
                .await?;
            let confirmed = smdp
                .confirm_order(&format!("{key}#confirm"), iccid, eid, true)
                .await?;
            let code = confirmed
                .smdp_address
                .parse()
                .map_err(|e| format!("its smdpAddress: {e}"))
                .and_then(|address| {
                    confirmed
                        .matching_id
                        .parse()
                        .map_err(|e| format!("its matchingId: {e}"))
                        .and_then(|id| ActivationCode::new(address, id).map_err(|e| e.to_string()))
                })
                .map_err(|why| {
                    PeerError::Refused(format!(
                        "the SM-DP+ confirmed the order of {iccid}, but {why}; ask its owner"
                    ))
                })?;
            let eid = confirmed
                .eid
                .as_deref()
                .or(eid)
                .and_then(|e| e.parse().ok());
            record(store, line, Answer::Released { code, eid }, now).await?;
        }
        EsimCall::Cancel => {
            let final_status: FinalProfileStatus = text("final_status")
                .unwrap_or("available")
                .parse()
                .map_err(|e| PeerError::Refused(format!("{} row: {e}", row.kind)))?;
            // CancelOrder names the order by its matching ID where there is one.
            let code = store.activation_code(line).await?;
            let matching_id = code.as_ref().map(|c| c.matching_id().expose());
            smdp.cancel_order(
                key,
                iccid,
                eid,
                matching_id,
                match final_status {
                    FinalProfileStatus::Available => FinalStatus::Available,
                    FinalProfileStatus::Unavailable => FinalStatus::Unavailable,
                },
            )
            .await?;
            record(store, line, Answer::Cancelled(final_status), now).await?;
        }
    }
    Ok(())
}

/// What the SM-DP+ answered, as it changes the profile.
enum Answer {
    Released {
        code: ActivationCode,
        eid: Option<Eid>,
    },
    Cancelled(FinalProfileStatus),
}

impl Answer {
    /// The call whose answer this is.
    fn answers(&self) -> RequestKind {
        match self {
            Answer::Released { .. } => RequestKind::DownloadOrder,
            Answer::Cancelled(_) => RequestKind::CancelOrder,
        }
    }
}

/// Writes the answer into the profile and the line's history, once.
async fn record(
    store: &dyn Store,
    line: LineId,
    answer: Answer,
    now: Timestamp,
) -> Result<(), PeerError> {
    let by = Attribution::system("sm-dp+", now, "answer to an ES2+ call");
    for _ in 0..ATTEMPTS {
        let current = find_line(store, &LineKey::Id(line))
            .await
            .map_err(|e| PeerError::Unavailable(e.to_string()))?;
        let row = store.esim_profile(line).await?;
        // Recorded already: this delivery is a retry after the answer was kept.
        if row.as_ref().and_then(|p| p.pending) != Some(answer.answers()) {
            return Ok(());
        }
        let status = status_of(row.as_ref());
        let (state, eid, code, kind, detail) = match &answer {
            Answer::Released { code, eid } => (
                ProfileState::Released,
                eid.clone(),
                Some(code.clone()),
                "esim_released",
                "the SM-DP+ confirmed the order and released the profile: \
                 the traveller can download it with the activation code"
                    .to_string(),
            ),
            Answer::Cancelled(final_status) => (
                final_status.state(),
                None,
                None,
                "esim_order_cancelled",
                format!(
                    "the SM-DP+ cancelled the order; the profile is now {}",
                    final_status.state()
                ),
            ),
        };
        let mut change = LineChange::new(current, plain_event(kind, detail, &by, None));
        change.esim = Some(ProfileChange {
            status: simdesk_domain::esim::ProfileStatus {
                state,
                as_of: if state == status.state {
                    status.as_of
                } else {
                    None
                },
            },
            eid,
            pending: None,
            activation_code: code,
        });
        match store.apply(&change).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(PeerError::Unavailable(format!(
        "line {line} kept changing while the SM-DP+'s answer was recorded; it is tried again"
    )))
}
