//! The traveller's pages: sign in with a code, my lines, cancel (quote → confirm → identity →
//! status), withdraw, receipts, e-wallet and payout, and what happens to my data.

use super::session::{self, Visitor, FORM_COOKIE, LANG_COOKIE, SESSION_COOKIE};
use super::{i18n, Page};
use crate::adapters::documents;
use crate::adapters::messages::CodeDestination;
use crate::receipts;
use crate::services::cancellation;
use crate::services::limits::Subject;
use crate::services::lines::{find_line, parse_line_key};
use crate::services::{wallet, ServiceError};
use crate::store::{LineKey, Store};
use crate::web::guard::{self, ClientIp};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use jiff::Timestamp;
use serde::Deserialize;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::customer::Language;
use simdesk_domain::identity::{OtpOutcome, OtpRules, OtpState};
use simdesk_domain::line::{Line, LineKind};
use simdesk_domain::money::Money;
use simdesk_domain::policy::{IdentityCheck, Service};
use simdesk_domain::validity::{format_jst, last_valid_second};

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
    format: Option<String>,
    done: Option<String>,
}

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

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Page,
    message: String,
    back: String,
}

struct LineView {
    iccid: String,
    msisdn: String,
    plan: String,
    state_key: String,
    valid_until: Option<String>,
    balance: String,
    data_mb: i64,
    addons: Vec<String>,
    can_cancel: bool,
    open_request: Option<i64>,
    receipts: Vec<String>,
}

#[derive(Template)]
#[template(path = "lines.html")]
struct LinesPage {
    page: Page,
    lines: Vec<LineView>,
}

#[derive(Template)]
#[template(path = "quote.html")]
struct QuotePage {
    page: Page,
    iccid: String,
    msisdn: String,
    plan: String,
    cannot: Option<String>,
    valid_until: Option<String>,
    effective: String,
    refund_items: Vec<(String, String)>,
    refund_total: String,
    bars: bool,
    has_addons: bool,
    checks: String,
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    page: Page,
    id: i64,
    msisdn: String,
    state: String,
    state_key: String,
    effective: Option<String>,
    rejected: Option<String>,
    receipt: Option<String>,
    needs_code: bool,
    needs_document: bool,
    document_waiting: bool,
    open: bool,
    flash: Option<String>,
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    page: Page,
    balance: Vec<String>,
    history: Vec<(String, String, String)>,
    payout_key: String,
    flash: Option<String>,
}

#[derive(Template)]
#[template(path = "data.html")]
struct DataPage {
    page: Page,
    voice: bool,
    kept_until: Vec<String>,
    /// The traveller's erasure request was carried out.
    done: bool,
    /// The request erased nothing: a line is still in service.
    in_service: bool,
}

fn page(visitor: &Visitor, path: &str) -> Page {
    Page {
        lang: visitor.language,
        csrf: visitor.csrf(),
        path: path.to_string(),
        signed_in: visitor.traveller().is_some(),
    }
}

fn render(
    template: impl Template,
    headers: &HeaderMap,
    visitor: &Visitor,
    lang_param: Option<&str>,
) -> Response {
    let html = match template.render() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "page rendering failed");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "page could not be rendered",
            )
                .into_response();
        }
    };
    let mut response = Html(html).into_response();
    // Remember a language picked with ?lang= on every page after.
    if let Some(l) = lang_param.and_then(|l| l.parse::<Language>().ok()) {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(headers, LANG_COOKIE, l.tag(), 31_536_000),
        );
    }
    // Anonymous forms need their double-submit token.
    if visitor.session.is_none() && visitor.form_token.is_none() {
        // Set by the caller through `with_form_token`.
    }
    response
}

fn error_page(
    visitor: &Visitor,
    headers: &HeaderMap,
    status: StatusCode,
    message: String,
    back: &str,
) -> Response {
    let mut r = render(
        ErrorPage {
            page: page(visitor, back),
            message,
            back: back.to_string(),
        },
        headers,
        visitor,
        None,
    );
    *r.status_mut() = status;
    r
}

