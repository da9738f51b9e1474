//! The one error shape every API client sees: `{code, reason, message}` (TM Forum style).

use crate::services::ServiceError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Stable, machine-readable code.
    pub code: String,
    /// Short reason.
    pub reason: String,
    /// What was wrong and how to fix it, for people.
    pub message: String,
    #[serde(skip)]
    pub status: StatusCode,
    /// Seconds to send in `Retry-After` (a limit's wait).
    #[serde(skip)]
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            reason: reason.into(),
            message: message.into(),
            status,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "the request cannot be read",
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "not found", message)
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "no valid credentials",
            "send `Authorization: Bearer <API token>`; an operator creates tokens with `simdesk tokens create`",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, code, reason) = match &e {
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND", "not found"),
            ServiceError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "BUSY", "try again"),
            ServiceError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "temporarily unavailable",
            ),
            ServiceError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "a peer is unavailable",
            ),
            ServiceError::Line(_) => (
                StatusCode::CONFLICT,
                "LINE_STATE",
                "not allowed in the line's state",
            ),
            ServiceError::Cancellation(_) => (
                StatusCode::CONFLICT,
                "REQUEST_STATE",
                "not allowed in the request's state",
            ),
            ServiceError::NeedsAnotherReviewer(_) => (
                StatusCode::FORBIDDEN,
                "FOUR_EYES",
                "another reviewer is needed",
            ),
            ServiceError::Identity(_) => {
                (StatusCode::FORBIDDEN, "IDENTITY", "identity not confirmed")
            }
            ServiceError::Document(d) => (
                crate::adapters::documents::status(d),
                "DOCUMENT",
                "document not accepted",
            ),
            ServiceError::RateLimited(_) | ServiceError::TooManyAttempts { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many attempts",
            ),
            _ => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID",
                "invalid request",
            ),
        };
        let message = if e.is_client_error() {
            e.to_string()
        } else {
            // Internal details go to the log, never to the client.
            tracing::error!(error = %e, "request failed");
            "simdesk cannot answer right now; try again shortly".to_string()
        };
        let mut error = ApiError::new(status, code, reason, message);
        if let ServiceError::TooManyAttempts {
            retry_after_secs, ..
        } = e
        {
            error.retry_after = Some(retry_after_secs);
        }
        error
    }
}

/// Answers that no handler made — an extractor's rejection (a query string, path or body that
/// cannot be read, a body over the limit) or a method the route does not accept — come back in
/// the one error shape too, with their status and headers (`Allow`, …) kept.
pub async fn shape_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let reason = status
        .canonical_reason()
        .unwrap_or("client error")
        .to_lowercase();
    let message = if text.is_empty() {
        reason.clone()
    } else {
        text.clone()
    };
    let error = match status {
        // The router adds `Allow` once this answer leaves the route.
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "METHOD_NOT_ALLOWED",
            "method not allowed",
            format!(
                "{method} is not allowed on this resource; the Allow header lists what is, and /openapi.json describes the API"
            ),
        ),
        s if s.is_server_error() => {
            tracing::error!(status = %s, detail = %text, "request failed");
            ApiError::new(
                s,
                "UNAVAILABLE",
                "temporarily unavailable",
                "simdesk cannot answer right now; try again shortly",
            )
        }
        StatusCode::BAD_REQUEST => ApiError::bad_request(message),
        StatusCode::NOT_FOUND => ApiError::not_found(message),
        StatusCode::UNAUTHORIZED => ApiError::unauthorized(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "TOO_LARGE", "body too large", message)
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(status, "UNSUPPORTED_MEDIA_TYPE", &reason, message)
        }
        _ => ApiError::new(status, "INVALID", &reason, message),
    };
    let mut shaped = error.into_response();
    for name in parts.headers.keys() {
        if name == axum::http::header::CONTENT_TYPE || name == axum::http::header::CONTENT_LENGTH {
            continue;
        }
        shaped.headers_mut().remove(name);
        for value in parts.headers.get_all(name) {
            shaped.headers_mut().append(name.clone(), value.clone());
        }
    }
    shaped
}
