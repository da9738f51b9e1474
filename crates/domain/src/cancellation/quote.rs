//! The quote decided: whether a line can be cancelled now and, if so, what cancelling it brings.
//!
//! Everything here is typed; each edge (pages, API, CLI, messages) says it in its own words. The
//! `Display` texts are the English the API and the CLI show.

use super::{effective_date, may_open, start_of_day_jst, CancellationError};
use crate::balance::{self, Bucket, BucketUnit};
use crate::calendar::CalendarError;
use crate::ids::RequestId;
use crate::line::{Line, LineState};
use crate::money::{Money, MoneyError};
use crate::policy::EffectivePolicy;
use crate::refund::{self, Refund, RefundBasis};
use crate::validity::{format_jst, last_valid_second};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;
use std::fmt;

/// Why a line cannot be cancelled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CannotCancel {
    /// Still in stock: nobody holds it yet.
    NotSold,
    AlreadyCancelled,
    /// It reached the end of its validity and grace on its own.
    AlreadyEnded,
    /// A request is already open (its id, when the store knows it).
    RequestOpen {
        request: Option<RequestId>,
    },
}

impl CannotCancel {
    /// A stable code for machines and for message ids.
    pub fn code(self) -> &'static str {
        match self {
            CannotCancel::NotSold => "not_sold",
            CannotCancel::AlreadyCancelled => "already_cancelled",
            CannotCancel::AlreadyEnded => "already_ended",
            CannotCancel::RequestOpen { .. } => "request_open",
        }
    }

    /// What the request state machine's refusal means for the quote.
    fn from_refusal(refusal: &CancellationError, open: Option<RequestId>) -> Option<CannotCancel> {
        match refusal {
            CancellationError::LineInStock => Some(CannotCancel::NotSold),
            CancellationError::LineEnded(LineState::Terminated) => {
                Some(CannotCancel::AlreadyCancelled)
            }
            CancellationError::LineEnded(_) => Some(CannotCancel::AlreadyEnded),
            CancellationError::AlreadyOpen => Some(CannotCancel::RequestOpen { request: open }),
            _ => None,
        }
    }
}

impl fmt::Display for CannotCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CannotCancel::NotSold => "the line has not been sold",
            CannotCancel::AlreadyCancelled => "the line is already cancelled",
            CannotCancel::AlreadyEnded => "the line has already ended",
            CannotCancel::RequestOpen { .. } => {
                "a cancellation request is already open for this line"
            }
        })
    }
}

/// One thing that happens when the cancellation is requested now, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum WhatHappens {
    /// The cancellation takes effect on `date` (Japan time), `business_days` after the request.
    TakesEffect { date: Date, business_days: u32 },
    /// The line is barred from approval until then.
    BarredAtApproval,
    /// The line is not barred, but should not be used until then.
    DoNotUseMeanwhile,
    /// These add-ons are unbound and their charges stop.
    AddonsUnbound { addons: Vec<String> },
    /// The line is removed from the network for good.
    RemovedFromNetwork,
    /// `amount` is credited to the e-wallet.
    Refund { amount: Money },
    /// The carrier's terms leave nothing to refund.
    NothingToRefund,
    /// A confirmation and a signed receipt follow.
    Receipt,
}

impl WhatHappens {
    /// A stable code for machines and for message ids.
    pub fn code(&self) -> &'static str {
        match self {
            WhatHappens::TakesEffect { .. } => "takes_effect",
            WhatHappens::BarredAtApproval => "barred_at_approval",
            WhatHappens::DoNotUseMeanwhile => "do_not_use_meanwhile",
            WhatHappens::AddonsUnbound { .. } => "addons_unbound",
            WhatHappens::RemovedFromNetwork => "removed_from_network",
            WhatHappens::Refund { .. } => "refund",
            WhatHappens::NothingToRefund => "nothing_to_refund",
            WhatHappens::Receipt => "receipt",
        }
    }
}

impl fmt::Display for WhatHappens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WhatHappens::TakesEffect { date, business_days } => write!(
                f,
                "The cancellation takes effect on {date} (Japan time), {business_days} business day(s) after the request."
            ),
            WhatHappens::BarredAtApproval => f.write_str(
                "Until then the line is barred: it cannot be used from the moment the request is approved.",
            ),
            WhatHappens::DoNotUseMeanwhile => f.write_str("Until then, please do not use the line."),
            WhatHappens::AddonsUnbound { addons } => write!(
                f,
                "These add-ons are unbound and their charges stop: {}.",
                addons.join(", ")
            ),
            WhatHappens::RemovedFromNetwork => f.write_str(
                "The line is removed from the network; it can never be used again or transferred.",
            ),
            WhatHappens::Refund { amount } => write!(
                f,
                "{amount} is credited to your e-wallet, from which it can be paid out."
            ),
            WhatHappens::NothingToRefund => {
                f.write_str("No refund is due under the carrier's terms.")
            }
            WhatHappens::Receipt => {
                f.write_str("You receive a confirmation and a signed receipt in your language.")
            }
        }
    }
}

