//! Line use cases: find, register, activate, top up, record usage, bind and unbind add-ons, report.

use super::policies::PolicyBook;
use super::{ServiceError, ServiceResult};
use crate::store::{
    EntryRow, EventRow, ImportBatchRow, LineChange, LineKey, Lines, NewAddonBinding, NewEvent,
    Store, StoreError,
};
use jiff::Timestamp;
use serde::Serialize;
use simdesk_domain::attribution::Attribution;
use simdesk_domain::balance::{self, BucketUnit, EntryKind};
use simdesk_domain::customer::RegistrationForm;
use simdesk_domain::ids::{CarrierCode, CustomerId, Iccid, IdError, Msisdn};
use simdesk_domain::line::{Line, Transition};
use simdesk_domain::money::Money;
use simdesk_domain::validity::{format_jst, japan_date, last_valid_second};

/// How many times a decision is retried when someone else changed the line meanwhile.
const ATTEMPTS: usize = 3;

/// Reads "a line" the way people type it: an ICCID (19–20 digits starting 89) or a phone number,
/// in any form their parsers accept (separators, full-width digits).
pub fn parse_line_key(text: &str) -> ServiceResult<LineKey> {
    // No way of writing a Japanese mobile number reads as an ICCID: those start 0, 81 or +81.
    match text.parse::<Iccid>() {
        Ok(iccid) => return Ok(LineKey::Iccid(iccid)),
        // Length and prefix fit: an ICCID with a mistyped digit, which is what to say.
        Err(e @ IdError::IccidCheckDigit { .. }) => return Err(e.into()),
        Err(_) => {}
    }
    match text.parse::<Msisdn>() {
        Ok(m) => Ok(LineKey::Msisdn(m)),
        Err(e) => Err(ServiceError::Invalid(format!(
            "{:?} is neither an ICCID (19 or 20 digits starting 89) nor a Japanese mobile number: {e}",
            super::excerpt(text, 64)
        ))),
    }
}

pub async fn find_line(store: &dyn Lines, key: &LineKey) -> ServiceResult<Line> {
    store
        .line(key)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("line {}", describe(key))))
}

fn describe(key: &LineKey) -> String {
    match key {
        LineKey::Id(id) => format!("#{id}"),
        LineKey::Iccid(i) => format!("with ICCID {i}"),
        LineKey::Msisdn(m) => format!("with number {m}"),
        LineKey::Imsi(i) => format!("with IMSI {i}"),
    }
}

fn transition_event(t: &Transition, detail: String, policy_version: Option<i64>) -> NewEvent {
    NewEvent {
        kind: t.step.as_str().to_string(),
        from: Some(t.from),
        to: Some(t.to),
        detail,
        by: t.by.clone(),
        policy_version,
    }
}

pub(super) fn plain_event(
    kind: &str,
    detail: String,
    by: &Attribution,
    policy_version: Option<i64>,
) -> NewEvent {
    NewEvent {
        kind: kind.to_string(),
        from: None,
        to: None,
        detail,
        by: by.clone(),
        policy_version,
    }
}

/// Runs decide-and-store, deciding again on fresh state if the line changed meanwhile.
pub(super) async fn with_retry<'a, F>(
    store: &'a dyn Lines,
    key: &LineKey,
    mut decide: F,
) -> ServiceResult<Line>
where
    F: FnMut(&Line) -> futures_lite::BoxedDecision<'a>,
{
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let line = find_line(store, key).await?;
        let change = decide(&line).await?;
        match store.apply(&change).await {
            Ok(()) => return find_line(store, &LineKey::Id(line.id)).await,
            Err(StoreError::Conflict) => last = Some(StoreError::Conflict),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.map(ServiceError::from).unwrap_or(ServiceError::Busy))
}

/// Boxed futures for the retry loop, kept small and local.
pub(super) mod futures_lite {
    use super::*;
    pub type BoxedDecision<'a> =
        std::pin::Pin<Box<dyn std::future::Future<Output = ServiceResult<LineChange>> + Send + 'a>>;
}

