//! The SM-DP+'s profile store and the profile's state machine.
//!
//! States follow SGP.22 §3.1 / §5.3 as the SM-DP+ sees a profile: available → allocated (no EID)
//! or linked (EID given) by DownloadOrder → confirmed or released by ConfirmOrder (released when
//! `releaseFlag` is true, or later by ReleaseProfile) → downloaded → installed by the eUICC, then
//! enabled/disabled and deleted as the eUICC's notifications report. CancelOrder takes an order
//! that was not downloaded back to available or unavailable.
//!
//! Everything here is synchronous and free of I/O so the HTTP layer only locks, calls and
//! answers.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::es2p::{self, point, reason, subject, Function, StatusCodeData};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileState {
    Available,
    Allocated,
    Linked,
    Confirmed,
    Released,
    Downloaded,
    Installed,
    Enabled,
    Disabled,
    Deleted,
    Unavailable,
}

impl ProfileState {
    pub fn name(self) -> &'static str {
        match self {
            ProfileState::Available => "available",
            ProfileState::Allocated => "allocated",
            ProfileState::Linked => "linked",
            ProfileState::Confirmed => "confirmed",
            ProfileState::Released => "released",
            ProfileState::Downloaded => "downloaded",
            ProfileState::Installed => "installed",
            ProfileState::Enabled => "enabled",
            ProfileState::Disabled => "disabled",
            ProfileState::Deleted => "deleted",
            ProfileState::Unavailable => "unavailable",
        }
    }

    /// An order exists and nothing has been downloaded yet: what CancelOrder may undo.
    fn ordered_not_downloaded(self) -> bool {
        matches!(
            self,
            ProfileState::Allocated
                | ProfileState::Linked
                | ProfileState::Confirmed
                | ProfileState::Released
        )
    }

    /// The eUICC has (or had) the profile.
    fn downloaded(self) -> bool {
        matches!(
            self,
            ProfileState::Downloaded
                | ProfileState::Installed
                | ProfileState::Enabled
                | ProfileState::Disabled
        )
    }
}

/// One change of state, kept so a test can see how a profile got where it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub state: ProfileState,
    pub at: String,
    /// The ES2+ function or control action that made the change.
    pub by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub iccid: String,
    pub profile_type: String,
    pub state: ProfileState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matching_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smds_address: Option<String>,
    #[serde(default)]
    pub history: Vec<Step>,
}

impl Profile {
    pub fn new(iccid: String, profile_type: String) -> Self {
        Self {
            iccid,
            profile_type,
            state: ProfileState::Available,
            eid: None,
            matching_id: None,
            confirmation_code: None,
            smds_address: None,
            history: Vec::new(),
        }
    }

    fn go(&mut self, state: ProfileState, at: Timestamp, by: &str) {
        self.state = state;
        self.history.push(Step {
            state,
            at: format_timestamp(at),
            by: by.to_string(),
        });
    }

    fn clear_order(&mut self) {
        self.eid = None;
        self.matching_id = None;
        self.confirmation_code = None;
        self.smds_address = None;
    }

    /// What `GET /test/profiles/{iccid}` shows: the stored profile without the confirmation
    /// code itself, which only the end user should know.
    pub fn view(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("a profile serialises");
        if let Value::Object(map) = &mut v {
            map.remove("confirmationCode");
            map.insert(
                "hasConfirmationCode".into(),
                json!(self.confirmation_code.is_some()),
            );
        }
        v
    }
}

/// The W3C form SGP.22 uses for timestamps: `YYYY-MM-DDThh:mm:ssZ`.
pub fn format_timestamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A HandleDownloadProgressInfo the SM-DP+ owes the operator after a control action.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub iccid: String,
    pub eid: Option<String>,
    pub profile_type: String,
    pub timestamp: String,
    pub point: u32,
    /// `None` for Executed-Success; the failure's status code data otherwise.
    pub failure: Option<StatusCodeData>,
}

/// Why a control action was refused; the HTTP layer maps these to 404, 409 and 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    UnknownIccid(String),
    WrongState(String),
    BadRequest(String),
}

