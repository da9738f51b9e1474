//! simdesk's Gy server over real TCP on 127.0.0.1: the capabilities exchange, the watchdog
//! both ways, credit-control sessions with several services, refusals of what cannot be read,
//! pipelining, many peers at once, disconnecting and stopping — and the same flows driven by
//! python-diameter, a Diameter implementation that is not the crate simdesk uses.
//!
//! Grants here come from `EchoingCharger`, a test stand-in that grants what is asked; the real
//! charging is another part of simdesk. These tests are about the protocol.

mod support;

use diameter::avp::{Avp, Enumerated, OctetString, Unsigned32};
use diameter::transport::{DiameterClient, DiameterClientConfig};
use diameter::{ApplicationId, CommandCode, DiameterMessage};
use simdesk::gy::wire::{self, find, find_all, flags, Header};
use simdesk::gy::{
    self, avp, CreditAnswer, CreditControl, CreditRequest, GySettings, Outcome, RequestType,
    ServiceGrant, Subscriber, Units,
};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::diameter::*;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Grants exactly what each service asks for (a default quota when it names no units), and
/// remembers every request. A few markers make it answer otherwise, for the tests that need
/// it: rating group 99 cannot be rated, rating group 7 takes a while, and the number 0000 is
/// not a subscriber.
#[derive(Default)]
struct EchoingCharger {
    seen: Mutex<Vec<CreditRequest>>,
}

const DEFAULT_QUOTA: u64 = 1_048_576;
const SLOW_RATING_GROUP: u32 = 7;
const UNRATABLE_RATING_GROUP: u32 = 99;

