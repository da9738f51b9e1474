//! Reviewing cancellation requests: the request page, identity documents, receipts.

use super::{failed, html, PageError, StaffSession};
use crate::receipts;
use crate::services::access::Permission;
use crate::services::cancellation::{self};
use crate::services::lines::find_line;
use crate::services::ServiceError;
use crate::store::LineKey;
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
    let record = match carrier_request(store, me, id).await {
        Ok(record) => record,
        Err(e) => return failed(e),
    };
    let line = match find_line(store, &LineKey::Id(record.request.line_id)).await {
        Ok(line) => line,
        Err(e) => return failed(e.into()),
    };
    // Clerks follow their slips here but never see identity documents.
    let documents = if me.role.may(Permission::ViewDocuments) {
        match store.documents(id).await {
            Ok(documents) => documents,
            Err(e) => return failed(e.into()),
        }
    } else {
        Vec::new()
    };
    let history = match store.request_events(id).await {
        Ok(events) => events,
        Err(e) => return failed(e.into()),
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
        documents: documents
            .into_iter()
            .map(|d| (d.id, d.content_type, d.review))
            .collect(),
        history: history
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
    me: StaffSession,
    Path(id): Path<RequestId>,
) -> Response {
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
    me: StaffSession,
    Path(id): Path<RequestId>,
    Form(form): Form<ReviewForm>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::ReviewDocuments) {
        return refused;
    }
    if let Err(e) = me.check_form(&form.csrf) {
        return failed(e);
    }
    if let Err(e) = carrier_request(state.ctx.store.as_ref(), &me, id).await {
        return failed(e);
    }
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
        Err(e) => return failed(e.into()),
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

pub async fn reviews(State(state): State<AppState>, me: StaffSession) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::ReviewDocuments) {
        return refused;
    }
    let store = state.ctx.store.as_ref();
    let mut items = Vec::new();
    let awaiting = match store.requests_awaiting_review(&me.carrier).await {
        Ok(awaiting) => awaiting,
        Err(e) => return failed(e.into()),
    };
    for r in awaiting {
        let msisdn = match find_line(store, &LineKey::Id(r.request.line_id)).await {
            Ok(line) => line.msisdn.national(),
            Err(ServiceError::NotFound(_)) => String::new(),
            Err(e) => return failed(e.into()),
        };
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
    me: StaffSession,
    Path(id): Path<i64>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::ViewDocuments) {
        return refused;
    }
    let store = state.ctx.store.as_ref();
    let (request_id, content_type, content) = match store.document_content(id).await {
        Ok(Some(document)) => document,
        Ok(None) => return failed(PageError::NotFound),
        Err(e) => return failed(e.into()),
    };
    let request = match carrier_request(store, &me, request_id).await {
        Ok(request) => request,
        Err(e) => return failed(e),
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
        return failed(e.into());
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
    me: StaffSession,
    Path(number): Path<String>,
) -> Response {
    if let Some(refused) = me.refuse_unless(Permission::ViewReceipt) {
        return refused;
    }
    let document = match state.ctx.store.receipt(&number).await {
        Ok(Some(document)) => document,
        Ok(None) => return failed(PageError::NotFound),
        Err(e) => return failed(e.into()),
    };
    match receipts::SignedReceipt::parse_unverified(&document) {
        Ok(signed) if signed.receipt.carrier == me.carrier => {
            Html(receipts::render_html(&signed)).into_response()
        }
        _ => failed(PageError::NotFound),
    }
}

/// A request of the staff member's carrier; any other is not found.
async fn carrier_request(
    store: &dyn crate::store::Store,
    me: &StaffSession,
    id: RequestId,
) -> Result<crate::store::RequestRecord, PageError> {
    match store.request(id).await? {
        Some(record) if record.carrier == me.carrier => Ok(record),
        _ => Err(PageError::NotFound),
    }
}
