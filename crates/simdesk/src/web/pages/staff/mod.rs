//! Staff pages: sign-in, the hotline console (find, verify, open business, cancel for a caller,
//! review documents) and the store counter (kiosk, board, clerk). Every page is limited to the
//! staff member's carrier and role.

pub mod console;
pub mod counter;
pub mod kiosk;
pub mod reviews;
pub mod signin;

use super::error::{PageError, StaleForm};
use super::session::Visitor;
use super::{html, line_of, Page};
use crate::services::access::Permission;
use crate::services::guard::Account;
use crate::services::staff::Role;
use crate::store::SessionRow;
use crate::web::AppState;
use axum::response::Response;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::customer::Language;
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::validity::japan_date;

/// The signed-in staff member; as a handler's argument, any other visitor is answered before
/// the handler runs (signed out → the sign-in page, a store outage → the 503 page).
pub struct StaffSession {
    visitor: Visitor,
    session: SessionRow,
    id: i64,
    username: String,
    role: Role,
    carrier: CarrierCode,
    /// When the request arrived, by the app's clock: what its actions are recorded at.
    at: jiff::Timestamp,
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
            failed(PageError::Forbidden(format!(
                "your role ({}) does not allow this page",
                self.role.as_str()
            )))
        })
    }

    /// A form's CSRF token checked against this session's: the refusal when it is not.
    fn check_form(&self, submitted: &str) -> Result<(), PageError> {
        self.visitor.check_form(submitted, StaleForm::Staff)
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
            self.at,
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
        visitor: visitor.clone(),
        id: row.id,
        username: row.username,
        role,
        carrier: row.carrier,
        session,
        at: state.clock.now(),
    })
}

impl axum::extract::FromRequestParts<AppState> for StaffSession {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<StaffSession, Response> {
        let visitor = <Visitor as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            parts, state,
        )
        .await?;
        staff_of(state, &visitor).await.map_err(failed)
    }
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

/// Where a staff member starts: the console for the hotline, the counter for clerks.
fn home_of(role: Role) -> &'static str {
    if role.may(Permission::Console) {
        "/console"
    } else {
        "/counter"
    }
}

/// Today in Japan by the app's clock: the day a shop's queue belongs to.
fn today(state: &AppState) -> String {
    japan_date(state.clock.now()).to_string()
}

async fn known_carrier(state: &AppState, carrier: &CarrierCode) -> bool {
    state.ctx.book.carrier(carrier).is_ok()
}

/// A line of the staff member's carrier, by ICCID or number; any other is not found.
async fn carrier_line(
    state: &AppState,
    me: &StaffSession,
    iccid: &str,
) -> Result<simdesk_domain::line::Line, PageError> {
    line_of(state, &me.account(), iccid).await
}
