//! Identifiers of SIM cards, lines and customers, validated on parse so that a mistyped number never reaches a carrier, the ledger or a customer.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

mod typed;
pub use typed::{CarrierCode, CustomerId, Id, LineId, RequestId};

/// Which identifier an [`IdError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    Iccid,
    Imsi,
    Msisdn,
    PhoneNumber,
    Eid,
}

impl IdKind {
    /// The name an operator knows the identifier by.
    pub const fn name(self) -> &'static str {
        match self {
            IdKind::Iccid => "ICCID",
            IdKind::Imsi => "IMSI",
            IdKind::Msisdn => "MSISDN",
            IdKind::PhoneNumber => "phone number",
            IdKind::Eid => "EID",
        }
    }

    const fn expected_form(self) -> &'static str {
        match self {
            IdKind::Iccid => "19 or 20 digits starting with 89, as printed on the SIM card",
            IdKind::Imsi => "6 to 15 digits starting with 440 or 441",
            IdKind::Msisdn => "a Japanese mobile number such as 090-1234-5678 or +81 90-1234-5678",
            IdKind::PhoneNumber => "a number such as +1 415 555 0100 or 03-1234-5678",
            IdKind::Eid => "the 32 digits of the eSIM's EID",
        }
    }

    const fn allowed_characters(self) -> &'static str {
        match self {
            IdKind::Iccid | IdKind::Imsi | IdKind::Eid => "digits, spaces and hyphens",
            IdKind::Msisdn | IdKind::PhoneNumber => {
                "digits, spaces, hyphens, parentheses and a leading +"
            }
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty; enter {}", .kind.expected_form())]
    Empty { kind: IdKind },

    #[error(
        "{kind} may contain only {}; found {found:?} at position {position}",
        .kind.allowed_characters()
    )]
    InvalidCharacter {
        kind: IdKind,
        found: char,
        /// 1-based, counted in characters of the text as given.
        position: usize,
    },

    #[error("{kind} must be {expected}, got {got}")]
    Length {
        kind: IdKind,
        expected: &'static str,
        got: usize,
    },

    #[error("{kind} body must be {expected} (the check digits are appended for you), got {got}")]
    BodyLength {
        kind: IdKind,
        expected: &'static str,
        got: usize,
    },

    #[error("ICCID must start with 89 (the telecommunications industry prefix), got {prefix}")]
    IccidPrefix { prefix: String },

    #[error(
        "ICCID check digit is {found}, expected {expected} (Luhn); \
         a digit is probably mistyped, re-read the number from the card"
    )]
    IccidCheckDigit { found: u8, expected: u8 },

    #[error("IMSI MCC {mcc} is not Japanese (expected 440 or 441)")]
    ImsiMcc { mcc: String },

    #[error(
        "MSISDN {number} is not a Japanese mobile number (070, 080 or 090 followed by 8 digits)"
    )]
    MsisdnNotMobile { number: String },

    #[error(
        "MSISDN {number} is not a Japanese number \
         (expected +81, 0081 or a national number starting with 0)"
    )]
    MsisdnCountry { number: String },

    #[error(
        "phone number {number} has no country code; \
         write it as + and the country code (e.g. +1 415 555 0100), \
         or as a Japanese number starting with 0"
    )]
    PhoneMissingCountryCode { number: String },

    #[error(
        "phone number {number} has a country code starting with 0; country codes start with 1-9"
    )]
    PhoneCountryCode { number: String },

    #[error(
        "EID check digits are {found}, expected {expected} (mod 97); \
         a digit is probably mistyped, re-read the 32 digits"
    )]
    EidCheckDigits { found: String, expected: String },
}

/// The Luhn check digit for `digits`, or `None` unless it is a non-empty string of ASCII digits.
pub fn luhn_check_digit(digits: &str) -> Option<u8> {
    if digits.is_empty() || !is_ascii_digits(digits) {
        return None;
    }
    Some(luhn_digit(digits))
}

/// Whether `digits` (ASCII digits only, the check digit last) passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.len() < 2 || !is_ascii_digits(digits) {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    luhn_digit(body) == digit_value(check)
}

/// Callers have checked that `digits` is ASCII digits.
fn luhn_digit(digits: &str) -> u8 {
    // Summing modulo 10 as we go keeps arbitrarily long input from overflowing.
    let sum = digits
        .bytes()
        .rev()
        .enumerate()
        .fold(0u8, |sum, (index, byte)| {
            let digit = byte.wrapping_sub(b'0') % 10;
            let weighted = if index % 2 == 0 {
                let doubled = digit * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                digit
            };
            (sum + weighted) % 10
        });
    (10 - sum) % 10
}

/// Callers have checked that `digits` is ASCII digits.
fn mod97(digits: &str) -> u32 {
    digits.bytes().fold(0u32, |remainder, byte| {
        (remainder * 10 + u32::from(byte.wrapping_sub(b'0') % 10)) % 97
    })
}

/// The two ISO 7064 check digits that make `body` followed by them equal 1 mod 97.
fn eid_check_digits(body: &str) -> String {
    let shifted = (mod97(body) * 100) % 97;
    format!("{:02}", 98 - shifted)
}

