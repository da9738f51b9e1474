//! The base protocol around Gy (RFC 6733 §5): the capabilities exchange that opens a
//! connection, the watchdog that keeps it honest and the disconnect that ends it. Each builder
//! here makes one message; when to send it is `server.rs`'s business.

use super::avp::{self, result};
use super::wire::{self, find, find_all, Header, Refusal};
use super::Local;
use diameter::avp::{Address, Avp, Enumerated, Identity, UTF8String, Unsigned32};
use diameter::{ApplicationId, CommandCode, DiameterMessage};
use std::net::IpAddr;

/// What simdesk calls itself in `Product-Name`.
pub const PRODUCT_NAME: &str = "simdesk";
/// `Vendor-Id`: simdesk has no IANA enterprise number of its own, so it sends 0 (IANA's
/// reserved value), as other implementations without one do.
pub const VENDOR_ID: u32 = 0;

/// The peer a CER introduced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub origin_host: String,
    pub origin_realm: String,
}

/// Reads a CER: who the peer is, and whether it speaks credit control. A peer that does not
/// advertise application 4 (or the relay application, which stands for all) has nothing in
/// common with simdesk: 5010 (§5.3). Host-IP-Address, Vendor-Id and Product-Name are not
/// insisted on: they identify nothing simdesk uses, and refusing a client over them would only
/// stop charging.
pub fn read_cer(cer: &DiameterMessage) -> Result<Peer, Refusal> {
    let avps = cer.get_avps();
    let identity = |code: u32, name: &str| {
        find(avps, code)
            .and_then(|a| a.get_identity())
            .map(|i| i.value().to_string())
            .ok_or_else(|| {
                Refusal::new(result::MISSING_AVP, format!("the CER has no {name}")).with_failed(
                    wire::avp(code, Identity::new(""), &super::dictionary::dictionary()),
                )
            })
    };
    let peer = Peer {
        origin_host: identity(avp::ORIGIN_HOST, "Origin-Host")?,
        origin_realm: identity(avp::ORIGIN_REALM, "Origin-Realm")?,
    };
    let mut applications = application_ids(avps);
    for vendor_specific in find_all(avps, avp::VENDOR_SPECIFIC_APPLICATION_ID) {
        if let Some(group) = vendor_specific.get_grouped() {
            applications.extend(application_ids(group.avps()));
        }
    }
    if applications
        .iter()
        .any(|&id| id == avp::CREDIT_CONTROL_APPLICATION || id == avp::RELAY_APPLICATION)
    {
        Ok(peer)
    } else {
        Err(Refusal::new(
            result::NO_COMMON_APPLICATION,
            "simdesk serves Diameter Credit-Control (application 4) only",
        ))
    }
}

fn application_ids(avps: &[Avp]) -> Vec<u32> {
    find_all(avps, avp::AUTH_APPLICATION_ID)
        .chain(find_all(avps, avp::ACCT_APPLICATION_ID))
        .filter_map(Avp::get_unsigned32)
        .collect()
}

/// The CEA to `cer`: success, or the refusal's code with its reasons. Either way it says who
/// simdesk is and what it serves, as §5.3.2 asks.
pub fn cea(cer: &Header, refusal: Option<&Refusal>, host_ip: IpAddr, local: &Local) -> Vec<u8> {
    let dict = &local.dict;
    let mut cea = answer_to(cer, CommandCode::CapabilitiesExchange, local);
    let code = refusal.map_or(result::SUCCESS, |r| r.result_code);
    cea.add(wire::avp(avp::RESULT_CODE, Unsigned32::new(code), dict));
    add_origin(&mut cea, local);
    let address = match host_ip {
        IpAddr::V4(ip) => Address::from_ipv4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(ip) => Address::from_ipv4(ip),
            None => Address::from_ipv6(ip),
        },
    };
    for avp in [
        wire::avp(avp::HOST_IP_ADDRESS, address, dict),
        wire::avp(avp::VENDOR_ID, Unsigned32::new(VENDOR_ID), dict),
        // RFC 6733 lists Product-Name without the M bit.
        Avp::new(
            avp::PRODUCT_NAME,
            None,
            0,
            UTF8String::new(PRODUCT_NAME).into(),
            dict.clone(),
        ),
        wire::avp(avp::ORIGIN_STATE_ID, Unsigned32::new(local.state_id), dict),
        wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(avp::CREDIT_CONTROL_APPLICATION),
            dict,
        ),
    ] {
        cea.add(avp);
    }
    if let Some(refusal) = refusal {
        cea.add(wire::avp(
            avp::ERROR_MESSAGE,
            UTF8String::new(&refusal.message),
            dict,
        ));
        if let Some(failed) = &refusal.failed_avp {
            cea.add(wire::failed_avp(failed.clone(), dict));
        }
    }
    wire::encode(&cea)
}

