//! Staff sign-in and sign-out.

use super::{failed, home_of, html, staff_of, PageError};
use crate::services::guard::Address;
use crate::services::staff::{self};
use crate::web::pages::error::StaleForm;
use crate::web::pages::session::{self, CsrfForm, Visitor};
use crate::web::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::customer::Language;

#[derive(Template)]
#[template(path = "staff_signin.html")]
struct SignInPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
}

pub async fn sign_in_page(
    State(state): State<AppState>,
    mut visitor: Visitor,
    headers: HeaderMap,
) -> Response {
    match staff_of(&state, &visitor).await {
        Ok(me) => return Redirect::to(home_of(me.role)).into_response(),
        Err(PageError::SignedOut { .. }) => {}
        Err(e) => return failed(e),
    }
    let form_cookie = visitor.ensure_form_token(&headers);
    let page = html(SignInPage {
        staff: None,
        csrf: visitor.form_token.clone().unwrap_or_default(),
        flash: None,
    });
    (form_cookie, page).into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    address: Address,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Err(e) = visitor.check_form(&form.csrf, StaleForm::StaffSignIn) {
        return failed(e);
    }
    let guard = state.guard();
    if let Err(e) = guard.staff_sign_in(address, &form.username).await {
        return failed(e.into());
    }
    let store = state.ctx.store.as_ref();
    match staff::authenticate(store, &form.username, &form.password).await {
        Ok(Some((row, role))) => {
            let signed_in = session::sign_in(
                &state,
                &headers,
                "staff",
                row.id,
                Some(row.carrier.to_string()),
                Language::En,
                home_of(role),
            )
            .await;
            signed_in.unwrap_or_else(|e| failed(e.into()))
        }
        Ok(None) => {
            guard.staff_sign_in_failed(&form.username).await;
            let token = visitor.form_token.clone().unwrap_or_default();
            let mut r = html(SignInPage {
                staff: None,
                csrf: token,
                flash: Some("Username or password is not right.".into()),
            });
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => failed(e.into()),
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    session::sign_out(&state, &visitor, &headers, &form, "/staff").await
}
