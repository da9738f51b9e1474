//! What proof of identity a channel needs, and whether a given proof meets it.

use crate::attribution::Channel;
use crate::customer::{normalise_passport_number, PersonalData};
use crate::policy::{IdentityCheck, IdentityPolicy};
use jiff::{SignedDuration, Timestamp};

/// The checks a cancellation through `channel` needs under `policy`.
///
/// Operator systems (API) act for travellers the way the web does, so they meet the web's
/// requirements; an operator at the console or simdesk itself acts on its own authority, which
/// its attribution records.
pub fn required_checks(policy: &IdentityPolicy, channel: Channel) -> Vec<IdentityCheck> {
    match channel {
        Channel::Web | Channel::Api => policy.web.clone(),
        Channel::Hotline => policy.hotline.clone(),
        Channel::Store => policy.store.clone(),
        Channel::Operator | Channel::System => Vec::new(),
    }
}

/// Names are compared without case, width, spacing or punctuation differences, and in either
/// order ("SMITH JOHN" = "John Smith") since passports and callers order them differently.
pub fn normalise_name(name: &str) -> Vec<String> {
    let folded: String = name
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut parts: Vec<String> = folded.split_whitespace().map(str::to_string).collect();
    parts.sort();
    parts
}

/// Knowledge check: the name and passport number given match the registration.
pub fn knowledge_matches(registered: &PersonalData, name: &str, passport_number: &str) -> bool {
    normalise_passport_number(passport_number) == registered.passport_number
        && !normalise_name(name).is_empty()
        && normalise_name(name) == normalise_name(&registered.full_name)
}

/// One-time code rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpRules {
    pub ttl: SignedDuration,
    pub max_attempts: u32,
    /// Minimum time between two sends to the same line.
    pub resend_after: SignedDuration,
    /// Sends allowed per line per hour.
    pub sends_per_hour: usize,
}

impl Default for OtpRules {
    fn default() -> Self {
        OtpRules {
            ttl: SignedDuration::from_mins(10),
            max_attempts: 5,
            resend_after: SignedDuration::from_secs(60),
            sends_per_hour: 5,
        }
    }
}

/// A stored code's state (the code itself is only ever kept hashed, elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpState {
    pub issued_at: Timestamp,
    pub attempts: u32,
    pub used: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    Accepted,
    Wrong { attempts_left: u32 },
    Expired,
    Locked,
    AlreadyUsed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtpError {
    #[error("a code was sent moments ago; wait {wait_secs} seconds before asking for another")]
    TooSoon { wait_secs: i64 },
    #[error("too many codes were sent to this line in the last hour; try again after {retry_at}")]
    TooMany { retry_at: Timestamp },
}

impl OtpRules {
    /// Judges one attempt; `matches` says whether the hashed code matched.
    pub fn check(&self, state: &OtpState, matches: bool, now: Timestamp) -> OtpOutcome {
        if state.used {
            return OtpOutcome::AlreadyUsed;
        }
        if now >= state.issued_at + self.ttl {
            return OtpOutcome::Expired;
        }
        if state.attempts >= self.max_attempts {
            return OtpOutcome::Locked;
        }
        if matches {
            OtpOutcome::Accepted
        } else {
            let left = self.max_attempts.saturating_sub(state.attempts + 1);
            if left == 0 {
                OtpOutcome::Locked
            } else {
                OtpOutcome::Wrong {
                    attempts_left: left,
                }
            }
        }
    }

