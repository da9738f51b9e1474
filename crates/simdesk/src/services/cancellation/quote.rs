//! The quote: where a line stands before it is cancelled, and what cancelling it would bring.

use super::{live_money, refund_basis};
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceResult};
use crate::store::LineKey;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Channel;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::cancellation::{self};
use simdesk_domain::identity::{self};
use simdesk_domain::line::LineState;
use simdesk_domain::money::Money;
use simdesk_domain::policy::IdentityCheck;
use simdesk_domain::refund::{self, Refund};
use simdesk_domain::validity::{format_jst, last_valid_second};

/// Where the customer stands before cancelling.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub line: String,
    pub msisdn: String,
    pub carrier: String,
    pub plan: String,
    pub state: String,
    pub can_cancel: bool,
    /// Why not, when `can_cancel` is false.
    pub cannot_because: Option<String>,
    pub valid_now: bool,
    pub valid_until_jst: Option<String>,
    /// Advice when validity remains; it never stops a cancellation.
    pub time_left_notice: Option<String>,
    pub balance: Money,
    pub data_mb: i64,
    pub bound_addons: Vec<QuoteAddon>,
    pub refund: Option<Refund>,
    pub effective_date_if_submitted_now: Option<Date>,
    pub identity_needed: Vec<ChannelChecks>,
    pub open_request: Option<i64>,
    pub what_happens: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuoteAddon {
    pub code: String,
    pub name: String,
    pub charge: Money,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelChecks {
    pub channel: Channel,
    pub checks: Vec<IdentityCheck>,
}

/// Tells the customer where they stand; never refuses because time remains.
pub async fn quote(ctx: &ServiceContext, key: &LineKey, now: Timestamp) -> ServiceResult<Quote> {
    let line = find_line(ctx.s(), key).await?;
    let (policy, _) = ctx.book.for_line(&line)?;
    let buckets = ctx.s().buckets(line.id).await?;
    let bound = ctx.s().addons(line.id).await?;
    let currency = policy.carrier.currency;
    let money = live_money(&buckets, currency, now);
    let data_mb = balance::remaining(&buckets, BucketUnit::Megabytes, now);
    let open = ctx.s().open_request_for_line(line.id).await?;
    let cannot_because = match line.state {
        LineState::InStock => Some("the line has not been sold".to_string()),
        LineState::Terminated => Some("the line is already cancelled".to_string()),
        LineState::Closed => Some("the line has already ended".to_string()),
        _ if open.is_some() => {
            Some("a cancellation request is already open for this line".to_string())
        }
        _ => None,
    };
    let can_cancel = cannot_because.is_none();
    let effective = if can_cancel {
        Some(cancellation::effective_date(
            now,
            policy.cancellation(),
            &policy.calendar(),
        )?)
    } else {
        None
    };
    let refund = match effective {
        Some(date) => {
            let at = cancellation::start_of_day_jst(date);
            // What remains at the effective instant, as completion computes it.
            let remaining = live_money(&buckets, currency, at);
            Some(refund::compute(
                policy.refund(),
                &refund_basis(&line, &policy, remaining, at),
            )?)
        }
        None => None,
    };
    let valid_now =
        line.state == LineState::Active && line.validity_ends_at.is_some_and(|e| now < e);
    let time_left_notice = match (valid_now, line.validity_ends_at) {
        (true, Some(end)) => Some(format!(
            "The line is valid until {}. You may use it up before cancelling; cancelling now is also fine.",
            format_jst(last_valid_second(end))
        )),
        _ => None,
    };
    let mut what_happens = Vec::new();
    if let (Some(date), Some(refund)) = (effective, &refund) {
        what_happens.push(format!("The cancellation takes effect on {date} (Japan time), {} business day(s) after the request.", policy.cancellation().effective_delay_business_days));
        if policy.cancellation().bar_while_pending {
            what_happens.push("Until then the line is barred: it cannot be used from the moment the request is approved.".into());
        } else {
            what_happens.push("Until then, please do not use the line.".into());
        }
        let bound_now: Vec<&str> = bound
            .iter()
            .filter(|b| b.unbound_at.is_none())
            .map(|b| b.code.as_str())
            .collect();
        if !bound_now.is_empty() {
            what_happens.push(format!(
                "These add-ons are unbound and their charges stop: {}.",
                bound_now.join(", ")
            ));
        }
        what_happens.push(
            "The line is removed from the network; it can never be used again or transferred."
                .into(),
        );
        if refund.total.is_positive() {
            what_happens.push(format!(
                "{} is credited to your e-wallet, from which it can be paid out.",
                refund.total
            ));
        } else {
            what_happens.push("No refund is due under the carrier's terms.".into());
        }
        what_happens
            .push("You receive a confirmation and a signed receipt in your language.".into());
    }
    let identity = policy.identity();
    let identity_needed = [Channel::Web, Channel::Hotline, Channel::Store]
        .into_iter()
        .map(|c| ChannelChecks {
            channel: c,
            checks: identity::required_checks(identity, c),
        })
        .collect();
    Ok(Quote {
        line: line.iccid.to_string(),
        msisdn: line.msisdn.to_string(),
        carrier: line.carrier.clone(),
        plan: line.plan.clone(),
        state: line.state.as_str().into(),
        can_cancel,
        cannot_because,
        valid_now,
        valid_until_jst: line
            .validity_ends_at
            .map(|e| format_jst(last_valid_second(e))),
        time_left_notice,
        balance: money,
        data_mb,
        bound_addons: bound
            .iter()
            .filter(|b| b.unbound_at.is_none())
            .map(|b| QuoteAddon {
                code: b.code.clone(),
                name: policy
                    .carrier
                    .addon(&b.code)
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| b.code.clone()),
                charge: b.charge,
            })
            .collect(),
        refund,
        effective_date_if_submitted_now: effective,
        identity_needed,
        open_request: open.map(|r| r.request.id),
        what_happens,
    })
}
