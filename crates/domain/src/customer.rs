//! The real-name holder of a line and the personal data registration collects.
//!
//! Every personal field lives in [`PersonalData`] and nowhere else, so that protecting it at rest
//! is a change to one type's storage.

use crate::ids::PhoneNumber;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The languages simdesk speaks to travellers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    #[serde(rename = "ja")]
    Ja,
    #[serde(rename = "en")]
    En,
    #[serde(rename = "zh-Hans")]
    ZhHans,
    #[serde(rename = "zh-Hant")]
    ZhHant,
    #[serde(rename = "ko")]
    Ko,
}

impl Language {
    pub const ALL: [Language; 5] = [
        Language::Ja,
        Language::En,
        Language::ZhHans,
        Language::ZhHant,
        Language::Ko,
    ];

    pub fn tag(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
            Language::ZhHans => "zh-Hans",
            Language::ZhHant => "zh-Hant",
            Language::Ko => "ko",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl FromStr for Language {
    type Err = CustomerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Accept the common regional spellings travellers' browsers and forms send.
        let lower = s.trim().to_ascii_lowercase().replace('_', "-");
        let lang = match lower.as_str() {
            "ja" | "ja-jp" => Language::Ja,
            "en" | "en-us" | "en-gb" => Language::En,
            "zh-hans" | "zh-cn" | "zh-sg" | "zh" => Language::ZhHans,
            "zh-hant" | "zh-tw" | "zh-hk" | "zh-mo" => Language::ZhHant,
            "ko" | "ko-kr" => Language::Ko,
            _ => {
                return Err(CustomerError::Invalid {
                    field: "language",
                    reason: format!(
                        "{:?} is not a supported language; use one of ja, en, zh-Hans, zh-Hant, ko",
                        s.chars().take(32).collect::<String>()
                    ),
                })
            }
        };
        Ok(lang)
    }
}

/// Everything personal that registration collects. Kept together so that it is protected,
/// retained and erased as one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub full_name: String,
    pub passport_number: String,
    /// ISO 3166-1 alpha-2 or alpha-3 code, upper case.
    pub nationality: String,
    pub birth_date: Date,
    pub phone: PhoneNumber,
    pub email: String,
}

// Personal data must never reach a log line through `{:?}`.
impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonalData { .. }")
    }
}

/// What a registration form supplies, before validation.
#[derive(Debug, Clone, Default)]
pub struct RegistrationForm {
    pub full_name: String,
    pub passport_number: String,
    pub nationality: String,
    pub birth_date: String,
    pub phone: String,
    pub email: String,
    pub language: String,
}

/// A validated registration: personal data plus the language messages are sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub personal: PersonalData,
    pub language: Language,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

fn invalid(field: &'static str, reason: impl Into<String>) -> CustomerError {
    CustomerError::Invalid {
        field,
        reason: reason.into(),
    }
}

impl RegistrationForm {
    /// Validates every field; `today` (Japan time) bounds the birth date.
    pub fn validate(&self, today: Date) -> Result<Registration, CustomerError> {
        let full_name = self
            .full_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if full_name.is_empty() {
            return Err(invalid(
                "name",
                "the holder's full name is required, as on the passport",
            ));
        }
        if full_name.chars().count() > 200 {
            return Err(invalid("name", "the name is longer than 200 characters"));
        }
        let passport_number = normalise_passport_number(&self.passport_number);
        if !(5..=12).contains(&passport_number.len())
            || !passport_number.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid(
                "passport",
                "a passport number is 5 to 12 letters and digits (spaces are ignored)",
            ));
        }
        let nationality = self.nationality.trim().to_ascii_uppercase();
        if !(2..=3).contains(&nationality.len())
            || !nationality.chars().all(|c| c.is_ascii_uppercase())
        {
            return Err(invalid(
                "nationality",
                "give the nationality as an ISO 3166 country code such as JP, US, CN, TW, KR or GBR",
            ));
        }
        let birth_date: Date = self.birth_date.trim().parse().map_err(|_| {
            invalid(
                "birth-date",
                format!("{:?} is not a date; use YYYY-MM-DD", self.birth_date),
            )
        })?;
        if birth_date > today {
            return Err(invalid("birth-date", "the birth date is in the future"));
        }
        if today.year() - birth_date.year() > 130 {
            return Err(invalid(
                "birth-date",
                "the birth date is more than 130 years ago",
            ));
        }
        let phone: PhoneNumber = self
            .phone
            .parse()
            .map_err(|e: crate::ids::IdError| invalid("phone", e.to_string()))?;
        let email = self.email.trim().to_string();
        validate_email(&email)?;
        let language: Language = self.language.parse()?;
        Ok(Registration {
            personal: PersonalData {
                full_name,
                passport_number,
                nationality,
                birth_date,
                phone,
                email,
            },
            language,
        })
    }
}

/// Passport numbers are compared without case, width or spacing differences.
pub fn normalise_passport_number(raw: &str) -> String {
    raw.chars()
        .map(fullwidth_to_ascii)
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_ascii_uppercase()
}

fn fullwidth_to_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

fn validate_email(email: &str) -> Result<(), CustomerError> {
    let problem = || {
        invalid(
            "email",
            format!("{email:?} is not an e-mail address like name@example.com"),
        )
    };
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(problem());
    }
    let (local, domain) = email.split_once('@').ok_or_else(problem)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(problem());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn form() -> RegistrationForm {
        RegistrationForm {
            full_name: "  Alex   Example ".into(),
            passport_number: "ｔｚ 1234567".into(),
            nationality: "gb".into(),
            birth_date: "1990-04-01".into(),
            phone: "+44 7700 900123".into(),
            email: "alex@example.com".into(),
            language: "en-GB".into(),
        }
    }

    #[test]
    fn a_good_form_is_normalised() {
        let r = form().validate(date(2026, 11, 25)).unwrap();
        assert_eq!(r.personal.full_name, "Alex Example");
        assert_eq!(r.personal.passport_number, "TZ1234567");
        assert_eq!(r.personal.nationality, "GB");
        assert_eq!(r.language, Language::En);
    }

    #[test]
    fn each_bad_field_is_named() {
        let today = date(2026, 11, 25);
        type Mutation = fn(&mut RegistrationForm);
        let cases: Vec<(Mutation, &str)> = vec![
            (|f| f.full_name = " ".into(), "name"),
            (|f| f.passport_number = "12".into(), "passport"),
            (|f| f.nationality = "Britain".into(), "nationality"),
            (|f| f.birth_date = "01/04/1990".into(), "birth-date"),
            (|f| f.birth_date = "2030-01-01".into(), "birth-date"),
            (|f| f.email = "alex.example.com".into(), "email"),
            (|f| f.language = "fr".into(), "language"),
            (|f| f.phone = "abc".into(), "phone"),
        ];
        for (mutate, field) in cases {
            let mut f = form();
            mutate(&mut f);
            let err = f.validate(today).unwrap_err();
            assert!(
                err.to_string().starts_with(field),
                "{err} should name {field}"
            );
        }
    }

    #[test]
    fn personal_data_never_prints() {
        let r = form().validate(date(2026, 11, 25)).unwrap();
        let shown = format!("{:?}", r);
        assert!(
            !shown.contains("TZ1234567") && !shown.contains("Alex"),
            "{shown}"
        );
    }
}