fn is_ascii_digits(text: &str) -> bool {
    text.bytes().all(|byte| byte.is_ascii_digit())
}

/// The value of the first byte of `digit`, which callers have checked is an ASCII digit.
fn digit_value(digit: &str) -> u8 {
    digit
        .bytes()
        .next()
        .map_or(0, |byte| byte.wrapping_sub(b'0'))
}

/// Shortens echoed input so that an error about a pasted novel stays one line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 24;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

enum CharClass {
    Digit(char),
    Separator,
    Plus,
    Parenthesis,
    Other,
}

fn classify(c: char) -> CharClass {
    match c {
        '0'..='9' => CharClass::Digit(c),
        // Japanese input methods produce full-width digits and dashes (and the
        // katakana long-vowel mark in place of a dash) unless switched off,
        // and numbers copied from Japanese documents keep them.
        '０'..='９' => char::from_digit(u32::from(c) - u32::from('０'), 10)
            .map_or(CharClass::Other, CharClass::Digit),
        '-' | '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '－' | 'ー' => {
            CharClass::Separator
        }
        '+' | '＋' => CharClass::Plus,
        '(' | ')' | '（' | '）' => CharClass::Parenthesis,
        c if c.is_whitespace() => CharClass::Separator,
        _ => CharClass::Other,
    }
}

struct Scanned {
    digits: String,
    plus: bool,
}

fn scan(text: &str, kind: IdKind) -> Result<Scanned, IdError> {
    // Phone numbers are written "+81 (0)90-…" or "(03) 1234-5678"; the
    // grouping carries no meaning once the digits are known.
    let is_phone = matches!(kind, IdKind::Msisdn | IdKind::PhoneNumber);
    let mut digits = String::new();
    let mut plus = false;
    for (index, c) in text.chars().enumerate() {
        match classify(c) {
            CharClass::Digit(digit) => digits.push(digit),
            CharClass::Separator => {}
            CharClass::Parenthesis if is_phone => {}
            CharClass::Plus if is_phone && !plus && digits.is_empty() => plus = true,
            _ => {
                return Err(IdError::InvalidCharacter {
                    kind,
                    found: c,
                    position: index + 1,
                })
            }
        }
    }
    if digits.is_empty() {
        return Err(IdError::Empty { kind });
    }
    Ok(Scanned { digits, plus })
}

/// What sets one text identifier apart from another: its name and how its text is read.
pub trait IdentifierKind {
    /// The type's name, as `Debug` prints it.
    const NAME: &'static str;

    /// The canonical form of `text`, or why it is not this identifier.
    fn parse(text: &str) -> Result<String, IdError>;
}

/// A validated identifier held in its canonical text form; `K` says which one.
pub struct Identifier<K: IdentifierKind>(String, PhantomData<fn() -> K>);

impl<K: IdentifierKind> Identifier<K> {
    /// Callers have produced `text` in the kind's canonical form.
    fn canonical(text: String) -> Self {
        Identifier(text, PhantomData)
    }

    /// The canonical form, as stored, displayed and serialized.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<K: IdentifierKind> Clone for Identifier<K> {
    fn clone(&self) -> Self {
        Identifier::canonical(self.0.clone())
    }
}

impl<K: IdentifierKind> PartialEq for Identifier<K> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: IdentifierKind> Eq for Identifier<K> {}

impl<K: IdentifierKind> PartialOrd for Identifier<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: IdentifierKind> Ord for Identifier<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl<K: IdentifierKind> Hash for Identifier<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl<K: IdentifierKind> fmt::Debug for Identifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(K::NAME).field(&self.0).finish()
    }
}

impl<K: IdentifierKind> fmt::Display for Identifier<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl<K: IdentifierKind> AsRef<str> for Identifier<K> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<K: IdentifierKind> FromStr for Identifier<K> {
    type Err = IdError;

    fn from_str(text: &str) -> Result<Self, IdError> {
        K::parse(text).map(Identifier::canonical)
    }
}

impl<K: IdentifierKind> TryFrom<String> for Identifier<K> {
    type Error = IdError;

    fn try_from(text: String) -> Result<Self, IdError> {
        text.parse()
    }
}

impl<K: IdentifierKind> TryFrom<&str> for Identifier<K> {
    type Error = IdError;

    fn try_from(text: &str) -> Result<Self, IdError> {
        text.parse()
    }
}

impl<K: IdentifierKind> From<Identifier<K>> for String {
    fn from(id: Identifier<K>) -> String {
        id.0
    }
}

impl<K: IdentifierKind> Serialize for Identifier<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, K: IdentifierKind> Deserialize<'de> for Identifier<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(de::Error::custom)
    }
}

/// The serial number of a SIM card (ITU-T E.118): 19 or 20 digits starting
/// with 89, the last a Luhn check digit. Stored as bare digits.
pub type Iccid = Identifier<IccidKind>;

/// Marks an [`Identifier`] as [`Iccid`].
#[derive(Debug)]
pub enum IccidKind {}

