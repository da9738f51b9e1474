//! Staff pages: sign-in, the hotline console (find, verify, open business, cancel for a caller,
//! review documents) and the store counter (kiosk, board, clerk). Every page is limited to the
//! staff member's carrier and role.

use super::session::{self, Visitor, FORM_COOKIE, SESSION_COOKIE};
use crate::receipts;
use crate::services::access::Permission;
use crate::services::cancellation::{self, Knowledge};
use crate::services::limits::{self, Subject};
use crate::services::lines::{find_line, parse_line_key};
use crate::services::staff::{self, Role};
use crate::services::{wallet, ServiceError};
use crate::store::{LineKey, SessionRow};
use crate::web::guard::{self, ClientIp, KnowledgeGuard};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use jiff::Timestamp;
use serde::Deserialize;
use simdesk_domain::attribution::{Actor, ActorKind, Attribution, Channel};
use simdesk_domain::balance::{self, BucketUnit};
use simdesk_domain::cancellation::check_name;
use simdesk_domain::customer::Language;
use simdesk_domain::money::Money;
use simdesk_domain::policy::IdentityCheck;
use simdesk_domain::validity::{format_jst, japan_date, last_valid_second};

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

async fn staff_of(state: &AppState, visitor: &Visitor) -> Option<StaffSession> {
    let session = visitor.session.clone().filter(|s| s.kind == "staff")?;
    let row = state.ctx.store.staff(session.subject).await.ok()??;
    if row.disabled {
        return None;
    }
    let role = Role::parse(&row.role).ok()?;
    Some(StaffSession {
        id: row.id,
        username: row.username,
        role,
        carrier: row.carrier,
        session,
    })
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

fn to_sign_in() -> Response {
    Redirect::to("/staff").into_response()
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

#[derive(Template)]
#[template(path = "console.html")]
struct ConsolePage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    query: String,
    results: Vec<(String, String, String, String)>,
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
}

pub async fn console(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::Console) {
        return refused;
    }
    let query = q.q.unwrap_or_default().trim().to_string();
    let store = state.ctx.store.as_ref();
    let mut lines = Vec::new();
    if !query.is_empty() {
        if let Ok(key) = parse_line_key(&query) {
            if let Ok(line) = find_line(store, &key).await {
                lines.push(line);
            }
        } else if query.chars().count() >= 2 {
            lines = store
                .lines_by_holder_name(&me.carrier, &query, 50)
                .await
                .unwrap_or_default();
        }
    }
    // Another carrier's lines do not exist for this agent.
    let results = lines
        .into_iter()
        .filter(|l| l.carrier == me.carrier)
        .map(|l| {
            (
                l.iccid.to_string(),
                l.msisdn.national(),
                l.plan.clone(),
                l.state.as_str().to_string(),
            )
        })
        .collect();
    html(ConsolePage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash: None,
        query,
        results,
    })
}

#[derive(Template)]
#[template(path = "console_line.html")]
struct LinePage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    iccid: String,
    msisdn: String,
    plan: String,
    state: String,
    valid_until: String,
    holder: String,
    language: String,
    balance: String,
    data_mb: i64,
    addons: Vec<String>,
    wallet: Option<String>,
    requests: Vec<(i64, String, String)>,
    can_cancel: bool,
}

async fn carrier_line(
    state: &AppState,
    me: &StaffSession,
    iccid: &str,
) -> Option<simdesk_domain::line::Line> {
    let line = find_line(state.ctx.store.as_ref(), &parse_line_key(iccid).ok()?)
        .await
        .ok()?;
    (line.carrier == me.carrier).then_some(line)
}

