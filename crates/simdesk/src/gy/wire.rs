//! The bytes on the wire, before and after the `diameter` crate: framing, the header, and a
//! check of every AVP that a message carries before the crate decodes it.
//!
//! Why the check: the crate (0.7) turns a whole message away when one AVP is not in its
//! dictionary, does arithmetic on AVP lengths taken from the wire, and only knows the command
//! codes and applications it has names for. A credit-control server has to answer such messages
//! (RFC 6733 §7: unknown AVPs without the M bit are ignored, unknown ones with it are answered
//! 5001, bad lengths 5014, unknown commands 3001), and must never fall over on what a peer sends.
//! So every message is walked here first: lengths are checked against their container and their
//! type, unknown optional AVPs are dropped, and what is left is rebuilt with exact lengths for
//! the crate, which then never sees anything it cannot read.

use super::avp::{self, result};
use diameter::avp::{flags as avp_flags, Avp, AvpType, AvpValue, OctetString};
use diameter::dictionary::Dictionary;
use diameter::DiameterMessage;
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

/// A Diameter header is 20 bytes.
pub const HEADER_LEN: usize = 20;
/// A larger message is taken as a broken stream and the connection closed: a CCR is a few
/// hundred bytes, and the crate's own reader stops at 1 MiB too.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;
/// Grouped AVPs nested deeper than this are refused: Gy nests four deep at most, and a limit
/// keeps a hostile message from exhausting the stack of a recursive walk.
const MAX_DEPTH: usize = 16;

/// Header flags.
pub mod flags {
    pub const REQUEST: u8 = 0x80;
    pub const PROXYABLE: u8 = 0x40;
    pub const ERROR: u8 = 0x20;
    pub const RETRANSMITTED: u8 = 0x10;
}

/// A message's header, read without the crate so that commands it has no name for can still
/// be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub length: u32,
    pub flags: u8,
    pub command: u32,
    pub application: u32,
    pub hop_by_hop: u32,
    pub end_to_end: u32,
}

impl Header {
    /// Reads the first 20 bytes of `bytes`.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let b = bytes.get(..HEADER_LEN)?;
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Header {
            version: b[0],
            length: word(0) & 0x00ff_ffff,
            flags: b[4],
            command: word(4) & 0x00ff_ffff,
            application: word(8),
            hop_by_hop: word(12),
            end_to_end: word(16),
        })
    }

    pub fn is_request(&self) -> bool {
        self.flags & flags::REQUEST != 0
    }

    /// The header of the answer to this request: same command, application and identifiers
    /// (that is how the peer matches it), R cleared, P kept, E as asked.
    pub fn answer(&self, error: bool) -> Header {
        Header {
            version: 1,
            length: HEADER_LEN as u32,
            flags: (self.flags & flags::PROXYABLE) | if error { flags::ERROR } else { 0 },
            ..*self
        }
    }

    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&self.length.to_be_bytes());
        b[0] = self.version;
        b[4..8].copy_from_slice(&self.command.to_be_bytes());
        b[4] = self.flags;
        b[8..12].copy_from_slice(&self.application.to_be_bytes());
        b[12..16].copy_from_slice(&self.hop_by_hop.to_be_bytes());
        b[16..20].copy_from_slice(&self.end_to_end.to_be_bytes());
        b
    }
}

/// Reads one whole message: the header, then as many bytes as it says. `Ok(None)` is the peer
/// closing between messages. A length that cannot be right loses the framing, so it is an
/// error and the connection is closed.
pub async fn read_message<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let n = reader.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let length = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
    if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&length) || !length.is_multiple_of(4) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message that says it is {length} bytes long"),
        ));
    }
    let mut message = vec![0u8; length];
    message[..HEADER_LEN].copy_from_slice(&header);
    reader.read_exact(&mut message[HEADER_LEN..]).await?;
    Ok(Some(message))
}

/// A request turned down, with what its answer says: the Result-Code, a sentence for
/// `Error-Message`, and the offending AVP for `Failed-AVP` (RFC 6733 §7.5: a copy of it, or for
/// a missing one an example of it with a zeroed value).
#[derive(Clone)]
pub struct Refusal {
    pub result_code: u32,
    pub message: String,
    pub failed_avp: Option<Avp>,
}

// The crate's AVPs print their whole dictionary in Debug: show what matters.
impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal")
            .field("result_code", &self.result_code)
            .field("message", &self.message)
            .field(
                "failed_avp",
                &self
                    .failed_avp
                    .as_ref()
                    .map(|a| format!("{a}").trim().to_string()),
            )
            .finish()
    }
}

