//! The eSIM profile on the SM-DP+ (GSMA SGP.22 v2.x, ES2+): the states it goes through, the
//! orders simdesk may give for it, the progress the SM-DP+ reports back, and the activation code a
//! traveller scans to download it.
//!
//! simdesk is the Operator in SGP.22's terms. It asks the SM-DP+ to order, confirm, release and
//! cancel a profile ([`request`]) and hears through HandleDownloadProgressInfo how far a phone got
//! ([`report`]). Those notifications may arrive twice and out of order, so [`report`] keeps the
//! furthest step heard of rather than the last one delivered.

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

/// A step of the download procedure that the SM-DP+ reports (`notificationPointId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationPoint {
    /// 1: the phone's eligibility and the download retry limit were checked.
    Eligibility,
    /// 2: the confirmation code was checked; reported when its tries are used up.
    ConfirmationCode,
    /// 3: the bound profile package was downloaded.
    BppDownload,
    /// 4: the bound profile package was installed.
    BppInstallation,
    /// 5: the profile was deleted from the phone.
    Deletion,
    /// A point agreed with the SM-DP+ ([`CustomPoints`]): the profile was switched on.
    Enabling,
    /// A point agreed with the SM-DP+ ([`CustomPoints`]): the profile was switched off.
    Disabling,
}

impl NotificationPoint {
    pub const ALL: [NotificationPoint; 7] = [
        NotificationPoint::Eligibility,
        NotificationPoint::ConfirmationCode,
        NotificationPoint::BppDownload,
        NotificationPoint::BppInstallation,
        NotificationPoint::Deletion,
        NotificationPoint::Enabling,
        NotificationPoint::Disabling,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationPoint::Eligibility => "eligibility",
            NotificationPoint::ConfirmationCode => "confirmation_code",
            NotificationPoint::BppDownload => "bpp_download",
            NotificationPoint::BppInstallation => "bpp_installation",
            NotificationPoint::Deletion => "deletion",
            NotificationPoint::Enabling => "enabling",
            NotificationPoint::Disabling => "disabling",
        }
    }

    /// The point named by `notificationPointId`, or why simdesk does not know it.
    pub fn from_id(id: u32, custom: &CustomPoints) -> Result<NotificationPoint, ReportError> {
        match id {
            1 => Ok(NotificationPoint::Eligibility),
            2 => Ok(NotificationPoint::ConfirmationCode),
            3 => Ok(NotificationPoint::BppDownload),
            4 => Ok(NotificationPoint::BppInstallation),
            5 => Ok(NotificationPoint::Deletion),
            _ if custom.enabling == Some(id) => Ok(NotificationPoint::Enabling),
            _ if custom.disabling == Some(id) => Ok(NotificationPoint::Disabling),
            _ => Err(ReportError::UnknownPoint { id }),
        }
    }

    /// The `notificationPointId` for this point, if it has one.
    pub fn id(self, custom: &CustomPoints) -> Option<u32> {
        match self {
            NotificationPoint::Eligibility => Some(1),
            NotificationPoint::ConfirmationCode => Some(2),
            NotificationPoint::BppDownload => Some(3),
            NotificationPoint::BppInstallation => Some(4),
            NotificationPoint::Deletion => Some(5),
            NotificationPoint::Enabling => custom.enabling,
            NotificationPoint::Disabling => custom.disabling,
        }
    }

    /// The state a successful step proves the profile has reached.
    pub fn reached(self) -> ProfileState {
        match self {
            // Both checks run only on a released profile, when a phone starts the download.
            NotificationPoint::Eligibility | NotificationPoint::ConfirmationCode => {
                ProfileState::Released
            }
            NotificationPoint::BppDownload => ProfileState::Downloaded,
            NotificationPoint::BppInstallation => ProfileState::Installed,
            NotificationPoint::Deletion => ProfileState::Deleted,
            NotificationPoint::Enabling => ProfileState::Enabled,
            NotificationPoint::Disabling => ProfileState::Disabled,
        }
    }

    /// The furthest state a failure of this step still proves: the steps before it succeeded.
    ///
    /// The SM-DP+ reports a failure only when it ends the order (SGP.22 section 5.3.5), so a
    /// failure before anything reached a phone leaves the profile in `error`; a failed
    /// installation still means the package was downloaded, and a failed deletion or switch
    /// means the profile is installed.
    pub fn failed_at(self) -> ProfileState {
        match self {
            NotificationPoint::Eligibility
            | NotificationPoint::ConfirmationCode
            | NotificationPoint::BppDownload => ProfileState::Error,
            NotificationPoint::BppInstallation => ProfileState::Downloaded,
            NotificationPoint::Deletion
            | NotificationPoint::Enabling
            | NotificationPoint::Disabling => ProfileState::Installed,
        }
    }
}