async fn line_page(
    state: &AppState,
    me: &StaffSession,
    iccid: &str,
    flash: Option<String>,
) -> Response {
    let Some(line) = carrier_line(state, me, iccid).await else {
        return (StatusCode::NOT_FOUND, "no such line").into_response();
    };
    let store = state.ctx.store.as_ref();
    let now = Timestamp::now();
    let buckets = store.buckets(line.id).await.unwrap_or_default();
    let currency = state
        .ctx
        .book
        .carrier(&line.carrier)
        .map(|c| c.currency)
        .unwrap_or(simdesk_domain::money::Currency::Jpy);
    let customer = match line.holder {
        Some(h) => store.customer(h).await.ok().flatten(),
        None => None,
    };
    let wallet = match line.holder {
        Some(h) => wallet::show(store, h).await.ok().and_then(|w| {
            let held: Vec<String> = w
                .balance
                .iter()
                .filter(|m| m.is_positive())
                .map(|m| m.to_string())
                .collect();
            (!held.is_empty()).then(|| held.join(", "))
        }),
        None => None,
    };
    let requests = store.requests_for_line(line.id).await.unwrap_or_default();
    let open = requests.iter().any(|r| r.request.state.is_open());
    html(LinePage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash,
        iccid: line.iccid.to_string(),
        msisdn: line.msisdn.national(),
        plan: state
            .ctx
            .book
            .plan(&line.carrier, &line.plan)
            .map(|p| p.name.clone())
            .unwrap_or_else(|_| line.plan.clone()),
        state: line.state.as_str().into(),
        valid_until: line
            .validity_ends_at
            .map(|e| format_jst(last_valid_second(e)))
            .unwrap_or_else(|| "—".into()),
        holder: customer
            .as_ref()
            .map(|c| match &c.personal {
                Some(p) => p.full_name.clone(),
                None => "(personal data erased)".into(),
            })
            .unwrap_or_else(|| "—".into()),
        language: customer
            .as_ref()
            .map(|c| c.language.clone())
            .unwrap_or_default(),
        balance: Money::new(
            balance::remaining(&buckets, BucketUnit::Money(currency), now),
            currency,
        )
        .to_string(),
        data_mb: balance::remaining(&buckets, BucketUnit::Megabytes, now),
        addons: store
            .addons(line.id)
            .await
            .unwrap_or_default()
            .iter()
            .filter(|a| a.unbound_at.is_none())
            .map(|a| format!("{} ({})", a.code, a.charge))
            .collect(),
        wallet,
        requests: requests
            .iter()
            .map(|r| {
                (
                    r.request.id,
                    r.request.state.as_str().to_string(),
                    r.request
                        .effective_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                )
            })
            .collect(),
        can_cancel: !open && matches!(line.state.as_str(), "registered" | "active" | "expired"),
    })
}

pub async fn console_line(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(iccid): Path<String>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::LookUpLine) {
        return refused;
    }
    line_page(&state, &me, &iccid, None).await
}

#[derive(Deserialize)]
pub struct CancelForm {
    csrf: String,
    name: String,
    passport: String,
}

pub async fn console_cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(iccid): Path<String>,
    Form(form): Form<CancelForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::HotlineCancel) {
        return refused;
    }
    if !visitor.csrf_ok(&form.csrf) {
        return forbidden("the form expired; open the page again");
    }
    let Some(line) = carrier_line(&state, &me, &iccid).await else {
        return (StatusCode::NOT_FOUND, "no such line").into_response();
    };
    let guard = KnowledgeGuard::new(line.id, &format!("staff:{}", me.id));
    if let Err(e) = guard.allowed(&state).await {
        return limited(e);
    }
    let knowledge = Knowledge {
        name: form.name,
        passport: form.passport,
    };
    match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Hotline,
        Some(knowledge),
        me.attribution(Channel::Hotline, "cancelled on the caller's behalf"),
    )
    .await
    {
        Ok(s) => {
            Redirect::to(&format!("/console/requests/{}", s.request.request.id)).into_response()
        }
        Err(e) => {
            if matches!(e, ServiceError::Identity(_)) {
                guard.failed(&state).await;
            }
            let message = if e.is_client_error() {
                e.to_string()
            } else {
                "simdesk cannot answer right now; try again".into()
            };
            let mut r = line_page(&state, &me, &iccid, Some(message)).await;
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        }
    }
}