/// Advice when validity remains: the line may be used up first. It never stops a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeLeft {
    /// The first instant the line is no longer valid.
    pub validity_ends_at: Timestamp,
}

impl TimeLeft {
    /// The last valid second, as travellers read it (`2026-05-20 23:59:59 JST`).
    pub fn valid_until_jst(self) -> String {
        format_jst(last_valid_second(self.validity_ends_at))
    }
}

impl fmt::Display for TimeLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "The line is valid until {}. You may use it up before cancelling; cancelling now is also fine.",
            self.valid_until_jst()
        )
    }
}

/// What the quote comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteDecision {
    /// Why not, when the line cannot be cancelled now; then nothing below is given.
    pub cannot: Option<CannotCancel>,
    pub effective_date: Option<Date>,
    /// The refund as completion would compute it on the effective date.
    pub refund: Option<Refund>,
    pub time_left: Option<TimeLeft>,
    pub what_happens: Vec<WhatHappens>,
}

impl QuoteDecision {
    pub fn can_cancel(&self) -> bool {
        self.cannot.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// What a refund is computed from when the line ends at `at` with `balance` left.
pub fn refund_basis(
    line: &Line,
    policy: &EffectivePolicy<'_>,
    balance: Money,
    at: Timestamp,
) -> RefundBasis {
    let total = i64::from(policy.plan.validity.days) * 86_400;
    let remaining = match (line.activated_at, line.validity_ends_at) {
        (None, _) => total,
        (Some(_), Some(end)) => end.duration_since(at).as_secs().clamp(0, total),
        (Some(_), None) => 0,
    };
    RefundBasis {
        balance,
        plan_price: policy.plan.price,
        validity_total_secs: total,
        validity_remaining_secs: remaining,
    }
}

/// Decides the quote for `line` at `now`: `open_request` is the line's open request, if any;
/// `buckets` its balance; `bound_addons` the codes of add-ons bound now.
pub fn decide_quote(
    line: &Line,
    open_request: Option<RequestId>,
    buckets: &[Bucket],
    bound_addons: &[String],
    policy: &EffectivePolicy<'_>,
    now: Timestamp,
) -> Result<QuoteDecision, QuoteError> {
    let valid_now =
        line.state == LineState::Active && line.validity_ends_at.is_some_and(|e| now < e);
    let time_left = line
        .validity_ends_at
        .filter(|_| valid_now)
        .map(|validity_ends_at| TimeLeft { validity_ends_at });
    let cannot = match may_open(line) {
        Err(refusal) => CannotCancel::from_refusal(&refusal, open_request),
        Ok(()) => open_request.map(|id| CannotCancel::RequestOpen { request: Some(id) }),
    };
    if cannot.is_some() {
        return Ok(QuoteDecision {
            cannot,
            effective_date: None,
            refund: None,
            time_left,
            what_happens: Vec::new(),
        });
    }
    let rules = policy.cancellation();
    let date = effective_date(now, rules, &policy.calendar())?;
    let at = start_of_day_jst(date);
    // What remains at the effective instant, as completion computes it.
    let currency = policy.carrier.currency;
    let remaining = Money::new(
        balance::remaining(buckets, BucketUnit::Money(currency), at),
        currency,
    );
    let refund = refund::compute(policy.refund(), &refund_basis(line, policy, remaining, at))?;
    let mut what_happens = vec![WhatHappens::TakesEffect {
        date,
        business_days: rules.effective_delay_business_days,
    }];
    what_happens.push(if rules.bar_while_pending {
        WhatHappens::BarredAtApproval
    } else {
        WhatHappens::DoNotUseMeanwhile
    });
    if !bound_addons.is_empty() {
        what_happens.push(WhatHappens::AddonsUnbound {
            addons: bound_addons.to_vec(),
        });
    }
    what_happens.push(WhatHappens::RemovedFromNetwork);
    what_happens.push(if refund.total.is_positive() {
        WhatHappens::Refund {
            amount: refund.total,
        }
    } else {
        WhatHappens::NothingToRefund
    });
    what_happens.push(WhatHappens::Receipt);
    Ok(QuoteDecision {
        cannot: None,
        effective_date: Some(date),
        refund: Some(refund),
        time_left,
        what_happens,
    })
}

#[cfg(test)]
#[path = "quote_tests.rs"]
mod tests;
