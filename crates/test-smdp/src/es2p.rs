//! The ES2+ JSON binding of GSMA SGP.22 (v2.x): paths, headers, status and status codes.
//!
//! Names and codes follow SGP.22 §5.3 (functions), §5.2.6 / §6.5.1 (subject and reason codes,
//! the JSON request and response headers) so that simdesk's client is written against the
//! spec's words, not this program's.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Every ES2+ function lives under this path (SGP.22 §6.5.2).
pub const BASE_PATH: &str = "/gsma/rsp2/es2plus";
/// The operator's function the SM-DP+ calls for each notification point.
pub const HANDLE_DOWNLOAD_PROGRESS_INFO: &str = "handleDownloadProgressInfo";
/// The protocol version this program speaks; SGP.22 requires `gsma/rsp/v<x.y.z>` both ways.
pub const ADMIN_PROTOCOL: &str = "gsma/rsp/v2.5.0";
/// The header naming it.
pub const ADMIN_PROTOCOL_HEADER: &str = "X-Admin-Protocol";
/// The content type of every ES2+ message, request and response.
pub const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// The ES2+ functions the SM-DP+ offers the operator (SGP.22 §5.3.1–5.3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Function {
    DownloadOrder,
    ConfirmOrder,
    CancelOrder,
    ReleaseProfile,
}

impl Function {
    pub const ALL: [Function; 4] = [
        Function::DownloadOrder,
        Function::ConfirmOrder,
        Function::CancelOrder,
        Function::ReleaseProfile,
    ];

    /// The function's name as it appears in its path.
    pub fn name(self) -> &'static str {
        match self {
            Function::DownloadOrder => "downloadOrder",
            Function::ConfirmOrder => "confirmOrder",
            Function::CancelOrder => "cancelOrder",
            Function::ReleaseProfile => "releaseProfile",
        }
    }

    pub fn path(self) -> String {
        format!("{BASE_PATH}/{}", self.name())
    }
}

/// `header.functionExecutionStatus.status` values (SGP.22 §6.5.1.4).
pub mod status {
    pub const SUCCESS: &str = "Executed-Success";
    pub const WITH_WARNING: &str = "Executed-WithWarning";
    pub const FAILED: &str = "Failed";
    pub const EXPIRED: &str = "Expired";
}

/// Subject codes used by this program (SGP.22 §5.2.6.1).
pub mod subject {
    /// The request's JSON or one of its fields is malformed or missing.
    pub const PROTOCOL_FORMAT: &str = "1.3.1";
    /// The `X-Admin-Protocol` version is not one this program speaks.
    pub const PROTOCOL_VERSION: &str = "1.3.2";
    pub const EID: &str = "8.1.1";
    pub const PROFILE_ICCID: &str = "8.2.1";
    pub const PROFILE_TYPE: &str = "8.2.5";
    pub const MATCHING_ID: &str = "8.2.6";
    pub const BOUND_PROFILE_PACKAGE: &str = "8.2.10";
    pub const DOWNLOAD_ORDER: &str = "8.8.5";
}

/// Reason codes used by this program (SGP.22 §5.2.6.2).
pub mod reason {
    pub const INVALID: &str = "2.1";
    pub const MANDATORY_ELEMENT_MISSING: &str = "2.2";
    pub const CONDITIONAL_ELEMENT_MISSING: &str = "2.3";
    pub const UNSUPPORTED: &str = "3.1";
    pub const ALREADY_IN_USE: &str = "3.3";
    pub const INVALID_TRANSITION: &str = "3.5";
    pub const UNAVAILABLE: &str = "3.7";
    pub const REFUSED: &str = "3.8";
    pub const UNKNOWN: &str = "3.9";
    pub const INVALID_ASSOCIATION: &str = "3.10";
    pub const EXECUTION_ERROR: &str = "4.2";
    pub const MAXIMUM_ATTEMPTS_EXCEEDED: &str = "6.4";
}

/// `notificationPointId` values sent in HandleDownloadProgressInfo.
///
/// 1–5 are the points SGP.22 defines (the download's checks, download, installation, and the
/// deletion the eUICC reports). SGP.22 leaves ids from 100 up to what an operator agrees with
/// its SM-DP+; this one passes on the phone's switch-on and switch-off as 100 and 101, which an
/// operator names in simdesk's `[smdp.points]`.
pub mod point {
    pub const ELIGIBILITY_AND_RETRY_LIMIT_CHECK: u32 = 1;
    pub const CONFIRMATION_FAILURE: u32 = 2;
    pub const BPP_DOWNLOAD: u32 = 3;
    pub const BPP_INSTALLATION: u32 = 4;
    pub const PROFILE_DELETED: u32 = 5;
    pub const PROFILE_ENABLED: u32 = 100;
    pub const PROFILE_DISABLED: u32 = 101;
}