impl EchoingCharger {
    fn seen(&self) -> Vec<CreditRequest> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl CreditControl for EchoingCharger {
    async fn answer(&self, request: &CreditRequest) -> CreditAnswer {
        self.seen.lock().unwrap().push(request.clone());
        if request.subscriber == Some(Subscriber::Msisdn("0000".into())) {
            return CreditAnswer::refused(Outcome::UserUnknown);
        }
        if request
            .services
            .iter()
            .any(|s| s.rating_group == Some(SLOW_RATING_GROUP))
        {
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        let services = request
            .services
            .iter()
            .map(|s| {
                let outcome = if s.rating_group == Some(UNRATABLE_RATING_GROUP) {
                    Outcome::RatingFailed
                } else {
                    Outcome::Success
                };
                let granted = match (outcome, request.request_type, s.requested) {
                    (Outcome::Success, RequestType::Terminate, _) | (_, _, None) => None,
                    (Outcome::Success, _, Some(asked)) if asked.is_empty() => Some(Units {
                        octets: Some(DEFAULT_QUOTA),
                        ..Units::default()
                    }),
                    (Outcome::Success, _, Some(asked)) => Some(asked),
                    _ => None,
                };
                ServiceGrant {
                    rating_group: s.rating_group,
                    service_id: s.service_id,
                    outcome,
                    granted,
                    validity_secs: None,
                    // The service's last quota once it has reported more than 10 MB.
                    final_unit: s.used.and_then(|u| u.octets).unwrap_or(0) > 10_000_000,
                }
            })
            .collect();
        CreditAnswer {
            outcome: Outcome::Success,
            services,
        }
    }
}

/// A running Gy server and how to stop it.
struct Server {
    addr: SocketAddr,
    charger: Arc<EchoingCharger>,
    stop: Option<oneshot::Sender<()>>,
    running: JoinHandle<()>,
}

impl Server {
    async fn start() -> Server {
        Server::start_with(|_| {}).await
    }

    async fn start_with(change: impl FnOnce(&mut GySettings)) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut settings = GySettings::new(addr, "ocs.simdesk.test", "simdesk.test");
        change(&mut settings);
        let charger = Arc::new(EchoingCharger::default());
        let (stop, stopped) = oneshot::channel();
        let running = tokio::spawn(gy::serve(listener, settings, charger.clone(), async {
            let _ = stopped.await;
        }));
        Server {
            addr,
            charger,
            stop: Some(stop),
            running,
        }
    }

    /// Tells the server to stop; `stopped` waits for it.
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    async fn stopped(self) {
        tokio::time::timeout(Duration::from_secs(20), self.running)
            .await
            .expect("the server stopped in time")
            .unwrap();
    }
}

#[tokio::test]
async fn the_crates_own_client_runs_a_whole_charging_session() {
    let mut server = Server::start().await;
    let mut client = DiameterClient::new(
        &server.addr.to_string(),
        DiameterClientConfig {
            use_tls: false,
            verify_cert: false,
        },
    );
    let mut handler = client.connect().await.unwrap();
    tokio::spawn(async move { DiameterClient::handle(&mut handler, dict()).await });
    let mut ask = async |m: DiameterMessage| {
        let pending = client.send_message(m).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), pending)
            .await
            .expect("answered in time")
            .unwrap()
    };

    let cea = ask(cer(1)).await;
    assert_eq!(result_code(&cea), Some(2001));
    let avps = cea.get_avps();
    assert_eq!(
        find(avps, avp::ORIGIN_HOST)
            .unwrap()
            .get_identity()
            .unwrap()
            .value(),
        "ocs.simdesk.test"
    );
    assert_eq!(
        find(avps, avp::ORIGIN_REALM)
            .unwrap()
            .get_identity()
            .unwrap()
            .value(),
        "simdesk.test"
    );
    assert_eq!(
        find(avps, avp::AUTH_APPLICATION_ID)
            .unwrap()
            .get_unsigned32(),
        Some(4)
    );
    assert!(find(avps, avp::HOST_IP_ADDRESS).is_some());
    assert!(find(avps, avp::VENDOR_ID).is_some());
    assert!(find(avps, avp::PRODUCT_NAME).is_some());

    let dwa = ask(message(
        CommandCode::DeviceWatchdog,
        ApplicationId::Common,
        2,
        origin(),
    ))
    .await;
    assert_eq!(result_code(&dwa), Some(2001));

    let session = "pgw.test;1700000000;1";
    let mut initial = ccr_head(session, 1, 0);
    initial.extend([
        msisdn("818010000400"),
        mscc(10, Some(5_000_000), None),
        // Rating group 20 asks for the usual quota: an empty Requested-Service-Unit.
        group(
            avp::MULTIPLE_SERVICES_CREDIT_CONTROL,
            vec![
                group(avp::REQUESTED_SERVICE_UNIT, vec![]),
                a(avp::RATING_GROUP, Unsigned32::new(20)),
            ],
        ),
    ]);
    let cca = ask(ccr(3, initial)).await;
    assert_eq!(result_code(&cca), Some(2001));
    let avps = cca.get_avps();
    assert_eq!(avps[0].get_utf8string().unwrap().value(), session);
    assert_eq!(
        find(avps, avp::CC_REQUEST_TYPE)
            .unwrap()
            .get_enumerated()
            .unwrap()
            .value(),
        1
    );
    assert_eq!(
        find(avps, avp::CC_REQUEST_NUMBER).unwrap().get_unsigned32(),
        Some(0)
    );
    let services: Vec<&[Avp]> = find_all(avps, avp::MULTIPLE_SERVICES_CREDIT_CONTROL)
        .map(inner)
        .collect();
    assert_eq!(services.len(), 2);
    let granted = |service: &[Avp]| {
        find(
            inner(find(service, avp::GRANTED_SERVICE_UNIT).unwrap()),
            avp::CC_TOTAL_OCTETS,
        )
        .unwrap()
        .get_unsigned64()
    };
    assert_eq!(
        find(services[0], avp::RATING_GROUP)
            .unwrap()
            .get_unsigned32(),
        Some(10)
    );
    assert_eq!(granted(services[0]), Some(5_000_000));
    assert_eq!(
        find(services[0], avp::VALIDITY_TIME)
            .unwrap()
            .get_unsigned32(),
        Some(900)
    );
    assert_eq!(
        find(services[0], avp::RESULT_CODE)
            .unwrap()
            .get_unsigned32(),
        Some(2001)
    );
    assert_eq!(granted(services[1]), Some(DEFAULT_QUOTA));

    let mut update = ccr_head(session, 2, 1);
    update.extend([
        msisdn("818010000400"),
        mscc(10, Some(5_000_000), Some(12_000_000)),
    ]);
    let cca = ask(ccr(4, update)).await;
    assert_eq!(result_code(&cca), Some(2001));
    let service = inner(find(cca.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL).unwrap());
    let fui = inner(find(service, avp::FINAL_UNIT_INDICATION).expect("the last quota is marked"));
    assert_eq!(
        find(fui, avp::FINAL_UNIT_ACTION)
            .unwrap()
            .get_enumerated()
            .unwrap()
            .value(),
        0
    );

    let mut terminate = ccr_head(session, 3, 2);
    terminate.extend([
        msisdn("818010000400"),
        a(avp::TERMINATION_CAUSE, Enumerated::new(1)),
        mscc(10, None, Some(700)),
    ]);
    let cca = ask(ccr(5, terminate)).await;
    assert_eq!(result_code(&cca), Some(2001));
    let service = inner(find(cca.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL).unwrap());
    assert!(find(service, avp::GRANTED_SERVICE_UNIT).is_none());

    let seen = server.charger.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.iter()
            .map(|r| (r.request_type, r.request_number))
            .collect::<Vec<_>>(),
        [
            (RequestType::Initial, 0),
            (RequestType::Update, 1),
            (RequestType::Terminate, 2)
        ]
    );
    assert!(seen.iter().all(|r| r.session_id == session
        && r.subscriber == Some(Subscriber::Msisdn("818010000400".into()))));
    assert_eq!(seen[1].services[0].used.unwrap().octets, Some(12_000_000));
    assert_eq!(seen[2].termination_cause, Some(1));
    assert_eq!(seen[2].services[0].used.unwrap().octets, Some(700));

    server.stop();
    server.stopped().await;
}