#[derive(Template)]
#[template(path = "console_request.html")]
struct RequestPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    id: i64,
    msisdn: String,
    iccid: String,
    state: String,
    channel: String,
    required: String,
    passed: String,
    effective: String,
    receipt: Option<String>,
    documents: Vec<(i64, String, String)>,
    history: Vec<(String, String, String, String)>,
}

async fn request_page(
    state: &AppState,
    me: &StaffSession,
    id: i64,
    flash: Option<String>,
) -> Response {
    let store = state.ctx.store.as_ref();
    let Some(record) = store
        .request(id)
        .await
        .ok()
        .flatten()
        .filter(|r| r.carrier == me.carrier)
    else {
        return (StatusCode::NOT_FOUND, "no such request").into_response();
    };
    let Ok(line) = find_line(store, &LineKey::Id(record.request.line_id)).await else {
        return (StatusCode::NOT_FOUND, "no such line").into_response();
    };
    let names = |c: &[IdentityCheck]| c.iter().map(check_name).collect::<Vec<_>>().join(", ");
    html(RequestPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash,
        id,
        msisdn: line.msisdn.national(),
        iccid: line.iccid.to_string(),
        state: record.request.state.as_str().into(),
        channel: record.request.channel.as_str().into(),
        required: names(&record.request.required),
        passed: names(&record.request.passed),
        effective: record
            .request
            .effective_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into()),
        receipt: record.receipt_number.clone(),
        // Clerks follow their slips here but never see identity documents.
        documents: if me.role.may(Permission::ViewDocuments) {
            store.documents(id).await.unwrap_or_default()
        } else {
            Vec::new()
        }
        .into_iter()
        .map(|d| (d.id, d.content_type, d.review))
        .collect(),
        history: store
            .request_events(id)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    format_jst(e.at),
                    format!("{} → {}", e.from_state.unwrap_or_default(), e.to_state),
                    format!("{}:{} via {}", e.actor_kind, e.actor_id, e.channel),
                    e.note,
                )
            })
            .collect(),
    })
}

pub async fn console_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::ViewRequest) {
        return refused;
    }
    request_page(&state, &me, id, None).await
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    decision: String,
    reason: Option<String>,
}

pub async fn console_review(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::ReviewDocuments) {
        return refused;
    }
    if !visitor.csrf_ok(&form.csrf) {
        return forbidden("the form expired; open the page again");
    }
    let Some(_) = state
        .ctx
        .store
        .request(id)
        .await
        .ok()
        .flatten()
        .filter(|r| r.carrier == me.carrier)
    else {
        return (StatusCode::NOT_FOUND, "no such request").into_response();
    };
    let approve = form.decision == "approve";
    let result = cancellation::review_document(
        &state.ctx,
        id,
        approve,
        form.reason.as_deref(),
        me.attribution(Channel::Hotline, "identity document reviewed"),
    )
    .await;
    let (status, flash) = match result {
        Ok(_) if approve => (StatusCode::OK, "Document approved.".to_string()),
        Ok(_) => (
            StatusCode::OK,
            "Document rejected; the customer is told why.".to_string(),
        ),
        Err(e @ ServiceError::NeedsAnotherReviewer(_)) => (StatusCode::FORBIDDEN, e.to_string()),
        Err(e) if e.is_client_error() => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        Err(e) => {
            tracing::error!(error = %e, "document review failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "simdesk cannot answer right now; try again".to_string(),
            )
        }
    };
    let mut r = request_page(&state, &me, id, Some(flash)).await;
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    items: Vec<(i64, String, String, String)>,
}

