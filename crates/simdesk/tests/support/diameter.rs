//! A Diameter peer for tests: building CER and CCR messages and talking to simdesk's Gy server
//! over a raw TCP connection, as the network's gateway would.

use diameter::avp::{
    Avp, AvpValue, Enumerated, Grouped, Identity, UTF8String, Unsigned32, Unsigned64,
};
use diameter::dictionary::Dictionary;
use diameter::{ApplicationId, CommandCode, DiameterMessage};
use simdesk::gy::wire::{self, find, flags, Header};
use simdesk::gy::{self, avp};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

pub fn dict() -> Arc<Dictionary> {
    gy::dictionary::dictionary()
}

pub fn a(code: u32, value: impl Into<AvpValue>) -> Avp {
    wire::avp(code, value, &dict())
}

pub fn group(code: u32, avps: Vec<Avp>) -> Avp {
    a(code, Grouped::new(avps, dict()))
}

pub fn message(
    command: CommandCode,
    application: ApplicationId,
    ids: u32,
    avps: Vec<Avp>,
) -> DiameterMessage {
    let mut m = DiameterMessage::new(
        command,
        application,
        flags::REQUEST,
        ids,
        ids.wrapping_add(1_000_000),
        dict(),
    );
    for avp in avps {
        m.add(avp);
    }
    m
}

pub fn origin() -> Vec<Avp> {
    vec![
        a(avp::ORIGIN_HOST, Identity::new("pgw.test")),
        a(avp::ORIGIN_REALM, Identity::new("test")),
    ]
}

pub fn cer(ids: u32) -> DiameterMessage {
    let mut avps = origin();
    avps.extend([
        a(
            avp::HOST_IP_ADDRESS,
            diameter::avp::Address::from_ipv4([127, 0, 0, 1].into()),
        ),
        a(avp::VENDOR_ID, Unsigned32::new(0)),
        Avp::new(
            avp::PRODUCT_NAME,
            None,
            0,
            UTF8String::new("gy-test").into(),
            dict(),
        ),
        a(avp::AUTH_APPLICATION_ID, Unsigned32::new(4)),
    ]);
    message(
        CommandCode::CapabilitiesExchange,
        ApplicationId::Common,
        ids,
        avps,
    )
}

/// A CCR's mandatory AVPs.
pub fn ccr_head(session: &str, request_type: i32, number: u32) -> Vec<Avp> {
    let mut avps = vec![a(avp::SESSION_ID, UTF8String::new(session))];
    avps.extend(origin());
    avps.extend([
        a(avp::DESTINATION_REALM, Identity::new("simdesk.test")),
        a(avp::AUTH_APPLICATION_ID, Unsigned32::new(4)),
        a(avp::SERVICE_CONTEXT_ID, UTF8String::new("32251@3gpp.org")),
        a(avp::CC_REQUEST_TYPE, Enumerated::new(request_type)),
        a(avp::CC_REQUEST_NUMBER, Unsigned32::new(number)),
    ]);
    avps
}

/// `Service-Information` saying the phone is attached to the network `mcc_mnc` (roaming there
/// when it is not a Japanese one).
pub fn visited(mcc_mnc: &str) -> Avp {
    let network = wire::tgpp_avp(
        avp::TGPP_SGSN_MCC_MNC,
        false,
        UTF8String::new(mcc_mnc),
        &dict(),
    );
    let ps = wire::tgpp_avp(
        avp::PS_INFORMATION,
        true,
        Grouped::new(vec![network], dict()),
        &dict(),
    );
    wire::tgpp_avp(
        avp::SERVICE_INFORMATION,
        true,
        Grouped::new(vec![ps], dict()),
        &dict(),
    )
}

pub fn msisdn(number: &str) -> Avp {
    group(
        avp::SUBSCRIPTION_ID,
        vec![
            a(avp::SUBSCRIPTION_ID_TYPE, Enumerated::new(0)),
            a(avp::SUBSCRIPTION_ID_DATA, UTF8String::new(number)),
        ],
    )
}

