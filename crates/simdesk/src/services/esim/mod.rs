//! Selling an eSIM: ordering a line's profile on the operator's SM-DP+ and recording what the
//! SM-DP+ answers, each decision with the line's history in one transaction.
//!
//! The ES2+ calls themselves go through the outbox ([`delivery`]): a decision queues them, and
//! their answers come back here to be recorded. Progress the SM-DP+ reports on its own (the
//! profile downloaded, installed, deleted) is read in [`progress`].

pub mod delivery;
pub mod progress;

use super::effects::{Effect, EsimCall, Occasion};
use super::lines::{find_line, plain_event, with_retry};
use super::{ServiceError, ServiceResult};
use crate::store::{LineChange, LineKey, ProfileChange, ProfileRow, Store};
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::esim::{self as profile, ProfileRequest, ProfileState, ProfileStatus};
use simdesk_domain::ids::Eid;
use simdesk_domain::line::{Line, LineKind};

/// What simdesk knows of a line's profile: `None` fields while nothing was ordered.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileView {
    pub line: i64,
    pub iccid: String,
    pub state: String,
    /// The ES2+ call on its way, if any (`download_order`, `cancel_order`).
    pub pending: Option<String>,
    pub eid: Option<String>,
    /// Whether the traveller's activation code is ready (it is shown to them only).
    pub activation_code_ready: bool,
    pub updated_at: Option<String>,
}

/// The profile's state as simdesk knows it: a profile never ordered is available.
pub fn status_of(row: Option<&ProfileRow>) -> ProfileStatus {
    row.map_or(ProfileState::Available.into(), |p| p.status)
}

/// The line's profile as shown to staff.
pub async fn show(store: &dyn Store, key: &LineKey) -> ServiceResult<ProfileView> {
    let line = find_line(store, key).await?;
    esim_only(&line)?;
    let row = store.esim_profile(line.id).await?;
    Ok(ProfileView {
        line: line.id.get(),
        iccid: line.iccid.to_string(),
        state: status_of(row.as_ref()).state.to_string(),
        pending: row
            .as_ref()
            .and_then(|p| p.pending)
            .map(|k| k.as_str().to_string()),
        eid: row
            .as_ref()
            .and_then(|p| p.eid.as_ref())
            .or(line.eid.as_ref())
            .map(|e| e.to_string()),
        activation_code_ready: row.as_ref().is_some_and(|p| p.has_code),
        updated_at: row
            .as_ref()
            .map(|p| simdesk_domain::validity::format_jst(p.updated_at)),
    })
}

fn esim_only(line: &Line) -> ServiceResult<()> {
    if line.kind == LineKind::Esim {
        Ok(())
    } else {
        Err(ServiceError::Invalid(format!(
            "line {} is a physical SIM card; only an eSIM line has a profile on the SM-DP+",
            line.msisdn.national()
        )))
    }
}

/// Orders the line's profile on the SM-DP+ for its registered traveller: DownloadOrder, then
/// ConfirmOrder with the release flag, queued together; the activation code comes back with
/// the answer. `eid` links the profile to one phone (only that phone can download it).
pub async fn order(
    store: &dyn Store,
    key: &LineKey,
    eid: Option<&str>,
    by: Attribution,
) -> ServiceResult<ProfileView> {
    let eid: Option<Eid> = eid
        .map(|e| {
            e.parse::<Eid>()
                .map_err(|err| ServiceError::Invalid(format!("EID: {err}")))
        })
        .transpose()?;
    let line = with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        let eid = eid.clone();
        Box::pin(async move {
            esim_only(&line)?;
            if line.holder.is_none()
                || line.ended_at.is_some()
                || line.state == simdesk_domain::line::LineState::PendingTermination
            {
                return Err(ServiceError::Invalid(format!(
                    "line {} is {}; a profile is ordered for a registered line that is not ending",
                    line.msisdn.national(),
                    line.state
                )));
            }
            let row = store.esim_profile(line.id).await?;
            if let Some(pending) = row.as_ref().and_then(|p| p.pending) {
                return Err(ServiceError::Invalid(format!(
                    "a {} call for this profile is still on its way to the SM-DP+; \
                     see `simdesk outbox list --kind esim.order` and wait for its answer",
                    pending.spec_name()
                )));
            }
            let status = status_of(row.as_ref());
            let request = ProfileRequest::DownloadOrder { eid: eid.clone() };
            profile::request(status.state, &request)
                .map_err(|e| ServiceError::Invalid(e.to_string()))?;
            let detail = match &eid {
                Some(eid) => format!(
                    "eSIM profile ordered on the SM-DP+ for the phone with EID {eid} \
                     (DownloadOrder, then ConfirmOrder with release)"
                ),
                None => "eSIM profile ordered on the SM-DP+ \
                         (DownloadOrder, then ConfirmOrder with release)"
                    .to_string(),
            };
            let at = by.at;
            let mut change =
                LineChange::new(line.clone(), plain_event("esim_order", detail, &by, None));
            change.esim = Some(ProfileChange {
                status,
                eid: eid.clone(),
                pending: Some(request.kind()),
                activation_code: None,
            });
            change.outbox.push(
                Effect::Esim {
                    call: EsimCall::Order,
                    occasion: Occasion::line(format!("order@{}", at.as_microsecond()), &line),
                    line: line.id,
                    iccid: line.iccid.to_string(),
                    eid: eid.map(|e| e.to_string()),
                    final_status: None,
                }
                .queue(at),
            );
            Ok(change)
        })
    })
    .await?;
    show(store, &LineKey::Id(line.id)).await
}