#[tokio::test]
async fn outcomes_of_the_charging_side_reach_the_client() {
    let server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;

    let mut unknown = ccr_head("pgw.test;2", 1, 0);
    unknown.extend([msisdn("0000"), mscc(10, Some(1), None)]);
    let cca = peer.ask(ccr(10, unknown)).await;
    assert_eq!(result_code(&cca), Some(5030));
    assert!(find(cca.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL).is_none());

    let mut mixed = ccr_head("pgw.test;3", 1, 0);
    mixed.extend([
        msisdn("818010000400"),
        mscc(10, Some(1), None),
        mscc(UNRATABLE_RATING_GROUP, Some(1), None),
    ]);
    let cca = peer.ask(ccr(11, mixed)).await;
    assert_eq!(result_code(&cca), Some(2001));
    let codes: Vec<Option<u32>> = find_all(cca.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL)
        .map(|m| find(inner(m), avp::RESULT_CODE).and_then(Avp::get_unsigned32))
        .collect();
    assert_eq!(codes, [Some(2001), Some(5031)]);
}

#[tokio::test]
async fn a_ccr_missing_a_mandatory_avp_is_answered_5005_naming_it() {
    let server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;

    let mut without_context: Vec<Avp> = ccr_head("pgw.test;4", 2, 7)
        .into_iter()
        .filter(|avp| avp.get_code() != avp::SERVICE_CONTEXT_ID)
        .collect();
    without_context.push(mscc(10, Some(1), None));
    let cca = peer.ask(ccr(20, without_context)).await;
    assert_eq!(cca.get_command_code(), CommandCode::CreditControl);
    assert_eq!(
        cca.get_flags() & flags::ERROR,
        0,
        "5005 is not a protocol error"
    );
    let avps = cca.get_avps();
    assert_eq!(result_code(&cca), Some(5005));
    assert_eq!(avps[0].get_utf8string().unwrap().value(), "pgw.test;4");
    assert_eq!(
        find(avps, avp::CC_REQUEST_NUMBER).unwrap().get_unsigned32(),
        Some(7)
    );
    let failed = inner(find(avps, avp::FAILED_AVP).expect("Failed-AVP"));
    assert_eq!(failed[0].get_code(), avp::SERVICE_CONTEXT_ID);
    assert!(
        server.charger.seen().is_empty(),
        "a refused CCR is not charged"
    );

    // The connection goes on: the next CCR is answered normally.
    let mut good = ccr_head("pgw.test;4", 2, 8);
    good.push(mscc(10, Some(1), None));
    assert_eq!(result_code(&peer.ask(ccr(21, good)).await), Some(2001));
}

