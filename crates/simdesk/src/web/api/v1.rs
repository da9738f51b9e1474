//! simdesk's own resources, for what TM Forum does not cover: status, history, quotes, identity
//! steps, documents, the e-wallet and payouts, receipts and their verification.

use super::dto::*;
use super::tmf::{order, owned_line, owned_request};
use super::{ApiJson, Operator};
use crate::receipts;
use crate::services::access::Scope;
use crate::services::cancellation;
use crate::services::excerpt;
use crate::services::guard::Address;
use crate::services::lines::report_of;
use crate::services::{wallet, ServiceError};
use crate::web::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use simdesk_domain::ids::CustomerId;
use simdesk_domain::money::Money;

/// A line's state, plan, validity (JST), balance, add-ons and history.
#[utoipa::path(get, path = "/api/v1/lines/{line}", tag = "simdesk", security(("bearer" = ["lines:read"])), params(("line" = String, Path, description = "ICCID or MSISDN")),
    responses((status = 200, description = "the line's status", body = Object), (status = 404, body = ApiError)))]
pub async fn line_status(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let l = owned_line(&state, &operator, &line).await?;
    let r = report_of(
        state.ctx.store.as_ref(),
        &state.ctx.book,
        l,
        state.clock.now(),
    )
    .await?;
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}

/// The audit trail of a line: every step with who, channel, when and why, and its cancellation requests.
#[utoipa::path(get, path = "/api/v1/lines/{line}/history", tag = "simdesk", security(("bearer" = ["lines:read"])), params(("line" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn line_history(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let l = owned_line(&state, &operator, &line).await?;
    let store = state.ctx.store.as_ref();
    let events = store.events(l.id).await.map_err(ServiceError::from)?;
    let mut requests = Vec::new();
    for r in store
        .requests_for_line(l.id)
        .await
        .map_err(ServiceError::from)?
    {
        let steps = store
            .request_events(r.request.id)
            .await
            .map_err(ServiceError::from)?;
        requests.push(json!({ "order": order(&r, &l), "history": steps }));
    }
    Ok(Json(
        json!({ "line": l.iccid.as_str(), "stocked": store.import_batch_of(l.id).await.map_err(ServiceError::from)?, "history": events, "cancellations": requests }),
    ))
}

/// Where the line stands before cancelling: validity, balance, add-ons, the refund and the effective date.
#[utoipa::path(get, path = "/api/v1/lines/{line}/quote", tag = "simdesk", security(("bearer" = ["lines:read"])), params(("line" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn quote(
    State(state): State<AppState>,
    operator: Operator,
    Path(line): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::LinesRead)?;
    let l = owned_line(&state, &operator, &line).await?;
    let q = cancellation::quote(
        &state.ctx,
        &crate::store::LineKey::Id(l.id),
        state.clock.now(),
    )
    .await?;
    Ok(Json(quote_body(&q)))
}

/// The quote as the API and the CLI show it: the English text its fields have always carried,
/// with the typed reasons next to it under `cannot_code` and `what_happens_codes`.
pub fn quote_body(q: &cancellation::Quote) -> Value {
    let mut body = serde_json::to_value(q).unwrap_or_default();
    body["cannot_because"] = q.cannot_because.map(|c| c.to_string()).into();
    body["cannot_code"] = q.cannot_because.map(|c| c.code()).into();
    body["time_left_notice"] = q.time_left_notice.map(|t| t.to_string()).into();
    body["what_happens"] = q
        .what_happens
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .into();
    body["what_happens_codes"] = serde_json::to_value(&q.what_happens).unwrap_or_default();
    body
}

/// A cancellation request with its steps.
#[utoipa::path(get, path = "/api/v1/cancellations/{id}", tag = "simdesk", security(("bearer" = ["cancellations:read"])), params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn get_cancellation(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::CancellationsRead)?;
    let (record, line) = owned_request(&state, &operator, &id).await?;
    let steps = state
        .ctx
        .store
        .request_events(record.request.id)
        .await
        .map_err(ServiceError::from)?;
    let documents = state
        .ctx
        .store
        .documents(record.request.id)
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(
        json!({ "order": order(&record, &line), "refund": record.refund_detail, "documents": documents, "history": steps }),
    ))
}

async fn respond(
    state: &AppState,
    record: crate::store::RequestRecord,
) -> Result<Json<ProductOrder>, ApiError> {
    let line = crate::services::lines::find_line(
        state.ctx.store.as_ref(),
        &crate::store::LineKey::Id(record.request.line_id),
    )
    .await?;
    Ok(Json(order(&record, &line)))
}

