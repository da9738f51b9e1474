//! `Idempotency-Key` on every POST: the same key with the same body gets the first response
//! again; the same key with another body is refused (422); a key still being served is 409,
//! until its first request is given up for lost (`ABANDONED_AFTER`) and a retry serves it.

use super::auth::{bearer, hash_token};
use crate::web::{ApiError, AppState};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Bodies are read whole to be hashed; identity documents are the largest thing sent.
pub(super) const MAX_BODY: usize = 12 * 1024 * 1024;

/// A reservation never answered for this long was lost — its node died mid-request, or the
/// database went away before the reservation could be released — and a retry of the same
/// request may serve it: far longer than any request takes, short enough that a client that
/// retries is not refused for ever.
const ABANDONED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| k.trim().to_string())
    else {
        return next.run(request).await;
    };
    if key.is_empty() || key.len() > 200 {
        return ApiError::bad_request("Idempotency-Key must be 1 to 200 characters")
            .into_response();
    }
    let (parts, body) = request.into_parts();
    // Keys are per caller: two operators may pick the same key without meeting.
    let caller = bearer(&parts)
        .map(hash_token)
        .unwrap_or_else(|| "anonymous".into());
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                "body too large",
                "the body is larger than 12 MB",
            )
            .into_response()
        }
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(parts.uri.path().as_bytes());
    h.update(&bytes);
    let request_hash = hex::encode(h.finalize());
    let store = state.ctx.store.clone();
    let now = state.clock.now();
    match store.reserve_idempotency_key(&caller, &key, &request_hash, now).await {
        Ok(None) => {}
        Ok(Some((hash, _, _, _))) if hash != request_hash => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                "key used for another request",
                "this Idempotency-Key was used with a different request; use a new key for a new request",
            )
            .into_response()
        }
        Ok(Some((_, Some(status), Some(body), location))) => return replay(status, body, location),
        Ok(Some(_)) => match store.take_over_idempotency_key(&caller, &key, &request_hash, now - ABANDONED_AFTER, now).await {
            Ok(true) => tracing::info!("serving again a request whose first attempt was lost"),
            Ok(false) => {
                return ApiError::new(StatusCode::CONFLICT, "IN_PROGRESS", "request in progress", "the first request with this Idempotency-Key is still being served; retry shortly")
                    .into_response()
            }
            Err(e) => return ApiError::from(crate::services::ServiceError::from(e)).into_response(),
        },
        Err(e) => return ApiError::from(crate::services::ServiceError::from(e)).into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    if parts.status.is_server_error() {
        // Nothing was decided; let the client retry with the same key.
        let _ = store.release_idempotency_key(&caller, &key).await;
    } else if let Err(e) = store
        .complete_idempotency_key(
            &caller,
            &key,
            i64::from(parts.status.as_u16()),
            &String::from_utf8_lossy(&bytes),
            parts
                .headers
                .get(axum::http::header::LOCATION)
                .and_then(|v| v.to_str().ok()),
        )
        .await
    {
        tracing::warn!(error = %e, "could not remember an idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: i64, body: String, location: Option<String>) -> Response {
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("idempotency-replayed", HeaderValue::from_static("true"));
    if let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, v);
    }
    response
}
