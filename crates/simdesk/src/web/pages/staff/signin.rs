//! Staff sign-in and sign-out.

use super::{forbidden, home_of, html, limited, staff_of};
use crate::services::limits::{self, Subject};
use crate::services::staff::{self};
use crate::web::guard::{self, ClientIp};
use crate::web::pages::session::{self, Visitor, FORM_COOKIE, SESSION_COOKIE};
use crate::web::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
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

pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if let Some(me) = staff_of(&state, &visitor).await {
        return Redirect::to(home_of(me.role)).into_response();
    }
    let token = visitor
        .form_token
        .clone()
        .unwrap_or_else(session::random_token);
    let mut r = html(SignInPage {
        staff: None,
        csrf: token.clone(),
        flash: None,
    });
    if visitor.form_token.is_none() {
        r.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(&headers, FORM_COOKIE, &token, 7200),
        );
    }
    r
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    username: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if !visitor.csrf_ok(&form.csrf) {
        return forbidden("the form expired; open the sign-in page again");
    }
    // Failures lock the username for a while whoever tries it, from whichever address; the
    // address limit bounds guessing across many usernames.
    let rules = state.limits;
    let store = state.ctx.store.as_ref();
    let now = state.clock.now();
    let user = Subject::hashed(
        &state.ctx.keys,
        "staff-sign-in:user",
        &form.username.trim().to_lowercase(),
    );
    let checks = vec![(
        rules.staff_sign_ins_per_ip,
        ip.subject(&state, "staff-sign-in:ip"),
    )];
    if let Err(e) = guard::limit(&state, checks, "sign-in attempts").await {
        return limited(e);
    }
    let locked = limits::not_locked(
        store,
        &rules.staff_failures_per_user,
        &user,
        "failed sign-ins for this username",
        now,
    )
    .await;
    if let Err(e) = locked {
        return limited(e);
    }
    match staff::authenticate(store, &form.username, &form.password).await {
        Ok(Some((row, role))) => match session::start(
            &state,
            "staff",
            row.id,
            Some(row.carrier.clone()),
            Language::En,
        )
        .await
        {
            Ok(token) => {
                if let Some(old) = session::cookie(&headers, SESSION_COOKIE) {
                    let _ = state.ctx.store.delete_session(&session::hash(&old)).await;
                }
                let mut r = Redirect::to(home_of(role)).into_response();
                r.headers_mut().append(
                    header::SET_COOKIE,
                    session::set_cookie(&headers, SESSION_COOKIE, &token, session::lifetime_secs()),
                );
                r
            }
            Err(e) => forbidden(&e.to_string()),
        },
        Ok(None) => {
            if let Err(e) = limits::failed(store, &rules.staff_failures_per_user, &user, now).await
            {
                tracing::warn!(error = %e, "a failed staff sign-in could not be counted");
            }
            let token = visitor.form_token.clone().unwrap_or_default();
            let mut r = html(SignInPage {
                staff: None,
                csrf: token,
                flash: Some("Username or password is not right.".into()),
            });
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        Err(e) => forbidden(&e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if let Some(s) = visitor
        .session
        .as_ref()
        .filter(|_| visitor.csrf_ok(&form.csrf))
    {
        let _ = state.ctx.store.delete_session(&s.token_hash).await;
    }
    let mut r = Redirect::to("/staff").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SESSION_COOKIE, "", 0),
    );
    r
}