pub fn mscc(rating_group: u32, requested: Option<u64>, used: Option<u64>) -> Avp {
    let mut avps = Vec::new();
    if let Some(octets) = requested {
        avps.push(group(
            avp::REQUESTED_SERVICE_UNIT,
            vec![a(avp::CC_TOTAL_OCTETS, Unsigned64::new(octets))],
        ));
    }
    if let Some(octets) = used {
        avps.push(group(
            avp::USED_SERVICE_UNIT,
            vec![a(avp::CC_TOTAL_OCTETS, Unsigned64::new(octets))],
        ));
    }
    avps.push(a(avp::RATING_GROUP, Unsigned32::new(rating_group)));
    group(avp::MULTIPLE_SERVICES_CREDIT_CONTROL, avps)
}

pub fn ccr(ids: u32, avps: Vec<Avp>) -> DiameterMessage {
    message(
        CommandCode::CreditControl,
        ApplicationId::CreditControl,
        ids,
        avps,
    )
}

pub fn result_code(m: &DiameterMessage) -> Option<u32> {
    find(m.get_avps(), avp::RESULT_CODE).and_then(Avp::get_unsigned32)
}

/// The first raw AVP with `code`.
pub fn raw<'a>(avps: &[wire::RawAvp<'a>], code: u32) -> Option<wire::RawAvp<'a>> {
    avps.iter().find(|a| a.code == code).copied()
}

pub fn inner(avp: &Avp) -> &[Avp] {
    avp.get_grouped().expect("a grouped AVP").avps()
}

/// A hand-driven peer on a raw TCP connection, for what the crate's client cannot do: send
/// before CER, send broken bytes, receive the server's own requests.
pub struct Peer {
    pub stream: TcpStream,
}

impl Peer {
    pub async fn connect(addr: SocketAddr) -> Peer {
        Peer {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    /// Connects and completes the capabilities exchange.
    pub async fn open(addr: SocketAddr) -> Peer {
        let mut peer = Peer::connect(addr).await;
        let cea = peer.ask(cer(1)).await;
        assert_eq!(result_code(&cea), Some(2001));
        peer
    }

    pub async fn send(&mut self, m: &DiameterMessage) {
        self.send_bytes(&wire::encode(m)).await;
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next message, or `None` once the server closed the connection.
    pub async fn next(&mut self) -> Option<DiameterMessage> {
        let read = tokio::time::timeout(
            Duration::from_secs(10),
            wire::read_message(&mut self.stream),
        )
        .await
        .expect("the server said something in time");
        let bytes = read.ok()??;
        let dict = dict();
        Some(wire::decode(&wire::clean(&bytes, &dict).unwrap(), &dict).unwrap())
    }

    /// The next message as a header and raw AVPs, for messages the crate cannot decode.
    pub async fn next_raw(&mut self) -> (Header, Vec<wire::RawAvp<'static>>) {
        let bytes = tokio::time::timeout(
            Duration::from_secs(10),
            wire::read_message(&mut self.stream),
        )
        .await
        .expect("the server said something in time")
        .unwrap()
        .expect("a message");
        // Leaked so the raw AVPs can borrow from it; a test's few messages are nothing.
        let bytes: &'static [u8] = Vec::leak(bytes);
        (
            Header::parse(bytes).unwrap(),
            wire::avps(&bytes[wire::HEADER_LEN..]),
        )
    }

    pub async fn ask(&mut self, m: DiameterMessage) -> DiameterMessage {
        self.send(&m).await;
        let answer = self.next().await.expect("an answer");
        assert_eq!(answer.get_flags() & flags::REQUEST, 0);
        assert_eq!(
            (answer.get_hop_by_hop_id(), answer.get_end_to_end_id()),
            (m.get_hop_by_hop_id(), m.get_end_to_end_id()),
            "the answer carries its request's identifiers"
        );
        answer
    }

    /// Whether the server closes the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buffer = [0u8; 64];
        matches!(
            tokio::time::timeout(
                within,
                tokio::io::AsyncReadExt::read(&mut self.stream, &mut buffer)
            )
            .await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}