impl Refusal {
    pub fn new(result_code: u32, message: impl Into<String>) -> Refusal {
        Refusal {
            result_code,
            message: message.into(),
            failed_avp: None,
        }
    }

    pub fn with_failed(mut self, avp: Avp) -> Refusal {
        self.failed_avp = Some(avp);
        self
    }
}

/// One AVP as it is on the wire.
#[derive(Debug, Clone, Copy)]
pub struct RawAvp<'a> {
    pub code: u32,
    pub flags: u8,
    pub vendor: Option<u32>,
    pub value: &'a [u8],
}

impl RawAvp<'_> {
    pub fn mandatory(&self) -> bool {
        self.flags & avp_flags::M != 0
    }

    /// A copy of this AVP for `Failed-AVP`: its value kept as bytes, whatever its type.
    pub fn copy(&self, dict: &Arc<Dictionary>) -> Avp {
        Avp::new(
            self.code,
            self.vendor,
            self.flags,
            OctetString::new(self.value.to_vec()).into(),
            dict.clone(),
        )
    }

    /// The value as a 32-bit number, when it is one.
    pub fn u32(&self) -> Option<u32> {
        Some(u32::from_be_bytes(self.value.try_into().ok()?))
    }
}

/// Why the next AVP could not even be delimited.
enum Broken<'a> {
    /// Fewer than 8 bytes are left: the container's own length is wrong.
    Truncated,
    /// The AVP's length field is smaller than its header or runs past its container.
    Length(RawAvp<'a>),
}

/// Splits the next AVP off `bytes`: the AVP and how many bytes it takes with its padding.
fn next_avp(bytes: &[u8]) -> Result<(RawAvp<'_>, usize), Broken<'_>> {
    if bytes.len() < 8 {
        return Err(Broken::Truncated);
    }
    let code = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let flags = bytes[4];
    let length = u32::from_be_bytes([0, bytes[5], bytes[6], bytes[7]]) as usize;
    let (vendor, header_len) = if flags & avp_flags::V != 0 {
        if bytes.len() < 12 {
            return Err(Broken::Truncated);
        }
        let vendor = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        (Some(vendor), 12)
    } else {
        (None, 8)
    };
    let padded = length.div_ceil(4) * 4;
    if length < header_len || padded > bytes.len() {
        let end = length.clamp(header_len, bytes.len());
        return Err(Broken::Length(RawAvp {
            code,
            flags,
            vendor,
            value: &bytes[header_len..end],
        }));
    }
    let avp = RawAvp {
        code,
        flags,
        vendor,
        value: &bytes[header_len..length],
    };
    Ok((avp, padded))
}

/// The AVPs of a message body (or a grouped AVP's value), as far as they can be delimited.
/// Used to echo Session-Id and the like into the answer to a request that is turned down.
pub fn avps(body: &[u8]) -> Vec<RawAvp<'_>> {
    let mut found = Vec::new();
    let mut rest = body;
    while let Ok((avp, used)) = next_avp(rest) {
        found.push(avp);
        rest = &rest[used..];
    }
    found
}

/// Checks a whole request and rebuilds it for the crate: every AVP delimited and of the length
/// its type needs, unknown AVPs without the M bit dropped, unknown ones with it refused.
pub fn clean(message: &[u8], dict: &Arc<Dictionary>) -> Result<Vec<u8>, Refusal> {
    let Some(header) = Header::parse(message) else {
        return Err(Refusal::new(
            result::INVALID_MESSAGE_LENGTH,
            "shorter than a header",
        ));
    };
    if header.length as usize != message.len() {
        return Err(Refusal::new(
            result::INVALID_MESSAGE_LENGTH,
            "the header's length is not the message's",
        ));
    }
    let mut out = Vec::with_capacity(message.len());
    out.extend_from_slice(&message[..HEADER_LEN]);
    clean_avps(&message[HEADER_LEN..], dict, &mut out, 0).map_err(|refusal| {
        refusal.unwrap_or_else(|| {
            Refusal::new(
                result::INVALID_MESSAGE_LENGTH,
                "the message ends inside an AVP header",
            )
        })
    })?;
    let length = (out.len() as u32).to_be_bytes();
    out[1..4].copy_from_slice(&length[1..4]);
    Ok(out)
}