impl fmt::Display for NotificationPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Notification points an operator has agreed with its SM-DP+ beyond those SGP.22 defines
/// (`[smdp]` settings). SGP.22 leaves ids from 100 up for such agreements; some SM-DP+s use them
/// to pass on the phone's switch-on and switch-off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPoints {
    pub enabling: Option<u32>,
    pub disabling: Option<u32>,
}

impl CustomPoints {
    /// SGP.22 reserves the ids below 100, and one id cannot mean two steps.
    pub fn validate(&self) -> Result<(), ReportError> {
        for id in [self.enabling, self.disabling].into_iter().flatten() {
            if id < FIRST_CUSTOM_POINT {
                return Err(ReportError::ReservedPoint { id });
            }
        }
        match (self.enabling, self.disabling) {
            (Some(a), Some(b)) if a == b => Err(ReportError::DuplicatePoint { id: a }),
            _ => Ok(()),
        }
    }
}

const FIRST_CUSTOM_POINT: u32 = 100;

/// How a reported step went (`notificationPointStatus.status`, SGP.22's ExecutionStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Success,
    SuccessWithWarning,
    Failed,
    /// The order ran out of time on the SM-DP+; for the profile, a failure.
    Expired,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 4] = [
        ExecutionStatus::Success,
        ExecutionStatus::SuccessWithWarning,
        ExecutionStatus::Failed,
        ExecutionStatus::Expired,
    ];

    /// The value as ES2+ carries it.
    pub fn spec_value(self) -> &'static str {
        match self {
            ExecutionStatus::Success => "Executed-Success",
            ExecutionStatus::SuccessWithWarning => "Executed-WithWarning",
            ExecutionStatus::Failed => "Failed",
            ExecutionStatus::Expired => "Expired",
        }
    }

    pub fn from_spec(value: &str) -> Result<ExecutionStatus, ReportError> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|s| s.spec_value() == value)
            .ok_or_else(|| ReportError::UnknownStatus {
                given: excerpt(value),
            })
    }

    /// Whether the step was carried out; a warning does not undo it.
    pub fn succeeded(self) -> bool {
        matches!(
            self,
            ExecutionStatus::Success | ExecutionStatus::SuccessWithWarning
        )
    }
}

/// Why a step went wrong, as the SM-DP+ says it (`statusCodeData`), e.g. subject "8.2.7"
/// (confirmation code) and reason "6.4" (maximum number of retries exceeded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCode {
    pub subject_code: String,
    pub reason_code: String,
    /// The SM-DP+'s own words, for the operator.
    pub message: Option<String>,
}

/// One HandleDownloadProgressInfo notification, as far as the profile's state is concerned. The
/// EID and ICCID that say which profile it is about stay with the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressReport {
    pub point: NotificationPoint,
    pub status: ExecutionStatus,
    pub status_code: Option<StatusCode>,
    /// When the SM-DP+ says the step was performed (`timestamp`).
    pub at: Timestamp,
}

impl ProgressReport {
    pub fn succeeded(&self) -> bool {
        self.status.succeeded()
    }
}

/// Why a notification cannot be read as a [`ProgressReport`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error(
        "notificationPointId {id} is neither one SGP.22 defines (1 to 5) nor one agreed with \
         the SM-DP+; ask the SM-DP+'s operator what it means and add it to the custom points \
         in [smdp]"
    )]
    UnknownPoint { id: u32 },
    #[error(
        "notificationPointStatus {given:?} is not an SGP.22 execution status \
         (Executed-Success, Executed-WithWarning, Failed or Expired)"
    )]
    UnknownStatus { given: String },
    #[error(
        "custom notification point {id} is reserved by SGP.22 (0 to 99); agree an id of 100 \
         or more with the SM-DP+"
    )]
    ReservedPoint { id: u32 },
    #[error(
        "custom notification point {id} is given for both enabling and disabling; \
         each needs its own id"
    )]
    DuplicatePoint { id: u32 },
}

