//! Abuse limits: how many attempts a subject (a line, a client address, an account) may make per
//! window, and when a lockout starts and ends. Counting happens in the database; this decides.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// One limit: at most `max` attempts per fixed window of `window_secs`; going over locks the
/// subject for `lockout_secs` (or, without a lockout, until the window ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub max: u32,
    pub window_secs: i64,
    #[serde(default)]
    pub lockout_secs: Option<i64>,
}

/// A subject's counter as the database holds it after this attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub window_start: Timestamp,
    pub count: i64,
    pub locked_until: Option<Timestamp>,
}

/// What a limit says about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Refused; `lock_until` is set when this attempt starts a lockout the store must record.
    Limited {
        retry_after: SignedDuration,
        lock_until: Option<Timestamp>,
    },
}

impl Limit {
    pub const fn new(max: u32, window_secs: i64) -> Limit {
        Limit {
            max,
            window_secs,
            lockout_secs: None,
        }
    }

    pub const fn with_lockout(self, lockout_secs: i64) -> Limit {
        Limit {
            lockout_secs: Some(lockout_secs),
            ..self
        }
    }

    fn window(&self) -> SignedDuration {
        SignedDuration::from_secs(self.window_secs.max(1))
    }

    /// The start of the fixed window `now` falls in; every node computes the same one.
    pub fn window_start(&self, now: Timestamp) -> Timestamp {
        let w = self.window_secs.max(1);
        let start = now.as_second().div_euclid(w) * w;
        Timestamp::from_second(start).unwrap_or(now)
    }

    /// How long a subject still has to wait when it is locked at `now`.
    pub fn locked(&self, counter: &Counter, now: Timestamp) -> Option<SignedDuration> {
        counter
            .locked_until
            .filter(|until| *until > now)
            .map(|until| wait(until, now))
    }

    /// For things already recorded elsewhere (codes sent to a line): given when they happened,
    /// how long until one more fits in the rolling window; `None` when one fits now.
    pub fn wait_after(&self, times: &[Timestamp], now: Timestamp) -> Option<SignedDuration> {
        let start = now - self.window();
        let mut recent: Vec<Timestamp> = times
            .iter()
            .copied()
            .filter(|t| *t > start && *t <= now)
            .collect();
        let max = usize::try_from(self.max).unwrap_or(usize::MAX);
        if recent.len() < max {
            return None;
        }
        if max == 0 {
            return Some(self.window());
        }
        recent.sort();
        // The oldest send that must leave the window before another one fits.
        Some(wait(recent[recent.len() - max] + self.window(), now))
    }

    /// When a failure just counted (`counter.count` includes it) reaches the maximum, the end
    /// of the lockout it starts: the `max`-th failure locks, so the next attempt waits.
    pub fn lock_after_failure(&self, counter: &Counter, now: Timestamp) -> Option<Timestamp> {
        if self.locked(counter, now).is_some() || counter.count < i64::from(self.max) {
            return None;
        }
        let secs = self.lockout_secs.unwrap_or(self.window_secs).max(1);
        Some(now + SignedDuration::from_secs(secs))
    }

    /// Judges an attempt that has just been counted (`counter.count` includes it).
    pub fn judge(&self, counter: &Counter, now: Timestamp) -> Verdict {
        if let Some(retry_after) = self.locked(counter, now) {
            return Verdict::Limited {
                retry_after,
                lock_until: None,
            };
        }
        if counter.count <= i64::from(self.max) {
            return Verdict::Allowed;
        }
        match self.lockout_secs {
            Some(secs) => {
                let until = now + SignedDuration::from_secs(secs.max(1));
                Verdict::Limited {
                    retry_after: wait(until, now),
                    lock_until: Some(until),
                }
            }
            None => Verdict::Limited {
                retry_after: wait(counter.window_start + self.window(), now),
                lock_until: None,
            },
        }
    }
}

/// At least one second, so a client told to wait never retries at once.
fn wait(until: Timestamp, now: Timestamp) -> SignedDuration {
    let secs = until.duration_since(now).as_secs();
    SignedDuration::from_secs(secs.max(1))
}

/// Every limit simdesk applies, with defaults an operator can override in `[limits]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbuseRules {
    /// One-time codes sent to a line (sign-in and cancellation codes together), in a rolling
    /// window; refused requests are not counted here.
    pub code_sends_per_line: Limit,
    /// Code sends and sign-in requests per client address.
    pub code_sends_per_ip: Limit,
    /// Sign-in requests per identifier (number or e-mail), registered or not.
    pub sign_ins_per_account: Limit,
    /// Code checks per line (sign-in and cancellation codes together).
    pub code_checks_per_line: Limit,
    /// Code checks per client address.
    pub code_checks_per_ip: Limit,
    /// Code sends and checks per API token or staff account.
    pub codes_per_account: Limit,
    /// Failed staff sign-ins per username, then a lockout.
    pub staff_failures_per_user: Limit,
    /// Staff sign-in attempts per client address.
    pub staff_sign_ins_per_ip: Limit,
    /// Wrong name/passport answers about one line (console, counter, API), then a lockout.
    pub knowledge_failures_per_line: Limit,
    /// Wrong name/passport answers per API token or staff account.
    pub knowledge_failures_per_account: Limit,
    /// Document uploads per cancellation request.
    pub uploads_per_request: Limit,
    /// Document uploads per client address.
    pub uploads_per_ip: Limit,
    /// Document uploads per API token or signed-in traveller.
    pub uploads_per_account: Limit,
    /// Queue tickets per client address (a store's kiosk is one address for all its visitors).
    pub kiosk_tickets_per_ip: Limit,
    /// Code SMS sent by the whole installation per hour, to bound their cost.
    pub code_sms_per_hour: Limit,
}

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

