//! When a holder's personal data, identity-verification record and documents may be erased (Act: voice records 3 years; APPI: the rest once unneeded).

use crate::validity::japan;
use jiff::{SignedDuration, Span, Timestamp};
use serde::Serialize;

/// The years the Act keeps a voice line's identity-verification record after the contract ends.
pub const ACT_IDENTITY_RECORD_YEARS: u32 = 3;
/// The most days a policy may keep personal data after the last line ended.
pub const MAX_PERSONAL_DATA_DAYS: u32 = 3650;
/// The most years a policy may keep the identity record.
pub const MAX_IDENTITY_RECORD_YEARS: u32 = 10;

/// A carrier's retention periods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionPolicy {
    /// Days (24-hour periods) after the holder's last line ended before contact data and other
    /// personal data not required by law are erased.
    pub personal_data_days: u32,
    /// Calendar years (Japan time) the identity-verification record of a voice line is kept
    /// after the contract ends; at least the Act's 3.
    pub identity_record_years: u32,
    /// Whether data-only lines keep the identity record as long as voice lines do.
    pub identity_record_for_data_lines: bool,
    /// Days (24-hour periods) after a document's review decision before its image is erased.
    pub document_days: u32,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            personal_data_days: 30,
            identity_record_years: ACT_IDENTITY_RECORD_YEARS,
            identity_record_for_data_lines: false,
            document_days: 0,
        }
    }
}

/// One line a person holds, as retention sees it.
#[derive(Debug, Clone, Copy)]
pub struct HeldLine<'a> {
    /// When the line ended (terminated or closed); None while it is in service.
    pub ended_at: Option<Timestamp>,
    /// Whether the line has voice service (and so falls under the Act).
    pub voice: bool,
    /// The retention policy of the line's carrier.
    pub policy: &'a RetentionPolicy,
}

/// When a person's data may be erased, if nothing asks for it sooner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ErasureSchedule {
    /// When contact and other personal data may be erased; None while any line is still in service (not ended).
    pub personal_data_at: Option<Timestamp>,
    /// When the identity-verification record may be erased (never before personal_data_at); None while any line is in service.
    pub identity_record_at: Option<Timestamp>,
    /// True when the identity record outlives the personal data because of the Act (a legal hold).
    pub legal_hold: bool,
}

/// What a "delete my data" request may erase right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestOutcome {
    /// Contact and other personal data go now.
    pub erase_personal_data: bool,
    /// The identity-verification record goes now.
    pub erase_identity_record: bool,
    /// Until when the Act holds the identity record, when it is not erased now.
    pub identity_held_until: Option<Timestamp>,
    /// Lines still in service; while any is, the data serves the contract and nothing is erased.
    pub lines_in_service: usize,
}