/// Walks `bytes` and appends the AVPs the crate will get to `out`. `Err(None)` means the bytes
/// end inside an AVP header, which the caller reports against its own container.
fn clean_avps(
    bytes: &[u8],
    dict: &Arc<Dictionary>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Option<Refusal>> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (avp, used) = match next_avp(rest) {
            Ok(next) => next,
            Err(Broken::Truncated) => return Err(None),
            Err(Broken::Length(avp)) => {
                return Err(Some(
                    Refusal::new(
                        result::INVALID_AVP_LENGTH,
                        format!("AVP {} has a length that does not fit", avp.code),
                    )
                    .with_failed(avp.copy(dict)),
                ))
            }
        };
        rest = &rest[used..];
        let kind = dict
            .get_avp_type(avp.code, avp.vendor)
            .copied()
            .filter(|kind| *kind != AvpType::Unknown);
        let Some(kind) = kind else {
            if avp.mandatory() {
                return Err(Some(
                    Refusal::new(
                        result::AVP_UNSUPPORTED,
                        format!("AVP {} is mandatory and not supported", name(&avp)),
                    )
                    .with_failed(avp.copy(dict)),
                ));
            }
            // RFC 6733 §4.1: an AVP the receiver does not know and need not understand is
            // ignored.
            tracing::debug!(avp = %name(&avp), "ignoring an unknown optional AVP");
            continue;
        };
        let start = out.len();
        out.extend_from_slice(&avp.code.to_be_bytes());
        out.extend_from_slice(&[avp.flags, 0, 0, 0]);
        if let Some(vendor) = avp.vendor {
            out.extend_from_slice(&vendor.to_be_bytes());
        }
        if kind == AvpType::Grouped {
            if depth >= MAX_DEPTH {
                return Err(Some(
                    Refusal::new(result::INVALID_AVP_VALUE, "grouped AVPs nested too deep")
                        .with_failed(avp.copy(dict)),
                ));
            }
            clean_avps(avp.value, dict, out, depth + 1).map_err(|inner| {
                Some(inner.unwrap_or_else(|| {
                    Refusal::new(
                        result::INVALID_AVP_LENGTH,
                        format!("grouped AVP {} ends inside an AVP header", avp.code),
                    )
                    .with_failed(avp.copy(dict))
                }))
            })?;
        } else {
            check_value(kind, &avp).map_err(|code| {
                Some(
                    Refusal::new(
                        code,
                        format!("AVP {} does not hold a valid {kind:?}", name(&avp)),
                    )
                    .with_failed(avp.copy(dict)),
                )
            })?;
            out.extend_from_slice(avp.value);
        }
        let length = ((out.len() - start) as u32).to_be_bytes();
        out[start + 5..start + 8].copy_from_slice(&length[1..4]);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    Ok(())
}

/// Whether a value can be what its type says, as RFC 6733 §4.2 defines the types; the
/// Result-Code to refuse it with otherwise.
fn check_value(kind: AvpType, avp: &RawAvp) -> Result<(), u32> {
    let value = avp.value;
    let fixed = |len: usize| {
        if value.len() == len {
            Ok(())
        } else {
            Err(result::INVALID_AVP_LENGTH)
        }
    };
    match kind {
        AvpType::Unsigned32
        | AvpType::Integer32
        | AvpType::Enumerated
        | AvpType::Float32
        | AvpType::Time
        | AvpType::AddressIPv4 => fixed(4),
        AvpType::Unsigned64 | AvpType::Integer64 | AvpType::Float64 => fixed(8),
        AvpType::AddressIPv6 => fixed(16),
        // The crate reads IPv4, IPv6 and E.164 addresses (family 1, 2 and 8).
        AvpType::Address => match value {
            [0, 1, rest @ ..] if rest.len() == 4 => Ok(()),
            [0, 2, rest @ ..] if rest.len() == 16 => Ok(()),
            [0, 8, rest @ ..] if (1..=15).contains(&rest.len()) && rest.is_ascii() => Ok(()),
            [0, 1 | 2, ..] => Err(result::INVALID_AVP_LENGTH),
            _ => Err(result::INVALID_AVP_VALUE),
        },
        AvpType::UTF8String | AvpType::Identity => std::str::from_utf8(value)
            .map(|_| ())
            .map_err(|_| result::INVALID_AVP_VALUE),
        AvpType::OctetString | AvpType::DiameterURI => Ok(()),
        AvpType::Grouped | AvpType::Unknown => Ok(()),
    }
}

fn name(avp: &RawAvp) -> String {
    match avp.vendor {
        Some(vendor) => format!("{} (vendor {vendor})", avp.code),
        None => avp.code.to_string(),
    }
}