impl Iccid {
    /// Builds an ICCID from its 18- or 19-digit body by appending the Luhn
    /// check digit, e.g. to generate demo inventory.
    pub fn from_body(body: &str) -> Result<Iccid, IdError> {
        let digits = scan(body, IdKind::Iccid)?.digits;
        if !(18..=19).contains(&digits.len()) {
            return Err(IdError::BodyLength {
                kind: IdKind::Iccid,
                expected: "18 or 19 digits",
                got: digits.len(),
            });
        }
        check_iccid_prefix(&digits)?;
        let check = luhn_digit(&digits);
        Ok(Identifier::canonical(format!("{digits}{check}")))
    }
}

fn check_iccid_prefix(digits: &str) -> Result<(), IdError> {
    if digits.starts_with("89") {
        Ok(())
    } else {
        Err(IdError::IccidPrefix {
            prefix: digits.chars().take(2).collect(),
        })
    }
}

impl IdentifierKind for IccidKind {
    const NAME: &'static str = "Iccid";

    fn parse(text: &str) -> Result<String, IdError> {
        let digits = scan(text, IdKind::Iccid)?.digits;
        if !(19..=20).contains(&digits.len()) {
            return Err(IdError::Length {
                kind: IdKind::Iccid,
                expected: "19 or 20 digits",
                got: digits.len(),
            });
        }
        check_iccid_prefix(&digits)?;
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = luhn_digit(body);
        let found = digit_value(check);
        if found != expected {
            return Err(IdError::IccidCheckDigit { found, expected });
        }
        Ok(digits)
    }
}

/// A Japanese subscriber identity (ITU-T E.212): MCC 440 or 441, a 2-digit
/// MNC, then the MSIN, 15 digits at most. Stored as bare digits.
pub type Imsi = Identifier<ImsiKind>;

/// Marks an [`Identifier`] as [`Imsi`].
#[derive(Debug)]
pub enum ImsiKind {}

// Japan's MNCs are all two digits; a three-digit reading would turn "01" into
// "010" and misroute the line to another network.
const JAPAN_MNC_DIGITS: usize = 2;

impl Imsi {
    /// The mobile country code, "440" or "441".
    pub fn mcc(&self) -> &str {
        &self.0[..3]
    }

    /// The mobile network code as text, so that "01" is not confused with "001".
    pub fn mnc(&self) -> &str {
        &self.0[3..3 + JAPAN_MNC_DIGITS]
    }

    /// The subscriber number within the network.
    pub fn msin(&self) -> &str {
        &self.0[3 + JAPAN_MNC_DIGITS..]
    }
}

impl IdentifierKind for ImsiKind {
    const NAME: &'static str = "Imsi";

    fn parse(text: &str) -> Result<String, IdError> {
        let digits = scan(text, IdKind::Imsi)?.digits;
        if !(3 + JAPAN_MNC_DIGITS + 1..=15).contains(&digits.len()) {
            return Err(IdError::Length {
                kind: IdKind::Imsi,
                expected: "6 to 15 digits (MCC, MNC and MSIN)",
                got: digits.len(),
            });
        }
        let mcc = &digits[..3];
        if mcc != "440" && mcc != "441" {
            return Err(IdError::ImsiMcc {
                mcc: mcc.to_owned(),
            });
        }
        Ok(digits)
    }
}

/// A Japanese mobile number (070, 080 or 090 and 8 digits), stored and
/// displayed in E.164 form, e.g. "+819012345678".
pub type Msisdn = Identifier<MsisdnKind>;

/// Marks an [`Identifier`] as [`Msisdn`].
#[derive(Debug)]
pub enum MsisdnKind {}

impl Msisdn {
    /// The number as dialled within Japan, e.g. "090-1234-5678".
    pub fn national(&self) -> String {
        let subscriber = &self.0[3..];
        format!(
            "0{}-{}-{}",
            &subscriber[..2],
            &subscriber[2..6],
            &subscriber[6..]
        )
    }
}

/// The national form of a number given after Japan's country code.
fn japanese_national(after_country_code: &str) -> String {
    // "+81 (0)90-…" is a common way of writing Japanese numbers; the trunk 0
    // belongs to national dialling only and is never part of the E.164 form.
    let subscriber = after_country_code
        .strip_prefix('0')
        .unwrap_or(after_country_code);
    format!("0{subscriber}")
}

impl IdentifierKind for MsisdnKind {
    const NAME: &'static str = "Msisdn";

    fn parse(text: &str) -> Result<String, IdError> {
        let Scanned { digits, plus } = scan(text, IdKind::Msisdn)?;
        let national = if plus {
            match digits.strip_prefix("81") {
                Some(rest) => japanese_national(rest),
                None => {
                    return Err(IdError::MsisdnCountry {
                        number: excerpt(&format!("+{digits}")),
                    })
                }
            }
        } else if let Some(rest) = digits.strip_prefix("0081") {
            japanese_national(rest)
        } else if digits.starts_with("00") {
            return Err(IdError::MsisdnCountry {
                number: excerpt(&digits),
            });
        } else if digits.starts_with('0') {
            digits
        } else if let Some(rest) = digits.strip_prefix("81") {
            // A national number always starts with 0, so a leading 81 can
            // only be the country code with its + left off.
            japanese_national(rest)
        } else {
            return Err(IdError::MsisdnNotMobile {
                number: excerpt(&digits),
            });
        };
        let bytes = national.as_bytes();
        let is_mobile = bytes.len() == 11
            && bytes[0] == b'0'
            && matches!(bytes[1], b'7' | b'8' | b'9')
            && bytes[2] == b'0';
        if !is_mobile {
            return Err(IdError::MsisdnNotMobile {
                number: excerpt(&national),
            });
        }
        Ok(format!("+81{}", &national[1..]))
    }
}

