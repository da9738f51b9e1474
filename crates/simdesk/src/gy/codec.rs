//! Credit-control messages both ways: a CCR becomes a [`CreditRequest`], a [`CreditAnswer`]
//! becomes a CCA, and a request that cannot be read becomes an answer that says why.
//!
//! Reading is strict where RFC 4006 is (a CCR without one of its mandatory AVPs is answered
//! 5005 DIAMETER_MISSING_AVP, naming the AVP in Failed-AVP) and forgiving where Gy clients
//! differ: several Used-Service-Units in one service are added up, octets given only as input
//! and output are added up, and a CCR without Multiple-Services-Credit-Control is read as one
//! service with the request's own units.

use super::avp::{self, request_type, result, subscription_type};
use super::types::{
    CreditAnswer, CreditRequest, Outcome, RequestType, ServiceGrant, ServiceUsage, Subscriber,
    Units,
};
use super::wire::{self, find, find_all, find_vendor, Header, Refusal};
use super::Local;
use diameter::avp::{
    Avp, AvpType, AvpValue, Enumerated, Grouped, Identity, UTF8String, Unsigned32, Unsigned64,
};
use diameter::dictionary::Dictionary;
use diameter::{ApplicationId, CommandCode, DiameterMessage};
use std::sync::Arc;

/// The AVPs RFC 4006 §3.1 requires in every CCR, in its order.
const CCR_MANDATORY: [u32; 8] = [
    avp::SESSION_ID,
    avp::ORIGIN_HOST,
    avp::ORIGIN_REALM,
    avp::DESTINATION_REALM,
    avp::AUTH_APPLICATION_ID,
    avp::SERVICE_CONTEXT_ID,
    avp::CC_REQUEST_TYPE,
    avp::CC_REQUEST_NUMBER,
];

/// Reads a CCR the wire checks let through.
pub fn decode_ccr(message: &DiameterMessage) -> Result<CreditRequest, Refusal> {
    let avps = message.get_avps();
    let dict = &super::dictionary::dictionary();
    for code in CCR_MANDATORY {
        required(avps, code, dict)?;
    }
    let application = unsigned32(required(avps, avp::AUTH_APPLICATION_ID, dict)?)?;
    if application != avp::CREDIT_CONTROL_APPLICATION {
        return Err(invalid(
            required(avps, avp::AUTH_APPLICATION_ID, dict)?,
            "Auth-Application-Id must be 4 in a CCR",
        ));
    }
    let type_avp = required(avps, avp::CC_REQUEST_TYPE, dict)?;
    let request_type = match enumerated(type_avp)? {
        request_type::INITIAL => RequestType::Initial,
        request_type::UPDATE => RequestType::Update,
        request_type::TERMINATION => RequestType::Terminate,
        request_type::EVENT => RequestType::Event,
        _ => {
            return Err(invalid(
                type_avp,
                "CC-Request-Type is not one RFC 4006 defines",
            ))
        }
    };
    let services = match find_all(avps, avp::MULTIPLE_SERVICES_CREDIT_CONTROL)
        .map(service)
        .collect::<Result<Vec<_>, _>>()?
    {
        found if !found.is_empty() => found,
        _ => single_service(avps)?.into_iter().collect(),
    };
    Ok(CreditRequest {
        session_id: text(required(avps, avp::SESSION_ID, dict)?)?,
        request_type,
        request_number: unsigned32(required(avps, avp::CC_REQUEST_NUMBER, dict)?)?,
        subscriber: subscriber(avps, dict)?,
        event_time: find(avps, avp::EVENT_TIMESTAMP)
            .map(timestamp)
            .transpose()?,
        services,
        termination_cause: find(avps, avp::TERMINATION_CAUSE)
            .map(|a| enumerated(a).map(|v| v as u32))
            .transpose()?,
        visited_network: visited_network(avps),
    })
}