pub async fn reviews(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::ReviewDocuments) {
        return refused;
    }
    let store = state.ctx.store.as_ref();
    let mut items = Vec::new();
    for r in store
        .requests_awaiting_review(&me.carrier)
        .await
        .unwrap_or_default()
    {
        let msisdn = find_line(store, &LineKey::Id(r.request.line_id))
            .await
            .map(|l| l.msisdn.national())
            .unwrap_or_default();
        items.push((
            r.request.id,
            msisdn,
            r.request.channel.as_str().to_string(),
            format_jst(r.request.submitted.at),
        ));
    }
    html(ReviewsPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash: None,
        items,
    })
}

pub async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::ViewDocuments) {
        return refused;
    }
    let store = state.ctx.store.as_ref();
    let Some((request_id, content_type, content)) = store.document_content(id).await.ok().flatten()
    else {
        return (StatusCode::NOT_FOUND, "no such document").into_response();
    };
    let Some(request) = store
        .request(request_id)
        .await
        .ok()
        .flatten()
        .filter(|r| r.carrier == me.carrier)
    else {
        return (StatusCode::NOT_FOUND, "no such document").into_response();
    };
    // Who looked at which document, and when, goes into the request's history; a document is
    // not shown unless its viewing is recorded.
    if let Err(e) = store
        .record_request_note(
            request_id,
            request.request.state.as_str(),
            &format!("identity document {id} viewed"),
            &me.attribution(Channel::Hotline, "identity document viewed"),
        )
        .await
    {
        tracing::error!(error = %e, "recording a document view failed");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "simdesk cannot answer right now; try again",
        )
            .into_response();
    }
    // Downloaded, never rendered under simdesk's origin: a PDF's scripts or a crafted image
    // cannot act as a page of the console.
    let extension = match content_type.as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "application/pdf" => "pdf",
        _ => "bin",
    };
    (
        [
            (header::CONTENT_TYPE, content_type.clone()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"document-{id}.{extension}\""),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'; frame-ancestors 'none'".to_string(),
            ),
        ],
        content,
    )
        .into_response()
}

pub async fn staff_receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::ViewReceipt) {
        return refused;
    }
    let Some(document) = state.ctx.store.receipt(&number).await.ok().flatten() else {
        return (StatusCode::NOT_FOUND, "no such receipt").into_response();
    };
    match receipts::SignedReceipt::parse_unverified(&document) {
        Ok(signed) if signed.receipt.carrier == me.carrier => {
            Html(receipts::render_html(&signed)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such receipt").into_response(),
    }
}

#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    carrier: String,
    number: Option<i64>,
}

fn today() -> String {
    japan_date(Timestamp::now()).to_string()
}

async fn known_carrier(state: &AppState, carrier: &str) -> bool {
    state.ctx.book.carrier(carrier).is_ok()
}

/// The kiosk in the shop: a walk-in takes a numbered ticket. Nobody signs in at a kiosk, so
/// its form carries the anonymous double-submit token.
pub async fn kiosk(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(carrier): Path<String>,
) -> Response {
    if !known_carrier(&state, &carrier).await {
        return (StatusCode::NOT_FOUND, "no such store").into_response();
    }
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    kiosk_page(&headers, &visitor, carrier, None, None)
}

fn kiosk_page(
    headers: &HeaderMap,
    visitor: &Visitor,
    carrier: String,
    number: Option<i64>,
    flash: Option<String>,
) -> Response {
    let token = visitor
        .form_token
        .clone()
        .unwrap_or_else(session::random_token);
    let mut r = html(KioskPage {
        staff: None,
        csrf: token.clone(),
        flash,
        carrier,
        number,
    });
    if visitor.form_token.is_none() {
        r.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(headers, FORM_COOKIE, &token, 7200),
        );
    }
    r
}

#[derive(Deserialize)]
pub struct KioskForm {
    #[serde(default)]
    csrf: String,
}

