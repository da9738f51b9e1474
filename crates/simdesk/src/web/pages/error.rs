//! What a page can fail with, and the one place each failure becomes an answer: a store that
//! cannot answer is a 503 with `Retry-After`, never "not found" or "signed out".

use super::{html, i18n, Page};
use crate::adapters::documents::{self, DocumentError};
use crate::services::ServiceError;
use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use simdesk_domain::customer::Language;

/// Seconds a visitor is asked to wait before trying a page again after an outage.
const RETRY_AFTER_SECS: &str = "5";

#[derive(Debug)]
pub enum PageError {
    /// Not there, or not the visitor's: the same answer either way.
    NotFound,
    /// Nobody is signed in (or the session ended): back to the sign-in page given.
    SignedOut { sign_in: &'static str },
    /// Not allowed (the role, or a sign-in code that is wrong or spent); says why.
    Forbidden(String),
    /// A form came back without the visitor's CSRF token: it expired, or another site sent it.
    FormExpired(StaleForm),
    /// The input or the state refuses it; says why.
    BadInput(String),
    /// An abuse limit: the visitor may try again after the wait.
    TooMany { retry_after_secs: i64 },
    /// The database or a peer cannot answer now.
    Unavailable,
    /// An uploaded identity document refused for its size or type.
    Document(DocumentError),
}

/// Which form came back without its token. The refusal is the same 403 for each; the words say
/// what to do again where that form is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleForm {
    /// A form on the portal, said in the traveller's language.
    Portal,
    /// The staff sign-in form.
    StaffSignIn,
    /// A form on a signed-in staff page.
    Staff,
    /// The kiosk's button, answered on the kiosk page itself so that it can be pressed again.
    Kiosk,
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> PageError {
        match e {
            ServiceError::NotFound(_) => PageError::NotFound,
            ServiceError::TooManyAttempts {
                retry_after_secs, ..
            } => PageError::TooMany { retry_after_secs },
            e if e.is_client_error() => PageError::BadInput(e.to_string()),
            e => {
                // Internal details go to the log, never to the page.
                tracing::error!(error = %e, "page request failed");
                PageError::Unavailable
            }
        }
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> PageError {
        ServiceError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub(super) struct ErrorPage {
    pub page: Page,
    pub message: String,
    pub back: String,
}

impl PageError {
    pub fn status(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::SignedOut { .. } => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) | PageError::FormExpired(_) => StatusCode::FORBIDDEN,
            PageError::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PageError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Document(e) => documents::status(e),
        }
    }

    /// What the error page says, in `lang`.
    pub fn message(&self, lang: Language) -> String {
        match self {
            // Never shown: the answer is the way to the sign-in page.
            PageError::SignedOut { .. } => String::new(),
            PageError::NotFound => i18n::t(lang, "err-not-yours"),
            PageError::Forbidden(m) | PageError::BadInput(m) => m.clone(),
            PageError::FormExpired(form) => match form {
                StaleForm::Portal => i18n::t(lang, "err-form-expired"),
                StaleForm::StaffSignIn => "the form expired; open the sign-in page again".into(),
                StaleForm::Staff => "the form expired; open the page again".into(),
                StaleForm::Kiosk => "The page had expired; press the button again.".into(),
            },
            PageError::TooMany { retry_after_secs } => i18n::t1(
                lang,
                "err-rate-limited",
                "minutes",
                &((retry_after_secs + 59) / 60).to_string(),
            ),
            PageError::Unavailable => i18n::t(lang, "err-unavailable"),
            PageError::Document(e) => i18n::t(
                lang,
                match e {
                    DocumentError::TooLarge { .. } => "err-file-too-large",
                    DocumentError::Empty => "request-upload-label",
                    _ => "err-file-type",
                },
            ),
        }
    }

    /// The answer: the error page in the visitor's language, with a link back to `back`.
    pub fn respond(self, page: Page, back: &str) -> Response {
        if let PageError::SignedOut { sign_in } = self {
            return Redirect::to(sign_in).into_response();
        }
        let message = self.message(page.lang);
        let status = self.status();
        let mut response = html(ErrorPage {
            page,
            message,
            back: back.to_string(),
        });
        *response.status_mut() = status;
        let retry = match self {
            PageError::TooMany { retry_after_secs } => Some(retry_after_secs.into()),
            PageError::Unavailable => Some(HeaderValue::from_static(RETRY_AFTER_SECS)),
            _ => None,
        };
        if let Some(retry) = retry {
            response.headers_mut().insert(header::RETRY_AFTER, retry);
        }
        response
    }
}