/// `statusCodeData` of a failed (or warned) function execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCodeData {
    pub subject_code: String,
    pub reason_code: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject_identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
}

impl StatusCodeData {
    pub fn new(subject: &str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            subject_code: subject.to_string(),
            reason_code: reason.to_string(),
            subject_identifier: None,
            message: Some(message.into()),
        }
    }

    /// Names the element the code is about (an ICCID, an EID, a field name).
    pub fn about(mut self, identifier: impl Into<String>) -> Self {
        self.subject_identifier = Some(identifier.into());
        self
    }
}

/// A response body: `header.functionExecutionStatus` and the function's output fields.
pub fn response(status: &str, code: Option<&StatusCodeData>, fields: Map<String, Value>) -> Value {
    let mut execution = Map::new();
    execution.insert("status".into(), json!(status));
    if let Some(code) = code {
        execution.insert("statusCodeData".into(), json!(code));
    }
    let mut body = Map::new();
    body.insert(
        "header".into(),
        json!({ "functionExecutionStatus": Value::Object(execution) }),
    );
    body.extend(fields);
    Value::Object(body)
}

pub fn success(fields: Map<String, Value>) -> Value {
    response(status::SUCCESS, None, fields)
}

pub fn failed(code: &StatusCodeData) -> Value {
    response(status::FAILED, Some(code), Map::new())
}

/// Whether an `X-Admin-Protocol` value is one of SGP.22 v2's.
pub fn admin_protocol_supported(value: &str) -> bool {
    value
        .strip_prefix("gsma/rsp/v2.")
        .is_some_and(|rest| !rest.is_empty())
}

/// Whether a `Content-Type` value is JSON (parameters such as `charset` are allowed).
pub fn is_json_content_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// An ICCID as ES2+ carries it: 18 to 20 digits, the 20th possibly the padding `F`, which is
/// dropped so one profile has one spelling.
pub fn normalize_iccid(raw: &str) -> Option<String> {
    let mut iccid = raw.trim().to_ascii_uppercase();
    if iccid.len() == 20 && iccid.ends_with('F') {
        iccid.pop();
    }
    let ok = (18..=20).contains(&iccid.len()) && iccid.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(iccid)
}

/// An EID: 32 digits whose value modulo 97 is 1 (the check digits of SGP.02 / SGP.29).
pub fn eid_valid(eid: &str) -> bool {
    eid.len() == 32 && eid.bytes().all(|b| b.is_ascii_digit()) && mod97(eid) == 1
}

fn mod97(digits: &str) -> u32 {
    digits
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97)
}

/// Completes the first 30 digits of an EID with the two check digits that make it valid.
pub fn eid_with_check_digits(first30: &str) -> String {
    debug_assert_eq!(first30.len(), 30);
    let check = 98 - mod97(&format!("{first30}00"));
    format!("{first30}{check:02}")
}

/// A matching ID as SGP.22 allows it in an activation code: upper-case letters, digits and `-`.
pub fn matching_id_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eid_check_digits_make_mod_97_one() {
        let eid = eid_with_check_digits("890490320000000000000000000123");
        assert_eq!(eid.len(), 32);
        assert!(eid_valid(&eid));
        let mut wrong = eid.clone().into_bytes();
        wrong[31] = if wrong[31] == b'9' {
            b'0'
        } else {
            wrong[31] + 1
        };
        assert!(!eid_valid(std::str::from_utf8(&wrong).unwrap()));
    }

    #[test]
    fn iccid_padding_is_dropped() {
        assert_eq!(
            normalize_iccid("8944500000000000012F").as_deref(),
            Some("8944500000000000012")
        );
        assert_eq!(
            normalize_iccid("89445000000000000123").as_deref(),
            Some("89445000000000000123")
        );
        assert_eq!(normalize_iccid("8944"), None);
        assert_eq!(normalize_iccid("89445000000000000A23"), None);
    }

    #[test]
    fn headers() {
        assert!(admin_protocol_supported("gsma/rsp/v2.2.0"));
        assert!(!admin_protocol_supported("gsma/rsp/v3.0.0"));
        assert!(!admin_protocol_supported("gsma/rsp/v2."));
        assert!(is_json_content_type("application/json;charset=UTF-8"));
        assert!(is_json_content_type("Application/JSON"));
        assert!(!is_json_content_type("text/plain"));
    }

    #[test]
    fn response_shape() {
        let code = StatusCodeData::new(subject::PROFILE_ICCID, reason::UNKNOWN, "no such profile")
            .about("8944500000000000012");
        assert_eq!(
            failed(&code),
            json!({"header": {"functionExecutionStatus": {"status": "Failed", "statusCodeData": {
                "subjectCode": "8.2.1", "reasonCode": "3.9",
                "subjectIdentifier": "8944500000000000012", "message": "no such profile"}}}})
        );
    }
}