/// The DWA to a DWR.
pub fn dwa(dwr: &Header, local: &Local) -> Vec<u8> {
    let mut dwa = answer_to(dwr, CommandCode::DeviceWatchdog, local);
    dwa.add(wire::avp(
        avp::RESULT_CODE,
        Unsigned32::new(result::SUCCESS),
        &local.dict,
    ));
    add_origin(&mut dwa, local);
    dwa.add(wire::avp(
        avp::ORIGIN_STATE_ID,
        Unsigned32::new(local.state_id),
        &local.dict,
    ));
    wire::encode(&dwa)
}

/// The DPA to a DPR.
pub fn dpa(dpr: &Header, local: &Local) -> Vec<u8> {
    let mut dpa = answer_to(dpr, CommandCode::DisconnectPeer, local);
    dpa.add(wire::avp(
        avp::RESULT_CODE,
        Unsigned32::new(result::SUCCESS),
        &local.dict,
    ));
    add_origin(&mut dpa, local);
    wire::encode(&dpa)
}

/// simdesk's own DWR, sent when a link has been quiet for the watchdog interval.
pub fn dwr(hop_by_hop: u32, end_to_end: u32, local: &Local) -> Vec<u8> {
    let mut dwr = request(CommandCode::DeviceWatchdog, hop_by_hop, end_to_end, local);
    add_origin(&mut dwr, local);
    dwr.add(wire::avp(
        avp::ORIGIN_STATE_ID,
        Unsigned32::new(local.state_id),
        &local.dict,
    ));
    wire::encode(&dwr)
}

/// simdesk's DPR when it stops: REBOOTING tells the peer to come back rather than give up.
pub fn dpr(hop_by_hop: u32, end_to_end: u32, local: &Local) -> Vec<u8> {
    let mut dpr = request(CommandCode::DisconnectPeer, hop_by_hop, end_to_end, local);
    add_origin(&mut dpr, local);
    dpr.add(wire::avp(
        avp::DISCONNECT_CAUSE,
        Enumerated::new(avp::DISCONNECT_CAUSE_REBOOTING),
        &local.dict,
    ));
    wire::encode(&dpr)
}

fn answer_to(request: &Header, command: CommandCode, local: &Local) -> DiameterMessage {
    DiameterMessage::new(
        command,
        ApplicationId::Common,
        request.answer(false).flags,
        request.hop_by_hop,
        request.end_to_end,
        local.dict.clone(),
    )
}

fn request(
    command: CommandCode,
    hop_by_hop: u32,
    end_to_end: u32,
    local: &Local,
) -> DiameterMessage {
    DiameterMessage::new(
        command,
        ApplicationId::Common,
        wire::flags::REQUEST,
        hop_by_hop,
        end_to_end,
        local.dict.clone(),
    )
}

