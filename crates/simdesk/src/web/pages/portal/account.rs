//! The traveller's receipts and e-wallet, with payouts.

use super::failed;
use super::{checked_form, own_request, page, render, service_error, LangQuery, Traveller};
use crate::receipts;
use crate::services::wallet;
use crate::web::pages::error::PageError;
use crate::web::pages::session::{self, Visitor};
use crate::web::pages::{i18n, Page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::ids::CustomerId;
use simdesk_domain::money::Money;
use simdesk_domain::validity::format_jst;

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    page: Page,
    balance: Vec<String>,
    history: Vec<(String, String, String)>,
    payout_key: String,
    flash: Option<String>,
}

pub async fn receipt_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    Path(number): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let missing = || failed(&visitor, PageError::NotFound, "/my");
    let document = match state.ctx.store.receipt(&number).await {
        Ok(Some(document)) => document,
        Ok(None) => return missing(),
        Err(e) => return failed(&visitor, e.into(), "/my"),
    };
    let Ok(signed) = receipts::SignedReceipt::parse_unverified(&document) else {
        return missing();
    };
    if let Err(e) = own_request(&state, customer, signed.receipt.request_id).await {
        return failed(&visitor, e, "/my");
    }
    if q.format.as_deref() == Some("json") {
        let disposition = format!("attachment; filename=\"{number}.json\"");
        return (
            [
                (header::CONTENT_TYPE, "application/json".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            document,
        )
            .into_response();
    }
    Html(receipts::render_html(&signed)).into_response()
}

pub async fn wallet_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    wallet_view(
        &state,
        &headers,
        &visitor,
        customer,
        q.done
            .as_deref()
            .map(|_| i18n::t(visitor.language, "wallet-payout-done")),
        q.lang.as_deref(),
    )
    .await
}

async fn wallet_view(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    customer: CustomerId,
    flash: Option<String>,
    lang: Option<&str>,
) -> Response {
    let view = match wallet::show(state.ctx.store.as_ref(), customer).await {
        Ok(v) => v,
        Err(e) => return service_error(visitor, e, "/my"),
    };
    let template = WalletPage {
        page: page(visitor, "/my/wallet"),
        balance: view
            .balance
            .iter()
            .filter(|m| !m.is_zero())
            .map(|m| m.to_string())
            .collect(),
        history: view
            .history
            .iter()
            .map(|p| (format_jst(p.at), p.note.clone(), p.amount.to_string()))
            .collect(),
        payout_key: session::random_token(),
        flash,
    };
    render(template, headers, lang)
}

#[derive(Deserialize)]
pub struct PayoutForm {
    csrf: String,
    key: String,
    amount: String,
    destination: String,
}

pub async fn wallet_payout(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    Form(form): Form<PayoutForm>,
) -> Response {
    if let Err(refused) = checked_form(&visitor, &form.csrf, "/my/wallet") {
        return refused;
    }
    let view = match wallet::show(state.ctx.store.as_ref(), customer).await {
        Ok(v) => v,
        Err(e) => return service_error(&visitor, e, "/my/wallet"),
    };
    let currency = view
        .balance
        .first()
        .map(|m| m.currency())
        .unwrap_or(simdesk_domain::money::Currency::Jpy);
    let amount =
        match Money::parse(&form.amount).or_else(|_| Money::parse_in(&form.amount, currency)) {
            Ok(a) => a,
            Err(e) => return failed(&visitor, PageError::BadInput(e.to_string()), "/my/wallet"),
        };
    match wallet::payout(
        state.ctx.store.as_ref(),
        customer,
        amount,
        &form.destination,
        &format!("web:{customer}:{}", form.key),
        state.clock.now(),
    )
    .await
    {
        Ok(_) => Redirect::to("/my/wallet?done=payout").into_response(),
        Err(e) => service_error(&visitor, e, "/my/wallet"),
    }
}