#[tokio::test]
async fn malformed_ccrs_are_answered_never_dropped() {
    let server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;

    // An AVP simdesk does not know, with the M bit: 5001 with a copy of it.
    let mut unknown_mandatory = ccr_head("pgw.test;5", 1, 0);
    unknown_mandatory.push(Avp::new(
        64_999,
        Some(99_999),
        0x40,
        OctetString::new(b"??".to_vec()).into(),
        dict(),
    ));
    peer.send(&ccr(30, unknown_mandatory)).await;
    // The answer quotes that AVP, so it is read here as raw AVPs: the crate would not know it.
    let (header, avps) = peer.next_raw().await;
    assert_eq!(header.hop_by_hop, 30);
    assert_eq!(
        raw(&avps, avp::RESULT_CODE).and_then(|a| a.u32()),
        Some(5001)
    );
    let failed = wire::avps(raw(&avps, avp::FAILED_AVP).unwrap().value);
    assert_eq!((failed[0].code, failed[0].vendor), (64_999, Some(99_999)));

    // Without the M bit it is ignored and the CCR answered.
    let mut unknown_optional = ccr_head("pgw.test;5", 1, 0);
    unknown_optional.push(Avp::new(
        64_999,
        Some(99_999),
        0,
        OctetString::new(b"??".to_vec()).into(),
        dict(),
    ));
    assert_eq!(
        result_code(&peer.ask(ccr(31, unknown_optional)).await),
        Some(2001)
    );

    // A CC-Request-Number two bytes long: 5014, and the session id still echoed.
    let mut bytes = wire::encode(&ccr(32, ccr_head("pgw.test;6", 1, 0)));
    let number_at = bytes.len() - 12;
    assert_eq!(
        u32::from_be_bytes(bytes[number_at..number_at + 4].try_into().unwrap()),
        avp::CC_REQUEST_NUMBER
    );
    bytes[number_at + 7] = 10;
    peer.send_bytes(&bytes).await;
    let (header, avps) = peer.next_raw().await;
    assert_eq!(header.hop_by_hop, 32);
    assert_eq!(
        raw(&avps, avp::RESULT_CODE).and_then(|a| a.u32()),
        Some(5014)
    );
    assert_eq!(avps[0].code, avp::SESSION_ID);
    assert_eq!(avps[0].value, b"pgw.test;6");
    let failed = wire::avps(raw(&avps, avp::FAILED_AVP).unwrap().value);
    assert_eq!(
        (failed[0].code, failed[0].value),
        (avp::CC_REQUEST_NUMBER, &[0u8, 0][..])
    );

    // A command simdesk does not serve: 3001, with the E bit.
    let header = Header {
        version: 1,
        length: 0,
        flags: flags::REQUEST,
        command: 8_388_620,
        application: 4,
        hop_by_hop: 33,
        end_to_end: 33,
    };
    peer.send_bytes(&wire::encode_raw(header, &origin())).await;
    let (answer, avps) = peer.next_raw().await;
    assert_eq!((answer.command, answer.hop_by_hop), (8_388_620, 33));
    assert_eq!(answer.flags & flags::ERROR, flags::ERROR);
    assert_eq!(
        raw(&avps, avp::RESULT_CODE).and_then(|a| a.u32()),
        Some(3001)
    );

    // A CCR for another application: 3007.
    let mut bytes = wire::encode(&ccr(34, ccr_head("pgw.test;7", 1, 0)));
    bytes[8..12].copy_from_slice(&16_777_238u32.to_be_bytes());
    peer.send_bytes(&bytes).await;
    assert_eq!(result_code(&peer.next().await.unwrap()), Some(3007));

    // After all that the link still charges.
    let mut good = ccr_head("pgw.test;8", 1, 0);
    good.push(mscc(10, Some(1), None));
    assert_eq!(result_code(&peer.ask(ccr(35, good)).await), Some(2001));
}

#[tokio::test]
async fn a_request_before_the_capabilities_exchange_is_refused_and_the_peer_dropped() {
    let server = Server::start().await;
    let mut peer = Peer::connect(server.addr).await;
    let mut request = ccr_head("pgw.test;9", 1, 0);
    request.push(mscc(10, Some(1), None));
    let answer = peer.ask(ccr(40, request)).await;
    assert_eq!(result_code(&answer), Some(3010));
    assert_eq!(answer.get_flags() & flags::ERROR, flags::ERROR);
    assert!(peer.closed_within(Duration::from_secs(5)).await);
    assert!(server.charger.seen().is_empty());
}

