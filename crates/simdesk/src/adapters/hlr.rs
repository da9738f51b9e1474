//! OsmoHLR's CTRL interface as the network port.
//!
//! Every call is keyed on the IMSI: osmo-hlr hands a deleted subscriber's numeric id to the next
//! one it creates, so an id remembered from an earlier call could name somebody else. The CTRL
//! protocol has no way to make a call conditional, so idempotency comes from the HLR's own answers:
//! "already exists" on create and "doesn't exist" on delete are what a repeated call sees, and
//! they count as success. Those texts are osmo-hlr 1.5's, matched exactly.

use super::network::{Network, NetworkError, Subscriber};
use super::PeerError;
use async_trait::async_trait;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// `SET subscriber.create` of an IMSI the HLR already holds.
const ALREADY_EXISTS: &str = "Subscriber already exists.";
/// `SET subscriber.delete` of an IMSI the HLR does not hold.
const DOES_NOT_EXIST: &str = "Subscriber doesn't exist.";
/// Any `GET`, and `SET …msisdn`, through a `subscriber.by-imsi-…` selector that matches nobody.
const NO_SUCH_SUBSCRIBER: &str = "No such subscriber.";
/// `SET …msisdn` when the MSISDN belongs to another subscriber (the column is unique).
const MSISDN_UPDATE_FAILED: &str = "Update MSISDN failed";

/// The network port backed by OsmoHLR, driven over its CTRL interface (TCP port 4259).
pub struct HlrNetwork {
    ctrl: SocketAddr,
    timeout: Duration,
}

/// Both service flags: data, and voice with SMS.
const BOTH: [&str; 2] = ["ps-enabled", "cs-enabled"];

impl HlrNetwork {
    /// `timeout` bounds each whole call (connect and every command it sends), so a hung HLR turns
    /// into a retryable failure instead of a stuck outbox.
    pub fn new(ctrl: SocketAddr, timeout: Duration) -> Self {
        HlrNetwork { ctrl, timeout }
    }

    async fn connect(&self) -> Result<CtrlClient, PeerError> {
        CtrlClient::connect(self.ctrl, self.timeout).await
    }

    /// Sets the service flags named (`ps-enabled` for data, `cs-enabled` for voice and SMS).
    async fn set_service(
        &self,
        key: &str,
        imsi: &str,
        flags: &[&str],
        enabled: bool,
    ) -> Result<(), PeerError> {
        let imsi = valid_imsi(imsi)?;
        let mut ctrl = self.connect().await?;
        let value = if enabled { "1" } else { "0" };
        for &flag in flags {
            let variable = format!("subscriber.by-imsi-{imsi}.{flag}");
            if let Answer::Error(reason) = ctrl.set(&variable, value).await? {
                // For these flags osmo-hlr says only "An error has occurred." when the IMSI is
                // unknown, so ask before blaming the value.
                if !ctrl.exists(imsi).await? {
                    return Err(not_in_hlr(imsi));
                }
                return Err(PeerError::Refused(format!(
                    "the HLR refused {flag} {value} for IMSI {imsi}: {reason}"
                )));
            }
        }
        tracing::debug!(key, imsi, ?flags, enabled, "HLR service flags set");
        Ok(())
    }
}

#[async_trait]
impl Network for HlrNetwork {
    async fn provision(&self, key: &str, imsi: &str, msisdn: &str) -> Result<(), NetworkError> {
        let imsi = valid_imsi(imsi)?;
        let digits = msisdn_digits(msisdn)?;
        let mut ctrl = self.connect().await?;
        match ctrl.set("subscriber.create", imsi).await? {
            Answer::Value(_) => {}
            Answer::Error(reason) if reason == ALREADY_EXISTS => {}
            Answer::Error(reason) => {
                return Err(PeerError::Refused(format!(
                    "the HLR refused to create IMSI {imsi}: {reason}"
                )))
            }
        }
        let variable = format!("subscriber.by-imsi-{imsi}.msisdn");
        match ctrl.set(&variable, digits).await? {
            Answer::Value(_) => {}
            // Deleted between our create and this set; asking again recreates it.
            Answer::Error(reason) if reason == NO_SUCH_SUBSCRIBER => {
                return Err(PeerError::Unavailable(format!(
                    "IMSI {imsi} left the HLR while being provisioned"
                )))
            }
            Answer::Error(reason) => {
                let hint = if reason == MSISDN_UPDATE_FAILED {
                    " (another subscriber may already hold this MSISDN)"
                } else {
                    ""
                };
                return Err(PeerError::Refused(format!(
                    "the HLR refused MSISDN {digits} for IMSI {imsi}: {reason}{hint}"
                )));
            }
        }
        for flag in ["ps-enabled", "cs-enabled"] {
            let variable = format!("subscriber.by-imsi-{imsi}.{flag}");
            if let Answer::Error(reason) = ctrl.set(&variable, "1").await? {
                return Err(PeerError::Refused(format!(
                    "the HLR refused {flag} 1 for IMSI {imsi}: {reason}"
                )));
            }
        }
        tracing::debug!(key, imsi, msisdn = digits, "HLR subscriber provisioned");
        Ok(())
    }

