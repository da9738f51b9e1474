//! A cancellation request seen by its traveller: status, identity code, document, withdrawal.

use super::{failed, traveller};
use super::{
    limited_page, own_request, own_request_form, page, render, service_error,
    traveller_attribution, CsrfForm, LangQuery, Traveller,
};
use crate::adapters::documents;
use crate::services::cancellation;
use crate::services::guard::Address;
use crate::services::ServiceError;
use crate::web::pages::error::PageError;
use crate::web::pages::session::Visitor;
use crate::web::pages::{i18n, Page};
use crate::web::AppState;
use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use simdesk_domain::ids::{CustomerId, RequestId};
use simdesk_domain::policy::IdentityCheck;

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    page: Page,
    id: RequestId,
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

async fn show_request(
    state: &AppState,
    headers: &HeaderMap,
    visitor: &Visitor,
    customer: CustomerId,
    id: RequestId,
    flash: Option<String>,
    lang: Option<&str>,
) -> Response {
    let (record, line) = match own_request(state, customer, id).await {
        Ok(owned) => owned,
        Err(e) => return failed(visitor, e, "/my"),
    };
    let r = &record.request;
    let documents = match state.ctx.store.documents(id).await {
        Ok(d) => d,
        Err(e) => return failed(visitor, e.into(), "/my"),
    };
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
    render(template, headers, lang)
}

pub async fn request_page(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    headers: HeaderMap,
    Path(id): Path<RequestId>,
    Query(q): Query<LangQuery>,
) -> Response {
    let flash = q.done.as_deref().map(|d| match d {
        "code" => i18n::t(visitor.language, "code-title"),
        _ => String::new(),
    });
    show_request(
        &state,
        &headers,
        &visitor,
        customer,
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
    Traveller { visitor, customer }: Traveller,
    address: Address,
    headers: HeaderMap,
    Path(id): Path<RequestId>,
    Form(form): Form<SendCodeForm>,
) -> Response {
    let back = format!("/my/requests/{id}");
    let line = match own_request_form(&state, &visitor, customer, id, &form.csrf).await {
        Ok(line) => line,
        Err(refused) => return refused,
    };
    let by_email = form.to == "email";
    let allowed = state
        .guard()
        .code_send(&traveller(customer, address), line, by_email)
        .await;
    if let Err(e) = allowed {
        return limited_page(&visitor, e, &back);
    }
    match cancellation::send_code(&state.ctx, id, by_email, state.clock.now()).await {
        Ok(sent) => {
            show_request(
                &state,
                &headers,
                &visitor,
                customer,
                id,
                Some(i18n::t1(visitor.language, "code-sent", "to", &sent.to)),
                None,
            )
            .await
        }
        Err(e) => service_error(&visitor, e, &back),
    }
}

#[derive(Deserialize)]
pub struct CheckForm {
    csrf: String,
    code: String,
}

pub async fn request_check_code(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    address: Address,
    Path(id): Path<RequestId>,
    Form(form): Form<CheckForm>,
) -> Response {
    let back = format!("/my/requests/{id}");
    let line = match own_request_form(&state, &visitor, customer, id, &form.csrf).await {
        Ok(line) => line,
        Err(refused) => return refused,
    };
    let allowed = state
        .guard()
        .code_check(&traveller(customer, address), line)
        .await;
    if let Err(e) = allowed {
        return limited_page(&visitor, e, &back);
    }
    match cancellation::check_code(
        &state.ctx,
        id,
        &form.code,
        traveller_attribution(&state, customer, "one-time code entered"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => service_error(&visitor, e, &back),
    }
}

/// The identity document, with the form's CSRF token in the multipart body (never in the URL,
/// where proxies log it). The body is limited by the route; the type is judged from the bytes.
pub async fn request_upload(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    address: Address,
    Path(id): Path<RequestId>,
    mut multipart: Multipart,
) -> Response {
    let back = format!("/my/requests/{id}");
    let too_large = |visitor: &Visitor| {
        let refused = documents::DocumentError::TooLarge {
            size: documents::MAX_DOCUMENT_BYTES + 1,
            limit: documents::MAX_DOCUMENT_BYTES,
        };
        failed(visitor, PageError::Document(refused), &back)
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
    if let Err(refused) = own_request_form(&state, &visitor, customer, id, &csrf).await {
        return refused;
    }
    let Some((content, declared)) = content else {
        return failed(
            &visitor,
            PageError::Document(documents::DocumentError::Empty),
            &back,
        );
    };
    let allowed = state
        .guard()
        .upload(&traveller(customer, address), id)
        .await;
    if let Err(e) = allowed {
        return limited_page(&visitor, e, &back);
    }
    match cancellation::upload_declared_document(
        &state.ctx,
        id,
        content,
        declared.as_deref(),
        traveller_attribution(&state, customer, "identity document uploaded"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(ServiceError::Document(e)) => failed(&visitor, PageError::Document(e), &back),
        Err(e) => service_error(&visitor, e, &back),
    }
}

pub async fn request_withdraw(
    State(state): State<AppState>,
    Traveller { visitor, customer }: Traveller,
    Path(id): Path<RequestId>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let back = format!("/my/requests/{id}");
    if let Err(refused) = own_request_form(&state, &visitor, customer, id, &form.csrf).await {
        return refused;
    }
    match cancellation::withdraw(
        &state.ctx,
        id,
        traveller_attribution(&state, customer, "withdrawn on the self-service portal"),
    )
    .await
    {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => service_error(&visitor, e, &back),
    }
}