/// Registers a line in stock to one real-name holder.
pub async fn register(
    store: &dyn Store,
    book: &PolicyBook,
    key: &LineKey,
    form: &RegistrationForm,
    by: Attribution,
) -> ServiceResult<Line> {
    let registration = form.validate(japan_date(by.at))?;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let line = find_line(store, key).await?;
        let (_, version) = book.for_line(&line)?;
        // A line keeps its first holder: the same person registering again is told so, anyone
        // else is refused as a transfer.
        let claimant = match line.holder {
            Some(h) => match store.customer(h).await? {
                Some(crate::store::CustomerRow {
                    personal: Some(p), ..
                }) if p.passport_number == registration.personal.passport_number => h,
                _ => NEW_HOLDER,
            },
            None => NEW_HOLDER,
        };
        let (mut next, t) = line.register(claimant, by.clone())?;
        // The store creates the holder in the same transaction and sets the line's holder to it.
        next.holder = None;
        let mut change = LineChange::new(
            next,
            transition_event(
                &t,
                format!("language {}", registration.language),
                Some(version),
            ),
        );
        change.new_holder = Some(registration.clone());
        let customer = if claimant == NEW_HOLDER {
            CustomerId::default()
        } else {
            claimant
        };
        change.outbox.push(super::effects::notice(
            crate::messages::Event::Registration,
            "first",
            &line,
            customer,
            registration.language.tag(),
            serde_json::json!({ "plan": plan_name(book, &line) }),
            by.at,
        ));
        match store.apply(&change).await {
            Ok(()) => return find_line(store, &LineKey::Id(line.id)).await,
            Err(StoreError::Conflict) if attempts < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The plan's name as travellers know it.
fn plan_name(book: &PolicyBook, line: &Line) -> String {
    book.for_line(line)
        .map(|(p, _)| p.plan.name.clone())
        .unwrap_or_else(|_| line.plan.clone())
}

/// Stands for the holder registration is about to create (real ids are positive).
const NEW_HOLDER: CustomerId = CustomerId::new(-1);

/// Starts the line's validity and grants the plan's data and credit.
pub async fn activate(
    store: &dyn Store,
    book: &PolicyBook,
    key: &LineKey,
    by: Attribution,
) -> ServiceResult<Line> {
    with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        Box::pin(async move {
            let (policy, version) = book.for_line(&line)?;
            let at = by.at;
            let (next, t) = line.activate(policy.plan.validity, policy.grace_days(), by)?;
            let ends = next.validity_ends_at.unwrap_or(Timestamp::MAX);
            let valid_until = format_jst(last_valid_second(ends));
            let detail = format!("valid until {valid_until}");
            let mut change =
                LineChange::new(next.clone(), transition_event(&t, detail, Some(version)));
            change.balance = balance::activation_grants(
                policy.plan.data_allowance_mb,
                policy.plan.initial_credit,
                ends,
            );
            change.outbox.push(super::effects::network(
                super::effects::NetworkOp::Provision,
                "activation",
                &next,
                at,
            ));
            if let Some(holder) = line.holder {
                let language = store
                    .customer(holder)
                    .await?
                    .map(|c| c.language)
                    .unwrap_or_else(|| "en".into());
                change.outbox.push(super::effects::notice(
                    crate::messages::Event::Activation,
                    "first",
                    &next,
                    holder,
                    &language,
                    serde_json::json!({ "valid_until": valid_until }),
                    at,
                ));
            }
            Ok(change)
        })
    })
    .await
}

/// Adds prepaid money to an active line.
pub async fn top_up(
    store: &dyn Store,
    book: &PolicyBook,
    key: &LineKey,
    amount: &str,
    by: Attribution,
) -> ServiceResult<Line> {
    with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        let amount = amount.to_string();
        Box::pin(async move {
            let (policy, version) = book.for_line(&line)?;
            let money = Money::parse(&amount)
                .or_else(|_| Money::parse_in(&amount, policy.carrier.currency))?;
            let change_balance =
                balance::top_up(line.state, policy.carrier, money, line.validity_ends_at)?;
            let event = plain_event("top_up", format!("top-up of {money}"), &by, Some(version));
            let stopped = store.line_usage(line.id).await?.data_stopped;
            let mut change = LineChange::new(line, event);
            change.balance = change_balance;
            if simdesk_domain::usage::top_up_pays_data(&policy.carrier.usage, money) {
                super::usage::exhaustion::lift(&mut change, stopped, by.at);
            }
            Ok(change)
        })
    })
    .await
}

