//! The store counter: calling the next ticket and cancelling with the customer present.

use super::{carrier_line, failed, html, today, PageError, StaffSession};
use crate::services::access::Permission;
use crate::services::cancellation::{self};
use crate::store::LineKey;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;
use simdesk_domain::attribution::Channel;
use simdesk_domain::ids::RequestId;
use simdesk_domain::policy::IdentityCheck;
use simdesk_domain::validity::format_jst;

#[derive(Template)]
#[template(path = "counter.html")]
struct CounterPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    counter: String,
    serving: Option<i64>,
    ticket_id: i64,
    waiting: i64,
}

#[derive(Deserialize, Default)]
pub struct CounterQuery {
    counter: Option<String>,
}

async fn counter_page(
    state: &AppState,
    me: &StaffSession,
    counter: String,
    serving: Option<(i64, i64)>,
    flash: Option<String>,
) -> Response {
    let waiting = match state
        .ctx
        .store
        .queue_board(&me.carrier, &today(state))
        .await
    {
        Ok((_, waiting)) => waiting,
        Err(e) => return failed(e.into()),
    };
    html(CounterPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash,
        counter,
        serving: serving.map(|(n, _)| n),
        ticket_id: serving.map(|(_, id)| id).unwrap_or_default(),
        waiting,
    })
}

pub async fn counter(
    State(state): State<AppState>,
    me: StaffSession,
    Query(q): Query<CounterQuery>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::Counter) {
        return refused;
    }
    counter_page(
        &state,
        &me,
        q.counter.unwrap_or_else(|| "1".into()),
        None,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct NextForm {
    csrf: String,
    counter: String,
}

pub async fn call_next(
    State(state): State<AppState>,
    me: StaffSession,
    Form(form): Form<NextForm>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::Counter) {
        return refused;
    }
    if let Err(e) = me.check_form(&form.csrf) {
        return failed(e);
    }
    let counter: String = form.counter.trim().chars().take(16).collect();
    match state
        .ctx
        .store
        .call_next_ticket(
            &me.carrier,
            &today(&state),
            &counter,
            &me.username,
            state.clock.now(),
        )
        .await
    {
        Ok(Some(t)) => counter_page(&state, &me, counter, Some((t.number, t.id)), None).await,
        Ok(None) => {
            counter_page(
                &state,
                &me,
                counter,
                None,
                Some("Nobody is waiting.".into()),
            )
            .await
        }
        Err(e) => failed(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CounterCancelForm {
    csrf: String,
    ticket: i64,
    /// The ticket's number and the counter, so that a mistyped form comes back still serving it.
    number: Option<i64>,
    counter: Option<String>,
    iccid: String,
    name: String,
    passport: String,
}

#[derive(Template)]
#[template(path = "slip.html")]
struct SlipPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    id: RequestId,
    msisdn: String,
    iccid: String,
    effective: String,
    refund: String,
    clerk: String,
    at: String,
}

/// The clerk has the passport and the SIM in hand: checks them against the registration and
/// submits; the slip is printed for the customer.
pub async fn counter_cancel(
    State(state): State<AppState>,
    me: StaffSession,
    Form(form): Form<CounterCancelForm>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::StoreCancel) {
        return refused;
    }
    if let Err(e) = me.check_form(&form.csrf) {
        return failed(e);
    }
    let counter: String = form
        .counter
        .as_deref()
        .unwrap_or("1")
        .trim()
        .chars()
        .take(16)
        .collect();
    let serving = form.number.map(|n| (n, form.ticket));
    macro_rules! retry {
        ($message:expr) => {
            return counter_page(&state, &me, counter, serving, Some($message)).await
        };
    }
    let line = match carrier_line(&state, &me, &form.iccid).await {
        Ok(line) => line,
        Err(PageError::NotFound) => retry!(
            "No line of this carrier has that ICCID; check the number printed on the SIM.".into()
        ),
        Err(e) => return failed(e),
    };
    let store = state.ctx.store.as_ref();
    let registered = match line.holder {
        Some(h) => match store.customer(h).await {
            Ok(customer) => customer,
            Err(e) => return failed(e.into()),
        },
        None => None,
    };
    let Some(holder) = registered else {
        retry!("The line has no registered holder.".into())
    };
    let account = me.account();
    if let Err(e) = state.guard().knowledge_allowed(&account, line.id).await {
        return failed(e.into());
    }
    let matches = holder.personal.as_ref().is_some_and(|p| {
        simdesk_domain::identity::knowledge_matches(p, &form.name, &form.passport)
    });
    if !matches {
        state.guard().knowledge_failed(&account, line.id).await;
        retry!("The passport does not match the registration of this SIM.".into());
    }
    // The quote only supplies the refund the slip shows; a line it refuses still goes to submit,
    // which says why. An outage is an outage.
    let quote =
        match cancellation::quote(&state.ctx, &LineKey::Id(line.id), state.clock.now()).await {
            Ok(quote) => Some(quote),
            Err(e) if e.is_client_error() => None,
            Err(e) => return failed(e.into()),
        };
    let by = me.attribution(
        Channel::Store,
        "walk-in at the counter; passport and SIM checked by the clerk",
    );
    let submitted = match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Store,
        None,
        by.clone(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => retry!(e.to_string()),
    };
    let mut record = submitted.request;
    // The clerk saw the document itself: the store's document check is met in person.
    if record.request.required.contains(&IdentityCheck::Document)
        && record.request.state == simdesk_domain::cancellation::RequestState::Submitted
    {
        match cancellation::attest_document_in_person(&state.ctx, record.request.id, by.clone())
            .await
        {
            Ok(r) => record = r,
            Err(e) => retry!(e.to_string()),
        }
    }
    if record.request.required.contains(&IdentityCheck::Knowledge)
        && record.request.state == simdesk_domain::cancellation::RequestState::Submitted
    {
        match cancellation::verify_knowledge(
            &state.ctx,
            record.request.id,
            &form.name,
            &form.passport,
            by.clone(),
        )
        .await
        {
            Ok(r) => record = r,
            Err(e) => retry!(e.to_string()),
        }
    }
    let _ = store.finish_ticket(form.ticket, state.clock.now()).await;
    let refund = record
        .refund_total
        .or_else(|| quote.and_then(|q| q.refund.map(|r| r.total)))
        .map(|m| m.to_string())
        .unwrap_or_else(|| "as the carrier's terms say".into());
    html(SlipPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash: None,
        id: record.request.id,
        msisdn: line.msisdn.national(),
        iccid: line.iccid.to_string(),
        effective: record
            .request
            .effective_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "after identity review".into()),
        refund,
        clerk: me.username.clone(),
        at: format_jst(state.clock.now()),
    })
}
