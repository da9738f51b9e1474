//! The cancellation request: submitted → identity verified → approved (effective date) →
//! completed, or rejected with a reason, or withdrawn before it takes effect.

use crate::attribution::{Attribution, Channel, UnknownName};
use crate::calendar::{BusinessCalendar, CalendarError};
use crate::ids::{LineId, RequestId};
use crate::line::{Line, LineState};
use crate::policy::{CancellationPolicy, IdentityCheck};
use crate::validity::{japan, japan_date};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

mod quote;
pub use quote::{
    decide_quote, refund_basis, CannotCancel, QuoteDecision, QuoteError, TimeLeft, WhatHappens,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Submitted,
    IdentityVerified,
    Approved,
    Completed,
    Rejected,
    Withdrawn,
}

impl RequestState {
    pub const ALL: [RequestState; 6] = [
        RequestState::Submitted,
        RequestState::IdentityVerified,
        RequestState::Approved,
        RequestState::Completed,
        RequestState::Rejected,
        RequestState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Submitted => "submitted",
            RequestState::IdentityVerified => "identity_verified",
            RequestState::Approved => "approved",
            RequestState::Completed => "completed",
            RequestState::Rejected => "rejected",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    /// Open requests still lead somewhere; at most one per line.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::Submitted | RequestState::IdentityVerified | RequestState::Approved
        )
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RequestState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                    "request state",
                    s,
                    "submitted, identity_verified, approved, completed, rejected, withdrawn",
                )
            })
    }
}

/// A cancellation request as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancellationRequest {
    pub id: RequestId,
    pub line_id: LineId,
    pub channel: Channel,
    pub submitted: Attribution,
    pub state: RequestState,
    /// Checks the channel's policy asks for, fixed at submission.
    pub required: Vec<IdentityCheck>,
    /// Checks passed so far.
    pub passed: Vec<IdentityCheck>,
    pub effective_date: Option<Date>,
    /// 00:00 JST on the effective date: when the job completes it.
    pub effective_at: Option<Timestamp>,
    pub reject_reason: Option<String>,
    pub policy_version: i64,
    pub version: i64,
}

