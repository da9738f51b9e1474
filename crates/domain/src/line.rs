//! The line's lifecycle: in stock → registered → active → expired (grace) → closed, plus the
//! termination states a cancellation drives. Cancelled and closed lines never come back.

use crate::attribution::{Attribution, UnknownName};
use crate::ids::{CarrierCode, CustomerId, Eid, Iccid, Imsi, LineId, Msisdn};
use crate::validity::{grace_ends_at, ValidityRule};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Physical,
    Esim,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Physical => "physical",
            LineKind::Esim => "esim",
        }
    }
}

impl FromStr for LineKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "physical" => Ok(LineKind::Physical),
            "esim" => Ok(LineKind::Esim),
            _ => Err(UnknownName::new("line kind", s, "physical, esim")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineState {
    /// Loaded from the carrier's file, not yet sold.
    InStock,
    /// Sold and registered to one real-name holder, not yet activated.
    Registered,
    /// In use, within its validity.
    Active,
    /// Validity over, in grace: can be queried and cancelled, not used.
    Expired,
    /// A cancellation was approved; it takes effect on its effective date.
    PendingTermination,
    /// Cancelled. Final.
    Terminated,
    /// Ended by running out of validity and grace. Final.
    Closed,
}

impl LineState {
    pub const ALL: [LineState; 7] = [
        LineState::InStock,
        LineState::Registered,
        LineState::Active,
        LineState::Expired,
        LineState::PendingTermination,
        LineState::Terminated,
        LineState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LineState::InStock => "in_stock",
            LineState::Registered => "registered",
            LineState::Active => "active",
            LineState::Expired => "expired",
            LineState::PendingTermination => "pending_termination",
            LineState::Terminated => "terminated",
            LineState::Closed => "closed",
        }
    }

    /// Final states: nothing leads out of them.
    pub fn is_final(self) -> bool {
        matches!(self, LineState::Terminated | LineState::Closed)
    }

    /// Whether the line may carry traffic and be charged.
    pub fn is_usable(self) -> bool {
        self == LineState::Active
    }
}

impl fmt::Display for LineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LineState {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LineState::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                UnknownName::new(
                "line state",
                s,
                "in_stock, registered, active, expired, pending_termination, terminated, closed",
            )
            })
    }
}

/// A line as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: LineId,
    pub iccid: Iccid,
    pub imsi: Imsi,
    pub msisdn: Msisdn,
    pub carrier: CarrierCode,
    pub plan: String,
    pub kind: LineKind,
    pub eid: Option<Eid>,
    pub state: LineState,
    pub holder: Option<CustomerId>,
    pub activated_at: Option<Timestamp>,
    /// First instant the line is no longer valid.
    pub validity_ends_at: Option<Timestamp>,
    /// First instant the line is past its grace period.
    pub grace_ends_at: Option<Timestamp>,
    /// Where a pending termination returns to if the customer withdraws it.
    pub state_before_pending: Option<LineState>,
    pub ended_at: Option<Timestamp>,
    /// Optimistic-concurrency counter: every stored change increments it.
    pub version: i64,
}

/// What kind of step a transition was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Register,
    Activate,
    Expire,
    Close,
    BeginTermination,
    WithdrawTermination,
    Terminate,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Register => "register",
            Step::Activate => "activate",
            Step::Expire => "expire",
            Step::Close => "close",
            Step::BeginTermination => "begin_termination",
            Step::WithdrawTermination => "withdraw_termination",
            Step::Terminate => "terminate",
        }
    }
}

/// A decided state change, ready to be stored with its attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub step: Step,
    pub from: LineState,
    pub to: LineState,
    pub by: Attribution,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("the line is {state} and can never be used again; the customer needs a new SIM")]
    NeverReactivated { state: LineState },
    #[error("the line is registered to another holder; lines are real-name and can never be transferred")]
    TransferForbidden,
    #[error("the line is already registered to this holder")]
    AlreadyRegistered,
    #[error("a line that is {state} cannot be {action}")]
    NotAllowed {
        state: LineState,
        action: &'static str,
    },
    #[error("the line is valid until {until}; it cannot expire before then")]
    NotYetExpired { until: Timestamp },
    #[error("the line's grace period runs until {until}; it cannot close before then")]
    GraceNotOver { until: Timestamp },
}

impl Line {
    fn step(&self, step: Step, to: LineState, by: Attribution) -> (Line, Transition) {
        let mut next = self.clone();
        next.state = to;
        (
            next,
            Transition {
                step,
                from: self.state,
                to,
                by,
            },
        )
    }

    fn refuse_final(&self) -> Result<(), LineError> {
        if self.state.is_final() {
            Err(LineError::NeverReactivated { state: self.state })
        } else {
            Ok(())
        }
    }