pub async fn take_ticket(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(carrier): Path<String>,
    Form(form): Form<KioskForm>,
) -> Response {
    if !known_carrier(&state, &carrier).await {
        return (StatusCode::NOT_FOUND, "no such store").into_response();
    }
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    if !visitor.csrf_ok(&form.csrf) {
        let mut r = kiosk_page(
            &headers,
            &visitor,
            carrier,
            None,
            Some("The page had expired; press the button again.".into()),
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let checks = vec![(
        state.limits.kiosk_tickets_per_ip,
        ip.subject(&state, "kiosk:ip"),
    )];
    if let Err(e) = guard::limit(&state, checks, "tickets").await {
        return limited(e);
    }
    match state
        .ctx
        .store
        .take_ticket(&carrier, &today(), Timestamp::now())
        .await
    {
        Ok(t) => kiosk_page(&headers, &visitor, carrier, Some(t.number), None),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::from(e).to_string(),
        )
            .into_response(),
    }
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

#[derive(Template)]
#[template(path = "board.html")]
struct BoardPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    called: Vec<(i64, String)>,
    waiting: i64,
}

/// The board over the counters: numbers being called, refreshing by itself.
pub async fn board(State(state): State<AppState>, Path(carrier): Path<String>) -> Response {
    if !known_carrier(&state, &carrier).await {
        return (StatusCode::NOT_FOUND, "no such store").into_response();
    }
    let (called, waiting) = state
        .ctx
        .store
        .queue_board(&carrier, &today())
        .await
        .unwrap_or_default();
    html(BoardPage {
        staff: None,
        csrf: String::new(),
        flash: None,
        called: called
            .into_iter()
            .map(|t| (t.number, t.counter.unwrap_or_default()))
            .collect(),
        waiting,
    })
}

#[derive(Template)]
#[template(path = "counter.html")]
struct CounterPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    counter: String,
    serving: Option<i64>,
    ticket_id: i64,
    waiting: i64,
}

#[derive(Deserialize, Default)]
pub struct CounterQuery {
    counter: Option<String>,
}

async fn counter_page(
    state: &AppState,
    me: &StaffSession,
    counter: String,
    serving: Option<(i64, i64)>,
    flash: Option<String>,
) -> Response {
    let (_, waiting) = state
        .ctx
        .store
        .queue_board(&me.carrier, &today())
        .await
        .unwrap_or_default();
    html(CounterPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash,
        counter,
        serving: serving.map(|(n, _)| n),
        ticket_id: serving.map(|(_, id)| id).unwrap_or_default(),
        waiting,
    })
}

pub async fn counter(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CounterQuery>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::Counter) {
        return refused;
    }
    counter_page(
        &state,
        &me,
        q.counter.unwrap_or_else(|| "1".into()),
        None,
        None,
    )
    .await
}

#[derive(Deserialize)]
pub struct NextForm {
    csrf: String,
    counter: String,
}

pub async fn call_next(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<NextForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::Counter) {
        return refused;
    }
    if !visitor.csrf_ok(&form.csrf) {
        return forbidden("the form expired; open the page again");
    }
    let counter: String = form.counter.trim().chars().take(16).collect();
    match state
        .ctx
        .store
        .call_next_ticket(
            &me.carrier,
            &today(),
            &counter,
            &me.username,
            Timestamp::now(),
        )
        .await
    {
        Ok(Some(t)) => counter_page(&state, &me, counter, Some((t.number, t.id)), None).await,
        Ok(None) => {
            counter_page(
                &state,
                &me,
                counter,
                None,
                Some("Nobody is waiting.".into()),
            )
            .await
        }
        Err(e) => forbidden(&ServiceError::from(e).to_string()),
    }
}

#[derive(Deserialize)]
pub struct CounterCancelForm {
    csrf: String,
    ticket: i64,
    /// The ticket's number and the counter, so that a mistyped form comes back still serving it.
    number: Option<i64>,
    counter: Option<String>,
    iccid: String,
    name: String,
    passport: String,
}

#[derive(Template)]
#[template(path = "slip.html")]
struct SlipPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    id: i64,
    msisdn: String,
    iccid: String,
    effective: String,
    refund: String,
    clerk: String,
    at: String,
}