/// `Service-Information` / `PS-Information` / `3GPP-SGSN-MCC-MNC`, when present and made of
/// five or six digits. It only prices data, so anything else there is ignored, not refused.
fn visited_network(avps: &[Avp]) -> Option<String> {
    let service = find_vendor(avps, avp::SERVICE_INFORMATION, avp::TGPP_VENDOR)?;
    let ps = find_vendor(
        grouped(service).ok()?,
        avp::PS_INFORMATION,
        avp::TGPP_VENDOR,
    )?;
    let network = find_vendor(grouped(ps).ok()?, avp::TGPP_SGSN_MCC_MNC, avp::TGPP_VENDOR)?;
    let digits = text(network).ok()?;
    ((5..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// The CCA for `request` (whose header the answer's identifiers come from), saying what
/// `answer` decided.
pub fn encode_cca(
    header: &Header,
    request: &CreditRequest,
    answer: &CreditAnswer,
    local: &Local,
) -> DiameterMessage {
    let dict = &local.dict;
    let mut cca = DiameterMessage::new(
        CommandCode::CreditControl,
        ApplicationId::CreditControl,
        header.answer(false).flags,
        header.hop_by_hop,
        header.end_to_end,
        dict.clone(),
    );
    let request_type = match request.request_type {
        RequestType::Initial => request_type::INITIAL,
        RequestType::Update => request_type::UPDATE,
        RequestType::Terminate => request_type::TERMINATION,
        RequestType::Event => request_type::EVENT,
    };
    for avp in [
        wire::avp(avp::SESSION_ID, UTF8String::new(&request.session_id), dict),
        wire::avp(
            avp::RESULT_CODE,
            Unsigned32::new(result_code(answer.outcome)),
            dict,
        ),
        wire::avp(avp::ORIGIN_HOST, Identity::new(&local.origin_host), dict),
        wire::avp(avp::ORIGIN_REALM, Identity::new(&local.origin_realm), dict),
        wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(avp::CREDIT_CONTROL_APPLICATION),
            dict,
        ),
        wire::avp(avp::CC_REQUEST_TYPE, Enumerated::new(request_type), dict),
        wire::avp(
            avp::CC_REQUEST_NUMBER,
            Unsigned32::new(request.request_number),
            dict,
        ),
    ] {
        cca.add(avp);
    }
    for grant in &answer.services {
        cca.add(mscc(grant, local));
    }
    cca
}

/// The Result-Code of an outcome (RFC 6733 and RFC 4006).
pub fn result_code(outcome: Outcome) -> u32 {
    match outcome {
        Outcome::Success => result::SUCCESS,
        Outcome::CreditLimitReached => result::CREDIT_LIMIT_REACHED,
        Outcome::EndUserServiceDenied => result::END_USER_SERVICE_DENIED,
        Outcome::UserUnknown => result::USER_UNKNOWN,
        Outcome::RatingFailed => result::RATING_FAILED,
        Outcome::UnableToComply => result::UNABLE_TO_COMPLY,
        Outcome::SessionUnknown => result::UNKNOWN_SESSION_ID,
    }
}

/// The answer to any request turned down, built from its bytes so that it works for requests
/// the crate could not read at all. Protocol errors (3xxx) get the E bit and the generic
/// answer layout (RFC 6733 §7.2); other failures are the command's own answer, and for a CCR
/// that means a CCA which echoes the request's CC-Request-Type and -Number where it can.
pub fn refusal_answer(request: &[u8], refusal: &Refusal, local: &Local) -> Vec<u8> {
    let dict = &local.dict;
    let Some(header) = Header::parse(request) else {
        return Vec::new();
    };
    let protocol_error = result::is_protocol_error(refusal.result_code);
    let sent = wire::avps(request.get(wire::HEADER_LEN..).unwrap_or_default());
    let echo = |code: u32| {
        sent.iter()
            .find(|a| a.code == code && a.vendor.is_none())
            .copied()
    };
    let mut avps = Vec::new();
    if let Some(session) = echo(avp::SESSION_ID).and_then(|a| std::str::from_utf8(a.value).ok()) {
        avps.push(wire::avp(avp::SESSION_ID, UTF8String::new(session), dict));
    }
    avps.push(wire::avp(
        avp::ORIGIN_HOST,
        Identity::new(&local.origin_host),
        dict,
    ));
    avps.push(wire::avp(
        avp::ORIGIN_REALM,
        Identity::new(&local.origin_realm),
        dict,
    ));
    avps.push(wire::avp(
        avp::RESULT_CODE,
        Unsigned32::new(refusal.result_code),
        dict,
    ));
    if header.command == avp::command::CREDIT_CONTROL && !protocol_error {
        avps.push(wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(avp::CREDIT_CONTROL_APPLICATION),
            dict,
        ));
        if let Some(kind) = echo(avp::CC_REQUEST_TYPE).and_then(|a| a.u32()) {
            avps.push(wire::avp(
                avp::CC_REQUEST_TYPE,
                Enumerated::new(kind as i32),
                dict,
            ));
        }
        if let Some(number) = echo(avp::CC_REQUEST_NUMBER).and_then(|a| a.u32()) {
            avps.push(wire::avp(
                avp::CC_REQUEST_NUMBER,
                Unsigned32::new(number),
                dict,
            ));
        }
    }
    avps.push(wire::avp(
        avp::ERROR_MESSAGE,
        UTF8String::new(&refusal.message),
        dict,
    ));
    if let Some(failed) = &refusal.failed_avp {
        avps.push(wire::failed_avp(failed.clone(), dict));
    }
    wire::encode_raw(header.answer(protocol_error), &avps)
}

/// One Multiple-Services-Credit-Control of a CCA, its AVPs in RFC 4006 §8.16's order.
fn mscc(grant: &ServiceGrant, local: &Local) -> Avp {
    let dict = &local.dict;
    let mut group = Grouped::new(Vec::new(), dict.clone());
    if let Some(units) = &grant.granted {
        let mut gsu = Grouped::new(Vec::new(), dict.clone());
        if let Some(seconds) = units.seconds {
            let seconds = u32::try_from(seconds).unwrap_or(u32::MAX);
            gsu.add(wire::avp(avp::CC_TIME, Unsigned32::new(seconds), dict));
        }
        if let Some(octets) = units.octets {
            gsu.add(wire::avp(
                avp::CC_TOTAL_OCTETS,
                Unsigned64::new(octets),
                dict,
            ));
        }
        if let Some(messages) = units.messages {
            gsu.add(wire::avp(
                avp::CC_SERVICE_SPECIFIC_UNITS,
                Unsigned64::new(messages),
                dict,
            ));
        }
        group.add(wire::avp(avp::GRANTED_SERVICE_UNIT, gsu, dict));
    }
    if let Some(service) = grant.service_id {
        group.add(wire::avp(
            avp::SERVICE_IDENTIFIER,
            Unsigned32::new(service),
            dict,
        ));
    }
    if let Some(rating_group) = grant.rating_group {
        group.add(wire::avp(
            avp::RATING_GROUP,
            Unsigned32::new(rating_group),
            dict,
        ));
    }
    // A quota is valid for the configured time unless the grant names its own.
    let validity = grant
        .validity_secs
        .or(grant.granted.map(|_| local.validity_secs));
    if let Some(validity) = validity {
        group.add(wire::avp(
            avp::VALIDITY_TIME,
            Unsigned32::new(validity),
            dict,
        ));
    }
    group.add(wire::avp(
        avp::RESULT_CODE,
        Unsigned32::new(result_code(grant.outcome)),
        dict,
    ));
    if grant.final_unit {
        let fui = Grouped::new(
            vec![wire::avp(
                avp::FINAL_UNIT_ACTION,
                Enumerated::new(avp::FINAL_UNIT_ACTION_TERMINATE),
                dict,
            )],
            dict.clone(),
        );
        group.add(wire::avp(avp::FINAL_UNIT_INDICATION, fui, dict));
    }
    wire::avp(avp::MULTIPLE_SERVICES_CREDIT_CONTROL, group, dict)
}

/// One Multiple-Services-Credit-Control of a CCR.
fn service(mscc: &Avp) -> Result<ServiceUsage, Refusal> {
    let avps = grouped(mscc)?;
    Ok(ServiceUsage {
        rating_group: find(avps, avp::RATING_GROUP).map(unsigned32).transpose()?,
        // Several Service-Identifiers may share one quota; the first names the service.
        service_id: find(avps, avp::SERVICE_IDENTIFIER)
            .map(unsigned32)
            .transpose()?,
        requested: find(avps, avp::REQUESTED_SERVICE_UNIT)
            .map(units)
            .transpose()?,
        used: used(avps)?,
    })
}

/// The request's own units, when it has no Multiple-Services-Credit-Control (RFC 4006's
/// single-service form); none when it has none of them either.
fn single_service(avps: &[Avp]) -> Result<Option<ServiceUsage>, Refusal> {
    let service = ServiceUsage {
        rating_group: None,
        service_id: find(avps, avp::SERVICE_IDENTIFIER)
            .map(unsigned32)
            .transpose()?,
        requested: find(avps, avp::REQUESTED_SERVICE_UNIT)
            .map(units)
            .transpose()?,
        used: used(avps)?,
    };
    let any = service.service_id.is_some() || service.requested.is_some() || service.used.is_some();
    Ok(any.then_some(service))
}

/// Every Used-Service-Unit among `avps`, added up (3GPP clients split one report at tariff
/// changes and quota thresholds).
fn used(avps: &[Avp]) -> Result<Option<Units>, Refusal> {
    let mut total: Option<Units> = None;
    for usu in find_all(avps, avp::USED_SERVICE_UNIT) {
        let units = units(usu)?;
        total = Some(match total {
            None => units,
            Some(sum) => Units {
                octets: add(sum.octets, units.octets),
                seconds: add(sum.seconds, units.seconds),
                messages: add(sum.messages, units.messages),
            },
        });
    }
    Ok(total)
}

fn add(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_add(b)),
        (a, b) => a.or(b),
    }
}