/// Decodes a message `clean` produced. The crate still gets the last word: if it refuses
/// anyway, or fails in a way the checks above did not foresee, the request is answered
/// UNABLE_TO_COMPLY rather than the connection lost.
pub fn decode(cleaned: &[u8], dict: &Arc<Dictionary>) -> Result<DiameterMessage, Refusal> {
    let dict = dict.clone();
    let decoded = std::panic::catch_unwind(|| {
        DiameterMessage::decode_from(&mut io::Cursor::new(cleaned), dict)
    });
    match decoded {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(e)) => Err(Refusal::new(
            result::UNABLE_TO_COMPLY,
            format!("the message could not be read: {e}"),
        )),
        Err(_) => Err(Refusal::new(
            result::UNABLE_TO_COMPLY,
            "the message could not be read",
        )),
    }
}

/// Encodes a message the crate built.
pub fn encode(message: &DiameterMessage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(message.get_length() as usize);
    // Writing into a Vec cannot fail.
    let _ = message.encode_to(&mut bytes);
    bytes
}

/// Encodes a message from a header and AVPs, for commands the crate has no name for.
pub fn encode_raw(header: Header, avps: &[Avp]) -> Vec<u8> {
    let mut body = Vec::new();
    for avp in avps {
        let _ = avp.encode_to(&mut body);
    }
    let header = Header {
        length: (HEADER_LEN + body.len()) as u32,
        ..header
    };
    let mut bytes = header.encode().to_vec();
    bytes.extend_from_slice(&body);
    bytes
}

/// The first AVP with `code` and no vendor among `avps`. The crate's own lookup ignores the
/// vendor, and 3GPP reuses small codes (its IMSI is 1, like User-Name).
pub fn find(avps: &[Avp], code: u32) -> Option<&Avp> {
    avps.iter()
        .find(|a| a.get_code() == code && a.get_vendor_id().is_none())
}

/// The first AVP with `code` of `vendor` among `avps`.
pub fn find_vendor(avps: &[Avp], code: u32, vendor: u32) -> Option<&Avp> {
    avps.iter()
        .find(|a| a.get_code() == code && a.get_vendor_id() == Some(vendor))
}

/// Every AVP with `code` and no vendor among `avps`.
pub fn find_all(avps: &[Avp], code: u32) -> impl Iterator<Item = &Avp> {
    avps.iter()
        .filter(move |a| a.get_code() == code && a.get_vendor_id().is_none())
}

/// A base AVP (no vendor, M set as RFC 6733 and RFC 4006 ask for all the ones simdesk sends).
pub fn avp(code: u32, value: impl Into<AvpValue>, dict: &Arc<Dictionary>) -> Avp {
    Avp::new(code, None, avp_flags::M, value.into(), dict.clone())
}

/// A 3GPP AVP (vendor 10415, V set), with M where TS 32.299 asks for it.
pub fn tgpp_avp(
    code: u32,
    mandatory: bool,
    value: impl Into<AvpValue>,
    dict: &Arc<Dictionary>,
) -> Avp {
    let flags = avp_flags::V | if mandatory { avp_flags::M } else { 0 };
    Avp::new(
        code,
        Some(super::avp::TGPP_VENDOR),
        flags,
        value.into(),
        dict.clone(),
    )
}

