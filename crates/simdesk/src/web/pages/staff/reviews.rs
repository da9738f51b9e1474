//! Reviewing cancellation requests: the request page, identity documents, receipts.

use super::{failed, forbidden, html, staff_of, StaffSession};
use crate::receipts;
use crate::services::access::Permission;
use crate::services::cancellation::{self};
use crate::services::lines::find_line;
use crate::services::ServiceError;
use crate::store::LineKey;
use crate::web::pages::session::Visitor;
use crate::web::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::attribution::Channel;
use simdesk_domain::cancellation::check_name;
use simdesk_domain::ids::RequestId;
use simdesk_domain::policy::IdentityCheck;
use simdesk_domain::validity::format_jst;

#[derive(Template)]
#[template(path = "console_request.html")]
struct RequestPage {
    staff: Option<String>,
    csrf: String,
    flash: Option<String>,
    id: RequestId,
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
    id: RequestId,
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
    visitor: Visitor,
    Path(id): Path<RequestId>,
) -> Response {
    let me = match staff_of(&state, &visitor).await {
        Ok(me) => me,
        Err(e) => return failed(e),
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
    visitor: Visitor,
    Path(id): Path<RequestId>,
    Form(form): Form<ReviewForm>,
) -> Response {
    let me = match staff_of(&state, &visitor).await {
        Ok(me) => me,
        Err(e) => return failed(e),
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
    items: Vec<(RequestId, String, String, String)>,
}

pub async fn reviews(State(state): State<AppState>, visitor: Visitor) -> Response {
    let me = match staff_of(&state, &visitor).await {
        Ok(me) => me,
        Err(e) => return failed(e),
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
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Response {
    let me = match staff_of(&state, &visitor).await {
        Ok(me) => me,
        Err(e) => return failed(e),
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
    visitor: Visitor,
    Path(number): Path<String>,
) -> Response {
    let me = match staff_of(&state, &visitor).await {
        Ok(me) => me,
        Err(e) => return failed(e),
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
