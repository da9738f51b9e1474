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
                format!(
                    "{:?} is not a date; use YYYY-MM-DD",
                    excerpt(&self.birth_date)
                ),
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

/// Shortens echoed input so that an error about a pasted novel stays one line.
fn excerpt(text: &str) -> String {
    const LIMIT: usize = 64;
    if text.chars().count() <= LIMIT {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(LIMIT).collect();
        short.push('…');
        short
    }
}

fn validate_email(email: &str) -> Result<(), CustomerError> {
    let problem = || {
        invalid(
            "email",
            format!(
                "{:?} is not an e-mail address like name@example.com",
                excerpt(email)
            ),
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

/// Arbitrary and mutated registration forms and language tags: a registration or an error that
/// names the field and what is wrong with it, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use crate::fuzz::{config, edit_char, mutate, text, PARSER_CASES};
    use jiff::civil::date;
    use proptest::prelude::*;

    const MAX_ERROR_LEN: usize = 1000;
    const FIELDS: [&str; 7] = [
        "name",
        "passport",
        "nationality",
        "birth-date",
        "phone",
        "email",
        "language",
    ];

    fn valid_form() -> RegistrationForm {
        RegistrationForm {
            full_name: "Alex Example".into(),
            passport_number: "TZ1234567".into(),
            nationality: "GB".into(),
            birth_date: "1990-04-01".into(),
            phone: "+44 7700 900123".into(),
            email: "alex@example.com".into(),
            language: "en".into(),
        }
    }

    fn field(form: &mut RegistrationForm, index: usize) -> &mut String {
        match index % FIELDS.len() {
            0 => &mut form.full_name,
            1 => &mut form.passport_number,
            2 => &mut form.nationality,
            3 => &mut form.birth_date,
            4 => &mut form.phone,
            5 => &mut form.email,
            _ => &mut form.language,
        }
    }

    fn check(form: &RegistrationForm) -> Result<(), TestCaseError> {
        let today = date(2026, 11, 25);
        match form.validate(today) {
            Ok(registration) => {
                let personal = &registration.personal;
                prop_assert!(!personal.full_name.is_empty());
                prop_assert!((5..=12).contains(&personal.passport_number.len()));
                prop_assert!(personal
                    .passport_number
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric()));
                prop_assert_eq!(
                    normalise_passport_number(&personal.passport_number),
                    personal.passport_number.clone()
                );
                prop_assert!(personal.birth_date <= today);
                prop_assert_eq!(
                    registration.language.tag().parse::<Language>(),
                    Ok(registration.language)
                );
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    FIELDS
                        .iter()
                        .any(|f| message.starts_with(&format!("{f}: "))),
                    "the error names no field: {message}"
                );
                prop_assert!(
                    message.chars().count() <= MAX_ERROR_LEN,
                    "error too long: {message}"
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config(PARSER_CASES))]

        #[test]
        fn any_language_tag_is_a_language_or_a_clear_error(text in text()) {
            match text.parse::<Language>() {
                Ok(language) => prop_assert_eq!(language.tag().parse::<Language>(), Ok(language)),
                Err(error) => {
                    let message = error.to_string();
                    prop_assert!(message.starts_with("language: "), "{message}");
                    prop_assert!(message.chars().count() <= MAX_ERROR_LEN, "error too long: {message}");
                }
            }
            let _ = normalise_passport_number(&text);
        }

        #[test]
        fn any_field_is_accepted_or_named(index in 0..FIELDS.len(), value in text()) {
            let mut form = valid_form();
            *field(&mut form, index) = value;
            check(&form)?;
        }

        #[test]
        fn an_edited_form_is_accepted_or_the_field_is_named(
            edits in prop::collection::vec(
                (0..FIELDS.len(), any::<u8>(), any::<prop::sample::Index>(), edit_char()),
                1..4,
            ),
        ) {
            let mut form = valid_form();
            for (index, edit, at, with) in edits {
                let value = field(&mut form, index);
                *value = mutate(value, edit, at, with);
            }
            check(&form)?;
        }
    }

    // Regressions: inputs the properties above once failed on.

    #[test]
    fn a_pasted_page_as_an_email_or_birth_date_gets_a_one_line_error() {
        let mut form = valid_form();
        form.email = "ᥰ".repeat(1000);
        let message = form.validate(date(2026, 11, 25)).unwrap_err().to_string();
        assert!(message.starts_with("email: \"ᥰᥰ"), "{message}");
        assert!(message.chars().count() < 300, "{message}");

        let mut form = valid_form();
        form.birth_date = "1".repeat(1000);
        let message = form.validate(date(2026, 11, 25)).unwrap_err().to_string();
        assert!(message.starts_with("birth-date: \"111"), "{message}");
        assert!(message.chars().count() < 300, "{message}");
    }
}