    async fn bar(&self, key: &str, imsi: &str, _msisdn: &str) -> Result<(), NetworkError> {
        self.set_service(key, imsi, &BOTH, false).await
    }

    async fn unbar(&self, key: &str, imsi: &str, _msisdn: &str) -> Result<(), NetworkError> {
        self.set_service(key, imsi, &BOTH, true).await
    }

    async fn bar_data(&self, key: &str, imsi: &str, _msisdn: &str) -> Result<(), NetworkError> {
        self.set_service(key, imsi, &["ps-enabled"], false).await
    }

    async fn unbar_data(&self, key: &str, imsi: &str, _msisdn: &str) -> Result<(), NetworkError> {
        self.set_service(key, imsi, &["ps-enabled"], true).await
    }

    async fn deprovision(&self, key: &str, imsi: &str, _msisdn: &str) -> Result<(), NetworkError> {
        let imsi = valid_imsi(imsi)?;
        let mut ctrl = self.connect().await?;
        match ctrl.set("subscriber.delete", imsi).await? {
            Answer::Value(_) => {}
            Answer::Error(reason) if reason == DOES_NOT_EXIST => {}
            Answer::Error(reason) => {
                return Err(PeerError::Refused(format!(
                    "the HLR refused to delete IMSI {imsi}: {reason}"
                )))
            }
        }
        tracing::debug!(key, imsi, "HLR subscriber deleted");
        Ok(())
    }

    async fn subscriber(&self, imsi: &str) -> Result<Option<Subscriber>, NetworkError> {
        let imsi = valid_imsi(imsi)?;
        let mut ctrl = self.connect().await?;
        ctrl.info(imsi).await
    }
}

/// An IMSI is 6 to 15 digits; checking before anything is sent keeps spaces and line breaks out of
/// the CTRL text, where they would change what the command means.
fn valid_imsi(imsi: &str) -> Result<&str, PeerError> {
    if (6..=15).contains(&imsi.len()) && imsi.bytes().all(|b| b.is_ascii_digit()) {
        Ok(imsi)
    } else {
        Err(PeerError::Refused(format!(
            "{imsi:?} is not an IMSI (6 to 15 digits); nothing was sent to the HLR"
        )))
    }
}

/// The HLR stores MSISDNs as bare digits, at most 15 of them.
fn msisdn_digits(msisdn: &str) -> Result<&str, PeerError> {
    let digits = msisdn.strip_prefix('+').unwrap_or(msisdn);
    if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(PeerError::Refused(format!(
            "{msisdn:?} is not an MSISDN (up to 15 digits, optionally after a +); nothing was sent to the HLR"
        )))
    }
}

fn not_in_hlr(imsi: &str) -> PeerError {
    PeerError::Refused(format!(
        "IMSI {imsi} is not in the HLR; `simdesk network reconcile` provisions it"
    ))
}

/// Reads the fields the port cares about out of a `.info` value: lines of `name<TAB>value`, with
/// no `msisdn` line when none is set.
fn parse_info(info: &str) -> Result<Subscriber, String> {
    let mut msisdn = None;
    let mut ps = None;
    let mut cs = None;
    for line in info.lines() {
        let Some((name, value)) = line.split_once('\t') else {
            continue;
        };
        match name {
            "msisdn" if !value.is_empty() && value != "none" => msisdn = Some(value.to_string()),
            "nam_ps" => ps = Some(value == "1"),
            "nam_cs" => cs = Some(value == "1"),
            _ => {}
        }
    }
    match (ps, cs) {
        (Some(ps_enabled), Some(cs_enabled)) => Ok(Subscriber {
            msisdn,
            ps_enabled,
            cs_enabled,
        }),
        _ => Err(format!(
            "the HLR's subscriber info lacks nam_ps/nam_cs: {info:?}"
        )),
    }
}