#[tokio::test]
async fn a_cer_without_credit_control_is_refused_5010() {
    let server = Server::start().await;
    let mut peer = Peer::connect(server.addr).await;
    let mut avps = origin();
    avps.push(a(avp::AUTH_APPLICATION_ID, Unsigned32::new(16_777_238)));
    let cea = peer
        .ask(message(
            CommandCode::CapabilitiesExchange,
            ApplicationId::Common,
            1,
            avps,
        ))
        .await;
    assert_eq!(result_code(&cea), Some(5010));
    assert!(peer.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_dpr_is_answered_and_the_connection_closed() {
    let server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;
    let mut avps = origin();
    avps.push(a(avp::DISCONNECT_CAUSE, Enumerated::new(2)));
    let dpa = peer
        .ask(message(
            CommandCode::DisconnectPeer,
            ApplicationId::Common,
            50,
            avps,
        ))
        .await;
    assert_eq!(dpa.get_command_code(), CommandCode::DisconnectPeer);
    assert_eq!(result_code(&dpa), Some(2001));
    assert!(peer.closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn pipelined_ccrs_are_answered_as_they_are_decided_each_with_its_own_ids() {
    let server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;
    // The first takes a while; the other two must not wait for it.
    for (ids, rating_group) in [(100, SLOW_RATING_GROUP), (101, 10), (102, 11)] {
        let mut avps = ccr_head(&format!("pgw.test;p{ids}"), 1, 0);
        avps.push(mscc(rating_group, Some(u64::from(ids)), None));
        peer.send(&ccr(ids, avps)).await;
    }
    let mut order = Vec::new();
    for _ in 0..3 {
        let cca = peer.next().await.unwrap();
        let ids = cca.get_hop_by_hop_id();
        assert_eq!(cca.get_end_to_end_id(), ids + 1_000_000);
        assert_eq!(
            cca.get_avps()[0].get_utf8string().unwrap().value(),
            format!("pgw.test;p{ids}")
        );
        let service = inner(find(cca.get_avps(), avp::MULTIPLE_SERVICES_CREDIT_CONTROL).unwrap());
        let granted = find(
            inner(find(service, avp::GRANTED_SERVICE_UNIT).unwrap()),
            avp::CC_TOTAL_OCTETS,
        );
        assert_eq!(granted.unwrap().get_unsigned64(), Some(u64::from(ids)));
        order.push(ids);
    }
    assert_eq!(
        order.last(),
        Some(&100),
        "the slow one came last: {order:?}"
    );
}

#[tokio::test]
async fn many_peers_are_served_at_once() {
    let server = Arc::new(Server::start().await);
    let peers = (0..12u32).map(|n| {
        let server = server.clone();
        tokio::spawn(async move {
            let mut peer = Peer::open(server.addr).await;
            for number in 0..3 {
                let mut avps = ccr_head(
                    &format!("pgw.test;m{n}"),
                    if number == 0 { 1 } else { 2 },
                    number,
                );
                avps.push(mscc(10, Some(u64::from(n)), None));
                let cca = peer.ask(ccr(n * 10 + number, avps)).await;
                assert_eq!(result_code(&cca), Some(2001));
            }
        })
    });
    for peer in peers.collect::<Vec<_>>() {
        peer.await.unwrap();
    }
    assert_eq!(server.charger.seen().len(), 36);
}

#[tokio::test]
async fn a_quiet_link_is_watched_and_a_silent_peer_dropped() {
    let server = Server::start_with(|s| s.watchdog_secs = 1).await;

    // A peer that answers the watchdog stays connected.
    let mut lively = Peer::open(server.addr).await;
    for _ in 0..2 {
        let dwr = lively.next().await.expect("a DWR on a quiet link");
        assert_eq!(dwr.get_command_code(), CommandCode::DeviceWatchdog);
        assert_eq!(dwr.get_flags() & flags::REQUEST, flags::REQUEST);
        let mut dwa = DiameterMessage::new(
            CommandCode::DeviceWatchdog,
            ApplicationId::Common,
            0,
            dwr.get_hop_by_hop_id(),
            dwr.get_end_to_end_id(),
            dict(),
        );
        dwa.add(a(avp::RESULT_CODE, Unsigned32::new(2001)));
        for avp in origin() {
            dwa.add(avp);
        }
        lively.send(&dwa).await;
    }
    let mut good = ccr_head("pgw.test;w", 1, 0);
    good.push(mscc(10, Some(1), None));
    assert_eq!(result_code(&lively.ask(ccr(60, good)).await), Some(2001));

    // One that does not is closed after a second interval.
    let mut silent = Peer::open(server.addr).await;
    let dwr = silent.next().await.expect("a DWR on a quiet link");
    assert_eq!(dwr.get_command_code(), CommandCode::DeviceWatchdog);
    assert!(silent.closed_within(Duration::from_secs(4)).await);

    // And one that never sends its CER is dropped too.
    let mut mute = Peer::connect(server.addr).await;
    assert!(mute.closed_within(Duration::from_secs(4)).await);
}

#[tokio::test]
async fn stopping_disconnects_peers_with_a_dpr() {
    let mut server = Server::start().await;
    let mut peer = Peer::open(server.addr).await;
    server.stop();
    let dpr = peer.next().await.expect("a DPR");
    assert_eq!(dpr.get_command_code(), CommandCode::DisconnectPeer);
    assert_eq!(
        find(dpr.get_avps(), avp::DISCONNECT_CAUSE)
            .unwrap()
            .get_enumerated()
            .unwrap()
            .value(),
        0,
        "REBOOTING: come back later"
    );
    let mut dpa = DiameterMessage::new(
        CommandCode::DisconnectPeer,
        ApplicationId::Common,
        0,
        dpr.get_hop_by_hop_id(),
        dpr.get_end_to_end_id(),
        dict(),
    );
    dpa.add(a(avp::RESULT_CODE, Unsigned32::new(2001)));
    peer.send(&dpa).await;
    assert!(peer.closed_within(Duration::from_secs(5)).await);
    server.stopped().await;
    assert!(TcpStream::connect(peer.stream.peer_addr().unwrap())
        .await
        .is_err());
}

/// python-diameter (PyPI `python-diameter`) drives the server: a second, independent
/// implementation of the encoding. Skipped when python3 lacks the package.
#[tokio::test]
async fn an_independent_python_client_is_understood() {
    let python_has_it = std::process::Command::new("python3")
        .args(["-c", "import diameter.message.commands"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !python_has_it {
        eprintln!(
            "skipping: python3 lacks python-diameter (`python3 -m pip install --user python-diameter`; scripts/test installs it)"
        );
        return;
    }
    let server = Server::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/gy_peer.py");
    let addr = server.addr;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, &addr.ip().to_string(), &addr.port().to_string()])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the python peer failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["cea"]["result_code"], 2001);
    assert_eq!(seen["cea"]["origin_host"], "ocs.simdesk.test");
    assert_eq!(seen["cea"]["auth_application_id"], serde_json::json!([4]));
    assert_eq!(seen["dwa"], 2001);
    let initial = &seen["cca_initial"];
    assert_eq!(initial["result_code"], 2001);
    assert_eq!(initial["services"][0]["rating_group"], 10);
    assert_eq!(initial["services"][0]["result_code"], 2001);
    assert_eq!(initial["services"][0]["granted_octets"], 1_000_000);
    assert_eq!(initial["services"][0]["validity_time"], 900);
    assert_eq!(
        seen["cca_update"]["services"][0]["granted_octets"],
        2_000_000
    );
    assert_eq!(seen["cca_terminate"]["result_code"], 2001);
    assert_eq!(seen["cca_terminate"]["cc_request_type"], 3);
    assert_eq!(seen["cca_terminate"]["cc_request_number"], 2);
    assert_eq!(seen["dpa"], 2001);
    assert_eq!(seen["closed_after_dpa"], true);

    // And simdesk read what python wrote, 3GPP AVPs around it and all.
    let requests = server.charger.seen();
    assert_eq!(requests.len(), 3);
    let update = &requests[1];
    assert_eq!(update.session_id, "pgw.python.test;1;42");
    assert_eq!(update.request_type, RequestType::Update);
    assert_eq!(
        update.subscriber,
        Some(Subscriber::Msisdn("818010000400".into()))
    );
    assert_eq!(
        update.event_time,
        Some("2026-11-25T03:00:00Z".parse().unwrap())
    );
    assert_eq!(update.services[0].rating_group, Some(10));
    assert_eq!(update.services[0].service_id, Some(1));
    assert_eq!(update.services[0].used.unwrap().octets, Some(900_000));
    assert_eq!(
        update.services[0].requested.unwrap().octets,
        Some(2_000_000)
    );
    assert_eq!(requests[2].termination_cause, Some(1));
}