/// Sends a 6-digit one-time code to the line (SMS) or the registered e-mail.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/code", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)), request_body = SendCode,
    responses((status = 202, body = Object), (status = 409, body = ApiError), (status = 429, body = ApiError)))]
pub async fn send_code(
    State(state): State<AppState>,
    address: Address,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SendCode>,
) -> Result<Response, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    let to_email = match body.to.as_deref() {
        None | Some("line") => false,
        Some("email") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "to {:?} is neither \"line\" nor \"email\"",
                crate::services::excerpt(other, 64)
            )))
        }
    };
    state
        .guard()
        .code_send(&operator.asker(address), record.request.line_id, to_email)
        .await?;
    let sent =
        cancellation::send_code(&state.ctx, record.request.id, to_email, state.clock.now()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "sentTo": sent.to, "expiresAt": sent.expires_at.to_string() })),
    )
        .into_response())
}

/// Checks the one-time code; the last passed check approves the request.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/code/check", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)), request_body = CheckCode,
    responses((status = 200, body = ProductOrder), (status = 403, body = ApiError), (status = 429, description = "too many checks; `Retry-After` says when to try again", body = ApiError)))]
pub async fn check_code(
    State(state): State<AppState>,
    address: Address,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CheckCode>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    state
        .guard()
        .code_check(&operator.asker(address), record.request.line_id)
        .await?;
    let record = cancellation::check_code(
        &state.ctx,
        record.request.id,
        &body.code,
        operator.attribution("one-time code entered"),
    )
    .await?;
    respond(&state, record).await
}

/// Knowledge check: name and passport number against the registration.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/knowledge", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)), request_body = KnowledgeCheck,
    responses((status = 200, body = ProductOrder), (status = 403, body = ApiError), (status = 429, description = "too many wrong answers; `Retry-After` says when to try again", body = ApiError)))]
pub async fn verify_knowledge(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<KnowledgeCheck>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    let (account, line) = (operator.account(), record.request.line_id);
    state.guard().knowledge_allowed(&account, line).await?;
    let record = match cancellation::verify_knowledge(
        &state.ctx,
        record.request.id,
        &body.name,
        &body.passport,
        operator.attribution("name and passport checked"),
    )
    .await
    {
        Ok(r) => r,
        Err(e @ ServiceError::Identity(_)) => {
            state.guard().knowledge_failed(&account, line).await;
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    respond(&state, record).await
}

/// Uploads a photo or scan of the identity document (JPEG, PNG or PDF, up to 10 MB) as the raw body.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/documents", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Created), (status = 413, body = ApiError), (status = 415, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError)))]
pub async fn upload_document(
    State(state): State<AppState>,
    address: Address,
    operator: Operator,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    state
        .guard()
        .upload(&operator.asker(address), record.request.id)
        .await?;
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let doc = cancellation::upload_declared_document(
        &state.ctx,
        record.request.id,
        body.to_vec(),
        declared,
        operator.attribution("identity document uploaded"),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id: doc })).into_response())
}

/// An agent's review of the uploaded document: approve, or reject with a reason the customer can act on.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/documents/review", tag = "simdesk", security(("bearer" = ["identity:review"])), params(("id" = String, Path)), request_body = DocumentReview,
    responses((status = 200, body = ProductOrder), (status = 422, body = ApiError)))]
pub async fn review_document(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DocumentReview>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::IdentityReview)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    let record = cancellation::review_document(
        &state.ctx,
        record.request.id,
        body.approve,
        body.reason.as_deref(),
        operator.attribution("identity document reviewed"),
    )
    .await?;
    respond(&state, record).await
}

/// Rejects a request with a reason the customer can act on.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/reject", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)), request_body = Rejection,
    responses((status = 200, body = ProductOrder), (status = 409, body = ApiError)))]
pub async fn reject_cancellation(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Rejection>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    let record = cancellation::reject(
        &state.ctx,
        record.request.id,
        &body.reason,
        operator.attribution("rejected"),
    )
    .await?;
    respond(&state, record).await
}

/// Withdraws a request before it takes effect.
#[utoipa::path(post, path = "/api/v1/cancellations/{id}/withdraw", tag = "simdesk", security(("bearer" = ["cancellations:write"])), params(("id" = String, Path)),
    responses((status = 200, body = ProductOrder), (status = 409, body = ApiError)))]
