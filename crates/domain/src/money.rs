//! Money as whole minor units of one currency, so that prices, refunds and proration are exact and never round through floating point.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A currency simdesk sells in or takes payment in, by its ISO 4217 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum Currency {
    Jpy,
    Usd,
    Eur,
    Cny,
    Twd,
    Hkd,
    Krw,
    Gbp,
    Aud,
    Sgd,
    Thb,
}

impl Currency {
    /// Every supported currency, in declaration order.
    pub const ALL: [Currency; 11] = [
        Currency::Jpy,
        Currency::Usd,
        Currency::Eur,
        Currency::Cny,
        Currency::Twd,
        Currency::Hkd,
        Currency::Krw,
        Currency::Gbp,
        Currency::Aud,
        Currency::Sgd,
        Currency::Thb,
    ];

    /// The ISO 4217 alphabetic code, e.g. "JPY".
    pub const fn code(self) -> &'static str {
        match self {
            Currency::Jpy => "JPY",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Cny => "CNY",
            Currency::Twd => "TWD",
            Currency::Hkd => "HKD",
            Currency::Krw => "KRW",
            Currency::Gbp => "GBP",
            Currency::Aud => "AUD",
            Currency::Sgd => "SGD",
            Currency::Thb => "THB",
        }
    }

    /// Decimal places of the minor unit per ISO 4217 (TWD has 2 there even
    /// though cash prices are in whole dollars).
    pub const fn minor_units(self) -> u32 {
        match self {
            Currency::Jpy | Currency::Krw => 0,
            Currency::Usd
            | Currency::Eur
            | Currency::Cny
            | Currency::Twd
            | Currency::Hkd
            | Currency::Gbp
            | Currency::Aud
            | Currency::Sgd
            | Currency::Thb => 2,
        }
    }

    /// Minor units in one major unit.
    const fn scale(self) -> u64 {
        10u64.pow(self.minor_units())
    }

    /// The currency a symbol stands for; `$` is refused because five of the
    /// supported currencies write it.
    fn from_symbol(symbol: char) -> Option<Result<Currency, MoneyError>> {
        match symbol {
            '¥' | '￥' => Some(Ok(Currency::Jpy)),
            '€' => Some(Ok(Currency::Eur)),
            '£' | '￡' => Some(Ok(Currency::Gbp)),
            '₩' | '￦' => Some(Ok(Currency::Krw)),
            '฿' => Some(Ok(Currency::Thb)),
            '$' | '＄' => Some(Err(MoneyError::AmbiguousSymbol { symbol })),
            _ => None,
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, MoneyError> {
        let code = text.trim();
        Currency::ALL
            .into_iter()
            .find(|currency| currency.code().eq_ignore_ascii_case(code))
            .ok_or_else(|| MoneyError::UnknownCurrency {
                code: excerpt(code),
            })
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;

    fn try_from(code: String) -> Result<Self, MoneyError> {
        code.parse()
    }
}

impl From<Currency> for &'static str {
    fn from(currency: Currency) -> &'static str {
        currency.code()
    }
}

