//! Server-rendered pages: the travellers' self-service portal (works without JavaScript, fits a
//! phone, in ja, en, zh-Hans, zh-Hant and ko), the hotline console and the store counter.

pub mod i18n;
mod portal;
pub mod session;
mod staff;

use super::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use simdesk_domain::customer::Language;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(portal::home))
        .route("/static/htmx.min.js", get(htmx))
        .route("/signin", post(portal::sign_in))
        .route("/signin/code", post(portal::sign_in_code))
        .route("/signout", post(portal::sign_out))
        .route("/my", get(portal::my_lines))
        .route(
            "/my/lines/{iccid}/cancel",
            get(portal::quote_page).post(portal::confirm_cancel),
        )
        .route("/my/requests/{id}", get(portal::request_page))
        .route("/my/requests/{id}/code", post(portal::request_send_code))
        .route(
            "/my/requests/{id}/code/check",
            post(portal::request_check_code),
        )
        .route(
            "/my/requests/{id}/document",
            // A 10 MB document plus the form around it; beyond that the answer is 413.
            post(portal::request_upload).layer(DefaultBodyLimit::max(
                crate::adapters::documents::MAX_DOCUMENT_BYTES + 64 * 1024,
            )),
        )
        .route("/my/requests/{id}/withdraw", post(portal::request_withdraw))
        .route("/my/receipts/{number}", get(portal::receipt_page))
        .route("/my/wallet", get(portal::wallet_page))
        .route("/my/wallet/payout", post(portal::wallet_payout))
        .route("/my/data", get(portal::data_page))
        .route("/staff", get(staff::sign_in_page))
        .route("/staff/signin", post(staff::sign_in))
        .route("/staff/signout", post(staff::sign_out))
        .route("/console", get(staff::console))
        .route("/console/lines/{iccid}", get(staff::console_line))
        .route("/console/lines/{iccid}/cancel", post(staff::console_cancel))
        .route("/console/requests/{id}", get(staff::console_request))
        .route("/console/requests/{id}/review", post(staff::console_review))
        .route("/console/reviews", get(staff::reviews))
        .route("/console/documents/{id}", get(staff::document))
        .route("/console/receipts/{number}", get(staff::staff_receipt))
        .route(
            "/kiosk/{carrier}",
            get(staff::kiosk).post(staff::take_ticket),
        )
        .route("/board/{carrier}", get(staff::board))
        .route("/counter", get(staff::counter))
        .route("/counter/next", post(staff::call_next))
        .route("/counter/cancel", post(staff::counter_cancel))
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

/// htmx, served from here (no third-party origin): pages work without it and feel quicker with it.
async fn htmx() -> impl axum::response::IntoResponse {
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