/// The units of a Requested-, Used- or Granted-Service-Unit.
fn units(group: &Avp) -> Result<Units, Refusal> {
    let avps = grouped(group)?;
    let total = find(avps, avp::CC_TOTAL_OCTETS)
        .map(unsigned64)
        .transpose()?;
    let input = find(avps, avp::CC_INPUT_OCTETS)
        .map(unsigned64)
        .transpose()?;
    let output = find(avps, avp::CC_OUTPUT_OCTETS)
        .map(unsigned64)
        .transpose()?;
    Ok(Units {
        octets: total.or(add(input, output)),
        seconds: find(avps, avp::CC_TIME)
            .map(|a| unsigned32(a).map(u64::from))
            .transpose()?,
        messages: find(avps, avp::CC_SERVICE_SPECIFIC_UNITS)
            .map(unsigned64)
            .transpose()?,
    })
}

/// The subscriber: the first E.164 number, else the first IMSI, among the Subscription-Ids
/// (simdesk keys lines by number). Other kinds (SIP URI, NAI, private) are not simdesk's.
fn subscriber(avps: &[Avp], dict: &Arc<Dictionary>) -> Result<Option<Subscriber>, Refusal> {
    let mut msisdn = None;
    let mut imsi = None;
    for id in find_all(avps, avp::SUBSCRIPTION_ID) {
        let inner = grouped(id)?;
        let inside = |code: u32| {
            find(inner, code).ok_or_else(|| {
                let example = Grouped::new(vec![example(code, dict)], dict.clone());
                Refusal::new(
                    result::MISSING_AVP,
                    format!("Subscription-Id without {}", avp_name(code, dict)),
                )
                .with_failed(wire::avp(avp::SUBSCRIPTION_ID, example, dict))
            })
        };
        let kind = enumerated(inside(avp::SUBSCRIPTION_ID_TYPE)?)?;
        let data = text(inside(avp::SUBSCRIPTION_ID_DATA)?)?;
        match kind {
            subscription_type::END_USER_E164 if msisdn.is_none() => msisdn = Some(data),
            subscription_type::END_USER_IMSI if imsi.is_none() => imsi = Some(data),
            _ => {}
        }
    }
    Ok(msisdn
        .map(Subscriber::Msisdn)
        .or(imsi.map(Subscriber::Imsi)))
}