/// Why an amount could not be parsed or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error(
        "cannot {operation} {left} and {right} amounts; convert one of them to the other's currency first"
    )]
    CurrencyMismatch {
        operation: &'static str,
        left: Currency,
        right: Currency,
    },

    #[error("{operation} of {currency} amounts overflowed: the result does not fit in 64-bit minor units")]
    Overflow {
        operation: &'static str,
        currency: Currency,
    },

    #[error(
        "cannot prorate by {numerator}/{denominator}: the denominator must be positive \
         and the numerator between 0 and the denominator"
    )]
    InvalidProration { numerator: i64, denominator: i64 },

    #[error(
        "unknown currency {code:?}; expected one of JPY, USD, EUR, CNY, TWD, HKD, KRW, GBP, AUD, SGD, THB"
    )]
    UnknownCurrency { code: String },

    #[error("amount is empty; write it like \"1200 JPY\" or \"12.50 USD\"")]
    Empty,

    #[error("{text:?} has no currency; add its code, e.g. \"{text} JPY\"")]
    MissingCurrency { text: String },

    #[error(
        "the symbol {symbol} is used by several currencies (USD, AUD, HKD, SGD, TWD); \
         write the code instead, e.g. \"12.50 USD\""
    )]
    AmbiguousSymbol { symbol: char },

    #[error("amount names two currencies, {first} and {second}; keep only one")]
    ConflictingCurrency { first: Currency, second: Currency },

    #[error("expected an amount in {expected}, got one in {found}")]
    UnexpectedCurrency { expected: Currency, found: Currency },

    #[error("{text:?} is not a valid amount: {reason}")]
    InvalidAmount { text: String, reason: &'static str },

    #[error("{currency} {}: {amount} cannot be represented", precision(.currency))]
    TooPrecise { currency: Currency, amount: String },

    #[error(
        "{amount} {currency} is out of range: amounts are limited to \
         9,223,372,036,854,775,807 minor units either side of zero"
    )]
    OutOfRange { amount: String, currency: Currency },
}

fn precision(currency: &Currency) -> String {
    match currency.minor_units() {
        0 => "has no minor unit".to_owned(),
        1 => "has only 1 decimal place".to_owned(),
        places => format!("has only {places} decimal places"),
    }
}

/// Shortens echoed input so that an error about a pasted novel stays one line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 32;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

/// An amount of one currency in its minor units (yen, cents, …).
///
/// There is deliberately no ordering or arithmetic across currencies: every
/// operation that combines two amounts checks that they agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[serde(rename = "value")]
    minor: i64,
    #[serde(rename = "unit")]
    currency: Currency,
}

impl Money {
    /// `minor` units of `currency`, e.g. `Money::new(1250, Currency::Usd)` is 12.50 USD.
    pub const fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub const fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// The amount in minor units.
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    pub const fn currency(&self) -> Currency {
        self.currency
    }

    pub const fn is_zero(&self) -> bool {
        self.minor == 0
    }

    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    pub const fn is_positive(&self) -> bool {
        self.minor > 0
    }

    fn same_currency(self, other: Money, operation: &'static str) -> Result<Currency, MoneyError> {
        if self.currency == other.currency {
            Ok(self.currency)
        } else {
            Err(MoneyError::CurrencyMismatch {
                operation,
                left: self.currency,
                right: other.currency,
            })
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other, "add")?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Money::new(minor, currency))
            .ok_or(MoneyError::Overflow {
                operation: "addition",
                currency,
            })
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        let currency = self.same_currency(other, "subtract")?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Money::new(minor, currency))
            .ok_or(MoneyError::Overflow {
                operation: "subtraction",
                currency,
            })
    }

    /// The opposite amount, e.g. a refund of a charge.
    // Not `std::ops::Neg`: the most negative amount has no opposite, and an
    // operator must not be able to panic.
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Result<Money, MoneyError> {
        self.minor
            .checked_neg()
            .map(|minor| Money::new(minor, self.currency))
            .ok_or(MoneyError::Overflow {
                operation: "negation",
                currency: self.currency,
            })
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "compare")?;
        Ok(if other.minor < self.minor {
            other
        } else {
            self
        })
    }

    /// The larger of two amounts of the same currency.
    pub fn max(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other, "compare")?;
        Ok(if other.minor > self.minor {
            other
        } else {
            self
        })
    }

    /// `numerator / denominator` of this amount, rounded toward zero so that
    /// a prorated charge or refund never exceeds what was paid.
    pub fn prorate(&self, numerator: i64, denominator: i64) -> Result<Money, MoneyError> {
        if denominator <= 0 || numerator < 0 || numerator > denominator {
            return Err(MoneyError::InvalidProration {
                numerator,
                denominator,
            });
        }
        // |minor * numerator| < 2^126, and i128 division truncates toward zero.
        let exact = i128::from(self.minor) * i128::from(numerator);
        let prorated = exact / i128::from(denominator);
        i64::try_from(prorated)
            .map(|minor| Money::new(minor, self.currency))
            .map_err(|_| MoneyError::Overflow {
                operation: "proration",
                currency: self.currency,
            })
    }

    /// Parses an amount that names its currency: "1200 JPY", "JPY 1200",
    /// "¥1,200", "1,200円", "12.50 USD", "USD 12.5", "-300 JPY".
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        parse_money(text, None)
    }

    /// Parses an amount in `currency`, bare ("1200", "1,200", "12.5") or
    /// naming that same currency.
    pub fn parse_in(text: &str, currency: Currency) -> Result<Money, MoneyError> {
        parse_money(text, Some(currency))
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, MoneyError> {
        Money::parse(text)
    }
}