/// What the eUICC is made to do through the control API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Download,
    Install,
    Enable,
    Disable,
    Delete,
}

impl Action {
    pub fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "download" => Action::Download,
            "install" => Action::Install,
            "enable" => Action::Enable,
            "disable" => Action::Disable,
            "delete" => Action::Delete,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Download => "download",
            Action::Install => "install",
            Action::Enable => "enable",
            Action::Disable => "disable",
            Action::Delete => "delete",
        }
    }
}

/// How a control action should go.
#[derive(Debug, Clone, Default)]
pub struct ActionOptions {
    /// The EID of the eUICC that downloads (download only); one is made up when neither this
    /// nor the order names one.
    pub eid: Option<String>,
    /// Report installed before downloaded (install only, from a released profile).
    pub out_of_order: bool,
    /// Report the step as failed with this code instead of moving the profile.
    pub fail: Option<StatusCodeData>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Store {
    profiles: BTreeMap<String, Profile>,
}

/// The fields of a request body, read with ES2+'s error codes for missing or mistyped ones.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn string(&self, name: &str) -> Result<Option<String>, StatusCodeData> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(StatusCodeData::new(
                subject::PROTOCOL_FORMAT,
                reason::INVALID,
                format!("{name} must be a string"),
            )
            .about(name)),
        }
    }

    fn required_string(&self, name: &str) -> Result<String, StatusCodeData> {
        self.string(name)?.ok_or_else(|| missing(name))
    }

    fn required_bool(&self, name: &str) -> Result<bool, StatusCodeData> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(missing(name)),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(StatusCodeData::new(
                subject::PROTOCOL_FORMAT,
                reason::INVALID,
                format!("{name} must be a boolean"),
            )
            .about(name)),
        }
    }

    fn iccid(&self) -> Result<Option<String>, StatusCodeData> {
        self.string("iccid")?
            .map(|raw| {
                es2p::normalize_iccid(&raw).ok_or_else(|| {
                    StatusCodeData::new(
                        subject::PROFILE_ICCID,
                        reason::INVALID,
                        "an ICCID is 18 to 20 digits, the 20th possibly the padding F",
                    )
                    .about(raw)
                })
            })
            .transpose()
    }

    fn eid(&self) -> Result<Option<String>, StatusCodeData> {
        let eid = self.string("eid")?;
        if let Some(eid) = &eid {
            if !es2p::eid_valid(eid) {
                return Err(StatusCodeData::new(
                    subject::EID,
                    reason::INVALID,
                    "an EID is 32 digits whose value modulo 97 is 1",
                )
                .about(eid.clone()));
            }
        }
        Ok(eid)
    }
}

/// A mandatory element is absent: SGP.22's "Mandatory Element Missing" about that element.
fn missing(name: &str) -> StatusCodeData {
    let subject = match name {
        "iccid" | "finalProfileStatusIndicator" => subject::PROFILE_ICCID,
        "eid" => subject::EID,
        "matchingId" => subject::MATCHING_ID,
        "profileType" => subject::PROFILE_TYPE,
        _ => subject::PROTOCOL_FORMAT,
    };
    StatusCodeData::new(
        subject,
        reason::MANDATORY_ELEMENT_MISSING,
        format!("{name} is missing"),
    )
}

fn unknown_iccid(iccid: &str) -> StatusCodeData {
    StatusCodeData::new(
        subject::PROFILE_ICCID,
        reason::UNKNOWN,
        "no profile with this ICCID",
    )
    .about(iccid)
}

impl Store {
    /// A store with these profiles, all available.
    pub fn with_profiles(profiles: Vec<(String, String)>) -> anyhow::Result<Self> {
        let mut store = Store::default();
        for (iccid, profile_type) in profiles {
            let canonical = es2p::normalize_iccid(&iccid)
                .with_context(|| format!("{iccid} is not an ICCID (18 to 20 digits)"))?;
            if store.profiles.contains_key(&canonical) {
                bail!("ICCID {canonical} is listed twice");
            }
            store
                .profiles
                .insert(canonical.clone(), Profile::new(canonical, profile_type));
        }
        Ok(store)
    }

