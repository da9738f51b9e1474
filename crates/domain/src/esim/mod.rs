//! The eSIM profile on the SM-DP+ (GSMA SGP.22 v2.x, ES2+): the states it goes through, the
//! orders simdesk may give for it, the progress the SM-DP+ reports back, and the activation code a
//! traveller scans to download it.
//!
//! simdesk is the Operator in SGP.22's terms. It asks the SM-DP+ to order, confirm, release and
//! cancel a profile ([`request`]) and hears through HandleDownloadProgressInfo how far a phone got
//! ([`report`]). Those notifications may arrive twice and out of order, so [`report`] keeps the
//! furthest step heard of rather than the last one delivered.

//! - `progress.rs`: the SM-DP+'s HandleDownloadProgressInfo reports and how they move a profile.
//! - `activation.rs`: the matching ID, confirmation code and activation code, kept secret.

mod activation;
mod progress;

pub use activation::*;
pub use progress::*;

use crate::attribution::UnknownName;
use crate::ids::Eid;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A profile's state on the SM-DP+ (SGP.22 section 3.1.6), followed by what the phone reports
/// after installation: switched on or off, deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileState {
    /// In the SM-DP+'s inventory, not ordered.
    Available,
    /// Reserved by DownloadOrder for a phone not known yet.
    Allocated,
    /// Reserved by DownloadOrder for one phone's eUICC (its EID).
    Linked,
    /// ConfirmOrder gave it a matching ID (and a confirmation code, if any); not downloadable yet.
    Confirmed,
    /// Ready for download: the activation code works from now on.
    Released,
    /// The order ended before the profile reached a phone: confirmation-code or download tries
    /// used up, the phone not eligible, or the traveller declined. Only CancelOrder follows.
    Error,
    /// The bound profile package was delivered to a phone.
    Downloaded,
    /// Installed on the phone's eUICC.
    Installed,
    /// Switched on in the phone.
    Enabled,
    /// Switched off in the phone, still installed.
    Disabled,
    /// Deleted from the phone. Final.
    Deleted,
    /// Withdrawn by CancelOrder; the SM-DP+ will never use it again. Final.
    Unavailable,
}

impl ProfileState {
    pub const ALL: [ProfileState; 12] = [
        ProfileState::Available,
        ProfileState::Allocated,
        ProfileState::Linked,
        ProfileState::Confirmed,
        ProfileState::Released,
        ProfileState::Error,
        ProfileState::Downloaded,
        ProfileState::Installed,
        ProfileState::Enabled,
        ProfileState::Disabled,
        ProfileState::Deleted,
        ProfileState::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProfileState::Available => "available",
            ProfileState::Allocated => "allocated",
            ProfileState::Linked => "linked",
            ProfileState::Confirmed => "confirmed",
            ProfileState::Released => "released",
            ProfileState::Error => "error",
            ProfileState::Downloaded => "downloaded",
            ProfileState::Installed => "installed",
            ProfileState::Enabled => "enabled",
            ProfileState::Disabled => "disabled",
            ProfileState::Deleted => "deleted",
            ProfileState::Unavailable => "unavailable",
        }
    }

    /// Final states: nothing leads out of them.
    pub fn is_final(self) -> bool {
        matches!(self, ProfileState::Deleted | ProfileState::Unavailable)
    }

    /// Whether the profile has reached a phone. Sellers cancel and refund cleanly only before
    /// that; afterwards the line has to end on the network.
    pub fn was_downloaded(self) -> bool {
        matches!(
            self,
            ProfileState::Downloaded
                | ProfileState::Installed
                | ProfileState::Enabled
                | ProfileState::Disabled
                | ProfileState::Deleted
        )
    }

    /// How far the download procedure has got, to tell a stale or repeated report from news.
    ///
    /// The SM-DP+'s procedure only runs forward, and each step implies every step before it (an
    /// installed profile was downloaded, a download needed a release), while its notifications may
    /// come twice or out of order. So simdesk keeps the furthest step it has heard of: a report
    /// that does not rank above the current state tells nothing new. `error` ranks just above
    /// `released` because it ends an order that never reached a phone, and a download reported
    /// late must still win over it. Enabled and disabled share a rank because a traveller switches
    /// a profile on and off many times; between those two only the reports' times tell which is
    /// newer. The final states rank highest, so no report leads out of them.
    pub fn rank(self) -> u8 {
        match self {
            ProfileState::Available => 0,
            ProfileState::Allocated | ProfileState::Linked => 1,
            ProfileState::Confirmed => 2,
            ProfileState::Released => 3,
            ProfileState::Error => 4,
            ProfileState::Downloaded => 5,
            ProfileState::Installed => 6,
            ProfileState::Enabled | ProfileState::Disabled => 7,
            ProfileState::Deleted | ProfileState::Unavailable => 8,
        }
    }

    fn is_switch(self) -> bool {
        matches!(self, ProfileState::Enabled | ProfileState::Disabled)
    }
}