/// What simdesk knows of a profile: its state, and when the SM-DP+ said it got there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileStatus {
    pub state: ProfileState,
    /// The `timestamp` of the report that moved the profile to `state`, or `None` when one of
    /// simdesk's own requests did. Only switch-on and switch-off reports need it, to tell which
    /// of them is newer; enabled and disabled are reached by reports only, so they always have
    /// it (without it, any switch report counts as newer).
    pub as_of: Option<Timestamp>,
}

impl From<ProfileState> for ProfileStatus {
    fn from(state: ProfileState) -> Self {
        ProfileStatus { state, as_of: None }
    }
}

impl ProfileStatus {
    /// The status after `progress`, with what the report meant.
    pub fn apply(self, progress: &ProgressReport) -> (ProfileStatus, ReportOutcome) {
        let outcome = report(self, progress);
        let next = match outcome {
            ReportOutcome::Moved { to, .. } => ProfileStatus {
                state: to,
                as_of: Some(progress.at),
            },
            ReportOutcome::Failed { to, .. } if to != self.state => ProfileStatus {
                state: to,
                as_of: Some(progress.at),
            },
            _ => self,
        };
        (next, outcome)
    }
}

/// What a progress report means for the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportOutcome {
    /// News: the profile moves on. For a switch `to` may equal `from`: the profile was switched
    /// on (or off) again, later than simdesk knew.
    Moved {
        from: ProfileState,
        to: ProfileState,
    },
    /// A step failed; record it. `to` is where the profile now stands: `error` when the order
    /// ended before reaching a phone, what the failure still proves (a failed installation
    /// proves a download), or unchanged when a later step is already known.
    Failed {
        point: NotificationPoint,
        from: ProfileState,
        to: ProfileState,
    },
    /// The step was passed or reported before: nothing changes.
    AlreadyKnown,
    /// The SM-DP+ reports progress of a profile simdesk holds as withdrawn for good. Nothing
    /// changes; the operator should reconcile with the SM-DP+.
    Contradicts { state: ProfileState },
}

/// What a HandleDownloadProgressInfo notification means for a profile in `status`.
///
/// Reports may arrive twice or out of order, so the furthest step wins (see
/// [`ProfileState::rank`]): a step already passed or the same report again changes nothing, a
/// later step moves forward even before the earlier ones arrive, a failure never moves the
/// profile backwards, and nothing follows a deletion.
pub fn report(status: ProfileStatus, progress: &ProgressReport) -> ReportOutcome {
    let from = status.state;
    if progress.succeeded() {
        let to = progress.point.reached();
        if from == ProfileState::Unavailable {
            return ReportOutcome::Contradicts { state: from };
        }
        let news = to.rank() > from.rank()
            || (to.is_switch() && from.is_switch() && newer_switch(progress.at, to, status));
        if news {
            ReportOutcome::Moved { from, to }
        } else {
            ReportOutcome::AlreadyKnown
        }
    } else {
        let proven = progress.point.failed_at();
        let point = progress.point;
        let unchanged = ReportOutcome::Failed {
            point,
            from,
            to: from,
        };
        match from {
            // A failure before any download proves no order simdesk knows of: it is left from an
            // order cancelled since, or belongs to one not recorded yet.
            ProfileState::Available | ProfileState::Unavailable
                if proven == ProfileState::Error =>
            {
                unchanged
            }
            ProfileState::Unavailable => ReportOutcome::Contradicts { state: from },
            _ if proven.rank() > from.rank() => ReportOutcome::Failed {
                point,
                from,
                to: proven,
            },
            _ => unchanged,
        }
    }
}

/// Whether a switch report at `at` is newer than the switch `status` holds. At the same instant
/// disabled wins, whichever came first, so that the order of delivery never decides.
fn newer_switch(at: Timestamp, to: ProfileState, status: ProfileStatus) -> bool {
    let weight = |state| u8::from(state == ProfileState::Disabled);
    match status.as_of {
        None => true,
        Some(known) => (at, weight(to)) > (known, weight(status.state)),
    }
}

/// The longest activation code SGP.22 allows (section 4.1).
pub const MAX_ACTIVATION_CODE_LEN: usize = 255;

/// What a QR code puts before the activation code (SGP.22 section 4.1).
pub const LPA_PREFIX: &str = "LPA:";