/// What a line used: data in megabytes or money (calls, SMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    DataMb(i64),
    Money(Money),
}

/// Records usage against the line's live buckets.
pub async fn record_usage(
    store: &dyn Lines,
    book: &PolicyBook,
    key: &LineKey,
    usage: Usage,
    by: Attribution,
) -> ServiceResult<Line> {
    with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        Box::pin(async move {
            let (policy, version) = book.for_line(&line)?;
            let buckets = store.buckets(line.id).await?;
            let (unit, amount, what) = match usage {
                Usage::DataMb(mb) => (BucketUnit::Megabytes, mb, format!("{mb} MB of data")),
                Usage::Money(m) => {
                    if m.currency() != policy.carrier.currency {
                        return Err(ServiceError::Invalid(format!(
                            "usage is in {}, but this carrier works in {}",
                            m.currency(),
                            policy.carrier.currency
                        )));
                    }
                    (
                        BucketUnit::Money(m.currency()),
                        m.minor(),
                        format!("{m} of calls and SMS"),
                    )
                }
            };
            let movements = balance::consume(
                line.state,
                &buckets,
                unit,
                amount,
                EntryKind::Usage,
                "usage",
                by.at,
            )?;
            let event = plain_event("usage", format!("used {what}"), &by, Some(version));
            let mut change = LineChange::new(line, event);
            change.balance = movements;
            Ok(change)
        })
    })
    .await
}

/// Binds an add-on; its charge comes out of the money balance.
pub async fn bind_addon(
    store: &dyn Store,
    book: &PolicyBook,
    key: &LineKey,
    code: &str,
    by: Attribution,
) -> ServiceResult<Line> {
    with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        let code = code.to_string();
        Box::pin(async move {
            let (policy, version) = book.for_line(&line)?;
            let bound = store.addons(line.id).await?;
            let buckets = store.buckets(line.id).await?;
            let line_id = line.id;
            let (offer, movements) = balance::bind_addon(
                line.state,
                policy.carrier,
                &bound,
                &buckets,
                &code,
                line.validity_ends_at,
                by.at,
            )?;
            let event = plain_event(
                "addon_bind",
                format!(
                    "bound {} ({}), charge {}",
                    offer.code, offer.name, offer.charge
                ),
                &by,
                Some(version),
            );
            let mut change = LineChange::new(line, event);
            change.balance = movements;
            change.bind = Some(NewAddonBinding {
                code: offer.code.clone(),
                charge: offer.charge,
            });
            // A data pack gives the line data to use again.
            if offer.data_mb > 0 {
                let stopped = store.line_usage(line_id).await?.data_stopped;
                super::usage::exhaustion::lift(&mut change, stopped, by.at);
            }
            Ok(change)
        })
    })
    .await
}

/// Unbinds an add-on; its charges stop from now.
pub async fn unbind_addon(
    store: &dyn Lines,
    book: &PolicyBook,
    key: &LineKey,
    code: &str,
    by: Attribution,
) -> ServiceResult<Line> {
    with_retry(store, key, |line| {
        let line = line.clone();
        let by = by.clone();
        let code = code.to_string();
        Box::pin(async move {
            let (_, version) = book.for_line(&line)?;
            let bound = store.addons(line.id).await?;
            let binding = balance::unbind_addon(&bound, &code)?;
            let event = plain_event(
                "addon_unbind",
                format!("unbound {}", binding.code),
                &by,
                Some(version),
            );
            let mut change = LineChange::new(line.clone(), event);
            change.unbind = vec![binding.id];
            Ok(change)
        })
    })
    .await
}