pub async fn withdraw_cancellation(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<ProductOrder>, ApiError> {
    operator.require(Scope::CancellationsWrite)?;
    let (record, _) = owned_request(&state, &operator, &id).await?;
    let record = cancellation::withdraw(
        &state.ctx,
        record.request.id,
        operator.attribution("withdrawn"),
    )
    .await?;
    respond(&state, record).await
}

async fn owned_customer(
    state: &AppState,
    operator: &Operator,
    id: &str,
) -> Result<CustomerId, ApiError> {
    let missing = || ApiError::not_found(format!("no customer {}", excerpt(id, 64)));
    let id: CustomerId = id.parse().map_err(|_| missing())?;
    let carriers = state
        .ctx
        .store
        .customer_carriers(id)
        .await
        .map_err(ServiceError::from)?;
    if carriers.contains(&operator.carrier) {
        Ok(id)
    } else {
        Err(missing())
    }
}

/// A customer's e-wallet: balance and history.
#[utoipa::path(get, path = "/api/v1/customers/{id}/wallet", tag = "simdesk", security(("bearer" = ["wallets:read"])), params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn wallet(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator.require(Scope::WalletsRead)?;
    let id = owned_customer(&state, &operator, &id).await?;
    let view = wallet::show(state.ctx.store.as_ref(), id).await?;
    Ok(Json(serde_json::to_value(view).unwrap_or_default()))
}

/// Pays wallet money out to a card or bank reference. Requires `Idempotency-Key`: a retry pays once.
#[utoipa::path(post, path = "/api/v1/customers/{id}/payouts", tag = "simdesk", security(("bearer" = ["payouts:write"])), params(("id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = PayoutCreate, responses((status = 201, body = Created), (status = 422, body = ApiError)))]
pub async fn payout(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PayoutCreate>,
) -> Result<Response, ApiError> {
    operator.require(Scope::PayoutsWrite)?;
    let id = owned_customer(&state, &operator, &id).await?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "a payout needs an Idempotency-Key header so that a retry pays once",
            )
        })?;
    let currency = body
        .amount
        .unit
        .parse()
        .map_err(|e: simdesk_domain::money::MoneyError| ApiError::bad_request(e.to_string()))?;
    let amount = Money::new(body.amount.value, currency);
    let payout = wallet::payout(
        state.ctx.store.as_ref(),
        id,
        amount,
        &body.destination,
        &format!("{}:{key}", operator.token_id),
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id: payout })).into_response())
}

/// A receipt: the signed document.
#[utoipa::path(get, path = "/api/v1/receipts/{number}", tag = "simdesk", security(("bearer" = ["receipts:read"])), params(("number" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ApiError)))]
pub async fn receipt(
    State(state): State<AppState>,
    operator: Operator,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    operator.require(Scope::ReceiptsRead)?;
    let missing = || ApiError::not_found(format!("no receipt {}", excerpt(&number, 64)));
    // Numbers are "<carrier code>-<year>-<counter>"; anything else (NUL included, which the
    // database would refuse) names no receipt.
    let well_formed = number.len() <= 64
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !well_formed {
        return Err(missing());
    }
    let document = state
        .ctx
        .store
        .receipt(&number)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(missing)?;
    let signed = receipts::SignedReceipt::parse_unverified(&document).map_err(|_| missing())?;
    operator
        .owns(&signed.receipt.carrier)
        .map_err(|_| missing())?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        document,
    )
        .into_response())
}

/// Verifies a receipt document against this installation's key: valid, or exactly why not.
#[utoipa::path(post, path = "/api/v1/receipts/verify", tag = "simdesk", security(("bearer" = ["receipts:read"])), request_body(content = Object, description = "the receipt document"),
    responses((status = 200, body = Verdict)))]
pub async fn verify_receipt(
    State(state): State<AppState>,
    operator: Operator,
    body: Bytes,
) -> Result<Json<Verdict>, ApiError> {
    operator.require(Scope::ReceiptsRead)?;
    let text = String::from_utf8_lossy(&body);
    Ok(
        match receipts::verify(&text, &state.ctx.keys.receipts.verifying_key()) {
            Ok(content) => Json(Verdict {
                valid: true,
                reason: None,
                number: Some(content.number),
            }),
            Err(e) => Json(Verdict {
                valid: false,
                reason: Some(e.to_string()),
                number: None,
            }),
        },
    )
}