/// A decided step of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTransition {
    pub from: Option<RequestState>,
    pub to: RequestState,
    pub by: Attribution,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancellationError {
    #[error("the line is {0}; there is nothing left to cancel")]
    LineEnded(LineState),
    #[error("the line is still in stock; only a sold line can be cancelled (withdraw it from inventory instead)")]
    LineInStock,
    #[error("the line already has an open cancellation request")]
    AlreadyOpen,
    #[error("the request is {state}; it cannot be {action}")]
    NotAllowed {
        state: RequestState,
        action: &'static str,
    },
    #[error("this request does not need a {0:?} check")]
    CheckNotRequired(IdentityCheck),
    #[error("a rejection needs a reason the customer can act on")]
    ReasonRequired,
    #[error("the cancellation already took effect on {0}; it can no longer be withdrawn")]
    TooLateToWithdraw(Date),
    #[error("the effective date {0} has not been reached yet")]
    NotYetEffective(Date),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// The date a request made at `at` takes effect: N business days after the request, counted in
/// Japan time; a request after the daily cut-off, or on a day that is not a business day,
/// counts from the next business day.
pub fn effective_date(
    at: Timestamp,
    policy: &CancellationPolicy,
    calendar: &BusinessCalendar,
) -> Result<Date, CalendarError> {
    let local = at.to_zoned(japan());
    let day = local.date();
    let counted_from = if calendar.is_business_day(day) && local.time() <= policy.cutoff {
        day
    } else {
        calendar.next_business_day(day)?
    };
    calendar.add_business_days(counted_from, policy.effective_delay_business_days)
}

/// 00:00 in Japan on `date`.
pub fn start_of_day_jst(date: Date) -> Timestamp {
    date.to_zoned(japan())
        .map(|z| z.timestamp())
        .unwrap_or(Timestamp::MAX)
}

/// Whether a request may be opened for `line` as it stands. Time left on the line is never a
/// reason to refuse.
pub fn may_open(line: &Line) -> Result<(), CancellationError> {
    match line.state {
        LineState::Terminated | LineState::Closed => Err(CancellationError::LineEnded(line.state)),
        LineState::PendingTermination => Err(CancellationError::AlreadyOpen),
        LineState::InStock => Err(CancellationError::LineInStock),
        LineState::Registered | LineState::Active | LineState::Expired => Ok(()),
    }
}

impl CancellationRequest {
    /// Opens a request for `line`. Time left on the line is never a reason to refuse.
    pub fn submit(
        line: &Line,
        channel: Channel,
        required: Vec<IdentityCheck>,
        policy_version: i64,
        by: Attribution,
    ) -> Result<(CancellationRequest, RequestTransition), CancellationError> {
        may_open(line)?;
        let request = CancellationRequest {
            id: RequestId::new(0),
            line_id: line.id,
            channel,
            submitted: by.clone(),
            state: RequestState::Submitted,
            required,
            passed: Vec::new(),
            effective_date: None,
            effective_at: None,
            reject_reason: None,
            policy_version,
            version: 0,
        };
        let t = RequestTransition {
            from: None,
            to: RequestState::Submitted,
            by,
            note: format!("via {channel}"),
        };
        Ok((request, t))
    }

    /// Whether every required check has passed.
    pub fn identity_complete(&self) -> bool {
        self.required.iter().all(|c| self.passed.contains(c))
    }

    /// Records a passed check; when the last one passes the request is verified and approved,
    /// its effective date counted from that moment.
    pub fn pass_check(
        &self,
        check: IdentityCheck,
        policy: &CancellationPolicy,
        calendar: &BusinessCalendar,
        by: Attribution,
    ) -> Result<(CancellationRequest, Vec<RequestTransition>), CancellationError> {
        if self.state != RequestState::Submitted {
            return Err(CancellationError::NotAllowed {
                state: self.state,
                action: "verified again",
            });
        }
        if !self.required.contains(&check) {
            return Err(CancellationError::CheckNotRequired(check));
        }
        let mut next = self.clone();
        if !next.passed.contains(&check) {
            next.passed.push(check);
        }
        if !next.identity_complete() {
            return Ok((next, Vec::new()));
        }
        next.approve_after_verification(policy, calendar, by)
    }

    /// For requests that need no check (operator, system) or whose checks were all met at once.
    pub fn approve_if_verified(
        &self,
        policy: &CancellationPolicy,
        calendar: &BusinessCalendar,
        by: Attribution,
    ) -> Result<(CancellationRequest, Vec<RequestTransition>), CancellationError> {
        if self.state != RequestState::Submitted || !self.identity_complete() {
            return Ok((self.clone(), Vec::new()));
        }
        self.clone()
            .approve_after_verification(policy, calendar, by)
    }

    fn approve_after_verification(
        mut self,
        policy: &CancellationPolicy,
        calendar: &BusinessCalendar,
        by: Attribution,
    ) -> Result<(CancellationRequest, Vec<RequestTransition>), CancellationError> {
        // Counted from when identity is confirmed: a slow document review must not leave the
        // customer an effective date already past, with no time to withdraw.
        let date = effective_date(by.at.max(self.submitted.at), policy, calendar)?;
        let checks: Vec<&str> = self.passed.iter().map(check_name).collect();
        let verified = RequestTransition {
            from: Some(RequestState::Submitted),
            to: RequestState::IdentityVerified,
            by: by.clone(),
            note: if checks.is_empty() {
                "no identity check required for this channel".into()
            } else {
                format!("passed: {}", checks.join(", "))
            },
        };
        let approved = RequestTransition {
            from: Some(RequestState::IdentityVerified),
            to: RequestState::Approved,
            by,
            note: format!(
                "effective {date} (JST), {} business day(s) after the request",
                policy.effective_delay_business_days
            ),
        };
        self.state = RequestState::Approved;
        self.effective_date = Some(date);
        self.effective_at = Some(start_of_day_jst(date));
        Ok((self, vec![verified, approved]))
    }

    /// Refuses the request with a reason the customer can act on.
    pub fn reject(
        &self,
        reason: &str,
        by: Attribution,
    ) -> Result<(CancellationRequest, RequestTransition), CancellationError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(CancellationError::ReasonRequired);
        }
        if !matches!(
            self.state,
            RequestState::Submitted | RequestState::IdentityVerified
        ) {
            return Err(CancellationError::NotAllowed {
                state: self.state,
                action: "rejected",
            });
        }
        let mut next = self.clone();
        next.state = RequestState::Rejected;
        next.reject_reason = Some(reason.to_string());
        let t = RequestTransition {
            from: Some(self.state),
            to: RequestState::Rejected,
            by,
            note: reason.to_string(),
        };
        Ok((next, t))
    }

    /// The customer changes their mind before the request takes effect.
    pub fn withdraw(
        &self,
        by: Attribution,
    ) -> Result<(CancellationRequest, RequestTransition), CancellationError> {
        if !self.state.is_open() {
            return Err(CancellationError::NotAllowed {
                state: self.state,
                action: "withdrawn",
            });
        }
        if let (Some(date), Some(at)) = (self.effective_date, self.effective_at) {
            if by.at >= at {
                return Err(CancellationError::TooLateToWithdraw(date));
            }
        }
        let mut next = self.clone();
        next.state = RequestState::Withdrawn;
        let t = RequestTransition {
            from: Some(self.state),
            to: RequestState::Withdrawn,
            by,
            note: "withdrawn before the effective date".into(),
        };
        Ok((next, t))
    }

    /// The effective date has come.
    pub fn complete(
        &self,
        by: Attribution,
    ) -> Result<(CancellationRequest, RequestTransition), CancellationError> {
        if self.state != RequestState::Approved {
            return Err(CancellationError::NotAllowed {
                state: self.state,
                action: "completed",
            });
        }
        let at = self.effective_at.unwrap_or(Timestamp::MAX);
        if by.at < at {
            return Err(CancellationError::NotYetEffective(
                self.effective_date.unwrap_or(japan_date(at)),
            ));
        }
        let mut next = self.clone();
        next.state = RequestState::Completed;
        let t = RequestTransition {
            from: Some(RequestState::Approved),
            to: RequestState::Completed,
            by,
            note: "took effect".into(),
        };
        Ok((next, t))
    }
}

