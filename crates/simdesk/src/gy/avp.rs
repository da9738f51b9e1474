//! The numbers Gy speaks in: AVP codes, enumerated values and Result-Codes, named once so the
//! rest of `gy/` reads as the RFCs do. Base protocol numbers are RFC 6733's, credit-control ones
//! RFC 4006's (kept by RFC 8506), and `TGPP_VENDOR` is 3GPP's vendor id for TS 32.299's AVPs.

/// 3GPP's IANA enterprise number, the vendor of TS 29.061 and TS 32.299 AVPs.
pub const TGPP_VENDOR: u32 = 10415;
/// The Diameter Credit-Control application (RFC 4006), which Gy is.
pub const CREDIT_CONTROL_APPLICATION: u32 = 4;
/// The relay application id: a peer advertising it handles every application.
pub const RELAY_APPLICATION: u32 = 0xffff_ffff;

/// Command codes.
pub mod command {
    pub const CAPABILITIES_EXCHANGE: u32 = 257;
    pub const CREDIT_CONTROL: u32 = 272;
    pub const DEVICE_WATCHDOG: u32 = 280;
    pub const DISCONNECT_PEER: u32 = 282;
}

// Base protocol AVPs (RFC 6733).
pub const EVENT_TIMESTAMP: u32 = 55;
pub const HOST_IP_ADDRESS: u32 = 257;
pub const AUTH_APPLICATION_ID: u32 = 258;
pub const ACCT_APPLICATION_ID: u32 = 259;
pub const VENDOR_SPECIFIC_APPLICATION_ID: u32 = 260;
pub const SESSION_ID: u32 = 263;
pub const ORIGIN_HOST: u32 = 264;
pub const VENDOR_ID: u32 = 266;
pub const RESULT_CODE: u32 = 268;
pub const PRODUCT_NAME: u32 = 269;
pub const DISCONNECT_CAUSE: u32 = 273;
pub const ORIGIN_STATE_ID: u32 = 278;
pub const FAILED_AVP: u32 = 279;
pub const ERROR_MESSAGE: u32 = 281;
pub const DESTINATION_REALM: u32 = 283;
pub const TERMINATION_CAUSE: u32 = 295;
pub const ORIGIN_REALM: u32 = 296;

// Credit-control AVPs (RFC 4006).
pub const CC_INPUT_OCTETS: u32 = 412;
pub const CC_OUTPUT_OCTETS: u32 = 414;
pub const CC_REQUEST_NUMBER: u32 = 415;
pub const CC_REQUEST_TYPE: u32 = 416;
pub const CC_SERVICE_SPECIFIC_UNITS: u32 = 417;
pub const CC_TIME: u32 = 420;
pub const CC_TOTAL_OCTETS: u32 = 421;
pub const FINAL_UNIT_INDICATION: u32 = 430;
pub const GRANTED_SERVICE_UNIT: u32 = 431;
pub const RATING_GROUP: u32 = 432;
pub const REQUESTED_SERVICE_UNIT: u32 = 437;
pub const SERVICE_IDENTIFIER: u32 = 439;
pub const SUBSCRIPTION_ID: u32 = 443;
pub const SUBSCRIPTION_ID_DATA: u32 = 444;
pub const USED_SERVICE_UNIT: u32 = 446;
pub const VALIDITY_TIME: u32 = 448;
pub const FINAL_UNIT_ACTION: u32 = 449;
pub const SUBSCRIPTION_ID_TYPE: u32 = 450;
pub const MULTIPLE_SERVICES_CREDIT_CONTROL: u32 = 456;
pub const SERVICE_CONTEXT_ID: u32 = 461;

// 3GPP AVPs (vendor `TGPP_VENDOR`, TS 32.299 and TS 29.061) simdesk reads.
/// `Service-Information`: what the network says about the service being charged.
pub const SERVICE_INFORMATION: u32 = 873;
/// `PS-Information`, inside `Service-Information`: the packet-data session.
pub const PS_INFORMATION: u32 = 874;
/// `3GPP-SGSN-MCC-MNC`, inside `PS-Information`: the network the phone is attached to.
pub const TGPP_SGSN_MCC_MNC: u32 = 18;

/// `CC-Request-Type` values.
pub mod request_type {
    pub const INITIAL: i32 = 1;
    pub const UPDATE: i32 = 2;
    pub const TERMINATION: i32 = 3;
    pub const EVENT: i32 = 4;
}

/// `Subscription-Id-Type` values.
pub mod subscription_type {
    pub const END_USER_E164: i32 = 0;
    pub const END_USER_IMSI: i32 = 1;
}

/// `Final-Unit-Action` TERMINATE: the network ends the service when the final units are used.
pub const FINAL_UNIT_ACTION_TERMINATE: i32 = 0;

/// `Disconnect-Cause` REBOOTING: simdesk is stopping and will be back.
pub const DISCONNECT_CAUSE_REBOOTING: i32 = 0;

/// Result-Codes.
pub mod result {
    pub const SUCCESS: u32 = 2001;
    pub const COMMAND_UNSUPPORTED: u32 = 3001;
    pub const APPLICATION_UNSUPPORTED: u32 = 3007;
    pub const INVALID_HDR_BITS: u32 = 3008;
    pub const UNKNOWN_PEER: u32 = 3010;
    pub const END_USER_SERVICE_DENIED: u32 = 4010;
    pub const CREDIT_LIMIT_REACHED: u32 = 4012;
    pub const AVP_UNSUPPORTED: u32 = 5001;
    pub const UNKNOWN_SESSION_ID: u32 = 5002;
    pub const INVALID_AVP_VALUE: u32 = 5004;
    pub const MISSING_AVP: u32 = 5005;
    pub const NO_COMMON_APPLICATION: u32 = 5010;
    pub const UNSUPPORTED_VERSION: u32 = 5011;
    pub const UNABLE_TO_COMPLY: u32 = 5012;
    pub const INVALID_AVP_LENGTH: u32 = 5014;
    pub const INVALID_MESSAGE_LENGTH: u32 = 5015;
    pub const USER_UNKNOWN: u32 = 5030;
    pub const RATING_FAILED: u32 = 5031;

    /// Protocol errors (3xxx) travel in answers with the E bit set and the generic answer
    /// layout; every other failure is an ordinary answer of the command.
    pub fn is_protocol_error(code: u32) -> bool {
        (3000..4000).contains(&code)
    }
}