    /// Whether another code may be sent now, given when earlier ones were sent.
    pub fn may_send(&self, earlier_sends: &[Timestamp], now: Timestamp) -> Result<(), OtpError> {
        if let Some(last) = earlier_sends.iter().max() {
            let next = *last + self.resend_after;
            if now < next {
                return Err(OtpError::TooSoon {
                    wait_secs: next.duration_since(now).as_secs().max(1),
                });
            }
        }
        let hour_ago = now - SignedDuration::from_hours(1);
        let mut recent: Vec<Timestamp> = earlier_sends
            .iter()
            .copied()
            .filter(|t| *t > hour_ago)
            .collect();
        if recent.len() >= self.sends_per_hour {
            recent.sort();
            let retry_at =
                recent[recent.len() - self.sends_per_hour] + SignedDuration::from_hours(1);
            return Err(OtpError::TooMany { retry_at });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PhoneNumber;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn registered() -> PersonalData {
        PersonalData {
            full_name: "Alex Example".into(),
            passport_number: "TZ1234567".into(),
            nationality: "GB".into(),
            birth_date: jiff::civil::date(1990, 4, 1),
            phone: "+447700900123".parse::<PhoneNumber>().unwrap(),
            email: "alex@example.com".into(),
        }
    }

    #[test]
    fn knowledge_ignores_case_width_spacing_and_order() {
        let r = registered();
        assert!(knowledge_matches(&r, "EXAMPLE, ALEX", "tz 123 4567"));
        assert!(knowledge_matches(
            &r,
            "ａｌｅｘ　ｅｘａｍｐｌｅ",
            "ＴＺ１２３４５６７"
        ));
        assert!(!knowledge_matches(&r, "Alex Sample", "TZ1234567"));
        assert!(!knowledge_matches(&r, "Alex Example", "TZ1234568"));
        assert!(!knowledge_matches(&r, "", "TZ1234567"));
    }

    #[test]
    fn a_code_expires_is_single_use_and_locks_after_five_wrong_tries() {
        let rules = OtpRules::default();
        let issued = at("2026-11-25T00:00:00Z");
        let mut s = OtpState {
            issued_at: issued,
            attempts: 0,
            used: false,
        };
        assert_eq!(
            rules.check(&s, true, at("2026-11-25T00:09:59Z")),
            OtpOutcome::Accepted
        );
        assert_eq!(
            rules.check(&s, true, at("2026-11-25T00:10:00Z")),
            OtpOutcome::Expired
        );
        for left in (1..5).rev() {
            assert_eq!(
                rules.check(&s, false, issued),
                OtpOutcome::Wrong {
                    attempts_left: left
                }
            );
            s.attempts += 1;
        }
        assert_eq!(rules.check(&s, false, issued), OtpOutcome::Locked);
        s.attempts += 1;
        assert_eq!(
            rules.check(&s, true, issued),
            OtpOutcome::Locked,
            "the right code is refused once locked"
        );
        s.used = true;
        assert_eq!(rules.check(&s, true, issued), OtpOutcome::AlreadyUsed);
    }

    #[test]
    fn sends_are_rate_limited() {
        let rules = OtpRules::default();
        let t0 = at("2026-11-25T00:00:00Z");
        assert!(rules.may_send(&[], t0).is_ok());
        assert!(matches!(
            rules.may_send(&[t0], t0 + SignedDuration::from_secs(30)),
            Err(OtpError::TooSoon { wait_secs: 30 })
        ));
        let sends: Vec<Timestamp> = (0..5)
            .map(|i| t0 + SignedDuration::from_mins(2 * i))
            .collect();
        assert!(matches!(
            rules.may_send(&sends, t0 + SignedDuration::from_mins(20)),
            Err(OtpError::TooMany { .. })
        ));
        assert!(rules
            .may_send(&sends, t0 + SignedDuration::from_mins(61))
            .is_ok());
    }

    #[test]
    fn each_channel_needs_its_own_checks() {
        let p = IdentityPolicy {
            web: vec![IdentityCheck::Possession],
            hotline: vec![IdentityCheck::Knowledge],
            store: vec![IdentityCheck::Document],
        };
        assert_eq!(
            required_checks(&p, Channel::Web),
            [IdentityCheck::Possession]
        );
        assert_eq!(
            required_checks(&p, Channel::Api),
            [IdentityCheck::Possession]
        );
        assert_eq!(
            required_checks(&p, Channel::Hotline),
            [IdentityCheck::Knowledge]
        );
        assert_eq!(
            required_checks(&p, Channel::Store),
            [IdentityCheck::Document]
        );
        assert!(required_checks(&p, Channel::System).is_empty());
    }
}