const MIN_CONFIRMATION_CODE_LEN: usize = 4;
const MAX_CONFIRMATION_CODE_LEN: usize = 16;
const MAX_FQDN_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// The reference that ties a phone's download to simdesk's order (SGP.22 section 4.1.1): upper-case
/// letters, digits and hyphens, e.g. `QR-G-5C-KR-1JXF5`.
///
/// Anyone who knows it and the SM-DP+'s address can download the traveller's profile, so it is a
/// secret: `Debug` hides it, there is no `Display` or serde, and [`MatchingId::expose`] is the one
/// way to the text, for the SM-DP+ and the traveller only.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MatchingId(String);

impl MatchingId {
    /// The matching ID itself, for ES2+ and the traveller's own pages and e-mail; never for logs,
    /// events or error texts.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MatchingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MatchingId(****)")
    }
}

impl FromStr for MatchingId {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        if text.is_empty() {
            return Err(CodeError::MatchingIdEmpty);
        }
        // Checked before the characters, which must not be echoed in an error.
        let len = text.chars().count();
        if len > MAX_ACTIVATION_CODE_LEN {
            return Err(CodeError::MatchingIdTooLong { len });
        }
        if let Some(position) = text
            .chars()
            .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'))
        {
            return Err(CodeError::MatchingIdCharacter {
                position: position + 1,
            });
        }
        Ok(MatchingId(text.to_owned()))
    }
}

/// The code a traveller types to confirm a download the operator protected with one (SGP.22
/// section 4.7): digits, so a phone's number pad will do.
///
/// With the activation code it unlocks the profile, so it is a secret like [`MatchingId`]: `Debug`
/// hides it and [`ConfirmationCode::expose`] is the one way to the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ConfirmationCode(String);

impl ConfirmationCode {
    /// The code itself, for ES2+ and the traveller; never for logs, events or error texts.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ConfirmationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConfirmationCode(****)")
    }
}

impl FromStr for ConfirmationCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        if let Some(position) = text.chars().position(|c| !c.is_ascii_digit()) {
            return Err(CodeError::ConfirmationCodeCharacter {
                position: position + 1,
            });
        }
        let len = text.len();
        if !(MIN_CONFIRMATION_CODE_LEN..=MAX_CONFIRMATION_CODE_LEN).contains(&len) {
            return Err(CodeError::ConfirmationCodeLength { len });
        }
        Ok(ConfirmationCode(text.to_owned()))
    }
}

/// The SM-DP+'s address in an activation code: a fully qualified domain name (SGP.22 section
/// 4.1), e.g. `SMDP.GSMA.COM`, with a port where a test SM-DP+ needs one. Kept as given, since
/// the letters' case does not matter to DNS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmdpAddress(String);

impl SmdpAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SmdpAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for SmdpAddress {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        if text.is_empty() {
            return Err(CodeError::AddressEmpty);
        }
        if text.contains("://") {
            return Err(CodeError::AddressScheme);
        }
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        if let Some(position) = host
            .chars()
            .position(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        {
            return Err(CodeError::AddressCharacter {
                position: position + 1,
            });
        }
        if host.len() > MAX_FQDN_LEN {
            return Err(CodeError::AddressTooLong { len: host.len() });
        }
        for (index, label) in host.split('.').enumerate() {
            let bad = label.is_empty()
                || label.len() > MAX_LABEL_LEN
                || label.starts_with('-')
                || label.ends_with('-');
            if bad {
                return Err(CodeError::AddressLabel { part: index + 1 });
            }
        }
        if !host.contains('.') {
            return Err(CodeError::AddressNotQualified);
        }
        if let Some(port) = port {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && !port.starts_with('0')
                && port.parse::<u32>().is_ok_and(|p| p <= u32::from(u16::MAX));
            if !valid {
                return Err(CodeError::AddressPort);
            }
        }
        Ok(SmdpAddress(text.to_owned()))
    }
}

/// The object identifier in the SM-DP+'s certificate (CERT.DPauth.ECDSA), which a phone checks
/// against the server it reaches, e.g. `1.3.6.1.4.1.31746`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SmdpOid(String);

