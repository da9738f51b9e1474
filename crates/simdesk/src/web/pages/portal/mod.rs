//! The traveller's pages: sign in with a code, my lines, cancel (quote → confirm → identity →
//! status), withdraw, receipts, e-wallet and payout, and what happens to my data.

pub mod account;
pub mod cancel;
pub mod data;
pub mod esim;
pub mod lines;
pub mod request;
pub mod signin;
pub mod usage;

use super::error::{PageError, StaleForm};
use super::session::{self, CsrfForm, Visitor, LANG_COOKIE};
use super::{html, i18n, line_of, Page};
use crate::services::guard::{Account, Address, Asker};
use crate::services::ServiceError;
use crate::web::AppState;
use askama::Template;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use serde::Deserialize;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::customer::Language;
use simdesk_domain::ids::{CustomerId, LineId, RequestId};
use simdesk_domain::line::Line;

/// The signed-in traveller; as a handler's argument, any other visitor is answered before the
/// handler runs (signed out → the sign-in page, a store outage → the 503 page).
pub struct Traveller {
    visitor: Visitor,
    customer: CustomerId,
}

impl axum::extract::FromRequestParts<AppState> for Traveller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Traveller, Response> {
        let visitor = <Visitor as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            parts, state,
        )
        .await?;
        match visitor.traveller() {
            Some(customer) => Ok(Traveller { visitor, customer }),
            None => Err(failed(&visitor, PageError::SignedOut { sign_in: "/" }, "/")),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
    format: Option<String>,
    done: Option<String>,
}

fn page(visitor: &Visitor, path: &str) -> Page {
    Page {
        lang: visitor.language,
        csrf: visitor.csrf(),
        path: path.to_string(),
        signed_in: visitor.traveller().is_some(),
    }
}

fn render(template: impl Template, headers: &HeaderMap, lang_param: Option<&str>) -> Response {
    let mut response = html(template);
    // Remember a language picked with ?lang= on every page after (not on a page that failed).
    let picked = lang_param
        .and_then(|l| l.parse::<Language>().ok())
        .filter(|_| response.status().is_success());
    if let Some(l) = picked {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(headers, LANG_COOKIE, l.tag(), 31_536_000),
        );
    }
    response
}

/// A service's refusal on a portal page: an outage is the 503 page; any refusal of the input or
/// the state is a 422 saying why, in the traveller's language where the service speaks English.
fn service_error(visitor: &Visitor, e: ServiceError, back: &str) -> Response {
    if !e.is_client_error() {
        return failed(visitor, e.into(), back);
    }
    let message = match &e {
        ServiceError::RateLimited(detail) => too_soon(visitor, detail),
        ServiceError::Identity(detail) => identity_message(visitor.language, detail),
        _ => e.to_string(),
    };
    failed(visitor, PageError::BadInput(message), back)
}

/// A rate-limit refusal in the traveller's language, keeping the exact wait in English only as a detail.
fn too_soon(visitor: &Visitor, detail: &str) -> String {
    match visitor.language {
        Language::En => detail.to_string(),
        lang => i18n::t(lang, "err-too-soon"),
    }
}

/// The identity service speaks English; the outcomes travellers meet most are said in their language.
fn identity_message(lang: Language, detail: &str) -> String {
    if let Some(left) = detail
        .split("; ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
    {
        return i18n::t1(lang, "err-code-wrong", "left", &left.to_string());
    }
    if detail.contains("too many") {
        i18n::t(lang, "err-code-locked")
    } else if detail.contains("expired") || detail.contains("already used") {
        i18n::t(lang, "err-code-expired")
    } else {
        detail.to_string()
    }
}

/// A refusal by an abuse limit: 429, `Retry-After`, and the wait in the traveller's language.
fn limited_page(visitor: &Visitor, error: ServiceError, back: &str) -> Response {
    match error {
        ServiceError::TooManyAttempts { .. } => failed(visitor, error.into(), back),
        error => service_error(visitor, error, back),
    }
}

/// The traveller's own line: another person's line does not exist for them.
async fn own_line(state: &AppState, customer: CustomerId, iccid: &str) -> Result<Line, PageError> {
    line_of(state, &Account::Customer(customer), iccid).await
}

fn traveller_attribution(state: &AppState, customer: CustomerId, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind: ActorKind::Customer,
            id: format!("customer:{customer}"),
        },
        Channel::Web,
        state.clock.now(),
        why,
    )
}

/// The traveller asking from `address`.
fn traveller(customer: CustomerId, address: Address) -> Asker {
    Asker {
        channel: Channel::Web,
        address,
        account: Account::Customer(customer),
    }
}

/// The traveller's own request and its line.
async fn own_request(
    state: &AppState,
    customer: CustomerId,
    id: RequestId,
) -> Result<(crate::store::RequestRecord, Line), PageError> {
    Ok(state
        .guard()
        .request(&Account::Customer(customer), id)
        .await?)
}

/// A portal page that failed, in the traveller's language, leading back to `back`.
fn failed(visitor: &Visitor, error: PageError, back: &str) -> Response {
    error.respond(page(visitor, back), back)
}

/// A form posted with the session's CSRF token; otherwise the answer to give (the form expired,
/// leading back to `back`).
// The error is the page to answer with, built once per request; boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn checked_form(visitor: &Visitor, csrf: &str, back: &str) -> Result<(), Response> {
    visitor
        .check_form(csrf, StaleForm::Portal)
        .map_err(|e| failed(visitor, e, back))
}

/// A form posted about a request: it must carry the session's CSRF token and the request must be
/// the traveller's; otherwise the answer to give instead. Gives the request's line (what per-line
/// limits count).
async fn own_request_form(
    state: &AppState,
    visitor: &Visitor,
    customer: CustomerId,
    id: RequestId,
    csrf: &str,
) -> Result<LineId, Response> {
    checked_form(visitor, csrf, &format!("/my/requests/{id}"))?;
    // Someone else's request is answered as one that does not exist, as on its page.
    match own_request(state, customer, id).await {
        Ok((_, line)) => Ok(line.id),
        Err(e) => Err(failed(visitor, e, "/my")),
    }
}