fn service_error(visitor: &Visitor, headers: &HeaderMap, e: ServiceError, back: &str) -> Response {
    let status = if e.is_client_error() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let lang = visitor.language;
    let message = match &e {
        ServiceError::RateLimited(detail) => too_soon(visitor, detail),
        ServiceError::Identity(detail) => identity_message(lang, detail),
        _ if e.is_client_error() => e.to_string(),
        _ => {
            tracing::error!(error = %e, "page request failed");
            i18n::t(lang, "err-unavailable")
        }
    };
    error_page(visitor, headers, status, message, back)
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

fn to_sign_in() -> Response {
    Redirect::to("/").into_response()
}

/// Sign-in page, or my lines when already signed in.
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let mut visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    if visitor.traveller().is_some() {
        return Redirect::to("/my").into_response();
    }
    let fresh = visitor.form_token.is_none().then(session::random_token);
    if let Some(t) = &fresh {
        visitor.form_token = Some(t.clone());
    }
    let mut r = render(
        SignInPage {
            page: page(&visitor, "/"),
        },
        &headers,
        &visitor,
        q.lang.as_deref(),
    );
    if let Some(t) = fresh {
        r.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(&headers, FORM_COOKIE, &t, 7200),
        );
    }
    r
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
        }
    }

    /// Where the page says the code went, from what was typed (the same for unknown ones).
    fn shown(&self) -> String {
        match self {
            Identifier::Email(e) => CodeDestination::Email(e.clone()).masked(),
            Identifier::Line(LineKey::Msisdn(m)) => CodeDestination::Line(m.to_string()).masked(),
            Identifier::Line(LineKey::Iccid(i)) => CodeDestination::Line(i.to_string()).masked(),
            Identifier::Line(LineKey::Id(_)) => "•••".into(),
        }
    }

    /// Whether the code goes out by SMS (and so counts against the SMS cap).
    fn by_sms(&self) -> bool {
        matches!(self, Identifier::Line(_))
    }

    /// The line a code for this identifier is about, and where it goes; `None` when nobody may
    /// sign in with it.
    async fn resolve(&self, store: &dyn Store) -> Option<(Line, CodeDestination)> {
        match self {
            // By e-mail the code goes to that address.
            Identifier::Email(address) => {
                let customer = store.customer_by_email(address).await.ok()??;
                let line = store
                    .lines_of_customer(customer)
                    .await
                    .ok()?
                    .into_iter()
                    .next()?;
                Some((line, CodeDestination::Email(address.clone())))
            }
            // By number, to the line itself.
            Identifier::Line(key) => {
                let line = find_line(store, key).await.ok()?;
                // A line that has ended no longer reaches its holder, and its number may be
                // given to someone else: its holder signs in with their e-mail address instead.
                if line.holder.is_none() || line.state.is_final() {
                    return None;
                }
                let to = CodeDestination::Line(line.msisdn.to_string());
                Some((line, to))
            }
        }
    }
}

/// A refusal by an abuse limit: 429, `Retry-After`, and the wait in the traveller's language.
fn limited_page(
    visitor: &Visitor,
    headers: &HeaderMap,
    error: ServiceError,
    back: &str,
) -> Response {
    let ServiceError::TooManyAttempts {
        retry_after_secs, ..
    } = &error
    else {
        return service_error(visitor, headers, error, back);
    };
    let minutes = (retry_after_secs + 59) / 60;
    let mut r = error_page(
        visitor,
        headers,
        StatusCode::TOO_MANY_REQUESTS,
        i18n::t1(
            visitor.language,
            "err-rate-limited",
            "minutes",
            &minutes.to_string(),
        ),
        back,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, (*retry_after_secs).into());
    r
}

