//! The dictionary Gy is read with: the `diameter` crate's own (RFC 6733's base protocol and
//! RFC 4006's credit control, which already hold every AVP `codec.rs` reads and writes) and
//! 3GPP's Ro AVPs from `3gpp-ro-rf.xml`, so the TS 32.299 AVPs a real PGW sends are understood
//! rather than refused as unknown mandatory AVPs.

use diameter::dictionary::{Dictionary, DEFAULT_DICT_XML};
use std::sync::{Arc, OnceLock};

/// 3GPP's Ro/Rf AVPs, as the crate ships them in its `dict/` folder.
const TGPP_RO_RF_XML: &str = include_str!("3gpp-ro-rf.xml");

/// The one dictionary, built on first use. The crate panics on a dictionary it cannot parse;
/// both are compiled in, and a test builds them, so that cannot happen at run time.
pub fn dictionary() -> Arc<Dictionary> {
    static DICTIONARY: OnceLock<Arc<Dictionary>> = OnceLock::new();
    DICTIONARY
        .get_or_init(|| Arc::new(Dictionary::new(&[*DEFAULT_DICT_XML, TGPP_RO_RF_XML])))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gy::avp::{self, TGPP_VENDOR};
    use diameter::avp::AvpType;

    /// The names below are the RFCs'; the numbers are the ones `avp.rs` uses. A dictionary entry
    /// that disagreed with either would make simdesk read the wrong AVP.
    #[test]
    fn every_avp_gy_uses_is_known_with_its_rfc_code_and_type() {
        let dict = dictionary();
        let expected = [
            ("Event-Timestamp", avp::EVENT_TIMESTAMP, AvpType::Time),
            ("Host-IP-Address", avp::HOST_IP_ADDRESS, AvpType::Address),
            (
                "Auth-Application-Id",
                avp::AUTH_APPLICATION_ID,
                AvpType::Unsigned32,
            ),
            (
                "Acct-Application-Id",
                avp::ACCT_APPLICATION_ID,
                AvpType::Unsigned32,
            ),
            (
                "Vendor-Specific-Application-Id",
                avp::VENDOR_SPECIFIC_APPLICATION_ID,
                AvpType::Grouped,
            ),
            ("Session-Id", avp::SESSION_ID, AvpType::UTF8String),
            ("Origin-Host", avp::ORIGIN_HOST, AvpType::Identity),
            ("Vendor-Id", avp::VENDOR_ID, AvpType::Unsigned32),
            ("Result-Code", avp::RESULT_CODE, AvpType::Unsigned32),
            ("Product-Name", avp::PRODUCT_NAME, AvpType::UTF8String),
            (
                "Disconnect-Cause",
                avp::DISCONNECT_CAUSE,
                AvpType::Enumerated,
            ),
            ("Origin-State-Id", avp::ORIGIN_STATE_ID, AvpType::Unsigned32),
            ("Failed-AVP", avp::FAILED_AVP, AvpType::Grouped),
            ("Error-Message", avp::ERROR_MESSAGE, AvpType::UTF8String),
            (
                "Destination-Realm",
                avp::DESTINATION_REALM,
                AvpType::Identity,
            ),
            (
                "Termination-Cause",
                avp::TERMINATION_CAUSE,
                AvpType::Enumerated,
            ),
            ("Origin-Realm", avp::ORIGIN_REALM, AvpType::Identity),
            ("CC-Input-Octets", avp::CC_INPUT_OCTETS, AvpType::Unsigned64),
            (
                "CC-Output-Octets",
                avp::CC_OUTPUT_OCTETS,
                AvpType::Unsigned64,
            ),
            (
                "CC-Request-Number",
                avp::CC_REQUEST_NUMBER,
                AvpType::Unsigned32,
            ),
            ("CC-Request-Type", avp::CC_REQUEST_TYPE, AvpType::Enumerated),
            (
                "CC-Service-Specific-Units",
                avp::CC_SERVICE_SPECIFIC_UNITS,
                AvpType::Unsigned64,
            ),
            ("CC-Time", avp::CC_TIME, AvpType::Unsigned32),
            ("CC-Total-Octets", avp::CC_TOTAL_OCTETS, AvpType::Unsigned64),
            (
                "Final-Unit-Indication",
                avp::FINAL_UNIT_INDICATION,
                AvpType::Grouped,
            ),
            (
                "Granted-Service-Unit",
                avp::GRANTED_SERVICE_UNIT,
                AvpType::Grouped,
            ),
            ("Rating-Group", avp::RATING_GROUP, AvpType::Unsigned32),
            (
                "Requested-Service-Unit",
                avp::REQUESTED_SERVICE_UNIT,
                AvpType::Grouped,
            ),
            (
                "Service-Identifier",
                avp::SERVICE_IDENTIFIER,
                AvpType::Unsigned32,
            ),
            ("Subscription-Id", avp::SUBSCRIPTION_ID, AvpType::Grouped),
            (
                "Subscription-Id-Data",
                avp::SUBSCRIPTION_ID_DATA,
                AvpType::UTF8String,
            ),
            (
                "Used-Service-Unit",
                avp::USED_SERVICE_UNIT,
                AvpType::Grouped,
            ),
            ("Validity-Time", avp::VALIDITY_TIME, AvpType::Unsigned32),
            (
                "Final-Unit-Action",
                avp::FINAL_UNIT_ACTION,
                AvpType::Enumerated,
            ),
            (
                "Subscription-Id-Type",
                avp::SUBSCRIPTION_ID_TYPE,
                AvpType::Enumerated,
            ),
            (
                "Multiple-Services-Credit-Control",
                avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
                AvpType::Grouped,
            ),
            (
                "Service-Context-Id",
                avp::SERVICE_CONTEXT_ID,
                AvpType::UTF8String,
            ),
        ];
        for (name, code, kind) in expected {
            let def = dict
                .get_avp(code, None)
                .unwrap_or_else(|| panic!("{name} ({code}) is not in the dictionary"));
            assert_eq!(def.name, name, "AVP {code}");
            assert_eq!(def.avp_type, kind, "{name}");
            assert!(def.vendor_id.is_none(), "{name} is an IETF AVP");
        }
    }

    /// TS 32.299's AVPs that a PGW puts in a Gy CCR, with their 3GPP numbers.
    #[test]
    fn the_3gpp_avps_a_pgw_sends_are_known() {
        let dict = dictionary();
        for (name, code, kind) in [
            ("Time-Quota-Threshold", 868, AvpType::Unsigned32),
            ("Volume-Quota-Threshold", 869, AvpType::Unsigned32),
            ("Trigger-Type", 870, AvpType::Enumerated),
            ("Quota-Holding-Time", 871, AvpType::Unsigned32),
            ("Reporting-Reason", 872, AvpType::Enumerated),
            ("Service-Information", 873, AvpType::Grouped),
            ("PS-Information", 874, AvpType::Grouped),
            ("Quota-Consumption-Time", 881, AvpType::Unsigned32),
            ("Trigger", 1264, AvpType::Grouped),
        ] {
            let def = dict
                .get_avp(code, Some(TGPP_VENDOR))
                .unwrap_or_else(|| panic!("{name} ({code}) is not in the dictionary"));
            assert_eq!(def.name, name, "AVP {code}");
            assert_eq!(def.avp_type, kind, "{name}");
        }
    }
}