/// The AVP `code` at the top of a CCR, or the 5005 refusal naming it.
fn required<'a>(avps: &'a [Avp], code: u32, dict: &Arc<Dictionary>) -> Result<&'a Avp, Refusal> {
    find(avps, code).ok_or_else(|| {
        Refusal::new(
            result::MISSING_AVP,
            format!("the CCR has no {}", avp_name(code, dict)),
        )
        .with_failed(example(code, dict))
    })
}

/// An example of a missing AVP for Failed-AVP: its code, and a value of its type at its
/// minimum length, zeroed (RFC 6733 §7.5).
fn example(code: u32, dict: &Arc<Dictionary>) -> Avp {
    let kind = dict
        .get_avp_type(code, None)
        .copied()
        .unwrap_or(AvpType::OctetString);
    let value: AvpValue = match kind {
        AvpType::Unsigned32 => Unsigned32::new(0).into(),
        AvpType::Unsigned64 => Unsigned64::new(0).into(),
        AvpType::Enumerated => Enumerated::new(0).into(),
        AvpType::Identity => Identity::new("").into(),
        AvpType::UTF8String => UTF8String::new("").into(),
        AvpType::Grouped => Grouped::new(Vec::new(), dict.clone()).into(),
        _ => diameter::avp::OctetString::new(Vec::new()).into(),
    };
    wire::avp(code, value, dict)
}

fn avp_name(code: u32, dict: &Dictionary) -> String {
    dict.get_avp_name(code, None)
        .map(str::to_string)
        .unwrap_or_else(|| format!("AVP {code}"))
}

/// A 5004 refusal naming `avp`.
fn invalid(avp: &Avp, why: &str) -> Refusal {
    Refusal::new(result::INVALID_AVP_VALUE, why).with_failed(avp.clone())
}

// The dictionary fixes each AVP's type, so these only fail if a dictionary entry disagrees
// with RFC 4006; that is still an answer, never a panic.

fn unsigned32(avp: &Avp) -> Result<u32, Refusal> {
    avp.get_unsigned32()
        .ok_or_else(|| invalid(avp, "expected an Unsigned32"))
}

fn unsigned64(avp: &Avp) -> Result<u64, Refusal> {
    avp.get_unsigned64()
        .ok_or_else(|| invalid(avp, "expected an Unsigned64"))
}

fn enumerated(avp: &Avp) -> Result<i32, Refusal> {
    avp.get_enumerated()
        .map(|e| e.value())
        .ok_or_else(|| invalid(avp, "expected an Enumerated"))
}

