//! Server-rendered pages: the travellers' self-service portal (works without JavaScript, fits a
//! phone, in ja, en, zh-Hans, zh-Hant and ko), the hotline console and the store counter.

pub mod error;
pub mod i18n;
mod portal;
pub mod session;
mod staff;

use super::AppState;
use crate::services::guard::Account;
use askama::Template;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;
use jiff::Timestamp;
use simdesk_domain::balance::{self, Bucket, BucketUnit};
use simdesk_domain::customer::Language;
use simdesk_domain::line::Line;
use simdesk_domain::money::{Currency, Money};

/// One page route: its method, its path and its handler, written once.
macro_rules! page {
    ($method:ident $path:literal $handler:path) => {
        (
            Method::$method,
            $path,
            axum::routing::on(MethodFilter::$method, $handler),
        )
    };
}

/// Every page route. The router is built from this list and `routes()` lists it, so the access
/// test can check that each route has its row.
fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        page!(GET "/" portal::signin::home),
        page!(GET "/static/htmx.min.js" htmx),
        page!(POST "/signin" portal::signin::sign_in),
        page!(POST "/signin/code" portal::signin::sign_in_code),
        page!(POST "/signout" portal::signin::sign_out),
        page!(GET "/my" portal::lines::my_lines),
        page!(GET "/my/lines/{iccid}/usage" portal::usage::usage_page),
        page!(GET "/my/lines/{iccid}/esim" portal::esim::esim_page),
        page!(GET "/my/lines/{iccid}/cancel" portal::cancel::quote_page),
        page!(POST "/my/lines/{iccid}/cancel" portal::cancel::confirm_cancel),
        page!(GET "/my/requests/{id}" portal::request::request_page),
        page!(POST "/my/requests/{id}/code" portal::request::request_send_code),
        page!(POST "/my/requests/{id}/code/check" portal::request::request_check_code),
        (
            Method::POST,
            "/my/requests/{id}/document",
            // A 10 MB document plus the form around it; beyond that the answer is 413.
            axum::routing::post(portal::request::request_upload).layer(DefaultBodyLimit::max(
                crate::adapters::documents::MAX_DOCUMENT_BYTES + 64 * 1024,
            )),
        ),
        page!(POST "/my/requests/{id}/withdraw" portal::request::request_withdraw),
        page!(GET "/my/receipts/{number}" portal::account::receipt_page),
        page!(GET "/my/wallet" portal::account::wallet_page),
        page!(POST "/my/wallet/payout" portal::account::wallet_payout),
        page!(GET "/my/data" portal::data::data_page),
        page!(POST "/my/data/erase" portal::data::data_erase),
        page!(GET "/staff" staff::signin::sign_in_page),
        page!(POST "/staff/signin" staff::signin::sign_in),
        page!(POST "/staff/signout" staff::signin::sign_out),
        page!(GET "/console" staff::console::console),
        page!(GET "/console/lines/{iccid}" staff::console::console_line),
        page!(POST "/console/lines/{iccid}/cancel" staff::console::console_cancel),
        page!(GET "/console/requests/{id}" staff::reviews::console_request),
        page!(POST "/console/requests/{id}/review" staff::reviews::console_review),
        page!(GET "/console/reviews" staff::reviews::reviews),
        page!(GET "/console/documents/{id}" staff::reviews::document),
        page!(GET "/console/receipts/{number}" staff::reviews::staff_receipt),
        page!(GET "/kiosk/{carrier}" staff::kiosk::kiosk),
        page!(POST "/kiosk/{carrier}" staff::kiosk::take_ticket),
        page!(GET "/board/{carrier}" staff::kiosk::board),
        page!(GET "/counter" staff::counter::counter),
        page!(POST "/counter/next" staff::counter::call_next),
        page!(POST "/counter/cancel" staff::counter::counter_cancel),
    ]
}

pub fn router() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            router.route(path, handler)
        })
}

/// (method, path) of every page route, as the router has them.
pub fn routes() -> Vec<(Method, &'static str)> {
    table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// What every page needs: language, CSRF token, where it is (for the language switcher).
pub struct Page {
    pub lang: Language,
    pub csrf: String,
    pub path: String,
    pub signed_in: bool,
}

impl Page {
    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        i18n::t1(self.lang, key, name, &value.to_string())
    }
}

/// A page rendered from its template; one that cannot be rendered is a 500, and the log says why.
fn html(template: impl Template) -> Response {
    match template.render() {
        Ok(h) => Html(h).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "page could not be rendered",
            )
                .into_response()
        }
    }
}

/// htmx, served from here (no third-party origin): pages work without it and feel quicker with it.
async fn htmx() -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../../static/htmx-2.0.11.min.js"),
    )
}

/// A line the account may see, by ICCID or number; any other is not found.
async fn line_of(state: &AppState, account: &Account, key: &str) -> Result<Line, error::PageError> {
    // On a page, a number that names no line is just a page that does not exist.
    if crate::services::lines::parse_line_key(key).is_err() {
        return Err(error::PageError::NotFound);
    }
    Ok(state.guard().line(account, key).await?)
}

/// The plan's name in the carrier's book; its code when the book no longer lists it.
fn plan_name(state: &AppState, line: &Line) -> String {
    state
        .ctx
        .book
        .plan(&line.carrier, &line.plan)
        .map(|p| p.name.clone())
        .unwrap_or_else(|_| line.plan.clone())
}

/// The money left on a line at `now`, in its carrier's currency (yen when the book no longer
/// lists the carrier).
fn money_left(state: &AppState, line: &Line, buckets: &[Bucket], now: Timestamp) -> String {
    let currency = state
        .ctx
        .book
        .carrier(&line.carrier)
        .map(|c| c.currency)
        .unwrap_or(Currency::Jpy);
    Money::new(
        balance::remaining(buckets, BucketUnit::Money(currency), now),
        currency,
    )
    .to_string()
}