/// Sends a sign-in code when the identifier names a line that may sign in; the answer is the
/// same code page either way, so the page does not tell who is registered.
pub async fn sign_in(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if !visitor.csrf_ok(&form.csrf) {
        return error_page(
            &visitor,
            &headers,
            StatusCode::FORBIDDEN,
            i18n::t(visitor.language, "err-form-expired"),
            "/",
        );
    }
    let Some(identifier) = Identifier::parse(&form.identifier) else {
        return error_page(
            &visitor,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            i18n::t(visitor.language, "sign-in-intro"),
            "/",
        );
    };
    // Counted before the lookup, registered or not: the limits themselves reveal nothing.
    let rules = state.limits;
    let keys = &state.ctx.keys;
    let mut checks = vec![
        (rules.code_sends_per_ip, ip.subject(&state, "code-send:ip")),
        (
            rules.sign_ins_per_account,
            Subject::hashed(keys, "sign-in:account", &identifier.account()),
        ),
    ];
    if identifier.by_sms() {
        checks.push((rules.code_sms_per_hour, Subject::id("code-sms", "all")));
    }
    if let Err(e) = guard::limit(&state, checks, "sign-in requests").await {
        return limited_page(&visitor, &headers, e, "/");
    }
    let store = state.ctx.store.as_ref();
    if let Some((line, destination)) = identifier.resolve(store).await {
        if let Err(e) = send_sign_in_code(&state, &visitor, &line, &destination).await {
            return service_error(&visitor, &headers, e, "/");
        }
    }
    render(
        CodePage {
            page: page(&visitor, "/"),
            sent_to: identifier.shown(),
            identifier: form.identifier.trim().to_string(),
        },
        &headers,
        &visitor,
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
    let now = Timestamp::now();
    let rules = OtpRules::default();
    let earlier = store
        .code_sends_since(line.id, false, now - jiff::SignedDuration::from_hours(1))
        .await?;
    if rules.may_send(&earlier, now).is_err() {
        return Ok(());
    }
    if guard::line_sends(state, line.id).await.is_err() {
        return Ok(());
    }
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    store
        .insert_code(
            line.id,
            None,
            "sign-in",
            &state.ctx.keys.hash_code(line.id, &code),
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
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if !visitor.csrf_ok(&form.csrf) {
        return error_page(
            &visitor,
            &headers,
            StatusCode::FORBIDDEN,
            i18n::t(visitor.language, "err-form-expired"),
            "/",
        );
    }
    let wrong = |visitor: &Visitor, message: String| {
        error_page(visitor, &headers, StatusCode::FORBIDDEN, message, "/")
    };
    let expired = i18n::t(visitor.language, "err-code-expired");
    let Some(identifier) = Identifier::parse(&form.identifier) else {
        return wrong(&visitor, expired);
    };
    let rules = state.limits;
    let checks = vec![
        (
            rules.code_checks_per_ip,
            ip.subject(&state, "code-check:ip"),
        ),
        (
            rules.code_checks_per_line,
            Subject::hashed(&state.ctx.keys, "code-check:account", &identifier.account()),
        ),
    ];
    if let Err(e) = guard::limit(&state, checks, "code checks").await {
        return limited_page(&visitor, &headers, e, "/");
    }
    let store = state.ctx.store.as_ref();
    // An unknown identifier meets the same answer as a known one without a live code.
    let Some((line, _)) = identifier.resolve(store).await else {
        return wrong(&visitor, expired);
    };
    let Ok(Some(stored)) = store.latest_code(line.id, None).await else {
        return wrong(&visitor, expired);
    };
    let rules = OtpRules::default();
    let now = Timestamp::now();
    if stored.used_at.is_some() || now >= stored.issued_at + rules.ttl {
        return wrong(
            &visitor,
            "the code has expired or was used; ask for a new one".into(),
        );
    }
    let Ok(Some(attempts)) = store
        .claim_code_attempt(stored.id, i64::from(rules.max_attempts))
        .await
    else {
        return wrong(&visitor, i18n::t(visitor.language, "err-code-locked"));
    };
    let code: String = form.code.chars().filter(|c| c.is_ascii_digit()).collect();
    let matches = crate::services::cancellation::constant_time_eq(
        state.ctx.keys.hash_code(line.id, &code).as_bytes(),
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
    if !store.use_code(stored.id, now).await.unwrap_or(false) {
        return wrong(
            &visitor,
            "the code was already used; ask for a new one".into(),
        );
    }
    let Some(customer) = line.holder else {
        return wrong(&visitor, i18n::t(visitor.language, "err-no-line"));
    };
    match session::start(
        &state,
        "traveller",
        customer,
        Some(line.carrier.clone()),
        visitor.language,
    )
    .await
    {
        Ok(token) => {
            if let Some(old) = session::cookie(&headers, SESSION_COOKIE) {
                let _ = store.delete_session(&session::hash(&old)).await;
            }
            let mut r = Redirect::to("/my").into_response();
            r.headers_mut().append(
                header::SET_COOKIE,
                session::set_cookie(&headers, SESSION_COOKIE, &token, session::lifetime_secs()),
            );
            r
        }
        Err(e) => service_error(&visitor, &headers, e.into(), "/"),
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
    if visitor.session.is_some() && visitor.csrf_ok(&form.csrf) {
        if let Some(s) = &visitor.session {
            let _ = state.ctx.store.delete_session(&s.token_hash).await;
        }
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(&headers, SESSION_COOKIE, "", 0),
    );
    r
}

/// The traveller's own line, or nothing: another person's line does not exist for them.
async fn own_line(state: &AppState, customer: i64, iccid: &str) -> Option<Line> {
    let key = parse_line_key(iccid).ok()?;
    let line = find_line(state.ctx.store.as_ref(), &key).await.ok()?;
    (line.holder == Some(customer)).then_some(line)
}

pub async fn my_lines(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    let store = state.ctx.store.as_ref();
    let now = Timestamp::now();
    let lines = match store.lines_of_customer(customer).await {
        Ok(l) => l,
        Err(e) => return service_error(&visitor, &headers, e.into(), "/my"),
    };
    let mut views = Vec::new();
    for line in lines {
        let buckets = store.buckets(line.id).await.unwrap_or_default();
        let addons = store.addons(line.id).await.unwrap_or_default();
        let requests = store.requests_for_line(line.id).await.unwrap_or_default();
        let currency = state
            .ctx
            .book
            .carrier(&line.carrier)
            .map(|c| c.currency)
            .unwrap_or(simdesk_domain::money::Currency::Jpy);
        let plan = state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.name.clone())
            .unwrap_or_else(|_| line.plan.clone());
        let open_request = requests
            .iter()
            .find(|r| r.request.state.is_open())
            .map(|r| r.request.id);
        views.push(LineView {
            iccid: line.iccid.to_string(),
            msisdn: line.msisdn.national(),
            plan,
            state_key: format!("state-{}", line.state.as_str()),
            valid_until: line
                .validity_ends_at
                .map(|e| format_jst(last_valid_second(e))),
            balance: Money::new(
                balance::remaining(&buckets, BucketUnit::Money(currency), now),
                currency,
            )
            .to_string(),
            data_mb: balance::remaining(&buckets, BucketUnit::Megabytes, now),
            addons: addons
                .iter()
                .filter(|a| a.unbound_at.is_none())
                .map(|a| a.code.clone())
                .collect(),
            can_cancel: open_request.is_none()
                && matches!(line.state.as_str(), "registered" | "active" | "expired"),
            open_request,
            receipts: requests
                .iter()
                .filter_map(|r| r.receipt_number.clone())
                .collect(),
        });
    }
    render(
        LinesPage {
            page: page(&visitor, "/my"),
            lines: views,
        },
        &headers,
        &visitor,
        q.lang.as_deref(),
    )
}

fn check_words(lang: Language, checks: &[IdentityCheck]) -> String {
    checks
        .iter()
        .map(|c| {
            i18n::t(
                lang,
                &format!("check-{}", simdesk_domain::cancellation::check_name(c)),
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

pub async fn quote_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    let path = format!("/my/lines/{iccid}/cancel");
    let Some(line) = own_line(&state, customer, &iccid).await else {
        return error_page(
            &visitor,
            &headers,
            StatusCode::NOT_FOUND,
            i18n::t(visitor.language, "err-not-yours"),
            "/my",
        );
    };
    let quote = match cancellation::quote(&state.ctx, &LineKey::Id(line.id), Timestamp::now()).await
    {
        Ok(q) => q,
        Err(e) => return service_error(&visitor, &headers, e, "/my"),
    };
    let checks = state
        .ctx
        .book
        .for_line(&line)
        .map(|(p, _)| simdesk_domain::identity::required_checks(p.identity(), Channel::Web))
        .unwrap_or_default();
    let bars = state
        .ctx
        .book
        .for_line(&line)
        .map(|(p, _)| p.cancellation().bar_while_pending)
        .unwrap_or(false);
    let refund = quote.refund.as_ref();
    let template = QuotePage {
        page: page(&visitor, &path),
        iccid: line.iccid.to_string(),
        msisdn: line.msisdn.national(),
        plan: state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        cannot: quote.cannot_because.map(|c| c.to_string()),
        valid_until: quote
            .time_left_notice
            .as_ref()
            .and(quote.valid_until_jst.clone()),
        effective: quote
            .effective_date_if_submitted_now
            .map(|d| d.to_string())
            .unwrap_or_default(),
        refund_items: refund
            .map(|r| {
                r.items
                    .iter()
                    .map(|i| {
                        (
                            i18n::t(visitor.language, &format!("refund-{}", i.key)),
                            i.amount.to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        refund_total: refund.map(|r| r.total.to_string()).unwrap_or_default(),
        bars,
        has_addons: !quote.bound_addons.is_empty(),
        checks: check_words(visitor.language, &checks),
    };
    render(template, &headers, &visitor, q.lang.as_deref())
}

fn traveller_attribution(customer: i64, why: &str) -> Attribution {
    Attribution::new(
        Actor {
            kind: ActorKind::Customer,
            id: format!("customer:{customer}"),
        },
        Channel::Web,
        Timestamp::now(),
        why,
    )
}

pub async fn confirm_cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let customer = match signed_in_form(&visitor, &headers, &form.csrf, "/my") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(line) = own_line(&state, customer, &iccid).await else {
        return error_page(
            &visitor,
            &headers,
            StatusCode::NOT_FOUND,
            i18n::t(visitor.language, "err-not-yours"),
            "/my",
        );
    };
    match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Web,
        None,
        traveller_attribution(customer, "cancelled on the self-service portal"),
    )
    .await
    {
        Ok(s) => Redirect::to(&format!("/my/requests/{}", s.request.request.id)).into_response(),
        Err(e) => service_error(&visitor, &headers, e, &format!("/my/lines/{iccid}/cancel")),
    }
}

/// The traveller's own request and its line.
async fn own_request(
    state: &AppState,
    customer: i64,
    id: i64,
) -> Option<(crate::store::RequestRecord, Line)> {
    let record = state.ctx.store.request(id).await.ok()??;
    let line = find_line(
        state.ctx.store.as_ref(),
        &LineKey::Id(record.request.line_id),
    )
    .await
    .ok()?;
    (line.holder == Some(customer)).then_some((record, line))
}

/// A form posted about a request: the traveller must be signed in, own the request and send the
/// session's CSRF token; otherwise the answer to give instead.
async fn own_request_form(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    id: i64,
    csrf: &str,
) -> Result<i64, Response> {
    own_request_line(state, headers, visitor, id, csrf)
        .await
        .map(|(customer, _)| customer)
}

/// The signed-in traveller posting a form with their session's CSRF token; otherwise the answer
/// to give (sign in, or the form expired, leading back to `back`).
// The error is the page to answer with, built once per request; boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn signed_in_form(
    visitor: &Visitor,
    headers: &HeaderMap,
    csrf: &str,
    back: &str,
) -> Result<i64, Response> {
    let Some(customer) = visitor.traveller() else {
        return Err(to_sign_in());
    };
    if !visitor.csrf_ok(csrf) {
        return Err(error_page(
            visitor,
            headers,
            StatusCode::FORBIDDEN,
            i18n::t(visitor.language, "err-form-expired"),
            back,
        ));
    }
    Ok(customer)
}

/// As [`own_request_form`], also giving the request's line (what per-line limits count).
async fn own_request_line(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    id: i64,
    csrf: &str,
) -> Result<(i64, i64), Response> {
    let customer = signed_in_form(visitor, headers, csrf, &format!("/my/requests/{id}"))?;
    // Someone else's request is answered as one that does not exist, as on its page.
    let Some((_, line)) = own_request(state, customer, id).await else {
        return Err(error_page(
            visitor,
            headers,
            StatusCode::NOT_FOUND,
            i18n::t(visitor.language, "err-not-yours"),
            "/my",
        ));
    };
    Ok((customer, line.id))
}

async fn show_request(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    id: i64,
    flash: Option<String>,
    lang: Option<&str>,
) -> Response {
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    let Some((record, line)) = own_request(state, customer, id).await else {
        return error_page(
            visitor,
            headers,
            StatusCode::NOT_FOUND,
            i18n::t(visitor.language, "err-not-yours"),
            "/my",
        );
    };
    let r = &record.request;
    let documents = state.ctx.store.documents(id).await.unwrap_or_default();
    let template = RequestPage {
        page: page(visitor, &format!("/my/requests/{id}")),
        id,
        msisdn: line.msisdn.national(),
        state: r.state.as_str().into(),
        state_key: format!("rstate-{}", r.state.as_str()),
        effective: r.effective_date.map(|d| d.to_string()),
        rejected: r.reject_reason.clone(),
        receipt: record.receipt_number.clone(),
        needs_code: r.required.contains(&IdentityCheck::Possession)
            && !r.passed.contains(&IdentityCheck::Possession),
        needs_document: r.required.contains(&IdentityCheck::Document)
            && !r.passed.contains(&IdentityCheck::Document),
        document_waiting: documents.iter().any(|d| d.review == "pending"),
        open: r.state.is_open(),
        flash,
    };
    render(template, headers, visitor, lang)
}

pub async fn request_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let flash = q.done.as_deref().map(|d| match d {
        "code" => i18n::t(visitor.language, "code-title"),
        _ => String::new(),
    });
    show_request(
        &state,
        &headers,
        &visitor,
        id,
        flash.filter(|f| !f.is_empty()),
        q.lang.as_deref(),
    )
    .await
}

#[derive(Deserialize)]
pub struct SendCodeForm {
    csrf: String,
    to: String,
}

pub async fn request_send_code(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<SendCodeForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let back = format!("/my/requests/{id}");
    let (customer, line) = match own_request_line(&state, &headers, &visitor, id, &form.csrf).await
    {
        Ok(owned) => owned,
        Err(refused) => return refused,
    };
    let by_email = form.to == "email";
    let rules = state.limits;
    let mut checks = vec![
        (rules.code_sends_per_ip, ip.subject(&state, "code-send:ip")),
        (
            rules.codes_per_account,
            Subject::id("codes:customer", customer),
        ),
    ];
    if !by_email {
        checks.push((rules.code_sms_per_hour, Subject::id("code-sms", "all")));
    }
    let allowed = match guard::limit(&state, checks, "codes").await {
        Ok(()) => guard::line_sends(&state, line).await,
        Err(e) => Err(e),
    };
    if let Err(e) = allowed {
        return limited_page(&visitor, &headers, e, &back);
    }
    match cancellation::send_code(&state.ctx, id, by_email, Timestamp::now()).await {
        Ok(sent) => {
            show_request(
                &state,
                &headers,
                &visitor,
                id,
                Some(i18n::t1(visitor.language, "code-sent", "to", &sent.to)),
                None,
            )
            .await
        }
        Err(e) => service_error(&visitor, &headers, e, &back),
    }
}

#[derive(Deserialize)]
pub struct CheckForm {
    csrf: String,
    code: String,
}

pub async fn request_check_code(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CheckForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let back = format!("/my/requests/{id}");
    let (customer, line) = match own_request_line(&state, &headers, &visitor, id, &form.csrf).await
    {
        Ok(owned) => owned,
        Err(r) => return r,
    };
    let rules = state.limits;
    let checks = vec![
        (
            rules.code_checks_per_ip,
            ip.subject(&state, "code-check:ip"),
        ),
        (
            rules.code_checks_per_line,
            Subject::id("code-check:line", line),
        ),
        (
            rules.codes_per_account,
            Subject::id("codes:customer", customer),
        ),
    ];
    if let Err(e) = guard::limit(&state, checks, "code checks").await {
        return limited_page(&visitor, &headers, e, &back);
    }
    match cancellation::check_code(
        &state.ctx,
        id,
        &form.code,
        traveller_attribution(customer, "one-time code entered"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => service_error(&visitor, &headers, e, &back),
    }
}

/// The identity document, with the form's CSRF token in the multipart body (never in the URL,
/// where proxies log it). The body is limited by the route; the type is judged from the bytes.
pub async fn request_upload(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let back = format!("/my/requests/{id}");
    let too_large = |visitor: &Visitor| {
        error_page(
            visitor,
            &headers,
            StatusCode::PAYLOAD_TOO_LARGE,
            i18n::t(visitor.language, "err-file-too-large"),
            &back,
        )
    };
    let mut csrf = String::new();
    let mut content = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(&visitor),
            Err(_) => break,
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("document") => {
                let declared = field.content_type().map(str::to_string);
                match field.bytes().await {
                    Ok(b) => content = Some((b.to_vec(), declared)),
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return too_large(&visitor)
                    }
                    Err(_) => break,
                }
            }
            _ => {}
        }
    }
    let customer = match own_request_form(&state, &headers, &visitor, id, &csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some((content, declared)) = content else {
        return error_page(
            &visitor,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            i18n::t(visitor.language, "request-upload-label"),
            &back,
        );
    };
    let rules = state.limits;
    let checks = vec![
        (rules.uploads_per_ip, ip.subject(&state, "upload:ip")),
        (rules.uploads_per_request, Subject::id("upload:request", id)),
        (
            rules.uploads_per_account,
            Subject::id("upload:customer", customer),
        ),
    ];
    if let Err(e) = guard::limit(&state, checks, "uploads").await {
        return limited_page(&visitor, &headers, e, &back);
    }
    match cancellation::upload_declared_document(
        &state.ctx,
        id,
        content,
        declared.as_deref(),
        traveller_attribution(customer, "identity document uploaded"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(ServiceError::Document(e)) => document_refused(&visitor, &headers, e, &back),
        Err(e) => service_error(&visitor, &headers, e, &back),
    }
}

/// A refused upload: 413 when too large, 415 for a type that is not accepted, in the
/// traveller's language.
fn document_refused(
    visitor: &Visitor,
    headers: &HeaderMap,
    error: documents::DocumentError,
    back: &str,
) -> Response {
    let key = match error {
        documents::DocumentError::TooLarge { .. } => "err-file-too-large",
        documents::DocumentError::Empty => "request-upload-label",
        _ => "err-file-type",
    };
    error_page(
        visitor,
        headers,
        documents::status(&error),
        i18n::t(visitor.language, key),
        back,
    )
}

pub async fn request_withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let back = format!("/my/requests/{id}");
    let customer = match own_request_form(&state, &headers, &visitor, id, &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match cancellation::withdraw(
        &state.ctx,
        id,
        traveller_attribution(customer, "withdrawn on the self-service portal"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => service_error(&visitor, &headers, e, &back),
    }
}

pub async fn receipt_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    let missing = || {
        error_page(
            &visitor,
            &headers,
            StatusCode::NOT_FOUND,
            i18n::t(visitor.language, "err-not-yours"),
            "/my",
        )
    };
    let Ok(Some(document)) = state.ctx.store.receipt(&number).await else {
        return missing();
    };
    let Ok(signed) = receipts::SignedReceipt::parse_unverified(&document) else {
        return missing();
    };
    let owner = own_request(&state, customer, signed.receipt.request_id).await;
    if owner.is_none() {
        return missing();
    }
    if q.format.as_deref() == Some("json") {
        let disposition = format!("attachment; filename=\"{number}.json\"");
        return (
            [
                (header::CONTENT_TYPE, "application/json".to_string()),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            document,
        )
            .into_response();
    }
    Html(receipts::render_html(&signed)).into_response()
}

pub async fn wallet_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    wallet_view(
        &state,
        &headers,
        &visitor,
        customer,
        q.done
            .as_deref()
            .map(|_| i18n::t(visitor.language, "wallet-payout-done")),
        q.lang.as_deref(),
    )
    .await
}

async fn wallet_view(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    customer: i64,
    flash: Option<String>,
    lang: Option<&str>,
) -> Response {
    let view = match wallet::show(state.ctx.store.as_ref(), customer).await {
        Ok(v) => v,
        Err(e) => return service_error(visitor, headers, e, "/my"),
    };
    let template = WalletPage {
        page: page(visitor, "/my/wallet"),
        balance: view
            .balance
            .iter()
            .filter(|m| !m.is_zero())
            .map(|m| m.to_string())
            .collect(),
        history: view
            .history
            .iter()
            .map(|p| (format_jst(p.at), p.note.clone(), p.amount.to_string()))
            .collect(),
        payout_key: session::random_token(),
        flash,
    };
    render(template, headers, visitor, lang)
}

#[derive(Deserialize)]
pub struct PayoutForm {
    csrf: String,
    key: String,
    amount: String,
    destination: String,
}

pub async fn wallet_payout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<PayoutForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let customer = match signed_in_form(&visitor, &headers, &form.csrf, "/my/wallet") {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = wallet::show(state.ctx.store.as_ref(), customer).await.ok();
    let currency = view
        .and_then(|v| v.balance.first().map(|m| m.currency()))
        .unwrap_or(simdesk_domain::money::Currency::Jpy);
    let amount =
        match Money::parse(&form.amount).or_else(|_| Money::parse_in(&form.amount, currency)) {
            Ok(a) => a,
            Err(e) => {
                return error_page(
                    &visitor,
                    &headers,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.to_string(),
                    "/my/wallet",
                )
            }
        };
    match wallet::payout(
        state.ctx.store.as_ref(),
        customer,
        amount,
        &form.destination,
        &format!("web:{customer}:{}", form.key),
        Timestamp::now(),
    )
    .await
    {
        Ok(_) => Redirect::to("/my/wallet?done=payout").into_response(),
        Err(e) => service_error(&visitor, &headers, e, "/my/wallet"),
    }
}

pub async fn data_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, q.lang.as_deref()).await;
    let Some(customer) = visitor.traveller() else {
        return to_sign_in();
    };
    data_view(
        &state,
        &headers,
        &visitor,
        customer,
        None,
        q.lang.as_deref(),
    )
    .await
}

/// "Delete my data": erases at once what the law does not hold, then shows what remains.
pub async fn data_erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let customer = match signed_in_form(&visitor, &headers, &form.csrf, "/my/data") {
        Ok(c) => c,
        Err(r) => return r,
    };
    match crate::services::privacy::erase_on_request(
        &state.ctx,
        customer,
        traveller_attribution(customer, "the holder asked to delete their data"),
    )
    .await
    {
        Ok(answer) => data_view(&state, &headers, &visitor, customer, Some(answer), None).await,
        Err(e) => service_error(&visitor, &headers, e, "/my/data"),
    }
}

async fn data_view(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    customer: i64,
    answer: Option<crate::services::privacy::ErasureAnswer>,
    lang: Option<&str>,
) -> Response {
    let lines = state
        .ctx
        .store
        .lines_of_customer(customer)
        .await
        .unwrap_or_default();
    // Voice lines fall under the Mobile Phone Improper Use Prevention Act: 3 years after the end.
    let mut voice = false;
    let mut kept_until = Vec::new();
    for line in &lines {
        let is_voice = state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.services.contains(&Service::Voice))
            .unwrap_or(false);
        if is_voice {
            voice = true;
            if let Some(end) = line.ended_at {
                let until = end
                    .to_zoned(simdesk_domain::validity::japan())
                    .date()
                    .checked_add(jiff::Span::new().years(3))
                    .map(|d| d.to_string())
                    .unwrap_or_default();
                kept_until.push(format!("{} — {until}", line.msisdn.national()));
            }
        }
        let _ = line.kind == LineKind::Esim;
    }
    render(
        DataPage {
            page: page(visitor, "/my/data"),
            voice,
            kept_until,
            done: answer.as_ref().is_some_and(|a| a.lines_in_service == 0),
            in_service: answer.as_ref().is_some_and(|a| a.lines_in_service > 0),
        },
        headers,
        visitor,
        lang,
    )
}
