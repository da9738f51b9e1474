//! Signing in to the portal: the identifier, the one-time code, the session, signing out.

use super::failed;
use super::{limited_page, page, render, service_error, LangQuery};
use crate::adapters::messages::CodeDestination;
use crate::services::guard::Address;
use crate::services::lines::{find_line, parse_line_key};
use crate::services::ServiceError;
use crate::store::{LineKey, Store};
use crate::web::pages::error::{PageError, StaleForm};
use crate::web::pages::session::{self, CsrfForm, Visitor};
use crate::web::pages::{i18n, Page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::identity::{OtpOutcome, OtpRules, OtpState};
use simdesk_domain::line::Line;

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    page: Page,
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage {
    page: Page,
    sent_to: String,
    identifier: String,
}

/// Sign-in page, or my lines when already signed in.
pub async fn home(
    mut visitor: Visitor,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    if visitor.traveller().is_some() {
        return Redirect::to("/my").into_response();
    }
    let form_cookie = visitor.ensure_form_token(&headers);
    let page = render(
        SignInPage {
            page: page(&visitor, "/"),
        },
        &headers,
        q.lang.as_deref(),
    );
    (form_cookie, page).into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    identifier: String,
}

/// What a sign-in identifier names, judged from its form alone (never from the database), so
/// registered and unknown identifiers get the same answer.
enum Identifier {
    Email(String),
    Line(LineKey),
}

impl Identifier {
    fn parse(text: &str) -> Option<Identifier> {
        let text = text.trim();
        if text.contains('@') {
            return Some(Identifier::Email(text.to_string()));
        }
        parse_line_key(text).ok().map(Identifier::Line)
    }

    /// The account a limit counts: one per number or address, however it was typed.
    fn account(&self) -> String {
        match self {
            Identifier::Email(e) => format!("email:{}", e.to_lowercase()),
            Identifier::Line(LineKey::Msisdn(m)) => format!("msisdn:{m}"),
            Identifier::Line(LineKey::Iccid(i)) => format!("iccid:{i}"),
            Identifier::Line(LineKey::Id(id)) => format!("id:{id}"),
            Identifier::Line(LineKey::Imsi(i)) => format!("imsi:{i}"),
        }
    }

    /// Where the page says the code went, from what was typed (the same for unknown ones).
    fn shown(&self) -> String {
        match self {
            Identifier::Email(e) => CodeDestination::Email(e.clone()).masked(),
            Identifier::Line(LineKey::Msisdn(m)) => CodeDestination::Line(m.to_string()).masked(),
            Identifier::Line(LineKey::Iccid(i)) => CodeDestination::Line(i.to_string()).masked(),
            Identifier::Line(LineKey::Id(_) | LineKey::Imsi(_)) => "•••".into(),
        }
    }

    /// Whether the code goes out by SMS (and so counts against the SMS cap).
    fn by_sms(&self) -> bool {
        matches!(self, Identifier::Line(_))
    }

    /// The line a code for this identifier is about, and where it goes; `None` when nobody may
    /// sign in with it.
    async fn resolve(
        &self,
        store: &dyn Store,
    ) -> Result<Option<(Line, CodeDestination)>, ServiceError> {
        match self {
            // By e-mail the code goes to that address.
            Identifier::Email(address) => {
                let Some(customer) = store.customer_by_email(address).await? else {
                    return Ok(None);
                };
                let line = store.lines_of_customer(customer).await?.into_iter().next();
                Ok(line.map(|line| (line, CodeDestination::Email(address.clone()))))
            }
            // By number, to the line itself.
            Identifier::Line(key) => {
                let line = match find_line(store, key).await {
                    Ok(line) => line,
                    Err(e) if e.is_client_error() => return Ok(None),
                    Err(e) => return Err(e),
                };
                // A line that has ended no longer reaches its holder, and its number may be
                // given to someone else: its holder signs in with their e-mail address instead.
                if line.holder.is_none() || line.state.is_final() {
                    return Ok(None);
                }
                let to = CodeDestination::Line(line.msisdn.to_string());
                Ok(Some((line, to)))
            }
        }
    }
}

/// Sends a sign-in code when the identifier names a line that may sign in; the answer is the
/// same code page either way, so the page does not tell who is registered.
pub async fn sign_in(
    State(state): State<AppState>,
    visitor: Visitor,
    address: Address,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Err(e) = visitor.check_form(&form.csrf, StaleForm::Portal) {
        return failed(&visitor, e, "/");
    }
    let Some(identifier) = Identifier::parse(&form.identifier) else {
        return failed(
            &visitor,
            PageError::BadInput(i18n::t(visitor.language, "sign-in-intro")),
            "/",
        );
    };
    // Counted before the lookup, registered or not: the limits themselves reveal nothing.
    let asked = state
        .guard()
        .sign_in_request(address, &identifier.account(), identifier.by_sms())
        .await;
    if let Err(e) = asked {
        return limited_page(&visitor, e, "/");
    }
    let store = state.ctx.store.as_ref();
    match identifier.resolve(store).await {
        Ok(Some((line, destination))) => {
            if let Err(e) = send_sign_in_code(&state, &visitor, &line, &destination).await {
                return service_error(&visitor, e, "/");
            }
        }
        Ok(None) => {}
        Err(e) => return failed(&visitor, e.into(), "/"),
    }
    render(
        CodePage {
            page: page(&visitor, "/"),
            sent_to: identifier.shown(),
            identifier: form.identifier.trim().to_string(),
        },
        &headers,
        None,
    )
}

/// Sends a fresh sign-in code unless the line's own limits say not yet; then the code sent
/// earlier stays valid, and the page says nothing different.
async fn send_sign_in_code(
    state: &AppState,
    visitor: &Visitor,
    line: &Line,
    destination: &CodeDestination,
) -> Result<(), ServiceError> {
    let store = state.ctx.store.as_ref();
    let now = state.clock.now();
    let rules = OtpRules::default();
    let earlier = store
        .code_sends_since(line.id, false, now - jiff::SignedDuration::from_hours(1))
        .await?;
    if rules.may_send(&earlier, now).is_err() {
        return Ok(());
    }
    if state.guard().line_sends(line.id).await.is_err() {
        return Ok(());
    }
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    store
        .insert_code(
            line.id,
            None,
            "sign-in",
            &state.ctx.keys.hash_code(line.id.get(), &code),
            now,
        )
        .await?;
    state
        .ctx
        .codes
        .send_code(destination, &code, visitor.language.tag())
        .await
        .map_err(|e| ServiceError::Unavailable(e.to_string()))
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    identifier: String,
    code: String,
}

/// Checks the sign-in code and starts a fresh session.
pub async fn sign_in_code(
    State(state): State<AppState>,
    visitor: Visitor,
    address: Address,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if let Err(e) = visitor.check_form(&form.csrf, StaleForm::Portal) {
        return failed(&visitor, e, "/");
    }
    let wrong =
        |visitor: &Visitor, message: String| failed(visitor, PageError::Forbidden(message), "/");
    let expired = i18n::t(visitor.language, "err-code-expired");
    let Some(identifier) = Identifier::parse(&form.identifier) else {
        return wrong(&visitor, expired);
    };
    let checked = state
        .guard()
        .sign_in_check(address, &identifier.account())
        .await;
    if let Err(e) = checked {
        return limited_page(&visitor, e, "/");
    }
    let store = state.ctx.store.as_ref();
    // An unknown identifier meets the same answer as a known one without a live code.
    let line = match identifier.resolve(store).await {
        Ok(Some((line, _))) => line,
        Ok(None) => return wrong(&visitor, expired),
        Err(e) => return failed(&visitor, e.into(), "/"),
    };
    let stored = match store.latest_code(line.id, None).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return wrong(&visitor, expired),
        Err(e) => return failed(&visitor, e.into(), "/"),
    };
    let rules = OtpRules::default();
    let now = state.clock.now();
    if stored.used_at.is_some() || now >= stored.issued_at + rules.ttl {
        return wrong(
            &visitor,
            "the code has expired or was used; ask for a new one".into(),
        );
    }
    let attempts = match store
        .claim_code_attempt(stored.id, i64::from(rules.max_attempts))
        .await
    {
        Ok(Some(attempts)) => attempts,
        Ok(None) => return wrong(&visitor, i18n::t(visitor.language, "err-code-locked")),
        Err(e) => return failed(&visitor, e.into(), "/"),
    };
    let code: String = form.code.chars().filter(|c| c.is_ascii_digit()).collect();
    let matches = crate::services::cancellation::constant_time_eq(
        state.ctx.keys.hash_code(line.id.get(), &code).as_bytes(),
        stored.code_hash.as_bytes(),
    );
    let st = OtpState {
        issued_at: stored.issued_at,
        attempts: u32::try_from(attempts - 1).unwrap_or(u32::MAX),
        used: false,
    };
    match rules.check(&st, matches, now) {
        OtpOutcome::Accepted => {}
        OtpOutcome::Wrong { attempts_left } => {
            return wrong(
                &visitor,
                format!("the code is not right; {attempts_left} tries left"),
            )
        }
        _ => return wrong(&visitor, i18n::t(visitor.language, "err-code-locked")),
    }
    let used = match store.use_code(stored.id, now).await {
        Ok(used) => used,
        Err(e) => return failed(&visitor, e.into(), "/"),
    };
    if !used {
        return wrong(
            &visitor,
            "the code was already used; ask for a new one".into(),
        );
    }
    let Some(customer) = line.holder else {
        return wrong(&visitor, i18n::t(visitor.language, "err-no-line"));
    };
    let signed_in = session::sign_in(
        &state,
        &headers,
        "traveller",
        customer.get(),
        Some(line.carrier.to_string()),
        visitor.language,
        "/my",
    )
    .await;
    signed_in.unwrap_or_else(|e| service_error(&visitor, e.into(), "/"))
}

pub async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    session::sign_out(&state, &visitor, &headers, &form, "/").await
}