pub fn check_name(c: &IdentityCheck) -> &'static str {
    match c {
        IdentityCheck::Possession => "possession",
        IdentityCheck::Knowledge => "knowledge",
        IdentityCheck::Document => "document",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::Actor;
    use crate::line::tests::stock_line;
    use jiff::civil::{date, time};
    use proptest::prelude::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn policy(delay: u32) -> CancellationPolicy {
        CancellationPolicy {
            effective_delay_business_days: delay,
            cutoff: time(17, 0, 0, 0),
            bar_while_pending: true,
        }
    }

    fn by(when: &str) -> Attribution {
        Attribution::new(Actor::operator("agent"), Channel::Hotline, at(when), "test")
    }

    fn active_line() -> Line {
        let mut l = stock_line();
        l.state = LineState::Active;
        l.holder = Some(crate::ids::CustomerId::new(1));
        l
    }

    #[test]
    fn the_cut_off_moves_the_count_to_the_next_business_day() {
        let cal = BusinessCalendar::japan();
        // Friday 2026-05-01 17:30 JST, 1 business day, 17:00 cut-off → counted from Thu 05-07 → Fri 05-08.
        assert_eq!(
            effective_date(at("2026-05-01T08:30:00Z"), &policy(1), &cal).unwrap(),
            date(2026, 5, 8)
        );
        // Before the cut-off the same day counts: 05-01 + 1 = 05-07.
        assert_eq!(
            effective_date(at("2026-05-01T07:59:00Z"), &policy(1), &cal).unwrap(),
            date(2026, 5, 7)
        );
        // Saturday counts from Monday.
        assert_eq!(
            effective_date(at("2026-11-28T01:00:00Z"), &policy(2), &cal).unwrap(),
            date(2026, 12, 2)
        );
        let closed = BusinessCalendar::with_closures(vec!["12-29..01-03".parse().unwrap()]);
        assert_eq!(
            effective_date(at("2026-12-28T01:00:00Z"), &policy(1), &closed).unwrap(),
            date(2027, 1, 4)
        );
    }

    #[test]
    fn a_request_walks_to_completion_only_through_its_checks() {
        let cal = BusinessCalendar::japan();
        let (r, t) = CancellationRequest::submit(
            &active_line(),
            Channel::Hotline,
            vec![IdentityCheck::Knowledge, IdentityCheck::Possession],
            3,
            by("2026-11-25T01:00:00Z"),
        )
        .unwrap();
        assert_eq!((t.from, t.to), (None, RequestState::Submitted));
        let (r, steps) = r
            .pass_check(
                IdentityCheck::Knowledge,
                &policy(1),
                &cal,
                by("2026-11-25T01:01:00Z"),
            )
            .unwrap();
        assert!(steps.is_empty());
        assert_eq!(r.state, RequestState::Submitted);
        assert!(matches!(
            r.pass_check(
                IdentityCheck::Document,
                &policy(1),
                &cal,
                by("2026-11-25T01:02:00Z")
            ),
            Err(CancellationError::CheckNotRequired(_))
        ));
        let (r, steps) = r
            .pass_check(
                IdentityCheck::Possession,
                &policy(1),
                &cal,
                by("2026-11-25T01:02:00Z"),
            )
            .unwrap();
        assert_eq!(
            steps.iter().map(|s| s.to).collect::<Vec<_>>(),
            [RequestState::IdentityVerified, RequestState::Approved]
        );
        assert_eq!(r.effective_date, Some(date(2026, 11, 26)));
        assert_eq!(r.effective_at, Some(at("2026-11-25T15:00:00Z")));
        assert!(matches!(
            r.complete(by("2026-11-25T14:59:59Z")),
            Err(CancellationError::NotYetEffective(_))
        ));
        assert!(matches!(
            r.withdraw(by("2026-11-25T15:00:00Z")),
            Err(CancellationError::TooLateToWithdraw(_))
        ));
        let (done, _) = r.complete(by("2026-11-25T15:00:00Z")).unwrap();
        assert_eq!(done.state, RequestState::Completed);
        assert!(done.withdraw(by("2026-11-26T00:00:00Z")).is_err());
        assert!(done.reject("x", by("2026-11-26T00:00:00Z")).is_err());
    }

    #[test]
    fn ended_lines_cannot_be_cancelled_but_time_left_never_stops_it() {
        let mut l = active_line();
        l.validity_ends_at = Some(at("2027-01-01T00:00:00Z"));
        assert!(CancellationRequest::submit(
            &l,
            Channel::Web,
            vec![],
            1,
            by("2026-11-25T00:00:00Z")
        )
        .is_ok());
        for state in [LineState::Terminated, LineState::Closed] {
            l.state = state;
            assert_eq!(
                CancellationRequest::submit(
                    &l,
                    Channel::Web,
                    vec![],
                    1,
                    by("2026-11-25T00:00:00Z")
                )
                .unwrap_err(),
                CancellationError::LineEnded(state)
            );
        }
    }

    #[test]
    fn a_late_verification_counts_from_when_identity_was_confirmed() {
        let cal = BusinessCalendar::japan();
        let (r, _) = CancellationRequest::submit(
            &active_line(),
            Channel::Store,
            vec![IdentityCheck::Document],
            1,
            by("2026-11-16T01:00:00Z"),
        )
        .unwrap();
        // The document is approved on Friday 11-20: effective the next business day, Tuesday 11-24
        // (11-23 is a holiday falling on Monday: Labour Thanksgiving Day).
        let (r, _) = r
            .pass_check(
                IdentityCheck::Document,
                &policy(1),
                &cal,
                by("2026-11-20T01:00:00Z"),
            )
            .unwrap();
        assert_eq!(r.effective_date, Some(date(2026, 11, 24)));
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let (r, _) = CancellationRequest::submit(
            &active_line(),
            Channel::Store,
            vec![IdentityCheck::Document],
            1,
            by("2026-11-25T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            r.reject("  ", by("2026-11-25T00:00:00Z")).unwrap_err(),
            CancellationError::ReasonRequired
        );
        let (r, t) = r
            .reject(
                "the photo is unreadable; upload a sharper one",
                by("2026-11-25T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(r.state, RequestState::Rejected);
        assert!(t.note.contains("sharper"));
    }

    proptest! {
        /// From any moment, the effective date is a business day strictly after the request day.
        #[test]
        fn the_effective_date_is_a_later_business_day(secs in 1_700_000_000i64..3_000_000_000, delay in 1u32..=3) {
            let cal = BusinessCalendar::with_closures(vec!["12-29..01-03".parse().unwrap()]);
            let when = Timestamp::from_second(secs).unwrap();
            let d = effective_date(when, &policy(delay), &cal).unwrap();
            prop_assert!(cal.is_business_day(d));
            prop_assert!(d > japan_date(when));
            prop_assert!(cal.business_days_between(japan_date(when), d) >= i64::from(delay));
        }
    }
}