/// IPA protocol byte for Osmocom extensions.
const IPA_PROTO_OSMO: u8 = 0xEE;
/// Osmocom extension byte for CTRL.
const IPA_EXT_CTRL: u8 = 0x00;

#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Set,
}

/// What the HLR said to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// `GET_REPLY`/`SET_REPLY`: the variable's value (`OK` for most sets).
    Value(String),
    /// `ERROR`: the HLR's reason.
    Error(String),
}

/// One CTRL message from the HLR.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Answer {
        id: String,
        answer: Answer,
    },
    /// Unsolicited; says nothing about the command in flight.
    Trap,
    Unrecognised(String),
}

/// Frames one command. Fails (without sending anything) on text that could split into more words
/// than the command has, or that does not fit a frame.
fn encode_command(
    verb: Verb,
    id: u32,
    variable: &str,
    value: Option<&str>,
) -> Result<Vec<u8>, String> {
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !word(variable) || !value.is_none_or(word) {
        return Err(format!(
            "refusing to send {variable:?} = {value:?} over CTRL: not a single printable word"
        ));
    }
    let verb = match verb {
        Verb::Get => "GET",
        Verb::Set => "SET",
    };
    let text = match value {
        Some(value) => format!("{verb} {id} {variable} {value}"),
        None => format!("{verb} {id} {variable}"),
    };
    // The length counts the extension byte as well as the text.
    let length = u16::try_from(text.len() + 1).map_err(|_| {
        format!(
            "a CTRL command of {} bytes does not fit a frame",
            text.len()
        )
    })?;
    let mut frame = Vec::with_capacity(text.len() + 4);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.push(IPA_PROTO_OSMO);
    frame.push(IPA_EXT_CTRL);
    frame.extend_from_slice(text.as_bytes());
    Ok(frame)
}

/// Splits the first whole IPA frame off `buffer`: its protocol byte, its payload and how many
/// bytes it took. `None` until the frame has fully arrived.
fn decode_frame(buffer: &[u8]) -> Option<(u8, &[u8], usize)> {
    let header = buffer.get(..3)?;
    let length = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let payload = buffer.get(3..3 + length)?;
    Some((header[2], payload, 3 + length))
}

/// The CTRL text inside an IPA frame, or `None` for frames of other protocols.
fn ctrl_text(protocol: u8, payload: &[u8]) -> Option<String> {
    match (protocol, payload.split_first()) {
        (IPA_PROTO_OSMO, Some((&IPA_EXT_CTRL, text))) => {
            Some(String::from_utf8_lossy(text).into_owned())
        }
        _ => None,
    }
}

fn parse_reply(text: &str) -> Reply {
    let kind = text.split(' ').next().unwrap_or_default();
    match kind {
        "GET_REPLY" | "SET_REPLY" => {
            // The value is the rest of the line and may hold spaces and line breaks (`.info`).
            let mut parts = text.splitn(4, ' ');
            let _kind = parts.next();
            match (parts.next(), parts.next()) {
                (Some(id), Some(_variable)) => Reply::Answer {
                    id: id.to_string(),
                    answer: Answer::Value(parts.next().unwrap_or_default().to_string()),
                },
                _ => Reply::Unrecognised(text.to_string()),
            }
        }
        "ERROR" => {
            let mut parts = text.splitn(3, ' ');
            let _kind = parts.next();
            match parts.next() {
                Some(id) => Reply::Answer {
                    id: id.to_string(),
                    answer: Answer::Error(parts.next().unwrap_or_default().to_string()),
                },
                None => Reply::Unrecognised(text.to_string()),
            }
        }
        "TRAP" => Reply::Trap,
        _ => Reply::Unrecognised(text.to_string()),
    }
}

/// One CTRL connection, used for the commands of a single call, one at a time.
struct CtrlClient {
    stream: TcpStream,
    peer: SocketAddr,
    timeout: Duration,
    deadline: Instant,
    last_id: u32,
    buffer: Vec<u8>,
}

impl CtrlClient {
    async fn connect(peer: SocketAddr, timeout: Duration) -> Result<Self, PeerError> {
        let deadline = Instant::now() + timeout;
        let stream = match tokio::time::timeout_at(deadline, TcpStream::connect(peer)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(unavailable(peer, &format!("cannot connect: {e}"))),
            Err(_) => {
                return Err(unavailable(
                    peer,
                    &format!("no connection within {timeout:?}"),
                ))
            }
        };
        Ok(CtrlClient {
            stream,
            peer,
            timeout,
            deadline,
            last_id: 0,
            buffer: Vec::new(),
        })
    }