/// The erasure schedule of a person's data, from the lines they hold.
///
/// A person with no lines at all needs nothing kept: both instants are `Timestamp::MIN` (due
/// at any `now`). While any line is in service nothing is scheduled (both `None`).
pub fn schedule(lines: &[HeldLine<'_>]) -> ErasureSchedule {
    if lines.iter().any(|l| l.ended_at.is_none()) {
        return ErasureSchedule {
            personal_data_at: None,
            identity_record_at: None,
            legal_hold: false,
        };
    }
    let mut personal = Timestamp::MIN;
    let mut identity = Timestamp::MIN;
    let mut legal = Timestamp::MIN;
    for line in lines {
        let Some(ended) = line.ended_at else { continue };
        let personal_at = personal_data_at(ended, line.policy);
        personal = personal.max(personal_at);
        let held = add_years_jst(ended, line.policy.identity_record_years);
        if line.voice {
            legal = legal.max(act_hold_until(ended));
            identity = identity.max(held);
        } else if line.policy.identity_record_for_data_lines {
            identity = identity.max(held);
        } else {
            identity = identity.max(personal_at);
        }
    }
    ErasureSchedule {
        personal_data_at: Some(personal),
        identity_record_at: Some(identity.max(personal)),
        legal_hold: legal > personal,
    }
}

/// When an uploaded document's image may be erased, after its review decision.
pub fn document_erasure_at(decided_at: Timestamp, policy: &RetentionPolicy) -> Timestamp {
    add_days(decided_at, policy.document_days)
}

/// What a "delete my data" request made at `now` may erase.
///
/// While any line is in service nothing is erased (the data serves the contract). Once every
/// line has ended, personal data goes at once, even before its period ran out, and so does the
/// identity record unless a voice line's record is still within the Act's 3 years after its
/// contract ended. What a policy keeps beyond the law (more than 3 years, or data-only lines'
/// records) gives way to the request.
pub fn on_request(lines: &[HeldLine<'_>], now: Timestamp) -> RequestOutcome {
    let lines_in_service = lines.iter().filter(|l| l.ended_at.is_none()).count();
    if lines_in_service > 0 {
        return RequestOutcome {
            erase_personal_data: false,
            erase_identity_record: false,
            identity_held_until: None,
            lines_in_service,
        };
    }
    let held_until = lines
        .iter()
        .filter(|l| l.voice)
        .filter_map(|l| l.ended_at.map(act_hold_until))
        .max()
        .filter(|until| *until > now);
    RequestOutcome {
        erase_personal_data: true,
        erase_identity_record: held_until.is_none(),
        identity_held_until: held_until,
        lines_in_service: 0,
    }
}

fn personal_data_at(ended_at: Timestamp, policy: &RetentionPolicy) -> Timestamp {
    add_days(ended_at, policy.personal_data_days)
}

/// Until when the Act holds a voice line's identity record that ended at `ended_at`.
fn act_hold_until(ended_at: Timestamp) -> Timestamp {
    add_years_jst(ended_at, ACT_IDENTITY_RECORD_YEARS)
}

/// `at` plus calendar years in Japan time. A 29 February lands on 28 February of a common year
/// (jiff clamps to the month's last day).
fn add_years_jst(at: Timestamp, years: u32) -> Timestamp {
    at.to_zoned(japan())
        .checked_add(Span::new().years(i64::from(years)))
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

fn add_days(at: Timestamp, days: u32) -> Timestamp {
    at.checked_add(SignedDuration::from_hours(24 * i64::from(days)))
        .unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn jst(text: &str) -> Timestamp {
        jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M", text)
            .unwrap()
            .to_zoned(japan())
            .unwrap()
            .timestamp()
    }

    fn ended<'a>(at: &str, voice: bool, policy: &'a RetentionPolicy) -> HeldLine<'a> {
        HeldLine {
            ended_at: Some(jst(at)),
            voice,
            policy,
        }
    }

    fn in_service(voice: bool, policy: &RetentionPolicy) -> HeldLine<'_> {
        HeldLine {
            ended_at: None,
            voice,
            policy,
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RetentionPolicy::default();
        assert_eq!(p.personal_data_days, 30);
        assert_eq!(p.identity_record_years, 3);
        assert!(!p.identity_record_for_data_lines);
        assert_eq!(p.document_days, 0);
    }

    #[test]
    fn a_voice_line_is_held_three_calendar_years_in_japan_time() {
        let p = RetentionPolicy::default();
        let s = schedule(&[ended("2026-11-27 10:00", true, &p)]);
        assert_eq!(s.personal_data_at, Some(jst("2026-12-27 10:00")));
        assert_eq!(s.identity_record_at, Some(jst("2029-11-27 10:00")));
        assert!(s.legal_hold);
    }

    #[test]
    fn a_leap_day_lands_on_the_last_day_of_february() {
        let p = RetentionPolicy::default();
        let s = schedule(&[ended("2024-02-29 09:30", true, &p)]);
        assert_eq!(s.identity_record_at, Some(jst("2027-02-28 09:30")));
    }

    #[test]
    fn years_are_counted_on_the_japanese_date_not_the_utc_one() {
        // 2024-02-29 08:00 JST is 2024-02-28 23:00 UTC: counted in UTC it would end on
        // 2027-03-01 08:00 JST; counted in Japan time it ends on 2027-02-28 08:00 JST.
        let p = RetentionPolicy::default();
        let s = schedule(&[ended("2024-02-29 08:00", true, &p)]);
        assert_eq!(s.identity_record_at, Some(jst("2027-02-28 08:00")));
    }

    #[test]
    fn data_only_lines_are_not_held_unless_the_policy_says_so() {
        let plain = RetentionPolicy::default();
        let s = schedule(&[ended("2026-11-27 10:00", false, &plain)]);
        assert_eq!(s.identity_record_at, s.personal_data_at);
        assert_eq!(s.identity_record_at, Some(jst("2026-12-27 10:00")));
        assert!(!s.legal_hold);

        let keeps = RetentionPolicy {
            identity_record_for_data_lines: true,
            ..RetentionPolicy::default()
        };
        let s = schedule(&[ended("2026-11-27 10:00", false, &keeps)]);
        assert_eq!(s.identity_record_at, Some(jst("2029-11-27 10:00")));
        assert!(!s.legal_hold, "the carrier's choice is not the Act's hold");
    }

    #[test]
    fn any_line_in_service_blocks_everything() {
        let p = RetentionPolicy::default();
        let lines = [ended("2020-01-01 00:00", true, &p), in_service(false, &p)];
        let s = schedule(&lines);
        assert_eq!(s.personal_data_at, None);
        assert_eq!(s.identity_record_at, None);
        assert!(!s.legal_hold);
        let r = on_request(&lines, jst("2030-01-01 00:00"));
        assert!(!r.erase_personal_data);
        assert!(!r.erase_identity_record);
        assert_eq!(r.identity_held_until, None);
        assert_eq!(r.lines_in_service, 1);
    }

    #[test]
    fn the_latest_line_wins() {
        let p = RetentionPolicy::default();
        let lines = [
            ended("2026-01-10 12:00", true, &p),
            ended("2026-06-01 08:00", false, &p),
            ended("2025-03-03 00:00", true, &p),
        ];
        let s = schedule(&lines);
        assert_eq!(s.personal_data_at, Some(jst("2026-07-01 08:00")));
        assert_eq!(s.identity_record_at, Some(jst("2029-01-10 12:00")));
        assert!(s.legal_hold);
    }

    #[test]
    fn a_later_data_line_can_outlast_an_old_voice_hold() {
        let long = RetentionPolicy {
            personal_data_days: 3650,
            ..RetentionPolicy::default()
        };
        let short = RetentionPolicy::default();
        let lines = [
            ended("2026-01-01 00:00", true, &short),
            ended("2026-01-01 00:00", false, &long),
        ];
        let s = schedule(&lines);
        assert_eq!(s.identity_record_at, s.personal_data_at);
        assert!(!s.legal_hold);
    }

    #[test]
    fn no_lines_means_nothing_to_keep() {
        let s = schedule(&[]);
        assert_eq!(s.personal_data_at, Some(Timestamp::MIN));
        assert_eq!(s.identity_record_at, Some(Timestamp::MIN));
        assert!(!s.legal_hold);
        let r = on_request(&[], jst("2026-11-27 10:00"));
        assert!(r.erase_personal_data && r.erase_identity_record);
        assert_eq!(r.identity_held_until, None);
        assert_eq!(r.lines_in_service, 0);
    }

    #[test]
    fn a_request_erases_personal_data_at_once_and_keeps_what_the_act_holds() {
        let p = RetentionPolicy::default();
        let voice = [ended("2026-11-27 10:00", true, &p)];
        // One hour after the end: personal data goes although its 30 days have not run out.
        let r = on_request(&voice, jst("2026-11-27 11:00"));
        assert!(r.erase_personal_data);
        assert!(!r.erase_identity_record);
        assert_eq!(r.identity_held_until, Some(jst("2029-11-27 10:00")));
        // Once the hold is over, the record goes too.
        let r = on_request(&voice, jst("2029-11-27 10:00"));
        assert!(r.erase_personal_data && r.erase_identity_record);
        assert_eq!(r.identity_held_until, None);
    }

    #[test]
    fn a_request_is_held_only_for_the_acts_three_years() {
        let five = RetentionPolicy {
            identity_record_years: 5,
            ..RetentionPolicy::default()
        };
        let lines = [ended("2026-11-27 10:00", true, &five)];
        let s = schedule(&lines);
        assert_eq!(s.identity_record_at, Some(jst("2031-11-27 10:00")));
        assert!(s.legal_hold);
        let r = on_request(&lines, jst("2027-01-01 00:00"));
        assert!(r.erase_personal_data && !r.erase_identity_record);
        assert_eq!(r.identity_held_until, Some(jst("2029-11-27 10:00")));
        let r = on_request(&lines, jst("2030-06-01 00:00"));
        assert!(r.erase_identity_record);
        assert_eq!(r.identity_held_until, None);
    }

    #[test]
    fn a_request_erases_a_data_lines_record_even_when_the_policy_keeps_it() {
        let keeps = RetentionPolicy {
            identity_record_for_data_lines: true,
            ..RetentionPolicy::default()
        };
        let r = on_request(
            &[ended("2026-11-27 10:00", false, &keeps)],
            jst("2026-11-28 10:00"),
        );
        assert!(r.erase_personal_data && r.erase_identity_record);
        assert_eq!(r.identity_held_until, None);
    }

    #[test]
    fn documents_go_when_decided_or_after_their_days() {
        let decided = jst("2026-11-27 10:00");
        assert_eq!(
            document_erasure_at(decided, &RetentionPolicy::default()),
            decided
        );
        let p = RetentionPolicy {
            document_days: 14,
            ..RetentionPolicy::default()
        };
        assert_eq!(document_erasure_at(decided, &p), jst("2026-12-11 10:00"));
    }

    #[test]
    fn far_future_ends_saturate_instead_of_panicking() {
        let p = RetentionPolicy {
            personal_data_days: MAX_PERSONAL_DATA_DAYS,
            identity_record_years: MAX_IDENTITY_RECORD_YEARS,
            ..RetentionPolicy::default()
        };
        let s = schedule(&[HeldLine {
            ended_at: Some(Timestamp::MAX),
            voice: true,
            policy: &p,
        }]);
        assert_eq!(s.personal_data_at, Some(Timestamp::MAX));
        assert_eq!(s.identity_record_at, Some(Timestamp::MAX));
    }

    fn arb_policy() -> impl Strategy<Value = RetentionPolicy> {
        (
            0..=MAX_PERSONAL_DATA_DAYS,
            ACT_IDENTITY_RECORD_YEARS..=MAX_IDENTITY_RECORD_YEARS,
            any::<bool>(),
            0u32..=365,
        )
            .prop_map(|(days, years, data, docs)| RetentionPolicy {
                personal_data_days: days,
                identity_record_years: years,
                identity_record_for_data_lines: data,
                document_days: docs,
            })
    }

    /// (seconds since 2000 or None for in service, voice, which policy)
    fn arb_lines() -> impl Strategy<Value = Vec<(Option<i64>, bool, usize)>> {
        prop::collection::vec(
            (
                prop::option::weighted(0.85, 946_684_800i64..4_102_444_800),
                any::<bool>(),
                0usize..3,
            ),
            0..6,
        )
    }

    fn build<'a>(
        raw: &[(Option<i64>, bool, usize)],
        policies: &'a [RetentionPolicy],
    ) -> Vec<HeldLine<'a>> {
        raw.iter()
            .map(|(secs, voice, p)| HeldLine {
                ended_at: secs.map(|s| Timestamp::from_second(s).unwrap()),
                voice: *voice,
                policy: &policies[*p],
            })
            .collect()
    }

    proptest! {
        #[test]
        fn identity_is_never_before_personal_data(
            policies in prop::collection::vec(arb_policy(), 3),
            raw in arb_lines(),
        ) {
            let lines = build(&raw, &policies);
            let s = schedule(&lines);
            let any_in_service = lines.iter().any(|l| l.ended_at.is_none());
            prop_assert_eq!(s.personal_data_at.is_none(), any_in_service);
            prop_assert_eq!(s.identity_record_at.is_none(), any_in_service);
            if let (Some(p), Some(i)) = (s.personal_data_at, s.identity_record_at) {
                prop_assert!(i >= p);
                prop_assert!(!s.legal_hold || i > p);
                for l in &lines {
                    let ended = l.ended_at.unwrap();
                    prop_assert!(p >= ended);
                    if l.voice {
                        // The Act's 3 years are always kept.
                        let act = ended.to_zoned(japan()).checked_add(Span::new().years(3)).unwrap().timestamp();
                        prop_assert!(i >= act);
                    }
                }
            }
        }

        #[test]
        fn a_request_never_erases_more_than_allowed(
            policies in prop::collection::vec(arb_policy(), 3),
            raw in arb_lines(),
            now in 946_684_800i64..4_500_000_000,
        ) {
            let lines = build(&raw, &policies);
            let now = Timestamp::from_second(now).unwrap();
            let r = on_request(&lines, now);
            let in_service = lines.iter().filter(|l| l.ended_at.is_none()).count();
            prop_assert_eq!(r.lines_in_service, in_service);
            if in_service > 0 {
                prop_assert!(!r.erase_personal_data && !r.erase_identity_record);
            } else {
                prop_assert!(r.erase_personal_data);
                prop_assert_eq!(r.erase_identity_record, r.identity_held_until.is_none());
                if let Some(until) = r.identity_held_until {
                    prop_assert!(until > now);
                    prop_assert!(lines.iter().any(|l| l.voice));
                    // The hold never reaches past the scheduled erasure of the record.
                    prop_assert!(Some(until) <= schedule(&lines).identity_record_at);
                }
                for l in lines.iter().filter(|l| l.voice) {
                    let act = l.ended_at.unwrap().to_zoned(japan()).checked_add(Span::new().years(3)).unwrap().timestamp();
                    if act > now {
                        prop_assert!(!r.erase_identity_record);
                    }
                }
            }
        }
    }
}