fn add_origin(message: &mut DiameterMessage, local: &Local) {
    message.add(wire::avp(
        avp::ORIGIN_HOST,
        Identity::new(&local.origin_host),
        &local.dict,
    ));
    message.add(wire::avp(
        avp::ORIGIN_REALM,
        Identity::new(&local.origin_realm),
        &local.dict,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gy::dictionary::dictionary;
    use crate::gy::GySettings;
    use diameter::avp::Grouped;

    fn local() -> Local {
        Local::new(&GySettings::new(
            "127.0.0.1:3868".parse().unwrap(),
            "ocs.test",
            "test",
        ))
    }

    fn cer(avps: Vec<Avp>) -> DiameterMessage {
        let mut m = DiameterMessage::new(
            CommandCode::CapabilitiesExchange,
            ApplicationId::Common,
            wire::flags::REQUEST,
            5,
            6,
            dictionary(),
        );
        for a in avps {
            m.add(a);
        }
        m
    }

    fn origin() -> Vec<Avp> {
        let dict = dictionary();
        vec![
            wire::avp(avp::ORIGIN_HOST, Identity::new("pgw.test"), &dict),
            wire::avp(avp::ORIGIN_REALM, Identity::new("test"), &dict),
        ]
    }

    fn read(bytes: &[u8]) -> DiameterMessage {
        let dict = dictionary();
        wire::decode(&wire::clean(bytes, &dict).unwrap(), &dict).unwrap()
    }

    #[test]
    fn a_cer_for_credit_control_names_its_peer() {
        let dict = dictionary();
        let mut avps = origin();
        avps.push(wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(4),
            &dict,
        ));
        let peer = read_cer(&cer(avps)).unwrap();
        assert_eq!(peer.origin_host, "pgw.test");
        assert_eq!(peer.origin_realm, "test");

        // Inside Vendor-Specific-Application-Id, and as a relay, count too.
        let mut avps = origin();
        avps.push(wire::avp(
            avp::VENDOR_SPECIFIC_APPLICATION_ID,
            Grouped::new(
                vec![
                    wire::avp(avp::VENDOR_ID, Unsigned32::new(10415), &dict),
                    wire::avp(avp::AUTH_APPLICATION_ID, Unsigned32::new(4), &dict),
                ],
                dict.clone(),
            ),
            &dict,
        ));
        assert!(read_cer(&cer(avps)).is_ok());
        let mut avps = origin();
        avps.push(wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(0xffff_ffff),
            &dict,
        ));
        assert!(read_cer(&cer(avps)).is_ok());
    }

    #[test]
    fn a_cer_without_credit_control_or_origin_is_refused() {
        let dict = dictionary();
        let mut avps = origin();
        avps.push(wire::avp(
            avp::AUTH_APPLICATION_ID,
            Unsigned32::new(16_777_238),
            &dict,
        ));
        assert_eq!(
            read_cer(&cer(avps)).unwrap_err().result_code,
            result::NO_COMMON_APPLICATION
        );
        let refusal = read_cer(&cer(origin()[1..].to_vec())).unwrap_err();
        assert_eq!(refusal.result_code, result::MISSING_AVP);
        assert_eq!(refusal.failed_avp.unwrap().get_code(), avp::ORIGIN_HOST);
    }

    #[test]
    fn the_cea_says_who_simdesk_is() {
        let local = local();
        let header = Header::parse(&wire::encode(&cer(origin()))).unwrap();
        let cea = read(&cea(&header, None, "127.0.0.1".parse().unwrap(), &local));
        assert_eq!(cea.get_command_code(), CommandCode::CapabilitiesExchange);
        assert_eq!((cea.get_hop_by_hop_id(), cea.get_end_to_end_id()), (5, 6));
        let avps = cea.get_avps();
        assert_eq!(
            find(avps, avp::RESULT_CODE).unwrap().get_unsigned32(),
            Some(2001)
        );
        assert_eq!(
            find(avps, avp::ORIGIN_HOST)
                .unwrap()
                .get_identity()
                .unwrap()
                .value(),
            "ocs.test"
        );
        assert_eq!(
            find(avps, avp::AUTH_APPLICATION_ID)
                .unwrap()
                .get_unsigned32(),
            Some(4)
        );
        assert!(find(avps, avp::HOST_IP_ADDRESS)
            .unwrap()
            .get_address()
            .is_some());
        assert_eq!(
            find(avps, avp::VENDOR_ID).unwrap().get_unsigned32(),
            Some(0)
        );
        assert_eq!(
            find(avps, avp::PRODUCT_NAME)
                .unwrap()
                .get_utf8string()
                .unwrap()
                .value(),
            "simdesk"
        );
    }

    #[test]
    fn watchdog_and_disconnect_messages_are_well_formed() {
        let local = local();
        let dwr = read(&dwr(1, 2, &local));
        assert_eq!(dwr.get_command_code(), CommandCode::DeviceWatchdog);
        assert_eq!(dwr.get_flags(), wire::flags::REQUEST);
        let dpr = read(&dpr(3, 4, &local));
        assert_eq!(
            find(dpr.get_avps(), avp::DISCONNECT_CAUSE)
                .unwrap()
                .get_enumerated()
                .unwrap()
                .value(),
            0
        );
        let header = Header::parse(&wire::encode(&dwr)).unwrap();
        let dwa = read(&dwa(&header, &local));
        assert_eq!(dwa.get_flags(), 0);
        assert_eq!(
            find(dwa.get_avps(), avp::RESULT_CODE)
                .unwrap()
                .get_unsigned32(),
            Some(2001)
        );
        let dpa = read(&dpa(&Header::parse(&wire::encode(&dpr)).unwrap(), &local));
        assert_eq!((dpa.get_hop_by_hop_id(), dpa.get_end_to_end_id()), (3, 4));
    }
}