/// A customer's contact number in E.164 form ("+" and 8 to 15 digits).
/// Japanese national numbers are given Japan's country code.
pub type PhoneNumber = Identifier<PhoneNumberKind>;

/// Marks an [`Identifier`] as [`PhoneNumber`].
#[derive(Debug)]
pub enum PhoneNumberKind {}

impl IdentifierKind for PhoneNumberKind {
    const NAME: &'static str = "PhoneNumber";

    fn parse(text: &str) -> Result<String, IdError> {
        let Scanned { digits, plus } = scan(text, IdKind::PhoneNumber)?;
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("010") {
            // 010 is Japan's international call prefix; no area code uses it.
            rest.to_owned()
        } else if let Some(rest) = digits.strip_prefix("00") {
            // The ITU's international prefix, used across Europe and Asia and
            // often left in numbers that visitors copy from home.
            rest.to_owned()
        } else if let Some(rest) = digits.strip_prefix('0') {
            format!("81{rest}")
        } else {
            // Without a + there is no telling "2125550100" from a number in
            // Morocco (+212), so guessing would misdial a customer.
            return Err(IdError::PhoneMissingCountryCode {
                number: excerpt(&digits),
            });
        };
        // "+81 (0)3-…" carries the trunk 0 of national dialling, which never
        // belongs in an E.164 Japanese number.
        let international = match international.strip_prefix("81") {
            Some(rest) => format!("81{}", rest.trim_start_matches('0')),
            None => international,
        };
        if !(8..=15).contains(&international.len()) {
            return Err(IdError::Length {
                kind: IdKind::PhoneNumber,
                expected: "8 to 15 digits including the country code (E.164)",
                got: international.len(),
            });
        }
        if international.starts_with('0') {
            return Err(IdError::PhoneCountryCode {
                number: format!("+{international}"),
            });
        }
        Ok(format!("+{international}"))
    }
}

/// The identifier of an eUICC (GSMA SGP.29): 32 digits whose value is 1 mod 97.
/// Stored as bare digits.
pub type Eid = Identifier<EidKind>;

/// Marks an [`Identifier`] as [`Eid`].
#[derive(Debug)]
pub enum EidKind {}

impl Eid {
    /// Builds an EID from its 30-digit body by appending the two check digits,
    /// e.g. to generate demo inventory.
    pub fn from_body(body: &str) -> Result<Eid, IdError> {
        let digits = scan(body, IdKind::Eid)?.digits;
        if digits.len() != 30 {
            return Err(IdError::BodyLength {
                kind: IdKind::Eid,
                expected: "30 digits",
                got: digits.len(),
            });
        }
        let check = eid_check_digits(&digits);
        Ok(Identifier::canonical(digits + &check))
    }
}

impl IdentifierKind for EidKind {
    const NAME: &'static str = "Eid";