    async fn get(&mut self, variable: &str) -> Result<Answer, PeerError> {
        self.command(Verb::Get, variable, None).await
    }

    async fn set(&mut self, variable: &str, value: &str) -> Result<Answer, PeerError> {
        self.command(Verb::Set, variable, Some(value)).await
    }

    /// The subscriber behind `imsi`, `None` when the HLR has none.
    async fn info(&mut self, imsi: &str) -> Result<Option<Subscriber>, PeerError> {
        match self.get(&format!("subscriber.by-imsi-{imsi}.info")).await? {
            Answer::Value(info) => parse_info(&info).map(Some).map_err(PeerError::Refused),
            Answer::Error(reason) if reason == NO_SUCH_SUBSCRIBER => Ok(None),
            Answer::Error(reason) => Err(PeerError::Refused(format!(
                "the HLR refused to show IMSI {imsi}: {reason}"
            ))),
        }
    }

    async fn exists(&mut self, imsi: &str) -> Result<bool, PeerError> {
        Ok(self.info(imsi).await?.is_some())
    }

    async fn command(
        &mut self,
        verb: Verb,
        variable: &str,
        value: Option<&str>,
    ) -> Result<Answer, PeerError> {
        self.last_id = self.last_id.wrapping_add(1);
        let id = self.last_id;
        let frame = encode_command(verb, id, variable, value).map_err(PeerError::Refused)?;
        match tokio::time::timeout_at(self.deadline, self.round_trip(&frame, id)).await {
            Ok(answer) => answer,
            // The HLR also stays silent on a frame it cannot parse, so silence is all we learn.
            Err(_) => Err(unavailable(
                self.peer,
                &format!("no answer to {variable} within {:?}", self.timeout),
            )),
        }
    }

    async fn round_trip(&mut self, frame: &[u8], id: u32) -> Result<Answer, PeerError> {
        let peer = self.peer;
        self.stream
            .write_all(frame)
            .await
            .map_err(|e| unavailable(peer, &format!("cannot send: {e}")))?;
        let id = id.to_string();
        loop {
            let text = self.next_message().await?;
            match parse_reply(&text) {
                Reply::Answer {
                    id: reply_id,
                    answer,
                } if reply_id == id => return Ok(answer),
                // A request the HLR could not parse far enough to read its id comes back as
                // "ERROR err …"; with one command in flight it can only be ours.
                Reply::Answer {
                    id: reply_id,
                    answer: Answer::Error(reason),
                } if reply_id == "err" => return Ok(Answer::Error(reason)),
                Reply::Answer { .. } | Reply::Trap => {}
                Reply::Unrecognised(text) => {
                    tracing::debug!(%peer, text, "ignoring an unrecognised CTRL message");
                }
            }
        }
    }