impl SmdpOid {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SmdpOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl FromStr for SmdpOid {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, CodeError> {
        let mut arcs = text.split('.');
        let first_ok = arcs.next().is_some_and(|a| matches!(a, "0" | "1" | "2"));
        let mut rest = 0;
        let rest_ok = arcs.all(|arc| {
            rest += 1;
            !arc.is_empty()
                && arc.bytes().all(|b| b.is_ascii_digit())
                && (arc == "0" || !arc.starts_with('0'))
        });
        if first_ok && rest_ok && rest > 0 {
            Ok(SmdpOid(text.to_owned()))
        } else {
            Err(CodeError::Oid)
        }
    }
}

/// What a traveller scans or types to download their profile (SGP.22 section 4.1):
/// `1$<SM-DP+ address>$<matching ID>`, optionally followed by `$<SM-DP+ OID>` and `$1` when a
/// confirmation code is required.
///
/// It is a secret until used: whoever has it can download the traveller's profile. So `Debug`
/// shows the SM-DP+ address but not the matching ID, there is no `Display` or serde that a log
/// line or an event payload could pick up, and [`ActivationCode::render`] and
/// [`ActivationCode::lpa_uri`] are the only ways to the text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ActivationCode {
    smdp_address: SmdpAddress,
    matching_id: MatchingId,
    smdp_oid: Option<SmdpOid>,
    confirmation_code_required: bool,
}

impl ActivationCode {
    pub fn new(smdp_address: SmdpAddress, matching_id: MatchingId) -> Result<Self, CodeError> {
        ActivationCode {
            smdp_address,
            matching_id,
            smdp_oid: None,
            confirmation_code_required: false,
        }
        .checked()
    }

    /// The same code, asking the phone to check the SM-DP+'s certificate carries `oid`.
    pub fn with_smdp_oid(mut self, oid: SmdpOid) -> Result<Self, CodeError> {
        self.smdp_oid = Some(oid);
        self.checked()
    }

    /// The same code, telling the phone to ask the traveller for a confirmation code.
    pub fn with_confirmation_code_required(mut self) -> Result<Self, CodeError> {
        self.confirmation_code_required = true;
        self.checked()
    }

    fn checked(self) -> Result<Self, CodeError> {
        let len = self.render().chars().count();
        if len > MAX_ACTIVATION_CODE_LEN {
            Err(CodeError::TooLong { len })
        } else {
            Ok(self)
        }
    }

    pub fn smdp_address(&self) -> &SmdpAddress {
        &self.smdp_address
    }

    pub fn matching_id(&self) -> &MatchingId {
        &self.matching_id
    }

    pub fn smdp_oid(&self) -> Option<&SmdpOid> {
        self.smdp_oid.as_ref()
    }

    pub fn confirmation_code_required(&self) -> bool {
        self.confirmation_code_required
    }

    /// The code as a traveller types it by hand. A secret: for the traveller only.
    pub fn render(&self) -> String {
        let mut code = format!("1${}${}", self.smdp_address, self.matching_id.expose());
        match (&self.smdp_oid, self.confirmation_code_required) {
            (None, false) => {}
            (Some(oid), false) => code.push_str(&format!("${oid}")),
            (None, true) => code.push_str("$$1"),
            (Some(oid), true) => code.push_str(&format!("${oid}$1")),
        }
        code
    }

    /// The text a QR code carries: `LPA:` and the code. A secret: for the traveller only.
    pub fn lpa_uri(&self) -> String {
        format!("{LPA_PREFIX}{}", self.render())
    }
}

impl fmt::Debug for ActivationCode {
    // The matching ID is left out on purpose: a `{:?}` in a log line must not hand out the
    // traveller's profile.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivationCode")
            .field("smdp_address", &self.smdp_address.as_str())
            .field("matching_id", &format_args!("****"))
            .field("smdp_oid", &self.smdp_oid.as_ref().map(SmdpOid::as_str))
            .field(
                "confirmation_code_required",
                &self.confirmation_code_required,
            )
            .finish()
    }
}

impl FromStr for ActivationCode {
    type Err = CodeError;

    /// Reads a code as typed or as a QR code carries it (with `LPA:`); surrounding white space,
    /// which no part of a code may contain, is ignored.
    fn from_str(text: &str) -> Result<Self, CodeError> {
        let text = text.trim();
        let code = text.strip_prefix(LPA_PREFIX).unwrap_or(text);
        let len = code.chars().count();
        if len > MAX_ACTIVATION_CODE_LEN {
            return Err(CodeError::TooLong { len });
        }
        let fields: Vec<&str> = code.split('$').collect();
        if fields[0] != "1" {
            return Err(CodeError::UnsupportedFormat);
        }
        let (address, token, oid, flag) = match fields[1..] {
            [address, token] => (address, token, None, None),
            [address, token, oid] => (address, token, Some(oid), None),
            [address, token, oid, flag] => (address, token, Some(oid), Some(flag)),
            [] | [_] => return Err(CodeError::MissingFields),
            _ => {
                return Err(CodeError::TooManyFields {
                    found: fields.len(),
                })
            }
        };
        let smdp_address = address.parse()?;
        if token.is_empty() {
            return Err(CodeError::MissingMatchingId);
        }
        let matching_id = token.parse()?;
        let smdp_oid = match (oid, flag) {
            (Some(""), Some(_)) | (None, _) => None,
            (Some(""), None) => return Err(CodeError::EmptyField),
            (Some(oid), _) => Some(oid.parse()?),
        };
        let confirmation_code_required = match flag {
            None => false,
            Some("1") => true,
            Some("") => return Err(CodeError::EmptyField),
            Some(_) => return Err(CodeError::ConfirmationFlag),
        };
        Ok(ActivationCode {
            smdp_address,
            matching_id,
            smdp_oid,
            confirmation_code_required,
        })
    }
}