/// `Failed-AVP` holding `offending`.
pub fn failed_avp(offending: Avp, dict: &Arc<Dictionary>) -> Avp {
    avp(
        avp::FAILED_AVP,
        diameter::avp::Grouped::new(vec![offending], dict.clone()),
        dict,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gy::dictionary::dictionary;

    fn raw_avp(code: u32, flags: u8, vendor: Option<u32>, value: &[u8]) -> Vec<u8> {
        let header_len = if vendor.is_some() { 12 } else { 8 };
        let length = (header_len + value.len()) as u32;
        let mut b = code.to_be_bytes().to_vec();
        b.push(flags | if vendor.is_some() { avp_flags::V } else { 0 });
        b.extend_from_slice(&length.to_be_bytes()[1..]);
        if let Some(v) = vendor {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend_from_slice(value);
        b.resize(b.len().div_ceil(4) * 4, 0);
        b
    }

    fn message(command: u32, app: u32, avps: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = avps.concat();
        let header = Header {
            version: 1,
            length: (HEADER_LEN + body.len()) as u32,
            flags: flags::REQUEST,
            command,
            application: app,
            hop_by_hop: 7,
            end_to_end: 9,
        };
        let mut b = header.encode().to_vec();
        b.extend_from_slice(&body);
        b
    }

    #[test]
    fn the_header_reads_back_what_was_written() {
        let header = Header {
            version: 1,
            length: 1234,
            flags: flags::REQUEST | flags::PROXYABLE,
            command: 272,
            application: 4,
            hop_by_hop: 0xdead_beef,
            end_to_end: 42,
        };
        assert_eq!(Header::parse(&header.encode()), Some(header));
        let answer = header.answer(true);
        assert_eq!(answer.flags, flags::PROXYABLE | flags::ERROR);
        assert_eq!((answer.hop_by_hop, answer.end_to_end), (0xdead_beef, 42));
    }

    #[test]
    fn unknown_optional_avps_are_dropped_and_lengths_rebuilt() {
        let dict = dictionary();
        let bytes = message(
            272,
            4,
            &[
                raw_avp(263, avp_flags::M, None, b"s;1"),
                raw_avp(99_999, 0, Some(12_345), b"whatever"),
                raw_avp(415, avp_flags::M, None, &3u32.to_be_bytes()),
            ],
        );
        let cleaned = clean(&bytes, &dict).unwrap();
        let decoded = decode(&cleaned, &dict).unwrap();
        let codes: Vec<u32> = decoded.get_avps().iter().map(|a| a.get_code()).collect();
        assert_eq!(codes, [263, 415]);
        assert_eq!(
            Header::parse(&cleaned).unwrap().length as usize,
            cleaned.len()
        );
    }

    #[test]
    fn an_unknown_mandatory_avp_is_refused_with_a_copy_of_it() {
        let dict = dictionary();
        let bytes = message(272, 4, &[raw_avp(99_999, avp_flags::M, None, b"x")]);
        let refusal = clean(&bytes, &dict).unwrap_err();
        assert_eq!(refusal.result_code, result::AVP_UNSUPPORTED);
        let failed = refusal.failed_avp.unwrap();
        assert_eq!(failed.get_code(), 99_999);
        assert_eq!(failed.get_octetstring().unwrap().value(), b"x");
    }

    #[test]
    fn lengths_that_do_not_fit_are_refused_not_trusted() {
        let dict = dictionary();
        // An Unsigned32 three bytes long.
        let short = message(272, 4, &[raw_avp(415, avp_flags::M, None, &[0, 0, 1])]);
        assert_eq!(
            clean(&short, &dict).unwrap_err().result_code,
            result::INVALID_AVP_LENGTH
        );
        // An AVP whose length field is smaller than its own header.
        let mut tiny = message(272, 4, &[raw_avp(415, avp_flags::M, None, &[0; 4])]);
        tiny[HEADER_LEN + 7] = 3;
        assert_eq!(
            clean(&tiny, &dict).unwrap_err().result_code,
            result::INVALID_AVP_LENGTH
        );
        // One that runs past the end of the message.
        let mut long = message(272, 4, &[raw_avp(415, avp_flags::M, None, &[0; 4])]);
        long[HEADER_LEN + 7] = 200;
        assert_eq!(
            clean(&long, &dict).unwrap_err().result_code,
            result::INVALID_AVP_LENGTH
        );
        // A message that ends in the middle of an AVP header.
        let mut cut = message(272, 4, &[raw_avp(415, avp_flags::M, None, &[0; 4])]);
        cut.extend_from_slice(&[0, 0, 1, 7]);
        let length = (cut.len() as u32).to_be_bytes();
        cut[1..4].copy_from_slice(&length[1..]);
        assert_eq!(
            clean(&cut, &dict).unwrap_err().result_code,
            result::INVALID_MESSAGE_LENGTH
        );
        // Text that is not UTF-8.
        let text = message(272, 4, &[raw_avp(263, avp_flags::M, None, &[0xff, 0xfe])]);
        assert_eq!(
            clean(&text, &dict).unwrap_err().result_code,
            result::INVALID_AVP_VALUE
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let dict = dictionary();
        let mut inner = raw_avp(432, avp_flags::M, None, &1u32.to_be_bytes());
        for _ in 0..40 {
            inner = raw_avp(456, avp_flags::M, None, &inner);
        }
        let bytes = message(272, 4, &[inner]);
        assert_eq!(
            clean(&bytes, &dict).unwrap_err().result_code,
            result::INVALID_AVP_VALUE
        );
    }

    #[tokio::test]
    async fn framing_rejects_impossible_lengths_and_reports_a_clean_close() {
        let empty: &[u8] = &[];
        assert!(read_message(&mut &*empty).await.unwrap().is_none());
        let mut bad = message(280, 0, &[]);
        bad[3] = 3;
        assert!(read_message(&mut &bad[..]).await.is_err());
        let good = message(280, 0, &[raw_avp(264, avp_flags::M, None, b"peer")]);
        let read = read_message(&mut &good[..]).await.unwrap().unwrap();
        assert_eq!(read, good);
    }
}
