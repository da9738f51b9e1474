//! The quote: where a line stands before it is cancelled, and what cancelling it would bring.

use super::live_money;
use crate::services::lines::find_line;
use crate::services::{ServiceContext, ServiceError, ServiceResult};
use crate::store::LineKey;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Channel;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::cancellation::{decide_quote, CannotCancel, QuoteError, TimeLeft, WhatHappens};
use simdesk_domain::identity;
use simdesk_domain::ids::{CarrierCode, RequestId};
use simdesk_domain::money::Money;
use simdesk_domain::policy::IdentityCheck;
use simdesk_domain::refund::Refund;
use simdesk_domain::validity::{format_jst, last_valid_second};

/// Where the customer stands before cancelling. Reasons and consequences are typed; each edge
/// says them in its own words.
#[derive(Debug, Clone, Serialize)]
pub struct Quote {
    pub line: String,
    pub msisdn: String,
    pub carrier: CarrierCode,
    pub plan: String,
    pub state: String,
    pub can_cancel: bool,
    /// Why not, when `can_cancel` is false.
    pub cannot_because: Option<CannotCancel>,
    pub valid_now: bool,
    pub valid_until_jst: Option<String>,
    /// Advice when validity remains; it never stops a cancellation.
    pub time_left_notice: Option<TimeLeft>,
    pub balance: Money,
    pub data_mb: i64,
    /// Balance and refund count the usage the network reported up to this instant; records
    /// that arrive later never change a refund already paid.
    pub usage_counted_until: Option<Timestamp>,
    pub bound_addons: Vec<QuoteAddon>,
    pub refund: Option<Refund>,
    pub effective_date_if_submitted_now: Option<Date>,
    pub identity_needed: Vec<ChannelChecks>,
    pub open_request: Option<RequestId>,
    pub what_happens: Vec<WhatHappens>,
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
    let open = ctx
        .s()
        .open_request_for_line(line.id)
        .await?
        .map(|r| r.request.id);
    let bound_now: Vec<String> = bound
        .iter()
        .filter(|b| b.unbound_at.is_none())
        .map(|b| b.code.clone())
        .collect();
    let decided =
        decide_quote(&line, open, &buckets, &bound_now, &policy, now).map_err(|e| match e {
            QuoteError::Calendar(e) => ServiceError::from(e),
            QuoteError::Money(e) => ServiceError::from(e),
        })?;
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
        can_cancel: decided.can_cancel(),
        cannot_because: decided.cannot,
        valid_now: decided.time_left.is_some(),
        valid_until_jst: line
            .validity_ends_at
            .map(|e| format_jst(last_valid_second(e))),
        time_left_notice: decided.time_left,
        balance: money,
        data_mb,
        usage_counted_until: ctx.s().line_usage(line.id).await?.counted_until,
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
        refund: decided.refund,
        effective_date_if_submitted_now: decided.effective_date,
        identity_needed,
        open_request: open,
        what_happens: decided.what_happens,
    })
}