impl Default for AbuseRules {
    fn default() -> Self {
        AbuseRules {
            code_sends_per_line: Limit::new(6, HOUR),
            code_sends_per_ip: Limit::new(20, HOUR),
            sign_ins_per_account: Limit::new(5, HOUR),
            code_checks_per_line: Limit::new(10, HOUR),
            code_checks_per_ip: Limit::new(30, HOUR),
            codes_per_account: Limit::new(300, HOUR),
            staff_failures_per_user: Limit::new(5, 15 * MINUTE).with_lockout(15 * MINUTE),
            staff_sign_ins_per_ip: Limit::new(30, 15 * MINUTE),
            knowledge_failures_per_line: Limit::new(5, DAY).with_lockout(DAY),
            knowledge_failures_per_account: Limit::new(50, HOUR),
            uploads_per_request: Limit::new(10, DAY),
            uploads_per_ip: Limit::new(20, HOUR),
            uploads_per_account: Limit::new(200, HOUR),
            kiosk_tickets_per_ip: Limit::new(120, HOUR),
            code_sms_per_hour: Limit::new(2000, HOUR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn counter(limit: &Limit, now: Timestamp, count: i64) -> Counter {
        Counter {
            window_start: limit.window_start(now),
            count,
            locked_until: None,
        }
    }

    #[test]
    fn the_attempt_after_the_maximum_waits_for_the_window_to_end() {
        let limit = Limit::new(3, 3600);
        let now = at("2026-11-27T10:15:00Z");
        assert_eq!(limit.window_start(now), at("2026-11-27T10:00:00Z"));
        assert_eq!(limit.judge(&counter(&limit, now, 3), now), Verdict::Allowed);
        assert_eq!(
            limit.judge(&counter(&limit, now, 4), now),
            Verdict::Limited {
                retry_after: SignedDuration::from_mins(45),
                lock_until: None
            }
        );
    }

    #[test]
    fn going_over_starts_a_lockout_that_ends_on_time() {
        let limit = Limit::new(5, 900).with_lockout(900);
        let now = at("2026-11-27T10:14:00Z");
        let Verdict::Limited {
            retry_after,
            lock_until: Some(until),
        } = limit.judge(&counter(&limit, now, 6), now)
        else {
            panic!("the sixth failure must lock");
        };
        assert_eq!(retry_after, SignedDuration::from_mins(15));
        let locked = Counter {
            window_start: limit.window_start(now),
            count: 0,
            locked_until: Some(until),
        };
        let later = now + SignedDuration::from_mins(14);
        assert_eq!(
            limit.locked(&locked, later),
            Some(SignedDuration::from_mins(1))
        );
        assert_eq!(limit.locked(&locked, until), None);
        assert_eq!(limit.judge(&locked, until), Verdict::Allowed);
    }

    #[test]
    fn sends_fit_again_when_the_oldest_leaves_the_window() {
        let limit = Limit::new(2, 3600);
        let now = at("2026-11-27T10:30:00Z");
        let sends = [
            at("2026-11-27T09:20:00Z"),
            at("2026-11-27T09:45:00Z"),
            at("2026-11-27T10:10:00Z"),
        ];
        assert_eq!(
            limit.wait_after(&sends, now),
            Some(SignedDuration::from_mins(15))
        );
        assert_eq!(limit.wait_after(&sends[2..], now), None);
    }

    #[test]
    fn the_fifth_failure_locks_for_the_lockout() {
        let limit = Limit::new(5, 900).with_lockout(900);
        let now = at("2026-11-27T10:14:00Z");
        assert_eq!(
            limit.lock_after_failure(&counter(&limit, now, 4), now),
            None
        );
        assert_eq!(
            limit.lock_after_failure(&counter(&limit, now, 5), now),
            Some(now + SignedDuration::from_mins(15))
        );
    }

    #[test]
    fn a_wait_is_never_zero() {
        let limit = Limit::new(0, 60);
        let now = at("2026-11-27T10:00:59.900Z");
        let Verdict::Limited { retry_after, .. } = limit.judge(&counter(&limit, now, 1), now)
        else {
            panic!("over the limit");
        };
        assert_eq!(retry_after, SignedDuration::from_secs(1));
    }
}