impl fmt::Display for ProfileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProfileState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "profile state",
                    s,
                    "available, allocated, linked, confirmed, released, error, downloaded, \
                     installed, enabled, disabled, deleted, unavailable",
                )
            })
    }
}

/// Where CancelOrder leaves the profile (`finalProfileStatusIndicator`); the carrier's policy
/// chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalProfileStatus {
    /// Back to the SM-DP+'s inventory, to be sold again.
    Available,
    /// Never used again.
    Unavailable,
}

impl FinalProfileStatus {
    pub const ALL: [FinalProfileStatus; 2] = [
        FinalProfileStatus::Available,
        FinalProfileStatus::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FinalProfileStatus::Available => "available",
            FinalProfileStatus::Unavailable => "unavailable",
        }
    }

    /// The value ES2+ sends as `finalProfileStatusIndicator`.
    pub fn spec_value(self) -> &'static str {
        match self {
            FinalProfileStatus::Available => "Available",
            FinalProfileStatus::Unavailable => "Unavailable",
        }
    }

    /// The profile's state once the cancellation is done.
    pub fn state(self) -> ProfileState {
        match self {
            FinalProfileStatus::Available => ProfileState::Available,
            FinalProfileStatus::Unavailable => ProfileState::Unavailable,
        }
    }
}

impl fmt::Display for FinalProfileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FinalProfileStatus {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FinalProfileStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| UnknownName::new("final profile status", s, "available, unavailable"))
    }
}

/// What simdesk asks the SM-DP+ to do with a profile: the Operator's ES2+ functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileRequest {
    /// Reserve the profile; with the phone's EID it is linked to that phone.
    DownloadOrder { eid: Option<Eid> },
    /// Give the order its matching ID; `release` (`releaseFlag`) makes it downloadable at once.
    ConfirmOrder { release: bool },
    /// Make a confirmed order downloadable, e.g. once the line is set up on the network.
    ReleaseProfile,
    /// Withdraw an order nobody has downloaded.
    CancelOrder { final_status: FinalProfileStatus },
}

impl ProfileRequest {
    pub fn kind(&self) -> RequestKind {
        match self {
            ProfileRequest::DownloadOrder { .. } => RequestKind::DownloadOrder,
            ProfileRequest::ConfirmOrder { .. } => RequestKind::ConfirmOrder,
            ProfileRequest::ReleaseProfile => RequestKind::ReleaseProfile,
            ProfileRequest::CancelOrder { .. } => RequestKind::CancelOrder,
        }
    }
}

/// Which ES2+ function a [`ProfileRequest`] calls, without its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    DownloadOrder,
    ConfirmOrder,
    ReleaseProfile,
    CancelOrder,
}

impl RequestKind {
    pub const ALL: [RequestKind; 4] = [
        RequestKind::DownloadOrder,
        RequestKind::ConfirmOrder,
        RequestKind::ReleaseProfile,
        RequestKind::CancelOrder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::DownloadOrder => "download_order",
            RequestKind::ConfirmOrder => "confirm_order",
            RequestKind::ReleaseProfile => "release_profile",
            RequestKind::CancelOrder => "cancel_order",
        }
    }

    /// The function's name in SGP.22, as operators and SM-DP+ logs know it.
    pub fn spec_name(self) -> &'static str {
        match self {
            RequestKind::DownloadOrder => "DownloadOrder",
            RequestKind::ConfirmOrder => "ConfirmOrder",
            RequestKind::ReleaseProfile => "ReleaseProfile",
            RequestKind::CancelOrder => "CancelOrder",
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.spec_name())
    }
}