/// Everything a person asks about a line, in one readable document.
#[derive(Debug, Clone, Serialize)]
pub struct LineReport {
    pub iccid: String,
    pub imsi: String,
    pub msisdn: String,
    pub kind: String,
    pub eid: Option<String>,
    pub carrier: CarrierCode,
    pub plan: String,
    pub plan_name: String,
    pub state: String,
    pub holder_id: Option<CustomerId>,
    pub activated_at: Option<Timestamp>,
    /// Last valid second, in Japan time.
    pub valid_until_jst: Option<String>,
    pub grace_until_jst: Option<String>,
    pub ended_at: Option<Timestamp>,
    pub balance: Vec<BalanceLine>,
    /// The latest instant a counted usage record reached, in Japan time: the balance is what
    /// is left after everything used up to then.
    pub usage_counted_until_jst: Option<String>,
    /// `bar` or `throttle` while data is stopped because nothing is left to pay for it.
    pub data_stopped: Option<simdesk_domain::usage::WhenExhausted>,
    pub addons: Vec<AddonLine>,
    /// The import that stocked the line.
    pub stocked: Option<ImportBatchRow>,
    pub history: Vec<EventRow>,
    pub entries: Vec<EntryRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BalanceLine {
    pub unit: String,
    /// What the bucket was given.
    pub initial: i64,
    /// What usage and charges took from it.
    pub used: i64,
    pub remaining: i64,
    pub expires_at_jst: Option<String>,
    pub source: String,
    pub live: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddonLine {
    pub code: String,
    pub charge: Money,
    pub bound_at: Timestamp,
    pub unbound_at: Option<Timestamp>,
}

pub async fn report(
    store: &dyn Store,
    book: &PolicyBook,
    key: &LineKey,
    now: Timestamp,
) -> ServiceResult<LineReport> {
    let line = find_line(store, key).await?;
    report_of(store, book, line, now).await
}

/// The report of a line already read (callers that looked it up to check access).
pub async fn report_of(
    store: &dyn Store,
    book: &PolicyBook,
    line: Line,
    now: Timestamp,
) -> ServiceResult<LineReport> {
    let plan_name = book
        .plan(&line.carrier, &line.plan)
        .map(|p| p.name.clone())
        .unwrap_or_else(|_| line.plan.clone());
    let buckets = store.buckets(line.id).await?;
    let addons = store.addons(line.id).await?;
    let usage = store.line_usage(line.id).await?;
    Ok(LineReport {
        iccid: line.iccid.to_string(),
        imsi: line.imsi.to_string(),
        msisdn: line.msisdn.to_string(),
        kind: line.kind.as_str().to_string(),
        eid: line.eid.as_ref().map(|e| e.to_string()),
        carrier: line.carrier.clone(),
        plan: line.plan.clone(),
        plan_name,
        state: line.state.as_str().to_string(),
        holder_id: line.holder,
        activated_at: line.activated_at,
        valid_until_jst: line
            .validity_ends_at
            .map(|t| format_jst(last_valid_second(t))),
        grace_until_jst: line.grace_ends_at.map(|t| format_jst(last_valid_second(t))),
        ended_at: line.ended_at,
        balance: buckets
            .iter()
            .map(|b| BalanceLine {
                unit: b.unit.as_str().to_string(),
                initial: b.initial,
                used: (b.initial - b.remaining).max(0),
                remaining: b.remaining,
                expires_at_jst: b.expires_at.map(|t| format_jst(last_valid_second(t))),
                source: b.source.clone(),
                live: b.is_live(now),
            })
            .collect(),
        usage_counted_until_jst: usage.counted_until.map(format_jst),
        data_stopped: usage.data_stopped,
        addons: addons
            .iter()
            .map(|a| AddonLine {
                code: a.code.clone(),
                charge: a.charge,
                bound_at: a.bound_at,
                unbound_at: a.unbound_at,
            })
            .collect(),
        stocked: store.import_batch_of(line.id).await?,
        history: store.events(line.id).await?,
        entries: store.balance_entries(line.id).await?,
    })
}