    /// The next CTRL message, skipping frames of other IPA protocols.
    async fn next_message(&mut self) -> Result<String, PeerError> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((protocol, payload, used)) = decode_frame(&self.buffer) {
                let text = ctrl_text(protocol, payload);
                self.buffer.drain(..used);
                match text {
                    Some(text) => return Ok(text),
                    None => continue,
                }
            }
            let read = self
                .stream
                .read(&mut chunk)
                .await
                .map_err(|e| unavailable(self.peer, &format!("cannot read: {e}")))?;
            if read == 0 {
                return Err(unavailable(self.peer, "the connection was closed"));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

fn unavailable(peer: SocketAddr, detail: &str) -> PeerError {
    PeerError::Unavailable(format!("HLR CTRL at {peer}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_framed_with_its_length_counting_the_extension_byte() {
        let frame =
            encode_command(Verb::Set, 7, "subscriber.create", Some("901700000000001")).unwrap();
        let text = b"SET 7 subscriber.create 901700000000001";
        assert_eq!(&frame[..2], &((text.len() + 1) as u16).to_be_bytes());
        assert_eq!(&frame[2..4], &[0xEE, 0x00]);
        assert_eq!(&frame[4..], text);

        let frame = encode_command(Verb::Get, 1, "subscriber.by-imsi-123456.info", None).unwrap();
        assert_eq!(&frame[4..], b"GET 1 subscriber.by-imsi-123456.info");
    }

    #[test]
    fn text_that_would_change_the_command_is_not_framed() {
        assert!(encode_command(Verb::Set, 1, "subscriber.create", Some("1 2")).is_err());
        assert!(encode_command(Verb::Set, 1, "subscriber.create", Some("1\n")).is_err());
        assert!(encode_command(Verb::Set, 1, "subscriber.create", Some("")).is_err());
        assert!(encode_command(Verb::Get, 1, "a b", None).is_err());
        let long = "9".repeat(70_000);
        assert!(encode_command(Verb::Set, 1, "x", Some(&long)).is_err());
    }

    #[test]
    fn frames_are_decoded_only_once_complete() {
        let reply = b"\x00\x20\xee\x00SET_REPLY 1 subscriber.create 1";
        assert_eq!(decode_frame(&reply[..2]), None);
        assert_eq!(decode_frame(&reply[..10]), None);
        let (protocol, payload, used) = decode_frame(reply).unwrap();
        assert_eq!((protocol, used), (0xEE, reply.len()));
        assert_eq!(
            ctrl_text(protocol, payload).as_deref(),
            Some("SET_REPLY 1 subscriber.create 1")
        );

        // Two frames back to back: the first is split off, the rest stays for the next read.
        let mut two = reply.to_vec();
        two.extend_from_slice(b"\x00\x01\xfe\x00");
        let (_, _, used) = decode_frame(&two).unwrap();
        let (protocol, payload, _) = decode_frame(&two[used..]).unwrap();
        assert_eq!(ctrl_text(protocol, payload), None, "IPA CCM is not CTRL");
        assert_eq!(ctrl_text(IPA_PROTO_OSMO, b""), None);
    }

    #[test]
    fn replies_parse_into_answers_keyed_by_id() {
        assert_eq!(
            parse_reply("SET_REPLY 4 subscriber.by-imsi-901700000000001.msisdn OK"),
            Reply::Answer {
                id: "4".into(),
                answer: Answer::Value("OK".into())
            }
        );
        assert_eq!(
            parse_reply("ERROR 2 Subscriber already exists."),
            Reply::Answer {
                id: "2".into(),
                answer: Answer::Error(ALREADY_EXISTS.into())
            }
        );
        assert_eq!(
            parse_reply("ERROR err Request type unknown"),
            Reply::Answer {
                id: "err".into(),
                answer: Answer::Error("Request type unknown".into())
            }
        );
        assert_eq!(parse_reply("TRAP 0 subscriber.something 1"), Reply::Trap);
        assert!(matches!(parse_reply("HELLO"), Reply::Unrecognised(_)));
        assert!(matches!(parse_reply("GET_REPLY 1"), Reply::Unrecognised(_)));
    }

    #[test]
    fn info_replies_give_the_subscriber() {
        let text = "GET_REPLY 5 subscriber.by-imsi-901700000000001.info \nid\t1\nimsi\t901700000000001\nmsisdn\t819012345678\nnam_cs\t1\nnam_ps\t0\nms_purged_cs\t0\nms_purged_ps\t0\nperiodic_lu_timer\t0\nperiodic_rau_tau_timer\t0\nlmsi\t00000000";
        let Reply::Answer {
            answer: Answer::Value(info),
            ..
        } = parse_reply(text)
        else {
            panic!("not a value: {text}");
        };
        assert_eq!(
            parse_info(&info).unwrap(),
            Subscriber {
                msisdn: Some("819012345678".into()),
                ps_enabled: false,
                cs_enabled: true,
            }
        );
        // Without an MSISDN the line is simply absent.
        let bare = "\nid\t2\nimsi\t901700000000003\nnam_cs\t0\nnam_ps\t1\nlmsi\t00000000";
        assert_eq!(
            parse_info(bare).unwrap(),
            Subscriber {
                msisdn: None,
                ps_enabled: true,
                cs_enabled: false,
            }
        );
        assert!(parse_info("\nid\t1\nimsi\t901700000000001").is_err());
    }

    #[test]
    fn imsis_and_msisdns_are_checked_before_anything_is_sent() {
        assert!(valid_imsi("123456").is_ok());
        assert!(valid_imsi("901700000000001").is_ok());
        for bad in [
            "",
            "12345",
            "1234567890123456",
            "90170000000000a",
            "901700 00001",
            "123456\n",
        ] {
            assert!(valid_imsi(bad).unwrap_err().is_permanent(), "{bad:?}");
        }
        assert_eq!(msisdn_digits("+819012345678").unwrap(), "819012345678");
        assert_eq!(msisdn_digits("819012345678").unwrap(), "819012345678");
        for bad in ["", "+", "++81", "81 90", "8190123456789012", "none"] {
            assert!(msisdn_digits(bad).unwrap_err().is_permanent(), "{bad:?}");
        }
    }
}