/// Why a text is not an activation code or one of its parts. No variant carries any of the text,
/// since a garbled code may hold a matching ID in any of its parts; an error can be logged and
/// shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error(
        "the activation code is {len} characters long; SGP.22 allows at most 255, \
         so choose a shorter matching ID"
    )]
    TooLong { len: usize },
    #[error(
        "the activation code does not start with \"1$\" (format 1, the only one SGP.22 v2 \
         defines); check it was copied whole, with nothing before it"
    )]
    UnsupportedFormat,
    #[error(
        "the activation code has too few parts; it reads 1$<SM-DP+ address>$<matching ID>, \
         the parts separated by $"
    )]
    MissingFields,
    #[error(
        "the activation code has {found} parts separated by $; SGP.22 defines at most 5 \
         (format, SM-DP+ address, matching ID, SM-DP+ OID, confirmation-code flag)"
    )]
    TooManyFields { found: usize },
    #[error(
        "the activation code has no matching ID; a code without one only works when the phone \
         finds its profile through an SM-DS, which simdesk does not use"
    )]
    MissingMatchingId,
    #[error("the activation code ends with an empty part; leave out the last $")]
    EmptyField,
    #[error(
        "the last part of the activation code, the confirmation-code flag, must be 1 \
         (or left out when no confirmation code is needed)"
    )]
    ConfirmationFlag,
    #[error("the matching ID is empty; the SM-DP+ gives one in its ConfirmOrder answer")]
    MatchingIdEmpty,
    #[error("the matching ID is {len} characters long; at most 255 fit in an activation code")]
    MatchingIdTooLong { len: usize },
    #[error(
        "the matching ID may contain only upper-case letters A-Z, digits and hyphens \
         (SGP.22 section 4.1.1); the character at position {position} is none of them"
    )]
    MatchingIdCharacter { position: usize },
    #[error(
        "a confirmation code is {MIN_CONFIRMATION_CODE_LEN} to {MAX_CONFIRMATION_CODE_LEN} \
         digits, got {len}"
    )]
    ConfirmationCodeLength { len: usize },
    #[error(
        "a confirmation code is digits only; the character at position {position} is not a digit"
    )]
    ConfirmationCodeCharacter { position: usize },
    #[error("the SM-DP+ address is empty; give its domain name, e.g. smdp.example.com")]
    AddressEmpty,
    #[error(
        "the SM-DP+ address is a domain name, not a URL; leave out the scheme (https://) \
         and any path"
    )]
    AddressScheme,
    #[error(
        "the SM-DP+ address may contain only letters, digits, hyphens and dots (and a port \
         after a colon); the character at position {position} is none of them"
    )]
    AddressCharacter { position: usize },
    #[error("the SM-DP+ address is {len} characters long; a domain name has at most 253")]
    AddressTooLong { len: usize },
    #[error(
        "part {part} of the SM-DP+ address is malformed: each part between dots is 1 to 63 \
         letters, digits or hyphens, not starting or ending with a hyphen"
    )]
    AddressLabel { part: usize },
    #[error(
        "the SM-DP+ address is not a fully qualified domain name; give the whole name, \
         e.g. smdp.example.com"
    )]
    AddressNotQualified,
    #[error("the SM-DP+ address's port is not a number from 1 to 65535")]
    AddressPort,
    #[error(
        "the SM-DP+ OID is not an object identifier such as 1.3.6.1.4.1.31746 \
         (numbers separated by dots, starting with 0, 1 or 2)"
    )]
    Oid,
}

/// Shortens echoed input so that an error about a pasted page stays one line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
#[path = "esim_tests.rs"]
mod tests;