    fn parse(text: &str) -> Result<String, IdError> {
        let digits = scan(text, IdKind::Eid)?.digits;
        if digits.len() != 32 {
            return Err(IdError::Length {
                kind: IdKind::Eid,
                expected: "32 digits",
                got: digits.len(),
            });
        }
        if mod97(&digits) != 1 {
            let (body, found) = digits.split_at(30);
            return Err(IdError::EidCheckDigits {
                found: found.to_owned(),
                expected: eid_check_digits(body),
            });
        }
        Ok(digits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // A Japanese ICCID body; its Luhn check digit is 7.
    const ICCID_BODY: &str = "898110012345678901";

    #[test]
    fn luhn_matches_the_textbook_example() {
        assert_eq!(luhn_check_digit("7992739871"), Some(3));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
    }

    #[test]
    fn luhn_rejects_what_is_not_digits() {
        assert_eq!(luhn_check_digit(""), None);
        assert_eq!(luhn_check_digit("12a4"), None);
        assert_eq!(luhn_check_digit("１２"), None);
        assert!(!luhn_valid(""));
        assert!(!luhn_valid("0"));
        assert!(!luhn_valid("7992739871é"));
        assert!(!luhn_valid("79927 398713"));
    }

    #[test]
    fn iccid_from_body_appends_the_check_digit() {
        let iccid = Iccid::from_body(ICCID_BODY).unwrap();
        assert_eq!(iccid.as_str(), "8981100123456789017");
        assert!(luhn_valid(iccid.as_str()));
        let twenty = Iccid::from_body("8981100123456789012").unwrap();
        assert_eq!(twenty.as_str().len(), 20);
        assert!(luhn_valid(twenty.as_str()));
    }

    #[test]
    fn iccid_accepts_separators_and_full_width_digits() {
        let iccid: Iccid = "8981100123456789017".parse().unwrap();
        for text in [
            "8981 1001 2345 6789 017",
            "8981-1001-2345-6789-017",
            " 8981100123456789017\n",
            "８９８１１００１２３４５６７８９０１７",
        ] {
            assert_eq!(text.parse::<Iccid>().unwrap(), iccid, "{text}");
        }
        assert_eq!(iccid.to_string(), "8981100123456789017");
    }

    #[test]
    fn iccid_errors_say_what_is_wrong() {
        let error = "898110012345678901".parse::<Iccid>().unwrap_err();
        assert_eq!(error.to_string(), "ICCID must be 19 or 20 digits, got 18");

        let error = "8981100123456789013".parse::<Iccid>().unwrap_err();
        assert_eq!(
            error,
            IdError::IccidCheckDigit {
                found: 3,
                expected: 7
            }
        );
        assert!(error
            .to_string()
            .starts_with("ICCID check digit is 3, expected 7 (Luhn)"));

        let error = "1981100123456789014".parse::<Iccid>().unwrap_err();
        assert!(error.to_string().contains("must start with 89"), "{error}");

        let error = "8981x00123456789014".parse::<Iccid>().unwrap_err();
        assert_eq!(
            error,
            IdError::InvalidCharacter {
                kind: IdKind::Iccid,
                found: 'x',
                position: 5
            }
        );
        assert_eq!(
            error.to_string(),
            "ICCID may contain only digits, spaces and hyphens; found 'x' at position 5"
        );

        assert_eq!(
            "".parse::<Iccid>().unwrap_err(),
            IdError::Empty {
                kind: IdKind::Iccid
            }
        );
        assert!(Iccid::from_body("89811")
            .unwrap_err()
            .to_string()
            .starts_with("ICCID body must be 18 or 19 digits"));
        assert!(matches!(
            Iccid::from_body("123456789012345678"),
            Err(IdError::IccidPrefix { .. })
        ));
    }

    #[test]
    fn imsi_keeps_the_mnc_as_two_digit_text() {
        let imsi: Imsi = "440 01 0123456789".parse().unwrap();
        assert_eq!(imsi.as_str(), "440010123456789");
        assert_eq!(imsi.mcc(), "440");
        assert_eq!(imsi.mnc(), "01");
        assert_eq!(imsi.msin(), "0123456789");
        let short: Imsi = "441201".parse().unwrap();
        assert_eq!((short.mcc(), short.mnc(), short.msin()), ("441", "20", "1"));
    }

    #[test]
    fn imsi_errors_say_what_is_wrong() {
        assert_eq!(
            "310260123456789".parse::<Imsi>().unwrap_err().to_string(),
            "IMSI MCC 310 is not Japanese (expected 440 or 441)"
        );
        assert_eq!(
            "4401012345678901".parse::<Imsi>().unwrap_err().to_string(),
            "IMSI must be 6 to 15 digits (MCC, MNC and MSIN), got 16"
        );
        assert!(matches!(
            "44010".parse::<Imsi>(),
            Err(IdError::Length { got: 5, .. })
        ));
    }

    #[test]
    fn msisdn_forms_all_become_e164() {
        for text in [
            "09012345678",
            "090-1234-5678",
            "090 1234 5678",
            "+819012345678",
            "+81 90-1234-5678",
            "+81 (0)90-1234-5678",
            "819012345678",
            "0081 90 1234 5678",
            "０９０ー１２３４ー５６７８",
        ] {
            let msisdn: Msisdn = text
                .parse()
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(msisdn.as_str(), "+819012345678", "{text}");
            assert_eq!(msisdn.to_string(), "+819012345678");
            assert_eq!(msisdn.national(), "090-1234-5678");
        }
        assert_eq!(
            "070-0000-0000".parse::<Msisdn>().unwrap().national(),
            "070-0000-0000"
        );
        assert_eq!(
            "08011112222".parse::<Msisdn>().unwrap().as_str(),
            "+818011112222"
        );
    }

    #[test]
    fn msisdn_errors_say_what_is_wrong() {
        assert_eq!(
            "0312345678".parse::<Msisdn>().unwrap_err().to_string(),
            "MSISDN 0312345678 is not a Japanese mobile number \
             (070, 080 or 090 followed by 8 digits)"
        );
        for text in [
            "+81 3-1234-5678",
            "050-1234-5678",
            "090-1234-567",
            "9012345678",
        ] {
            assert!(
                matches!(text.parse::<Msisdn>(), Err(IdError::MsisdnNotMobile { .. })),
                "{text}"
            );
        }
        for text in ["+1 415 555 0100", "0044 7700 900123"] {
            assert!(
                matches!(text.parse::<Msisdn>(), Err(IdError::MsisdnCountry { .. })),
                "{text}"
            );
        }
        assert!(matches!(
            "090+12345678".parse::<Msisdn>(),
            Err(IdError::InvalidCharacter {
                found: '+',
                position: 4,
                ..
            })
        ));
    }

    #[test]
    fn phone_numbers_become_e164() {
        for (text, expected) in [
            ("+1 (415) 555-0100", "+14155550100"),
            ("03-1234-5678", "+81312345678"),
            ("(03) 1234-5678", "+81312345678"),
            ("+81 (0)3 1234 5678", "+81312345678"),
            ("090-1234-5678", "+819012345678"),
            ("0044 20 7946 0958", "+442079460958"),
            ("010 1 415 555 0100", "+14155550100"),
            ("+852 2345 6789", "+85223456789"),
        ] {
            let phone: PhoneNumber = text
                .parse()
                .unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(phone.as_str(), expected, "{text}");
        }
    }

    #[test]
    fn phone_number_errors_say_what_is_wrong() {
        assert!(matches!(
            "4155550100".parse::<PhoneNumber>(),
            Err(IdError::PhoneMissingCountryCode { .. })
        ));
        assert!(matches!(
            "+0123456789".parse::<PhoneNumber>(),
            Err(IdError::PhoneCountryCode { .. })
        ));
        assert_eq!(
            "+1234567".parse::<PhoneNumber>().unwrap_err().to_string(),
            "phone number must be 8 to 15 digits including the country code (E.164), got 7"
        );
        assert!(matches!(
            "+1234567890123456".parse::<PhoneNumber>(),
            Err(IdError::Length { got: 16, .. })
        ));
        assert!(matches!(
            "+1 415 555 0100 ext 3".parse::<PhoneNumber>(),
            Err(IdError::InvalidCharacter { found: 'e', .. })
        ));
    }

    #[test]
    fn eid_checks_mod_97() {
        // The example EID from GSMA SGP.29.
        let eid: Eid = "89049032123451234512345678901235".parse().unwrap();
        assert_eq!(
            Eid::from_body("890490321234512345123456789012").unwrap(),
            eid
        );
        let error = "89049032123451234512345678901234"
            .parse::<Eid>()
            .unwrap_err();
        assert_eq!(
            error,
            IdError::EidCheckDigits {
                found: "34".into(),
                expected: "35".into()
            }
        );
        assert!(error
            .to_string()
            .starts_with("EID check digits are 34, expected 35 (mod 97)"));
        assert_eq!(
            "8904903212345123451234567890123"
                .parse::<Eid>()
                .unwrap_err()
                .to_string(),
            "EID must be 32 digits, got 31"
        );
    }

    #[test]
    fn eid_check_digits_are_zero_padded() {
        // 98 - (body * 100 mod 97) is below 10 for this body.
        let eid = Eid::from_body("000000000000000000000000000030").unwrap();
        assert_eq!(eid.as_str().len(), 32);
        assert_eq!(&eid.as_str()[30..], "08");
        assert_eq!(eid.as_str().parse::<Eid>().unwrap(), eid);
    }

    #[test]
    fn errors_do_not_echo_huge_input() {
        let huge = "9".repeat(100_000);
        let error = huge.parse::<Msisdn>().unwrap_err().to_string();
        assert!(error.len() < 200, "{error}");
        let error = huge.parse::<PhoneNumber>().unwrap_err().to_string();
        assert!(error.len() < 200, "{error}");
        assert!(matches!(
            huge.parse::<Iccid>(),
            Err(IdError::Length { got: 100_000, .. })
        ));
    }

    #[test]
    fn debug_names_the_identifier() {
        let iccid: Iccid = "8981100123456789017".parse().unwrap();
        assert_eq!(format!("{iccid:?}"), "Iccid(\"8981100123456789017\")");
        let msisdn: Msisdn = "090-1234-5678".parse().unwrap();
        assert_eq!(format!("{msisdn:?}"), "Msisdn(\"+819012345678\")");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Line {
        iccid: Iccid,
        imsi: Imsi,
        msisdn: Msisdn,
        contact: PhoneNumber,
        eid: Eid,
    }

    #[test]
    fn serde_uses_the_canonical_strings_and_validates() {
        let line = Line {
            iccid: "8981100123456789017".parse().unwrap(),
            imsi: "440101234567890".parse().unwrap(),
            msisdn: "090-1234-5678".parse().unwrap(),
            contact: "+1 415 555 0100".parse().unwrap(),
            eid: "89049032123451234512345678901235".parse().unwrap(),
        };
        let text = toml::to_string(&line).unwrap();
        assert!(text.contains("msisdn = \"+819012345678\""), "{text}");
        assert!(text.contains("iccid = \"8981100123456789017\""), "{text}");
        assert_eq!(toml::from_str::<Line>(&text).unwrap(), line);

        let lenient = text.replace("\"+819012345678\"", "\"090-1234-5678\"");
        assert_eq!(toml::from_str::<Line>(&lenient).unwrap(), line);

        let broken = text.replace("8981100123456789017", "8981100123456789013");
        let error = toml::from_str::<Line>(&broken).unwrap_err().to_string();
        assert!(
            error.contains("ICCID check digit is 3, expected 7"),
            "{error}"
        );
    }

    fn change_one_digit(digits: &str, index: usize, delta: u8) -> String {
        digits
            .bytes()
            .enumerate()
            .map(|(i, byte)| {
                let digit = byte - b'0';
                let digit = if i == index {
                    (digit + delta) % 10
                } else {
                    digit
                };
                char::from(b'0' + digit)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn iccid_from_body_is_always_valid(body in "89[0-9]{16,17}") {
            let iccid = Iccid::from_body(&body).unwrap();
            prop_assert!(iccid.as_str().starts_with(&body));
            prop_assert!(luhn_valid(iccid.as_str()));
            prop_assert_eq!(iccid.as_str().parse::<Iccid>().unwrap(), iccid);
        }

        #[test]
        fn iccid_detects_any_single_digit_change(
            body in "89[0-9]{16,17}",
            position in any::<prop::sample::Index>(),
            delta in 1u8..10,
        ) {
            let iccid = Iccid::from_body(&body).unwrap();
            let index = position.index(iccid.as_str().len());
            let changed = change_one_digit(iccid.as_str(), index, delta);
            prop_assert!(!luhn_valid(&changed));
            prop_assert!(changed.parse::<Iccid>().is_err());
        }

        #[test]
        fn eid_from_body_is_always_valid(body in "[0-9]{30}") {
            let eid = Eid::from_body(&body).unwrap();
            prop_assert!(eid.as_str().starts_with(&body));
            prop_assert_eq!(mod97(eid.as_str()), 1);
            prop_assert_eq!(eid.as_str().parse::<Eid>().unwrap(), eid);
        }

        #[test]
        fn eid_detects_any_single_digit_change(
            body in "[0-9]{30}",
            position in any::<prop::sample::Index>(),
            delta in 1u8..10,
        ) {
            let eid = Eid::from_body(&body).unwrap();
            let index = position.index(32);
            let changed = change_one_digit(eid.as_str(), index, delta);
            prop_assert!(changed.parse::<Eid>().is_err());
        }

        #[test]
        fn msisdn_national_and_international_forms_agree(
            prefix in prop::sample::select(vec!["070", "080", "090"]),
            subscriber in "[0-9]{8}",
        ) {
            let national = format!("{prefix}{subscriber}");
            let (head, tail) = subscriber.split_at(4);
            let expected = format!("+81{}", &national[1..]);
            let trunkless = &prefix[1..];
            for text in [
                national.clone(),
                format!("{prefix}-{head}-{tail}"),
                format!("{prefix} {head} {tail}"),
                format!("+81{trunkless}{subscriber}"),
                format!("+81 {trunkless}-{head}-{tail}"),
                format!("81{trunkless}{subscriber}"),
                format!("0081 {trunkless} {head} {tail}"),
            ] {
                let msisdn: Msisdn = text.parse().unwrap();
                prop_assert_eq!(msisdn.as_str(), expected.as_str());
                prop_assert_eq!(msisdn.national(), format!("{prefix}-{head}-{tail}"));
            }
        }

        #[test]
        fn parsing_never_panics(text in ".{0,64}") {
            let _ = text.parse::<Iccid>();
            let _ = text.parse::<Imsi>();
            let _ = text.parse::<Msisdn>();
            let _ = text.parse::<PhoneNumber>();
            let _ = text.parse::<Eid>();
            let _ = Iccid::from_body(&text);
            let _ = Eid::from_body(&text);
            let _ = luhn_check_digit(&text);
            let _ = luhn_valid(&text);
        }

        #[test]
        fn parsing_number_like_text_never_panics(text in "[0-9０-９ +()\\-ー]{0,40}") {
            if let Ok(msisdn) = text.parse::<Msisdn>() {
                let _ = msisdn.national();
                prop_assert_eq!(msisdn.as_str().parse::<Msisdn>().unwrap(), msisdn);
            }
            if let Ok(imsi) = text.parse::<Imsi>() {
                let _ = (imsi.mcc(), imsi.mnc(), imsi.msin());
            }
            if let Ok(phone) = text.parse::<PhoneNumber>() {
                prop_assert_eq!(phone.as_str().parse::<PhoneNumber>().unwrap(), phone);
            }
            let _ = text.parse::<Iccid>();
            let _ = text.parse::<Eid>();
        }
    }
}

/// Arbitrary and mutated text through every identifier parser: an identifier or an error that
/// names the identifier and what is wrong with it, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use proptest::prelude::*;

    /// Errors echo at most an excerpt of what was typed, so a pasted page stays one line.
    const MAX_ERROR_LEN: usize = 1000;

    fn check_error(kind: IdKind, text: &str, error: &IdError) -> Result<(), TestCaseError> {
        let message = error.to_string();
        prop_assert!(
            message.contains(kind.name()),
            "{kind} error does not name it: {message}"
        );
        prop_assert!(
            message.chars().count() <= MAX_ERROR_LEN,
            "{kind} error too long: {message}"
        );
        if let IdError::InvalidCharacter {
            kind: named,
            found,
            position,
        } = error
        {
            prop_assert_eq!(*named, kind);
            prop_assert_eq!(text.chars().nth(position - 1), Some(*found));
        }
        Ok(())
    }

    /// Parses `text` as `T`; a success must print and parse back to itself, a failure must say
    /// what was wrong.
    fn check<T>(kind: IdKind, text: &str) -> Result<Option<T>, TestCaseError>
    where
        T: FromStr<Err = IdError> + fmt::Display + AsRef<str> + PartialEq + fmt::Debug,
        T: TryFrom<String, Error = IdError>,
    {
        match text.parse::<T>() {
            Ok(id) => {
                let shown = id.to_string();
                prop_assert_eq!(shown.as_str(), id.as_ref());
                let reread = shown.parse::<T>();
                prop_assert_eq!(reread.as_ref(), Ok(&id));
                let converted = T::try_from(shown);
                prop_assert_eq!(converted.as_ref(), Ok(&id));
                Ok(Some(id))
            }
            Err(error) => {
                check_error(kind, text, &error)?;
                Ok(None)
            }
        }
    }

    fn check_all(text: &str) -> Result<(), TestCaseError> {
        if let Some(iccid) = check::<Iccid>(IdKind::Iccid, text)? {
            prop_assert!(luhn_valid(iccid.as_str()));
            prop_assert!(iccid.as_str().starts_with("89"));
        }
        if let Some(imsi) = check::<Imsi>(IdKind::Imsi, text)? {
            prop_assert_eq!(
                format!("{}{}{}", imsi.mcc(), imsi.mnc(), imsi.msin()),
                imsi.as_str()
            );
        }
        if let Some(msisdn) = check::<Msisdn>(IdKind::Msisdn, text)? {
            prop_assert_eq!(msisdn.national().parse::<Msisdn>(), Ok(msisdn.clone()));
        }
        if let Some(phone) = check::<PhoneNumber>(IdKind::PhoneNumber, text)? {
            prop_assert!(phone.as_str().starts_with('+'));
            prop_assert!((9..=16).contains(&phone.as_str().len()));
        }
        if let Some(eid) = check::<Eid>(IdKind::Eid, text)? {
            prop_assert_eq!(mod97(eid.as_str()), 1);
        }
        match Iccid::from_body(text) {
            Ok(iccid) => prop_assert_eq!(iccid.as_str().parse::<Iccid>(), Ok(iccid.clone())),
            Err(error) => check_error(IdKind::Iccid, text, &error)?,
        }
        match Eid::from_body(text) {
            Ok(eid) => prop_assert_eq!(eid.as_str().parse::<Eid>(), Ok(eid.clone())),
            Err(error) => check_error(IdKind::Eid, text, &error)?,
        }
        let digits = is_ascii_digits(text) && !text.is_empty();
        prop_assert_eq!(luhn_check_digit(text).is_some(), digits);
        if !digits {
            prop_assert!(!luhn_valid(text));
        }
        Ok(())
    }

    /// A valid value of each identifier, as printed.
    fn valid() -> impl Strategy<Value = String> {
        prop_oneof![
            "89[0-9]{16,17}".prop_map(|body| Iccid::from_body(&body).unwrap().to_string()),
            "44[01][0-9]{3,12}",
            ("0[789]0", "[0-9]{8}")
                .prop_map(|(p, s)| Msisdn::from_str(&format!("{p}{s}")).unwrap().to_string()),
            // Not +8…: "+81" with a trunk 0 after it may leave too few digits.
            "\\+[1-79][0-9]{7,14}",
            "[0-9]{30}".prop_map(|body| Eid::from_body(&body).unwrap().to_string()),
        ]
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_an_identifier_or_a_clear_error(text in text()) {
            check_all(&text)?;
        }

        #[test]
        fn an_edited_identifier_is_an_identifier_or_a_clear_error(
            value in valid(),
            edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), edit_char()), 1..4),
        ) {
            let mut text = value;
            for (edit, at, with) in edits {
                text = mutate(&text, edit, at, with);
            }
            check_all(&text)?;
        }

        #[test]
        fn separators_and_full_width_digits_never_change_an_identifier(
            value in valid(),
            separators in prop::collection::vec(
                (any::<prop::sample::Index>(), prop::sample::select(vec![" ", "-", "　", "－", "ー", "\t"])),
                0..6,
            ),
            full_width in any::<bool>(),
        ) {
            // Separators go after the `+`, which must stay first.
            let (head, digits) = value.split_at(usize::from(value.starts_with('+')));
            let mut chars: Vec<String> = digits
                .chars()
                .map(|c| match (full_width, c.to_digit(10)) {
                    (true, Some(d)) => char::from_u32(u32::from('０') + d).unwrap().to_string(),
                    _ => c.to_string(),
                })
                .collect();
            for (at, separator) in separators {
                chars.insert(at.index(chars.len() + 1), separator.to_string());
            }
            let text = format!("{head}{}", chars.concat());
            let parsed = [
                text.parse::<Iccid>().map(|v| v.to_string()),
                text.parse::<Imsi>().map(|v| v.to_string()),
                text.parse::<Msisdn>().map(|v| v.to_string()),
                text.parse::<PhoneNumber>().map(|v| v.to_string()),
                text.parse::<Eid>().map(|v| v.to_string()),
            ];
            let original = [
                value.parse::<Iccid>().map(|v| v.to_string()),
                value.parse::<Imsi>().map(|v| v.to_string()),
                value.parse::<Msisdn>().map(|v| v.to_string()),
                value.parse::<PhoneNumber>().map(|v| v.to_string()),
                value.parse::<Eid>().map(|v| v.to_string()),
            ];
            prop_assert!(original.iter().any(Result::is_ok), "{value} parses as nothing");
            for (before, after) in original.iter().zip(&parsed) {
                if let Ok(before) = before {
                    prop_assert_eq!(after.as_ref(), Ok(before), "{:?}", text);
                }
            }
        }
    }
}