/// The clerk has the passport and the SIM in hand: checks them against the registration and
/// submits; the slip is printed for the customer.
pub async fn counter_cancel(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CounterCancelForm>,
) -> Response {
    let visitor = Visitor::from_headers(&state, &headers, None).await;
    let Some(me) = staff_of(&state, &visitor).await else {
        return to_sign_in();
    };
    if let Some(refused) = me.refuse_unless(Permission::StoreCancel) {
        return refused;
    }
    if !visitor.csrf_ok(&form.csrf) {
        return forbidden("the form expired; open the page again");
    }
    let counter: String = form
        .counter
        .as_deref()
        .unwrap_or("1")
        .trim()
        .chars()
        .take(16)
        .collect();
    let serving = form.number.map(|n| (n, form.ticket));
    macro_rules! retry {
        ($message:expr) => {
            return counter_page(&state, &me, counter, serving, Some($message)).await
        };
    }
    let Some(line) = carrier_line(&state, &me, &form.iccid).await else {
        retry!(
            "No line of this carrier has that ICCID; check the number printed on the SIM.".into()
        );
    };
    let store = state.ctx.store.as_ref();
    let registered = match line.holder {
        Some(h) => store.customer(h).await.ok().flatten(),
        None => None,
    };
    let Some(holder) = registered else {
        retry!("The line has no registered holder.".into())
    };
    let guard = KnowledgeGuard::new(line.id, &format!("staff:{}", me.id));
    if let Err(e) = guard.allowed(&state).await {
        return limited(e);
    }
    let matches = holder.personal.as_ref().is_some_and(|p| {
        simdesk_domain::identity::knowledge_matches(p, &form.name, &form.passport)
    });
    if !matches {
        guard.failed(&state).await;
        retry!("The passport does not match the registration of this SIM.".into());
    }
    let quote = cancellation::quote(&state.ctx, &LineKey::Id(line.id), Timestamp::now())
        .await
        .ok();
    let by = me.attribution(
        Channel::Store,
        "walk-in at the counter; passport and SIM checked by the clerk",
    );
    let submitted = match cancellation::submit(
        &state.ctx,
        &LineKey::Id(line.id),
        Channel::Store,
        None,
        by.clone(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => retry!(e.to_string()),
    };
    let mut record = submitted.request;
    // The clerk saw the document itself: the store's document check is met in person.
    if record.request.required.contains(&IdentityCheck::Document)
        && record.request.state == simdesk_domain::cancellation::RequestState::Submitted
    {
        match cancellation::attest_document_in_person(&state.ctx, record.request.id, by.clone())
            .await
        {
            Ok(r) => record = r,
            Err(e) => retry!(e.to_string()),
        }
    }
    if record.request.required.contains(&IdentityCheck::Knowledge)
        && record.request.state == simdesk_domain::cancellation::RequestState::Submitted
    {
        match cancellation::verify_knowledge(
            &state.ctx,
            record.request.id,
            &form.name,
            &form.passport,
            by.clone(),
        )
        .await
        {
            Ok(r) => record = r,
            Err(e) => retry!(e.to_string()),
        }
    }
    let _ = store.finish_ticket(form.ticket, Timestamp::now()).await;
    let refund = record
        .refund_total
        .or_else(|| quote.and_then(|q| q.refund.map(|r| r.total)))
        .map(|m| m.to_string())
        .unwrap_or_else(|| "as the carrier's terms say".into());
    html(SlipPage {
        staff: Some(me.label()),
        csrf: me.session.csrf_token.clone(),
        flash: None,
        id: record.request.id,
        msisdn: line.msisdn.national(),
        iccid: line.iccid.to_string(),
        effective: record
            .request
            .effective_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "after identity review".into()),
        refund,
        clerk: me.username.clone(),
        at: format_jst(Timestamp::now()),
    })
}