/// Why simdesk will not ask the SM-DP+ for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EsimError {
    #[error(
        "{request} needs an ordered profile, but this one is available (not ordered); \
         send DownloadOrder first"
    )]
    NotOrdered { request: RequestKind },
    #[error(
        "the profile is already ordered ({state}); confirm or cancel that order instead of \
         ordering it again"
    )]
    AlreadyOrdered { state: ProfileState },
    #[error(
        "the order is already confirmed ({state}); release the profile, or cancel the order to \
         start again"
    )]
    AlreadyConfirmed { state: ProfileState },
    #[error("the order is not confirmed yet ({state}); send ConfirmOrder first")]
    NotConfirmed { state: ProfileState },
    #[error(
        "the profile's last download failed on the SM-DP+, so {request} cannot follow; \
         cancel the order (CancelOrder), then order the profile again"
    )]
    DownloadFailed { request: RequestKind },
    #[error(
        "the profile is {state}: it has reached a phone, so its order can no longer be changed \
         by {request}; end the line on the network instead"
    )]
    AlreadyDownloaded {
        state: ProfileState,
        request: RequestKind,
    },
    #[error(
        "the profile was deleted from the phone and can never be used again; \
         the traveller needs a new eSIM"
    )]
    Deleted,
    #[error("the SM-DP+ will never use this profile again (unavailable); order another ICCID")]
    Unavailable,
}

/// The state the SM-DP+ moves a profile to when it carries out `req`, or why simdesk must not ask.
///
/// Only what SGP.22 allows from `state` is accepted, so a request refused here never reaches the
/// SM-DP+ to be refused there. ReleaseProfile on a released profile is accepted and changes
/// nothing, as the SM-DP+ answers it (SGP.22 section 5.3.4), so a retried call stays harmless.
pub fn request(state: ProfileState, req: &ProfileRequest) -> Result<ProfileState, EsimError> {
    use ProfileRequest as R;
    use ProfileState as S;
    let request = req.kind();
    match (req, state) {
        (_, S::Deleted) => Err(EsimError::Deleted),
        (_, S::Unavailable) => Err(EsimError::Unavailable),
        (_, S::Downloaded | S::Installed | S::Enabled | S::Disabled) => {
            Err(EsimError::AlreadyDownloaded { state, request })
        }

        (R::DownloadOrder { eid }, S::Available) => Ok(if eid.is_some() {
            S::Linked
        } else {
            S::Allocated
        }),
        (R::DownloadOrder { .. }, S::Allocated | S::Linked | S::Confirmed | S::Released) => {
            Err(EsimError::AlreadyOrdered { state })
        }

        (R::ConfirmOrder { release }, S::Allocated | S::Linked) => {
            Ok(if *release { S::Released } else { S::Confirmed })
        }
        (R::ConfirmOrder { .. }, S::Confirmed | S::Released) => {
            Err(EsimError::AlreadyConfirmed { state })
        }

        (R::ReleaseProfile, S::Confirmed | S::Released) => Ok(S::Released),
        (R::ReleaseProfile, S::Allocated | S::Linked) => Err(EsimError::NotConfirmed { state }),

        (
            R::CancelOrder { final_status },
            S::Allocated | S::Linked | S::Confirmed | S::Released | S::Error,
        ) => Ok(final_status.state()),

        (R::ConfirmOrder { .. } | R::ReleaseProfile | R::CancelOrder { .. }, S::Available) => {
            Err(EsimError::NotOrdered { request })
        }
        (R::DownloadOrder { .. } | R::ConfirmOrder { .. } | R::ReleaseProfile, S::Error) => {
            Err(EsimError::DownloadFailed { request })
        }
    }
}

#[cfg(test)]
#[path = "../esim_tests.rs"]
mod tests;
