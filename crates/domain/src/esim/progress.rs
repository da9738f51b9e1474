//! The SM-DP+'s HandleDownloadProgressInfo reports (notification points and their status) and how
//! they move a profile, whatever order and however often they arrive.

use super::activation::excerpt;
use super::*;
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
