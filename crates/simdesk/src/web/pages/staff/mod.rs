//! Staff pages: sign-in, the hotline console (find, verify, open business, cancel for a caller,
//! review documents) and the store counter (kiosk, board, clerk). Every page is limited to the
//! staff member's carrier and role.

pub mod console;
pub mod counter;
pub mod kiosk;
pub mod reviews;
pub mod signin;

use super::error::PageError;
use super::session::Visitor;
use super::Page;
use crate::services::access::Permission;
use crate::services::guard::Account;
use crate::services::staff::Role;
use crate::services::ServiceError;
use crate::store::SessionRow;
use crate::web::AppState;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::customer::Language;
use simdesk_domain::validity::japan_date;

/// The signed-in staff member.
struct StaffSession {
    session: SessionRow,
    id: i64,
    username: String,
    role: Role,
    carrier: String,
}

impl StaffSession {
    fn label(&self) -> String {
        format!(
            "{} ({}, {})",
            self.username,
            self.role.as_str(),
            self.carrier
        )
    }

    /// Refuses, with a page saying so, what this staff member's role does not allow.
    fn refuse_unless(&self, permission: Permission) -> Option<Response> {
        (!self.role.may(permission)).then(|| {
            forbidden(&format!(
                "your role ({}) does not allow this page",
                self.role.as_str()
            ))
        })
    }

    fn account(&self) -> Account {
        Account::Staff {
            id: self.id,
            carrier: self.carrier.clone(),
        }
    }

    fn attribution(&self, channel: Channel, why: &str) -> Attribution {
        let kind = if channel == Channel::Store {
            ActorKind::Clerk
        } else {
            ActorKind::Agent
        };
        Attribution::new(
            Actor {
                kind,
                id: format!("staff:{}:{}", self.id, self.username),
            },
            channel,
            Timestamp::now(),
            why,
        )
    }
}

/// The signed-in staff member; signed out when the session is not a staff member's, or the
/// account is disabled; unavailable when the store cannot say.
async fn staff_of(state: &AppState, visitor: &Visitor) -> Result<StaffSession, PageError> {
    let signed_out = PageError::SignedOut { sign_in: "/staff" };
    let Some(session) = visitor.session.clone().filter(|s| s.kind == "staff") else {
        return Err(signed_out);
    };
    let Some(row) = state.ctx.store.staff(session.subject).await? else {
        return Err(signed_out);
    };
    if row.disabled {
        return Err(signed_out);
    }
    let Ok(role) = Role::parse(&row.role) else {
        return Err(signed_out);
    };
    Ok(StaffSession {
        id: row.id,
        username: row.username,
        role,
        carrier: row.carrier,
        session,
    })
}

/// A staff page that failed: the error page, in English like the rest of the staff pages.
fn failed(error: PageError) -> Response {
    let page = Page {
        lang: Language::En,
        csrf: String::new(),
        path: "/staff".into(),
        signed_in: false,
    };
    error.respond(page, "/staff")
}

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

/// Where a staff member starts: the console for the hotline, the counter for clerks.
fn home_of(role: Role) -> &'static str {
    if role.may(Permission::Console) {
        "/console"
    } else {
        "/counter"
    }
}

fn forbidden(message: &str) -> Response {
    (StatusCode::FORBIDDEN, Html(format!("<!doctype html><title>Not allowed</title><p id=\"error-message\">{}</p><p><a href=\"/staff\">Sign in</a></p>", escape(message)))).into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn today() -> String {
    japan_date(Timestamp::now()).to_string()
}

async fn known_carrier(state: &AppState, carrier: &str) -> bool {
    state.ctx.book.carrier(carrier).is_ok()
}

/// A refusal by an abuse limit on a staff or store page: 429 with `Retry-After`.
fn limited(error: ServiceError) -> Response {
    let retry = match &error {
        ServiceError::TooManyAttempts {
            retry_after_secs, ..
        } => *retry_after_secs,
        _ => 60,
    };
    let mut r = forbidden(&error.to_string());
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    r.headers_mut().insert(header::RETRY_AFTER, retry.into());
    r
}

/// A line of the staff member's carrier, by ICCID or number; any other is not found.
async fn carrier_line(
    state: &AppState,
    me: &StaffSession,
    iccid: &str,
) -> Result<simdesk_domain::line::Line, PageError> {
    Ok(state.guard().line(&me.account(), iccid).await?)
}