/// Neutral of any locale: "1,200 JPY", "12.50 USD", "-300 JPY".
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scale = self.currency.scale();
        let magnitude = self.minor.unsigned_abs();
        let mut text = String::new();
        if self.minor < 0 {
            text.push('-');
        }
        push_grouped(&mut text, magnitude / scale);
        let places = self.currency.minor_units() as usize;
        if places > 0 {
            text.push_str(&format!(".{:0places$}", magnitude % scale));
        }
        text.push(' ');
        text.push_str(self.currency.code());
        f.pad(&text)
    }
}

fn push_grouped(text: &mut String, whole: u64) {
    let digits = whole.to_string();
    let head = match digits.len() % 3 {
        0 => 3,
        short => short,
    };
    let (head, tail) = digits.split_at(head);
    text.push_str(head);
    for group in tail.as_bytes().chunks(3) {
        text.push(',');
        text.extend(group.iter().copied().map(char::from));
    }
}

fn strip_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix(['-', '−', '－']) {
        (true, rest.trim_start())
    } else if let Some(rest) = text.strip_prefix(['+', '＋']) {
        (false, rest.trim_start())
    } else {
        (false, text)
    }
}

fn parse_money(text: &str, expected: Option<Currency>) -> Result<Money, MoneyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(MoneyError::Empty);
    }
    let mut named: Option<Currency> = None;
    let mut name = |currency: Currency| match named {
        Some(first) if first != currency => Err(MoneyError::ConflictingCurrency {
            first,
            second: currency,
        }),
        _ => {
            named = Some(currency);
            Ok(())
        }
    };

    let after_code = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let leading_code = &text[..text.len() - after_code.len()];
    let rest = after_code.trim_start();
    let before_code = rest.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let trailing_code = &rest[before_code.len()..];
    let rest = before_code.trim_end();
    for code in [leading_code, trailing_code] {
        if !code.is_empty() {
            name(code.parse()?)?;
        }
    }

    // Both "-¥300" and "¥-300" are in use, so the sign may come either side
    // of a symbol.
    let (mut negative, mut rest) = strip_sign(rest);
    if let Some(symbol) = rest.chars().next() {
        if let Some(currency) = Currency::from_symbol(symbol) {
            name(currency?)?;
            rest = rest[symbol.len_utf8()..].trim_start();
            if !negative {
                (negative, rest) = strip_sign(rest);
            }
        }
    }
    if let Some(amount) = rest.strip_suffix('円') {
        name(Currency::Jpy)?;
        rest = amount.trim_end();
    }

    let currency = match (named, expected) {
        (Some(found), Some(expected)) if found != expected => {
            return Err(MoneyError::UnexpectedCurrency { expected, found })
        }
        (Some(currency), _) | (None, Some(currency)) => currency,
        (None, None) => {
            return Err(MoneyError::MissingCurrency {
                text: excerpt(text),
            })
        }
    };
    let minor = parse_minor(rest, currency, negative)?;
    Ok(Money::new(minor, currency))
}