    /// Takes over the states of profiles saved earlier (a `--state` file), and any profiles
    /// that are only there.
    pub fn merge_saved(&mut self, saved: Store) {
        self.profiles.extend(saved.profiles);
    }

    pub fn get(&self, iccid: &str) -> Option<&Profile> {
        let iccid = es2p::normalize_iccid(iccid)?;
        self.profiles.get(&iccid)
    }

    pub fn all(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// Executes an ES2+ function; the output fields on success, the status code data of the
    /// failure otherwise.
    pub fn execute(
        &mut self,
        function: Function,
        body: &Map<String, Value>,
        now: Timestamp,
        smdp_address: &str,
        new_matching_id: &mut dyn FnMut() -> String,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let fields = Fields(body);
        match function {
            Function::DownloadOrder => self.download_order(&fields, now),
            Function::ConfirmOrder => {
                self.confirm_order(&fields, now, smdp_address, new_matching_id)
            }
            Function::CancelOrder => self.cancel_order(&fields, now),
            Function::ReleaseProfile => self.release_profile(&fields, now),
        }
    }

    /// SGP.22 §5.3.1: reserves a profile, by ICCID or by profile type, for an EID if given.
    fn download_order(
        &mut self,
        fields: &Fields,
        now: Timestamp,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let eid = fields.eid()?;
        let iccid = fields.iccid()?;
        let profile_type = fields.string("profileType")?;
        let type_known = |t: &str| self.profiles.values().any(|p| p.profile_type == t);
        if let Some(t) = &profile_type {
            if !type_known(t) {
                return Err(StatusCodeData::new(
                    subject::PROFILE_TYPE,
                    reason::UNKNOWN,
                    "no profile of this profile type",
                )
                .about(t.clone()));
            }
        }
        let iccid = match (iccid, profile_type) {
            (Some(iccid), profile_type) => {
                let profile = self
                    .profiles
                    .get(&iccid)
                    .ok_or_else(|| unknown_iccid(&iccid))?;
                if let Some(t) = profile_type {
                    if t != profile.profile_type {
                        return Err(StatusCodeData::new(
                            subject::PROFILE_TYPE,
                            reason::REFUSED,
                            format!(
                                "the profile with this ICCID is of profile type {}",
                                profile.profile_type
                            ),
                        )
                        .about(t));
                    }
                }
                if profile.state != ProfileState::Available {
                    return Err(StatusCodeData::new(
                        subject::PROFILE_ICCID,
                        reason::ALREADY_IN_USE,
                        format!(
                            "the profile is not available: it is {}",
                            profile.state.name()
                        ),
                    )
                    .about(iccid));
                }
                iccid
            }
            (None, Some(t)) => self
                .profiles
                .values()
                .find(|p| p.profile_type == t && p.state == ProfileState::Available)
                .map(|p| p.iccid.clone())
                .ok_or_else(|| {
                    StatusCodeData::new(
                        subject::PROFILE_TYPE,
                        reason::UNAVAILABLE,
                        "no more profile available for this profile type",
                    )
                    .about(t)
                })?,
            (None, None) => {
                return Err(StatusCodeData::new(
                    subject::PROFILE_ICCID,
                    reason::CONDITIONAL_ELEMENT_MISSING,
                    "either iccid or profileType is required",
                ))
            }
        };
        let profile = self.profiles.get_mut(&iccid).expect("found above");
        profile.clear_order();
        let state = if eid.is_some() {
            ProfileState::Linked
        } else {
            ProfileState::Allocated
        };
        profile.eid = eid;
        profile.go(state, now, Function::DownloadOrder.name());
        let mut out = Map::new();
        out.insert("iccid".into(), json!(iccid));
        Ok(out)
    }

    /// SGP.22 §5.3.2: fixes the matching ID (generated when not given) and releases the profile
    /// for download when `releaseFlag` is true.
    fn confirm_order(
        &mut self,
        fields: &Fields,
        now: Timestamp,
        smdp_address: &str,
        new_matching_id: &mut dyn FnMut() -> String,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let iccid = fields.iccid()?.ok_or_else(|| missing("iccid"))?;
        let eid = fields.eid()?;
        let matching_id = fields.string("matchingId")?;
        let confirmation_code = fields.string("confirmationCode")?;
        let smds_address = fields.string("smdsAddress")?;
        let release = fields.required_bool("releaseFlag")?;

        let profile = self
            .profiles
            .get(&iccid)
            .ok_or_else(|| unknown_iccid(&iccid))?;
        if !matches!(
            profile.state,
            ProfileState::Allocated | ProfileState::Linked
        ) {
            return Err(StatusCodeData::new(
                subject::PROFILE_ICCID,
                reason::INVALID_TRANSITION,
                format!(
                    "ConfirmOrder needs an allocated or linked profile; it is {}",
                    profile.state.name()
                ),
            )
            .about(iccid));
        }
        if let (Some(linked), Some(given)) = (&profile.eid, &eid) {
            if linked != given {
                return Err(StatusCodeData::new(
                    subject::EID,
                    reason::INVALID_ASSOCIATION,
                    "a different EID is already associated with this ICCID",
                )
                .about(given.clone()));
            }
        }
        let eid = eid.or_else(|| profile.eid.clone());
        // The default SM-DP+ and SM-DS flows find the profile by EID, so they need one.
        let needs_eid = smds_address.is_some() || matching_id.as_deref() == Some("");
        if needs_eid && eid.is_none() {
            return Err(StatusCodeData::new(
                subject::EID,
                reason::MANDATORY_ELEMENT_MISSING,
                "an EID is required when smdsAddress is given or matchingId is empty",
            ));
        }
        let matching_id = match matching_id {
            Some(id) if id.is_empty() => id,
            Some(id) => {
                if !es2p::matching_id_valid(&id) {
                    return Err(StatusCodeData::new(
                        subject::MATCHING_ID,
                        reason::INVALID,
                        "a matching ID is made of upper-case letters, digits and '-'",
                    )
                    .about(id));
                }
                if self.matching_id_taken(&id, &iccid) {
                    return Err(StatusCodeData::new(
                        subject::MATCHING_ID,
                        reason::ALREADY_IN_USE,
                        "this matching ID is already in use at the SM-DP+",
                    )
                    .about(id));
                }
                id
            }
            None => loop {
                let id = new_matching_id();
                if !self.matching_id_taken(&id, &iccid) {
                    break id;
                }
            },
        };

        let profile = self.profiles.get_mut(&iccid).expect("found above");
        profile.eid = eid.clone();
        profile.matching_id = Some(matching_id.clone());
        profile.confirmation_code = confirmation_code;
        profile.smds_address = smds_address;
        let state = if release {
            ProfileState::Released
        } else {
            ProfileState::Confirmed
        };
        profile.go(state, now, Function::ConfirmOrder.name());

        let mut out = Map::new();
        if let Some(eid) = eid {
            out.insert("eid".into(), json!(eid));
        }
        out.insert("matchingId".into(), json!(matching_id));
        out.insert("smdpAddress".into(), json!(smdp_address));
        Ok(out)
    }

    fn matching_id_taken(&self, id: &str, except_iccid: &str) -> bool {
        self.profiles
            .values()
            .any(|p| p.iccid != except_iccid && p.matching_id.as_deref() == Some(id))
    }

    /// SGP.22 §5.3.3: ends an order that has not been downloaded; the profile becomes
    /// available again or unavailable, as `finalProfileStatusIndicator` says.
    fn cancel_order(
        &mut self,
        fields: &Fields,
        now: Timestamp,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let iccid = fields.iccid()?.ok_or_else(|| missing("iccid"))?;
        let eid = fields.eid()?;
        let matching_id = fields.string("matchingId")?;
        let indicator = fields.required_string("finalProfileStatusIndicator")?;
        let final_state = match indicator.as_str() {
            "Available" => ProfileState::Available,
            "Unavailable" => ProfileState::Unavailable,
            _ => {
                return Err(StatusCodeData::new(
                    subject::PROTOCOL_FORMAT,
                    reason::INVALID,
                    "finalProfileStatusIndicator is Available or Unavailable",
                )
                .about("finalProfileStatusIndicator"))
            }
        };
        let profile = self
            .profiles
            .get(&iccid)
            .ok_or_else(|| unknown_iccid(&iccid))?;
        if let Some(given) = &eid {
            if profile.eid.as_ref() != Some(given) {
                return Err(StatusCodeData::new(
                    subject::EID,
                    reason::INVALID_ASSOCIATION,
                    "this EID is not the one associated with this ICCID",
                )
                .about(given.clone()));
            }
        }
        if let Some(given) = &matching_id {
            if profile.matching_id.as_ref() != Some(given) {
                return Err(StatusCodeData::new(
                    subject::MATCHING_ID,
                    reason::INVALID_ASSOCIATION,
                    "a different matching ID is associated with this ICCID",
                )
                .about(given.clone()));
            }
        }
        if profile.state.downloaded() {
            return Err(StatusCodeData::new(
                subject::PROFILE_ICCID,
                reason::ALREADY_IN_USE,
                format!(
                    "the profile is already downloaded (it is {}); only the eUICC can delete it",
                    profile.state.name()
                ),
            )
            .about(iccid));
        }
        if !profile.state.ordered_not_downloaded() {
            return Err(StatusCodeData::new(
                subject::PROFILE_ICCID,
                reason::INVALID_TRANSITION,
                format!(
                    "there is no order to cancel: the profile is {}",
                    profile.state.name()
                ),
            )
            .about(iccid));
        }
        let profile = self.profiles.get_mut(&iccid).expect("found above");
        profile.clear_order();
        profile.go(final_state, now, Function::CancelOrder.name());
        Ok(Map::new())
    }

    /// SGP.22 §5.3.4: releases a confirmed profile for download.
    fn release_profile(
        &mut self,
        fields: &Fields,
        now: Timestamp,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let iccid = fields.iccid()?.ok_or_else(|| missing("iccid"))?;
        let profile = self
            .profiles
            .get_mut(&iccid)
            .ok_or_else(|| unknown_iccid(&iccid))?;
        if profile.state != ProfileState::Confirmed {
            return Err(StatusCodeData::new(
                subject::PROFILE_ICCID,
                reason::INVALID_TRANSITION,
                format!(
                    "the profile cannot be released: it is {}, not confirmed",
                    profile.state.name()
                ),
            )
            .about(iccid));
        }
        profile.go(ProfileState::Released, now, Function::ReleaseProfile.name());
        Ok(Map::new())
    }

    /// Plays what the eUICC and the SM-DP+ would do, and says which notifications that owes
    /// the operator, in the order they are to be sent.
    pub fn act(
        &mut self,
        iccid: &str,
        action: Action,
        options: &ActionOptions,
        now: Timestamp,
        new_eid: &mut dyn FnMut() -> String,
    ) -> Result<Vec<Progress>, ControlError> {
        let canonical = es2p::normalize_iccid(iccid)
            .ok_or_else(|| ControlError::UnknownIccid(iccid.to_string()))?;
        let profile = self
            .profiles
            .get_mut(&canonical)
            .ok_or_else(|| ControlError::UnknownIccid(canonical.clone()))?;
        let state = profile.state;
        let wrong = |needs: &str| {
            ControlError::WrongState(format!(
                "{} needs a {needs} profile; it is {}",
                action.name(),
                state.name()
            ))
        };
        if options.out_of_order && action != Action::Install {
            return Err(ControlError::BadRequest(
                "out_of_order is for install only".into(),
            ));
        }
        if options.eid.is_some() && action != Action::Download {
            return Err(ControlError::BadRequest("eid is for download only".into()));
        }
        let by = format!("control {}", action.name());
        let progress =
            |profile: &Profile, point: u32, at: Timestamp, failure: Option<_>| Progress {
                iccid: profile.iccid.clone(),
                eid: profile.eid.clone(),
                profile_type: profile.profile_type.clone(),
                timestamp: format_timestamp(at),
                point,
                failure,
            };

        match action {
            Action::Download => {
                if state != ProfileState::Released {
                    return Err(wrong("released"));
                }
                if let Some(eid) = &options.eid {
                    if !es2p::eid_valid(eid) {
                        return Err(ControlError::BadRequest(
                            "eid must be 32 digits whose value modulo 97 is 1".into(),
                        ));
                    }
                    if profile.eid.as_ref().is_some_and(|linked| linked != eid) {
                        return Err(ControlError::BadRequest(
                            "the order is linked to another EID".into(),
                        ));
                    }
                }
                if let Some(code) = &options.fail {
                    return Ok(vec![progress(
                        profile,
                        point::BPP_DOWNLOAD,
                        now,
                        Some(code.clone()),
                    )]);
                }
                if profile.eid.is_none() {
                    profile.eid = Some(options.eid.clone().unwrap_or_else(new_eid));
                }
                profile.go(ProfileState::Downloaded, now, &by);
                Ok(vec![progress(profile, point::BPP_DOWNLOAD, now, None)])
            }
            Action::Install if options.out_of_order => {
                if state != ProfileState::Released {
                    return Err(wrong("released (out_of_order downloads and installs)"));
                }
                if options.fail.is_some() {
                    return Err(ControlError::BadRequest(
                        "fail and out_of_order do not go together".into(),
                    ));
                }
                if profile.eid.is_none() {
                    profile.eid = Some(new_eid());
                }
                // The download really happened first, and its timestamp says so; only the
                // delivery is out of order.
                let downloaded_at = now
                    .checked_sub(jiff::SignedDuration::from_secs(1))
                    .unwrap_or(now);
                profile.go(ProfileState::Downloaded, downloaded_at, &by);
                profile.go(ProfileState::Installed, now, &by);
                Ok(vec![
                    progress(profile, point::BPP_INSTALLATION, now, None),
                    progress(profile, point::BPP_DOWNLOAD, downloaded_at, None),
                ])
            }
            Action::Install => {
                if state != ProfileState::Downloaded {
                    return Err(wrong("downloaded"));
                }
                if let Some(code) = &options.fail {
                    return Ok(vec![progress(
                        profile,
                        point::BPP_INSTALLATION,
                        now,
                        Some(code.clone()),
                    )]);
                }
                profile.go(ProfileState::Installed, now, &by);
                Ok(vec![progress(profile, point::BPP_INSTALLATION, now, None)])
            }
            Action::Enable | Action::Disable | Action::Delete => {
                if options.fail.is_some() {
                    return Err(ControlError::BadRequest(
                        "fail is for download and install only".into(),
                    ));
                }
                let (allowed, needs, next, point): (&[ProfileState], _, _, _) = match action {
                    Action::Enable => (
                        &[ProfileState::Installed, ProfileState::Disabled],
                        "installed or disabled",
                        ProfileState::Enabled,
                        point::PROFILE_ENABLED,
                    ),
                    Action::Disable => (
                        &[ProfileState::Enabled],
                        "enabled",
                        ProfileState::Disabled,
                        point::PROFILE_DISABLED,
                    ),
                    _ => (
                        &[
                            ProfileState::Installed,
                            ProfileState::Enabled,
                            ProfileState::Disabled,
                        ],
                        "installed, enabled or disabled",
                        ProfileState::Deleted,
                        point::PROFILE_DELETED,
                    ),
                };
                if !allowed.contains(&state) {
                    return Err(wrong(needs));
                }
                profile.go(next, now, &by);
                Ok(vec![progress(profile, point, now, None)])
            }
        }
    }
}

/// The default failure reported for a failed step: SGP.22's codes for a download that ran out
/// of attempts and for a bound profile package the eUICC could not load.
pub fn default_failure(action: Action) -> StatusCodeData {
    match action {
        Action::Download => StatusCodeData::new(
            subject::DOWNLOAD_ORDER,
            reason::MAXIMUM_ATTEMPTS_EXCEEDED,
            "maximum number of attempts of profile download exceeded",
        ),
        _ => StatusCodeData::new(
            subject::BOUND_PROFILE_PACKAGE,
            reason::EXECUTION_ERROR,
            "the eUICC could not load the bound profile package",
        ),
    }
}

/// Reads `--profiles FILE`: a JSON array of `{"iccid", "profileType"}`, or lines of
/// `ICCID,PROFILE_TYPE` (blank lines and `#` comments skipped).
pub fn load_profiles(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if text.trim_start().starts_with('[') {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Entry {
            iccid: String,
            #[serde(alias = "profile_type")]
            profile_type: String,
        }
        let entries: Vec<Entry> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON list of profiles", path.display()))?;
        return Ok(entries
            .into_iter()
            .map(|e| (e.iccid, e.profile_type))
            .collect());
    }
    let mut profiles = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((iccid, profile_type)) = line.split_once(',') else {
            bail!("{}:{}: expected ICCID,PROFILE_TYPE", path.display(), n + 1);
        };
        let (iccid, profile_type) = (iccid.trim(), profile_type.trim());
        if profile_type.is_empty() {
            bail!("{}:{}: the profile type is empty", path.display(), n + 1);
        }
        profiles.push((iccid.to_string(), profile_type.to_string()));
    }
    Ok(profiles)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "8944500000000000011";
    const B: &str = "8944500000000000029";

