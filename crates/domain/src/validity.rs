//! How long a plan runs from activation: calendar days in Japan time, or rolling 24-hour periods.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Japan Standard Time: UTC+9 all year (Japan has no daylight saving time).
pub fn japan() -> TimeZone {
    TimeZone::fixed(jiff::tz::offset(9))
}

/// The civil date in Japan at an instant.
pub fn japan_date(at: Timestamp) -> jiff::civil::Date {
    at.to_zoned(japan()).date()
}

/// How a plan counts its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// The activation day is day 1; the line runs to 23:59:59 JST of day N.
    CalendarDaysJst,
    /// N periods of 24 hours from the moment of activation.
    #[serde(rename = "rolling_24h")]
    Rolling24h,
}

/// A plan's validity: N days counted one way or the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidityRule {
    pub days: u32,
    pub counting: Counting,
}

impl ValidityRule {
    /// The first instant at which the line is no longer valid (exclusive end).
    pub fn ends_at(&self, activated_at: Timestamp) -> Timestamp {
        let days = i64::from(self.days.max(1));
        match self.counting {
            Counting::CalendarDaysJst => {
                let first_day = japan_date(activated_at);
                // Day N ends at midnight starting day N+1; clamp at the calendar's end rather than panic.
                let after_last = first_day
                    .checked_add(jiff::Span::new().days(days))
                    .unwrap_or(jiff::civil::Date::MAX);
                after_last
                    .to_zoned(japan())
                    .map(|z| z.timestamp())
                    .unwrap_or(Timestamp::MAX)
            }
            Counting::Rolling24h => activated_at
                .checked_add(SignedDuration::from_hours(24 * days))
                .unwrap_or(Timestamp::MAX),
        }
    }
}

/// Adds whole days of grace after validity; JST has no DST, so a day is always 24 hours.
pub fn grace_ends_at(validity_ends_at: Timestamp, grace_days: u32) -> Timestamp {
    validity_ends_at
        .checked_add(SignedDuration::from_hours(24 * i64::from(grace_days)))
        .unwrap_or(Timestamp::MAX)
}

/// The last valid second, as a customer reads it ("until 23:59:59 JST").
pub fn last_valid_second(ends_at: Timestamp) -> Timestamp {
    ends_at
        .checked_sub(SignedDuration::from_secs(1))
        .unwrap_or(ends_at)
}

/// Formats an instant in Japan time, e.g. `2026-12-04 23:59:59 JST`.
pub fn format_jst(at: Timestamp) -> String {
    at.to_zoned(japan())
        .strftime("%Y-%m-%d %H:%M:%S JST")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn calendar_days_count_the_activation_day_as_day_one() {
        let rule = ValidityRule {
            days: 10,
            counting: Counting::CalendarDaysJst,
        };
        // 23:30 JST on 11-25 is still 11-25 in Japan although it is 14:30 UTC.
        let end = rule.ends_at(ts("2026-11-25T14:30:00Z"));
        assert_eq!(
            format_jst(last_valid_second(end)),
            "2026-12-04 23:59:59 JST"
        );
        // 00:30 JST on 11-26 is 15:30 UTC on 11-25: day 1 is 11-26.
        let end = rule.ends_at(ts("2026-11-25T15:30:00Z"));
        assert_eq!(
            format_jst(last_valid_second(end)),
            "2026-12-05 23:59:59 JST"
        );
    }

    #[test]
    fn rolling_periods_run_from_the_moment_of_activation() {
        let rule = ValidityRule {
            days: 15,
            counting: Counting::Rolling24h,
        };
        assert_eq!(
            rule.ends_at(ts("2026-11-25T03:17:00Z")),
            ts("2026-12-10T03:17:00Z")
        );
    }

    #[test]
    fn grace_adds_whole_days() {
        assert_eq!(
            grace_ends_at(ts("2026-12-04T15:00:00Z"), 3),
            ts("2026-12-07T15:00:00Z")
        );
    }
}