    /// Sells the line to one real-name holder. A holder never changes.
    pub fn register(
        &self,
        holder: CustomerId,
        by: Attribution,
    ) -> Result<(Line, Transition), LineError> {
        match (self.state, self.holder) {
            (_, Some(h)) if h != holder => Err(LineError::TransferForbidden),
            (LineState::InStock, None) => {
                let (mut next, t) = self.step(Step::Register, LineState::Registered, by);
                next.holder = Some(holder);
                Ok((next, t))
            }
            _ if self.state.is_final() => Err(LineError::NeverReactivated { state: self.state }),
            (_, Some(_)) => Err(LineError::AlreadyRegistered),
            (state, None) => Err(LineError::NotAllowed {
                state,
                action: "registered",
            }),
        }
    }

    /// Starts validity; `grace_days` comes from the line's effective policy.
    pub fn activate(
        &self,
        validity: ValidityRule,
        grace_days: u32,
        by: Attribution,
    ) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        if self.state != LineState::Registered {
            return Err(LineError::NotAllowed {
                state: self.state,
                action: "activated",
            });
        }
        let at = by.at;
        let (mut next, t) = self.step(Step::Activate, LineState::Active, by);
        let ends = validity.ends_at(at);
        next.activated_at = Some(at);
        next.validity_ends_at = Some(ends);
        next.grace_ends_at = Some(grace_ends_at(ends, grace_days));
        Ok((next, t))
    }

    /// Ends use at the end of validity; the line stays queryable and cancellable in grace.
    pub fn expire(&self, by: Attribution) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        if self.state != LineState::Active {
            return Err(LineError::NotAllowed {
                state: self.state,
                action: "expired",
            });
        }
        let until = self.validity_ends_at.unwrap_or(Timestamp::MAX);
        if by.at < until {
            return Err(LineError::NotYetExpired { until });
        }
        Ok(self.step(Step::Expire, LineState::Expired, by))
    }

    /// Ends the line for good once grace is over.
    pub fn close(&self, by: Attribution) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        if self.state != LineState::Expired {
            return Err(LineError::NotAllowed {
                state: self.state,
                action: "closed",
            });
        }
        let until = self.grace_ends_at.unwrap_or(Timestamp::MAX);
        if by.at < until {
            return Err(LineError::GraceNotOver { until });
        }
        let at = by.at;
        let (mut next, t) = self.step(Step::Close, LineState::Closed, by);
        next.ended_at = Some(at);
        Ok((next, t))
    }

    /// An approved cancellation puts the line in pending termination until its effective date.
    pub fn begin_termination(&self, by: Attribution) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        match self.state {
            LineState::Registered | LineState::Active | LineState::Expired => {
                let (mut next, t) =
                    self.step(Step::BeginTermination, LineState::PendingTermination, by);
                next.state_before_pending = Some(self.state);
                Ok((next, t))
            }
            state => Err(LineError::NotAllowed {
                state,
                action: "put in pending termination",
            }),
        }
    }

    /// A withdrawn cancellation returns the line to where it was (or expired, if validity ran out meanwhile).
    pub fn withdraw_termination(&self, by: Attribution) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        if self.state != LineState::PendingTermination {
            return Err(LineError::NotAllowed {
                state: self.state,
                action: "returned from pending termination",
            });
        }
        let mut back = self.state_before_pending.unwrap_or(LineState::Active);
        if back == LineState::Active && self.validity_ends_at.is_some_and(|end| by.at >= end) {
            back = LineState::Expired;
        }
        let (mut next, t) = self.step(Step::WithdrawTermination, back, by);
        next.state_before_pending = None;
        Ok((next, t))
    }

    /// The cancellation takes effect. Final.
    pub fn terminate(&self, by: Attribution) -> Result<(Line, Transition), LineError> {
        self.refuse_final()?;
        if self.state != LineState::PendingTermination {
            return Err(LineError::NotAllowed {
                state: self.state,
                action: "terminated",
            });
        }
        let at = by.at;
        let (mut next, t) = self.step(Step::Terminate, LineState::Terminated, by);
        next.ended_at = Some(at);
        next.state_before_pending = None;
        Ok((next, t))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::attribution::{Actor, Channel};
    use crate::validity::Counting;
    use proptest::prelude::*;

    pub fn stock_line() -> Line {
        Line {
            id: LineId::new(1),
            iccid: Iccid::from_body("898110000000000001").unwrap(),
            imsi: "440101234567890".parse().unwrap(),
            msisdn: "09012345678".parse().unwrap(),
            carrier: "EX".into(),
            plan: "P".into(),
            kind: LineKind::Physical,
            eid: None,
            state: LineState::InStock,
            holder: None,
            activated_at: None,
            validity_ends_at: None,
            grace_ends_at: None,
            state_before_pending: None,
            ended_at: None,
            version: 0,
        }
    }

    fn by(at: &str) -> Attribution {
        Attribution::new(
            Actor::operator("ops"),
            Channel::Operator,
            at.parse().unwrap(),
            "test",
        )
    }

    const TEN_DAYS: ValidityRule = ValidityRule {
        days: 10,
        counting: Counting::CalendarDaysJst,
    };

    #[test]
    fn a_line_lives_its_whole_life() {
        let (l, t) = stock_line()
            .register(CustomerId::new(7), by("2026-11-20T01:00:00Z"))
            .unwrap();
        assert_eq!((t.from, t.to), (LineState::InStock, LineState::Registered));
        let (l, _) = l.activate(TEN_DAYS, 3, by("2026-11-25T01:00:00Z")).unwrap();
        assert_eq!(
            l.validity_ends_at,
            Some("2026-12-04T15:00:00Z".parse().unwrap())
        );
        assert!(matches!(
            l.expire(by("2026-12-04T14:59:59Z")),
            Err(LineError::NotYetExpired { .. })
        ));
        let (l, _) = l.expire(by("2026-12-04T15:00:00Z")).unwrap();
        assert!(matches!(
            l.close(by("2026-12-05T00:00:00Z")),
            Err(LineError::GraceNotOver { .. })
        ));
        let (l, t) = l.close(by("2026-12-07T15:00:00Z")).unwrap();
        assert_eq!(t.to, LineState::Closed);
        assert_eq!(l.ended_at, Some("2026-12-07T15:00:00Z".parse().unwrap()));
    }

    #[test]
    fn a_terminated_line_is_never_reactivated_or_transferred() {
        let (l, _) = stock_line()
            .register(CustomerId::new(7), by("2026-11-20T01:00:00Z"))
            .unwrap();
        let (l, _) = l.activate(TEN_DAYS, 3, by("2026-11-25T01:00:00Z")).unwrap();
        let (l, _) = l.begin_termination(by("2026-11-26T01:00:00Z")).unwrap();
        let (l, _) = l.terminate(by("2026-11-27T01:00:00Z")).unwrap();
        assert_eq!(
            l.activate(TEN_DAYS, 3, by("2026-11-28T00:00:00Z")),
            Err(LineError::NeverReactivated {
                state: LineState::Terminated
            })
        );
        assert_eq!(
            l.register(CustomerId::new(8), by("2026-11-28T00:00:00Z")),
            Err(LineError::TransferForbidden)
        );
        assert!(l
            .activate(TEN_DAYS, 3, by("2026-11-28T00:00:00Z"))
            .unwrap_err()
            .to_string()
            .contains("new SIM"));
    }

    #[test]
    fn withdrawing_returns_to_the_earlier_state() {
        let (l, _) = stock_line()
            .register(CustomerId::new(7), by("2026-11-20T01:00:00Z"))
            .unwrap();
        let (l, _) = l.activate(TEN_DAYS, 3, by("2026-11-25T01:00:00Z")).unwrap();
        let (p, _) = l.begin_termination(by("2026-11-26T01:00:00Z")).unwrap();
        assert_eq!(
            p.withdraw_termination(by("2026-11-26T02:00:00Z"))
                .unwrap()
                .0
                .state,
            LineState::Active
        );
        assert_eq!(
            p.withdraw_termination(by("2026-12-05T02:00:00Z"))
                .unwrap()
                .0
                .state,
            LineState::Expired
        );
    }

    #[derive(Debug, Clone, Copy)]
    enum Cmd {
        Register(i64),
        Activate,
        Expire,
        Close,
        Begin,
        Withdraw,
        Terminate,
    }

    fn cmd() -> impl Strategy<Value = Cmd> {
        prop_oneof![
            (1i64..4).prop_map(Cmd::Register),
            Just(Cmd::Activate),
            Just(Cmd::Expire),
            Just(Cmd::Close),
            Just(Cmd::Begin),
            Just(Cmd::Withdraw),
            Just(Cmd::Terminate),
        ]
    }

    proptest! {
        /// Whatever is tried in whatever order: nothing leaves a final state and the holder never changes.
        #[test]
        fn no_path_out_of_a_final_state_and_no_transfer(cmds in proptest::collection::vec((cmd(), 0i64..40), 0..40)) {
            let mut line = stock_line();
            let mut at: Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
            let mut first_holder = None;
            for (c, hours) in cmds {
                at = at.checked_add(jiff::SignedDuration::from_hours(hours * 7)).unwrap();
                let b = Attribution::new(Actor::operator("p"), Channel::Operator, at, "prop");
                let result = match c {
                    Cmd::Register(h) => line.register(CustomerId::new(h), b),
                    Cmd::Activate => line.activate(TEN_DAYS, 2, b),
                    Cmd::Expire => line.expire(b),
                    Cmd::Close => line.close(b),
                    Cmd::Begin => line.begin_termination(b),
                    Cmd::Withdraw => line.withdraw_termination(b),
                    Cmd::Terminate => line.terminate(b),
                };
                let was_final = line.state.is_final();
                if let Ok((next, t)) = result {
                    prop_assert!(!was_final, "left final state {:?} by {:?}", line.state, t.step);
                    prop_assert_eq!(t.from, line.state);
                    prop_assert_eq!(t.to, next.state);
                    if let (Some(a), Some(b)) = (first_holder, next.holder) {
                        prop_assert_eq!(a, b, "holder changed");
                    }
                    if first_holder.is_none() { first_holder = next.holder; }
                    prop_assert!(!(first_holder.is_some() && next.holder.is_none()));
                    line = next;
                }
            }
        }
    }
}
