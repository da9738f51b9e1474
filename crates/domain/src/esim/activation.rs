//! The activation code a traveller scans (`1$<SM-DP+ address>$<matching ID>`) and its parts,
//! each a secret that never prints in full.

use std::fmt;
use std::str::FromStr;

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
pub(super) fn excerpt(text: &str) -> String {
    const LIMIT: usize = 40;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}