    fn store() -> Store {
        Store::with_profiles(vec![
            (A.into(), "japan-10d".into()),
            (B.into(), "japan-10d".into()),
        ])
        .unwrap()
    }

    fn call(
        store: &mut Store,
        f: Function,
        body: Value,
    ) -> Result<Map<String, Value>, StatusCodeData> {
        let mut n = 0;
        store.execute(
            f,
            body.as_object().unwrap(),
            Timestamp::UNIX_EPOCH,
            "smdp.test",
            &mut || {
                n += 1;
                format!("MID-{n}")
            },
        )
    }

    fn codes(e: StatusCodeData) -> (String, String) {
        (e.subject_code, e.reason_code)
    }

    #[test]
    fn order_by_type_confirm_and_cancel() {
        let mut s = store();
        let out = call(
            &mut s,
            Function::DownloadOrder,
            json!({"profileType": "japan-10d"}),
        )
        .unwrap();
        assert_eq!(out["iccid"], A);
        assert_eq!(s.get(A).unwrap().state, ProfileState::Allocated);
        let out = call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "releaseFlag": true}),
        )
        .unwrap();
        assert_eq!(out["matchingId"], "MID-1");
        assert_eq!(out["smdpAddress"], "smdp.test");
        assert_eq!(s.get(A).unwrap().state, ProfileState::Released);
        call(
            &mut s,
            Function::CancelOrder,
            json!({"iccid": A, "finalProfileStatusIndicator": "Unavailable"}),
        )
        .unwrap();
        let p = s.get(A).unwrap();
        assert_eq!(p.state, ProfileState::Unavailable);
        assert!(p.matching_id.is_none());
    }

    #[test]
    fn second_order_for_taken_iccid_is_already_in_use() {
        let mut s = store();
        call(&mut s, Function::DownloadOrder, json!({"iccid": A})).unwrap();
        let e = call(&mut s, Function::DownloadOrder, json!({"iccid": A})).unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "3.3".into()));
        let e = call(
            &mut s,
            Function::DownloadOrder,
            json!({"iccid": "8944500000000000037"}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "3.9".into()));
        call(
            &mut s,
            Function::DownloadOrder,
            json!({"profileType": "japan-10d"}),
        )
        .unwrap();
        let e = call(
            &mut s,
            Function::DownloadOrder,
            json!({"profileType": "japan-10d"}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.5".into(), "3.7".into()));
        let e = call(
            &mut s,
            Function::DownloadOrder,
            json!({"profileType": "korea"}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.5".into(), "3.9".into()));
    }

    #[test]
    fn downloaded_profile_cannot_be_cancelled() {
        let mut s = store();
        call(&mut s, Function::DownloadOrder, json!({"iccid": A})).unwrap();
        call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "releaseFlag": true}),
        )
        .unwrap();
        let sent = s
            .act(
                A,
                Action::Download,
                &ActionOptions::default(),
                Timestamp::UNIX_EPOCH,
                &mut || es2p::eid_with_check_digits("890490320000000000000000000001"),
            )
            .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].point, point::BPP_DOWNLOAD);
        assert!(es2p::eid_valid(sent[0].eid.as_deref().unwrap()));
        let e = call(
            &mut s,
            Function::CancelOrder,
            json!({"iccid": A, "finalProfileStatusIndicator": "Available"}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "3.3".into()));
    }

    #[test]
    fn linked_eid_must_match() {
        let mut s = store();
        let eid = es2p::eid_with_check_digits("890490320000000000000000000001");
        let other = es2p::eid_with_check_digits("890490320000000000000000000002");
        call(
            &mut s,
            Function::DownloadOrder,
            json!({"iccid": A, "eid": eid}),
        )
        .unwrap();
        assert_eq!(s.get(A).unwrap().state, ProfileState::Linked);
        let e = call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "eid": other, "releaseFlag": false}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.1.1".into(), "3.10".into()));
        let out = call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "releaseFlag": false}),
        )
        .unwrap();
        assert_eq!(out["eid"], eid);
        assert_eq!(s.get(A).unwrap().state, ProfileState::Confirmed);
        call(&mut s, Function::ReleaseProfile, json!({"iccid": A})).unwrap();
        let e = call(&mut s, Function::ReleaseProfile, json!({"iccid": A})).unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "3.5".into()));
    }

    #[test]
    fn missing_and_malformed_fields() {
        let mut s = store();
        let e = call(&mut s, Function::ConfirmOrder, json!({"iccid": A})).unwrap_err();
        assert_eq!(codes(e), ("1.3.1".into(), "2.2".into()));
        let e = call(&mut s, Function::CancelOrder, json!({"iccid": A})).unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "2.2".into()));
        let e = call(&mut s, Function::DownloadOrder, json!({"eid": "123"})).unwrap_err();
        assert_eq!(codes(e), ("8.1.1".into(), "2.1".into()));
        let e = call(&mut s, Function::DownloadOrder, json!({})).unwrap_err();
        assert_eq!(codes(e), ("8.2.1".into(), "2.3".into()));
    }

    #[test]
    fn matching_id_is_unique() {
        let mut s = store();
        call(&mut s, Function::DownloadOrder, json!({"iccid": A})).unwrap();
        call(&mut s, Function::DownloadOrder, json!({"iccid": B})).unwrap();
        call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "matchingId": "AB-12", "releaseFlag": true}),
        )
        .unwrap();
        let e = call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": B, "matchingId": "AB-12", "releaseFlag": true}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.6".into(), "3.3".into()));
        let e = call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": B, "matchingId": "ab 12", "releaseFlag": true}),
        )
        .unwrap_err();
        assert_eq!(codes(e), ("8.2.6".into(), "2.1".into()));
    }

    #[test]
    fn out_of_order_install_reports_installed_first_with_true_timestamps() {
        let mut s = store();
        call(&mut s, Function::DownloadOrder, json!({"iccid": A})).unwrap();
        call(
            &mut s,
            Function::ConfirmOrder,
            json!({"iccid": A, "releaseFlag": true}),
        )
        .unwrap();
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let options = ActionOptions {
            out_of_order: true,
            ..Default::default()
        };
        let sent = s
            .act(A, Action::Install, &options, now, &mut || {
                es2p::eid_with_check_digits("890490320000000000000000000001")
            })
            .unwrap();
        let points: Vec<u32> = sent.iter().map(|p| p.point).collect();
        assert_eq!(points, [point::BPP_INSTALLATION, point::BPP_DOWNLOAD]);
        assert!(sent[1].timestamp < sent[0].timestamp);
        assert_eq!(s.get(A).unwrap().state, ProfileState::Installed);
        let e = s
            .act(
                A,
                Action::Disable,
                &ActionOptions::default(),
                now,
                &mut String::new,
            )
            .unwrap_err();
        assert!(matches!(e, ControlError::WrongState(_)));
        for action in [
            Action::Enable,
            Action::Disable,
            Action::Enable,
            Action::Delete,
        ] {
            s.act(A, action, &ActionOptions::default(), now, &mut String::new)
                .unwrap();
        }
        assert_eq!(s.get(A).unwrap().state, ProfileState::Deleted);
    }
}