fn text(avp: &Avp) -> Result<String, Refusal> {
    match avp.get_value() {
        AvpValue::UTF8String(s) => Ok(s.value().to_string()),
        AvpValue::Identity(s) => Ok(s.value().to_string()),
        _ => Err(invalid(avp, "expected text")),
    }
}

fn grouped(avp: &Avp) -> Result<&[Avp], Refusal> {
    avp.get_grouped()
        .map(Grouped::avps)
        .ok_or_else(|| invalid(avp, "expected a grouped AVP"))
}

fn timestamp(avp: &Avp) -> Result<jiff::Timestamp, Refusal> {
    let time = avp
        .get_time()
        .ok_or_else(|| invalid(avp, "expected a Time"))?;
    jiff::Timestamp::from_second(time.value().timestamp())
        .map_err(|_| invalid(avp, "a time out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gy::dictionary::dictionary;
    use crate::gy::wire::flags;
    use crate::gy::GySettings;
    use diameter::avp::Time;

    fn local() -> Local {
        Local::new(&GySettings::new(
            "127.0.0.1:3868".parse().unwrap(),
            "ocs.test",
            "test",
        ))
    }

    fn ccr(avps: Vec<Avp>) -> DiameterMessage {
        let mut m = DiameterMessage::new(
            CommandCode::CreditControl,
            ApplicationId::CreditControl,
            flags::REQUEST | flags::PROXYABLE,
            11,
            22,
            dictionary(),
        );
        for a in avps {
            m.add(a);
        }
        m
    }

    fn a(code: u32, value: impl Into<AvpValue>) -> Avp {
        wire::avp(code, value, &dictionary())
    }

    fn group(code: u32, avps: Vec<Avp>) -> Avp {
        a(code, Grouped::new(avps, dictionary()))
    }

    fn mandatory() -> Vec<Avp> {
        vec![
            a(avp::SESSION_ID, UTF8String::new("pgw.test;1;2")),
            a(avp::ORIGIN_HOST, Identity::new("pgw.test")),
            a(avp::ORIGIN_REALM, Identity::new("test")),
            a(avp::DESTINATION_REALM, Identity::new("sim.test")),
            a(avp::AUTH_APPLICATION_ID, Unsigned32::new(4)),
            a(avp::SERVICE_CONTEXT_ID, UTF8String::new("32251@3gpp.org")),
            a(avp::CC_REQUEST_TYPE, Enumerated::new(2)),
            a(avp::CC_REQUEST_NUMBER, Unsigned32::new(3)),
        ]
    }

    /// Encodes and decodes again, as the server would receive it.
    fn over_the_wire(message: &DiameterMessage) -> DiameterMessage {
        let dict = dictionary();
        let bytes = wire::encode(message);
        wire::decode(&wire::clean(&bytes, &dict).unwrap(), &dict).unwrap()
    }

    #[test]
    fn a_ccr_update_with_two_services_is_read_whole() {
        let mut avps = mandatory();
        avps.extend([
            a(
                avp::EVENT_TIMESTAMP,
                Time::new(chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap()),
            ),
            group(
                avp::SUBSCRIPTION_ID,
                vec![
                    a(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(1)),
                    a(
                        avp::SUBSCRIPTION_ID_DATA,
                        UTF8String::new("440101234567890"),
                    ),
                ],
            ),
            group(
                avp::SUBSCRIPTION_ID,
                vec![
                    a(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(0)),
                    a(avp::SUBSCRIPTION_ID_DATA, UTF8String::new("818010000400")),
                ],
            ),
            group(
                avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
                vec![
                    group(avp::REQUESTED_SERVICE_UNIT, vec![]),
                    group(
                        avp::USED_SERVICE_UNIT,
                        vec![
                            a(avp::CC_INPUT_OCTETS, Unsigned64::new(100)),
                            a(avp::CC_OUTPUT_OCTETS, Unsigned64::new(50)),
                        ],
                    ),
                    group(
                        avp::USED_SERVICE_UNIT,
                        vec![
                            a(avp::CC_TOTAL_OCTETS, Unsigned64::new(1000)),
                            a(avp::CC_TIME, Unsigned32::new(60)),
                        ],
                    ),
                    a(avp::SERVICE_IDENTIFIER, Unsigned32::new(1)),
                    a(avp::RATING_GROUP, Unsigned32::new(10)),
                ],
            ),
            group(
                avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
                vec![
                    group(
                        avp::REQUESTED_SERVICE_UNIT,
                        vec![a(avp::CC_SERVICE_SPECIFIC_UNITS, Unsigned64::new(1))],
                    ),
                    a(avp::RATING_GROUP, Unsigned32::new(20)),
                ],
            ),
        ]);
        let request = decode_ccr(&over_the_wire(&ccr(avps))).unwrap();
        assert_eq!(request.session_id, "pgw.test;1;2");
        assert_eq!(request.request_type, RequestType::Update);
        assert_eq!(request.request_number, 3);
        assert_eq!(
            request.subscriber,
            Some(Subscriber::Msisdn("818010000400".into()))
        );
        assert_eq!(
            request.event_time,
            Some(jiff::Timestamp::from_second(1_790_000_000).unwrap())
        );
        assert_eq!(request.termination_cause, None);
        assert_eq!(
            request.services,
            vec![
                ServiceUsage {
                    rating_group: Some(10),
                    service_id: Some(1),
                    requested: Some(Units::default()),
                    used: Some(Units {
                        octets: Some(1150),
                        seconds: Some(60),
                        messages: None
                    }),
                },
                ServiceUsage {
                    rating_group: Some(20),
                    service_id: None,
                    requested: Some(Units {
                        messages: Some(1),
                        ..Units::default()
                    }),
                    used: None,
                },
            ]
        );
    }

    #[test]
    fn a_ccr_without_mscc_is_one_service_and_a_terminate_keeps_its_cause() {
        let mut avps = mandatory();
        avps[6] = a(avp::CC_REQUEST_TYPE, Enumerated::new(3));
        avps.extend([
            a(avp::TERMINATION_CAUSE, Enumerated::new(1)),
            group(
                avp::USED_SERVICE_UNIT,
                vec![a(avp::CC_TIME, Unsigned32::new(30))],
            ),
            group(
                avp::SUBSCRIPTION_ID,
                vec![
                    a(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(1)),
                    a(
                        avp::SUBSCRIPTION_ID_DATA,
                        UTF8String::new("440101234567890"),
                    ),
                ],
            ),
        ]);
        let request = decode_ccr(&over_the_wire(&ccr(avps))).unwrap();
        assert_eq!(request.request_type, RequestType::Terminate);
        assert_eq!(request.termination_cause, Some(1));
        assert_eq!(
            request.subscriber,
            Some(Subscriber::Imsi("440101234567890".into()))
        );
        assert_eq!(request.services.len(), 1);
        assert_eq!(request.services[0].used.unwrap().seconds, Some(30));
        assert_eq!(request.services[0].rating_group, None);

        // With nothing about units at all, there is no service.
        let bare = decode_ccr(&over_the_wire(&ccr(mandatory()))).unwrap();
        assert!(bare.services.is_empty());
        assert_eq!(bare.subscriber, None);
    }

    #[test]
    fn each_missing_mandatory_avp_is_named_in_a_5005() {
        for (i, code) in CCR_MANDATORY.iter().enumerate() {
            let mut avps = mandatory();
            avps.remove(i);
            let refusal = decode_ccr(&over_the_wire(&ccr(avps))).unwrap_err();
            assert_eq!(refusal.result_code, result::MISSING_AVP, "without {code}");
            let failed = refusal.failed_avp.expect("Failed-AVP");
            assert_eq!(failed.get_code(), *code);
        }
    }

    #[test]
    fn a_subscription_id_without_its_data_is_a_5005_naming_the_inner_avp() {
        let mut avps = mandatory();
        avps.push(group(
            avp::SUBSCRIPTION_ID,
            vec![a(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(0))],
        ));
        let refusal = decode_ccr(&over_the_wire(&ccr(avps))).unwrap_err();
        assert_eq!(refusal.result_code, result::MISSING_AVP);
        let failed = refusal.failed_avp.unwrap();
        assert_eq!(failed.get_code(), avp::SUBSCRIPTION_ID);
        let inner = failed.get_grouped().unwrap().avps();
        assert_eq!(inner[0].get_code(), avp::SUBSCRIPTION_ID_DATA);
    }

    #[test]
    fn the_visited_network_is_read_from_the_ps_information() {
        let dict = dictionary();
        let visited = |digits: &str| {
            let network = wire::tgpp_avp(
                avp::TGPP_SGSN_MCC_MNC,
                false,
                UTF8String::new(digits),
                &dict,
            );
            let ps = wire::tgpp_avp(
                avp::PS_INFORMATION,
                true,
                Grouped::new(vec![network], dict.clone()),
                &dict,
            );
            let service = wire::tgpp_avp(
                avp::SERVICE_INFORMATION,
                true,
                Grouped::new(vec![ps], dict.clone()),
                &dict,
            );
            let mut avps = mandatory();
            avps.push(service);
            decode_ccr(&over_the_wire(&ccr(avps)))
                .unwrap()
                .visited_network
        };
        assert_eq!(visited("45005").as_deref(), Some("45005"));
        assert_eq!(visited("310410").as_deref(), Some("310410"));
        // Not MCC-MNC digits: ignored, the request still answered.
        assert_eq!(visited("home"), None);
        assert_eq!(
            decode_ccr(&over_the_wire(&ccr(mandatory())))
                .unwrap()
                .visited_network,
            None
        );
    }

    #[test]
    fn values_rfc_4006_does_not_define_are_a_5004() {
        let mut avps = mandatory();
        avps[6] = a(avp::CC_REQUEST_TYPE, Enumerated::new(9));
        let refusal = decode_ccr(&over_the_wire(&ccr(avps))).unwrap_err();
        assert_eq!(refusal.result_code, result::INVALID_AVP_VALUE);
        assert_eq!(refusal.failed_avp.unwrap().get_code(), avp::CC_REQUEST_TYPE);

        let mut avps = mandatory();
        avps[4] = a(avp::AUTH_APPLICATION_ID, Unsigned32::new(16_777_238));
        let refusal = decode_ccr(&over_the_wire(&ccr(avps))).unwrap_err();
        assert_eq!(refusal.result_code, result::INVALID_AVP_VALUE);
    }

    #[test]
    fn a_cca_carries_the_answer_per_service() {
        let local = local();
        let request = CreditRequest {
            session_id: "pgw.test;1;2".into(),
            request_type: RequestType::Initial,
            request_number: 0,
            subscriber: None,
            event_time: None,
            services: vec![],
            termination_cause: None,
            visited_network: None,
        };
        let answer = CreditAnswer {
            outcome: Outcome::Success,
            services: vec![
                ServiceGrant {
                    rating_group: Some(10),
                    service_id: Some(1),
                    outcome: Outcome::Success,
                    granted: Some(Units {
                        octets: Some(5_000_000),
                        seconds: Some(600),
                        messages: None,
                    }),
                    validity_secs: None,
                    final_unit: true,
                },
                ServiceGrant {
                    rating_group: Some(20),
                    service_id: None,
                    outcome: Outcome::CreditLimitReached,
                    granted: None,
                    validity_secs: None,
                    final_unit: false,
                },
            ],
        };
        let header = Header::parse(&wire::encode(&ccr(mandatory()))).unwrap();
        let cca = over_the_wire_answer(&encode_cca(&header, &request, &answer, &local));
        assert_eq!(cca.get_command_code(), CommandCode::CreditControl);
        assert_eq!(cca.get_flags(), flags::PROXYABLE);
        assert_eq!((cca.get_hop_by_hop_id(), cca.get_end_to_end_id()), (11, 22));
        let avps = cca.get_avps();
        let u32_of = |avps: &[Avp], code| find(avps, code).unwrap().get_unsigned32().unwrap();
        assert_eq!(avps[0].get_code(), avp::SESSION_ID);
        assert_eq!(u32_of(avps, avp::RESULT_CODE), 2001);
        assert_eq!(u32_of(avps, avp::AUTH_APPLICATION_ID), 4);
        assert_eq!(u32_of(avps, avp::CC_REQUEST_NUMBER), 0);
        assert_eq!(
            find(avps, avp::CC_REQUEST_TYPE)
                .unwrap()
                .get_enumerated()
                .unwrap()
                .value(),
            1
        );
        let msccs: Vec<&[Avp]> = find_all(avps, avp::MULTIPLE_SERVICES_CREDIT_CONTROL)
            .map(|m| m.get_grouped().unwrap().avps())
            .collect();
        assert_eq!(msccs.len(), 2);
        let first = msccs[0];
        assert_eq!(u32_of(first, avp::RATING_GROUP), 10);
        assert_eq!(u32_of(first, avp::SERVICE_IDENTIFIER), 1);
        assert_eq!(u32_of(first, avp::RESULT_CODE), 2001);
        assert_eq!(u32_of(first, avp::VALIDITY_TIME), 900);
        let gsu = find(first, avp::GRANTED_SERVICE_UNIT)
            .unwrap()
            .get_grouped()
            .unwrap()
            .avps();
        assert_eq!(
            find(gsu, avp::CC_TOTAL_OCTETS).unwrap().get_unsigned64(),
            Some(5_000_000)
        );
        assert_eq!(u32_of(gsu, avp::CC_TIME), 600);
        assert!(find(gsu, avp::CC_SERVICE_SPECIFIC_UNITS).is_none());
        let fui = find(first, avp::FINAL_UNIT_INDICATION)
            .unwrap()
            .get_grouped()
            .unwrap()
            .avps();
        assert_eq!(
            find(fui, avp::FINAL_UNIT_ACTION)
                .unwrap()
                .get_enumerated()
                .unwrap()
                .value(),
            0
        );
        let second = msccs[1];
        assert_eq!(u32_of(second, avp::RESULT_CODE), 4012);
        assert!(find(second, avp::GRANTED_SERVICE_UNIT).is_none());
        assert!(find(second, avp::VALIDITY_TIME).is_none());
        assert!(find(second, avp::FINAL_UNIT_INDICATION).is_none());
    }

    #[test]
    fn every_outcome_has_its_rfc_result_code() {
        for (outcome, code) in [
            (Outcome::Success, 2001),
            (Outcome::CreditLimitReached, 4012),
            (Outcome::EndUserServiceDenied, 4010),
            (Outcome::UserUnknown, 5030),
            (Outcome::RatingFailed, 5031),
            (Outcome::UnableToComply, 5012),
            (Outcome::SessionUnknown, 5002),
        ] {
            assert_eq!(result_code(outcome), code, "{outcome:?}");
        }
    }

    #[test]
    fn a_refusal_is_a_cca_that_echoes_what_it_can() {
        let local = local();
        let mut avps = mandatory();
        avps.remove(1); // Origin-Host
        let request = ccr(avps);
        let refusal = decode_ccr(&over_the_wire(&request)).unwrap_err();
        let request = wire::encode(&request);
        let bytes = refusal_answer(&request, &refusal, &local);
        let answer = over_the_wire_answer_bytes(&bytes);
        assert_eq!(answer.get_flags() & flags::ERROR, 0);
        assert_eq!(
            (answer.get_hop_by_hop_id(), answer.get_end_to_end_id()),
            (11, 22)
        );
        let avps = answer.get_avps();
        assert_eq!(avps[0].get_utf8string().unwrap().value(), "pgw.test;1;2");
        assert_eq!(
            find(avps, avp::RESULT_CODE).unwrap().get_unsigned32(),
            Some(5005)
        );
        assert_eq!(
            find(avps, avp::CC_REQUEST_NUMBER).unwrap().get_unsigned32(),
            Some(3)
        );
        assert!(find(avps, avp::CC_REQUEST_TYPE).is_some());
        let failed = find(avps, avp::FAILED_AVP)
            .unwrap()
            .get_grouped()
            .unwrap()
            .avps();
        assert_eq!(failed[0].get_code(), avp::ORIGIN_HOST);

        // A protocol error has the E bit and no CCA fields.
        let bytes = refusal_answer(
            &request,
            &Refusal::new(result::UNKNOWN_PEER, "no CER"),
            &local,
        );
        let answer = over_the_wire_answer_bytes(&bytes);
        assert_eq!(answer.get_flags() & flags::ERROR, flags::ERROR);
        assert!(find(answer.get_avps(), avp::CC_REQUEST_NUMBER).is_none());
    }

    fn over_the_wire_answer(message: &DiameterMessage) -> DiameterMessage {
        over_the_wire_answer_bytes(&wire::encode(message))
    }

    fn over_the_wire_answer_bytes(bytes: &[u8]) -> DiameterMessage {
        let dict = dictionary();
        wire::decode(&wire::clean(bytes, &dict).unwrap(), &dict).unwrap()
    }

    proptest::proptest! {
        /// Whatever bytes arrive, reading them ends in a request or an answer saying why not.
        #[test]
        fn no_bytes_make_the_reader_panic(
            cut in proptest::prop_oneof![proptest::strategy::Just(0usize), 0usize..400],
            flips in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 0..8),
        ) {
            let dict = dictionary();
            let mut avps = mandatory();
            avps.push(group(
                avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
                vec![
                    group(avp::USED_SERVICE_UNIT, vec![a(avp::CC_TOTAL_OCTETS, Unsigned64::new(7))]),
                    a(avp::RATING_GROUP, Unsigned32::new(1)),
                ],
            ));
            let mut bytes = wire::encode(&ccr(avps));
            for (at, value) in flips {
                let at = wire::HEADER_LEN + at % (bytes.len() - wire::HEADER_LEN);
                bytes[at] = value;
            }
            bytes.truncate(wire::HEADER_LEN.max(bytes.len().saturating_sub(cut)));
            // Keep the header's length true, so the walk reaches the AVPs.
            let length = (bytes.len() as u32).to_be_bytes();
            bytes[1..4].copy_from_slice(&length[1..]);
            let read = wire::clean(&bytes, &dict)
                .and_then(|cleaned| wire::decode(&cleaned, &dict))
                .and_then(|message| decode_ccr(&message));
            if let Err(refusal) = read {
                let answer = refusal_answer(&bytes, &refusal, &local());
                proptest::prop_assert!(Header::parse(&answer).is_some());
            }
        }
    }
}
