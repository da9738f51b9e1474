//! Cancelling a line from the portal: the quote, then the confirmation.

use super::failed;
use super::{
    own_line, page, render, service_error, signed_in_form, to_sign_in, traveller_attribution,
    CsrfForm, LangQuery,
};
use crate::services::cancellation;
use crate::store::LineKey;
use crate::web::pages::session::Visitor;
use crate::web::pages::{i18n, Page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use simdesk_domain::attribution::Channel;
use simdesk_domain::customer::Language;
use simdesk_domain::policy::IdentityCheck;

#[derive(Template)]
#[template(path = "quote.html")]
struct QuotePage {
    page: Page,
    iccid: String,
    msisdn: String,
    plan: String,
    cannot: Option<String>,
    valid_until: Option<String>,
    effective: String,
    refund_items: Vec<(String, String)>,
    refund_total: String,
    bars: bool,
    has_addons: bool,
    checks: String,
}

fn check_words(lang: Language, checks: &[IdentityCheck]) -> String {
    checks
        .iter()
        .map(|c| {
            i18n::t(
                lang,
                &format!("check-{}", simdesk_domain::cancellation::check_name(c)),
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

pub async fn quote_page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    let path = format!("/my/lines/{iccid}/cancel");
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    let quote =
        match cancellation::quote(&state.ctx, &LineKey::Id(line.id), state.clock.now()).await {
            Ok(q) => q,
            Err(e) => return service_error(&visitor, &headers, e, "/my"),
        };
    let checks = state
        .ctx
        .book
        .for_line(&line)
        .map(|(p, _)| simdesk_domain::identity::required_checks(p.identity(), Channel::Web))
        .unwrap_or_default();
    let bars = state
        .ctx
        .book
        .for_line(&line)
        .map(|(p, _)| p.cancellation().bar_while_pending)
        .unwrap_or(false);
    let refund = quote.refund.as_ref();
    let template = QuotePage {
        page: page(&visitor, &path),
        iccid: line.iccid.to_string(),
        msisdn: line.msisdn.national(),
        plan: state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        cannot: quote.cannot_because.clone(),
        valid_until: quote
            .time_left_notice
            .as_ref()
            .and(quote.valid_until_jst.clone()),
        effective: quote
            .effective_date_if_submitted_now
            .map(|d| d.to_string())
            .unwrap_or_default(),
        refund_items: refund
            .map(|r| {
                r.items
                    .iter()
                    .map(|i| {
                        (
                            i18n::t(visitor.language, &format!("refund-{}", i.key)),
                            i.amount.to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        refund_total: refund.map(|r| r.total.to_string()).unwrap_or_default(),
        bars,
        has_addons: !quote.bound_addons.is_empty(),
        checks: check_words(visitor.language, &checks),
    };
    render(template, &headers, &visitor, q.lang.as_deref())
}

pub async fn confirm_cancel(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let customer = match signed_in_form(&visitor, &headers, &form.csrf, "/my") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let line = match own_line(&state, customer, &iccid).await {
        Ok(line) => line,
        Err(e) => return failed(&visitor, e, "/my"),
    };
    match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Web,
        None,
        traveller_attribution(&state, customer, "cancelled on the self-service portal"),
    )
    .await
    {
        Ok(s) => Redirect::to(&format!("/my/requests/{}", s.request.request.id)).into_response(),
        Err(e) => service_error(&visitor, &headers, e, &format!("/my/lines/{iccid}/cancel")),
    }
}