/// Reads a decimal amount exactly into minor units of `currency`.
fn parse_minor(amount: &str, currency: Currency, negative: bool) -> Result<i64, MoneyError> {
    let invalid = |reason| MoneyError::InvalidAmount {
        text: excerpt(amount),
        reason,
    };
    if amount.is_empty() {
        return Err(invalid("there is no number"));
    }
    let (whole, fraction) = match amount.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (amount, None),
    };
    if whole.is_empty() {
        return Err(invalid("a digit is needed before the decimal point"));
    }
    if !whole.bytes().all(|b| b.is_ascii_digit() || b == b',') {
        return Err(invalid(
            "only digits, commas between thousands and one decimal point are allowed",
        ));
    }
    if whole.contains(',') {
        // Strict grouping keeps a European "12,50" from being read as 1250.
        let mut groups = whole.split(',');
        let first_ok = groups.next().is_some_and(|g| (1..=3).contains(&g.len()));
        if !first_ok || !groups.all(|g| g.len() == 3) {
            return Err(invalid(
                "commas must separate the digits into groups of three",
            ));
        }
    }
    let fraction = fraction.unwrap_or("");
    if amount.contains('.') {
        if fraction.is_empty() {
            return Err(invalid("a digit is needed after the decimal point"));
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "only digits may follow the decimal point, and only one decimal point is allowed",
            ));
        }
    }
    let places = currency.minor_units() as usize;
    // Trailing zeros lose nothing ("1200.00 JPY" is exactly 1200 yen); any
    // other digit beyond the minor unit would have to be rounded away.
    if fraction.bytes().skip(places).any(|b| b != b'0') {
        let sign = if negative { "-" } else { "" };
        return Err(MoneyError::TooPrecise {
            currency,
            amount: excerpt(&format!("{sign}{amount}")),
        });
    }
    let out_of_range = || MoneyError::OutOfRange {
        amount: excerpt(&format!("{}{amount}", if negative { "-" } else { "" })),
        currency,
    };
    let fraction_digits = fraction.bytes().chain(std::iter::repeat(b'0')).take(places);
    let mut magnitude: i128 = 0;
    for byte in whole
        .bytes()
        .filter(u8::is_ascii_digit)
        .chain(fraction_digits)
    {
        magnitude = magnitude
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(byte - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn jpy(minor: i64) -> Money {
        Money::new(minor, Currency::Jpy)
    }

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::Usd)
    }

    #[test]
    fn currency_codes_and_minor_units() {
        assert_eq!(Currency::Jpy.code(), "JPY");
        assert_eq!(Currency::Jpy.minor_units(), 0);
        assert_eq!(Currency::Krw.minor_units(), 0);
        assert_eq!(Currency::Twd.minor_units(), 2);
        assert_eq!(Currency::Usd.minor_units(), 2);
        assert_eq!(Currency::Thb.to_string(), "THB");
        for currency in Currency::ALL {
            assert_eq!(currency.code().parse::<Currency>().unwrap(), currency);
            assert_eq!(
                currency
                    .code()
                    .to_ascii_lowercase()
                    .parse::<Currency>()
                    .unwrap(),
                currency
            );
        }
        assert_eq!(" usd ".parse::<Currency>().unwrap(), Currency::Usd);
        assert!("XYZ"
            .parse::<Currency>()
            .unwrap_err()
            .to_string()
            .starts_with("unknown currency \"XYZ\"; expected one of JPY"));
    }

    #[test]
    fn parse_accepts_the_usual_forms() {
        for (text, expected) in [
            ("1200 JPY", jpy(1200)),
            ("JPY 1200", jpy(1200)),
            ("jpy1200", jpy(1200)),
            ("¥1,200", jpy(1200)),
            ("￥1,200", jpy(1200)),
            ("1,200円", jpy(1200)),
            ("1,200 JPY", jpy(1200)),
            ("-300 JPY", jpy(-300)),
            ("-¥300", jpy(-300)),
            ("¥-300", jpy(-300)),
            ("JPY -300", jpy(-300)),
            ("1200.00 JPY", jpy(1200)),
            ("12.50 USD", usd(1250)),
            ("USD 12.5", usd(1250)),
            ("12 USD", usd(1200)),
            ("0.05 USD", usd(5)),
            ("-0.05 USD", usd(-5)),
            ("+7 USD", usd(700)),
            ("€9.99", Money::new(999, Currency::Eur)),
            ("£1,000.01", Money::new(100_001, Currency::Gbp)),
            ("₩50,000", Money::new(50_000, Currency::Krw)),
            ("1,234,567.89 HKD", Money::new(123_456_789, Currency::Hkd)),
        ] {
            assert_eq!(
                Money::parse(text).unwrap_or_else(|error| panic!("{text}: {error}")),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn parse_in_takes_bare_amounts() {
        assert_eq!(Money::parse_in("1200", Currency::Jpy).unwrap(), jpy(1200));
        assert_eq!(Money::parse_in("1,200", Currency::Jpy).unwrap(), jpy(1200));
        assert_eq!(Money::parse_in("12.5", Currency::Usd).unwrap(), usd(1250));
        assert_eq!(Money::parse_in("-3", Currency::Usd).unwrap(), usd(-300));
        assert_eq!(
            Money::parse_in("1200 JPY", Currency::Jpy).unwrap(),
            jpy(1200)
        );
        assert_eq!(
            Money::parse_in("12 USD", Currency::Jpy).unwrap_err(),
            MoneyError::UnexpectedCurrency {
                expected: Currency::Jpy,
                found: Currency::Usd
            }
        );
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert_eq!(
            Money::parse("1200.5 JPY").unwrap_err().to_string(),
            "JPY has no minor unit: 1200.5 cannot be represented"
        );
        assert_eq!(
            Money::parse("12.505 USD").unwrap_err().to_string(),
            "USD has only 2 decimal places: 12.505 cannot be represented"
        );
        assert_eq!(Money::parse("   ").unwrap_err(), MoneyError::Empty);
        assert!(matches!(
            Money::parse("1200"),
            Err(MoneyError::MissingCurrency { .. })
        ));
        assert!(matches!(
            Money::parse("$12.50"),
            Err(MoneyError::AmbiguousSymbol { symbol: '$' })
        ));
        assert!(matches!(
            Money::parse("¥1200 USD"),
            Err(MoneyError::ConflictingCurrency {
                first: Currency::Usd,
                second: Currency::Jpy
            })
        ));
        assert!(matches!(
            Money::parse("12 XYZ"),
            Err(MoneyError::UnknownCurrency { .. })
        ));
        for text in [
            "12,50 EUR",
            "1,20,000 JPY",
            ",100 JPY",
            "1,2000 JPY",
            "12. USD",
            ".5 USD",
            "1.2.3 USD",
            "1 200 JPY",
            "1e3 JPY",
            "JPY",
            "--5 JPY",
            "１２００ JPY",
        ] {
            assert!(
                matches!(Money::parse(text), Err(MoneyError::InvalidAmount { .. })),
                "{text}: {:?}",
                Money::parse(text)
            );
        }
        assert_eq!(
            Money::parse("12,50 EUR").unwrap_err().to_string(),
            "\"12,50\" is not a valid amount: commas must separate the digits into groups of three"
        );
    }

    #[test]
    fn parse_checks_the_range() {
        assert_eq!(
            Money::parse("9223372036854775807 JPY").unwrap(),
            jpy(i64::MAX)
        );
        assert_eq!(
            Money::parse("-9,223,372,036,854,775,808 JPY").unwrap(),
            jpy(i64::MIN)
        );
        assert!(matches!(
            Money::parse("9223372036854775808 JPY"),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert!(matches!(
            Money::parse("92233720368547758.08 USD"),
            Err(MoneyError::OutOfRange { .. })
        ));
        let huge = format!("{} JPY", "9".repeat(10_000));
        let error = Money::parse(&huge).unwrap_err();
        assert!(matches!(error, MoneyError::OutOfRange { .. }));
        assert!(error.to_string().len() < 200);
    }

    #[test]
    fn display_is_neutral() {
        assert_eq!(jpy(1200).to_string(), "1,200 JPY");
        assert_eq!(jpy(-300).to_string(), "-300 JPY");
        assert_eq!(jpy(0).to_string(), "0 JPY");
        assert_eq!(usd(1250).to_string(), "12.50 USD");
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        assert_eq!(usd(123_456_789).to_string(), "1,234,567.89 USD");
        assert_eq!(jpy(i64::MIN).to_string(), "-9,223,372,036,854,775,808 JPY");
        assert_eq!(format!("{:>10}", jpy(5)), "     5 JPY");
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        assert_eq!(jpy(1000).checked_add(jpy(200)).unwrap(), jpy(1200));
        assert_eq!(jpy(1000).checked_sub(jpy(1200)).unwrap(), jpy(-200));
        assert_eq!(
            jpy(1).checked_add(usd(1)).unwrap_err().to_string(),
            "cannot add JPY and USD amounts; convert one of them to the other's currency first"
        );
        assert!(matches!(
            jpy(1).checked_sub(usd(1)),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert!(matches!(
            jpy(i64::MAX).checked_add(jpy(1)),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(matches!(
            jpy(i64::MIN).checked_sub(jpy(1)),
            Err(MoneyError::Overflow { .. })
        ));
        assert_eq!(jpy(300).neg().unwrap(), jpy(-300));
        assert!(matches!(
            jpy(i64::MIN).neg(),
            Err(MoneyError::Overflow { .. })
        ));
        assert_eq!(jpy(3).min(jpy(5)).unwrap(), jpy(3));
        assert_eq!(jpy(3).max(jpy(5)).unwrap(), jpy(5));
        assert!(jpy(3).min(usd(5)).is_err());
        assert!(jpy(3).max(usd(5)).is_err());
        assert!(Money::zero(Currency::Eur).is_zero());
        assert!(jpy(-1).is_negative() && !jpy(-1).is_positive());
        assert!(jpy(1).is_positive() && !jpy(1).is_negative());
    }

    #[test]
    fn prorate_rounds_toward_zero() {
        assert_eq!(jpy(1000).prorate(1, 3).unwrap(), jpy(333));
        assert_eq!(jpy(-1000).prorate(1, 3).unwrap(), jpy(-333));
        assert_eq!(jpy(1000).prorate(0, 30).unwrap(), jpy(0));
        assert_eq!(jpy(1000).prorate(30, 30).unwrap(), jpy(1000));
        assert_eq!(
            jpy(i64::MAX).prorate(i64::MAX - 1, i64::MAX).unwrap(),
            jpy(i64::MAX - 1)
        );
        assert_eq!(jpy(i64::MIN).prorate(1, 1).unwrap(), jpy(i64::MIN));
        for (numerator, denominator) in [(1, 0), (-1, 3), (4, 3), (0, -1)] {
            assert_eq!(
                jpy(1000).prorate(numerator, denominator).unwrap_err(),
                MoneyError::InvalidProration {
                    numerator,
                    denominator
                }
            );
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Price {
        price: Money,
        currency: Currency,
    }

    #[test]
    fn serde_uses_value_and_unit() {
        let price = Price {
            price: jpy(1200),
            currency: Currency::Usd,
        };
        let text = toml::to_string(&price).unwrap();
        assert_eq!(toml::from_str::<Price>(&text).unwrap(), price);
        let written = "currency = \"USD\"\nprice = { value = 1200, unit = \"JPY\" }\n";
        assert_eq!(toml::from_str::<Price>(written).unwrap(), price);
        assert!(toml::from_str::<Price>(
            "currency = \"usd\"\nprice = { value = 1200, unit = \"XYZ\" }\n"
        )
        .unwrap_err()
        .to_string()
        .contains("unknown currency \"XYZ\""));
        assert!(toml::from_str::<Price>(
            "currency = \"USD\"\nprice = { value = 1200, unit = \"JPY\", minor = 1 }\n"
        )
        .is_err());
    }

    fn currency() -> impl Strategy<Value = Currency> {
        prop::sample::select(Currency::ALL.to_vec())
    }

    fn money() -> impl Strategy<Value = Money> {
        (any::<i64>(), currency()).prop_map(|(minor, currency)| Money::new(minor, currency))
    }

    proptest! {
        #[test]
        fn parse_reads_back_display(money in money()) {
            prop_assert_eq!(Money::parse(&money.to_string()).unwrap(), money);
        }

        #[test]
        fn parse_in_reads_back_the_bare_number(money in money()) {
            let shown = money.to_string();
            let bare = shown.trim_end_matches(money.currency().code()).trim_end();
            prop_assert_eq!(Money::parse_in(bare, money.currency()).unwrap(), money);
        }

        #[test]
        fn checked_add_is_associative(
            a in any::<i64>(),
            b in any::<i64>(),
            c in any::<i64>(),
            currency in currency(),
        ) {
            let (a, b, c) = (
                Money::new(a, currency),
                Money::new(b, currency),
                Money::new(c, currency),
            );
            let left = a.checked_add(b).and_then(|ab| ab.checked_add(c));
            let right = b.checked_add(c).and_then(|bc| a.checked_add(bc));
            let exact = i128::from(a.minor()) + i128::from(b.minor()) + i128::from(c.minor());
            for sum in [left, right].into_iter().flatten() {
                prop_assert_eq!(i128::from(sum.minor()), exact);
            }
        }

        #[test]
        fn small_sums_associate_exactly(
            a in -(1i64 << 60)..(1i64 << 60),
            b in -(1i64 << 60)..(1i64 << 60),
            c in -(1i64 << 60)..(1i64 << 60),
            currency in currency(),
        ) {
            let (a, b, c) = (
                Money::new(a, currency),
                Money::new(b, currency),
                Money::new(c, currency),
            );
            prop_assert_eq!(
                a.checked_add(b).and_then(|ab| ab.checked_add(c)).unwrap(),
                b.checked_add(c).and_then(|bc| a.checked_add(bc)).unwrap()
            );
        }

        #[test]
        fn checked_sub_undoes_checked_add(a in money(), b in any::<i64>()) {
            let b = Money::new(b, a.currency());
            let exact = i128::from(a.minor()) + i128::from(b.minor());
            match a.checked_add(b) {
                Ok(sum) => {
                    prop_assert_eq!(i128::from(sum.minor()), exact);
                    prop_assert_eq!(sum.checked_sub(b).unwrap(), a);
                    prop_assert_eq!(sum.checked_sub(a).unwrap(), b);
                }
                Err(error) => {
                    prop_assert!(i64::try_from(exact).is_err());
                    let is_overflow = matches!(error, MoneyError::Overflow { .. });
                    prop_assert!(is_overflow);
                }
            }
        }

        #[test]
        fn prorate_never_exceeds_the_amount(
            money in money(),
            denominator in 1i64..=i64::MAX,
            share in any::<prop::sample::Index>(),
        ) {
            let numerator = i64::try_from(
                share.index(usize::try_from(denominator).unwrap_or(usize::MAX)),
            )
            .unwrap();
            let prorated = money.prorate(numerator, denominator).unwrap();
            prop_assert_eq!(prorated.currency(), money.currency());
            prop_assert!(prorated.minor().unsigned_abs() <= money.minor().unsigned_abs());
            prop_assert!(prorated.is_zero() || prorated.is_negative() == money.is_negative());
        }

        #[test]
        fn prorate_is_monotonic_in_the_numerator(
            money in money(),
            denominator in 1i64..=1_000_000,
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let slots = usize::try_from(denominator).unwrap() + 1;
            let (low, high) = {
                let (a, b) = (a.index(slots), b.index(slots));
                (i64::try_from(a.min(b)).unwrap(), i64::try_from(a.max(b)).unwrap())
            };
            let low_share = money.prorate(low, denominator).unwrap().minor();
            let high_share = money.prorate(high, denominator).unwrap().minor();
            if money.is_negative() {
                prop_assert!(high_share <= low_share);
            } else {
                prop_assert!(low_share <= high_share);
            }
            prop_assert_eq!(money.prorate(denominator, denominator).unwrap(), money);
        }

        #[test]
        fn parsing_never_panics(text in ".{0,48}") {
            let _ = Money::parse(&text);
            let _ = Money::parse_in(&text, Currency::Jpy);
            let _ = text.parse::<Currency>();
        }

        #[test]
        fn parsing_amount_like_text_never_panics(
            text in "[-+¥$円 .,0-9A-Za-z]{0,32}",
        ) {
            if let Ok(money) = Money::parse(&text) {
                prop_assert_eq!(Money::parse(&money.to_string()).unwrap(), money);
            }
            let _ = Money::parse_in(&text, Currency::Usd);
        }
    }
}

/// Arbitrary and mutated text through the amount and currency parsers: an amount that prints
/// and parses back, or an error that says what is wrong, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use proptest::prelude::*;

    const MAX_ERROR_LEN: usize = 1000;

    fn check_error(error: &MoneyError) -> Result<(), TestCaseError> {
        let message = error.to_string();
        prop_assert!(!message.trim().is_empty());
        prop_assert!(
            message.chars().count() <= MAX_ERROR_LEN,
            "error too long: {message}"
        );
        Ok(())
    }

    fn check(text: &str) -> Result<(), TestCaseError> {
        match Money::parse(text) {
            Ok(money) => {
                prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
                prop_assert_eq!(Money::parse_in(text, money.currency()), Ok(money));
            }
            Err(error) => check_error(&error)?,
        }
        for currency in [Currency::Jpy, Currency::Usd] {
            match Money::parse_in(text, currency) {
                Ok(money) => {
                    prop_assert_eq!(money.currency(), currency);
                    prop_assert_eq!(Money::parse(&money.to_string()), Ok(money));
                }
                Err(error) => check_error(&error)?,
            }
        }
        match text.parse::<Currency>() {
            Ok(currency) => prop_assert_eq!(currency.code().parse::<Currency>(), Ok(currency)),
            Err(error) => check_error(&error)?,
        }
        Ok(())
    }

    fn amount() -> impl Strategy<Value = String> {
        (
            any::<i64>(),
            prop::sample::select(Currency::ALL.to_vec()),
            0u8..4,
        )
            .prop_map(|(minor, currency, form)| {
                let money = Money::new(minor, currency);
                let shown = money.to_string();
                let bare = shown
                    .trim_end_matches(currency.code())
                    .trim_end()
                    .to_owned();
                match form {
                    0 => shown,
                    1 => format!("{} {bare}", currency.code()),
                    2 => bare.replace(',', ""),
                    _ => format!("¥{bare}"),
                }
            })
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_text_is_an_amount_or_a_clear_error(text in text()) {
            check(&text)?;
        }

        #[test]
        fn an_edited_amount_is_an_amount_or_a_clear_error(
            text in amount(),
            edits in prop::collection::vec((any::<u8>(), any::<prop::sample::Index>(), edit_char()), 1..4),
        ) {
            let mut text = text;
            for (edit, at, with) in edits {
                text = mutate(&text, edit, at, with);
            }
            check(&text)?;
        }
    }
}
