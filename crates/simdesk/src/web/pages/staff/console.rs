//! The hotline console: finding a caller's line, verifying them and cancelling for them.

use super::{carrier_line, failed, html, StaffSession};
use crate::services::access::Permission;
use crate::services::cancellation::{self, Knowledge};
use crate::services::lines::{find_line, parse_line_key};
use crate::services::{wallet, ServiceError};
use crate::store::LineKey;
use crate::web::pages::{money_left, plan_name};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::attribution::Channel;
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::ids::RequestId;
use simdesk_domain::validity::{format_jst, last_valid_second};

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    query: String,
    results: Vec<(String, String, String, String)>,
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn console(
    State(state): State<AppState>,
    me: StaffSession,
    Query(q): Query<SearchQuery>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::Console) {
        return refused;
    }
    let query = q.q.unwrap_or_default().trim().to_string();
    let store = state.ctx.store.as_ref();
    let mut lines = Vec::new();
    if !query.is_empty() {
        if let Ok(key) = parse_line_key(&query) {
            match find_line(store, &key).await {
                Ok(line) => lines.push(line),
                // A number that names no line simply finds nothing.
                Err(ServiceError::NotFound(_)) => {}
                Err(e) => return failed(e.into()),
            }
        } else if query.chars().count() >= 2 {
            lines = match store.lines_by_holder_name(&me.carrier, &query, 50).await {
                Ok(lines) => lines,
                Err(e) => return failed(e.into()),
            };
        }
    }
    // Another carrier's lines do not exist for this agent.
    let results = lines
        .into_iter()
        .filter(|l| l.carrier == me.carrier)
        .map(|l| {
            (
                l.iccid.to_string(),
                l.msisdn.national(),
                l.plan.clone(),
                l.state.as_str().to_string(),
            )
        })
        .collect();
    html(ConsolePage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash: None,
        query,
        results,
    })
}

#[derive(Template)]
#[template(path = "console_line.html")]
struct LinePage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    iccid: String,
    msisdn: String,
    plan: String,
    state: String,
    valid_until: String,
    holder: String,
    language: String,
    balance: String,
    data_mb: i64,
    addons: Vec<String>,
    wallet: Option<String>,
    requests: Vec<(RequestId, String, String)>,
    can_cancel: bool,
}

async fn line_page(
    state: &AppState,
    me: &StaffSession,
    iccid: &str,
    flash: Option<String>,
) -> Response {
    let line = match carrier_line(state, me, iccid).await {
        Ok(line) => line,
        Err(e) => return failed(e),
    };
    let store = state.ctx.store.as_ref();
    let now = state.clock.now();
    let buckets = match store.buckets(line.id).await {
        Ok(buckets) => buckets,
        Err(e) => return failed(e.into()),
    };
    let customer = match line.holder {
        Some(h) => match store.customer(h).await {
            Ok(customer) => customer,
            Err(e) => return failed(e.into()),
        },
        None => None,
    };
    let wallet = match line.holder {
        Some(h) => match wallet::show(store, h).await {
            Ok(w) => {
                let held: Vec<String> = w
                    .balance
                    .iter()
                    .filter(|m| m.is_positive())
                    .map(|m| m.to_string())
                    .collect();
                (!held.is_empty()).then(|| held.join(", "))
            }
            Err(e) => return failed(e.into()),
        },
        None => None,
    };
    let requests = match store.requests_for_line(line.id).await {
        Ok(requests) => requests,
        Err(e) => return failed(e.into()),
    };
    let addons = match store.addons(line.id).await {
        Ok(addons) => addons,
        Err(e) => return failed(e.into()),
    };
    let open = requests.iter().any(|r| r.request.state.is_open());
    html(LinePage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash,
        iccid: line.iccid.to_string(),
        msisdn: line.msisdn.national(),
        plan: plan_name(state, &line),
        state: line.state.as_str().into(),
        valid_until: line
            .validity_ends_at
            .map(|e| format_jst(last_valid_second(e)))
            .unwrap_or_else(|| "—".into()),
        holder: customer
            .as_ref()
            .map(|c| match &c.personal {
                Some(p) => p.full_name.clone(),
                None => "(personal data erased)".into(),
            })
            .unwrap_or_else(|| "—".into()),
        language: customer
            .as_ref()
            .map(|c| c.language.clone())
            .unwrap_or_default(),
        balance: money_left(state, &line, &buckets, now),
        data_mb: balance::remaining(&buckets, BucketUnit::Megabytes, now),
        addons: addons
            .iter()
            .filter(|a| a.unbound_at.is_none())
            .map(|a| format!("{} ({})", a.code, a.charge))
            .collect(),
        wallet,
        requests: requests
            .iter()
            .map(|r| {
                (
                    r.request.id,
                    r.request.state.as_str().to_string(),
                    r.request
                        .effective_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                )
            })
            .collect(),
        can_cancel: !open && simdesk_domain::cancellation::may_open(&line).is_ok(),
    })
}

pub async fn console_line(
    State(state): State<AppState>,
    me: StaffSession,
    Path(iccid): Path<String>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::LookUpLine) {
        return refused;
    }
    line_page(&state, &me, &iccid, None).await
}

#[derive(Deserialize)]
pub struct CancelForm {
    csrf: String,
    name: String,
    passport: String,
}

pub async fn console_cancel(
    State(state): State<AppState>,
    me: StaffSession,
    Path(iccid): Path<String>,
    Form(form): Form<CancelForm>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::HotlineCancel) {
        return refused;
    }
    if let Err(e) = me.check_form(&form.csrf) {
        return failed(e);
    }
    let line = match carrier_line(&state, &me, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(e),
    };
    let account = me.account();
    if let Err(e) = state.guard().knowledge_allowed(&account, line.id).await {
        return failed(e.into());
    }
    let knowledge = Knowledge {
        name: form.name,
        passport: form.passport,
    };
    match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Hotline,
        Some(knowledge),
        me.attribution(Channel::Hotline, "cancelled on the caller's behalf"),
    )
    .await
    {
        Ok(s) => {
            Redirect::to(&format!("/console/requests/{}", s.request.request.id)).into_response()
        }
        Err(e) => {
            if matches!(e, ServiceError::Identity(_)) {
                state.guard().knowledge_failed(&account, line.id).await;
            }
            if !e.is_client_error() {
                return failed(e.into());
            }
            let mut r = line_page(&state, &me, &iccid, Some(e.to_string())).await;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    }
}
