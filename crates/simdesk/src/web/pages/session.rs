//! Browser sessions in a secure cookie (random token, only its hash stored; HttpOnly, SameSite,
//! Secure behind TLS), renewed at every sign-in, with a CSRF token checked on every form.

use super::error::{PageError, StaleForm};
use super::Page;
use crate::store::SessionRow;
use crate::web::AppState;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, IntoResponseParts, Redirect, Response, ResponseParts};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};
use simdesk_domain::customer::Language;
use simdesk_domain::ids::CustomerId;

pub const SESSION_COOKIE: &str = "sd_session";
pub const LANG_COOKIE: &str = "sd_lang";
/// For forms shown before anyone is signed in (double-submit: cookie and field must agree).
pub const FORM_COOKIE: &str = "sd_form";
/// How long an anonymous form token lives in its cookie.
const FORM_LIFETIME_SECS: i64 = 7200;
const LIFETIME: SignedDuration = SignedDuration::from_hours(2);

pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

pub fn set_cookie(headers: &HeaderMap, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if behind_tls(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Who the browser is.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub language: Language,
    pub session: Option<SessionRow>,
    /// The anonymous form token (from its cookie), if any.
    pub form_token: Option<String>,
}

impl Visitor {
    /// Who the browser is; when the store cannot say whether its session is live, the answer
    /// is the outage page (503), never "signed out".
    async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
        lang_param: Option<&str>,
    ) -> Result<Visitor, Response> {
        let session = match cookie(headers, SESSION_COOKIE) {
            Some(token) => state
                .ctx
                .store
                .session(&hash(&token), state.clock.now())
                .await
                .map_err(PageError::from),
            None => Ok(None),
        };
        let (session, outage) = match session {
            Ok(session) => (session, None),
            Err(e) => (None, Some(e)),
        };
        let language = lang_param
            .and_then(|l| l.parse().ok())
            .or_else(|| cookie(headers, LANG_COOKIE).and_then(|l| l.parse().ok()))
            .or_else(|| session.as_ref().and_then(|s| s.language.parse().ok()))
            .or_else(|| {
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(super::i18n::from_accept_language)
            })
            .unwrap_or(Language::En);
        let visitor = Visitor {
            language,
            session,
            form_token: cookie(headers, FORM_COOKIE),
        };
        match outage {
            None => Ok(visitor),
            Some(e) => {
                let page = Page {
                    lang: visitor.language,
                    csrf: String::new(),
                    path: "/".into(),
                    signed_in: false,
                };
                Err(e.respond(page, "/"))
            }
        }
    }

    /// The signed-in traveller's customer id.
    pub fn traveller(&self) -> Option<CustomerId> {
        self.session
            .as_ref()
            .filter(|s| s.kind == "traveller")
            .map(|s| CustomerId::new(s.subject))
    }

    /// Gives a visitor without an anonymous form token a fresh one (kept in `form_token`, so
    /// the page's form carries it); the answer must then set its cookie, which the returned
    /// part does. A visitor who has one keeps it, and nothing is set.
    pub fn ensure_form_token(&mut self, headers: &HeaderMap) -> FormCookie {
        if self.form_token.is_some() {
            return FormCookie(None);
        }
        let token = random_token();
        let cookie = set_cookie(headers, FORM_COOKIE, &token, FORM_LIFETIME_SECS);
        self.form_token = Some(token);
        FormCookie(Some(cookie))
    }

    /// The token a form must carry back.
    pub fn csrf(&self) -> String {
        match &self.session {
            Some(s) => s.csrf_token.clone(),
            None => self.form_token.clone().unwrap_or_default(),
        }
    }

    /// A submitted form's token checked: the refusal, worded for `form`, when it is not this
    /// visitor's.
    pub fn check_form(&self, submitted: &str, form: StaleForm) -> Result<(), PageError> {
        if self.csrf_ok(submitted) {
            Ok(())
        } else {
            Err(PageError::FormExpired(form))
        }
    }

    /// Whether a submitted form's token is this visitor's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        let expected = self.csrf();
        !expected.is_empty()
            && expected.len() == submitted.len()
            && expected
                .bytes()
                .zip(submitted.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0
    }
}

/// The `Set-Cookie` of a freshly issued anonymous form token, if one was issued: answer with
/// `(cookie, page)`.
#[must_use = "the form token only works if its cookie goes out with the page"]
pub struct FormCookie(Option<HeaderValue>);

impl IntoResponseParts for FormCookie {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if let Some(cookie) = self.0 {
            res.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(res)
    }
}

/// Starts a fresh session (a new token at every sign-in, so a planted one is useless).
async fn start(
    state: &AppState,
    kind: &str,
    subject: i64,
    carrier: Option<String>,
    language: Language,
) -> Result<String, crate::store::StoreError> {
    let token = random_token();
    let now = Timestamp::now();
    state
        .ctx
        .store
        .insert_session(&SessionRow {
            token_hash: hash(&token),
            kind: kind.into(),
            subject,
            carrier,
            csrf_token: random_token(),
            language: language.tag().into(),
            created_at: now,
            expires_at: now + LIFETIME,
        })
        .await?;
    Ok(token)
}

/// Signs the browser in as `kind` `subject`: a fresh session, the one it came with ended, and
/// the way on to `to` carrying the new session's cookie.
pub async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
    subject: i64,
    carrier: Option<String>,
    language: Language,
    to: &str,
) -> Result<Response, crate::store::StoreError> {
    let token = start(state, kind, subject, carrier, language).await?;
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        // Best effort: the old token is useless to anyone once the browser holds the new one,
        // and an old session left behind only lives out its lifetime.
        let _ = state.ctx.store.delete_session(&hash(&old)).await;
    }
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(headers, SESSION_COOKIE, &token, LIFETIME.as_secs()),
    );
    Ok(r)
}

/// A form that carries only its CSRF token (sign-out, and the portal's one-button forms).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Signs the browser out and sends it to `to`: its session ends when the form is its own, and
/// the cookie is cleared either way.
pub async fn sign_out(
    state: &AppState,
    visitor: &Visitor,
    headers: &HeaderMap,
    form: &CsrfForm,
    to: &str,
) -> Response {
    if let Some(s) = visitor
        .session
        .as_ref()
        .filter(|_| visitor.csrf_ok(&form.csrf))
    {
        let _ = state.ctx.store.delete_session(&s.token_hash).await;
    }
    let mut r = Redirect::to(to).into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(headers, SESSION_COOKIE, "", 0),
    );
    r
}

/// A page's `?lang=`, which wins over the cookie, the session and the browser.
#[derive(serde::Deserialize)]
struct LangParam {
    lang: Option<String>,
}

/// Every page handler starts from the visitor; a store outage answers before the handler runs.
impl axum::extract::FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Visitor, Response> {
        let lang = axum::extract::Query::<LangParam>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|q| q.0.lang);
        Visitor::from_headers(state, &parts.headers, lang.as_deref()).await
    }
}
